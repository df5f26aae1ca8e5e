"""Synthesis and the build job, end to end on a small dense-fc."""

import json
import os
import re
import subprocess
import sys

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import accelgen
from accelgen.cli import main
from accelgen.flows import export, synthesize

SMALL = {"n_in": 8, "n_out": 4, "parallelism": 2}


def test_ecp5_synthesis_reports_luts_and_dsps():
    acc = accelgen.design("dense-fc", **SMALL)
    result = acc.synthesize()
    assert set(result) >= {"target", "lut", "ff", "dsp", "bram", "fmax_mhz", "yosys_s", "pnr_s"}
    assert result["target"] == "ecp5"
    assert result["lut"] > 0 and result["ff"] > 0
    assert result["dsp"] == 2, "one MULT18X18D per MAC lane"
    assert result["fmax_mhz"] > 50
    steps = synthesize.critical_path(acc.verilog(), acc.toplevel, "ecp5")
    assert steps[0][0] == "clk-to-q" and {kind for kind, _, _ in steps} <= {"clk-to-q", "routing", "logic", "setup"}
    assert abs(sum(ns for _, ns, _ in steps) - 1000 / result["fmax_mhz"]) < 0.05, "the path is the one behind Fmax"
    again = acc.synthesize()
    assert again["cached"] and {k: v for k, v in again.items() if k != "cached"} == \
        {k: v for k, v in result.items() if k != "cached"}


def test_cached_only_runs_no_tool_until_the_point_is_cached(tmp_path, monkeypatch):
    """``cached_only`` (benchmarks' ``--cached-only``) answers ``None`` and writes nothing for an uncached point,
    and the cached result once a real run has filled the cache."""
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    acc = accelgen.design("dense-fc", n_in=2, n_out=1, parallelism=1)
    assert acc.synthesize(cached_only=True) is None
    assert not (tmp_path / "synth").exists()
    result = acc.synthesize()
    cached = acc.synthesize(cached_only=True)
    assert cached["cached"] and cached["fmax_mhz"] == result["fmax_mhz"]


def test_seeds_place_one_netlist_with_each_seed_and_give_the_median(tmp_path, monkeypatch):
    """``seeds=3``: seed 1 is the plain run's, seeds 2 and 3 are placed from the same netlist (each cached,
    with its own log behind its own critical path), the median is theirs."""
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    acc = accelgen.design("dense-fc", n_in=4, n_out=2, parallelism=2)
    single = acc.synthesize()
    assert acc.synthesize(seeds=3, cached_only=True) is None
    swept = acc.synthesize(seeds=3)
    fmaxes = swept["fmax_seeds_mhz"]
    assert len(fmaxes) == 3 and fmaxes[0] == single["fmax_mhz"] == swept["fmax_mhz"]
    assert swept["fmax_median_mhz"] == sorted(fmaxes)[1] and not swept["cached"]
    assert len(swept["pnr_seeds_s"]) == 3 and swept["pnr_seeds_s"][0] == single["pnr_s"]
    verilog = acc.verilog()
    for seed, fmax in enumerate(fmaxes, start=1):
        path = synthesize.critical_path(verilog, acc.toplevel, "ecp5", seed=seed)
        assert abs(sum(ns for _, ns, _ in path) - 1000 / fmax) < 0.05, f"seed {seed}'s own path"
    again = acc.synthesize(seeds=3, cached_only=True)
    assert again["cached"] and again["fmax_seeds_mhz"] == fmaxes
    assert {k: v for k, v in acc.synthesize().items() if k != "cached"} == \
        {k: v for k, v in single.items() if k != "cached"}, "the seed-1 result is unchanged by the sweep"


def test_a_timing_goal_reaches_nextpnr_and_is_cached_apart(tmp_path, monkeypatch):
    """``goal_mhz`` (``synth --goal``) is nextpnr's ``--freq``: its log checks the achieved Fmax against that
    goal, and the result sits apart from the default goal's."""
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    acc = accelgen.design("dense-fc", n_in=2, n_out=1, parallelism=1)
    result = acc.synthesize(goal_mhz=150)
    assert acc.synthesize(cached_only=True) is None, "the default goal's point is another one"
    text = export.elaborate(acc)[0]
    log = synthesize._nextpnr_log(synthesize._workdir(text, acc.toplevel, "ecp5", synthesize.PlaceRoute(150)),
                                  1).read_text()
    assert f"{result['fmax_mhz']:.2f} MHz ({'PASS' if result['fmax_mhz'] >= 150 else 'FAIL'} at 150.00 MHz)" in log
    path = synthesize.critical_path(text, acc.toplevel, "ecp5", goal_mhz=150)
    assert abs(sum(ns for _, ns, _ in path) - 1000 / result["fmax_mhz"]) < 0.05


def test_a_router_reaches_nextpnr_and_is_cached_apart(tmp_path, monkeypatch, capsys):
    """``synth --router router2`` runs nextpnr's router2 (its log says so; the default's does not) and caches
    its result apart; an unknown router exits 2 naming the allowed ones."""
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    acc = accelgen.design("dense-fc", n_in=2, n_out=1, parallelism=1)
    assert main(["synth", "dense-fc", "-p", "n_in=2", "-p", "n_out=1", "-p", "parallelism=1",
                 "--router", "router2"]) == 0
    assert acc.synthesize(cached_only=True) is None, "router1's point is another one"
    assert acc.synthesize(cached_only=True, router="router2")["cached"]
    text = export.elaborate(acc)[0]
    logs = {router: synthesize._nextpnr_log(synthesize._workdir(text, acc.toplevel, "ecp5",
                                                                 synthesize.PlaceRoute(router=router)), 1)
            for router in synthesize.ROUTERS}
    assert "Running router2" in logs["router2"].read_text() and not logs["router1"].exists()
    assert main(["synth", "dense-fc", "--router", "router3"]) == 2
    assert "router3" in capsys.readouterr().err


def test_place_only_reports_the_placement_estimate_and_is_cached_apart(tmp_path, monkeypatch, capsys):
    """``synth --place-only`` stops nextpnr after placement: Fmax is the placer's estimate (its log's
    last "Max frequency" line, no routing in the log), the result says so and sits apart from the routed one."""
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    acc = accelgen.design("dense-fc", n_in=2, n_out=1, parallelism=1)
    assert main(["synth", "dense-fc", "-p", "n_in=2", "-p", "n_out=1", "-p", "parallelism=1", "--place-only"]) == 0
    assert "placement estimate, not routed" in capsys.readouterr().out
    placed = acc.synthesize(cached_only=True, route=False)
    assert placed["placed_only"] and placed["fmax_mhz"] > 0 and placed["lut"] > 0
    assert acc.synthesize(cached_only=True) is None, "the routed point is another one"
    text = export.elaborate(acc)[0]
    log = synthesize._nextpnr_log(synthesize._workdir(text, acc.toplevel, "ecp5", synthesize.PlaceRoute(route=False)),
                                  1).read_text()
    estimates = re.findall(r"Max frequency for clock '[^']*': ([\d.]+) MHz", log)
    assert float(estimates[-1]) == pytest.approx(placed["fmax_mhz"], abs=0.01)
    assert "Routing" not in log and "Running router" not in log
    routed = acc.synthesize()
    assert "placed_only" not in routed


def test_slow_endpoints_count_what_misses_the_goal(tmp_path, monkeypatch):
    """Above the design's Fmax some endpoints miss the goal: the latest of them arrives when the critical path
    ends; asking for every endpoint within a period counts more; an endpoint group names cells with their
    indices replaced."""
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    acc = accelgen.design("dense-fc", n_in=2, n_out=1, parallelism=1)
    result = acc.synthesize(goal_mhz=400)
    text = export.elaborate(acc)[0]
    missing = synthesize.slow_endpoints(text, acc.toplevel, goal_mhz=400)
    assert result["fmax_mhz"] < 400 and missing
    assert abs(max(worst for _, _, worst, _ in missing) - 1000 / result["fmax_mhz"]) < 0.05
    assert all(worst >= 2.5 and "#" not in cell for _, _, worst, cell in missing)
    everything = synthesize.slow_endpoints(text, acc.toplevel, goal_mhz=400, within_ns=2.5)
    assert sum(count for _, count, _, _ in everything) > sum(count for _, count, _, _ in missing)
    assert any("#" in group for group, _, _, _ in everything)


def test_concurrent_synthesis_of_one_point_runs_the_tools_once(tmp_path):
    """Two processes synthesizing the same design point with two seeds at once (a benchmark and a cache
    warmer): each step (yosys and seed 1, seed 2) runs in one of them while the other waits on its lock
    and reads the result, so both report the same run times; the cache ends with one complete entry."""
    script = ("import json, accelgen; "
              "print(json.dumps(accelgen.design('dense-fc', n_in=2, n_out=1, parallelism=1).synthesize(seeds=2)))")
    env = {**os.environ, "ACCELGEN_CACHE": str(tmp_path)}
    runs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [json.loads(run.communicate()[0]) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert results[0]["lut"] == results[1]["lut"] and results[0]["fmax_seeds_mhz"] == results[1]["fmax_seeds_mhz"]
    timings = [(result["yosys_s"], result["pnr_seeds_s"]) for result in results]
    assert timings[0] == timings[1], f"each tool ran once: {timings}"
    entries = list((tmp_path / "synth").iterdir())
    assert len(entries) == 1 and (entries[0] / "result.json").exists() and (entries[0] / "nextpnr.log").exists()


def test_build_with_config_writes_report(tmp_path):
    config = "[dense-fc]\n" + "".join(f"{key} = {value}\n" for key, value in SMALL.items())
    (tmp_path / "small.toml").write_text(config)
    result = subprocess.run([sys.executable, "-m", "accelgen.cli", "build", "--config", "small.toml", "-o", "out"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "[1/1] dense-fc" in result.stderr
    report = (tmp_path / "out" / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| dense-fc"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == "pass" and int(cells[5]) == 2  # DSP column
    assert json.loads((tmp_path / "out" / "dense-fc" / "dense-fc.json").read_text())["design"] == "dense-fc"
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<td>dense-fc</td>" in page and "data:image/png;base64," in page
    assert '<a href="dense-fc/dense-fc.v">' in page


class CopiedTag(wiring.Component):
    """One input registered into four copies, each the clear of its own 8-bit accumulator."""

    tag: In(1)
    step: In(8)
    sums: Out(32)

    def __init__(self, keep: bool):
        self._keep = keep
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        for copy in range(4):
            tag = Signal(name=f"tag{copy}", attrs={"keep": 1} if self._keep else {})
            total = self.sums[8 * copy:8 * copy + 8]
            m.d.sync += [tag.eq(self.tag), total.eq(((total + self.step) & -~tag) ^ copy)]
        return m


def test_registers_marked_keep_are_not_merged():
    """Four identical copies of a register fold into one unless their signals carry ``keep``."""
    merged = synthesize.synthesize(export.component_verilog(CopiedTag(keep=False), "top"), "top", "ecp5")
    kept = synthesize.synthesize(export.component_verilog(CopiedTag(keep=True), "top"), "top", "ecp5")
    assert kept["ff"] == merged["ff"] + 3, (merged["ff"], kept["ff"])


def test_cache_lock_excludes_and_leaves_no_file(tmp_path):
    """Four processes each add one to a counter file under the same lock, 20 times, with a pause between
    reading and writing: no increment is lost, and no lock file is left behind."""
    counter = tmp_path / "counter"
    counter.write_text("0")
    script = ("import sys, time; from pathlib import Path; from accelgen.flows.cache import cache_lock\n"
              "counter = Path(sys.argv[1])\n"
              "for _ in range(20):\n"
              "    with cache_lock('shared'):\n"
              "        value = int(counter.read_text()); time.sleep(0.002); counter.write_text(str(value + 1))\n")
    env = {**os.environ, "ACCELGEN_CACHE": str(tmp_path)}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(counter)], env=env) for _ in range(4)]
    assert all(run.wait() == 0 for run in runs)
    assert int(counter.read_text()) == 80
    assert list((tmp_path / "locks").iterdir()) == []
