"""Gaussian random number generators of VIBNN, bit-exact with ``hw/grng.py``.

Three generators share one interface: every step yields ``lanes`` integer
samples ``raw``; the standard-normal value is ``raw * scale``.

* **RLF** (RAM-based linear feedback, VIBNN): ``lanes × bits`` Fibonacci
  LFSR columns of length ``n`` stored bit-sliced in one RAM (row ``j`` holds
  bit ``j`` of every column). A step computes one new row, ``lanes × bits``
  fresh bits; lane ``l`` counts the ones ``S`` of its ``bits`` columns' new
  bits and emits ``2S - bits``: exactly Binomial(bits, ½), ``scale =
  1/√bits``. No bit is used twice, so a lane's successive outputs share no
  window and its whole stream is a sample, not only every ``n``-th output
  (docs/vibnn.md: why the running one-bit popcount was dropped). The taps
  ``d = n - 1`` (n = 63, 127) make the recurrence read only two adjacent rows.
* **Wallace**: a pool of ``pool`` fixed-point normals per unit of 4 lanes,
  transformed by the orthogonal 4-point step ``t = (a+b+c+d)/2;
  (a', b', c', d') = (t-a, t-b, c-t, d-t)`` (signs alternate so the pool's sum
  is not an invariant) with pseudo-random (affine, per-pass) read addressing, a
  random sign on each value read (4 bits a row from a 31-bit LFSR per unit), and the
  χ² sum-of-squares correction ``G = 1 + v/√(2·pool)`` per pass. Without the signs
  a lane's sum over a pass is ``±½`` the previous pass's lane sums (each slot reads
  one residue class mod 4, which one lane wrote): consecutive pass sums correlate by ~0.2.
* **CLT**: the sum of ``terms`` uniform ``bits``-bit integers from a
  ``clt_lfsr(terms, bits)``-bit LFSR per lane advanced ``terms*bits`` bits per step,
  centred: ``raw = 2Σu - terms(2**bits - 1)``.
* **Paired LFSRs** (bnn-mlp's ε without block RAM): per lane two register LFSRs
  of lengths ``PAIRED_LFSRS`` advance ``bits`` bits per step; ``S`` counts the
  ones of the XOR of their new bits, ``raw = 2S - bits``: Binomial(bits, ½) as
  RLF's. One 63- or 127-bit LFSR alone fails the whole-stream tests at 32 or 8–16
  bits per sample (a sample's window is a fixed function of the few before it);
  the XOR of two passes them (``tests/test_grng.py``).

The LFSRs are ``models/lfsr.py``'s.
"""

import numpy as np

from .fixed import FixedFormat, ceil_div, round_shift, saturate
from .lfsr import LFSR_TAPS, lfsr_bits, lfsr_words, seed_windows

__all__ = [
    "RLF_LENGTHS", "rlf_columns", "rlf_grng",
    "WALLACE_FORMAT", "wallace_init", "wallace_grng", "xorshift32",
    "clt_lfsr", "clt_grng", "clt_scale",
    "PAIRED_LFSRS", "paired_lfsr_windows", "paired_lfsr_grng",
]

# --- RLF-GRNG -----------------------------------------------------------------

RLF_LENGTHS = tuple(n for n, d in sorted(LFSR_TAPS.items()) if d == n - 1)  #: n whose new row is two adjacent rows' XOR
RLF_CHUNK = 1 << 16  #: model steps generated at a time (bounds memory for million-sample streams)


def rlf_columns(lanes: int, bits: int) -> int:
    """RAM width: ``bits`` LFSR columns per lane."""
    return lanes * bits


def _in_chunks(samples: int, lanes: int, draw) -> np.ndarray:
    """``samples × lanes`` outputs of ``draw(steps)``, called on ``RLF_CHUNK`` steps at a time (``draw`` carries
    its generator's state from one call to the next)."""
    out = np.empty((samples, lanes), dtype=np.int64)
    for start in range(0, samples, RLF_CHUNK):
        steps = min(RLF_CHUNK, samples - start)
        out[start:start + steps] = draw(steps)
    return out


def rlf_grng(n: int, lanes: int, bits: int, seed: int, samples: int) -> np.ndarray:
    """``samples × lanes`` raw outputs ``2S - bits``: per step, the ones among each lane's ``bits`` new bits."""
    window = seed_windows(n, rlf_columns(lanes, bits), seed)

    def draw(steps):
        nonlocal window
        rows = lfsr_bits(n, window, steps)
        window = rows[steps:]
        return 2 * rows[n:].reshape(steps, lanes, bits).sum(axis=2, dtype=np.int64) - bits
    return _in_chunks(samples, lanes, draw)


# --- Wallace -------------------------------------------------------------------

WALLACE_FORMAT = FixedFormat(16, 11)  #: pool and output values
GAIN_FRAC = 14  #: fraction bits of the χ² correction gain
CHI_FRAC = 16  #: fraction bits of the constant 1/√(2·pool)
SIGN_LFSR = 31  #: length of each unit's sign LFSR (4 new bits a row)


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
    then quantized), the xorshift states (one per unit, never 0), the sign LFSRs' windows
    (``SIGN_LFSR × units``, from ``seed + 2**31``: not the normals' stream) and the unit gain 1."""
    if seed < 1:
        raise ValueError(f"seed={seed} out of range [1, 2**31-1]")
    rng = np.random.default_rng(seed)
    normals = rng.standard_normal((pool, units))
    normals /= np.sqrt(np.mean(normals ** 2, axis=0))
    values = saturate(np.floor(normals * (1 << WALLACE_FORMAT.frac) + 0.5).astype(np.int64), WALLACE_FORMAT.width)
    states = [xorshift32(int(s) | 1) for s in rng.integers(1, 1 << 32, size=units, dtype=np.uint64)]
    return {"pool": values, "states": states, "signs": seed_windows(SIGN_LFSR, units, seed + (1 << 31)),
            "gain": 1 << GAIN_FRAC}


def _wallace_unit(values: np.ndarray, state: int, sign_window: np.ndarray, steps: int) -> np.ndarray:
    """One unit's ``steps × 4`` raw outputs from its pool ``values`` (modified in place); row ``i`` of the
    passes negates the values it reads where its sign LFSR's new bits ``4i … 4i+3`` are 1."""
    pool = len(values)
    rows_needed = ceil_div(steps, pool // 4) * (pool // 4)  # whole passes
    signs = lfsr_bits(SIGN_LFSR, sign_window[:, None], 4 * rows_needed)[SIGN_LFSR:, 0].reshape(-1, 4)
    chi = chi_constant(pool)
    gain = 1 << GAIN_FRAC
    out = np.empty((steps, 4), dtype=np.int64)
    fresh = np.empty_like(values)
    step = rows_read = 0
    while step < steps:
        stride, offset = pass_addressing(state, pool)
        for row in range(pool // 4):
            j = 4 * row + np.arange(4)
            read = values[(stride * j + offset) & (pool - 1)]
            a, b, c, d = saturate(np.where(signs[rows_read] == 1, -read, read), WALLACE_FORMAT.width)
            rows_read += 1
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
    units = [_wallace_unit(init["pool"][:, u].copy(), init["states"][u], init["signs"][:, u], samples)
             for u in range(lanes // 4)]
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


# --- Paired LFSRs ----------------------------------------------------------------

PAIRED_LFSRS = (63, 127)  #: lengths of a lane's two LFSRs; tap distances 62 and 126 allow up to 62 bits per step


def paired_lfsr_windows(lanes: int, seed: int) -> list[np.ndarray]:
    """The initial windows of each lane's two LFSRs, one ``n × lanes`` array per length: the 63-bit ones
    from ``seed``, the 127-bit ones from ``seed + 2**31`` (no user seed reaches it, so the two never
    start from the same random bits)."""
    return [seed_windows(n, lanes, seed + (k << 31)) for k, n in enumerate(PAIRED_LFSRS)]


def paired_lfsr_grng(lanes: int, bits: int, seed: int, samples: int) -> np.ndarray:
    """``samples × lanes`` raw outputs ``2S - bits``, S the ones among a step's ``bits`` XORed new bits
    (``RLF_CHUNK`` steps at a time, each LFSR going on from the window where the last chunk left it)."""
    windows = paired_lfsr_windows(lanes, seed)

    def draw(steps):
        fresh = np.zeros((steps * bits, lanes), dtype=np.uint8)
        for k, n in enumerate(PAIRED_LFSRS):
            run = lfsr_bits(n, windows[k], steps * bits)
            fresh ^= run[n:]
            windows[k] = run[-n:]
        return 2 * fresh.reshape(steps, bits, lanes).sum(axis=1, dtype=np.int64) - bits
    return _in_chunks(samples, lanes, draw)
