"""cocotb testbench of ``conv`` and ``pool`` (``hw/conv.py``) against ``models/conv.py``.

Inputs: ``w_raw`` (dense ``c_out × c_in × r × r``; circulant ``c_out/k × c_in/k × r × r × k``) and
``x_raw`` (batch × c_in × size × size). The weights go in as the engine takes them (``M`` row-major;
the spectra of ``M``'s first columns), then the images pixel by pixel (``NHWC``). Outputs: ``y_raw``
(batch × c_out × out × out). Counters: ``cycles`` (first pixel word to last output word, all images),
``load_cycles``, ``vectors`` (images), ``pixels`` (output pixels).

``pool``: ``x_raw`` (batch × channels × size × size) in, ``y_raw`` (batch × channels × size/2 × size/2)
out, both ``NHWC`` on the wire; counters ``cycles``, ``vectors``, ``pixels``.
"""

import cocotb

from models.conv import weight_words
from models.net import nchw, stream_order

from . import harness


async def drive_pool(dut, job, inputs):
    x_raw = inputs["x_raw"]
    shape = job.outputs["y"][1:]
    count = len(x_raw) * shape[0] * shape[1] * shape[2]
    y, cycles = await harness.stream_through(dut, job, "x_in", "y_out", stream_order(x_raw), count)
    return {"y_raw": nchw(y, shape)}, {"cycles": cycles, "vectors": len(x_raw),
                                       "pixels": len(x_raw) * shape[1] * shape[2]}


async def drive_conv(dut, job, inputs):
    w_raw, x_raw = inputs["w_raw"], inputs["x_raw"]
    batch, c_out, out = len(x_raw), *job.outputs["y"][1:3]
    y, counters = await harness.weights_then_vectors(dut, job, weight_words(w_raw, job.params), stream_order(x_raw),
                                                     out * out * c_out)
    return {"y_raw": nchw(y, (c_out, out, out))}, {**counters, "pixels": batch * out * out}


async def drive(dut, job, inputs):
    return await (drive_pool if job.design == "pool" else drive_conv)(dut, job, inputs)


@cocotb.test()
async def conv(dut):
    """``conv``: weights, then a batch of images; ``pool``: a batch of images. Outputs bit-exact with the model."""
    await harness.run(dut, drive)
