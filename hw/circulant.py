"""``circulant-fc``: block-circulant matrix-vector product in the frequency domain (CirCNN)."""

import operator

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from models.circulant import MAC_DRAIN
from models.fft import inverse_width, log2
from models.fixed import accumulator_width

from .common.fixed import round_shift, saturate
from .fft import FFTUnit, complex_layout

__all__ = ["CirculantFC"]


class CirculantFC(wiring.Component):
    """``y = W x`` for a block-circulant ``W`` of ``p × q`` blocks of size ``k``.

    Arithmetic is ``models/circulant.py`` bit for bit. One :class:`FFTUnit`
    serves both directions: forward (scaled, ``FFT(x_c)/k``) for each input
    block, whose bins ``0 … k/2`` are written into per-lane spectrum buffers;
    then, per output block ``r``, ``parallelism`` complex MAC lanes (three
    multipliers each) accumulate ``Z[r, b] = Σ_c Wf[r, c, b] · X[c, b]`` over
    the input blocks, bin ``b`` on lane ``b mod parallelism``; ``Z`` is
    rounded to ``Q(width + 2, frac)`` and the FFT unit, unscaled, turns its
    Hermitian extension into ``y_r`` (real part, saturated to ``width``).

    Weight spectra (``Wf = FFT(w)``, computed offline, ``Q(width + 1, frac)``)
    are loaded once after reset through ``w_in``, in the order
    ``r, g, c, lane`` where bin ``b = g·parallelism + lane``; bins past
    ``k/2`` (padding of the last group) are sent as zeros.

    Parameters
    ----------
    n_in, n_out : int
        Multiples of ``k``; ``q = n_in / k`` input and ``p = n_out / k`` output blocks.
    k : int
        Block size, a power of two in ``[2, 64]``.
    width, frac : int
        ``Q(width, frac)`` of ``x`` and ``y``.
    parallelism : int
        Complex MAC lanes, ``1 ≤ parallelism ≤ k/2 + 1``.

    Members
    -------
    w_in : In(stream.Signature(complex_layout(width + 1)))
    x_in : In(stream.Signature(signed(width)))
    y_out : Out(stream.Signature(signed(width)))

    Latency and throughput: phases do not overlap; cycles per vector without
    stalls are ``models.circulant.cycles_per_vector`` (checked against the RTL).
    """

    def __init__(self, *, n_in, n_out, k, width=16, frac=10, parallelism=1):
        self.k = operator.index(k)
        self.n_in, self.n_out = operator.index(n_in), operator.index(n_out)
        self.width, self.frac = operator.index(width), operator.index(frac)
        self.parallelism = operator.index(parallelism)
        log2(self.k)
        if self.n_in % self.k or self.n_out % self.k:
            raise ValueError(f"k={k} must divide n_in={n_in} and n_out={n_out}")
        if not 1 <= self.parallelism <= self.bins:
            raise ValueError(f"parallelism={parallelism} out of range [1, {self.bins}]")
        super().__init__({
            "w_in": In(stream.Signature(complex_layout(self.width + 1))),
            "x_in": In(stream.Signature(signed(self.width))),
            "y_out": Out(stream.Signature(signed(self.width))),
        })

    @property
    def bins(self) -> int:
        return self.k // 2 + 1

    @property
    def groups(self) -> int:
        """Bin groups per output block, ``ceil((k/2 + 1) / parallelism)``."""
        return -(-self.bins // self.parallelism)

    def elaborate(self, platform):
        m = Module()
        k, lanes, groups, bins = self.k, self.parallelism, self.groups, self.bins
        p, q = self.n_out // k, self.n_in // k
        spectrum = complex_layout(self.width + 1)
        z_width = self.width + 2

        m.submodules.fft = fft = FFTUnit(k=k, width=inverse_width(self.width, k))

        x_banks, w_banks = [], []
        for lane in range(lanes):
            m.submodules[f"x_bank{lane}"] = x_bank = memory.Memory(shape=spectrum, depth=q * groups, init=[])
            m.submodules[f"w_bank{lane}"] = w_bank = memory.Memory(shape=spectrum, depth=p * groups * q, init=[])
            x_banks.append((x_bank.write_port(), x_bank.read_port()))
            w_banks.append((w_bank.write_port(), w_bank.read_port()))

        # Counters shared by the phases.
        block = Signal(range(max(p, q)))  # input block c while transforming, output block r after
        word = Signal(range(k))  # word within a transform's load or result
        lane = Signal(range(lanes))
        group = Signal(range(groups))
        column = Signal(range(q))  # input block within a MAC run
        x_address = Signal(range(q * groups))  # group * q + block (writes) / group * q + column (reads)
        w_address = Signal(range(p * groups * q))

        # --- MAC lanes: address -> RAM -> register -> pre-adds -> three products -> X·W -> accumulate
        # -> rounded -> saturated (MAC_DRAIN cycles after a group's last address).
        issue, issue_first, issue_last = Signal(), Signal(), Signal()
        valid = [issue] + [Signal(name=f"mac{n}_valid") for n in range(1, 6)]
        first = [issue_first] + [Signal(name=f"mac{n}_first") for n in range(1, 6)]
        last = [issue_last] + [Signal(name=f"mac{n}_last") for n in range(1, MAC_DRAIN + 1)]
        for n in range(1, 6):
            m.d.sync += [valid[n].eq(valid[n - 1]), first[n].eq(first[n - 1])]
        for n in range(1, MAC_DRAIN + 1):
            m.d.sync += last[n].eq(last[n - 1])
        acc_width = accumulator_width(self.width + 2, 2 * q) + 1
        # The inverse pass's input v[n] = conj(Z[n]) for n <= k/2, Z[k - n] above, kept in load order:
        # each bin is written to its one or two places, and INVERSE_LOAD shifts v out from v[0].
        v_re = [Signal(signed(z_width), name=f"v{n}_re") for n in range(k)]
        v_im = [Signal(signed(z_width + 1), name=f"v{n}_im") for n in range(k)]
        for number, ((_, x_read), (_, w_read)) in enumerate(zip(x_banks, w_banks)):
            m.d.comb += [x_read.addr.eq(x_address), w_read.addr.eq(w_address)]
            x, w = Signal.like(x_read.data, name=f"l{number}_x"), Signal.like(w_read.data, name=f"l{number}_w")
            m.d.sync += [x.eq(x_read.data), w.eq(w_read.data)]  # block RAM outputs registered before any logic
            x_re, x_im, w_re = (Signal(signed(self.width + 1), name=f"l{number}_{n}") for n in ("xr", "xi", "wr"))
            x_sum, w_diff, w_sum = (Signal(signed(self.width + 2), name=f"l{number}_{n}") for n in ("xs", "wd", "ws"))
            k1, k2, k3 = (Signal(signed(2 * self.width + 4), name=f"l{number}_k{n}") for n in (1, 2, 3))
            acc_re, acc_im = Signal(signed(acc_width), name=f"l{number}_acc_re"), Signal(signed(acc_width), name=f"l{number}_acc_im")
            product_re, product_im = (Signal(signed(2 * self.width + 5), name=f"l{number}_p{n}") for n in ("re", "im"))
            m.d.sync += [
                x_re.eq(x.re), x_im.eq(x.im), w_re.eq(w.re),
                x_sum.eq(x.re + x.im), w_diff.eq(w.im - w.re), w_sum.eq(w.re + w.im),
                k1.eq(w_re * x_sum), k2.eq(x_re * w_diff), k3.eq(x_im * w_sum),
                product_re.eq(k1 - k3), product_im.eq(k1 + k2),
            ]
            with m.If(valid[5]):
                m.d.sync += [acc_re.eq(Mux(first[5], 0, acc_re) + product_re),
                             acc_im.eq(Mux(first[5], 0, acc_im) + product_im)]
            # The rounded accumulator, one cycle behind; after the group's last accumulation bin
            # g*lanes + number takes it.
            rounded_re, rounded_im = (Signal(signed(acc_width - self.frac + 1), name=f"l{number}_r{n}") for n in ("re", "im"))
            z_re, z_im = Signal(signed(z_width), name=f"l{number}_z_re"), Signal(signed(z_width), name=f"l{number}_z_im")
            m.d.sync += [rounded_re.eq(round_shift(acc_re, self.frac)), rounded_im.eq(round_shift(acc_im, self.frac)),
                         z_re.eq(saturate(rounded_re, z_width)), z_im.eq(saturate(rounded_im, z_width))]
            for b in range(number, bins, lanes):
                with m.If(last[MAC_DRAIN] & (group == b // lanes)):
                    m.d.sync += [v_re[b].eq(z_re), v_im[b].eq(-z_im)]
                    if 0 < b < k // 2:
                        m.d.sync += [v_re[k - b].eq(z_re), v_im[k - b].eq(z_im)]

        m.d.comb += self.y_out.payload.eq(saturate(fft.result.payload.re, self.width))

        def advance(counter, limit):
            """Increment ``counter`` (wrapping at ``limit``) under the current condition; return "it wrapped".

            The increment lands where ``advance`` is *called*: call it inside the
            ``m.If`` of the transfer, never in that ``If``'s condition.
            """
            at_end = counter == limit - 1
            m.d.sync += counter.eq(Mux(at_end, 0, counter + 1))
            return at_end

        with m.FSM(init="LOAD_W"):
            with m.State("LOAD_W"):
                m.d.comb += self.w_in.ready.eq(1)
                for number, (w_write, _) in enumerate(w_banks):
                    m.d.comb += [w_write.addr.eq(w_address), w_write.data.eq(self.w_in.payload),
                                 w_write.en.eq(self.w_in.valid & (lane == number))]
                with m.If(self.w_in.valid):
                    with m.If(advance(lane, lanes)):
                        with m.If(advance(w_address, p * groups * q)):
                            m.next = "FORWARD_LOAD"

            with m.State("FORWARD_LOAD"):
                m.d.comb += [fft.scaled.eq(1),
                             fft.load.valid.eq(self.x_in.valid), self.x_in.ready.eq(fft.load.ready),
                             fft.load.payload.re.eq(self.x_in.payload), fft.load.payload.im.eq(0)]
                with m.If(self.x_in.valid & fft.load.ready):
                    with m.If(advance(word, k)):
                        m.d.sync += [lane.eq(0), group.eq(0), x_address.eq(block)]
                        m.next = "FORWARD_RESULT"

            with m.State("FORWARD_RESULT"):
                m.d.comb += [fft.scaled.eq(1), fft.result.ready.eq(1)]
                for number, (x_write, _) in enumerate(x_banks):
                    m.d.comb += [x_write.addr.eq(x_address),
                                 x_write.data.re.eq(fft.result.payload.re), x_write.data.im.eq(fft.result.payload.im),
                                 x_write.en.eq(fft.result.valid & (word < bins) & (lane == number))]
                with m.If(fft.result.valid):
                    with m.If(advance(lane, lanes)):
                        m.d.sync += [group.eq(group + 1), x_address.eq(x_address + q)]
                    with m.If(advance(word, k)):
                        m.d.sync += [lane.eq(0), group.eq(0)]
                        with m.If(advance(block, q)):
                            m.d.sync += [x_address.eq(0), w_address.eq(0), column.eq(0)]
                            m.next = "MAC"
                        with m.Else():
                            m.next = "FORWARD_LOAD"

            with m.State("MAC"):
                m.d.comb += [issue.eq(1), issue_first.eq(column == 0), issue_last.eq(column == q - 1)]
                m.d.sync += [x_address.eq(x_address + 1), w_address.eq(w_address + 1)]
                with m.If(advance(column, q)):
                    m.next = "MAC_DRAIN"

            with m.State("MAC_DRAIN"):
                with m.If(last[MAC_DRAIN]):
                    with m.If(advance(group, groups)):
                        m.d.sync += x_address.eq(0)
                        m.next = "INVERSE_LOAD"
                    with m.Else():
                        m.next = "MAC"

            with m.State("INVERSE_LOAD"):
                m.d.comb += [fft.load.valid.eq(1), fft.load.payload.re.eq(v_re[0]), fft.load.payload.im.eq(v_im[0])]
                with m.If(fft.load.ready):
                    m.d.sync += [current.eq(following) for current, following in zip(v_re + v_im, v_re[1:] + [0] + v_im[1:] + [0])]
                    with m.If(advance(word, k)):
                        m.next = "INVERSE_RESULT"

            with m.State("INVERSE_RESULT"):
                m.d.comb += [self.y_out.valid.eq(fft.result.valid), fft.result.ready.eq(self.y_out.ready)]
                with m.If(fft.result.valid & self.y_out.ready):
                    with m.If(advance(word, k)):
                        with m.If(advance(block, p)):
                            m.next = "FORWARD_LOAD"
                        with m.Else():
                            m.next = "MAC"
        return m
