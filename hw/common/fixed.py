"""Fixed-point expression builders shared by every family's RTL.

They mirror ``models/fixed.py`` bit for bit: round half up (add half an LSB,
arithmetic shift right), then saturate to the output width.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value, signed
from amaranth.lib import data

__all__ = ["round_shift", "plus_rounded", "saturate", "requantize", "delay", "constant_product", "csd_digits",
           "complex_layout", "DSP_WIDTH"]

DSP_WIDTH = 18  #: signed operand width of one ECP5 MULT18X18D


def round_shift(value, shift: int):
    """``(value + 2**(shift-1)) >> shift`` as a signed expression; identity for ``shift == 0``."""
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def plus_rounded(base, value, shift: int):
    """``base + round_shift(value, shift)`` in one adder: ``(base·2^shift + 2^(shift-1) + value) >> shift``,
    the half in the zero bits below ``base`` (exact: ``base·2^shift`` adds nothing below bit ``shift``)."""
    if shift == 0:
        return base + value
    return (Cat(Const(1 << (shift - 1), shift), base).as_signed() + value) >> shift


def saturate(value, width: int):
    """Clamp a signed expression into ``signed(width)``.

    The value fits when its bits from ``width − 1`` up are all equal (all zero
    for an unsigned value): two reductions, not two magnitude comparisons
    down a carry chain.
    """
    value = Value.cast(value)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if value.shape().signed and len(value) <= width:
        return value
    if not value.shape().signed and len(value) < width:
        return Cat(value, 0).as_signed()
    top = value[width - 1:]
    if value.shape().signed:
        fits, negative = ~top.any() | top.all(), value[-1]
    else:
        fits, negative = ~top.any(), 0
    return Mux(fits, value[:width], Mux(negative, lo, hi))[:width].as_signed()


def requantize(value, shift: int, width: int):
    """Round half up by ``shift`` bits, then saturate to ``signed(width)``."""
    return saturate(round_shift(value, shift), width)


def complex_layout(width: int) -> data.StructLayout:
    """A complex fixed-point word: ``re`` and ``im``, each ``signed(width)``."""
    return data.StructLayout({"re": signed(width), "im": signed(width)})


def delay(m, value, cycles: int, name: str, *, reset_less=False, keep=False) -> Signal:
    """``value`` through ``cycles`` registers named ``<name>_d1`` … (``cycles = 0``: ``value`` itself);
    ``reset_less`` for data, whose registers need no reset net; ``keep`` for a local copy of a signal that
    other registers also carry, which synthesis would otherwise merge into one net."""
    for stage in range(cycles):
        extra = {"reset_less": True} if reset_less else {}
        if keep:
            extra["attrs"] = {"keep": 1}
        register = Signal.like(value, name=f"{name}_d{stage + 1}", **extra) if isinstance(value, Signal) else \
            Signal(value.shape(), name=f"{name}_d{stage + 1}", **extra)
        m.d.sync += register.eq(value)
        value = register
    return value


def csd_digits(constant: int) -> list[tuple[int, int]]:
    """Canonical signed digits of a positive ``constant``: ``[(shift, ±1), …]`` with
    ``constant == Σ sign << shift`` and no two adjacent nonzero digits (fewest adders)."""
    assert constant > 0
    digits, shift = [], 0
    while constant:
        if constant & 1:
            sign = 2 - (constant & 3)  # ...01 -> +1, ...11 -> -1
            digits.append((shift, sign))
            constant -= sign
        constant >>= 1
        shift += 1
    return digits


def constant_product(m, value, constant: int, name: str) -> Signal:
    """``value × constant`` two cycles later from shifts and adders, no multiplier: pairs of signed
    digits summed and registered, then those sums added and registered."""
    terms = [(value << shift) if sign > 0 else -(value << shift) for shift, sign in csd_digits(constant)]
    width = len(value) + constant.bit_length() + 1
    pairs = []
    for number in range(0, len(terms), 2):
        pair = Signal(signed(width), name=f"{name}_pair{number // 2}")
        m.d.sync += pair.eq(sum(terms[number:number + 2]))
        pairs.append(pair)
    product = Signal(signed(width), name=name)
    m.d.sync += product.eq(sum(pairs))
    return product
