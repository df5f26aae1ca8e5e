"""``conv``: the model against scipy.signal.correlate and an explicit im2col product; the circulant
weight convention; the RTL against the model under random stalls (line buffer edge cases)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import correlate

from models.conv import (circulant_columns, conv_float, conv_raw, dense_matrix, dense_weights, output_size, pool_float,
                         pool_raw, windows)
from models.fixed import FixedFormat, dequantize, quantize

from .conftest import rtl_run

FMT = FixedFormat(16, 10)


def scipy_conv(w, x):
    """Independent reference: per image, output channel and input channel, scipy's valid correlation."""
    return np.stack([np.stack([sum(correlate(image[i], w[o, i], mode="valid") for i in range(w.shape[1]))
                               for o in range(w.shape[0])]) for image in x])


shapes = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 7), st.integers(1, 3), st.integers(1, 3))


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_float_model_equals_scipy_correlate_and_the_im2col_product(shape, seed):
    c_in, c_out, size, kernel, batch = shape
    kernel = min(kernel, size)
    rng = np.random.default_rng(seed)
    w, x = rng.normal(size=(c_out, c_in, kernel, kernel)), rng.normal(size=(batch, c_in, size, size))
    reference = scipy_conv(w, x)
    out = output_size(size, kernel)
    im2col = (windows(x, kernel) @ dense_matrix(w).T).reshape(batch, out, out, c_out).transpose(0, 3, 1, 2)
    assert np.allclose(conv_float(w, x), reference) and np.allclose(im2col, reference)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_dense_bit_exact_model_within_half_an_lsb_of_float(shape, seed):
    c_in, c_out, size, kernel, batch = shape
    kernel = min(kernel, size)
    rng = np.random.default_rng(seed)
    w_raw = quantize(rng.uniform(-0.5, 0.5, (c_out, c_in, kernel, kernel)), FMT)
    x_raw = quantize(rng.uniform(-1, 1, (batch, c_in, size, size)), FMT)
    y = dequantize(conv_raw("dense", w_raw, x_raw, FMT), FMT)
    exact = scipy_conv(dequantize(w_raw, FMT), dequantize(x_raw, FMT))
    assert np.abs(y - exact).max() <= FMT.lsb / 2


@pytest.mark.parametrize("k, q, p", [(2, 1, 1), (4, 2, 3), (8, 1, 2)])
def test_circulant_weights_follow_the_convention_and_the_model_its_bound(k, q, p):
    """``W[o, i, u, v] = w[o//k, i//k, u, v, (o mod k − i mod k) mod k]`` everywhere; the bit-exact model
    within the circulant engine's ``(2 + k)·√(r²q)`` LSB of the float convolution (docs/circulant.md)."""
    rng = np.random.default_rng(k * 10 + q)
    r, size = 3, 5
    w = rng.uniform(-0.3, 0.3, (p, q, r, r, k))
    big = dense_weights(w)
    for o, i, u, v in np.ndindex(big.shape):
        assert big[o, i, u, v] == w[o // k, i // k, u, v, (o % k - i % k) % k]
    assert circulant_columns(w).shape == (p, r * r * q, k)
    w_raw, x_raw = quantize(w, FMT), quantize(rng.uniform(-1, 1, (2, q * k, size, size)), FMT)
    y = dequantize(conv_raw("circulant", w_raw, x_raw, FMT), FMT)
    exact = scipy_conv(dense_weights(dequantize(w_raw, FMT)), dequantize(x_raw, FMT))
    assert np.abs(y - exact).max() <= (2 + k) * np.sqrt(r * r * q) * FMT.lsb


# Line buffer edge cases, one Verilator build each: the default circulant point (shared with tests/test_api.py),
# a 1×1 kernel (two row slots, every pixel its own window) and a kernel as large as the image (one output pixel).
RTL_POINTS = [
    {},
    {"engine": "circulant", "c_in": 4, "c_out": 8, "size": 3, "kernel": 1, "k": 4, "parallelism": 1},
    {"engine": "dense", "c_in": 2, "c_out": 3, "size": 4, "kernel": 4, "parallelism": 2, "width": 10, "frac": 5},
]


@pytest.mark.parametrize("point", RTL_POINTS, ids=["default", "kernel1", "kernel-size"])
def test_rtl_equals_model_under_stalls(point, tmp_path):
    rtl_run("conv", point, tmp_path, stall=0.3, batch=2)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 6), st.integers(1, 3)),
       engine=st.sampled_from(["dense", "circulant"]), data=st.data())
def test_rtl_equals_model_on_random_shapes_under_stalls(tmp_path, shape, engine, data):
    c_in, c_out, size, kernel = shape
    k = 2
    point = {"engine": engine, "c_in": c_in * (k if engine == "circulant" else 1),
             "c_out": c_out * (k if engine == "circulant" else 1), "size": size, "kernel": min(kernel, size),
             "k": k, "parallelism": data.draw(st.integers(1, 2 if engine == "circulant" else c_out))}
    rtl_run("conv", point, tmp_path, stall=0.3, seed=data.draw(st.integers(1, 1000)), batch=2)


# -- pooling ----------------------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(st.integers(1, 3), st.integers(2, 7), st.integers(1, 2)), seed=st.integers(0, 2**16))
def test_pool_model_equals_an_explicit_loop_and_avg_is_the_rounded_mean(shape, seed):
    channels, size, batch = shape
    x_raw = np.random.default_rng(seed).integers(-2**15, 2**15, (batch, channels, size, size))
    half = size // 2
    for kind in ("max", "avg"):
        loop = np.zeros((batch, channels, half, half))
        for n, c, a, b in np.ndindex(loop.shape):
            block = x_raw[n, c, 2 * a:2 * a + 2, 2 * b:2 * b + 2]
            loop[n, c, a, b] = block.max() if kind == "max" else block.mean()
        assert np.allclose(pool_float(kind, x_raw), loop)
        raw = pool_raw(kind, x_raw)
        if kind == "max":
            assert np.array_equal(raw, loop)
        else:
            assert np.all((raw - loop > -0.5) & (raw - loop <= 0.5)), "the mean rounded half up"


@pytest.mark.parametrize("point", [{}, {"kind": "avg", "channels": 3, "size": 5},
                                   {"kind": "max", "channels": 1, "size": 3, "width": 8, "frac": 3}],
                         ids=["default-max", "avg-odd-size", "max-one-channel"])
def test_pool_rtl_equals_model_under_stalls(point, tmp_path):
    rtl_run("pool", point, tmp_path, stall=0.3, batch=3)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(channels=st.integers(1, 4), size=st.integers(2, 7), kind=st.sampled_from(["max", "avg"]), data=st.data())
def test_pool_rtl_equals_model_on_random_shapes_under_stalls(tmp_path, channels, size, kind, data):
    point = {"channels": channels, "size": size, "kind": kind}
    rtl_run("pool", point, tmp_path, stall=data.draw(st.sampled_from([0.1, 0.5, 0.8])),
            seed=data.draw(st.integers(1, 1000)), batch=2)


# -- the CNN's training ------------------------------------------------------------------------------------------------


def test_cnn_gradients_match_finite_differences():
    from models.train.cnn import CNN

    rng = np.random.default_rng(0)
    model = CNN(rng)
    data, labels = rng.uniform(0, 1, (4, 64)), rng.integers(0, 10, 4)

    def loss():
        logits = model.forward(data.reshape(-1, 1, 8, 8))[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        return -(shifted[np.arange(4), labels] - np.log(np.exp(shifted).sum(axis=1))).mean()

    grads = model.gradients(data, labels)
    for name in ("conv1", "conv2", "fc", "conv2_b"):
        flat = model.params[name].reshape(-1)
        for index in rng.choice(flat.size, 3, replace=False):
            saved = flat[index]
            flat[index] = saved + 1e-6
            up = loss()
            flat[index] = saved - 1e-6
            down = loss()
            flat[index] = saved
            assert abs((up - down) / 2e-6 - grads[name].reshape(-1)[index]) < 1e-5, (name, index)
