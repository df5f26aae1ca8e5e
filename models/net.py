"""Whole networks: fully connected and convolution layers on the dense or the block-circulant engine,
and 2×2 pooling, bit-exact.

A network is a chain of layers ``y = act(W x + b)`` (``fc``), ``y = act(W ⊛ x + b)``
(``conv``, valid, stride 1, ``models/conv.py``) and 2×2 pooling (``pool``),
docs/network.md. Between convolution layers the activations are images
(batch × channels × size × size); they stream pixel by pixel (``NHWC``), so
a fully connected layer after them takes its input in that order — its
weight columns are in stream order (``models/onnx_import.py`` permutes
ONNX's ``NCHW`` flattening). Each ``fc`` or ``conv`` layer runs on one engine:

- ``dense``: ``hw/dense.py``, ``W`` is ``n_out × n_in`` in ``Q(width, frac)``;
- ``circulant``: ``hw/circulant.py``, ``W`` is the nearest block-circulant
  matrix (``models.circulant.project_block_circulant``), given by its first
  columns ``p × q × k`` (a convolution: at each kernel position,
  ``p × q × r × r × k``).

Bit-exact arithmetic per layer (``hw/net.py``), all words ``Q(width, frac)``:

1. the engine's output, ``models.dense.dense_fc_raw`` or
   ``models.circulant.circulant_fc_raw`` (rounded and saturated to ``width``);
2. plus the bias, saturated to ``width`` bits;
3. the activation: ``relu`` (``max(0, ·)``), ``sigmoid`` / ``tanh`` (the
   PWL units, ``models.pwl.pwl_raw``) or ``none``.

Folding: each layer's parallelism is the smallest whose interval (cycles per
input vector, :func:`layer_interval`) is at most the network's
``target_interval``, or the largest the engine has when none is; the layers
overlap across inputs, so the network's interval is its slowest layer's.
"""

from dataclasses import dataclass, replace

import numpy as np

from . import circulant, conv, dense
from .fixed import FixedFormat, dequantize, quantize, saturate
from .pwl import FUNCTIONS, pwl_raw

__all__ = ["ACTIVATIONS", "ENGINES", "Layer", "FixedLayer", "max_parallelism", "layer_interval", "fold",
           "quantize_network", "project_weights", "expand_columns", "stream_order", "layer_raw", "network_raw", "network_float", "error_bound"]

ACTIVATIONS = ("none", "relu", "sigmoid", "tanh")
#: ``hybrid``: circulant where ``k`` divides both sizes of a layer, dense elsewhere (e.g. a 10-way classifier);
#: ``auto``: circulant where the weights already are block-circulant at ``k`` (ADMM-trained), dense elsewhere.
ENGINES = ("dense", "circulant", "hybrid", "auto")
#: Relative projection error below which ``auto`` takes a layer's weights for block-circulant (float32 storage of
#: an exactly block-circulant matrix projects back exactly).
ALREADY_CIRCULANT = 1e-6


@dataclass(frozen=True)
class Layer:
    """A float layer as the ONNX file gives it.

    ``op`` ``fc``: ``weight`` ``n_out × n_in`` (columns in stream order), ``bias`` ``n_out``;
    ``conv``: ``weight`` ``c_out × c_in × r × r``, ``bias`` ``c_out``, ``size`` the input's height and width;
    ``pool``: ``kind`` (``max``, ``avg``), ``channels`` and ``size``; no weights.
    """

    name: str
    weight: np.ndarray
    bias: np.ndarray
    activation: str = "none"
    op: str = "fc"
    size: int = 0
    kind: str = ""
    channels: int = 0

    @property
    def out_shape(self) -> tuple:
        """The output of one input: ``(n_out,)`` or ``(channels, height, width)``."""
        if self.op == "conv":
            out = conv.output_size(self.size, self.weight.shape[2])
            return (self.weight.shape[0], out, out)
        if self.op == "pool":
            return (self.channels, self.size // 2, self.size // 2)
        return (self.weight.shape[0],)

    @property
    def n_in(self) -> int:
        """Words of one input."""
        if self.op == "conv":
            return self.weight.shape[1] * self.size ** 2
        if self.op == "pool":
            return self.channels * self.size ** 2
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        """Words of one output."""
        return int(np.prod(self.out_shape))


@dataclass(frozen=True)
class FixedLayer:
    """One layer as the hardware holds it: op, engine, raw weights and bias, activation, parallelism.

    ``weight_raw`` is ``n_out × n_in`` (dense ``fc``), the first columns
    ``p × q × k`` (circulant ``fc``), ``c_out × c_in × r × r`` (dense ``conv``)
    or ``p × q × r × r × k`` (circulant ``conv``); ``projection_error`` is
    ``‖W − P(W)‖_F / ‖W‖_F`` of the projection onto block-circulant matrices
    (0 for dense layers). ``pool`` layers have no engine (``engine`` is ``pool``).
    """

    name: str
    engine: str
    n_in: int
    n_out: int
    weight_raw: np.ndarray
    bias_raw: np.ndarray
    activation: str
    parallelism: int
    k: int = 0
    projection_error: float = 0.0
    op: str = "fc"
    size: int = 0
    kind: str = ""
    channels: int = 0

    @property
    def matrix_shape(self) -> tuple[int, int]:
        """``(n_in, n_out)`` of the engine's matrix: the layer's, or one window's (``r²·c_in``, ``c_out``)."""
        if self.op == "conv":
            c_out, c_in, r = self.conv_shape
            return r * r * c_in, c_out
        return self.n_in, self.n_out

    @property
    def conv_shape(self) -> tuple[int, int, int]:
        """``(c_out, c_in, r)`` of a convolution layer."""
        w = self.weight_raw
        if self.engine == "circulant":
            return w.shape[0] * w.shape[4], w.shape[1] * w.shape[4], w.shape[2]
        return w.shape[0], w.shape[1], w.shape[2]

    @property
    def windows(self) -> int:
        """Engine vectors per input: output pixels of a convolution, else 1."""
        return conv.output_size(self.size, self.conv_shape[2]) ** 2 if self.op == "conv" else 1

    @property
    def interval(self) -> int:
        """Cycles per input of this layer alone in steady state (a convolution: per image)."""
        if self.op == "pool":
            return self.n_in
        return self.windows * layer_interval(self.engine, *self.matrix_shape, self.k, self.parallelism)

    def weight_bits(self, width: int) -> int:
        """Bits of weight memory this layer's engine holds."""
        n_in, n_out = self.matrix_shape
        if self.engine == "circulant":
            return circulant.weight_storage_bits(n_in, n_out, self.k, width, self.parallelism)
        return 0 if self.op == "pool" else n_in * n_out * width

    def matrix(self, fmt: FixedFormat) -> np.ndarray:
        """The float matrix the hardware multiplies by (``n_out × n_in``; fully connected layers)."""
        values = dequantize(self.weight_raw, fmt)
        return circulant.block_circulant(values) if self.engine == "circulant" else values


def max_parallelism(engine: str, n_out: int, k: int) -> int:
    """Most MAC lanes the engine takes: ``n_out`` (dense) or ``k/2 + 1`` complex lanes (circulant)."""
    return k // 2 + 1 if engine == "circulant" else n_out


def layer_interval(engine: str, n_in: int, n_out: int, k: int, parallelism: int) -> int:
    """Cycles between consecutive input vectors of one engine in steady state, no stalls."""
    if engine == "circulant":
        return circulant.cycles_per_vector(n_in, n_out, k, parallelism)
    return dense.cycles_per_vector(n_in, n_out, parallelism)


def fold(engine: str, n_in: int, n_out: int, k: int, target_interval: int) -> int:
    """The smallest parallelism whose interval is at most ``target_interval`` (else the largest)."""
    most = max_parallelism(engine, n_out, k)
    for parallelism in range(1, most + 1):
        if layer_interval(engine, n_in, n_out, k, parallelism) <= target_interval:
            return parallelism
    return most


def _engine_of(layer: Layer, engine: str, k: int) -> str:
    """The engine of an ``fc`` or ``conv`` layer: its channel (or vector) sizes must be multiples of ``k``
    for a circulant one."""
    outputs, inputs = layer.weight.shape[:2]
    fits = inputs % k == 0 and outputs % k == 0
    if engine == "circulant" and not fits:
        raise ValueError(f"layer {layer.name!r} is {outputs}×{inputs}: not multiples of k={k} for "
                         "engine=circulant (engine=hybrid keeps such layers dense)")
    if engine == "auto" and fits:
        return "circulant" if _projection_error(layer, k) < ALREADY_CIRCULANT else "dense"
    return "circulant" if engine == "circulant" or (engine == "hybrid" and fits) else "dense"


def _projection_error(layer: Layer, k: int) -> float:
    """``‖W − P(W)‖_F / ‖W‖_F`` of the projection onto block-circulant weights (0 for a zero ``W``)."""
    norm = np.linalg.norm(layer.weight)
    projected = expand_columns(project_weights(layer.weight, k, layer.op), layer.op)
    return float(np.linalg.norm(layer.weight - projected) / norm) if norm else 0.0


def project_weights(weight: np.ndarray, k: int, op: str) -> np.ndarray:
    """Nearest block-circulant weights: the first columns of the matrix (``fc``) or of each kernel
    position's ``c_out × c_in`` matrix (``conv``, ``p × q × r × r × k``)."""
    if op == "fc":
        return circulant.project_block_circulant(weight, k)
    r = weight.shape[2]
    columns = [[circulant.project_block_circulant(weight[:, :, u, v], k) for v in range(r)] for u in range(r)]
    return np.array(columns).transpose(2, 3, 0, 1, 4)


def expand_columns(columns: np.ndarray, op: str) -> np.ndarray:
    """The dense weights of first columns (``fc``: the matrix; ``conv``: ``c_out × c_in × r × r``)."""
    return circulant.block_circulant(columns) if op == "fc" else conv.dense_weights(columns)


def _fixed_layer(layer: Layer, fmt: FixedFormat, engine: str, k: int, target_interval: int) -> FixedLayer:
    shape = dict(name=layer.name, n_in=layer.n_in, n_out=layer.n_out, activation=layer.activation, op=layer.op,
                 size=layer.size, kind=layer.kind, channels=layer.channels)
    if layer.op == "pool":
        return FixedLayer(engine="pool", weight_raw=np.zeros(0, np.int64), bias_raw=np.zeros(0, np.int64),
                          parallelism=1, **shape)
    chosen = _engine_of(layer, engine, k)
    weight, error = layer.weight, 0.0
    if chosen == "circulant":
        weight, error = project_weights(layer.weight, k, layer.op), _projection_error(layer, k)
    draft = FixedLayer(engine=chosen, weight_raw=quantize(weight, fmt), bias_raw=quantize(layer.bias, fmt),
                       parallelism=1, k=k if chosen == "circulant" else 0, projection_error=error, **shape)
    per_window = max(1, target_interval // draft.windows)
    lanes = fold(chosen, *draft.matrix_shape, k, per_window)
    return replace(draft, parallelism=lanes)


def quantize_network(layers: list[Layer], fmt: FixedFormat, engine: str, k: int,
                     target_interval: int) -> list[FixedLayer]:
    """The float layers on their engines: weights projected (circulant) and quantized, parallelism folded
    (a convolution's per window: ``target_interval`` over its output pixels)."""
    return [_fixed_layer(layer, fmt, engine, k, target_interval) for layer in layers]


def activation_raw(activation: str, x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """The activation units' bit-exact output on raw words."""
    if activation == "relu":
        return np.maximum(x_raw, 0)
    if activation in FUNCTIONS:
        return pwl_raw(FUNCTIONS[activation], x_raw, fmt)
    return np.asarray(x_raw, dtype=np.int64)


def nchw(words, shape) -> np.ndarray:
    """Streamed ``NHWC`` words back to ``batch × c × h × w`` (``shape`` without the batch): the inverse of
    :func:`stream_order` for images."""
    channels, height, width = shape
    return np.asarray(words).reshape(-1, height, width, channels).transpose(0, 3, 1, 2)


def stream_order(values: np.ndarray) -> np.ndarray:
    """Inputs as the hardware streams them, one row each: images (batch × c × h × w) pixel by pixel
    (``NHWC``), any other shape in C order."""
    values = np.asarray(values)
    if values.ndim == 4:
        values = values.transpose(0, 2, 3, 1)
    return values.reshape(len(values), -1)


def layer_raw(layer: FixedLayer, x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Bit-exact output of one layer on raw inputs: batch × n_in (``fc``; images are taken in stream
    order) or batch × c × size × size (``conv``, ``pool``)."""
    if layer.op == "pool":
        return conv.pool_raw(layer.kind, x_raw)
    if layer.op == "conv":
        product, bias = conv.conv_raw(layer.engine, layer.weight_raw, x_raw, fmt), layer.bias_raw[:, None, None]
    elif layer.engine == "circulant":
        product, bias = circulant.circulant_fc_raw(layer.weight_raw, stream_order(x_raw), fmt), layer.bias_raw
    else:
        product, bias = dense.dense_fc_raw(layer.weight_raw, stream_order(x_raw), fmt), layer.bias_raw
    return activation_raw(layer.activation, saturate(product + bias, fmt.width), fmt)


def network_raw(layers: list[FixedLayer], x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Bit-exact output of the whole network (batch × n_out of the last layer)."""
    values = np.asarray(x_raw, dtype=np.int64)
    for layer in layers:
        values = layer_raw(layer, values, fmt)
    return values


def _activation_float(activation: str, x: np.ndarray) -> np.ndarray:
    if activation == "relu":
        return np.maximum(x, 0)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if activation == "tanh":
        return np.tanh(x)
    return x


def network_float(layers: list[Layer], x: np.ndarray) -> list[np.ndarray]:
    """Float64 forward pass of the ONNX layers; every layer's output, the network's last."""
    outputs, values = [], np.asarray(x, dtype=np.float64)
    for layer in layers:
        if layer.op == "pool":
            values = conv.pool_float(layer.kind, values)
        elif layer.op == "conv":
            values = _activation_float(layer.activation, conv.conv_float(layer.weight, values)
                                       + layer.bias[:, None, None])
        else:
            values = _activation_float(layer.activation, stream_order(values) @ layer.weight.T + layer.bias)
        outputs.append(values)
    return outputs


#: Largest deviation of the PWL tables from the exact functions (C-LSTM's bounds, ``tests/test_pwl.py``).
PWL_ERROR = {"sigmoid": 0.0041, "tanh": 0.0151}
#: Lipschitz constants of the activations.
LIPSCHITZ = {"none": 1.0, "relu": 1.0, "sigmoid": 0.25, "tanh": 1.0}


def _engine_error(layer: FixedLayer, fmt: FixedFormat) -> float:
    """The engine's own rounding, in value units: half an LSB (dense) or the circulant datapath's
    documented ``(2 + k)·√q`` LSB (docs/circulant.md)."""
    if layer.engine == "circulant":
        return (2 + layer.k) * np.sqrt(layer.n_in // layer.k) * fmt.lsb
    return fmt.lsb / 2


def error_bound(layers: list[Layer], fixed: list[FixedLayer], x: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Per-output bound (batch × n_out) on ``|fixed-point model − float network|``, propagated layer by
    layer (docs/network.md, "Accuracy"): the input's rounding, then per layer

    ``e_out ≤ L_act · (|W_q| e_in + |W − W_q| (|x| + e_in) + engine + |b − b_q|) + pwl``

    with ``pwl`` the table's deviation plus 2 LSB of its rounding, ``W_q`` the hardware's matrix (projected and quantized) and ``x`` the float network's
    activations. Valid while nothing saturates. Fully connected networks only.
    """
    if any(layer.op != "fc" for layer in layers):
        raise ValueError("error_bound covers fully connected networks only")
    x = np.asarray(x, dtype=np.float64)
    error = np.abs(dequantize(quantize(x, fmt), fmt) - x)
    floats = [x, *network_float(layers, x)]
    for layer, hardware, inputs in zip(layers, fixed, floats):
        w_q = hardware.matrix(fmt)
        b_q = dequantize(hardware.bias_raw, fmt)
        linear = (error @ np.abs(w_q).T + (np.abs(inputs) + error) @ np.abs(layer.weight - w_q).T
                  + _engine_error(hardware, fmt) + np.abs(layer.bias - b_q))
        table = PWL_ERROR[layer.activation] + 2 * fmt.lsb if layer.activation in PWL_ERROR else 0.0  # + the tables' rounding
        error = LIPSCHITZ[layer.activation] * linear + table
    return error

