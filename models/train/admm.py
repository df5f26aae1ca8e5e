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

__all__ = ["Digits", "load_split", "adam_step", "AdamModel", "MLP", "train_epochs", "evaluate", "train_dense",
           "train_block_circulant", "admm_block_circulant", "accuracy_table"]


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


def adam_step(param, grad, m, v, step: int, lr: float):
    """One Adam update of the array ``param`` in place (β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸), its moments ``m``
    and ``v`` updated in place; ``step`` counts from 1. For the trainers that keep their own parameter
    lists; :class:`AdamModel` keeps its moments itself."""
    m[:] = 0.9 * m + 0.1 * grad
    v[:] = 0.999 * v + 0.001 * grad ** 2
    param -= lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)


class AdamModel:
    """A model trained by Adam: subclasses set ``params`` (name → array), call :meth:`start_adam`, and give
    ``gradients(x, y)`` (name → array) and ``predict(x)``."""

    params: dict

    def start_adam(self):
        """Fresh moments for the current parameters."""
        self._moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in self.params.items()}
        self._step = 0

    def adam(self, grads: dict, lr: float, beta1=0.9, beta2=0.999, eps=1e-8):
        self._step += 1
        for name, grad in grads.items():
            m, v = self._moments[name]
            m[:] = beta1 * m + (1 - beta1) * grad
            v[:] = beta2 * v + (1 - beta2) * grad**2
            m_hat, v_hat = m / (1 - beta1**self._step), v / (1 - beta2**self._step)
            self.params[name] -= lr * m_hat / (np.sqrt(v_hat) + eps)


class MLP(AdamModel):
    """Perceptron ``sizes[0] → … → sizes[-1]`` (ReLU hidden layers, softmax output) with plain NumPy
    forward/backward and Adam; parameters ``w1, b1, …, wL, bL`` (``w`` is ``out × in``)."""

    def __init__(self, sizes: tuple, rng: np.random.Generator):
        self.params = {}
        for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
            gain = 1 if layer == len(sizes) - 1 else 2  # He for the ReLU layers, LeCun for the output
            self.params[f"w{layer}"] = rng.normal(0, np.sqrt(gain / n_in), (n_out, n_in))
            self.params[f"b{layer}"] = np.zeros(n_out)
        self.start_adam()

    @property
    def depth(self) -> int:
        return len(self.params) // 2

    def forward(self, x) -> tuple[list, np.ndarray]:
        """The hidden layers' outputs (after ReLU) and the logits."""
        hidden = []
        for layer in range(1, self.depth):
            x = np.maximum(x @ self.params[f"w{layer}"].T + self.params[f"b{layer}"], 0)
            hidden.append(x)
        return hidden, x @ self.params[f"w{self.depth}"].T + self.params[f"b{self.depth}"]

    def predict(self, x) -> np.ndarray:
        return self.forward(x)[1].argmax(axis=1)

    def gradients(self, x, y) -> dict:
        hidden, logits = self.forward(x)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1
        delta = probs / len(y)
        inputs = [x, *hidden]
        grads = {}
        for layer in range(self.depth, 0, -1):
            grads[f"w{layer}"], grads[f"b{layer}"] = delta.T @ inputs[layer - 1], delta.sum(0)
            if layer > 1:
                delta = (delta @ self.params[f"w{layer}"]) * (inputs[layer - 1] > 0)
        return grads


def train_epochs(model: AdamModel, data: Digits, epochs: int, rng, lr: float, extra_grad=None, after_step=None):
    """Adam over shuffled batches of 64; ``extra_grad(params)`` returns terms to add to some gradients
    (ADMM's penalty), ``after_step(model)`` runs after each step (a projection)."""
    for _ in range(epochs):
        order = rng.permutation(len(data.y_train))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            grads = model.gradients(data.x_train[batch], data.y_train[batch])
            if extra_grad is not None:
                for name, term in extra_grad(model.params).items():
                    grads[name] = grads[name] + term
            model.adam(grads, lr)
            if after_step is not None:
                after_step(model)


def evaluate(model: MLP, data: Digits) -> float:
    """Test-set accuracy."""
    return float((model.predict(data.x_test) == data.y_test).mean())


def train_dense(data: Digits, hidden=64, epochs: int = 60, seed: int = 0, lr: float = 3e-3) -> MLP:
    """``hidden``: one hidden layer's size or a tuple of sizes."""
    rng = np.random.default_rng(seed)
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    model = MLP((data.x_train.shape[1], *hidden, 10), rng)
    train_epochs(model, data, epochs, rng, lr)
    return model


def train_block_circulant(dense: MLP, data: Digits, k: int, *, layers=("w1",), rho: float = 1e-2, rounds: int = 8,
                          epochs_per_round: int = 4, finetune_epochs: int = 30, seed: int = 0,
                          lr: float = 2e-3):
    """ADMM from the dense model on the matrices ``layers``, then projected fine-tuning.

    Returns the model and the first columns (``p × q × k``) of the first
    constrained matrix, or a dict name → first columns when ``layers`` has several.
    """
    rng = np.random.default_rng(seed + k)
    model = MLP((1, 1, 1), rng)  # placeholder (its two draws keep the seeded sequence); parameters copied below
    model.params = {name: value.copy() for name, value in dense.params.items()}
    model.start_adam()
    columns = admm_block_circulant(model, data, k, layers, rng, rho=rho, rounds=rounds,
                                   epochs_per_round=epochs_per_round, finetune_epochs=finetune_epochs, lr=lr)
    return model, (columns if len(layers) > 1 else columns[layers[0]])


def admm_block_circulant(model: AdamModel, data, k: int, layers, rng, *, rho: float = 1e-2, rounds: int = 8,
                         epochs_per_round: int = 4, finetune_epochs: int = 30, lr: float = 2e-3) -> dict:
    """ADMM on ``model``'s (dense) matrices ``layers``, in place: ``rounds`` of training with the penalty
    ``ρ/2 ‖W − Z + U‖²``, Z the nearest block-circulant matrix of ``W + U`` and ``U += W − Z``; then ``W = Z``
    and projected fine-tuning. Returns name → first columns (``p × q × k``)."""
    def projected(params):
        return {name: block_circulant(project_block_circulant(params[name], k)) for name in layers}

    z = projected(model.params)
    u = {name: np.zeros_like(model.params[name]) for name in layers}
    for _ in range(rounds):
        train_epochs(model, data, epochs_per_round, rng, lr,
                     extra_grad=lambda params, z=z, u=u: {name: rho * (params[name] - z[name] + u[name])
                                                          for name in layers})
        z = projected({name: model.params[name] + u[name] for name in layers})
        u = {name: u[name] + model.params[name] - z[name] for name in layers}
    model.params.update({name: z[name].copy() for name in layers})

    def project(m):
        m.params.update(projected(m.params))

    train_epochs(model, data, finetune_epochs, rng, lr, after_step=project)
    return {name: project_block_circulant(model.params[name], k) for name in layers}


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
