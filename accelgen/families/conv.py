# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``conv`` and ``pool``: CirCNN's convolution layer, dense or block-circulant, and 2×2 pooling
(``hw/conv.py``, ``models/conv.py``)."""

import numpy as np

import hw.conv
from models.conv import POOLS, conv_raw, output_size, pool_raw, weight_words
from models.net import nchw, stream_order

from ..api import ArraySpec, Design
from ..flows.link import stream_through
from ..params import Param
from ..registry import register
from .circulant import CIRCULANT
from .common import FRAC, WIDTH, check_format


@register
class Conv(Design):
    name = "conv"
    summary = "valid 2-D convolution, stride 1: line buffer -> dense or block-circulant (FFT) matrix engine"
    family = CIRCULANT
    docs = "docs/conv.md"
    testbench = "sim.tb_conv"
    sim_batch = 2
    parameters = (
        Param("c_in", 8, "input channels (multiple of k for circulant)", lo=1, hi=512),
        Param("c_out", 8, "output channels (multiple of k for circulant)", lo=1, hi=512),
        Param("size", 8, "input height = width", lo=1, hi=256),
        Param("kernel", 3, "kernel size r (<= size)", lo=1, hi=11),
        Param("engine", "circulant", "matrix engine", choices=("dense", "circulant")),
        Param("k", 8, "block size of the circulant weights", lo=2, hi=64, power_of_two=True),
        WIDTH, FRAC,
        Param("parallelism", 5, "MAC lanes: dense <= c_out, circulant complex lanes <= k/2+1", lo=1, hi=256),
    )

    def check(self):
        check_format(self.params)

    def component(self):
        return hw.conv.Conv2D(**self.params)

    @property
    def out(self) -> int:
        return output_size(self.params["size"], self.params["kernel"])

    def inputs(self):
        p = self.params
        r = p["kernel"]
        if p["engine"] == "circulant":
            w = ArraySpec((p["c_out"] // p["k"], p["c_in"] // p["k"], r, r, p["k"]), self.fmt)
        else:
            w = ArraySpec((p["c_out"], p["c_in"], r, r), self.fmt)
        return {"w": w, "x": ArraySpec((None, p["c_in"], p["size"], p["size"]), self.fmt)}

    def outputs(self):
        return {"y": ArraySpec((None, self.params["c_out"], self.out, self.out), self.fmt)}

    def golden(self, raw):
        return {"y_raw": conv_raw(self.params["engine"], raw["w_raw"], raw["x_raw"], self.fmt)}

    def stream_plan(self, raw):
        shape = (self.params["c_out"], self.out, self.out)
        sends = [("w_in", weight_words(raw["w_raw"], self.params)), ("x_in", stream_order(raw["x_raw"]))]
        return stream_through(sends, len(raw["x_raw"]) * int(np.prod(shape)),
                              lambda words: {"y_raw": nchw(words, shape)})


@register
class Pool(Design):
    name = "pool"
    summary = "2x2 max or average pooling, stride 2, on images streamed pixel by pixel (NHWC)"
    family = CIRCULANT
    docs = "docs/conv.md"
    testbench = "sim.tb_conv"
    sim_batch = 2
    parameters = (
        Param("channels", 8, "words per pixel", lo=1, hi=512),
        Param("size", 8, "input height = width (an odd last row and column are dropped)", lo=2, hi=256),
        Param("kind", "max", "pooling", choices=POOLS),
        WIDTH, FRAC,
    )

    def check(self):
        check_format(self.params)

    def component(self):
        p = self.params
        return hw.conv.Pool2D(channels=p["channels"], size=p["size"], kind=p["kind"], width=p["width"])

    def inputs(self):
        p = self.params
        return {"x": ArraySpec((None, p["channels"], p["size"], p["size"]), self.fmt)}

    def outputs(self):
        p = self.params
        return {"y": ArraySpec((None, p["channels"], p["size"] // 2, p["size"] // 2), self.fmt)}

    def golden(self, raw):
        return {"y_raw": pool_raw(self.params["kind"], raw["x_raw"])}

    def stream_plan(self, raw):
        half = self.params["size"] // 2
        shape = (self.params["channels"], half, half)
        return stream_through([("x_in", stream_order(raw["x_raw"]))], len(raw["x_raw"]) * int(np.prod(shape)),
                              lambda words: {"y_raw": nchw(words, shape)})
