"""cocotb testbench of ``dense-fc`` (``hw/dense.py``) against ``models/dense.py``.

Inputs (``inputs.npz``): ``w_raw`` (n_out × n_in) and ``x_raw`` (batch × n_in).
Outputs: ``y_raw`` (batch × n_out). Counters: ``cycles`` from the first ``x``
word accepted to the last ``y`` word sent (all vectors, back to back),
``load_cycles`` for the weights, ``vectors``.
"""

import cocotb

from . import harness


async def drive(dut, job, inputs):
    w_raw, x_raw = inputs["w_raw"], inputs["x_raw"]
    y, counters = await harness.weights_then_vectors(dut, job, w_raw.reshape(-1), x_raw, len(w_raw))
    return {"y_raw": y}, counters


@cocotb.test()
async def dense_fc(dut):
    """Weights, then a batch of vectors; outputs bit-exact with the model."""
    await harness.run(dut, drive)
