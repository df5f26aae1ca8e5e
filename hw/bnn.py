"""``bnn-mlp``: Bayesian MLP inference that samples every weight in hardware (``models/bnn.py``)."""

import math

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.bnn import GRNG_BITS, GRNG_N, sigma_frac

from .common.fixed import requantize, round_shift, saturate
from .common.memory import simple_ram
from .grng import RLFGRNG

__all__ = ["BayesianMLP", "PredictiveMoments"]


class BayesianMLP(wiring.Component):
    """``n_in → hidden (ReLU) → n_out`` with weights ``μ + σ'·ε`` drawn per pass from an RLF-GRNG lane.

    One multiply-accumulate lane, two stages: (ε, μ, σ', activation from block
    RAM) → registered sampled weight → accumulate; the scores of the passes
    gather in :class:`PredictiveMoments`.

    Parameters
    ----------
    n_in, hidden, n_out : int
        Layer sizes.
    width, frac : int
        ``Q(width, frac)`` of μ, biases, activations and scores (σ' is ``Q(width, width - 1)``).
    passes : int
        Sampled forward passes per image, a power of two.
    seed : int
        Seed of the GRNG.

    Members
    -------
    params_in : In(stream.Signature(signed(width)))
        Once after reset: ``mu1, sigma1`` (hidden × n_in), ``b1``, ``mu2, sigma2`` (n_out × hidden),
        ``b2``, row-major.
    x_in : In(stream.Signature(signed(width)))
        ``n_in`` words per image.
    scores_out : Out(stream.Signature(signed(width)))
        Per image ``n_out`` predictive means, then ``n_out`` variances.

    Latency
    -------
    ``models.bnn.cycles_per_image`` cycles from an image's first word to its last score (the GRNG is
    never the bottleneck).

    Throughput
    ----------
    One image at a time: the next image is taken after the last score is sent.
    """

    def __init__(self, *, n_in, hidden, n_out, width, frac, passes, seed):
        self.n_in, self.hidden, self.n_out = n_in, hidden, n_out
        self.width, self.frac, self.passes, self.seed = width, frac, passes, seed
        super().__init__({
            "params_in": In(stream.Signature(signed(width))),
            "x_in": In(stream.Signature(signed(width))),
            "scores_out": Out(stream.Signature(signed(width))),
        })

    def elaborate(self, platform):
        m = Module()
        I, H, O, W, F, S = self.n_in, self.hidden, self.n_out, self.width, self.frac, self.passes
        word = signed(W)
        m.submodules.grng = grng = RLFGRNG(n=GRNG_N, lanes=1, bits=GRNG_BITS, seed=self.seed)

        arrays = {"mu1": H * I, "sigma1": H * I, "b1": H, "mu2": O * H, "sigma2": O * H, "b2": O}
        ports = {name: simple_ram(m, name, word, depth) for name, depth in arrays.items()}  # (write, read)
        x_buf, h_buf = simple_ram(m, "x_buf", word, I), simple_ram(m, "h_buf", word, H)

        acc_width = 2 * W + 2 + max(I, H).bit_length() + 8
        m.submodules.moments = moments = PredictiveMoments(width=W, frac=F, n_out=O, passes=S)

        layer = Signal()  # 0: hidden layer, 1: output layer
        row = Signal(range(max(H, O)))
        col = Signal(range(max(I, H)))
        p = Signal(range(S))
        index = Signal(range(max(H * I, O * H, I, H, O) + 1))  # load counter / row·cols + col
        # Block-RAM reads are synchronous: every read port is addressed with the
        # counters' next values, so its data always matches the current counters.
        col_next, row_next, index_next = Signal.like(col), Signal.like(row), Signal.like(index)
        m.d.comb += [col_next.eq(col), row_next.eq(row), index_next.eq(index)]
        m.d.sync += [col.eq(col_next), row.eq(row_next), index.eq(index_next)]
        columns = Mux(layer, H, I)
        rows = Mux(layer, O, H)

        # Stage A: sample the weight, fetch the activation.
        mu = Mux(layer, ports["mu2"][1].data, ports["mu1"][1].data)
        sigma = Mux(layer, ports["sigma2"][1].data, ports["sigma1"][1].data)
        activation = Mux(layer, h_buf[1].data, x_buf[1].data)
        for name in ("mu1", "sigma1", "mu2", "sigma2"):
            m.d.comb += ports[name][1].addr.eq(index_next)
        m.d.comb += [x_buf[1].addr.eq(col_next), h_buf[1].addr.eq(col_next)]
        issue = Signal()
        epsilon = grng.z_out.payload[0]
        m.d.comb += grng.z_out.ready.eq(issue)
        sampled = Signal(word)
        operand = Signal(word)
        issued = Signal()
        m.d.sync += issued.eq(issue)
        with m.If(issue):
            m.d.sync += [sampled.eq(saturate(mu + round_shift(sigma * epsilon, sigma_frac(W) - F), W)),
                         operand.eq(activation)]
        # Stage B: accumulate.
        acc = Signal(signed(acc_width))
        with m.If(issued):
            m.d.sync += acc.eq(acc + sampled * operand)

        bias = Mux(layer, ports["b2"][1].data, ports["b1"][1].data)
        m.d.comb += [ports["b1"][1].addr.eq(row_next), ports["b2"][1].addr.eq(row_next)]
        result = Signal(word)
        m.d.comb += result.eq(requantize(acc + (bias << F), F, W))
        out_index = Signal(range(2 * O))
        m.d.comb += [moments.score.eq(result), moments.index.eq(row), moments.select.eq(out_index)]

        def load_state(name, next_state):
            write, read = ports[name]
            with m.State(f"LOAD_{name.upper()}"):
                m.d.comb += [self.params_in.ready.eq(1), write.addr.eq(index), write.data.eq(self.params_in.payload),
                             write.en.eq(self.params_in.valid)]
                with m.If(self.params_in.valid):
                    m.d.comb += index_next.eq(index + 1)
                    with m.If(index == arrays[name] - 1):
                        m.d.comb += index_next.eq(0)
                        m.next = next_state

        names = list(arrays)
        with m.FSM(init="LOAD_MU1"):
            for name, following in zip(names, [f"LOAD_{n.upper()}" for n in names[1:]] + ["LOAD_X"]):
                load_state(name, following)
            with m.State("LOAD_X"):
                m.d.comb += [self.x_in.ready.eq(1), x_buf[0].addr.eq(col), x_buf[0].data.eq(self.x_in.payload),
                             x_buf[0].en.eq(self.x_in.valid)]
                with m.If(self.x_in.valid):
                    m.d.comb += col_next.eq(col + 1)
                    with m.If(col == I - 1):
                        m.d.comb += [col_next.eq(0), row_next.eq(0), index_next.eq(0)]
                        m.d.sync += [layer.eq(0), p.eq(0)]
                        m.d.comb += moments.clear.eq(1)
                        m.next = "MAC"
            with m.State("MAC"):
                m.d.comb += issue.eq(grng.z_out.valid)
                with m.If(grng.z_out.valid):
                    m.d.comb += [col_next.eq(col + 1), index_next.eq(index + 1)]
                    with m.If(col == columns - 1):
                        m.d.comb += col_next.eq(0)
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                m.next = "FINAL"
            with m.State("FINAL"):
                m.d.sync += acc.eq(0)
                m.d.comb += row_next.eq(row + 1)
                with m.If(layer == 0):
                    m.d.comb += [h_buf[0].addr.eq(row), h_buf[0].data.eq(Mux(result[-1], 0, result)), h_buf[0].en.eq(1)]
                with m.Else():
                    m.d.comb += moments.add.eq(1)
                m.next = "MAC"
                with m.If(row == rows - 1):
                    m.d.comb += [row_next.eq(0), index_next.eq(0)]
                    m.d.sync += layer.eq(~layer)
                    with m.If((layer == 1) & (p == S - 1)):
                        m.d.sync += out_index.eq(0)
                        m.next = "EMIT"
                    with m.If(layer == 1):
                        m.d.sync += p.eq(p + 1)
            with m.State("EMIT"):
                m.d.comb += [self.scores_out.valid.eq(1), self.scores_out.payload.eq(moments.value)]
                with m.If(self.scores_out.ready):
                    m.d.sync += out_index.eq(out_index + 1)
                    with m.If(out_index == 2 * O - 1):
                        m.next = "LOAD_X"
        return m


class PredictiveMoments(wiring.Component):
    """Per-class sums over ``passes`` sampled scores, and their mean and variance.

    ``add`` puts ``score`` into class ``index``'s sum and sum of squares;
    ``clear`` empties every sum. ``value`` shows, for ``select = j < n_out``,
    the mean ``rnd(Σs / S)`` of class ``j`` and, for ``select = n_out + j``,
    its variance ``rnd((S·Σs² − (Σs)²) / S²)`` (``S = passes``, a power of two:
    the divisions are shifts), each saturated to ``width`` bits
    (``models/bnn.py``).

    Parameters
    ----------
    width, frac : int
        ``Q(width, frac)`` of scores and results.
    n_out : int
        Classes.
    passes : int
        Sampled passes ``S`` per image (a power of two).

    Members
    -------
    score : In(signed(width)), index : In(range(n_out)), add : In(1), clear : In(1)
    select : In(range(2 * n_out))
    value : Out(signed(width))

    Latency
    -------
    A score is in the sums the cycle after ``add``; ``value`` follows ``select`` in the same cycle.

    Throughput
    ----------
    One score per cycle.
    """

    def __init__(self, *, width: int, frac: int, n_out: int, passes: int):
        self.width, self.frac, self.n_out, self.passes = width, frac, n_out, passes
        super().__init__({
            "score": In(signed(width)), "index": In(range(n_out)), "add": In(1), "clear": In(1),
            "select": In(range(2 * n_out)), "value": Out(signed(width)),
        })

    def elaborate(self, platform):
        m = Module()
        W, F, O, S = self.width, self.frac, self.n_out, self.passes
        shift = int(math.log2(S))
        total = [Signal(signed(W + S.bit_length() + 1), name=f"total{j}") for j in range(O)]
        squares = [Signal(2 * W + S.bit_length() + 2, name=f"squares{j}") for j in range(O)]
        with m.If(self.clear):
            m.d.sync += [t.eq(0) for t in total] + [q.eq(0) for q in squares]
        with m.Elif(self.add):
            for j in range(O):
                with m.If(self.index == j):
                    m.d.sync += [total[j].eq(total[j] + self.score),
                                 squares[j].eq(squares[j] + self.score * self.score)]
        selected_total = Signal.like(total[0])
        selected_squares = Signal.like(squares[0])
        for j in range(O):
            with m.If((self.select == j) | (self.select == O + j)):
                m.d.comb += [selected_total.eq(total[j]), selected_squares.eq(squares[j])]
        spread = (selected_squares << shift) - selected_total * selected_total
        mean, variance = Signal(signed(W)), Signal(signed(W))
        m.d.comb += [mean.eq(saturate(round_shift(selected_total, shift), W)),
                     variance.eq(saturate(round_shift(spread, 2 * shift + F), W)),
                     self.value.eq(Mux(self.select < O, mean, variance))]
        return m
