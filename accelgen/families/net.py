# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``net``: a trained ONNX network as one accelerator (``hw/net.py``, ``models/net.py``, ``models/onnx_import.py``)."""

import hashlib
import os
from functools import cached_property
from pathlib import Path

import numpy as np

import hw.net
from models.fixed import ceil_div, quantize
from models.net import ENGINES, nchw, network_raw, quantize_network, stream_order
from models.onnx_import import load_layers
from models.pwl import FUNCTIONS
from models.pwl import check_format as check_pwl_format
from models.train.digits_onnx import BUILTIN, write_builtin

from ..api import ArraySpec, Claim, Design, Family
from ..flows.cache import cache_dir
from ..flows.link import stream_through
from ..flows.synthesize import DEVICES
from ..params import Param
from ..registry import register
from .common import check_format, measured, point, times

#: Bits of one block RAM per target (ECP5 DP16KD: 18 kbit; iCE40 SB_RAM40_4K: 4 kbit).
BLOCK_RAM_BITS = {"ecp5": 18 * 1024, "ice40": 4 * 1024}
#: Digits test images the report pushes through the RTL (the model takes all of them).
REPORT_RTL_IMAGES = 16


def builtin_model(name: str) -> Path:
    """The ONNX file of built-in ``name``, trained and written into the cache on first use."""
    path = cache_dir() / "onnx" / f"{name}.onnx"
    if not path.exists():
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        write_builtin(name, partial)
        os.replace(partial, path)
    return path


def images_per_second(entry) -> float:
    """Steady-state images per second of a built ``net``: Fmax over the measured interval."""
    return entry.synth["fmax_mhz"] * 1e6 / entry.counters["interval"]


def _throughput_vs_sequential(results):
    """The network's measured interval against its layers run one after another (sum of their intervals)."""
    found = measured(results, "net")
    if found is None:
        return None
    net = found[0]
    sequential = sum(layer.interval for layer in net.acc.layers)
    return (f"{times(sequential, net.counters['interval'])} images/s over the same layers run one after another "
            f"({images_per_second(net) / 1e3:.0f} k images/s at {net.synth['fmax_mhz']} MHz)", point(net))


NETWORKS = Family(
    title="Networks — a trained ONNX model as one accelerator",
    docs="docs/network.md",
    claims=(
        Claim("CirCNN / FINN-style dataflow: layers overlapped, the network runs at its slowest layer's pace",
              _throughput_vs_sequential, "accelgen build (net) or python benchmarks/network.py"),
    ),
)


@register
class Net(Design):
    name = "net"
    summary = "a trained ONNX MLP or CNN (Gemm, Conv, 2x2 pools, ReLU/sigmoid/tanh) as one accelerator, layers overlapped"
    family = NETWORKS
    testbench = "sim.tb_net"
    sim_batch = 4
    parameters = (
        Param("model", "digits-dense", "ONNX file (ops: docs/network.md) or a built-in digits network trained here",
              path=True, choices=BUILTIN),
        Param("width", 16, "fixed-point word width in bits", lo=4, hi=24),
        Param("frac", 9, "fractional bits of the fixed-point format (< width)", lo=0, hi=23),
        Param("engine", "dense", "layer engine: dense, circulant (every layer), hybrid (circulant where k "
              "divides both sizes), auto (circulant where the weights already are, e.g. ADMM-trained)",
              choices=ENGINES),
        Param("k", 8, "block size of circulant layers", lo=2, hi=64, power_of_two=True),
        Param("target_interval", 512, "cycles per input; each layer gets the fewest MAC lanes that meet it",
              lo=1, hi=10**7),
    )

    @cached_property
    def model_path(self) -> Path:
        model = self.params["model"]
        return builtin_model(model) if model in BUILTIN else Path(model)

    @cached_property
    def float_layers(self):
        """The ONNX file's float layers and the shape of one input."""
        return load_layers(self.model_path)

    @cached_property
    def layers(self):
        """The layers as the hardware holds them (``models.net.FixedLayer``)."""
        p = self.params
        return quantize_network(self.float_layers[0], self.fmt, p["engine"], p["k"], p["target_interval"])

    def check(self):
        check_format(self.params)
        if any(layer.activation in FUNCTIONS for layer in self.layers):
            check_pwl_format(self.fmt)

    @cached_property
    def _model_sha256(self) -> str:
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()

    def files(self):
        return {"model": self._model_sha256}

    def component(self):
        return hw.net.Network(layers=self.layers, width=self.params["width"], frac=self.params["frac"])

    def inputs(self):
        return {"x": ArraySpec((None, *self.float_layers[1]), self.fmt)}

    def outputs(self):
        return {"y": ArraySpec((None, *self.float_layers[0][-1].out_shape), self.fmt)}

    def golden(self, raw):
        return {"y_raw": network_raw(self.layers, raw["x_raw"], self.fmt)}

    def stream_plan(self, raw):
        batch, shape = len(raw["x_raw"]), self.float_layers[0][-1].out_shape
        size = int(np.prod(shape))

        def unpack(words):
            return {"y_raw": nchw(words, shape) if len(shape) == 3 else words.reshape(batch, size)}
        return stream_through([("x_in", stream_order(raw["x_raw"]))], batch * size, unpack)

    # -- network-level views ----------------------------------------------------------------------------------------

    @property
    def interval(self) -> int:
        """Modelled cycles per input in steady state: the slowest layer's interval."""
        return max(layer.interval for layer in self.layers)

    def layer_table(self) -> list[dict]:
        """Per layer: name, engine, shape, k, parallelism, interval, activation, projection error."""
        return [{"name": layer.name, "engine": layer.engine, "n_in": layer.n_in, "n_out": layer.n_out,
                 "k": layer.k, "parallelism": layer.parallelism, "interval": layer.interval,
                 "activation": layer.activation, "projection_error": round(layer.projection_error, 6)}
                for layer in self.layers]

    def reference(self, x: np.ndarray) -> np.ndarray:
        """The float reference: onnxruntime on the same file."""
        import onnxruntime

        session = onnxruntime.InferenceSession(str(self.model_path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return session.run(None, {name: np.asarray(x, dtype=np.float32)})[0].reshape(len(x), -1)

    def run(self, arrays=None, **options):
        outputs, report = super().run(arrays, **options)
        return outputs, {**report, "layers": self.layer_table()}

    def block_rams(self, target: str) -> int:
        """Lower bound on the block RAMs the weights need on ``target``."""
        bits = sum(layer.weight_bits(self.params["width"]) for layer in self.layers)
        return ceil_div(bits, BLOCK_RAM_BITS[target])

    def check_target(self, target):
        needed, (device, capacity) = self.block_rams(target), DEVICES[target]
        if needed > capacity["bram"]:
            raise ValueError(f"the weights need at least {needed} block RAMs; {device} has {capacity['bram']}")

    def digits_accuracy(self, rtl_images: int = REPORT_RTL_IMAGES) -> dict:
        """Accuracy on the digits test split: onnxruntime float and the bit-exact model on every test image,
        and the RTL on the first ``rtl_images`` (with whether it equals the model there)."""
        from models.train.admm import load_split

        data = load_split(0)
        x = data.x_test.reshape(-1, *self.float_layers[1])  # the MLPs take rows, the CNNs 1×8×8 images
        model_y = network_raw(self.layers, quantize(x, self.fmt), self.fmt)
        rtl_y = self.run({"x": x[:rtl_images]})[0]["y_raw"] if rtl_images else None
        return {"float": float((self.reference(x).argmax(1) == data.y_test).mean()),
                "model": float((model_y.argmax(1) == data.y_test).mean()),
                "rtl": None if rtl_y is None else float((rtl_y.argmax(1) == data.y_test[:rtl_images]).mean()),
                "rtl_images": rtl_images, "test_images": len(data.y_test),
                "rtl_equals_model": None if rtl_y is None else bool(np.array_equal(rtl_y, model_y[:rtl_images]))}

    def report_lines(self, entry):
        lines = ["", f"`net` ({self.params['model']}, engine={self.params['engine']}): layers", "",
                 "| layer | engine | shape | k | lanes | interval (cycles) | activation | projection error |",
                 "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {row['name']} | {row['engine']} | {row['n_out']}×{row['n_in']} | {row['k'] or '–'} | "
                  f"{row['parallelism']} | {row['interval']} | {row['activation']} | {row['projection_error']:.4f} |"
                  for row in self.layer_table()]
        if entry.passed and entry.synth.get("fmax_mhz"):
            lines += ["", f"Measured interval {entry.counters['interval']} cycles per image (slowest layer "
                      f"{self.interval}); {images_per_second(entry) / 1e3:.1f} k images/s at "
                      f"{entry.synth['fmax_mhz']} MHz."]
        if self.params["model"] in BUILTIN and entry.passed:
            accuracy = self.digits_accuracy()
            lines += ["", f"Digits test accuracy: onnxruntime float {accuracy['float']:.4f}, bit-exact model "
                      f"{accuracy['model']:.4f} ({accuracy['test_images']} images), RTL {accuracy['rtl']:.4f} on the "
                      f"first {accuracy['rtl_images']} (equal to the model: {accuracy['rtl_equals_model']})."]
        return lines
