"""The registered hard-block multiplier (hw/common/dsp.py): fabric fallback, export, ECP5 mapping."""

import re

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

import accelgen
from accelgen.flows import export, synthesize
from hw.common.dsp import BEHAVIOURAL_VERILOG, MULTIPLIER_MODULE, lut_product, pipelined_product, registered_product


class ProductBetweenRegisters(wiring.Component):
    """``product = a·b`` three cycles later: operands through one registered multiplier, then a fabric
    register (the hop of docs/ecp5-ceiling.md with the DSP's own registers)."""

    a: In(signed(17))
    b: In(signed(18))
    product: Out(signed(35))

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.product.eq(registered_product(m, self.a, self.b, "multiplier"))
        return m


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(-(1 << 21), (1 << 21) - 1), st.integers(-(1 << 17), (1 << 17) - 1),
                          st.booleans()), min_size=1, max_size=20))
def test_wide_operands_take_the_fabric_path_with_the_same_timing(steps):
    """Operands wider than a DSP's: two enabled edges from operands to product, holding while disabled."""
    m = Module()
    a, b, enable = Signal(signed(22)), Signal(signed(18)), Signal()
    product = registered_product(m, a, b, "wide", enable)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        for value_a, value_b, on in steps + [(0, 0, True)] * 2:
            ctx.set(a, value_a)
            ctx.set(b, value_b)
            ctx.set(enable, on)
            await ctx.tick()
            seen.append(ctx.get(product))

    sim.add_testbench(bench)
    sim.run()
    taken = [va * vb for va, vb, on in steps + [(0, 0, True)] * 2 if on]
    enabled_edges = [on for _, _, on in steps + [(0, 0, True)] * 2]
    # After the n-th enabled edge (n >= 2) the product is that of the operands taken at edge n - 1.
    count = 0
    for edge, on in enumerate(enabled_edges):
        count += on
        if count >= 2:
            assert seen[edge] == taken[count - 2]


def test_export_appends_the_behavioural_model_only_when_instantiated():
    """dense-fc instantiates the multiplier and carries one model; intergrad multiplies in the fabric and
    carries none."""
    text = export.component_verilog(ProductBetweenRegisters(), "top")
    assert text.count(f"module {MULTIPLIER_MODULE}") == 1 and text.endswith(BEHAVIOURAL_VERILOG)
    dense_text = accelgen.design("dense-fc", n_in=2, n_out=1, parallelism=1).verilog()
    assert dense_text.count(f"module {MULTIPLIER_MODULE}") == 1
    assert MULTIPLIER_MODULE not in accelgen.design("intergrad").verilog()


def test_ecp5_puts_operand_and_product_registers_inside_the_dsp():
    """One MULT18X18D; the only fabric flip-flops are the 35 of the output register; the hop runs far above
    an inferred DSP's 142 MHz."""
    result = synthesize.synthesize(export.component_verilog(ProductBetweenRegisters(), "top"), "top", "ecp5")
    assert result["dsp"] == 1 and result["ff"] == 35
    assert result["fmax_mhz"] > 200


def test_a_wide_operand_is_split_over_two_hard_multipliers():
    """24 × 18 bits (the inverse transform's data times a twiddle): a 17-bit low part and a 7-bit high part,
    each on one instantiated multiplier — none of it left to the fabric's inferred multiplier."""
    m = Module()
    a, b = Signal(signed(24)), Signal(signed(18))
    product = pipelined_product(m, a, b, "wide")
    text = export.component_verilog(_Wrapped(m, a, b, product), "top")
    design = text.split(f"module {MULTIPLIER_MODULE}")[0]
    assert design.count(f"  {MULTIPLIER_MODULE} ") == 2
    assert not re.search(r"\S \* \S", design), "no multiplication left outside the hard multipliers"


class _Wrapped(wiring.Component):
    """A module built by a test, with its operands and result as ports."""

    def __init__(self, module, a, b, product):
        self._module, self._a, self._b, self._product = module, a, b, product
        super().__init__({"a": In(a.shape()), "b": In(b.shape()), "product": Out(product.shape())})

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = self._module
        m.d.comb += [self._a.eq(self.a), self._b.eq(self.b), self.product.eq(self._product)]
        return m


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 9), st.integers(2, 9), st.data())
@pytest.mark.parametrize("stages", [2, 3])
def test_lut_product_is_the_signed_product_stages_cycles_later(stages, width_a, width_b, data):
    """The Booth multiplier: every pair of signed operands, including both minimums, ``stages`` cycles
    later."""
    m = Module()
    a, b = Signal(signed(width_a)), Signal(signed(width_b))
    product = lut_product(m, a, b, "lut", stages=stages)
    pairs = data.draw(st.lists(st.tuples(st.integers(-(1 << (width_a - 1)), (1 << (width_a - 1)) - 1),
                                         st.integers(-(1 << (width_b - 1)), (1 << (width_b - 1)) - 1)),
                               min_size=1, max_size=12))
    pairs.append((-(1 << (width_a - 1)), -(1 << (width_b - 1))))
    seen = []
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for value_a, value_b in pairs + [(0, 0)] * stages:
            ctx.set(a, value_a)
            ctx.set(b, value_b)
            await ctx.tick()
            seen.append(ctx.get(product))

    sim.add_testbench(bench)
    sim.run()
    assert seen[stages - 1:stages - 1 + len(pairs)] == [value_a * value_b for value_a, value_b in pairs]


def test_lut_product_leaves_no_multiplication_for_a_dsp():
    text = export.component_verilog(LutProduct(), "lut_product_top")
    assert not re.search(r"[\w\])] \* [\w(]", text)  # a multiplication operator (attributes are (* … *))


def test_lut_product_maps_8x8_to_fewer_luts_than_shift_and_add():
    """Booth recoding halves the partial products: yosys maps the 8 × 8 product to at most 160 LUTs and
    41 flip-flops and no DSP (shift-and-add pairs of the 8 partial products took 181 and 56)."""
    result = synthesize.synthesize(export.component_verilog(LutProduct(), "lut_product_top"), "lut_product_top")
    assert result["dsp"] == 0
    assert result["lut"] <= 160 and result["ff"] <= 41, result


class LutProduct(wiring.Component):
    """``product = a·b`` two cycles later from :func:`lut_product`: what yosys would see of an 8×8 PE."""

    a: In(signed(8))
    b: In(signed(8))
    product: Out(signed(16))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.product.eq(lut_product(m, self.a, self.b, "lut"))
        return m
