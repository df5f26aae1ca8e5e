"""On the board: a design behind the host link, simulated (``simulate_link``) or placed, packed and
programmed for a real ECP5 board (``deploy``); docs/board.md."""

import tempfile
from pathlib import Path

import numpy as np

from hw.link import HostLink
from sim.runner import run_job

from ..errors import UserError
from .cache import cache_dir
from .export import component_verilog

__all__ = ["SIM_DIVISOR", "LINK_TOP", "simulate_link"]

SIM_DIVISOR = 4  # clock cycles per UART bit in simulation (the fastest the receiver allows)
LINK_TOP = "accelgen_link"


def simulate_link(design, raw: dict, *, corrupt=(), divisor: int = SIM_DIVISOR) -> tuple[dict, dict]:
    """``raw`` through ``design`` behind the host link in Verilator, driven by the host's own session:
    ``(raw outputs, counters)``. ``corrupt`` frames are sent damaged first (then again, intact)."""
    try:
        design.stream_plan(raw)
    except NotImplementedError as error:
        raise UserError(str(error)) from None
    verilog = component_verilog(HostLink(design.component(), divisor=divisor), LINK_TOP)
    job = {"design": design.name, "params": design.params, "outputs": {}, "check": False, "stall": 0.0,
           "seed": 0, "extra": {"divisor": divisor, "corrupt": list(corrupt)}}
    with tempfile.TemporaryDirectory(prefix="accelgen-link-") as directory:
        np.savez(Path(directory) / "inputs.npz", **raw)
        run = run_job(verilog=verilog, toplevel=LINK_TOP, test_module="sim.tb_link", job=job,
                      job_dir=Path(directory), build_cache=cache_dir() / "sim")
        if not run.passed:
            from .simulate import failure_reason
            raise RuntimeError(f"link simulation of {design.name} failed: {failure_reason(run.log)}")
        return run.outputs(), run.counters()
