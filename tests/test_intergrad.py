"""Intergrad: exact gradients, counters == SCALE-Sim, RTL == model (values and counters), bad input."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scalesim.compute.systolic_compute_os import systolic_compute_os
from scalesim.compute.systolic_compute_ws import systolic_compute_ws
from scalesim.scale_config import scale_config

from accelgen.cli import main
from models.intergrad import balanced_stages, baseline, counters, gradients, scalesim_counts

from .conftest import rtl_run

small = st.integers(1, 12)


@given(small, small, st.integers(1, 6), st.data())
def test_gradients_equal_the_definition(n_o, n_i, batch, data):
    ints = st.integers(-128, 127)
    w = np.array(data.draw(st.lists(ints, min_size=n_o * n_i, max_size=n_o * n_i))).reshape(n_o, n_i)
    x = np.array(data.draw(st.lists(ints, min_size=n_i * batch, max_size=n_i * batch))).reshape(n_i, batch)
    delta = np.array(data.draw(st.lists(ints, min_size=n_o * batch, max_size=n_o * batch))).reshape(n_o, batch)
    result = gradients(w, x, delta)
    for i in range(n_i):
        for b in range(batch):
            assert result["dx"][i, b] == sum(int(w[o, i]) * int(delta[o, b]) for o in range(n_o))
    for o in range(n_o):
        for i in range(n_i):
            assert result["dw"][o, i] == sum(int(delta[o, b]) * int(x[i, b]) for b in range(batch))


def _scalesim(dataflow: str, m: int, k: int, n: int, rows: int, cols: int) -> dict:
    """Drive the scalesim package's compute class; cycles = rows of the demand matrix."""
    config = scale_config()
    config.update_from_list(["accelgen", rows, cols, 64, 64, 64, 0, 10**7, 2 * 10**7, dataflow, "CALC", 0])
    compute = systolic_compute_ws() if dataflow == "ws" else systolic_compute_os()
    compute.set_params(config_obj=config, ifmap_op_mat=np.arange(m * k).reshape(m, k),
                       filter_op_mat=10**7 + np.arange(k * n).reshape(k, n),
                       ofmap_op_mat=2 * 10**7 + np.arange(m * n).reshape(m, n))
    compute.create_demand_matrices()
    ifmap, filt, ofmap = compute.get_demand_matrices()
    return {"cycles": ifmap.shape[0], "ifmap_reads": int((ifmap >= 0).sum()),
            "filter_reads": int((filt >= 0).sum()), "ofmap_writes": int((ofmap >= 0).sum())}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 20), st.integers(1, 8), st.integers(1, 8))
def test_ws_and_os_counts_equal_scalesim(n_o, n_i, batch, rows, cols):
    """dX as SCALE-Sim WS (M,K,N) = (B, N_o, N_i); dW as OS (N_o, B, N_i): cycles and traffic exact."""
    assert scalesim_counts("ws", n_o, n_i, batch, rows, cols) == _scalesim("ws", batch, n_o, n_i, rows, cols)
    assert scalesim_counts("os", n_o, n_i, batch, rows, cols) == _scalesim("os", n_o, batch, n_i, rows, cols)


@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 20), st.integers(1, 8), st.integers(1, 8))
def test_rtl_counter_model_extends_scalesim(n_o, n_i, batch, rows, cols):
    """The RTL's counters in SCALE-Sim's terms: same compute cycles, δ/W/X reads, dX/dW writes."""
    ws, os_ = (counters(n_o, n_i, batch, rows, cols, mode) for mode in ("ws", "os"))
    s_ws, s_os = scalesim_counts("ws", n_o, n_i, batch, rows, cols), scalesim_counts("os", n_o, n_i, batch, rows, cols)
    assert ws["compute_cycles"] == ws["cycles"] == s_ws["cycles"]
    assert (ws["sram_reads"]["delta"], ws["sram_reads"]["w"], ws["sram_writes"]["dx"]) == (
        s_ws["ifmap_reads"], s_ws["filter_reads"], s_ws["ofmap_writes"])
    assert os_["compute_cycles"] == s_os["cycles"] and os_["cycles"] == s_os["cycles"] + rows + 1
    assert (os_["sram_reads"]["delta"], os_["sram_reads"]["x"], os_["sram_writes"]["dw"]) == (
        s_os["ifmap_reads"], s_os["filter_reads"], s_os["ofmap_writes"])


@pytest.mark.parametrize("n_o, n_i, batch, rows, cols", [(6, 5, 3, 4, 4), (16, 16, 4, 8, 8)])
def test_overlapped_drain_keeps_os_within_15_percent_of_scalesim(n_o, n_i, batch, rows, cols):
    """Each fold's accumulators drain beside the next fold: OS (and interleaved) take SCALE-Sim's compute
    cycles plus one drain per layer — 41 against 36 and 81 against 72 here, 52 and 104 when every fold
    drained serially."""
    for mode in ("os", "interleaved"):
        model = counters(n_o, n_i, batch, rows, cols, mode)
        assert model["cycles"] <= 1.15 * model["compute_cycles"], (mode, model)
    assert counters(n_o, n_i, batch, rows, cols, "os")["cycles"] == {(6, 5): 41, (16, 16): 81}[(n_o, n_i)]


def test_interleaving_reads_delta_once():
    n_o, n_i, batch, rows, cols = 200, 784, 8, 16, 16
    both, apart = counters(n_o, n_i, batch, rows, cols, "interleaved"), baseline(n_o, n_i, batch, rows, cols)
    assert both["sram_reads"]["delta"] * 2 == apart["sram_reads"]["delta"]
    assert both["cycles"] < apart["cycles"]


def _compare_counters(params, result):
    measured = result.counters
    model = counters(params["n_o"], params["n_i"], params["batch"], params["rows"], params["cols"], params["mode"])
    assert measured["cycles"] == model["cycles"]
    assert measured["sram_reads"] == model["sram_reads"]
    assert measured["sram_writes"] == model["sram_writes"]


@pytest.mark.parametrize("mode", ["ws", pytest.param("os", marks=pytest.mark.slow), "interleaved"])
def test_rtl_equals_model_and_counters_under_stalls(mode, tmp_path):
    """Each mode is its own Verilator build; OS (the plain output-stationary baseline) runs with -m slow,
    keeping the default pytest under 15 minutes."""
    params, result = rtl_run("intergrad", {"mode": mode}, tmp_path, stall=0.3)
    _compare_counters(params, result)


@settings(max_examples=1, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9), st.integers(1, 4))
def test_rtl_random_shapes(tmp_path_factory, rows, cols, n_o, n_i, batch):
    """Shapes that are not multiples of the array, batch 1 included (each example is a Verilator build)."""
    overrides = {"rows": rows, "cols": cols, "n_o": n_o, "n_i": n_i, "batch": batch, "mode": "interleaved"}
    params, result = rtl_run("intergrad", overrides, tmp_path_factory.mktemp("ig"), stall=0.2)
    _compare_counters(params, result)


def test_run_returns_gradients_and_counters(tmp_path):
    rng = np.random.default_rng(3)
    arrays = {"w": rng.integers(-100, 100, (6, 5)), "x": rng.integers(-100, 100, (5, 3)),
              "delta": rng.integers(-100, 100, (6, 3))}
    np.savez(tmp_path / "in.npz", **arrays)
    argv = ["run", "intergrad", "--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "out.npz"),
            "--report", str(tmp_path / "report.json")]
    assert main(argv) == 0
    exact = gradients(arrays["w"], arrays["x"], arrays["delta"])
    with np.load(tmp_path / "out.npz") as out:
        assert np.array_equal(out["dx"], exact["dx"]) and np.array_equal(out["dw"], exact["dw"])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["sram_reads"] == counters(6, 5, 3, 4, 4, "interleaved")["sram_reads"]


def test_overflow_is_an_error_not_a_wrap(tmp_path, capsys):
    arrays = {"w_raw": np.full((6, 5), 127), "x_raw": np.full((5, 3), 127), "delta_raw": np.full((6, 3), -128)}
    np.savez(tmp_path / "in.npz", **arrays)
    argv = ["run", "intergrad", "-p", "acc_width=16", "--input", str(tmp_path / "in.npz"),
            "--output", str(tmp_path / "out.npz")]
    assert main(argv) == 2
    assert "dx[0, 0] may reach ±97536, out of range [-32768, 32767] for acc_width=16" in capsys.readouterr().err
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("argv, message", [
    (["-p", "acc_width=12"], "acc_width=12 out of range [16, 31]"),
    (["-p", "mode=wsos"], "mode=wsos not allowed"),
    (["-p", "rows=0"], "rows=0 out of range"),
])
def test_bad_parameters_exit_2(argv, message, tmp_path, capsys):
    assert main(["generate", "intergrad", *argv, "-o", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_wrong_shape_exits_2(tmp_path, capsys):
    np.savez(tmp_path / "in.npz", w=np.zeros((6, 4)), x=np.zeros((5, 3)), delta=np.zeros((6, 3)))
    assert main(["run", "intergrad", "--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "o.npz")]) == 2
    assert "array 'w' has shape (6, 4); expected (6, 5)" in capsys.readouterr().err


@given(st.lists(st.integers(1, 50), min_size=1, max_size=7), st.integers(1, 4))
def test_balanced_stages_is_the_best_contiguous_split(costs, processors):
    best = sum(costs)
    for cuts in range(min(processors, len(costs))):
        for points in itertools.combinations(range(1, len(costs)), cuts):
            bounds = [0, *points, len(costs)]
            best = min(best, max(sum(costs[a:b]) for a, b in zip(bounds, bounds[1:])))
    assert balanced_stages(costs, processors) == best
