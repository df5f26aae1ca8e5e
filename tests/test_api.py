"""The Python API: every registered design's golden model equals its RTL through ``run``, bit for bit; the
design object validates once, is deterministic, and the example of docs/api.md runs as written."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import accelgen
from accelgen.api import Design
from accelgen.flows.simulate import random_inputs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"

# One small point per design, each a point whose Verilator build another test already makes (builds are
# cached by Verilog text), so this sweep over the registry costs simulations, not compilations.
SHARED_POINTS = {
    "bnn-mlp": {},                                                   # tests/test_bnn.py
    "circulant-fc": {"n_in": 48, "n_out": 32, "k": 16, "parallelism": 2},  # tests/test_circulant.py
    "circulant-gru": {},                                             # tests/test_rnn.py
    "circulant-lstm": {"sequence": 3},                               # tests/test_rnn.py
    "clt-grng": {"terms": 3, "bits": 5, "lanes": 2, "seed": 4, "samples": 40},  # tests/test_grng.py
    "conv": {},                                                      # tests/test_conv.py
    "dense-fc": {"n_in": 8, "n_out": 4, "parallelism": 2},           # tests/test_flow.py (build)
    "fft": {"k": 16},                                                # tests/test_circulant.py
    "intergrad": {},                                                 # tests/test_intergrad.py
    "lfsr-grng": {"lanes": 3, "bits": 9, "seed": 6, "samples": 40},  # tests/test_grng.py
    "net": {},                                                       # tests/test_net.py
    "pool": {},                                                      # tests/test_conv.py
    "pwl": {"function": "tanh"},                                     # tests/test_pwl.py
    "rlf-grng": {"n": 63, "lanes": 3, "bits": 12, "seed": 77, "samples": 40},
    "sc-layer": {"n_in": 5, "n_out": 3, "length": 16, "bits": 6},    # tests/test_sc.py
    "sc-net": {"layers": "5-4-3", "length": 16, "bits": 5},           # tests/test_sc.py
    "sc-cnn": {"size": 4, "classes": 2, "length": 16},               # tests/test_sc.py
    "wallace-grng": {"pool": 64, "lanes": 8, "seed": 9, "samples": 40},
}


def test_every_design_has_a_shared_point_and_a_complete_declaration():
    assert sorted(SHARED_POINTS) == accelgen.designs()
    for name in accelgen.designs():
        cls = type(accelgen.design(name))
        assert issubclass(cls, Design) and cls.name == name
        for hook in ("component", "outputs", "golden"):
            assert getattr(cls, hook) is not getattr(Design, hook), f"{name} does not declare {hook}()"
        assert cls.testbench.startswith("sim.tb_") and cls.docs.startswith("docs/") and cls.family.title


def _user_arrays(acc, rng) -> dict:
    """Random raw inputs of two rows; standard deviations made non-negative (``bnn-mlp``'s input contract)."""
    raw = random_inputs(acc, rng, batch=2)
    return {name: np.maximum(values, 0) if name.startswith("sigma") else values for name, values in raw.items()}


# bnn-mlp's run (16 s of simulation) runs with -m slow, keeping the default pytest under 15 minutes; its
# run() of a trained posterior equals the model in tests/test_bnn.py.
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name == "bnn-mlp" else name
                                  for name in sorted(SHARED_POINTS)])
def test_model_equals_run_bit_for_bit(name):
    acc = accelgen.design(name, **SHARED_POINTS[name])
    arrays = _user_arrays(acc, np.random.default_rng(sorted(SHARED_POINTS).index(name)))
    expected = acc.model(arrays)
    outputs, report = acc.run(arrays)
    assert sorted(outputs) == sorted(expected) == sorted([*acc.outputs(), *(f"{o}_raw" for o in acc.outputs())])
    for key, want in expected.items():
        assert np.array_equal(outputs[key], want), f"{name}: {key} differs between run() and model()"
    assert report["cycles"] > 0


def test_model_takes_floats_and_raws_like_run():
    acc = accelgen.design("dense-fc", n_in=3, n_out=2, parallelism=1)
    w = np.array([[0.5, -0.25, 1.0], [2.0, 0.0, -1.5]])
    x = np.array([[1.0, 2.0, -0.5]])
    y = acc.model({"w": w, "x": x})
    assert np.allclose(y["y"], x @ w.T) and y["y_raw"].dtype == np.int64
    again = acc.model({"w_raw": (w * 1024).astype(np.int64), "x": x})
    assert np.array_equal(again["y_raw"], y["y_raw"])


@pytest.mark.parametrize("given, message", [
    ({"parallelism": 0}, "parallelism=0 out of range; allowed: [1, 256]"),
    ({"parallelism": 65}, "dense-fc: parallelism=65 out of range [1, 64] (at most n_out)"),
    ({"frac": 16}, "dense-fc: frac=16 out of range [0, 15] for width=16"),
    ({"depth": 3}, "unknown parameter 'depth' for dense-fc"),
    ({"n_in": "x"}, "n_in=x is not an integer"),
])
def test_bad_parameters_raise_one_line_user_errors(given, message):
    with pytest.raises(accelgen.UserError) as error:
        accelgen.design("dense-fc", **given)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_unknown_design_names_the_allowed_ones():
    with pytest.raises(accelgen.UserError, match="unknown design 'nope'; allowed: bnn-mlp, circulant-fc"):
        accelgen.design("nope")


def test_operation_arguments_are_checked_before_any_work():
    acc = accelgen.design("dense-fc", n_in=2, n_out=1, parallelism=1)
    for call, message in ((lambda: acc.simulate(stall=1.0), "stall=1.0 out of range [0, 1)"),
                          (lambda: acc.synthesize("xc7"), "target='xc7' not allowed"),
                          (lambda: acc.synthesize(seeds=17), "seeds=17 out of range [1, 16]"),
                          (lambda: acc.model({"w": np.zeros((2, 2))}), "array 'w' has shape (2, 2)")):
        with pytest.raises(accelgen.UserError, match=re.escape(message)):
            call()


def test_generate_writes_verilog_and_manifest_as_the_cli_does(tmp_path):
    acc = accelgen.design("pwl", function="tanh")
    v_path, json_path = acc.generate(tmp_path)
    assert v_path.read_text() == acc.verilog() and "module pwl(" in acc.verilog()
    manifest = json.loads(json_path.read_text())
    assert manifest["parameters"] == acc.params and manifest["ports"] == acc.ports()


def test_the_docs_example_runs_as_written(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    exec(compile(blocks[0], str(DOCS), "exec"), {})
    printed = capsys.readouterr().out
    assert "accelgen.design('dense-fc', n_in=8, n_out=4, width=16, frac=10, parallelism=2)" in printed
    assert "parallelism=0 out of range; allowed: [1, 256]" in printed
