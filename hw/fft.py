"""Streaming radix-2 FFT: one complex sample per cycle through a single-path delay-feedback pipeline."""

import operator

from amaranth.hdl import Array, Cat, Const, EnableInserter, Module, Mux, Signal, Value, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from models.fft import ENTRY_LATENCY, MULTIPLY_LATENCY, OUTPUT_LATENCY, TWIDDLE_FRAC, log2, pipeline_latency, twiddles

from .common.buffer import DISTRIBUTED, LutRamFIFO
from .common.dsp import pipelined_product
from .common.fixed import complex_layout, constant_product, delay

__all__ = ["output_depth", "BitReverseBuffer", "StreamingFFT"]

TWIDDLE_WIDTH = 18  # c, d − c, c + d of Q(18, 15) twiddles (|c + d| ≤ √2)


def output_depth(k: int) -> int:
    """Words of :class:`StreamingFFT`'s output buffer: every word of the blocks in flight and of one more
    block, so blocks enter back to back while ``result.ready`` is high (two words of margin)."""
    return pipeline_latency(k) + k + 2


class BitReverseBuffer(wiring.Component):
    """Blocks of ``k`` words in natural order in, the same blocks in bit-reversed order out.

    Two banks of ``k`` words in distributed RAM (from k = 32 on yosys would
    choose a block RAM, read without its output register): one fills while the
    other drains.

    Parameters
    ----------
    k : int
        Block size, a power of two.
    shape : shape-castable
        The word.

    Members
    -------
    input : In(stream.Signature(shape))
    output : Out(stream.Signature(shape))

    Latency
    -------
    ``k`` cycles: a block leaves once it is complete.

    Throughput
    ----------
    One word per cycle.
    """

    def __init__(self, *, k, shape):
        self.k = operator.index(k)
        self.bits = log2(self.k)
        self.shape = shape
        super().__init__({"input": In(stream.Signature(shape)), "output": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        k = self.k
        m.submodules.banks = banks = memory.Memory(shape=self.shape, depth=2 * k, init=[], attrs=DISTRIBUTED)
        write, read = banks.write_port(), banks.read_port(domain="comb")
        write_word, read_word = Signal(range(k)), Signal(range(k))
        write_bank, read_bank = Signal(), Signal()
        full = Array([Signal(name="full0"), Signal(name="full1")])
        written = self.input.valid & self.input.ready
        taken = self.output.valid & self.output.ready
        m.d.comb += [
            self.input.ready.eq(~full[write_bank]),
            write.addr.eq(Cat(write_word, write_bank)), write.data.eq(self.input.payload), write.en.eq(written),
            read.addr.eq(Cat(*(read_word[bit] for bit in reversed(range(self.bits))), read_bank)),
            self.output.valid.eq(full[read_bank]), self.output.payload.eq(read.data),
        ]
        with m.If(written):
            m.d.sync += write_word.eq(write_word + 1)
            with m.If(write_word == k - 1):
                m.d.sync += [write_bank.eq(~write_bank), full[write_bank].eq(1)]
        with m.If(taken):
            m.d.sync += read_word.eq(read_word + 1)
            with m.If(read_word == k - 1):
                m.d.sync += [read_bank.eq(~read_bank), full[read_bank].eq(0)]
        return m


def _position(m, period: int, latency: int, name: str) -> Signal:
    """Stream position (mod ``period``) of the sample ``latency`` advances into the pipeline."""
    position = Signal(range(period), init=(-latency) % period, name=name)
    m.d.sync += position.eq(position + 1)
    return position


def _delay_line(m, value, depth: int, name: str):
    """``value`` as it was ``depth`` advances ago: registers up to two, else a ``depth − 1``-word
    distributed RAM ring followed by one register, one ring per field of a struct (so synthesis can drop
    a field nobody reads)."""
    if depth <= 2:
        return delay(m, value, depth, name)
    if isinstance(value.shape(), data.StructLayout):
        out = Signal(value.shape(), name=f"{name}_out")
        for field in value.shape().members:
            m.d.comb += getattr(out, field).eq(_delay_line(m, getattr(value, field), depth, f"{name}_{field}"))
        return out
    ring = memory.Memory(shape=value.shape(), depth=depth - 1, init=[])
    m.submodules[name] = ring
    write, read = ring.write_port(), ring.read_port(domain="comb")
    pointer = Signal(range(depth - 1), name=f"{name}_pointer")
    out = Signal(value.shape(), name=f"{name}_out")
    m.d.comb += [write.addr.eq(pointer), read.addr.eq(pointer), write.data.eq(value), write.en.eq(1)]
    m.d.sync += [out.eq(read.data), pointer.eq(Mux(pointer == depth - 2, 0, pointer + 1))]
    return out


class StreamingFFT(wiring.Component):
    """Radix-2 decimation-in-time FFT of ``k`` complex raw integers, one sample per cycle.

    Arithmetic is ``models/fft.py`` bit for bit. A single-path delay-feedback
    (SDF) pipeline: stage ``s`` holds the first ``2**s`` samples of each group
    of ``2**(s+1)`` in a delay line, then combines them with the second half,
    ``A' = (A·2**15 + P) >> (15 + scaled)``, ``B' = (A·2**15 − P) >> …``
    rounded half up, ``A'`` out at once and ``B'`` into the delay line. Stages
    0 and 1 have only the twiddles ``1`` and ``−j``: no multiplier, ``B`` or
    ``(B.im, −B.re)`` into two adders. Stage 2 adds the eighth turns
    ``W8 = K(1 − j)`` and ``W8³``: ``K·(br ± bi)`` by shifts and adders, still
    no multiplier. Stages ``s ≥ 3`` multiply ``P = B·W`` with three registered
    18 × 18 products (``k1 = c(br+bi)``, ``k2 = br(d−c)``, ``k3 = bi(c+d)``;
    twiddles ``Q(18, 15)``, ``2**s`` per stage in a ROM). Every stage ``s ≥ 2``
    forms ``P ±`` the rounding constant, so the butterfly is one adder per
    output. With ``scaled`` high every stage halves (result
    ``FFT/k``); low, the transform is unscaled.

    Real input: tie ``load.payload.im`` to zero and synthesis removes the
    first stage's imaginary adders; consumers keep the bins they need.

    Parameters
    ----------
    k : int
        Transform size, a power of two in ``[2, 64]``.
    width : int
        Data bits of inputs, every stage and outputs.
    natural_order : bool
        ``True``: ``load`` takes each block in natural order through a
        :class:`BitReverseBuffer`; ``False``: the producer sends it
        bit-reversed (no buffer, ``k`` cycles less latency).
    real_result : bool
        Only the real parts are wanted: ``result.payload.im`` is zero and
        synthesis drops what computes it (in the last stage, one multiplier).

    Members
    -------
    load : In(stream.Signature(complex_layout(width)))
        Blocks of ``k`` samples. With ``natural_order`` any stalls; without, a
        block once begun must be offered without a gap (``valid`` held for its
        ``k`` words: they enter one per cycle).
    scaled : In(1)
        Halve after every stage; hold stable while a transform is inside.
    result : Out(stream.Signature(complex_layout(width)))
        All ``k`` bins of each block in natural order.

    Latency
    -------
    ``models.fft.pipeline_latency(k)`` cycles through the butterflies and the
    output buffer (plus ``k`` in the bit-reversal buffer).

    Throughput
    ----------
    One sample per cycle in and out. The pipeline has no
    clock enable: once a block is admitted its samples move one stage per
    cycle, and it runs on (don't-care samples, tagged, never emitted) until
    nothing real is inside. A block is admitted at a block boundary when it
    is offered and the output buffer (``output_depth(k)`` words) has room for
    it beside every word already admitted, so ``result.ready`` never reaches
    the pipeline; with ``result.ready`` high, blocks follow each other without
    a gap. When the pipeline is empty its position counters wait at a block
    boundary, so an idle unit admits a block at once; a block offered while
    the previous one drains waits for the next boundary (at most ``k − 1``
    cycles). Cost: ``3`` multipliers (18 × 18) per stage ``s ≥ 3``
    (``log2 k − 3`` stages; twice that when ``width + 1 > 18``), ``k − 1``
    delay words, the output buffer.
    """

    def __init__(self, *, k, width, natural_order=True, real_result=False):
        self.k = operator.index(k)
        self.width = operator.index(width)
        self.stages = log2(self.k)
        self.natural_order = bool(natural_order)
        self.real_result = bool(real_result)
        if self.k > 64:
            raise ValueError(f"k={k} out of range: powers of two in [2, 64]")
        layout = complex_layout(self.width)
        super().__init__({"load": In(stream.Signature(layout)), "scaled": In(1),
                          "result": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        k, latency = self.k, pipeline_latency(self.k)
        source = self.load
        if self.natural_order:
            m.submodules.reorder = reorder = BitReverseBuffer(k=k, shape=complex_layout(self.width))
            wiring.connect(m, wiring.flipped(self.load), reorder.input)
            source = reorder.output

        # Position counters (slot, each stage's) wait at a block boundary while nothing real is inside;
        # the data path and the delay lines run every cycle.
        running = Signal()
        self._positions = EnableInserter(running)(Module())
        m.submodules.positions = self._positions
        slot = _position(self._positions, k, 0, "slot")
        depth = output_depth(k)
        committed = Signal(range(depth + 1))  # words admitted and not yet taken from the output buffer
        # A whole block fits, registered: ``committed`` a cycle old. An admit's words count in time (the
        # next boundary is k >= 2 cycles on); a word taken counts a cycle late (never an overflow).
        room = Signal(init=1)
        admit = (slot == 0) & source.valid & room
        taking = Signal()  # the block now entering is real
        slot_real = Mux(slot == 0, admit, taking)
        with m.If(slot == 0):
            m.d.sync += taking.eq(admit)

        sample, at = delay(m, source.payload, ENTRY_LATENCY, "entry"), ENTRY_LATENCY
        for stage in range(self.stages):
            sample, at = self._stage(m, stage, sample, at)
        assert at + OUTPUT_LATENCY == latency
        tags = delay(m, slot_real, at, "tag")  # a real sample is in the last stage's register
        inside = Signal(range(at + 1))  # real samples between entry and the last stage's register
        m.d.sync += inside.eq(inside + slot_real - tags)
        m.d.comb += running.eq((slot != 0) | admit | (inside != 0))

        kept = sample.re if self.real_result else sample
        result = self.result.payload.re if self.real_result else self.result.payload
        m.submodules.output = output = LutRamFIFO(shape=Value.cast(kept).shape(), depth=depth)
        m.d.comb += [output.input.payload.eq(kept), output.input.valid.eq(tags),
                     result.eq(output.output.payload), self.result.valid.eq(output.output.valid),
                     output.output.ready.eq(self.result.ready)]
        taken = self.result.valid & self.result.ready
        m.d.sync += [committed.eq(committed + Mux(admit, k, 0) - taken),
                     room.eq(committed <= depth - k)]
        # ``ready`` from a register, ``Mux(slot == 0, room, taking)`` decided a cycle ahead: the same
        # transfers as ``slot_real``, with neither ``valid`` nor the counters in the producer's path.
        ready = Signal(init=1)
        boundary_next = Mux(running, slot == k - 1, slot == 0)
        m.d.sync += ready.eq(Mux(boundary_next, committed <= depth - k, Mux(slot == 0, admit, taking)))
        m.d.comb += source.ready.eq(ready)
        return m

    def _stage(self, m, stage: int, sample, at: int):
        """One SDF stage on ``sample`` (``at`` advances into the pipeline): its output register and latency."""
        if stage < 2:
            return self._trivial_stage(m, stage, sample, at)
        p_plus, p_minus = self._twiddle_product(m, stage, sample, at)
        at += MULTIPLY_LATENCY
        second = _position(self._positions, 2 << stage, at, f"s{stage}_position")[stage]
        narrow = delay(m, sample, MULTIPLY_LATENCY, f"s{stage}_b")
        a = Signal(complex_layout(self.width), name=f"s{stage}_a")

        def sums(part):  # (A·2**15 + (c ± P)) >> (15 + s)
            wide = getattr(a, part) << TWIDDLE_FRAC
            return wide + getattr(p_plus, part), wide + getattr(p_minus, part), TWIDDLE_FRAC

        return self._butterfly(m, stage, second, narrow, a, sums, at)

    def _trivial_stage(self, m, stage, b, at):
        """Stage 0 (twiddle 1) or 1 (1 and −j; ``−j·B = (B.im, −B.re)``): adders only. The delay line
        keeps ``A + scaled``, so ``(A ± B·W + s) >> s`` is one adder per output."""
        position = _position(self._positions, 2 << stage, at, f"s{stage}_position")
        turn = position[0] if stage == 1 else 0  # the second B of a group of four takes −j
        a = Signal(complex_layout(self.width + 1), name=f"s{stage}_a")  # A + scaled
        b_re = Mux(turn, b.im, b.re)

        def sums(part):
            if part == "re":
                return a.re + b_re, a.re - b_re, 0
            return Mux(turn, a.im - b.re, a.im + b.im), Mux(turn, a.im + b.re, a.im - b.im), 0

        rounded = Signal(complex_layout(self.width + 1), name=f"s{stage}_rounded")
        m.d.comb += [rounded.re.eq(b.re + self.scaled), rounded.im.eq(b.im + self.scaled)]
        return self._butterfly(m, stage, position[stage], rounded, a, sums, at)

    def _twiddle_product(self, m, stage, sample, at):
        """``P + c`` and ``c − P`` for ``P = B·W`` in units of ``2**-15`` and the rounding constant ``c``,
        ``MULTIPLY_LATENCY`` advances after ``sample``."""
        if stage == 2:
            p_re, p_im = self._eighth_turn_product(m, sample, _position(self._positions, 8, at, "s2_twiddle")[:2])
        else:
            p_re, p_im = self._dsp_product(m, stage, sample, at)
        rounding = Mux(self.scaled, 1 << TWIDDLE_FRAC, 1 << (TWIDDLE_FRAC - 1))
        p_plus, p_minus = (Signal(complex_layout(len(p_re) + 1), name=f"s{stage}_p_{n}") for n in ("plus", "minus"))
        m.d.sync += [p_plus.re.eq(rounding + p_re), p_plus.im.eq(rounding + p_im),
                     p_minus.re.eq(rounding - p_re), p_minus.im.eq(rounding - p_im)]
        return p_plus, p_minus

    def _dsp_product(self, m, stage, sample, at):
        """``B·W`` four advances after ``sample`` (``at`` advances into the pipeline): three registered
        18 × 18 products of a ``2**stage``-entry twiddle ROM (``c``, ``d − c``, ``c + d``)."""
        c_raw, d_raw = twiddles(self.k)
        step = self.k // (2 << stage)
        rom = [(int(c_raw[i * step]), int(d_raw[i * step])) for i in range(1 << stage)]
        # The ROM is read one position ahead into fabric registers, so the twiddle is a register when it
        # meets `sample` (a ROM read straight into a DSP pin took the clock enable into its address logic).
        ahead = _position(self._positions, 2 << stage, at - 1, f"s{stage}_twiddle_ahead")[:stage]
        tw_c, tw_dc, tw_cd = (Signal(signed(TWIDDLE_WIDTH), name=f"s{stage}_tw_{n}") for n in ("c", "dc", "cd"))
        for twiddle, column in zip((tw_c, tw_dc, tw_cd), zip(*((c, d - c, c + d) for c, d in rom))):
            m.d.sync += twiddle.eq(Array(Const(value, signed(TWIDDLE_WIDTH)) for value in column)[ahead])
        # Operands straight into the DSPs' input registers.
        k1 = pipelined_product(m, sample.re + sample.im, tw_c, f"s{stage}_k1")
        k2 = pipelined_product(m, sample.re, tw_dc, f"s{stage}_k2")
        k3 = pipelined_product(m, sample.im, tw_cd, f"s{stage}_k3")
        p_re, p_im = (Signal(signed(len(k1) + 1), name=f"s{stage}_p_{n}") for n in ("re", "im"))
        m.d.sync += [p_re.eq(k1 - k3), p_im.eq(k1 + k2)]
        return p_re, p_im

    def _eighth_turn_product(self, m, sample, index):
        """Stage 2's ``B·W`` for ``W ∈ {1, W8, −j, W8³}`` four advances after ``sample``, without
        multipliers: ``W8 = K(1 − j)``, ``W8³ = −K(1 + j)`` with ``K = 23170`` (both parts quantize to
        ``±K``), so ``P`` is ``K(br + bi)`` or ``K(bi − br)`` (shift-add), or ``B`` turned and shifted."""
        c_raw, _ = twiddles(self.k)
        eighth = int(c_raw[self.k // 8])
        total, turned = Signal(signed(self.width + 1), name="s2_sum"), Signal(signed(self.width + 1), name="s2_diff")
        m.d.sync += [total.eq(sample.re + sample.im), turned.eq(sample.im - sample.re)]
        k_total = constant_product(m, total, eighth, "s2_k_sum")
        k_turned = constant_product(m, turned, eighth, "s2_k_diff")
        b, which = delay(m, sample, 3, "s2_b"), delay(m, index, 3, "s2_index")
        p_re, p_im = (Signal(signed(len(k_total) + 1), name=f"s2_p_{n}") for n in ("re", "im"))
        with m.Switch(which):
            with m.Case(0):
                m.d.sync += [p_re.eq(b.re << TWIDDLE_FRAC), p_im.eq(b.im << TWIDDLE_FRAC)]
            with m.Case(1):
                m.d.sync += [p_re.eq(k_total), p_im.eq(k_turned)]
            with m.Case(2):
                m.d.sync += [p_re.eq(b.im << TWIDDLE_FRAC), p_im.eq(-(b.re << TWIDDLE_FRAC))]
            with m.Case(3):
                m.d.sync += [p_re.eq(k_turned), p_im.eq(-k_total)]
        return p_re, p_im

    def _butterfly(self, m, stage, second, sample, a, sums, at):
        """The delay-feedback butterfly: a first-half ``sample`` goes into the delay line (whose output
        ``a`` then is ``A``) while the line's ``B'`` leaves; a second-half one meets ``A``:
        ``sums(part)`` gives the ``A'`` and ``B'`` sums and their shift, ``A'`` leaves, ``B'`` enters."""
        half = 1 << stage
        layout = complex_layout(self.width)
        feedback = Signal(a.shape(), name=f"s{stage}_feedback")
        m.d.comb += a.eq(_delay_line(m, feedback, half, f"s{stage}_line"))
        top, bottom = Signal(layout, name=f"s{stage}_top"), Signal(layout, name=f"s{stage}_bottom")
        for part in ("re", "im"):
            plus, minus, shift = sums(part)
            m.d.comb += [getattr(top, part).eq(Mux(self.scaled, plus >> (shift + 1), plus >> shift)),
                         getattr(bottom, part).eq(Mux(self.scaled, minus >> (shift + 1), minus >> shift))]
        out = Signal(layout, name=f"s{stage}_out")
        m.d.comb += feedback.eq(Mux(second, bottom, sample))
        m.d.sync += out.eq(Mux(second, top, a))
        return out, at + half + 1
