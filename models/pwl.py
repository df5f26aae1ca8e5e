"""Piecewise-linear sigmoid and tanh of C-LSTM, float and bit-exact (``hw/pwl.py``).

Each function is the chord interpolation of the exact function over 22
equal segments — sigmoid on ``[-5.5, 5.5)`` with step 0.5, tanh on
``[-4.4, 4.4)`` with step 0.4 — and the constant asymptote outside
(``0``/``1`` and ``−1``/``1``). Maximum absolute errors against the exact
functions: 0.00407 (sigmoid, at the clamp) and 0.01506 (tanh, mid-segment).

Fixed point: breakpoints ``x_i`` and values ``y_i = f(x_i)`` are quantized
to the data format ``Q(width, frac)``; each slope is the chord between the
*quantized* endpoints, ``m_i = (y_{i+1} − y_i)/(x_{i+1} − x_i)`` in
``Q(17, 15)`` (integer division, rounded half up), so every segment ends on
the next breakpoint's value and the PWL is monotonic. For
``x_i ≤ x < x_{i+1}`` the output is ``y_i + ((m_i·(x − x_i)) >> 15)``
(rounded half up), saturated to ``width`` bits.
"""

from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat, quantize, round_shift, saturate

__all__ = ["PWLSpec", "SIGMOID", "TANH", "FUNCTIONS", "check_format", "SLOPE_FRAC", "SLOPE_WIDTH", "pwl_float", "pwl_table", "pwl_raw"]

SLOPE_FRAC = 15
SLOPE_WIDTH = 17  # slopes are at most 1


@dataclass(frozen=True)
class PWLSpec:
    name: str
    lo: float
    step: float
    segments: int
    below: float
    above: float

    def exact(self, x):
        x = np.asarray(x, dtype=np.float64)
        return 1 / (1 + np.exp(-x)) if self.name == "sigmoid" else np.tanh(x)

    @property
    def breakpoints(self) -> np.ndarray:
        return self.lo + self.step * np.arange(self.segments + 1)


SIGMOID = PWLSpec("sigmoid", lo=-5.5, step=0.5, segments=22, below=0.0, above=1.0)
TANH = PWLSpec("tanh", lo=-4.4, step=0.4, segments=22, below=-1.0, above=1.0)
FUNCTIONS = {spec.name: spec for spec in (SIGMOID, TANH)}


def check_format(fmt: FixedFormat):
    """The tables need distinct breakpoints (step 0.4 ≥ 1 LSB: ``frac ≥ 2``) and ±5.5 in range
    (``width − frac ≥ 4``); raises ``ValueError`` naming the bad value otherwise."""
    if fmt.frac < 2:
        raise ValueError(f"frac={fmt.frac} out of range [2, {fmt.width - 4}] for the PWL activations")
    if fmt.width - fmt.frac < 4:
        raise ValueError(f"frac={fmt.frac} out of range [2, {fmt.width - 4}] for width={fmt.width} "
                         "(the PWL needs ±5.5 in range)")


def pwl_float(spec: PWLSpec, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    xs = spec.breakpoints
    inside = np.interp(x, xs, spec.exact(xs))
    return np.where(x < xs[0], spec.below, np.where(x >= xs[-1], spec.above, inside))


def pwl_table(spec: PWLSpec, fmt: FixedFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Raw ``(x_i, y_i, m_i, below, above)``: ``segments + 1`` breakpoints and values, ``segments`` slopes."""
    xs = quantize(spec.breakpoints, fmt)
    ys = quantize(spec.exact(spec.breakpoints), fmt)
    rise, run = np.diff(ys) << SLOPE_FRAC, np.diff(xs)
    slopes = (2 * rise + run) // (2 * run)  # round half up
    return xs, ys, saturate(slopes, SLOPE_WIDTH), int(quantize(spec.below, fmt)), int(quantize(spec.above, fmt))


def pwl_raw(spec: PWLSpec, x_raw, fmt: FixedFormat) -> np.ndarray:
    """Bit-exact PWL of raw ``x`` (any shape)."""
    x_raw = np.asarray(x_raw, dtype=np.int64)
    xs, ys, slopes, below, above = pwl_table(spec, fmt)
    segment = np.clip(np.searchsorted(xs, x_raw, side="right") - 1, 0, spec.segments - 1)
    inside = ys[segment] + round_shift(slopes[segment] * (x_raw - xs[segment]), SLOPE_FRAC)
    result = np.where(x_raw < xs[0], below, np.where(x_raw >= xs[-1], above, inside))
    return saturate(result, fmt.width)
