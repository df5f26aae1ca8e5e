"""cocotb testbench of a design behind the board link (``hw/link.py``): a host on the UART pins.

The host is ``accelgen.flows.link.HostSession`` — the code ``accelgen run --board`` runs — on the
design's ``stream_plan`` of the job's inputs; this file only moves its bytes over ``rx`` and ``tx``
bit by bit at ``extra["divisor"]`` cycles per bit. ``extra["corrupt"]`` lists frames whose first
sending is corrupted. Outputs: the design's raw outputs. Counters: ``cycles`` (first start bit to the
last output byte), ``frames``, ``rejected`` (frames the device answered with an error, retried) and
``statuses`` (their reasons).
"""

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly
from cocotb.utils import get_sim_time

import accelgen
from accelgen.flows.link import HostSession, LinkSpec

from . import harness

WAIT_LIMIT = 2_000_000  # cycles without a reply or the last output before the test fails


async def send_byte(dut, value: int, divisor: int):
    for bit in [0, *((value >> n) & 1 for n in range(8)), 1]:
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
    design = accelgen.design(job.design, **job.params)
    session = HostSession(LinkSpec.of(design.component()), design.stream_plan(inputs),
                          corrupt=tuple(job.extra.get("corrupt", ())))
    divisor = job.extra["divisor"]
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
    return session.outputs(), counters


@cocotb.test()
async def link(dut):
    """The job's arrays through the link; outputs bit-exact with the model."""
    await harness.run(dut, drive)
