"""A one-layer classifier for the SC layer on scikit-learn's bundled digits (weights from a float model).

Pixels in [0, 1] become bipolar inputs ``2p - 1``; a multinomial logistic
regression is trained in float and its weights and biases scaled by one
positive constant (the argmax does not change) so that 90 % of the test
logits lie in [-1, 1] — the range the sorter's hard-tanh output can carry —
then quantized to ``bits``-bit values in [-1, 1).

The majority chain is not a sum (each later pair of inputs outweighs all
earlier ones), so :func:`train_through_chain` trains through its exact
expected value on independent streams instead: a differentiable recursion
(:func:`chain_expectation`, :func:`chain_gradient`).
"""

import numpy as np

from models.sc import sc_layer

from .admm import load_split

__all__ = ["train_sc_classifier", "quantize", "sc_accuracy", "chain_expectation", "chain_gradient",
           "train_through_chain"]


def train_sc_classifier(seed: int = 0) -> dict:
    """``w`` (10 × 64), ``b`` (10) scaled for the SC range, the bipolar test set, and the float accuracy."""
    from sklearn.linear_model import LogisticRegression

    split = load_split(seed)
    x_train, x_test = 2 * split.x_train - 1, 2 * split.x_test - 1
    model = LogisticRegression(max_iter=3000).fit(x_train, split.y_train)
    logits = x_test @ model.coef_.T + model.intercept_
    scale = 1 / np.percentile(np.abs(logits), 90)
    w, b = model.coef_ * scale, model.intercept_ * scale
    if np.abs(w).max() >= 1 or np.abs(b).max() >= 1:
        raise ValueError("scaled weights leave [-1, 1): lower the percentile")
    clipped = np.argmax(np.clip(x_test @ w.T + b, -1, 1), axis=1)
    return {"w": w, "b": b, "x_test": x_test, "y_test": split.y_test,
            "float_accuracy": model.score(x_test, split.y_test),
            "clipped_accuracy": float(np.mean(clipped == split.y_test))}


def quantize(values, bits: int) -> np.ndarray:
    """Nearest ``bits``-bit raw value of ``values`` in [-1, 1) (saturating)."""
    scale = 1 << (bits - 1)
    return np.clip(np.round(np.asarray(values) * scale), -scale, scale - 1).astype(np.int64)


def sc_accuracy(model: dict, *, bits: int, length: int, adder: str, seed: int = 1) -> float:
    """Test accuracy of the argmax of the layer's output stream values (``models.sc.sc_layer``)."""
    streams = sc_layer(quantize(model["w"], bits), quantize(model["b"], bits), quantize(model["x_test"], bits),
                       bits=bits, length=length, seed=seed, adder=adder)
    return float(np.mean(np.argmax(streams.sum(axis=1), axis=1) == model["y_test"]))


def _chain_inputs(x, w, b):
    """``P(bit = 1)`` of each neuron's adder inputs (batch × n_out × neuron_inputs): the XNOR products
    ``(1 + x·w)/2`` in input order, the bias, and the zero-valued padding stream (½) when the count is even."""
    products = (1 + x[:, None, :] * w[None]) / 2
    bias = np.broadcast_to(((1 + b) / 2)[None, :, None], (len(x), len(w), 1))
    padding = [np.full((len(x), len(w), 1), 0.5)] if (x.shape[1] + 1) % 2 == 0 else []
    return np.concatenate([products, bias, *padding], axis=-1)


def chain_expectation(p: np.ndarray) -> tuple[np.ndarray, list]:
    """``P(out = 1)`` of ``models.sc.majority_chain`` on independent inputs of probabilities ``p`` (…, n odd),
    and the running value after each majority (for :func:`chain_gradient`)."""
    out, running = p[..., 0], [p[..., 0]]
    for i in range(1, p.shape[-1], 2):
        a, b = p[..., i], p[..., i + 1]
        out = out * (a + b - 2 * a * b) + a * b
        running.append(out)
    return out, running


def chain_gradient(p: np.ndarray, running: list, grad_out: np.ndarray) -> np.ndarray:
    """``∂loss/∂p`` from ``∂loss/∂out`` through :func:`chain_expectation`."""
    grad = np.zeros_like(p)
    for k, i in reversed(list(enumerate(range(1, p.shape[-1], 2)))):
        out, a, b = running[k], p[..., i], p[..., i + 1]
        grad[..., i] = grad_out * (out * (1 - 2 * b) + b)
        grad[..., i + 1] = grad_out * (out * (1 - 2 * a) + a)
        grad_out = grad_out * (a + b - 2 * a * b)
    grad[..., 0] = grad_out
    return grad


def train_through_chain(seed: int = 0, epochs: int = 150, lr: float = 0.05, temperature: float = 20.0) -> dict:
    """A 64 → 10 classifier trained through the majority chain's exact expected value.

    ``w = tanh(u)``, ``b = tanh(c)`` stay in (−1, 1); the logits are ``temperature · (2·P(out) − 1)``,
    softmax cross-entropy, Adam on batches of 64. Returns what :func:`sc_accuracy` takes, and the
    expected-value test accuracy.
    """
    split = load_split(seed)
    x_train, x_test = 2 * split.x_train - 1, 2 * split.x_test - 1
    rng = np.random.default_rng(seed)
    params = {"u": rng.normal(0, 0.1, (10, x_train.shape[1])), "c": np.zeros(10)}
    moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in params.items()}
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            x, y = x_train[batch], split.y_train[batch]
            w, b = np.tanh(params["u"]), np.tanh(params["c"])
            p = _chain_inputs(x, w, b)
            out, running = chain_expectation(p)
            logits = temperature * (2 * out - 1)
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(y)), y] -= 1
            grad_p = chain_gradient(p, running, probs * (2 * temperature / len(y)))
            grads = {"u": (grad_p[..., :x.shape[1]] * x[:, None, :] / 2).sum(axis=0) * (1 - w ** 2),
                     "c": (grad_p[..., x.shape[1]] / 2).sum(axis=0) * (1 - b ** 2)}
            step += 1
            for name, grad in grads.items():
                m, v = moments[name]
                m[:] = 0.9 * m + 0.1 * grad
                v[:] = 0.999 * v + 0.001 * grad ** 2
                params[name] -= lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    w, b = np.tanh(params["u"]), np.tanh(params["c"])
    expected, _ = chain_expectation(_chain_inputs(x_test, w, b))
    return {"w": w, "b": b, "x_test": x_test, "y_test": split.y_test,
            "expected_accuracy": float(np.mean(expected.argmax(axis=1) == split.y_test))}
