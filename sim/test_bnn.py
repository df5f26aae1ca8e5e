"""cocotb testbench of ``bnn-mlp`` (``hw/bnn.py``) against ``models/bnn.py``.

Inputs: the raw posterior arrays and ``x_raw`` (images × n_in). Outputs
``mean_raw`` and ``var_raw`` (images × n_out). Counters: ``cycles`` from the
first image word to the last score, ``images``.
"""

import cocotb
import numpy as np

from models.bnn import bnn_mlp_raw
from models.fixed import FixedFormat

from . import harness
from .drivers import StreamSink, StreamSource, span_cycles

WEIGHTS = ("mu1", "sigma1", "b1", "mu2", "sigma2", "b2")


async def drive(dut, job, inputs):
    n_out = job.params["n_out"]
    words = np.concatenate([inputs[f"{name}_raw"].reshape(-1) for name in WEIGHTS])
    await StreamSource(dut, "params_in", **job.stream_args(0)).send(words)
    x = inputs["x_raw"]
    source = StreamSource(dut, "x_in", **job.stream_args(1))
    sink = StreamSink(dut, "scores_out", **job.stream_args(2))
    feed = cocotb.start_soon(source.send(x.reshape(-1)))
    scores = np.array(await sink.recv(len(x) * 2 * n_out), dtype=np.int64).reshape(len(x), 2, n_out)
    await feed
    counters = {"cycles": span_cycles(source.times[0], sink.times[-1], harness.CLOCK_PERIOD_NS), "images": len(x)}
    return {"mean_raw": scores[:, 0], "var_raw": scores[:, 1]}, counters


def expected(params, inputs):
    weights = {name: inputs[f"{name}_raw"] for name in WEIGHTS}
    fmt = FixedFormat(params["width"], params["frac"])
    mean, var = bnn_mlp_raw(weights, inputs["x_raw"], fmt, params["passes"], params["seed"])
    return {"mean_raw": mean, "var_raw": var}


@cocotb.test()
async def bnn_mlp(dut):
    """Posterior loaded, images through S sampled passes; scores bit-exact with the model."""
    await harness.run(dut, drive, expected)
