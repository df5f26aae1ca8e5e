"""AQFP netlists, model side: the cell library, the netlist a mapping produces, its rules and its simulation.

AQFP gates are clocked: a cell at phase ``q`` reads its inputs from cells at
phase ``q - 1``. Primary inputs are phase 0; every output shares one phase.
A primary input or a non-splitter cell drives exactly one consumer, so a
signal with several consumers goes through splitters (SPL2/3/4: one output
per consumer), and a consumer that needs a signal later than it is produced
gets buffers.

Inversion is free on the inputs of AND2, OR2 and MAJ3 (an AQFP gate inverts
an input by reversing that input's coupling transformer; written ``~name``);
a BUF or splitter cannot invert, so an inverted signal that reaches an
output goes through an INV cell.

:func:`check_netlist` asserts those rules; :func:`simulate` runs a netlist
cycle-accurately (every cell a register), the golden model of
``hw/aqfp.py``'s ``AQFPNetlist``. The technology mapper that builds netlists
is ``accelgen/flows/aqfp_mapper.py``.
"""

from dataclasses import dataclass, field

__all__ = ["JJ", "E_JJ_JOULE", "FREE_INVERSION", "SPLIT_WAYS", "Cell", "Netlist", "signal_of", "check_netlist",
           "simulate", "PhaseSimulator", "run_feedback_streams"]

#: Josephson junctions per cell (the AQFP cell library of docs/aqfp.md).
JJ = {"BUF": 2, "INV": 2, "SPL2": 2, "SPL3": 2, "SPL4": 2, "AND2": 6, "OR2": 6, "MAJ3": 6, "CONST0": 0, "CONST1": 0}
#: Switching energy per JJ per cycle, J: the order reported for AQFP at 5 GHz
#: (Takeuchi, Yamae, Yamanashi, Yoshikawa, "Adiabatic quantum-flux-parametron: a tutorial review",
#: IEICE Trans. Electron. 2022, and Takeuchi et al., Supercond. Sci. Technol. 28, 015003, 2015:
#: ~1.4 zJ per junction). A parameter of ``map_logic``.
E_JJ_JOULE = 1.4e-21
FREE_INVERSION = ("AND2", "OR2", "MAJ3")
SPLIT_WAYS = 4


@dataclass
class Cell:
    name: str
    type: str
    inputs: list[str]
    phase: int


@dataclass
class Netlist:
    top: str
    inputs: list[str]
    outputs: dict[str, str]
    cells: list[Cell] = field(default_factory=list)

    @property
    def jj_count(self) -> int:
        return sum(JJ[cell.type] for cell in self.cells)

    @property
    def depth_phases(self) -> int:
        by_name = {cell.name: cell for cell in self.cells}
        return max((by_name[name].phase for name in self.outputs.values()), default=0)

    def to_json(self, jj_energy: float = E_JJ_JOULE) -> dict:
        return {
            "top": self.top,
            "inputs": list(self.inputs),
            "outputs": dict(self.outputs),
            "cells": [{"name": c.name, "type": c.type, "inputs": list(c.inputs), "phase": c.phase} for c in self.cells],
            "jj_count": self.jj_count,
            "depth_phases": self.depth_phases,
            "energy_j_per_cycle": self.jj_count * jj_energy,
        }


def signal_of(name: str) -> str:
    """The signal a literal reads: ``~x`` and ``x`` both read ``x``."""
    return name[1:] if name.startswith("~") else name


def check_netlist(netlist: Netlist):
    """Assert the AQFP rules: phases, fanout, splitter widths, free inversions, one output phase."""
    phase = {name: 0 for name in netlist.inputs}
    phase.update({cell.name: cell.phase for cell in netlist.cells})
    kinds = {cell.name: cell.type for cell in netlist.cells}
    loads: dict[str, int] = {}
    for cell in netlist.cells:
        for literal in cell.inputs:
            source = signal_of(literal)
            assert phase[source] == cell.phase - 1, f"{cell.name} (phase {cell.phase}) reads {source} at {phase[source]}"
            assert not literal.startswith("~") or cell.type in FREE_INVERSION, f"{cell.name}: {cell.type} cannot invert"
            loads[source] = loads.get(source, 0) + 1
    for source, count in loads.items():
        kind = kinds.get(source, "input")
        limit = int(kind[3:]) if kind.startswith("SPL") else 1
        assert count <= limit, f"{source} ({kind}) drives {count} consumers"
    assert len({phase[name] for name in netlist.outputs.values()}) <= 1, "outputs in different phases"


_FUNCTIONS = {
    "BUF": lambda v: v[0], "INV": lambda v: 1 - v[0], "AND2": lambda v: v[0] & v[1], "OR2": lambda v: v[0] | v[1],
    "MAJ3": lambda v: int(sum(v) >= 2), "CONST0": lambda v: 0, "CONST1": lambda v: 1,
}


class PhaseSimulator:
    """A netlist clocked one phase per :meth:`step`: every cell is a register. The outputs of the vector
    applied at step ``t`` come out of step ``t + depth_phases - 1``."""

    def __init__(self, netlist: Netlist):
        self.netlist = netlist
        self.state = {cell.name: 0 for cell in netlist.cells}

    def step(self, vector: dict[str, int]) -> dict[str, int]:
        """Apply ``vector`` to the primary inputs for one phase; returns the output ports after it."""
        values = {**self.state, **vector}

        def value(literal):
            bit = values[signal_of(literal)]
            return 1 - bit if literal.startswith("~") else bit

        self.state = {cell.name: (_FUNCTIONS.get(cell.type) or (lambda v: v[0]))([value(i) for i in cell.inputs])
                      for cell in self.netlist.cells}
        return {port: self.state[name] for port, name in self.netlist.outputs.items()}


def simulate(netlist: Netlist, vectors: list[dict[str, int]]) -> list[dict[str, int]]:
    """Cycle-accurate: every cell is a register. Input vector ``t`` is applied in cycle ``t``;
    returns the outputs seen ``depth_phases`` cycles later, one dict per vector."""
    simulator, depth = PhaseSimulator(netlist), netlist.depth_phases
    results = []
    for cycle in range(len(vectors) + depth):
        outputs = simulator.step(vectors[min(cycle, len(vectors) - 1)])
        if cycle >= depth - 1 and cycle - (depth - 1) < len(vectors):
            results.append(outputs)
    return results


def run_feedback_streams(netlist: Netlist, streams: list[list[dict[str, int]]], feedback: tuple[str, str],
                         start: int = 0, interleave: bool = True) -> tuple[list[list[dict[str, int]]], int]:
    """Streams through a netlist whose outputs ``feedback[1][i]`` come back as inputs ``feedback[0][i]``
    for the same stream's next step: a read-after-write loop ``depth_phases`` phases long.

    ``streams[s][k]`` holds stream ``s``'s other inputs for its step ``k`` (the streams equally long, each
    stream's feedback starting at the word ``start``, bit ``i`` on ``feedback[0][i]``). Interleaved, phase ``t`` issues step ``t // S`` of stream ``t mod S``
    (``S`` the number of streams, padded with idle slots to at least the depth), so each stream's feedback
    arrives just before its next step issues and the pipeline stays full. Otherwise the streams run one
    after another and each step waits out the loop. Returns each stream's outputs per step and the
    phases used until the last output.
    """
    depth, simulator = netlist.depth_phases, PhaseSimulator(netlist)
    returned = [port for port in netlist.outputs if port.startswith(feedback[1])]

    def loop_inputs(outputs):
        return {feedback[0] + port[len(feedback[1]):]: outputs[port] for port in returned}

    def bit_index(port):
        return int(port[len(feedback[1]):].strip("[]") or 0)

    idle = {name: 0 for name in netlist.inputs}
    steps, count = len(streams[0]), len(streams)
    slots = max(count, depth) if interleave else depth
    if interleave:
        issues = [(k, s) if s < count else None for k in range(steps) for s in range(slots)]
    else:  # one stream at a time: an issue, then depth - 1 idle phases for its feedback to come back
        issues = [item for s in range(count) for k in range(steps) for item in [(k, s)] + [None] * (depth - 1)]
    initial = loop_inputs({port: start >> bit_index(port) & 1 for port in returned})
    outputs, loop, pending = [[] for _ in streams], [dict(initial) for _ in streams], {}
    for phase in range(len(issues) + depth):
        issue = issues[phase] if phase < len(issues) else None
        vector = idle
        if issue is not None:
            k, s = issue
            vector = {**idle, **streams[s][k], **loop[s]}
            pending[phase + depth - 1] = s
        result = simulator.step(vector)
        if phase in pending:
            s = pending.pop(phase)
            outputs[s].append(result)
            loop[s] = loop_inputs(result)
    last_issue = max(phase for phase, issue in enumerate(issues) if issue is not None)
    return outputs, last_issue + depth
