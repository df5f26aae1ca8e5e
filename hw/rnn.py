"""``circulant-lstm`` / ``circulant-gru``: recurrent cells whose gate matrix is block-circulant (C-LSTM / E-RNN)."""

import operator

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import FixedFormat
from models.pwl import SIGMOID, TANH

from .circulant import CirculantFC
from .common.buffer import LutRamFIFO
from .common.dsp import registered_product
from .common.fixed import complex_layout, delay, round_shift, saturate
from .common.memory import simple_ram
from .pwl import PWL_LATENCY, pwl_pipeline

__all__ = ["CirculantRNN", "GateActivation", "ElementUpdate", "ELEMENT_LATENCY"]

CELLS = ("lstm", "gru")
# Registers from an element's issue to its h: operands, products, rounded products, the cell sum, the tanh
# pipeline, the output product, its rounding, the saturated h.
ELEMENT_LATENCY = PWL_LATENCY + 8
# h words in flight (pipeline and output FIFO) at most: issue → FIFO → h_out → credit back takes
# ELEMENT_LATENCY + 4 cycles, so an always-ready h_out takes one word per cycle.
OUTPUT_CREDITS = 1 << (ELEMENT_LATENCY + 4 - 1).bit_length()  # the power of two >= ELEMENT_LATENCY + 4


class CirculantRNN(wiring.Component):
    """One LSTM or GRU layer, time step after time step, bit-exact with ``models/rnn.py``.

    A :class:`CirculantFC` of ``4H × (n_in + H)`` computes the four gate rows
    from ``[x_t; h_{t−1}]``; as they stream out the bias is added and the
    gate's PWL activation applied (LSTM: σ for i, f, o and tanh for g; GRU: σ
    for r, z, none for n_x, n_h) in a ``3 + PWL_LATENCY``-stage pipeline, and
    each gate row lands in its own buffer. An element-wise pipeline then
    takes one hidden element per cycle and computes the new state and
    ``h_t`` (``ELEMENT_LATENCY = PWL_LATENCY + 8`` registers: operands,
    products, rounded products, the cell sum, the tanh pipeline, the output
    product's operands and product, its rounding, the saturated ``h``; every
    product a DSP with input and output registers, no add after a rounding in
    the same cycle): LSTM
    ``c' = sat(rnd(f·c) + rnd(i·g))``, ``h = sat(rnd(o·tanh(c')))``; GRU
    ``n = tanh(sat(n_x + rnd(r·n_h)))``, ``h = sat(rnd((1 − z)·n) + rnd(z·h))``.
    Each ``h`` is written back as it leaves the pipeline and queued for
    ``h_out`` in a FIFO; elements are issued on ``OUTPUT_CREDITS`` credits,
    so a stalled ``h_out`` stops the issue, never the pipeline. The next
    step's ``x_t`` is taken while the pipeline drains; its ``h`` feed waits
    for the last write.

    After reset the cell clears ``h`` and ``c`` (``H`` cycles), takes the
    ``4H`` biases through ``b_in`` while the weight spectra go through
    ``w_in`` to the circulant engine (same format and order as
    ``circulant-fc``), then processes one ``x_t`` after another. With
    ``sequence`` = S > 0, after every S steps it waits for the last ``h``
    write and clears ``h`` and ``c`` again (``H`` cycles): a run carries many
    sequences of S steps each. With 0 one sequence runs until a reset.

    Parameters
    ----------
    cell : str
        ``"lstm"`` or ``"gru"``.
    n_in, hidden, k : int
        Input size, hidden size ``H`` (both multiples of ``k``), block size.
    width, frac : int
        ``Q(width, frac)`` everywhere.
    parallelism : int
        Complex MAC lanes of the circulant engine.
    sequence : int
        Time steps per sequence (0: the state is never cleared between steps).

    Members
    -------
    w_in : In(stream.Signature(complex_layout(width + 1)))
    b_in : In(stream.Signature(signed(width)))
    x_in : In(stream.Signature(signed(width)))
    h_out : Out(stream.Signature(signed(width)))

    Latency
    -------
    Per time step: one circulant product
    (``models.circulant.cycles_per_vector(n_in + H, 4H, k, P)`` plus its
    pipeline fill), ``4H + PWL_LATENCY + 3`` cycles of gate collection, ``H``
    of element issue, and ``ELEMENT_LATENCY`` cycles to the last ``h``.

    Throughput
    ----------
    One time step after another; the element pipeline takes one element per
    cycle while ``h_out`` keeps up, and its drain overlaps the next ``x_t``.
    """

    def __init__(self, *, cell, n_in, hidden, k, width=16, frac=10, parallelism=1, sequence=0):
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r} not one of {', '.join(CELLS)}")
        self.cell, self.sequence = cell, operator.index(sequence)
        self.n_in, self.hidden = operator.index(n_in), operator.index(hidden)
        self.fmt = FixedFormat(operator.index(width), operator.index(frac))
        self.engine_shape = dict(n_in=self.n_in + self.hidden, n_out=4 * self.hidden, k=k, parallelism=parallelism)
        CirculantFC.check_shape(**self.engine_shape)
        word = signed(self.fmt.width)
        super().__init__({
            "w_in": In(stream.Signature(complex_layout(self.fmt.width + 1))),
            "b_in": In(stream.Signature(word)),
            "x_in": In(stream.Signature(word)),
            "h_out": Out(stream.Signature(word)),
        })

    def elaborate(self, platform):
        m = Module()
        hidden, fmt, width = self.hidden, self.fmt, self.fmt.width
        word = signed(width)
        m.submodules.engine = engine = CirculantFC(**self.engine_shape, width=width, frac=fmt.frac)
        m.d.comb += [engine.w_in.payload.eq(self.w_in.payload), engine.w_in.valid.eq(self.w_in.valid),
                     self.w_in.ready.eq(engine.w_in.ready)]

        def buffer(name, depth):
            return simple_ram(m, name, word, depth, read_domain="comb")

        bias_write, bias_read = buffer("bias", 4 * hidden)
        gates = [buffer(f"gate_{name}", hidden) for name in "ifgo"]
        c_write, c_read = buffer("c", hidden)
        h_write, h_read = buffer("h", hidden)

        def last(counter, limit):
            return counter == limit - 1

        index = Signal(range(4 * hidden))  # bias / gate word u = gate * H + element
        element = Signal(range(hidden))
        gate = Signal(range(4))
        count = Signal(range(max(self.n_in, 4 * hidden)))
        m.d.comb += [bias_read.addr.eq(index), c_read.addr.eq(element), h_read.addr.eq(element)]
        for _, gate_read in gates:
            m.d.comb += gate_read.addr.eq(element)

        # Gate activation as pre-activations stream out of the engine, into each gate's buffer.
        collecting = Signal()
        m.submodules.activation = activation = GateActivation(cell=self.cell, fmt=fmt, hidden=hidden)
        m.d.comb += [activation.engine_word.eq(engine.y_out.payload), activation.bias_word.eq(bias_read.data),
                     activation.valid.eq(collecting & engine.y_out.valid), activation.gate.eq(gate),
                     activation.element.eq(element)]
        for number, (gate_write, _) in enumerate(gates):
            m.d.comb += [gate_write.addr.eq(activation.write_element), gate_write.data.eq(activation.write_data),
                         gate_write.en.eq(activation.write_valid & (activation.write_gate == number))]
        gate_latency = GateActivation.LATENCY

        # Element-wise pipeline, free running: one element per issue, its h ELEMENT_LATENCY cycles later.
        issue = Signal()
        m.submodules.update = update = ElementUpdate(cell=self.cell, fmt=fmt, hidden=hidden)
        m.d.comb += [update.issue.eq(issue), update.element.eq(element),
                     update.state.eq(c_read.data if self.cell == "lstm" else h_read.data)]
        m.d.comb += [operand.eq(gate_read.data) for operand, (_, gate_read) in zip(update.gates, gates)]
        if self.cell == "lstm":  # c' is written back in place as it leaves the pipeline
            m.d.comb += [c_write.addr.eq(update.c_element), c_write.data.eq(update.c_next),
                         c_write.en.eq(update.c_valid)]
        h_value, h_valid = update.h, update.h_valid
        m.d.comb += [h_write.addr.eq(update.h_element), h_write.data.eq(h_value), h_write.en.eq(h_valid)]

        # h towards h_out: a FIFO, and credits for the words in flight so that it never overflows.
        m.submodules.h_fifo = h_fifo = LutRamFIFO(shape=word, depth=OUTPUT_CREDITS)
        m.d.comb += [h_fifo.input.payload.eq(h_value), h_fifo.input.valid.eq(h_valid)]
        wiring.connect(m, h_fifo.output, wiring.flipped(self.h_out))
        in_flight = Signal(range(OUTPUT_CREDITS + 1))  # issued, not yet taken from h_out
        m.d.sync += in_flight.eq(in_flight + issue - (self.h_out.valid & self.h_out.ready))
        credit = in_flight != OUTPUT_CREDITS
        draining = Signal(range(ELEMENT_LATENCY + 1))  # cycles until the last issued element's h is written
        with m.If(issue & last(element, hidden)):
            m.d.sync += draining.eq(ELEMENT_LATENCY)
        with m.Elif(draining != 0):
            m.d.sync += draining.eq(draining - 1)
        wait = Signal(range(gate_latency))

        biased = Signal()  # the biases are loaded: a later CLEAR starts a new sequence
        step = Signal(range(max(self.sequence, 1)))
        with m.FSM(init="CLEAR"):
            with m.State("CLEAR"):  # once the last sequence's last h is written
                with m.If(draining == 0):
                    m.d.comb += [c_write.addr.eq(element), c_write.data.eq(0), c_write.en.eq(1),
                                 h_write.addr.eq(element), h_write.data.eq(0), h_write.en.eq(1)]
                    m.d.sync += element.eq(element + 1)
                    with m.If(last(element, hidden)):
                        m.d.sync += element.eq(0)
                        m.next = "LOAD_B"
                        with m.If(biased):
                            m.next = "FEED_X"

            with m.State("LOAD_B"):
                m.d.comb += [self.b_in.ready.eq(1), bias_write.addr.eq(index),
                             bias_write.data.eq(self.b_in.payload), bias_write.en.eq(self.b_in.valid)]
                with m.If(self.b_in.valid):
                    m.d.sync += index.eq(index + 1)
                    with m.If(last(index, 4 * hidden)):
                        m.d.sync += [index.eq(0), biased.eq(1)]
                        m.next = "FEED_X"

            with m.State("FEED_X"):
                m.d.comb += [engine.x_in.payload.eq(self.x_in.payload), engine.x_in.valid.eq(self.x_in.valid),
                             self.x_in.ready.eq(engine.x_in.ready)]
                with m.If(self.x_in.valid & engine.x_in.ready):
                    m.d.sync += count.eq(count + 1)
                    with m.If(last(count, self.n_in)):
                        m.d.sync += count.eq(0)
                        m.next = "FEED_H"

            with m.State("FEED_H"):  # once the previous step's last h is written
                m.d.comb += [engine.x_in.payload.eq(h_read.data), engine.x_in.valid.eq(draining == 0)]
                with m.If(engine.x_in.valid & engine.x_in.ready):
                    m.d.sync += element.eq(element + 1)
                    with m.If(last(element, hidden)):
                        m.d.sync += element.eq(0)
                        m.next = "COLLECT"

            with m.State("COLLECT"):
                m.d.comb += [engine.y_out.ready.eq(1), collecting.eq(1)]
                with m.If(engine.y_out.valid):
                    m.d.sync += [index.eq(index + 1), element.eq(element + 1)]
                    with m.If(last(element, hidden)):
                        m.d.sync += [element.eq(0), gate.eq(gate + 1)]
                        with m.If(gate == 3):
                            m.d.sync += [index.eq(0), gate.eq(0), wait.eq(0)]
                            m.next = "DRAIN"

            with m.State("DRAIN"):  # the last gate word through the activation pipeline
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == gate_latency - 1):
                    m.next = "UPDATE"

            with m.State("UPDATE"):  # one element per cycle into the pipeline while credits last
                m.d.comb += issue.eq(credit)
                with m.If(credit):
                    m.d.sync += element.eq(element + 1)
                    with m.If(last(element, hidden)):
                        m.d.sync += element.eq(0)
                        m.next = "FEED_X"
                        if self.sequence:
                            m.d.sync += step.eq(step + 1)
                            with m.If(step == self.sequence - 1):
                                m.d.sync += step.eq(0)
                                m.next = "CLEAR"
        return m


class GateActivation(wiring.Component):
    """Gate pre-activations to activated gate words, addressed for the gate buffers.

    Each cycle's ``engine_word`` (a gate row's pre-activation from the
    circulant engine) plus ``bias_word`` is saturated, then activated by its
    gate's function (LSTM: σ for i, f, o and tanh for g; GRU: σ for r, z and
    none for n_x, n_h); ``gate`` and ``element`` travel alongside.

    Parameters
    ----------
    cell : str
        ``"lstm"`` or ``"gru"``.
    fmt : FixedFormat
        ``Q(width, frac)`` of every word.
    hidden : int
        Hidden size ``H`` (range of ``element``).

    Members
    -------
    engine_word, bias_word : In(signed(width))
    valid : In(1)
        The words are a gate word to write.
    gate : In(range(4)), element : In(range(hidden))
        Where the word belongs.
    write_data : Out(signed(width)), write_valid : Out(1), write_gate : Out(range(4)),
    write_element : Out(range(hidden))
        The activated word and its address, ``LATENCY`` cycles later.

    Latency
    -------
    ``LATENCY = PWL_LATENCY + 3`` cycles (the input words through two reset-less registers — behind a
    block RAM bias buffer its read register and its output register —, their saturated sum registered,
    the PWL pipeline).

    Throughput
    ----------
    One word per cycle, free running.
    """

    LATENCY = PWL_LATENCY + 3

    def __init__(self, *, cell: str, fmt: FixedFormat, hidden: int):
        self.cell, self.fmt = cell, fmt
        word = signed(fmt.width)
        super().__init__({
            "engine_word": In(word), "bias_word": In(word), "valid": In(1),
            "gate": In(range(4)), "element": In(range(hidden)),
            "write_data": Out(word), "write_valid": Out(1), "write_gate": Out(range(4)),
            "write_element": Out(range(hidden)),
        })

    def elaborate(self, platform):
        m = Module()
        fmt, word = self.fmt, signed(self.fmt.width)
        engine_word, bias_word = self.engine_word, self.bias_word
        for stage in range(2):
            engine_next = Signal(word, name=f"gate_engine_word{stage}", reset_less=True)
            bias_next = Signal(word, name=f"gate_bias_word{stage}", reset_less=True)
            m.d.sync += [engine_next.eq(engine_word), bias_next.eq(bias_word)]
            engine_word, bias_word = engine_next, bias_next
        preactivation = Signal(word)
        m.d.sync += preactivation.eq(saturate(engine_word + bias_word, fmt.width))
        sigmoid = pwl_pipeline(m, SIGMOID, preactivation, fmt, "gate_sigmoid")
        if self.cell == "lstm":
            tanh = pwl_pipeline(m, TANH, preactivation, fmt, "gate_tanh")
        write_gate = delay(m, self.gate, self.LATENCY, "gate_write_gate")
        if self.cell == "lstm":
            activated = Mux(write_gate == 2, tanh, sigmoid)
        else:
            activated = Mux(write_gate < 2, sigmoid, delay(m, preactivation, PWL_LATENCY, "preactivation"))
        m.d.comb += [self.write_data.eq(activated), self.write_gate.eq(write_gate),
                     self.write_valid.eq(delay(m, self.valid, self.LATENCY, "gate_write_valid")),
                     self.write_element.eq(delay(m, self.element, self.LATENCY, "gate_write_element"))]
        return m


class ElementUpdate(wiring.Component):
    """The element-wise update of a recurrent cell: one hidden element per cycle, free running.

    LSTM: ``c' = sat(rnd(f·c) + rnd(i·g))``, ``h = sat(rnd(o·tanh(c')))``.
    GRU: ``n = tanh(sat(n_x + rnd(r·n_h)))``, ``h = sat(rnd((1 − z)·n) + rnd(z·h))``.
    An element issued in cycle 0 (its gate and state words on the inputs) has
    its operands in registers at 1, raw products at 2, rounded products at 3,
    the cell sum at 4 (the LSTM's new state; the GRU's tanh input), tanh(sum)
    at ``4 + PWL_LATENCY``, the output product two later (the DSP's input and
    output registers), its rounding the next, ``h`` at ``ELEMENT_LATENCY``.
    Every product is a registered DSP multiplier; no add follows a rounding in
    the same cycle.

    Parameters
    ----------
    cell : str
        ``"lstm"`` or ``"gru"``.
    fmt : FixedFormat
        ``Q(width, frac)`` of every word.
    hidden : int
        Hidden size ``H`` (range of ``element``).

    Members
    -------
    gates : In(data.ArrayLayout(signed(width), 4))
        The element's gate words (LSTM i, f, g, o; GRU r, z, n_x, n_h).
    state : In(signed(width))
        The element's ``c`` (LSTM) or ``h`` (GRU).
    issue : In(1), element : In(range(hidden))
        An element enters; which one.
    c_next : Out(signed(width)), c_valid : Out(1), c_element : Out(range(hidden))
        LSTM only: the new state, 4 cycles after its issue.
    h : Out(signed(width)), h_valid : Out(1), h_element : Out(range(hidden))
        The new ``h``, ``ELEMENT_LATENCY`` cycles after its issue.

    Latency
    -------
    ``ELEMENT_LATENCY = PWL_LATENCY + 8`` cycles from an issue to its ``h``.

    Throughput
    ----------
    One element per cycle, free running.
    """

    def __init__(self, *, cell: str, fmt: FixedFormat, hidden: int):
        self.cell, self.fmt = cell, fmt
        word = signed(fmt.width)
        members = {"gates": In(data.ArrayLayout(word, 4)), "state": In(word), "issue": In(1),
                   "element": In(range(hidden)),
                   "h": Out(word), "h_valid": Out(1), "h_element": Out(range(hidden))}
        if cell == "lstm":
            members.update({"c_next": Out(word), "c_valid": Out(1), "c_element": Out(range(hidden))})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        fmt, width = self.fmt, self.fmt.width
        word = signed(width)
        # The products are registered DSP multipliers (hw/common/dsp.py): their input registers are
        # the operand stage, their output registers the raw-product stage.
        gates, state = [self.gates[k] for k in range(4)], self.state
        operands = [Signal(word, name=f"operand_{name}") for name in "0123"]  # the gate rows, registered
        m.d.sync += [operand.eq(gate) for operand, gate in zip(operands, gates)]
        rounded = signed(2 * width + 2 - fmt.frac)
        held = Signal(word)
        first_rounded, second_rounded = Signal(rounded), Signal(rounded)
        cell_sum, scaled_rounded, h_value = Signal(word), Signal(rounded), Signal(word)
        # A whole-number term t joins a rounding as rnd(p) + t = rnd(p + t·2^frac) (exact), so the GRU's
        # adds ride in the rounding stages and a saturation stands alone in its cycle.
        if self.cell == "lstm":
            first = registered_product(m, gates[1], state, "f_c")
            second = registered_product(m, gates[0], gates[2], "i_g")
            m.d.sync += [held.eq(operands[3]), first_rounded.eq(round_shift(first, fmt.frac))]
            cell_input = first_rounded + second_rounded
        else:
            first = registered_product(m, gates[0], gates[3], "r_nh")
            second = registered_product(m, gates[1], state, "z_h")
            candidate_x = Signal(word)
            m.d.sync += [held.eq((1 << fmt.frac) - operands[1]), candidate_x.eq(operands[2]),
                         first_rounded.eq(round_shift(first + (candidate_x << fmt.frac), fmt.frac))]
            cell_input = first_rounded
        m.d.sync += [second_rounded.eq(round_shift(second, fmt.frac)), cell_sum.eq(saturate(cell_input, width))]
        activated_state = pwl_pipeline(m, TANH, cell_sum, fmt, "cell_tanh")
        scaled = registered_product(m, delay(m, held, PWL_LATENCY + 2, "held"), activated_state, "scaled")
        if self.cell == "lstm":
            m.d.sync += [scaled_rounded.eq(round_shift(scaled, fmt.frac)), h_value.eq(saturate(scaled_rounded, width))]
            m.d.comb += [self.c_next.eq(cell_sum), self.c_element.eq(delay(m, self.element, 4, "c_element")),
                         self.c_valid.eq(delay(m, self.issue, 4, "c_valid"))]
        else:
            z_h = delay(m, second_rounded, PWL_LATENCY + 3, "z_h")
            m.d.sync += [scaled_rounded.eq(round_shift(scaled + (z_h << fmt.frac), fmt.frac)),
                         h_value.eq(saturate(scaled_rounded, width))]
        m.d.comb += [self.h.eq(h_value), self.h_valid.eq(delay(m, self.issue, ELEMENT_LATENCY, "h_valid")),
                     self.h_element.eq(delay(m, self.element, ELEMENT_LATENCY, "h_element"))]
        return m
