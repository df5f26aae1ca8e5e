"""``conv``: valid 2-D convolution, stride 1 — a line buffer of sliding windows feeding a matrix engine."""

import operator

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from models.conv import POOLS, circulant_columns, dense_matrix, output_size

from .circulant import CirculantFC
from .common.banked import READ_LATENCY, BankedMemory
from .common.buffer import DISTRIBUTED, LutRamFIFO, wrapped_increment
from .common.fixed import complex_layout, delay
from .dense import DenseFC

__all__ = ["LineBuffer", "Conv2D", "Pool2D"]

#: Words of the FIFO after the line buffer's reads: the credit round trip (read latency, FIFO latency, the late
#: credit) with margin, so that the reads run at one per cycle.
WINDOW_FIFO_DEPTH = READ_LATENCY + 6


class LineBuffer(wiring.Component):
    """Sliding ``r × r`` windows over images streamed pixel by pixel.

    Pixels arrive in the order rows, columns, channels (``NHWC``), ``c_in``
    words each. The buffer holds ``2r`` image rows in one banked memory
    (``hw/common/banked.py``: each block RAM read into its own register), used as a
    ring of row slots: while the windows of output row ``a`` are read from the
    ``r`` rows ``a … a + r − 1``, the next rows are written into the free
    slots — ``r`` of them, so that the next image's first ``r`` rows arrive
    while the last output row of this one is read, and the windows never wait
    at an image boundary.
    For every output pixel ``(a, b)`` of an image, in raster order, it sends
    the window ``x[a + u, b + v, i]`` in the order ``(u, v, i)`` — the input
    vector of the layer's matrix engine (``models/conv.py``). After an output
    row it frees its first row slot; after an image's last output row, all
    ``r`` of them (the next image's rows are already arriving behind them).
    Reads run free, one address per cycle while the window FIFO after them has
    a credit, so no block RAM output waits on the consumer's ``ready``.

    Parameters
    ----------
    c_in, size, kernel : int
        Channels, image height and width, kernel size ``r`` (``1 ≤ r ≤ size``).
    width : int
        Bits of a word (signed).

    Members
    -------
    x_in : In(stream.Signature(signed(width)))
        Pixels, ``size² · c_in`` words per image.
    windows : Out(stream.Signature(signed(width)))
        Windows, ``r² · c_in`` words per output pixel, ``out² = (size − r + 1)²`` windows per image.

    Latency
    -------
    An output row starts once its ``r`` input rows are in the buffer; a window word reaches the output
    ``READ_LATENCY + 3`` cycles after its address (banked read, FIFO).

    Throughput
    ----------
    One word per cycle in and out; per image ``size² · c_in`` cycles in and ``out² · r² · c_in`` out,
    overlapped.
    """

    def __init__(self, *, c_in, size, kernel, width):
        self.c_in, self.size, self.kernel = operator.index(c_in), operator.index(size), operator.index(kernel)
        self.width = operator.index(width)
        if not 1 <= self.kernel <= self.size:
            raise ValueError(f"kernel={kernel} out of range [1, {size}] (at most size)")
        super().__init__({"x_in": In(stream.Signature(signed(self.width))),
                          "windows": Out(stream.Signature(signed(self.width)))})

    @property
    def row_words(self) -> int:
        return self.size * self.c_in

    @property
    def slots(self) -> int:
        return 2 * self.kernel

    @property
    def depth(self) -> int:
        return self.slots * self.row_words

    def elaborate(self, platform):
        m = Module()
        r = self.kernel
        # Banked block RAMs, each read into its own (absorbed) output register: the reads run free and land
        # in a FIFO that the reader holds credits for, so no block RAM output waits on the engine's ready.
        m.submodules.rows = rows = BankedMemory(shape=signed(self.width), depth=self.depth)
        m.submodules.words = words = LutRamFIFO(shape=signed(self.width), depth=WINDOW_FIFO_DEPTH)
        wiring.connect(m, words.output, wiring.flipped(self.windows))
        filled = Signal(range(self.slots + 1))  # complete rows in the buffer, not yet freed by the reader
        row_done, freed = self._write_rows(m, rows.write, filled), Signal(range(r + 1))
        m.d.sync += filled.eq(filled + row_done - freed)
        self._read_windows(m, rows.read, words, filled, freed)
        return m

    def _write_rows(self, m, write, filled):
        """Accept pixels into the ring while a row slot is free; return "a row is complete" (a strobe)."""
        address, in_row = Signal(range(self.depth)), Signal(range(self.row_words))
        accepted = self.x_in.valid & self.x_in.ready
        m.d.comb += [self.x_in.ready.eq(filled < self.slots), write.addr.eq(address),
                     write.data.eq(self.x_in.payload), write.en.eq(accepted)]
        with m.If(accepted):
            m.d.sync += [address.eq(wrapped_increment(address, self.depth)),
                         in_row.eq(wrapped_increment(in_row, self.row_words))]
        return accepted & (in_row == self.row_words - 1)

    def _read_windows(self, m, read, words, filled, freed):
        """Read each output pixel's window, ``(u, v, i)`` order, one address per cycle while the window FIFO
        has a credit (a word's place reserved at its read, returned a cycle after it leaves); free row slots
        at the end of each output row."""
        r, c_in, out, row_words = self.kernel, self.c_in, output_size(self.size, self.kernel), self.row_words
        base = Signal(range(self.depth))  # first word of output row a's first input row
        slot = Signal(range(self.depth))  # first word of input row a + u
        column = Signal(range(self.size * c_in))  # (b + v)·c_in + i within the row
        pixel = Signal(range(self.size * c_in))  # b·c_in
        a, b = Signal(range(out)), Signal(range(out))
        u, span = Signal(range(r)), Signal(range(r * c_in))  # span = v·c_in + i
        active = Signal()  # the output row's r input rows are in the buffer
        credits = Signal(range(WINDOW_FIFO_DEPTH + 1), init=WINDOW_FIFO_DEPTH)
        issue = active & (credits != 0)
        left = delay(m, words.output.valid & words.output.ready, 1, "word_left")  # a cycle late: never too many
        m.d.sync += credits.eq(credits - issue + left)

        def wrapped(value):
            return Mux(value >= self.depth, value - self.depth, value)

        m.d.comb += [read.addr.eq(wrapped(slot + column)), freed.eq(0),
                     words.input.valid.eq(delay(m, issue, READ_LATENCY, "read_valid")),
                     words.input.payload.eq(read.data)]
        with m.If(~active & (filled >= r)):
            m.d.sync += active.eq(1)
        with m.If(issue):
            m.d.sync += [span.eq(span + 1), column.eq(column + 1)]
            with m.If(span == r * c_in - 1):  # the end of one window row (all v, i)
                m.d.sync += [span.eq(0), u.eq(u + 1), column.eq(pixel), slot.eq(wrapped(slot + row_words))]
                with m.If(u == r - 1):  # the window is complete: next output pixel
                    m.d.sync += [u.eq(0), b.eq(b + 1), pixel.eq(pixel + c_in), column.eq(pixel + c_in),
                                 slot.eq(base)]
                    with m.If(b == out - 1):  # the output row is complete: free its rows
                        last_row = a == out - 1
                        next_base = wrapped(base + Mux(last_row, r * row_words, row_words))
                        m.d.comb += freed.eq(Mux(last_row, r, 1))
                        # Straight on to the next output row when its rows are already in: no bubble.
                        m.d.sync += [active.eq(filled - freed >= r), b.eq(0), pixel.eq(0), column.eq(0), base.eq(next_base),
                                     slot.eq(next_base), a.eq(Mux(last_row, 0, a + 1))]
        return m


class Conv2D(wiring.Component):
    """Valid 2-D convolution, stride 1: a :class:`LineBuffer` feeding a matrix engine.

    Each output pixel is the window vector (``r² · c_in`` words) times the
    ``c_out × r²·c_in`` matrix ``M`` of ``models/conv.py``: on
    :class:`~hw.dense.DenseFC` (``engine="dense"``) or, block-circulant, on
    :class:`~hw.circulant.CirculantFC` (``engine="circulant"``: at each
    kernel position the ``c_out × c_in`` matrix is circulant in blocks of
    ``k``). Weights load through ``w_in`` as the engine's do (``M`` row-major,
    or the spectra of ``M``'s first columns), or are baked in with ``weights``.

    Parameters
    ----------
    c_in, c_out, size, kernel : int
        Channels in and out, image size, kernel size ``r``.
    engine : str
        ``dense`` or ``circulant``.
    k : int
        Block size (``circulant``; divides ``c_in`` and ``c_out``).
    width, frac : int
        ``Q(width, frac)`` of every word.
    parallelism : int
        MAC lanes of the engine.
    weights : array of int, optional
        Raw ``W`` (``c_out × c_in × r × r``) or ``w`` (``c_out/k × c_in/k × r × r × k``), baked in.

    Members
    -------
    w_in : In(stream.Signature(...))
        The engine's weight port (absent with ``weights``).
    x_in : In(stream.Signature(signed(width)))
        Pixels, ``NHWC`` order.
    y_out : Out(stream.Signature(signed(width)))
        Output pixels in raster order, ``c_out`` words each.

    Latency
    -------
    The line buffer's (``r`` input rows), then the engine's per window.

    Throughput
    ----------
    One output pixel per engine interval (``models.net.layer_interval`` with ``n_in = r²·c_in``,
    ``n_out = c_out``), the line buffer overlapped with the engine.
    """

    def __init__(self, *, c_in, c_out, size, kernel, engine="dense", k=8, width=16, frac=10, parallelism=1,
                 weights=None):
        self.c_in, self.c_out, self.size, self.kernel = c_in, c_out, size, kernel
        self.engine, self.k, self.width, self.frac, self.parallelism = engine, k, width, frac, parallelism
        if engine not in ("dense", "circulant"):
            raise ValueError(f"engine={engine!r} not allowed; allowed: dense, circulant")
        if not 1 <= kernel <= size:
            raise ValueError(f"kernel={kernel} out of range [1, {size}] (at most size)")
        if engine == "circulant":
            for name, channels in (("c_in", c_in), ("c_out", c_out)):
                if channels % k:
                    raise ValueError(f"{name}={channels} is not a multiple of k={k}")
            CirculantFC.check_shape(n_in=kernel ** 2 * c_in, n_out=c_out, k=k, parallelism=parallelism)
        else:
            DenseFC.check_parallelism(parallelism, c_out, "c_out")
        self.weights = None if weights is None else np.asarray(weights, dtype=np.int64)
        ports = {"x_in": In(stream.Signature(signed(width))), "y_out": Out(stream.Signature(signed(width)))}
        if weights is None:
            word = complex_layout(width + 1) if engine == "circulant" else signed(width)
            ports["w_in"] = In(stream.Signature(word))
        super().__init__(ports)

    def _engine(self):
        shape = dict(n_in=self.kernel ** 2 * self.c_in, n_out=self.c_out, width=self.width, frac=self.frac,
                     parallelism=self.parallelism)
        if self.engine == "circulant":
            baked = None if self.weights is None else circulant_columns(self.weights)
            return CirculantFC(k=self.k, weights=baked, **shape)
        return DenseFC(weights=None if self.weights is None else dense_matrix(self.weights), **shape)

    def elaborate(self, platform):
        m = Module()
        m.submodules.line_buffer = line_buffer = LineBuffer(c_in=self.c_in, size=self.size, kernel=self.kernel,
                                                            width=self.width)
        m.submodules.engine = engine = self._engine()
        wiring.connect(m, wiring.flipped(self.x_in), line_buffer.x_in)
        wiring.connect(m, line_buffer.windows, engine.x_in)
        wiring.connect(m, engine.y_out, wiring.flipped(self.y_out))
        if self.weights is None:
            wiring.connect(m, wiring.flipped(self.w_in), engine.w_in)
        return m


class Pool2D(wiring.Component):
    """2×2 pooling, stride 2, on images streamed pixel by pixel (``NHWC``, ``channels`` words a pixel).

    At an even column a pixel's words wait in a channel register file; at the
    odd column each pairs with its neighbour (``max``, or the sum); at an even
    row the pairs wait in a row buffer (``size // 2 × channels`` words, LUT
    RAM); at the odd row each meets its pair above and leaves: the largest of
    four, or ``(sum + 2) >> 2`` (``models.conv.pool_raw``). An odd last row
    and column are consumed and dropped.

    Three stages, each one register deep, advance together whenever the output
    register is free: (1) the word and both RAM reads are registered, (2) the
    word meets its neighbour, (3) the pair meets the pair above. A pair is
    written to the row buffer from stage 2; it is read a whole row later, so the
    write lagging the read of stage 1 never matters.

    Parameters
    ----------
    channels, size : int
        Words per pixel; image height and width (``≥ 2``).
    kind : str
        ``max`` or ``avg``.
    width : int
        Bits of a word (signed).

    Members
    -------
    x_in : In(stream.Signature(signed(width)))
        ``size² · channels`` words per image.
    y_out : Out(stream.Signature(signed(width)))
        ``(size // 2)² · channels`` words per image, the same order.

    Latency
    -------
    3 cycles from the fourth word of a block to its result.

    Throughput
    ----------
    One input word per cycle.
    """

    def __init__(self, *, channels, size, kind="max", width=16):
        self.channels, self.size, self.kind, self.width = channels, size, kind, width
        if kind not in POOLS:
            raise ValueError(f"kind={kind!r} not allowed; allowed: {', '.join(POOLS)}")
        if size < 2:
            raise ValueError(f"size={size} out of range: at least 2 for 2×2 pooling")
        super().__init__({"x_in": In(stream.Signature(signed(width))), "y_out": Out(stream.Signature(signed(width)))})

    def _combine(self, a, b):
        return Mux(a > b, a, b) if self.kind == "max" else a + b

    def elaborate(self, platform):
        m = Module()
        half, channels = self.size // 2, self.channels
        pair_shape = signed(self.width + (0 if self.kind == "max" else 1))
        m.submodules.held = held = memory.Memory(shape=signed(self.width), depth=channels, init=[],
                                                 attrs=DISTRIBUTED)
        m.submodules.pairs = pairs = memory.Memory(shape=pair_shape, depth=half * channels, init=[],
                                                   attrs=DISTRIBUTED)
        held_write, held_read = held.write_port(), held.read_port(domain="comb")
        pairs_write, pairs_read = pairs.write_port(), pairs.read_port(domain="comb")
        channel, column, row = Signal(range(channels)), Signal(range(self.size)), Signal(range(self.size))
        pair_address = Signal(range(half * channels))  # (column // 2)·channels + channel
        inside = (column < 2 * half) & (row < 2 * half)  # an odd last row or column is dropped
        advance = ~self.y_out.valid | self.y_out.ready
        accepted = self.x_in.valid & advance
        m.d.comb += [self.x_in.ready.eq(advance), held_read.addr.eq(channel), held_write.addr.eq(channel),
                     held_write.data.eq(self.x_in.payload), held_write.en.eq(accepted & ~column[0]),
                     pairs_read.addr.eq(pair_address)]
        # Stage 1: the word, its neighbour, the pair above, and what to do with them.
        word, neighbour = Signal(signed(self.width)), Signal(signed(self.width))
        above, stores, emits = Signal(pair_shape), Signal(), Signal()
        store_address = Signal.like(pair_address)
        # Stage 2: the pair. Stage 3 is the output register.
        pair, pair_above, pair_emits = Signal(pair_shape), Signal(pair_shape), Signal()
        m.d.comb += [pairs_write.addr.eq(store_address), pairs_write.data.eq(self._combine(neighbour, word)),
                     pairs_write.en.eq(advance & stores)]
        total = self._combine(pair_above, pair)
        with m.If(advance):
            m.d.sync += [word.eq(self.x_in.payload), neighbour.eq(held_read.data), above.eq(pairs_read.data),
                         store_address.eq(pair_address),
                         stores.eq(accepted & column[0] & ~row[0] & inside),
                         emits.eq(accepted & column[0] & row[0] & inside),
                         pair.eq(self._combine(neighbour, word)), pair_above.eq(above), pair_emits.eq(emits),
                         self.y_out.valid.eq(pair_emits),
                         self.y_out.payload.eq(total if self.kind == "max" else (total + 2) >> 2)]
        with m.If(accepted):
            m.d.sync += channel.eq(wrapped_increment(channel, channels))
            with m.If(column[0] & inside):
                m.d.sync += pair_address.eq(pair_address + 1)
            with m.If(channel == channels - 1):
                m.d.sync += column.eq(wrapped_increment(column, self.size))
                with m.If(column == self.size - 1):
                    m.d.sync += [row.eq(wrapped_increment(row, self.size)), pair_address.eq(0)]
        return m
