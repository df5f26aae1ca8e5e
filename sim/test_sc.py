"""cocotb testbench of ``sc-layer`` (``hw/sc.py``) against ``models/sc.py``.

Inputs (``inputs.npz``): ``w_raw`` (n_out × n_in), ``b_raw`` (n_out), ``x_raw``
(batch × n_in). Outputs: ``y_bits_raw`` (batch × length × n_out, every output
stream bit) and ``y_raw`` (batch × n_out, ``2·ones - length``). Counters:
``cycles`` from the first ``x`` word accepted to the last output word,
``vectors``.
"""

import cocotb
import numpy as np

from models.sc import sc_layer

from . import harness
from .drivers import StreamSink, StreamSource, span_cycles


async def drive(dut, job, inputs):
    p = job.params
    w_raw, b_raw, x_raw = inputs["w_raw"], inputs["b_raw"], inputs["x_raw"]
    batch, length = len(x_raw), p["length"]
    w_source = StreamSource(dut, "w_in", **job.stream_args(0))
    x_source = StreamSource(dut, "x_in", **job.stream_args(1))
    y_sink = StreamSink(dut, "y_out", width_signed=False, **job.stream_args(2))
    await w_source.send(np.concatenate([w_raw.reshape(-1), b_raw]))
    x_task = cocotb.start_soon(x_source.send(x_raw.reshape(-1)))
    words = np.array(await y_sink.recv(batch * length), dtype=np.int64)
    await x_task
    bits = ((words[:, None] >> np.arange(p["n_out"])) & 1).reshape(batch, length, p["n_out"])
    counters = {"cycles": span_cycles(x_source.times[0], y_sink.times[-1], harness.CLOCK_PERIOD_NS),
                "vectors": batch}
    return {"y_bits_raw": bits, "y_raw": 2 * bits.sum(axis=1) - length}, counters


def expected(params, inputs):
    p = params
    bits = sc_layer(inputs["w_raw"], inputs["b_raw"], inputs["x_raw"], bits=p["bits"], length=p["length"],
                    seed=p["seed"], adder=p["adder"]).astype(np.int64)
    return {"y_bits_raw": bits, "y_raw": 2 * bits.sum(axis=1) - p["length"]}


@cocotb.test()
async def sc_layer_streams(dut):
    """Weights and biases, then a batch of vectors; every output stream bit equal to the model's."""
    await harness.run(dut, drive, expected)
