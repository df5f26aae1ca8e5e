"""cocotb testbench of ``dense-fc`` (``hw/dense.py``) against ``models/dense.py``.

Inputs (``inputs.npz``): ``w_raw`` (n_out × n_in) and ``x_raw`` (batch × n_in).
Outputs: ``y_raw`` (batch × n_out). Counters: ``cycles`` from the first ``x``
word accepted to the last ``y`` word sent (all vectors, back to back),
``load_cycles`` for the weights, ``vectors``.
"""

import cocotb
import numpy as np

from models.dense import dense_fc_raw
from models.fixed import FixedFormat

from . import harness
from .drivers import StreamSink, StreamSource, span_cycles


async def drive(dut, job, inputs):
    w_raw, x_raw = inputs["w_raw"], inputs["x_raw"]
    batch, n_out = len(x_raw), len(w_raw)
    w_source = StreamSource(dut, "w_in", **job.stream_args(0))
    x_source = StreamSource(dut, "x_in", **job.stream_args(1))
    y_sink = StreamSink(dut, "y_out", **job.stream_args(2))

    await w_source.send(w_raw.reshape(-1))
    x_task = cocotb.start_soon(x_source.send(x_raw.reshape(-1)))
    y = await y_sink.recv(batch * n_out)
    await x_task

    period = harness.CLOCK_PERIOD_NS
    counters = {
        "cycles": span_cycles(x_source.times[0], y_sink.times[-1], period),
        "load_cycles": span_cycles(w_source.times[0], w_source.times[-1], period),
        "vectors": batch,
    }
    return {"y_raw": np.array(y, dtype=np.int64).reshape(batch, n_out)}, counters


def expected(params, inputs):
    fmt = FixedFormat(params["width"], params["frac"])
    return {"y_raw": dense_fc_raw(inputs["w_raw"], inputs["x_raw"], fmt)}


@cocotb.test()
async def dense_fc(dut):
    """Weights, then a batch of vectors; outputs bit-exact with the model."""
    await harness.run(dut, drive, expected)
