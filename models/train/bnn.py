"""Bayes by Backprop (Blundell et al. 2015) for an MLP of any depth on scikit-learn's bundled digits.

Mean-field Gaussian posterior over every weight, ``w = μ + σ·ε`` with
``σ = softplus(ρ)``; biases are point estimates. Loss per minibatch: mean
cross-entropy of one reparameterised sample + KL(q ‖ N(0, prior²)) / N_train.
Plain NumPy, seeded, Adam; ``MLP`` from ``admm.py`` supplies the
forward/backward pass of one sampled network. :func:`upscaled` turns the 8×8
digits into 28×28 images (784 inputs, MNIST's shape) for VIBNN's 784-200-200-10.
"""

import numpy as np

from .admm import MLP, Digits, adam_step

__all__ = ["train_bnn", "predict_float", "perturb", "upscaled"]


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def upscaled(data: Digits, side: int = 28) -> Digits:
    """The digits zoomed from 8×8 to ``side``×``side`` (``scipy.ndimage.zoom``, linear), clipped to [0, 1]."""
    from scipy.ndimage import zoom

    def grow(x):
        images = x.reshape(-1, 8, 8)
        return np.clip(zoom(images, (1, side / 8, side / 8), order=1), 0, 1).reshape(len(x), side * side)
    return Digits(grow(data.x_train), data.y_train, grow(data.x_test), data.y_test)


def train_bnn(data: Digits, hidden: int | tuple = 16, epochs: int = 80, seed: int = 0, lr: float = 3e-3,
              prior: float = 0.5) -> dict:
    """Posterior parameters ``mu1, sigma1, b1, …, muL, sigmaL, bL`` (float arrays) of an MLP with hidden
    layers ``hidden`` (one size or a tuple) and 10 outputs."""
    rng = np.random.default_rng(seed)
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    net = MLP((data.x_train.shape[1], *hidden, 10), rng)
    weights = [name for name in net.params if name.startswith("w")]
    rho = {name: np.full_like(net.params[name], -4.0) for name in weights}
    means = {name: net.params[name].copy() for name in net.params}
    moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in [*means.items(),
                                                                         *((f"rho_{k}", r) for k, r in rho.items())]}
    step, n_train = 0, len(data.y_train)
    for _ in range(epochs):
        order = rng.permutation(n_train)
        for start in range(0, n_train, 64):
            batch = order[start:start + 64]
            noise = {name: rng.standard_normal(means[name].shape) for name in rho}
            sigma = {name: _softplus(rho[name]) for name in rho}
            net.params.update({name: means[name] + sigma[name] * noise[name] for name in rho})
            net.params.update({name: means[name] for name in means if name.startswith("b")})
            grads = net.gradients(data.x_train[batch], data.y_train[batch])
            updates = {name: grads[name] for name in means if name.startswith("b")}
            for name in rho:
                updates[name] = grads[name] + means[name] / prior**2 / n_train
                d_sigma = grads[name] * noise[name] + (sigma[name] / prior**2 - 1 / sigma[name]) / n_train
                updates[f"rho_{name}"] = d_sigma * _sigmoid(rho[name])
            step += 1
            for name, grad in updates.items():
                target = rho[name[4:]] if name.startswith("rho_") else means[name]
                adam_step(target, grad, *moments[name], step, lr)
    posterior = {}
    for layer in range(1, len(weights) + 1):
        posterior.update({f"mu{layer}": means[f"w{layer}"], f"sigma{layer}": _softplus(rho[f"w{layer}"]),
                          f"b{layer}": means[f"b{layer}"]})
    return posterior


def predict_float(params: dict, x: np.ndarray, passes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Predictive mean and variance of the class scores over ``passes`` sampled networks (float)."""
    depth = sum(1 for name in params if name.startswith("mu"))
    scores = []
    for _ in range(passes):
        a = x
        for layer in range(1, depth + 1):
            w = params[f"mu{layer}"] + params[f"sigma{layer}"] * rng.standard_normal(params[f"mu{layer}"].shape)
            a = a @ w.T + params[f"b{layer}"]
            a = np.maximum(a, 0) if layer < depth else a
        scores.append(a)
    scores = np.array(scores)
    return scores.mean(axis=0), scores.var(axis=0)


def perturb(x: np.ndarray, rng: np.random.Generator, strength: float = 0.5) -> np.ndarray:
    """Digits with uniform noise added and clipped back to [0, 1]: out-of-distribution inputs."""
    return np.clip(x + rng.uniform(-strength, strength, x.shape), 0, 1)
