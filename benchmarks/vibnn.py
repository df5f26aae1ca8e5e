"""VIBNN measured in one run: the GRNGs side by side (RLF vs Wallace vs the CLT baseline) and bnn-mlp
from digits to VIBNN's 784-200-200-10; writes docs/vibnn-results.md.

    python benchmarks/vibnn.py                       # lanes 4 and 16
    python benchmarks/vibnn.py --lanes 4 16 32

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
784-200-200-10 through the cycle model at that Fmax for several lane counts,
with the block RAM its posterior needs; and its accuracy, float against the
bit-exact fixed-point model, after Bayes by Backprop on digits zoomed to
28×28 (about 2 minutes of model time).
"""

import argparse
import time

import numpy as np
from scipy import stats

from common import ROOT, progress, ratio, synth

from accelgen.flows.outputs import write_atomically
from hw.grng import PASS_BUBBLES
from models import grng
from models.bnn import GRNG_BITS, bnn_mlp_raw, cycles_per_image, sigma_format, steps_per_pass
from models.fixed import FixedFormat, quantize
from models.train.admm import load_split
from models.train.bnn import predict_float, train_bnn, upscaled

STEPS = 200_000
SEEDS = 3
RLF = {"n": 63, "bits": 32}
RLF_COARSE = {"n": 63, "bits": 16}
WALLACE = {"pool": 1024}
CLT = {"terms": 12, "bits": 8}


def generators(lanes: int) -> list[tuple[str, str, dict]]:
    """(label, design, parameters) of every generator at ``lanes`` (Wallace needs a multiple of 4)."""
    points = [("rlf-grng", "rlf-grng", {**RLF, "lanes": lanes}),
              ("rlf-grng, 16 bits", "rlf-grng", {**RLF_COARSE, "lanes": lanes}),
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
    """``steps × lanes`` samples of the bit-exact model, scaled to N(0, 1)."""
    if design == "rlf-grng":
        return grng.rlf_grng(params["n"], params["lanes"], params["bits"], 1, steps) / np.sqrt(params["bits"])
    if design == "wallace-grng":
        return grng.wallace_grng(params["pool"], params["lanes"], 1, steps) / 2 ** grng.WALLACE_FORMAT.frac
    return grng.clt_grng(params["terms"], params["bits"], params["lanes"], 1, steps) * grng.clt_scale(
        params["terms"], params["bits"])


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
SCALE_LANES = (16, 64, 78, 128, 200)  # 78: two multipliers per lane on the LFE5U-85F's 156 MULT18X18D
DEVICE_BRAM = 208
ACCURACY_PASSES, ACCURACY_LANES = 8, 128


def bram_per_lane(sizes: list[int], lanes: int, bits: int = 8) -> int:
    """DP16KD per lane for μ and σ' at ``bits`` bits each (2048 × 9 or 1024 × 18 words per block)."""
    words = steps_per_pass(sizes, lanes)
    per_block = 2048 if bits <= 9 else 1024
    return 2 * -(-words // per_block)


def scale_accuracy() -> dict:
    """784-200-200-10 trained by Bayes by Backprop on digits zoomed to 28×28: float vs the bit-exact
    fixed-point model (Q16.10, 8 passes, 128 lanes) on the whole test split."""
    progress("784-200-200-10: training and fixed-point inference")
    data = upscaled(load_split())
    posterior = train_bnn(data, hidden=tuple(VIBNN_SIZES[1:-1]), epochs=20, lr=1e-3)
    float_mean, _ = predict_float(posterior, data.x_test, ACCURACY_PASSES, np.random.default_rng(0))
    fmt = FixedFormat(16, 10)
    raw = {name: quantize(value / np.sqrt(GRNG_BITS), sigma_format(fmt.width)) if name.startswith("sigma")
           else quantize(value, fmt) for name, value in posterior.items()}
    mean, _ = bnn_mlp_raw(raw, quantize(data.x_test, fmt), fmt, ACCURACY_PASSES, 1, ACCURACY_LANES)
    return {"float": float((float_mean.argmax(axis=1) == data.y_test).mean()),
            "fixed": float((mean.argmax(axis=1) == data.y_test).mean()), "images": len(data.y_test)}


def bnn_rows() -> list[str]:
    """bnn-mlp on digits (synthesized, lanes 4 and 16), VIBNN's network through the cycle model at the
    16-lane Fmax, its block RAM, and its accuracy."""
    lines = [
        "| network | lanes | passes | cycles/image | LUT | FF | DSP | BRAM | Fmax (MHz) | images/s at Fmax | "
        "images/s per LUT |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fmax = None
    for lanes in BNN_LANES:
        progress(f"bnn-mlp, lanes={lanes}")
        result = synth("bnn-mlp", {"lanes": lanes}, seeds=SEEDS)
        fmax = result["fmax_median_mhz"]
        cycles = cycles_per_image([64, 16, 10], 8, lanes)
        rate = fmax * 1e6 / cycles
        lines.append(f"| digits 64-16-10 (synthesized) | {lanes} | 8 | {cycles} | {result['lut']} | {result['ff']} | "
                     f"{result['dsp']} | {result['bram']} | {fmax} | {rate:,.0f} | {rate / result['lut']:.2f} |")
    lines += ["", f"784-200-200-10 through the cycle model (`models.bnn.cycles_per_image`) at the 16-lane Fmax "
              f"({fmax} MHz), one pass and 8; block RAM for μ and σ' at 8 bits each "
              f"(`bram_per_lane`), against the LFE5U-85F's {DEVICE_BRAM}:", "",
              "| lanes | DSP (2 per lane) | cycles/image, 1 pass | images/s, 1 pass | images/s, 8 passes | "
              "μ, σ' DP16KD | vs VIBNN (1 pass) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for lanes in SCALE_LANES:
        one, eight = (cycles_per_image(VIBNN_SIZES, passes, lanes) for passes in (1, 8))
        rate = fmax * 1e6 / one
        lines.append(f"| {lanes} | {2 * lanes} | {one} | {rate:,.0f} | {fmax * 1e6 / eight:,.0f} | "
                     f"{lanes * bram_per_lane(VIBNN_SIZES, lanes)} | {rate / VIBNN_IMAGES_PER_S:.3f}× |")
    accuracy = scale_accuracy()
    lines += ["", f"VIBNN reported {VIBNN_IMAGES_PER_S:,} images/s. Accuracy of 784-200-200-10 (Bayes by Backprop, "
              f"20 epochs, digits zoomed to 28×28, {accuracy['images']} test images, {ACCURACY_PASSES} passes): "
              f"float {accuracy['float']:.4f}, bit-exact Q16.10 model with {ACCURACY_LANES} lanes "
              f"{accuracy['fixed']:.4f}."]
    return lines


def render(rows: list[dict], elapsed: float, bnn: list[str]) -> str:
    lines = [
        "# VIBNN — measured",
        "",
        f"Generated by `python benchmarks/vibnn.py` ({elapsed:.0f} s). ECP5 LFE5U-85F, out of context, Fmax the "
        f"median of {SEEDS} placement seeds. rlf-grng: n={RLF['n']}, {RLF['bits']} fresh bits per sample "
        f"(Binomial({RLF['bits']}, ½)), and {RLF_COARSE['bits']} bits for reference; wallace-grng pool "
        f"{WALLACE['pool']} per 4 lanes; clt-grng {CLT['terms']} uniforms of {CLT['bits']} bits. Quality over "
        f"{STEPS:,} model steps (seed 1). RLF's outputs are a Binomial lattice, so its KS p-value is ~0 by "
        "construction (its marginal is tested by χ² against the exact Binomial in tests/test_grng.py); the "
        "excess kurtosis shows how close each shape is to a normal's (RLF −2/bits, CLT −1.2/terms).",
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
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = [measure(*point) for lanes in args.lanes for point in generators(lanes)]
    bnn = bnn_rows()
    write_atomically({args.out: render(rows, time.perf_counter() - start, bnn)})
    progress(f"wrote {args.out}")


if __name__ == "__main__":
    main()
