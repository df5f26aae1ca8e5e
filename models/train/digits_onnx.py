"""The ``net`` design's built-in examples: digits MLPs 64-64-64-10 trained here and written as ONNX files.

- ``digits-dense``: the dense network (``admm.train_dense``, two ReLU hidden layers);
- ``digits-circulant``: the same network after ADMM (``admm.train_block_circulant``) with both
  64×64 hidden matrices block-circulant at ``k = 8``; the 10-way output layer stays dense.

The files are written with ``onnx.helper`` (no PyTorch), in the form
PyTorch exports a ``Linear`` stack: ``Gemm`` with ``transB = 1``, then ``Relu``.
Training is NumPy and seeded: the same call writes the same file.
"""

from pathlib import Path

import numpy as np

from ..net import Layer
from .admm import Digits, MLP, load_split, train_block_circulant, train_dense

__all__ = ["BUILTIN", "HIDDEN", "K", "trained", "network_layers", "write_onnx", "write_builtin"]

HIDDEN = (64, 64)
K = 8
BUILTIN = ("digits-dense", "digits-circulant")


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


def write_onnx(path, layers: list[Layer], graph_name: str = "mlp") -> Path:
    """``layers`` as an ONNX file: input ``x`` (batch × n_in), ``Gemm(transB=1)`` (+ activation) per layer,
    output ``y``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers, tensor = [], [], "x"
    for layer in layers:
        weight, bias = f"{layer.name}.weight", f"{layer.name}.bias"
        initializers += [numpy_helper.from_array(layer.weight.astype(np.float32), weight),
                         numpy_helper.from_array(layer.bias.astype(np.float32), bias)]
        nodes.append(helper.make_node("Gemm", [tensor, weight, bias], [f"{layer.name}.out"], name=layer.name,
                                      transB=1))
        tensor = f"{layer.name}.out"
        if layer.activation != "none":
            op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[layer.activation]
            nodes.append(helper.make_node(op, [tensor], [f"{layer.name}.act"], name=f"{layer.name}_{layer.activation}"))
            tensor = f"{layer.name}.act"
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", layers[0].n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", layers[-1].n_out])],
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
    return write_onnx(path, network_layers(trained(name, load_split(seed), seed)), name.replace("-", "_"))
