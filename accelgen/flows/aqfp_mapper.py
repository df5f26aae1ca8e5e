"""AQFP technology mapping: an AND/OR network with inverted edges to a phase-balanced netlist of AQFP cells.

:func:`map_logic` takes an AND/OR network with inversion-annotated edges
(from yosys, ``accelgen/flows/aqfp.py``) and returns a balanced
``models.aqfp.Netlist``: phases by ASAP then ALAP retiming, splitters and
buffers inserted. ``sharing=True`` (the default) delivers each signal
through one delay line whose cells (BUF or SPLn, all 2 JJ) are shared by
every consumer: at each phase ``q`` it needs ``ceil((consumers at q + line
cells at q+1) / 4)`` cells, which is the minimum for the given phases.
``sharing=False`` is the naive baseline: a balanced splitter tree right
after the producer, then a private buffer chain per consumer.
:func:`extract_majority` first rewrites cones into MAJ3 gates where that
frees gates (docs/aqfp.md, "Flow").
"""

import math
from dataclasses import dataclass

from models.aqfp import SPLIT_WAYS, Cell, Netlist

__all__ = ["LogicNode", "extract_majority", "map_logic"]


@dataclass(frozen=True)
class LogicNode:
    """``type`` AND2/OR2/MAJ3 over literals ``(signal, inverted)``; signals are input bits or node names."""

    name: str
    type: str
    inputs: tuple[tuple[str, bool], ...]


def _asap(nodes: list[LogicNode], consumers: dict[str, int], inputs: list[str]):
    """Logic phases: 1 + the latest input arrival; a signal with k consumers arrives ceil(log4 k) later."""
    phase = {name: 0 for name in inputs}

    def arrival(signal):
        fanout = consumers.get(signal, 1)
        return phase[signal] + (math.ceil(math.log(fanout, SPLIT_WAYS) - 1e-9) if fanout > 1 else 0)

    for node in nodes:  # topological order
        phase[node.name] = 1 + max(arrival(signal) for signal, _ in node.inputs)
    return phase, arrival


class _Builder:
    def __init__(self, top, inputs):
        self.netlist = Netlist(top, list(inputs), {})
        self.count = 0

    def add(self, kind, inputs, phase, name=None) -> str:
        self.count += 1
        name = name or f"{kind.lower()}{self.count}"
        self.netlist.cells.append(Cell(name, kind, list(inputs), phase))
        return name


def _line_cells(produced: int, demands: list[int]) -> dict[int, int] | None:
    """Cells per phase of a shared delay line from phase ``produced`` to consumers reading at
    ``demands`` (``{phase: cells}``, phases ``produced+1 … max+1``), or ``None`` when the producer's
    one output cannot reach them all (too many readers too early)."""
    if min(demands) < produced:
        return None
    last = max(demands)
    readers = {q: 0 for q in range(produced, last + 1)}
    for demand in demands:
        readers[demand] += 1
    cells_at = {last + 1: 0}
    for q in range(last, produced, -1):
        cells_at[q] = math.ceil((readers[q] + cells_at[q + 1]) / SPLIT_WAYS)
    return cells_at if readers[produced] + cells_at.get(produced + 1, 0) <= 1 else None


def _retime(nodes, uses, phase, consumer_phase, passes: int = 3):
    """ALAP moves: push each gate (reverse topological order) to the phase in ``[its phase, its
    earliest consumer - 1]`` that minimises the delay-line cells of its inputs and of its output;
    repeat while anything improves. Updates ``phase`` and ``consumer_phase`` in place."""
    def line_cost(signal, produced):
        demands = [consumer_phase[user] - 1 for user, _, _ in uses[signal]]
        cells = _line_cells(produced, demands)
        return None if cells is None else sum(cells.values())

    def cost(node, at):
        consumer_phase[node.name] = at
        parts = [line_cost(node.name, at)] + [line_cost(signal, phase[signal]) for signal, _ in node.inputs]
        return None if None in parts else sum(parts)

    for _ in range(passes):
        moved = False
        for node in reversed(nodes):
            current = phase[node.name]
            latest = min(consumer_phase[user] for user, _, _ in uses[node.name]) - 1
            best, best_cost = current, cost(node, current)
            for at in range(current + 1, latest + 1):
                candidate = cost(node, at)
                if candidate is not None and (best_cost is None or candidate < best_cost):
                    best, best_cost = at, candidate
            phase[node.name] = consumer_phase[node.name] = best
            moved |= best != current
        if not moved:
            return


def _delay_line(builder, source, produced, demands: list[int]) -> list[str]:
    """Shared delivery of ``source`` (phase ``produced``) to consumers needing it at phases ``demands``.

    Returns, per demand, the name of the cell (or ``source``) whose output it reads.
    """
    last = max(demands)
    at = {q: [i for i, d in enumerate(demands) if d == q] for q in range(produced, last + 1)}
    cells_at = _line_cells(produced, demands)
    if cells_at is None:
        raise AssertionError(f"{source}: {len(demands)} consumers cannot all be served from phase {produced}")
    readers = [None] * len(demands)
    previous = [source]
    for q in range(produced + 1, last + 1):
        loads = len(at[q]) + cells_at[q + 1]
        names, slots = [], []
        upstream = iter(previous)
        for cell_index in range(cells_at[q]):
            outputs = min(SPLIT_WAYS, loads - cell_index * SPLIT_WAYS)
            kind = "BUF" if outputs == 1 else f"SPL{outputs}"
            name = builder.add(kind, [next(upstream)], q)
            names.append(name)
            slots += [name] * outputs
        previous_slots = slots
        # first the consumers at q, then the next phase's cells, take the slots in order
        for i, demand_index in enumerate(at[q]):
            readers[demand_index] = previous_slots[i]
        previous = previous_slots[len(at[q]):]
    for demand_index in at[produced]:
        readers[demand_index] = source
    return readers


def _naive(builder, source, produced, demands: list[int]) -> list[str]:
    """Baseline: a balanced splitter tree after the producer, then a private buffer chain per consumer."""
    leaves = []

    def tree(upstream, count, phase):
        if count == 1:
            leaves.append((upstream, phase))
            return
        ways = min(SPLIT_WAYS, count)
        splitter = builder.add(f"SPL{ways}", [upstream], phase + 1)
        for group in range(ways):
            tree(splitter, count // ways + (group < count % ways), phase + 1)

    tree(source, len(demands), produced)
    readers = []
    for (slot, phase), demand in zip(leaves, sorted(demands)):
        for q in range(phase + 1, demand + 1):
            slot = builder.add("BUF", [slot], q)
        readers.append(slot)
    order = sorted(range(len(demands)), key=lambda i: demands[i])
    result = [None] * len(demands)
    for reader, index in zip(readers, order):
        result[index] = reader
    return result


# --- majority extraction -------------------------------------------------------------------------

MAX_CUTS = 24  #: cuts kept per node during enumeration


def _majority_polarity(table: int) -> tuple[bool, bool, bool] | None:
    """Input inversions ``p`` with ``table == MAJ(l0^p0, l1^p1, l2^p2)`` (bit ``k`` of ``table`` is the
    value at leaf pattern ``k``), or ``None``. An inverted majority is the majority of the inverted
    inputs (self-duality), so input inversions cover output inversion too."""
    for flips in range(8):
        expected = 0
        for k in range(8):
            bits = [((k >> i) & 1) ^ ((flips >> i) & 1) for i in range(3)]
            expected |= int(sum(bits) >= 2) << k
        if expected == table:
            return tuple(bool((flips >> i) & 1) for i in range(3))
    return None


def _cone_table(name: str, leaves: tuple[str, ...], by_name: dict) -> int:
    """Truth table (8 bits) of node ``name`` over three ``leaves``."""
    table = 0
    for k in range(8):
        values = {leaf: (k >> i) & 1 for i, leaf in enumerate(leaves)}

        def value(signal):
            if signal not in values:
                node = by_name[signal]
                bits = [value(s) ^ inv for s, inv in node.inputs]
                values[signal] = {"AND2": lambda b: b[0] & b[1], "OR2": lambda b: b[0] | b[1],
                                  "MAJ3": lambda b: int(sum(b) >= 2)}[node.type](bits)
            return values[signal]
        table |= value(name) << k
    return table


def _free_cone(name: str, leaves: tuple[str, ...], by_name: dict, uses: dict) -> tuple[list[str], dict]:
    """Gates that die when ``name`` is re-expressed over ``leaves`` — ``name`` and every gate inside its
    cone whose uses all lie inside the cone (the maximum fanout-free part) — and the use counts after
    ``name`` drops its current inputs (``name`` itself is listed first and keeps its uses)."""
    removed, remaining = [name], dict(uses)
    stack = [name]
    while stack:
        for signal, _ in by_name[stack.pop()].inputs:
            if signal not in remaining:
                continue  # a primary input
            remaining[signal] -= 1
            if remaining[signal] == 0 and signal not in leaves:
                removed.append(signal)
                stack.append(signal)
    return removed, remaining


def extract_majority(nodes: list[LogicNode], outputs: dict[str, tuple]) -> list[LogicNode]:
    """Re-express AND/OR cones that compute a majority of three literals as one MAJ3 where that
    removes gates (full-adder carries, voters), then drop the dead gates. Cuts: every set of at
    most three signals separating a node from the inputs, enumerated bottom-up."""
    by_name = {node.name: node for node in nodes}
    uses = {node.name: 0 for node in nodes}
    for node in nodes:
        for signal, _ in node.inputs:
            if signal in uses:
                uses[signal] += 1
    for literal in outputs.values():
        if literal[0] in uses:
            uses[literal[0]] += 1
    cuts: dict[str, list[tuple[str, ...]]] = {}

    def cuts_of(signal):
        return cuts.get(signal, [(signal,)])

    for index, node in enumerate(nodes):
        merged = {()}
        for signal, _ in node.inputs:
            merged = {tuple(sorted(set(a) | set(b))) for a in merged for b in cuts_of(signal)
                      if len(set(a) | set(b)) <= 3}
        cuts[node.name] = [(node.name,)] + sorted(merged, key=lambda c: (len(c), c))[:MAX_CUTS]
        best = None
        for leaves in cuts[node.name][1:]:
            if len(leaves) != 3:
                continue
            polarity = _majority_polarity(_cone_table(node.name, leaves, by_name))
            if polarity is None:
                continue
            freed, remaining = _free_cone(node.name, leaves, by_name, uses)
            if len(freed) > 1 and (best is None or len(freed) > len(best[2])):
                best = (leaves, polarity, freed, remaining)
        if best is not None:
            leaves, polarity, freed, uses = best
            for leaf in leaves:
                if leaf in uses:
                    uses[leaf] += 1
            nodes[index] = by_name[node.name] = LogicNode(node.name, "MAJ3", tuple(zip(leaves, polarity)))
            cuts[node.name] = [(node.name,), leaves]
    return [node for node in nodes if uses[node.name] > 0]


def map_logic(top: str, inputs: list[str], nodes: list[LogicNode], outputs: dict[str, tuple],
              sharing: bool = True) -> Netlist:
    """Balance an AND/OR/MAJ network into AQFP cells.

    ``outputs`` maps an output bit name to a literal ``(signal, inverted)`` or
    to ``("const", value)``. Every output is one BUF/INV/CONST cell at the
    common output phase.
    """
    uses: dict[str, list] = {}
    for node in nodes:
        for position, (signal, inverted) in enumerate(node.inputs):
            uses.setdefault(signal, []).append((node.name, position, inverted))
    for port, literal in outputs.items():
        if literal[0] != "const":
            uses.setdefault(literal[0], []).append((f"out:{port}", 0, literal[1]))
    phase, arrival = _asap(nodes, {s: len(u) for s, u in uses.items()}, inputs)
    out_phase = 1 + max((arrival(lit[0]) for lit in outputs.values() if lit[0] != "const"), default=0)
    consumer_phase = {node.name: phase[node.name] for node in nodes}
    consumer_phase.update({f"out:{port}": out_phase for port in outputs})
    if sharing:
        _retime(nodes, uses, phase, consumer_phase)

    builder = _Builder(top, inputs)
    reader: dict[tuple, str] = {}
    deliver = _delay_line if sharing else _naive
    for signal, users in uses.items():
        demands = [consumer_phase[user] - 1 for user, _, _ in users]
        for (user, position, _), source in zip(users, deliver(builder, signal, phase[signal], demands)):
            reader[user, position] = source
    for node in nodes:
        wired = [("~" if inverted else "") + reader[node.name, position]
                 for position, (_, inverted) in enumerate(node.inputs)]
        builder.add(node.type, wired, phase[node.name], name=node.name)
    for port, literal in outputs.items():
        if literal[0] == "const":
            name = builder.add(f"CONST{int(literal[1])}", [], out_phase)
        else:
            name = builder.add("INV" if literal[1] else "BUF", [reader[f"out:{port}", 0]], out_phase)
        builder.netlist.outputs[port] = name
    builder.netlist.cells.sort(key=lambda cell: (cell.phase, cell.name))
    return builder.netlist
