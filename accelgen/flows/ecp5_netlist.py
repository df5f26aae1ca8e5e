"""Post-synthesis rewrite of yosys's ECP5 netlist: block RAM read registers into the block RAM.

yosys maps every DP16KD with ``REGMODE = "NOREG"``: its read data leaves the
block 5.6–5.8 ns after the clock (nextpnr's timing model), which alone caps
any design that reads a block RAM near 140 MHz. The block has its own output
register (``REGMODE = "OUTREG"``, clocked by the port's clock, enabled by its
``OCE``), which cuts that to a flip-flop's delay; yosys never uses it.

:func:`absorb_read_registers` does what vendor tools call register
absorption: where *every* used data output of a DP16KD read port feeds exactly
one flip-flop and nothing else, and those flip-flops are plain (same clock as
the port, always enabled, no set/reset), the flip-flops are removed, their
outputs are driven by the block's pins, and the port's output register is
switched on. The logic is unchanged: one register per bit, now inside the
block. A design asks for it by registering block RAM read data in a
reset-less register (``Signal(..., reset_less=True)``) before any logic.

A register with a clock enable moves too when all its flip-flops share one
enable net and the register carries ``hw.common.memory.ENABLED_READ_REGISTER``
(``Signal(..., attrs=ENABLED_READ_REGISTER)``): the enable then drives the
port's ``OCE``. Only registers that ask move, so a result cached for any other
netlist stays valid.
"""

from hw.common.memory import ENABLED_READ_REGISTER

__all__ = ["absorb_read_registers"]

_DATA_BITS = 18


def _sinks(cells: dict) -> dict:
    """Net bit → ``[(cell name, port)]`` of every cell input it drives."""
    sinks = {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "input":
                for bit in bits:
                    sinks.setdefault(bit, []).append((name, port))
    return sinks


def _enabled_bits(module: dict) -> set:
    """Net bits of every register that asks to move with its enable (``ENABLED_READ_REGISTER``)."""
    (attribute,) = ENABLED_READ_REGISTER
    return {bit for net in module.get("netnames", {}).values() if attribute in net.get("attributes", {})
            for bit in net["bits"]}


def _register_enable(cell: dict, clock: list):
    """The clock enable of a TRELLIS_FF on ``clock`` that is never set or reset and starts at 0:
    ``["1"]`` when always enabled, its enable net bit when enabled by one; ``None`` for any other cell."""
    if cell["type"] != "TRELLIS_FF":
        return None
    connections, parameters = cell["connections"], cell["parameters"]
    if not (connections["CLK"] == clock and parameters.get("CLKMUX", "CLK").strip() == "CLK"
            and connections.get("LSR", ["0"]) == ["0"] and parameters.get("REGSET", "RESET").strip() == "RESET"):
        return None
    enable_mux, enable = parameters.get("CEMUX", "1").strip(), connections.get("CE", ["1"])
    if enable_mux == "1" or enable == ["1"]:
        return ["1"]
    return enable if enable_mux == "CE" else None


def _port_registers(ram: dict, port: str, cells: dict, sinks: dict, top_bits: set, enabled_bits: set):
    """``({data pin: flip-flop name}, enable)`` when every used output pin of ``port`` ("A"/"B") feeds one
    register and nothing else, all on one enable (``["1"]``: always; an enable net only where the register
    asked, ``enabled_bits``); ``({}, ["1"])`` when no pin is used; ``None`` when the port cannot absorb."""
    connections = ram["connections"]
    registers, enables = {}, set()
    for index in range(_DATA_BITS):
        pin = f"DO{port}{index}"
        bits = connections.get(pin)
        if not bits or bits[0] in ("0", "1", "x") or bits[0] not in sinks:
            continue
        if bits[0] in top_bits or len(sinks[bits[0]]) != 1:
            return None
        register, input_port = sinks[bits[0]][0]
        enable = _register_enable(cells[register], connections[f"CLK{port}"])
        if input_port != "DI" or enable is None:
            return None
        if enable != ["1"] and cells[register]["connections"]["Q"][0] not in enabled_bits:
            return None
        registers[pin] = register
        enables.add(tuple(enable))
    if len(enables) > 1:
        return None
    return registers, list(enables.pop()) if enables else ["1"]


def absorb_read_registers(netlist: dict) -> int:
    """Move plain read registers into their DP16KD in every module of ``netlist`` (yosys JSON, edited in
    place); returns how many block RAM ports now use their output register."""
    absorbed = 0
    for module in netlist["modules"].values():
        cells = module.get("cells", {})
        sinks, enabled_bits = _sinks(cells), _enabled_bits(module)
        top_bits = {bit for port in module.get("ports", {}).values() for bit in port["bits"]}
        for ram in [cell for cell in cells.values() if cell["type"] == "DP16KD"]:
            connections, parameters = ram["connections"], ram["parameters"]
            ports = {port: _port_registers(ram, port, cells, sinks, top_bits, enabled_bits) for port in "AB"}
            if int(str(parameters.get("DATA_WIDTH_B", "0")), 2) == 36:
                # One 36-bit word across both ports' pins: both ports absorb, on one clock and one enable,
                # or neither.
                if None in ports.values() or connections["CLKA"] != connections["CLKB"]:
                    continue
                used = [enable for registers, enable in ports.values() if registers]
                if len({tuple(enable) for enable in used}) > 1:
                    continue
                chosen = "AB" if used else ""
                ports = {port: (registers, used[0] if used else ["1"]) for port, (registers, _) in ports.items()}
            else:
                chosen = "".join(port for port, found in ports.items() if found and found[0])
            if any(connections[f"RST{port}"] != ["0"] for port in chosen):
                continue
            for port in chosen:
                registers, enable = ports[port]
                for pin, register in registers.items():
                    connections[pin] = cells.pop(register)["connections"]["Q"]
                parameters[f"REGMODE_{port}"] = "OUTREG"
                connections[f"OCE{port}"] = enable
                absorbed += 1
    return absorbed
