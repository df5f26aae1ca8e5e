"""Gaussian random number generators of VIBNN (``models/grng.py`` is the bit-exact model).

All four are sources with one output stream ``z_out`` whose payload is an
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

from models.grng import (GAIN_FRAC, CHI_FRAC, WALLACE_FORMAT, chi_constant, clt_lfsr, paired_lfsr_windows,
                         pass_addressing, rlf_columns, wallace_init)
from models.lfsr import LFSR_TAPS, seed_windows

from .common.buffer import NO_COLLISIONS, wrapped_increment
from .common.dsp import registered_product
from .common.fixed import DSP_WIDTH, round_shift, saturate
from .common.lfsr import leap_lfsr, row_words
from .common.memory import ENABLED_READ_REGISTER
from .common.popcount import carry_save_popcount, carry_save_stages

__all__ = ["RLFGRNG", "WallaceGRNG", "CLTGRNG", "PairedLFSRGRNG", "PASS_BUBBLES", "POPCOUNT_LEVELS_PER_STAGE"]

POPCOUNT_LEVELS_PER_STAGE = 2  #: RLF: full-adder levels of a lane's popcount between registers
PASS_BUBBLES = 4  #: idle issue slots per Wallace pass: the pass's last write lands before the next pass reads


def _sample_stream(width: int, lanes: int):
    return Out(stream.Signature(data.ArrayLayout(signed(width), lanes)))


def _output_handshake(m, z_out):
    """``(advance, primed)``: ``advance``, the output register is free (``~valid | ready``) and reset is
    one cycle past (``primed``).

    Holding ``advance`` low through reset keeps the random state where it
    was; the callers set ``valid`` when they load the output register.
    """
    # ``keep``: every generator's ``primed`` is the same register, which yosys would share between them all.
    primed, advance = Signal(name="primed", attrs={"keep": 1}), Signal()
    m.d.sync += primed.eq(1)
    m.d.comb += advance.eq(primed & (~z_out.valid | z_out.ready))
    with m.If(z_out.ready):
        m.d.sync += z_out.valid.eq(0)
    return advance, primed


def _valid_after(m, advance, z_out, stages: int, entering=1):
    """Set ``z_out.valid`` once a real step has passed ``stages`` pipeline registers: ``filled[i]`` says
    register stage ``i`` holds one (a step enters with ``entering``), and the advance that loads the
    output register from the last stage sets ``valid``."""
    filled = Signal(stages, reset_less=True)
    with m.If(advance):
        m.d.sync += filled.eq(Cat(entering, filled[:-1]) if stages > 1 else entering)
        with m.If(filled[-1]):
            m.d.sync += z_out.valid.eq(1)


def _binomial_sample(m, bits, advance, sample, name: str):
    """``sample`` (an output port) shows a register (data: no reset) that loads ``2S - len(bits)``, ``S``
    the carry-save popcount of ``bits``, on each ``advance``."""
    ones = carry_save_popcount(m, [bits[i] for i in range(len(bits))], advance=advance,
                               levels_per_stage=POPCOUNT_LEVELS_PER_STAGE, name=name)
    register = Signal(sample.shape(), name=f"{name}sample", reset_less=True)
    m.d.comb += sample.eq(register)
    with m.If(advance):
        m.d.sync += register.eq(2 * ones - len(bits))


class RLFGRNG(wiring.Component):
    """RAM-based linear-feedback GRNG: ``lanes`` samples ``2S - bits`` per cycle, each from fresh bits.

    An ``n``-deep RAM, ``lanes × bits`` wide, holds one LFSR per column,
    bit-sliced. With ``d = n - 1`` a step's new row is the XOR of the two
    oldest rows: the RAM's one read port fetches a row per step into a
    register, the previous one moves to a second register, and their XOR is
    written over the oldest. Lane ``l`` counts the ones among its ``bits`` new
    bits in a carry-save popcount with a register every
    ``POPCOUNT_LEVELS_PER_STAGE`` full-adder levels. Pipeline: RAM read →
    row registers → XOR register → popcount stages → output register.

    Parameters
    ----------
    n : int
        LFSR length, one of ``models.grng.RLF_LENGTHS``.
    lanes : int
        Samples per cycle.
    bits : int
        Bits per sample: the outputs are Binomial(bits, ½) lattice points ``2S - bits``.
    seed : int
        Seed of the initial state (``models.lfsr.seed_windows``).

    Members
    -------
    z_out : Out(stream.Signature(data.ArrayLayout(signed(bits(bits) + 1), lanes)))
        The samples.

    Latency
    -------
    The first sample is valid ``5 + carry_save_stages(bits, POPCOUNT_LEVELS_PER_STAGE)`` cycles after reset.

    Throughput
    ----------
    One sample per lane per cycle.
    """

    def __init__(self, *, n, lanes, bits, seed):
        assert LFSR_TAPS[n] == n - 1, f"n={n}: the one-read-port RAM needs taps d = n - 1"
        self.n, self.lanes, self.bits, self.seed = n, lanes, bits, seed
        self.sample_width = bits.bit_length() + 1
        super().__init__({"z_out": _sample_stream(self.sample_width, lanes)})

    def elaborate(self, platform):
        m = Module()
        advance, primed = _output_handshake(m, self.z_out)
        new_row, loaded = self._lfsr_rows(m, advance, primed)
        # Pipeline registers: the new row, then the popcount's stages.
        _valid_after(m, advance, self.z_out, 1 + carry_save_stages(self.bits, POPCOUNT_LEVELS_PER_STAGE), loaded)
        for lane in range(self.lanes):
            lane_bits = new_row[lane * self.bits:(lane + 1) * self.bits]
            _binomial_sample(m, lane_bits, advance, self.z_out.payload[lane], f"ones{lane}_")
        return m

    def _lfsr_rows(self, m, advance, primed):
        """The LFSR RAM and its one read port; returns the register holding each step's new row and
        ``loaded``: the two row registers hold rows (the first two advances only fetch rows 0 and 1).

        Block RAM data go straight into a register (``newer``, then ``older``), enabled by ``advance``:
        synthesis moves ``newer`` into the block RAM's output register (``ENABLED_READ_REGISTER``), so
        the block's 5.8 ns clock-to-output is not in a fabric path. No registers but the addresses
        ``following`` and ``written_at`` have non-zero initial values (on ECP5 those cost an inverter each)."""
        n, columns = self.n, rlf_columns(self.lanes, self.bits)
        window = seed_windows(n, columns, self.seed)
        # No read meets the write (it lands on the row fetched n - 2 advances later).
        m.submodules.lfsr_ram = ram = memory.Memory(shape=unsigned(columns), depth=n, init=row_words(window),
                                                    attrs=NO_COLLISIONS)
        read, write = ram.read_port(), ram.write_port()

        # The port presents row ``fetch``, the row the next advance captures: it reads ``following``
        # (``fetch + 1 mod n``, a register counted a step ahead) on each step and holds its data between
        # steps (read enable ``advance``), and reads ``fetch`` itself in the cycle after a reset. So
        # ``advance`` reaches the block RAMs' clock enables only, and the address pins see registers
        # through one multiplexer on ``primed``. ``written_at`` stays ``fetch - 3 mod n``: after a step,
        # the row that ``older`` held, which the new row replaces.
        fetch = Signal(range(n), reset_less=True)
        following = Signal(range(n), init=1, reset_less=True)
        m.d.comb += [read.addr.eq(Mux(primed, following, fetch)), read.en.eq(advance | ~primed)]
        warm = Signal(2, reset_less=True)
        older, new_row = (Signal(columns, reset_less=True, name=name) for name in ("older", "new_row"))
        newer = Signal(columns, reset_less=True, attrs=ENABLED_READ_REGISTER)
        written_at = Signal(range(n), init=n - 3, reset_less=True)
        write_now = Signal(reset_less=True)
        with m.If(advance):
            m.d.sync += [warm.eq(Cat(1, warm[0])), fetch.eq(following), following.eq(wrapped_increment(following, n)),
                         newer.eq(read.data), older.eq(newer),
                         new_row.eq(older ^ newer), written_at.eq(wrapped_increment(written_at, n))]
        # The new row replaces ``older``'s row, a cycle after the step.
        m.d.sync += write_now.eq(advance & warm[1])
        m.d.comb += [write.addr.eq(written_at), write.data.eq(new_row), write.en.eq(write_now)]
        return new_row, warm[1]


class WallaceGRNG(wiring.Component):
    """Wallace GRNG: ``lanes / 4`` units, each transforming a pool of ``pool`` normals.

    A unit's pool lives twice (read half, write half) in 4 RAM banks split by
    address mod 4. Pass ``p`` reads every value once in the order
    ``(stride·j + offset) mod pool`` (odd ``stride``: 4 consecutive ``j`` hit
    4 different banks), negates each value where its row's 4 bits from the
    unit's 31-bit sign LFSR are 1, transforms each group of 4 with
    ``(t-a, t-b, c-t, d-t)``, ``t = (a+b+c+d+1) >> 1``, writes the results in
    order into the other half and emits them multiplied by the pass's χ² gain.
    Stride and offset come from a per-unit xorshift32 stepped once a pass; the
    next gain is ``1 + v·chi`` from the pass's last first-lane value. Pipeline:
    issue addresses → RAM → bank registers → lane-ordered, signed registers → ``t``
    register → transform and write back → two registered multipliers (gain, and
    χ² correction) → output register.

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
    The first sample 7 cycles after reset.

    Throughput
    ----------
    4 samples per unit per cycle, except ``PASS_BUBBLES`` = 4 idle cycles per pass (``pool/4 + 4`` cycles a
    pass).
    """

    def __init__(self, *, pool, lanes, seed):
        self.pool, self.lanes, self.seed = pool, lanes, seed
        super().__init__({"z_out": _sample_stream(WALLACE_FORMAT.width, lanes)})

    def elaborate(self, platform):
        m = Module()
        init = wallace_init(self.pool, self.lanes // 4, self.seed)
        advance, _ = _output_handshake(m, self.z_out)
        for unit in range(self.lanes // 4):
            outputs = self._unit(m, unit, [int(v) for v in init["pool"][:, unit]], init["states"][unit],
                                 init["signs"][:, unit], advance)
            for k in range(4):
                m.d.comb += self.z_out.payload[4 * unit + k].eq(outputs[k])
        return m

    def _unit(self, m, unit, pool_init, state_init, sign_window, advance):
        pool, rows = self.pool, self.pool // 4
        word = signed(WALLACE_FORMAT.width)
        reads, writes = [], []
        for bank in range(4):
            contents = pool_init[bank::4] + [0] * rows  # half 0: the initial pool, half 1: written by pass 0
            # A pass reads one half and writes the other: no read meets a write.
            memory_ = memory.Memory(shape=word, depth=2 * rows, init=contents, attrs=NO_COLLISIONS)
            m.submodules[f"pool{unit}_{bank}"] = memory_
            reads.append(memory_.read_port())
            writes.append(memory_.write_port())

        # Issue stage: row counter, read half, and the row's four addresses (stride·(4·row + k) + offset)
        # in registers, stepped by 4·stride; the next pass's first four come from the next xorshift state.
        xorshift = Signal(32, init=state_init, reset_less=True, name=f"xorshift{unit}")
        row = Signal(range(rows), reset_less=True, name=f"row{unit}")
        half = Signal(reset_less=True, name=f"half{unit}")
        bubbles = Signal(range(PASS_BUBBLES + 1), reset_less=True, name=f"bubbles{unit}")
        bits = (pool - 1).bit_length()
        stride, next_stride = Signal(bits, name=f"stride{unit}"), Signal(bits, name=f"next_stride{unit}")
        init_stride, init_offset = pass_addressing(state_init, pool)
        addresses = [Signal(bits, init=(init_offset + k * init_stride) % pool, reset_less=True,
                            name=f"address{unit}_{k}") for k in range(4)]
        for bank, read in enumerate(reads):
            row_of_bank = Const(0, range(rows))
            for address in addresses:
                row_of_bank = Mux(address[:2] == bank, address[2:], row_of_bank)
            m.d.comb += [read.addr.eq(Cat(row_of_bank, half)), read.en.eq(advance)]

        # Stage registers (all reset_less: a reset must not drop a transform). Each stage carries its
        # row's tag (a real row, its row and half, the pass's last). "issued": a read is in the RAM
        # ports; "fetched": the four banks' words are registered (block RAM outputs go straight into
        # registers); "captured": they are ordered by lane (``select``) and registered again;
        # "summed": ``t`` is registered. A value is negated as it is ordered (saturated: -(-2**15) is
        # 2**15 - 1, so the transform's operands keep 16 bits).
        def stage(name, shape=1):
            return Signal(shape, reset_less=True, name=f"{name}{unit}")
        tag = data.StructLayout({"valid": 1, "row": range(rows), "half": 1, "end": 1})
        issued, fetched, captured, summed = (stage(name, tag) for name in ("issued", "fetched", "captured", "summed"))
        select, fetched_select = ([stage(f"{name}_{k}_", 2) for k in range(4)] for name in ("select", "fetched_select"))
        banked = [stage(f"banked_{bank}_", word) for bank in range(4)]
        values = [stage(f"value_{k}_", word) for k in range(4)]
        signs = leap_lfsr(m, sign_window, 4, advance & fetched.valid, name=f"signs{unit}")

        next_state = Signal(32, name=f"xorshift_next{unit}")
        m.d.comb += [next_state.eq(_xorshift32(xorshift)), stride.eq(xorshift[:bits] | 1),
                     next_stride.eq(next_state[:bits] | 1)]
        # The next pass's first four addresses, registered a pass ahead (xorshift changes once a pass).
        next_first = [stage(f"next_first_{k}_", bits) for k in range(4)]
        m.d.sync += [first.eq(next_state[16:16 + bits] + _times_small(next_stride, k))
                     for k, first in enumerate(next_first)]
        with m.If(advance):
            m.d.sync += [fetched.eq(issued), captured.eq(fetched), summed.eq(captured),
                         *(f.eq(s) for f, s in zip(fetched_select, select)),
                         *(b.eq(read.data) for b, read in zip(banked, reads))]
            for k in range(4):
                ordered = Mux(fetched_select[k] == 0, banked[0], Mux(fetched_select[k] == 1, banked[1],
                              Mux(fetched_select[k] == 2, banked[2], banked[3])))
                m.d.sync += values[k].eq(Mux(signs[k], saturate(-ordered, WALLACE_FORMAT.width), ordered))
            m.d.sync += issued.valid.eq(bubbles == 0)
            with m.If(bubbles != 0):
                m.d.sync += bubbles.eq(bubbles - 1)
            with m.Else():
                m.d.sync += [issued.row.eq(row), issued.half.eq(~half), issued.end.eq(row == rows - 1)]
                m.d.sync += [select[k].eq(addresses[k][:2]) for k in range(4)]
                with m.If(row == rows - 1):
                    m.d.sync += [row.eq(0), half.eq(~half), bubbles.eq(PASS_BUBBLES), xorshift.eq(next_state)]
                    m.d.sync += [address.eq(first) for address, first in zip(addresses, next_first)]
                with m.Else():
                    m.d.sync += row.eq(row + 1)
                    m.d.sync += [address.eq(address + 4 * stride) for address in addresses]

        # Transform stages: t = (a+b+c+d+1) >> 1 into a register beside the four values ("summed"),
        # then the orthogonal step, written back and sent to the multipliers.
        t = Signal(signed(WALLACE_FORMAT.width + 2), reset_less=True, name=f"t{unit}")
        a, b, c, d = operands = [stage(f"operand_{k}_", word) for k in range(4)]
        with m.If(advance):
            m.d.sync += [t.eq((values[0] + values[1] + values[2] + values[3] + 1) >> 1),
                         *(operand.eq(value) for operand, value in zip(operands, values))]
        fresh = [Signal(word, name=f"fresh{unit}_{k}") for k in range(4)]
        for k, expression in enumerate((t - a, t - b, c - t, d - t)):
            m.d.comb += fresh[k].eq(saturate(expression, WALLACE_FORMAT.width))
        for k in range(4):
            m.d.comb += [writes[k].addr.eq(Cat(summed.row, summed.half)), writes[k].data.eq(fresh[k]),
                         writes[k].en.eq(advance & summed.valid)]

        # Gain stage: the products come out of registered multipliers two advances later; ``scaling``
        # and ``ending`` follow a row (and a pass's last row) through them. The pass's last first-lane
        # value makes the next gain, which lands before the next pass's first row enters a multiplier.
        gain = Signal(signed(GAIN_FRAC + 2), init=1 << GAIN_FRAC, reset_less=True, name=f"gain{unit}")
        scaled = [registered_product(m, fresh[k], gain, f"scaled{unit}_{k}", enable=advance) for k in range(4)]
        chi = registered_product(m, fresh[0], Const(chi_constant(pool), signed(DSP_WIDTH)), f"chi{unit}",
                                 enable=advance)
        scaling, ending = stage("scaling", 2), stage("ending", 2)
        held = [Signal(word, name=f"held{unit}_{k}") for k in range(4)]
        with m.If(advance):
            m.d.sync += [scaling.eq(Cat(summed.valid, scaling[0])), ending.eq(Cat(summed.valid & summed.end, ending[0]))]
        with m.If(advance & scaling[1]):
            m.d.sync += self.z_out.valid.eq(1)
            for k in range(4):
                m.d.sync += held[k].eq(saturate(round_shift(scaled[k], GAIN_FRAC), WALLACE_FORMAT.width))
            with m.If(ending[1]):
                m.d.sync += gain.eq((1 << GAIN_FRAC) + round_shift(chi, WALLACE_FORMAT.frac + CHI_FRAC - GAIN_FRAC))
        return held


def _times_small(value, k: int):
    """``value · k`` for a small constant ``k`` as shifts and adds (yosys would spend a DSP on ``*``)."""
    terms = [value << shift for shift in range(k.bit_length()) if k >> shift & 1]
    return sum(terms[1:], terms[0]) if terms else 0


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
        advance, _ = _output_handshake(m, self.z_out)

        _valid_after(m, advance, self.z_out, self.adder_levels)  # a register stage per adder level

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


class PairedLFSRGRNG(wiring.Component):
    """Binomial GRNG in registers: ``lanes`` samples ``2S - bits`` per cycle, no block RAM.

    Each lane holds two Fibonacci LFSRs (``models.grng.PAIRED_LFSRS``: 63 and 127 bits), both advanced
    ``bits`` bits per step; a fresh bit is the XOR of the two LFSRs' new bits (one LUT4 over four held
    bits), and ``S`` is their carry-save popcount (as the RLF-GRNG's, a register every
    ``POPCOUNT_LEVELS_PER_STAGE`` full-adder levels). Model: ``models.grng.paired_lfsr_grng``.

    Parameters
    ----------
    lanes : int
        Lanes, each with its own LFSR pair.
    bits : int
        Fresh bits per sample, 2 … 62 (each LFSR's tap distance bounds a step).
    seed : int
        Seed of every lane's two LFSRs (``models.grng.paired_lfsr_windows``).
    first_lane, all_lanes : int
        These are lanes ``first_lane`` … ``first_lane + lanes - 1`` of an ``all_lanes``-lane generator
        (default: all of one): a wide generator in groups, each with its own clock enable.

    Members
    -------
    z_out : Out(stream.Signature(data.ArrayLayout(signed(bits(bits) + 1), lanes)))
        One Binomial(bits, ½) lattice point ``2S - bits`` per lane.

    Latency
    -------
    The first sample ``carry_save_stages(bits, POPCOUNT_LEVELS_PER_STAGE) + 2`` cycles after reset.

    Throughput
    ----------
    One sample per lane per cycle.
    """

    def __init__(self, *, lanes, bits, seed, first_lane=0, all_lanes=None):
        self.lanes, self.bits, self.seed = lanes, bits, seed
        self.first_lane, self.all_lanes = first_lane, lanes if all_lanes is None else all_lanes
        assert 0 <= first_lane and first_lane + lanes <= self.all_lanes
        self.sample_width = bits.bit_length() + 1
        super().__init__({"z_out": _sample_stream(self.sample_width, lanes)})

    def elaborate(self, platform):
        m = Module()
        advance, _ = _output_handshake(m, self.z_out)
        _valid_after(m, advance, self.z_out, carry_save_stages(self.bits, POPCOUNT_LEVELS_PER_STAGE))
        windows = paired_lfsr_windows(self.all_lanes, self.seed)
        for lane in range(self.lanes):
            column = self.first_lane + lane
            short, long = (leap_lfsr(m, window[:, column], self.bits, advance, name=f"lfsr{len(window)}_{lane}")
                           for window in windows)
            _binomial_sample(m, short ^ long, advance, self.z_out.payload[lane], f"ones{lane}_")
        return m
