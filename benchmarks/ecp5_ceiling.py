"""How fast the two hard-block hops can be on the LFE5U-85F; writes docs/ecp5-ceiling.md.

    python benchmarks/ecp5_ceiling.py

yosys's ECP5 flow maps memories to DP16KD without the output register
(``REGMODE NOREG``) and multipliers to MULT18X18D without input/output
registers. Every accelerator here therefore has block RAM → fabric and
fabric → DSP → fabric hops. This script measures the shortest such hop
the flow can reach: four tiny circuits, each one hard block between
registers (inputs registered in the fabric, the output straight into a
fabric register: nothing between, so the hop's time is a bound for any
design that has it), placed and routed by the project's flow
(same device, speed grade and seed as every design) — the block as yosys
infers it against the same block with its own registers on (instantiated).
Reported: Fmax and the first two steps of the critical path (the block's
clock-to-output or the fabric register's, and the route out of it).
"""

import time

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from common import ROOT, progress

from accelgen.flows.outputs import write_atomically
from accelgen.flows.synthesize import critical_path, synthesize

RAM_ADDRESS_BITS, RAM_WIDTH, MULTIPLIER_WIDTH = 10, 18, 18
# DP16KD inputs tied low: chip selects, resets, and the address bits below an 18-bit word's.
RAM_PINS_LOW = ("CSA0", "CSA1", "CSA2", "CSB0", "CSB1", "CSB2", "RSTA", "RSTB",
                "ADA0", "ADA1", "ADA2", "ADA3", "ADB0", "ADB1", "ADB2", "ADB3")


def _bits(prefix: str, value, count: int, offset: int = 0) -> dict:
    """``{prefix<offset+i>: value[i]}``: one Instance argument per pin of a bus."""
    return {f"{prefix}{offset + i}": value[i] for i in range(count)}


class BlockRamHop(wiring.Component):
    """One DP16KD (1024 × 18, port A reads, port B writes) between registers.

    ``data`` = ``memory[read_address]``, registered. Latency 3 cycles with
    ``registered=False`` (address register, RAM, output register), 4 with the RAM's output
    register on. One read per cycle.

    Members
    -------
    read_address, write_address : In(10)
    write_data : In(18)
    write_enable : In(1)
    data : Out(18)
    """

    read_address: In(RAM_ADDRESS_BITS)
    write_address: In(RAM_ADDRESS_BITS)
    write_data: In(RAM_WIDTH)
    write_enable: In(1)
    data: Out(RAM_WIDTH)

    def __init__(self, registered: bool):
        self.registered = registered
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        ports = (self.read_address, self.write_address, self.write_data, self.write_enable)
        read_address, write_address, write_data, write_enable = registers = [
            Signal.like(port, name=f"{name}_q") for name, port in zip(
                ("read_address", "write_address", "write_data", "write_enable"), ports)]
        m.d.sync += [register.eq(port) for register, port in zip(registers, ports)]
        read_data = Signal(RAM_WIDTH)
        m.submodules.ram = Instance(
            "DP16KD",
            p_DATA_WIDTH_A=RAM_WIDTH, p_DATA_WIDTH_B=RAM_WIDTH,
            p_REGMODE_A="OUTREG" if self.registered else "NOREG",
            i_CLKA=ClockSignal(), i_CEA=1, i_OCEA=1, i_WEA=0,
            i_CLKB=ClockSignal(), i_CEB=1, i_OCEB=1, i_WEB=write_enable,
            **{f"i_{pin}": Const(0, 1) for pin in RAM_PINS_LOW},
            **_bits("i_ADA", read_address, RAM_ADDRESS_BITS, offset=4),
            **_bits("i_ADB", write_address, RAM_ADDRESS_BITS, offset=4),
            **_bits("i_DIB", write_data, RAM_WIDTH),
            **_bits("o_DOA", read_data, RAM_WIDTH))
        m.d.sync += self.data.eq(read_data)
        return m


class MultiplierHop(wiring.Component):
    """One signed 18 × 18 MULT18X18D between registers.

    ``product`` = ``a·b``, registered. Latency 2 cycles with ``registered=False``
    (operand registers in the fabric, output register), 4 with the DSP's input and output
    registers on. One product per cycle.

    Members
    -------
    a, b : In(signed(18))
    product : Out(signed(36))
    """

    a: In(signed(MULTIPLIER_WIDTH))
    b: In(signed(MULTIPLIER_WIDTH))
    product: Out(signed(2 * MULTIPLIER_WIDTH))

    def __init__(self, registered: bool):
        self.registered = registered
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        a, b = Signal.like(self.a, name="a_q"), Signal.like(self.b, name="b_q")
        m.d.sync += [a.eq(self.a), b.eq(self.b)]
        product = Signal(2 * MULTIPLIER_WIDTH)
        clock = "CLK0" if self.registered else "NONE"
        m.submodules.multiplier = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK=clock, p_REG_INPUTB_CLK=clock, p_REG_OUTPUT_CLK=clock,
            i_CLK0=ClockSignal(), i_CE0=1, i_RST0=0,
            i_SIGNEDA=1, i_SIGNEDB=1, i_SOURCEA=0, i_SOURCEB=0,
            **_bits("i_A", a, MULTIPLIER_WIDTH), **_bits("i_B", b, MULTIPLIER_WIDTH),
            **_bits("o_P", product, 2 * MULTIPLIER_WIDTH))
        m.d.sync += self.product.eq(product)
        return m


HOPS = [
    ("block RAM → register", "DP16KD as inferred (NOREG)", BlockRamHop, False),
    ("block RAM → register", "DP16KD with its output register (OUTREG)", BlockRamHop, True),
    ("register → DSP → register", "MULT18X18D as inferred (no registers)", MultiplierHop, False),
    ("register → DSP → register", "MULT18X18D with input and output registers", MultiplierHop, True),
]


def measure(component, top: str) -> dict:
    text = verilog.convert(component, name=top)
    result = synthesize(text, top)
    steps = critical_path(text, top)
    return {**result, "first": steps[0], "route": steps[1]}


def render(rows: list[dict], elapsed: float) -> str:
    lines = [
        "# ECP5 hard-block hops — measured",
        "",
        f"Generated by `python benchmarks/ecp5_ceiling.py` ({elapsed:.0f} s): LFE5U-85F, the project's "
        "yowasp flow (nextpnr speed grade 6, out of context, seed 1). Each circuit is one hard block "
        "between fabric registers; the critical path's first step is the launching clock-to-output, "
        "the second the route out of it.",
        "",
        "| hop | block | Fmax (MHz) | clock-to-output (ns) | from | route out (ns) | logic + route to the sink (ns) |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        (_, clk_to_q, source), (_, route, _) = row["first"], row["route"]
        rest = max(1000 / row["fmax_mhz"] - clk_to_q - route, 0.0)
        lines.append(f"| {row['hop']} | {row['block']} | {row['fmax_mhz']} | {clk_to_q:.2f} | `{source}` | "
                     f"{route:.2f} | {rest:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    start, rows = time.perf_counter(), []
    for number, (hop, block, kind, registered) in enumerate(HOPS):
        progress(f"{hop}: {block}")
        rows.append({"hop": hop, "block": block, **measure(kind(registered), f"hop{number}")})
    out = ROOT / "docs" / "ecp5-ceiling.md"
    write_atomically({str(out): render(rows, time.perf_counter() - start)})
    progress(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
