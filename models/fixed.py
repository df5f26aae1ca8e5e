"""Signed two's-complement fixed-point arithmetic, bit-exact with the RTL.

Every family's golden model works on *raw* integers (``numpy.int64``): a value
``v`` in format ``Q(width, frac)`` is stored as the integer ``round(v * 2**frac)``
in ``[-2**(width-1), 2**(width-1) - 1]``.

Rounding rule, used everywhere (model and RTL, see ``hw/common/fixed.py``):
**round half up** — add half an LSB, then shift right arithmetically. Ties go
toward +infinity (``-2.5 -> -2``, ``2.5 -> 3``). Results that do not fit are
**saturated**, never wrapped, unless a function says otherwise.

Raw values are held in ``int64``; formats are limited so that every exact
intermediate (a product plus an accumulation headroom) fits in 63 bits.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "pack", "unpack",
    "FixedFormat",
    "quantize",
    "dequantize",
    "saturate",
    "wrap",
    "round_shift",
    "requantize",
    "accumulator_width",
    "ceil_div",
]

MAX_WIDTH = 31  # a product of two raw values must fit comfortably in int64


@dataclass(frozen=True)
class FixedFormat:
    """A signed fixed-point format: ``width`` bits, ``frac`` of them fractional."""

    width: int
    frac: int

    def __post_init__(self):
        if not 2 <= self.width <= MAX_WIDTH:
            raise ValueError(f"width={self.width} out of range [2, {MAX_WIDTH}]")
        if not 0 <= self.frac < self.width:
            raise ValueError(f"frac={self.frac} out of range [0, {self.width - 1}] for width={self.width}")

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1))

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def lsb(self) -> float:
        """Value of one least-significant bit, ``2**-frac``."""
        return 2.0 ** -self.frac

    @property
    def min_value(self) -> float:
        return self.min_raw * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_raw * self.lsb

    def describe(self) -> dict:
        """Manifest entry: ``{"width", "frac", "signed"}``."""
        return {"width": self.width, "frac": self.frac, "signed": True}


def _as_int64(value) -> np.ndarray:
    return np.asarray(value, dtype=np.int64)


def saturate(raw, width: int) -> np.ndarray:
    """Clamp integers to the signed ``width``-bit range."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return np.clip(_as_int64(raw), lo, hi)


def wrap(raw, width: int) -> np.ndarray:
    """Reduce integers modulo ``2**width`` into the signed range (what an adder without saturation does)."""
    raw = _as_int64(raw)
    mask = (1 << width) - 1
    unsigned = raw & mask
    return np.where(unsigned >> (width - 1), unsigned - (1 << width), unsigned)


def round_shift(value, shift: int) -> np.ndarray:
    """Divide by ``2**shift`` rounding half up: ``(value + 2**(shift-1)) >> shift``."""
    value = _as_int64(value)
    if shift < 0:
        raise ValueError(f"shift={shift} out of range [0, 62]")
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def requantize(value, shift: int, width: int) -> np.ndarray:
    """Round-half-up shift right by ``shift``, then saturate to ``width`` bits."""
    return saturate(round_shift(value, shift), width)


def quantize(values, fmt: FixedFormat) -> np.ndarray:
    """Float values to raw integers: nearest with ties up, saturated to ``fmt``."""
    scaled = np.floor(np.asarray(values, dtype=np.float64) * (1 << fmt.frac) + 0.5)
    return saturate(np.clip(scaled, fmt.min_raw, fmt.max_raw).astype(np.int64), fmt.width)


def dequantize(raw, fmt: FixedFormat) -> np.ndarray:
    """Raw integers to their float values."""
    return _as_int64(raw).astype(np.float64) * fmt.lsb


def accumulator_width(width: int, terms: int) -> int:
    """Bits that hold a sum of ``terms`` products of two signed ``width``-bit values exactly.

    One product needs ``2*width - 1`` bits (only ``(-2**(w-1))**2`` needs the
    last one, so ``2*width`` is kept); ``terms`` of them need ``ceil(log2(terms))`` more.
    """
    return 2 * width + max(terms - 1, 0).bit_length()


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` in integers (``b > 0``): groups, folds and banks of ``b`` that hold ``a`` items."""
    return -(-a // b)


def pack(fields, width: int) -> np.ndarray:
    """Struct payloads from equal-width signed fields, first field in the low bits (``amaranth.lib.data.StructLayout`` order)."""
    mask = (1 << width) - 1
    words = np.zeros(np.shape(fields[0]), dtype=object)
    for position, field in enumerate(fields):
        words = words | ((np.asarray(field, dtype=object) & mask) << (position * width))
    return words


def unpack(words, width: int, count: int) -> list[np.ndarray]:
    """Inverse of :func:`pack`: ``count`` signed fields of ``width`` bits from unsigned words."""
    words = np.asarray(words, dtype=object)
    mask, sign = (1 << width) - 1, 1 << (width - 1)
    fields = []
    for position in range(count):
        raw = (words >> (position * width)) & mask
        fields.append(np.array([int(v) - (1 << width) if v & sign else int(v) for v in raw.reshape(-1)],
                               dtype=np.int64).reshape(words.shape))
    return fields
