"""``sim`` and ``run``: push arrays through the RTL in cocotb.

``sim`` draws random inputs (:func:`random_inputs`), runs the design's
cocotb test with random valid/ready stalls and lets the test's scoreboard
compare every output word with the golden model.

``run`` takes the user's ``.npz`` arrays, checks names, shapes, dtypes and
ranges against the design's :class:`ArraySpec`\\ s (:func:`prepare_inputs`),
drives them through the RTL without stalls and returns the outputs, raw and
dequantized, plus the simulation counters.
"""

import re
import tempfile
from pathlib import Path

import numpy as np

from models.fixed import dequantize, quantize
from sim.runner import SimRun, SimulatorError, run_job

from ..errors import UserError
from .export import verilog_text

__all__ = ["random_inputs", "prepare_inputs", "simulate", "run_arrays", "failure_reason"]


def _concrete(shape: tuple, batch: int) -> tuple:
    return tuple(batch if axis is None else axis for axis in shape)


def random_inputs(design, params, rng: np.random.Generator, batch: int = 3) -> dict:
    """Raw test vectors: every row at a random magnitude, so both rounding and saturation are hit.

    Each row of each input is uniform over ``±2**(m-1)`` for a random ``m`` in
    ``[1, width]``; one row of the first batch carries the format's extremes.
    """
    arrays = {}
    for name, spec in design.inputs(params).items():
        shape = _concrete(spec.shape, batch)
        rows = shape[0] if shape else 1
        magnitudes = rng.integers(1, spec.fmt.width + 1, size=rows)
        data = np.stack([rng.integers(-(1 << (m - 1)), 1 << (m - 1), size=shape[1:], dtype=np.int64)
                         for m in magnitudes]) if shape else np.zeros(shape, dtype=np.int64)
        if data.size:
            flat = data.reshape(-1)
            flat[0], flat[-1] = spec.fmt.min_raw, spec.fmt.max_raw
        arrays[f"{name}_raw"] = data
    return arrays


def _check_shape(name: str, array: np.ndarray, spec, batch: int | None) -> int | None:
    expected = spec.shape
    if array.ndim != len(expected) or any(want is not None and got != want for got, want in zip(array.shape, expected)):
        shown = tuple("batch" if axis is None else axis for axis in expected)
        raise UserError(f"array {name!r} has shape {array.shape}; expected {shown}")
    for got, want in zip(array.shape, expected):
        if want is None:
            if got < 1 or (batch is not None and got != batch):
                raise UserError(f"array {name!r} has batch size {got}; expected {batch if batch else 'at least 1'} (same for every input)")
            batch = got
    return batch


def _raw_from(name: str, arrays: dict, spec) -> np.ndarray:
    fmt = spec.fmt
    if f"{name}_raw" in arrays:
        raw = arrays[f"{name}_raw"]
        if raw.dtype.kind not in "iu":
            raise UserError(f"array '{name}_raw' has dtype {raw.dtype}; expected an integer dtype")
        bad = np.argwhere((raw < fmt.min_raw) | (raw > fmt.max_raw))
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            raise UserError(f"{name}_raw{list(index)}={raw[index]} out of range [{fmt.min_raw}, {fmt.max_raw}]")
        return raw.astype(np.int64)
    values = arrays[name]
    if values.dtype.kind not in "fiu":
        raise UserError(f"array {name!r} has dtype {values.dtype}; expected real numbers")
    lo, hi = fmt.min_value * spec.scale, fmt.max_value * spec.scale
    bad = np.argwhere(~np.isfinite(values) | (values < lo) | (values > hi))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        scaled = "" if spec.scale == 1.0 else f" × {spec.scale:.6g}"
        raise UserError(f"{name}{list(index)}={values[index]} out of range [{lo}, {hi}] "
                        f"(Q{fmt.width}.{fmt.frac}{scaled})")
    return quantize(values / spec.scale, fmt)


def prepare_inputs(design, params, arrays: dict) -> dict:
    """Validate the user's arrays and return the raw inputs the testbench takes."""
    specs = design.inputs(params)
    allowed = sorted({*specs, *(f"{name}_raw" for name in specs)})
    for name in arrays:
        if name not in allowed:
            raise UserError(f"unexpected array {name!r} for {design.name}; allowed: {', '.join(allowed)}")
    raw, batch = {}, None
    for name, spec in specs.items():
        if name not in arrays and f"{name}_raw" not in arrays:
            raise UserError(f"missing array {name!r} (or {name}_raw) for {design.name}")
        source = arrays.get(f"{name}_raw", arrays.get(name))
        batch = _check_shape(name, source, spec, batch)
        raw[f"{name}_raw"] = _raw_from(name, arrays, spec)
    try:
        design.check_inputs(params, raw)
    except ValueError as error:
        raise UserError(f"{design.name}: {error}") from None
    return raw


def _job(design, params, *, check: bool, stall: float, seed: int) -> dict:
    return {"design": design.name, "params": params, "check": check, "stall": stall, "seed": seed}


def _launch(design, params, inputs: dict, job: dict, job_dir: Path, simulator: str, waves: bool) -> SimRun:
    job_dir.mkdir(parents=True, exist_ok=True)
    np.savez(job_dir / "inputs.npz", **inputs)
    return run_job(verilog=verilog_text(design, params), toplevel=design.toplevel,
                   test_module=design.test_module, job=job, job_dir=job_dir,
                   simulator=simulator, waves=waves)


def simulate(design, params, *, job_dir, simulator="verilator", waves=False,
             stall=0.3, seed=1, batch=None) -> SimRun:
    """Random inputs (``batch`` rows, default ``design.sim_batch``) through the RTL under stalls, checked."""
    inputs = random_inputs(design, params, np.random.default_rng(seed), batch or design.sim_batch)
    job = _job(design, params, check=True, stall=stall, seed=seed)
    return _launch(design, params, inputs, job, Path(job_dir), simulator, waves)


def run_arrays(design, params, raw_inputs: dict, *, simulator="verilator") -> tuple[dict, dict]:
    """The user's (validated, raw) inputs through the RTL, no stalls; returns (outputs, counters)."""
    with tempfile.TemporaryDirectory(prefix="accelgen-run-") as directory:
        job = _job(design, params, check=False, stall=0.0, seed=0)
        result = _launch(design, params, raw_inputs, job, Path(directory), simulator, False)
        if not result.passed:
            raise SimulatorError(f"simulation of {design.name} failed: {failure_reason(result)}")
        raw_outputs, counters = result.outputs(), result.counters()
    outputs = {}
    for name, spec in design.outputs(params).items():
        raw = raw_outputs[f"{name}_raw"]
        outputs[f"{name}_raw"] = raw
        outputs[name] = dequantize(raw, spec.fmt) * spec.scale
    return outputs, counters


def failure_reason(result: SimRun) -> str:
    """The exception line (``SomeError: message``) of a failed run's log, else its first line naming an error."""
    if result.log.exists():
        lines = [line.strip() for line in result.log.read_text(errors="replace").splitlines()]
        reason = next((line for line in lines if re.match(r"[\w.]*(Error|Exception): ", line)), None) or \
            next((line for line in lines if "Error" in line), None)
        if reason:
            return reason
    return f"no test result; see {result.log}"
