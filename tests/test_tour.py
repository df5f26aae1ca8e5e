"""The README's five-minute tour, command by command, on small parameters (kept in step with README.md)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["-p", "n_in=8", "-p", "n_out=4", "-p", "parallelism=2"]


def tour_block() -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"## Tour\n\n```sh\n(.*?)```", text, re.S).group(1)


def accelgen(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "accelgen.cli", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"accelgen {' '.join(map(str, args))}: {result.stderr}"
    return result


def test_readme_tour_shows_the_commands_the_tour_test_runs():
    block = tour_block()
    for command in ("accelgen list", "accelgen generate", "accelgen sim", "--waves", "accelgen synth", "--json",
                    "accelgen run", "accelgen build --config", "accelgen sweep", "accelgen aqfp map"):
        assert command in block, f"the tour no longer shows {command!r}; update this test with it"


def test_sim_writes_the_waves_it_names(tmp_path):
    """The tour's ``accelgen sim --waves`` (the other commands have default tests of their own)."""
    sim = accelgen("sim", "dense-fc", *SMALL, "--waves", cwd=tmp_path)
    assert "PASS" in sim.stdout
    (waves,) = re.findall(r"waves: (\S+)", sim.stdout)
    assert (tmp_path / waves).stat().st_size > 0


@pytest.mark.slow  # 25 s: the whole tour in one go
def test_readme_tour_commands_run(tmp_path):
    assert "dense-fc" in accelgen("list", cwd=tmp_path).stdout
    accelgen("generate", "dense-fc", *SMALL, cwd=tmp_path)
    assert (tmp_path / "rtl_out" / "dense-fc" / "dense-fc.v").exists()
    sim = accelgen("sim", "dense-fc", *SMALL, "--waves", cwd=tmp_path)
    assert "PASS" in sim.stdout and "waves:" in sim.stdout
    accelgen("synth", "dense-fc", *SMALL, "--json", "synth.json", cwd=tmp_path)
    assert json.loads((tmp_path / "synth.json").read_text())["lut"] > 0

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "in.npz", w=rng.uniform(-1, 1, (4, 8)), x=rng.uniform(-1, 1, (2, 8)))
    accelgen("run", "dense-fc", *SMALL, "--input", "in.npz", "--output", "out.npz", "--report", "report.json",
             cwd=tmp_path)
    with np.load(tmp_path / "out.npz") as out:
        assert out["y"].shape == (2, 4)

    (tmp_path / "my.toml").write_text("[dense-fc]\nn_in = 8\nn_out = 4\nparallelism = 2\n")
    accelgen("build", "--config", "my.toml", cwd=tmp_path)
    assert (tmp_path / "rtl_out" / "report.html").exists()
    accelgen("sweep", "dense-fc", *SMALL[:4], "-p", "parallelism=1,2", "--jobs", "2", cwd=tmp_path)
    assert (tmp_path / "rtl_out" / "dense-fc-pareto.png").exists()
    accelgen("aqfp", "map", ROOT / "benchmarks" / "circuits" / "adders.v", "--top", "add4", "-o", "add4.json",
             cwd=tmp_path)
    assert json.loads((tmp_path / "add4.json").read_text())["depth_phases"] > 0
