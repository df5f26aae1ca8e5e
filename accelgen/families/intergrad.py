# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``intergrad``: the gradient-interleaved systolic array (``hw/intergrad.py``, ``models/intergrad.py``)."""

import tempfile

import numpy as np

import hw.intergrad
from models.fixed import FixedFormat
from models.intergrad import (MODES, PE_KINDS, READS, baseline, check_fits, gradients, layer_shape, map_layers, pack_layers,
                              unpack_layers)
from sim.runner import SimulatorError

from ..api import ArraySpec, Axis, Claim, Design, Family
from ..flows import simulate
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
        p, layer = result.params, result.counters["layer"]
        ws_os = baseline(layer["n_o"], layer["n_i"], layer["batch"], p["rows"], p["cols"])
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
        Param("pe", "two-mac", "interleaved PE: two multipliers, or one shared by dX and dW in alternate cycles "
              "(half-rate streams)", choices=PE_KINDS),
        Param("pipeline", 0, "1: registered SRAM feeds, multipliers (in the DSP blocks) and dx sums, for Fmax "
              "(a few cycles more per layer)", lo=0, hi=1),
        Param("lut_rows", 0, "with pipeline=1: last PE rows whose multipliers are LUTs, not DSP blocks", lo=0, hi=32),
        Param("max_n_o", 16, "largest layer's outputs (rows of W): sizes the W, delta and dw SRAMs", lo=1, hi=1024),
        Param("max_n_i", 16, "largest layer's inputs (columns of W): sizes the W, x, dx and dw SRAMs", lo=1, hi=1024),
        Param("max_batch", 8, "largest batch (columns of x and delta): sizes the x, delta and dx SRAMs", lo=1, hi=1024),
    )
    #: The layer ``simulate``'s random inputs take: not a multiple of the default 4×4 array.
    SAMPLE_LAYER = {"n_o": 6, "n_i": 5, "batch": 3}

    def component(self):
        return hw.intergrad.Intergrad(**self.params)

    @property
    def dsp_grid(self) -> str:
        """PE(r, c)'s DSP multiplier is the instance ``mac_r_c`` (``ws_``/``os_`` in front for a two-MAC PE's
        or a single mode's): a floorplan needs one per PE and the instances of ``pipeline=1``."""
        two_per_pe = self.params["mode"] == "interleaved" and self.params["pe"] == "two-mac"
        if two_per_pe or not self.params["pipeline"]:
            return ""
        return r"\.(?:ws_|os_)?mac_(?P<row>\d+)_(?P<col>\d+)\$"

    def axes(self) -> dict:
        """The layer's free axes: ``n_o``, ``n_i`` and ``batch``, each up to its ``max_`` parameter."""
        return {name: Axis(name, self.params[f"max_{name}"], f"max_{name}",
                           min(sample, self.params[f"max_{name}"]))
                for name, sample in self.SAMPLE_LAYER.items()}

    def inputs(self):
        fmt, axis = FixedFormat(self.params["width"], 0), self.axes()
        return {"w": ArraySpec((axis["n_o"], axis["n_i"]), fmt), "x": ArraySpec((axis["n_i"], axis["batch"]), fmt),
                "delta": ArraySpec((axis["n_o"], axis["batch"]), fmt)}

    def computes(self) -> tuple[str, ...]:
        """The gradients this mode returns: ``dx`` (WS), ``dw`` (OS) or both."""
        return {"ws": ("dx",), "os": ("dw",), "interleaved": ("dx", "dw")}[self.params["mode"]]

    def outputs(self):
        fmt, axis = FixedFormat(self.params["acc_width"], 0), self.axes()
        shapes = {"dx": (axis["n_i"], axis["batch"]), "dw": (axis["n_o"], axis["n_i"])}
        return {name: ArraySpec(shapes[name], fmt) for name in self.computes()}

    def check_inputs(self, raw):
        check_fits(raw["w_raw"], raw["x_raw"], raw["delta_raw"], self.params["acc_width"])

    def golden(self, raw):
        """The exact gradients of one layer, or of each layer of :meth:`run_layers`' packed arrays."""
        def layer(arrays):
            result = gradients(arrays["w_raw"], arrays["x_raw"], arrays["delta_raw"])
            return {f"{name}_raw": result[name] for name in self.computes()}
        return map_layers(layer, raw)

    def run_layers(self, layers: list[dict], *, stall: float = 0.0, seed: int = 1,
                   job_dir=None) -> tuple[list[dict], list[dict]]:
        """Several layers, each ``run``'s arrays, back to back through one simulation of this array (no
        reset between them), checked against the exact gradients: ``(outputs, counters)`` per layer.
        ``accelgen.SimulatorError`` when the RTL differs from the model."""
        raw = pack_layers([self.prepare(arrays) for arrays in layers])
        with tempfile.TemporaryDirectory(prefix="accelgen-layers-") as scratch:
            result = simulate.simulate(self, job_dir=job_dir or scratch, stall=stall, seed=seed, raw_inputs=raw)
        if not result.passed:
            raise SimulatorError(f"{self.name}: {result.reason}")
        outputs = [self.dequantized(layer) for layer in unpack_layers(result.outputs)]
        return outputs, result.counters["layers"]

    def shape_word(self, raw) -> int:
        """The ``shape_in`` command for the layer of ``raw``'s arrays."""
        maxima = {name: self.params[name] for name in ("max_n_o", "max_n_i", "max_batch")}
        return hw.intergrad.shape_word(layer_shape(raw), **maxima)

    def stream_plan(self, raw):
        """The layer's shape, then the operands this mode reads (``w``, ``x``, ``delta``), in that order;
        ``dx`` then ``dw`` come back on ``result_out``."""
        reads = READS[self.params["mode"]]
        n_o, n_i, batch = layer_shape(raw)
        shapes = {name: {"dx": (n_i, batch), "dw": (n_o, n_i)}[name] for name in self.computes()}
        sizes = [int(np.prod(shape)) for shape in shapes.values()]

        def unpack(words):
            parts = np.split(words, np.cumsum(sizes)[:-1])
            return {f"{name}_raw": part.reshape(shape) for (name, shape), part in zip(shapes.items(), parts)}
        sends = [("shape_in", [self.shape_word(raw)]), *((f"{name}_in", raw[f"{name}_raw"]) for name in reads)]
        return stream_through(sends, sum(sizes), unpack)
