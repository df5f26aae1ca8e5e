"""cocotb testbench of a mapped AQFP netlist (``hw/aqfp.py``'s ``AQFPNetlist``) run as a pipeline.

Job params: ``inputs`` and ``outputs`` (``{port: width}``) and ``depth``
(phases). ``inputs.npz`` holds one array per input port, one value per
vector; vector ``t`` is applied in cycle ``t``. Outputs: one array per output
port, the value for vector ``t`` read ``depth`` cycles after it was applied.
The caller compares them with the original function (``tests/test_aqfp.py``).
"""

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from . import harness


async def drive(dut, job, inputs):
    ports, depth = job.params, job.params["depth"]
    count = len(inputs[next(iter(ports["inputs"]))])
    results = {port: [] for port in ports["outputs"]}
    for cycle in range(count + depth - 1):
        for port in ports["inputs"]:
            getattr(dut, port).value = int(inputs[port][min(cycle, count - 1)])
        await RisingEdge(dut.clk)
        await ReadOnly()
        if cycle >= depth - 1:
            for port in ports["outputs"]:
                results[port].append(int(getattr(dut, port).value))
        await Timer(1, unit="ns")
    return {port: np.array(values, dtype=np.int64) for port, values in results.items()}, {"cycles": count + depth - 1}


@cocotb.test()
async def aqfp_pipeline(dut):
    """Every vector through the balanced netlist; outputs recorded for the caller's check."""
    await harness.run(dut, drive)
