"""The Python API's design object: one declaration per design, one object from parameters to Verilog, model, RTL and report.

A design is a subclass of :class:`Design` whose class attributes declare it
(name, family, parameters, testbench) and whose few methods say what is
particular to it (its component, its ``run`` arrays, its golden model).
``accelgen.design(name, **params)`` instantiates it: the parameters are
validated once, in :meth:`Design.__init__`, and every operation of the
project (``verilog``, ``generate``, ``model``, ``run``, ``simulate``,
``synthesize``) is a method of the instance. The command line only parses
and prints around these methods (``docs/design.md``, "Layers").
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np

from models.fixed import FixedFormat, dequantize

from .errors import UserError
from .flows import export, link, prove, simulate, synthesize
from .flows.cache import cache_dir
from .flows.outputs import write_atomically
from .params import Param, parse_values

__all__ = ["Axis", "ArraySpec", "Claim", "Family", "Design"]


@dataclass(frozen=True)
class Axis:
    """A free axis of ``run``'s arrays other than the batch: its size comes from the arrays, equal in every
    array that names it, 1 … ``hi`` (the generation parameter ``param`` sets ``hi``); ``simulate``'s random
    inputs use ``sample``. A design whose hardware takes its shape at run time declares its axes this way."""

    name: str
    hi: int
    param: str
    sample: int

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ArraySpec:
    """An array of ``run``: its shape and its format.

    An axis is a size, ``None`` (the free batch axis, shared by every input)
    or an :class:`Axis` (a named free axis).

    The user may give the float array ``name`` (quantized on the way in) or
    the raw integers ``name_raw``; outputs are written both ways. ``scale``
    multiplies the dequantized value (the GRNGs' integer lattices map to
    N(0, 1) by a constant that the hardware never applies).
    """

    shape: tuple
    fmt: FixedFormat
    scale: float = 1.0

    def describe(self) -> str:
        """``'x (batch×64, Q16.10)'`` without the name: shape and format as ``accelgen list`` prints them."""
        shape = "×".join("batch" if axis is None else str(axis) for axis in self.shape) or "scalar"
        scaled = "" if self.scale == 1.0 else f" × {self.scale:.6g}"
        return f"{shape}, Q{self.fmt.width}.{self.fmt.frac}{scaled}"

    def shape_json(self) -> list:
        """The shape for job files and manifests: sizes, ``None`` for the batch, an :class:`Axis`'s name."""
        return [axis.name if isinstance(axis, Axis) else axis for axis in self.shape]


@dataclass(frozen=True)
class Claim:
    """One row of a family's "paper vs here" table.

    ``paper`` is the seed paper's headline claim; ``measure(results)`` turns
    one build's results (design name → ``build`` entry with ``params``,
    ``passed``, ``counters``, ``synth``) into ``(figure, operating point)``
    for the same comparison, or ``None`` when the build lacks what it needs;
    ``command`` regenerates the full comparison.
    """

    paper: str
    measure: Callable[[dict], tuple[str, str] | None]
    command: str


@dataclass(frozen=True)
class Family:
    """A research line: the report's section title, its docs page and its paper-vs-here claims."""

    title: str
    docs: str
    claims: tuple[Claim, ...] = ()


class Design:
    """Base of every design; an instance is one design point with validated parameters.

    Declaration (class attributes of a subclass)
    --------------------------------------------
    name : str
        Design name on the command line; the Verilog top module is it with ``_`` for ``-``.
    summary : str
        One line for ``accelgen list``.
    family : Family
        The research line (report section, docs page, paper claims).
    docs : str
        The design's docs page; the family's unless the design names its own.
    parameters : tuple of Param
        Schema: names, defaults, ranges.
    testbench : str
        cocotb module that drives the RTL (``sim/tb_<family>.py``).
    sim_batch : int
        Rows of random input per ``simulate`` (time steps for recurrent designs).
    tasks : tuple of str
        Training tasks :meth:`accuracy` knows (``sweep --train``); default none.

    Hooks (methods a subclass overrides)
    ------------------------------------
    component() -> wiring.Component
        The hardware; its constructor rejects bad combinations (``ValueError``).
    check()
        Combinations the component does not see (``ValueError``); default none.
    inputs(), outputs() -> dict of ArraySpec
        The arrays of ``run``.
    golden(raw) -> dict
        The bit-exact model: raw input arrays (``<name>_raw``) to raw outputs.
    check_inputs(raw)
        Data-dependent limits of ``run`` (``ValueError``); default none.
    files() -> dict
        Parameter name → sha256 of each file the design reads (``Param.path``); default none.
    check_target(target)
        Resources the design needs beyond what ``target`` has (``ValueError``, before synthesis);
        default none.
    report_lines(entry) -> list of str
        Markdown lines for the build report's family section; default none.
    stream_plan(raw) -> accelgen.flows.link.StreamPlan
        How ``run``'s raw arrays travel through the design's streams (the board link,
        docs/board.md); default: not on the link.
    train_accuracy(task) -> float
        Train a model for ``task`` at this design point and return its test accuracy through the
        bit-exact model (``ValueError`` when this point cannot run the task).

    Attributes
    ----------
    params : dict
        Every parameter, after defaults, validated.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    family: ClassVar[Family]
    parameters: ClassVar[tuple[Param, ...]]
    testbench: ClassVar[str]
    docs: ClassVar[str]
    sim_batch: ClassVar[int] = 3
    tasks: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "docs" not in cls.__dict__ and "family" in cls.__dict__:
            cls.docs = cls.family.docs

    def __init__(self, **params):
        self.params = parse_values(self.name, self.parameters, params)
        try:
            self.check()
            self.component()
        except ValueError as error:
            raise UserError(f"{self.name}: {error}") from None

    def __repr__(self) -> str:
        given = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"accelgen.design({self.name!r}, {given})"

    @property
    def toplevel(self) -> str:
        """Verilog module name: the design name with ``_`` for ``-``."""
        return self.name.replace("-", "_")

    @property
    def fmt(self) -> FixedFormat:
        """``Q(width, frac)`` of a design with those parameters."""
        return FixedFormat(self.params["width"], self.params["frac"])

    # -- hooks ------------------------------------------------------------------------------------------------------

    def check(self):
        """Raise ``ValueError`` for a parameter combination the component's constructor does not reject."""

    def component(self):
        raise NotImplementedError

    def inputs(self) -> dict:
        return {}

    def outputs(self) -> dict:
        raise NotImplementedError

    def golden(self, raw: dict) -> dict:
        raise NotImplementedError

    def check_inputs(self, raw: dict):
        """Raise ``ValueError`` for input data the hardware cannot take (beyond shapes and formats)."""

    def files(self) -> dict:
        """``{parameter: sha256}`` of the files the design reads: part of its identity (cache keys, manifest)."""
        return {}

    def check_target(self, target: str):
        """Raise ``ValueError`` when the design cannot fit ``target`` (checked before synthesis)."""

    @property
    def dsp_grid(self) -> str:
        """For ``synth --floorplan``: a regular expression whose groups ``row`` and ``col`` read a PE's
        position from the name of its DSP multiplier cell (``accelgen/flows/ecp5_floorplan.py``); "" when
        the design has no PE array of one multiplier per PE."""
        return ""

    def report_lines(self, entry) -> list[str]:
        """Markdown lines about one build result (``accelgen.flows.report.Entry``) for the report."""
        return []

    @property
    def on_link(self) -> bool:
        """Whether the design runs over the board link (it has a :meth:`stream_plan`)."""
        return type(self).stream_plan is not Design.stream_plan

    def stream_plan(self, raw: dict):
        """Raw input arrays as words for each input stream, in order, and the output words to expect
        (``accelgen.flows.link.StreamPlan``)."""
        raise NotImplementedError(f"{self.name} does not run over the board link yet")

    def train_accuracy(self, task: str) -> float:
        raise NotImplementedError

    # -- operations ---------------------------------------------------------------------------------------------------

    def accuracy(self, task: str) -> float:
        """Test accuracy of a model trained for ``task`` at this design point, through the bit-exact model
        (cached by design, parameters and task: training is seeded, so the figure is a pure function)."""
        if task not in self.tasks:
            known = f"its tasks: {', '.join(self.tasks)}" if self.tasks else "it has no training task"
            raise UserError(f"{self.name}: task={task!r} not allowed; {known}")
        key = hashlib.sha256(json.dumps([self.name, self.params, task], sort_keys=True).encode()).hexdigest()[:24]
        path = cache_dir() / "train" / f"{self.name}-{task}-{key}.json"
        if path.exists():
            return json.loads(path.read_text())["accuracy"]
        try:
            found = float(self.train_accuracy(task))
        except ValueError as error:
            raise UserError(f"{self.name}: {error}") from None
        write_atomically({path: json.dumps({"design": self.name, "params": self.params, "task": task,
                                            "accuracy": found})})
        return found

    def verilog(self) -> str:
        """The design's Verilog (top module :attr:`toplevel`), byte-identical for equal parameters."""
        return export.elaborate(self)[0]

    def ports(self) -> list[dict]:
        """Top-level ports: ``{"name", "dir", "width", "signed"}`` each, ``clk`` and ``rst`` first."""
        return export.elaborate(self)[1]

    def generate(self, out_dir=None) -> tuple[Path, Path]:
        """Write ``<out_dir>/<name>.v`` and the manifest ``<name>.json`` as one unit; return both paths.

        ``out_dir`` defaults to ``rtl_out/<name>/``.
        """
        return export.generate(self, out_dir)

    def prepare(self, arrays: dict) -> dict:
        """Check the user's arrays (names, shapes, dtypes, ranges) and return the raw inputs."""
        raw = simulate.prepare_inputs(self, arrays)
        try:
            self.check_inputs(raw)
        except ValueError as error:
            raise UserError(f"{self.name}: {error}") from None
        return raw

    def model(self, arrays: dict | None = None) -> dict:
        """The bit-exact golden model on ``run``'s arrays: outputs ``<name>`` (float) and ``<name>_raw``."""
        raw = self.golden(self.prepare(arrays or {}))
        return self.dequantized(raw)

    def run(self, arrays: dict | None = None, *, simulator: str = "verilator", board: str | None = None,
            baud: int = link.BAUD) -> tuple[dict, dict]:
        """The arrays through the RTL in simulation, no stalls: ``(outputs, report)`` as ``accelgen run`` writes.

        ``report`` holds ``cycles`` and the testbench's other counters. With ``board`` (a serial port, e.g.
        ``/dev/ttyUSB0``) the arrays go through a board programmed by :meth:`deploy` instead, over the host
        link at ``baud``; ``report`` then holds the link's counts and seconds.
        """
        raw = self.prepare(arrays or {})
        if board is not None:
            raw_outputs, counters = link.run_on_port(self, raw, board, baud=baud)
        else:
            raw_outputs, counters = simulate.run_arrays(self, raw, simulator=simulator)
        return self.dequantized(raw_outputs), counters

    def deploy(self, board: str, out_dir, *, program: bool = False, baud: int = link.BAUD) -> dict:
        """A bitstream of this design behind the host link for ``board`` (``accelgen.flows.board.BOARDS``):
        writes ``<out_dir>/<name>.bit`` and ``<name>-board.json``, returns that manifest; ``program`` loads it
        with openFPGALoader (docs/board.md)."""
        from .flows.board import deploy
        return deploy(self, board, out_dir, baud=baud, program=program)

    def simulate(self, arrays: dict | None = None, *, seed: int = 1, stall: float = 0.3, batch: int | None = None,
                 job_dir=None, simulator: str = "verilator", waves: bool = False) -> "simulate.SimulationResult":
        """Random inputs (or ``run``'s ``arrays``) through the RTL under random valid/ready stalls, checked word
        for word against :meth:`golden`; ``job_dir`` (default ``rtl_out/<name>/sim/``) keeps the inputs, log
        and waves."""
        if not 0.0 <= stall < 1.0:
            raise UserError(f"stall={stall} out of range [0, 1)")
        if not 0 <= seed < 2**32:
            raise UserError(f"seed={seed} out of range [0, {2**32 - 1}]")
        raw = None if arrays is None else self.prepare(arrays)
        return simulate.simulate(self, job_dir=job_dir, simulator=simulator, waves=waves, stall=stall,
                                 seed=seed, batch=batch or self.sim_batch, raw_inputs=raw)

    def synthesize(self, target: str = "ecp5", *, seeds: int = 1, cached_only: bool = False,
                   goal_mhz: float = synthesize.CLOCK_TARGET_MHZ, router: str = synthesize.ROUTERS[0],
                   route: bool = True, floorplan: bool = False) -> dict | None:
        """yosys + nextpnr on this design: the dict ``accelgen synth --json`` writes (``None`` if
        ``cached_only`` and not cached). ``seeds`` > 1 also places with nextpnr seeds 2 … ``seeds``;
        ``goal_mhz`` is nextpnr's timing goal, ``router`` its router (``synthesize.ROUTERS``);
        ``route=False`` stops after placement (Fmax: nextpnr's estimate, ``placed_only`` in the dict);
        ``floorplan`` pins the design's PE multipliers to a grid of DSP sites (:attr:`dsp_grid`; ECP5)."""
        if target not in synthesize.TARGETS:
            raise UserError(f"target={target!r} not allowed; allowed: {', '.join(synthesize.TARGETS)}")
        if not 1 <= seeds <= synthesize.MAX_SEEDS:
            raise UserError(f"seeds={seeds} out of range [1, {synthesize.MAX_SEEDS}]")
        if not 1 <= goal_mhz <= synthesize.MAX_GOAL_MHZ:
            raise UserError(f"goal={goal_mhz:g} MHz out of range [1, {synthesize.MAX_GOAL_MHZ}]")
        if router not in synthesize.ROUTERS:
            raise UserError(f"router={router!r} not allowed; allowed: {', '.join(synthesize.ROUTERS)}")
        try:
            self.check_target(target)
        except ValueError as error:
            raise UserError(f"{self.name}: {error}") from None
        if floorplan and (target != "ecp5" or not self.dsp_grid):
            raise UserError(f"{self.name}: no DSP grid floorplan for these parameters on target={target} "
                            "(allowed: target=ecp5, intergrad with pipeline=1 and one multiplier per PE: "
                            "pe=one-mac, or mode ws or os)")
        text, port_list = export.elaborate(self)
        return synthesize.synthesize(text, self.toplevel, target, port_list, cached_only=cached_only, seeds=seeds,
                                     goal_mhz=goal_mhz, router=router, route=route,
                                     dsp_grid=self.dsp_grid if floorplan else "")

    def prove(self, *, depth: int = 24, work_dir=None) -> dict:
        """Prove the stream contract of every output stream formally (``accelgen/flows/prove.py``):
        ``{"design", "params", "properties": [{"name", "kind", "result", "depth", "engine", "seconds"}]}``;
        a failed property also has ``"trace"`` (a VCD)."""
        found = prove.prove_component(self.component, depth=depth, work_dir=work_dir, label=self.name)
        return {"design": self.name, "params": self.params, "properties": found}

    def dequantized(self, raw: dict) -> dict:
        """Raw outputs plus their float values (``<name>`` = ``<name>_raw`` × LSB × scale) for each output."""
        outputs = {}
        for name, spec in self.outputs().items():
            values = np.asarray(raw[f"{name}_raw"], dtype=np.int64)
            outputs[f"{name}_raw"] = values
            outputs[name] = dequantize(values, spec.fmt) * spec.scale
        return outputs
