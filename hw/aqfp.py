"""AQFP cells as Amaranth components, and a mapped netlist (``models/aqfp.py``) built from them.

An AQFP gate is clocked by its phase of the AC clock: it reads its inputs
from the previous phase and holds its output for the next. Here every cell
is one register (one clock cycle per phase), so a balanced netlist of depth
``d`` is a pipeline that takes a new input vector every cycle and answers
``d`` cycles later — the schedule ``models.aqfp.simulate`` follows.
"""

from amaranth.hdl import Cat, Const, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from models.aqfp import FREE_INVERSION, JJ, Netlist
from models.lfsr import seed_windows
from models.sc import RANDOM_LFSR

from .common.lfsr import leap_lfsr

__all__ = ["AQFPCell", "AQFPNetlist", "RANDOM_LFSR", "RandomBuffer", "port_widths"]

ARITY = {"BUF": 1, "INV": 1, "SPL2": 1, "SPL3": 1, "SPL4": 1, "AND2": 2, "OR2": 2, "MAJ3": 3, "CONST0": 0, "CONST1": 0}


class AQFPCell(wiring.Component):
    """One AQFP library cell as a register: the cell of ``kind`` (``models.aqfp.JJ``) at one clock phase.

    ``inverted[i]`` negates input ``i``, free on AND2, OR2 and MAJ3 only (an
    AQFP gate inverts by reversing an input's coupling).

    Parameters
    ----------
    kind : str
        The cell type: BUF, INV, SPL2/3/4, AND2, OR2, MAJ3, CONST0 or CONST1.
    inverted : tuple of bool
        Per input, whether it is negated (default none).

    Members
    -------
    inputs : In(arity)
        The cell's inputs (one bit per input; one unused bit for a constant).
    out : Out(1)
        The registered output; a splitter's ``out`` feeds up to 2–4 consumers.

    Latency
    -------
    1 cycle (one phase).

    Throughput
    ----------
    One input vector per cycle.
    """

    def __init__(self, kind: str, inverted: tuple[bool, ...] = ()):
        if kind not in JJ:
            raise ValueError(f"unknown AQFP cell {kind!r}; allowed: {', '.join(JJ)}")
        inverted = tuple(inverted) or (False,) * ARITY[kind]
        if any(inverted) and kind not in FREE_INVERSION:
            raise ValueError(f"{kind} cannot invert an input (only {', '.join(FREE_INVERSION)} can)")
        self.kind, self.inverted = kind, inverted
        super().__init__({"inputs": In(max(ARITY[kind], 1)), "out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        bits = [self.inputs[i] ^ flip for i, flip in enumerate(self.inverted)]
        if self.kind in ("AND2", "OR2"):
            value = bits[0] & bits[1] if self.kind == "AND2" else bits[0] | bits[1]
        elif self.kind == "MAJ3":
            value = (bits[0] & bits[1]) | (bits[0] & bits[2]) | (bits[1] & bits[2])
        elif self.kind.startswith("CONST"):
            value = Const(int(self.kind[-1]), 1)
        elif self.kind == "INV":
            value = ~self.inputs[0]
        else:  # BUF, SPL2/3/4
            value = self.inputs[0]
        m.d.sync += self.out.eq(value)
        return m


class RandomBuffer(wiring.Component):
    """The AQFP true-random bit: a buffer whose input is left at the switching threshold.

    In RTL a seeded LFSR stands in for the physics, so the bits are
    reproducible; in AQFP it is one BUF (2 JJ).

    Parameters
    ----------
    seed : int
        Seed of the stand-in LFSR (``models.lfsr.seed_windows``).

    Members
    -------
    out : Out(1)
        A new random bit every cycle, from a register.

    Latency
    -------
    The first bit is valid one cycle after reset.

    Throughput
    ----------
    One bit per cycle.
    """

    def __init__(self, seed: int):
        self.seed = seed
        super().__init__({"out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        fresh = leap_lfsr(m, seed_windows(RANDOM_LFSR, 1, self.seed)[:, 0], 1, 1, name="noise")
        m.d.sync += self.out.eq(fresh)
        return m


def _split(bit: str) -> tuple[str, int]:
    """``'a[3]'`` → ``('a', 3)``; ``'cin'`` → ``('cin', 0)``."""
    base, _, index = bit.partition("[")
    return base, int(index.rstrip("]")) if index else 0


def port_widths(bits) -> dict[str, int]:
    """Ports and widths of a list of bit names (`port[i]`, or `port` for a 1-bit port; docs/aqfp.md), in first-seen order."""
    widths: dict[str, int] = {}
    for bit in bits:
        base, index = _split(bit)
        widths[base] = max(widths.get(base, 0), index + 1)
    return widths


class AQFPNetlist(wiring.Component):
    """A balanced AQFP netlist (``models.aqfp.Netlist``) built from one :class:`AQFPCell` per cell.

    Parameters
    ----------
    netlist : models.aqfp.Netlist
        A mapped, phase-balanced netlist (``accelgen aqfp map``).

    Members
    -------
    <input port> : In(width)
        One per input port of the mapped module, named and sized as in its Verilog.
    <output port> : Out(width)
        One per output port, likewise.

    Latency
    -------
    ``netlist.depth_phases`` cycles from an input vector to its outputs.

    Throughput
    ----------
    One input vector per cycle (every cell is a pipeline stage).
    """

    def __init__(self, netlist: Netlist):
        self.netlist = netlist
        signature = {port: In(width) for port, width in port_widths(netlist.inputs).items()}
        signature.update({port: Out(width) for port, width in port_widths(netlist.outputs).items()})
        super().__init__(signature)

    def _bit(self, bit: str):
        base, index = _split(bit)
        return getattr(self, base)[index]

    def elaborate(self, platform):
        m = Module()
        source = {bit: self._bit(bit) for bit in self.netlist.inputs}
        cells = []
        for cell in self.netlist.cells:
            inverted = tuple(name.startswith("~") for name in cell.inputs)
            instance = AQFPCell(cell.type, inverted if cell.type in FREE_INVERSION else ())
            m.submodules[cell.name] = instance
            source[cell.name] = instance.out
            cells.append((cell, instance))
        for cell, instance in cells:
            if cell.inputs:
                m.d.comb += instance.inputs.eq(Cat(*(source[name.lstrip("~")] for name in cell.inputs)))
        for bit, cell_name in self.netlist.outputs.items():
            m.d.comb += self._bit(bit).eq(source[cell_name])
        return m
