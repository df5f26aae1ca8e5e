"""cocotb testbench of ``bnn-mlp`` (``hw/bnn.py``) against ``models/bnn.py``.

Inputs: the raw posterior arrays and ``x_raw`` (images × n_in). Outputs
``mean_raw`` and ``var_raw`` (images × n_out). Counters: ``cycles`` from the
first image word to the last score, ``images``.
"""

import cocotb
import numpy as np

from . import harness
from .drivers import StreamSource

WEIGHTS = ("mu1", "sigma1", "b1", "mu2", "sigma2", "b2")


async def drive(dut, job, inputs):
    n_out = job.params["n_out"]
    words = np.concatenate([inputs[f"{name}_raw"].reshape(-1) for name in WEIGHTS])
    await StreamSource(dut, "params_in", **job.stream_args(0)).send(words)
    x = inputs["x_raw"]
    scores, cycles = await harness.stream_through(dut, job, "x_in", "scores_out", x, len(x) * 2 * n_out, offset=1)
    scores = scores.reshape(len(x), 2, n_out)
    return {"mean_raw": scores[:, 0], "var_raw": scores[:, 1]}, {"cycles": cycles, "images": len(x)}


@cocotb.test()
async def bnn_mlp(dut):
    """Posterior loaded, images through S sampled passes; scores bit-exact with the model."""
    await harness.run(dut, drive)
