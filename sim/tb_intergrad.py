"""cocotb testbench of ``intergrad`` (``hw/intergrad.py``) against ``models/intergrad.py``.

Inputs: ``w_raw`` (n_o × n_i), ``x_raw`` (n_i × batch), ``delta_raw``
(n_o × batch); the layer's shape goes first on ``shape_in``, then only the
operands the mode uses. Outputs ``dx_raw`` and/or ``dw_raw``. Counters: the
RTL's own — ``cycles`` and ``sram_reads``/``sram_writes`` per operand — and
the ``layer`` shape they belong to. Inputs packed by
``models.intergrad.pack_layers`` run as consecutive layers, no reset between
them; outputs are packed the same way and counters listed under ``layers``.
"""

import cocotb
import numpy as np

from hw.intergrad import shape_word
from models.intergrad import READS, layer_shape, pack_layers, unpack_layers

from . import harness
from .drivers import StreamSink, StreamSource


async def drive(dut, job, inputs):
    layers = unpack_layers(inputs)
    if layers is None:
        return await drive_layer(dut, job, inputs)
    results = [await drive_layer(dut, job, layer) for layer in layers]
    return pack_layers([outputs for outputs, _ in results]), {"layers": [counters for _, counters in results]}


async def drive_layer(dut, job, inputs):
    """One layer: its shape, its operands, its results and counters."""
    p = job.params
    reads = READS[p["mode"]]
    n_o, n_i, batch = layer_shape(inputs)
    command = shape_word((n_o, n_i, batch), max_n_o=p["max_n_o"], max_n_i=p["max_n_i"], max_batch=p["max_batch"])
    await StreamSource(dut, "shape_in", **job.stream_args(4)).send([command])
    for offset, name in enumerate(("w", "x", "delta")):
        if name in reads:
            await StreamSource(dut, f"{name}_in", **job.stream_args(offset)).send(inputs[f"{name}_raw"].reshape(-1))
    sink = StreamSink(dut, "result_out", **job.stream_args(3))
    outputs = {}
    if "w" in reads:
        outputs["dx_raw"] = np.array(await sink.recv(n_i * batch), dtype=np.int64).reshape(n_i, batch)
    if "x" in reads:
        outputs["dw_raw"] = np.array(await sink.recv(n_o * n_i), dtype=np.int64).reshape(n_o, n_i)
    value = lambda name: int(getattr(dut, name).value)  # noqa: E731
    counters = {
        "cycles": value("cycles"),
        "sram_reads": {"w": value("reads_w"), "x": value("reads_x"), "delta": value("reads_delta"),
                       "dx": value("reads_dx")},
        "sram_writes": {"dx": value("writes_dx"), "dw": value("writes_dw")},
        "layer": {"n_o": n_o, "n_i": n_i, "batch": batch},
    }
    return outputs, counters


@cocotb.test()
async def intergrad_layer(dut):
    """One layer's gradients, bit-exact; counters saved for the pytest side to compare with the model."""
    await harness.run(dut, drive)
