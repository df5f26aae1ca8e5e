# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``bnn-mlp``: Bayesian MLP inference sampling its weights from an RLF-GRNG or register LFSRs (``hw/bnn.py``,
``models/bnn.py``)."""

import math

import numpy as np

import hw.bnn
from models.bnn import EPS_SOURCES, bnn_mlp_raw, posterior_words, scores_from_words, sigma_format
from models.fixed import FixedFormat

from ..api import ArraySpec, Design
from ..flows.link import stream_through
from ..params import Param, sizes_of
from ..registry import register
from .common import FRAC, WIDTH, check_format
from .grng import VIBNN


@register
class BayesianMLP(Design):
    name = "bnn-mlp"
    summary = ("Bayesian MLP (VIBNN) of any depth: w = mu + sigma*eps sampled per pass from an RLF-GRNG or LFSRs, "
               "lanes neurons at once; predictive mean and variance")
    family = VIBNN
    testbench = "sim.tb_bnn"
    sim_batch = 2
    parameters = (
        Param("layers", "64-16-10", "layer sizes N_0-N_1-...-N_L (64-16-10: the 8x8 digits; ReLU between layers)",
              lo=1, hi=4096, sizes=True),
        Param("lanes", 4, "MAC lanes: neurons computed at once, one GRNG lane each", lo=1, hi=256),
        WIDTH, FRAC,
        Param("passes", 8, "sampled forward passes per image (power of two)", lo=1, hi=256),
        Param("seed", 1, "seed of the GRNG", lo=1, hi=2**31 - 1),
        Param("weight_extra_frac", 0, "fractional bits of mu and the sampled weights beyond frac (small weights "
              "in narrow words)", lo=0, hi=23),
        Param("eps_bits", 32, "fresh bits per epsilon, Binomial(eps_bits, 1/2) (16: half the GRNG's block RAM)",
              lo=8, hi=32),
        Param("grng", "rlf", "epsilon source: rlf (VIBNN's RAM-based LFSR, block RAM) or lfsr (two LFSRs in "
              "registers per lane, no block RAM)", choices=EPS_SOURCES),
        Param("spread", "dsp", "sigma*epsilon multiplier: dsp (a DSP block per lane) or lut (LUTs, same timing)",
              choices=("dsp", "lut")),
    )

    @property
    def sizes(self) -> list[int]:
        return sizes_of(self.params["layers"])

    @property
    def weight_frac(self) -> int:
        """Fractional bits of μ and the sampled weights."""
        return self.params["frac"] + self.params["weight_extra_frac"]

    def check(self):
        check_format(self.params)
        extra, room = self.params["weight_extra_frac"], self.params["width"] - 1 - self.params["frac"]
        if extra > room:
            raise ValueError(f"weight_extra_frac={extra} out of range [0, {room}] (frac + weight_extra_frac < width)")
        if self.params["passes"] & (self.params["passes"] - 1):
            raise ValueError(f"passes={self.params['passes']} is not a power of two")
        if self.sizes[-1] > 64:
            raise ValueError(f"layers={self.params['layers']}: {self.sizes[-1]} classes out of range [1, 64]")

    def component(self):
        p = self.params
        return hw.bnn.BayesianMLP(sizes=self.sizes, lanes=p["lanes"], width=p["width"], frac=p["frac"],
                                  passes=p["passes"], seed=p["seed"], eps_bits=p["eps_bits"],
                                  weight_frac=self.weight_frac, eps_source=p["grng"], lut_spread=p["spread"] == "lut")

    def inputs(self):
        q, sizes = self.fmt, self.sizes
        s, root = sigma_format(self.params["width"]), math.sqrt(self.params["eps_bits"])
        arrays = {}
        for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
            arrays[f"mu{layer}"] = ArraySpec((n_out, n_in), FixedFormat(q.width, self.weight_frac))
            arrays[f"sigma{layer}"] = ArraySpec((n_out, n_in), s, scale=root)
            arrays[f"b{layer}"] = ArraySpec((n_out,), q)
        return {**arrays, "x": ArraySpec((None, sizes[0]), q)}

    def outputs(self):
        scores = ArraySpec((None, self.sizes[-1]), self.fmt)
        return {"mean": scores, "var": scores}

    def check_inputs(self, raw):
        for layer in range(1, len(self.sizes)):
            negative = np.argwhere(raw[f"sigma{layer}_raw"] < 0)
            if len(negative):
                index = [int(i) for i in negative[0]]
                raise ValueError(f"sigma{layer}{index} < 0: a standard deviation must be >= 0")

    def golden(self, raw):
        p = self.params
        weights = {name: raw[f"{name}_raw"] for name in self.inputs() if name != "x"}
        mean, var = bnn_mlp_raw(weights, raw["x_raw"], self.fmt, p["passes"], p["seed"], p["lanes"], p["eps_bits"],
                                self.weight_frac, p["grng"])
        return {"mean_raw": mean, "var_raw": var}

    def stream_plan(self, raw):
        """``params_in``: the weight-memory rows and the biases (``models.bnn.posterior_words``); then the images; scores come back per
        image as ``N_L`` means, then ``N_L`` variances."""
        batch, n_out = len(raw["x_raw"]), self.sizes[-1]
        return stream_through([("params_in", posterior_words(raw, self.params["lanes"])), ("x_in", raw["x_raw"])], batch * 2 * n_out,
                              lambda words: scores_from_words(words, batch, n_out))
