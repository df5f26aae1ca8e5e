"""Shared helpers: run a design's testbench through the real flow (the Python API)."""

import pytest

import accelgen


def rtl_run(name: str, overrides: dict, job_dir, *, stall: float, seed: int = 1, batch: int = 3):
    """Simulate ``name`` with random vectors, checked against its model; fail the test with the mismatch."""
    acc = accelgen.design(name, **overrides)
    result = acc.simulate(job_dir=job_dir, stall=stall, seed=seed, batch=batch)
    if not result.passed:
        pytest.fail(f"{acc!r}: {result.reason}")
    return acc.params, result
