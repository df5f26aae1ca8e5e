"""cocotb testbench of ``conv`` (``hw/conv.py``) against ``models/conv.py``.

Inputs: ``w_raw`` (dense ``c_out × c_in × r × r``; circulant ``c_out/k × c_in/k × r × r × k``) and
``x_raw`` (batch × c_in × size × size). The weights go in as the engine takes them (``M`` row-major;
the spectra of ``M``'s first columns), then the images pixel by pixel (``NHWC``). Outputs: ``y_raw``
(batch × c_out × out × out). Counters: ``cycles`` (first pixel word to last output word, all images),
``load_cycles``, ``vectors`` (images), ``pixels`` (output pixels).
"""

import cocotb

from models.conv import circulant_columns, dense_matrix

from . import harness
from .tb_circulant import spectrum_words


async def drive(dut, job, inputs):
    w_raw, x_raw = inputs["w_raw"], inputs["x_raw"]
    batch, c_out, out = len(x_raw), *job.outputs["y"][1:3]
    if job.params["engine"] == "circulant":
        w_words = spectrum_words(circulant_columns(w_raw), job.params)
    else:
        w_words = dense_matrix(w_raw).reshape(-1)
    pixels = x_raw.transpose(0, 2, 3, 1).reshape(batch, -1)
    y, counters = await harness.weights_then_vectors(dut, job, w_words, pixels, out * out * c_out)
    y = y.reshape(batch, out, out, c_out).transpose(0, 3, 1, 2)
    return {"y_raw": y}, {**counters, "pixels": batch * out * out}


@cocotb.test()
async def conv(dut):
    """Weights, then a batch of images; outputs bit-exact with the model."""
    await harness.run(dut, drive)
