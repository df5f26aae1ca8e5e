"""``intergrad``: the gradient-interleaved systolic array (``hw/intergrad.py``, ``models/intergrad.py``)."""

from hw.intergrad import Intergrad
from models.fixed import FixedFormat
from models.intergrad import MODES, baseline, check_fits

from ..params import Param
from ..registry import ArraySpec, Design, register
from .common import times


def _check(params):
    if params["acc_width"] < 2 * params["width"]:
        raise ValueError(f"acc_width={params['acc_width']} out of range [{2 * params['width']}, 31] "
                         f"(at least 2*width for one product)")


def _inputs(p):
    fmt = FixedFormat(p["width"], 0)
    return {"w": ArraySpec((p["n_o"], p["n_i"]), fmt), "x": ArraySpec((p["n_i"], p["batch"]), fmt),
            "delta": ArraySpec((p["n_o"], p["batch"]), fmt)}


def _outputs(p):
    fmt = FixedFormat(p["acc_width"], 0)
    outputs = {}
    if p["mode"] in ("ws", "interleaved"):
        outputs["dx"] = ArraySpec((p["n_i"], p["batch"]), fmt)
    if p["mode"] in ("os", "interleaved"):
        outputs["dw"] = ArraySpec((p["n_o"], p["n_i"]), fmt)
    return outputs


def _headline_vs_ws_then_os(results):
    """The measured interleaved run against WS then OS on the same shape (models/intergrad.py's counters,
    which the RTL's equal in sim/test_intergrad.py)."""
    result = results.get("intergrad")
    if result is None or not result.passed or result.params["mode"] != "interleaved":
        return []
    p = result.params
    ws_os = baseline(p["n_o"], p["n_i"], p["batch"], p["rows"], p["cols"])
    return [("cycles, WS then OS ÷ interleaved", times(ws_os["cycles"], result.counters["cycles"])),
            ("SRAM accesses, WS then OS ÷ interleaved", times(_accesses(ws_os), _accesses(result.counters)))]


def _accesses(counters: dict) -> int:
    return sum(counters["sram_reads"].values()) + sum(counters["sram_writes"].values())


def _check_inputs(params, raw):
    check_fits(raw["w_raw"], raw["x_raw"], raw["delta_raw"], params["acc_width"])


register(Design(
    name="intergrad",
    summary="systolic array for backprop: dX = W^T delta (ws), dW = delta X^T (os), or both in one pass (interleaved)",
    params=(
        Param("rows", 4, "PE rows (n_o is folded onto them)", lo=1, hi=32),
        Param("cols", 4, "PE columns (n_i is folded onto them)", lo=1, hi=32),
        Param("width", 8, "bits of w, x and delta (signed integers)", lo=2, hi=15),
        Param("acc_width", 24, "bits of the partial sums, dx and dw (>= 2*width)", lo=4, hi=31),
        Param("mode", "interleaved", "dataflow", choices=MODES),
        Param("n_o", 6, "layer outputs (rows of W)", lo=1, hi=1024),
        Param("n_i", 5, "layer inputs (columns of W)", lo=1, hi=1024),
        Param("batch", 3, "batch columns of x and delta", lo=1, hi=1024),
    ),
    component=lambda p: Intergrad(**p),
    check=_check,
    check_inputs=_check_inputs,
    test_module="sim.test_intergrad",
    inputs=_inputs,
    outputs=_outputs,
    counters=("cycles", "sram_reads", "sram_writes"),
    docs="docs/intergrad.md",
    headline=_headline_vs_ws_then_os,
))
