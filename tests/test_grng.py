"""GRNGs: LFSR theory, statistics (scipy) with negative controls, RTL == model.

Every statistical check is a function that raises ``AssertionError`` and is
run twice: on the real generator (must pass) and on a deliberately broken
one (must fail), so none of them can pass vacuously.
"""

import math

import numpy as np
import pytest
from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.sim import Simulator
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from accelgen.cli import main
from hw.grng import PASS_BUBBLES, RLFGRNG
from models import grng

from .conftest import rtl_run

# Prime factors of 2**n - 1 (checked below: product and primality).
MERSENNE_FACTORS = {
    31: [2147483647],
    63: [7, 7, 73, 127, 337, 92737, 649657],
    127: [170141183460469231731687303715884105727],
    255: [7, 31, 103, 151, 2143, 11119, 106591, 131071, 949111, 9520972806333758431,
          5702451577639775545838643151],
}


def _is_probable_prime(p: int) -> bool:
    if p < 4:
        return p > 1
    d, r = p - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41):
        x = pow(a, d, p)
        if x in (1, p - 1) or a % p == 0:
            continue
        for _ in range(r - 1):
            x = x * x % p
            if x == p - 1:
                break
        else:
            return False
    return True


def _gf2_power_of_x(exponent: int, poly: int, degree: int) -> int:
    """``x**exponent mod poly`` over GF(2), polynomials as bit masks."""
    def times(a, b):
        product = 0
        while b:
            if b & 1:
                product ^= a
            b >>= 1
            a <<= 1
            if a >> degree & 1:
                a ^= poly
        return product
    result, base = 1, 2
    while exponent:
        if exponent & 1:
            result = times(result, base)
        base = times(base, base)
        exponent >>= 1
    return result


@pytest.mark.parametrize("n", sorted(grng.LFSR_TAPS))
def test_lfsr_recurrence_is_maximal_length(n):
    """x^n + x^(n-d) + 1 is primitive: x has order exactly 2^n - 1 modulo it."""
    factors = MERSENNE_FACTORS[n]
    assert math.prod(factors) == (1 << n) - 1 and all(map(_is_probable_prime, factors))
    poly = (1 << n) | (1 << (n - grng.LFSR_TAPS[n])) | 1
    order = (1 << n) - 1
    assert _gf2_power_of_x(order, poly, n) == 1
    for q in set(factors):
        assert _gf2_power_of_x(order // q, poly, n) != 1


def test_a_non_primitive_polynomial_fails_the_order_check():
    """Control: x^31 + x^2 + 1 is not primitive, and the check above says so."""
    poly = (1 << 31) | (1 << 2) | 1
    order = (1 << 31) - 1
    assert _gf2_power_of_x(order, poly, 31) != 1


@given(st.sampled_from(sorted(grng.LFSR_TAPS)), st.integers(1, 3), st.integers(1, 400), st.integers(1, 2**31 - 1))
def test_vectorised_lfsr_equals_bit_serial_recurrence(n, columns, steps, seed):
    window = grng.seed_windows(n, columns, seed)
    bits = grng.lfsr_bits(n, window, steps)
    reference = [list(window[:, c]) for c in range(columns)]
    for column in reference:
        for t in range(n, n + steps):
            column.append(column[t - n] ^ column[t - grng.LFSR_TAPS[n]])
    assert np.array_equal(bits, np.array(reference, dtype=np.uint8).T)


@given(st.integers(1, 2**31 - 1))
def test_no_seed_gives_an_all_zero_lfsr(seed):
    assert grng.seed_windows(31, 8, seed).any(axis=0).all()


def test_zero_seed_is_rejected(capsys):
    with pytest.raises(ValueError, match="seed=0"):
        grng.seed_windows(63, 1, 0)
    assert main(["generate", "rlf-grng", "-p", "seed=0"]) == 2
    assert "seed=0 out of range" in capsys.readouterr().err


# --- statistical checks -------------------------------------------------------

def check_binomial_fit(raw, n):
    """χ² of the lattice ``2S - n`` against the exact Binomial(n, ½), tails merged to ≥ 5 expected."""
    counts = np.bincount((np.asarray(raw).reshape(-1) + n) // 2, minlength=n + 1)
    expected = stats.binom.pmf(np.arange(n + 1), n, 0.5) * counts.sum()
    keep = expected >= 5
    lo, hi = np.argmax(keep), len(keep) - np.argmax(keep[::-1])
    observed = np.concatenate([[counts[:lo + 1].sum()], counts[lo + 1:hi - 1], [counts[hi - 1:].sum()]])
    wanted = np.concatenate([[expected[:lo + 1].sum()], expected[lo + 1:hi - 1], [expected[hi - 1:].sum()]])
    p = stats.chisquare(observed, wanted).pvalue
    assert p > 1e-3, f"χ² against Binomial({n}, 1/2): p = {p:.2e}"


def check_moments(z, *, kurtosis=0.0):
    """Mean 0, variance 1, skewness 0 and the given excess kurtosis, each within 5 standard errors."""
    z = np.asarray(z).reshape(-1)
    size = len(z)
    for name, value, want, error in (("mean", z.mean(), 0.0, 1 / math.sqrt(size)),
                                     ("variance", z.var(), 1.0, math.sqrt(2 / size)),
                                     ("skewness", stats.skew(z), 0.0, math.sqrt(6 / size)),
                                     ("excess kurtosis", stats.kurtosis(z), kurtosis, math.sqrt(24 / size))):
        assert abs(value - want) <= 5 * error, f"{name} {value:.4f}, expected {want} ± {5 * error:.4f}"


def check_normal_ks(z):
    p = stats.kstest(np.asarray(z).reshape(-1), "norm").pvalue
    assert p > 1e-3, f"KS against N(0, 1): p = {p:.2e}"


def autocorrelation(x, lag):
    x = x - x.mean()
    return float(np.dot(x[:-lag], x[lag:]) / np.dot(x, x))


def check_decorrelated(z, bound=0.05):
    """|autocorrelation| ≤ bound at lags 1–16 in every lane, |correlation| ≤ bound between lanes."""
    z = np.asarray(z, dtype=np.float64)
    for lane in range(z.shape[1]):
        for lag in range(1, 17):
            r = autocorrelation(z[:, lane], lag)
            assert abs(r) <= bound, f"lane {lane}: autocorrelation {r:.3f} at lag {lag}"
    if z.shape[1] > 1:
        cross = np.abs(np.corrcoef(z.T) - np.eye(z.shape[1])).max()
        assert cross <= bound, f"correlation {cross:.3f} between lanes"


def _fails(check, *args, **kwargs):
    with pytest.raises(AssertionError):
        check(*args, **kwargs)


def _one_bit_per_output_rlf(n, samples, seed):
    """Broken control: VIBNN's running popcount, one new bit per output (windows overlap in n - 1 bits)."""
    bits = grng.lfsr_bits(n, grng.seed_windows(n, 1, seed), samples)[:, 0]
    ones = np.cumsum(bits.astype(np.int64))
    return 2 * (ones[n:] - ones[:-n]) - n


def _short_count_rlf(lanes, bits, samples, seed):
    """Broken control: each output counts only bits - 1 of its lane's new bits, labelled as ``bits``."""
    rows = grng.lfsr_bits(63, grng.seed_windows(63, lanes * bits, seed), samples)[63:]
    return 2 * rows.reshape(samples, lanes, bits)[:, :, 1:].sum(axis=2, dtype=np.int64) - bits


def check_block_means(raw, variance, blocks=1000):
    """The means of ``blocks`` equal blocks of a stream scatter as independent samples' would:
    Σ (block mean)² · size / variance is χ²(blocks) (two-sided p > 1e-3). Overlapping windows inflate it."""
    raw = np.asarray(raw, dtype=np.float64)
    size = len(raw) // blocks
    means = raw[:blocks * size].reshape(blocks, size).mean(axis=1)
    statistic = float((means ** 2).sum() * size / variance)
    p = 2 * min(stats.chi2.sf(statistic, blocks), stats.chi2.cdf(statistic, blocks))
    assert p > 1e-3, f"block means: χ² {statistic:.0f} on {blocks} blocks of {size}, p = {p:.2e}"


WHOLE_STREAM = 1_000_000


@pytest.mark.parametrize("n, bits", [(63, 32), (127, 16)])
def test_rlf_every_lanes_whole_stream_is_a_binomial_sample(n, bits):
    """Every lane's whole stream of a million outputs: χ² against the exact Binomial(bits, ½), the
    block-mean test, moments; lanes decorrelated at lags 1–16 and from each other."""
    raw = grng.rlf_grng(n, 3, bits, 11, WHOLE_STREAM)
    for lane in range(raw.shape[1]):
        check_binomial_fit(raw[:, lane], bits)
        check_block_means(raw[:, lane], bits)
        check_moments(raw[:, lane] / math.sqrt(bits), kurtosis=-2 / bits)
    check_decorrelated(raw[:200_000])


@pytest.mark.parametrize("bits", [32, 16, 8])
def test_paired_lfsr_every_lanes_whole_stream_is_a_binomial_sample(bits):
    """bnn-mlp's register ε source: every lane's whole stream of a million outputs passes χ² against
    Binomial(bits, ½), the block means and the moments; lanes decorrelated at lags 1–16 and from each other."""
    raw = grng.paired_lfsr_grng(3, bits, 11, WHOLE_STREAM)
    for lane in range(raw.shape[1]):
        check_binomial_fit(raw[:, lane], bits)
        check_block_means(raw[:, lane], bits)
        check_moments(raw[:, lane] / math.sqrt(bits), kurtosis=-2 / bits)
    check_decorrelated(raw[:200_000])


def test_paired_lfsr_chunks_continue_the_stream():
    """The model generates RLF_CHUNK steps at a time: across a chunk boundary it equals the whole stream
    computed at once."""
    lanes, bits, seed, samples = 3, 5, 7, grng.RLF_CHUNK + 1234
    fresh = np.zeros((samples * bits, lanes), dtype=np.uint8)
    for n, window in zip(grng.PAIRED_LFSRS, grng.paired_lfsr_windows(lanes, seed)):
        fresh ^= grng.lfsr_bits(n, window, samples * bits)[n:]
    whole = 2 * fresh.reshape(samples, bits, lanes).sum(axis=1, dtype=np.int64) - bits
    assert np.array_equal(grng.paired_lfsr_grng(lanes, bits, seed, samples), whole)


def test_one_lfsr_per_lane_is_not_enough():
    """Control for the pair: one 63-bit LFSR per lane advanced 32 bits per output (clt-grng, 32 one-bit
    terms) has the right marginal per window, but a window is a fixed function of the two before it: on
    this seed lane 2's whole stream fails χ² and the block means."""
    single = grng.clt_grng(32, 1, 3, 11, WHOLE_STREAM)[:, 2]
    _fails(check_binomial_fit, single, 32)
    _fails(check_block_means, single, 32)


def test_rlf_stream_checks_reject_broken_generators():
    """Controls: overlapping one-bit windows fail the block means and decorrelation; a short count fails χ²;
    lanes sharing a seed fail the cross-lane check."""
    overlapping = _one_bit_per_output_rlf(63, WHOLE_STREAM, 11)
    check_binomial_fit(overlapping[::63], 63)  # its marginal alone is right: disjoint windows pass
    _fails(check_block_means, overlapping, 63)
    _fails(check_decorrelated, overlapping[:20_000, None])
    _fails(check_binomial_fit, _short_count_rlf(1, 32, 200_000, 11)[:, 0], 32)
    _fails(check_decorrelated, np.repeat(grng.rlf_grng(63, 1, 32, 5, 20_000), 3, axis=1))


def test_wallace_is_normal_and_decorrelated():
    z = grng.wallace_grng(1024, 8, 3, 40_000) / 2 ** grng.WALLACE_FORMAT.frac
    check_normal_ks(z[:, 0])
    check_moments(z)
    check_decorrelated(z)
    # Controls: a triangular "Gaussian" (sum of two uniforms) fails KS and the kurtosis check.
    triangular = grng.clt_grng(2, 8, 1, 3, 40_000) * grng.clt_scale(2, 8)
    _fails(check_normal_ks, triangular)
    _fails(check_moments, triangular)


def check_block_energies(z, size):
    """Sums of squares of blocks of ``size`` standardized values scatter as a normal stream's would:
    Σ (block sum of squares − size)² / (2·size) is χ²(blocks) (two-sided p > 1e-3). A generator whose
    energy is held constant lands far below."""
    z = (np.asarray(z, dtype=np.float64) - np.mean(z)) / np.std(z)
    blocks = len(z) // size
    energies = (z[:blocks * size] ** 2).reshape(blocks, size).sum(axis=1)
    statistic = float(((energies - size) ** 2).sum() / (2 * size))
    p = 2 * min(stats.chi2.sf(statistic, blocks), stats.chi2.cdf(statistic, blocks))
    assert p > 1e-3, f"block energies: χ² {statistic:.0f} on {blocks} blocks of {size}, p = {p:.2e}"


def test_wallace_every_lanes_stream_passes_the_block_tests():
    """Each lane's 100,000 outputs (about 400 passes of a 1024-value pool): block means, and block sums of
    squares over a pass (a lane's 256 outputs; the unit's 1024), scatter as independent normals' would.
    Without the random signs on the values read, each pass's lane sums are ±½ the previous pass's and the
    block means fail (p ≤ 1e-13); without the χ² gain a pass keeps its pool's energy and the block sums of
    squares fail (χ² 0 over the unit's passes, p ≤ 5e-4 per lane)."""
    z = grng.wallace_grng(1024, 4, 5, 100_000) / 2 ** grng.WALLACE_FORMAT.frac
    for lane in range(z.shape[1]):
        check_block_means(z[:, lane], 1.0)
        check_block_energies(z[:, lane], 256)
    check_block_energies(z.ravel(), 1024)
    constant_energy = z[:len(z) // 1024 * 1024, 0].reshape(-1, 1024)
    constant_energy = constant_energy / np.sqrt((constant_energy ** 2).mean(axis=1, keepdims=True))
    _fails(check_block_energies, constant_energy.ravel(), 1024)


def test_clt_matches_irwin_hall_theory():
    """Sum of 12 uniforms: N(0,1)-like (KS) but with the exact excess kurtosis -1.2/terms, measurable."""
    terms, bits = 12, 8
    z = grng.clt_grng(terms, bits, 4, 9, 50_000) * grng.clt_scale(terms, bits)
    m = 1 << bits
    uniform_kurtosis = -6 * (m * m + 1) / (5 * (m * m - 1))
    check_moments(z, kurtosis=uniform_kurtosis / terms)
    check_normal_ks(z[:, 0])
    check_decorrelated(z)
    _fails(check_moments, z)  # at 200 000 samples its kurtosis is 6 standard errors from a normal's


# --- RTL == model ---------------------------------------------------------------

RTL_POINTS = {  # each one Verilator build, shared by the tests below
    "rlf-12bits": ("rlf-grng", {"n": 63, "lanes": 3, "bits": 12, "seed": 77, "samples": 300}),
    "rlf-3bits-n127": ("rlf-grng", {"n": 127, "lanes": 2, "bits": 3, "seed": 5, "samples": 200}),
    "wallace-pool64": ("wallace-grng", {"pool": 64, "lanes": 8, "seed": 9, "samples": 250}),
    "clt-small": ("clt-grng", {"terms": 3, "bits": 5, "lanes": 2, "seed": 4, "samples": 200}),
    "lfsr-9bits": ("lfsr-grng", {"lanes": 3, "bits": 9, "seed": 6, "samples": 200}),
}


@pytest.mark.parametrize("point", RTL_POINTS)
def test_grng_rtl_equals_model_under_stalls(point, tmp_path):
    rtl_run(*RTL_POINTS[point], tmp_path, stall=0.4)


@pytest.mark.parametrize("point, cycles", [
    ("rlf-12bits", 300), ("clt-small", 200), ("lfsr-9bits", 200),
    ("wallace-pool64", 250 + PASS_BUBBLES * (249 // 16)),
])
def test_grng_throughput_without_stalls(point, cycles, tmp_path):
    """One step per cycle; Wallace idles PASS_BUBBLES cycles after each pass of pool/4 steps."""
    _, result = rtl_run(*RTL_POINTS[point], tmp_path, stall=0.0)
    assert result.counters["cycles"] == cycles


def test_grng_run_returns_standardised_samples(tmp_path):
    """``run`` writes z_raw from the RTL (== model for a non-default seed) and z = z_raw · scale."""
    out = tmp_path / "z.npz"
    assert main(["run", "clt-grng", "-p", "seed=12345", "-p", "samples=64", "--output", str(out)]) == 0
    with np.load(out) as arrays:
        assert np.array_equal(arrays["z_raw"], grng.clt_grng(12, 8, 4, 12345, 64))
        assert np.allclose(arrays["z"], arrays["z_raw"] * grng.clt_scale(12, 8))


@pytest.mark.parametrize("overrides, message", [
    (["n=100"], "n=100 has no taps d = n - 1"),
    (["lanes=256", "bits=64"], "needs a 16384-bit RAM"),
    (["seed=-3"], "seed=-3 out of range"),
])
def test_rlf_bad_parameters_exit_2(overrides, message, capsys, tmp_path):
    argv = ["generate", "rlf-grng", "-o", str(tmp_path / "out")]
    for item in overrides:
        argv += ["-p", item]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _rlf_stream_across_resets(params: dict, resets: set, samples: int) -> np.ndarray:
    """The samples an ``RLFGRNG`` hands out, in the order taken, when ``rst`` is high for two cycles right
    after the ``k``-th sample is taken for each ``k`` in ``resets`` (the consumer takes every other cycle)."""
    dut, reset = RLFGRNG(**params), Signal()
    m = Module()
    m.submodules.dut = ResetInserter(reset)(dut)  # the sync domain's reset, without ending the testbench's ticks
    taken = []

    async def testbench(ctx):
        cycle = 0
        while len(taken) < samples:
            ctx.set(dut.z_out.ready, cycle % 2)
            if cycle % 2 and ctx.get(dut.z_out.valid):
                taken.append(ctx.get(dut.z_out.payload))
                if len(taken) in resets:
                    await ctx.tick()
                    ctx.set(dut.z_out.ready, 0)
                    ctx.set(reset, 1)
                    await ctx.tick().repeat(2)
                    ctx.set(reset, 0)
            await ctx.tick()
            cycle += 1

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return np.array([[sample[lane] for lane in range(params["lanes"])] for sample in taken])


def test_rlf_a_reset_empties_the_output_register_and_keeps_the_stream():
    """A reset drops only the sample waiting in the output register (docs/vibnn.md: the random state is
    not cleared): what is taken is the model's stream with one sample missing after each reset."""
    params = {"n": 63, "lanes": 2, "bits": 5, "seed": 3}
    resets, samples = {7, 20}, 150  # past n steps: a row written wrongly after a reset is read again
    expected = grng.rlf_grng(**params, samples=samples + len(resets))
    kept = np.delete(np.arange(samples + len(resets)), [k + i for i, k in enumerate(sorted(resets))])
    assert np.array_equal(_rlf_stream_across_resets(params, resets, samples), expected[kept])
