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


async def drive(dut, job, inputs):
    x = inputs["x_raw"]
    y, cycles = await harness.stream_through(dut, job, "x_in", "y_out", x, len(x))
    return {"y_raw": y}, {"cycles": cycles, "samples": len(y)}


@cocotb.test()
async def pwl_stream(dut):
    await harness.run(dut, drive)


@cocotb.test()
async def pwl_exhaustive(dut):
    job = harness.load_job()
    if not job.check or job.params["width"] > 16:
        return
    width = job.params["width"]
    codes = np.arange(-(1 << (width - 1)), 1 << (width - 1), dtype=np.int64)
    await harness.reset(dut)
    y, _ = await harness.stream_through(dut, job, "x_in", "y_out", codes, len(codes))
    fmt = FixedFormat(width, job.params["frac"])
    harness.scoreboard({"y_raw": y}, {"y_raw": pwl_raw(FUNCTIONS[job.params["function"]], codes, fmt)})
