# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``intergrad``: the gradient-interleaved systolic array (``hw/intergrad.py``, ``models/intergrad.py``)."""

import numpy as np

import hw.intergrad
from models.fixed import FixedFormat
from models.intergrad import MODES, READS, baseline, check_fits, gradients

from ..api import ArraySpec, Claim, Design, Family
from ..flows.link import stream_through
from ..params import Param
from ..registry import register
from .common import point, times


def _accesses(counters: dict) -> int:
    return sum(counters["sram_reads"].values()) + sum(counters["sram_writes"].values())


def _vs_ws_then_os(counter: str):
    """The measured interleaved run against WS then OS on the same shape (``models/intergrad.py``'s counters,
    which equal the RTL's: ``tests/test_intergrad.py``)."""
    def measure(results):
        result = results.get("intergrad")
        if result is None or not result.passed or result.params["mode"] != "interleaved":
            return None
        p = result.params
        ws_os = baseline(p["n_o"], p["n_i"], p["batch"], p["rows"], p["cols"])
        if counter == "cycles":
            return f"{times(ws_os['cycles'], result.counters['cycles'])} fewer cycles", point(result)
        return f"{times(_accesses(ws_os), _accesses(result.counters))} fewer SRAM accesses", point(result)
    return measure


INTERGRAD = Family(
    title="Intergrad — gradient-interleaved systolic array for training",
    docs="docs/intergrad.md",
    claims=(
        Claim("Intergrad: 1.4–2.2× fewer cycles than WS then OS on FC layers", _vs_ws_then_os("cycles"),
              "python benchmarks/intergrad.py"),
        Claim("Intergrad: 1.9× fewer memory accesses than WS then OS on FC layers", _vs_ws_then_os("accesses"),
              "python benchmarks/intergrad.py"),
    ),
)


@register
class Intergrad(Design):
    name = "intergrad"
    summary = "systolic array for backprop: dX = W^T delta (ws), dW = delta X^T (os), or both in one pass (interleaved)"
    family = INTERGRAD
    testbench = "sim.tb_intergrad"
    parameters = (
        Param("rows", 4, "PE rows (n_o is folded onto them)", lo=1, hi=32),
        Param("cols", 4, "PE columns (n_i is folded onto them)", lo=1, hi=32),
        Param("width", 8, "bits of w, x and delta (signed integers)", lo=2, hi=15),
        Param("acc_width", 24, "bits of the partial sums, dx and dw (>= 2*width)", lo=4, hi=31),
        Param("mode", "interleaved", "dataflow", choices=MODES),
        Param("n_o", 6, "layer outputs (rows of W)", lo=1, hi=1024),
        Param("n_i", 5, "layer inputs (columns of W)", lo=1, hi=1024),
        Param("batch", 3, "batch columns of x and delta", lo=1, hi=1024),
    )

    def component(self):
        return hw.intergrad.Intergrad(**self.params)

    def inputs(self):
        p, fmt = self.params, FixedFormat(self.params["width"], 0)
        return {"w": ArraySpec((p["n_o"], p["n_i"]), fmt), "x": ArraySpec((p["n_i"], p["batch"]), fmt),
                "delta": ArraySpec((p["n_o"], p["batch"]), fmt)}

    def computes(self) -> tuple[str, ...]:
        """The gradients this mode returns: ``dx`` (WS), ``dw`` (OS) or both."""
        return {"ws": ("dx",), "os": ("dw",), "interleaved": ("dx", "dw")}[self.params["mode"]]

    def outputs(self):
        p, fmt = self.params, FixedFormat(self.params["acc_width"], 0)
        shapes = {"dx": (p["n_i"], p["batch"]), "dw": (p["n_o"], p["n_i"])}
        return {name: ArraySpec(shapes[name], fmt) for name in self.computes()}

    def check_inputs(self, raw):
        check_fits(raw["w_raw"], raw["x_raw"], raw["delta_raw"], self.params["acc_width"])

    def golden(self, raw):
        result = gradients(raw["w_raw"], raw["x_raw"], raw["delta_raw"])
        return {f"{name}_raw": result[name] for name in self.computes()}

    def stream_plan(self, raw):
        """The operands this mode reads (``w``, ``x``, ``delta``), in that order; ``dx`` then ``dw`` come back
        on ``result_out``."""
        reads = READS[self.params["mode"]]
        shapes = {name: spec.shape for name, spec in self.outputs().items()}
        sizes = [int(np.prod(shape)) for shape in shapes.values()]

        def unpack(words):
            parts = np.split(words, np.cumsum(sizes)[:-1])
            return {f"{name}_raw": part.reshape(shape) for (name, shape), part in zip(shapes.items(), parts)}
        return stream_through([(f"{name}_in", raw[f"{name}_raw"]) for name in reads], sum(sizes), unpack)
