"""Intergrad: interleaved vs WS-then-OS, side by side in one run; writes docs/intergrad-results.md.

    python benchmarks/intergrad.py                  # analytic tables + synthesis at 4×4 and 8×8
    python benchmarks/intergrad.py --arrays 4 8 16  # also 16×16 (long: 512 multipliers)

1. FC layers (784×200, 200×200, 200×10, 4096×4096, 4096×1000; B ∈ {1, 8, 32})
   and CNN layers of LeNet-5, VGG-16, Inception-v4 and DenseNet-264 lowered by
   im2col, on a 16×16 array, from the analytic model (``models/intergrad.py``,
   equal to the RTL's counters): cycles (with the RTL's accumulator drain and
   in SCALE-Sim's compute-only convention), SRAM accesses, and an energy
   estimate from ENERGY_PJ.
2. Which accesses give the papers' 1.9×: the FC savings counted three ways.
3. Iso-area: five arrangements of 16·16 multipliers (``models.intergrad.iso_area``)
   on the FC and CNN layers and on every layer of Inception-v4 and DenseNet-264
   (``models/cnn_shapes.py``); ECP5 area of the arrangements at 8·8 multipliers.
4. ECP5 LUT/FF/DSP/Fmax of the array in each mode and PE kind (largest layer
   rows×cols, batch 8).
5. A training step through the RTL: the digits MLP's backprop (batch 8) through
   one generated 4×4 array per mode, cycles measured by the RTL's counters (equal
   to the model's), and the LayerPipe split balanced on those measured cycles.
6. LayerPipe-style study: backpropagation of an MLP and of LeNet-5 as a
   pipeline over 2–9 processors, one task per layer vs dX and dW as separate
   tasks, each split balanced optimally (``balanced_stages``).
"""

import argparse
import time

import numpy as np
from common import ROOT, progress, ratio, synth

import accelgen
from accelgen.flows.outputs import write_atomically
from accelgen.flows.synthesize import SynthesisError
from models.cnn_shapes import densenet_264, inception_v4
from models.intergrad import ISO_AREA, Layer, balanced_stages, baseline, conv_as_fc, counters, iso_area, total
from models.train.admm import MLP, load_split
from models.train.backprop import integer_backprop

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


OPERANDS = ("w", "x", "delta")  # 8-bit operand reads; every other access moves a 24-bit partial sum or result


def energy_uj(c: dict, macs: int) -> float:
    operands = sum(c["sram_reads"].get(k, 0) for k in OPERANDS)
    results = accesses(c) - operands
    pj = macs * ENERGY_PJ["mac"] + operands * ENERGY_PJ["operand"] + results * ENERGY_PJ["result"]
    return pj / 1e6


def macs(layer: Layer) -> int:
    """dX and dW of one layer: the same products in every schedule."""
    return 2 * layer.n_o * layer.n_i * layer.batch


def compare(layer: Layer) -> dict:
    inter = counters(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY, "interleaved")
    apart = baseline(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY)
    return {"layer": layer, "inter": inter, "apart": apart,
            "e_inter": energy_uj(inter, macs(layer)), "e_apart": energy_uj(apart, macs(layer))}


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


def access_table(rows: list[dict]) -> list[str]:
    """Interleaved against WS then OS on the FC layers, accesses counted three ways."""
    def reads(c, names):
        return sum(c["sram_reads"][name] for name in names)
    lines = ["| layer | B | δ reads only | operand reads (W, X, δ) | every access (+ dX partial sums, dX and dW "
             "writes) |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        inter, apart = row["inter"], row["apart"]
        lines.append(f"| {row['layer'].name} | {row['layer'].batch} | "
                     f"{ratio(reads(apart, ['delta']), reads(inter, ['delta']))} | "
                     f"{ratio(reads(apart, OPERANDS), reads(inter, OPERANDS))} | {ratio(accesses(apart), accesses(inter))} |")
    return lines


def saving(base: float, new: float) -> str:
    return f"{100 * (1 - new / base):.0f} %"


def iso_layer_table(layers: list[Layer]) -> list[str]:
    """Per layer: the one-MAC interleaved array's savings (cycles / accesses / energy) against each other
    arrangement of the same multipliers."""
    others = ISO_AREA[1:]
    lines = ["| layer | N_o × N_i | B | one-MAC interleaved cycles | " + " | ".join(f"vs {name}" for name in others) + " |",
             "|---|---|---:|---:|" + "---:|" * len(others)]
    for layer in layers:
        runs = iso_area(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY)
        ours = runs[ISO_AREA[0]]
        cells = [f"{saving(runs[name]['cycles'], ours['cycles'])} / {saving(accesses(runs[name]), accesses(ours))} / "
                 f"{saving(energy_uj(runs[name], macs(layer)), energy_uj(ours, macs(layer)))}" for name in others]
        lines.append(f"| {layer.name} | {layer.n_o} × {layer.n_i} | {layer.batch} | {ours['cycles']} | " + " | ".join(cells) + " |")
    return lines


def network_totals(layers: list[Layer]) -> dict:
    """Each arrangement's counters summed over the network's layers (one image), and the energy in µJ."""
    per_layer = [iso_area(layer.n_o, layer.n_i, layer.batch, ARRAY, ARRAY) for layer in layers]
    sums = {name: total(runs[name] for runs in per_layer) for name in ISO_AREA}
    for name in ISO_AREA:
        sums[name]["energy_uj"] = sum(energy_uj(runs[name], macs(layer)) for runs, layer in zip(per_layer, layers))
    return sums


def network_table(name: str, layers: list[Layer]) -> list[str]:
    """Every layer of one network (one image), summed, for each arrangement."""
    sums = network_totals(layers)
    ours = sums[ISO_AREA[0]]
    lines = [f"**{name}** ({len(layers)} weight layers, one image, {ARRAY}×{ARRAY} multipliers):", "",
             "| arrangement | cycles | δ reads | W reads | X reads | partial-sum reads | writes | accesses | energy (µJ) "
             "| one-MAC interleaved saves: cycles / accesses / energy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for arrangement, c in sums.items():
        reads = c["sram_reads"]
        partial = sum(v for k, v in reads.items() if k not in OPERANDS)
        versus = "–" if arrangement == ISO_AREA[0] else (
            f"{saving(c['cycles'], ours['cycles'])} / {saving(accesses(c), accesses(ours))} / "
            f"{saving(c['energy_uj'], ours['energy_uj'])}")
        lines.append(f"| {arrangement} | {c['cycles']:,} | {reads['delta']:,} | {reads.get('w', 0):,} | {reads['x']:,} | "
                     f"{partial:,} | {sum(c['sram_writes'].values()):,} | {accesses(c):,} | {c['energy_uj']:,.0f} | {versus} |")
    return lines


def _synth_row(label: str, points: list[tuple[str, dict]]) -> tuple[str, dict | None]:
    """One table row: the summed LUT/FF/DSP of ``points`` (``(what, params)``), the lowest Fmax."""
    found = []
    for what, params in points:
        progress(f"synthesis {label}: {what}")
        try:
            found.append(synth("intergrad", params))
        except SynthesisError as error:  # e.g. more MULT18X18D than the LFE5U-85F's 156
            return f"| {label} | does not place: {str(error).split(';')[0]} | | | | |", None
    summed = {key: sum(result[key] for result in found) for key in ("lut", "ff", "dsp", "bram")}
    summed["fmax_mhz"] = min(result["fmax_mhz"] for result in found)
    return (f"| {label} | {summed['lut']} | {summed['ff']} | {summed['dsp']} | {summed['bram']} | "
            f"{summed['fmax_mhz']} |"), summed


def _array(rows, cols, mode, pe="two-mac", largest=None) -> dict:
    largest = largest or (rows, cols)
    return {"rows": rows, "cols": cols, "max_n_o": largest[0], "max_n_i": largest[1], "max_batch": 8, "mode": mode,
            "pe": pe}


def synthesis_table(sizes: list[int]) -> list[str]:
    lines = ["| array | mode, PE | LUT | FF | DSP | BRAM | Fmax (MHz) | cycles (one fold, B = 8) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        for mode, pe in (("ws", "two-mac"), ("os", "two-mac"), ("interleaved", "two-mac"), ("interleaved", "one-mac")):
            cycles = counters(size, size, 8, size, size, mode, pe)["cycles"]
            row, _ = _synth_row(f"{size}×{size} | {mode}, {pe}", [("", _array(size, size, mode, pe))])
            lines.append(f"{row} {cycles} |")
    return lines


def iso_synthesis_table(size: int) -> list[str]:
    """The arrangements of ``size·size`` multipliers on the device, every array sized for layers up to
    2·size × 2·size at batch 8 (so the memories match)."""
    largest, half = (2 * size, 2 * size), size // 2
    lines = ["| arrangement | LUT | FF | DSP | BRAM | Fmax (MHz) |", "|---|---:|---:|---:|---:|---:|"]
    arrangements = {
        f"interleaved, one-MAC PE, {size}×{size} (also runs WS then OS, WS only)":
            [("one-MAC", _array(size, size, "interleaved", "one-mac", largest))],
        f"WS ∥ OS, two {size}×{half} arrays": [("WS", _array(size, half, "ws", largest=largest)),
                                              ("OS", _array(size, half, "os", largest=largest))],
        f"interleaved, two-MAC PE, {size}×{half}": [("two-MAC", _array(size, half, "interleaved", largest=largest))],
    }
    for label, points in arrangements.items():
        lines.append(_synth_row(label, points)[0])
    return lines


def training_step() -> dict:
    """The digits MLP's backprop (batch 8) through one 4×4 array per mode: measured cycles per layer."""
    data = load_split()
    model = MLP((64, 64, 64, 10), np.random.default_rng(0))
    step = integer_backprop(model, data.x_train[:8], data.y_train[:8])
    measured = {}
    for mode, pe in (("ws", "two-mac"), ("os", "two-mac"), ("interleaved", "two-mac"), ("interleaved", "one-mac")):
        progress(f"training step through the RTL: {mode}, {pe}")
        acc = accelgen.design("intergrad", mode=mode, pe=pe, max_n_o=64, max_n_i=64, max_batch=8)
        _, found = acc.run_layers(step.layers)
        for name, layer, counts in zip(step.names, step.layers, found):
            model_cycles = counters(*layer["w_raw"].shape, layer["x_raw"].shape[1], 4, 4, mode, pe)["cycles"]
            assert counts["cycles"] == model_cycles, (mode, pe, name, counts["cycles"], model_cycles)
        measured[(mode, pe)] = [counts["cycles"] for counts in found]
    return {"names": step.names, "shapes": [layer["w_raw"].shape for layer in step.layers], "cycles": measured}


def training_step_tables(run: dict) -> list[str]:
    names, cycles = run["names"], run["cycles"]
    lines = ["| layer (backprop order) | N_o × N_i | dX (ws) | dW (os) | WS then OS | interleaved, two-MAC | "
             "interleaved, one-MAC |", "|---|---|---:|---:|---:|---:|---:|"]
    columns = [cycles[("ws", "two-mac")], cycles[("os", "two-mac")]]
    for k, name in enumerate(names + ["total"]):
        values = [sum(column) if name == "total" else column[k] for column in
                  (*columns, [a + b for a, b in zip(*columns)], cycles[("interleaved", "two-mac")],
                   cycles[("interleaved", "one-mac")])]
        shape = "" if name == "total" else " × ".join(map(str, run["shapes"][k]))
        lines.append(f"| {name} | {shape} | " + " | ".join(str(v) for v in values) + " |")
    lines += ["", "| processors | stage cycles, one task per layer (dX + dW) | stage cycles, dX and dW split | "
              "speedup of the split |", "|---:|---:|---:|---:|"]
    split = [task for pair in zip(*columns) for task in pair]
    whole = [a + b for a, b in zip(*columns)]
    for processors in range(2, len(split) + 1):
        per_layer, per_gradient = balanced_stages(whole, processors), balanced_stages(split, processors)
        lines.append(f"| {processors} | {per_layer} | {per_gradient} | {ratio(per_layer, per_gradient)} |")
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


def render(sections: dict, elapsed: float) -> str:
    return "\n".join([
        "# Intergrad — measured",
        "",
        f"Generated by `python benchmarks/intergrad.py` ({elapsed:.0f} s). Analytic model = the RTL's counters "
        f"(tests/test_intergrad.py); {ARRAY}×{ARRAY} array. \"WS+OS\" runs dX in WS mode, then dW in OS mode "
        "(δ read twice); interleaved reads δ once. Cycles include the RTL's accumulator drain (rows + 1 cycles "
        "per layer); the compute-only column uses SCALE-Sim's convention (no drain). Energy: "
        f"{ENERGY_PJ} pJ per MAC / 8-bit operand access / 32-bit result access (Horowitz, ISSCC 2014).",
        "",
        "## Fully-connected layers (two-MAC PE: interleaving costs twice the multipliers)",
        "",
        *comparison_table(sections["fc"]),
        "",
        "## Convolution layers (im2col; B = 1 image, columns = output pixels)",
        "",
        *comparison_table(sections["cnn"]),
        "",
        "## Which accesses give 1.9×: interleaved vs WS then OS on the FC layers",
        "",
        *access_table(sections["fc"]),
        "",
        f"## Iso-area: {ARRAY}·{ARRAY} multipliers arranged five ways",
        "",
        "One-MAC interleaved: one multiplier per PE, shared by dX and dW in alternate cycles (δ reused from the "
        "PE's register). WS then OS / WS only: the same array run in one mode per gradient (WS only computes dW "
        f"as a WS GEMM too). WS ∥ OS: a {ARRAY}×{ARRAY // 2} WS array and a {ARRAY}×{ARRAY // 2} OS array at the "
        f"same time. Two-MAC interleaved: today's PE on a {ARRAY}×{ARRAY // 2} array. Each cell: what the one-MAC "
        "interleaved array saves in cycles / accesses / energy against that arrangement (negative: it loses).",
        "",
        *iso_layer_table([Layer(row["layer"].name, row["layer"].n_o, row["layer"].n_i, row["layer"].batch)
                          for row in sections["fc"]] + CNN),
        "",
        *network_table("Inception-v4", inception_v4()),
        "",
        *network_table("DenseNet-264", densenet_264()),
        "",
        f"On the device (ECP5 LFE5U-85F, width 8, acc_width 24; {sections['iso_size']}·{sections['iso_size']} "
        "multipliers, every array sized for layers up to "
        f"{2 * sections['iso_size']} × {2 * sections['iso_size']} at batch 8):",
        "",
        *sections["iso_synthesis"],
        "",
        "## Synthesis (ECP5 LFE5U-85F, width 8, acc_width 24)",
        "",
        *sections["synthesis"],
        "",
        "## A training step through the RTL (digits MLP 64-64-64-10, batch 8, one 4×4 array per mode)",
        "",
        "Cycles measured by the RTL's counters in one simulation per mode (all layers back to back, no reset), "
        "each equal to the model's (asserted). The LayerPipe split below is balanced on these measured cycles.",
        "",
        *training_step_tables(sections["training"]),
        "",
        "## LayerPipe-style pipelining of backpropagation (analytic, 16×16 array per processor)",
        "",
        *sections["layerpipe"],
        "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arrays", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--iso-size", type=int, default=8, help="multipliers per side of the iso-area synthesis")
    parser.add_argument("--out", default=str(ROOT / "docs" / "intergrad-results.md"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    mlp = [Layer("fc1", 200, 784, 32), Layer("fc2", 200, 200, 32), Layer("fc3", 10, 200, 32)]
    sections = {
        "fc": [compare(Layer(f"FC {n_i}×{n_o}", n_o, n_i, batch)) for n_i, n_o in FC for batch in (1, 8, 32)],
        "cnn": [compare(layer) for layer in CNN],
        "iso_size": args.iso_size,
        "training": training_step(),
        "iso_synthesis": iso_synthesis_table(args.iso_size),
        "synthesis": synthesis_table(args.arrays),
        "layerpipe": layerpipe_table({"MLP 784-200-200-10, B = 32": mlp, "LeNet-5 convs + FC": [
            *CNN[:2], Layer("fc1", 120, 400, 1), Layer("fc2", 84, 120, 1), Layer("fc3", 10, 84, 1)]}),
    }
    write_atomically({args.out: render(sections, time.perf_counter() - start)})
    progress(f"wrote {args.out}")


if __name__ == "__main__":
    main()
