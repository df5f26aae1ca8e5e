"""ONNX file → the float layers of ``models/net.py`` (docs/network.md, "ONNX import").

Supported, as a single chain from the graph's one data input to its one output:

- ``Conv`` (square kernel, ``strides`` 1, no padding, ``dilations`` 1, ``group`` 1, square input);
- ``MaxPool``, ``AveragePool`` (2×2, ``strides`` 2, no padding);
- ``Gemm`` (``transA = 0``; ``transB`` 0 or 1 — PyTorch's ``Linear`` exports
  ``transB = 1``; ``alpha`` and ``beta`` folded into the weights and bias);
- ``MatMul`` by an initializer, optionally followed by ``Add`` of an
  initializer (the bias);
- ``Relu``, ``Sigmoid``, ``Tanh`` after a linear layer (its activation);
- ``Flatten`` (``axis = 1``), ``Reshape`` to ``(batch, n)``, ``Identity``.

Images stream pixel by pixel (``NHWC``), so the weight columns of a
fully connected layer after a flattened image are permuted from ONNX's
``NCHW`` order into stream order. Only the first axis of the input may be
dynamic (the batch). Anything else raises ``ValueError`` naming the op and the node.
"""

from math import prod
from pathlib import Path

import numpy as np

from .net import Layer

__all__ = ["SUPPORTED_OPS", "load_layers"]

SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Conv", "MaxPool", "AveragePool", "Relu", "Sigmoid", "Tanh", "Flatten",
                 "Reshape", "Identity")
_POOL_OPS = {"MaxPool": "max", "AveragePool": "avg"}
_ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


def _read(path: Path):
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path))
    except (DecodeError, ValueError, OSError) as error:
        raise ValueError(f"model={path}: not an ONNX file ({type(error).__name__})") from None
    if not model.graph.node:
        raise ValueError(f"model={path}: not an ONNX file (no graph nodes)")
    return model.graph


def _input_dims(value_info) -> list[int]:
    """The input's dimensions after the batch axis; every one must be fixed."""
    dims = value_info.type.tensor_type.shape.dim
    if len(dims) < 2:
        raise ValueError(f"input {value_info.name!r} has rank {len(dims)}; expected (batch, features…)")
    fixed = []
    for axis, dim in enumerate(dims[1:], start=1):
        if not dim.HasField("dim_value") or dim.dim_value < 1:
            shown = dim.dim_param or "?"
            raise ValueError(f"input {value_info.name!r} axis {axis} is dynamic ({shown!r}); only the batch axis "
                             "(axis 0) may be")
        fixed.append(dim.dim_value)
    return fixed


def _attributes(node) -> dict:
    import onnx

    return {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}


class _Chain:
    """The import's state: the layers so far, the current tensor's name and shape (without the batch), and
    the stream order of a flattened image (its ONNX index per stream position) until a layer takes it."""

    def __init__(self, name: str, dims: list[int]):
        self.layers: list[dict] = []
        self.tensor, self.shape, self.order = name, tuple(dims), None

    @property
    def features(self) -> int:
        return prod(self.shape)

    def image(self, label: str) -> tuple[int, int]:
        """``(channels, size)`` of the current tensor, which must be a square image."""
        if len(self.shape) != 3 or self.shape[1] != self.shape[2]:
            raise ValueError(f"{label}: input shape {self.shape}; expected a square image (channels, size, size)")
        return self.shape[0], self.shape[1]

    def linear(self, name: str, label: str, weight: np.ndarray, bias: np.ndarray):
        if len(self.shape) != 1:
            raise ValueError(f"{label}: input has rank {1 + len(self.shape)}; flatten it first (Flatten or Reshape)")
        if weight.shape[1] != self.features:
            raise ValueError(f"{label}: weight is {weight.shape[0]}×{weight.shape[1]} (out × in) but its input "
                             f"has {self.features} features")
        if self.order is not None:
            weight, self.order = weight[:, self.order], None
        self.layers.append({"name": name, "weight": weight, "bias": bias, "activation": "none"})
        self.shape = (weight.shape[0],)

    def flatten(self):
        if len(self.shape) == 3:
            self.order = np.arange(self.features).reshape(self.shape).transpose(1, 2, 0).reshape(-1)
        self.shape = (self.features,)

    def last_open(self, label: str) -> dict:
        """The previous layer, which must be a linear one without an activation yet."""
        if not self.layers or self.layers[-1]["activation"] != "none" or self.layers[-1].get("op") == "pool":
            raise ValueError(f"{label} does not follow a linear layer (Gemm, MatMul or Conv)")
        return self.layers[-1]


def _constant(initializers: dict, name: str, label: str) -> np.ndarray:
    if name not in initializers:
        raise ValueError(f"{label}: operand {name!r} is not an initializer (weights must be constants)")
    return initializers[name]


def _gemm(chain: _Chain, node, name: str, label: str, initializers: dict):
    attributes = _attributes(node)
    if attributes.get("transA", 0):
        raise ValueError(f"{label}: transA=1 is not supported (the data input must be batch × features)")
    weight = _constant(initializers, node.input[1], label) * attributes.get("alpha", 1.0)
    if not attributes.get("transB", 0):
        weight = weight.T
    bias = np.zeros(weight.shape[0])
    if len(node.input) > 2 and node.input[2]:
        bias = np.broadcast_to(_constant(initializers, node.input[2], label) * attributes.get("beta", 1.0),
                               (weight.shape[0],)).astype(np.float64)
    chain.linear(name, label, weight, bias)


def _add(chain: _Chain, node, label: str, initializers: dict):
    layer = chain.last_open(label)
    operand = next(name for name in node.input if name != chain.tensor)
    bias = _constant(initializers, operand, label)
    if bias.size != layer["weight"].shape[0]:
        raise ValueError(f"{label}: bias has {bias.size} values for {layer['weight'].shape[0]} outputs")
    layer["bias"] = layer["bias"] + bias.reshape(-1)


def _reshape(chain: _Chain, node, label: str, initializers: dict):
    if node.op_type == "Flatten":
        if _attributes(node).get("axis", 1) != 1:
            raise ValueError(f"{label}: only axis=1 is supported (keep the batch axis)")
        chain.flatten()
    elif node.op_type == "Reshape":
        shape = [int(s) for s in _constant(initializers, node.input[1], label).reshape(-1)]
        if len(shape) != 2 or shape[1] not in (-1, chain.features):
            raise ValueError(f"{label}: target shape {shape}; only (batch, {chain.features}) is supported")
        chain.flatten()


def _require(attributes: dict, label: str, **allowed):
    """Each named attribute, when present, must have its allowed value (``None``: any all-zero list)."""
    for key, value in allowed.items():
        if key not in attributes:
            continue
        got = attributes[key]
        fine = (not any(got)) if value is None else (list(got) if isinstance(got, (list, tuple)) else got) == value
        if not fine:
            raise ValueError(f"{label}: {key}={got!r} is not supported (only {value if value is not None else 0})")


def _conv(chain: _Chain, node, name: str, label: str, initializers: dict):
    channels, size = chain.image(label)
    attributes = _attributes(node)
    _require(attributes, label, strides=[1, 1], dilations=[1, 1], group=1, pads=None)
    if attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        raise ValueError(f"{label}: auto_pad={attributes['auto_pad']!r} is not supported (only valid convolution)")
    weight = _constant(initializers, node.input[1], label)
    if weight.ndim != 4 or weight.shape[1] != channels or weight.shape[2] != weight.shape[3] \
            or weight.shape[2] > size:
        raise ValueError(f"{label}: weight shape {weight.shape} does not fit a ({channels}, {size}, {size}) input "
                         "(square kernel, at most the image)")
    bias = np.zeros(weight.shape[0])
    if len(node.input) > 2 and node.input[2]:
        bias = _constant(initializers, node.input[2], label).reshape(-1)
    chain.layers.append({"name": name, "weight": weight, "bias": bias, "activation": "none", "op": "conv",
                         "size": size})
    out = size - weight.shape[2] + 1
    chain.shape = (weight.shape[0], out, out)


def _pool(chain: _Chain, node, name: str, label: str):
    channels, size = chain.image(label)
    attributes = _attributes(node)
    if list(attributes.get("kernel_shape", [])) != [2, 2]:
        raise ValueError(f"{label}: kernel_shape={attributes.get('kernel_shape')}; only 2×2 pooling is supported")
    _require(attributes, label, pads=None, ceil_mode=0, dilations=[1, 1])
    if list(attributes.get("strides", [1, 1])) != [2, 2]:
        raise ValueError(f"{label}: strides={attributes.get('strides', [1, 1])}; only strides=[2, 2] is supported")
    if size < 2:
        raise ValueError(f"{label}: a {size}×{size} image is too small for 2×2 pooling")
    chain.layers.append({"name": name, "weight": np.zeros((0, 0)), "bias": np.zeros(0), "activation": "none",
                         "op": "pool", "kind": _POOL_OPS[node.op_type], "channels": channels, "size": size})
    chain.shape = (channels, size // 2, size // 2)


def load_layers(path) -> tuple[list[Layer], tuple]:
    """The float layers of the ONNX file at ``path`` and the shape of one input (without the batch axis)."""
    from onnx import numpy_helper

    graph = _read(Path(path))
    initializers = {item.name: numpy_helper.to_array(item).astype(np.float64) for item in graph.initializer}
    data_inputs = [item for item in graph.input if item.name not in initializers]
    if len(data_inputs) != 1 or len(graph.output) != 1:
        raise ValueError(f"model={path}: {len(data_inputs)} data inputs and {len(graph.output)} outputs; "
                         "expected one of each")
    chain = _Chain(data_inputs[0].name, _input_dims(data_inputs[0]))
    input_shape = chain.shape
    for number, node in enumerate(graph.node):
        name = node.name or f"#{number}"
        label = f"{node.op_type} node {name!r}"
        if node.op_type not in SUPPORTED_OPS:
            raise ValueError(f"unsupported op {node.op_type} at node {name!r}; supported: {', '.join(SUPPORTED_OPS)}")
        if chain.tensor not in node.input or len(node.output) != 1:
            raise ValueError(f"{label} is not on the chain from the input (branches are not supported)")
        if node.op_type == "Gemm":
            _gemm(chain, node, name, label, initializers)
        elif node.op_type == "MatMul":
            weight = _constant(initializers, node.input[1], label).T
            chain.linear(name, label, weight, np.zeros(weight.shape[0]))
        elif node.op_type == "Add":
            _add(chain, node, label, initializers)
        elif node.op_type == "Conv":
            _conv(chain, node, name, label, initializers)
        elif node.op_type in _POOL_OPS:
            _pool(chain, node, name, label)
        elif node.op_type in _ACTIVATION_OPS:
            chain.last_open(label)["activation"] = _ACTIVATION_OPS[node.op_type]
        else:
            _reshape(chain, node, label, initializers)
        chain.tensor = node.output[0]
    if chain.tensor != graph.output[0].name:
        raise ValueError(f"model={path}: the chain ends at {chain.tensor!r}, not at the output {graph.output[0].name!r}")
    if not any(layer.get("op") != "pool" for layer in chain.layers):
        raise ValueError(f"model={path}: no Gemm, MatMul or Conv layer")
    return [Layer(**layer) for layer in chain.layers], input_shape
