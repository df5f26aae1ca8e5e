"""circulant-fc vs dense-fc, side by side in one run; writes docs/circulant-results.md.

    python benchmarks/circulant.py                 # n in {64, …, 1024}, k in {4, 8, 16, 32}
    python benchmarks/circulant.py --n 64 128 256 --k 16
    python benchmarks/circulant.py --lanes 3       # 3 complex MAC lanes instead of k/2 + 1
    python benchmarks/circulant.py --cached-only   # the table from cached results, no tool runs
    python benchmarks/circulant.py --k 16 --seeds 3 --out docs/circulant-seeds.md   # Fmax: median of 3 placements

For every n (n_in = n_out) and k: ECP5 LUT/FF/DSP/BRAM and Fmax of both
designs (yowasp flow, cached), cycles per output vector from the cycle models
(``models.dense.cycles_per_vector``; ``models.circulant.cycles_per_vector``,
the steady-state interval — equal to the RTL's counters, see tests), weight storage bits, and the
figures of merit: vectors per cycle per DSP and per LUT, circulant over
dense. With ``--seeds N`` every point is placed with nextpnr seeds 1 … N
(``accelgen synth --seeds``): the table lists each seed's Fmax and times
the per-second ratio at the medians. Points whose weights exceed the device's block RAM are reported as
not synthesized (dense-fc's DSP count, its lane count at every n, still
gives the per-cycle-per-DSP ratio there).
"""

import argparse
import sys
import time
from pathlib import Path

from common import ROOT, progress, ratio, synth

from accelgen.flows import plots
from accelgen.flows.outputs import write_atomically
from models.circulant import cycles_per_vector as circulant_cycles
from models.circulant import weight_storage_bits
from models.dense import cycles_per_vector as dense_cycles

ECP5_85F_BRAM_BITS = 208 * 18 * 1024  # 208 DP16KD blocks
WIDTH, FRAC, DENSE_LANES = 16, 10, 4


def circulant_lanes(k: int, lanes: int | None) -> int:
    """Complex MAC lanes of a point: ``lanes`` (at most ``k/2 + 1``), or one per kept bin."""
    return min(lanes, k // 2 + 1) if lanes else k // 2 + 1


UNFINISHED = "no cached synthesis result (--cached-only): its run had not finished when the table was written"


def synthesized(row: dict, result: dict | None) -> dict:
    return {**row, **result} if result else {**row, "note": UNFINISHED}


def dense_point(n: int, cached_only: bool = False, seeds: int = 1) -> dict:
    bits = n * n * WIDTH
    row = {"design": "dense-fc", "n": n, "k": "–", "cycles": dense_cycles(n, n, DENSE_LANES), "weight_bits": bits}
    if bits > ECP5_85F_BRAM_BITS:  # its DSP count is still known: one MULT18X18D per lane at every n
        return {**row, "dsp": DENSE_LANES,
                "note": f"weights exceed LFE5U-85F block RAM: not synthesized; DSP = its {DENSE_LANES} lanes "
                        "(one MULT18X18D each at every synthesized n), so only the per-cycle ratios are given"}
    return synthesized(row, synth("dense-fc", {"n_in": n, "n_out": n, "parallelism": DENSE_LANES},
                                  cached_only=cached_only, seeds=seeds))


def circulant_point(n: int, k: int, lanes: int, cached_only: bool = False, seeds: int = 1) -> dict:
    bits = weight_storage_bits(n, n, k, WIDTH, lanes)
    row = {"design": "circulant-fc", "n": n, "k": k, "cycles": circulant_cycles(n, n, k, lanes), "weight_bits": bits}
    if bits > ECP5_85F_BRAM_BITS:
        return {**row, "note": "weight spectra exceed LFE5U-85F block RAM"}
    return synthesized(row, synth("circulant-fc", {"n_in": n, "n_out": n, "k": k, "parallelism": lanes},
                                  cached_only=cached_only, seeds=seeds))


def fmax(row: dict) -> float | None:
    """The point's Fmax: the median over placement seeds when there are several, else seed 1's."""
    return row.get("fmax_median_mhz", row.get("fmax_mhz"))


def per_resource(row: dict, key: str, at_fmax: bool = False):
    """Vectors per cycle (or per µs at Fmax) per unit of ``key`` (``dsp`` or ``lut``)."""
    if not row.get(key) or (at_fmax and not fmax(row)):
        return None
    return (fmax(row) if at_fmax else 1.0) / (row["cycles"] * row[key])


SCALING_N = (64, 128, 256, 512, 1024, 2048, 4096)
PLOT = "circulant-scaling.png"


def scaling_plot(ks: list[int], lanes_option: int | None) -> bytes:
    """Cycles per vector and weight bits vs n (cycle and storage models, equal to the RTL's), log-log."""
    fig, (cycles_axis, bits_axis) = plots.figure(ncols=2, figsize=(10, 4), dpi=90)
    ns = list(SCALING_N)
    cycles_axis.plot(ns, [dense_cycles(n, n, DENSE_LANES) for n in ns], "o-", label=f"dense-fc, {DENSE_LANES} lanes")
    bits_axis.plot(ns, [n * n * WIDTH for n in ns], "o-", label="dense-fc")
    for k in ks:
        lanes = circulant_lanes(k, lanes_option)
        cycles_axis.plot(ns, [circulant_cycles(n, n, k, lanes) for n in ns], ".-", label=f"circulant-fc k={k}")
        bits_axis.plot(ns, [weight_storage_bits(n, n, k, WIDTH, lanes) for n in ns], ".-", label=f"k={k}")
    cycles_axis.plot(ns, [circulant_cycles(n, n, n, circulant_lanes(n, lanes_option)) for n in ns], "k--",
                     label="k = n (cycle model only): O(n)")
    for axis, title in ((cycles_axis, "cycles per vector"), (bits_axis, "weight storage bits")):
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("n = n_in = n_out")
        axis.set_title(title)
        axis.legend(fontsize=7)
    return plots.png_bytes(fig)


def render(rows: list[dict], elapsed: float, lanes_option: int | None, plot: str, command: str,
           seeds: int = 1) -> str:
    def cell(row, key):
        value = row.get(key)
        return "–" if value is None else str(value)

    def fmax_cells(row):
        if seeds == 1:
            return [cell(row, "fmax_mhz")]
        return [cell(row, "fmax_median_mhz"), " / ".join(map(str, row.get("fmax_seeds_mhz", []))) or "–"]

    tool_minutes = sum(row.get("yosys_s", 0) + sum(row.get("pnr_seeds_s", [row.get("pnr_s", 0)]))
                       for row in rows) / 60
    lines = [
        "# circulant-fc vs dense-fc — measured",
        "",
        f"Generated by `{command}` (this run: {elapsed:.0f} s; the yosys and nextpnr runs "
        f"behind the table, cached by Verilog hash, took {tool_minutes:.0f} min of tool time in all). ECP5 LFE5U-85F, "
        f"width {WIDTH}, frac {FRAC}; dense-fc with {DENSE_LANES} MAC lanes, circulant-fc with "
        + (f"{lanes_option} complex MAC lanes (or k/2+1 if fewer)" if lanes_option else
           "k/2+1 complex MAC lanes (one per kept bin)")
        + ". Cycles per vector from the cycle models, which equal the RTL's counters "
        "(tests/test_dense.py; tests/test_circulant.py: the steady-state interval of the overlapped "
        "forward / MAC / inverse stages)."
        + (f" Fmax: the median of nextpnr placement seeds 1–{seeds} on the same netlist (each seed's "
           "in the next column); the per-second ratio is taken at the medians." if seeds > 1 else ""),
        "",
        "| design | n | k | LUT | FF | DSP | BRAM | "
        + ("Fmax (MHz)" if seeds == 1 else f"Fmax median (MHz) | Fmax seeds 1–{seeds} (MHz)")
        + " | cycles/vector | weight bits | "
        "vectors/cycle vs dense | vectors/cycle/DSP vs dense | vectors/cycle/LUT vs dense | "
        "vectors/s/DSP vs dense (at " + ("Fmax" if seeds == 1 else "median Fmax") + ") |",
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if seeds > 1 else "") + "---:|---:|---:|---:|---:|---:|",
    ]
    dense = {row["n"]: row for row in rows if row["design"] == "dense-fc"}
    for row in rows:
        base = dense[row["n"]]
        vs_cycles = ratio(base["cycles"], row["cycles"])
        vs_dsp = ratio(per_resource(row, "dsp"), per_resource(base, "dsp"))
        vs_lut = ratio(per_resource(row, "lut"), per_resource(base, "lut"))
        vs_dsp_fmax = ratio(per_resource(row, "dsp", True), per_resource(base, "dsp", True))
        lines.append("| " + " | ".join([
            row["design"], str(row["n"]), str(row["k"]),
            *(cell(row, key) for key in ("lut", "ff", "dsp", "bram")), *fmax_cells(row),
            str(row["cycles"]), str(row["weight_bits"]), vs_cycles, vs_dsp, vs_lut, vs_dsp_fmax,
        ]) + " |" + (f" {row['note']}" if "note" in row else ""))
    lines += ["", f"![cycles per vector and weight bits vs n]({plot})", "",
              "Cycles per vector: dense-fc n + ceil(n/P_dense)·(n + 4) + n (load x, then per group of "
              "P_dense rows n issues, 4 drain cycles and the P_dense results sent: about n²/P_dense); "
              "circulant-fc max(n, (n/k)²·ceil((k/2+1)/P)): the "
              "streaming transforms take one sample per cycle and overlap the MAC, so the MAC issues set "
              "the pace once n > k²/ceil((k/2+1)/P), and the cycle ratio dense/circulant is about "
              "k²/(P_dense·ceil((k/2+1)/P)) there — 64× at k = 16, P_dense = 4, P = 9. With one block "
              "(k = n, dashed; the RTL stops at k = 64) a vector costs n cycles — O(n) time on O(log n) "
              "butterfly stages, i.e. O(n log n) work as in CirCNN. Weight bits: O(n²) against O(n²/k)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--k", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--lanes", type=int, default=None, help="complex MAC lanes (default k/2+1)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "circulant-results.md"))
    parser.add_argument("--seeds", type=int, default=1, help="nextpnr placement seeds per point (default 1)")
    parser.add_argument("--cached-only", action="store_true",
                        help="report points without a cached synthesis result instead of running the tools")
    args = parser.parse_args(argv)
    command = " ".join(["python benchmarks/circulant.py", *(sys.argv[1:] if argv is None else argv)])
    start, rows = time.perf_counter(), []
    for n in args.n:
        progress(f"n={n}: dense-fc")
        rows.append(dense_point(n, args.cached_only, args.seeds))
        for k in args.k:
            if n % k == 0:
                progress(f"n={n}: circulant-fc k={k}")
                rows.append(circulant_point(n, k, circulant_lanes(k, args.lanes), args.cached_only, args.seeds))
    out = Path(args.out)
    plot = PLOT if out.name == "circulant-results.md" else f"{out.stem}-scaling.png"
    table = render(rows, time.perf_counter() - start, args.lanes, plot, command, args.seeds)
    write_atomically({args.out: table,
                             str(out.parent / plot): scaling_plot(args.k, args.lanes)})
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
