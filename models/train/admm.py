"""ADMM training of a block-circulant MLP on scikit-learn's bundled digits (CirCNN / C-LSTM recipe).

Network: 64 inputs → ``hidden`` ReLU → 10 softmax. The hidden layer's
``hidden × 64`` matrix is constrained to block-circulant blocks of size
``k`` (``k = 1`` is the dense twin); the 10-way output layer stays dense
(10 is not a multiple of the block sizes, and it holds 7 % of the weights).

Procedure (docs/circulant.md, "ADMM training"):

1. train the dense network (Adam, cross-entropy);
2. ADMM: W-step = epochs of Adam on ``loss + ρ/2·‖W − Z + U‖²``;
   Z-step = ``project_block_circulant(W + U)``; ``U += W − Z``;
3. set ``W = Z`` and fine-tune with projected gradients (every step is
   followed by the projection, so W stays block-circulant).

Everything is NumPy and seeded: the same call gives the same accuracies.
"""

from dataclasses import dataclass

import numpy as np

from ..circulant import block_circulant, project_block_circulant

__all__ = ["Digits", "load_split", "MLP", "evaluate", "train_dense", "train_block_circulant", "accuracy_table"]


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_split(seed: int = 0, test_fraction: float = 0.25) -> Digits:
    """Digits scaled to [0, 1], a seeded stratification-free split (no download: bundled with scikit-learn)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x, y = data.data[order] / 16.0, data.target[order]
    cut = int(len(y) * (1 - test_fraction))
    return Digits(x[:cut], y[:cut], x[cut:], y[cut:])


class MLP:
    """Two-layer perceptron with plain NumPy forward/backward and Adam."""

    def __init__(self, n_in: int, hidden: int, n_out: int, rng: np.random.Generator):
        self.params = {
            "w1": rng.normal(0, np.sqrt(2 / n_in), (hidden, n_in)), "b1": np.zeros(hidden),
            "w2": rng.normal(0, np.sqrt(1 / hidden), (n_out, hidden)), "b2": np.zeros(n_out),
        }
        self._moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in self.params.items()}
        self._step = 0

    def forward(self, x):
        h = np.maximum(x @ self.params["w1"].T + self.params["b1"], 0)
        return h, h @ self.params["w2"].T + self.params["b2"]

    def predict(self, x) -> np.ndarray:
        return self.forward(x)[1].argmax(axis=1)

    def gradients(self, x, y) -> dict:
        h, logits = self.forward(x)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1
        d_logits = probs / len(y)
        d_h = (d_logits @ self.params["w2"]) * (h > 0)
        return {"w2": d_logits.T @ h, "b2": d_logits.sum(0), "w1": d_h.T @ x, "b1": d_h.sum(0)}

    def adam(self, grads: dict, lr: float, beta1=0.9, beta2=0.999, eps=1e-8):
        self._step += 1
        for name, grad in grads.items():
            m, v = self._moments[name]
            m[:] = beta1 * m + (1 - beta1) * grad
            v[:] = beta2 * v + (1 - beta2) * grad**2
            m_hat, v_hat = m / (1 - beta1**self._step), v / (1 - beta2**self._step)
            self.params[name] -= lr * m_hat / (np.sqrt(v_hat) + eps)


def _epochs(model: MLP, data: Digits, epochs: int, rng, lr: float, extra_grad=None, after_step=None):
    for _ in range(epochs):
        order = rng.permutation(len(data.y_train))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            grads = model.gradients(data.x_train[batch], data.y_train[batch])
            if extra_grad is not None:
                grads["w1"] = grads["w1"] + extra_grad(model.params["w1"])
            model.adam(grads, lr)
            if after_step is not None:
                after_step(model)


def evaluate(model: MLP, data: Digits) -> float:
    """Test-set accuracy."""
    return float((model.predict(data.x_test) == data.y_test).mean())


def train_dense(data: Digits, hidden: int = 64, epochs: int = 60, seed: int = 0, lr: float = 3e-3) -> MLP:
    rng = np.random.default_rng(seed)
    model = MLP(data.x_train.shape[1], hidden, 10, rng)
    _epochs(model, data, epochs, rng, lr)
    return model


def train_block_circulant(dense: MLP, data: Digits, k: int, *, rho: float = 1e-2, rounds: int = 8,
                          epochs_per_round: int = 4, finetune_epochs: int = 30, seed: int = 0,
                          lr: float = 2e-3) -> tuple[MLP, np.ndarray]:
    """ADMM from the dense model, then projected fine-tuning; returns the model and ``w`` (p × q × k)."""
    rng = np.random.default_rng(seed + k)
    model = MLP(1, 1, 1, rng)
    model.params = {name: value.copy() for name, value in dense.params.items()}
    model._moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in model.params.items()}
    w = model.params["w1"]
    z = block_circulant(project_block_circulant(w, k))
    u = np.zeros_like(w)
    for _ in range(rounds):
        _epochs(model, data, epochs_per_round, rng, lr,
                extra_grad=lambda w1, z=z, u=u: rho * (w1 - z + u))
        z = block_circulant(project_block_circulant(model.params["w1"] + u, k))
        u = u + model.params["w1"] - z
    model.params["w1"] = z.copy()

    def project(m):
        m.params["w1"] = block_circulant(project_block_circulant(m.params["w1"], k))

    _epochs(model, data, finetune_epochs, rng, lr, after_step=project)
    return model, project_block_circulant(model.params["w1"], k)


def accuracy_table(ks=(1, 2, 4, 8, 16), hidden: int = 64, seed: int = 0) -> list[dict]:
    """Test accuracy and hidden-layer weight count per block size (``k = 1``: the dense twin)."""
    data = load_split(seed)
    dense = train_dense(data, hidden, seed=seed)
    rows = []
    for k in ks:
        model = dense if k == 1 else train_block_circulant(dense, data, k, seed=seed)[0]
        n_in = data.x_train.shape[1]
        rows.append({"k": k, "accuracy": evaluate(model, data),
                     "hidden_weights": hidden * n_in // k, "compression": k})
    return rows
