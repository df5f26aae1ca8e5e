"""A one-layer classifier for the SC layer on scikit-learn's bundled digits (weights from a float model).

Pixels in [0, 1] become bipolar inputs ``2p - 1``; a multinomial logistic
regression is trained in float and its weights and biases scaled by one
positive constant (the argmax does not change) so that 90 % of the test
logits lie in [-1, 1] — the range the sorter's hard-tanh output can carry —
then quantized to ``bits``-bit values in [-1, 1).
"""

import numpy as np

from models.sc import sc_layer

from .admm import load_split

__all__ = ["train_sc_classifier", "quantize", "sc_accuracy"]


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
