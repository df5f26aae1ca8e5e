"""Circulant vs dense convolution at CirCNN-like channel counts, side by side in one run; writes
docs/conv-results.md.

    python benchmarks/conv.py                          # channels 16, 32, 64; k 8, 16; one placement seed
    python benchmarks/conv.py --channels 64 --seeds 3  # Fmax: the median of 3 placements
    python benchmarks/conv.py --cached-only            # the table from cached results, no tool runs

Every point is a ``conv`` layer ``c → c`` channels, 3×3 kernel, 16×16 input
(14×14 outputs), Q16.10: the dense engine with ``--dense-lanes`` MAC lanes
(default 16) and the circulant engine at each ``k`` with the fewest complex
lanes (three multipliers each) that keep its forward FFT — ``9c`` words per
output pixel, one per cycle — the bottleneck: more lanes would idle. Cycles per output pixel are the
engines' steady-state intervals (``models.net.layer_interval`` with
``n_in = 9c``, ``n_out = c``; the RTL meets them within 5 %,
``tests/test_net.py``); output pixels per second at Fmax, per DSP and per
LUT, circulant over dense; weight bits each engine stores.
"""

import argparse
import sys
from pathlib import Path

from common import ROOT, progress, ratio, synth

from accelgen.flows.outputs import write_atomically
from models.circulant import weight_storage_bits
from models.net import fold, layer_interval

SIZE, KERNEL, WIDTH, FRAC = 16, 3, 16, 10


def point(channels: int, engine: str, k: int, lanes: int) -> dict:
    return {"c_in": channels, "c_out": channels, "size": SIZE, "kernel": KERNEL, "engine": engine, "k": k,
            "width": WIDTH, "frac": FRAC, "parallelism": lanes}


def measure(params: dict, seeds: int, cached_only: bool) -> dict:
    n_in, n_out = KERNEL ** 2 * params["c_in"], params["c_out"]
    engine, k, lanes = params["engine"], params["k"], params["parallelism"]
    cycles = layer_interval(engine, n_in, n_out, k, lanes)
    bits = (weight_storage_bits(n_in, n_out, k, WIDTH, lanes) if engine == "circulant" else n_in * n_out * WIDTH)
    progress(f"conv {engine} c={params['c_in']} k={k} lanes={lanes}")
    result = synth("conv", params, seeds=seeds, cached_only=cached_only) or {}
    fmax = result.get("fmax_median_mhz", result.get("fmax_mhz"))
    pixels = fmax * 1e6 / cycles if fmax else None
    return {**params, **result, "fmax": fmax, "cycles": cycles, "weight_bits": bits, "pixels_per_s": pixels}


def per(row: dict, resource: str):
    return row["pixels_per_s"] / row[resource] if row.get("pixels_per_s") and row.get(resource) else None


def render(rows: list[dict], seeds: int, command: str) -> str:
    lines = ["# Convolution: circulant vs dense", "",
             f"Regenerate with `{command}`. "
             f"Each point: `conv` c → c channels, {KERNEL}×{KERNEL} kernel, {SIZE}×{SIZE} input, Q{WIDTH}.{FRAC}, "
             "ECP5 LFE5U-85F; Fmax " + ("the median of the placement seeds" if seeds > 1 else "placement seed 1")
             + "; cycles per output pixel from the engines' interval models. Ratios: circulant over the dense "
             "row of the same channel count.", "",
             "| c | engine | k | lanes | LUT | FF | DSP | BRAM | Fmax (MHz) | cycles/pixel | k pixels/s | "
             "weight bits | pixels/s per DSP vs dense | per LUT vs dense | weight bits vs dense |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    dense = {row["c_in"]: row for row in rows if row["engine"] == "dense"}
    for row in rows:
        base = dense.get(row["c_in"], {})
        cells = [str(row.get(key, "–")) for key in ("lut", "ff", "dsp", "bram")]
        speed = f"{row['pixels_per_s'] / 1e3:.1f}" if row.get("pixels_per_s") else "–"
        lines.append(f"| {row['c_in']} | {row['engine']} | {row['k'] if row['engine'] == 'circulant' else '–'} | "
                     f"{row['parallelism']} | " + " | ".join(cells) + f" | {row.get('fmax') or '–'} | "
                     f"{row['cycles']} | {speed} | {row['weight_bits']} | {ratio(per(row, 'dsp'), per(base, 'dsp'))} | "
                     f"{ratio(per(row, 'lut'), per(base, 'lut'))} | {ratio(base.get('weight_bits'), row['weight_bits'])} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--k", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--dense-lanes", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--cached-only", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "conv-results.md")
    args = parser.parse_args()
    rows = []
    for channels in args.channels:
        rows.append(measure(point(channels, "dense", 8, min(args.dense_lanes, channels)), args.seeds, args.cached_only))
        for k in args.k:
            if channels % k == 0:
                lanes = fold("circulant", KERNEL ** 2 * channels, channels, k, KERNEL ** 2 * channels)
                rows.append(measure(point(channels, "circulant", k, lanes), args.seeds, args.cached_only))
    command = " ".join(["python benchmarks/conv.py", *(arg for arg in sys.argv[1:] if arg != "--cached-only")])
    write_atomically({args.out: render(rows, args.seeds, command)})
    print(args.out)


if __name__ == "__main__":
    main()
