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
"""

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


def _plain_register(cell: dict, clock: list) -> bool:
    """A TRELLIS_FF on ``clock``, always enabled, never set or reset, starting at 0."""
    if cell["type"] != "TRELLIS_FF":
        return False
    connections, parameters = cell["connections"], cell["parameters"]
    enabled = parameters.get("CEMUX", "1").strip() == "1" or connections.get("CE", ["1"]) == ["1"]
    return (connections["CLK"] == clock and parameters.get("CLKMUX", "CLK").strip() == "CLK" and enabled
            and connections.get("LSR", ["0"]) == ["0"] and parameters.get("REGSET", "RESET").strip() == "RESET")


def _port_registers(ram: dict, port: str, cells: dict, sinks: dict, top_bits: set) -> dict | None:
    """``{data pin: flip-flop name}`` when every used output pin of ``port`` ("A"/"B") feeds one plain
    register and nothing else; ``{}`` when no pin is used; ``None`` when the port cannot absorb."""
    connections = ram["connections"]
    registers = {}
    for index in range(_DATA_BITS):
        pin = f"DO{port}{index}"
        bits = connections.get(pin)
        if not bits or bits[0] in ("0", "1", "x") or bits[0] not in sinks:
            continue
        if bits[0] in top_bits or len(sinks[bits[0]]) != 1:
            return None
        register, input_port = sinks[bits[0]][0]
        if input_port != "DI" or not _plain_register(cells[register], connections[f"CLK{port}"]):
            return None
        registers[pin] = register
    return registers


def absorb_read_registers(netlist: dict) -> int:
    """Move plain read registers into their DP16KD in every module of ``netlist`` (yosys JSON, edited in
    place); returns how many block RAM ports now use their output register."""
    absorbed = 0
    for module in netlist["modules"].values():
        cells = module.get("cells", {})
        sinks = _sinks(cells)
        top_bits = {bit for port in module.get("ports", {}).values() for bit in port["bits"]}
        for ram in [cell for cell in cells.values() if cell["type"] == "DP16KD"]:
            connections, parameters = ram["connections"], ram["parameters"]
            ports = {port: _port_registers(ram, port, cells, sinks, top_bits) for port in "AB"}
            if int(str(parameters.get("DATA_WIDTH_B", "0")), 2) == 36:
                # One 36-bit word across both ports' pins: both ports absorb, on one clock, or neither.
                if None in ports.values() or connections["CLKA"] != connections["CLKB"]:
                    continue
                chosen = "AB" if any(ports.values()) else ""
            else:
                chosen = "".join(port for port, registers in ports.items() if registers)
            if any(connections[f"RST{port}"] != ["0"] for port in chosen):
                continue
            for port in chosen:
                for pin, register in ports[port].items():
                    connections[pin] = cells.pop(register)["connections"]["Q"]
                parameters[f"REGMODE_{port}"] = "OUTREG"
                connections[f"OCE{port}"] = ["1"]
                absorbed += 1
    return absorbed
