"""cocotb testbench of the PWL activation (``hw/pwl.py``) against ``models/pwl.py``.

``pwl_stream``: the job's ``x_raw`` (batch) → ``y_raw``. ``pwl_exhaustive``
(only when the job checks): every input code of the format (widths ≤ 16),
under the job's stalls.
"""

import cocotb
import numpy as np

from models.fixed import FixedFormat
from models.pwl import FUNCTIONS, pwl_raw

from . import harness
from .drivers import StreamSink, StreamSource, span_cycles


async def push(dut, job, x_raw):
    source = StreamSource(dut, "x_in", **job.stream_args(0))
    sink = StreamSink(dut, "y_out", **job.stream_args(1))
    feed = cocotb.start_soon(source.send(x_raw))
    y = await sink.recv(len(x_raw))
    await feed
    return np.array(y, dtype=np.int64), span_cycles(source.times[0], sink.times[-1], harness.CLOCK_PERIOD_NS)


def expected(params, inputs):
    fmt = FixedFormat(params["width"], params["frac"])
    return {"y_raw": pwl_raw(FUNCTIONS[params["function"]], inputs["x_raw"], fmt)}


async def drive(dut, job, inputs):
    y, cycles = await push(dut, job, inputs["x_raw"])
    return {"y_raw": y}, {"cycles": cycles, "samples": len(y)}


@cocotb.test()
async def pwl_stream(dut):
    await harness.run(dut, drive, expected)


@cocotb.test()
async def pwl_exhaustive(dut):
    job = harness.load_job()
    if not job.check or job.params["width"] > 16:
        return
    width = job.params["width"]
    codes = np.arange(-(1 << (width - 1)), 1 << (width - 1), dtype=np.int64)
    await harness.reset(dut)
    y, _ = await push(dut, job, codes)
    harness.scoreboard({"y_raw": y}, expected(job.params, {"x_raw": codes}))
