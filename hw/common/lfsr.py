"""Fibonacci LFSRs in registers, RTL side (model: ``models/lfsr.py``)."""

import numpy as np
from amaranth.hdl import Cat, Signal

from models.lfsr import LFSR_TAPS

__all__ = ["leap_lfsr", "row_words"]


def row_words(bits) -> list[int]:
    """Rows of a 0/1 matrix as integers, column 0 in bit 0."""
    return [sum(int(bit) << column for column, bit in enumerate(row)) for row in bits]


def leap_lfsr(m, window, per_step: int, advance, *, name: str) -> Signal:
    """A Fibonacci LFSR in registers, started from ``window`` (``n`` bits, oldest first), advanced
    ``per_step`` bits on each ``advance``; returns the step's new bits (oldest in bit 0).

    ``b[t] = b[t-n] ^ b[t-d]`` (``d = LFSR_TAPS[n] >= per_step``), so every new bit is one XOR of two
    held bits. Model: ``models.lfsr.lfsr_words``.
    """
    n = len(window)
    d = LFSR_TAPS[n]
    assert per_step <= d, f"{per_step} new bits per step need a tap distance >= {per_step}, not {d}"
    lfsr = Signal(n, init=row_words(np.asarray(window).reshape(1, n))[0], reset_less=True, name=name)
    fresh = Signal(per_step, name=f"{name}_fresh")
    m.d.comb += fresh.eq(lfsr[:per_step] ^ lfsr[n - d:n - d + per_step])
    with m.If(advance):
        m.d.sync += lfsr.eq(Cat(lfsr[per_step:], fresh))
    return fresh
