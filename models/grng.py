"""Gaussian random number generators of VIBNN, bit-exact with ``hw/grng.py``.

Three generators share one interface: every step yields ``lanes`` integer
samples ``raw``; the standard-normal value is ``raw * scale``.

* **RLF** (RAM-based linear feedback, VIBNN): ``columns`` independent
  Fibonacci LFSRs of length ``n`` stored bit-sliced in a RAM (row ``j`` holds
  bit ``j`` of every column). A step writes one new row; each lane keeps the
  popcount ``S`` of its column's ``n``-bit window with ``S += new - dropped``
  and emits ``2S - n`` (a Binomial(n, ½) lattice, ``scale = 1/√n``).
  One new bit per output makes successive outputs correlated
  (``(n-1)/n``); a Bays–Durham shuffle buffer of ``2**shuffle`` entries per
  lane, addressed by ``shuffle`` further LFSR columns, decorrelates them
  (expected |autocorrelation| about ``n / 2**(shuffle+1)``).
* **Wallace**: a pool of ``pool`` fixed-point normals per unit of 4 lanes,
  transformed by the orthogonal 4-point step ``t = (a+b+c+d)/2;
  (a', b', c', d') = (t-a, t-b, c-t, d-t)`` (signs alternate so the pool's sum
  is not an invariant) with pseudo-random (affine, per-pass) read addressing and the
  χ² sum-of-squares correction ``G = 1 + v/√(2·pool)`` per pass.
* **CLT**: the sum of ``terms`` uniform ``bits``-bit integers from a
  ``clt_lfsr(terms, bits)``-bit LFSR per lane advanced ``terms*bits`` bits per step,
  centred: ``raw = 2Σu - terms(2**bits - 1)``.

The LFSRs are ``models/lfsr.py``'s.
"""

import numpy as np

from .fixed import FixedFormat, round_shift, saturate
from .lfsr import LFSR_TAPS, lfsr_bits, lfsr_words, seed_windows

__all__ = [
    "rlf_columns", "rlf_init", "rlf_grng",
    "WALLACE_FORMAT", "wallace_init", "wallace_grng", "xorshift32",
    "clt_lfsr", "clt_grng", "clt_scale",
]

# --- RLF-GRNG -----------------------------------------------------------------

def rlf_columns(lanes: int, shuffle: int) -> int:
    """RAM width: one sample column per lane plus ``shuffle`` index columns per lane."""
    return lanes * (1 + shuffle)


def _rlf_samples(n, lanes, bits):
    """``2S - n`` after steps 1 … len(bits)-n: popcount of the window ending at each new bit."""
    ones = np.cumsum(bits[:, :lanes].astype(np.int64), axis=0)
    window = ones[n:] - ones[:-n]  # window ending at step t, t = 1 … steps
    return 2 * window - n


def _rlf_indices(n, lanes, shuffle, bits):
    """Shuffle address of each lane at each step: its index columns' new bits, column 0 in bit 0."""
    new = bits[n:, lanes:].astype(np.int64).reshape(len(bits) - n, lanes, shuffle)
    return (new << np.arange(shuffle)).sum(axis=2)


def rlf_init(n: int, lanes: int, shuffle: int, seed: int) -> dict:
    """Hardware reset state after the warm-up that fills the shuffle buffers.

    Returns ``rows`` (the LFSR window = RAM rows, ``n`` × columns, oldest at
    address 0), ``ones`` (popcount per lane) and ``buffer`` (``2**shuffle ×
    lanes`` samples, or ``None`` without a shuffle).
    """
    columns = rlf_columns(lanes, shuffle)
    warm = (1 << shuffle) if shuffle else 0
    bits = lfsr_bits(n, seed_windows(n, columns, seed), warm)
    window = bits[warm:warm + n]
    buffer = _rlf_samples(n, lanes, bits) if shuffle else None
    ones = window[:, :lanes].sum(axis=0).astype(np.int64)
    return {"rows": window, "ones": ones, "buffer": buffer}


def rlf_grng(n: int, lanes: int, shuffle: int, seed: int, samples: int) -> np.ndarray:
    """``samples × lanes`` raw outputs ``2S - n`` (after the shuffle, when ``shuffle > 0``)."""
    state = rlf_init(n, lanes, shuffle, seed)
    bits = lfsr_bits(n, state["rows"], samples)
    fresh = _rlf_samples(n, lanes, bits)
    if not shuffle:
        return fresh
    buffer = state["buffer"].copy()
    index = _rlf_indices(n, lanes, shuffle, bits)
    lane = np.arange(lanes)
    out = np.empty_like(fresh)
    for step in range(samples):
        slot = index[step]
        out[step] = buffer[slot, lane]
        buffer[slot, lane] = fresh[step]
    return out


# --- Wallace -------------------------------------------------------------------

WALLACE_FORMAT = FixedFormat(16, 11)  #: pool and output values
GAIN_FRAC = 14  #: fraction bits of the χ² correction gain
CHI_FRAC = 16  #: fraction bits of the constant 1/√(2·pool)


def xorshift32(x: int) -> int:
    """Marsaglia's 32-bit xorshift (13, 17, 5): the per-pass address source."""
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


def chi_constant(pool: int) -> int:
    """``round(2**CHI_FRAC / √(2·pool))``: slope of the χ² correction."""
    return int(np.floor((1 << CHI_FRAC) / np.sqrt(2 * pool) + 0.5))


def pass_addressing(state: int, pool: int) -> tuple[int, int]:
    """Odd stride and offset of a pass's read permutation ``j -> (stride·j + offset) mod pool``."""
    return (state & (pool - 1)) | 1, (state >> 16) & (pool - 1)


def wallace_init(pool: int, units: int, seed: int) -> dict:
    """Reset state: ``pool × units`` raw normals (each unit's pool scaled to mean square 1,
    then quantized), the xorshift states (one per unit, never 0) and the unit gain 1."""
    if seed < 1:
        raise ValueError(f"seed={seed} out of range [1, 2**31-1]")
    rng = np.random.default_rng(seed)
    normals = rng.standard_normal((pool, units))
    normals /= np.sqrt(np.mean(normals ** 2, axis=0))
    values = saturate(np.floor(normals * (1 << WALLACE_FORMAT.frac) + 0.5).astype(np.int64), WALLACE_FORMAT.width)
    states = [xorshift32(int(s) | 1) for s in rng.integers(1, 1 << 32, size=units, dtype=np.uint64)]
    return {"pool": values, "states": states, "gain": 1 << GAIN_FRAC}


def _wallace_unit(values: np.ndarray, state: int, steps: int) -> np.ndarray:
    """One unit's ``steps × 4`` raw outputs from its pool ``values`` (modified in place)."""
    pool = len(values)
    chi = chi_constant(pool)
    gain = 1 << GAIN_FRAC
    out = np.empty((steps, 4), dtype=np.int64)
    fresh = np.empty_like(values)
    step = 0
    while step < steps:
        stride, offset = pass_addressing(state, pool)
        for row in range(pool // 4):
            j = 4 * row + np.arange(4)
            a, b, c, d = values[(stride * j + offset) & (pool - 1)]
            t = (a + b + c + d + 1) >> 1
            new = saturate(np.array([t - a, t - b, c - t, d - t]), WALLACE_FORMAT.width)
            fresh[4 * row:4 * row + 4] = new
            if step < steps:
                out[step] = saturate(round_shift(new * gain, GAIN_FRAC), WALLACE_FORMAT.width)
                step += 1
            if row == pool // 4 - 1:
                correction = round_shift(int(new[0]) * chi, WALLACE_FORMAT.frac + CHI_FRAC - GAIN_FRAC)
                gain = (1 << GAIN_FRAC) + int(correction)
        values[:] = fresh
        state = xorshift32(state)
    return out


def wallace_grng(pool: int, lanes: int, seed: int, samples: int) -> np.ndarray:
    """``samples × lanes`` raw outputs in ``WALLACE_FORMAT``; lanes ``4u … 4u+3`` come from unit ``u``."""
    init = wallace_init(pool, lanes // 4, seed)
    units = [_wallace_unit(init["pool"][:, u].copy(), init["states"][u], samples) for u in range(lanes // 4)]
    return np.concatenate(units, axis=1)


# --- CLT baseline --------------------------------------------------------------

def clt_lfsr(terms: int, bits: int) -> int:
    """LFSR length of a CLT lane: the shortest whose tap distance ``d`` covers ``terms·bits`` new bits per step."""
    for n, d in sorted(LFSR_TAPS.items()):
        if d >= terms * bits:
            return n
    raise ValueError(f"terms*bits={terms * bits} out of range [1, {max(LFSR_TAPS.values())}]")


def clt_scale(terms: int, bits: int) -> float:
    """``1/σ`` of ``2Σu - terms(2**bits - 1)`` for ``terms`` uniforms on ``[0, 2**bits)``."""
    return 1.0 / np.sqrt(terms * ((1 << (2 * bits)) - 1) / 3)


def clt_grng(terms: int, bits: int, lanes: int, seed: int, samples: int) -> np.ndarray:
    """``samples × lanes`` raw outputs: each lane's ``terms`` uniforms of a step summed and centred."""
    uniforms = lfsr_words(clt_lfsr(terms, bits), lanes, seed, samples, terms, bits)
    return 2 * uniforms.sum(axis=1) - terms * ((1 << bits) - 1)
