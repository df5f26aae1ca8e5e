"""``accelgen prove``: the stream contract proved formally; a component that breaks it is caught, with a trace."""

import json
from pathlib import Path

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

import accelgen
from accelgen.cli import main
from accelgen.flows.prove import prove_component


class RegisterSlice(wiring.Component):
    """A one-word stream register; ``broken`` makes it break the contract: while its consumer stalls
    ``"payload"`` changes the held word and ``"valid"`` drops it; ``"eager"`` offers a word before any
    input arrived."""

    input: In(stream.Signature(8))
    output: Out(stream.Signature(8))

    def __init__(self, broken: str | None = None):
        self.broken = broken
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        valid, payload = Signal(init=self.broken == "eager"), Signal(8)
        m.d.comb += [self.output.valid.eq(valid), self.output.payload.eq(payload),
                     self.input.ready.eq(~valid | self.output.ready)]
        with m.If(self.input.ready):
            m.d.sync += [valid.eq(self.input.valid), payload.eq(self.input.payload)]
        with m.Elif(self.broken == "payload"):
            m.d.sync += payload.eq(payload + 1)
        with m.Elif(self.broken == "valid"):
            m.d.sync += valid.eq(0)
        return m


def _results(found):
    return {entry["name"]: entry["result"] for entry in found}


def test_a_correct_register_slice_is_proved_unbounded(tmp_path):
    found = prove_component(RegisterSlice, depth=8, work_dir=tmp_path)
    assert _results(found) == {"output: valid held while stalled": "proved",
                               "output: payload held while stalled": "proved",
                               "output: no output before an input": "proved"}
    assert all(entry["kind"] == "unbounded (k-induction)" for entry in found)


@pytest.mark.parametrize("broken, failing", [
    ("payload", "output: payload held while stalled"),
    ("valid", "output: valid held while stalled"),
    ("eager", "output: no output before an input"),
])
def test_a_broken_register_slice_fails_with_a_trace(broken, failing, tmp_path):
    found = prove_component(lambda: RegisterSlice(broken), depth=8, work_dir=tmp_path)
    by_name = {entry["name"]: entry for entry in found}
    assert by_name[failing]["result"] == "failed" and by_name[failing]["trace"].endswith(".vcd")
    assert all(entry["result"] == "proved" for name, entry in by_name.items() if name != failing)


def test_prove_dense_fc_from_the_command_line(tmp_path, capsys):
    argv = ["prove", "dense-fc", "-p", "n_in=2", "-p", "n_out=2", "-p", "parallelism=1", "--json",
            str(tmp_path / "proof.json")]
    assert main(argv) == 0
    report = json.loads((tmp_path / "proof.json").read_text())
    assert report["design"] == "dense-fc" and report["params"]["n_in"] == 2
    assert [p["result"] for p in report["properties"]] == ["proved", "proved", "proved"]
    assert set(report["properties"][0]) >= {"name", "kind", "result", "depth", "engine", "seconds"}
    assert "y_out: valid held while stalled: proved" in capsys.readouterr().out


def test_prove_refuses_a_bad_depth():
    with pytest.raises(accelgen.UserError, match=r"depth=0 out of range \[1, 200\]"):
        accelgen.design("pwl").prove(depth=0)


# Small points of every design (the proof is of the ports' protocol, which these shapes exercise fully).
PROOF_POINTS = {
    "bnn-mlp": dict(layers="2-2-2", lanes=2, width=8, frac=4, passes=1),
    "circulant-fc": dict(n_in=4, n_out=4, k=2, parallelism=1, width=8, frac=4),
    "circulant-gru": dict(n_in=2, hidden=2, k=2, parallelism=1, width=8, frac=3),
    "circulant-lstm": dict(n_in=2, hidden=2, k=2, parallelism=1, width=8, frac=3),
    "clt-grng": dict(terms=2, bits=2, lanes=1),
    "conv": dict(c_in=1, c_out=1, size=2, kernel=2, engine="dense", parallelism=1, width=8, frac=4),
    "dense-fc": dict(n_in=2, n_out=2, parallelism=1),
    "fft": dict(k=4, width=8, frac=4),
    "intergrad": dict(rows=2, cols=2, width=4, acc_width=8, max_n_o=2, max_n_i=2, max_batch=1),
    "lfsr-grng": dict(lanes=1, bits=4),
    "net": dict(model=str(Path(__file__).parent / "data" / "net_pinned.onnx"), width=8, frac=3,
                target_interval=10**6),
    "pool": dict(channels=1, size=2, width=4, frac=1),
    "pwl": dict(width=8, frac=3),
    "rlf-grng": dict(n=63, lanes=1, bits=4),
    "sc-layer": dict(n_in=1, n_out=1, length=4, bits=2),
    "sc-net": dict(layers="1-1-1", length=4, bits=2),
    "sc-cnn": dict(size=3, kernel=2, channels=1, classes=1, length=4, bits=2),
    "wallace-grng": dict(pool=64, lanes=4),
}
CHEAP = ("clt-grng", "conv", "fft", "lfsr-grng", "pool", "pwl", "rlf-grng", "sc-layer", "sc-net",
         "sc-cnn")  # seconds each; the rest: -m slow


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=() if name in CHEAP else pytest.mark.slow) for name in sorted(PROOF_POINTS)])
def test_every_design_proves_its_stream_contract(name, tmp_path):
    assert sorted(PROOF_POINTS) == accelgen.designs()
    report = accelgen.design(name, **PROOF_POINTS[name]).prove(work_dir=tmp_path)
    assert report["properties"] and all(p["result"] == "proved" for p in report["properties"]), report
