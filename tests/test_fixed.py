"""models/fixed.py against exact rational arithmetic (fractions.Fraction), and hw/common/fixed.py against the model."""

import math
from fractions import Fraction

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.common import fixed as hw_fixed
from models.fixed import (FixedFormat, accumulator_width, dequantize, quantize, requantize, round_shift,
                          saturate, wrap)

formats = st.integers(2, 24).flatmap(lambda w: st.builds(FixedFormat, st.just(w), st.integers(0, w - 1)))
raw62 = st.integers(-(1 << 61), (1 << 61) - 1)


def exact_round_half_up(value: int, shift: int) -> int:
    return math.floor(Fraction(value, 1 << shift) + Fraction(1, 2))


@given(raw62, st.integers(0, 30))
def test_round_shift_is_round_half_up(value, shift):
    assert int(round_shift(value, shift)) == exact_round_half_up(value, shift)


def test_round_shift_ties_go_up():
    assert list(round_shift(np.array([-5, -3, 3, 5]), 1)) == [-2, -1, 2, 3]


@given(raw62, st.integers(2, 40))
def test_saturate_and_wrap(value, width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    assert int(saturate(value, width)) == min(max(value, lo), hi)
    wrapped = int(wrap(value, width))
    assert lo <= wrapped <= hi and (wrapped - value) % (1 << width) == 0


@given(formats, st.floats(-1e6, 1e6, allow_nan=False))
def test_quantize_nearest_and_saturated(fmt, value):
    raw = int(quantize(value, fmt))
    exact = math.floor(Fraction(value) * (1 << fmt.frac) + Fraction(1, 2))
    assert raw == min(max(exact, fmt.min_raw), fmt.max_raw)
    if fmt.min_value <= value <= fmt.max_value:
        assert abs(float(dequantize(raw, fmt)) - value) <= fmt.lsb / 2


@given(st.integers(2, 24), st.integers(1, 4096))
def test_accumulator_width_holds_the_worst_case(width, terms):
    worst = terms * (1 << (width - 1)) ** 2  # (-2**(w-1))**2, every term
    bits = accumulator_width(width, terms)
    assert worst <= (1 << (bits - 1)) - 1


def test_format_rejects_frac_not_below_width():
    with pytest.raises(ValueError, match=r"frac=8 out of range \[0, 7\]"):
        FixedFormat(8, 8)


def evaluate(expression, source_shape, width: int, values: list[int]) -> list[int]:
    """``expression(source)`` as a ``signed(width)`` result for each source value (Amaranth simulator)."""
    m = Module()
    source, result = Signal(source_shape), Signal(signed(width))
    m.d.comb += result.eq(expression(source))
    sim = Simulator(m)
    results = []

    async def bench(ctx):
        for v in values:
            ctx.set(source, v)
            results.append(ctx.get(result))

    sim.add_testbench(bench)
    sim.run()
    return results


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-(1 << 27), (1 << 27) - 1), min_size=1, max_size=40),
       st.integers(0, 12), st.integers(4, 20))
def test_rtl_requantize_equals_model(values, shift, width):
    """The RTL expression builder gives the model's result for every value (Amaranth simulator)."""
    results = evaluate(lambda source: hw_fixed.requantize(source, shift, width), signed(28), width, values)
    assert results == [int(x) for x in requantize(np.array(values), shift, width)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(-128, 127), st.integers(-(1 << 20), (1 << 20) - 1)), min_size=1, max_size=30),
       st.integers(0, 10))
def test_rtl_plus_rounded_is_base_plus_the_rounded_value(pairs, shift):
    """``plus_rounded(base, value, shift)`` == ``base + round_shift(value, shift)``, exact integer math."""
    sources = [(value << 8) | (base & 0xFF) for base, value in pairs]  # base in bits 0-7, value above
    results = evaluate(lambda source: hw_fixed.plus_rounded(source[:8].as_signed(), source[8:].as_signed(), shift),
                       signed(29), 23, sources)
    assert results == [base + exact_round_half_up(value, shift) for base, value in pairs]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 24), st.booleans(), st.integers(2, 16), st.data())
def test_rtl_saturate_clamps_any_source_shape(source_width, source_signed, width, data):
    """Signed or unsigned sources, narrower or wider than the result; the extremes of the source always in."""
    shape = signed(source_width) if source_signed else unsigned(source_width)
    lo_in, hi_in = (-(1 << (source_width - 1)), (1 << (source_width - 1)) - 1) if source_signed else \
        (0, (1 << source_width) - 1)
    values = [lo_in, hi_in] + data.draw(st.lists(st.integers(lo_in, hi_in), max_size=20))
    results = evaluate(lambda source: hw_fixed.saturate(source, width), shape, width, values)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    assert results == [min(max(v, lo), hi) for v in values]


@given(st.integers(1, 1 << 20))
def test_csd_digits_sum_to_the_constant_without_adjacent_digits(constant):
    digits = hw_fixed.csd_digits(constant)
    assert sum(sign << shift for shift, sign in digits) == constant
    shifts = [shift for shift, _ in digits]
    assert all(later - earlier >= 2 for earlier, later in zip(shifts, shifts[1:]))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-(1 << 17), (1 << 17) - 1), min_size=1, max_size=20), st.integers(1, 1 << 16))
def test_rtl_constant_product_is_the_product_two_cycles_later(values, constant):
    """Shift-add multiplication (the FFT's multiplier-free eighth turns) equals value × constant."""
    m = Module()
    source = Signal(signed(18))
    product = hw_fixed.constant_product(m, source, constant, "product")
    results = []
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for v in values + [0, 0]:
            ctx.set(source, v)
            await ctx.tick()
            results.append(ctx.get(product))

    sim.add_testbench(bench)
    sim.run()
    assert results[1:len(values) + 1] == [v * constant for v in values]  # after the second edge
