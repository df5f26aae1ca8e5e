"""The command line: bad input exits 2 with one line and writes nothing; output is deterministic."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SMALL = ["-p", "n_in=6", "-p", "n_out=4", "-p", "parallelism=2"]


def accelgen(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "accelgen.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env)


def assert_usage_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("accelgen: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_names_every_parameter_with_its_range():
    result = accelgen("list")
    assert result.returncode == 0
    assert "dense-fc" in result.stdout
    assert "parallelism" in result.stdout and "[1, 256]" in result.stdout


@pytest.mark.parametrize("args, fragments", [
    (["generate", "nope"], ["'nope'", "dense-fc"]),
    (["generate", "dense-fc", "-p", "bogus=3"], ["'bogus'", "n_in"]),
    (["generate", "dense-fc", "-p", "n_in=0"], ["n_in=0", "[1, 4096]"]),
    (["generate", "dense-fc", "-p", "n_in=many"], ["n_in=many", "[1, 4096]"]),
    (["generate", "dense-fc", "-p", "frac=16"], ["frac=16", "[0, 15]"]),
    (["generate", "dense-fc", "-p", "n_out=2", "-p", "parallelism=3"], ["parallelism=3", "[1, 2]"]),
    (["generate", "dense-fc", "-p", "width"], ["width", "KEY=VALUE"]),
    (["synth", "dense-fc", "--target", "xc7"], ["xc7"]),
    (["synth", "dense-fc", "--seeds", "0"], ["seeds=0", "[1, 16]"]),
    (["synth", "dense-fc", "--seeds", "17"], ["seeds=17", "[1, 16]"]),
    (["synth", "dense-fc", "--goal", "0"], ["goal=0 MHz", "[1, 500]"]),
    (["sim", "dense-fc", "--stall", "1.5"], ["1.5", "[0, 1)"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_parameters_exit_2_with_one_line(args, fragments, tmp_path):
    result = accelgen(*args, cwd=tmp_path)
    assert_usage_error(result, *fragments)
    assert not any(tmp_path.rglob("*.v")), "no partial output"


def _arrays(w_shape=(4, 6), x_shape=(3, 6)):
    rng = np.random.default_rng(0)
    return {"w": rng.uniform(-1, 1, w_shape), "x": rng.uniform(-1, 1, x_shape)}


@pytest.mark.parametrize("arrays, fragments", [
    (_arrays(w_shape=(4, 5)), ["'w'", "(4, 5)", "(4, 6)"]),
    (_arrays(x_shape=(3, 7)), ["'x'", "(3, 7)"]),
    ({"w": _arrays()["w"]}, ["missing array 'x'"]),
    ({**_arrays(), "z": np.zeros(3)}, ["unexpected array 'z'"]),
    ({**_arrays(), "x": np.full((3, 6), 99.0)}, ["x[0, 0]=99.0", "[-32.0, 31.9990234375]"]),
    ({"w": _arrays()["w"], "x_raw": np.full((2, 6), 1.5)}, ["'x_raw'", "float64", "integer"]),
    ({"w": _arrays()["w"], "x_raw": np.full((2, 6), 40000)}, ["x_raw[0, 0]=40000", "[-32768, 32767]"]),
    ({"w": _arrays()["w"].astype(complex), "x": _arrays()["x"]}, ["'w'", "complex"]),
])
def test_run_rejects_bad_arrays_and_writes_nothing(arrays, fragments, tmp_path):
    np.savez(tmp_path / "in.npz", **arrays)
    result = accelgen("run", "dense-fc", *SMALL, "--input", "in.npz", "--output", "out.npz",
                      "--report", "r.json", cwd=tmp_path)
    assert_usage_error(result, *fragments)
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "r.json").exists()


def test_run_rejects_missing_and_unreadable_files(tmp_path):
    assert_usage_error(accelgen("run", "dense-fc", "--input", "nope.npz", "--output", "o.npz", cwd=tmp_path), "nope.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    assert_usage_error(accelgen("run", "dense-fc", "--input", "junk.npz", "--output", "o.npz", cwd=tmp_path), "junk.npz")
    assert_usage_error(accelgen("run", "dense-fc", "--output", "o.npz", cwd=tmp_path), "--input")
    assert not (tmp_path / "o.npz").exists()


def test_run_writes_outputs_and_report(tmp_path):
    np.savez(tmp_path / "in.npz", **_arrays())
    result = accelgen("run", "dense-fc", *SMALL, "--input", "in.npz", "--output", "out.npz", "--report", "r.json",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "out.npz") as out:
        assert out["y"].shape == (3, 4) and out["y_raw"].dtype.kind == "i"
        reference = _arrays()["x"] @ _arrays()["w"].T
        assert np.abs(out["y"] - reference).max() < 0.01
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["cycles"] > 0 and report["vectors"] == 3


def test_generate_is_byte_identical_across_fresh_caches(tmp_path):
    outputs = []
    for attempt in ("a", "b"):
        env = {**os.environ, "ACCELGEN_CACHE": str(tmp_path / f"cache-{attempt}")}
        result = accelgen("generate", "dense-fc", *SMALL, "-o", tmp_path / attempt, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append([(tmp_path / attempt / f"dense-fc.{ext}").read_bytes() for ext in ("v", "json")])
    assert outputs[0] == outputs[1]
    manifest = json.loads(outputs[0][1])
    assert manifest["parameters"] == {"n_in": 6, "n_out": 4, "width": 16, "frac": 10, "parallelism": 2}
    assert {"name": "y_out__payload", "dir": "out", "width": 16, "signed": True} in manifest["ports"]
    assert b"(* src" not in outputs[0][0], "no source-location attributes: they would carry machine paths"
    assert str(tmp_path).encode() not in outputs[0][0]


def test_bad_config_names_the_file_line_and_key(tmp_path):
    (tmp_path / "bad.toml").write_text("# sizes\n[dense-fc]\nn_out = 8\nn_in = 0\n")
    assert_usage_error(accelgen("build", "--config", "bad.toml", cwd=tmp_path), "bad.toml:4:", "n_in=0")
    (tmp_path / "key.toml").write_text("[pwl]\nfunction = 'tanh'\n\n[dense-fc]\nlanes = 2\n")
    assert_usage_error(accelgen("build", "--config", "key.toml", cwd=tmp_path), "key.toml:5:", "unknown parameter 'lanes'")
    (tmp_path / "combo.toml").write_text("[pwl]\nwidth = 8\n")
    assert_usage_error(accelgen("build", "--config", "combo.toml", cwd=tmp_path), "combo.toml:1:", "frac=10")
    (tmp_path / "broken.toml").write_text("[dense-fc\n")
    assert_usage_error(accelgen("build", "--config", "broken.toml", cwd=tmp_path), "broken.toml", "line 1")
    (tmp_path / "unknown.toml").write_text("\n[conv-zz]\n")
    assert_usage_error(accelgen("build", "--config", "unknown.toml", cwd=tmp_path), "unknown.toml:2:", "conv-zz")


@pytest.mark.parametrize("args, fragments", [
    (["-p", "k=12"], ["k=12", "powers of two in [2, 64]"]),
    (["-p", "k=16", "-p", "n_in=40"], ["n_in=40", "multiple of k=16"]),
    (["-p", "k=8", "-p", "parallelism=6"], ["parallelism=6", "[1, 5]"]),
    (["-p", "width=8", "-p", "frac=8"], ["frac=8", "[0, 7]"]),
])
def test_circulant_bad_parameters(args, fragments, tmp_path):
    assert_usage_error(accelgen("generate", "circulant-fc", *args, cwd=tmp_path), *fragments)


def test_circulant_run_rejects_wrong_weight_shape(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "in.npz", w=rng.uniform(-0.1, 0.1, (2, 2, 8)), x=rng.uniform(-1, 1, (1, 32)))
    result = accelgen("run", "circulant-fc", "-p", "n_in=32", "-p", "n_out=32", "-p", "k=16",
                      "--input", "in.npz", "--output", "out.npz", cwd=tmp_path)
    assert_usage_error(result, "'w'", "(2, 2, 8)", "(2, 2, 16)")
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("design, args, fragments", [
    ("pwl", ["-p", "width=6", "-p", "frac=4"], ["frac=4", "[2, 2]"]),
    ("pwl", ["-p", "frac=1"], ["frac=1", "[2, 20]"]),
    ("pwl", ["-p", "width=8", "-p", "frac=5"], ["frac=5", "[2, 4]", "width=8"]),
    ("circulant-lstm", ["-p", "hidden=12"], ["hidden=12", "multiple of k=8"]),
    ("pwl", ["-p", "function=relu"], ["function=relu", "{sigmoid, tanh}"]),
])
def test_rnn_and_pwl_bad_parameters(design, args, fragments, tmp_path):
    assert_usage_error(accelgen("generate", design, *args, cwd=tmp_path), *fragments)


def test_outputs_get_the_usual_file_mode(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the files written must follow the umask instead."""
    import os
    from accelgen.cli import main
    assert main(["generate", "dense-fc", *SMALL, "-o", str(tmp_path)]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "dense-fc.v").stat().st_mode & 0o777 == 0o666 & ~mask
