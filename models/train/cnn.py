"""A LeNet-like CNN on scikit-learn's bundled digits, dense and ADMM block-circulant (CirCNN's recipe).

Network (8×8 images, 1 channel): ``conv1`` 1→8 3×3, ReLU (6×6) → ``conv2`` 8→16 3×3, ReLU (4×4) →
2×2 max pooling (2×2) → flatten (64, ``NCHW`` order as PyTorch) → ``fc`` 64→10.

``conv2`` is the layer made block-circulant at ``k = 8`` (at each kernel
position its 16×8 matrix is circulant in 8×8 blocks: 8× fewer weights);
``conv1`` has one input channel and ``fc`` ten outputs, so both stay dense
(``engine=hybrid`` in ``net``). Convolutions are products over sliding
windows (``models/conv.py``), so forward and backward are matrix products:
``dM = δᵀ · windows``, and the input gradient spreads each window's
``δ · M`` back over its pixels. ADMM as in ``admm.py``: Adam on
``loss + ρ/2·‖W − Z + U‖²``, ``Z`` the projection, then projected fine-tuning.
NumPy, seeded: the same call gives the same weights.
"""

import numpy as np

from ..conv import dense_matrix, output_size, windows
from ..net import Layer, expand_columns, project_weights
from .admm import AdamModel, Digits, train_epochs

__all__ = ["CNN", "train_cnn", "train_circulant_cnn", "cnn_accuracy", "cnn_layers", "conv_forward", "conv_backward"]

CONV1, CONV2, CLASSES, KERNEL = 8, 16, 10, 3


def _images(data: np.ndarray) -> np.ndarray:
    return data.reshape(-1, 1, 8, 8)


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """``(y, windows)``: y (batch × c_out × out × out) and the window matrix for the backward pass."""
    batch, size = len(x), x.shape[2]
    out = output_size(size, w.shape[2])
    cols = windows(x, w.shape[2])
    y = cols @ dense_matrix(w).T + b
    return y.reshape(batch, out, out, -1).transpose(0, 3, 1, 2), cols


def conv_backward(delta: np.ndarray, cols: np.ndarray, w: np.ndarray, x_shape: tuple):
    """Gradients of ``w``, ``b`` and the input from ``delta`` (batch × c_out × out × out)."""
    batch, c_in, size, _ = x_shape
    c_out, _, r, _ = w.shape
    out = output_size(size, r)
    d = delta.transpose(0, 2, 3, 1).reshape(-1, c_out)  # one row per output pixel
    d_matrix = d.T @ cols  # c_out × (u, v, i)
    d_w = d_matrix.reshape(c_out, r, r, c_in).transpose(0, 3, 1, 2)
    d_cols = (d @ dense_matrix(w)).reshape(batch, out, out, r, r, c_in)
    d_x = np.zeros((batch, size, size, c_in))
    for u in range(r):
        for v in range(r):
            d_x[:, u:u + out, v:v + out, :] += d_cols[:, :, :, u, v, :]
    return d_w, d.sum(0), d_x.transpose(0, 3, 1, 2)


class CNN(AdamModel):
    """The LeNet-like digits CNN: parameters ``conv1``, ``conv2`` (``c_out × c_in × r × r``), ``fc``
    (10 × 64) and their biases; Adam."""

    def __init__(self, rng: np.random.Generator):
        def he(*shape):
            return rng.normal(0, np.sqrt(2 / np.prod(shape[1:])), shape)

        self.params = {"conv1": he(CONV1, 1, KERNEL, KERNEL), "conv1_b": np.zeros(CONV1),
                       "conv2": he(CONV2, CONV1, KERNEL, KERNEL), "conv2_b": np.zeros(CONV2),
                       "fc": rng.normal(0, np.sqrt(1 / 64), (CLASSES, 64)), "fc_b": np.zeros(CLASSES)}
        self.start_adam()

    def forward(self, images: np.ndarray):
        p = self.params
        a1, cols1 = conv_forward(images, p["conv1"], p["conv1_b"])
        h1 = np.maximum(a1, 0)
        a2, cols2 = conv_forward(h1, p["conv2"], p["conv2_b"])
        h2 = np.maximum(a2, 0)
        quads = h2.reshape(len(h2), CONV2, 2, 2, 2, 2)  # batch, c, a, dy, b, dx
        pooled = quads.max(axis=(3, 5))
        logits = pooled.reshape(len(h2), -1) @ p["fc"].T + p["fc_b"]
        return logits, (images, cols1, a1, h1, cols2, a2, h2, pooled)

    def predict(self, data: np.ndarray) -> np.ndarray:
        return self.forward(_images(data))[0].argmax(axis=1)

    def gradients(self, data: np.ndarray, labels: np.ndarray) -> dict:
        p = self.params
        logits, (images, cols1, a1, h1, cols2, a2, h2, pooled) = self.forward(_images(data))
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(labels)), labels] -= 1
        d_logits = probs / len(labels)
        grads = {"fc": d_logits.T @ pooled.reshape(len(pooled), -1), "fc_b": d_logits.sum(0)}
        d_pooled = (d_logits @ p["fc"]).reshape(pooled.shape)
        quads = h2.reshape(len(h2), CONV2, 2, 2, 2, 2)
        # The gradient goes to the block's maximum; ties are all-zero blocks (after the ReLU, whose own
        # gradient is zero there) or measure-zero.
        winner = quads == pooled[:, :, :, None, :, None]
        d_h2 = (winner * d_pooled[:, :, :, None, :, None]).reshape(h2.shape) * (a2 > 0)
        grads["conv2"], grads["conv2_b"], d_h1 = conv_backward(d_h2, cols2, p["conv2"], h1.shape)
        grads["conv1"], grads["conv1_b"], _ = conv_backward(d_h1 * (a1 > 0), cols1, p["conv1"], images.shape)
        return grads



def train_cnn(data: Digits, epochs: int = 40, seed: int = 0, lr: float = 3e-3) -> CNN:
    rng = np.random.default_rng(seed)
    model = CNN(rng)
    train_epochs(model, data, epochs, rng, lr)
    return model


def _projected(weight: np.ndarray, k: int) -> np.ndarray:
    return expand_columns(project_weights(weight, k, "conv"), "conv")


def train_circulant_cnn(dense: CNN, data: Digits, k: int = 8, *, rho: float = 1e-2, rounds: int = 6,
                        epochs_per_round: int = 3, finetune_epochs: int = 20, seed: int = 0,
                        lr: float = 2e-3) -> CNN:
    """ADMM from the dense CNN with ``conv2`` block-circulant at ``k``, then projected fine-tuning."""
    rng = np.random.default_rng(seed + k)
    model = CNN(np.random.default_rng(0))
    model.params = {name: value.copy() for name, value in dense.params.items()}
    z = _projected(model.params["conv2"], k)
    u = np.zeros_like(z)
    for _ in range(rounds):
        train_epochs(model, data, epochs_per_round, rng, lr,
                extra_grad=lambda params, z=z, u=u: {"conv2": rho * (params["conv2"] - z + u)})
        z = _projected(model.params["conv2"] + u, k)
        u = u + model.params["conv2"] - z
    model.params["conv2"] = z.copy()

    def project(m):
        m.params["conv2"] = _projected(m.params["conv2"], k)

    train_epochs(model, data, finetune_epochs, rng, lr, after_step=project)
    return model


def cnn_accuracy(model: CNN, data: Digits) -> float:
    return float((model.predict(data.x_test) == data.y_test).mean())


def cnn_layers(model: CNN) -> list[Layer]:
    """The CNN as ``models/net.py`` layers, fully connected weights in ONNX's ``NCHW`` order (for
    ``digits_onnx.write_onnx``)."""
    p = model.params
    return [Layer("conv1", p["conv1"], p["conv1_b"], "relu", op="conv", size=8),
            Layer("conv2", p["conv2"], p["conv2_b"], "relu", op="conv", size=6),
            Layer("pool", np.zeros((0, 0)), np.zeros(0), op="pool", kind="max", channels=CONV2, size=4),
            Layer("fc", p["fc"], p["fc_b"])]
