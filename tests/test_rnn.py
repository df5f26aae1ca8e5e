"""circulant-lstm: model vs float LSTM, RTL vs bit-exact model over ≥ 8 time steps."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accelgen import registry
from accelgen.flows import simulate
from accelgen.params import resolve
from models.fixed import FixedFormat, dequantize, quantize
from models.rnn import lstm_float, lstm_raw, lstm_shape

from .conftest import rtl_run

FMT = FixedFormat(16, 10)


def realistic(seed: int, n_in: int, hidden: int, k: int, steps: int):
    """Weights scaled like a trained layer (≈ 1.5/√fan-in), biases ±0.5, inputs ±1 — the gates do not saturate."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, lstm_shape(n_in, hidden, k)) * 1.5 / np.sqrt(n_in + hidden)
    return w, rng.uniform(-0.5, 0.5, 4 * hidden), rng.uniform(-1, 1, (steps, n_in))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(8, 8, 4), (16, 16, 8), (16, 32, 16)]))
def test_bit_exact_lstm_within_stated_bound_of_float(seed, shape):
    """|h − h_float| ≤ 0.04 over 10 steps: PWL errors (≤ 0.0041 σ, ≤ 0.0151 tanh) carried through c."""
    n_in, hidden, k = shape
    w, b, x = (quantize(a, FMT) for a in realistic(seed, n_in, hidden, k, 10))
    h = dequantize(lstm_raw(w, b, x, FMT), FMT)
    reference = lstm_float(dequantize(w, FMT), dequantize(b, FMT), dequantize(x, FMT))
    assert np.abs(h - reference).max() <= 0.04


def test_state_carries_over_time():
    """The same input twice gives different outputs: h and c feed back."""
    w, b, x = (quantize(a, FMT) for a in realistic(3, 8, 8, 4, 1))
    h = lstm_raw(w, b, np.repeat(x, 2, axis=0), FMT)
    assert not np.array_equal(h[0], h[1])


def test_lstm_rtl_equals_model_random_words_under_stalls(tmp_path):
    rtl_run("circulant-lstm", {}, tmp_path, stall=0.3, batch=8)


def test_lstm_rtl_equals_model_on_realistic_weights_over_12_steps():
    design = registry.get("circulant-lstm")
    params = resolve(design, {})
    w, b, x = realistic(5, params["n_in"], params["hidden"], params["k"], 12)
    raw = simulate.prepare_inputs(design, params, {"w": w, "b": b, "x": x})
    outputs, counters = simulate.run_arrays(design, params, raw)
    expected = lstm_raw(raw["w_raw"], raw["b_raw"], raw["x_raw"], FMT)
    assert np.array_equal(outputs["h_raw"], expected)
    assert np.abs(outputs["h"]).max() > 0.05, "a live network, not saturated or dead gates"
    assert counters["steps"] == 12
