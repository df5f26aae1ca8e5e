"""cocotb testbench of ``bnn-mlp`` (``hw/bnn.py``) against ``models/bnn.py``.

Inputs: the raw posterior arrays and ``x_raw`` (images × n_in). Outputs
``mean_raw`` and ``var_raw`` (images × n_out). Counters: ``cycles`` from the
first image word to the last score, ``images``.

``job.extra["resets"]``, a list of cycle counts: before the run proper, for
each count the posterior and the first image are sent and ``rst`` is raised
that many cycles after the image, in the middle of its computation.
"""

import cocotb
from cocotb.triggers import ClockCycles

from models.bnn import posterior_words, scores_from_words

from . import harness
from .drivers import StreamSource


async def interrupt(dut, job, inputs, cycles: int):
    """Posterior and first image in, then ``rst`` for two cycles once ``cycles`` cycles have passed."""
    await StreamSource(dut, "params_in").send(posterior_words(inputs, job.params["lanes"]))
    await StreamSource(dut, "x_in").send(inputs["x_raw"][0])
    await ClockCycles(dut.clk, cycles)
    await harness.hold_reset(dut)


async def drive(dut, job, inputs):
    depth = sum(1 for name in inputs if name.startswith("mu"))
    n_out = len(inputs[f"b{depth}_raw"])
    for cycles in job.extra.get("resets", []):
        await interrupt(dut, job, inputs, cycles)
    await StreamSource(dut, "params_in", **job.stream_args(0)).send(posterior_words(inputs, job.params["lanes"]))
    x = inputs["x_raw"]
    scores, cycles = await harness.stream_through(dut, job, "x_in", "scores_out", x, len(x) * 2 * n_out, offset=1)
    return scores_from_words(scores, len(x), n_out), {"cycles": cycles, "images": len(x)}


@cocotb.test()
async def bnn_mlp(dut):
    """Posterior loaded, images through S sampled passes; scores bit-exact with the model."""
    await harness.run(dut, drive)
