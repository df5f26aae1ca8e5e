"""``accelgen sweep``: grid, Pareto front, and the same results on a 2-worker LocalCluster as in-process."""

import csv

import pytest

from accelgen.cli import main
from accelgen.errors import UserError
from accelgen.flows import sweep


def test_grid_is_the_cartesian_product_in_order():
    points = sweep.grid("dense-fc", {"n_in": "8,16", "parallelism": "1,2,4"})
    assert [(p["n_in"], p["parallelism"]) for p in points] == [(8, 1), (8, 2), (8, 4), (16, 1), (16, 2), (16, 4)]


def test_grid_rejects_bad_values():
    with pytest.raises(UserError, match="parallelism=0 out of range"):
        sweep.grid("dense-fc", {"parallelism": "1,0"})


def test_pareto_front():
    rows = [{"lut": 100, "fmax_mhz": 50, "cycles": None}, {"lut": 200, "fmax_mhz": 40, "cycles": None},
            {"lut": 300, "fmax_mhz": 90, "cycles": None}, {"lut": 100, "fmax_mhz": 60, "cycles": None}]
    assert sweep.pareto(rows) == [False, False, True, True]


def test_sweep_on_a_local_cluster_matches_direct_evaluation(tmp_path, capsys):
    argv = ["sweep", "pwl", "-p", "function=sigmoid,tanh", "-p", "width=12", "-p", "frac=8",
            "--jobs", "2", "-o", str(tmp_path)]
    assert main(argv) == 0
    with open(tmp_path / "pwl-sweep.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["function"], r["width"]) for r in rows] == [("sigmoid", "12"), ("tanh", "12")]
    for row in rows:
        params = {"function": row["function"], "width": int(row["width"]), "frac": int(row["frac"])}
        direct = sweep.evaluate("pwl", params, "ecp5", False)
        assert int(row["lut"]) == direct["lut"] and float(row["fmax_mhz"]) == direct["fmax_mhz"]
    assert (tmp_path / "pwl-pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_unreachable_scheduler_exits_2(capsys):
    assert main(["sweep", "pwl", "-p", "width=16", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach Dask scheduler" in capsys.readouterr().err
