"""Memories held where they are fast (hw/common/buffer.py): the LUT-RAM FIFO and collision-free block RAM."""

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accelgen.flows import export, synthesize
from accelgen.flows.ecp5_netlist import absorb_read_registers
from hw.common.buffer import NO_COLLISIONS, LutRamFIFO, SkidBuffer
from hw.common.memory import ENABLED_READ_REGISTER


def stream_through(dut, words, offer, accept):
    """Offer ``words`` to ``dut.input`` and take ``dut.output`` on the cyclic stall patterns ``offer`` and
    ``accept`` (each ending willing); return everything that came out, plus anything more within 6 cycles."""
    offer, accept = offer + [True], accept + [True]
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = []

    async def bench(ctx):
        sent, cycle = 0, 0
        while len(out) < len(words):
            assert cycle < 20 * (len(words) + 10), "the buffer stopped moving"
            ctx.set(dut.input.valid, sent < len(words) and offer[cycle % len(offer)])
            ctx.set(dut.input.payload, words[sent] if sent < len(words) else 0)
            ctx.set(dut.output.ready, accept[cycle % len(accept)])
            if ctx.get(dut.input.valid) and ctx.get(dut.input.ready):
                sent += 1
            if ctx.get(dut.output.valid) and ctx.get(dut.output.ready):
                out.append(ctx.get(dut.output.payload))
            await ctx.tick()
            cycle += 1
        ctx.set(dut.input.valid, 0)
        ctx.set(dut.output.ready, 1)
        for _ in range(6):  # anything more that came out would be a duplicate
            if ctx.get(dut.output.valid):
                out.append(ctx.get(dut.output.payload))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    return out


stalls = st.lists(st.booleans(), min_size=1, max_size=16)
word_lists = st.lists(st.integers(0, 255), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(2, 9), words=word_lists, offer=stalls, accept=stalls)
@example(depth=3, words=list(range(12)), offer=[True], accept=[False] * 15)  # fills while the consumer waits
def test_fifo_keeps_order_under_random_stalls(depth, words, offer, accept):
    """Every word comes out once, in order, under any stalls on either side."""
    assert stream_through(LutRamFIFO(shape=8, depth=depth), words, offer, accept) == words


@settings(max_examples=25, deadline=None)
@given(words=word_lists, offer=stalls, accept=stalls)
@example(words=list(range(12)), offer=[True], accept=[False, True, True, False, False])
def test_skid_buffer_keeps_order_under_random_stalls(words, offer, accept):
    assert stream_through(SkidBuffer(shape=8), words, offer, accept) == words


def test_skid_buffer_ready_is_a_register_and_full_rate_has_one_cycle_latency():
    """``input.ready`` does not follow ``output.ready`` within a cycle; with both sides willing a word goes in
    and out every cycle, one cycle apart."""
    dut = SkidBuffer(shape=8)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen, readies = [], []

    async def bench(ctx):
        ctx.set(dut.output.ready, 1)
        for word in range(6):
            ctx.set(dut.input.valid, 1)
            ctx.set(dut.input.payload, word)
            seen.append(ctx.get(dut.output.payload) if ctx.get(dut.output.valid) else None)
            await ctx.tick()
        ctx.set(dut.output.ready, 0)  # held: the next word lands in the skid register, then ready falls
        await ctx.tick()
        for accept in (0, 1):
            ctx.set(dut.output.ready, accept)
            await ctx.delay(1e-8)
            readies.append(ctx.get(dut.input.ready))

    sim.add_testbench(bench)
    sim.run()
    assert seen == [None, 0, 1, 2, 3, 4]
    assert readies == [0, 0]


def test_fifo_latency_is_three_cycles():
    dut = LutRamFIFO(shape=8, depth=4)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        ctx.set(dut.output.ready, 1)
        ctx.set(dut.input.payload, 0x5a)
        ctx.set(dut.input.valid, 1)
        await ctx.tick()
        ctx.set(dut.input.valid, 0)
        for _ in range(5):
            seen.append(ctx.get(dut.output.valid))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert seen == [0, 0, 1, 0, 0]  # accepted at edge 0; valid after edge 2: three cycles to the consumer


class RegisteredRead(wiring.Component):
    """A 48 × 34 RAM written and read on separate ports, its read data straight into a register (with the
    domain's reset, or ``reset_less``), then into the output register."""

    write_addr: In(6)
    write_data: In(34)
    write_en: In(1)
    read_addr: In(6)
    data: Out(34)

    def __init__(self, attrs=None, reset_less=False):
        self._attrs, self._reset_less = attrs, reset_less
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = memory.Memory(shape=34, depth=48, init=[], attrs=self._attrs)
        write, read = ram.write_port(), ram.read_port()
        m.d.comb += [write.addr.eq(self.write_addr), write.data.eq(self.write_data), write.en.eq(self.write_en)]
        register = Signal(34, reset_less=self._reset_less)
        # Registered address and a second data register: the block RAM sits between two flip-flops each side.
        m.d.sync += [read.addr.eq(self.read_addr), register.eq(read.data), self.data.eq(register)]
        return m


def test_no_collisions_drops_the_bypass_behind_the_block_ram():
    """Without the attribute yosys keeps read-old-data on an address collision with a register and a LUT
    per bit after the DP16KD; with it, the block RAM's data goes straight into the register."""
    plain = synthesize.synthesize(export.component_verilog(RegisteredRead(), "top"), "top", "ecp5")
    free = synthesize.synthesize(export.component_verilog(RegisteredRead(NO_COLLISIONS), "top"), "top", "ecp5")
    assert plain["bram"] == free["bram"] == 1
    assert plain["lut"] >= free["lut"] + 34, (plain["lut"], free["lut"])
    assert plain["ff"] >= free["ff"] + 34  # the bypass register


def test_fifo_stays_out_of_block_ram():
    """The forward transform's output buffer at k = 16 (51 words of 34 bits) in LUT RAM."""
    class Wrapped(wiring.Component):
        def __init__(self):
            self.fifo = LutRamFIFO(shape=34, depth=51)
            super().__init__({"input": In(stream.Signature(34)), "output": Out(stream.Signature(34))})

        def elaborate(self, platform):
            m = Module()
            m.submodules.fifo = self.fifo
            wiring.connect(m, wiring.flipped(self.input), self.fifo.input)
            wiring.connect(m, self.fifo.output, wiring.flipped(self.output))
            return m

    result = synthesize.synthesize(export.component_verilog(Wrapped(), "top"), "top", "ecp5")
    assert result["bram"] == 0
    assert result["fmax_mhz"] > 150


def test_a_reset_less_read_register_moves_into_the_block_ram():
    """Its 34 flip-flops become the DP16KD's output register; a register with a reset stays in the fabric.
    Without its registers in the fabric the read path is far above the ~140 MHz of a NOREG block RAM."""
    kept = synthesize.synthesize(export.component_verilog(RegisteredRead(NO_COLLISIONS), "top"), "top", "ecp5")
    moved = synthesize.synthesize(
        export.component_verilog(RegisteredRead(NO_COLLISIONS, reset_less=True), "top"), "top", "ecp5")
    assert kept["bram"] == moved["bram"] == 1
    assert kept["ff"] >= 34 and moved["ff"] == kept["ff"] - 34
    assert moved["fmax_mhz"] > 1.2 * kept["fmax_mhz"], (kept["fmax_mhz"], moved["fmax_mhz"])


def _netlist(register: dict, data_sinks: int = 1) -> dict:
    """A DP16KD (x18, read on port B) whose DOB0 feeds ``data_sinks`` copies of ``register``."""
    ram = {"type": "DP16KD", "parameters": {"DATA_WIDTH_B": "10010", "REGMODE_B": "NOREG"},
           "port_directions": {"CLKA": "input", "CLKB": "input", "DOB0": "output"},
           "connections": {"CLKA": [2], "CLKB": [2], "RSTA": ["0"], "RSTB": ["0"], "OCEB": ["0"], "DOB0": [10]}}
    cells = {"ram": ram}
    for copy in range(data_sinks):
        cells[f"ff{copy}"] = {"type": "TRELLIS_FF", "parameters": {"CEMUX": "1 ", "CLKMUX": "CLK", "REGSET": "RESET"},
                              "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"},
                              "connections": {"CLK": [2], "DI": [10], "Q": [20 + copy], **register}}
    return {"modules": {"top": {"ports": {}, "cells": cells}}}


def test_absorption_leaves_registers_it_cannot_move():
    plain = _netlist({"LSR": ["0"]})
    assert absorb_read_registers(plain) == 1
    ram = plain["modules"]["top"]["cells"]["ram"]
    assert ram["parameters"]["REGMODE_B"] == "OUTREG" and ram["connections"]["DOB0"] == [20]
    assert list(plain["modules"]["top"]["cells"]) == ["ram"]
    for refused in (_netlist({"LSR": [3]}), _netlist({"LSR": ["0"], "CLK": [4]}), _netlist({"LSR": ["0"]}, 2)):
        assert absorb_read_registers(refused) == 0
        assert refused["modules"]["top"]["cells"]["ram"]["parameters"]["REGMODE_B"] == "NOREG"


def _enabled_netlist(enables: list, asks: bool) -> dict:
    """A DP16KD (x18, read on port B) whose DOB0 and DOB1 each feed a register on clock enable net bit
    ``enables[i]`` (``"1"``: always enabled); ``asks``: their Q nets carry ``ENABLED_READ_REGISTER``."""
    netlist = _netlist({"LSR": ["0"]})
    cells = netlist["modules"]["top"]["cells"]
    ram, register = cells["ram"], cells.pop("ff0")
    for pin, enable in enumerate(enables):
        ram["port_directions"][f"DOB{pin}"] = "output"
        ram["connections"][f"DOB{pin}"] = [10 + pin]
        enable_mux = "1" if enable == "1" else "CE"
        cells[f"ff{pin}"] = {**register, "parameters": {**register["parameters"], "CEMUX": enable_mux},
                             "connections": {**register["connections"], "DI": [10 + pin], "Q": [20 + pin],
                                             "CE": [enable]}}
    attributes = dict.fromkeys(ENABLED_READ_REGISTER, "1") if asks else {}
    netlist["modules"]["top"]["netnames"] = {"q": {"bits": [20, 21], "attributes": attributes}}
    return netlist


def test_an_enabled_read_register_moves_only_when_it_asks_and_takes_its_enable_to_oce():
    """Register absorption with a clock enable (accelgen/flows/ecp5_netlist.py): the enable drives OCE."""
    moved = _enabled_netlist([5, 5], asks=True)
    assert absorb_read_registers(moved) == 1
    ram = moved["modules"]["top"]["cells"]["ram"]
    assert ram["parameters"]["REGMODE_B"] == "OUTREG" and ram["connections"]["OCEB"] == [5]
    assert (ram["connections"]["DOB0"], ram["connections"]["DOB1"]) == ([20], [21])
    assert list(moved["modules"]["top"]["cells"]) == ["ram"]
    for refused in (_enabled_netlist([5, 5], asks=False), _enabled_netlist([5, 6], asks=True),
                    _enabled_netlist([5, "1"], asks=True)):
        assert absorb_read_registers(refused) == 0
        assert refused["modules"]["top"]["cells"]["ram"]["parameters"]["REGMODE_B"] == "NOREG"
