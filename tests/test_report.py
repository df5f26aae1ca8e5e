"""The build report's headline ratios and progress bar, on hand-made results (no simulation)."""

import io

import pytest

from accelgen import registry
from accelgen.flows.report import Entry, Progress, render_html, render_markdown
from models.circulant import weight_storage_bits
from models.intergrad import baseline


def _entry(name, counters, synth, **params):
    design = registry.get(name)
    return Entry(design, {**design.defaults(), **params}, passed=True, counters=counters, synth=synth)


def _rows(entries, name):
    return dict(registry.get(name).headline({entry.design.name: entry for entry in entries}))


def test_circulant_headline_is_throughput_per_dsp_and_per_lut_against_dense():
    circ = _entry("circulant-fc", {"cycles": 300, "vectors": 3}, {"lut": 2000, "dsp": 6, "fmax_mhz": 80.0})
    dense = _entry("dense-fc", {"cycles": 3000, "vectors": 3}, {"lut": 500, "dsp": 4, "fmax_mhz": 100.0})
    rows = _rows([circ, dense], "circulant-fc")
    assert rows["vectors per cycle, circulant-fc ÷ dense-fc"] == "10.00×"
    assert rows["vectors per cycle per DSP"] == f"{10 * 4 / 6:.2f}×"
    assert rows["vectors per second per LUT (each at its Fmax)"] == f"{10 * 0.8 * 500 / 2000:.2f}×"
    bits = 64 * 64 * 16 / weight_storage_bits(64, 64, 16, 16, 3)
    assert rows["weight storage bits, dense-fc ÷ circulant-fc"] == f"{bits:.2f}×"


def test_headline_needs_both_designs_passed_and_the_same_shape():
    circ = _entry("circulant-fc", {"cycles": 300, "vectors": 3}, {"lut": 2000, "dsp": 6, "fmax_mhz": 80.0})
    dense = _entry("dense-fc", {"cycles": 3000, "vectors": 3}, {"lut": 500, "dsp": 0, "fmax_mhz": 100.0}, n_in=32)
    assert _rows([circ], "circulant-fc") == {}
    assert "not compared" in _rows([circ, dense], "circulant-fc")["circulant-fc ÷ dense-fc"]
    dense.params["n_in"] = 64
    assert _rows([circ, dense], "circulant-fc")["vectors per cycle per DSP"].startswith("n/a")
    dense.passed = False
    assert _rows([circ, dense], "circulant-fc") == {}


def test_grng_headlines_count_every_lane():
    rlf = _entry("rlf-grng", {"cycles": 1024, "samples": 1024}, {"lut": 300, "fmax_mhz": 120.0}, lanes=8)
    clt = _entry("clt-grng", {"cycles": 1024, "samples": 1024}, {"lut": 1000, "fmax_mhz": 200.0}, lanes=4)
    rows = _rows([rlf, clt], "rlf-grng")
    assert rows["samples per cycle, rlf-grng ÷ clt-grng"] == "2.00×"
    assert rows["samples per second per LUT (each at its Fmax)"] == f"{(8 * 120 / 300) / (4 * 200 / 1000):.2f}×"


def test_intergrad_headline_compares_the_measured_run_with_ws_then_os():
    ws_os = baseline(6, 5, 3, 4, 4)
    measured = {"cycles": ws_os["cycles"] // 2, "sram_reads": {"w": 10, "x": 10}, "sram_writes": {"dx": 5}}
    rows = _rows([_entry("intergrad", measured, {"lut": 1})], "intergrad")
    assert rows["cycles, WS then OS ÷ interleaved"] == f"{ws_os['cycles'] / measured['cycles']:.2f}×"
    total = sum(ws_os["sram_reads"].values()) + sum(ws_os["sram_writes"].values())
    assert rows["SRAM accesses, WS then OS ÷ interleaved"] == f"{total / 25:.2f}×"
    assert _rows([_entry("intergrad", measured, {"lut": 1}, mode="ws")], "intergrad") == {}


def test_reports_carry_the_headlines_in_the_family_section(tmp_path):
    entries = [_entry("circulant-fc", {"cycles": 300, "vectors": 3}, {"lut": 2000, "dsp": 6, "fmax_mhz": 80.0}),
               _entry("dense-fc", {"cycles": 3000, "vectors": 3}, {"lut": 500, "dsp": 4, "fmax_mhz": 100.0})]
    markdown = render_markdown(entries, "ecp5")
    assert "## Headline ratios: docs/circulant.md" in markdown
    assert "| vectors per cycle, circulant-fc ÷ dense-fc | 10.00× |" in markdown
    page = render_html(entries, "ecp5", tmp_path)
    section = page[page.index("<h2>docs/circulant.md</h2>"):page.index("<h2>docs/flow.md</h2>")]
    assert "<td>vectors per cycle, circulant-fc ÷ dense-fc</td><td>10.00×</td>" in section


@pytest.mark.parametrize("terminal", [False, True])
def test_progress_bar_fills_with_the_steps(terminal):
    stream = io.StringIO()
    stream.isatty = lambda: terminal
    progress = Progress(8, stream)
    for done in range(9):
        progress.show(done, f"step {done}", keep=done == 8)
    text = stream.getvalue()
    lines = text.split("\r\x1b[K") if terminal else text.splitlines()
    bars = [line[1:25] for line in lines if line]
    assert bars[0] == "." * 24 and bars[4] == "#" * 12 + "." * 12 and bars[-1] == "#" * 24
    assert " 50% " in lines[-5] and text.endswith("step 8\n")
