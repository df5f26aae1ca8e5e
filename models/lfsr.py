"""Fibonacci LFSRs, model side: the random bits of the GRNGs and the stochastic-computing blocks.

Recurrence everywhere: ``b[t] = b[t-n] XOR b[t-d]`` with ``d = LFSR_TAPS[n]``
(characteristic polynomial ``x^n + x^(n-d) + 1``, primitive: checked in
``tests/test_grng.py``), so every non-zero state has period ``2**n - 1``. The
RTL counterpart is ``hw/common/lfsr.py``.
"""

import numpy as np

__all__ = ["LFSR_TAPS", "lfsr_bits", "seed_windows", "lfsr_words"]

#: LFSR length n -> second tap distance d of ``b[t] = b[t-n] ^ b[t-d]`` (maximal length).
LFSR_TAPS = {31: 28, 63: 62, 127: 126, 255: 203}


def lfsr_bits(n: int, window: np.ndarray, steps: int) -> np.ndarray:
    """Run ``window.shape[1]`` LFSR columns ``steps`` bits on from ``window`` (``n`` rows, oldest first).

    Returns ``(n + steps) × columns`` bits: the window, then each new bit.
    """
    d = LFSR_TAPS[n]
    bits = np.zeros((n + steps, window.shape[1]), dtype=np.uint8)
    bits[:n] = window
    t = n
    while t < n + steps:
        chunk = min(d, n + steps - t)  # new bits depend only on bits at least d back
        bits[t:t + chunk] = bits[t - n:t - n + chunk] ^ bits[t - d:t - d + chunk]
        t += chunk
    return bits


def seed_windows(n: int, columns: int, seed: int) -> np.ndarray:
    """Initial ``n × columns`` LFSR windows from ``seed``; a column is never all zero.

    The bits come from ``numpy.random.default_rng(seed)``; an all-zero
    column (probability ``2**-n``) gets its oldest bit set, so no seed can
    lock an LFSR at zero.
    """
    if seed < 1:
        raise ValueError(f"seed={seed} out of range [1, 2**31-1]")
    window = np.random.default_rng(seed).integers(0, 2, size=(n, columns), dtype=np.uint8)
    window[0, ~window.any(axis=0)] = 1
    return window


def lfsr_words(n: int, columns: int, seed: int, steps: int, words: int, bits: int) -> np.ndarray:
    """``steps × words × columns`` uniform ``bits``-bit integers from ``columns`` LFSRs of length ``n``
    (seeded by :func:`seed_windows`) advanced ``words·bits`` bits per step: word ``i`` of a step is
    that step's new bits ``[i·bits, (i+1)·bits)``, LSB first (``hw/common/lfsr.py``'s ``leap_lfsr``)."""
    fresh = lfsr_bits(n, seed_windows(n, columns, seed), steps * words * bits)[n:]
    fresh = fresh.astype(np.int64).reshape(steps, words, bits, columns)
    return (fresh << np.arange(bits)[:, None]).sum(axis=2)
