"""``bnn-mlp``: Bayesian MLP inference that samples every weight in hardware (``models/bnn.py``)."""

import math

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from models.bnn import (EPS_SOURCES, GRNG_BITS, GRNG_N, LAYER_SETTLE, MAC_LATENCY, READ_STAGES, RESULT_STAGES,
                        image_buffer_words, segment_rows, sigma_frac, weight_segments)
from models.fixed import ceil_div

from .common.banked import READ_LATENCY, BankedMemory, block_ram_bits, fewest_blocks
from .common.buffer import DISTRIBUTED, NO_COLLISIONS, SkidBuffer, wrapped_increment
from .common.dsp import lut_product, registered_product
from .common.fixed import delay, plus_rounded, round_shift, saturate
from .common.memory import simple_ram
from .grng import PairedLFSRGRNG, RLFGRNG

__all__ = ["BayesianMLP", "PredictiveMoments", "LANE_GROUP", "EPS_GROUP", "WEIGHT_COLUMN_BLOCKS"]

#: Lanes per group: each group has its own registered copy of the lane controls (accumulate, restart, chain
#: shift, weight-memory select) and of the activation, so no net from one register reaches every lane.
LANE_GROUP = 8
#: Lanes per register-LFSR ε source (``eps_source="lfsr"``): each source's clock enable reaches its
#: lanes' LFSR pairs and popcounts, some 230 registers a lane.
EPS_GROUP = 2
#: Block RAMs side by side in a column of a weight memory: each column has its own address and write
#: enable registers (:class:`~hw.common.banked.BankedMemory`'s ``column_bits``).
WEIGHT_COLUMN_BLOCKS = 8
#: Copies a register feeds in a two-level copy tree (``_tree_copies``).
COPY_FANOUT = 4


def _table(values, shape=None):
    """A per-layer constant, indexed by a layer counter."""
    shape = shape or range(max(values) + 1)
    return Array(Const(v, shape) for v in values)


class BayesianMLP(wiring.Component):
    """A Bayesian MLP of any depth, ``sizes = [N_0, …, N_L]`` (ReLU between layers), whose weights
    ``μ + σ'·ε`` are drawn per pass from a ``lanes``-lane GRNG (RLF, or LFSRs in registers per lane).

    ``lanes`` multiply-accumulate lanes compute a group of ``lanes`` neurons of a
    layer at once: each step broadcasts one input activation to every lane and
    reads one row of a wide weight memory that holds every lane's μ and σ' for
    that step (neuron ``o`` of a layer is lane ``o mod lanes``); lane ``p``
    samples its weight with its own ε. Consecutive layers that use the same
    number of lanes share one memory (``models.bnn.weight_segments``), so a
    layer narrower than the engine stores only its own lanes.
    A free-running pipeline: the row read from banked block RAM
    (:class:`~hw.common.banked.BankedMemory`, ``READ_STAGES`` cycles) → the lane's μ and σ' register →
    σ'·ε in a registered DSP multiplier (or a LUT multiplier of the same timing) →
    sampled weight → w·a in a registered DSP multiplier → accumulate (``MAC_LATENCY`` cycles). A group ends with
    ``MAC_LATENCY`` drain cycles and ``lanes`` cycles that add each lane's bias, requantize, apply ReLU and write the result into the
    next layer's activation buffer (two ping-pong buffers beside the input
    image's), or, after the last layer, into :class:`PredictiveMoments`. ε
    comes from the GRNG through a :class:`~hw.common.buffer.SkidBuffer`, so its
    clock enables see a registered ``ready``.

    Parameters
    ----------
    sizes : list of int
        ``[N_0, …, N_L]``, at least one layer.
    lanes : int
        MAC lanes (and GRNG lanes).
    width, frac : int
        ``Q(width, frac)`` of biases, activations and scores (σ' is ``Q(width, width - 1)``).
    weight_frac : int
        Fractional bits of μ and the sampled weights (default ``frac``).
    passes : int
        Sampled forward passes per image, a power of two.
    seed : int
        Seed of the GRNG.
    eps_bits : int
        Fresh bits per ε: the GRNG's samples are Binomial(eps_bits, ½) (its RAM is ``lanes·eps_bits`` wide).
    eps_source : str
        ``"rlf"``: an :class:`~hw.grng.RLFGRNG` (block RAM); ``"lfsr"``: a :class:`~hw.grng.PairedLFSRGRNG`
        (registers; ``models.bnn.epsilons``).
    lut_spread : bool
        σ'·ε in a LUT multiplier (:func:`~hw.common.dsp.lut_product`), one DSP block per lane instead of two.

    Members
    -------
    params_in : In(stream.Signature(signed(width)))
        Once after reset: every weight-memory row (``used`` μ words, then ``used`` σ' words), then
        every layer's biases (``models.bnn.posterior_words``).
    x_in : In(stream.Signature(signed(width)))
        ``N_0`` words per image, taken whenever an image buffer bank is free (also while loading the
        posterior).
    scores_out : Out(stream.Signature(signed(width)))
        Per image ``N_L`` predictive means, then ``N_L`` variances.

    Latency
    -------
    ``models.bnn.cycles_per_image`` cycles from an image's first word to its last score (the GRNG is
    never the bottleneck).

    Throughput
    ----------
    One image per ``models.bnn.image_interval`` cycles: the image buffer has two banks, and the next
    image loads into one while the engine computes on the other.
    """

    def __init__(self, *, sizes, lanes, width, frac, passes, seed, eps_bits=GRNG_BITS, weight_frac=None,
                 eps_source="rlf", lut_spread=False):
        assert eps_source in EPS_SOURCES, eps_source
        self.sizes, self.lanes = list(sizes), lanes
        self.eps_source, self.lut_spread = eps_source, lut_spread
        self.weight_frac = frac if weight_frac is None else weight_frac
        self.width, self.frac, self.passes, self.seed, self.eps_bits = width, frac, passes, seed, eps_bits
        super().__init__({
            "params_in": In(stream.Signature(signed(width))),
            "x_in": In(stream.Signature(signed(width))),
            "scores_out": Out(stream.Signature(signed(width))),
        })

    def elaborate(self, platform):
        m = Module()
        sizes, P, W, F, S = self.sizes, self.lanes, self.width, self.frac, self.passes
        WF = self.weight_frac
        depth, word = len(sizes) - 1, signed(W)
        n_in, n_out = sizes[:-1], sizes[1:]
        groups = [ceil_div(n, P) for n in n_out]
        issue = Signal()  # a MAC step: a weight row read, an activation, an ε per lane
        eps_primed, eps_payload = self._epsilon_stream(m, issue)

        # Weight memories, one row per MAC step (layer, group, input); biases by neuron, read beside the sums.
        segments = weight_segments(sizes, P)
        depths = [segment_rows(sizes, P, layers) for layers, _ in segments]
        assert READ_STAGES == READ_LATENCY
        weights = []
        for s, ((_, used), rows) in enumerate(zip(segments, depths)):
            _, bank_words = fewest_blocks(2 * used * W, rows)
            m.submodules[f"weights{s}"] = memory = BankedMemory(
                shape=unsigned(2 * used * W), depth=rows, bank_words=bank_words,
                column_bits=WEIGHT_COLUMN_BLOCKS * block_ram_bits(bank_words))
            weights.append(memory)
        # Biases in LUT RAM, read into a register beside the sum: a block RAM's 5.8 ns clock-to-output (its
        # output register is the only one the read has) plus a route across a full device is a cycle.
        bias = simple_ram(m, "bias", word, sum(n_out), read_domain="comb", attrs=DISTRIBUTED)
        # Activation buffers: each is read into a reset-less register (the block RAM's output register).
        # The image buffer has two banks (its top address bit): the next image loads while one computes.
        x_buf = simple_ram(m, "x_buf", word, image_buffer_words(sizes[0]), attrs=NO_COLLISIONS)
        x_bits = (sizes[0] - 1).bit_length()  # a bank's address bits; the bank is the bit above them
        x_bank = Signal()  # the bank the engine reads
        release = Signal()  # the engine is done with bank ``x_bank``
        x_ready = Signal()  # registered: bank ``x_bank`` holds an image (stale the cycle after a release)
        m.d.sync += x_ready.eq(self._image_loader(m, x_buf[0], x_bank, release) & eps_primed)
        hidden_depth = max(sizes[1:-1], default=1)
        h_bufs = [simple_ram(m, f"h_buf{bank}", word, hidden_depth, attrs=NO_COLLISIONS) for bank in (0, 1)]
        m.submodules.moments = moments = PredictiveMoments(width=W, frac=F, n_out=sizes[-1], passes=S)

        layer = Signal(range(depth))
        group = Signal(range(max(groups)))
        col = Signal(range(max(n_in)))
        slot = Signal(range(P))
        neuron = Signal(range(max(groups) * P))
        read_bank = Signal(init=1)  # the h buffer a layer ≥ 1 reads; it writes the other (layer 0 writes h0)
        p = Signal(range(S))
        # The read ports are addressed by the counters themselves: an issue's row arrives READ_STAGES cycles
        # after it, its activation 2 (the buffer and its output register). ``index`` is the row in the
        # current layer's weight memory; ``col`` the input.
        index = Signal(range(max(depths) + 1))
        columns, outputs, last_group = _table(n_in)[layer], _table(n_out)[layer], _table([g - 1 for g in groups])[layer]
        segment_of = [s for s, (layers, _) in enumerate(segments) for _ in layers]
        opens_segment = _table([int(segment_of[ℓ + 1] != segment_of[ℓ]) for ℓ in range(depth - 1)] + [1])[layer]
        mu, sigma = self._lane_words(m, [memory.read.data for memory in weights], segments,
                                     _table(segment_of)[layer])
        # ``bias_at`` is the bias memory's read address, ``base[layer] + neuron``, kept in a register that
        # steps with ``neuron``: no table lookup and add in front of the bias read and the bias add.
        bias_at = Signal(range(sum(n_out)))
        next_layer_base = _table([sum(n_out[:ℓ + 1]) for ℓ in range(depth - 1)] + [0], bias_at.shape())[layer]
        m.d.comb += bias[1].addr.eq(bias_at)

        # Stage A: sample each lane's weight, fetch the activation (broadcast).
        for memory in weights:
            m.d.comb += memory.read.addr.eq(index)
        read = []
        m.d.comb += x_buf[1].addr.eq(Cat(col[:x_bits], x_bank))
        for ram in h_bufs:
            m.d.comb += ram[1].addr.eq(col)
        for name, ram in (("x", x_buf), ("h0", h_bufs[0]), ("h1", h_bufs[1])):
            read.append(Signal(word, name=f"{name}_read", reset_less=True))
            m.d.sync += read[-1].eq(ram[1].data)
        activation = Mux(layer == 0, read[0], Mux(read_bank, read[2], read[1]))
        # Free-running lane pipeline, MAC_LATENCY cycles from an issue to its sum: the row read and its
        # registers (READ_STAGES), the lane's μ/σ' register (1), σ'·ε in a registered multiplier (2), the
        # sampled weight μ + round(σ'·ε) saturated (1), w·a in a registered multiplier (2); then the
        # accumulator.
        # Every lane group (``LANE_GROUP`` lanes) has its own registered copy of the accumulate enable, of
        # the restart after the sums are handed to the result chain and of the chain's shift (``keep``:
        # yosys would merge the copies into one net reaching every lane). A restart lands the cycle after the
        # hand-over, long before the next group's first sum (MAC_LATENCY cycles after its first issue); the
        # restarts are high out of reset, so the sums, like every lane register, need no reset net.
        issued = delay(m, issue, MAC_LATENCY - 1, "accumulate")
        hand, shift_next = Signal(), Signal()  # ``hand``: the sums go to the result chain (result slot 0)
        accumulate = self._group_copies(m, issued, "accumulate")
        restart = self._group_copies(m, hand, "restart", init=1)
        shift = self._group_copies(m, shift_next, "shift")
        # The activation (2 cycles behind the issue) waits for the sampled weights (READ_STAGES + 4); its
        # last two registers are a copy tree, a copy per lane group. ε (two cycles behind) waits for σ'
        # in the lane register (READ_STAGES + 1).
        operand = delay(m, activation, READ_STAGES + 4 - 2 - 2, "operand", reset_less=True)
        operands = self._tree_copies(m, operand, "operand", reset_less=True)
        epsilon = delay(m, eps_payload, READ_STAGES + 1 - 2, "epsilon", reset_less=True)
        acc_width = 2 * W + 2 + max(n_in).bit_length() + 8
        accs = []
        spread_product = lut_product if self.lut_spread else registered_product
        for lane in range(P):
            spread = spread_product(m, sigma[lane], epsilon[lane], f"spread{lane}")
            sampled = Signal(word, name=f"sampled{lane}", reset_less=True)
            m.d.sync += sampled.eq(saturate(plus_rounded(delay(m, mu[lane], 2, f"mu{lane}", reset_less=True),
                                                         spread, sigma_frac(W) - WF), W))
            product = registered_product(m, sampled, operands[lane // LANE_GROUP], f"product{lane}")
            acc = Signal(signed(acc_width), name=f"acc{lane}", reset_less=True)
            with m.If(accumulate[lane // LANE_GROUP]):
                m.d.sync += acc.eq(acc + product)
            with m.If(restart[lane // LANE_GROUP]):
                m.d.sync += acc.eq(0)
            accs.append(acc)

        # A group's results, one lane per cycle, in three register stages: the lane's sum and its bias
        # (read from LUT RAM), the bias plus the rounded sum (one adder), then saturated; the write (next
        # layer's buffer or the moments) follows the third.
        assert RESULT_STAGES == 3  # ``summand``/``bias_word``, ``biased``, ``result`` (models.bnn counts them)
        summand = Signal(signed(acc_width), reset_less=True)
        bias_word = Signal(word, reset_less=True)
        rounded = plus_rounded(bias_word, summand, WF)  # == requantize(summand + bias·2^WF) before saturation
        biased = Signal(rounded.shape(), reset_less=True)
        result = Signal(word, reset_less=True)
        handing = Signal()  # lane ``slot``'s sum, a real neuron's, goes to the result stages
        # The sums leave through a shift chain, not a lanes-wide multiplexer: in slot 0 (``hand``) lane 0's
        # sum goes to the result stages while lanes 1 … P-1 load the chain; each later slot takes the chain's
        # head, while the next group's MACs run. ``shift`` (slot != 0) is registered from the slot to come.
        chain = [Signal(signed(acc_width), name=f"chain{lane}", reset_less=True) for lane in range(1, P)]
        for lane, link in enumerate(chain, start=1):
            following = chain[lane] if lane < len(chain) else 0
            m.d.sync += link.eq(Mux(shift[lane // LANE_GROUP], following, accs[lane]))
        head = Mux(slot == 0, accs[0], chain[0]) if chain else accs[0]
        m.d.sync += [summand.eq(head), bias_word.eq(bias[1].data),
                     biased.eq(rounded), result.eq(saturate(biased, W))]
        self._write_result(m, delay(m, handing, RESULT_STAGES, "writing"),
                           delay(m, layer == depth - 1, RESULT_STAGES, "scoring"),
                           delay(m, Mux(layer == 0, 0, ~read_bank), RESULT_STAGES, "bank"),
                           delay(m, neuron, RESULT_STAGES, "target"), result, h_bufs, moments)
        # The result sequencer: slots 0 … P-1 from a hand-over, one lane's sum per slot.
        emitting = Signal()  # slots 1 … P-1 of a group are under way
        stepping = hand | emitting
        m.d.comb += [handing.eq(stepping & (neuron < outputs)), shift_next.eq(stepping & (slot != P - 1))]
        with m.If(stepping):
            m.d.sync += [slot.eq(slot + 1), neuron.eq(neuron + 1), bias_at.eq(bias_at + 1), emitting.eq(1)]
            with m.If(slot == P - 1):
                m.d.sync += [slot.eq(0), emitting.eq(0)]
        out_index = Signal(range(2 * sizes[-1]))
        m.d.comb += moments.select.eq(out_index)
        settle = Signal(range(max(LAYER_SETTLE, MAC_LATENCY) + 1))  # DRAIN's and SETTLE's countdown

        load = self._loader(m, weights, segments, depths, bias)
        with m.FSM(init=load["first"]):
            load["states"](m)
            with m.State("WAIT_X"):  # until bank ``x_bank`` holds an image
                with m.If(x_ready):
                    m.d.comb += moments.clear.eq(1)
                    m.d.sync += [col.eq(0), index.eq(0), layer.eq(0), group.eq(0), neuron.eq(0), slot.eq(0),
                                 bias_at.eq(0), read_bank.eq(1), p.eq(0)]
                    m.next = "MAC"
            with m.State("MAC"):
                m.d.comb += issue.eq(1)
                m.d.sync += [col.eq(col + 1), index.eq(index + 1)]
                with m.If(col == columns - 1):
                    m.d.sync += [col.eq(0), settle.eq(MAC_LATENCY)]
                    m.next = "DRAIN"
            with m.State("DRAIN"):  # MAC_LATENCY cycles: the group's last products reach the sums
                m.d.sync += settle.eq(settle - 1)
                with m.If(settle == 1):
                    m.next = "HAND"
            with m.State("HAND"):  # once the previous group's results are out: this group's sums to the chain
                with m.If(~emitting):
                    m.d.comb += hand.eq(1)
                    m.d.sync += group.eq(group + 1)
                    m.next = "MAC"
                    with m.If(group == last_group):
                        m.d.sync += group.eq(0)
                        m.next = "FLUSH"
            with m.State("FLUSH"):  # the layer's last results out; they land before the next layer reads them
                with m.If(~emitting):
                    m.d.sync += [neuron.eq(0), bias_at.eq(next_layer_base), layer.eq(layer + 1),
                                 read_bank.eq(~read_bank), settle.eq(LAYER_SETTLE)]
                    m.next = "SETTLE"
                    with m.If(opens_segment):
                        m.d.sync += index.eq(0)
                    with m.If(layer == depth - 1):
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
                        m.next = "RELEASE"
            with m.State("RELEASE"):  # bank ``x_bank`` back to the loader; the other is next
                m.d.comb += release.eq(1)
                m.d.sync += x_bank.eq(~x_bank)
                m.next = "PAUSE"
            with m.State("PAUSE"):  # ``x_ready`` still shows the released bank
                m.next = "WAIT_X"
        return m

    def _image_loader(self, m, write, x_bank, release):
        """Takes ``x_in`` into the image buffer's two banks in turn, each when the engine has released
        it; returns "bank ``x_bank`` holds an image". ``write`` is the buffer's write port (address:
        the word, then the bank bit)."""
        n_in = self.sizes[0]
        word, bank = Signal(range(n_in)), Signal()
        full = [Signal(name=f"x_full{b}") for b in (0, 1)]
        free = ~Array(full)[bank]
        m.d.comb += [self.x_in.ready.eq(free), write.addr.eq(Cat(word, bank)), write.data.eq(self.x_in.payload),
                     write.en.eq(self.x_in.valid & free)]
        last = self.x_in.valid & free & (word == n_in - 1)
        with m.If(self.x_in.valid & free):
            m.d.sync += word.eq(wrapped_increment(word, n_in))
        with m.If(last):
            m.d.sync += bank.eq(~bank)
        for b, flag in enumerate(full):
            with m.If(last & (bank == b)):
                m.d.sync += flag.eq(1)
            with m.Elif(release & (x_bank == b)):
                m.d.sync += flag.eq(0)
        return Array(full)[x_bank]

    def _epsilon_stream(self, m, issue):
        """Every lane's ε: ``(primed, payload)``, ``payload`` an ``ArrayLayout`` of ``lanes`` samples that
        shows, two cycles after an ``issue``, that issue's ε.

        ε reaches the lanes through register slices (:class:`~hw.common.buffer.SkidBuffer`). The
        RLF-GRNG is one source behind one slice; the register LFSRs are ``EPS_GROUP``-lane sources, each
        behind its own slice, so no clock enable reaches more than one group's registers. Each slice takes
        a word on its own copy of ``issue`` (``keep``, two cycles after the issue through a copy tree),
        so no handshake crosses the device: the sources make a sample every cycle they may, so once every
        slice has shown a word (``primed``, registered) each shows one in every cycle, and the slices
        move in lockstep: the lanes see the steps of one ``lanes``-lane generator
        (``first_lane``/``all_lanes``).
        """
        P = self.lanes
        if self.eps_source == "rlf":
            sources = [RLFGRNG(n=GRNG_N, lanes=P, bits=self.eps_bits, seed=self.seed)]
        else:
            sources = [PairedLFSRGRNG(lanes=min(EPS_GROUP, P - first), bits=self.eps_bits, seed=self.seed,
                                      first_lane=first, all_lanes=P) for first in range(0, P, EPS_GROUP)]
        slices = []
        taken = self._tree_copies(m, issue, "eps_taken", count=len(sources))
        for group, source in enumerate(sources):
            m.submodules[f"{self.eps_source}{group}"] = source
            m.submodules[f"grng{group}"] = grng = SkidBuffer(shape=source.z_out.payload.shape())
            wiring.connect(m, source.z_out, grng.input)
            m.d.comb += grng.output.ready.eq(taken[group])
            slices.append(grng.output)
        quads = [Signal(name=f"eps_primed{n}") for n in range(ceil_div(len(slices), 4))]  # registered in two levels
        m.d.sync += [quad.eq(Cat(out.valid for out in slices[4 * n:4 * n + 4]).all()) for n, quad in enumerate(quads)]
        primed = Signal(name="eps_primed")
        m.d.sync += primed.eq(Cat(quads).all())
        payload = Signal(data.ArrayLayout(signed(sources[0].sample_width), P), name="eps_payload")
        m.d.comb += payload.eq(Cat(out.payload for out in slices))
        return primed, payload

    @staticmethod
    def _write_result(m, writing, scoring, write_bank, neuron, result, h_bufs, moments):
        """A result leaving the result stages: ReLU into the next layer's buffer, or into the moments."""
        m.d.comb += [moments.score.eq(result), moments.index.eq(neuron), moments.add.eq(writing & scoring)]
        for bank, ram in enumerate(h_bufs):
            m.d.comb += [ram[0].addr.eq(neuron), ram[0].data.eq(Mux(result[-1], 0, result)),
                         ram[0].en.eq(writing & ~scoring & (write_bank == bank))]

    def _lane_words(self, m, rows, segments, segment):
        """Each lane's μ and σ' a cycle after the weight rows are read (one per memory), in a register
        beside the lane: the row of memory ``segment`` (the current layer's), zero in lanes that memory
        does not store.

        With more than one memory, each lane group selects through its own registered copy of
        ``segment == s`` (``keep``); ``segment`` changes a layer's settle time before its first row
        arrives."""
        W = self.width
        mu = [Signal(signed(W), name=f"mu{lane}_row") for lane in range(self.lanes)]
        sigma = [Signal(signed(W), name=f"sigma{lane}_row") for lane in range(self.lanes)]
        for s, ((_, used), row) in enumerate(zip(segments, rows)):
            selects = [1] if len(segments) == 1 else self._group_copies(m, segment == s, f"segment{s}_")
            for lane in range(used):
                with m.If(selects[lane // LANE_GROUP]):
                    m.d.comb += [mu[lane].eq(row[lane * W:(lane + 1) * W]),
                                 sigma[lane].eq(row[(used + lane) * W:(used + lane + 1) * W])]
        return tuple([delay(m, word, 1, f"{name}{lane}", reset_less=True) for lane, word in enumerate(words)]
                     for name, words in (("mu", mu), ("sigma", sigma)))

    def _group_copies(self, m, value, prefix: str, *, init: int = 0, reset_less=False, count=None) -> list[Signal]:
        """A registered copy of ``value`` for every lane group, or ``count`` copies (``keep``: not merged)."""
        copies = [Signal(Value.cast(value).shape(), name=f"{prefix}{group}", init=init, reset_less=reset_less,
                         attrs={"keep": 1})
                  for group in range(count or ceil_div(self.lanes, LANE_GROUP))]
        m.d.sync += [copy.eq(value) for copy in copies]
        return copies

    def _tree_copies(self, m, value, prefix: str, *, reset_less=False, count=None) -> list[Signal]:
        """As :meth:`_group_copies`, two cycles late through a register per ``COPY_FANOUT`` copies: no
        register drives more than ``COPY_FANOUT`` far-apart copies."""
        count = count or ceil_div(self.lanes, LANE_GROUP)
        firsts = self._group_copies(m, value, f"{prefix}_near", reset_less=reset_less,
                                    count=ceil_div(count, COPY_FANOUT))
        copies = [Signal(Value.cast(value).shape(), name=f"{prefix}{n}", reset_less=reset_less, attrs={"keep": 1})
                  for n in range(count)]
        m.d.sync += [copy.eq(firsts[n // COPY_FANOUT]) for n, copy in enumerate(copies)]
        return copies

    def _loader(self, m, weights, segments, depths, bias):
        """States that take ``params_in`` (``models.bnn.posterior_words``) into the memories.

        Each weight memory's rows arrive one after the other, ``2·used`` words a
        row. A weight word is registered as it arrives (``arrived``), with a
        registered "a word arrived" for every ``2·LANE_GROUP``-word part of
        ``row_buffer`` (``keep``), the row's address and, on its last word,
        that memory's "row complete": a cycle later the word shifts into the
        row buffer from the top, every part on its own enable, and a complete
        row is written. So no register or state decode reaches the whole row.
        The biases follow, one word each, written as they arrive.
        """
        W = self.width
        part_bits = 2 * LANE_GROUP * W
        row_bits = 2 * max(used for _, used in segments) * W
        parts = [Signal(min(part_bits, row_bits - low), name=f"row_buffer{n}", reset_less=True)
                 for n, low in enumerate(range(0, row_bits, part_bits))]
        word, address = Signal(range(2 * self.lanes)), Signal(range(max(depths + [sum(self.sizes[1:])])))
        arrived = Signal(W, reset_less=True)
        row_address = Signal.like(address, reset_less=True)
        taking = Signal()  # a weight word is taken this cycle
        completes = [Signal(name=f"completes{s}") for s in range(len(weights))]  # ... and ends a row
        m.d.sync += [arrived.eq(self.params_in.payload), row_address.eq(address)]
        took = self._group_copies(m, taking, "took", count=len(parts))
        shifted = Cat(Cat(parts)[W:], arrived)
        for n, (part, enable) in enumerate(zip(parts, took)):
            with m.If(enable):
                m.d.sync += part.eq(shifted[n * part_bits:n * part_bits + len(part)])
        for (_, used), ram, complete in zip(segments, weights, completes):
            m.d.comb += [ram.write.addr.eq(row_address), ram.write.data.eq(shifted[-2 * used * W:])]
            m.d.sync += ram.write.en.eq(complete)

        def states(m):
            for s, ((_, used), rows) in enumerate(zip(segments, depths)):
                following = f"LOAD_WEIGHTS{s + 1}" if s + 1 < len(segments) else "LOAD_BIASES"
                with m.State(f"LOAD_WEIGHTS{s}"):
                    last_word = word == 2 * used - 1
                    m.d.comb += [self.params_in.ready.eq(1), taking.eq(self.params_in.valid),
                                 completes[s].eq(self.params_in.valid & last_word)]
                    with m.If(self.params_in.valid):
                        m.d.sync += [word.eq(Mux(last_word, 0, word + 1)), address.eq(address + last_word)]
                        with m.If(last_word & (address == rows - 1)):
                            m.d.sync += address.eq(0)
                            m.next = following
            with m.State("LOAD_BIASES"):
                m.d.comb += [self.params_in.ready.eq(1), bias[0].addr.eq(address),
                             bias[0].data.eq(self.params_in.payload), bias[0].en.eq(self.params_in.valid)]
                with m.If(self.params_in.valid):
                    m.d.sync += address.eq(address + 1)
                    with m.If(address == sum(self.sizes[1:]) - 1):
                        m.d.sync += address.eq(0)
                        m.next = "WAIT_X"

        return {"first": "LOAD_WEIGHTS0", "states": states}


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
    A score is in the sums three cycles after ``add`` (its square takes two, in a registered DSP
    multiplier); ``value`` follows ``select`` in the same cycle.

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
        # The square in a registered DSP multiplier; the score, its class and ``add`` wait beside it.
        square = registered_product(m, self.score, self.score, "square")
        score = delay(m, self.score, 2, "score", reset_less=True)
        index = delay(m, self.index, 2, "index", reset_less=True)
        add = delay(m, self.add & ~self.clear, 2, "add")
        with m.If(self.clear):
            m.d.sync += [t.eq(0) for t in total] + [q.eq(0) for q in squares]
        with m.Elif(add):
            for j in range(O):
                with m.If(index == j):
                    m.d.sync += [total[j].eq(total[j] + score), squares[j].eq(squares[j] + square)]
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
