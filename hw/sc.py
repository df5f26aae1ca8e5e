"""Stochastic-computing blocks and the ``sc-layer`` design (``models/sc.py`` is the bit-exact model).

The blocks are small clocked components with an ``enable`` (the cycle's
bits count only when it is high), so a stalled stream freezes them:

* :class:`SorterActivation` — bitonic sorter with feedback (accumulate-and-activate), and
  :class:`CounterActivation`, the same function with a popcount (the CMOS form);
* :class:`AveragePool` / :class:`MaxPool` — SC pooling;
* :func:`sng_bit`, :func:`majority_chain` and :func:`bitonic_sort` — combinational pieces.

Random words come from :func:`hw.common.lfsr.leap_lfsr` columns, seeded like the model.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from models.lfsr import seed_windows
from models.sc import (RANDOM_LFSR, check_order, conv_taps, feedback_bits, layer_seed, natural_order, neuron_inputs,
                       random_columns, sorter_size)

from .common.buffer import wrapped_increment
from .common.lfsr import leap_lfsr
from .common.popcount import popcount, popcount_stages

COUNT_LEVELS_PER_STAGE = 3  # sc-layer's counter form: adder levels of its popcount between registers

__all__ = ["AveragePool", "CounterActivation", "MaxPool", "SCAveragePool", "SCConvLayer", "SCLayer", "SCNet",
           "SCNeuronCycle", "SCStreamLayer", "SorterActivation", "bitonic_sort", "cnn_stages", "majority_chain",
           "mlp_stages",
           "neuron_cycle_vectors", "sng_bit", "sorter_step"]


def sng_bit(word, raw, bits: int):
    """Comparator SNG: ``word < raw + 2**(bits-1)`` (offset binary is two's complement with the sign flipped)."""
    return word < Cat(raw[:bits - 1], ~raw[bits - 1])


def majority_chain(m, bits: list, name: str = "chain"):
    """``MAJ(...MAJ(MAJ(b0, b1, b2), b3, b4)...)`` over an odd number of bits. Each majority drives its own
    signal (``name0``, ``name1``, …): as one expression the running value would appear twice per stage
    and the expression tree would double with every stage."""
    out = bits[0]
    for k, (a, b) in enumerate(zip(bits[1::2], bits[2::2])):
        stage = Signal(name=f"{name}{k}")
        m.d.comb += stage.eq((out & a) | (out & b) | (a & b))
        out = stage
    return out


def bitonic_sort(m, bits: list, name: str = "rank") -> list:
    """Batcher's bitonic network on ``2**k`` bits, descending (ones first). A compare-exchange of two
    bits is ``(a | b, a & b)``: ``k(k+1)/2`` levels of ``2**(k-1)`` AND/OR pairs, each level a named
    signal (so the Verilog stays one expression per gate)."""
    size = len(bits)
    assert size & (size - 1) == 0, f"a bitonic sorter needs a power-of-two width, not {size}"
    wires = list(bits)
    block, level = 2, 0
    while block <= size:
        span = block // 2
        while span:
            for i in range(size):
                partner = i ^ span
                if partner > i:
                    high, low = wires[i] | wires[partner], wires[i] & wires[partner]
                    descending = (i & block) == 0
                    wires[i], wires[partner] = (high, low) if descending else (low, high)
            stage = Signal(size, name=f"{name}_level{level}")
            m.d.comb += stage.eq(Cat(*wires))
            wires, level, span = [stage[i] for i in range(size)], level + 1, span // 2
        block *= 2
    return wires


class _Accumulator(wiring.Component):
    """The interface both accumulate-and-activate forms share (see :class:`SorterActivation`).

    Parameters
    ----------
    n : int
        Product bits per cycle (odd).

    Members
    -------
    products : In(n), enable : In(1), start : In(1), out : Out(1)
        As :class:`SorterActivation`.
    """

    def __init__(self, n: int, *, inputs=None):
        assert n % 2 == 1, f"the accumulator adds an odd number of products, not {n}"
        self.n, self.f = n, feedback_bits(n)
        super().__init__({**(inputs or {"products": In(n)}), "enable": In(1), "start": In(1), "out": Out(1)})


class SorterActivation(_Accumulator):
    """Accumulate-and-activate of one neuron: sorts ``n`` product bits with ``F`` fed-back bits.

    The whole sorter is in the feedback loop (``k(k+1)/2`` AND/OR levels for
    ``2**k`` inputs).

    Parameters
    ----------
    n : int
        Product bits per cycle (odd).

    Members
    -------
    products : In(n)
        This cycle's product bits.
    enable : In(1)
        This cycle's products count.
    start : In(1)
        First cycle of a vector: the feedback restarts at ``F // 2`` ones.
    out : Out(1)
        The registered output bit.

    Latency
    -------
    1 cycle.

    Throughput
    ----------
    One product vector per enabled cycle.
    """

    def elaborate(self, platform):
        m = Module()
        feedback = Signal(self.f, init=(1 << (self.f // 2)) - 1)
        restart = Const((1 << (self.f // 2)) - 1, self.f)
        output, feedback_next = sorter_step(m, self.products, Mux(self.start, restart, feedback))
        with m.If(self.enable):
            m.d.sync += [self.out.eq(output), feedback.eq(feedback_next)]
        return m


class CounterActivation(_Accumulator):
    """:class:`SorterActivation`'s function, bit for bit, as CMOS would build it.

    The ``n`` product bits are counted by an adder tree and the residual kept
    as a count ``r`` in ``[0, F]``: output ``[ones + r > (n + F) // 2]``, next
    ``r = clamp(ones + r - out - (n-1)/2, 0, F)``.

    Parameters
    ----------
    n : int
        Product bits per cycle (odd).
    counted : bool
        The count is made upstream (a pipelined :func:`popcount`) and arrives as ``loop``
        (:meth:`loop_inputs`) instead of ``products``. Then ``out = [r > above]`` and both candidates
        ``clamp(r + step_o, 0, F)`` for ``o`` = 0, 1 (``step_1 = step_0 - 1``; the upper clamp decided by
        ``r > limit_o = F - step_o``) are computed side by side: the loop is one carry chain and a mux deep.

    Members
    -------
    products : In(n), enable : In(1), start : In(1), out : Out(1)
        As :class:`SorterActivation`.
    loop : In(:func:`loop_layout` (n))
        With ``counted``, in place of ``products``.

    Latency
    -------
    1 cycle.

    Throughput
    ----------
    One product vector per enabled cycle.
    """

    def __init__(self, n: int, *, counted: bool = False):
        self.counted = counted
        super().__init__(n, inputs={"loop": In(loop_layout(n))} if counted else None)

    @staticmethod
    def loop_inputs(ones, n: int) -> dict:
        """The loop's inputs for a count of ``ones`` among ``n`` products (field → expression): ``above``
        ``= (n + F) // 2 - ones`` (the output is 1 when the residual exceeds it), ``step0 = ones - (n - 1) // 2``
        and ``step1 = step0 - 1`` (what the residual gains for output 0 and 1), ``limit0/1 = F - step0/1``."""
        f = feedback_bits(n)
        step0 = ones - (n - 1) // 2
        return {"above": (n + f) // 2 - ones, "step0": step0, "step1": step0 - 1, "limit0": f - step0,
                "limit1": f - step0 + 1}

    def elaborate(self, platform):
        m = Module()
        n, f = self.n, self.f
        residual = Signal(range(f + 1), init=f // 2)
        r = Mux(self.start, f // 2, residual)
        loop = self.loop if self.counted else self.loop_inputs(popcount(m, [self.products[i] for i in range(n)]), n)
        output = r > loop["above"]  # unsigned against signed: Amaranth compares the values
        candidates = []
        for o in (0, 1):
            gained = Signal(signed(len(r) + len(Value.cast(loop[f"step{o}"])) + 1), name=f"gained{o}")
            m.d.comb += gained.eq(r + loop[f"step{o}"])
            candidates.append(Mux(r > loop[f"limit{o}"], f, Mux(gained < 0, 0, gained)))
        with m.If(self.enable):
            m.d.sync += [self.out.eq(output), residual.eq(Mux(output, candidates[1], candidates[0]))]
        return m


def loop_layout(n: int) -> data.StructLayout:
    """:class:`CounterActivation`'s ``loop`` input: the fields of :meth:`CounterActivation.loop_inputs`."""
    word = signed(n.bit_length() + 3)
    return data.StructLayout({name: word for name in ("above", "step0", "step1", "limit0", "limit1")})


def sorter_step(m, products, feedback):
    """One cycle of accumulate-and-activate (combinational): ``n`` product bits and ``F`` feedback bits
    through the bitonic sorter; returns the output bit and the next feedback (``models.sc.sorter_activate``)."""
    n, f = len(products), len(feedback)
    ranked = Cat(*bitonic_sort(m, [products[i] for i in range(n)] + [feedback[i] for i in range(f)]))
    assert len(ranked) == sorter_size(n) and f == feedback_bits(n)
    output, tail = ranked[(n + f) // 2], (n - 1) // 2
    return output, Mux(output, ranked[tail + 1:tail + 1 + f], ranked[tail:tail + f])


def neuron_cycle_vectors(x, w, b: int, words, bits: int, *, stream_bits=None) -> list[dict[str, int]]:
    """:class:`SCNeuronCycle`'s input bits (``words[i]``, ``x[i]``, …, ``parity``) for each row of ``words``
    (steps × the neuron's random columns), with raw ``x``, ``w`` (``n_in`` each) and ``b``; or, for a
    ``streams`` neuron, ``stream_bits`` (steps × ``n_in``) on ``a`` in place of ``x``: the vectors an AQFP
    netlist of the neuron is simulated with (``models.aqfp.run_feedback_streams``)."""
    def port(name, values):
        word = sum((int(v) & ((1 << bits) - 1)) << (bits * i) for i, v in enumerate(values))
        return {f"{name}[{i}]": (word >> i) & 1 for i in range(bits * len(values))}
    fixed = {**port("w", w), **port("b", [b]), **(port("x", x) if stream_bits is None else {})}
    vectors = [{**port("words", row), **fixed, "parity": step % 2} for step, row in enumerate(words)]
    for vector, row in zip(vectors, [] if stream_bits is None else stream_bits):
        vector.update({f"a[{i}]": int(bit) for i, bit in enumerate(row)})
    return vectors


class SCNeuronCycle(wiring.Component):
    """One neuron's logic for one stream cycle, combinational: the circuit ``aqfp map`` prices in JJ.

    SNGs, XNORs and the adder — :func:`sorter_step` or :func:`majority_chain` — as in :class:`SCLayer`,
    or, with ``streams``, as in :class:`SCStreamLayer` (input bits in, no input SNGs).

    Parameters
    ----------
    n_in : int
        Inputs of the neuron.
    bits : int
        SNG precision.
    adder : str
        ``"sorter"`` (with the feedback ports) or ``"majority"`` (no feedback: the chain has no state).
    streams : bool
        The inputs are stream bits (``a``) rather than words (``x``).

    Members
    -------
    words : In((2·n_in + 1) · bits), with ``streams`` In((n_in + 1) · bits)
        This cycle's random words: the inputs' (words only), the weights', the bias's.
    x : In(n_in · bits)
        The inputs, ``n_in`` signed words (words only).
    a : In(n_in)
        This cycle's input stream bits (``streams`` only).
    w : In(n_in · bits)
        The weights, ``n_in`` signed words.
    b : In(bits)
        The bias.
    parity : In(1)
        The alternating stream's bit.
    feedback : In(F)
        The fed-back bits (sorter only).
    out : Out(1), feedback_next : Out(F)
        The output bit and the next feedback (sorter only).

    Latency
    -------
    0 cycles (combinational; in AQFP its depth in phases is the mapped netlist's).

    Throughput
    ----------
    One stream cycle per evaluation.
    """

    def __init__(self, *, n_in: int, bits: int, adder: str = "sorter", streams: bool = False):
        self.n_in, self.bits, self.adder, self.streams = n_in, bits, adder, streams
        self.f = feedback_bits(neuron_inputs(n_in))
        self.columns = n_in + 1 if streams else random_columns(n_in)
        inputs = {"a": In(n_in)} if streams else {"x": In(n_in * bits)}
        ports = {"words": In(self.columns * bits), **inputs, "w": In(n_in * bits), "b": In(bits),
                 "parity": In(1), "out": Out(1)}
        if adder == "sorter":
            ports.update(feedback=In(self.f), feedback_next=Out(self.f))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        n_in, bits = self.n_in, self.bits
        word = [self.words[c * bits:(c + 1) * bits] for c in range(self.columns)]
        if self.streams:
            in_bits = [self.a[i] for i in range(n_in)]
        else:
            in_bits = [sng_bit(word[i], self.x[i * bits:(i + 1) * bits], bits) for i in range(n_in)]
            word = word[n_in:]
        weight = [self.w[i * bits:(i + 1) * bits] for i in range(n_in)]
        products = [~(in_bits[i] ^ sng_bit(word[i], weight[i], bits)) for i in range(n_in)]
        products.append(sng_bit(word[n_in], self.b, bits))
        if neuron_inputs(n_in) > n_in + 1:
            products.append(self.parity)
        if self.adder == "majority":
            m.d.comb += self.out.eq(majority_chain(m, products))
            return m
        row = Signal(len(products))
        m.d.comb += row.eq(Cat(*products))
        output, feedback_next = sorter_step(m, row, self.feedback)
        m.d.comb += [self.out.eq(output), self.feedback_next.eq(feedback_next)]
        return m


class AveragePool(wiring.Component):
    """SC average pooling of ``2**k`` streams.

    Each enabled cycle passes the stream picked by a random ``k``-bit word (its
    own LFSR column from ``seed``), so the output's value is the mean.

    Parameters
    ----------
    k : int
        log2 of the number of streams.
    seed : int
        Seed of the selecting LFSR column.

    Members
    -------
    streams : In(2**k)
    enable : In(1)
    out : Out(1)
        Registered.

    Latency
    -------
    1 cycle.

    Throughput
    ----------
    One bit per enabled cycle.
    """

    def __init__(self, k: int, seed: int):
        self.k, self.seed = k, seed
        super().__init__({"streams": In(1 << k), "enable": In(1), "out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        select = leap_lfsr(m, seed_windows(RANDOM_LFSR, 1, self.seed)[:, 0], self.k, self.enable, name="select")
        with m.If(self.enable):
            m.d.sync += self.out.eq(self.streams.bit_select(select, 1))
        return m


class MaxPool(wiring.Component):
    """SC max pooling of ``k`` streams.

    During each ``segment`` of enabled cycles it passes the stream that had the
    most ones in the previous segment (lowest index on a tie; stream 0 first):
    one counter of ``bits(segment)`` bits per stream and a comparator tree at
    the segment's end.

    Parameters
    ----------
    k : int
        Number of streams.
    segment : int
        Enabled cycles per segment.

    Members
    -------
    streams : In(k)
    enable : In(1)
    out : Out(1)
        Registered.

    Latency
    -------
    1 cycle.

    Throughput
    ----------
    One bit per enabled cycle.
    """

    def __init__(self, k: int, segment: int):
        self.k, self.segment = k, segment
        super().__init__({"streams": In(k), "enable": In(1), "out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        width = self.segment.bit_length()
        counts = [Signal(width, name=f"count{i}") for i in range(self.k)]
        chosen = Signal(range(self.k))
        tick = Signal(range(self.segment))
        with m.If(self.enable):
            m.d.sync += self.out.eq(self.streams.bit_select(chosen, 1))
            last = tick == self.segment - 1
            m.d.sync += tick.eq(Mux(last, 0, tick + 1))
            totals = [count + self.streams[i] for i, count in enumerate(counts)]
            with m.If(last):
                m.d.sync += [count.eq(0) for count in counts]
                m.d.sync += chosen.eq(self._argmax(m, totals))
            with m.Else():
                m.d.sync += [count.eq(total) for count, total in zip(counts, totals)]
        return m

    def _argmax(self, m, totals):
        """Index of the largest total, the lowest on a tie (a linear scan: ``k`` compare-selects)."""
        best, index = totals[0], Const(0, range(self.k))
        for i, total in enumerate(totals[1:], 1):
            better = total > best
            best, index = Mux(better, total, best), Mux(better, i, index)
        return index


class SCLayer(wiring.Component):
    """``sc-layer``: a fully connected SC layer, ``n_out`` neurons over ``n_in`` bipolar inputs.

    Per cycle: ``2·n_in + 1`` random words (``leap_lfsr`` columns), SNGs for
    ``x``, ``w`` and ``b``, XNOR products (plus an alternating zero-valued
    stream when ``n_in + 1`` is even) registered, then each neuron's adder —
    :class:`SorterActivation`, :class:`CounterActivation` or a majority chain —
    into ``y_out``.

    Parameters
    ----------
    n_in, n_out : int
        Inputs per neuron, neurons.
    length : int
        Stream length ``L``: output words per input vector.
    bits : int
        SNG precision; ``x``, ``w``, ``b`` are signed ``bits``-bit values in [-1, 1).
    seed : int
        Seed of the random LFSR columns.
    adder : str
        ``"sorter"``, ``"counter"`` or ``"majority"``.
    order : array-like or None
        Each neuron's adder inputs from first to last (``models.sc.check_order``; ``None``: natural order).
        Wiring only; only the majority chain's result depends on it.

    Members
    -------
    w_in : In(stream.Signature(signed(bits)))
        The ``n_out × n_in`` weights row by row, then the ``n_out`` biases; taken once after reset.
    x_in : In(stream.Signature(signed(bits)))
        ``n_in`` words per input vector.
    y_out : Out(stream.Signature(n_out))
        ``length`` words per vector; bit ``j`` is neuron ``j``'s output stream (its value
        ``2·ones/length - 1``).

    Latency
    -------
    A vector's first output word 3 cycles after its last ``x`` word; the counter form adds its
    popcount's register stages (:func:`popcount_stages` of ``neuron_inputs(n_in)`` bits, a register every
    :data:`COUNT_LEVELS_PER_STAGE` adder levels), so only the residual update is left in its loop.

    Throughput
    ----------
    One output word per cycle while running; a vector costs ``n_in + length`` cycles (loading ``x`` is
    not overlapped with the previous vector's stream).
    """

    def __init__(self, *, n_in, n_out, length, bits, seed, adder, order=None):
        self.n_in, self.n_out, self.length, self.bits, self.seed, self.adder = n_in, n_out, length, bits, seed, adder
        self.fan_in = self._fan_in()
        order = natural_order(self.fan_in, n_out) if order is None else check_order(order, self.fan_in, n_out)
        self.order = tuple(tuple(int(i) for i in row) for row in order)
        super().__init__({"w_in": In(stream.Signature(signed(bits))), **self._input_port(),
                          "y_out": Out(stream.Signature(n_out))})

    def _input_port(self) -> dict:
        """The data input: ``n_in`` words per vector."""
        return {"x_in": In(stream.Signature(signed(self.bits)))}

    def _fan_in(self) -> int:
        """Products per neuron."""
        return self.n_in

    def _weight_count(self) -> int:
        """Words ``w_in`` takes: the weights, then the biases."""
        return self.n_out * (self.n_in + 1)

    def _random_columns(self) -> int:
        """Random words per cycle: the inputs' SNGs, then what :meth:`_rows` takes."""
        return random_columns(self.n_in)

    def _rows(self, weights, in_bits, words) -> list[list]:
        """Each neuron's product bits, then its bias bit: XNORs of ``in_bits`` with the weights' SNGs
        (``words``: one per weight column, shared by the neurons, then the biases')."""
        n_in, n_out, bits = self.n_in, self.n_out, self.bits
        return [[~(in_bits[i] ^ sng_bit(words[i], weights[j * n_in + i], bits)) for i in range(n_in)]
                + [sng_bit(words[n_in], weights[n_out * n_in + j], bits)] for j in range(n_out)]

    def elaborate(self, platform):
        m = Module()
        weights, w_loaded = self._load_weights(m)
        x = self._shift_chain(m, self.x_in, self.n_in, "x")

        running, t = Signal(), Signal(range(self.length))
        x_count = Signal(range(self.n_in))
        advance = Signal()
        m.d.comb += advance.eq(~self.y_out.valid | self.y_out.ready)
        m.d.comb += self.x_in.ready.eq(w_loaded & ~running)
        with m.If(self.x_in.valid & self.x_in.ready):
            last_word = x_count == self.n_in - 1
            m.d.sync += [x_count.eq(Mux(last_word, 0, x_count + 1)), running.eq(last_word)]
        issue = running & advance
        with m.If(issue):
            m.d.sync += t.eq(wrapped_increment(t, self.length))
            with m.If(t == self.length - 1):
                m.d.sync += running.eq(0)

        n_in, bits = self.n_in, self.bits
        columns = self._random_columns()
        windows = seed_windows(RANDOM_LFSR, columns, self.seed)
        words = [leap_lfsr(m, windows[:, c], bits, issue, name=f"random{c}") for c in range(columns)]
        x_bits = [sng_bit(words[i], x[i], bits) for i in range(n_in)]
        rows = self._rows(weights, x_bits, words[n_in:])
        products, first, valid = self._products(m, rows, t, issue, advance)
        self._outputs(m, products, first, valid, advance)
        return m

    def _load_weights(self, m):
        """The weight registers, filled once after reset by ``w_in``, and whether they are full."""
        n_weights = self._weight_count()
        w_taken = Signal(range(n_weights + 1))
        w_loaded = w_taken == n_weights
        m.d.comb += self.w_in.ready.eq(~w_loaded)
        with m.If(self.w_in.valid & self.w_in.ready):
            m.d.sync += w_taken.eq(w_taken + 1)
        return self._shift_chain(m, self.w_in, n_weights, "w"), w_loaded

    def _outputs(self, m, products, first, valid, advance):
        """The adders (after the counter form's popcount stages) into ``y_out``, one word per valid cycle."""
        if self.adder == "counter":
            products, first, valid = self._count(m, products, first, valid, advance)
        with m.If(self.y_out.ready):
            m.d.sync += self.y_out.valid.eq(0)
        with m.If(advance):
            m.d.sync += self.y_out.valid.eq(valid)
        for j in range(self.n_out):
            bit = self._adder(m, products[j], first, valid & advance, j)
            m.d.comb += self.y_out.payload[j].eq(bit)

    def _shift_chain(self, m, port, count, name):
        """``count`` registers filled through a shift chain by ``port``'s transfers (word 0 ends in register 0)."""
        chain = [Signal(signed(self.bits), name=f"{name}{i}") for i in range(count)]
        with m.If(port.valid & port.ready):
            m.d.sync += [chain[i].eq(chain[i + 1]) for i in range(count - 1)]
            m.d.sync += chain[-1].eq(port.payload)
        return chain

    def _products(self, m, rows, t, issue, advance):
        """Register stage 1: each neuron's ``rows`` (products, bias) and the padding stream when the count is
        even, in its ``order``; returns per-neuron product bits, the ``first`` and ``valid`` flags."""
        width = neuron_inputs(self.fan_in)
        products = [Signal(width, name=f"products{j}") for j in range(self.n_out)]
        first, valid = Signal(), Signal()
        with m.If(advance):
            m.d.sync += valid.eq(issue)
        with m.If(issue):
            m.d.sync += first.eq(t == 0)
            for j, row in enumerate(rows):
                row = row + ([t[0]] if width > self.fan_in + 1 else [])
                m.d.sync += products[j].eq(Cat(*(row[i] for i in self.order[j])))
        return products, first, valid

    def _count(self, m, products, first, valid, advance):
        """Register stages 2 … 2 + S of the counter form: each neuron's ones counted by a popcount with a
        register every :data:`COUNT_LEVELS_PER_STAGE` adder levels, then its accumulator's ``above`` and
        ``step`` registered (:meth:`CounterActivation.loop_inputs`); ``first`` and ``valid`` delayed alike."""
        n = len(products[0])
        loop_inputs = []
        for j, row in enumerate(products):
            ones = popcount(m, [row[i] for i in range(n)], advance=advance, levels_per_stage=COUNT_LEVELS_PER_STAGE,
                            name=f"ones{j}_")
            loop = Signal(loop_layout(n), name=f"loop{j}")
            with m.If(advance):
                m.d.sync += [loop[name].eq(value) for name, value in CounterActivation.loop_inputs(ones, n).items()]
            loop_inputs.append(loop)
        for stage in range(popcount_stages(n, COUNT_LEVELS_PER_STAGE) + 1):
            first_next, valid_next = Signal(name=f"first_s{stage}"), Signal(name=f"valid_s{stage}")
            with m.If(advance):
                m.d.sync += [first_next.eq(first), valid_next.eq(valid)]
            first, valid = first_next, valid_next
        return loop_inputs, first, valid

    def _adder(self, m, products, first, enable, j):
        """Neuron ``j``'s output bit (registered): sorter with feedback, its counter form, or a majority chain."""
        if self.adder == "majority":
            out = Signal(name=f"majority{j}")
            with m.If(enable):
                m.d.sync += out.eq(majority_chain(m, [products[i] for i in range(len(products))], f"chain{j}_"))
            return out
        if self.adder == "counter":
            m.submodules[f"counter{j}"] = sorter = CounterActivation(neuron_inputs(self.fan_in), counted=True)
            m.d.comb += sorter.loop.eq(products)
        else:
            m.submodules[f"sorter{j}"] = sorter = SorterActivation(len(products))
            m.d.comb += sorter.products.eq(products)
        m.d.comb += [sorter.enable.eq(enable), sorter.start.eq(first)]
        return sorter.out


class SCStreamLayer(SCLayer):
    """A fully connected SC layer on stream inputs: ``n_out`` neurons over the ``n_in`` output streams of
    the layer before it (no SNG between layers, the streams are already stochastic).

    Per accepted input word (one bit of each input stream): ``n_in + 1`` random words (``leap_lfsr``
    columns from ``seed``: one per weight column, one for the biases), the weights' SNGs, XNOR products
    registered, then each neuron's adder, as :class:`SCLayer`; every ``length`` words a new vector starts
    (the adders' ``start``).

    Parameters
    ----------
    n_in, n_out, length, bits, seed, adder, order
        As :class:`SCLayer`.

    Members
    -------
    w_in : In(stream.Signature(signed(bits)))
        The ``n_out × n_in`` weights row by row, then the ``n_out`` biases; taken once after reset.
    a_in : In(stream.Signature(n_in))
        One bit of each input stream per word, ``length`` words per vector.
    y_out : Out(stream.Signature(n_out))
        One word per input word; bit ``j`` is neuron ``j``'s output stream.

    Latency
    -------
    2 cycles from an input word to its output word (the counter form adds its popcount's stages).

    Throughput
    ----------
    One word per cycle.
    """

    def _input_port(self) -> dict:
        return {"a_in": In(stream.Signature(self.n_in))}

    def elaborate(self, platform):
        m = Module()
        weights, w_loaded = self._load_weights(m)
        advance, t = Signal(), Signal(range(self.length))
        m.d.comb += [advance.eq(~self.y_out.valid | self.y_out.ready), self.a_in.ready.eq(w_loaded & advance)]
        issue = self.a_in.valid & self.a_in.ready
        with m.If(issue):
            m.d.sync += t.eq(wrapped_increment(t, self.length))
        windows = seed_windows(RANDOM_LFSR, self.n_in + 1, self.seed)
        words = [leap_lfsr(m, windows[:, c], self.bits, issue, name=f"random{c}") for c in range(self.n_in + 1)]
        in_bits = [self.a_in.payload[i] for i in range(self.n_in)]
        products, first, valid = self._products(m, self._rows(weights, in_bits, words), t, issue, advance)
        self._outputs(m, products, first, valid, advance)
        return m


class SCConvLayer(SCLayer):
    """An SC convolution layer (valid, stride 1) on input words: one neuron per output channel and position,
    ``c_out·out²`` in ``(o, y, x)`` order, each over its window's ``kernel²·c_in`` products.

    Per cycle: one random word per input pixel (its SNG), one per kernel tap ``(u, v, i)`` — that tap's
    weights' SNGs, one per output channel, shared by every position — and one for the biases; XNORs of the
    window's pixel bits with the tap bits, registered, then each neuron's adder, as :class:`SCLayer`.

    Parameters
    ----------
    c_in, size : int
        Input channels and image side.
    c_out, kernel : int
        Output channels and kernel side.
    length, bits, seed, adder
        As :class:`SCLayer`.

    Members
    -------
    w_in : In(stream.Signature(signed(bits)))
        The kernels as ``models.conv.dense_matrix`` rows (taps ``(u, v, i)``), then the ``c_out`` biases.
    x_in : In(stream.Signature(signed(bits)))
        ``c_in·size²`` words per image, ``(i, y, x)`` order.
    y_out : Out(stream.Signature(c_out·out²))
        ``length`` words per image.

    Latency
    -------
    As :class:`SCLayer` with ``n_in = c_in·size²``: the first output word 3 cycles after the image's last word.

    Throughput
    ----------
    ``c_in·size² + length`` cycles per image.
    """

    def __init__(self, *, c_in, size, c_out, kernel, length, bits, seed, adder):
        self.c_in, self.size, self.c_out, self.kernel = c_in, size, c_out, kernel
        self.taps = conv_taps(c_in, size, kernel)
        super().__init__(n_in=c_in * size * size, n_out=c_out * len(self.taps), length=length, bits=bits,
                         seed=seed, adder=adder)

    def _fan_in(self) -> int:
        return self.kernel * self.kernel * self.c_in

    def _weight_count(self) -> int:
        return self.c_out * (self.fan_in + 1)

    def _random_columns(self) -> int:
        return self.n_in + self.fan_in + 1

    def _rows(self, weights, in_bits, words) -> list[list]:
        taps, bits = self.fan_in, self.bits
        tap_bits = [[sng_bit(words[t], weights[o * taps + t], bits) for t in range(taps)] for o in range(self.c_out)]
        bias_bits = [sng_bit(words[taps], weights[self.c_out * taps + o], bits) for o in range(self.c_out)]
        return [[~(in_bits[int(pixel)] ^ tap_bits[o][t]) for t, pixel in enumerate(window)] + [bias_bits[o]]
                for o in range(self.c_out) for window in self.taps]


class SCAveragePool(wiring.Component):
    """SC 2×2 average pooling, stride 2, on streams: ``channels × size × size`` stream bits per word in,
    ``channels × (size/2)²`` out. Each word one 2-bit random word ``s`` (a ``leap_lfsr`` column from
    ``seed``, shared by every window) passes corner ``(s >> 1, s & 1)`` of each window
    (``models.sc.sc_pool``).

    Parameters
    ----------
    channels, size : int
        Feature maps in, and their side (even).
    seed : int
        Seed of the select word's LFSR column.

    Members
    -------
    a_in : In(stream.Signature(channels·size²))
    y_out : Out(stream.Signature(channels·(size/2)²)), registered.

    Latency
    -------
    1 cycle.

    Throughput
    ----------
    One word per cycle.
    """

    def __init__(self, *, channels, size, seed):
        self.channels, self.size, self.seed = channels, size, seed
        super().__init__({"a_in": In(stream.Signature(channels * size * size)),
                          "y_out": Out(stream.Signature(channels * (size // 2) ** 2))})

    def elaborate(self, platform):
        m = Module()
        advance = ~self.y_out.valid | self.y_out.ready
        issue = self.a_in.valid & advance
        m.d.comb += self.a_in.ready.eq(advance)
        select = leap_lfsr(m, seed_windows(RANDOM_LFSR, 1, self.seed)[:, 0], 2, issue, name="select")
        size, half = self.size, self.size // 2
        chosen = []
        for c in range(self.channels):
            for y in range(half):
                for x in range(half):
                    corner = [self.a_in.payload[c * size * size + (2 * y + dy) * size + 2 * x + dx]
                              for dy in (0, 1) for dx in (0, 1)]
                    chosen.append(Mux(select[1], Mux(select[0], corner[3], corner[2]),
                                      Mux(select[0], corner[1], corner[0])))
        with m.If(advance):
            m.d.sync += self.y_out.valid.eq(self.a_in.valid)
        with m.If(issue):
            m.d.sync += self.y_out.payload.eq(Cat(*chosen))
        return m


class SCNet(wiring.Component):
    """``sc-net`` and ``sc-cnn``: SC stages in a chain — the first on the input words (:class:`SCLayer` or
    :class:`SCConvLayer`), each later one (:class:`SCStreamLayer`, :class:`SCAveragePool`) on the previous
    stage's output streams.

    Parameters
    ----------
    stages : list of (class, dict)
        Each stage's component class and its keyword arguments, in order (:func:`mlp_stages`,
        :func:`cnn_stages`); the first has ``x_in``, the rest ``a_in``; those with ``w_in`` take weights.
        The stages are built when the network is elaborated.
    bits : int
        Width of the ``w_in`` and ``x_in`` words.
    outputs : int
        Bits of the last stage's output word.

    Members
    -------
    w_in : In(stream.Signature(signed(bits)))
        Every weighted stage's ``w_in`` words in turn, first stage first (``models.sc.net_weight_words``);
        taken once after reset.
    x_in : In(stream.Signature(signed(bits)))
        The first stage's input words.
    y_out : Out(stream.Signature(n))
        The last stage's output words, ``length`` per vector.

    Latency
    -------
    The first stage's plus 2 cycles per later layer and 1 per pooling stage (plus the counter form's stages).

    Throughput
    ----------
    As the first stage: ``n_in + length`` cycles per vector; the later stages keep up one word per cycle.
    """

    def __init__(self, stages, *, bits: int, outputs: int):
        self.stages = tuple((kind, dict(kwargs)) for kind, kwargs in stages)
        super().__init__({
            "w_in": In(stream.Signature(signed(bits))),
            "x_in": In(stream.Signature(signed(bits))),
            "y_out": Out(stream.Signature(outputs)),
        })

    def elaborate(self, platform):
        m = Module()
        stages = [kind(**kwargs) for kind, kwargs in self.stages]
        for k, stage in enumerate(stages):
            m.submodules[f"stage{k}"] = stage
        wiring.connect(m, wiring.flipped(self.x_in), stages[0].x_in)
        for before, after in zip(stages, stages[1:]):
            wiring.connect(m, before.y_out, after.a_in)
        wiring.connect(m, stages[-1].y_out, wiring.flipped(self.y_out))
        # Weights go to the first stage that still takes them (each takes its own count, then drops ready).
        taken = Const(0)
        for stage in (stage for stage in stages if hasattr(stage, "w_in")):
            m.d.comb += [stage.w_in.payload.eq(self.w_in.payload), stage.w_in.valid.eq(self.w_in.valid & ~taken)]
            taken = taken | stage.w_in.ready
        m.d.comb += self.w_in.ready.eq(taken)
        return m


def mlp_stages(*, sizes, length, bits, seed, adder) -> list:
    """``sc-net``'s stages for :class:`SCNet`: an :class:`SCLayer`, then :class:`SCStreamLayer` s; layer k
    seeded ``models.sc.layer_seed(seed, k)``."""
    return [(SCLayer if k == 0 else SCStreamLayer,
             {"n_in": n_in, "n_out": n_out, "length": length, "bits": bits, "seed": layer_seed(seed, k),
              "adder": adder})
            for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))]


def cnn_stages(*, c_in, size, channels, kernel, classes, length, bits, seed, adder) -> list:
    """``sc-cnn``'s stages for :class:`SCNet` (``models.sc.sc_cnn``): :class:`SCConvLayer`,
    :class:`SCAveragePool`, then an :class:`SCStreamLayer` to ``classes``; stage k seeded
    ``models.sc.layer_seed(seed, k)``."""
    out = size - kernel + 1
    run = {"length": length, "bits": bits, "adder": adder}
    return [(SCConvLayer, {"c_in": c_in, "size": size, "c_out": channels, "kernel": kernel,
                           "seed": layer_seed(seed, 0), **run}),
            (SCAveragePool, {"channels": channels, "size": out, "seed": layer_seed(seed, 1)}),
            (SCStreamLayer, {"n_in": channels * (out // 2) ** 2, "n_out": classes, "seed": layer_seed(seed, 2),
                             **run})]
