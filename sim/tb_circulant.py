"""cocotb testbench of ``circulant-fc`` (``hw/circulant.py``) against ``models/circulant.py``.

Inputs: ``w_raw`` (p × q × k first columns, ``Q(width, frac)``) and ``x_raw``
(batch × n_in). The testbench computes the offline weight spectra with the
model (``spectrum_load_order``), sends them in the RTL's order
(``r, g, c, lane``), then the vectors. Outputs: ``y_raw`` (batch × n_out).
Counters: ``cycles`` (first ``x`` word to last ``y`` word, all vectors),
``load_cycles``, ``vectors``.
"""

import cocotb

from models.circulant import spectrum_words

from . import harness


async def drive(dut, job, inputs):
    w_raw, x_raw = inputs["w_raw"], inputs["x_raw"]
    n_out = w_raw.shape[0] * w_raw.shape[2]
    y, counters = await harness.weights_then_vectors(dut, job, spectrum_words(w_raw, job.params), x_raw, n_out)
    return {"y_raw": y}, counters


@cocotb.test()
async def circulant_fc(dut):
    """Weight spectra, then a batch of vectors; outputs bit-exact with the model."""
    await harness.run(dut, drive)
