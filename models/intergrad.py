"""Intergrad: backpropagation gradients on a WS / OS / interleaved systolic array (``hw/intergrad.py``).

For a layer ``y = W x`` (``W``: ``n_o × n_i``, ``x``: ``n_i × batch``) and the
output gradient ``delta`` (``n_o × batch``), backpropagation needs
``dx = Wᵀ·delta`` and ``dw = delta·xᵀ`` — exact integers here.

**Counters** (:func:`counters`), for an ``rows × cols`` array, folds
``F = ceil(n_o/rows)·ceil(n_i/cols)`` (``n_o`` on rows, ``n_i`` on columns in
every mode, so the three modes share folds):

* ``ws`` — dx as SCALE-Sim's weight-stationary GEMM with ``(M, K, N) =
  (batch, n_o, n_i)``: per fold ``2R + C + T - 2`` cycles (``R`` to load the
  weights, ``T + R + C - 2`` to stream ``T = batch`` skewed δ columns).
* ``os`` — dw as SCALE-Sim's output-stationary GEMM with ``(M, K, N) =
  (n_o, batch, n_i)``: per fold ``R + C + T - 2`` cycles. The cycle after a
  fold's stream its accumulators move to shadow registers and drain their
  ``R`` rows to the dw SRAM while the next fold computes; only the last
  fold's capture and drain add cycles, ``R + 1`` per layer (SCALE-Sim counts
  no drain: ``compute_cycles`` omits it, ``cycles`` has it).
* ``interleaved`` — one pass: load W (``R``), stream δ once while every PE
  adds ``w·δ`` to the passing partial sum (dx) and ``δ·x`` to its own
  accumulator (dw); the drain as in ``os``.

SRAM traffic per operand follows SCALE-Sim's demand-matrix counts (only
valid, in-range elements): δ is read ``ceil(n_i/cols)`` times per mode run,
``x`` ``ceil(n_o/rows)`` times, ``w`` once; dx partial sums are written once
per row fold and, beyond SCALE-Sim's convention, read back for accumulation
on every row fold after the first (``sram_reads["dx"]``).

Convolutions lower to the same GEMM by im2col (:func:`conv_as_fc`).
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MODES", "PE_KINDS", "PIPELINE", "READS", "stream_slots", "tail_cycles", "total", "ws_only", "ISO_AREA", "iso_area", "gradients", "layer_shape", "pack_layers", "unpack_layers", "map_layers", "counters", "scalesim_counts", "conv_as_fc", "Layer", "baseline", "check_fits",
           "balanced_stages"]

MODES = ("ws", "os", "interleaved")
#: Interleaved PEs: two multipliers (w·δ and δ·x in one cycle) or one shared in alternate cycles.
PE_KINDS = ("two-mac", "one-mac")
#: Register stages of ``pipeline=1``: an operand SRAM's read address and enable (two: the address through a
#: register per group of banks, then one per bank), then its word (the feed);
#: operands to product (a fabric register each side of the multiplier, whose own two are a MULT18X18D's
#: input and output registers: the routes to and from a DSP site are each a cycle of their own); bottom
#: partial sum to the dx adder, and the adder's total to the dx SRAM.
PIPELINE = {"feed": 3, "mac": 4, "dx": 2}
READS = {"ws": ("w", "delta"), "os": ("x", "delta"), "interleaved": ("w", "x", "delta")}  # operands per mode


def gradients(w, x, delta) -> dict:
    """Exact ``dx = Wᵀ δ`` (n_i × batch) and ``dw = δ xᵀ`` (n_o × n_i), int64 (Python ints if needed)."""
    w, x, delta = (np.asarray(a, dtype=np.int64) for a in (w, x, delta))
    return {"dx": w.T @ delta, "dw": delta @ x.T}


def layer_shape(raw: dict) -> tuple[int, int, int]:
    """``(n_o, n_i, batch)`` of a layer's raw arrays (``w_raw``: n_o × n_i, ``x_raw``: n_i × batch)."""
    n_o, n_i = np.shape(raw["w_raw"])
    return n_o, n_i, np.shape(raw["x_raw"])[1]


def pack_layers(layers: list[dict]) -> dict:
    """Several layers' arrays as one dict (one ``.npz``): layer ``k``'s ``w_raw`` under ``w_raw.k``."""
    return {f"{name}.{k}": array for k, layer in enumerate(layers) for name, array in layer.items()}


def unpack_layers(arrays: dict) -> list[dict] | None:
    """The layers of :func:`pack_layers`, in order; ``None`` for one layer's plain arrays."""
    if not any("." in name for name in arrays):
        return None
    layers: dict[int, dict] = {}
    for key, array in arrays.items():
        name, k = key.rsplit(".", 1)
        layers.setdefault(int(k), {})[name] = array
    return [layers[k] for k in sorted(layers)]


def map_layers(function, arrays: dict) -> dict:
    """``function`` on one layer's arrays, or on each layer of packed ones (the results packed again)."""
    layers = unpack_layers(arrays)
    return function(arrays) if layers is None else pack_layers([function(layer) for layer in layers])


def check_fits(w, x, delta, acc_width: int):
    """Raise ``ValueError`` naming the first gradient that does not fit ``signed(acc_width)``.

    The bound is checked on the exact result *and* on the partial sums the
    array forms (sums of absolute products), so no intermediate wraps.
    """
    lo, hi = -(1 << (acc_width - 1)), (1 << (acc_width - 1)) - 1
    w, x, delta = (np.asarray(a, dtype=object) for a in (w, x, delta))
    worst = {"dx": np.abs(w).T.dot(np.abs(delta)), "dw": np.abs(delta).dot(np.abs(x).T)}
    for name, bound in worst.items():
        index = np.unravel_index(int(np.argmax(bound)), bound.shape)
        if bound[index] > hi:
            raise ValueError(f"{name}{list(map(int, index))} may reach ±{bound[index]}, out of range "
                             f"[{lo}, {hi}] for acc_width={acc_width}")


def _folds(n_o, n_i, rows, cols):
    return math.ceil(n_o / rows), math.ceil(n_i / cols)


def stream_slots(mode: str, pe: str) -> int:
    """Cycles per stream element: 2 for an interleaved array of one-MAC PEs (each δ is used twice by one
    multiplier), else 1."""
    return 2 if mode == "interleaved" and pe == "one-mac" else 1


def tail_cycles(mode: str, rows: int, pipeline: int = 0) -> int:
    """Cycles after the last fold's stream: the last accumulators' capture and drain (os, interleaved:
    each other fold's drain overlaps the next fold) and, pipelined, the products and dx sums in flight
    (:data:`PIPELINE`; the folds overlap them but the last)."""
    feed, mac, dx = (PIPELINE[stage] if pipeline else 0 for stage in ("feed", "mac", "dx"))
    return feed + mac + dx if mode == "ws" else feed + mac + rows + 1


def counters(n_o: int, n_i: int, batch: int, rows: int, cols: int, mode: str, pe: str = "two-mac",
             pipeline: int = 0) -> dict:
    """Cycles (RTL, incl. OS drain), compute cycles (SCALE-Sim convention) and SRAM traffic."""
    row_folds, col_folds = _folds(n_o, n_i, rows, cols)
    folds = row_folds * col_folds
    stream = stream_slots(mode, pe) * batch + rows + cols - 2
    compute = {"ws": rows + stream, "os": stream, "interleaved": rows + stream}[mode] * folds
    drain = tail_cycles(mode, rows, pipeline)
    reads = {"w": 0, "x": 0, "delta": batch * n_o * col_folds, "dx": 0}
    writes = {"dx": 0, "dw": 0}
    if mode in ("ws", "interleaved"):
        reads["w"] = n_o * n_i
        reads["dx"] = batch * n_i * (row_folds - 1)
        writes["dx"] = batch * n_i * row_folds
    if mode in ("os", "interleaved"):
        reads["x"] = batch * n_i * row_folds
        writes["dw"] = n_o * n_i
    return {"cycles": compute + drain, "compute_cycles": compute, "sram_reads": reads, "sram_writes": writes}


def total(runs, *, parallel: bool = False) -> dict:
    """Counters of several runs: traffic adds; cycles add, or with ``parallel`` (runs on separate arrays at
    the same time) the longest run's."""
    runs = list(runs)
    combine = max if parallel else sum
    traffic = {kind: {key: sum(run[kind].get(key, 0) for run in runs) for key in {k for run in runs for k in run[kind]}}
               for kind in ("sram_reads", "sram_writes")}
    return {"cycles": combine(run["cycles"] for run in runs),
            "compute_cycles": combine(run["compute_cycles"] for run in runs), **traffic}


def baseline(n_o, n_i, batch, rows, cols) -> dict:
    """"WS then OS": the sum of the two single-mode runs' counters."""
    return total(counters(n_o, n_i, batch, rows, cols, mode) for mode in ("ws", "os"))


def ws_only(n_o: int, n_i: int, batch: int, rows: int, cols: int) -> dict:
    """Both gradients as weight-stationary GEMMs on one array: dX as in ``ws``; dW = δ·Xᵀ with X stationary
    (SCALE-Sim WS with (M, K, N) = (n_o, batch, n_i)): its partial sums over the batch's row folds are
    written and read back as dX's are."""
    m, k, n = n_o, batch, n_i
    row_folds, col_folds = _folds(k, n, rows, cols)
    cycles = row_folds * col_folds * (2 * rows + cols + m - 2)
    dw = {"cycles": cycles, "compute_cycles": cycles,
          "sram_reads": {"x": k * n, "delta": m * k * col_folds, "dw": m * n * (row_folds - 1)},
          "sram_writes": {"dw": m * n * row_folds}}
    return total([counters(n_o, n_i, batch, rows, cols, "ws"), dw])


#: The iso-area configurations of :func:`iso_area`, each with ``rows · cols`` multipliers.
ISO_AREA = ("interleaved, one-MAC PE", "WS then OS", "WS only", "WS ∥ OS, two half arrays",
            "interleaved, two-MAC PE, half array")


def iso_area(n_o: int, n_i: int, batch: int, rows: int, cols: int) -> dict:
    """One layer's counters on ``rows · cols`` multipliers arranged five ways (:data:`ISO_AREA`): the one-MAC
    interleaved array; the same array run WS then OS, or WS for both gradients; a ``rows × cols/2`` WS array
    and a ``rows × cols/2`` OS array side by side (cycles: the longer); a ``rows × cols/2`` two-MAC
    interleaved array."""
    half = cols // 2
    return dict(zip(ISO_AREA, (
        counters(n_o, n_i, batch, rows, cols, "interleaved", "one-mac"),
        baseline(n_o, n_i, batch, rows, cols),
        ws_only(n_o, n_i, batch, rows, cols),
        total((counters(n_o, n_i, batch, rows, half, mode) for mode in ("ws", "os")), parallel=True),
        counters(n_o, n_i, batch, rows, half, "interleaved"),
    )))


def scalesim_counts(mode: str, n_o: int, n_i: int, batch: int, rows: int, cols: int) -> dict:
    """The same quantities in SCALE-Sim's terms: dx (ws) or dw (os) as one GEMM."""
    if mode == "ws":
        m, k, n = batch, n_o, n_i
        row_folds, col_folds = math.ceil(k / rows), math.ceil(n / cols)
        cycles = row_folds * col_folds * (2 * rows + cols + m - 2)
        return {"cycles": cycles, "ifmap_reads": m * k * col_folds, "filter_reads": k * n,
                "ofmap_writes": m * n * row_folds}
    m, k, n = n_o, batch, n_i
    row_folds, col_folds = math.ceil(m / rows), math.ceil(n / cols)
    cycles = row_folds * col_folds * (rows + cols + k - 2)
    return {"cycles": cycles, "ifmap_reads": m * k * col_folds, "filter_reads": k * n * row_folds,
            "ofmap_writes": m * n}


@dataclass(frozen=True)
class Layer:
    """A layer as the GEMM of its backward pass: ``n_o × n_i`` weights, ``batch`` columns."""

    name: str
    n_o: int
    n_i: int
    batch: int


def conv_as_fc(name: str, height: int, width: int, c_in: int, c_out: int, kernel: int,
               stride: int = 1, padding: int = 0, batch: int = 1) -> Layer:
    """im2col: ``n_o = c_out``, ``n_i = kernel²·c_in``, columns = ``batch × output pixels``."""
    out_h = (height + 2 * padding - kernel) // stride + 1
    out_w = (width + 2 * padding - kernel) // stride + 1
    return Layer(name, c_out, kernel * kernel * c_in, batch * out_h * out_w)


def balanced_stages(costs: list[int], processors: int) -> int:
    """LayerPipe-style balancing: the smallest possible largest stage when the task sequence
    ``costs`` is cut into at most ``processors`` contiguous stages (exact, dynamic programming)."""
    prefix = np.concatenate([[0], np.cumsum(costs)])
    count = len(costs)
    best = np.full((processors + 1, count + 1), np.inf)
    best[0, 0] = 0
    for stages in range(1, processors + 1):
        for end in range(1, count + 1):
            best[stages, end] = min(max(best[stages - 1, start], prefix[end] - prefix[start])
                                    for start in range(end))
    return int(min(best[stages, count] for stages in range(1, processors + 1)))
