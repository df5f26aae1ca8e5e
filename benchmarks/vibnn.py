"""GRNGs side by side in one run: RLF vs Wallace vs the CLT baseline; writes docs/vibnn-results.md.

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
"""

import argparse
import time

import numpy as np
from scipy import stats

from common import ROOT, progress, ratio, synth

from accelgen.flows.outputs import write_atomically
from hw.grng import PASS_BUBBLES
from models import grng
from models.bnn import cycles_per_image

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


def bnn_rows() -> list[str]:
    """bnn-mlp at its defaults (synthesized), and VIBNN's network through the same cycle model."""
    progress("bnn-mlp")
    result = synth("bnn-mlp", {})
    digits = cycles_per_image(64, 16, 10, 8)
    vibnn = 784 + 8 * (200 * 786 + 200 * 202 + 10 * 202) + 20  # three layers, same one-lane schedule
    rate = lambda cycles: result["fmax_mhz"] * 1e6 / cycles  # noqa: E731
    return [
        "| network | passes | cycles/image | LUT | FF | DSP | BRAM | Fmax (MHz) | images/s at Fmax | images/s per LUT |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| digits 64-16-10 (synthesized) | 8 | {digits} | {result['lut']} | {result['ff']} | {result['dsp']} | "
        f"{result['bram']} | {result['fmax_mhz']} | {rate(digits):.0f} | {rate(digits) / result['lut']:.2f} |",
        f"| 784-200-200-10 (cycle model, same engine and Fmax) | 8 | {vibnn} | – | – | – | – | "
        f"{result['fmax_mhz']} | {rate(vibnn):.1f} | – |",
        f"| VIBNN (reported) | – | – | – | – | – | – | – | {VIBNN_IMAGES_PER_S} | – |",
    ]


def render(rows: list[dict], elapsed: float, bnn: list[str]) -> str:
    lines = [
        "# GRNGs — measured",
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
