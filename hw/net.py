"""``net``: a network's layers chained through stream FIFOs into one accelerator (``models/net.py``)."""

from amaranth.hdl import Array, Const, EnableInserter, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import FixedFormat
from models.net import ACTIVATIONS, FixedLayer
from models.pwl import FUNCTIONS

from .circulant import CirculantFC
from .common.buffer import LutRamFIFO, SkidBuffer, wrapped_increment
from .common.fixed import delay, saturate
from .conv import Conv2D, Pool2D
from .dense import DenseFC
from .pwl import PWL_LATENCY, pwl_pipeline

__all__ = ["Epilogue", "Network", "epilogue_latency"]


def epilogue_latency(activation: str) -> int:
    """Registers of :class:`Epilogue`: the bias adder, then the activation's."""
    return 1 + {"none": 0, "relu": 1}.get(activation, PWL_LATENCY)


class Epilogue(wiring.Component):
    """``y[o] = act(sat(x[o] + b[o]))`` on a stream of vectors of ``len(bias)`` words.

    The bias table is a LUT ROM indexed by the word's position in its vector;
    ``act`` is ``none``, ``relu`` or a PWL unit (``sigmoid``, ``tanh``,
    ``hw/pwl.py``). The pipeline stalls as a whole while ``y_out`` waits.

    Parameters
    ----------
    bias : sequence of int
        Raw ``b`` (``Q(width, frac)``), one per output.
    activation : str
        One of ``models.net.ACTIVATIONS``.
    width, frac : int
        ``Q(width, frac)`` of every word.

    Members
    -------
    x_in : In(stream.Signature(signed(width)))
    y_out : Out(stream.Signature(signed(width)))

    Latency
    -------
    :func:`epilogue_latency` cycles: 1 (bias), 2 (``relu``) or ``1 + PWL_LATENCY`` (sigmoid, tanh).

    Throughput
    ----------
    One word per cycle.
    """

    def __init__(self, *, bias, activation: str, width: int, frac: int):
        self.bias = [int(value) for value in bias]
        self.activation = activation
        self.fmt = FixedFormat(width, frac)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} not allowed; allowed: {', '.join(ACTIVATIONS)}")
        super().__init__({"x_in": In(stream.Signature(signed(width))), "y_out": Out(stream.Signature(signed(width)))})

    def elaborate(self, platform):
        m = Module()
        width, outputs = self.fmt.width, len(self.bias)
        advance = ~self.y_out.valid | self.y_out.ready
        pipeline = Module()
        m.submodules.pipeline = EnableInserter(advance)(pipeline)
        index = Signal(range(outputs))
        with m.If(self.x_in.valid & advance):
            m.d.sync += index.eq(wrapped_increment(index, outputs))
        biased = Signal(signed(width))
        table = Array(Const(value, signed(width)) for value in self.bias)
        pipeline.d.sync += biased.eq(saturate(self.x_in.payload + table[index], width))
        if self.activation == "relu":
            result = Signal(signed(width))
            pipeline.d.sync += result.eq(Mux(biased < 0, 0, biased))
        elif self.activation in FUNCTIONS:
            result = pwl_pipeline(pipeline, FUNCTIONS[self.activation], biased, self.fmt)
        else:
            result = biased
        valid = delay(pipeline, self.x_in.valid, epilogue_latency(self.activation), "valid")
        m.d.comb += [self.x_in.ready.eq(advance), self.y_out.valid.eq(valid), self.y_out.payload.eq(result)]
        return m


class Network(wiring.Component):
    """A chain of layers, each its engine and its :class:`Epilogue`, overlapped across inputs.

    A fully connected layer is a :class:`DenseFC` or :class:`CirculantFC`, a
    convolution a :class:`~hw.conv.Conv2D` (line buffer and either engine),
    each with its weights baked into its memories (no weight port), then a
    skid buffer and an :class:`Epilogue` (bias, activation); a pooling layer
    is a :class:`~hw.conv.Pool2D`. Between layers a LUT-RAM FIFO holds one
    output vector of the engine (:meth:`handover_words`), so a layer hands
    its outputs over and goes on while the next layer is still busy.
    Arithmetic is ``models.net.network_raw`` bit for bit.

    Parameters
    ----------
    layers : list of models.net.FixedLayer
        Engines, raw weights and biases, activations and parallelisms.
    width, frac : int
        ``Q(width, frac)`` of every word.

    Members
    -------
    x_in : In(stream.Signature(signed(width)))
        Input vectors, ``n_in`` words each, ``x[0]`` first (images pixel by pixel, ``NHWC``).
    y_out : Out(stream.Signature(signed(width)))
        Output vectors, ``n_out`` words each (images ``NHWC``).

    Latency
    -------
    Per vector, the sum of the engines' latencies (``models.dense.cycles_per_vector``,
    the circulant stages), one cycle per skid buffer, the epilogues' (:func:`epilogue_latency`)
    and three cycles per FIFO.

    Throughput
    ----------
    One vector per ``max(layer.interval)`` cycles in steady state without stalls: the slowest layer's
    interval (``models.net.layer_interval``), not the sum.
    """

    def __init__(self, *, layers: list[FixedLayer], width: int, frac: int):
        self.layers, self.width, self.frac = list(layers), width, frac
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        super().__init__({"x_in": In(stream.Signature(signed(width))), "y_out": Out(stream.Signature(signed(width)))})

    def _engine(self, layer: FixedLayer):
        """The layer's engine: a matrix engine (``fc``), a convolution or a pooling unit."""
        if layer.op == "pool":
            return Pool2D(channels=layer.channels, size=layer.size, kind=layer.kind, width=self.width)
        common = dict(width=self.width, frac=self.frac, parallelism=layer.parallelism, weights=layer.weight_raw)
        if layer.op == "conv":
            c_out, c_in, kernel = layer.conv_shape
            return Conv2D(c_in=c_in, c_out=c_out, size=layer.size, kernel=kernel, engine=layer.engine,
                          k=layer.k, **common)
        if layer.engine == "circulant":
            return CirculantFC(n_in=layer.n_in, n_out=layer.n_out, k=layer.k, **common)
        return DenseFC(n_in=layer.n_in, n_out=layer.n_out, **common)

    @staticmethod
    def handover_words(layer: FixedLayer) -> int:
        """Depth of the FIFO after a layer: one output vector of its engine (``n_out``; a convolution's
        ``c_out`` per pixel; a pooled row)."""
        if layer.op == "conv":
            return layer.conv_shape[0]
        if layer.op == "pool":
            return layer.channels * (layer.size // 2)
        return layer.n_out

    def elaborate(self, platform):
        m = Module()
        source = wiring.flipped(self.x_in)
        for number, layer in enumerate(self.layers):
            engine = m.submodules[f"layer{number}"] = self._engine(layer)
            wiring.connect(m, source, engine.x_in)
            source = engine.y_out
            if layer.op != "pool":
                # The skid buffer registers the engine's output (its rounding and saturation) before the bias.
                result = m.submodules[f"result{number}"] = SkidBuffer(shape=signed(self.width))
                epilogue = m.submodules[f"epilogue{number}"] = Epilogue(
                    bias=layer.bias_raw, activation=layer.activation, width=self.width, frac=self.frac)
                wiring.connect(m, source, result.input)
                wiring.connect(m, result.output, epilogue.x_in)
                source = epilogue.y_out
            if number < len(self.layers) - 1:
                fifo = m.submodules[f"fifo{number}"] = LutRamFIFO(shape=signed(self.width),
                                                                  depth=max(2, self.handover_words(layer)))
                wiring.connect(m, source, fifo.input)
                source = fifo.output
        wiring.connect(m, source, wiring.flipped(self.y_out))
        return m
