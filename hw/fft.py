"""Radix-2 FFT processing element: one pipelined butterfly over an in-place register file."""

import operator

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from models.fft import STAGE_GAP, TWIDDLE_FRAC, log2, twiddles

from .common.fixed import delay, pipelined_product

__all__ = ["complex_layout", "FFTUnit"]

TWIDDLE_WIDTH = 18  # c, d − c, c + d of Q(18, 15) twiddles (|c + d| ≤ √2)


def complex_layout(width: int) -> data.StructLayout:
    return data.StructLayout({"re": signed(width), "im": signed(width)})


class FFTUnit(wiring.Component):
    """In-place radix-2 decimation-in-time FFT of ``k`` complex raw integers.

    Arithmetic is ``models/fft.py`` bit for bit: per butterfly
    ``P = B·W`` (three real multiplications, ``k1 = c(br+bi)``,
    ``k2 = br(d−c)``, ``k3 = bi(c+d)``; twiddles ``Q(18, 15)`` from a ROM
    that holds ``c, d−c, c+d``), ``A' = (A·2**15 ± P) >> (15 + scaled)``
    rounded half up. With ``scaled`` high every stage halves (result
    ``FFT/k``); low, the transform is unscaled. The twiddles ``1`` and ``−j``
    are exact in Q(18, 15), so those butterflies introduce no error — but they
    still pass through the one shared multiplier set.

    Parameters
    ----------
    k : int
        Transform size, a power of two in ``[2, 64]``.
    width : int
        Data bits of the register file, inputs and outputs.

    Members
    -------
    load : In(stream.Signature(complex_layout(width)))
        ``k`` samples in natural order; stored at bit-reversed addresses.
    scaled : In(1)
        Halve after every stage; hold stable from the first ``load`` word
        to the last ``result`` word.
    result : Out(stream.Signature(complex_layout(width)))
        All ``k`` bins in natural order (consumers drop what they do not need).

    Latency and throughput: ``k`` load cycles, then ``log2(k)·(k/2 + 7)``
    compute cycles (``k/2`` butterflies issued back to back per stage, seven
    cycles for the six-stage pipeline to write back), then ``k`` result cycles; transforms do not
    overlap. Cost: 3 multipliers, ``2k`` registers of ``width`` bits with two
    read and two write ports built from multiplexers.
    """

    def __init__(self, *, k, width):
        self.k = operator.index(k)
        self.width = operator.index(width)
        self.stages = log2(self.k)
        if self.k > 64:
            raise ValueError(f"k={k} out of range: powers of two in [2, 64]")
        layout = complex_layout(self.width)
        super().__init__({
            "load": In(stream.Signature(layout)),
            "scaled": In(1),
            "result": Out(stream.Signature(layout)),
        })

    @property
    def compute_cycles(self) -> int:
        return self.stages * (self.k // 2 + STAGE_GAP)

    def _butterfly_addresses(self, stage, butterfly):
        """Index of ``A`` (insert a 0 bit at position ``stage``), of ``B``, and the twiddle index."""
        k, stages = self.k, self.stages
        a_of = [((butterfly >> s) << (s + 1)) | (butterfly & ((1 << s) - 1)) for s in range(stages)]
        half_of = [Const(1 << s, range(k)) for s in range(stages)]
        twiddle_of = [((butterfly & ((1 << s) - 1)) << (stages - 1 - s))[:max(stages - 1, 1)]
                      for s in range(stages)]
        a = Array(a_of)[stage]
        return a, a | Array(half_of)[stage], Array(twiddle_of)[stage]

    def elaborate(self, platform):
        m = Module()
        k, width, stages = self.k, self.width, self.stages
        layout = complex_layout(width)

        # Two banks split by address parity: a butterfly's A and B addresses
        # differ in one bit, so they always sit in different banks, and each
        # bank needs one asynchronous read and one write port per cycle.
        banks = [memory.Memory(shape=layout, depth=k // 2, init=[]) for _ in range(2)]
        reads, writes = [], []
        for number, bank in enumerate(banks):
            m.submodules[f"bank{number}"] = bank
            reads.append(bank.read_port(domain="comb"))
            writes.append(bank.write_port())

        def parity(address):
            return address.xor() if stages > 1 else address[0]

        def word(address):
            return address[1:] if stages > 1 else 0

        c_raw, d_raw = twiddles(k)
        rom_c = Array(Const(int(c), signed(TWIDDLE_WIDTH)) for c in c_raw)
        rom_d_minus_c = Array(Const(int(d - c), signed(TWIDDLE_WIDTH)) for c, d in zip(c_raw, d_raw))
        rom_c_plus_d = Array(Const(int(c + d), signed(TWIDDLE_WIDTH)) for c, d in zip(c_raw, d_raw))

        index = Signal(range(k))  # load / result word counter
        stage = Signal(range(max(stages, 2)))
        butterfly = Signal(range(max(k // 2, 2)))
        issue = Signal()
        a_addr, b_addr, tw_addr = self._butterfly_addresses(stage, butterfly)
        a_bank = parity(a_addr)

        # s1: operands and twiddles registered; s2: pre-add; s3: partial products (one DSP each);
        # s4: products; s5: P = B·W; s6: A ± P rounded; then written back (STAGE_GAP = 7 cycles).
        a_op, b_op = Signal(layout), Signal(layout)
        tw_c, tw_dc, tw_cd = (Signal(signed(TWIDDLE_WIDTH), name=n) for n in ("tw_c", "tw_dc", "tw_cd"))
        with m.If(issue):
            m.d.comb += [reads[0].addr.eq(Mux(a_bank, word(b_addr), word(a_addr))),
                         reads[1].addr.eq(Mux(a_bank, word(a_addr), word(b_addr)))]
        with m.Else():
            m.d.comb += [read.addr.eq(word(index)) for read in reads]
        m.d.sync += [
            a_op.eq(Mux(a_bank, reads[1].data, reads[0].data)),
            b_op.eq(Mux(a_bank, reads[0].data, reads[1].data)),
            tw_c.eq(rom_c[tw_addr]), tw_dc.eq(rom_d_minus_c[tw_addr]), tw_cd.eq(rom_c_plus_d[tw_addr]),
        ]
        b_sum = Signal(signed(width + 1))
        m.d.sync += b_sum.eq(b_op.re + b_op.im)
        b_re, b_im = delay(m, b_op.re, 1, "b_re"), delay(m, b_op.im, 1, "b_im")
        k1 = pipelined_product(m, b_sum, delay(m, tw_c, 1, "tw_c"), "k1")
        k2 = pipelined_product(m, b_re, delay(m, tw_dc, 1, "tw_dc"), "k2")
        k3 = pipelined_product(m, b_im, delay(m, tw_cd, 1, "tw_cd"), "k3")
        p_re, p_im = Signal(signed(len(k1) + 1)), Signal(signed(len(k1) + 1))
        m.d.sync += [p_re.eq(k1 - k3), p_im.eq(k1 + k2)]

        # round_shift((A << 15) ± P, s) == ((A << 15) + 2**(s-1) ± P) >> s: the rounding constant joins A
        # one stage early, so the last stage is one adder and the shift select.
        a_late = delay(m, a_op, 3, "a_late")
        a_re, a_im = (Signal(signed(width + TWIDDLE_FRAC + 1), name=f"a_rounded_{part}") for part in ("re", "im"))
        half = Mux(self.scaled, 1 << TWIDDLE_FRAC, 1 << (TWIDDLE_FRAC - 1))
        m.d.sync += [a_re.eq((a_late.re << TWIDDLE_FRAC) + half), a_im.eq((a_late.im << TWIDDLE_FRAC) + half)]

        def combine(a_rounded, p, sign):
            wide = a_rounded + p if sign > 0 else a_rounded - p
            return Mux(self.scaled, wide >> (TWIDDLE_FRAC + 1), wide >> TWIDDLE_FRAC)

        upper = Signal(layout)  # A' = (A + P) / (1 or 2)
        lower = Signal(layout)  # B' = (A − P) / (1 or 2)
        m.d.sync += [upper.re.eq(combine(a_re, p_re, +1)), upper.im.eq(combine(a_im, p_im, +1)),
                     lower.re.eq(combine(a_re, p_re, -1)), lower.im.eq(combine(a_im, p_im, -1))]
        valid = [issue] + [Signal(name=f"s{n}_valid") for n in range(1, STAGE_GAP)]
        m.d.sync += [later.eq(earlier) for earlier, later in zip(valid, valid[1:])]
        write_valid = valid[-1]
        write_a, write_b = delay(m, a_addr, STAGE_GAP - 1, "write_a"), delay(m, b_addr, STAGE_GAP - 1, "write_b")
        write_a_bank = parity(write_a)
        loading = Signal()
        load_address = Cat(*(index[bit] for bit in reversed(range(stages))))  # bit-reversed
        for number, write in enumerate(writes):
            mine = write_a_bank == number
            with m.If(loading):
                m.d.comb += [write.addr.eq(word(load_address)), write.data.eq(self.load.payload),
                             write.en.eq(self.load.valid & (parity(index) == number))]
            with m.Else():
                m.d.comb += [write.addr.eq(Mux(mine, word(write_a), word(write_b))),
                             write.data.eq(Mux(mine, upper, lower)),
                             write.en.eq(write_valid)]

        pipeline_empty = ~Cat(*valid[1:]).any()
        with m.FSM(init="LOAD"):
            with m.State("LOAD"):
                m.d.comb += [self.load.ready.eq(1), loading.eq(1)]
                with m.If(self.load.valid):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == k - 1):
                        m.d.sync += [index.eq(0), stage.eq(0), butterfly.eq(0)]
                        m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += issue.eq(1)
                m.d.sync += butterfly.eq(butterfly + 1)
                with m.If(butterfly == k // 2 - 1):
                    m.d.sync += butterfly.eq(0)
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(pipeline_empty):
                    m.d.sync += stage.eq(stage + 1)
                    m.next = "ISSUE"
                    with m.If(stage == stages - 1):
                        m.d.sync += stage.eq(0)
                        m.next = "RESULT"
            with m.State("RESULT"):
                m.d.comb += [self.result.valid.eq(1),
                             self.result.payload.eq(Mux(parity(index), reads[1].data, reads[0].data))]
                with m.If(self.result.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == k - 1):
                        m.d.sync += index.eq(0)
                        m.next = "LOAD"
        return m
