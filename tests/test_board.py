"""`accelgen deploy` (accelgen/flows/board.py, hw/board.py): the PLL search against its constraints, the
bitstream check, a real bitstream for a board from nothing but the pip install, and one-line errors."""

import hashlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accelgen
from accelgen.cli import main
from accelgen.flows.board import BOARDS, check_bitstream
from hw.board import PFD_MHZ, VCO_MHZ, pll_config


@settings(max_examples=15, deadline=None)
@given(f_in=st.sampled_from([12.0, 25.0, 48.0, 100.0]), target=st.floats(20.0, 250.0))
def test_pll_output_is_the_fastest_within_the_limits(f_in, target):
    pll = pll_config(f_in, target)
    assert pll is not None and pll.f_out_mhz <= target + 1e-9
    assert VCO_MHZ[0] <= pll.vco_mhz <= VCO_MHZ[1] and PFD_MHZ[0] <= f_in / pll.clki_div <= PFD_MHZ[1]
    assert pll.f_out_mhz == pytest.approx(f_in * pll.clkfb_div / pll.clki_div)
    assert best_by_brute_force(f_in, target) == pytest.approx(pll.f_out_mhz)


def best_by_brute_force(f_in: float, target: float) -> float:
    """Every divider pair, the output divider by arithmetic: the fastest reachable output up to ``target``."""
    best = 0.0
    for clki in range(1, 129):
        for clkfb in range(1, 81):
            f_out = f_in * clkfb / clki
            lowest_divider = math.ceil(VCO_MHZ[0] / f_out)
            if (PFD_MHZ[0] <= f_in / clki <= PFD_MHZ[1] and f_out <= target and lowest_divider <= 128
                    and f_out * lowest_divider <= VCO_MHZ[1]):
                best = max(best, f_out)
    return best


def test_pll_hits_round_frequencies_from_25_mhz():
    assert pll_config(25.0, 100.0).f_out_mhz == 100.0
    assert pll_config(25.0, 125.0).f_out_mhz == 125.0
    assert pll_config(25.0, 1.0) is None  # below what the VCO and output divider can make


def test_bitstream_check_rejects_what_is_not_one():
    with pytest.raises(ValueError, match="too short"):
        check_bitstream(b"\xff" * 100, BOARDS["ulx3s-85f"].idcode)
    with pytest.raises(ValueError, match="preamble"):
        check_bitstream(b"\x00" * 4096, BOARDS["ulx3s-85f"].idcode)
    header = b"\xff\x00comment\x00\xff" + b"\xff\xff\xbd\xb3" + b"\xe2\x00\x00\x00" + (0x41113043).to_bytes(4, "big")
    check_bitstream(header + bytes(2048), BOARDS["ulx3s-85f"].idcode)
    with pytest.raises(ValueError, match="IDCODE"):
        check_bitstream(header + bytes(2048), BOARDS["ecpix5-85f"].idcode)


def deploy_and_check(name: str, board: str, out_dir, params=()) -> dict:
    assert main(["deploy", name, *(f"-p{p}" for p in params), "--board", board, "-o", str(out_dir)]) == 0
    manifest = json.loads((out_dir / f"{name}-board.json").read_text())
    bitstream = (out_dir / f"{name}.bit").read_bytes()
    check_bitstream(bitstream, BOARDS[board].idcode)
    assert manifest["bitstream_sha256"] == hashlib.sha256(bitstream).hexdigest()
    assert manifest["board"] == board and manifest["link"]["baud"] == 1_000_000
    assert manifest["fmax_on_board_mhz"] >= manifest["clock_mhz"], "timing closed at the chosen clock"
    divisor = manifest["link"]["divisor"]
    assert abs(manifest["clock_mhz"] * 1e6 / divisor - 1e6) / 1e6 <= 0.02
    return manifest


@pytest.mark.slow  # a whole place-and-route and ecppack: ~50 s
def test_deploy_dense_fc_on_ulx3s_writes_a_checked_bitstream(tmp_path):
    """A small dense-fc (the default one takes three placements, about a minute: docs/board.md, "Measured")."""
    manifest = deploy_and_check("dense-fc", "ulx3s-85f", tmp_path, ["n_in=16", "n_out=8", "parallelism=2"])
    assert manifest["device"] == "LFE5U-85F" and manifest["oscillator_mhz"] == 25.0


@pytest.mark.slow
def test_deploy_on_ecpix5(tmp_path):
    assert deploy_and_check("pool", "ecpix5-85f", tmp_path)["device"] == "LFE5UM5G-85F"


@pytest.mark.parametrize("argv, message", [
    (["deploy", "dense-fc", "--board", "nexys"], "board='nexys' not known"),
    (["deploy", "fft", "--board", "ulx3s-85f"], "does not run over the board link"),
    (["run", "pool", "--output", "OUT", "--board", "/dev/accelgen-no-such-port", "--input", "IN"],
     "cannot open serial port /dev/accelgen-no-such-port"),
])
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    import numpy as np
    np.savez(tmp_path / "in.npz", x=np.zeros((1, 8, 8, 8)))
    argv = [str(tmp_path / "in.npz") if a == "IN" else str(tmp_path / "out.npz") if a == "OUT" else a for a in argv]
    if argv[0] == "deploy":
        argv += ["-o", str(tmp_path / "bits")]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "bits").exists() and not (tmp_path / "out.npz").exists()
    assert accelgen.design("pool").on_link


@pytest.mark.slow  # a place-and-route: ~13 s
def test_a_clock_that_never_closes_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    import accelgen.flows.board as board
    monkeypatch.setattr(board, "CLOCK_MARGIN", 10.0)  # start at the 200 MHz ceiling, and try only that
    monkeypatch.setattr(board, "CLOCK_TRIES", 1)
    assert main(["deploy", "pool", "--board", "ulx3s-85f", "-o", str(tmp_path / "bits")]) == 2
    error = capsys.readouterr().err.strip()
    assert "does not close timing on ulx3s-85f at any PLL clock tried (200.00 MHz" in error
    assert len(error.splitlines()) == 1 and not (tmp_path / "bits").exists()


def test_run_on_board_over_a_serial_url_with_an_emulated_device(tmp_path):
    """`run --board` end to end through pyserial, against a stand-in device on a socket that speaks the
    protocol: it rejects the first frame (CRC), answers the rest, and returns the model's outputs."""
    import socket
    import threading

    import numpy as np

    from accelgen.flows.simulate import random_inputs
    from hw.link import REPLY_CHANNEL, STATUS
    from sim.host_link import FrameParser, frame, pack_words, unpack_words

    design = accelgen.design("dense-fc", n_in=8, n_out=4, parallelism=2)
    raw = random_inputs(design, np.random.default_rng(3), 3)
    expected = design.golden(raw)["y_raw"]
    server = socket.create_server(("127.0.0.1", 0))
    received = {0: b"", 1: b""}

    def device():
        connection, _ = server.accept()
        parser, answered = FrameParser(), 0
        with connection:
            while len(received[1]) < raw["x_raw"].size * 2:
                for channel, payload in parser.feed(connection.recv(4096)):
                    status = STATUS["crc"] if answered == 0 else STATUS["ok"]
                    if status == STATUS["ok"]:
                        received[channel] += payload
                    connection.sendall(frame(REPLY_CHANNEL, bytes([status])))
                    answered += 1
            connection.sendall(frame(0, pack_words(expected.reshape(-1), 16)))
            while connection.recv(4096):  # until the host closes the line
                pass

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    np.savez(tmp_path / "in.npz", w_raw=raw["w_raw"], x_raw=raw["x_raw"])
    port = f"socket://127.0.0.1:{server.getsockname()[1]}"
    assert main(["run", "dense-fc", "-p", "n_in=8", "-p", "n_out=4", "-p", "parallelism=2", "--input",
                 str(tmp_path / "in.npz"), "--output", str(tmp_path / "out.npz"), "--board", port,
                 "--report", str(tmp_path / "report.json")]) == 0
    thread.join(timeout=5)
    assert np.array_equal(np.load(tmp_path / "out.npz")["y_raw"], expected)
    assert np.array_equal(unpack_words(received[0], 16, True), raw["w_raw"].reshape(-1))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rejected"] == 1 and report["frames"] == 2
