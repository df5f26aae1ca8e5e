"""Whole networks: fully connected layers on the dense or the block-circulant engine, bit-exact.

A network is a chain of layers ``y = act(W x + b)`` (docs/network.md). Each
layer runs on one engine:

- ``dense``: ``hw/dense.py``, ``W`` is ``n_out × n_in`` in ``Q(width, frac)``;
- ``circulant``: ``hw/circulant.py``, ``W`` is the nearest block-circulant
  matrix (``models.circulant.project_block_circulant``), given by its first
  columns ``p × q × k``.

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

from dataclasses import dataclass

import numpy as np

from . import circulant, dense
from .fixed import FixedFormat, dequantize, quantize, saturate
from .pwl import FUNCTIONS, pwl_raw

__all__ = ["ACTIVATIONS", "ENGINES", "Layer", "FixedLayer", "max_parallelism", "layer_interval", "fold",
           "quantize_network", "layer_raw", "network_raw", "network_float", "error_bound"]

ACTIVATIONS = ("none", "relu", "sigmoid", "tanh")
#: ``hybrid``: circulant where ``k`` divides both sizes of a layer, dense elsewhere (e.g. a 10-way classifier).
ENGINES = ("dense", "circulant", "hybrid")


@dataclass(frozen=True)
class Layer:
    """A float fully connected layer as the ONNX file gives it: ``y = act(weight @ x + bias)``."""

    name: str
    weight: np.ndarray  # n_out × n_in
    bias: np.ndarray  # n_out
    activation: str = "none"

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]


@dataclass(frozen=True)
class FixedLayer:
    """One layer as the hardware holds it: engine, raw weights and bias, activation, parallelism.

    ``weight_raw`` is ``n_out × n_in`` (dense) or the first columns ``p × q × k``
    (circulant); ``projection_error`` is ``‖W − P(W)‖_F / ‖W‖_F`` of the
    projection onto block-circulant matrices (0 for dense layers).
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

    @property
    def interval(self) -> int:
        return layer_interval(self.engine, self.n_in, self.n_out, self.k, self.parallelism)

    def weight_bits(self, width: int) -> int:
        """Bits of weight memory this layer's engine holds."""
        if self.engine == "circulant":
            return circulant.weight_storage_bits(self.n_in, self.n_out, self.k, width, self.parallelism)
        return self.n_in * self.n_out * width

    def matrix(self, fmt: FixedFormat) -> np.ndarray:
        """The float matrix the hardware multiplies by (``n_out × n_in``)."""
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
    fits = layer.n_in % k == 0 and layer.n_out % k == 0
    if engine == "circulant" and not fits:
        raise ValueError(f"layer {layer.name!r} is {layer.n_out}×{layer.n_in}: not multiples of k={k} for "
                         "engine=circulant (engine=hybrid keeps such layers dense)")
    return "circulant" if engine == "circulant" or (engine == "hybrid" and fits) else "dense"


def quantize_network(layers: list[Layer], fmt: FixedFormat, engine: str, k: int,
                     target_interval: int) -> list[FixedLayer]:
    """The float layers on their engines: weights projected (circulant) and quantized, parallelism folded."""
    fixed = []
    for layer in layers:
        chosen = _engine_of(layer, engine, k)
        weight, error = layer.weight, 0.0
        if chosen == "circulant":
            weight = circulant.project_block_circulant(layer.weight, k)
            norm = np.linalg.norm(layer.weight)
            error = float(np.linalg.norm(layer.weight - circulant.block_circulant(weight)) / norm) if norm else 0.0
        fixed.append(FixedLayer(
            name=layer.name, engine=chosen, n_in=layer.n_in, n_out=layer.n_out,
            weight_raw=quantize(weight, fmt), bias_raw=quantize(layer.bias, fmt), activation=layer.activation,
            parallelism=fold(chosen, layer.n_in, layer.n_out, k, target_interval),
            k=k if chosen == "circulant" else 0, projection_error=error))
    return fixed


def activation_raw(activation: str, x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """The activation units' bit-exact output on raw words."""
    if activation == "relu":
        return np.maximum(x_raw, 0)
    if activation in FUNCTIONS:
        return pwl_raw(FUNCTIONS[activation], x_raw, fmt)
    return np.asarray(x_raw, dtype=np.int64)


def layer_raw(layer: FixedLayer, x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Bit-exact output (batch × n_out) of one layer on raw inputs (batch × n_in)."""
    if layer.engine == "circulant":
        product = circulant.circulant_fc_raw(layer.weight_raw, x_raw, fmt)
    else:
        product = dense.dense_fc_raw(layer.weight_raw, x_raw, fmt)
    return activation_raw(layer.activation, saturate(product + layer.bias_raw, fmt.width), fmt)


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
        values = _activation_float(layer.activation, values @ layer.weight.T + layer.bias)
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
    activations. Valid while nothing saturates.
    """
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

