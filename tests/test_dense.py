"""dense-fc: model vs numpy, RTL vs model (random shapes, values, stalls), cycle model vs RTL counters."""

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accelgen
from models.dense import cycles_per_vector, dense_fc_float, dense_fc_from_float, dense_fc_raw
from models.fixed import FixedFormat, dequantize, quantize

from .conftest import rtl_run


@st.composite
def raw_problem(draw):
    width = draw(st.integers(4, 20))
    fmt = FixedFormat(width, draw(st.integers(0, width - 1)))
    n_in, n_out, batch = draw(st.integers(1, 20)), draw(st.integers(1, 10)), draw(st.integers(1, 4))
    magnitude = 1 << draw(st.integers(0, width - 1))
    ints = st.integers(-magnitude, magnitude - 1)
    w = np.array(draw(st.lists(ints, min_size=n_out * n_in, max_size=n_out * n_in))).reshape(n_out, n_in)
    x = np.array(draw(st.lists(ints, min_size=batch * n_in, max_size=batch * n_in))).reshape(batch, n_in)
    return fmt, w, x


@given(raw_problem())
def test_bit_exact_model_within_half_lsb_of_float(problem):
    """On grid inputs the only error is the final rounding: ≤ 2**-(frac+1), unless saturated."""
    fmt, w_raw, x_raw = problem
    exact = dense_fc_float(dequantize(w_raw, fmt), dequantize(x_raw, fmt))
    y = dequantize(dense_fc_raw(w_raw, x_raw, fmt), fmt)
    unsaturated = (exact >= fmt.min_value) & (exact <= fmt.max_value)
    assert np.all(np.abs(y - exact)[unsaturated] <= fmt.lsb / 2)
    assert np.all(y[exact > fmt.max_value] == fmt.max_value)
    assert np.all(y[exact < fmt.min_value] == fmt.min_value)


@given(st.integers(1, 64), st.integers(1, 16), st.integers(0, 2**32 - 1))
def test_float_inputs_error_bound(n_in, n_out, seed):
    """From arbitrary floats in [-1, 1): |error| ≤ lsb/2 · (Σ|w| + Σ|x| + n_in·lsb/2) + lsb/2 (quantization + rounding)."""
    rng = np.random.default_rng(seed)
    fmt = FixedFormat(16, 10)
    w, x = rng.uniform(-1, 1, (n_out, n_in)), rng.uniform(-1, 1, (2, n_in))
    error = np.abs(dense_fc_from_float(w, x, fmt) - dense_fc_float(w, x))
    q = fmt.lsb / 2
    bound = q * (np.abs(x).sum(axis=1)[:, None] + np.abs(w).sum(axis=1)[None, :] + n_in * q) + q
    assert np.all(error <= bound)


def test_model_matches_integer_reference_on_a_worked_example():
    fmt = FixedFormat(8, 2)  # lsb 0.25, range [-32, 31.75]
    w = np.array([[4, -4], [127, 127]])  # 1.0, -1.0 ; 31.75, 31.75
    x = np.array([[6, 3]])  # 1.5, 0.75
    # row 0: 1.5 - 0.75 = 0.75 -> raw 3; row 1: 31.75 * 2.25 = 71.4 -> saturates at 127
    assert dense_fc_raw(w, x, fmt).tolist() == [[3, 127]]


SHAPES = [
    {"n_in": 1, "n_out": 1, "parallelism": 1},
    {"n_in": 7, "n_out": 5, "parallelism": 2},   # n_out not a multiple of P
    {"n_in": 16, "n_out": 8, "parallelism": 8},  # P == n_out: one group
    {"n_in": 5, "n_out": 9, "parallelism": 4, "width": 8, "frac": 3},
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
def test_rtl_equals_model_under_stalls(shape, tmp_path):
    rtl_run("dense-fc", shape, tmp_path, stall=0.4, seed=3, batch=4)


@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_in=st.integers(1, 12), n_out=st.integers(1, 9), lanes=st.integers(1, 4),
       width=st.sampled_from([8, 12, 16]), seed=st.integers(0, 2**16), stall=st.floats(0.0, 0.7))
def test_rtl_equals_model_random_shapes(n_in, n_out, lanes, width, seed, stall, tmp_path_factory):
    shape = {"n_in": n_in, "n_out": n_out, "parallelism": min(lanes, n_out), "width": width, "frac": width // 2}
    rtl_run("dense-fc", shape, tmp_path_factory.mktemp("job"), stall=stall, seed=seed, batch=3)


@pytest.mark.parametrize("shape", SHAPES[1:3], ids=["P2", "P8"])
def test_rtl_cycles_equal_cycle_model(shape, tmp_path):
    params, result = rtl_run("dense-fc", shape, tmp_path, stall=0.0, batch=3)
    expected = 3 * cycles_per_vector(params["n_in"], params["n_out"], params["parallelism"])
    assert result.counters["cycles"] == expected


def test_scoreboard_catches_a_model_mismatch(tmp_path, monkeypatch):
    """The check can fail: RTL built with frac=10 but scored against a model told frac=9."""
    acc = accelgen.design("dense-fc", n_in=4, n_out=2, parallelism=1)
    wrong = FixedFormat(16, 9)
    monkeypatch.setattr(acc, "golden", lambda raw: {"y_raw": dense_fc_raw(raw["w_raw"], raw["x_raw"], wrong)})
    result = acc.simulate(job_dir=tmp_path, stall=0.0)
    assert not result.passed
    assert result.reason.startswith("y_raw: ")


def test_user_floats_through_rtl_match_model():
    """`run`'s path: float arrays quantized, pushed through the RTL, dequantized back."""
    acc = accelgen.design("dense-fc", n_in=6, n_out=3, parallelism=3)
    rng = np.random.default_rng(7)
    arrays = {"w": rng.uniform(-2, 2, (3, 6)), "x": rng.uniform(-2, 2, (4, 6))}
    outputs, counters = acc.run(arrays)
    fmt = FixedFormat(16, 10)
    assert np.array_equal(outputs["y_raw"], dense_fc_raw(quantize(arrays["w"], fmt), quantize(arrays["x"], fmt), fmt))
    assert counters["cycles"] == 4 * cycles_per_vector(6, 3, 3)


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus is optional: apt-get install iverilog")
def test_icarus_agrees_with_model(tmp_path):
    acc = accelgen.design("dense-fc", n_in=5, n_out=3, parallelism=2)
    result = acc.simulate(job_dir=tmp_path, simulator="icarus", stall=0.3)
    assert result.passed, result.reason
