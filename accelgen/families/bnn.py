# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``bnn-mlp``: Bayesian MLP inference sampling its weights from an RLF-GRNG (``hw/bnn.py``, ``models/bnn.py``)."""

import math

import numpy as np

import hw.bnn
from models.bnn import GRNG_BITS, bnn_mlp_raw, posterior_words, scores_from_words, sigma_format

from ..api import ArraySpec, Design
from ..flows.link import stream_through
from ..params import Param
from ..registry import register
from .common import FRAC, WIDTH, check_format
from .grng import VIBNN

LAYERS = ("1", "2")


@register
class BayesianMLP(Design):
    name = "bnn-mlp"
    summary = ("Bayesian MLP (VIBNN): w = mu + sigma*eps sampled per pass from an RLF-GRNG; "
               "predictive mean and variance")
    family = VIBNN
    testbench = "sim.tb_bnn"
    sim_batch = 2
    parameters = (
        Param("n_in", 64, "inputs (64: the 8x8 digits)", lo=1, hi=1024),
        Param("hidden", 16, "hidden ReLU units", lo=1, hi=1024),
        Param("n_out", 10, "classes", lo=1, hi=64),
        WIDTH, FRAC,
        Param("passes", 8, "sampled forward passes per image (power of two)", lo=1, hi=256),
        Param("seed", 1, "seed of the GRNG", lo=1, hi=2**31 - 1),
    )

    def check(self):
        check_format(self.params)
        if self.params["passes"] & (self.params["passes"] - 1):
            raise ValueError(f"passes={self.params['passes']} is not a power of two")

    def component(self):
        return hw.bnn.BayesianMLP(**self.params)

    def inputs(self):
        p, q = self.params, self.fmt
        s, root = sigma_format(p["width"]), math.sqrt(GRNG_BITS)
        return {
            "mu1": ArraySpec((p["hidden"], p["n_in"]), q),
            "sigma1": ArraySpec((p["hidden"], p["n_in"]), s, scale=root),
            "b1": ArraySpec((p["hidden"],), q),
            "mu2": ArraySpec((p["n_out"], p["hidden"]), q),
            "sigma2": ArraySpec((p["n_out"], p["hidden"]), s, scale=root),
            "b2": ArraySpec((p["n_out"],), q),
            "x": ArraySpec((None, p["n_in"]), q),
        }

    def outputs(self):
        scores = ArraySpec((None, self.params["n_out"]), self.fmt)
        return {"mean": scores, "var": scores}

    def check_inputs(self, raw):
        for layer in LAYERS:
            negative = np.argwhere(raw[f"sigma{layer}_raw"] < 0)
            if len(negative):
                index = [int(i) for i in negative[0]]
                raise ValueError(f"sigma{layer}{index} < 0: a standard deviation must be >= 0")

    def golden(self, raw):
        weights = {name: raw[f"{name}_raw"] for name in self.inputs() if name != "x"}
        mean, var = bnn_mlp_raw(weights, raw["x_raw"], self.fmt, self.params["passes"], self.params["seed"])
        return {"mean_raw": mean, "var_raw": var}

    def stream_plan(self, raw):
        """``params_in``: every weight array in ``inputs()`` order; then the images; scores come back per
        image as ``n_out`` means, then ``n_out`` variances."""
        batch, n_out = len(raw["x_raw"]), self.params["n_out"]
        return stream_through([("params_in", posterior_words(raw)), ("x_in", raw["x_raw"])], batch * 2 * n_out,
                              lambda words: scores_from_words(words, batch, n_out))
