"""Golden model of ``dense-fc``: ``y = W x`` in fixed point (the baseline of the circulant family).

Bit-exact mode (:func:`dense_fc_raw`) mirrors ``hw/dense.py``: products of two
``Q(width, frac)`` raw values are summed exactly, then the sum is rounded half
up by ``frac`` bits and saturated to ``width`` bits — one rounding per output.

Float mode (:func:`dense_fc_float`) is plain numpy on the dequantized inputs.
For inputs already on the grid, the two differ by at most half an LSB per
output (``2**-(frac+1)``) unless the bit-exact result saturates; tested in
``tests/test_dense.py``.
"""

import numpy as np

from .fixed import FixedFormat, ceil_div, dequantize, quantize, requantize

__all__ = ["dense_fc_raw", "dense_fc_float", "dense_fc_from_float", "cycles_per_vector"]


def dense_fc_raw(w_raw: np.ndarray, x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Bit-exact ``y_raw`` (batch × n_out) from ``w_raw`` (n_out × n_in) and ``x_raw`` (batch × n_in)."""
    acc = np.asarray(x_raw, dtype=np.int64) @ np.asarray(w_raw, dtype=np.int64).T
    return requantize(acc, fmt.frac, fmt.width)


def dense_fc_float(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Float reference ``y = x Wᵀ`` (batch × n_out)."""
    return np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64).T


def dense_fc_from_float(w: np.ndarray, x: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Float value of the bit-exact result on float inputs (quantized on the way in)."""
    return dequantize(dense_fc_raw(quantize(w, fmt), quantize(x, fmt), fmt), fmt)


DRAIN_CYCLES = 4  # after the last address: RAM data -> operand registers -> multiplier inputs -> product -> accumulator


def cycles_per_vector(n_in: int, n_out: int, parallelism: int) -> int:
    """Cycles from the first ``x`` word accepted to the last ``y`` word sent, with no stalls.

    ``n_in`` cycles to load ``x``; then per group of ``parallelism`` outputs:
    ``n_in`` issue cycles, ``DRAIN_CYCLES``, and one cycle per output sent.
    """
    groups = ceil_div(n_out, parallelism)
    return n_in + groups * (n_in + DRAIN_CYCLES) + n_out
