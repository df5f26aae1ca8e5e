"""The build report: each family's paper-vs-here figures and sections, and the progress bar, on hand-made
results (no simulation)."""

import io

import pytest

import accelgen
from accelgen.flows.report import NOT_MEASURED, Entry, Progress, paper_vs_here, render_html, render_markdown
from models.circulant import weight_storage_bits
from models.intergrad import baseline


def _entry(name, counters, synth, **params):
    return Entry(accelgen.design(name, **params), passed=True, counters=counters, synth=synth)


def _here(entries, name) -> list[str]:
    """The 'here' column of the paper-vs-here table of ``name``'s family."""
    family = accelgen.design(name).family
    return [row[1] for row in paper_vs_here(family, entries)]


def _circulant_pair(dense_dsp=4, **dense_params):
    circ = _entry("circulant-fc", {"cycles": 300, "vectors": 3}, {"lut": 2000, "dsp": 6, "fmax_mhz": 80.0})
    dense = _entry("dense-fc", {"cycles": 3000, "vectors": 3}, {"lut": 500, "dsp": dense_dsp, "fmax_mhz": 100.0},
                   **dense_params)
    return circ, dense


def test_circulant_claims_are_storage_and_throughput_per_dsp_against_dense():
    storage, per_dsp = _here(_circulant_pair(), "circulant-fc")
    bits = 64 * 64 * 16 / weight_storage_bits(64, 64, 16, 16, 3)
    assert storage == f"{bits:.2f}× fewer weight bits"
    assert per_dsp == f"{10 * 0.8 * 4 / 6:.2f}× vectors/s per DSP; 10.00× vectors/cycle"


def test_circulant_claims_need_both_designs_passed_and_the_same_shape():
    circ, dense = _circulant_pair(n_in=32)
    assert _here([circ], "circulant-fc")[1] == NOT_MEASURED
    assert _here([circ, dense], "circulant-fc")[1] == "not compared"
    circ, dense = _circulant_pair(dense_dsp=0)
    assert _here([circ, dense], "circulant-fc")[1] == NOT_MEASURED, "no per-DSP ratio against zero DSPs"
    circ, dense = _circulant_pair()
    dense.passed = False
    assert _here([circ, dense], "circulant-fc")[1] == NOT_MEASURED


def test_grng_claims_count_every_lane():
    rlf = _entry("rlf-grng", {"cycles": 1024, "samples": 1024}, {"lut": 300, "fmax_mhz": 120.0}, lanes=8)
    clt = _entry("clt-grng", {"cycles": 1024, "samples": 1024}, {"lut": 1000, "fmax_mhz": 200.0}, lanes=4)
    figure = (8 * 120 / 300) / (4 * 200 / 1000)
    assert _here([rlf, clt], "rlf-grng")[0] == f"{figure:.2f}× samples/s per LUT vs clt-grng"


def test_bnn_claim_is_images_per_second_at_fmax():
    bnn = _entry("bnn-mlp", {"cycles": 2000, "images": 2}, {"lut": 900, "fmax_mhz": 50.0})
    assert _here([bnn], "bnn-mlp")[2] == "50,000 images/s"


def test_intergrad_claims_compare_the_measured_run_with_ws_then_os():
    ws_os = baseline(6, 5, 3, 4, 4)
    measured = {"cycles": ws_os["cycles"] // 2, "sram_reads": {"w": 10, "x": 10}, "sram_writes": {"dx": 5},
                "layer": {"n_o": 6, "n_i": 5, "batch": 3}}
    cycles, accesses = _here([_entry("intergrad", measured, {"lut": 1})], "intergrad")
    assert cycles == f"{ws_os['cycles'] / measured['cycles']:.2f}× fewer cycles"
    total = sum(ws_os["sram_reads"].values()) + sum(ws_os["sram_writes"].values())
    assert accesses == f"{total / 25:.2f}× fewer SRAM accesses"
    assert _here([_entry("intergrad", measured, {"lut": 1}, mode="ws")], "intergrad") == [NOT_MEASURED] * 2


def test_reports_open_each_family_section_with_its_title_and_claims(tmp_path):
    entries = list(_circulant_pair())
    markdown = render_markdown(entries, "ecp5")
    assert "## CirCNN — block-circulant FFT engines" in markdown
    assert "| CirCNN: storage O(n²) → O(n), compute O(n²) → O(n log n) per layer | " in markdown
    assert "python benchmarks/circulant.py |" in markdown
    page = render_html(entries, "ecp5", tmp_path)
    section = page[page.index("<h2>CirCNN — block-circulant FFT engines</h2>"):]
    assert "<h3>Paper vs here</h3>" in section
    assert "vectors/s per DSP; 10.00× vectors/cycle</td>" in section
    assert "docs/circulant.md" not in page[:page.index("<h2>")], "sections are titled by family, not docs path"


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


def test_net_section_has_its_layers_images_per_second_accuracy_and_the_overlap_claim():
    """The RTL part of the accuracy line reuses the default net's Verilator build (tests/test_net.py)."""
    net = _entry("net", {"cycles": 3573, "vectors": 6, "interval": 468}, {"lut": 4652, "dsp": 28, "fmax_mhz": 72.0})
    text = render_markdown([net], "ecp5")
    assert "| fc1 | dense | 64×64 | – | 13 | 468 | relu | 0.0000 |" in text
    assert "Measured interval 468 cycles per image (slowest layer 468); 153.8 k images/s at 72.0 MHz." in text
    assert "Digits test accuracy: onnxruntime float 0.9911, bit-exact model 0.9911 (450 images)" in text
    assert "(equal to the model: True)" in text
    sequential = sum(layer.interval for layer in net.acc.layers)
    assert _here([net], "net") == [f"{sequential / 468:.2f}× images/s over the same layers run one after another "
                                   "(154 k images/s at 72.0 MHz)"]
