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

from models.grng import (GAIN_FRAC, CHI_FRAC, WALLACE_FORMAT, chi_constant, clt_lfsr, pass_addressing,
                         rlf_columns, rlf_init, wallace_init)
from models.lfsr import LFSR_TAPS, seed_windows

from .common.fixed import round_shift, saturate
from .common.lfsr import leap_lfsr, row_words

__all__ = ["RLFGRNG", "WallaceGRNG", "CLTGRNG", "PASS_BUBBLES"]

PASS_BUBBLES = 2  #: idle issue slots per Wallace pass: the pass's last write lands before the next pass reads


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


class RLFGRNG(wiring.Component):
    """RAM-based linear-feedback GRNG: ``lanes`` samples ``2S - n`` per cycle.

    A ``rlf_columns(lanes, shuffle)``-bit wide, ``n``-deep RAM holds one LFSR
    per column, bit-sliced; a pointer marks the oldest row. Each step reads the
    oldest row and the tap row ``n - d`` further on, writes their XOR over the
    oldest row and moves the pointer: one new bit per column. Lane ``l`` keeps
    ``S_l += new_l - dropped_l``. With ``shuffle > 0`` each lane passes its
    samples through a ``2**shuffle``-entry Bays–Durham buffer addressed by
    ``shuffle`` more columns' new bits (read-before-write RAM). Pipeline: RAM
    read → XOR, register → popcount update and shuffle RAM.

    Parameters
    ----------
    n : int
        LFSR length (a key of ``models.lfsr.LFSR_TAPS``).
    lanes : int
        Samples per cycle.
    shuffle : int
        log2 of each lane's shuffle buffer (0: none).
    seed : int
        Seed of the initial state (``models.lfsr.seed_windows``).

    Members
    -------
    z_out : Out(stream.Signature(data.ArrayLayout(signed(bits(n) + 1), lanes)))
        The samples.

    Latency
    -------
    The first sample is valid 3 cycles after reset.

    Throughput
    ----------
    One sample per lane per cycle.
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

        m.submodules.lfsr_ram = ram = memory.Memory(shape=unsigned(columns), depth=n, init=row_words(state["rows"]))
        oldest, tap, write = ram.read_port(), ram.read_port(), ram.write_port()

        # The read ports always present the rows of the step about to happen:
        # addresses for "this step" and "the next one" are kept in registers,
        # and ``advance`` picks between them (it waits a cycle after reset).
        def wrap_increment(address):
            return Mux(address == n - 1, 0, address + 1)

        d = LFSR_TAPS[n]
        pointer, pointer_next = (Signal(range(n), init=i, reset_less=True, name=f"pointer{i}") for i in (0, 1))
        tap_at, tap_next = (Signal(range(n), init=(n - d + i) % n, reset_less=True, name=f"tap{i}") for i in (0, 1))
        advance = _output_handshake(m, self.z_out)
        m.d.comb += [oldest.addr.eq(Mux(advance, pointer_next, pointer)), tap.addr.eq(Mux(advance, tap_next, tap_at))]
        with m.If(advance):
            m.d.sync += [pointer.eq(pointer_next), pointer_next.eq(wrap_increment(pointer_next)),
                         tap_at.eq(tap_next), tap_next.eq(wrap_increment(tap_next))]
        # Stage 1 registers the new row (and the dropped bits); the RAM write
        # lands a cycle later, harmless since a row is read again only
        # d >= 28 steps on. Stage 2 counts, and feeds the shuffle buffers.
        new_row = Signal(columns)
        m.d.comb += new_row.eq(oldest.data ^ tap.data)
        step_row = Signal(columns, reset_less=True)
        step_dropped = Signal(lanes, reset_less=True)
        step_filled = Signal(reset_less=True)
        late_at = Signal(range(n), reset_less=True)
        late_en = Signal(reset_less=True)
        m.d.sync += [late_at.eq(pointer), late_en.eq(advance)]
        m.d.comb += [write.addr.eq(late_at), write.data.eq(step_row), write.en.eq(late_en)]
        with m.If(advance):
            m.d.sync += [step_row.eq(new_row), step_dropped.eq(oldest.data[:lanes]),
                         step_filled.eq(1)]
        count = Signal()
        m.d.comb += count.eq(advance & step_filled)
        with m.If(count):
            m.d.sync += self.z_out.valid.eq(1)

        for lane in range(lanes):
            ones = Signal(range(n + 1), init=int(state["ones"][lane]), reset_less=True, name=f"ones{lane}")
            updated = Signal(range(n + 1), name=f"ones_next{lane}")
            sample = Signal(signed(self.sample_width), name=f"sample{lane}")
            m.d.comb += [
                updated.eq(ones + step_row[lane] - step_dropped[lane]),
                sample.eq(2 * updated - n),
            ]
            with m.If(count):
                m.d.sync += ones.eq(updated)
            if shuffle:
                index = step_row[lanes + lane * shuffle:lanes + (lane + 1) * shuffle]
                self._shuffle(m, lane, index, sample, count, state["buffer"][:, lane])
            else:
                with m.If(count):
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
    Stride and offset come from a per-unit xorshift32 stepped once a pass; the
    next gain is ``1 + v·chi`` from the pass's last first-lane value. Pipeline:
    issue addresses → RAM → capture register → transform, write back and output
    register (the capture register keeps RAM-to-RAM paths registered).

    Parameters
    ----------
    pool : int
        Pool size per unit, a power of two.
    lanes : int
        Samples per cycle, a multiple of 4.
    seed : int
        Seed of the pools and the xorshift states.

    Members
    -------
    z_out : Out(stream.Signature(data.ArrayLayout(signed(16), lanes)))
        The samples, ``Q16.11``.

    Latency
    -------
    The first sample 3 cycles after reset.

    Throughput
    ----------
    4 samples per unit per cycle, except ``PASS_BUBBLES`` idle cycles per pass (``pool/4 + 2`` cycles a
    pass).
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
        bubbles = Signal(range(PASS_BUBBLES + 1), reset_less=True, name=f"bubbles{unit}")
        stride = Signal(range(pool), name=f"stride{unit}")
        _, init_offset = pass_addressing(state_init, pool)
        base = Signal(range(pool), init=init_offset, reset_less=True, name=f"base{unit}")
        bits = (pool - 1).bit_length()
        m.d.comb += stride.eq(xorshift[:bits] | 1)
        addresses = [Signal(range(pool), name=f"address{unit}_{k}") for k in range(4)]
        for k, address in enumerate(addresses):
            m.d.comb += address.eq(base + k * stride)
        for bank, read in enumerate(reads):
            row_of_bank = Const(0, range(rows))
            for address in addresses:
                row_of_bank = Mux(address[:2] == bank, address[2:], row_of_bank)
            m.d.comb += [read.addr.eq(Cat(row_of_bank, half)), read.en.eq(advance)]

        # Stage registers (all reset_less: a reset must not drop a transform).
        # "issued": a read is in the RAM ports; "captured": its values are registered.
        def stage(name, shape=1):
            return Signal(shape, reset_less=True, name=f"{name}{unit}")
        issued, captured = stage("issued"), stage("captured")
        select = [stage(f"select_{k}_", 2) for k in range(4)]
        issued_row, captured_row = stage("issued_row", range(rows)), stage("captured_row", range(rows))
        issued_half, captured_half = stage("issued_half"), stage("captured_half")
        issued_end, captured_end = stage("issued_end"), stage("captured_end")
        values = [stage(f"value_{k}_", word) for k in range(4)]

        next_state = Signal(32, name=f"xorshift_next{unit}")
        m.d.comb += next_state.eq(_xorshift32(xorshift))
        with m.If(advance):
            m.d.sync += [captured.eq(issued), captured_row.eq(issued_row), captured_half.eq(issued_half),
                         captured_end.eq(issued_end)]
            for k in range(4):
                m.d.sync += values[k].eq(Mux(select[k] == 0, reads[0].data, Mux(select[k] == 1, reads[1].data,
                                             Mux(select[k] == 2, reads[2].data, reads[3].data))))
            m.d.sync += issued.eq(bubbles == 0)
            with m.If(bubbles != 0):
                m.d.sync += bubbles.eq(bubbles - 1)
            with m.Else():
                m.d.sync += [issued_row.eq(row), issued_half.eq(~half), issued_end.eq(row == rows - 1)]
                m.d.sync += [select[k].eq(addresses[k][:2]) for k in range(4)]
                with m.If(row == rows - 1):
                    m.d.sync += [row.eq(0), half.eq(~half), bubbles.eq(PASS_BUBBLES), xorshift.eq(next_state),
                                 base.eq(next_state[16:16 + bits])]
                with m.Else():
                    m.d.sync += [row.eq(row + 1), base.eq(base + 4 * stride)]

        # Transform stage: orthogonal step, write back, scale by the pass's gain.
        a, b, c, d = values
        t = Signal(signed(WALLACE_FORMAT.width + 2), name=f"t{unit}")
        m.d.comb += t.eq((a + b + c + d + 1) >> 1)
        fresh = [Signal(word, name=f"fresh{unit}_{k}") for k in range(4)]
        for k, expression in enumerate((t - a, t - b, c - t, d - t)):
            m.d.comb += fresh[k].eq(saturate(expression, WALLACE_FORMAT.width))
        gain = Signal(signed(GAIN_FRAC + 2), init=1 << GAIN_FRAC, reset_less=True, name=f"gain{unit}")
        held = [Signal(word, name=f"held{unit}_{k}") for k in range(4)]
        for k in range(4):
            m.d.comb += [writes[k].addr.eq(Cat(captured_row, captured_half)), writes[k].data.eq(fresh[k]),
                         writes[k].en.eq(advance & captured)]
        correction = round_shift(fresh[0] * chi_constant(pool), WALLACE_FORMAT.frac + CHI_FRAC - GAIN_FRAC)
        with m.If(advance & captured):
            m.d.sync += self.z_out.valid.eq(1)
            for k in range(4):
                m.d.sync += held[k].eq(saturate(round_shift(fresh[k] * gain, GAIN_FRAC), WALLACE_FORMAT.width))
            with m.If(captured_end):
                m.d.sync += gain.eq((1 << GAIN_FRAC) + correction)
        return held


def _xorshift32(x):
    """``models.grng.xorshift32`` as a 32-bit expression."""
    x = (x ^ (x << 13))[:32]
    x = x ^ (x >> 17)
    return (x ^ (x << 5))[:32]


class CLTGRNG(wiring.Component):
    """Central-limit GRNG baseline: ``lanes`` samples ``2Σu - terms(2**bits - 1)`` per cycle.

    Each lane has its own ``clt_lfsr(terms, bits)``-bit Fibonacci LFSR in
    registers, advanced ``terms·bits`` bits per step (every new bit is one XOR
    of two held bits), and sums ``terms`` uniforms of ``bits`` bits in a
    balanced adder tree with a register after every level (``adder_levels``).

    Parameters
    ----------
    terms : int
        Uniforms summed per sample.
    bits : int
        Bits per uniform.
    lanes : int
        Samples per cycle.
    seed : int
        Seed of the LFSRs.

    Members
    -------
    z_out : Out(stream.Signature(data.ArrayLayout(signed(bits + bits(terms) + 1), lanes)))
        The samples.

    Latency
    -------
    The first sample ``adder_levels + 2`` cycles after reset.

    Throughput
    ----------
    One sample per lane per cycle.
    """

    def __init__(self, *, terms, bits, lanes, seed):
        self.terms, self.bits, self.lanes, self.seed = terms, bits, lanes, seed
        self.sample_width = bits + terms.bit_length() + 1
        super().__init__({"z_out": _sample_stream(self.sample_width, lanes)})

    @property
    def adder_levels(self) -> int:
        return (self.terms - 1).bit_length()

    def elaborate(self, platform):
        m = Module()
        n = clt_lfsr(self.terms, self.bits)
        per_step = self.terms * self.bits
        windows = seed_windows(n, self.lanes, self.seed)
        advance = _output_handshake(m, self.z_out)

        # One "filled" flag per adder level: that level's registers hold a real step.
        filled = Signal(self.adder_levels, reset_less=True)
        with m.If(advance):
            m.d.sync += filled.eq(Cat(1, filled[:-1]) if self.adder_levels > 1 else 1)
            with m.If(filled[-1]):
                m.d.sync += self.z_out.valid.eq(1)

        for lane in range(self.lanes):
            fresh = leap_lfsr(m, windows[:, lane], per_step, advance, name=f"lfsr{lane}")
            terms = [fresh[i * self.bits:(i + 1) * self.bits] for i in range(self.terms)]
            for level in range(self.adder_levels):
                pairs = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
                terms = []
                for index, expression in enumerate(pairs):
                    register = Signal(len(expression), reset_less=True, name=f"sum{lane}_{level}_{index}")
                    with m.If(advance):
                        m.d.sync += register.eq(expression)
                    terms.append(register)
            with m.If(advance):
                m.d.sync += self.z_out.payload[lane].eq(2 * terms[0] - self.terms * ((1 << self.bits) - 1))
        return m
