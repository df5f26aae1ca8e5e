"""``bnn-mlp``: fixed-point Bayesian MLP inference that samples its weights, bit-exact with ``hw/bnn.py``.

Every weight is drawn per forward pass as ``w = μ + σ·ε`` with ε from an
``rlf-grng`` lane (``models/grng.py``; ε = z_raw / √GRNG_BITS). The hardware stores
``σ' = σ/√GRNG_BITS`` in ``sigma_format(width)`` (Q(width, width − 1), so small σ keep their precision)
and forms ``w = sat(μ + round_shift(σ'·z_raw, 15 − frac))`` — one multiply,
no division. Each layer is ``requantize(Σ w·a + (b << frac))`` (round half
up, saturate), ReLU after the hidden layer. Over ``passes`` (a power of two)
passes the engine keeps ``Σy`` and ``Σy²`` per class exactly and outputs
``mean = round_shift(Σy, log2 S)`` and ``var = round_shift(S·Σy² − (Σy)², 2·log2 S + frac)``,
both in Q(width, frac).

ε order: image by image, pass by pass, hidden-layer weights row-major,
then output-layer weights row-major.
"""

import math

import numpy as np

from .fixed import FixedFormat, requantize, round_shift, saturate
from .grng import rlf_grng

__all__ = ["POSTERIOR", "posterior_words", "scores_from_words", "GRNG_N", "GRNG_BITS", "sigma_frac", "sigma_format", "sample_weights", "bnn_mlp_raw",
           "cycles_per_image"]

GRNG_N, GRNG_BITS = 63, 32  #: the rlf-grng lane that draws ε: LFSR length, bits per sample


def sigma_frac(width: int) -> int:
    """Fractional bits of σ' (``width - 1``: σ' in [0, 1) uses every bit of the word)."""
    return width - 1


def sigma_format(width: int) -> FixedFormat:
    return FixedFormat(width, sigma_frac(width))


def sample_weights(mu_raw, sigma_raw, eps_raw, fmt: FixedFormat) -> np.ndarray:
    spread = round_shift(np.asarray(sigma_raw, dtype=np.int64) * eps_raw, sigma_frac(fmt.width) - fmt.frac)
    return saturate(np.asarray(mu_raw, dtype=np.int64) + spread, fmt.width)


def _layer(w_raw, a_raw, b_raw, fmt, relu):
    y = requantize(w_raw @ a_raw + (np.asarray(b_raw, dtype=np.int64) << fmt.frac), fmt.frac, fmt.width)
    return np.maximum(y, 0) if relu else y


def bnn_mlp_raw(weights: dict, x_raw: np.ndarray, fmt: FixedFormat, passes: int, seed: int) -> tuple:
    """``(mean_raw, var_raw)``, each images × n_out, for raw ``weights`` (mu1, sigma1, b1, mu2, sigma2, b2)."""
    hidden, n_in = weights["mu1"].shape
    n_out = weights["mu2"].shape[0]
    per_pass = hidden * n_in + n_out * hidden
    eps = rlf_grng(GRNG_N, 1, GRNG_BITS, seed, len(x_raw) * passes * per_pass)[:, 0].reshape(
        len(x_raw), passes, per_pass)
    shift = int(math.log2(passes))
    means, variances = [], []
    for image, x in enumerate(np.asarray(x_raw, dtype=np.int64)):
        total = np.zeros(n_out, dtype=object)
        squares = np.zeros(n_out, dtype=object)
        for p in range(passes):
            e1 = eps[image, p, :hidden * n_in].reshape(hidden, n_in)
            e2 = eps[image, p, hidden * n_in:].reshape(n_out, hidden)
            h = _layer(sample_weights(weights["mu1"], weights["sigma1"], e1, fmt), x, weights["b1"], fmt, True)
            y = _layer(sample_weights(weights["mu2"], weights["sigma2"], e2, fmt), h, weights["b2"], fmt, False)
            total = total + y.astype(object)
            squares = squares + (y.astype(object) ** 2)
        spread = passes * squares - total * total
        means.append(saturate(round_shift(total.astype(np.int64), shift), fmt.width))
        variances.append(saturate(round_shift(spread.astype(np.int64), 2 * shift + fmt.frac), fmt.width))
    return np.array(means), np.array(variances)


def cycles_per_image(n_in: int, hidden: int, n_out: int, passes: int) -> int:
    """RTL cycles from an image's first input word to its last output word, no stalls.

    ``n_in`` load, per pass ``(columns + 2)`` per row of each layer (issue, drain,
    finalize), ``2·n_out`` outputs.
    """
    return n_in + passes * (hidden * (n_in + 2) + n_out * (hidden + 2)) + 2 * n_out


POSTERIOR = ("mu1", "sigma1", "b1", "mu2", "sigma2", "b2")  # ``params_in``'s order (hw.bnn.BayesianMLP)


def posterior_words(raw: dict) -> np.ndarray:
    """The raw posterior arrays (``<name>_raw``) as ``params_in``'s words: :data:`POSTERIOR` order, row-major."""
    return np.concatenate([np.asarray(raw[f"{name}_raw"]).reshape(-1) for name in POSTERIOR])


def scores_from_words(words: np.ndarray, images: int, n_out: int) -> dict:
    """``scores_out``'s words (per image ``n_out`` means, then ``n_out`` variances) as ``mean_raw``, ``var_raw``."""
    scores = np.asarray(words).reshape(images, 2, n_out)
    return {"mean_raw": scores[:, 0], "var_raw": scores[:, 1]}
