"""One integer backpropagation step of an MLP, as the layer GEMMs the Intergrad array computes.

The host runs the forward pass in floating point (``admm.MLP``). The
backward pass is integer: every tensor the array reads — weights ``W``,
the layer inputs ``X`` (n_i × batch) and the output gradients ``δ``
(n_o × batch) — is ``width``-bit with one power-of-two scale per tensor
(``value = raw · 2^-frac``). For each layer, last first, the array computes
``dX = Wᵀδ`` and ``dW = δXᵀ`` exactly (``models.intergrad.gradients``);
between layers the host forms the next ``δ`` from ``dX``: the ReLU mask of
the forward pass, then a rounding right shift back to ``width`` bits
(:func:`next_delta`). Bias gradients (``δ`` summed over the batch) stay on
the host.

``dW``'s scale is ``2^-(frac_δ + frac_X)``: :func:`dequantized_dw` turns the
array's integers back into the float gradients that ``MLP.gradients``
computes, to within the 8-bit quantization.
"""

from dataclasses import dataclass

import numpy as np

from ..intergrad import gradients

__all__ = ["BackpropStep", "integer_backprop", "next_delta", "dequantized_dw", "power_of_two_frac"]


def power_of_two_frac(values: np.ndarray, width: int) -> int:
    """The largest ``frac`` with ``max|values| · 2^frac ≤ 2^(width-1) - 1`` (0 for an all-zero tensor)."""
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    if peak == 0.0:
        return 0
    return int(np.floor(np.log2(((1 << (width - 1)) - 1) / peak)))


def _quantize(values: np.ndarray, frac: int, width: int) -> np.ndarray:
    limit = (1 << (width - 1)) - 1
    return np.clip(np.round(np.asarray(values) * 2.0**frac), -limit - 1, limit).astype(np.int64)


def next_delta(dx_raw: np.ndarray, active: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """The previous layer's ``δ`` from this layer's ``dX`` (n_i × batch): zero where the ReLU was inactive,
    then shifted right (rounding half up, saturating) until it fits ``width`` bits. Returns ``(δ, shift)``."""
    masked = np.where(active, np.asarray(dx_raw, dtype=np.int64), 0)
    shift = max(0, int(np.max(np.abs(masked))).bit_length() - (width - 1))
    rounded = (masked + (1 << shift >> 1)) >> shift
    limit = (1 << (width - 1)) - 1
    return np.clip(rounded, -limit - 1, limit), shift


@dataclass
class BackpropStep:
    """The array's work for one step: ``layers[k]`` holds ``w_raw``, ``x_raw``, ``delta_raw`` of the k-th
    layer computed (the last layer first), ``names`` their names (``fc3``, ``fc2``, …), ``fracs[k]`` the
    scales ``{"w", "x", "delta"}`` and ``active[k]`` the ReLU mask of its input (``None`` for the first
    layer, whose ``dX`` is not needed)."""

    layers: list
    names: list
    fracs: list
    active: list
    width: int


def integer_backprop(model, x: np.ndarray, y: np.ndarray, width: int = 8) -> BackpropStep:
    """The integer backward pass of ``model`` (``admm.MLP``) on the batch ``x`` (batch × inputs), labels ``y``."""
    hidden, logits = model.forward(x)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    probs[np.arange(len(y)), y] -= 1
    delta = (probs / len(y)).T  # n_o × batch
    d_frac = power_of_two_frac(delta, width)
    delta_raw = _quantize(delta, d_frac, width)
    inputs = [x, *hidden]
    step = BackpropStep(layers=[], names=[], fracs=[], active=[], width=width)
    for layer in range(model.depth, 0, -1):
        w, a = model.params[f"w{layer}"], inputs[layer - 1].T  # a: n_i × batch
        w_frac, x_frac = power_of_two_frac(w, width), power_of_two_frac(a, width)
        arrays = {"w_raw": _quantize(w, w_frac, width), "x_raw": _quantize(a, x_frac, width), "delta_raw": delta_raw}
        active = a > 0 if layer > 1 else None
        step.layers.append(arrays)
        step.names.append(f"fc{layer}")
        step.fracs.append({"w": w_frac, "x": x_frac, "delta": d_frac})
        step.active.append(active)
        if layer > 1:
            dx = gradients(arrays["w_raw"], arrays["x_raw"], delta_raw)["dx"]
            delta_raw, shift = next_delta(dx, active, width)
            d_frac = w_frac + d_frac - shift
    return step


def dequantized_dw(step: BackpropStep, k: int, dw_raw: np.ndarray) -> np.ndarray:
    """Layer ``k``'s ``dW`` as floats (the array's integers times ``2^-(frac_δ + frac_X)``)."""
    fracs = step.fracs[k]
    return np.asarray(dw_raw, dtype=np.float64) * 2.0 ** -(fracs["delta"] + fracs["x"])
