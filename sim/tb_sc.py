"""cocotb testbench of ``sc-layer``, ``sc-net`` and ``sc-cnn`` (``hw/sc.py``) against ``models/sc.py``.

Inputs (``inputs.npz``): ``sc-layer``: ``w_raw`` (n_out × n_in), ``b_raw``
(n_out); ``sc-net`` and ``sc-cnn``: ``w1_raw``, ``b1_raw``, … per layer (a
convolution's kernels ``c_out × c_in × r × r``); all ``x_raw`` (batch × n_in,
or batch × c_in × size × size). Outputs: ``y_bits_raw`` (batch × length × n_out, every
output stream bit of the last layer) and ``y_raw`` (batch × n_out,
``2·ones - length``). Counters: ``cycles`` from the first ``x`` word accepted
to the last output word, ``vectors``.
"""

import cocotb

from models.sc import bits_from_words, layer_outputs, net_weight_words, weight_words

from . import harness
from .drivers import StreamSource


def weight_stream(inputs) -> list:
    """The ``w_in`` words: one layer's weights and biases, or every layer's in turn."""
    if "w_raw" in inputs:
        return weight_words(inputs["w_raw"], inputs["b_raw"])
    depth = sum(1 for name in inputs if name.startswith("w") and name.endswith("_raw"))
    return net_weight_words([(inputs[f"w{k}_raw"], inputs[f"b{k}_raw"]) for k in range(1, depth + 1)])


async def drive(dut, job, inputs):
    batch, length = len(inputs["x_raw"]), job.params["length"]
    await StreamSource(dut, "w_in", **job.stream_args(0)).send(weight_stream(inputs))
    words, cycles = await harness.stream_through(dut, job, "x_in", "y_out", inputs["x_raw"].reshape(batch, -1),
                                                 batch * length, offset=1, sink_signed=False)
    bits = bits_from_words(words, batch, length, len(dut.y_out__payload))
    return layer_outputs(bits), {"cycles": cycles, "vectors": batch}


@cocotb.test()
async def sc_layer_streams(dut):
    """Weights and biases, then a batch of vectors; every output stream bit equal to the model's."""
    await harness.run(dut, drive)
