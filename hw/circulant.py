"""``circulant-fc``: block-circulant matrix-vector product in the frequency domain (CirCNN)."""

import operator

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.circulant import MAC_DRAIN, spectrum_load_order, z_bank_count
from models.fft import bit_reverse, forward_width, inverse_width, log2
from models.fixed import FixedFormat, accumulator_width, ceil_div

from .common.banked import READ_LATENCY, BankedMemory
from .common.buffer import LutRamFIFO, SkidBuffer, wrapped_increment
from .common.dsp import registered_product
from .common.fixed import complex_layout, delay, round_shift, saturate
from .fft import StreamingFFT

__all__ = ["CirculantFC"]

FEED_SLACK = 8  # FIFO words beyond a block: the credit round trip (head register, FIFO, late count) and margin


def _next_is_last(counter, size: int):
    """Whether a counter that wraps after ``size - 1`` holds its last value after one step from ``counter``."""
    return (counter == size - 2) | Const(size == 1)


class CirculantFC(wiring.Component):
    """``y = W x`` for a block-circulant ``W`` of ``p × q`` blocks of size ``k``.

    Arithmetic is ``models/circulant.py`` bit for bit. Three stages run
    concurrently on consecutive vectors, one sample per cycle each:

    1. forward: ``x`` streams into a :class:`StreamingFFT` (scaled,
       ``FFT(x_c)/k``) and a skid buffer; bins ``0 … k/2`` of each input block go into per-lane
       spectrum buffers (bin ``b`` on lane ``b mod parallelism``), two banks:
       vector ``v + 1`` fills one while the MAC reads vector ``v`` from the other;
    2. MAC: per output block ``r``, ``parallelism`` complex lanes (three
       multipliers each) accumulate ``Z[r, b] = Σ_c Wf[r, c, b] · X[c, b]``,
       issuing one address per cycle back to back across groups, blocks and
       vectors; ``Z`` is rounded to ``Q(width + 2, frac)``;
    3. inverse: the MAC lands each block's ``Z`` in one of
       ``models.circulant.z_bank_count`` register banks (at least two; a
       block claims one when its first address issues, so the MAC pipeline
       never stalls) while another, full, shifts its Hermitian extension out
       bit-reversed, through a FIFO and a skid buffer, into a second
       :class:`StreamingFFT` (unscaled, real parts only); the real parts,
       saturated to ``width``, are ``y_r``, sent through a skid buffer.

    Weight spectra (``Wf = FFT(w)``, computed offline, ``Q(width + 1, frac)``)
    are loaded once after reset through ``w_in``, in the order
    ``r, g, c, lane`` where bin ``b = g·parallelism + lane``; bins past
    ``k/2`` (padding of the last group) are sent as zeros. Given ``weights``
    (the first columns), the spectra are computed here and baked into the
    memories instead, and there is no ``w_in``.

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
    weights : array of int, optional
        Raw first columns ``w`` (``p × q × k``, ``Q(width, frac)``) baked into the weight memories.

    Members
    -------
    w_in : In(stream.Signature(complex_layout(width + 1)))
        Absent with ``weights``.
    x_in : In(stream.Signature(signed(width)))
    y_out : Out(stream.Signature(signed(width)))

    Latency
    -------
    Per vector: ``n_in`` forward cycles, ``p · ceil((k/2+1)/P) · q`` MAC issues
    (plus ``MAC_DRAIN``) and ``n_out`` inverse cycles, with the FFTs'
    pipeline latencies.

    Throughput
    ----------
    The three stages overlap across vectors: without stalls one vector every
    ``models.circulant.cycles_per_vector`` cycles.
    """

    def __init__(self, *, n_in, n_out, k, width=16, frac=10, parallelism=1, weights=None):
        self.k = operator.index(k)
        self.n_in, self.n_out = operator.index(n_in), operator.index(n_out)
        self.width, self.frac = operator.index(width), operator.index(frac)
        self.parallelism = operator.index(parallelism)
        self.check_shape(n_in=self.n_in, n_out=self.n_out, k=self.k, parallelism=self.parallelism)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.int64)
        if self.weights is not None and self.weights.shape != (self.p, self.q, self.k):
            raise ValueError(f"weights have shape {self.weights.shape}; expected ({self.p}, {self.q}, {self.k})")
        loaded = {} if self.weights is not None else {"w_in": In(stream.Signature(complex_layout(self.width + 1)))}
        super().__init__({
            **loaded,
            "x_in": In(stream.Signature(signed(self.width))),
            "y_out": Out(stream.Signature(signed(self.width))),
        })

    @staticmethod
    def check_shape(*, n_in: int, n_out: int, k: int, parallelism: int):
        """Raise ``ValueError`` unless ``k`` is a power of two dividing ``n_in`` and ``n_out`` and
        ``1 ≤ parallelism ≤ k/2 + 1``."""
        log2(k)
        for name, size in (("n_in", n_in), ("n_out", n_out)):
            if size % k:
                raise ValueError(f"{name}={size} is not a multiple of k={k}")
        if not 1 <= parallelism <= k // 2 + 1:
            raise ValueError(f"parallelism={parallelism} out of range [1, {k // 2 + 1}] (at most k/2+1 bins)")

    @property
    def bins(self) -> int:
        return self.k // 2 + 1

    @property
    def groups(self) -> int:
        """Bin groups per output block, ``ceil((k/2 + 1) / parallelism)``."""
        return ceil_div(self.bins, self.parallelism)

    def elaborate(self, platform):
        m = Module()
        m.submodules.forward = forward = StreamingFFT(k=self.k, width=forward_width(self.width))
        m.submodules.inverse = inverse = StreamingFFT(k=self.k, width=inverse_width(self.width, self.k),
                                                      natural_order=False, real_result=True)
        m.d.comb += [forward.scaled.eq(1), inverse.scaled.eq(0),
                     forward.load.valid.eq(self.x_in.valid), self.x_in.ready.eq(forward.load.ready),
                     forward.load.payload.re.eq(self.x_in.payload), forward.load.payload.im.eq(0)]
        # Skid buffers after both transforms: the spectrum writer's and the consumer's ``ready`` reach only
        # their registers, not the transforms' output buffers.
        m.submodules.spectrum_slice = spectrum = SkidBuffer(shape=forward.result.payload.shape())
        m.submodules.y_slice = y_slice = SkidBuffer(shape=signed(self.width))
        wiring.connect(m, forward.result, spectrum.input)
        wiring.connect(m, y_slice.output, wiring.flipped(self.y_out))
        m.d.comb += [y_slice.input.valid.eq(inverse.result.valid), inverse.result.ready.eq(y_slice.input.ready),
                     y_slice.input.payload.eq(saturate(inverse.result.payload.re, self.width))]
        # A spectra bank half is written only while the MAC reads the other; weights only before the MAC starts.
        # Deep weight memories span several block RAMs: banked, each read through its own register.
        word = complex_layout(self.width + 1)
        x_banks = [BankedMemory(shape=word, depth=2 * self.x_words) for _ in range(self.parallelism)]
        baked = self._baked_spectra()
        w_banks = [BankedMemory(shape=word, depth=self.p * self.x_words, init=baked[lane])
                   for lane in range(self.parallelism)]
        for lane, (x_bank, w_bank) in enumerate(zip(x_banks, w_banks)):
            m.submodules[f"x_bank{lane}"], m.submodules[f"w_bank{lane}"] = x_bank, w_bank
        x_full = Array([Signal(name="x_full0"), Signal(name="x_full1")])  # a bank holds a whole vector's spectra
        weights_loaded = self._load_weights(m, w_banks)
        self._write_spectra(m, spectrum.output, [bank.write for bank in x_banks], x_full)
        # Z banks: the MAC lands a block's Z in one while the inverse reads another; a block claims its bank
        # when its first address issues, so nothing after the issue ever waits.
        z_banks = [self._z_bank(number) for number in range(self.z_bank_count)]
        z_full = Array(Signal(name=f"z_full{number}") for number in range(self.z_bank_count))
        z_freed = Signal()  # the feed reads a bank's last word: the bank is free
        self._multiply_accumulate(m, x_banks, w_banks, x_full, weights_loaded, z_banks, z_full, z_freed)
        self._feed_inverse(m, inverse.load, z_banks, z_full, z_freed)
        return m

    @property
    def p(self) -> int:
        return self.n_out // self.k

    @property
    def q(self) -> int:
        return self.n_in // self.k

    @property
    def x_words(self) -> int:
        """Words per lane of one vector's spectra (and of one output block's weights): ``groups · q``."""
        return self.groups * self.q

    def _baked_spectra(self) -> list[list[dict]]:
        """Each lane's weight words when ``weights`` are baked (word ``(r·groups + g)·q + c``), else empty."""
        lanes = self.parallelism
        if self.weights is None:
            return [[] for _ in range(lanes)]
        re, im = spectrum_load_order(self.weights, FixedFormat(self.width, self.frac), lanes)
        return [[{"re": int(a), "im": int(b)} for a, b in zip(re[lane::lanes], im[lane::lanes])]
                for lane in range(lanes)]

    def _load_weights(self, m, w_banks):
        """Accept ``p · groups · q · parallelism`` weight words after reset; return "all in the memories"
        (a cycle after the last word is accepted: the banked memories register their writes). Baked
        weights are there from the start."""
        if self.weights is not None:
            return Const(1)
        lanes = self.parallelism
        loaded, lane, address = Signal(), Signal(range(lanes)), Signal(range(self.p * self.x_words))
        m.d.comb += self.w_in.ready.eq(~loaded)
        for number, bank in enumerate(w_banks):
            write = bank.write
            m.d.comb += [write.addr.eq(address), write.data.eq(self.w_in.payload),
                         write.en.eq(self.w_in.valid & ~loaded & (lane == number))]
        with m.If(self.w_in.valid & ~loaded):
            m.d.sync += lane.eq(wrapped_increment(lane, lanes))
            with m.If(lane == lanes - 1):
                m.d.sync += address.eq(address + 1)
                with m.If(address == self.p * self.x_words - 1):
                    m.d.sync += loaded.eq(1)
        return delay(m, loaded, 1, "weights_written")

    def _write_spectra(self, m, result, writes, x_full):
        """Forward bins in natural order -> bank ``bank``, lane ``b mod P``, word ``(b div P)·q + c``. The
        banked memories register address, data and enable (the lanes' RAMs spread over the device), so a
        bank is marked full one cycle after its last word is accepted."""
        k, lanes, q = self.k, self.parallelism, self.q
        word, lane, block, bank = Signal(range(k)), Signal(range(lanes)), Signal(range(q)), Signal()
        block_base = Signal(range(2 * self.x_words))  # bank·x_words + c
        address = Signal(range(2 * self.x_words))  # block_base + group·q
        m.d.comb += result.ready.eq(~x_full[bank])
        for number, write in enumerate(writes):
            m.d.comb += [write.addr.eq(address), write.data.eq(result.payload),
                         write.en.eq(result.valid & result.ready & (word < self.bins) & (lane == number))]
        filled, filled_bank = Signal(), Signal()  # a bank's last word is being written
        m.d.sync += filled.eq(0)
        with m.If(filled):
            m.d.sync += x_full[filled_bank].eq(1)
        with m.If(result.valid & result.ready):
            m.d.sync += [word.eq(word + 1), lane.eq(wrapped_increment(lane, lanes))]
            with m.If(lane == lanes - 1):
                m.d.sync += address.eq(address + q)
            with m.If(word == k - 1):
                next_base = Mux(block == q - 1, Mux(bank, 0, self.x_words), block_base + 1)
                m.d.sync += [lane.eq(0), block.eq(wrapped_increment(block, q)),
                             block_base.eq(next_base), address.eq(next_base)]
                with m.If(block == q - 1):
                    m.d.sync += [filled.eq(1), filled_bank.eq(bank), bank.eq(~bank)]

    @property
    def z_bank_count(self) -> int:
        return z_bank_count(self.n_in, self.n_out, self.k, self.parallelism)

    def _z_bank(self, number):
        """One block's ``Z`` as the inverse's input ``v[n]``, natural order: real and imaginary registers."""
        z_width = self.width + 2
        return ([Signal(signed(z_width), name=f"z{number}_v{n}_re") for n in range(self.k)],
                [Signal(signed(z_width + 1), name=f"z{number}_v{n}_im") for n in range(self.k)])

    def _multiply_accumulate(self, m, x_banks, w_banks, x_full, weights_loaded, z_banks, z_full, z_freed):
        """Issue ``(r, g, c)`` addresses one per cycle while a spectra bank is full and, at a block's
        first address, a ``Z`` bank is unclaimed; each lane's pipeline banked RAM read -> pre-adds ->
        three products -> X·W -> accumulate -> rounded -> saturated lands ``Z`` in the block's bank
        ``MAC_DRAIN`` cycles after a group's last address. The pipeline never holds: no clock enable."""
        k, lanes, groups, bins, q = self.k, self.parallelism, self.groups, self.bins, self.q
        bank_count = len(z_banks)
        bank, column, group, offset = Signal(), Signal(range(q)), Signal(range(groups)), Signal(range(self.x_words))
        block = Signal(range(self.p))
        w_address = Signal(range(self.p * self.x_words))
        # The issue decision sees registers only: "at a counter's last value" and "a Z bank is unclaimed" are
        # flags kept beside the counters, not comparisons of them, so the issue enable is two LUT levels deep.
        last_column, last_group, last_block = (Signal(init=size == 1, name=f"last_{name}") for name, size in
                                               (("column", q), ("group", groups), ("block", self.p)))
        block_start = Signal(init=1)  # column and group are both 0
        unclaimed = Signal(range(bank_count + 1), init=bank_count)  # Z banks no block has claimed
        any_unclaimed = Signal(init=1)  # unclaimed != 0
        issue = Signal()
        m.d.comb += issue.eq(x_full[bank] & weights_loaded & (~block_start | any_unclaimed))
        returned = delay(m, z_freed, 1, "z_returned")  # a register: the inverse's ready stays out of the count
        claimed = issue & block_start
        m.d.sync += unclaimed.eq(unclaimed - claimed + returned)
        with m.If(returned):
            m.d.sync += any_unclaimed.eq(1)
        with m.Elif(claimed):
            m.d.sync += any_unclaimed.eq(unclaimed != 1)
        with m.If(issue):
            m.d.sync += [column.eq(Mux(last_column, 0, column + 1)), last_column.eq(_next_is_last(column, q)),
                         offset.eq(Mux(last_column & last_group, 0, offset + 1)),
                         w_address.eq(Mux(last_column & last_group & last_block, 0, w_address + 1)),
                         block_start.eq(last_column & last_group)]
            with m.If(last_column):
                m.d.sync += [group.eq(Mux(last_group, 0, group + 1)), last_group.eq(_next_is_last(group, groups))]
                with m.If(last_group):
                    m.d.sync += [block.eq(Mux(last_block, 0, block + 1)), last_block.eq(_next_is_last(block, self.p))]
                    with m.If(last_block):
                        m.d.sync += [x_full[bank].eq(0), bank.eq(~bank)]

        # The tags reach the lanes one cycle ahead of the products: the memories' read latency, the DSP's two.
        tag_delay = READ_LATENCY + 2
        valid = [issue] + [Signal(name=f"mac{n}_valid") for n in range(1, tag_delay + 1)]
        first = [issue & (column == 0)] + [Signal(name=f"mac{n}_first") for n in range(1, tag_delay + 1)]
        m.d.sync += [b.eq(a) for a, b in zip(valid, valid[1:])] + [b.eq(a) for a, b in zip(first, first[1:])]
        # A group's Z reaches its registers MAC_DRAIN cycles after its last address; the bank and group it
        # lands in are decoded a cycle ahead into one register per (bank, group), the enable of its registers.
        lands_soon = delay(m, issue & last_column, MAC_DRAIN - 1, "lands_soon")
        group_soon = delay(m, group, MAC_DRAIN - 1, "group_soon")
        block_end_soon = delay(m, last_group, MAC_DRAIN - 1, "block_end_soon")
        lands, lands_block_end = delay(m, lands_soon, 1, "lands"), delay(m, block_end_soon, 1, "lands_block_end")
        z_bank = Signal(range(bank_count))  # the bank the MAC lands in
        next_z_bank = wrapped_increment(z_bank, bank_count)
        z_bank_then = Mux(lands & lands_block_end, next_z_bank, z_bank)  # the bank of the next landing
        landing = [[Signal(name=f"z{bank_number}_g{g}_landing") for g in range(groups)]
                   for bank_number in range(bank_count)]
        for bank_number, flags in enumerate(landing):
            m.d.sync += [flag.eq(lands_soon & (group_soon == g) & (z_bank_then == bank_number))
                         for g, flag in enumerate(flags)]
        for number, (x_bank, w_bank) in enumerate(zip(x_banks, w_banks)):
            m.d.comb += [x_bank.read.addr.eq(Mux(bank, self.x_words, 0) + offset), w_bank.read.addr.eq(w_address)]
            z_re, z_im, z_im_negated = self._lane(m, number, x_bank.read.data, w_bank.read.data, valid[-1],
                                                  first[-1])
            for b in range(number, bins, lanes):
                for bank_number, (v_re, v_im) in enumerate(z_banks):
                    with m.If(landing[bank_number][b // lanes]):
                        m.d.sync += [v_re[b].eq(z_re), v_im[b].eq(z_im_negated)]
                        if 0 < b < k // 2:
                            m.d.sync += [v_re[k - b].eq(z_re), v_im[k - b].eq(z_im)]
        with m.If(lands & lands_block_end):
            m.d.sync += [z_full[z_bank].eq(1), z_bank.eq(next_z_bank)]

    def _lane(self, m, number, x, w, valid, first):
        """One complex MAC lane on the banked memories' registered words (``valid`` and ``first`` one cycle
        ahead of the products); returns ``Z`` rounded and saturated, and ``-Z.im`` (for the conjugate bins), four cycles
        after the group's last accumulation, each from a register."""
        width, frac, q = self.width, self.frac, self.q
        # The three products, each on one DSP with its operand and product registers (pre-adds in the fabric).
        k1 = registered_product(m, x.re + x.im, w.re, f"l{number}_k1")
        k2 = registered_product(m, x.re, w.im - w.re, f"l{number}_k2")
        k3 = registered_product(m, x.im, w.re + w.im, f"l{number}_k3")
        product_re, product_im = (Signal(signed(2 * width + 5), name=f"l{number}_p{n}") for n in ("re", "im"))
        m.d.sync += [product_re.eq(k1 - k3), product_im.eq(k1 + k2)]
        # The lane's own copy of the accumulate tags, placed near its accumulators: ``keep`` stops synthesis
        # from folding the identical copies back into one register (accelgen/flows/synthesize.py KEEP_COPIES).
        valid_here, first_here = (Signal(name=f"l{number}_{n}", attrs={"keep": 1}) for n in ("valid", "first"))
        m.d.sync += [valid_here.eq(valid), first_here.eq(first)]
        acc_width = accumulator_width(width + 2, 2 * q) + 1
        acc_re, acc_im = (Signal(signed(acc_width), name=f"l{number}_acc_{n}") for n in ("re", "im"))
        with m.If(valid_here):
            m.d.sync += [acc_re.eq(Mux(first_here, 0, acc_re) + product_re),
                         acc_im.eq(Mux(first_here, 0, acc_im) + product_im)]
        rounded_re, rounded_im = (Signal(signed(acc_width - frac + 1), name=f"l{number}_r{n}") for n in ("re", "im"))
        z_re, z_im = (Signal(signed(width + 2), name=f"l{number}_z_{n}") for n in ("re", "im"))
        m.d.sync += [rounded_re.eq(round_shift(acc_re, frac)), rounded_im.eq(round_shift(acc_im, frac)),
                     z_re.eq(saturate(rounded_re, width + 2)), z_im.eq(saturate(rounded_im, width + 2))]
        z_im_negated = Signal(signed(width + 3), name=f"l{number}_z_im_negated")  # a stage of its own
        m.d.sync += z_im_negated.eq(-z_im)
        return delay(m, z_re, 1, f"l{number}_z_re_out"), delay(m, z_im, 1, f"l{number}_z_im_out"), z_im_negated

    def _feed_inverse(self, m, load, z_banks, z_full, z_freed):
        """Shift a full ``Z`` bank's Hermitian extension ``v`` out, bit-reversed, one word per cycle for a
        whole block, through a register, a LUT-RAM FIFO and a skid buffer into the inverse transform, and free
        the bank (``z_freed``) with its last shift.

        The bank's registers form a shift chain in bit-reversed order, so no wide read multiplexer sits
        between them and the FIFO, and the chain's enable is one register per bank. A block starts only when
        the FIFO has room for all its ``k`` words (counted in credits), so it then runs without a gap, and
        the inverse's ``ready`` stops at the skid buffer beside it."""
        k, bits, bank_count = self.k, log2(self.k), len(z_banks)
        order = [bit_reverse(n, bits) for n in range(k)]
        depth = k + FEED_SLACK
        m.submodules.feed = feed = LutRamFIFO(shape=Value.cast(load.payload).shape(), depth=depth)
        m.submodules.slice = slice_ = SkidBuffer(shape=Value.cast(load.payload).shape())
        wiring.connect(m, feed.output, slice_.input)
        m.d.comb += [load.valid.eq(slice_.output.valid), load.payload.eq(slice_.output.payload),
                     slice_.output.ready.eq(load.ready)]

        bank, current, word = Signal(range(bank_count)), Signal(range(bank_count)), Signal(range(k))
        shifting = [Signal(name=f"z{number}_shifting") for number in range(bank_count)]  # at most one high
        busy, finishing = Cat(*shifting).any(), Signal()
        credits = Signal(range(depth + 1), init=depth)  # FIFO words neither reserved nor seen leaving it
        start = Signal()  # bank ``bank`` starts shifting out: the next block, back to back with the last
        m.d.comb += [finishing.eq(busy & (word == k - 1)), z_freed.eq(finishing),
                     start.eq(z_full[bank] & (~busy | finishing) & (credits >= k))]
        left = delay(m, feed.output.valid & feed.output.ready, 1, "feed_left")  # a cycle late: never too many
        m.d.sync += credits.eq(credits - Mux(start, k, 0) + left)
        with m.If(busy):
            m.d.sync += word.eq(word + 1)
        with m.If(start):
            m.d.sync += [current.eq(bank), bank.eq(wrapped_increment(bank, bank_count))]
        for number, (flag, parts) in enumerate(zip(shifting, z_banks)):
            with m.If(flag):
                m.d.sync += [part[order[n]].eq(part[order[n + 1]]) for part in parts for n in range(k - 1)]
                with m.If(finishing):
                    m.d.sync += [flag.eq(0), z_full[number].eq(0)]
            with m.If(start & (bank == number)):
                m.d.sync += flag.eq(1)

        head = Signal.like(load.payload, name="feed_word")  # the shifting bank's first word, registered
        m.d.sync += [head.re.eq(Array(re[order[0]] for re, _ in z_banks)[current]),
                     head.im.eq(Array(im[order[0]] for _, im in z_banks)[current])]
        m.d.comb += [feed.input.payload.eq(head), feed.input.valid.eq(delay(m, busy, 1, "head_valid"))]
