"""cocotb testbench of a design behind the board link (``hw/link.py``): a host on the UART pins.

The host is ``sim.host_link.HostSession`` — the code ``accelgen run --board`` runs — on the design's
stream plan, handed over in the job (``accelgen/flows/board.py`` ``simulate_link``): ``inputs.npz``
holds ``send<n>``, the words of the n-th send; ``extra`` names their streams (``sends``), the output
words to expect (``receive``), the design's streams (``spec``), the clock cycles per UART bit
(``divisor``) and the frames whose first sending is corrupted (``corrupt``). This file only moves the
session's bytes over ``rx`` and ``tx`` bit by bit. Output: ``received``, the output stream's bytes.
Counters: ``cycles`` (first start bit to the last output byte), ``frames``, ``rejected`` (frames the
device answered with an error, then sent again), ``statuses`` (their reasons) and ``error_led``.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly
from cocotb.utils import get_sim_time

from hw.link import uart_bits

from . import harness
from .host_link import HostSession, LinkSpec, StreamPlan

WAIT_LIMIT = 2_000_000  # cycles without a reply or the last output before the test fails


async def send_byte(dut, value: int, divisor: int):
    for bit in uart_bits(value):
        dut.rx.value = bit
        await ClockCycles(dut.clk, divisor)


async def listen(dut, divisor: int, session: HostSession):
    """Every byte the device sends on ``tx``, into the session: sampled in the middle of each bit."""
    while True:
        await FallingEdge(dut.tx)
        await ClockCycles(dut.clk, divisor // 2)
        value = 0
        for n in range(8):
            await ClockCycles(dut.clk, divisor)
            await ReadOnly()
            value |= int(dut.tx.value) << n
        await ClockCycles(dut.clk, divisor)
        await ReadOnly()
        assert int(dut.tx.value) == 1, "the device's stop bit is low"
        session.receive(bytes([value]))


async def drive(dut, job, inputs):
    extra = job.extra
    sends = [(name, inputs[f"send{number}"]) for number, name in enumerate(extra["sends"])]
    session = HostSession(LinkSpec(**{key: tuple(value) if isinstance(value, list) else value
                                      for key, value in extra["spec"].items()}),
                          StreamPlan(sends=sends, receive=extra["receive"], unpack=None),
                          corrupt=tuple(extra["corrupt"]))
    divisor = extra["divisor"]
    dut.rx.value = 1
    await ClockCycles(dut.clk, 4)
    listener = cocotb.start_soon(listen(dut, divisor, session))
    start, waited, seen = get_sim_time("ns"), 0, 0
    while not session.done:
        data = session.next_frame()
        if data is None:
            await ClockCycles(dut.clk, divisor)
            waited = 0 if len(session.output) != seen else waited + divisor
            seen = len(session.output)
            assert waited < WAIT_LIMIT, (f"no reply for {WAIT_LIMIT} cycles (frame {session.position} of "
                                         f"{len(session.frames)}, {len(session.output)} output bytes)")
            continue
        waited = 0
        for value in data:
            await send_byte(dut, value, divisor)
    listener.cancel()
    cycles = round((get_sim_time("ns") - start) / harness.CLOCK_PERIOD_NS)
    counters = {"cycles": cycles, "frames": len(session.frames), "rejected": len(session.rejected),
                "statuses": sorted({status for _, status in session.rejected}),
                "error_led": int(dut.error.value)}
    return {"received": np.frombuffer(session.received(), dtype=np.uint8)}, counters


@cocotb.test()
async def link(dut):
    """The job's arrays through the link; outputs bit-exact with the model."""
    await harness.run(dut, drive)
