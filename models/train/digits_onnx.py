"""The ``net`` design's built-in examples: digits networks trained here and written as ONNX files.

- ``digits-dense``: an MLP 64-64-64-10 (``admm.train_dense``, two ReLU hidden layers);
- ``digits-circulant``: the same MLP after ADMM (``admm.train_block_circulant``) with both
  64×64 hidden matrices block-circulant at ``k = 8``; the 10-way output layer stays dense;
- ``digits-cnn``: a LeNet-like CNN on the 8×8 images (``cnn.train_cnn``);
- ``digits-cnn-circulant``: the same CNN after ADMM with ``conv2`` block-circulant at ``k = 8``
  (``cnn.train_circulant_cnn``).

The files are written with ``onnx.helper`` (no PyTorch), in the form
PyTorch exports a ``Linear`` stack: ``Gemm`` with ``transB = 1``, then ``Relu``.
Training is NumPy and seeded: the same call writes the same file.
"""

from pathlib import Path

import numpy as np

from ..net import Layer
from .admm import Digits, MLP, load_split, train_block_circulant, train_dense
from .cnn import cnn_layers, train_circulant_cnn, train_cnn

__all__ = ["BUILTIN", "HIDDEN", "K", "trained", "network_layers", "write_onnx", "write_builtin"]

HIDDEN = (64, 64)
K = 8
BUILTIN = ("digits-dense", "digits-circulant", "digits-cnn", "digits-cnn-circulant")


def trained(name: str, data: Digits, seed: int = 0) -> MLP:
    """The float model of built-in ``name``."""
    dense = train_dense(data, HIDDEN, seed=seed)
    if name == "digits-dense":
        return dense
    return train_block_circulant(dense, data, K, layers=("w1", "w2"), seed=seed)[0]


def network_layers(model: MLP) -> list[Layer]:
    """The MLP as ``models/net.py`` layers (ReLU on every layer but the last)."""
    return [Layer(name=f"fc{layer}", weight=model.params[f"w{layer}"], bias=model.params[f"b{layer}"],
                  activation="relu" if layer < model.depth else "none")
            for layer in range(1, model.depth + 1)]


def _layer_nodes(layer: Layer, tensor: str, flat: bool) -> tuple[list, list]:
    """ONNX nodes and initializers of one layer (before its activation), reading ``tensor``."""
    from onnx import helper, numpy_helper

    out = f"{layer.name}.out"
    if layer.op == "pool":
        op = {"max": "MaxPool", "avg": "AveragePool"}[layer.kind]
        return [helper.make_node(op, [tensor], [out], name=layer.name, kernel_shape=[2, 2], strides=[2, 2])], []
    weight, bias = f"{layer.name}.weight", f"{layer.name}.bias"
    initializers = [numpy_helper.from_array(layer.weight.astype(np.float32), weight),
                    numpy_helper.from_array(layer.bias.astype(np.float32), bias)]
    if layer.op == "conv":
        kernel = layer.weight.shape[2]
        return [helper.make_node("Conv", [tensor, weight, bias], [out], name=layer.name,
                                 kernel_shape=[kernel, kernel])], initializers
    nodes = []
    if not flat:
        nodes.append(helper.make_node("Flatten", [tensor], [f"{layer.name}.flat"], name=f"{layer.name}_flatten"))
        tensor = f"{layer.name}.flat"
    return nodes + [helper.make_node("Gemm", [tensor, weight, bias], [out], name=layer.name, transB=1)], initializers


def write_onnx(path, layers: list[Layer], graph_name: str = "mlp", input_shape: tuple | None = None) -> Path:
    """``layers`` as an ONNX file, PyTorch's export form: input ``x`` (batch × ``input_shape``, default
    ``(n_in,)``), per layer ``Conv``, ``MaxPool``/``AveragePool`` or ``Flatten`` + ``Gemm(transB=1)``, then its
    activation; output ``y``. Fully connected weights are in ONNX's (``NCHW``) column order."""
    import onnx
    from onnx import TensorProto, helper

    input_shape = tuple(input_shape or (layers[0].n_in,))
    nodes, initializers, tensor, flat = [], [], "x", len(input_shape) == 1
    for layer in layers:
        layer_nodes, layer_initializers = _layer_nodes(layer, tensor, flat)
        nodes += layer_nodes
        initializers += layer_initializers
        flat = layer.op == "fc"
        tensor = f"{layer.name}.out"
        if layer.activation != "none":
            op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[layer.activation]
            nodes.append(helper.make_node(op, [tensor], [f"{layer.name}.act"], name=f"{layer.name}_{layer.activation}"))
            tensor = f"{layer.name}.act"
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", *layers[-1].out_shape])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="accelgen")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def write_builtin(name: str, path, seed: int = 0) -> Path:
    """Train built-in ``name`` (one of :data:`BUILTIN`) on the digits split and write it to ``path``."""
    if name not in BUILTIN:
        raise ValueError(f"model={name} is not a built-in; built-ins: {', '.join(BUILTIN)}")
    data = load_split(seed)
    if name.startswith("digits-cnn"):
        model = train_cnn(data, seed=seed)
        if name == "digits-cnn-circulant":
            model = train_circulant_cnn(model, data, K, seed=seed)
        return write_onnx(path, cnn_layers(model), name.replace("-", "_"), input_shape=(1, 8, 8))
    return write_onnx(path, network_layers(trained(name, data, seed)), name.replace("-", "_"))
