"""``bnn-mlp``: Bayesian MLP inference sampling its weights from an RLF-GRNG (``hw/bnn.py``, ``models/bnn.py``)."""

import math

import numpy as np

from hw.bnn import BayesianMLP
from models.bnn import GRNG_N, sigma_format

from ..params import Param
from ..registry import ArraySpec, Design, register
from .common import FRAC, WIDTH, check_format, fixed_format


def _check(params):
    check_format(params)
    if params["passes"] & (params["passes"] - 1):
        raise ValueError(f"passes={params['passes']} is not a power of two")


def _inputs(p):
    q, s = fixed_format(p), sigma_format(p["width"])
    root = math.sqrt(GRNG_N)
    return {
        "mu1": ArraySpec((p["hidden"], p["n_in"]), q), "sigma1": ArraySpec((p["hidden"], p["n_in"]), s, scale=root),
        "b1": ArraySpec((p["hidden"],), q),
        "mu2": ArraySpec((p["n_out"], p["hidden"]), q), "sigma2": ArraySpec((p["n_out"], p["hidden"]), s, scale=root),
        "b2": ArraySpec((p["n_out"],), q),
        "x": ArraySpec((None, p["n_in"]), q),
    }


def _check_inputs(params, raw):
    for name in ("sigma1", "sigma2"):
        negative = np.argwhere(raw[f"{name}_raw"] < 0)
        if len(negative):
            index = [int(i) for i in negative[0]]
            raise ValueError(f"{name}{index} < 0: a standard deviation must be >= 0")


register(Design(
    name="bnn-mlp",
    summary="Bayesian MLP (VIBNN): w = mu + sigma*eps sampled per pass from an RLF-GRNG; predictive mean and variance",
    params=(
        Param("n_in", 64, "inputs (64: the 8x8 digits)", lo=1, hi=1024),
        Param("hidden", 16, "hidden ReLU units", lo=1, hi=1024),
        Param("n_out", 10, "classes", lo=1, hi=64),
        WIDTH, FRAC,
        Param("passes", 8, "sampled forward passes per image (power of two)", lo=1, hi=256),
        Param("seed", 1, "seed of the GRNG", lo=1, hi=2**31 - 1),
    ),
    component=lambda p: BayesianMLP(**p),
    check=_check,
    check_inputs=_check_inputs,
    test_module="sim.test_bnn",
    inputs=_inputs,
    outputs=lambda p: {"mean": ArraySpec((None, p["n_out"]), fixed_format(p)),
                       "var": ArraySpec((None, p["n_out"]), fixed_format(p))},
    sim_batch=2,
    docs="docs/vibnn.md",
))
