"""``dense-fc``: a fixed-point matrix-vector engine, the baseline of the circulant family."""

import operator

import numpy as np
from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from models.dense import DRAIN_CYCLES
from models.fixed import accumulator_width, ceil_div

from .common.buffer import NO_COLLISIONS
from .common.dsp import registered_product
from .common.fixed import requantize

__all__ = ["DenseFC", "MACLanes"]


class DenseFC(wiring.Component):
    """``y = W x`` with ``parallelism`` multiply-accumulate lanes.

    Weights are loaded once after reset through ``w_in`` (row-major
    ``W[o, i]``, ``n_out * n_in`` words) into one block RAM bank per lane;
    lane ``l`` owns the output rows ``o ≡ l (mod parallelism)``. A ``w_in``
    word that arrives while the engine waits for the first word of a vector
    starts a full reload. Given ``weights``, the banks are initialized with
    them instead (a ROM in the bitstream) and there is no ``w_in``. Then
    each vector ``x`` (``n_in`` words) is buffered and the lanes compute ``ceil(n_out / parallelism)`` groups of outputs;
    each output is ``sum_i W[o,i] x[i]`` exactly, rounded half up by ``frac``
    bits and saturated to ``width`` bits (``models/dense.py``).

    Parameters
    ----------
    n_in, n_out : int
        Matrix shape (``W`` is ``n_out × n_in``).
    width, frac : int
        Fixed-point format ``Q(width, frac)`` of ``W``, ``x`` and ``y``.
    parallelism : int
        Number of MAC lanes (one multiplier each), ``1 ≤ parallelism ≤ n_out``.
    weights : array of int, optional
        Raw ``W`` (``n_out × n_in``) baked into the banks.

    Members
    -------
    w_in : In(stream.Signature(signed(width)))
        Weight words, only accepted while loading (absent with ``weights``).
    x_in : In(stream.Signature(signed(width)))
        Input vector words, ``x[0]`` first.
    y_out : Out(stream.Signature(signed(width)))
        Output vector words, ``y[0]`` first.

    Latency
    -------
    Per vector (no stalls): ``n_in`` cycles to load ``x``, then per group
    ``n_in`` issue cycles, ``DRAIN_CYCLES`` (4) pipeline cycles and one cycle
    per output sent: ``models.dense.cycles_per_vector``.

    Throughput
    ----------
    One vector at a time: loading ``x`` does not overlap computing, so a new
    vector is accepted right after the last output of the previous one is sent.
    """

    def __init__(self, *, n_in, n_out, width=16, frac=10, parallelism=1, weights=None):
        self.n_in = operator.index(n_in)
        self.n_out = operator.index(n_out)
        self.width = operator.index(width)
        self.frac = operator.index(frac)
        self.parallelism = operator.index(parallelism)
        self.check_parallelism(self.parallelism, self.n_out)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.int64)
        if self.weights is not None and self.weights.shape != (self.n_out, self.n_in):
            raise ValueError(f"weights have shape {self.weights.shape}; expected ({self.n_out}, {self.n_in})")
        loaded = {} if self.weights is not None else {"w_in": In(stream.Signature(signed(self.width)))}
        super().__init__({
            **loaded,
            "x_in": In(stream.Signature(signed(self.width))),
            "y_out": Out(stream.Signature(signed(self.width))),
        })

    @staticmethod
    def check_parallelism(parallelism: int, n_out: int, outputs: str = "n_out"):
        """Raise ``ValueError`` unless ``1 ≤ parallelism ≤ n_out`` (``outputs`` names ``n_out`` in the message)."""
        if not 1 <= parallelism <= n_out:
            raise ValueError(f"parallelism={parallelism} out of range [1, {n_out}] (at most {outputs})")

    @property
    def groups(self) -> int:
        """Output groups per vector, ``ceil(n_out / parallelism)``."""
        return ceil_div(self.n_out, self.parallelism)

    def bank_init(self, lane: int) -> list[int]:
        """Lane ``lane``'s bank as baked: word ``g · n_in + i`` is ``W[g · parallelism + lane, i]`` (0 past ``n_out``)."""
        if self.weights is None:
            return []
        rows = np.zeros((self.groups * self.parallelism, self.n_in), dtype=np.int64)
        rows[:self.n_out] = self.weights
        return [int(word) for word in rows[lane::self.parallelism].reshape(-1)]

    @property
    def acc_width(self) -> int:
        """Accumulator bits: exact for any ``n_in`` products."""
        return accumulator_width(self.width, self.n_in)

    def elaborate(self, platform):
        m = Module()
        n_in, lanes, groups, width = self.n_in, self.parallelism, self.groups, self.width
        word = signed(width)

        # Each memory is written in its load state and read (by an issued MAC) only in COMPUTE.
        m.submodules.x_buf = x_buf = memory.Memory(shape=word, depth=n_in, init=[], attrs=NO_COLLISIONS)
        x_write, x_read = x_buf.write_port(), x_buf.read_port()
        banks = [memory.Memory(shape=word, depth=groups * n_in, init=self.bank_init(lane), attrs=NO_COLLISIONS)
                 for lane in range(lanes)]
        w_writes, w_reads = [], []
        for lane, bank in enumerate(banks):
            m.submodules[f"w_bank{lane}"] = bank
            if self.weights is None:
                w_writes.append(bank.write_port())
            w_reads.append(bank.read_port())

        # Counters: input index, lane within a group, group, and group * n_in.
        index = Signal(range(n_in))
        lane = Signal(range(lanes))
        group = Signal(range(groups))
        row_base = Signal(range(groups * n_in))
        last_index = index == n_in - 1
        last_group = group == groups - 1
        last_lane = lane == Mux(last_group, (self.n_out - 1) % lanes, lanes - 1)

        m.d.comb += x_read.addr.eq(index)
        for w_read in w_reads:
            m.d.comb += w_read.addr.eq(row_base + index)

        # MAC lanes: issue strobes with the addresses, RAM data a cycle later, accumulators DRAIN_CYCLES after.
        m.submodules.lanes = mac = MACLanes(width=width, lanes=lanes, acc_width=self.acc_width)
        issue, issue_first, issue_last = mac.issue, mac.issue_first, mac.issue_last
        m.d.comb += mac.x.eq(x_read.data)
        m.d.comb += [mac.w[lane].eq(w_read.data) for lane, w_read in enumerate(w_reads)]
        m.d.comb += mac.select.eq(lane)  # the output lane, read in EMIT

        def next_index_or_wrap():
            m.d.sync += index.eq(Mux(last_index, 0, index + 1))

        baked = self.weights is not None
        with m.FSM(init="LOAD_X" if baked else "LOAD_W"):
            if not baked:
                with m.State("LOAD_W"):
                    m.d.comb += self.w_in.ready.eq(1)
                    for l, w_write in enumerate(w_writes):
                        m.d.comb += [
                            w_write.addr.eq(row_base + index),
                            w_write.data.eq(self.w_in.payload),
                            w_write.en.eq(self.w_in.valid & (lane == l)),
                        ]
                    with m.If(self.w_in.valid):
                        next_index_or_wrap()
                        with m.If(last_index):
                            with m.If(last_lane & last_group):
                                m.d.sync += [lane.eq(0), group.eq(0), row_base.eq(0)]
                                m.next = "LOAD_X"
                            with m.Elif(lane == lanes - 1):
                                m.d.sync += [lane.eq(0), group.eq(group + 1), row_base.eq(row_base + n_in)]
                            with m.Else():
                                m.d.sync += lane.eq(lane + 1)

            with m.State("LOAD_X"):
                m.d.comb += [
                    self.x_in.ready.eq(1),
                    x_write.addr.eq(index),
                    x_write.data.eq(self.x_in.payload),
                    x_write.en.eq(self.x_in.valid),
                ]
                with m.If(self.x_in.valid):
                    next_index_or_wrap()
                    with m.If(last_index):
                        m.next = "COMPUTE"
                if not baked:
                    with m.Elif(self.w_in.valid & (index == 0)):
                        m.next = "LOAD_W"

            with m.State("COMPUTE"):
                m.d.comb += [issue.eq(1), issue_first.eq(index == 0), issue_last.eq(last_index)]
                next_index_or_wrap()
                with m.If(last_index):
                    m.next = "DRAIN"

            with m.State("DRAIN"):
                with m.If(mac.last_done):
                    m.next = "EMIT"

            with m.State("EMIT"):
                m.d.comb += [
                    self.y_out.valid.eq(1),
                    self.y_out.payload.eq(requantize(mac.selected, self.frac, width)),
                ]
                with m.If(self.y_out.ready):
                    m.d.sync += lane.eq(lane + 1)
                    with m.If(last_lane):
                        m.d.sync += lane.eq(0)
                        with m.If(last_group):
                            m.d.sync += [group.eq(0), row_base.eq(0)]
                            m.next = "LOAD_X"
                        with m.Else():
                            m.d.sync += [group.eq(group + 1), row_base.eq(row_base + n_in)]
                            m.next = "COMPUTE"
        return m


class MACLanes(wiring.Component):
    """``lanes`` multiply-accumulate lanes sharing one operand: ``acc[l] = Σ x · w[l]`` over one pass.

    A pass is a run of issues, ``issue_first`` on its first and ``issue_last``
    on its last. Each issue's operands arrive one cycle later on ``x`` and
    ``w`` (a synchronous RAM read), are registered (reset-less: the ECP5 flow
    moves them into the block RAMs), multiplied in the registered DSP
    multiplier (``hw/common/dsp.py``) and accumulated; the first product of a
    pass replaces the accumulator.

    Parameters
    ----------
    width : int
        Bits of ``x`` and ``w`` (signed).
    lanes : int
        Number of lanes (multipliers).
    acc_width : int
        Bits of each accumulator (exact for the longest pass).

    Members
    -------
    issue, issue_first, issue_last : In(1)
        An operand pair is being read; the first / last of a pass.
    x : In(signed(width)), w : In(data.ArrayLayout(signed(width), lanes))
        The operands, one cycle after their issue.
    select : In(range(lanes))
        A lane.
    selected : Out(signed(acc_width))
        That lane's accumulator.
    last_done : Out(1)
        The pass's last product has been accumulated (``acc`` final) from the next cycle on.

    Latency
    -------
    A product reaches its accumulator ``DRAIN_CYCLES`` (4) cycles after its issue (RAM data, operand
    registers, the multiplier's input and product registers).

    Throughput
    ----------
    One issue per cycle.
    """

    def __init__(self, *, width: int, lanes: int, acc_width: int):
        word = signed(width)
        super().__init__({
            "issue": In(1), "issue_first": In(1), "issue_last": In(1),
            "x": In(word), "w": In(data.ArrayLayout(word, lanes)),
            "select": In(range(lanes)), "selected": Out(signed(acc_width)), "last_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        stages = range(1, DRAIN_CYCLES + 1)
        valid = [self.issue] + [Signal(name=f"s{n}_valid") for n in stages]
        first = [self.issue_first] + [Signal(name=f"s{n}_first") for n in stages]
        last = [self.issue_last] + [Signal(name=f"s{n}_last") for n in stages]
        for n in stages:
            m.d.sync += [valid[n].eq(valid[n - 1]), first[n].eq(first[n - 1]), last[n].eq(last[n - 1])]
        m.d.comb += self.last_done.eq(last[-1])
        x_operand = Signal.like(self.x, name="x_operand", reset_less=True)
        m.d.sync += x_operand.eq(self.x)
        accumulators = Array(Signal.like(self.selected, name=f"acc{lane}") for lane in range(len(self.w)))
        for lane, acc in enumerate(accumulators):
            w_operand = Signal.like(self.x, name=f"w_operand{lane}", reset_less=True)
            m.d.sync += w_operand.eq(self.w[lane])
            product = registered_product(m, x_operand, w_operand, f"product{lane}")
            with m.If(valid[-1]):
                m.d.sync += acc.eq(Mux(first[-1], 0, acc) + product)
        m.d.comb += self.selected.eq(accumulators[self.select])
        return m
