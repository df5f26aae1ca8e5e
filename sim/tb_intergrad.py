"""cocotb testbench of ``intergrad`` (``hw/intergrad.py``) against ``models/intergrad.py``.

Inputs: ``w_raw`` (n_o × n_i), ``x_raw`` (n_i × batch), ``delta_raw``
(n_o × batch); only the operands the mode uses are sent. Outputs ``dx_raw``
and/or ``dw_raw``. Counters: the RTL's own — ``cycles`` and
``sram_reads``/``sram_writes`` per operand.
"""

import cocotb
import numpy as np

from models.intergrad import READS

from . import harness
from .drivers import StreamSink, StreamSource


async def drive(dut, job, inputs):
    p = job.params
    uses_w, uses_x = "w" in READS[p["mode"]], "x" in READS[p["mode"]]
    for offset, name in enumerate(("w", "x", "delta")):
        if name in READS[p["mode"]]:
            await StreamSource(dut, f"{name}_in", **job.stream_args(offset)).send(inputs[f"{name}_raw"].reshape(-1))
    sink = StreamSink(dut, "result_out", **job.stream_args(3))
    outputs = {}
    if uses_w:
        outputs["dx_raw"] = np.array(await sink.recv(p["n_i"] * p["batch"]), dtype=np.int64).reshape(p["n_i"], p["batch"])
    if uses_x:
        outputs["dw_raw"] = np.array(await sink.recv(p["n_o"] * p["n_i"]), dtype=np.int64).reshape(p["n_o"], p["n_i"])
    value = lambda name: int(getattr(dut, name).value)  # noqa: E731
    counters = {
        "cycles": value("cycles"),
        "sram_reads": {"w": value("reads_w"), "x": value("reads_x"), "delta": value("reads_delta"),
                       "dx": value("reads_dx")},
        "sram_writes": {"dx": value("writes_dx"), "dw": value("writes_dw")},
    }
    return outputs, counters


@cocotb.test()
async def intergrad_layer(dut):
    """One layer's gradients, bit-exact; counters saved for the pytest side to compare with the model."""
    await harness.run(dut, drive)
