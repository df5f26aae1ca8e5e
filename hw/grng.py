"""Gaussian random number generators of VIBNN (``models/grng.py`` is the bit-exact model).

All three are sources with one output stream ``z_out`` whose payload is an
``ArrayLayout`` of ``lanes`` signed samples (lane 0 in the low bits). They
advance one step whenever the output register is empty or being read
(``advance = ~valid | ready``), so back-pressure freezes them and nothing is
lost or repeated. The random state (LFSR RAM, pools, counters) is set at
configuration from ``seed`` and is **not** cleared by ``rst``: a reset only
empties the output register, it never desynchronises a popcount from its
window.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import Out

from models.grng import (GAIN_FRAC, CHI_FRAC, LFSR_TAPS, WALLACE_FORMAT, chi_constant, clt_lfsr,
                         pass_addressing, rlf_columns, rlf_init, seed_windows, wallace_init, xorshift32)

from .common.fixed import round_shift, saturate

__all__ = ["RLFGRNG", "WallaceGRNG", "CLTGRNG"]


def _sample_stream(width: int, lanes: int):
    return Out(stream.Signature(data.ArrayLayout(signed(width), lanes)))


def _output_handshake(m, z_out):
    """``advance``: the output register is free (``~valid | ready``) and reset is one cycle past.

    Holding ``advance`` low through reset keeps the random state where it
    was; the callers set ``valid`` when they load the output register.
    """
    primed, advance = Signal(), Signal()
    m.d.sync += primed.eq(1)
    m.d.comb += advance.eq(primed & (~z_out.valid | z_out.ready))
    with m.If(z_out.ready):
        m.d.sync += z_out.valid.eq(0)
    return advance


def _row_words(bits) -> list[int]:
    """Rows of a 0/1 matrix as integers, column 0 in bit 0."""
    return [sum(int(bit) << column for column, bit in enumerate(row)) for row in bits]


class RLFGRNG(wiring.Component):
    """RAM-based linear-feedback GRNG: ``lanes`` samples ``2S - n`` per cycle.

    A ``rlf_columns(lanes, shuffle)``-bit wide, ``n``-deep RAM holds one
    LFSR per column, bit-sliced; a pointer marks the oldest row. Each step
    reads the oldest row and the tap row ``n - d`` further on, writes their
    XOR over the oldest row and moves the pointer: one new bit per column.
    Lane ``l`` keeps ``S_l += new_l - dropped_l``. With ``shuffle > 0`` each
    lane passes its samples through a ``2**shuffle``-entry Bays–Durham buffer
    addressed by ``shuffle`` more columns' new bits (read-before-write RAM).

    Members: ``z_out`` — ``lanes`` × ``signed(bits(n) + 1)`` samples.
    Latency: the first sample is valid 2 cycles after reset.
    Throughput: one sample per lane per cycle.
    """

    def __init__(self, *, n, lanes, shuffle, seed):
        self.n, self.lanes, self.shuffle, self.seed = n, lanes, shuffle, seed
        self.sample_width = n.bit_length() + 1
        super().__init__({"z_out": _sample_stream(self.sample_width, lanes)})

    def elaborate(self, platform):
        m = Module()
        n, lanes, shuffle = self.n, self.lanes, self.shuffle
        state = rlf_init(n, lanes, shuffle, self.seed)
        columns = rlf_columns(lanes, shuffle)

        m.submodules.lfsr_ram = ram = memory.Memory(shape=unsigned(columns), depth=n, init=_row_words(state["rows"]))
        oldest, tap, write = ram.read_port(), ram.read_port(), ram.write_port()

        # The read ports always present the rows of the step about to happen
        # (addressed one cycle ahead; ``advance`` waits a cycle after reset).
        pointer = Signal(range(n), reset_less=True)
        advance = _output_handshake(m, self.z_out)
        next_pointer = Mux(pointer == n - 1, 0, pointer + 1)
        read_at = Signal(range(n))
        m.d.comb += [
            read_at.eq(Mux(advance, next_pointer, pointer)),
            oldest.addr.eq(read_at),
            tap.addr.eq(Mux(read_at >= LFSR_TAPS[n], read_at - LFSR_TAPS[n], read_at + n - LFSR_TAPS[n])),
        ]
        new_row = Signal(columns)
        m.d.comb += [
            new_row.eq(oldest.data ^ tap.data),
            write.addr.eq(pointer),
            write.data.eq(new_row),
            write.en.eq(advance),
        ]
        with m.If(advance):
            m.d.sync += [pointer.eq(next_pointer), self.z_out.valid.eq(1)]

        for lane in range(lanes):
            ones = Signal(range(n + 1), init=int(state["ones"][lane]), reset_less=True, name=f"ones{lane}")
            updated = Signal(range(n + 1), name=f"ones_next{lane}")
            sample = Signal(signed(self.sample_width), name=f"sample{lane}")
            m.d.comb += [
                updated.eq(ones + new_row[lane] - oldest.data[lane]),
                sample.eq(2 * updated - n),
            ]
            with m.If(advance):
                m.d.sync += ones.eq(updated)
            if shuffle:
                index = new_row[lanes + lane * shuffle:lanes + (lane + 1) * shuffle]
                self._shuffle(m, lane, index, sample, advance, state["buffer"][:, lane])
            else:
                with m.If(advance):
                    m.d.sync += self.z_out.payload[lane].eq(sample)
        return m

    def _shuffle(self, m, lane, index, sample, advance, init):
        """Bays–Durham: emit ``buffer[index]`` and store ``sample`` in its place, one cycle."""
        buffer = memory.Memory(shape=signed(self.sample_width), depth=1 << self.shuffle, init=[int(v) for v in init])
        m.submodules[f"shuffle{lane}"] = buffer
        read, write = buffer.read_port(transparent_for=()), buffer.write_port()
        m.d.comb += [
            read.addr.eq(index), read.en.eq(advance),
            write.addr.eq(index), write.data.eq(sample), write.en.eq(advance),
            self.z_out.payload[lane].eq(read.data),
        ]


class WallaceGRNG(wiring.Component):
    """Wallace GRNG: ``lanes / 4`` units, each transforming a pool of ``pool`` normals.

    A unit's pool lives twice (read half, write half) in 4 RAM banks split by
    address mod 4. Pass ``p`` reads every value once in the order
    ``(stride·j + offset) mod pool`` (odd ``stride``: 4 consecutive ``j`` hit
    4 different banks), transforms each group of 4 with
    ``(t-a, t-b, c-t, d-t)``, ``t = (a+b+c+d+1) >> 1``, writes the results in
    order into the other half and emits them multiplied by the pass's χ² gain.
    Stride and offset come from a per-unit xorshift32 stepped once a pass;
    the next gain is ``1 + v·chi`` from the pass's last first-lane value.

    Members: ``z_out`` — ``lanes`` × ``signed(16)`` samples in ``Q16.11``.
    Latency: first sample 2 cycles after reset. Throughput: 4 samples per unit
    per cycle, except one idle cycle per pass (``pool / 4 + 1`` cycles per pass).
    """

    def __init__(self, *, pool, lanes, seed):
        self.pool, self.lanes, self.seed = pool, lanes, seed
        super().__init__({"z_out": _sample_stream(WALLACE_FORMAT.width, lanes)})

    def elaborate(self, platform):
        m = Module()
        init = wallace_init(self.pool, self.lanes // 4, self.seed)
        advance = _output_handshake(m, self.z_out)
        for unit in range(self.lanes // 4):
            outputs = self._unit(m, unit, [int(v) for v in init["pool"][:, unit]], init["states"][unit], advance)
            for k in range(4):
                m.d.comb += self.z_out.payload[4 * unit + k].eq(outputs[k])
        return m

    def _unit(self, m, unit, pool_init, state_init, advance):
        pool, rows = self.pool, self.pool // 4
        word = signed(WALLACE_FORMAT.width)
        reads, writes = [], []
        for bank in range(4):
            contents = pool_init[bank::4] + [0] * rows  # half 0: the initial pool, half 1: written by pass 0
            memory_ = memory.Memory(shape=word, depth=2 * rows, init=contents)
            m.submodules[f"pool{unit}_{bank}"] = memory_
            reads.append(memory_.read_port())
            writes.append(memory_.write_port())

        # Issue stage: row counter, read half, base address stride·4·row + offset.
        xorshift = Signal(32, init=state_init, reset_less=True, name=f"xorshift{unit}")
        row = Signal(range(rows), reset_less=True, name=f"row{unit}")
        half = Signal(reset_less=True, name=f"half{unit}")
        bubble = Signal(reset_less=True, name=f"bubble{unit}")
        stride, offset = (Signal(range(pool), name=f"{what}{unit}") for what in ("stride", "offset"))
        init_stride, init_offset = pass_addressing(state_init, pool)
        base = Signal(range(pool), init=init_offset, reset_less=True, name=f"base{unit}")
        bits = (pool - 1).bit_length()
        m.d.comb += [stride.eq(xorshift[:bits] | 1), offset.eq(xorshift[16:16 + bits])]
        addresses = [Signal(range(pool), name=f"address{unit}_{k}") for k in range(4)]
        for k, address in enumerate(addresses):
            m.d.comb += address.eq(base + k * stride)

        # Data stage registers: which bank holds position k, the row/half to write, pass end.
        issued = Signal(reset_less=True, name=f"issued{unit}")  # a reset must not drop a transform
        select = [Signal(2, name=f"select{unit}_{k}") for k in range(4)]
        write_row = Signal(range(rows), name=f"write_row{unit}")
        write_half = Signal(name=f"write_half{unit}")
        pass_end = Signal(name=f"pass_end{unit}")
        for bank, read in enumerate(reads):
            row_of_bank = Const(0, range(rows))
            for address in addresses:
                row_of_bank = Mux(address[:2] == bank, address[2:], row_of_bank)
            m.d.comb += [read.addr.eq(Cat(row_of_bank, half)), read.en.eq(advance)]

        next_state = Signal(32, name=f"xorshift_next{unit}")
        m.d.comb += next_state.eq(_xorshift32(xorshift))
        with m.If(advance):
            m.d.sync += issued.eq(~bubble)
            with m.If(bubble):
                m.d.sync += bubble.eq(0)
            with m.Else():
                m.d.sync += [write_row.eq(row), write_half.eq(~half), pass_end.eq(row == rows - 1)]
                m.d.sync += [select[k].eq(addresses[k][:2]) for k in range(4)]
                with m.If(row == rows - 1):
                    m.d.sync += [row.eq(0), half.eq(~half), bubble.eq(1), xorshift.eq(next_state),
                                 base.eq(next_state[16:16 + bits])]
                with m.Else():
                    m.d.sync += [row.eq(row + 1), base.eq(base + 4 * stride)]

        # Data stage: transform, write back, scale by the gain.
        values = [Signal(word, name=f"value{unit}_{k}") for k in range(4)]
        for k in range(4):
            m.d.comb += values[k].eq(Mux(select[k] == 0, reads[0].data,
                                         Mux(select[k] == 1, reads[1].data,
                                             Mux(select[k] == 2, reads[2].data, reads[3].data))))
        a, b, c, d = values
        t = Signal(signed(WALLACE_FORMAT.width + 2), name=f"t{unit}")
        m.d.comb += t.eq((a + b + c + d + 1) >> 1)
        fresh = [Signal(word, name=f"fresh{unit}_{k}") for k in range(4)]
        for k, expression in enumerate((t - a, t - b, c - t, d - t)):
            m.d.comb += fresh[k].eq(saturate(expression, WALLACE_FORMAT.width))
        gain = Signal(signed(GAIN_FRAC + 2), init=1 << GAIN_FRAC, reset_less=True, name=f"gain{unit}")
        outputs = []
        for k in range(4):
            out = Signal(word, name=f"out{unit}_{k}")
            m.d.comb += out.eq(saturate(round_shift(fresh[k] * gain, GAIN_FRAC), WALLACE_FORMAT.width))
            outputs.append(out)
            m.d.comb += [writes[k].addr.eq(Cat(write_row, write_half)), writes[k].data.eq(fresh[k]),
                         writes[k].en.eq(advance & issued)]
        correction = round_shift(fresh[0] * chi_constant(pool), WALLACE_FORMAT.frac + CHI_FRAC - GAIN_FRAC)
        with m.If(advance & issued):
            m.d.sync += self.z_out.valid.eq(1)
            with m.If(pass_end):
                m.d.sync += gain.eq((1 << GAIN_FRAC) + correction)
        held = [Signal(word, name=f"held{unit}_{k}") for k in range(4)]
        with m.If(advance & issued):
            m.d.sync += [held[k].eq(outputs[k]) for k in range(4)]
        return held


def _xorshift32(x):
    """``models.grng.xorshift32`` as a 32-bit expression."""
    x = (x ^ (x << 13))[:32]
    x = x ^ (x >> 17)
    return (x ^ (x << 5))[:32]


class CLTGRNG(wiring.Component):
    """Central-limit GRNG baseline: ``lanes`` samples ``2Σu - terms(2**bits - 1)`` per cycle.

    Each lane has its own ``clt_lfsr(terms, bits)``-bit Fibonacci LFSR in
    registers, advanced ``terms·bits`` bits per step (every new bit is one
    XOR of two held bits), and sums ``terms`` uniforms of ``bits`` bits.

    Members: ``z_out`` — ``lanes`` × ``signed(bits + bits(terms) + 1)`` samples.
    Latency: first sample 2 cycles after reset. Throughput: one sample per lane per cycle.
    """

    def __init__(self, *, terms, bits, lanes, seed):
        self.terms, self.bits, self.lanes, self.seed = terms, bits, lanes, seed
        self.sample_width = bits + terms.bit_length() + 1
        super().__init__({"z_out": _sample_stream(self.sample_width, lanes)})

    def elaborate(self, platform):
        m = Module()
        n = clt_lfsr(self.terms, self.bits)
        d, per_step = LFSR_TAPS[n], self.terms * self.bits
        windows = seed_windows(n, self.lanes, self.seed)
        advance = _output_handshake(m, self.z_out)
        with m.If(advance):
            m.d.sync += self.z_out.valid.eq(1)
        for lane in range(self.lanes):
            lfsr = Signal(n, init=_row_words(windows[:, lane:lane + 1].T)[0], reset_less=True, name=f"lfsr{lane}")
            fresh = Signal(per_step, name=f"fresh{lane}")
            m.d.comb += fresh.eq(lfsr[:per_step] ^ lfsr[n - d:n - d + per_step])
            total = sum(fresh[i * self.bits:(i + 1) * self.bits] for i in range(self.terms))
            with m.If(advance):
                m.d.sync += [
                    lfsr.eq(Cat(lfsr[per_step:], fresh)),
                    self.z_out.payload[lane].eq(2 * total - self.terms * ((1 << self.bits) - 1)),
                ]
        return m
