"""bnn-mlp: Bayes-by-Backprop on digits, fixed-point sampling model vs float BNN and exact integer math,
RTL == model at several depths and lane counts, bad input."""

import json
import math

import numpy as np
import pytest

import accelgen
from accelgen.cli import main
from accelgen.flows.simulate import random_inputs, simulate
from models.bnn import (GRNG_BITS, bnn_mlp_raw, cycles_for_images, fixed_point_accuracy, posterior_words,
                        quantize_posterior, weight_segments)
from models.fixed import FixedFormat, dequantize, quantize, requantize
from models.train.admm import load_split
from models.train.bnn import perturb, predict_float, train_bnn, upscaled

from .conftest import rtl_run

FMT = FixedFormat(16, 10)
PASSES = 8
LANES = 4  # bnn-mlp's default
LFSR_LUT_SHAPE = {"layers": "7-12-4-3", "lanes": 10, "width": 8, "frac": 4, "weight_extra_frac": 3, "passes": 2,
                  "eps_bits": 16, "grng": "lfsr", "spread": "lut"}


@pytest.fixture(scope="module")
def posterior():
    data = load_split()
    return data, train_bnn(data)


def quantized(params: dict) -> dict:
    return quantize_posterior(params, FMT)


def test_quantize_posterior_stores_mu_sigma_prime_and_bias_in_their_formats():
    """μ in Q(width, weight_frac), σ' = σ/√eps_bits in Q(width, width − 1), the bias in the activations'
    format: exact words for values on each grid."""
    posterior = {"mu1": np.array([[0.25, -0.5]]), "sigma1": np.array([[0.5 * math.sqrt(32), 0.0]]),
                 "b1": np.array([1.0])}
    raw = quantize_posterior(posterior, FixedFormat(8, 4), eps_bits=32, weight_frac=7)
    assert raw["mu1"].tolist() == [[32, -64]]
    assert raw["sigma1"].tolist() == [[64, 0]]
    assert raw["b1"].tolist() == [16]
    assert quantize_posterior(posterior, FixedFormat(8, 4), eps_bits=32)["mu1"].tolist() == [[4, -8]]


def test_hardware_model_accuracy_within_one_point_of_float_bnn(posterior):
    data, params = posterior
    x, y = data.x_test[:200], data.y_test[:200]
    float_mean, _ = predict_float(params, x, PASSES, np.random.default_rng(0))
    float_accuracy = (float_mean.argmax(axis=1) == y).mean()
    mean_raw, _ = bnn_mlp_raw(quantized(params), quantize(x, FMT), FMT, PASSES, seed=1)
    fixed_accuracy = (mean_raw.argmax(axis=1) == y).mean()
    assert float_accuracy > 0.9
    assert abs(fixed_accuracy - float_accuracy) <= 0.01, (fixed_accuracy, float_accuracy)


def test_uncertainty_is_higher_on_perturbed_inputs(posterior):
    data, params = posterior
    x = data.x_test[:100]
    noisy = perturb(x, np.random.default_rng(5))
    weights = quantized(params)
    _, var_clean = bnn_mlp_raw(weights, quantize(x, FMT), FMT, PASSES, seed=2)
    _, var_noisy = bnn_mlp_raw(weights, quantize(noisy, FMT), FMT, PASSES, seed=2)
    clean, shaken = dequantize(var_clean, FMT).mean(), dequantize(var_noisy, FMT).mean()
    assert shaken > 1.05 * clean, (clean, shaken)


def test_rtl_runs_the_trained_posterior_bit_exactly(posterior, tmp_path):
    """Float posterior through ``run`` (quantized there): RTL output == model; cycles == the cycle model."""
    data, params = posterior
    arrays = {**params, "x": data.x_test[:2]}
    np.savez(tmp_path / "in.npz", **arrays)
    argv = ["run", "bnn-mlp", "--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "out.npz"),
            "--report", str(tmp_path / "report.json")]
    assert main(argv) == 0
    mean, var = bnn_mlp_raw(quantized(params), quantize(arrays["x"], FMT), FMT, PASSES, seed=1, lanes=LANES)
    with np.load(tmp_path / "out.npz") as out:
        assert np.array_equal(out["mean_raw"], mean) and np.array_equal(out["var_raw"], var)
    cycles = json.loads((tmp_path / "report.json").read_text())["cycles"]
    assert cycles == cycles_for_images([64, 16, 10], PASSES, LANES, 2)


def test_rtl_equals_model_under_stalls(tmp_path):
    rtl_run("bnn-mlp", {}, tmp_path, stall=0.3, batch=1)  # the default build, shared with the run test


def test_rtl_equals_model_at_8_bits(tmp_path):
    """VIBNN's 8-bit words: σ' and μ in Q8.7 (σ'·ε needs no rounding), activations Q8.4, ε from 16 fresh
    bits, bit-exact under stalls."""
    shape = {"layers": "5-3-2", "lanes": 1, "width": 8, "frac": 4, "weight_extra_frac": 3, "passes": 2, "eps_bits": 16}
    rtl_run("bnn-mlp", shape, tmp_path, stall=0.3, batch=2)


def test_rtl_equals_model_with_register_epsilon_and_lut_spread(tmp_path):
    """ε from the paired register LFSRs (no block RAM) in two groups of 8 and 2 lanes, each its own clock
    enable, and σ'·ε in LUTs; 8-bit words, under stalls."""
    rtl_run("bnn-mlp", LFSR_LUT_SHAPE, tmp_path, stall=0.3, batch=2)


def test_a_reset_during_an_image_leaves_no_partial_sum(tmp_path):
    """The sums, the result chain and the lane pipeline have no reset net (the restarts are high out of
    reset): ``rst`` raised in an image's MAC, drain and result steps, then the images again. With σ' = 0
    (ε, whose generator state a reset keeps, does not matter) the scores equal the model's."""
    design = accelgen.design("bnn-mlp", **LFSR_LUT_SHAPE)
    inputs = random_inputs(design, np.random.default_rng(5), batch=2)
    inputs.update({name: np.zeros_like(value) for name, value in inputs.items() if name.startswith("sigma")})
    result = simulate(design, job_dir=tmp_path, stall=0.0, raw_inputs=inputs, extra={"resets": [30, 9, 16]})
    assert result.passed, result.reason


# One layer on lanes that divide it (5-3 on 3) and more lanes than any layer run with -m slow: 6-1 is one
# layer too, and 3-40-2 on 16 lanes has lanes past its last neurons.
@pytest.mark.parametrize("layers, lanes", [("7-5-4-3", 2), ("6-9-3-2", 4),
                                           pytest.param("5-3", 3, marks=pytest.mark.slow), ("4-1-3", 1), ("3-40-2", 16),
                                           pytest.param("6-5-3", 12, marks=pytest.mark.slow), ("6-1", 1)],
                         ids=["three-layers", "lanes-past-the-last-neuron", "one-layer", "one-neuron-layer",
                              "groups-wait-for-the-result-chain", "more-lanes-than-any-layer",
                              "one-output-read-as-soon-as-it-is-summed"])
def test_rtl_equals_model_at_any_depth_and_lane_count(layers, lanes, tmp_path):
    """Depths 1–3, lanes that do and do not divide a layer, 10-bit words, under stalls; the cycle
    count equals the cycle model's. Weight memories: one shared by three layers (7-5-4-3 on 2 lanes),
    three of 4, 3 and 2 lanes (6-9-3-2 on 4)."""
    shape = {"layers": layers, "lanes": lanes, "width": 10, "frac": 5, "passes": 2}
    _, result = rtl_run("bnn-mlp", shape, tmp_path, stall=0.0, batch=2)
    assert result.counters["cycles"] == cycles_for_images([int(n) for n in layers.split("-")], 2, lanes, 2)
    rtl_run("bnn-mlp", shape, tmp_path, stall=0.3, batch=2)


def test_posterior_words_are_the_weight_memory_rows_then_the_biases():
    """Word by word: row (layer, group, input) holds lane p's μ then σ' for neuron group·lanes + p, zero
    past the last neuron; a layer with fewer neurons than lanes stores only its own; biases last."""
    rng = np.random.default_rng(5)
    sizes, lanes = [3, 6, 5, 2], 4
    raw = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        for kind in ("mu", "sigma"):
            raw[f"{kind}{layer}_raw"] = rng.integers(-99, 100, (n_out, n_in))
        raw[f"b{layer}_raw"] = rng.integers(-99, 100, n_out)
    expected = []
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        for group in range(math.ceil(n_out / lanes)):
            for i in range(n_in):
                for kind in ("mu", "sigma"):
                    for lane in range(min(lanes, n_out)):
                        neuron = group * lanes + lane
                        expected.append(int(raw[f"{kind}{layer}_raw"][neuron, i]) if neuron < n_out else 0)
    for layer in range(1, len(sizes)):
        expected.extend(int(b) for b in raw[f"b{layer}_raw"])
    assert posterior_words(raw, lanes).tolist() == expected
    assert weight_segments(sizes, lanes) == [([0, 1], 4), ([2], 2)]


def test_zero_sigma_is_the_deterministic_fixed_point_mlp():
    """σ = 0: the mean is exactly the fixed-point MLP (exact integer math here), the variance 0."""
    rng = np.random.default_rng(3)
    sizes, fmt = [12, 9, 7, 4], FixedFormat(12, 6)
    x = quantize(rng.uniform(0, 1, (3, sizes[0])), fmt)
    weights = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        weights[f"mu{layer}"] = quantize(rng.uniform(-0.6, 0.6, (n_out, n_in)), fmt)
        weights[f"sigma{layer}"] = np.zeros((n_out, n_in), dtype=np.int64)
        weights[f"b{layer}"] = quantize(rng.uniform(-0.2, 0.2, n_out), fmt)
    scores = []
    for image in x:
        a = [int(v) for v in image]
        for layer in range(1, len(sizes)):
            mu, b = weights[f"mu{layer}"], weights[f"b{layer}"]
            totals = [sum(int(w) * v for w, v in zip(row, a)) + (int(bias) << fmt.frac) for row, bias in zip(mu, b)]
            a = [int(v) for v in requantize(np.array(totals), fmt.frac, fmt.width)]
            a = [max(v, 0) for v in a] if layer < len(sizes) - 1 else a
        scores.append(a)
    for lanes in (1, 3):
        mean, var = bnn_mlp_raw(weights, x, fmt, 4, 1, lanes)
        assert np.array_equal(mean, np.array(scores)) and not var.any()


def test_negative_sigma_and_bad_passes_exit_2(posterior, tmp_path, capsys):
    data, params = posterior
    broken = {**params, "x": data.x_test[:1]}
    broken["sigma2"] = broken["sigma2"].copy()
    broken["sigma2"][1, 2] = -0.1
    np.savez(tmp_path / "in.npz", **broken)
    assert main(["run", "bnn-mlp", "--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "o.npz")]) == 2
    assert "sigma2[1, 2] < 0" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
    assert main(["generate", "bnn-mlp", "-p", "passes=6", "-o", str(tmp_path / "g")]) == 2
    assert "passes=6 is not a power of two" in capsys.readouterr().err
    for layers, message in (("64", "layers=64 is not a list of sizes; allowed: sizes in [1, 4096]"),
                            ("64-0-10", "layers=64-0-10: size 0 out of range"),
                            ("64-16-100", "layers=64-16-100: 100 classes out of range [1, 64]")):
        assert main(["generate", "bnn-mlp", "-p", f"layers={layers}", "-o", str(tmp_path / "g")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "g").exists()


@pytest.fixture(scope="module")
def vibnn_posterior():
    """784-200-200-10 trained by Bayes by Backprop on the digits zoomed to 28×28 (a few minutes)."""
    data = upscaled(load_split())
    assert data.x_train.shape[1] == 784 and data.x_train.min() >= 0 and data.x_train.max() <= 1
    return data, train_bnn(data, hidden=(200, 200), epochs=20, lr=1e-3)


@pytest.mark.slow
def test_vibnn_network_fixed_point_accuracy_within_one_point_of_float(vibnn_posterior):
    """The bit-exact Q16.10 model with 128 lanes within 1 point of the float BNN over the whole test split
    (about a minute of model time)."""
    data, posterior = vibnn_posterior
    float_mean, _ = predict_float(posterior, data.x_test, PASSES, np.random.default_rng(0))
    float_accuracy = (float_mean.argmax(axis=1) == data.y_test).mean()
    mean_raw, _ = bnn_mlp_raw(quantized(posterior), quantize(data.x_test, FMT), FMT, PASSES, seed=1, lanes=128)
    fixed_accuracy = (mean_raw.argmax(axis=1) == data.y_test).mean()
    assert float_accuracy > 0.9
    assert abs(fixed_accuracy - float_accuracy) <= 0.01, (fixed_accuracy, float_accuracy)


@pytest.mark.slow
def test_vibnn_network_in_8_bit_words_within_one_point_of_float(vibnn_posterior):
    """VIBNN's 8-bit words as synthesized on the LFE5U-85F (activations Q8.4, μ Q8.7, 40 lanes, ε from the
    register LFSRs): mean accuracy over five seeds of the passes' randomness within 1 point of the float
    BNN's over the same five (one 8-pass estimate on 450 images scatters by more than a point; about five
    minutes of model time). μ in Q8.4, the control, is tens of points off."""
    data, posterior = vibnn_posterior
    fmt, seeds = FixedFormat(8, 4), range(1, 6)

    def fixed_accuracy(weight_frac, seed):
        return fixed_point_accuracy(posterior, data.x_test, data.y_test, fmt, PASSES, seed, 40, GRNG_BITS,
                                    weight_frac, "lfsr")

    float_accuracy = np.mean([(predict_float(posterior, data.x_test, PASSES, np.random.default_rng(seed))[0]
                               .argmax(axis=1) == data.y_test).mean() for seed in seeds])
    fixed = np.mean([fixed_accuracy(fmt.frac + 3, seed) for seed in seeds])
    assert abs(fixed - float_accuracy) <= 0.01, (fixed, float_accuracy)
    assert fixed_accuracy(fmt.frac, 1) < float_accuracy - 0.2
