"""A one-layer classifier for the SC layer on scikit-learn's bundled digits (weights from a float model).

Pixels in [0, 1] become bipolar inputs ``2p - 1``; a multinomial logistic
regression is trained in float and its weights and biases scaled by one
positive constant (the argmax does not change) so that 90 % of the test
logits lie in [-1, 1] — the range the sorter's hard-tanh output can carry —
then quantized to ``bits``-bit values in [-1, 1).

The majority chain is not a sum: it is a carry chain, and each cycle the
last pair of agreeing bits decides the output, so later inputs outweigh all
earlier ones. :func:`train_through_chain` trains through its exact expected
value on independent streams (a differentiable recursion,
:func:`chain_expectation`, :func:`chain_gradient`), chooses each neuron's input
order (wiring, free in hardware) so that its most important inputs come last,
and reads each class from several chains.
"""

import numpy as np

from models.sc import natural_order, neuron_inputs, sc_cnn, sc_layer, sc_net

from .cnn import conv_backward, conv_forward

from .admm import adam_step, load_split

__all__ = ["train_sc_classifier", "quantize", "sc_accuracy", "chain_expectation", "chain_gradient",
           "train_through_chain", "importance_order", "train_sc_net", "sc_net_accuracy", "train_sc_cnn",
           "sc_cnn_accuracy"]


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
    """Test accuracy of the argmax of the layer's output stream values (``models.sc.sc_layer``), each
    class's score the ones of its ``model["chains"]`` neurons (rows ``c·chains … c·chains + chains − 1``),
    the adder inputs in ``model["order"]`` when it has one."""
    streams = sc_layer(quantize(model["w"], bits), quantize(model["b"], bits), quantize(model["x_test"], bits),
                       bits=bits, length=length, seed=seed, adder=adder, order=model.get("order"))
    ones = streams.sum(axis=1)
    scores = ones.reshape(len(ones), -1, model.get("chains", 1)).sum(axis=2)
    return float(np.mean(np.argmax(scores, axis=1) == model["y_test"]))


def _chain_inputs(x, w, b, order):
    """``P(bit = 1)`` of each neuron's adder inputs (batch × n_out × neuron_inputs) in chain ``order``: the
    XNOR products ``(1 + x·w)/2``, the bias, and the zero-valued padding stream (½) when the count is even."""
    products = (1 + x[:, None, :] * w[None]) / 2
    bias = np.broadcast_to(((1 + b) / 2)[None, :, None], (len(x), len(w), 1))
    padding = [np.full((len(x), len(w), 1), 0.5)] if (x.shape[1] + 1) % 2 == 0 else []
    return np.take_along_axis(np.concatenate([products, bias, *padding], axis=-1), order[None], axis=-1)


def importance_order(w: np.ndarray, x_spread: np.ndarray) -> np.ndarray:
    """Each neuron's inputs by rising importance ``|w_ji|·std(x_i)`` (bias and padding, constant, first):
    the chain's last — strongest — positions get the inputs that move the neuron most."""
    n_out, n_in = w.shape
    importance = np.zeros((n_out, neuron_inputs(n_in)))
    importance[:, :n_in] = np.abs(w) * x_spread
    return np.argsort(importance, axis=1, kind="stable")


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


def _class_scores(out: np.ndarray, chains: int) -> np.ndarray:
    """Each class's mean chain output (batch × classes) from the neurons' (batch × classes·chains)."""
    return out.reshape(len(out), -1, chains).mean(axis=2)


def train_through_chain(seed: int = 0, *, chains: int = 2, rounds: int = 3, epochs: int = 40, lr: float = 0.05,
                        temperature: float = 50.0, noise_length: int = 256) -> dict:
    """A 64 → 10·``chains`` majority-chain layer trained through the chain's exact expected value.

    Class ``c`` is read from neurons ``c·chains … c·chains + chains − 1`` (the sum of their ones).
    ``w = tanh(u)``, ``b = tanh(c)`` stay in (−1, 1); a class's logit is ``temperature · (2·P − 1)``
    for ``P`` its chains' mean output probability, with the binomial spread of a ``noise_length``-bit
    stream added as Gaussian noise (so training widens the margins the streams need); softmax
    cross-entropy, Adam on batches of 64. Training starts in the natural order; then, ``rounds``
    times, each neuron's inputs are reordered by :func:`importance_order` and training continues.
    Returns what :func:`sc_accuracy` takes (``w``, ``b``, ``order``, ``chains``, the test set), and the
    expected-value test accuracy.
    """
    split = load_split(seed)
    x_train, x_test = 2 * split.x_train - 1, 2 * split.x_test - 1
    rng = np.random.default_rng(seed)
    n_out, n_in = 10 * chains, x_train.shape[1]
    params = {"u": rng.normal(0, 0.1, (n_out, n_in)), "c": np.zeros(n_out)}
    moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in params.items()}
    order, step = natural_order(n_in, n_out), 0
    for stage in range(rounds + 1):
        if stage:
            order = importance_order(np.tanh(params["u"]), x_train.std(axis=0))
        inverse = np.argsort(order, axis=1)
        for _ in range(epochs):
            shuffled = rng.permutation(len(x_train))
            for start in range(0, len(shuffled), 64):
                batch = shuffled[start:start + 64]
                x, y = x_train[batch], split.y_train[batch]
                w, b = np.tanh(params["u"]), np.tanh(params["c"])
                p = _chain_inputs(x, w, b, order)
                out, running = chain_expectation(p)
                noisy = out + np.sqrt(out * (1 - out) / noise_length) * rng.standard_normal(out.shape)
                logits = temperature * (2 * _class_scores(noisy, chains) - 1)
                probs = np.exp(logits - logits.max(axis=1, keepdims=True))
                probs /= probs.sum(axis=1, keepdims=True)
                probs[np.arange(len(y)), y] -= 1
                grad_out = np.repeat(probs * (2 * temperature / (len(y) * chains)), chains, axis=1)
                grad_p = np.take_along_axis(chain_gradient(p, running, grad_out), inverse[None], axis=-1)
                grads = {"u": (grad_p[..., :n_in] * x[:, None, :] / 2).sum(axis=0) * (1 - w ** 2),
                         "c": (grad_p[..., n_in] / 2).sum(axis=0) * (1 - b ** 2)}
                step += 1
                for name, grad in grads.items():
                    adam_step(params[name], grad, *moments[name], step, lr)
    w, b = np.tanh(params["u"]), np.tanh(params["c"])
    expected, _ = chain_expectation(_chain_inputs(x_test, w, b, order))
    return {"w": w, "b": b, "order": order, "chains": chains, "x_test": x_test, "y_test": split.y_test,
            "expected_accuracy": float(np.mean(_class_scores(expected, chains).argmax(axis=1) == split.y_test))}


def train_sc_net(sizes=(64, 32, 10), seed: int = 0, epochs: int = 60, lr: float = 0.01,
                 temperature: float = 8.0) -> dict:
    """A float MLP of the SC net's function: every layer ``hardtanh(W·a + b)`` (the sorter's limit), the
    weights and biases kept in [−1, 1) (the SNG's range) by clipping after every Adam step.

    Softmax cross-entropy of ``temperature`` × the last layer's clipped outputs (the values its
    streams carry), batches of 32. Returns ``layers`` (float ``(w, b)`` pairs), the bipolar test set, and
    the float test accuracy of the clipped outputs' argmax.
    """
    split = load_split(seed)
    x_train, x_test = 2 * split.x_train - 1, 2 * split.x_test - 1
    rng = np.random.default_rng(seed)
    layers = [[rng.uniform(-1, 1, (n_out, n_in)) / np.sqrt(n_in), np.zeros(n_out)]
              for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    moments = [[(np.zeros_like(p), np.zeros_like(p)) for p in layer] for layer in layers]
    step, limit = 0, 1 - 2.0 ** -8
    for _ in range(epochs):
        shuffled = rng.permutation(len(x_train))
        for start in range(0, len(shuffled), 32):
            batch = shuffled[start:start + 32]
            pre, acts = _net_forward(layers, x_train[batch])
            probs = np.exp(temperature * acts[-1])
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(batch)), split.y_train[batch]] -= 1
            grad = probs * temperature / len(batch)
            step += 1
            for k in reversed(range(len(layers))):
                grad = grad * (np.abs(pre[k]) < 1)
                grads = (grad.T @ acts[k], grad.sum(axis=0))
                grad = grad @ layers[k][0]
                for param, g, (m, v) in zip(layers[k], grads, moments[k]):
                    adam_step(param, g, m, v, step, lr)
                    np.clip(param, -1, limit, out=param)
    _, acts = _net_forward(layers, x_test)
    return {"layers": [tuple(layer) for layer in layers], "x_test": x_test, "y_test": split.y_test,
            "float_accuracy": float(np.mean(acts[-1].argmax(axis=1) == split.y_test))}


def _net_forward(layers, x):
    """Pre-activations and activations (input first) of the hardtanh MLP."""
    pre, acts = [], [x]
    for w, b in layers:
        pre.append(acts[-1] @ w.T + b)
        acts.append(np.clip(pre[-1], -1, 1))
    return pre, acts


def sc_net_accuracy(model: dict, *, bits: int, length: int, adder: str = "sorter", seed: int = 1) -> float:
    """Test accuracy of the argmax of the last layer's stream ones (``models.sc.sc_net``, bit-exact)."""
    layers = [(quantize(w, bits), quantize(b, bits)) for w, b in model["layers"]]
    streams = sc_net(layers, quantize(model["x_test"], bits), bits=bits, length=length, seed=seed, adder=adder)
    return float(np.mean(np.argmax(streams[-1].sum(axis=1), axis=1) == model["y_test"]))


def train_sc_cnn(channels: int = 4, kernel: int = 3, seed: int = 0, epochs: int = 60, lr: float = 0.01,
                 temperature: float = 8.0) -> dict:
    """A float CNN of ``sc-cnn``'s function on the 8×8 digits: conv ``channels × 1 × kernel × kernel``,
    hard-tanh, 2×2 average pooling, fully connected to 10 classes, hard-tanh; weights and biases kept in
    [−1, 1) by clipping after every Adam step; loss as :func:`train_sc_net`. Returns ``conv`` and ``fc``
    (float ``(w, b)``), the bipolar test images (batch × 1 × 8 × 8) and the float test accuracy."""
    split = load_split(seed)
    x_train, x_test = (2 * x.reshape(-1, 1, 8, 8) - 1 for x in (split.x_train, split.x_test))
    rng = np.random.default_rng(seed)
    pooled = ((8 - kernel + 1) // 2) ** 2 * channels
    params = [rng.uniform(-1, 1, (channels, 1, kernel, kernel)) / kernel, np.zeros(channels),
              rng.uniform(-1, 1, (10, pooled)) / np.sqrt(pooled), np.zeros(10)]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    step, limit = 0, 1 - 2.0 ** -8
    for _ in range(epochs):
        shuffled = rng.permutation(len(x_train))
        for start in range(0, len(shuffled), 32):
            batch = shuffled[start:start + 32]
            x = x_train[batch]
            conv_pre, cols, pooled_act, out_pre, out = _cnn_forward(params, x)
            probs = np.exp(temperature * out)
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(batch)), split.y_train[batch]] -= 1
            delta = probs * temperature / len(batch) * (np.abs(out_pre) < 1)
            grad_fc = (delta.T @ pooled_act, delta.sum(axis=0))
            half = conv_pre.shape[2] // 2
            d_pooled = (delta @ params[2]).reshape(len(batch), channels, half, half)
            d_conv = np.repeat(np.repeat(d_pooled, 2, axis=2), 2, axis=3) / 4 * (np.abs(conv_pre) < 1)
            d_w, d_b, _ = conv_backward(d_conv, cols, params[0], x.shape)
            step += 1
            for param, grad, (m, v) in zip(params, (d_w, d_b, *grad_fc), moments):
                adam_step(param, grad, m, v, step, lr)
                np.clip(param, -1, limit, out=param)
    out = _cnn_forward(params, x_test)[-1]
    return {"conv": (params[0], params[1]), "fc": (params[2], params[3]), "x_test": x_test, "y_test": split.y_test,
            "float_accuracy": float(np.mean(out.argmax(axis=1) == split.y_test))}


def _cnn_forward(params, x):
    """Conv pre-activation and windows, the pooled activations (flat, ``(c, y, x)``), FC pre-activation and
    output of the hard-tanh CNN."""
    conv_pre, cols = conv_forward(x, params[0], params[1])
    act = np.clip(conv_pre, -1, 1)
    batch, channels, out, _ = act.shape
    pooled = act.reshape(batch, channels, out // 2, 2, out // 2, 2).mean(axis=(3, 5)).reshape(batch, -1)
    out_pre = pooled @ params[2].T + params[3]
    return conv_pre, cols, pooled, out_pre, np.clip(out_pre, -1, 1)


def sc_cnn_accuracy(model: dict, *, bits: int, length: int, adder: str = "sorter", seed: int = 1) -> float:
    """Test accuracy of the argmax of ``sc-cnn``'s output stream ones (``models.sc.sc_cnn``, bit-exact)."""
    conv, fc = ((quantize(w, bits), quantize(b, bits)) for w, b in (model["conv"], model["fc"]))
    streams = sc_cnn(conv, fc, quantize(model["x_test"], bits), bits=bits, length=length, seed=seed, adder=adder)
    return float(np.mean(np.argmax(streams[-1].sum(axis=1), axis=1) == model["y_test"]))
