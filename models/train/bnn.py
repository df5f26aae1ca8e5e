"""Bayes by Backprop (Blundell et al. 2015) for a small MLP on scikit-learn's bundled digits.

Mean-field Gaussian posterior over every weight, ``w = μ + σ·ε`` with
``σ = softplus(ρ)``; biases are point estimates. Loss per minibatch: mean
cross-entropy of one reparameterised sample + KL(q ‖ N(0, prior²)) / N_train.
Plain NumPy, seeded, Adam; ``MLP`` from ``admm.py`` supplies the
forward/backward pass of one sampled network.
"""

import numpy as np

from .admm import MLP, Digits

__all__ = ["train_bnn", "predict_float", "perturb"]


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def train_bnn(data: Digits, hidden: int = 16, epochs: int = 80, seed: int = 0, lr: float = 3e-3,
              prior: float = 0.5) -> dict:
    """Posterior parameters ``mu1, sigma1, b1, mu2, sigma2, b2`` (float arrays)."""
    rng = np.random.default_rng(seed)
    net = MLP((data.x_train.shape[1], hidden, 10), rng)
    rho = {name: np.full_like(net.params[name], -4.0) for name in ("w1", "w2")}
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
            net.params.update({"b1": means["b1"], "b2": means["b2"]})
            grads = net.gradients(data.x_train[batch], data.y_train[batch])
            updates = {"b1": grads["b1"], "b2": grads["b2"]}
            for name in rho:
                updates[name] = grads[name] + means[name] / prior**2 / n_train
                d_sigma = grads[name] * noise[name] + (sigma[name] / prior**2 - 1 / sigma[name]) / n_train
                updates[f"rho_{name}"] = d_sigma * _sigmoid(rho[name])
            step += 1
            for name, grad in updates.items():
                target = rho[name[4:]] if name.startswith("rho_") else means[name]
                m, v = moments[name]
                m[:] = 0.9 * m + 0.1 * grad
                v[:] = 0.999 * v + 0.001 * grad**2
                target -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return {"mu1": means["w1"], "sigma1": _softplus(rho["w1"]), "b1": means["b1"],
            "mu2": means["w2"], "sigma2": _softplus(rho["w2"]), "b2": means["b2"]}


def predict_float(params: dict, x: np.ndarray, passes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Predictive mean and variance of the class scores over ``passes`` sampled networks (float)."""
    scores = []
    for _ in range(passes):
        w1 = params["mu1"] + params["sigma1"] * rng.standard_normal(params["mu1"].shape)
        w2 = params["mu2"] + params["sigma2"] * rng.standard_normal(params["mu2"].shape)
        h = np.maximum(x @ w1.T + params["b1"], 0)
        scores.append(h @ w2.T + params["b2"])
    scores = np.array(scores)
    return scores.mean(axis=0), scores.var(axis=0)


def perturb(x: np.ndarray, rng: np.random.Generator, strength: float = 0.5) -> np.ndarray:
    """Digits with uniform noise added and clipped back to [0, 1]: out-of-distribution inputs."""
    return np.clip(x + rng.uniform(-strength, strength, x.shape), 0, 1)
