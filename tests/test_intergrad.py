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

import accelgen
from accelgen.cli import main
from models.intergrad import balanced_stages, baseline, counters, gradients, iso_area, scalesim_counts, ws_only
from models.train.admm import MLP, load_split
from models.train.backprop import dequantized_dw, integer_backprop, next_delta

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


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 20), st.integers(1, 8), st.integers(1, 8))
def test_ws_only_baseline_is_two_scalesim_ws_gemms(n_o, n_i, batch, rows, cols):
    """The papers' "WS" baseline: dX as before, dW = δ·Xᵀ as SCALE-Sim's WS GEMM (M, K, N) = (N_o, B, N_i)."""
    both, dx = ws_only(n_o, n_i, batch, rows, cols), counters(n_o, n_i, batch, rows, cols, "ws")
    dw = _scalesim("ws", n_o, batch, n_i, rows, cols)
    assert both["cycles"] == dx["cycles"] + dw["cycles"]
    assert both["sram_reads"]["delta"] == dx["sram_reads"]["delta"] + dw["ifmap_reads"]
    assert both["sram_reads"]["x"] == dw["filter_reads"] and both["sram_writes"]["dw"] == dw["ofmap_writes"]


def test_iso_area_arrangements():
    """Side by side, the longer run counts; one-MAC interleaving streams each δ twice as long but once."""
    runs = iso_area(200, 784, 8, 16, 16)
    ws, os_ = (counters(200, 784, 8, 16, 8, mode) for mode in ("ws", "os"))
    assert runs["WS ∥ OS, two half arrays"]["cycles"] == max(ws["cycles"], os_["cycles"])
    assert runs["WS ∥ OS, two half arrays"]["sram_reads"]["delta"] == ws["sram_reads"]["delta"] * 2
    one_mac, two_mac = (counters(200, 784, 8, 16, 16, "interleaved", pe) for pe in ("one-mac", "two-mac"))
    folds = 13 * 49
    assert one_mac["compute_cycles"] - two_mac["compute_cycles"] == folds * 8
    assert one_mac["sram_reads"] == two_mac["sram_reads"]


def test_interleaving_reads_delta_once():
    n_o, n_i, batch, rows, cols = 200, 784, 8, 16, 16
    both, apart = counters(n_o, n_i, batch, rows, cols, "interleaved"), baseline(n_o, n_i, batch, rows, cols)
    assert both["sram_reads"]["delta"] * 2 == apart["sram_reads"]["delta"]
    assert both["cycles"] < apart["cycles"]


def _compare_counters(params, result):
    measured = result.counters
    layer = measured["layer"]
    model = counters(layer["n_o"], layer["n_i"], layer["batch"], params["rows"], params["cols"], params["mode"],
                     params["pe"], params["pipeline"])
    assert measured["cycles"] == model["cycles"]
    assert measured["sram_reads"] == model["sram_reads"]
    assert measured["sram_writes"] == model["sram_writes"]


@pytest.mark.parametrize("mode, pe, pipeline", [
    pytest.param("ws", "two-mac", 0, marks=pytest.mark.slow), pytest.param("os", "two-mac", 0, marks=pytest.mark.slow),
    ("interleaved", "two-mac", 0),
    pytest.param("interleaved", "one-mac", 0, marks=pytest.mark.slow), ("ws", "two-mac", 1), ("os", "two-mac", 1),
    pytest.param("interleaved", "one-mac", 1, marks=pytest.mark.slow)])  # default: in the random-shape test
def test_rtl_equals_model_and_counters_under_stalls(mode, pe, pipeline, tmp_path):
    """Each mode is its own Verilator build; WS and OS without pipelining (the plain baselines) run with
    -m slow, keeping the default pytest under 15 minutes. Pipelined arrays take LUT multipliers in their last row."""
    overrides = {"mode": mode, "pe": pe, "pipeline": pipeline, "lut_rows": pipeline}
    params, result = rtl_run("intergrad", overrides, tmp_path, stall=0.3)
    _compare_counters(params, result)


@settings(max_examples=2, deadline=None)
@given(st.integers(1, 9), st.integers(1, 7), st.integers(1, 5), st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("array", [pytest.param(dict(rows=3, cols=2, pe="two-mac"), marks=pytest.mark.slow),
                                   dict(rows=3, cols=2, pe="one-mac"),
                                   dict(rows=3, cols=2, pe="one-mac", pipeline=1, lut_rows=1),
                                   dict(rows=1, cols=1, pe="two-mac", pipeline=1)])
def test_one_array_computes_every_layer_shape(tmp_path_factory, array, n_o, n_i, batch, seed):
    """Run-time shapes: one generated array (one Verilator build each) takes layers that are not multiples
    of it, single rows, columns and batch included, under random stalls; gradients and counters exact.
    The 1×1 pipelined array has folds shorter than its pipeline: drains and dx sums overlap the next fold."""
    acc = accelgen.design("intergrad", max_n_o=9, max_n_i=7, max_batch=5, **array)
    rng = np.random.default_rng(seed)
    arrays = {"w_raw": rng.integers(-128, 128, (n_o, n_i)), "x_raw": rng.integers(-128, 128, (n_i, batch)),
              "delta_raw": rng.integers(-128, 128, (n_o, batch))}
    result = acc.simulate(arrays, job_dir=tmp_path_factory.mktemp("ig"), stall=0.2, seed=seed)
    assert result.passed, result.reason
    assert result.counters["layer"] == {"n_o": n_o, "n_i": n_i, "batch": batch}
    _compare_counters(acc.params, result)


def test_a_one_phase_stream_ends_after_its_phase(tmp_path):
    """A 1×1 array of one-slot PEs streams a batch of 1 in a single phase (``S·batch + R + C - 3 = 0``):
    the controller's look-ahead stream end must fire in the stream's first cycle. The gradients would be
    right with a longer stream, so the cycle counter is what checks it. Same array as the run-time shape
    test's 1×1 point (one Verilator build)."""
    acc = accelgen.design("intergrad", max_n_o=9, max_n_i=7, max_batch=5, rows=1, cols=1, pe="two-mac",
                          pipeline=1)
    rng = np.random.default_rng(5)
    arrays = {"w_raw": rng.integers(-128, 128, (2, 3)), "x_raw": rng.integers(-128, 128, (3, 1)),
              "delta_raw": rng.integers(-128, 128, (2, 1))}
    result = acc.simulate(arrays, job_dir=tmp_path, stall=0.2, seed=5)
    assert result.passed, result.reason
    _compare_counters(acc.params, result)


@pytest.mark.slow  # 14 s; run-time shapes through one array are in test_one_array_computes_every_layer_shape
def test_a_training_step_of_the_digits_mlp_runs_through_one_array(tmp_path):
    """Backprop of the digits MLP 64-64-64-10 at batch 8: every layer's dX and dW through one generated 4×4
    array in one simulation (no reset between layers, stalls on every stream), exact; each next δ is formed
    from the RTL's own dX; counters equal the model's; dW within 3 % of the float gradients."""
    data = load_split()
    model = MLP((64, 64, 64, 10), np.random.default_rng(0))
    x, y = data.x_train[:8], data.y_train[:8]
    step = integer_backprop(model, x, y)
    acc = accelgen.design("intergrad", max_n_o=64, max_n_i=64, max_batch=8)
    outputs, measured = acc.run_layers(step.layers, stall=0.1, job_dir=tmp_path)
    reference = model.gradients(x, y)
    assert [m["layer"]["n_o"] for m in measured] == [10, 64, 64]
    for k, name in enumerate(step.names):
        arrays = step.layers[k]
        exact = gradients(arrays["w_raw"], arrays["x_raw"], arrays["delta_raw"])
        assert np.array_equal(outputs[k]["dx_raw"], exact["dx"]) and np.array_equal(outputs[k]["dw_raw"], exact["dw"])
        if step.active[k] is not None:
            delta, _ = next_delta(outputs[k]["dx_raw"], step.active[k], step.width)
            assert np.array_equal(delta, step.layers[k + 1]["delta_raw"])
        model_counts = counters(*arrays["w_raw"].shape, arrays["x_raw"].shape[1], 4, 4, "interleaved")
        assert measured[k]["cycles"] == model_counts["cycles"]
        assert measured[k]["sram_reads"] == model_counts["sram_reads"]
        float_dw, dw = reference[f"w{name[2:]}"], dequantized_dw(step, k, outputs[k]["dw_raw"])
        assert np.linalg.norm(dw - float_dw) < 0.03 * np.linalg.norm(float_dw), name


def test_sim_checks_the_users_own_layer_under_stalls(tmp_path, capsys):
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "layer.npz", w=rng.integers(-128, 128, (9, 7)), x=rng.integers(-128, 128, (7, 2)),
             delta=rng.integers(-128, 128, (9, 2)))
    assert main(["sim", "intergrad", "--input", str(tmp_path / "layer.npz"), "-o", str(tmp_path / "job")]) == 0
    out = capsys.readouterr().out
    assert "intergrad: PASS" in out and "layer={'batch': 2, 'n_i': 7, 'n_o': 9}" in out


def test_the_verilog_does_not_depend_on_the_layer():
    """No layer size is a generation parameter: one file serves every layer up to the maxima."""
    names = {param.name for param in accelgen.design("intergrad").parameters}
    assert not names & {"n_o", "n_i", "batch"}
    assert "shape_in" in {port["name"].split("__")[0] for port in accelgen.design("intergrad").ports()}


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


@pytest.mark.parametrize("shapes, message", [
    ({"w": (6, 4), "x": (5, 3), "delta": (6, 3)}, "array 'x' has n_i=5 (axis 0); the arrays before it have n_i=4"),
    ({"w": (17, 5), "x": (5, 3), "delta": (17, 3)}, "array 'w' has n_o=17 (axis 0), out of range [1, 16] (max_n_o=16)"),
    ({"w": (6, 5), "x": (5, 9), "delta": (6, 9)}, "array 'x' has batch=9 (axis 1), out of range [1, 8] (max_batch=8)"),
    ({"w": (6, 5), "x": (5, 3, 1), "delta": (6, 3)}, "array 'x' has shape (5, 3, 1); expected (n_i, batch)"),
])
def test_wrong_shape_exits_2(shapes, message, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", **{name: np.zeros(shape) for name, shape in shapes.items()})
    assert main(["run", "intergrad", "--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "o.npz")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


@given(st.lists(st.integers(1, 50), min_size=1, max_size=7), st.integers(1, 4))
def test_balanced_stages_is_the_best_contiguous_split(costs, processors):
    best = sum(costs)
    for cuts in range(min(processors, len(costs))):
        for points in itertools.combinations(range(1, len(costs)), cuts):
            bounds = [0, *points, len(costs)]
            best = min(best, max(sum(costs[a:b]) for a, b in zip(bounds, bounds[1:])))
    assert balanced_stages(costs, processors) == best
