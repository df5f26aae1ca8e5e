"""Intergrad: a ``rows × cols`` systolic array computing dX = Wᵀδ (WS), dW = δXᵀ (OS) or both (interleaved).

Counters and cycle formulas: ``models/intergrad.py`` (equal to this RTL's,
checked in ``tests/test_intergrad.py``).
"""

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import ceil_div
from models.intergrad import MODES, PE_KINDS, PIPELINE, stream_slots

from .common.buffer import LutRamFIFO, SkidBuffer
from .common.dsp import lut_product, registered_product
from .common.fixed import delay
from .common.memory import simple_ram

__all__ = ["Intergrad", "PEArray", "COUNTERS", "shape_layout", "shape_word"]

#: Results the read pipeline may hold (its five stages and the output FIFO): enough for one result per
#: cycle through the round trip from a send to the host's taking it and the credit's return (9 cycles).
RESULT_CREDITS = 16

#: Banks served by one register of a fan-out (the load writes' controller copies, the result reader's
#: first selection) and enables summed in one cycle by an access counter: no register drives more than a
#: group across the die, and no adder tree is wider.
BANK_GROUP = 4

#: Counter outputs: name -> meaning (all 32-bit).
COUNTERS = ("cycles", "reads_w", "reads_x", "reads_delta", "reads_dx", "writes_dx", "writes_dw")


def shape_layout(max_n_o: int, max_n_i: int, max_batch: int) -> data.StructLayout:
    """The layer command: ``n_o``, ``n_i`` and ``batch``, each wide enough for its maximum."""
    return data.StructLayout({"n_o": range(max_n_o + 1), "n_i": range(max_n_i + 1), "batch": range(max_batch + 1)})


def shape_word(shape: tuple[int, int, int], *, max_n_o: int, max_n_i: int, max_batch: int) -> int:
    """The integer a host sends on ``shape_in`` for the layer ``(n_o, n_i, batch)`` of an array with those
    maxima (fields packed from bit 0 in :func:`shape_layout`'s order)."""
    layout = shape_layout(max_n_o, max_n_i, max_batch)
    return sum(value << layout[name].offset for name, value in zip(("n_o", "n_i", "batch"), shape))


@dataclass
class _Datapath:
    """The datapath signals the controller drives or reads: fold position, phase, the layer's shape and
    its ``last_index`` (each size - 1, by the shape's names), state strobes,
    the PE array, the background dw drain (``capture`` with the fold in ``capture_ro``/``capture_co``
    starts it once the fold's last products are in; the last fold's drain takes ``drain_cycles + 1``
    cycles from its capture), the ``tail_cycles`` after the last fold before dx is complete (ws),
    counters and the SRAM banks by operand (``[(write, read), …]`` each)."""

    phase: Signal
    ro: Signal
    co: Signal
    rows_left: Signal
    rows_valid: Signal
    cols_left: Signal
    cols_valid: Signal
    last_row_fold: Value
    last_fold: Value
    shape: dict
    last_index: dict
    loading: Signal
    streaming: Signal
    draining: Signal
    array: "PEArray"
    counters: dict
    sram: dict
    capture: Signal
    capture_ro: Signal
    capture_co: Signal
    drain_cycles: int
    tail_cycles: int


class _Walk:
    """Row-major walk over an ``outer × inner`` matrix whose sizes are signals, tracking the bank split of
    one index.

    ``outer`` and ``inner`` are ``(last index signal, maximum size)``: registers holding ``size - 1``, so
    ``last`` is an equality, not a subtraction. ``bank_of`` is
    ``"outer"`` or ``"inner"``: that index is split into ``quotient`` and
    ``bank`` (``index = quotient·banks + bank``). ``step()`` advances by one
    element; ``last`` is high on the final element.
    """

    def __init__(self, m, name, outer, inner, banks, bank_of):
        (outer_last, outer_max), (inner_last, inner_max) = outer, inner
        self.m, self.banks, self.bank_of = m, banks, bank_of
        self.outer = Signal(range(outer_max), name=f"{name}_outer")
        self.inner = Signal(range(inner_max), name=f"{name}_inner")
        split = outer_max if bank_of == "outer" else inner_max
        self.bank = Signal(range(banks), name=f"{name}_bank")
        self.quotient = Signal(range(ceil_div(split, banks)), name=f"{name}_quotient")
        self.last_inner = self.inner == inner_last
        self.last = self.last_inner & (self.outer == outer_last)

    def _advance_split(self, wrap):
        m = self.m
        with m.If(wrap):
            m.d.sync += [self.bank.eq(0), self.quotient.eq(0)]
        with m.Elif(self.bank == self.banks - 1):
            m.d.sync += [self.bank.eq(0), self.quotient.eq(self.quotient + 1)]
        with m.Else():
            m.d.sync += self.bank.eq(self.bank + 1)

    def step(self):
        m = self.m
        m.d.sync += self.inner.eq(Mux(self.last_inner, 0, self.inner + 1))
        with m.If(self.last_inner):
            m.d.sync += self.outer.eq(Mux(self.last, 0, self.outer + 1))
        if self.bank_of == "inner":
            self._advance_split(self.last_inner)
        else:
            with m.If(self.last_inner):
                self._advance_split(self.last)


class _LoadWrites:
    """The write ports of one operand's SRAM banks while the operand loads: driven in the FSM's state
    (``stages`` = 0) or through two register stages, one copy per group of ``BANK_GROUP`` banks (set by the
    controller) and one copy per bank beside the bank (``keep`` on both: yosys would merge the copies into
    one net), so neither the controller's decode nor a route across the die meets a RAM's write port in
    the same cycle, and no register drives every bank. A word is written ``stages`` cycles after it is
    taken."""

    def __init__(self, m, name, sram, stages):
        self.m, self.sram, self.stages = m, sram, stages
        if not stages:
            return
        write = sram[0][0]
        self.groups = [{"address": Signal.like(write.addr, name=f"{name}_load_address{g}", attrs={"keep": 1}),
                        "data": Signal.like(write.data, name=f"{name}_load_data{g}", attrs={"keep": 1}),
                        "enables": Signal(BANK_GROUP, name=f"{name}_load_enables{g}", attrs={"keep": 1})}
                       for g in range(ceil_div(len(sram), BANK_GROUP))]
        # Unless the load's state sets one (its statements come later).
        m.d.sync += [group["enables"].eq(0) for group in self.groups]
        for bank, (write, _) in enumerate(sram):
            group = self.groups[bank // BANK_GROUP]
            sources = {"address": group["address"], "data": group["data"],
                       "enable": group["enables"][bank % BANK_GROUP]}
            copies = {field: Signal.like(source, name=f"{name}{bank}_write_{field}", attrs={"keep": 1})
                      for field, source in sources.items()}
            m.d.sync += [copies[field].eq(source) for field, source in sources.items()]
            m.d.comb += [write.addr.eq(copies["address"]), write.data.eq(copies["data"]),
                         write.en.eq(copies["enable"])]

    def write(self, address, data, bank, valid):
        """In the load's state: write ``data`` at ``address`` of bank ``bank`` if ``valid``."""
        if not self.stages:
            for index, (write, _) in enumerate(self.sram):
                self.m.d.comb += [write.addr.eq(address), write.data.eq(data), write.en.eq(valid & (bank == index))]
            return
        for g, group in enumerate(self.groups):
            self.m.d.sync += [group["address"].eq(address), group["data"].eq(data),
                              group["enables"].eq(Mux(valid, 1 << bank, 0) >> g * BANK_GROUP)]


class Intergrad(wiring.Component):
    """Gradient-interleaved systolic array: one generated array computes any layer up to its memories.

    Flow: take the layer's shape on ``shape_in`` (``n_o × n_i`` weights,
    ``batch`` columns; each at least 1 and at most its ``max_*``); load
    ``w_in`` (if ``mode`` uses W), ``x_in`` (if it uses X) and ``delta_in``,
    row-major, into banked SRAMs; run every fold of
    ``ceil(n_o/rows) × ceil(n_i/cols)``; send ``dx`` (``n_i × batch``, if
    ``mode`` is ws or interleaved) then ``dw`` (``n_o × n_i``, if os or
    interleaved) on ``result_out``, row-major. Then it waits for the next
    layer's shape.

    Each PE(r, c) holds a stationary weight, an output-stationary accumulator,
    a horizontal δ register and vertical partial-sum and x registers; ``mode``
    selects which products it forms (``w·δ`` into the passing partial sum,
    ``δ·x`` into its accumulator, or both). Feeders skew δ by row and x by
    column; partial sums leave at the bottom and are added to the previous row
    fold's dx in SRAM. SRAM addresses use the strides of the largest layer, so
    no address multiplies by a run-time size.

    Parameters
    ----------
    rows, cols : int
        PE array shape.
    width, acc_width : int
        Bits of ``w``, ``x``, ``δ`` and of the partial sums, ``dx``, ``dw`` (``acc_width ≥ 2·width``).
    mode : str
        ``"ws"`` (dX only), ``"os"`` (dW only) or ``"interleaved"`` (both in one pass).
    pe : str
        ``"two-mac"``: an interleaved PE forms ``w·δ`` and ``δ·x`` in the same cycle (two multipliers);
        ``"one-mac"``: one multiplier shared in alternate cycles, δ reused from the PE's register, the
        operand streams at half rate (``PE_KINDS``; ws and os have one product per PE either way).
    max_n_o, max_n_i, max_batch : int
        The largest layer: they size the SRAMs.
    pipeline : int
        1: register the SRAM feeds, the multipliers (inside the DSP blocks) and the dx sums, for Fmax;
        ``models.intergrad.tail_cycles`` more cycles per layer (the folds overlap them). 0: none.
    lut_rows : int
        With ``pipeline``: PE rows (the last ones) whose multipliers are LUTs instead of DSP blocks.

    Members
    -------
    shape_in : In(stream.Signature(shape_layout(max_n_o, max_n_i, max_batch)))
        One command per layer: ``n_o``, ``n_i``, ``batch`` (:func:`shape_word` packs it).
    w_in, x_in, delta_in : In(stream.Signature(signed(width)))
        The operands, row-major; only those the mode uses are taken.
    result_out : Out(stream.Signature(signed(acc_width)))
        ``dx`` then ``dw``, row-major.
    cycles, reads_w, reads_x, reads_delta, reads_dx, writes_dx, writes_dw : Out(32)
        Counters (``COUNTERS``) of the last layer, valid once its last result is sent: ``cycles``
        counts the load/stream/drain states only; SRAM counts are element accesses.

    Latency
    -------
    Per fold: weight load ``rows`` cycles (ws, interleaved), stream ``s·batch + rows + cols - 2`` cycles
    (``s = 2`` for an interleaved one-MAC PE, else 1);
    the accumulators drain beside the next fold, the last fold's in ``rows + 1`` cycles (os, interleaved);
    results follow (``models.intergrad.counters``, equal to the RTL's counters), each on ``result_out``
    8 cycles after the FSM sends it (five pipeline stages and the output FIFO), one per cycle while the host
    takes them. Every input port passes a skid buffer: one cycle more from an input word to its write;
    pipelined, two more (the write registers), and the fold starts two cycles after the last operand word
    (``SETTLE``).

    Throughput
    ----------
    One layer at a time: loading, computing and sending do not overlap; one operand word in or one result
    out per cycle. The next layer's shape is taken once the last result has left.
    """

    def __init__(self, *, rows, cols, width, acc_width, mode, max_n_o, max_n_i, max_batch, pe="two-mac",
                 pipeline=0, lut_rows=0):
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} not allowed; allowed: {', '.join(MODES)}")
        if pe not in PE_KINDS:
            raise ValueError(f"pe={pe!r} not allowed; allowed: {', '.join(PE_KINDS)}")
        if not 0 <= lut_rows <= (rows if pipeline else 0):
            raise ValueError(f"lut_rows={lut_rows} out of range [0, {rows if pipeline else 0}]"
                             + ("" if pipeline else " (LUT multipliers need pipeline=1)"))
        if acc_width < 2 * width:
            raise ValueError(f"acc_width={acc_width} out of range [{2 * width}, 31] (at least 2*width for one product)")
        self.rows, self.cols, self.width, self.acc_width, self.mode = rows, cols, width, acc_width, mode
        self.max_n_o, self.max_n_i, self.max_batch = max_n_o, max_n_i, max_batch
        self.maxima = {"n_o": max_n_o, "n_i": max_n_i, "batch": max_batch}
        self.uses_w, self.uses_x = mode in ("ws", "interleaved"), mode in ("os", "interleaved")
        self.slots = stream_slots(mode, pe)  # cycles per stream element
        self.pipeline, self.lut_rows = pipeline, lut_rows
        self.shape_layout = shape_layout(max_n_o, max_n_i, max_batch)
        members = {
            "shape_in": In(stream.Signature(self.shape_layout)),
            "w_in": In(stream.Signature(signed(width))),
            "x_in": In(stream.Signature(signed(width))),
            "delta_in": In(stream.Signature(signed(width))),
            "result_out": Out(stream.Signature(signed(acc_width))),
        }
        members.update({name: Out(32) for name in COUNTERS})
        super().__init__(members)

    def _banks(self, m, name, count, depth, shape):
        """``count`` RAMs ``name0`` … of ``depth`` words, asynchronous reads: ``[(write, read), …]``."""
        return [simple_ram(m, f"{name}{bank}", shape, max(depth, 1), read_domain="comb") for bank in range(count)]

    def elaborate(self, platform):
        m = Module()
        R, C = self.rows, self.cols
        word, acc = signed(self.width), signed(self.acc_width)
        col_stride, batch_stride = ceil_div(self.max_n_i, C), self.max_batch  # words per W row, per fold of x/δ/dx

        # The layer's shape (set from ``shape_in``) and each size - 1.
        n_o, n_i, T = (Signal(range(hi + 1), name=name) for name, hi in self.maxima.items())
        last_index = {name: Signal(range(hi), name=f"{name}_last") for name, hi in self.maxima.items()}
        S = self.slots

        # SRAMs: W and dw banked by column (i mod C), x and dx by i mod C, δ by o mod R.
        w_sram = self._banks(m, "w_sram", C, self.max_n_o * col_stride, word)
        x_sram = self._banks(m, "x_sram", C, col_stride * batch_stride, word)
        d_sram = self._banks(m, "delta_sram", R, ceil_div(self.max_n_o, R) * batch_stride, word)
        dx_sram = self._banks(m, "dx_sram", C, col_stride * batch_stride, acc)
        dw_sram = self._banks(m, "dw_sram", C, self.max_n_o * col_stride, acc)

        counters = {name: getattr(self, name) for name in COUNTERS}

        # Fold position and per-fold validity.
        ro = Signal(range(ceil_div(self.max_n_o, R)))
        co = Signal(range(col_stride))
        # The layer's rows and columns from this fold's first on (n_o - ro·R, n_i - co·C), kept beside ro and
        # co so that no validity test needs an adder. Their compares are registers set with them: bit r of
        # ``rows_valid`` is ``rows_left > r``, bit c of ``cols_valid`` ``cols_left > c``, so a validity is
        # a flip-flop (the weight load's row validity one chosen by the phase).
        rows_left, cols_left = Signal.like(n_o, name="rows_left"), Signal.like(n_i, name="cols_left")
        rows_valid, cols_valid = Signal(R, name="rows_valid"), Signal(C, name="cols_valid")
        last_row_fold = rows_left <= R
        last_fold = last_row_fold & (cols_left <= C)
        row_valid = [rows_valid[r] for r in range(R)]
        col_valid = [cols_valid[c] for c in range(C)]
        # Pipeline delays: SRAM read -> feed register, operands -> product, bottom partial sum -> dx adder.
        feed, mac, dx_register = (PIPELINE[stage] if self.pipeline else 0 for stage in ("feed", "mac", "dx"))
        at_product = feed + mac  # a stream phase's products are added this much later
        at_dx = at_product + dx_register
        phase = Signal(range(max(R + at_dx, S * self.max_batch + R + C - 2) + 1))

        m.submodules.array = array = PEArray(rows=R, cols=C, width=self.width, acc_width=self.acc_width,
                                             uses_w=self.uses_w, uses_x=self.uses_x, shared_mac=S == 2,
                                             pipelined=bool(self.pipeline), lut_rows=self.lut_rows)
        assert array.latency == mac

        # Feeders: δ row r and x column c enter zero outside the stream, delayed r (c) cycles. Element b
        # leaves at phase S·b (δ, with its tag) and S·b + S - 1 (x): with S = 2 each PE meets δ_b, then x_b a
        # cycle later. Each row's capture follows the row's last element by one cycle and ``mac`` more, so
        # it reaches a PE when that PE's last product is in. The tags and captures of all rows are taps of one
        # register chain each (row r's is row r-1's a cycle later): no control net spans more than a row. A
        # row outside the layer takes them too; its δ is zero, so its products and shadows are.
        ahead = max(feed - 1, 0)  # pipelined: a feed's read address and enable take registers before the read

        def enables_ahead(common, each, name):
            """The read enables ``common & each[k]``, ``ahead`` cycles later: each factor registered on its
            own, so no comparison meets the AND in one cycle."""
            common = delay(m, common, ahead, name)
            return [common & delay(m, valid, ahead, f"{name}{k}") for k, valid in enumerate(each)]

        def bank_addresses(address, count, name):
            """``address`` for each of ``count`` banks, ``ahead`` cycles later: through ``ahead - 1``
            registers per group of ``BANK_GROUP`` banks, then one per bank. Each is ``keep`` (one register
            would address every bank across the die, and with constant fold indices yosys would merge the
            operands' address registers too) and has no reset (a reset puts a LUT in front, which synthesis
            shares)."""
            if not ahead:
                return [address] * count
            groups = [delay(m, address, ahead - 1, f"{name}_address_g{g}", keep=True, reset_less=True)
                      for g in range(ceil_div(count, BANK_GROUP))]
            return [delay(m, groups[k // BANK_GROUP], 1, f"{name}{k}_address", keep=True, reset_less=True)
                    for k in range(count)]

        def fed(read, address, enable, cycles, name):
            """``read``'s word at ``address`` (a bank's, from ``bank_addresses``), zero unless ``enable``
            (delayed ``ahead`` already), ``cycles`` after the address was formed. The word is registered
            before it is masked, so the register beside the memory is the read's only load."""
            m.d.comb += read.addr.eq(address)
            if cycles == ahead:
                return Mux(enable, read.data, 0)
            word = delay(m, read.data, 1, f"{name}_word")
            return delay(m, Mux(delay(m, enable, 1, f"{name}_valid"), word, 0), cycles - ahead - 1, name)

        streaming = Signal()
        in_stream = streaming & (phase < S * T)
        feeding_d = in_stream & (phase % S == 0)
        feeding_x = in_stream & (phase % S == S - 1)
        element = phase // S
        last_element = feeding_x & (element == last_index["batch"])
        d_address, x_address = (fold * batch_stride + element for fold in (ro, co))
        d_reads = enables_ahead(feeding_d, row_valid, "d_read")
        x_reads = enables_ahead(feeding_x, col_valid, "x_read") if self.uses_x else []
        d_addresses = bank_addresses(d_address, R, "d_skew")
        x_addresses = bank_addresses(x_address, C, "x_skew") if self.uses_x else []
        for r, (_, read) in enumerate(d_sram):
            m.d.comb += [array.d_in[r].eq(fed(read, d_addresses[r], d_reads[r], feed + r, f"d_skew{r}")),
                         array.d_tag[r].eq(delay(m, feeding_d, feed + r, f"d_tag{r}"))]
            if self.uses_x:
                m.d.comb += array.capture[r].eq(delay(m, last_element, 1 + at_product + r, f"capture{r}"))
        for c, (_, read) in enumerate(x_sram if self.uses_x else []):
            m.d.comb += array.x_in[c].eq(fed(read, x_addresses[c], x_reads[c], feed + c, f"x_skew{c}"))

        # dx: column c's bottom output for batch column b is due R - 1 + c cycles after δ_b is fed (stream
        # phase S·b + R - 1 + c). The feed's flag and dx address follow it there through registers (one chain,
        # tapped per column) and ``at_dx`` cycles more to where the sum is written. Pipelined, the bottom
        # partial sum is registered, added to the previous row fold's dx (read a cycle earlier and
        # registered: no write of that address falls between, a row fold's writes are a whole fold apart)
        # and the total registered beside the bank (``PIPELINE["dx"]`` = 2). A word is then written two
        # cycles after it is read: two row folds of a column are at least ``2R + C - 2 + S`` cycles apart
        # (the weight load and the shortest stream), so only a 1×1 array of 1-slot PEs reads a word in the
        # cycle its previous fold's total is written, and forwards that total.
        write_stage = 1 if self.pipeline else 0
        forward = write_stage and 2 * R + C - 2 + S < 3
        add_at = at_dx - write_stage  # the cycle the total is formed
        read_ahead = 1 if add_at else 0
        dx_address = co * batch_stride + element
        dx_reads, dx_writes = [], []
        for c, (write, read) in enumerate(dx_sram):
            due = delay(m, feeding_d, R - 1 + c, f"dx_due{c}") & col_valid[c] if self.uses_w else Const(0)
            adding = delay(m, due, add_at, f"dx_valid{c}")
            read_address = delay(m, dx_address[:len(read.addr)], R - 1 + c + add_at - read_ahead, f"dx_address{c}")
            first_row_fold = delay(m, ro == 0, add_at, f"dx_first{c}", keep=True)  # one per column's adder
            total = delay(m, array.partial_sums[c], add_at - at_product, f"dx_sum{c}")
            previous = delay(m, read.data, read_ahead, f"dx_previous{c}")
            if forward:
                written = delay(m, write.en & (write.addr == read.addr), 1, f"dx_forward{c}")
                previous = Mux(written, delay(m, write.data, 1, f"dx_written{c}"), previous)
            m.d.comb += [
                read.addr.eq(read_address),
                write.addr.eq(delay(m, read_address, read_ahead + write_stage, f"dx_write_address{c}")),
                write.data.eq(delay(m, total + Mux(first_row_fold, 0, previous), write_stage, f"dx_total{c}")),
                write.en.eq(delay(m, adding, write_stage, f"dx_write{c}")),
            ]
            dx_reads.append(adding & ~first_row_fold)
            dx_writes.append(adding)

        # dw drain, beside the next fold: once every PE has captured (``captured_acc``, the cycle after the
        # fold's stream and ``at_product``), the bottom shadow row goes to dw SRAM each cycle for R cycles,
        # rows R-1 … 0, while the rows above shift down. Row r shifts in the drain's first r cycles only:
        # it is free to take the next fold's capture from the cycle after. The shift enters each row at
        # column 0 and moves right (the array), so column c drains c cycles later, its writes too; the
        # sends read a row's columns in order, as late again.
        draining = Signal()  # the FSM's DRAIN state: the last fold's drain, nothing else to do
        capture, drain_active = Signal(), Signal()
        capture_ro, capture_co = Signal.like(ro, name="capture_ro"), Signal.like(co, name="capture_co")
        drain_phase, drain_ro, drain_co = Signal(range(R)), Signal.like(ro), Signal.like(co)
        captured_acc = delay(m, capture, at_product, "capture")  # when the fold's last products are in
        captured_ro, captured_co = (delay(m, s, at_product, s.name) for s in (capture_ro, capture_co))
        drain_shift = [Signal(name=f"drain_shift{r}") for r in range(R)]  # registered: one net per row
        m.d.comb += array.drain_shift.eq(Cat(drain_shift))
        # Whether this cycle's drain row, and each column of the drained fold, belong to the layer: set a
        # cycle ahead, so no write enable compares against n_o or n_i in its own cycle.
        row_ok, col_ok = Signal(), [Signal(name=f"drain_col_ok{c}") for c in range(C)]
        m.d.sync += capture.eq(0)
        with m.If(captured_acc):
            m.d.sync += [drain_active.eq(1), drain_phase.eq(0), drain_ro.eq(captured_ro), drain_co.eq(captured_co)]
            m.d.sync += [drain_shift[r].eq(r > 0) for r in range(R)]
            m.d.sync += [row_ok.eq(captured_ro * R + (R - 1) < n_o),
                         *(ok.eq(captured_co * C + c < n_i) for c, ok in enumerate(col_ok))]
        with m.Elif(drain_active):
            m.d.sync += drain_phase.eq(drain_phase + 1)
            m.d.sync += [drain_shift[r].eq(drain_phase + 1 < r) for r in range(R)]
            m.d.sync += row_ok.eq(drain_ro * R + (R - 2 - drain_phase) < n_o)
            with m.If(drain_phase == R - 1):
                m.d.sync += drain_active.eq(0)
        with m.Else():
            m.d.sync += [shift.eq(0) for shift in drain_shift]
        dw_writes = []
        dw_address = (drain_ro * R + (R - 1 - drain_phase)) * col_stride + drain_co
        for c, (write, _) in enumerate(dw_sram):
            enable = delay(m, drain_active & row_ok & col_ok[c], c, f"dw_enable{c}")
            m.d.comb += [write.addr.eq(delay(m, dw_address[:len(write.addr)], c, f"dw_address{c}")),
                         write.data.eq(array.drained[c]), write.en.eq(enable)]
            dw_writes.append(enable)

        # Weight load: cycle k reads W row ro·R + (R-1-k), which enters column c at the top ``feed + c``
        # cycles later, with the rows' shift (the array moves it right a column per cycle). Every row
        # shifts in every load cycle: after R shifts row r holds what row 0 took in cycle R-1-r, W row r
        # (the shifts before cycle r carry rows that pass it on). Pipelined, the shift is one register
        # beside the FSM, then a copy per row (``keep``): no logic in front of a route across the die.
        loading = Signal()
        load_row = ro * R + (R - 1 - phase)
        load_row_valid = Cat(*reversed(row_valid)).bit_select(phase, 1)
        w_addresses = bank_addresses(load_row * col_stride + co, C, "w_top") if self.uses_w else []
        w_reads = enables_ahead(loading & load_row_valid, col_valid, "w_read") if self.uses_w else []
        for c, (_, read) in enumerate(w_sram if self.uses_w else []):
            m.d.comb += array.w_top[c].eq(fed(read, w_addresses[c], w_reads[c], feed + c, f"w_top{c}"))
        shifting = delay(m, loading, ahead, "w_shifting")
        m.d.comb += [array.w_shift[r].eq(delay(m, shifting, feed - ahead, f"w_shift{r}", keep=True))
                     for r in range(R)]

        # Pipelined: the counted states, decoded from the FSM, are registered before they are counted, as
        # the feeds' read enables are (``ahead``; the dx and dw enables come from registers already); the
        # enables are summed in groups of four, the groups' sum registered, then added to the counter.
        stages = 1 if self.pipeline else 0
        with m.If(delay(m, loading | streaming | draining, stages, "counting")):
            m.d.sync += counters["cycles"].eq(counters["cycles"] + 1)
        increments = {"reads_w": w_reads, "reads_delta": d_reads, "reads_x": x_reads,
                      "reads_dx": dx_reads, "writes_dx": dx_writes, "writes_dw": dw_writes}
        for name, enables in increments.items():
            if enables:
                groups = [delay(m, sum(enables[k:k + BANK_GROUP]), stages, f"{name}_count{k // BANK_GROUP}")
                          for k in range(0, len(enables), BANK_GROUP)]
                step = Signal(range(len(enables) + 1), name=f"{name}_step")
                m.d.comb += step.eq(delay(m, sum(groups), stages, f"{name}_count"))
                m.d.sync += counters[name].eq(counters[name] + step)
        # After the counters: the controller's reset of them must take priority.
        self._control(m, _Datapath(
            phase=phase, ro=ro, co=co, rows_left=rows_left, rows_valid=rows_valid, cols_left=cols_left,
            cols_valid=cols_valid, last_row_fold=last_row_fold,
            last_fold=last_fold,
            shape={"n_o": n_o, "n_i": n_i, "batch": T}, last_index=last_index,
            loading=loading, streaming=streaming, draining=draining, array=array, counters=counters,
            capture=capture, capture_ro=capture_ro, capture_co=capture_co, drain_cycles=at_product + R,
            tail_cycles=at_dx if not self.uses_x else 0,
            sram={"w": w_sram, "x": x_sram, "delta": d_sram, "dx": dx_sram, "dw": dw_sram}))
        return m

    def _control(self, m, path: "_Datapath"):
        """The FSM: take the shape, load operands, run the folds, send results, driving ``path``'s control
        signals."""
        R, C = self.rows, self.cols
        col_stride, batch_stride = ceil_div(self.max_n_i, C), self.max_batch
        phase, ro, co, last_fold = path.phase, path.ro, path.co, path.last_fold
        n_o, n_i, T = path.shape["n_o"], path.shape["n_i"], path.shape["batch"]
        loading, streaming, draining = path.loading, path.streaming, path.draining
        counters, sram = path.counters, path.sram
        ports = self._input_ports(m)

        last_index = path.last_index
        sizes = {name: (last_index[name], hi) for name, hi in self.maxima.items()}
        w_walk = _Walk(m, "w_walk", sizes["n_o"], sizes["n_i"], C, "inner")
        x_walk = _Walk(m, "x_walk", sizes["n_i"], sizes["batch"], C, "outer")
        d_walk = _Walk(m, "d_walk", sizes["n_o"], sizes["batch"], R, "outer")
        dx_walk = _Walk(m, "dx_walk", sizes["n_i"], sizes["batch"], C, "outer")
        dw_walk = _Walk(m, "dw_walk", sizes["n_o"], sizes["n_i"], C, "inner")

        # Pipelined, each operand's words reach its banks two cycles after they are taken, so the fold
        # starts after a SETTLE of two cycles; the counters clear in its first cycle.
        settle = 2 if self.pipeline else 0
        writes = {name: _LoadWrites(m, name, sram[name], settle) for name in ("w", "x", "delta")}
        clear_counters = Signal()
        m.d.sync += clear_counters.eq(0)
        with m.If(clear_counters):
            m.d.sync += [counter.eq(0) for counter in counters.values()]

        # Operand loads, in order: (operand, walk, bank address, state). ``taking[operand]`` is high exactly
        # in the operand's load state, a register of its own (set on the transition into the state,
        # cleared on the one out): the port's ready and the bank writes read one flip-flop beside them,
        # not the FSM's state decode.
        loads = [load for load, used in (
            (("w", w_walk, w_walk.outer * col_stride + w_walk.quotient, "LOAD_W"), self.uses_w),
            (("x", x_walk, x_walk.quotient * batch_stride + x_walk.inner, "LOAD_X"), self.uses_x),
            (("delta", d_walk, d_walk.quotient * batch_stride + d_walk.inner, "LOAD_DELTA"), True)) if used]
        taking = {name: Signal(name=f"taking_{name}") for name, *_ in loads}
        for name, walk, address, _ in loads:
            source = ports[f"{name}_in"]
            m.d.comb += source.ready.eq(taking[name])
            with m.If(taking[name]):
                writes[name].write(address, source.payload, walk.bank, source.valid)
                with m.If(source.valid):
                    walk.step()

        def enter(state):
            m.next = state
            m.d.sync += [taking[name].eq(1) for name, *_, load_state in loads if load_state == state]

        def load(name, next_state):
            """In ``name``'s load state: leave it after the operand's last word."""
            walk = next(walk for operand, walk, *_ in loads if operand == name)
            with m.If(ports[f"{name}_in"].valid & walk.last):
                m.d.sync += taking[name].eq(0)
                enter(next_state)

        reader = self._result_reader(m, sram["dx"], sram["dw"])

        def send(walk, from_dw, address, next_state):
            with m.If(reader["credit"]):
                reader["send"](address, walk.bank, from_dw)
                walk.step()
                with m.If(walk.last):
                    m.next = next_state

        first_load = "LOAD_W" if self.uses_w else ("LOAD_X" if self.uses_x else "LOAD_DELTA")
        fold_start = "LOAD_FOLD" if self.uses_w else "STREAM"
        first_output = "SEND_DX" if self.uses_w else "SEND_DW"
        after_dx = "SEND_DW" if self.uses_x else "SHAPE"

        rows_left, cols_left = path.rows_left, path.cols_left

        def set_left(left, valid, value, above=None):
            """``left = value``, and ``valid`` bit k ``= value > k``: ``above(k)`` where ``value`` is a
            difference, the same test without the adder that forms it."""
            above = above or (lambda k: value > k)
            m.d.sync += [left.eq(value), valid.eq(Cat(above(k) for k in range(len(valid))))]

        def first_fold():
            m.d.sync += [ro.eq(0), co.eq(0)]
            set_left(rows_left, path.rows_valid, n_o)
            set_left(cols_left, path.cols_valid, n_i)

        def next_fold():
            m.d.sync += phase.eq(0)
            with m.If(last_fold):
                first_fold()
                m.next = "TAIL" if path.tail_cycles else first_output
            with m.Else():
                with m.If(path.last_row_fold):
                    m.d.sync += [ro.eq(0), co.eq(co + 1)]
                    set_left(rows_left, path.rows_valid, n_o)
                    set_left(cols_left, path.cols_valid, cols_left - C, lambda c: cols_left > c + C)
                with m.Else():
                    m.d.sync += ro.eq(ro + 1)
                    set_left(rows_left, path.rows_valid, rows_left - R, lambda r: rows_left > r + R)
                m.next = fold_start

        # The stream's last phase is S·batch + R + C - 3; ``stream_end`` is ``phase ==`` it, decided a cycle
        # ahead from the phase before (or, entering a stream at phase 0, from whether the stream has one
        # phase), so the FSM's stream decision reads one flip-flop.
        stream_penultimate = Signal(range(self.slots * self.max_batch + R + C), name="stream_penultimate")
        stream_single, stream_end = Signal(name="stream_single"), Signal(name="stream_end")
        m.d.sync += stream_end.eq(Mux(streaming & ~stream_end, phase == stream_penultimate, stream_single))

        with m.FSM(init="SHAPE"):
            with m.State("SHAPE"):  # once the last layer's results have left
                command = ports["shape_in"].payload
                m.d.comb += ports["shape_in"].ready.eq(reader["empty"])
                with m.If(ports["shape_in"].valid & reader["empty"]):
                    m.d.sync += [last.eq(command[name] - 1) for name, last in last_index.items()]
                    set_left(rows_left, path.rows_valid, command.n_o)  # ro = co = 0
                    set_left(cols_left, path.cols_valid, command.n_i)
                    m.d.sync += [n_o.eq(command.n_o), n_i.eq(command.n_i), T.eq(command.batch),
                                 stream_penultimate.eq(self.slots * command.batch + (R + C - 4)),
                                 stream_single.eq((self.slots * command.batch + (R + C - 3)) == 0)]
                    enter(first_load)
            for (name, *_), (*_, next_state) in zip(loads, loads[1:]):  # w, x as the mode uses them
                with m.State(f"LOAD_{name.upper()}"):
                    load(name, next_state)
            with m.State("LOAD_DELTA"):
                load("delta", "SETTLE" if settle else fold_start)
                with m.If(d_walk.last & ports["delta_in"].valid):
                    if settle:
                        m.d.sync += clear_counters.eq(1)
                    else:
                        m.d.sync += [counter.eq(0) for counter in counters.values()]
            if settle:
                with m.State("SETTLE"):  # the last operand words on their way to the banks
                    m.d.sync += phase.eq(phase + 1)
                    with m.If(phase == settle - 1):
                        m.d.sync += phase.eq(0)
                        m.next = fold_start
            with m.State("LOAD_FOLD"):
                m.d.comb += loading.eq(1)
                m.d.sync += phase.eq(phase + 1)
                with m.If(phase == R - 1):
                    m.d.sync += phase.eq(0)
                    m.next = "STREAM"
            with m.State("STREAM"):
                m.d.comb += streaming.eq(1)
                m.d.sync += phase.eq(phase + 1)
                with m.If(stream_end):
                    if self.uses_x:  # the accumulators drain beside the next fold (or in DRAIN after the last)
                        m.d.sync += [path.capture.eq(1), path.capture_ro.eq(ro), path.capture_co.eq(co)]
                    with m.If(last_fold & self.uses_x):
                        m.d.sync += phase.eq(0)
                        m.next = "DRAIN"
                    with m.Else():
                        next_fold()
            with m.State("DRAIN"):  # the capture cycle, the products in flight, then the last fold's R rows
                m.d.comb += draining.eq(1)
                m.d.sync += phase.eq(phase + 1)
                with m.If(phase == path.drain_cycles):
                    m.d.sync += phase.eq(0)
                    first_fold()
                    m.next = first_output
            with m.State("TAIL"):  # ws, pipelined: the last fold's dx sums still on their way to the SRAM
                m.d.comb += draining.eq(1)
                m.d.sync += phase.eq(phase + 1)
                with m.If(phase == path.tail_cycles - 1):
                    m.d.sync += phase.eq(0)
                    m.next = first_output
            with m.State("SEND_DX"):
                send(dx_walk, 0, dx_walk.quotient * batch_stride + dx_walk.inner, after_dx)
            with m.State("SEND_DW"):
                send(dw_walk, 1, dw_walk.outer * col_stride + dw_walk.quotient, "SHAPE")

    def _input_ports(self, m) -> dict:
        """Each input stream through a :class:`SkidBuffer`: ``{name: the buffer's output}``. No port's
        ``valid`` or ``ready`` meets the controller's logic in the same cycle."""
        ports = {}
        for name in ("shape_in", "w_in", "x_in", "delta_in"):
            port = getattr(self, name)
            m.submodules[f"{name}_skid"] = skid = SkidBuffer(shape=port.payload.shape())
            wiring.connect(m, wiring.flipped(port), skid.input)
            ports[name] = skid.output
        return ports

    def _result_reader(self, m, dx_sram, dw_sram) -> dict:
        """The results' read pipeline, ``dx`` and ``dw`` banked alike, moving every cycle (no stall signal
        reaches its registers). Stage 1 holds a send: its address and dx read enable once per group of
        ``BANK_GROUP`` banks (``keep``: one register would reach every bank across the die), which bank and
        which memory; stage 2 a copy of the address and of the dx read enable beside each bank, from its
        group's; stage 3 every bank's dx and dw words at that address, registered beside the bank, and per
        group a copy of the bank's place in its group and of the memory; stage 4 the word chosen in each
        group; stage 5 the chosen group's word, which goes into a :class:`LutRamFIFO` that feeds
        ``result_out``. The FSM sends only while it holds a credit: one per FIFO word, taken by a send and
        given back when ``result_out`` takes a word, so the FIFO never overflows. Returns ``send(address,
        bank, from_dw)`` (the stage-1 assignments of one send), ``credit`` (a send may start) and ``empty``
        (every credit back: no result in flight)."""
        acc, C, group = signed(self.acc_width), self.cols, BANK_GROUP
        groups = range(ceil_div(C, group))
        address_bits = max(len(read.addr) for _, read in (*dx_sram, *dw_sram))
        valid, bank = Signal(name="send_valid"), Signal(range(C), name="send_bank")
        from_dw = Signal(name="send_from_dw")
        group_addresses = [Signal(address_bits, name=f"send_address_g{g}", attrs={"keep": 1}) for g in groups]
        group_reads_dx = [Signal(name=f"send_reads_dx_g{g}", attrs={"keep": 1}) for g in groups]
        valids = [valid] + [Signal(name=f"send_valid{stage}") for stage in (2, 3, 4, 5)]
        banks = [bank] + [Signal.like(bank, name=f"send_bank{stage}") for stage in (2, 3, 4)]
        from_dws = [from_dw, Signal(name="send_from_dw2")]
        m.d.sync += [valid.eq(0)] + [reads_dx.eq(0) for reads_dx in group_reads_dx]
        for chain in (valids, banks, from_dws):
            m.d.sync += [later.eq(earlier) for earlier, later in zip(chain, chain[1:])]

        def send(address, to_bank, to_dw):
            m.d.sync += [valid.eq(1), bank.eq(to_bank), from_dw.eq(to_dw)]
            m.d.sync += [copy.eq(address) for copy in group_addresses]
            m.d.sync += [reads_dx.eq(int(not to_dw)) for reads_dx in group_reads_dx]

        words = []  # stage 3: (dx, dw) of each bank
        for c, ((_, dx_read), (_, dw_read)) in enumerate(zip(dx_sram, dw_sram)):
            bank_address = delay(m, group_addresses[c // group], 1, f"send_address{c}", keep=True)
            with m.If(delay(m, group_reads_dx[c // group], 1, f"send_reads_dx{c}", keep=True)):
                m.d.comb += dx_read.addr.eq(bank_address)  # over the dx sums' own address (never during a send)
            m.d.comb += [dw_read.addr.eq(bank_address)]
            words.append(tuple(delay(m, read.data, 1, f"send_{name}{c}", reset_less=True)
                               for name, read in (("dx", dx_read), ("dw", dw_read))))

        group_words = [Signal(acc, name=f"send_group{g}") for g in groups]
        for g, group_word in enumerate(group_words):  # each group's selection reads copies of its own
            lane = delay(m, banks[1] % group, 1, f"send_lane_g{g}", keep=True)
            lane_from_dw = delay(m, from_dws[1], 1, f"send_from_dw_g{g}", keep=True)
            members = [Mux(lane_from_dw, dw, dx) for dx, dw in words[g * group:(g + 1) * group]]
            choice = members[0]
            for k, word in enumerate(members[1:], 1):
                choice = Mux(lane == k, word, choice)
            m.d.sync += group_word.eq(choice)
        selected = Signal(acc, name="send_selected")
        choice = group_words[0]
        for g in groups[1:]:
            choice = Mux(banks[3] // group == g, group_words[g], choice)
        m.d.sync += selected.eq(choice)

        m.submodules.result_fifo = fifo = LutRamFIFO(shape=acc, depth=RESULT_CREDITS)
        wiring.connect(m, fifo.output, wiring.flipped(self.result_out))
        m.d.comb += [fifo.input.valid.eq(valids[4]), fifo.input.payload.eq(selected)]
        credits = Signal(range(RESULT_CREDITS + 1), name="send_credits", init=RESULT_CREDITS)
        returned = self.result_out.valid & self.result_out.ready
        m.d.sync += credits.eq(credits - valid + returned)  # a send's credit is counted once it is in stage 1
        return {"send": send, "credit": credits > valid, "empty": ~valid & (credits == RESULT_CREDITS)}


class PEArray(wiring.Component):
    """The ``rows × cols`` processing elements of the array, without memories or control.

    PE(r, c) holds a stationary weight ``w``, an output-stationary accumulator
    and its shadow, a horizontal δ register (δ moves right) and vertical x and
    partial-sum registers (x and partial sums move down). Each cycle it adds
    ``w·δ`` to the partial sum passing down (``uses_w``) and ``δ·x`` to its
    accumulator (``uses_x``). Every control signal enters a row (or column) and
    moves with the data or stays within its row: no signal fans out to the
    whole array.

    Parameters
    ----------
    rows, cols : int
        Array shape.
    width, acc_width : int
        Bits of ``w``, ``x``, ``δ`` and of partial sums and accumulators.
    uses_w, uses_x : bool
        Form the weight-stationary products (dX) and the output-stationary ones (dW).
    shared_mac : bool
        With both: one multiplier per PE. PE(r, c) forms ``w·δ`` in a cycle whose δ carries its tag
        (``d_tag``) and ``δ·x`` with the δ it holds (the previous cycle's) in the others; the streams then
        carry an element every other cycle.
    pipelined : bool
        Registered multipliers: a product is added :attr:`latency` = 4 cycles after its operands (a fabric
        register, a MULT18X18D with input and output registers, ``hw/common/dsp.py``, a fabric register);
        else in the same cycle.
    lut_rows : int
        With ``pipelined``: the last ``lut_rows`` rows multiply in LUTs (``lut_product`` with its Booth
        partial products registered: the same latency), the others in DSP blocks.

    Members
    -------
    d_in : In(data.ArrayLayout(signed(width), rows)), d_tag : In(rows)
        δ entering each row at the left, and (``shared_mac``) its tag: high in a cycle that carries a δ.
    x_in : In(data.ArrayLayout(signed(width), cols))
        x entering each column at the top.
    w_top : In(data.ArrayLayout(signed(width), cols)), w_shift : In(rows)
        ``w_shift[r]`` enters row ``r`` at the left and moves right, one column per cycle: PE(r, c) takes
        PE(r - 1, c)'s weight (row 0: ``w_top[c]``) while the shift is there. Column ``c``'s weights
        therefore load ``c`` cycles after column 0's (``w_top[c]`` is due that much later), as δ reaches
        it ``c`` cycles later: no enable spans a row.
    capture : In(rows)
        Enters row ``r`` at the left and moves right with δ, one column per cycle: when it reaches a PE
        (in the cycle that PE's products are added, :attr:`latency` after its operands), the PE copies its
        accumulator into its shadow register and restarts it from this cycle's product.
    drain_shift : In(rows)
        Enters row ``r`` at the left and moves right, one column per cycle: PE(r, c)'s shadow takes
        PE(r - 1, c)'s while the shift is there (and the PE is not capturing).
    partial_sums : Out(data.ArrayLayout(signed(acc_width), cols))
        The bottom row's partial sums, ``w·δ`` of this cycle included.
    drained : Out(data.ArrayLayout(signed(acc_width), cols))
        The bottom row's shadows.

    Latency
    -------
    One cycle per PE hop: δ, ``capture``, ``drain_shift`` and ``w_shift`` reach column ``c`` ``c`` cycles, x and
    partial sums row ``r`` ``r`` cycles after entering; ``partial_sums`` carry the last row's product
    combinationally.

    Throughput
    ----------
    One δ per row and one x per column every cycle.
    """

    def __init__(self, *, rows: int, cols: int, width: int, acc_width: int, uses_w: bool, uses_x: bool,
                 shared_mac: bool = False, pipelined: bool = False, lut_rows: int = 0):
        self.rows, self.cols, self.uses_w, self.uses_x = rows, cols, uses_w, uses_x
        self.shared_mac = shared_mac and uses_w and uses_x
        self.pipelined, self.lut_rows = pipelined, lut_rows
        self.latency = PIPELINE["mac"] if pipelined else 0
        word, acc = signed(width), signed(acc_width)
        self._word, self._acc = word, acc
        super().__init__({
            "d_in": In(data.ArrayLayout(word, rows)), "d_tag": In(rows), "x_in": In(data.ArrayLayout(word, cols)),
            "w_top": In(data.ArrayLayout(word, cols)), "w_shift": In(rows),
            "capture": In(rows), "drain_shift": In(rows),
            "partial_sums": Out(data.ArrayLayout(acc, cols)), "drained": Out(data.ArrayLayout(acc, cols)),
        })

    def elaborate(self, platform):
        m = Module()
        R, C, word, acc = self.rows, self.cols, self._word, self._acc

        def grid(shape, name, **attrs):
            return [[Signal(shape, name=f"{name}_{r}_{c}", attrs=attrs) for c in range(C)] for r in range(R)]

        w_reg, d_reg, x_reg = grid(word, "w"), grid(word, "d"), grid(word, "x")
        # The control copies each PE passes on. The tags and captures of all rows are taps of one chain
        # (``Intergrad``), so PEs on an anti-diagonal hold the same bit: ``keep`` stops synthesis merging
        # them into one register that drives PEs across the die.
        tag_reg, capture_reg = grid(1, "tag", keep=1), grid(1, "capture", keep=1)
        drain_reg, shift_reg = grid(1, "drain"), grid(1, "w_shift")
        ps_reg, acc_reg, shadow = grid(acc, "ps"), grid(acc, "acc"), grid(acc, "shadow")
        for r in range(R):
            for c in range(C):
                d_in = self.d_in[r] if c == 0 else d_reg[r][c - 1]
                tag_in = self.d_tag[r] if c == 0 else tag_reg[r][c - 1]
                capture = self.capture[r] if c == 0 else capture_reg[r][c - 1]
                drain_shift = self.drain_shift[r] if c == 0 else drain_reg[r][c - 1]
                w_shift = self.w_shift[r] if c == 0 else shift_reg[r][c - 1]
                x_in = self.x_in[c] if r == 0 else x_reg[r - 1][c]
                ps_in = 0 if r == 0 else ps_reg[r - 1][c]
                multiply = self._multiplier(m, r)
                if self.shared_mac:
                    # One multiplier: w·δ when a tagged δ arrives, δ·x (the held δ) in the cycle after. The
                    # δ·x sum also runs down the column: a separate lane the dx capture never takes.
                    odd = ~tag_in
                    ws_product = os_product = multiply(Mux(odd, d_reg[r][c], d_in), Mux(odd, x_in, w_reg[r][c]),
                                                       f"mac_{r}_{c}")
                    os_slot = delay(m, odd, self.latency, f"os_slot_{r}_{c}", keep=True)
                else:
                    ws_product = multiply(w_reg[r][c], d_in, f"ws_mac_{r}_{c}") if self.uses_w else 0
                    os_product = multiply(d_in, x_in, f"os_mac_{r}_{c}") if self.uses_x else 0
                    os_slot = 1
                ps_out = ps_in + ws_product if self.uses_w else ps_in
                m.d.sync += [d_reg[r][c].eq(d_in), x_reg[r][c].eq(x_in), ps_reg[r][c].eq(ps_out)]
                if self.shared_mac:
                    m.d.sync += tag_reg[r][c].eq(tag_in)
                if self.uses_x:
                    # Outside a PE's elements its operands are zero, so it adds zero products. Restarting
                    # masks the adder's input (one more LUT input of the carry chain).
                    m.d.sync += [capture_reg[r][c].eq(capture), drain_reg[r][c].eq(drain_shift)]
                    with m.If(capture | os_slot):
                        m.d.sync += acc_reg[r][c].eq(Mux(capture, 0, acc_reg[r][c]) + os_product)
                    with m.If(capture):
                        m.d.sync += shadow[r][c].eq(acc_reg[r][c])
                    if r > 0:
                        with m.Elif(drain_shift):
                            m.d.sync += shadow[r][c].eq(shadow[r - 1][c])
                if self.uses_w:
                    m.d.sync += shift_reg[r][c].eq(w_shift)
                    with m.If(w_shift):
                        m.d.sync += w_reg[r][c].eq(self.w_top[c] if r == 0 else w_reg[r - 1][c])
                if r == R - 1:
                    m.d.comb += [self.partial_sums[c].eq(ps_out), self.drained[c].eq(shadow[r][c])]
        return m

    def _multiplier(self, m, row: int):
        """How row ``row`` multiplies: ``(a, b, name) -> product``, :attr:`latency` cycles later when
        pipelined. Both kinds register the operands in the fabric. A DSP row multiplies in the DSP block's
        two register stages and registers the product in the fabric again (the routes to and from the
        DSP site get a cycle each); a LUT row multiplies beside the PE in ``lut_product``'s three register
        stages (the Booth partial products, their pair sums, the product), so no stage holds both the
        digit selection and an adder."""
        if not self.pipelined:
            return lambda a, b, name: a * b
        in_luts = row >= self.rows - self.lut_rows

        def multiply(a, b, name):
            operands = (delay(m, a, 1, f"{name}_a"), delay(m, b, 1, f"{name}_b"))
            if in_luts:
                return lut_product(m, *operands, name, stages=3)
            return delay(m, registered_product(m, *operands, name), 1, f"{name}_product")
        return multiply
