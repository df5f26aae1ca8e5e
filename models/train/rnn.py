"""E-RNN's Phase I: block-circulant LSTM and GRU classifiers trained in NumPy on digits read as sequences.

The task: scikit-learn's 8 × 8 digits, each image read row by row — ``T = 8``
time steps of 8 pixels (zero-padded to ``n_in`` features when a block size
needs more), the class read out from the last hidden state by a dense layer.

The cell is the one ``models/rnn.py`` and ``hw/rnn.py`` compute: one gate
matrix ``W`` of ``4H × (n_in + H)`` on ``[x_t; h_{t−1}]`` (rows ``i, f, g, o``
for the LSTM; ``r, z, n_x, n_h`` for the GRU, whose ``n_x`` rows see only
``x`` and ``n_h`` rows only ``h`` — the other blocks are held at zero).
Gradients are exact backpropagation through time (checked against finite
differences in ``tests/test_train_rnn.py``), optimized by Adam.

Four ways to a block-circulant ``W`` at block size ``k`` (:func:`compare`):

- ``dense``: no constraint (the accuracy to approach);
- ``projected once``: the dense ``W`` projected to the nearest block-circulant
  matrix, no retraining;
- ``ADMM``: E-RNN's method — from the dense model, rounds of training with the
  penalty ``ρ/2 ‖W − Z + U‖²`` and the projection as the Z-step, then projected
  fine-tuning (``admm.admm_block_circulant``, shared with the digits MLP);
- ``circulant from scratch``: trained directly in the circulant
  parameterization (the gradient of a defining value sums its wrapped diagonal).
"""

from dataclasses import dataclass

import numpy as np

from ..circulant import block_circulant, project_block_circulant
from .admm import AdamModel, admm_block_circulant, evaluate, load_split, train_epochs

__all__ = ["CELLS", "Sequences", "digit_sequences", "RNNClassifier", "train_rnn", "train_admm", "compare", "METHODS",
           "cell_arrays", "readout"]

CELLS = ("lstm", "gru")
METHODS = ("dense", "projected once", "ADMM", "circulant from scratch")
STEPS = 8  # rows of a digit image = time steps


@dataclass(frozen=True)
class Sequences:
    """Sequences ``x`` (N × T × n_in, values in [0, 1]) and labels, train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def digit_sequences(n_in: int = 8, seed: int = 0) -> Sequences:
    """Digits as ``T = 8`` steps of 8 pixels, features zero-padded to ``n_in`` (≥ 8)."""
    data = load_split(seed)

    def as_sequences(x):
        rows = x.reshape(len(x), STEPS, 8)
        return np.concatenate([rows, np.zeros((len(x), STEPS, n_in - 8))], axis=2)
    return Sequences(as_sequences(data.x_train), data.y_train, as_sequences(data.x_test), data.y_test)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def gru_mask(n_in: int, hidden: int) -> np.ndarray:
    """1 where a GRU's gate matrix may be nonzero: ``n_x`` rows see ``x`` only, ``n_h`` rows ``h`` only."""
    mask = np.ones((4 * hidden, n_in + hidden))
    mask[2 * hidden:3 * hidden, n_in:] = 0
    mask[3 * hidden:, :n_in] = 0
    return mask


class RNNClassifier(AdamModel):
    """``cell`` over ``[x_t; h]`` then ``logits = V h_T + c``. Parameters ``w`` (the gate matrix, dense), or
    ``w_first`` (its first columns ``p × q × k``) when ``circulant_k`` is set; ``b``, ``v``, ``c``."""

    def __init__(self, cell: str, n_in: int, hidden: int, rng, circulant_k: int | None = None):
        self.cell, self.n_in, self.hidden, self.k = cell, n_in, hidden, circulant_k
        self.mask = gru_mask(n_in, hidden) if cell == "gru" else np.ones((4 * hidden, n_in + hidden))
        w = rng.normal(0, 1 / np.sqrt(n_in + hidden), (4 * hidden, n_in + hidden)) * self.mask
        self.params = {"w": w, "b": np.zeros(4 * hidden), "v": rng.normal(0, 1 / np.sqrt(hidden), (10, hidden)),
                       "c": np.zeros(10)}
        if cell == "lstm":
            self.params["b"][hidden:2 * hidden] = 1.0  # forget-gate bias: remember by default
        if circulant_k:
            self.params["w_first"] = project_block_circulant(self.params.pop("w"), circulant_k)
        self.start_adam()

    def gate_matrix(self) -> np.ndarray:
        w = block_circulant(self.params["w_first"]) if self.k else self.params["w"]
        return w * self.mask

    def _forward(self, x):
        w, b, hidden = self.gate_matrix(), self.params["b"], self.hidden
        h = np.zeros((len(x), hidden))
        c = np.zeros_like(h)
        cache = []
        for t in range(x.shape[1]):
            z = np.concatenate([x[:, t], h], axis=1)
            a = z @ w.T + b
            parts = [a[:, n * hidden:(n + 1) * hidden] for n in range(4)]
            if self.cell == "lstm":
                i, f, g, o = _sigmoid(parts[0]), _sigmoid(parts[1]), np.tanh(parts[2]), _sigmoid(parts[3])
                c_prev, c = c, f * c + i * g
                h = o * np.tanh(c)
                cache.append((z, (i, f, g, o, c_prev, c)))
            else:
                r, u = _sigmoid(parts[0]), _sigmoid(parts[1])
                n = np.tanh(parts[2] + r * parts[3])
                h_prev, h = h, (1 - u) * n + u * h
                cache.append((z, (r, u, n, parts[3], h_prev)))
        return h, cache

    def logits(self, x) -> np.ndarray:
        return self._forward(x)[0] @ self.params["v"].T + self.params["c"]

    def predict(self, x) -> np.ndarray:
        return self.logits(x).argmax(axis=1)

    def loss(self, x, y) -> float:
        logits = self.logits(x)
        logits = logits - logits.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(len(y)), y]))

    def gradients(self, x, y) -> dict:
        """Exact gradients of the mean cross-entropy (backpropagation through time)."""
        h, cache = self._forward(x)
        probs = np.exp(h @ self.params["v"].T + self.params["c"])
        probs = probs / probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1
        d_logits = probs / len(y)
        w = self.gate_matrix()
        grads = {"v": d_logits.T @ h, "c": d_logits.sum(0), "b": np.zeros_like(self.params["b"])}
        d_w = np.zeros_like(w)
        d_h, d_c = d_logits @ self.params["v"], np.zeros_like(h)
        for z, state in reversed(cache):
            if self.cell == "lstm":
                i, f, g, o, c_prev, c = state
                tanh_c = np.tanh(c)
                d_c = d_c + d_h * o * (1 - tanh_c ** 2)
                d_a = np.concatenate([d_c * g * i * (1 - i), d_c * c_prev * f * (1 - f), d_c * i * (1 - g ** 2),
                                      d_h * tanh_c * o * (1 - o)], axis=1)
                d_c = d_c * f
            else:
                r, u, n, a_nh, h_prev = state
                d_pre = d_h * (1 - u) * (1 - n ** 2)
                d_a = np.concatenate([d_pre * a_nh * r * (1 - r), d_h * (h_prev - n) * u * (1 - u), d_pre,
                                      d_pre * r], axis=1)
            d_w += d_a.T @ z
            grads["b"] += d_a.sum(0)
            d_h = (d_a @ w)[:, self.n_in:] + (d_h * state[1] if self.cell == "gru" else 0)
        d_w *= self.mask
        if self.k:  # a defining value appears once on each of the k rows of its wrapped diagonal
            grads["w_first"] = self.k * project_block_circulant(d_w, self.k)
        else:
            grads["w"] = d_w
        return grads


def train_rnn(cell: str, data: Sequences, hidden: int, *, circulant_k: int | None = None, epochs: int = 40,
              seed: int = 0, lr: float = 1e-2) -> RNNClassifier:
    """A classifier trained from random weights (dense, or in the circulant parameterization)."""
    rng = np.random.default_rng(seed)
    model = RNNClassifier(cell, data.x_train.shape[2], hidden, rng, circulant_k)
    train_epochs(model, data, epochs, rng, lr)
    return model


def _copy(dense: RNNClassifier, project_k: int | None = None) -> RNNClassifier:
    """A fresh copy of ``dense`` (fresh Adam moments), its gate matrix projected to block size ``project_k``."""
    model = RNNClassifier(dense.cell, dense.n_in, dense.hidden, np.random.default_rng(0))
    model.params = {name: value.copy() for name, value in dense.params.items()}
    if project_k:
        model.params["w"] = block_circulant(project_block_circulant(dense.params["w"], project_k))
    model.start_adam()
    return model


def train_admm(dense: RNNClassifier, data: Sequences, k: int, *, seed: int = 0, lr: float = 1e-2) -> RNNClassifier:
    """A copy of ``dense`` trained by ADMM to a block-circulant gate matrix at block size ``k``."""
    model = _copy(dense)
    admm_block_circulant(model, data, k, ("w",), np.random.default_rng(seed + k), lr=lr)
    return model


def compare(cell: str, k: int, hidden: int = 32, seed: int = 0, epochs: int = 40, lr: float = 1e-2) -> dict:
    """Test accuracy of the four methods at block size ``k`` (inputs padded to a multiple of ``k``); ADMM
    runs its default schedule (8 rounds of 4 epochs, 30 fine-tuning epochs) at the same learning rate."""
    data = digit_sequences(n_in=max(8, k), seed=seed)
    dense = train_rnn(cell, data, hidden, epochs=epochs, seed=seed, lr=lr)
    once, admm = _copy(dense, project_k=k), train_admm(dense, data, k, seed=seed, lr=lr)
    scratch = train_rnn(cell, data, hidden, circulant_k=k, epochs=epochs, seed=seed, lr=lr)
    return {"dense": evaluate(dense, data), "projected once": evaluate(once, data), "ADMM": evaluate(admm, data),
            "circulant from scratch": evaluate(scratch, data), "models": {"dense": dense, "ADMM": admm}}


def cell_arrays(model: RNNClassifier, k: int, x: np.ndarray) -> dict:
    """``run``'s arrays of ``circulant-lstm`` / ``circulant-gru`` (``sequence = T``) for the sequences ``x``
    (N × T × n_in): the gate matrix as first columns ``p × q × k``, the biases, the steps one after another."""
    return {"w": project_block_circulant(model.gate_matrix(), k), "b": model.params["b"],
            "x": x.reshape(-1, x.shape[2])}


def readout(model: RNNClassifier, h: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """Class predictions from a cell's hidden states (N·T × H, steps in order): the last step of each
    sequence through the dense output layer, in floating point on the host."""
    last = np.asarray(h, dtype=np.float64)[steps - 1::steps]
    return (last @ model.params["v"].T + model.params["c"]).argmax(axis=1)
