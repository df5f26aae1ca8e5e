"""The cocotb side of a job: clock, reset, drive, score, save.

A family's test module provides two functions and one cocotb test::

    async def drive(dut, job, inputs) -> (outputs: dict[str, ndarray], counters: dict)
    def expected(params, inputs) -> dict[str, ndarray]     # the golden model

    @cocotb.test()
    async def check(dut):
        await harness.run(dut, drive, expected)

:func:`run` reads the job written by ``sim/runner.py``, runs ``drive`` on the
job's inputs, writes ``outputs.npz`` and ``counters.json`` into the job
directory and, when the job asks for a check, compares every output array
with the model bit for bit (:func:`scoreboard`).
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

__all__ = ["CLOCK_PERIOD_NS", "Job", "load_job", "reset", "run", "scoreboard", "weights_then_vectors"]

CLOCK_PERIOD_NS = 10


@dataclass(frozen=True)
class Job:
    """One simulation request (see ``sim/runner.py``)."""

    directory: Path
    design: str
    params: dict
    check: bool
    stall: float
    seed: int

    def stream_args(self, offset: int = 0) -> dict:
        """Keyword arguments for a stream driver: stall probability and its own seed."""
        return {"stall": self.stall, "seed": self.seed + offset}


def load_job() -> Job:
    path = Path(os.environ["ACCELGEN_JOB"])
    spec = json.loads(path.read_text())
    return Job(directory=path.parent, design=spec["design"], params=spec["params"],
               check=spec["check"], stall=spec["stall"], seed=spec["seed"])


async def reset(dut, cycles: int = 2):
    """Start the clock and hold ``rst`` for ``cycles`` cycles."""
    Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def scoreboard(actual: dict, expected: dict):
    """Assert ``actual`` equals ``expected`` exactly, array by array; name the first mismatch."""
    for name, want in expected.items():
        if name not in actual:
            raise AssertionError(f"output {name!r} missing from the RTL results")
        got = np.asarray(actual[name])
        want = np.asarray(want)
        if got.shape != want.shape:
            raise AssertionError(f"{name}: shape {got.shape} from RTL, model expects {want.shape}")
        bad = np.argwhere(got != want)
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            raise AssertionError(
                f"{name}: {len(bad)} of {want.size} words differ; first at {index}: "
                f"RTL {got[index]} != model {want[index]}")


async def run(dut, drive, expected):
    """Execute the job of this simulation process (see module docstring)."""
    job = load_job()
    with np.load(job.directory / "inputs.npz") as arrays:
        inputs = dict(arrays)
    await reset(dut)
    outputs, counters = await drive(dut, job, inputs)
    np.savez(job.directory / "outputs.npz", **outputs)
    (job.directory / "counters.json").write_text(json.dumps(counters, indent=2, sort_keys=True))
    if job.check:
        scoreboard(outputs, expected(job.params, inputs))


async def weights_then_vectors(dut, job, w_words, x_raw, n_out: int):
    """Matrix-vector engines: ``w_words`` through ``w_in``, then every row of ``x_raw`` through
    ``x_in`` while ``y_out`` is drained. Returns ``y`` (batch × n_out) and the counters
    ``cycles`` (first ``x`` word to last ``y`` word), ``load_cycles`` and ``vectors``."""
    batch = len(x_raw)
    w_source = StreamSource(dut, "w_in", **job.stream_args(0))
    x_source = StreamSource(dut, "x_in", **job.stream_args(1))
    y_sink = StreamSink(dut, "y_out", **job.stream_args(2))
    await w_source.send(w_words)
    x_task = cocotb.start_soon(x_source.send(np.asarray(x_raw).reshape(-1)))
    y = await y_sink.recv(batch * n_out)
    await x_task
    counters = {
        "cycles": span_cycles(x_source.times[0], y_sink.times[-1], CLOCK_PERIOD_NS),
        "load_cycles": span_cycles(w_source.times[0], w_source.times[-1], CLOCK_PERIOD_NS),
        "vectors": batch,
    }
    return np.array(y, dtype=np.int64).reshape(batch, n_out), counters
