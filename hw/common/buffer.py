"""Stream buffers placed for speed: a FIFO kept in distributed (LUT) RAM, and a skid buffer that
registers ``ready`` as well as ``valid`` and the payload.

On ECP5 a block RAM's read data arrives 5.6–5.8 ns after the clock when its
output register is unused — yosys does not use it, and the flow's absorption
(``accelgen/flows/ecp5_netlist.py``) takes only registers that load every
cycle, not a FIFO's, which holds under backpressure — so a block RAM read
that meets even one LUT before a register caps the design near 120 MHz
(docs/circulant.md, "Fmax"). A buffer of a few dozen words is better held in
LUT RAM: its read is a LUT-sized delay behind the read address register.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["DISTRIBUTED", "NO_COLLISIONS", "LutRamFIFO", "SkidBuffer", "wrapped_increment"]

# Attributes for a memory whose design never reads a word in the cycle it is written (double-buffered or
# write-then-read phases). Without them yosys keeps a RAM's read-old-data behaviour on an address collision:
# on ECP5 a bypass register and a LUT after the block RAM, on its slowest path. Never for a ring buffer
# that reads the word it overwrites.
NO_COLLISIONS = {"no_rw_check": 1}
# A small memory that must stay in LUT RAM: yosys would otherwise put 64 words or more in a block RAM, whose
# 5.6–5.8 ns clock-to-output (without its output register) is a critical path on ECP5.
DISTRIBUTED = {"ram_style": "distributed"}


def wrapped_increment(pointer, depth: int):
    """``pointer + 1 mod depth`` for a pointer in ``[0, depth)``: a compare and a multiplexer, no modulo."""
    return Mux(pointer == depth - 1, 0, pointer + 1)


class LutRamFIFO(wiring.Component):
    """First-in first-out buffer of ``depth`` words (plus one in the output register), in LUT RAM.

    The RAM carries ``ram_style = "distributed"``, so synthesis keeps it out of
    block RAM.

    Parameters
    ----------
    shape : shape-castable
        The word.
    depth : int
        Words the RAM holds.

    Members
    -------
    input : In(stream.Signature(shape))
        ``ready`` is high while fewer than ``depth`` words wait in the RAM. A
        producer that counts its own credits may ignore it.
    output : Out(stream.Signature(shape))
        ``payload`` comes straight from a register.

    Latency
    -------
    3 cycles from an accepted input word to ``output.valid`` (input register, RAM write, registered read).

    Throughput
    ----------
    One word per cycle in and out.
    """

    def __init__(self, *, shape, depth: int):
        self.shape = shape
        self.depth = int(depth)
        if self.depth < 2:
            raise ValueError(f"depth={depth} out of range: at least 2")
        super().__init__({"input": In(stream.Signature(shape)), "output": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        m.submodules.storage = storage = memory.Memory(
            shape=self.shape, depth=depth, init=[], attrs=DISTRIBUTED)
        write, read = storage.write_port(), storage.read_port(domain="sync")

        written = Signal()  # the input register holds a word on its way into the RAM
        stored = Signal(range(depth + 1))  # words in the RAM, written and not yet read
        accepted = self.input.valid & self.input.ready
        m.d.comb += self.input.ready.eq(stored + written < depth)
        m.d.sync += [write.data.eq(self.input.payload), written.eq(accepted)]
        m.d.comb += write.en.eq(written)
        with m.If(written):
            m.d.sync += write.addr.eq(wrapped_increment(write.addr, depth))

        holding = Signal()  # stored != 0, kept as a flag so the read enable is one LUT after the registers
        reading = holding & (~self.output.valid | self.output.ready)
        m.d.sync += holding.eq(written | Mux(reading, stored != 1, holding))
        m.d.comb += [read.en.eq(reading), self.output.payload.eq(read.data)]
        with m.If(reading):
            m.d.sync += [read.addr.eq(wrapped_increment(read.addr, depth)), self.output.valid.eq(1)]
        with m.Elif(self.output.ready):
            m.d.sync += self.output.valid.eq(0)
        m.d.sync += stored.eq(stored + written - reading)
        return m


class SkidBuffer(wiring.Component):
    """A two-word register slice that cuts every combinational path through a stream.

    A producer on one side of the device and a consumer on the other each see a
    register-to-register route through it, where a plain stream carries the
    consumer's ``ready`` across the device into the producer's enables.

    Parameters
    ----------
    shape : shape-castable
        The word.

    Members
    -------
    input : In(stream.Signature(shape))
        ``ready`` comes straight from a register (high while the skid word is empty).
    output : Out(stream.Signature(shape))
        ``valid`` and ``payload`` come straight from registers; ``ready`` reaches
        only this buffer's own registers.

    Latency
    -------
    1 cycle.

    Throughput
    ----------
    One word per cycle in and out.
    """

    def __init__(self, *, shape):
        self.shape = shape
        super().__init__({"input": In(stream.Signature(shape)), "output": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        skid = Signal(self.shape, name="skid", reset_less=True)
        payload = Signal(self.shape, name="payload", reset_less=True)  # data: only ``valid`` needs the reset
        m.d.comb += self.output.payload.eq(payload)
        m.d.comb += self.input.ready.eq(~skid_valid)
        accepted = self.input.valid & self.input.ready
        with m.If(~self.output.valid | self.output.ready):  # the output register moves on
            m.d.sync += [self.output.valid.eq(skid_valid | accepted),
                         payload.eq(Mux(skid_valid, skid, self.input.payload)),
                         skid_valid.eq(0)]
        with m.Elif(accepted):  # the output holds: the word accepted last cycle waits beside it
            m.d.sync += [skid_valid.eq(1), skid.eq(self.input.payload)]
        return m
