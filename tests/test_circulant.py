"""Block-circulant family: math utilities vs dense numpy, FFT model vs numpy.fft, RTL vs bit-exact model."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw.common.banked import block_ram_words
from hw.common.fixed import complex_layout
from hw.fft import StreamingFFT, output_depth
from models.circulant import (block_circulant, circulant_fc_float, circulant_fc_raw, circulant_matvec,
                              cycles_per_vector, project_block_circulant)
from models.fft import irfft_raw, rfft_raw, stream_cycles
from models.fixed import FixedFormat, dequantize, quantize

from .conftest import rtl_run

K_VALUES = [2, 4, 8, 16, 32, 64]
seeds = st.integers(0, 2**32 - 1)


def test_block_circulant_follows_the_spec_index_convention():
    w = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    matrix = block_circulant(w)
    for r, c, i, j in np.ndindex(2, 3, 4, 4):
        assert matrix[r * 4 + i, c * 4 + j] == w[r, c, (i - j) % 4]


@given(seeds, st.sampled_from([2, 4, 8]), st.integers(1, 3), st.integers(1, 3))
def test_projection_is_the_nearest_block_circulant_matrix(seed, k, p, q):
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(p * k, q * k))
    w = project_block_circulant(dense, k)
    assert np.allclose(project_block_circulant(block_circulant(w), k), w)  # idempotent
    residual = dense - block_circulant(w)
    other = block_circulant(rng.normal(size=(p, q, k)))
    assert abs(np.sum(residual * other)) < 1e-9  # residual ⟂ the block-circulant subspace


@given(seeds, st.sampled_from(K_VALUES), st.integers(1, 3), st.integers(1, 3))
def test_fft_product_equals_dense_product(seed, k, p, q):
    rng = np.random.default_rng(seed)
    w, x = rng.normal(size=(p, q, k)), rng.normal(size=(2, q * k))
    assert np.allclose(circulant_matvec(w, x), circulant_fc_float(w, x))


@given(seeds, st.sampled_from(K_VALUES), st.integers(4, 20))
def test_fft_model_full_scale_has_headroom_and_tracks_numpy(seed, k, width):
    """Full-scale inputs never overflow (the model raises if they did); error per part ≤ (log2 k + 1)/2 LSB of
    rounding plus 2**(width − 16) LSB of twiddle quantization (|ΔW| ≤ √2·2**-16 on |B| ≤ √2·2**(width−1),
    halved by every later stage)."""
    rng = np.random.default_rng(seed)
    top = 1 << (width - 1)
    x = rng.integers(-top, top, (3, k))
    x[0] = top - 1
    x[1] = np.where(np.arange(k) % 2, -top, top - 1)  # the Nyquist extreme
    re, im = rfft_raw(x, width)
    reference = np.fft.rfft(x) / k
    bound = (np.log2(k) + 1) / 2 + 2.0 ** (width - 16)
    assert np.abs(re - reference.real).max() <= bound and np.abs(im - reference.imag).max() <= bound


@given(seeds, st.sampled_from(K_VALUES))
def test_inverse_model_full_scale_has_headroom(seed, k):
    width = 16
    rng = np.random.default_rng(seed)
    limit = 1 << (width + 1)
    z = rng.integers(-limit, limit, (2, 2, k // 2 + 1))
    z[0, 0], z[1, 0] = limit - 1, -limit
    z[1, :, 0] = z[1, :, -1] = 0
    y = irfft_raw(z[0], z[1], width, k)
    spectrum = z[0] + 1j * z[1]
    spectrum[:, 0], spectrum[:, -1] = spectrum[:, 0].real, spectrum[:, -1].real
    # Rounding: at most k LSB; twiddles (Q(18, 15), error ≤ 2**-16 per part) add
    # ≤ log2(k) · 2**-15 of the largest possible output, Σ|Z| over the k bins.
    largest = 2 * np.abs(spectrum).sum(axis=-1, keepdims=True)
    bound = k + np.log2(k) * largest * 2.0**-15
    assert np.all(np.abs(y - np.fft.irfft(spectrum, n=k) * k) <= bound)


@settings(max_examples=40, deadline=None)
@given(seeds, st.sampled_from(K_VALUES), st.integers(1, 6))
def test_bit_exact_model_within_stated_bound_of_float(seed, k, q):
    """Empirical bound: |y − y_float| ≤ (2 + k)·√q LSB for w ~ U(±2/√n_in), x ~ U(±4) (docs/circulant.md)."""
    rng = np.random.default_rng(seed)
    fmt = FixedFormat(16, 10)
    w = quantize(rng.uniform(-1, 1, (2, q, k)) * 2 / np.sqrt(q * k), fmt)
    x = quantize(rng.uniform(-4, 4, (3, q * k)), fmt)
    y = dequantize(circulant_fc_raw(w, x, fmt), fmt)
    reference = circulant_fc_float(dequantize(w, fmt), dequantize(x, fmt))
    assert np.abs(y - reference).max() <= (2 + k) * np.sqrt(q) * fmt.lsb


# k = 16 has every kind of stage (trivial, shift-add eighth turns, DSP multiplier, delay-line rings); k = 2's
# unit also runs inside circulant-fc's k = 2 shape below. The other sizes are a slow sweep (one Verilator
# build each, about 25 s).
FFT_RTL_K = [pytest.param(k, marks=() if k == 16 else pytest.mark.slow) for k in K_VALUES]


@pytest.mark.parametrize("k", FFT_RTL_K)
def test_fft_rtl_equals_model(k, tmp_path):
    """Forward (real input, scaled) and inverse (Hermitian, unscaled) passes, random stalls, full-scale rows."""
    rtl_run("fft", {"k": k}, tmp_path, stall=0.3, seed=k)


def test_fft_rtl_cycles(tmp_path):
    _, result = rtl_run("fft", {"k": 16}, tmp_path, stall=0.0)
    assert result.counters["cycles"] == stream_cycles(16, 3)


@pytest.mark.parametrize("k", [2, 4, 8, 16])
def test_fft_admits_a_block_exactly_when_its_output_buffer_has_room(k):
    """``result`` stalled: blocks enter until the output buffer could not hold another. Then words are taken
    one at a time (``2k`` idle cycles after each, so a block boundary passes): the next block enters once
    the words admitted and not yet taken are at most ``output_depth(k) − k`` — no overflow, no wasted room."""
    dut = StreamingFFT(k=k, width=8, natural_order=False)
    depth = output_depth(k)
    seen = {}

    async def bench(ctx):
        accepted = taken = 0

        async def run(cycles, take=False):
            nonlocal accepted, taken
            for _ in range(cycles):
                ctx.set(dut.result.ready, take and ctx.get(dut.result.valid))
                accepted += ctx.get(dut.load.ready)
                taken += ctx.get(dut.result.ready)
                await ctx.tick()
                take = False

        ctx.set(dut.load.valid, 1)
        await run(4 * depth)
        seen["full"] = accepted
        while accepted == seen["full"] and taken < seen["full"]:
            await run(2 * k, take=True)
        seen["taken"] = taken

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["full"] == k * (depth // k)
    assert seen["taken"] == seen["full"] - (depth - k)

CIRCULANT_SHAPES = [
    {"n_in": 48, "n_out": 32, "k": 16, "parallelism": 2},  # p, q > 1; 9 bins on 2 lanes (padded); forward-bound
    {"n_in": 4, "n_out": 6, "k": 2, "parallelism": 1},  # smallest k; 2 groups of 1 bin: MAC-bound
    {"n_in": 16, "n_out": 24, "k": 8, "parallelism": 5, "width": 12, "frac": 6},  # one group; inverse-bound
]


@pytest.mark.parametrize("shape", CIRCULANT_SHAPES, ids=["k16-P2", "k2-P1", "k8-P5-w12"])
def test_circulant_rtl_equals_model_under_stalls(shape, tmp_path):
    rtl_run("circulant-fc", shape, tmp_path, stall=0.35, seed=11)


def test_circulant_rtl_with_banked_lane_memories(tmp_path):
    """n = 128, k = 4 on one lane: 3072 weight words per lane, six block-RAM banks in two groups, so every
    read goes through both registered selects of ``hw/common/banked.py``."""
    shape = {"n_in": 128, "n_out": 128, "k": 4, "parallelism": 1}
    k = shape["k"]
    words_per_lane = (shape["n_out"] // k) * (shape["n_in"] // k) * (k // 2 + 1)  # p · q blocks, every bin
    assert words_per_lane == 6 * block_ram_words(complex_layout(16 + 1).size)
    rtl_run("circulant-fc", shape, tmp_path, stall=0.3, seed=5, batch=2)


@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from([4, 8]), p=st.integers(1, 3), q=st.integers(1, 3), lanes=st.integers(1, 5),
       seed=st.integers(0, 2**16), stall=st.floats(0.0, 0.6))
def test_circulant_rtl_random_shapes(k, p, q, lanes, seed, stall, tmp_path_factory):
    shape = {"n_in": q * k, "n_out": p * k, "k": k, "parallelism": min(lanes, k // 2 + 1)}
    rtl_run("circulant-fc", shape, tmp_path_factory.mktemp("job"), stall=stall, seed=seed)


@pytest.mark.parametrize("shape", CIRCULANT_SHAPES, ids=["forward-bound", "MAC-bound", "inverse-bound"])
def test_circulant_rtl_interval_equals_cycle_model(shape, tmp_path):
    """Without stalls each further vector costs ``cycles_per_vector``: a batch of 4 against one of 3 (the
    builds above are reused)."""
    params, three = rtl_run("circulant-fc", shape, tmp_path / "3", stall=0.0, batch=3)
    _, four = rtl_run("circulant-fc", shape, tmp_path / "4", stall=0.0, batch=4)
    interval = cycles_per_vector(params["n_in"], params["n_out"], params["k"], params["parallelism"])
    assert four.counters["cycles"] - three.counters["cycles"] == interval
