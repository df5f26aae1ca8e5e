"""A deep memory split into block-RAM-sized banks, each read into a register of its own.

yosys maps a memory deeper than one ECP5 DP16KD onto several of them and
multiplexes their read data in the fabric. Those outputs then leave the block
RAMs without the output register (the flow's absorption,
``accelgen/flows/ecp5_netlist.py``, moves only a register that sits straight
behind a single block RAM), 5.6–5.8 ns after the clock, into a mux: the
n ≥ 256 weight memories of ``circulant-fc`` ran at 74–127 MHz on that path
(docs/circulant.md, "Fmax"). Here each bank is its own memory with a
reset-less read register (absorbed into its DP16KD), and the bank select is
two levels of registers.
"""

from amaranth.hdl import Array, Cat, Module, Shape, Signal, Value
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import ceil_div
from models.memory import BANKED_READ_LATENCY

from .buffer import NO_COLLISIONS
from .fixed import delay

__all__ = ["READ_LATENCY", "block_ram_words", "block_ram_bits", "fewest_blocks", "BankedMemory"]

FIRST_LEVEL_BANKS = 4
READ_LATENCY = BANKED_READ_LATENCY  # address register -> block RAM -> its output register -> group select -> bank select

# ECP5 DP16KD aspect ratios (data bits, words): the deepest that holds a word of the given width.
_DP16KD_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))


def block_ram_words(width: int) -> int:
    """Words of ``width`` bits that one DP16KD holds at full depth (wider words: 512, side by side)."""
    return next((words for bits, words in _DP16KD_SHAPES if width <= bits), 512)


def block_ram_bits(words: int) -> int:
    """Data bits of the DP16KD aspect ratio ``words`` deep."""
    return next(bits for bits, deep in _DP16KD_SHAPES if deep == words)


def fewest_blocks(width: int, depth: int) -> tuple[int, int]:
    """``(blocks, bank_words)``: the fewest DP16KDs that hold ``depth`` words of ``width`` bits, and the
    deepest aspect ratio that reaches it. A wide memory read at one address per cycle wants deep, narrow
    blocks: every block of a bank drives its whole width each cycle, so 512 × 36 banks route four times
    the wires of 2048 × 9 banks for the same words."""
    blocks, deeper = min((ceil_div(width, bits) * ceil_div(depth, words), -words) for bits, words in _DP16KD_SHAPES)
    return blocks, -deeper


class BankedMemory(wiring.Component):
    """``depth`` words of ``shape``, one write and one read port, in banks of one block RAM each.

    Parameters
    ----------
    shape : shape-castable
        The word.
    depth : int
        Words (≥ 1).
    bank_words : int
        Words per bank, a power of two (default: the deepest DP16KD aspect ratio that holds a word).
    attrs : dict
        Attributes of every bank (``NO_COLLISIONS`` by default: the users write only what they do
        not read).
    init : sequence, optional
        Initial words (a ROM in the bitstream when nothing writes them); zeros past its end.
    column_bits : int, optional
        Split the word into columns of this many bits (the last one narrower), each its own banks with
        its own registered read address, write address, write enable and bank selects (``keep``): a
        word hundreds of block RAMs wide then has no register that reaches every one of them. Default:
        one column, the whole word (the write address register is then shared by the banks).

    Members
    -------
    write : In(addr, data, en)
        Registered, then written: a word is in the memory one cycle after the
        edge that samples ``en``. Each bank takes its own registered enable
        (address and data registers are shared: yosys merges the banks'
        identical copies), so no write path runs from the producer's logic
        through a decoder into block RAMs spread over the device.
    read : In(addr) / Out(data)
        The word at ``addr``, from a register: the memory's own address register
        (``keep``: several memories read at one address each keep their copy, so
        no address net spans the device), block RAM, each bank's reset-less read
        register (a DP16KD's output register on ECP5), then two registered
        selects: among up to four banks, then among those groups
        (``bank_count / 4`` wide, between registers that placement can keep
        together). A memory of one bank has the same latency (its selects are
        plain registers).

    Latency
    -------
    Read: ``READ_LATENCY`` (5) cycles from ``addr`` to ``data``. Write: the word is readable one cycle
    after its ``en``.

    Throughput
    ----------
    One read and one write per cycle.
    """

    def __init__(self, *, shape, depth: int, bank_words: int | None = None, attrs=NO_COLLISIONS, init=(),
                 column_bits: int | None = None):
        self.shape, self.depth, self.attrs, self.init = shape, int(depth), attrs, list(init)
        self.width = Shape.cast(shape).width
        self.bank_words = int(bank_words or block_ram_words(self.width))
        self.column_bits = int(column_bits or self.width)
        if self.depth < 1 or self.bank_words & (self.bank_words - 1):
            raise ValueError(f"depth={depth} must be ≥ 1 and bank_words={bank_words} a power of two")
        if self.column_bits < 1:
            raise ValueError(f"column_bits={column_bits} must be ≥ 1")
        address = range(self.depth)
        super().__init__({
            "write": In(wiring.Signature({"addr": Out(address), "data": Out(shape), "en": Out(1)})),
            "read": In(wiring.Signature({"addr": Out(address), "data": In(shape)})),
        })

    @property
    def bank_count(self) -> int:
        return ceil_div(self.depth, self.bank_words)

    @property
    def fan_in(self) -> int:
        """Banks per first-level select: up to four (one slice's mux on ECP5: the block RAMs lie far apart,
        so this level's routes are long and its logic must be short)."""
        return min(FIRST_LEVEL_BANKS, 1 << (self.bank_count - 1).bit_length())

    def elaborate(self, platform):
        m = Module()
        if self.column_bits >= self.width:
            m.d.comb += self.read.data.eq(self._column(m, self.shape, Value.cast(self.write.data), self.init))
            return m
        columns = []
        for number, low in enumerate(range(0, self.width, self.column_bits)):
            bits = min(self.column_bits, self.width - low)
            init = [(word >> low) & ((1 << bits) - 1) for word in self.init]
            columns.append(self._column(m, bits, Value.cast(self.write.data)[low:low + bits], init,
                                        f"column{number}_", keep={"keep": 1}))
        m.d.comb += self.read.data.eq(Cat(columns))
        return m

    def _column(self, m, shape, write_data, init, prefix="", keep=None):
        """Banks of ``shape`` words written with ``write_data``; the value read, ``READ_LATENCY`` cycles
        after ``read.addr``. ``keep`` (for one column of several) keeps its write registers its own."""
        low_bits, fan_bits = (self.bank_words - 1).bit_length(), (self.fan_in - 1).bit_length()
        read_address = Signal.like(self.read.addr, name=f"{prefix}read_address", reset_less=True,
                                   attrs={"keep": 1})
        m.d.sync += read_address.eq(self.read.addr)
        banks = []
        for number in range(self.bank_count):
            first = number * self.bank_words
            words = min(self.bank_words, self.depth - first)
            m.submodules[f"{prefix}bank{number}"] = bank = memory.Memory(
                shape=shape, depth=words, init=init[first:first + words], attrs=self.attrs)
            write, read = bank.write_port(), bank.read_port()
            here = self.write.addr[low_bits:] == number if self.bank_count > 1 else 1
            write_addr = Signal.like(write.addr, name=f"{prefix}write_addr{number}", reset_less=True,
                                     attrs=keep or {})
            write_data_register = Signal.like(write.data, name=f"{prefix}write_data{number}", reset_less=True)
            write_en = write.en
            if keep:
                write_en = Signal(name=f"{prefix}write_en{number}", attrs=keep)
                m.d.comb += write.en.eq(write_en)
            m.d.comb += [write.addr.eq(write_addr), write.data.eq(write_data_register)]
            m.d.sync += [write_addr.eq(self.write.addr[:low_bits]), write_data_register.eq(write_data),
                         write_en.eq(self.write.en & here)]
            m.d.comb += read.addr.eq(read_address[:low_bits])
            banks.append(self._register(m, shape, read.data, f"{prefix}bank{number}_data"))
        bank_index = read_address[low_bits:]
        within, group = bank_index[:fan_bits], bank_index[fan_bits:]
        groups = [self._register(m, shape, self._select(m, banks[start:start + self.fan_in], within, 2,
                                                        f"{prefix}select"), f"{prefix}group{n}")
                  for n, start in enumerate(range(0, self.bank_count, self.fan_in))]
        return self._register(m, shape, self._select(m, groups, group, 3, f"{prefix}select"), f"{prefix}data")

    @staticmethod
    def _register(m, shape, value, name):
        register = Signal(shape, name=name, reset_less=True)
        m.d.sync += register.eq(value)
        return Value.cast(register)

    @staticmethod
    def _select(m, values, index, cycles, name):
        """``values[index]``, ``index`` taken ``cycles`` cycles ago (a plain wire for a single value)."""
        if len(values) == 1:
            return values[0]
        return Array(values)[delay(m, index, cycles, name)]
