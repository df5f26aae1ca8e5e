"""VIBNN measured in one run: the GRNGs side by side (RLF vs Wallace vs the CLT baseline) and bnn-mlp
from digits to VIBNN's 784-200-200-10; writes docs/vibnn-results.md.

    python benchmarks/vibnn.py                       # lanes 4 and 16
    python benchmarks/vibnn.py --lanes 4 16 32
    python benchmarks/vibnn.py --accuracy-seeds 5    # only the accuracy's spread over seeds, printed

For each generator and lane count: ECP5 LUT/FF/BRAM/DSP and the median Fmax
of 3 placement seeds (yowasp flow, cached), samples per cycle (the RTL's
throughput, asserted in tests/test_grng.py), samples/s per LUT at that Fmax
and its ratio to the CLT baseline at the same lanes, plus quality figures of
the bit-exact model over 200 000 steps (seed 1): the largest
|autocorrelation| at lags 1–16 over all lanes, the block-mean test's p of
lane 0 (1000 blocks: do long averages scatter like independent samples'?),
the excess kurtosis of lane 0 (a normal's is 0) and its KS p-value against
N(0, 1).

bnn-mlp: the digits network synthesized at 4 and 16 lanes (median of 3 seeds);
VIBNN's 784-200-200-10 in 8-bit words synthesized on the LFE5U-85F at 40
lanes with register-LFSR ε and σ'·ε in LUTs (no GRNG block RAM, one DSP per
lane; median of 3 seeds), one trained image through its RTL (bit-exact,
cycle counter); the
block RAM and cycle model at more lane counts; and the accuracy, float
against the bit-exact fixed-point models, after Bayes by Backprop on digits
zoomed to 28×28 (a few minutes of model time).
"""

import argparse
import time

import numpy as np
from scipy import stats

from common import ROOT, progress, ratio, synth

import accelgen

from accelgen.flows.outputs import write_atomically
from hw.common.banked import fewest_blocks
from hw.grng import PASS_BUBBLES
from models.bnn import (GRNG_BITS, GRNG_N, cycles_per_image, fixed_point_accuracy, image_buffer_words, image_interval,
                        segment_rows, weight_segments)
from models.fixed import FixedFormat
from models.train.admm import load_split
from models.train.bnn import predict_float, train_bnn, upscaled

STEPS = 200_000
SEEDS = 3
RLF = {"n": 63, "bits": 32}
RLF_COARSE = {"n": 63, "bits": 16}
RLF_CLT_SHAPE = {"n": 63, "bits": 20}  # Binomial(20, ½)'s excess kurtosis −2/20 equals CLT-12's −1.2/12
WALLACE = {"pool": 1024}
CLT = {"terms": 12, "bits": 8}
PAIRED = {"bits": 32}


def generators(lanes: int) -> list[tuple[str, str, dict]]:
    """(label, design, parameters) of every generator at ``lanes`` (Wallace needs a multiple of 4)."""
    points = [("rlf-grng", "rlf-grng", {**RLF, "lanes": lanes}),
              ("rlf-grng, 16 bits", "rlf-grng", {**RLF_COARSE, "lanes": lanes}),
              ("rlf-grng, 20 bits", "rlf-grng", {**RLF_CLT_SHAPE, "lanes": lanes}),
              ("lfsr-grng", "lfsr-grng", {**PAIRED, "lanes": lanes}),
              ("clt-grng", "clt-grng", {**CLT, "lanes": lanes})]
    if lanes % 4 == 0:
        points.insert(2, ("wallace-grng", "wallace-grng", {**WALLACE, "lanes": lanes}))
    return points


def samples_per_cycle(design: str, params: dict) -> float:
    if design == "wallace-grng":
        rows = params["pool"] // 4
        return params["lanes"] * rows / (rows + PASS_BUBBLES)
    return float(params["lanes"])


def standard_normal(design: str, params: dict, steps: int) -> np.ndarray:
    """``steps × lanes`` samples of the design's bit-exact model (seed 1), scaled to N(0, 1) (its ``z``)."""
    return accelgen.design(design, **params, seed=1, samples=steps).model()["z"]


def block_mean_p(z: np.ndarray, blocks: int = 1000) -> float:
    """Two-sided p of Σ (block mean)² · size / var ~ χ²(blocks) (the test of tests/test_grng.py)."""
    size = len(z) // blocks
    means = (z[:blocks * size] - z.mean()).reshape(blocks, size).mean(axis=1)
    statistic = float((means ** 2).sum() * size / z.var())
    return float(2 * min(stats.chi2.sf(statistic, blocks), stats.chi2.cdf(statistic, blocks)))


def quality(design: str, params: dict) -> dict:
    z = standard_normal(design, params, STEPS)
    centred = z - z.mean(axis=0)
    energy = (centred ** 2).sum(axis=0)
    worst = max(abs(float(centred[:-lag, lane] @ centred[lag:, lane] / energy[lane]))
                for lane in range(z.shape[1]) for lag in range(1, 17))
    return {"autocorr": worst, "block_p": block_mean_p(z[:, 0]), "kurtosis": float(stats.kurtosis(z[:, 0])),
            "ks_p": float(stats.kstest(z[:, 0], "norm").pvalue)}


def measure(label: str, design: str, params: dict) -> dict:
    progress(f"{label}, lanes={params['lanes']}")
    result = synth(design, params, seeds=SEEDS)
    row = {"label": label, "lanes": params["lanes"], **result, "fmax_mhz": result["fmax_median_mhz"],
           **quality(design, params), "samples_per_cycle": samples_per_cycle(design, params)}
    row["per_lut"] = row["samples_per_cycle"] * row["fmax_mhz"] / row["lut"] if row.get("lut") else None
    return row


VIBNN_IMAGES_PER_S = 321_543.4  # reported for 784-200-200-10 on their FPGA
VIBNN_SIZES = [784, 200, 200, 10]
BNN_LANES = (4, 16)  # synthesized on digits 64-16-10
DEVICE_BRAM, DEVICE_DSP = 208, 156  # LFE5U-85F: DP16KD, MULT18X18D
MOMENT_DSP = 2  # DSP blocks beside the lanes' (yosys: 42 at 40 lanes, 102 at 100, σ'·ε in LUTs)
SCALE_FORMAT = {"width": 8, "frac": 4, "weight_extra_frac": 3}  # VIBNN's 8-bit words: activations Q8.4, μ Q8.7
# Synthesized on the LFE5U-85F: 40 lanes with ε from register LFSRs and σ'·ε in LUTs (the RLF-GRNG's block
# RAM leaves room for 20 lanes at 32-bit ε, see layout_rows; 100 lanes need router2 and ~15 min a seed,
# docs/vibnn.md).
ON_DEVICE = ({"lanes": 40, "eps_bits": 32, "grng": "lfsr", "spread": "lut"},)
SCALE_LANES = (10, 20, 25, 40, 50, 100, 200)
ACCURACY_PASSES, ACCURACY_LANES = 8, 128


def dp16kd(width: int, depth: int) -> int:
    """Block RAMs for a ``depth`` × ``width`` memory in its best DP16KD shape."""
    return fewest_blocks(width, depth)[0]


def block_ram(sizes: list[int], lanes: int, width: int, eps_bits: int, grng: str = "rlf") -> dict:
    """bnn-mlp's DP16KD by memory: the weight memories (``models.bnn.weight_segments``), the RLF-GRNG's
    ``GRNG_N``-deep RAM of ``lanes·eps_bits`` columns (none for register-LFSR ε), the image buffer and the
    two hidden buffers."""
    weights = sum(dp16kd(2 * used * width, segment_rows(sizes, lanes, layers))
                  for layers, used in weight_segments(sizes, lanes))
    buffers = dp16kd(width, image_buffer_words(sizes[0])) + 2 * dp16kd(width, max(sizes[1:-1], default=1))
    return {"weights": weights, "grng": dp16kd(lanes * eps_bits, GRNG_N) if grng == "rlf" else 0,
            "buffers": buffers}


def eps_label(point: dict) -> str:
    """How an ``ON_DEVICE`` point makes ε and σ'·ε."""
    source = "LFSR pairs" if point.get("grng") == "lfsr" else "RLF-GRNG"
    spread = ", σ'·ε in LUTs" if point.get("spread") == "lut" else ""
    return f"{point['eps_bits']}-bit, {source}{spread}"


class Scale:
    """784-200-200-10 trained once by Bayes by Backprop on digits zoomed to 28×28."""

    def __init__(self):
        progress("784-200-200-10: training")
        self.data = upscaled(load_split())
        self.posterior = train_bnn(self.data, hidden=tuple(VIBNN_SIZES[1:-1]), epochs=20, lr=1e-3)

    def float_accuracy(self, seed: int = 0) -> float:
        mean, _ = predict_float(self.posterior, self.data.x_test, ACCURACY_PASSES, np.random.default_rng(seed))
        return float((mean.argmax(axis=1) == self.data.y_test).mean())

    def fixed_accuracy(self, fmt: FixedFormat, lanes: int, eps_bits: int, weight_frac: int,
                       eps_source: str = "rlf", seed: int = 1) -> float:
        progress(f"784-200-200-10: Q{fmt.width}.{fmt.frac} model, μ frac {weight_frac}, {lanes} lanes, "
                 f"{eps_bits}-bit ε from {eps_source}, seed {seed}")
        return fixed_point_accuracy(self.posterior, self.data.x_test, self.data.y_test, fmt, ACCURACY_PASSES, seed,
                                    lanes, eps_bits, weight_frac, eps_source)

    def rtl_cycles(self, params: dict) -> int:
        """One test image through the RTL (Verilator, no stalls), bit-exact with the model: its cycles."""
        progress(f"784-200-200-10 RTL, {params}")
        acc = accelgen.design("bnn-mlp", **params)
        arrays = {**self.posterior, "x": self.data.x_test[:1]}
        result = acc.simulate(arrays, stall=0.0, batch=1)
        if not result.passed:
            raise SystemExit(f"784-200-200-10 {params}: {result.reason}")
        return result.counters["cycles"]


def digits_rows() -> list[str]:
    """bnn-mlp on digits 64-16-10 synthesized at 4 and 16 lanes."""
    lines = ["| network | lanes | passes | cycles/image, steady state | LUT | FF | DSP | BRAM | Fmax (MHz) | images/s at Fmax | "
             "images/s per LUT |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lanes in BNN_LANES:
        progress(f"bnn-mlp, lanes={lanes}")
        result = synth("bnn-mlp", {"lanes": lanes}, seeds=SEEDS)
        fmax, cycles = result["fmax_median_mhz"], image_interval([64, 16, 10], 8, lanes)
        rate = fmax * 1e6 / cycles
        lines.append(f"| digits 64-16-10 | {lanes} | 8 | {cycles} | {result['lut']} | {result['ff']} | "
                     f"{result['dsp']} | {result['bram']} | {fmax} | {rate:,.0f} | {rate / result['lut']:.2f} |")
    return lines


def device_rows(scale: Scale) -> tuple[list[str], float]:
    """784-200-200-10 synthesized on the LFE5U-85F at each ``ON_DEVICE`` point, one image through its RTL;
    returns the table and the lowest median Fmax."""
    lines = ["| lanes | ε | LUT | FF | DSP | BRAM (estimate) | Fmax (MHz) | cycles, one image, 8 passes (RTL) | "
             "images/s, 1 pass | images/s, 8 passes | images/s per kLUT, 1 pass | images/s per DSP, 1 pass | "
             "vs VIBNN, 1 pass |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    fmaxes = []
    for point in ON_DEVICE:
        params = {"layers": "784-200-200-10", **SCALE_FORMAT, **point}
        progress(f"bnn-mlp 784-200-200-10, {point}")
        cycles = scale.rtl_cycles(params)
        assert cycles == cycles_per_image(VIBNN_SIZES, 8, point["lanes"]), cycles
        result = synth("bnn-mlp", params, seeds=SEEDS)
        fmax = result["fmax_median_mhz"]
        fmaxes.append(fmax)
        one = fmax * 1e6 / image_interval(VIBNN_SIZES, 1, point["lanes"])
        eight = fmax * 1e6 / image_interval(VIBNN_SIZES, 8, point["lanes"])
        estimate = sum(block_ram(VIBNN_SIZES, point["lanes"], SCALE_FORMAT["width"], point["eps_bits"],
                                 point.get("grng", "rlf")).values())
        lines.append(f"| {point['lanes']} | {eps_label(point)} | {result['lut']} | {result['ff']} | {result['dsp']} | "
                     f"{result['bram']} ({estimate}) | {fmax} | {cycles:,} | {one:,.0f} | {eight:,.0f} | "
                     f"{one * 1e3 / result['lut']:.1f} | {one / result['dsp']:.0f} | {one / VIBNN_IMAGES_PER_S:.3f}× |")
    return lines, min(fmaxes)


def layout_rows(fmax: float) -> list[str]:
    """784-200-200-10 at more lane counts: block RAM by memory against the device's, and the cycle model at
    ``fmax``."""
    lines = ["| lanes | DSP, RLF ε / σ'·ε in LUTs | weights DP16KD | RLF-GRNG DP16KD, 32 / 16-bit ε | buffers | "
             "total, RLF 32 / 16 | total, LFSR ε | cycles/image, 1 pass, steady state | images/s, 1 pass | "
             "vs VIBNN |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def fits(count, limit):
        return f"{count}" if count <= limit else f"{count} ✗"

    for lanes in SCALE_LANES:
        wide, coarse, lfsr = (block_ram(VIBNN_SIZES, lanes, SCALE_FORMAT["width"], bits, grng)
                              for bits, grng in ((32, "rlf"), (16, "rlf"), (32, "lfsr")))
        totals = [fits(sum(blocks.values()), DEVICE_BRAM) for blocks in (wide, coarse, lfsr)]
        dsps = [fits(per_lane * lanes + MOMENT_DSP, DEVICE_DSP) for per_lane in (2, 1)]
        cycles = image_interval(VIBNN_SIZES, 1, lanes)
        rate = fmax * 1e6 / cycles
        lines.append(f"| {lanes} | {dsps[0]} / {dsps[1]} | {wide['weights']} | {wide['grng']} / {coarse['grng']} | "
                     f"{wide['buffers']} | {totals[0]} / {totals[1]} | {totals[2]} | {cycles:,} | {rate:,.0f} | "
                     f"{rate / VIBNN_IMAGES_PER_S:.3f}× |")
    return lines


def bnn_rows() -> list[str]:
    """The bnn-mlp section; the long 784-200-200-10 synthesis comes last, so a synthesis started beside this
    benchmark (the flow's lock makes this run wait for it) overlaps the rest."""
    digits = digits_rows()
    scale = Scale()
    accuracy = {"float": scale.float_accuracy(),
                "Q16.10, 128 lanes, 32-bit ε": scale.fixed_accuracy(FixedFormat(16, 10), ACCURACY_LANES, GRNG_BITS, 10)}
    fmt = FixedFormat(SCALE_FORMAT["width"], SCALE_FORMAT["frac"])
    for point in ON_DEVICE:
        for extra in sorted({0, SCALE_FORMAT["weight_extra_frac"]}):
            label = (f"Q{fmt.width}.{fmt.frac}, μ Q{fmt.width}.{fmt.frac + extra}, {point['lanes']} lanes, "
                     f"ε {eps_label(point)}")
            accuracy[label] = scale.fixed_accuracy(fmt, point["lanes"], point["eps_bits"], fmt.frac + extra,
                                                   point.get("grng", "rlf"))
    device, fmax = device_rows(scale)
    dsp_bound = 2 * DEVICE_DSP * fmax * 1e6 / sum(a * b for a, b in zip(VIBNN_SIZES, VIBNN_SIZES[1:]))
    return [
        *digits, "",
        f"### 784-200-200-10 on the LFE5U-85F (activations Q{SCALE_FORMAT['width']}.{SCALE_FORMAT['frac']}, μ "
        f"Q{SCALE_FORMAT['width']}.{SCALE_FORMAT['frac'] + SCALE_FORMAT['weight_extra_frac']}, 8 passes synthesized)",
        "", *device, "",
        "BRAM is yosys's count; the estimate in brackets is `block_ram`'s (below). Images/s are the steady state "
        "(`models.bnn.image_interval`: the next image loads while one computes) at the same Fmax, for one pass "
        "with the cycle model (the passes only size the moment sums); the RTL's cycle counter for one image "
        "equals the model (`cycles_per_image`) on the trained posterior.", "",
        f"At more lane counts, the cycle model at {fmax} MHz and block RAM by memory (`block_ram`: each memory "
        f"in its best DP16KD shape) against the device's {DEVICE_BRAM} (✗: does not fit):", "", *layout_rows(fmax), "",
        f"The device's multiplier bound: {DEVICE_DSP} MULT18X18D at two 8-bit products each, {fmax} MHz: "
        f"{dsp_bound:,.0f} images/s per pass. VIBNN reported {VIBNN_IMAGES_PER_S:,} images/s.", "",
        f"Accuracy (Bayes by Backprop, 20 epochs, digits zoomed to 28×28, {len(scale.data.y_test)} test images, "
        f"{ACCURACY_PASSES} passes, bit-exact models):", "",
        "| model | accuracy |", "|---|---:|",
        *(f"| {label} | {value:.4f} |" for label, value in accuracy.items()),
    ]


def accuracy_spread(seeds: int) -> str:
    """784-200-200-10's accuracy over ``seeds`` seeds of the passes' randomness: the float model's generator
    (seed s is ``default_rng(s - 1)``, so seed 1 is the main table's) and the fixed-point models' ε, at the
    ``ON_DEVICE`` points and at 20 lanes with RLF ε. An 8-pass estimate on 450 images scatters by about a
    point."""
    scale = Scale()
    fmt = FixedFormat(SCALE_FORMAT["width"], SCALE_FORMAT["frac"])
    weight_frac = fmt.frac + SCALE_FORMAT["weight_extra_frac"]
    numbers = range(1, seeds + 1)

    def row(label, accuracy) -> str:
        values = [accuracy(seed) for seed in numbers]
        return f"| {label} | " + " | ".join(f"{v:.4f}" for v in values) + f" | {np.mean(values):.4f} |"

    lines = ["| model | " + " | ".join(f"seed {seed}" for seed in numbers) + " | mean |",
             "|---|" + "---:|" * (seeds + 1), row("float", lambda seed: scale.float_accuracy(seed - 1))]
    for point in (*ON_DEVICE, {"lanes": 20, "eps_bits": GRNG_BITS, "grng": "rlf"}):
        label = f"Q{fmt.width}.{fmt.frac}, μ Q{fmt.width}.{weight_frac}, {point['lanes']} lanes, ε {eps_label(point)}"
        lines.append(row(label, lambda seed: scale.fixed_accuracy(fmt, point["lanes"], point["eps_bits"], weight_frac,
                                                                   point["grng"], seed)))
    return "\n".join(lines)


def render(rows: list[dict], elapsed: float, bnn: list[str]) -> str:
    lines = [
        "# VIBNN — measured",
        "",
        f"Generated by `python benchmarks/vibnn.py` ({elapsed:.0f} s). ECP5 LFE5U-85F, out of context, Fmax the "
        f"median of {SEEDS} placement seeds. rlf-grng: n={RLF['n']}, {RLF['bits']} fresh bits per sample "
        f"(Binomial({RLF['bits']}, ½)), and {RLF_COARSE['bits']} bits for reference, {RLF_CLT_SHAPE['bits']} bits "
        "for the CLT baseline's shape (the same excess kurtosis); lfsr-grng (two register "
        f"LFSRs per lane, no block RAM) {PAIRED['bits']} bits; wallace-grng pool "
        f"{WALLACE['pool']} per 4 lanes; clt-grng {CLT['terms']} uniforms of {CLT['bits']} bits. Quality over "
        f"{STEPS:,} model steps (seed 1). RLF's and lfsr-grng's outputs are Binomial lattices, so their KS "
        "p-values are ~0 by construction (their marginals are tested by χ² against the exact Binomial in "
        "tests/test_grng.py); the excess kurtosis shows how close each shape is to a normal's (Binomial "
        "−2/bits, CLT −1.2/terms).",
        "",
        "| generator | lanes | LUT | FF | BRAM | DSP | Fmax (MHz) | samples/cycle | Msamples/s per LUT | "
        "vs CLT | max \\|autocorr\\| lags 1–16 | block-mean p | excess kurtosis | KS p (lane 0) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    baseline = {row["lanes"]: row["per_lut"] for row in rows if row["label"] == "clt-grng"}
    for row in rows:
        lines.append("| " + " | ".join([
            row["label"], str(row["lanes"]), *(str(row[key]) for key in ("lut", "ff", "bram", "dsp", "fmax_mhz")),
            f"{row['samples_per_cycle']:.3g}", f"{row['per_lut']:.3f}", ratio(row["per_lut"], baseline.get(row["lanes"])),
            f"{row['autocorr']:.3f}", f"{row['block_p']:.3g}", f"{row['kurtosis']:.3f}", f"{row['ks_p']:.3g}",
        ]) + " |")
    lines += ["", "## bnn-mlp", "", *bnn]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lanes", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--out", default=str(ROOT / "docs" / "vibnn-results.md"))
    parser.add_argument("--accuracy-seeds", type=int, metavar="N",
                        help="only print 784-200-200-10's accuracy over N seeds (no synthesis, nothing written)")
    args = parser.parse_args(argv)
    if args.accuracy_seeds:
        print(accuracy_spread(args.accuracy_seeds))
        return
    start = time.perf_counter()
    rows = [measure(*point) for lanes in args.lanes for point in generators(lanes)]
    bnn = bnn_rows()
    write_atomically({args.out: render(rows, time.perf_counter() - start, bnn)})
    progress(f"wrote {args.out}")


if __name__ == "__main__":
    main()
