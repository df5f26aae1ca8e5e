"""Intergrad: interleaved vs WS-then-OS, side by side in one run; writes docs/intergrad-results.md.

    python benchmarks/intergrad.py                  # analytic tables + synthesis at 4×4 and 8×8
    python benchmarks/intergrad.py --arrays 4 8 16  # also 16×16 (long: 512 multipliers)

1. FC layers (784×200, 200×200, 200×10, 4096×4096, 4096×1000; B ∈ {1, 8, 32})
   and CNN layers of LeNet-5, VGG-16, Inception-v4 and DenseNet-264 lowered by
   im2col, on a 16×16 array, from the analytic model (``models/intergrad.py``,
   equal to the RTL's counters): cycles (with the RTL's accumulator drain and
   in SCALE-Sim's compute-only convention), SRAM accesses, and an energy
   estimate from ENERGY_PJ.
2. ECP5 LUT/FF/DSP/Fmax of the array in each mode (one fold of a
   rows×cols layer, batch 8) for an iso-area view.
3. LayerPipe-style study: backpropagation of an MLP and of LeNet-5 as a
   pipeline over 2–9 processors, one task per layer vs dX and dW as separate
   tasks, each split balanced optimally (``balanced_stages``).
"""

import argparse
import time

from common import ROOT, progress, ratio, synth

from accelgen.flows.outputs import write_atomically
from accelgen.flows.synthesize import SynthesisError
from models.intergrad import Layer, balanced_stages, baseline, conv_as_fc, counters

ARRAY = 16
#: Energy per event, pJ — Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm):
#: 8-bit multiply 0.2 + 32-bit add 0.1 per MAC; 32 KB SRAM, 64-bit access 20 pJ,
#: scaled by bits: 8-bit operands 2.5 pJ, 32-bit partial sums and gradients 10 pJ.
ENERGY_PJ = {"mac": 0.3, "operand": 2.5, "result": 10.0}

FC = [(784, 200), (200, 200), (200, 10), (4096, 4096), (4096, 1000)]
CNN = [
    conv_as_fc("LeNet-5 conv1", 32, 32, 1, 6, 5),
    conv_as_fc("LeNet-5 conv2", 14, 14, 6, 16, 5),
    conv_as_fc("VGG-16 conv1_2", 224, 224, 64, 64, 3, padding=1),
    conv_as_fc("VGG-16 conv3_2", 56, 56, 256, 256, 3, padding=1),
    conv_as_fc("VGG-16 conv5_3", 14, 14, 512, 512, 3, padding=1),
    conv_as_fc("Inception-v4 stem conv1", 299, 299, 3, 32, 3, stride=2),
    conv_as_fc("Inception-v4 A 1×1", 35, 35, 384, 96, 1),
    conv_as_fc("DenseNet-264 bottleneck 1×1", 56, 56, 256, 128, 1),
    conv_as_fc("DenseNet-264 3×3", 56, 56, 128, 32, 3, padding=1),
]


def accesses(c: dict) -> int:
    return sum(c["sram_reads"].values()) + sum(c["sram_writes"].values())


def energy_uj(layer: Layer, c: dict, macs_per_pass: int) -> float:
    operands = sum(c["sram_reads"][k] for k in ("w", "x", "delta"))
    results = c["sram_reads"]["dx"] + sum(c["sram_writes"].values())
    pj = macs_per_pass * ENERGY_PJ["mac"] + operands * ENERGY_PJ["operand"] + results * ENERGY_PJ["result"]
    return pj / 1e6


def compare(layer: Layer) -> dict:
    inter = counters(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY, "interleaved")
    apart = baseline(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY)
    macs = 2 * layer.n_o * layer.n_i * layer.batch  # dX and dW, the same in both schedules
    return {"layer": layer, "inter": inter, "apart": apart,
            "e_inter": energy_uj(layer, inter, macs), "e_apart": energy_uj(layer, apart, macs)}


def comparison_table(rows: list[dict]) -> list[str]:
    lines = [
        "| layer | N_o × N_i | B (columns) | cycles WS+OS | cycles interleaved | saving | compute-only saving "
        "(SCALE-Sim) | accesses WS+OS | accesses interleaved | saving | energy WS+OS (µJ) | interleaved (µJ) | saving |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        layer, inter, apart = row["layer"], row["inter"], row["apart"]
        lines.append("| " + " | ".join([
            layer.name, f"{layer.n_o} × {layer.n_i}", str(layer.batch),
            str(apart["cycles"]), str(inter["cycles"]), ratio(apart["cycles"], inter["cycles"]),
            ratio(apart["compute_cycles"], inter["compute_cycles"]),
            str(accesses(apart)), str(accesses(inter)), ratio(accesses(apart), accesses(inter)),
            f"{row['e_apart']:.3g}", f"{row['e_inter']:.3g}", ratio(row["e_apart"], row["e_inter"]),
        ]) + " |")
    return lines


def synthesis_table(sizes: list[int]) -> list[str]:
    lines = ["| array | mode | LUT | FF | DSP | BRAM | Fmax (MHz) | cycles (one fold, B = 8) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        for mode in ("ws", "os", "interleaved"):
            progress(f"synthesis {size}×{size} {mode}")
            params = {"rows": size, "cols": size, "max_n_o": size, "max_n_i": size, "max_batch": 8, "mode": mode}
            cycles = counters(size, size, 8, size, size, mode)["cycles"]
            try:
                result = synth("intergrad", params)
            except SynthesisError as error:  # e.g. more MULT18X18D than the LFE5U-85F's 156
                lines.append(f"| {size}×{size} | {mode} | does not place: {str(error).split(';')[0]} | | | | | {cycles} |")
                continue
            lines.append(f"| {size}×{size} | {mode} | {result['lut']} | {result['ff']} | {result['dsp']} | "
                         f"{result['bram']} | {result['fmax_mhz']} | {cycles} |")
    return lines


def layer_tasks(layers: list[Layer], split: bool) -> list[int]:
    """Backprop tasks in execution order (last layer first): per layer [dX, dW] or [dX + dW]."""
    tasks = []
    for layer in reversed(layers):
        dx = counters(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY, "ws")["cycles"]
        dw = counters(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY, "os")["cycles"]
        tasks.extend([dx, dw] if split else [dx + dw])
    return tasks


def layerpipe_table(networks: dict) -> list[str]:
    lines = ["| network | processors | stage cycles, one task per layer | stage cycles, dX/dW split | "
             "speedup of the split | speedup over 1 processor |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, layers in networks.items():
        whole, split = layer_tasks(layers, False), layer_tasks(layers, True)
        for processors in range(2, 10):
            per_layer, per_gradient = balanced_stages(whole, processors), balanced_stages(split, processors)
            lines.append(f"| {name} | {processors} | {per_layer} | {per_gradient} | "
                         f"{ratio(per_layer, per_gradient)} | {ratio(sum(split), per_gradient)} |")
    return lines


def render(fc_rows, cnn_rows, synthesis, layerpipe, elapsed) -> str:
    return "\n".join([
        "# Intergrad — measured",
        "",
        f"Generated by `python benchmarks/intergrad.py` ({elapsed:.0f} s). Analytic model = the RTL's counters "
        f"(tests/test_intergrad.py); {ARRAY}×{ARRAY} array. \"WS+OS\" runs dX in WS mode, then dW in OS mode "
        "(δ read twice); interleaved reads δ once. Cycles include the RTL's accumulator drain (rows cycles per "
        "OS fold); the compute-only column uses SCALE-Sim's convention (no drain). Energy: "
        f"{ENERGY_PJ} pJ per MAC / 8-bit operand access / 32-bit result access (Horowitz, ISSCC 2014).",
        "",
        "## Fully-connected layers",
        "",
        *comparison_table(fc_rows),
        "",
        "## Convolution layers (im2col; B = 1 image, columns = output pixels)",
        "",
        *comparison_table(cnn_rows),
        "",
        "## Synthesis (ECP5 LFE5U-85F, width 8, acc_width 24)",
        "",
        *synthesis,
        "",
        "## LayerPipe-style pipelining of backpropagation (analytic, 16×16 array per processor)",
        "",
        *layerpipe,
        "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arrays", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--out", default=str(ROOT / "docs" / "intergrad-results.md"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    fc_rows = [compare(Layer(f"FC {n_i}×{n_o}", n_o, n_i, batch)) for n_i, n_o in FC for batch in (1, 8, 32)]
    cnn_rows = [compare(layer) for layer in CNN]
    synthesis = synthesis_table(args.arrays)
    mlp = [Layer("fc1", 200, 784, 32), Layer("fc2", 200, 200, 32), Layer("fc3", 10, 200, 32)]
    layerpipe = layerpipe_table({"MLP 784-200-200-10, B = 32": mlp, "LeNet-5 convs + FC": [
        *CNN[:2], Layer("fc1", 120, 400, 1), Layer("fc2", 84, 120, 1), Layer("fc3", 10, 84, 1)]})
    write_atomically({args.out: render(fc_rows, cnn_rows, synthesis, layerpipe, time.perf_counter() - start)})
    progress(f"wrote {args.out}")


if __name__ == "__main__":
    main()
