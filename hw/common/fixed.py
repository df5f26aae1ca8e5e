"""Fixed-point expression builders shared by every family's RTL.

They mirror ``models/fixed.py`` bit for bit: round half up (add half an LSB,
arithmetic shift right), then saturate to the output width.
"""

from amaranth.hdl import Mux

__all__ = ["round_shift", "saturate", "requantize"]


def round_shift(value, shift: int):
    """``(value + 2**(shift-1)) >> shift`` as a signed expression; identity for ``shift == 0``."""
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def saturate(value, width: int):
    """Clamp a signed expression into ``signed(width)``."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    clamped = Mux(value > hi, hi, Mux(value < lo, lo, value))
    return clamped[:width].as_signed()


def requantize(value, shift: int, width: int):
    """Round half up by ``shift`` bits, then saturate to ``signed(width)``."""
    return saturate(round_shift(value, shift), width)
