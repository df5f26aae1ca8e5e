"""``circulant-lstm`` / ``circulant-gru``: recurrent cells whose gate matrix is block-circulant (C-LSTM / E-RNN)."""

import operator

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import FixedFormat
from models.pwl import SIGMOID, TANH

from .circulant import CirculantFC
from .common.fixed import delay, requantize, round_shift, saturate
from .fft import complex_layout
from .pwl import PWL_LATENCY, pwl_pipeline

__all__ = ["CirculantRNN", "ELEMENT_CYCLES"]

CELLS = ("lstm", "gru")
ELEMENT_CYCLES = PWL_LATENCY + 6  # per hidden element: READ … CELL, ACTIVATE, SCALE, FORM, HIDDEN


class CirculantRNN(wiring.Component):
    """One LSTM or GRU layer, time step after time step, bit-exact with ``models/rnn.py``.

    A :class:`CirculantFC` of ``4H × (n_in + H)`` computes the four gate rows
    from ``[x_t; h_{t−1}]``; as they stream out the bias is added and the
    gate's PWL activation applied (LSTM: σ for i, f, o and tanh for g; GRU: σ
    for r, z, none for n_x, n_h) in a ``2 + PWL_LATENCY``-stage pipeline, and
    each gate row lands in its own buffer. An element-wise pass then computes
    the new state and sends ``h_t`` (``ELEMENT_CYCLES = PWL_LATENCY + 6``
    cycles per element: operands read into registers, products, state, the
    tanh pipeline, the output product, rounding and saturation, then ``h``;
    every DSP product between registers): LSTM ``c' = sat(rnd(f·c) + rnd(i·g))``,
    ``h = sat(rnd(o·tanh(c')))``; GRU ``n = tanh(sat(n_x + rnd(r·n_h)))``,
    ``h = sat(rnd((1 − z)·n) + rnd(z·h))``.

    After reset the cell clears ``h`` and ``c`` (``H`` cycles), takes the
    ``4H`` biases through ``b_in`` while the weight spectra go through
    ``w_in`` to the circulant engine (same format and order as
    ``circulant-fc``), then processes one ``x_t`` after another. A new
    sequence starts after a reset.

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

    Members
    -------
    w_in : In(stream.Signature(complex_layout(width + 1)))
    b_in : In(stream.Signature(signed(width)))
    x_in : In(stream.Signature(signed(width)))
    h_out : Out(stream.Signature(signed(width)))

    Throughput: per time step, one circulant product
    (``models.circulant.cycles_per_vector(n_in + H, 4H, k, P)`` plus its pipeline
    fill), ``4H + PWL_LATENCY + 2`` cycles of gate collection and
    ``ELEMENT_CYCLES·H`` of the element-wise pass.
    """

    def __init__(self, *, cell, n_in, hidden, k, width=16, frac=10, parallelism=1):
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r} not one of {', '.join(CELLS)}")
        self.cell = cell
        self.n_in, self.hidden = operator.index(n_in), operator.index(hidden)
        self.fmt = FixedFormat(operator.index(width), operator.index(frac))
        self.engine = CirculantFC(n_in=self.n_in + self.hidden, n_out=4 * self.hidden, k=k,
                                  width=width, frac=frac, parallelism=parallelism)
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
        m.submodules.engine = engine = self.engine
        m.d.comb += [engine.w_in.payload.eq(self.w_in.payload), engine.w_in.valid.eq(self.w_in.valid),
                     self.w_in.ready.eq(engine.w_in.ready)]

        def buffer(name, depth):
            m.submodules[name] = mem = memory.Memory(shape=word, depth=depth, init=[])
            return mem.write_port(), mem.read_port(domain="comb")

        bias_write, bias_read = buffer("bias", 4 * hidden)
        gates = [buffer(f"gate_{name}", hidden) for name in "ifgo"]
        c_write, c_read = buffer("c", hidden)
        h_write, h_read = buffer("h", hidden)

        index = Signal(range(4 * hidden))  # bias / gate word u = gate * H + element
        element = Signal(range(hidden))
        gate = Signal(range(4))
        count = Signal(range(max(self.n_in, 4 * hidden)))
        m.d.comb += [bias_read.addr.eq(index), c_read.addr.eq(element), h_read.addr.eq(element)]
        for _, gate_read in gates:
            m.d.comb += gate_read.addr.eq(element)

        # Gate activation as pre-activations stream out of the engine: the engine's word and the bias
        # registered, added and saturated into a register, the PWL pipelines, then the write into the
        # gate's buffer, addresses delayed alongside.
        collecting = Signal()
        engine_word, bias_word, preactivation = Signal(word), Signal(word), Signal(word)
        m.d.sync += [engine_word.eq(engine.y_out.payload), bias_word.eq(bias_read.data),
                     preactivation.eq(saturate(engine_word + bias_word, width))]
        sigmoid = pwl_pipeline(m, SIGMOID, preactivation, fmt, "gate_sigmoid")
        if self.cell == "lstm":
            tanh = pwl_pipeline(m, TANH, preactivation, fmt, "gate_tanh")
        gate_latency = PWL_LATENCY + 2
        write_valid = delay(m, collecting & engine.y_out.valid, gate_latency, "gate_write_valid")
        write_gate = delay(m, gate, gate_latency, "gate_write_gate")
        write_element = delay(m, element, gate_latency, "gate_write_element")
        if self.cell == "lstm":
            activated = Mux(write_gate == 2, tanh, sigmoid)
        else:
            activated = Mux(write_gate < 2, sigmoid, delay(m, preactivation, PWL_LATENCY, "preactivation"))
        for number, (gate_write, _) in enumerate(gates):
            m.d.comb += [gate_write.addr.eq(write_element), gate_write.data.eq(activated),
                         gate_write.en.eq(write_valid & (write_gate == number))]

        # Element-wise update, one registered step per state: READ (buffer words into registers),
        # PRODUCTS (raw products), CELL (rounded sums: LSTM's new state, GRU's tanh input), ACTIVATE
        # (the tanh pipeline), SCALE (the output product), FORM (rounding, saturation) and HIDDEN.
        operands = [Signal(word, name=f"operand_{name}") for name in "0123s"]  # gate rows, then c or h
        read_operands = [operand.eq(gate_read.data) for operand, (_, gate_read) in zip(operands, gates)]
        read_operands.append(operands[4].eq(c_read.data if self.cell == "lstm" else h_read.data))
        product = 2 * width + 1
        first, second, held, activate_in = Signal(signed(product)), Signal(signed(product)), Signal(word), Signal(word)
        activated_state = pwl_pipeline(m, TANH, activate_in, fmt, "cell_tanh")
        scaled, h_value = Signal(signed(product)), Signal(word)
        if self.cell == "lstm":
            i_g, f_g, g_g, o_g, c = operands
            products = [first.eq(f_g * c), second.eq(i_g * g_g), held.eq(o_g)]
            cell_input = saturate(round_shift(first, fmt.frac) + round_shift(second, fmt.frac), width)
            h_next = requantize(scaled, fmt.frac, width)
        else:
            r_g, z_g, nx_g, nh_g, h = operands
            candidate_x = Signal(word)
            products = [first.eq(r_g * nh_g), second.eq(z_g * h), held.eq((1 << fmt.frac) - z_g), candidate_x.eq(nx_g)]
            cell_input = saturate(candidate_x + round_shift(first, fmt.frac), width)
            h_next = saturate(round_shift(scaled, fmt.frac) + round_shift(second, fmt.frac), width)
        wait = Signal(range(PWL_LATENCY + 1))

        def last(counter, limit):
            return counter == limit - 1

        with m.FSM(init="CLEAR"):
            with m.State("CLEAR"):
                m.d.comb += [c_write.addr.eq(element), c_write.data.eq(0), c_write.en.eq(1),
                             h_write.addr.eq(element), h_write.data.eq(0), h_write.en.eq(1)]
                m.d.sync += element.eq(element + 1)
                with m.If(last(element, hidden)):
                    m.d.sync += element.eq(0)
                    m.next = "LOAD_B"

            with m.State("LOAD_B"):
                m.d.comb += [self.b_in.ready.eq(1), bias_write.addr.eq(index),
                             bias_write.data.eq(self.b_in.payload), bias_write.en.eq(self.b_in.valid)]
                with m.If(self.b_in.valid):
                    m.d.sync += index.eq(index + 1)
                    with m.If(last(index, 4 * hidden)):
                        m.d.sync += index.eq(0)
                        m.next = "FEED_X"

            with m.State("FEED_X"):
                m.d.comb += [engine.x_in.payload.eq(self.x_in.payload), engine.x_in.valid.eq(self.x_in.valid),
                             self.x_in.ready.eq(engine.x_in.ready)]
                with m.If(self.x_in.valid & engine.x_in.ready):
                    m.d.sync += count.eq(count + 1)
                    with m.If(last(count, self.n_in)):
                        m.d.sync += count.eq(0)
                        m.next = "FEED_H"

            with m.State("FEED_H"):
                m.d.comb += [engine.x_in.payload.eq(h_read.data), engine.x_in.valid.eq(1)]
                with m.If(engine.x_in.ready):
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
                    m.next = "READ"

            with m.State("READ"):
                m.d.sync += read_operands
                m.next = "PRODUCTS"

            with m.State("PRODUCTS"):
                m.d.sync += products
                m.next = "CELL"

            with m.State("CELL"):
                m.d.sync += [activate_in.eq(cell_input), wait.eq(0)]
                m.next = "ACTIVATE"

            with m.State("ACTIVATE"):
                if self.cell == "lstm":  # the new state, registered, written back once
                    m.d.comb += [c_write.addr.eq(element), c_write.data.eq(activate_in), c_write.en.eq(wait == 0)]
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == PWL_LATENCY - 1):
                    m.next = "SCALE"

            with m.State("SCALE"):
                m.d.sync += scaled.eq(held * activated_state)
                m.next = "FORM"

            with m.State("FORM"):
                m.d.sync += h_value.eq(h_next)
                m.next = "HIDDEN"

            with m.State("HIDDEN"):
                m.d.comb += [self.h_out.valid.eq(1), self.h_out.payload.eq(h_value),
                             h_write.addr.eq(element), h_write.data.eq(h_value), h_write.en.eq(self.h_out.ready)]
                with m.If(self.h_out.ready):
                    m.d.sync += element.eq(element + 1)
                    m.next = "READ"
                    with m.If(last(element, hidden)):
                        m.d.sync += element.eq(0)
                        m.next = "FEED_X"
        return m
