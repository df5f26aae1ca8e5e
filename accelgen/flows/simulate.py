"""``sim`` and ``run``: push arrays through the RTL in cocotb.

``sim`` draws random inputs (:func:`random_inputs`), runs the design's
testbench with random valid/ready stalls and compares every output word with
the design's golden model (``Design.golden``) here, on the host.

``run`` takes the user's arrays, checks names, shapes, dtypes and ranges
against the design's :class:`ArraySpec`\\ s (:func:`prepare_inputs`), drives
them through the RTL without stalls and returns the raw outputs and the
simulation counters.

Every function takes a design object (``accelgen.api.Design``): its
``params``, ``inputs()``, ``outputs()``, ``testbench`` and ``golden()``.
"""

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.fixed import quantize
from sim.runner import SimulatorError, run_job
from sim.scoreboard import first_mismatch

from ..errors import UserError
from .cache import cache_dir
from .export import elaborate

__all__ = ["SimulationResult", "random_inputs", "prepare_inputs", "simulate", "run_arrays", "failure_reason"]


def _size_key(axis) -> str | None:
    """The name a free axis's size is kept under (``"batch"`` for ``None``); ``None`` for a fixed size."""
    if axis is None:
        return "batch"
    return None if isinstance(axis, int) else axis.name


def _is_named(axis) -> bool:
    """Whether ``axis`` is a named free axis (``accelgen.api.Axis``)."""
    return axis is not None and not isinstance(axis, int)


def _concrete(shape: tuple, sizes: dict) -> tuple:
    return tuple(axis if _size_key(axis) is None else sizes[_size_key(axis)] for axis in shape)


def random_inputs(design, rng: np.random.Generator, batch: int = 3) -> dict:
    """Raw test vectors: every row at a random magnitude, so both rounding and saturation are hit.

    Each row of each input is uniform over ``±2**(m-1)`` for a random ``m`` in
    ``[1, width]``; one row of the first batch carries the format's extremes.
    """
    arrays, specs = {}, design.inputs()
    sizes = {"batch": batch, **{axis.name: axis.sample for spec in specs.values() for axis in spec.shape
                                if _is_named(axis)}}
    for name, spec in specs.items():
        shape = _concrete(spec.shape, sizes)
        rows = shape[0] if shape else 1
        magnitudes = rng.integers(1, spec.fmt.width + 1, size=rows)
        data = np.stack([rng.integers(-(1 << (m - 1)), 1 << (m - 1), size=shape[1:], dtype=np.int64)
                         for m in magnitudes]) if shape else np.zeros(shape, dtype=np.int64)
        if data.size:
            flat = data.reshape(-1)
            flat[0], flat[-1] = spec.fmt.min_raw, spec.fmt.max_raw
        arrays[f"{name}_raw"] = data
    return arrays


def _check_shape(name: str, array: np.ndarray, spec, sizes: dict):
    """Check ``array`` against ``spec``'s shape; record its free axes' sizes in ``sizes`` (name -> size,
    filled by the first array that has the axis)."""
    expected = spec.shape
    fixed_mismatch = any(_size_key(want) is None and got != want for got, want in zip(array.shape, expected))
    if array.ndim != len(expected) or fixed_mismatch:
        shown = "(" + ", ".join("batch" if axis is None else str(axis) for axis in expected) + \
            ("," if len(expected) == 1 else "") + ")"
        raise UserError(f"array {name!r} has shape {array.shape}; expected {shown}")
    for dim, (got, want) in enumerate(zip(array.shape, expected)):
        key = _size_key(want)
        if want is None and (got < 1 or sizes.get(key, got) != got):
            raise UserError(f"array {name!r} has batch size {got}; expected {sizes.get(key, 'at least 1')} "
                            "(same for every input)")
        if _is_named(want):
            if not 1 <= got <= want.hi:
                raise UserError(f"array {name!r} has {key}={got} (axis {dim}), out of range [1, {want.hi}] "
                                f"({want.param}={want.hi})")
            if sizes.get(key, got) != got:
                raise UserError(f"array {name!r} has {key}={got} (axis {dim}); the arrays before it have "
                                f"{key}={sizes[key]}")
        if key is not None:
            sizes[key] = got


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


def prepare_inputs(design, arrays: dict) -> dict:
    """Validate the user's arrays (names, shapes, dtypes, ranges) and return the raw inputs."""
    specs = design.inputs()
    allowed = sorted({*specs, *(f"{name}_raw" for name in specs)})
    for name in arrays:
        if name not in allowed:
            raise UserError(f"unexpected array {name!r} for {design.name}; "
                            + (f"allowed: {', '.join(allowed)}" if allowed else "it takes no input arrays"))
    raw, sizes = {}, {}
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    for name, spec in specs.items():
        if name not in arrays and f"{name}_raw" not in arrays:
            raise UserError(f"missing array {name!r} (or {name}_raw) for {design.name}")
        source = arrays.get(f"{name}_raw", arrays.get(name))
        _check_shape(name, source, spec, sizes)
        raw[f"{name}_raw"] = _raw_from(name, arrays, spec)
    return raw


@dataclass
class SimulationResult:
    """One simulation: did the RTL pass its testbench and equal the golden model word for word.

    ``reason`` is empty when it passed, else the first mismatch or the
    testbench's exception line; ``outputs`` are the RTL's raw arrays.
    """

    passed: bool
    reason: str
    counters: dict
    outputs: dict
    log: Path
    waves: Path | None
    cached_build: bool


def _job(design, *, check: bool, stall: float, seed: int) -> dict:
    """The job file: the design, its parameters, its outputs' shapes (``None`` for the batch axis) and the run's
    settings."""
    shapes = {name: spec.shape_json() for name, spec in design.outputs().items()}
    return {"design": design.name, "params": design.params, "outputs": shapes, "check": check, "stall": stall,
            "seed": seed}


def _launch(design, inputs: dict, job: dict, job_dir: Path, simulator: str, waves: bool) -> SimulationResult:
    """Run the testbench on ``inputs`` in the existing ``job_dir``; when the job checks, compare with
    ``design.golden(inputs)``."""
    np.savez(job_dir / "inputs.npz", **inputs)
    run = run_job(verilog=elaborate(design)[0], toplevel=design.toplevel, test_module=design.testbench,
                  job=job, job_dir=job_dir, build_cache=cache_dir() / "sim", simulator=simulator, waves=waves)
    outputs, counters = run.outputs(), run.counters()
    reason = "" if run.passed else failure_reason(run.log)
    if run.passed and job["check"]:
        reason = first_mismatch(outputs, design.golden(inputs)) or ""
    return SimulationResult(passed=not reason, reason=reason, counters=counters, outputs=outputs, log=run.log,
                            waves=run.waves, cached_build=run.cached_build)


def simulate(design, *, job_dir=None, simulator="verilator", waves=False, stall=0.3, seed=1,
             batch=3, raw_inputs: dict | None = None, extra: dict | None = None) -> SimulationResult:
    """``batch`` rows of random inputs (or the validated ``raw_inputs``) through the RTL under stalls, checked
    against the golden model.

    ``job_dir`` (default ``rtl_out/<design>/sim/``) keeps the inputs, the log and the waves; ``extra``
    holds settings one testbench alone reads (``sim/tb_<family>.py`` documents them).
    """
    inputs = raw_inputs if raw_inputs is not None else random_inputs(design, np.random.default_rng(seed), batch)
    job = {**_job(design, check=True, stall=stall, seed=seed), "extra": extra or {}}
    job_dir = Path(job_dir if job_dir is not None else Path("rtl_out") / design.name / "sim")
    try:
        job_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot use {job_dir} as the job directory: {error.strerror}") from None
    return _launch(design, inputs, job, job_dir, simulator, waves)


def run_arrays(design, raw_inputs: dict, *, simulator="verilator") -> tuple[dict, dict]:
    """The user's (validated, raw) inputs through the RTL, no stalls; returns (raw outputs, counters)."""
    with tempfile.TemporaryDirectory(prefix="accelgen-run-") as directory:
        job = _job(design, check=False, stall=0.0, seed=0)
        result = _launch(design, raw_inputs, job, Path(directory), simulator, False)
        if not result.passed:
            raise SimulatorError(f"simulation of {design.name} failed: {result.reason}")
    return {f"{name}_raw": result.outputs[f"{name}_raw"] for name in design.outputs()}, result.counters


def failure_reason(log: Path) -> str:
    """The exception line (``SomeError: message``) of a failed run's log, else its first line naming an error."""
    if log.exists():
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
        reason = next((line for line in lines if re.match(r"[\w.]*(Error|Exception): ", line)), None) or \
            next((line for line in lines if "Error" in line), None)
        if reason:
            return reason
    return f"no test result; see {log}"
