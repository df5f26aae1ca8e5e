"""Bit-exact model of the streaming radix-2 FFT (``hw/fft.py``) and its real-input wrappers.

The transform is radix-2 decimation-in-time of size ``k`` on complex raw
integers: the input in bit-reversed order, stage ``s`` (``half = 2**s``)
combines ``A = v[a]`` and ``B = v[a + half]`` with the twiddle
``W = exp(-2πi·pos/(2·half))`` quantized to ``TWIDDLE_FRAC`` bits:

    P  = B · W                                 (exact integer product)
    A' = (A·2**f + P) >> (f + scale)           (one rounding, half up)
    B' = (A·2**f − P) >> (f + scale)

``f = TWIDDLE_FRAC``; ``scale`` is 1 in the forward (scaled) mode — every
stage halves, so the result is ``FFT(v)/k`` and never grows — and 0 in the
unscaled mode used for the inverse. The twiddles ``1`` and ``-j`` quantize
exactly, so those butterflies are exact.

Every intermediate is checked against ``data_width`` bits; a violation
raises ``OverflowError`` — the model is the headroom proof the tests run.
"""

import numpy as np

from .fixed import round_shift

__all__ = ["TWIDDLE_FRAC", "MULTIPLY_LATENCY", "ENTRY_LATENCY", "OUTPUT_LATENCY", "pipeline_latency", "stream_cycles", "twiddles", "bit_reverse", "fft_raw", "rfft_raw", "irfft_raw",
           "forward_width", "inverse_width", "log2"]

TWIDDLE_FRAC = 15  # twiddle 1.0 = 2**15; c, d−c, c+d all fit 18-bit signed (|c+d| ≤ √2)
MULTIPLY_LATENCY = 5  # pre-add, two DSP stages, P = B·W, P ± rounding constant: stages 2 … log2(k) − 1
ENTRY_LATENCY = 2  # the input word registered twice: a block RAM's output meets no logic before a register
OUTPUT_LATENCY = 3  # the output buffer after the last stage (write, its registered read, a result register)


def pipeline_latency(k: int) -> int:
    """Advances from a sample entering ``hw/fft.py``'s butterfly pipeline to its bin leaving it.

    ``ENTRY_LATENCY`` entry registers; per stage ``s`` the delay line ``2**s`` and
    one output register; stages ``s ≥ 2`` (twiddles other than ``1`` and ``−j``)
    also the ``MULTIPLY_LATENCY`` of their complex multiplier; then the output buffer.
    """
    stages = log2(k)
    return ENTRY_LATENCY + (k - 1) + stages + MULTIPLY_LATENCY * max(0, stages - 2) + OUTPUT_LATENCY


def stream_cycles(k: int, blocks: int, *, natural_order: bool = True) -> int:
    """Cycles of ``blocks`` transforms back to back, first input word to last bin, no stalls.

    A natural-order input first fills a ``k``-word bit-reversal bank.
    """
    return blocks * k + pipeline_latency(k) + (k if natural_order else 0)


def log2(k: int) -> int:
    if k < 2 or k & (k - 1):
        raise ValueError(f"k={k} is not a power of two ≥ 2")
    return k.bit_length() - 1


def forward_width(width: int) -> int:
    """Data bits of the scaled forward FFT: one guard bit over the input width (rounding growth)."""
    return width + 1


def inverse_width(width: int, k: int) -> int:
    """Data bits of the unscaled inverse: inputs of ``width + 2`` bits grow by ``log2 k`` stages,
    ``√2`` for complex magnitude and rounding: ``width + log2(k) + 3``."""
    return width + log2(k) + 3


def twiddles(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``(c, d)`` of ``W_k^i = c + j·d`` for ``i`` in ``[0, k/2)``, rounded half up."""
    angle = -2 * np.pi * np.arange(k // 2) / k
    scale = 1 << TWIDDLE_FRAC
    return (np.floor(np.cos(angle) * scale + 0.5).astype(np.int64),
            np.floor(np.sin(angle) * scale + 0.5).astype(np.int64))


def bit_reverse(i: int, bits: int) -> int:
    return int(format(i, f"0{bits}b")[::-1], 2) if bits else 0


def _check_fits(values: np.ndarray, width: int, where: str):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if values.size and (values.min() < lo or values.max() > hi):
        raise OverflowError(f"{where}: value outside {width}-bit range")


def fft_raw(re, im, *, scaled: bool, data_width: int) -> tuple[np.ndarray, np.ndarray]:
    """The unit's transform of ``(re, im)`` (``… × k`` raw integers), natural order in and out."""
    re, im = np.array(re, dtype=np.int64), np.array(im, dtype=np.int64)
    k = re.shape[-1]
    bits = log2(k)
    order = [bit_reverse(i, bits) for i in range(k)]
    re, im = re[..., order], im[..., order]
    _check_fits(re, data_width, "input")
    _check_fits(im, data_width, "input")
    c_all, d_all = twiddles(k)
    shift = TWIDDLE_FRAC + int(scaled)
    for stage in range(bits):
        half = 1 << stage
        for pos in range(half):
            c, d = c_all[pos * (k // (2 * half))], d_all[pos * (k // (2 * half))]
            a = np.arange(pos, k, 2 * half)
            b = a + half
            p_re = re[..., b] * c - im[..., b] * d
            p_im = re[..., b] * d + im[..., b] * c
            a_re, a_im = re[..., a] << TWIDDLE_FRAC, im[..., a] << TWIDDLE_FRAC
            re[..., a], re[..., b] = round_shift(a_re + p_re, shift), round_shift(a_re - p_re, shift)
            im[..., a], im[..., b] = round_shift(a_im + p_im, shift), round_shift(a_im - p_im, shift)
        _check_fits(re, data_width, f"stage {stage}")
        _check_fits(im, data_width, f"stage {stage}")
    return re, im


def rfft_raw(x_raw, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Bins ``0 … k/2`` of ``FFT(x)/k`` for real raw ``x`` (``… × k``) of ``width`` bits."""
    x_raw = np.asarray(x_raw, dtype=np.int64)
    k = x_raw.shape[-1]
    re, im = fft_raw(x_raw, np.zeros_like(x_raw), scaled=True, data_width=forward_width(width))
    return re[..., : k // 2 + 1], im[..., : k // 2 + 1]


def hermitian_input(z_re, z_im, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``conj`` of the full spectrum rebuilt from bins ``0 … k/2``: what the inverse pass loads.

    ``v[n] = conj(Z[n])`` for ``n ≤ k/2`` and ``v[n] = Z[k−n]`` above (``Z[k−n] = conj Z[n]``).
    """
    z_re, z_im = np.asarray(z_re, dtype=np.int64), np.asarray(z_im, dtype=np.int64)
    mirror = [k - n for n in range(k // 2 + 1, k)]
    v_re = np.concatenate([z_re, z_re[..., mirror]], axis=-1)
    v_im = np.concatenate([-z_im, z_im[..., mirror]], axis=-1)
    return v_re, v_im


def irfft_raw(z_re, z_im, width: int, k: int) -> np.ndarray:
    """Real ``IDFT`` without the ``1/k`` (``Σ_b Z_b e^{+2πi bn/k}``) of a half spectrum, raw.

    Computed as ``Re(FFT(conj Z))`` with the unit unscaled; inputs must fit
    ``width + 2`` bits (the MAC saturates them there).
    """
    v_re, v_im = hermitian_input(z_re, z_im, k)
    re, _ = fft_raw(v_re, v_im, scaled=False, data_width=inverse_width(width, k))
    return re
