"""cocotb testbench of ``sc-layer`` (``hw/sc.py``) against ``models/sc.py``.

Inputs (``inputs.npz``): ``w_raw`` (n_out × n_in), ``b_raw`` (n_out), ``x_raw``
(batch × n_in). Outputs: ``y_bits_raw`` (batch × length × n_out, every output
stream bit) and ``y_raw`` (batch × n_out, ``2·ones - length``). Counters:
``cycles`` from the first ``x`` word accepted to the last output word,
``vectors``.
"""

import cocotb

from models.sc import bits_from_words, layer_outputs, weight_words

from . import harness
from .drivers import StreamSource


async def drive(dut, job, inputs):
    p = job.params
    w_raw, b_raw, x_raw = inputs["w_raw"], inputs["b_raw"], inputs["x_raw"]
    batch, length = len(x_raw), p["length"]
    await StreamSource(dut, "w_in", **job.stream_args(0)).send(weight_words(w_raw, b_raw))
    words, cycles = await harness.stream_through(dut, job, "x_in", "y_out", x_raw, batch * length, offset=1,
                                                 sink_signed=False)
    bits = bits_from_words(words, batch, length, p["n_out"])
    return layer_outputs(bits), {"cycles": cycles, "vectors": batch}


@cocotb.test()
async def sc_layer_streams(dut):
    """Weights and biases, then a batch of vectors; every output stream bit equal to the model's."""
    await harness.run(dut, drive)
