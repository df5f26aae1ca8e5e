"""``bnn-mlp``: Bayesian MLP inference that samples every weight in hardware (``models/bnn.py``)."""

import math

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.bnn import (GRNG_BITS, GRNG_N, LAYER_SETTLE, MAC_LATENCY, RESULT_STAGES, posterior_names, sigma_frac,
                        steps_per_pass)
from models.fixed import ceil_div

from .common.dsp import registered_product
from .common.fixed import delay, requantize, round_shift, saturate
from .common.memory import simple_ram
from .grng import RLFGRNG

__all__ = ["BayesianMLP", "PredictiveMoments"]


def _table(values, shape=None):
    """A per-layer constant, indexed by a layer counter."""
    shape = shape or range(max(values) + 1)
    return Array(Const(v, shape) for v in values)


class BayesianMLP(wiring.Component):
    """A Bayesian MLP of any depth, ``sizes = [N_0, …, N_L]`` (ReLU between layers), whose weights
    ``μ + σ'·ε`` are drawn per pass from a ``lanes``-lane RLF-GRNG.

    ``lanes`` multiply-accumulate lanes compute a group of ``lanes`` neurons of a
    layer at once: each step broadcasts one input activation to every lane,
    and lane ``p`` samples its neuron's weight from its own μ and σ' block RAMs
    (neuron ``o`` of every layer lives in lane ``o mod lanes``) with its own ε.
    A free-running pipeline: (ε, μ, σ', activation) → σ'·ε in a registered
    DSP multiplier → sampled weight → w·a in a registered DSP multiplier →
    accumulate (``MAC_LATENCY`` cycles). A group ends with ``MAC_LATENCY``
    drain cycles and ``lanes`` cycles that
    add each lane's bias, requantize, apply ReLU and write the result into the
    next layer's activation buffer (two ping-pong buffers beside the input
    image's), or, after the last layer, into :class:`PredictiveMoments`.

    Parameters
    ----------
    sizes : list of int
        ``[N_0, …, N_L]``, at least one layer.
    lanes : int
        MAC lanes (and GRNG lanes).
    width, frac : int
        ``Q(width, frac)`` of μ, biases, activations and scores (σ' is ``Q(width, width - 1)``).
    passes : int
        Sampled forward passes per image, a power of two.
    seed : int
        Seed of the GRNG.

    Members
    -------
    params_in : In(stream.Signature(signed(width)))
        Once after reset: per layer ``mu, sigma`` (N_ℓ × N_{ℓ-1}) and ``b``, row-major
        (``models.bnn.posterior_names``).
    x_in : In(stream.Signature(signed(width)))
        ``N_0`` words per image.
    scores_out : Out(stream.Signature(signed(width)))
        Per image ``N_L`` predictive means, then ``N_L`` variances.

    Latency
    -------
    ``models.bnn.cycles_per_image`` cycles from an image's first word to its last score (the GRNG is
    never the bottleneck).

    Throughput
    ----------
    One image at a time: the next image is taken after the last score is sent.
    """

    def __init__(self, *, sizes, lanes, width, frac, passes, seed):
        self.sizes, self.lanes = list(sizes), lanes
        self.width, self.frac, self.passes, self.seed = width, frac, passes, seed
        super().__init__({
            "params_in": In(stream.Signature(signed(width))),
            "x_in": In(stream.Signature(signed(width))),
            "scores_out": Out(stream.Signature(signed(width))),
        })

    def elaborate(self, platform):
        m = Module()
        sizes, P, W, F, S = self.sizes, self.lanes, self.width, self.frac, self.passes
        depth, word = len(sizes) - 1, signed(W)
        n_in, n_out = sizes[:-1], sizes[1:]
        groups = [ceil_div(n, P) for n in n_out]
        m.submodules.grng = grng = RLFGRNG(n=GRNG_N, lanes=P, bits=GRNG_BITS, seed=self.seed)

        # Per lane: μ and σ' in MAC order (layer, group, input), biases in group order.
        weight_depth, bias_depth = steps_per_pass(sizes, P), sum(groups)
        mu = [simple_ram(m, f"mu{p}", word, weight_depth) for p in range(P)]
        sigma = [simple_ram(m, f"sigma{p}", word, weight_depth) for p in range(P)]
        bias = [simple_ram(m, f"bias{p}", word, bias_depth) for p in range(P)]
        x_buf = simple_ram(m, "x_buf", word, sizes[0])
        hidden_depth = max(sizes[1:-1], default=1)
        h_bufs = [simple_ram(m, f"h_buf{bank}", word, hidden_depth) for bank in (0, 1)]
        m.submodules.moments = moments = PredictiveMoments(width=W, frac=F, n_out=sizes[-1], passes=S)

        layer = Signal(range(depth))
        group = Signal(range(max(groups)))
        col = Signal(range(max(n_in)))
        slot = Signal(range(P))
        neuron = Signal(range(max(groups) * P))
        read_bank = Signal(init=1)  # the h buffer a layer ≥ 1 reads; it writes the other (layer 0 writes h0)
        p = Signal(range(S))
        # Block-RAM reads are synchronous: every read port is addressed with the
        # counters' next values, so its data always matches the current counters.
        index, bias_index = Signal(range(weight_depth + 1)), Signal(range(bias_depth + 1))
        col_next, index_next, bias_next = Signal.like(col), Signal.like(index), Signal.like(bias_index)
        m.d.comb += [col_next.eq(col), index_next.eq(index), bias_next.eq(bias_index)]
        m.d.sync += [col.eq(col_next), index.eq(index_next), bias_index.eq(bias_next)]
        columns, outputs, last_group = _table(n_in)[layer], _table(n_out)[layer], _table([g - 1 for g in groups])[layer]

        # Stage A: sample each lane's weight, fetch the activation (broadcast).
        for ram in (*mu, *sigma):
            m.d.comb += ram[1].addr.eq(index_next)
        for ram in bias:
            m.d.comb += ram[1].addr.eq(bias_next)
        m.d.comb += [x_buf[1].addr.eq(col_next), h_bufs[0][1].addr.eq(col_next), h_bufs[1][1].addr.eq(col_next)]
        activation = Mux(layer == 0, x_buf[1].data, Mux(read_bank, h_bufs[1][1].data, h_bufs[0][1].data))
        # Free-running lane pipeline, MAC_LATENCY cycles from an issue to its sum: σ'·ε in a registered
        # multiplier (2), the sampled weight μ + round(σ'·ε) saturated (1), w·a in a registered
        # multiplier (2); then the accumulator.
        issue = Signal()
        m.d.comb += grng.z_out.ready.eq(issue)
        accumulate = delay(m, issue, MAC_LATENCY, "accumulate")
        operand = delay(m, activation, 3, "operand")
        acc_width = 2 * W + 2 + max(n_in).bit_length() + 8
        accs = []
        for lane in range(P):
            spread = registered_product(m, sigma[lane][1].data, grng.z_out.payload[lane], f"spread{lane}")
            sampled = Signal(word, name=f"sampled{lane}")
            m.d.sync += sampled.eq(saturate(delay(m, mu[lane][1].data, 2, f"mu{lane}") +
                                            round_shift(spread, sigma_frac(W) - F), W))
            product = registered_product(m, sampled, operand, f"product{lane}")
            acc = Signal(signed(acc_width), name=f"acc{lane}")
            with m.If(accumulate):
                m.d.sync += acc.eq(acc + product)
            accs.append(acc)

        # A group's results, one lane per cycle, in two register stages: the lane's sum plus its bias,
        # then requantized; the write (next layer's buffer or the moments) follows the second.
        assert RESULT_STAGES == 2  # the registers ``biased`` and ``result`` (models.bnn's cycle model counts them)
        biased = Signal(signed(acc_width + 1))
        result = Signal(word)
        handing = Signal()  # RESULTS hands lane ``slot``'s sum, a real neuron's, to the result stages
        m.d.sync += [biased.eq(Array(accs)[slot] + (Array(ram[1].data for ram in bias)[slot] << F)),
                     result.eq(requantize(biased, F, W))]
        self._write_result(m, delay(m, handing, RESULT_STAGES, "writing"),
                           delay(m, layer == depth - 1, RESULT_STAGES, "scoring"),
                           delay(m, Mux(layer == 0, 0, ~read_bank), RESULT_STAGES, "bank"),
                           delay(m, neuron, RESULT_STAGES, "target"), result, h_bufs, moments)
        out_index = Signal(range(2 * sizes[-1]))
        m.d.comb += moments.select.eq(out_index)
        settle = Signal(range(max(LAYER_SETTLE, MAC_LATENCY) + 1))  # DRAIN's and SETTLE's countdown

        load = self._loader(mu, sigma, bias)
        with m.FSM(init=load["first"]):
            load["states"](m)
            with m.State("LOAD_X"):
                m.d.comb += [self.x_in.ready.eq(1), x_buf[0].addr.eq(col), x_buf[0].data.eq(self.x_in.payload),
                             x_buf[0].en.eq(self.x_in.valid)]
                with m.If(self.x_in.valid):
                    m.d.comb += col_next.eq(col + 1)
                    with m.If(col == sizes[0] - 1):
                        m.d.comb += [col_next.eq(0), index_next.eq(0), bias_next.eq(0), moments.clear.eq(1)]
                        m.d.sync += [layer.eq(0), group.eq(0), neuron.eq(0), slot.eq(0), read_bank.eq(1), p.eq(0)]
                        m.next = "MAC"
            with m.State("MAC"):
                m.d.comb += issue.eq(grng.z_out.valid)
                with m.If(grng.z_out.valid):
                    m.d.comb += [col_next.eq(col + 1), index_next.eq(index + 1)]
                    with m.If(col == columns - 1):
                        m.d.comb += col_next.eq(0)
                        m.d.sync += settle.eq(MAC_LATENCY)
                        m.next = "DRAIN"
            with m.State("DRAIN"):  # MAC_LATENCY cycles: the group's last products reach the sums
                m.d.sync += settle.eq(settle - 1)
                with m.If(settle == 1):
                    m.next = "RESULTS"
            with m.State("RESULTS"):
                m.d.comb += handing.eq(neuron < outputs)
                m.d.sync += [slot.eq(slot + 1), neuron.eq(neuron + 1)]
                with m.If(slot == P - 1):
                    m.d.sync += [slot.eq(0), *(acc.eq(0) for acc in accs), group.eq(group + 1)]
                    m.d.comb += bias_next.eq(bias_index + 1)
                    m.next = "MAC"
                    with m.If(group == last_group):
                        # The layer's last results land before the next layer (or EMIT) reads them.
                        m.d.sync += [group.eq(0), neuron.eq(0), layer.eq(layer + 1), read_bank.eq(~read_bank),
                                     settle.eq(LAYER_SETTLE)]
                        m.next = "SETTLE"
                        with m.If(layer == depth - 1):
                            m.d.comb += [index_next.eq(0), bias_next.eq(0)]
                            m.d.sync += [layer.eq(0), read_bank.eq(1), p.eq(p + 1)]
                            with m.If(p == S - 1):
                                m.d.sync += out_index.eq(0)
            with m.State("SETTLE"):
                m.d.sync += settle.eq(settle - 1)
                with m.If(settle == 1):
                    m.next = "MAC"
                    with m.If((layer == 0) & (p == 0)):
                        m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.scores_out.valid.eq(1), self.scores_out.payload.eq(moments.value)]
                with m.If(self.scores_out.ready):
                    m.d.sync += out_index.eq(out_index + 1)
                    with m.If(out_index == 2 * sizes[-1] - 1):
                        m.next = "LOAD_X"
        return m

    @staticmethod
    def _write_result(m, writing, scoring, write_bank, neuron, result, h_bufs, moments):
        """A result leaving the result stages: ReLU into the next layer's buffer, or into the moments."""
        m.d.comb += [moments.score.eq(result), moments.index.eq(neuron), moments.add.eq(writing & scoring)]
        for bank, ram in enumerate(h_bufs):
            m.d.comb += [ram[0].addr.eq(neuron), ram[0].data.eq(Mux(result[-1], 0, result)),
                         ram[0].en.eq(writing & ~scoring & (write_bank == bank))]

    def _loader(self, mu, sigma, bias):
        """States that take ``params_in`` (:func:`models.bnn.posterior_names` order) into the lanes' RAMs.

        Word ``(o, i)`` of layer ``ℓ``'s μ or σ' goes to lane ``o mod lanes`` at
        ``base_ℓ + (o div lanes)·N_{ℓ-1} + i``; bias ``o`` to ``bias_base_ℓ + o div lanes``.
        """
        sizes, P = self.sizes, self.lanes
        names = posterior_names(len(sizes) - 1)
        lane, row, col = Signal(range(P)), Signal(range(max(sizes[1:]))), Signal(range(max(sizes[:-1])))
        address = Signal(range(max(steps_per_pass(sizes, P), 1) + 1))
        targets = {"mu": mu, "sigma": sigma, "b": bias}
        bases, bias_bases = [0], [0]
        for n_in, n_out in zip(sizes, sizes[1:]):
            bases.append(bases[-1] + ceil_div(n_out, P) * n_in)
            bias_bases.append(bias_bases[-1] + ceil_div(n_out, P))

        def split(name):  # "sigma2" -> ("sigma", 1)
            kind = name.rstrip("0123456789")
            return kind, int(name[len(kind):]) - 1

        def start_of(name):
            kind, layer = split(name)
            return bias_bases[layer] if kind == "b" else bases[layer]

        def states(m):
            for position, name in enumerate(names):
                kind, layer = split(name)
                n_in, n_out = sizes[layer], sizes[layer + 1]
                following = names[position + 1] if position + 1 < len(names) else None
                with m.State(f"LOAD_{name.upper()}"):
                    m.d.comb += self.params_in.ready.eq(1)
                    for target_lane, ram in enumerate(targets[kind]):
                        m.d.comb += [ram[0].addr.eq(address), ram[0].data.eq(self.params_in.payload),
                                     ram[0].en.eq(self.params_in.valid & (lane == target_lane))]
                    with m.If(self.params_in.valid):
                        self._load_step(m, kind, P, n_in, lane, row, col, address)
                        done = (row == n_out - 1) & ((col == n_in - 1) if kind != "b" else 1)
                        with m.If(done):
                            m.d.sync += [lane.eq(0), row.eq(0), col.eq(0),
                                         address.eq(start_of(following) if following else 0)]
                            m.next = f"LOAD_{following.upper()}" if following else "LOAD_X"

        return {"first": f"LOAD_{names[0].upper()}", "states": states}

    @staticmethod
    def _load_step(m, kind, lanes, n_in, lane, row, col, address):
        """Advance the load counters by one word (the last word's update is overridden by the caller)."""
        wraps = lane == lanes - 1
        next_lane = Mux(wraps, 0, lane + 1)
        if kind == "b":
            m.d.sync += [lane.eq(next_lane), row.eq(row + 1), address.eq(address + wraps)]
            return
        with m.If(col == n_in - 1):
            m.d.sync += [col.eq(0), row.eq(row + 1), lane.eq(next_lane),
                         address.eq(Mux(wraps, address + 1, address - (n_in - 1)))]
        with m.Else():
            m.d.sync += [col.eq(col + 1), address.eq(address + 1)]


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
