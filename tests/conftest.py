"""Shared helpers: resolve a design's parameters and run its cocotb test through the real flow."""

import pytest

from accelgen import registry
from accelgen.flows import simulate
from accelgen.params import resolve


def rtl_run(name: str, overrides: dict, job_dir, *, stall: float, seed: int = 1, batch: int = 3):
    """Simulate ``name`` with random vectors; fail the test with the scoreboard's message."""
    design = registry.get(name)
    params = resolve(design, overrides)
    result = simulate.simulate(design, params, job_dir=job_dir, stall=stall, seed=seed, batch=batch)
    if not result.passed:
        pytest.fail(f"{name} {params}: {simulate.failure_reason(result)}")
    return params, result
