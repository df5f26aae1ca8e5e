"""cocotb testbench of the GRNGs (``hw/grng.py``) against ``models/grng.py``.

No inputs: the sink draws ``samples`` words of ``lanes`` samples under the
job's ready stalls. Outputs: ``z_raw`` (samples × lanes). Counters:
``cycles`` from the first to the last sample accepted, ``samples``.
"""

import cocotb
import numpy as np

from models.fixed import unpack

from . import harness
from .drivers import StreamSink, span_cycles


def _lane_width(dut, lanes: int) -> int:
    return len(dut.z_out__payload) // lanes


async def drive(dut, job, inputs):
    samples, lanes = job.params["samples"], job.params["lanes"]
    sink = StreamSink(dut, "z_out", width_signed=False, **job.stream_args(0))
    words = await sink.recv(samples)
    z = np.stack(unpack(words, _lane_width(dut, lanes), lanes), axis=1)
    counters = {"cycles": span_cycles(sink.times[0], sink.times[-1], harness.CLOCK_PERIOD_NS), "samples": samples}
    return {"z_raw": z}, counters


@cocotb.test()
async def grng_stream(dut):
    """``samples`` steps under ready stalls, bit-exact with the model."""
    await harness.run(dut, drive)
