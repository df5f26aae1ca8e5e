"""hw/common/banked.py: a deep memory in block-RAM-sized banks, each with its own read register."""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from accelgen.flows import export, synthesize
from hw.common.banked import READ_LATENCY, BankedMemory, block_ram_words
from hw.common.buffer import NO_COLLISIONS


@pytest.mark.parametrize(("width", "words"), [(1, 16384), (4, 4096), (9, 2048), (16, 1024), (18, 1024),
                                              (19, 512), (34, 512), (72, 512)])
def test_bank_is_one_dp16kd_deep(width, words):
    assert block_ram_words(width) == words


def test_bank_depth_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="bank_words=6"):
        BankedMemory(shape=8, depth=20, bank_words=6)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), depth=st.integers(1, 40), bank_words=st.sampled_from([1, 2, 4, 8, 64]),
       column_bits=st.sampled_from([None, 1, 3, 5, 8]))
def test_reads_return_the_written_word_read_latency_cycles_later(data, depth, bank_words, column_bits):
    """Write every word, wait the write register's cycle, then read a random address every cycle: each
    word arrives ``READ_LATENCY`` cycles after its address (the write latency is seen failing without the
    wait, on a read of the last word written), whole or in columns."""
    words = data.draw(st.lists(st.integers(0, 255), min_size=depth, max_size=depth))
    reads = data.draw(st.lists(st.integers(0, depth - 1), min_size=1, max_size=30))
    dut = BankedMemory(shape=8, depth=depth, bank_words=bank_words, column_bits=column_bits)
    assert dut.bank_count == -(-depth // bank_words)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        for address, word in enumerate(words):
            ctx.set(dut.write.addr, address)
            ctx.set(dut.write.data, word)
            ctx.set(dut.write.en, 1)
            await ctx.tick()
        ctx.set(dut.write.en, 0)
        await ctx.tick()  # the last word is in its bank one cycle after its write was sampled
        for address in reads + [0] * READ_LATENCY:
            ctx.set(dut.read.addr, address)
            await ctx.tick()
            seen.append(ctx.get(dut.read.data))

    sim.add_testbench(bench)
    sim.run()
    assert seen[READ_LATENCY - 1:READ_LATENCY - 1 + len(reads)] == [words[address] for address in reads]


DEEP = 4096  # × 34 bits: yosys cascades eight 512 × 36 DP16KDs (fewer than nine 4096 × 4 side by side)


class Deep(wiring.Component):
    """A ``DEEP`` × 34 memory with a registered read address and output, either one ``Memory`` with a
    reset-less read register (as yosys maps it) or a :class:`BankedMemory`."""

    write_addr: In(12)
    write_data: In(34)
    write_en: In(1)
    read_addr: In(12)
    data: Out(34)

    def __init__(self, banked: bool):
        self._banked = banked
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self._banked:
            m.submodules.memory = ram = BankedMemory(shape=34, depth=DEEP)
            write, read, data = ram.write, ram.read, ram.read.data
        else:
            m.submodules.memory = ram = memory.Memory(shape=34, depth=DEEP, init=[], attrs=NO_COLLISIONS)
            write, read = ram.write_port(), ram.read_port()
            data = Signal(34, reset_less=True)
            m.d.sync += data.eq(read.data)
        m.d.comb += [write.addr.eq(self.write_addr), write.data.eq(self.write_data), write.en.eq(self.write_en)]
        m.d.sync += [read.addr.eq(self.read_addr), self.data.eq(data)]
        return m


@pytest.mark.slow  # two syntheses and placements: ~20 s
def test_banks_absorb_their_read_registers_and_beat_the_cascade():
    """Eight DP16KDs either way; banked, every bank's read register is inside its block RAM (the fabric
    keeps the address (this design's and the memory's own), the select delays, two group registers, the
    data and the output registers, and the write registers) and the read path is faster than the
    cascade's block RAM -> mux -> register."""
    plain = synthesize.synthesize(export.component_verilog(Deep(banked=False), "top"), "top", "ecp5")
    banked = synthesize.synthesize(export.component_verilog(Deep(banked=True), "top"), "top", "ecp5")
    assert plain["bram"] == banked["bram"] == 8
    reads = 2 * 12 + 2 * 2 + 1 * 3 + (2 + 1 + 1) * 34  # addresses, select delays, groups, data, output
    writes = 9 + 34 + 8  # one shared address and data register, an enable per bank
    assert banked["ff"] <= reads + writes, banked
    assert banked["fmax_mhz"] > 1.2 * plain["fmax_mhz"], (plain["fmax_mhz"], banked["fmax_mhz"])


@settings(max_examples=10, deadline=None)
@given(depth=st.integers(1, 12), column_bits=st.sampled_from([1, 3, 5, 8]),
       words=st.lists(st.integers(0, 255), min_size=12, max_size=12))
def test_a_rom_in_columns_reads_its_initial_words(depth, column_bits, words):
    """``init`` is split between the columns bit for bit (a column's slice of each word)."""
    dut = BankedMemory(shape=8, depth=depth, bank_words=4, column_bits=column_bits, init=words[:depth])
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        for address in list(range(depth)) + [0] * READ_LATENCY:
            ctx.set(dut.read.addr, address)
            await ctx.tick()
            seen.append(ctx.get(dut.read.data))

    sim.add_testbench(bench)
    sim.run()
    assert seen[READ_LATENCY - 1:READ_LATENCY - 1 + depth] == words[:depth]


def test_columns_keep_their_own_address_and_enable_registers():
    """Two 9-bit columns of an 18-bit word: each has its own read address, write address and write
    enable registers after synthesis (``keep``; merged, one register would reach both)."""
    netlist = synthesize.synthesize(
        export.component_verilog(BankedMemory(shape=18, depth=2048, bank_words=2048, column_bits=9), "top"), "top", "ecp5")
    whole = synthesize.synthesize(
        export.component_verilog(BankedMemory(shape=18, depth=2048, bank_words=2048), "top"), "top", "ecp5")
    assert netlist["bram"] == whole["bram"] == 2
    assert netlist["ff"] - whole["ff"] == 11 + 11 + 1, (netlist["ff"], whole["ff"])
