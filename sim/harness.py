"""The cocotb side of a job: clock, reset, drive, score, save.

A family's testbench (``sim/tb_<family>.py``) provides a driver and one cocotb test::

    async def drive(dut, job, inputs) -> (outputs: dict[str, ndarray], counters: dict)

    @cocotb.test()
    async def check(dut):
        await harness.run(dut, drive)

:func:`run` reads the job written by ``sim/runner.py``, runs ``drive`` on the
job's inputs and writes ``outputs.npz`` and ``counters.json`` into the job
directory. The comparison with the golden model happens on the host, where
the design declares its model (``accelgen/flows/simulate.py``); a testbench
checks here only what the job's inputs do not cover (:func:`scoreboard`).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from .drivers import StreamSink, StreamSource, span_cycles
from .scoreboard import first_mismatch

__all__ = ["CLOCK_PERIOD_NS", "Job", "load_job", "reset", "hold_reset", "run", "scoreboard", "stream_through",
           "weights_then_vectors"]

CLOCK_PERIOD_NS = 10


@dataclass(frozen=True)
class Job:
    """One simulation request (see ``sim/runner.py``)."""

    directory: Path
    design: str
    params: dict
    outputs: dict  # output name → shape, None for the batch axis
    check: bool
    stall: float
    seed: int
    extra: dict  # what one testbench alone reads (e.g. the board link's settings)

    def stream_args(self, offset: int = 0) -> dict:
        """Keyword arguments for a stream driver: stall probability and its own seed."""
        return {"stall": self.stall, "seed": self.seed + offset}


def load_job() -> Job:
    path = Path(os.environ["ACCELGEN_JOB"])
    spec = json.loads(path.read_text())
    return Job(directory=path.parent, design=spec["design"], params=spec["params"], outputs=spec.get("outputs", {}),
               check=spec["check"], stall=spec["stall"], seed=spec["seed"], extra=spec.get("extra", {}))


async def reset(dut, cycles: int = 2):
    """Start the clock and hold ``rst`` for ``cycles`` cycles."""
    Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
    await hold_reset(dut, cycles)


async def hold_reset(dut, cycles: int = 2):
    """Hold ``rst`` for ``cycles`` cycles of the running clock, then one more cycle."""
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def scoreboard(actual: dict, expected: dict):
    """Assert ``actual`` equals ``expected`` exactly, array by array; name the first mismatch."""
    mismatch = first_mismatch(actual, expected)
    if mismatch:
        raise AssertionError(mismatch)


async def run(dut, drive):
    """Execute the job of this simulation process (see module docstring)."""
    job = load_job()
    with np.load(job.directory / "inputs.npz") as arrays:
        inputs = dict(arrays)
    await reset(dut)
    outputs, counters = await drive(dut, job, inputs)
    np.savez(job.directory / "outputs.npz", **outputs)
    (job.directory / "counters.json").write_text(json.dumps(counters, indent=2, sort_keys=True))


async def stream_through(dut, job, source: str, sink: str, words, count: int, *, offset: int = 0,
                         sink_signed: bool = True) -> tuple[np.ndarray, int]:
    """Send ``words`` into stream ``source`` while ``count`` words are taken from stream ``sink``, both
    under the job's stalls (seeds ``offset`` and ``offset + 1``). Returns the received words (int64)
    and the cycles from the first word accepted to the last word sent."""
    feeder = StreamSource(dut, source, **job.stream_args(offset))
    taker = StreamSink(dut, sink, width_signed=sink_signed, **job.stream_args(offset + 1))
    feed = cocotb.start_soon(feeder.send(np.asarray(words).reshape(-1)))
    received = await taker.recv(count)
    await feed
    return np.array(received, dtype=np.int64), span_cycles(feeder.times[0], taker.times[-1], CLOCK_PERIOD_NS)


async def weights_then_vectors(dut, job, w_words, x_raw, n_out: int):
    """Matrix-vector engines: ``w_words`` through ``w_in``, then every row of ``x_raw`` through
    ``x_in`` while ``y_out`` is drained. Returns ``y`` (batch × n_out) and the counters
    ``cycles`` (first ``x`` word to last ``y`` word), ``load_cycles`` and ``vectors``."""
    batch = len(x_raw)
    w_source = StreamSource(dut, "w_in", **job.stream_args(0))
    await w_source.send(w_words)
    y, cycles = await stream_through(dut, job, "x_in", "y_out", x_raw, batch * n_out, offset=1)
    counters = {
        "cycles": cycles,
        "load_cycles": span_cycles(w_source.times[0], w_source.times[-1], CLOCK_PERIOD_NS),
        "vectors": batch,
    }
    return y.reshape(batch, n_out), counters
