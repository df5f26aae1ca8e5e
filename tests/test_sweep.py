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


@pytest.mark.slow  # waits out the scheduler's connection timeout: ~10 s
def test_unreachable_scheduler_exits_2(capsys):
    assert main(["sweep", "pwl", "-p", "width=16", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach Dask scheduler" in capsys.readouterr().err


def test_train_needs_a_task_the_design_knows(tmp_path, capsys):
    assert main(["sweep", "pwl", "-p", "width=16", "--train", "digits", "-o", str(tmp_path)]) == 2
    assert "--train digits not allowed for pwl; it has no training task" in capsys.readouterr().err
    assert main(["sweep", "circulant-gru", "-p", "k=4", "--train", "mnist", "-o", str(tmp_path)]) == 2
    assert "--train mnist not allowed for circulant-gru; allowed: digits" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_accuracy_column_and_panel():
    rows = [{"k": k, "lut": lut, "fmax_mhz": 100.0, "cycles": None, "accuracy": accuracy}
            for k, lut, accuracy in ((2, 900, 0.98), (4, 600, 0.977), (8, 400, 0.967))]
    front = sweep.pareto(rows)
    text = sweep._csv_text(rows, front)
    assert text.splitlines()[0] == "k,lut,fmax_mhz,cycles,accuracy,throughput,pareto"
    assert sweep._plot_png("circulant-lstm", rows, front)[:4] == b"\x89PNG"


@pytest.mark.slow
def test_sweep_trains_each_point(tmp_path):
    """Two block sizes of the LSTM, synthesized and trained on digits: accuracy in the CSV (slow: two
    LSTM syntheses)."""
    argv = ["sweep", "circulant-lstm", "-p", "n_in=8", "-p", "hidden=32", "-p", "k=4,8", "--train", "digits",
            "-o", str(tmp_path)]
    assert main(argv) == 0
    with open(tmp_path / "circulant-lstm-sweep.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["k"] for row in rows] == ["4", "8"] and all(0.9 < float(row["accuracy"]) <= 1 for row in rows)
