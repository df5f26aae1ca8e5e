"""Block-circulant matrices (CirCNN / C-LSTM) and the bit-exact model of ``circulant-fc``.

Index convention (docs/circulant.md): a ``(p·k) × (q·k)`` matrix of ``p × q``
circulant blocks, block ``(r, c)`` given by its first column ``w[r, c, :]``:
``W[r*k + i, c*k + j] = w[r, c, (i − j) mod k]``. Then
``y_r = IFFT(Σ_c FFT(w[r, c]) ⊙ FFT(x_c))``.

Fixed-point datapath of ``hw/circulant.py`` (see ``models/fft.py`` for the
FFT unit's rounding):

1. ``X' = FFT(x_c)/k`` per input block: the forward pass halves after every
   stage, so ``|X'| ≤ max|x|`` and ``width + 1`` bits suffice; bins
   ``0 … k/2`` are kept.
2. The weight spectra ``Wf = FFT(w[r, c])`` are computed offline (numpy) and
   quantized to ``Q(width + 1, frac)``, saturating (:func:`weight_spectrum_raw`).
3. ``Z_r = Σ_c Wf ⊙ X'`` is accumulated exactly, then rounded half up by
   ``frac`` bits and saturated to ``width + 2`` bits. ``Z_r = Y_r/k`` where
   ``Y_r`` is the true output spectrum.
4. ``y_r = IDFT(Z_r)`` *without* the ``1/k`` (the forward pass already
   applied it), by the same FFT unit, unscaled, on ``width + log2 k + 3``
   bits; the real part is saturated to ``width`` bits.
"""

import numpy as np

from .fft import irfft_raw, log2, rfft_raw
from .fixed import FixedFormat, ceil_div, dequantize, pack, quantize, requantize, saturate
from .memory import BANKED_READ_LATENCY

__all__ = [
    "spectrum_words",
    "block_circulant", "project_block_circulant", "circulant_matvec",
    "spectrum_format", "weight_spectrum_raw", "circulant_fc_raw", "circulant_fc_float",
    "spectrum_load_order", "LANE_READ_LATENCY", "MAC_DRAIN", "cycles_per_vector", "z_bank_count", "weight_storage_bits",
]

#: Cycles from a lane memory's read address to its data (the lane memories are ``BankedMemory``s).
LANE_READ_LATENCY = BANKED_READ_LATENCY
#: Cycles from a group's last address to its Z in a bank: the lane read, then pre-adds -> products -> X·W ->
#: accumulator -> rounded -> saturated -> negated -> Z (pipelined: groups issue back to back).
MAC_DRAIN = LANE_READ_LATENCY + 7


def block_circulant(w: np.ndarray) -> np.ndarray:
    """The full ``(p·k) × (q·k)`` matrix of first columns ``w`` (``p × q × k``)."""
    p, q, k = w.shape
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    blocks = w[:, :, (i - j) % k]  # p × q × k × k
    return blocks.transpose(0, 2, 1, 3).reshape(p * k, q * k)


def project_block_circulant(matrix: np.ndarray, k: int) -> np.ndarray:
    """Nearest block-circulant matrix in Frobenius norm, as first columns ``p × q × k``.

    Each defining value is the mean of its wrapped diagonal ``(i − j) mod k``
    within the block (ADMM's Z-step).
    """
    rows, cols = matrix.shape
    if rows % k or cols % k:
        raise ValueError(f"k={k} does not divide the matrix shape {matrix.shape}")
    blocks = matrix.reshape(rows // k, k, cols // k, k).transpose(0, 2, 1, 3)  # p × q × k × k
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    diagonal = (i - j) % k
    w = np.zeros((rows // k, cols // k, k))
    for shift in range(k):
        w[:, :, shift] = blocks[:, :, diagonal == shift].mean(axis=-1)
    return w


def circulant_matvec(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Float ``y = W x`` for a batch ``x`` (``batch × q·k``) via ``numpy.fft`` — O(n log n)."""
    p, q, k = w.shape
    x_blocks = np.asarray(x, dtype=np.float64).reshape(-1, q, k)
    spectrum = np.einsum("rcb,ncb->nrb", np.fft.rfft(w, axis=-1), np.fft.rfft(x_blocks, axis=-1))
    return np.fft.irfft(spectrum, n=k, axis=-1).reshape(-1, p * k)


def spectrum_format(width: int, frac: int) -> FixedFormat:
    """Format of the stored weight spectra (and of ``X'``): one more integer bit than the data."""
    return FixedFormat(width + 1, frac)


def weight_spectrum_raw(w_raw: np.ndarray, fmt: FixedFormat) -> tuple[np.ndarray, np.ndarray]:
    """Offline ``FFT(w)`` bins ``0 … k/2`` (``p × q × (k/2+1)``), quantized and saturated."""
    spectrum = np.fft.rfft(dequantize(w_raw, fmt), axis=-1)
    out = spectrum_format(fmt.width, fmt.frac)
    return quantize(spectrum.real, out), quantize(spectrum.imag, out)


def spectrum_load_order(w_raw: np.ndarray, fmt: FixedFormat, parallelism: int) -> tuple[np.ndarray, np.ndarray]:
    """The weight spectra as ``hw/circulant.py`` stores them: flat ``(re, im)`` in the order ``r, g, c, lane``
    (bin ``g·parallelism + lane``; zeros for the padding bins past ``k/2``)."""
    re, im = weight_spectrum_raw(w_raw, fmt)  # p × q × bins
    p, q, bins = re.shape
    groups = ceil_div(bins, parallelism)

    def ordered(part):
        padded = np.zeros((p, q, groups * parallelism), dtype=np.int64)
        padded[..., :bins] = part
        return padded.reshape(p, q, groups, parallelism).transpose(0, 2, 1, 3).reshape(-1)

    return ordered(re), ordered(im)


def circulant_fc_raw(w_raw: np.ndarray, x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Bit-exact ``y_raw`` (``batch × p·k``) of ``hw/circulant.py``."""
    p, q, k = w_raw.shape
    log2(k)
    wf_re, wf_im = weight_spectrum_raw(w_raw, fmt)
    x_re, x_im = rfft_raw(np.asarray(x_raw, dtype=np.int64).reshape(-1, q, k), fmt.width)  # n × q × B
    z_re = np.einsum("rcb,ncb->nrb", wf_re, x_re) - np.einsum("rcb,ncb->nrb", wf_im, x_im)
    z_im = np.einsum("rcb,ncb->nrb", wf_re, x_im) + np.einsum("rcb,ncb->nrb", wf_im, x_re)
    z_width = fmt.width + 2
    z_re, z_im = requantize(z_re, fmt.frac, z_width), requantize(z_im, fmt.frac, z_width)
    y = irfft_raw(z_re, z_im, fmt.width, k)  # n × p × k
    return saturate(y, fmt.width).reshape(-1, p * k)


def circulant_fc_float(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Float reference through the dense matrix (independent of the FFT path)."""
    return np.asarray(x, dtype=np.float64) @ block_circulant(np.asarray(w, dtype=np.float64)).T


def cycles_per_vector(n_in: int, n_out: int, k: int, parallelism: int) -> int:
    """Steady-state cycles between consecutive vectors of ``hw/circulant.py``, no stalls.

    The forward transform (``n_in`` samples), the MAC (``p · ceil((k/2+1)/P) · q``
    issues) and the inverse transform (``n_out`` samples) work on three
    vectors at once, one word or issue per cycle each: the slowest sets the pace.
    """
    p, q = n_out // k, n_in // k
    groups = ceil_div(k // 2 + 1, parallelism)
    return max(n_in, n_out, p * groups * q)


def z_bank_count(n_in: int, n_out: int, k: int, parallelism: int) -> int:
    """``Z`` register banks of ``hw/circulant.py``: enough that claiming a bank never slows the MAC.

    An output block claims a bank at its first MAC issue and frees it when the
    inverse's feed has shifted it out: at best ``T + MAC_DRAIN + k + 4``
    cycles later (``T = ceil((k/2+1)/P) · q`` issues, the pipeline, ``k``
    shifts, four registered hand-overs: full flag, shift flag, returned
    flag, unclaimed count). Blocks start at most every ``max(T, k)`` cycles in
    steady state, so that many cycles' worth of blocks must fit at once.
    """
    issues = ceil_div(k // 2 + 1, parallelism) * (n_in // k)
    held = issues + MAC_DRAIN + k + 4
    return max(2, ceil_div(held, max(issues, k)))


def weight_storage_bits(n_in: int, n_out: int, k: int, width: int, parallelism: int) -> int:
    """Bits of weight-spectrum RAM: ``p·q·ceil((k/2+1)/P)·P`` complex words of ``width + 1`` bits."""
    groups = ceil_div(k // 2 + 1, parallelism)
    return (n_out // k) * (n_in // k) * groups * parallelism * 2 * (width + 1)


def spectrum_words(w_raw, params: dict) -> np.ndarray:
    """Weight spectra as ``w_in`` words (``hw.circulant.CirculantFC``): load order ``r, g, c, lane`` (bin
    ``g·lanes + lane``, zero past ``k/2``), real part in the low ``width + 1`` bits, imaginary above."""
    re, im = spectrum_load_order(w_raw, FixedFormat(params["width"], params["frac"]), params["parallelism"])
    return pack([re, im], params["width"] + 1)
