"""``bnn-mlp``: fixed-point Bayesian MLP inference that samples its weights, bit-exact with ``hw/bnn.py``.

A network of any depth, ``sizes = [N_0, N_1, …, N_L]``: layer ``ℓ`` maps
``N_{ℓ-1}`` inputs to ``N_ℓ`` outputs, ReLU after every layer but the last.
Every weight is drawn per forward pass as ``w = μ + σ·ε``, ε = z_raw / √eps_bits with
z_raw = 2S − eps_bits, S ~ Binomial(eps_bits, ½) (32 fresh bits by default), from one
of two ``lanes``-lane sources (``epsilons``, ``models/grng.py``): ``rlf``, VIBNN's
``rlf-grng`` (one RAM-held LFSR), or ``lfsr``, two LFSRs in registers per lane whose
new bits are XORed (no block RAM). The hardware stores ``σ' = σ/√eps_bits`` in ``sigma_format(width)`` (Q(width,
width − 1), so small σ keep their precision) and forms ``w = sat(μ +
round_shift(σ'·z_raw, width − 1 − wfrac))`` — one multiply, no division — with μ
and w in Q(width, wfrac) (``weight_frac``, default ``frac``) and activations,
biases and scores in Q(width, frac). Each layer is ``requantize(Σ w·a + (b <<
wfrac), wfrac)`` (round half up, saturate). Over
``passes`` (a power of two) passes the engine keeps ``Σy`` and ``Σy²`` per
class exactly and outputs ``mean = round_shift(Σy, log2 S)`` and ``var =
round_shift(S·Σy² − (Σy)², 2·log2 S + frac)``, both in Q(width, frac).

The engine computes ``lanes`` neurons of a layer at once (a *group*), one input
per step; a GRNG step gives each lane its ε. ε order: image by image, pass by
pass, layer by layer, group by group, input by input; lane ``p`` of group ``g``
is neuron ``g·lanes + p`` (lanes past the layer's last neuron draw ε unused).
With one lane that is every layer's weights row-major.
"""

import math

import numpy as np

from .fixed import FixedFormat, ceil_div, quantize, requantize, round_shift, saturate
from .grng import paired_lfsr_grng, rlf_grng
from .memory import BANKED_READ_LATENCY

__all__ = ["EPS_SOURCES", "epsilons", "posterior_words", "scores_from_words", "layer_sizes", "GRNG_N", "GRNG_BITS",
           "sigma_frac", "sigma_format", "quantize_posterior", "sample_weights", "bnn_mlp_raw", "fixed_point_accuracy",
           "steps_per_pass",
           "weight_segments", "segment_rows", "image_buffer_words", "cycles_per_image", "image_interval",
           "cycles_for_images", "MAC_LATENCY", "READ_STAGES", "RESULT_STAGES", "LAYER_SETTLE"]

GRNG_N, GRNG_BITS = 63, 32  #: the rlf-grng that draws ε: LFSR length, default bits per sample
EPS_SOURCES = ("rlf", "lfsr")  #: where ε comes from (``epsilons``)
#: Hardware cycles from a MAC issue to its weight row: a banked block-RAM read (``hw.common.banked``).
READ_STAGES = BANKED_READ_LATENCY
#: Hardware cycles from a MAC issue to its sum: the read, the lane's μ/σ' register (1), σ'·ε (2), the sampled
#: weight (1), w·a (2).
MAC_LATENCY = READ_STAGES + 6
RESULT_STAGES = 3  #: hardware registers between a lane's sum and its result's write (bias read, add, requantize)
LAYER_SETTLE = RESULT_STAGES + 1  #: idle cycles after a layer: its last result lands before the next read (and
#: the output layer's last score in the moment sums, three cycles after its write, before they are read)


def sigma_frac(width: int) -> int:
    """Fractional bits of σ' (``width - 1``: σ' in [0, 1) uses every bit of the word)."""
    return width - 1


def sigma_format(width: int) -> FixedFormat:
    return FixedFormat(width, sigma_frac(width))


def quantize_posterior(posterior: dict, fmt: FixedFormat, eps_bits: int = GRNG_BITS,
                       weight_frac: int | None = None) -> dict:
    """A float posterior (``mu1, sigma1, b1, …``, σ in real units) as the raw words the engine stores: μ in
    Q(width, ``weight_frac``) (default ``fmt.frac``), σ' = σ/√``eps_bits`` in :func:`sigma_format`, biases in
    ``fmt``."""
    weight_fmt = FixedFormat(fmt.width, fmt.frac if weight_frac is None else weight_frac)
    root = math.sqrt(eps_bits)
    return {name: quantize(value / root, sigma_format(fmt.width)) if name.startswith("sigma")
            else quantize(value, weight_fmt if name.startswith("mu") else fmt)
            for name, value in posterior.items()}


def sample_weights(mu_raw, sigma_raw, eps_raw, fmt: FixedFormat) -> np.ndarray:
    spread = round_shift(np.asarray(sigma_raw, dtype=np.int64) * eps_raw, sigma_frac(fmt.width) - fmt.frac)
    return saturate(np.asarray(mu_raw, dtype=np.int64) + spread, fmt.width)


def _layer(w_raw, a_raw, b_raw, width: int, weight_frac: int, relu):
    y = requantize(w_raw @ a_raw + (np.asarray(b_raw, dtype=np.int64) << weight_frac), weight_frac, width)
    return np.maximum(y, 0) if relu else y


def layer_sizes(weights: dict) -> list[int]:
    """``[N_0, …, N_L]`` of posterior arrays ``mu1 … muL``."""
    depth = sum(1 for name in weights if name.startswith("mu"))
    return [weights["mu1"].shape[1]] + [weights[f"mu{layer}"].shape[0] for layer in range(1, depth + 1)]


def steps_per_pass(sizes: list[int], lanes: int) -> int:
    """GRNG steps (MAC issue cycles) of one pass: every layer's groups times its inputs."""
    return sum(ceil_div(n_out, lanes) * n_in for n_in, n_out in zip(sizes, sizes[1:]))


def weight_segments(sizes: list[int], lanes: int) -> list[tuple[list[int], int]]:
    """The engine's weight memories: runs of consecutive layers that use the same number of lanes,
    ``min(lanes, N_ℓ)``, as ``(layers, used)`` with 0-based layer indices.

    A memory row holds one MAC step of its layer — ``used`` μ words, then ``used`` σ' words — so a
    layer narrower than the engine (the output layer) stores only the lanes that compute it.
    """
    segments = []
    for layer, n_out in enumerate(sizes[1:]):
        used = min(lanes, n_out)
        if segments and segments[-1][1] == used:
            segments[-1][0].append(layer)
        else:
            segments.append(([layer], used))
    return segments


def segment_rows(sizes: list[int], lanes: int, layers: list[int]) -> int:
    """Rows of the weight memory that holds ``layers``: each layer's groups times its inputs."""
    return sum(ceil_div(sizes[layer + 1], lanes) * sizes[layer] for layer in layers)


def _layer_epsilons(eps, sizes, lanes):
    """Split one pass's ``steps × lanes`` ε into each layer's ``N_ℓ × N_{ℓ-1}`` matrix."""
    out, start = [], 0
    for n_in, n_out in zip(sizes, sizes[1:]):
        groups = ceil_div(n_out, lanes)
        block = eps[start:start + groups * n_in].reshape(groups, n_in, lanes)
        out.append(block.transpose(0, 2, 1).reshape(groups * lanes, n_in)[:n_out])
        start += groups * n_in
    return out


def epsilons(source: str, lanes: int, eps_bits: int, seed: int, steps: int) -> np.ndarray:
    """``steps × lanes`` raw ε, ``2S - eps_bits`` with S ~ Binomial(eps_bits, ½), one row per GRNG step:
    ``rlf`` from the rlf-grng (``GRNG_N``-deep RAM), ``lfsr`` from two register LFSRs per lane
    (``paired_lfsr_grng``)."""
    if source == "rlf":
        return rlf_grng(GRNG_N, lanes, eps_bits, seed, steps)
    if source == "lfsr":
        return paired_lfsr_grng(lanes, eps_bits, seed, steps)
    raise ValueError(f"eps source {source!r} out of range {EPS_SOURCES}")


def bnn_mlp_raw(weights: dict, x_raw: np.ndarray, fmt: FixedFormat, passes: int, seed: int,
                lanes: int = 1, eps_bits: int = GRNG_BITS, weight_frac: int | None = None,
                eps_source: str = "rlf") -> tuple:
    """``(mean_raw, var_raw)``, each images × N_L, for raw ``weights`` (``mu1, sigma1, b1, …``); ``fmt`` is
    the activations', μ is in Q(width, ``weight_frac``) (default ``fmt.frac``); ε from ``eps_source``."""
    weight_fmt = FixedFormat(fmt.width, fmt.frac if weight_frac is None else weight_frac)
    sizes = layer_sizes(weights)
    depth, steps = len(sizes) - 1, steps_per_pass(sizes, lanes)
    eps = epsilons(eps_source, lanes, eps_bits, seed, len(x_raw) * passes * steps)
    eps = eps.reshape(len(x_raw), passes, steps, lanes)
    shift = int(math.log2(passes))
    means, variances = [], []
    for image, x in enumerate(np.asarray(x_raw, dtype=np.int64)):
        total = np.zeros(sizes[-1], dtype=object)
        squares = np.zeros(sizes[-1], dtype=object)
        for p in range(passes):
            a = x
            for layer, e in enumerate(_layer_epsilons(eps[image, p], sizes, lanes), start=1):
                w = sample_weights(weights[f"mu{layer}"], weights[f"sigma{layer}"], e, weight_fmt)
                a = _layer(w, a, weights[f"b{layer}"], fmt.width, weight_fmt.frac, relu=layer < depth)
            total = total + a.astype(object)
            squares = squares + (a.astype(object) ** 2)
        spread = passes * squares - total * total
        means.append(saturate(round_shift(total.astype(np.int64), shift), fmt.width))
        variances.append(saturate(round_shift(spread.astype(np.int64), 2 * shift + fmt.frac), fmt.width))
    return np.array(means), np.array(variances)


def fixed_point_accuracy(posterior: dict, x: np.ndarray, labels: np.ndarray, fmt: FixedFormat, passes: int,
                         seed: int, lanes: int, eps_bits: int = GRNG_BITS, weight_frac: int | None = None,
                         eps_source: str = "rlf") -> float:
    """The share of images ``x`` (real values) whose predictive mean's largest score is the label, with the
    float ``posterior`` quantized as the engine stores it and run through :func:`bnn_mlp_raw`."""
    raw = quantize_posterior(posterior, fmt, eps_bits, weight_frac)
    mean, _ = bnn_mlp_raw(raw, quantize(x, fmt), fmt, passes, seed, lanes, eps_bits, weight_frac, eps_source)
    return float((mean.argmax(axis=1) == labels).mean())


def image_buffer_words(n_in: int) -> int:
    """Words of the engine's image buffer: two banks of ``n_in`` words, each a power of two deep (the bank is
    the address bit above the word)."""
    return 2 << (n_in - 1).bit_length()


def image_interval(sizes: list[int], passes: int, lanes: int = 1) -> int:
    """RTL cycles per image in the steady state, no stalls: the next image loads while this one computes.

    A cycle to start; per pass and per group of ``lanes`` neurons: ``N_{ℓ-1}`` MAC
    issues, ``MAC_LATENCY`` drain cycles and a cycle that hands the sums to the result chain, which
    sends them to the result stages in ``lanes`` cycles while the next group computes (a group waits
    for the chain when it is faster); after a layer's last group, the chain's ``lanes`` cycles and
    ``LAYER_SETTLE``; ``2·N_L`` outputs and two cycles to hand the image buffer back (the engine reads
    its full flag through a register).
    """
    def layer_cycles(n_in, n_out):
        group = n_in + MAC_LATENCY + 1
        return (ceil_div(n_out, lanes) - 1) * max(group, lanes) + group + lanes + LAYER_SETTLE

    per_pass = sum(layer_cycles(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:]))
    return 1 + passes * per_pass + 2 * sizes[-1] + 2


def cycles_per_image(sizes: list[int], passes: int, lanes: int = 1) -> int:
    """RTL cycles from an image's first input word to its last output word, no stalls: ``N_0`` load
    cycles, then the image (:func:`image_interval` less a cycle: the hand-back's two cycles become the
    full flag's and its register's)."""
    return sizes[0] + image_interval(sizes, passes, lanes) - 1


def cycles_for_images(sizes: list[int], passes: int, lanes: int, images: int) -> int:
    """RTL cycles from the first image's first word to the last image's last output, no stalls."""
    return cycles_per_image(sizes, passes, lanes) + (images - 1) * image_interval(sizes, passes, lanes)


def _weight_rows(mu, sigma, lanes: int) -> np.ndarray:
    """One layer's weight-memory rows in MAC order (group, input): lane ``p`` of group ``g`` holds neuron
    ``g·lanes + p`` (zero past the last neuron); each row is the used lanes' μ, then their σ'."""
    n_out, n_in = mu.shape
    used, groups = min(lanes, n_out), ceil_div(n_out, lanes)

    def by_lane(matrix):  # (groups · n_in) × used
        padded = np.zeros((groups * lanes, n_in), dtype=np.int64)
        padded[:n_out] = matrix
        return padded.reshape(groups, lanes, n_in)[:, :used].transpose(0, 2, 1).reshape(groups * n_in, used)

    return np.concatenate([by_lane(mu), by_lane(sigma)], axis=1)


def posterior_words(raw: dict, lanes: int) -> np.ndarray:
    """The raw posterior arrays (``<name>_raw``) as ``params_in``'s words for a ``lanes``-lane engine:
    every layer's weight-memory rows (:func:`_weight_rows`, layer by layer, so segment by segment of
    :func:`weight_segments`), then every layer's biases in neuron order."""
    depth = sum(1 for name in raw if name.startswith("mu") and name.endswith("_raw"))
    rows = [_weight_rows(np.asarray(raw[f"mu{layer}_raw"]), np.asarray(raw[f"sigma{layer}_raw"]), lanes).reshape(-1)
            for layer in range(1, depth + 1)]
    biases = [np.asarray(raw[f"b{layer}_raw"], dtype=np.int64).reshape(-1) for layer in range(1, depth + 1)]
    return np.concatenate(rows + biases)


def scores_from_words(words: np.ndarray, images: int, n_out: int) -> dict:
    """``scores_out``'s words (per image ``n_out`` means, then ``n_out`` variances) as ``mean_raw``, ``var_raw``."""
    scores = np.asarray(words).reshape(images, 2, n_out)
    return {"mean_raw": scores[:, 0], "var_raw": scores[:, 1]}
