"""The design registry: every family plugs in a :class:`Design`; the flows only read it.

A design states its parameter schema, how to build its Amaranth component,
its cocotb test module, and the arrays it consumes and produces in ``run``
(with their fixed-point formats). Families register in
``accelgen/designs/``; nothing under ``hw/``, ``models/`` or ``sim/`` knows
about the registry or the command line.
"""

from dataclasses import dataclass
from typing import Callable

from models.fixed import FixedFormat

from .errors import UserError
from .params import Param

__all__ = ["ArraySpec", "Design", "register", "get", "names"]


@dataclass(frozen=True)
class ArraySpec:
    """An array of ``run``: its shape (``None`` marks the free batch axis) and its format.

    The user may give the float array ``name`` (quantized on the way in) or
    the raw integers ``name_raw``; outputs are written both ways. ``scale``
    multiplies the dequantized value (the GRNGs' integer lattices map to
    N(0, 1) by a constant that the hardware never applies).
    """

    shape: tuple
    fmt: FixedFormat
    scale: float = 1.0


@dataclass(frozen=True)
class Design:
    """One generatable design.

    ``component(params)`` returns the ``wiring.Component``; ``check(params)``
    raises ``ValueError`` on bad parameter combinations; ``inputs(params)``
    and ``outputs(params)`` map array names to :class:`ArraySpec`.
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    component: Callable
    test_module: str
    inputs: Callable[[dict], dict]
    outputs: Callable[[dict], dict]
    check: Callable[[dict], None] = lambda params: None
    check_inputs: Callable[[dict, dict], None] = lambda params, raw: None  # data-dependent limits in ``run``
    counters: tuple[str, ...] = ("cycles",)
    sim_batch: int = 3  # rows of random input per `sim` (time steps for recurrent designs)
    docs: str = ""
    # The family's headline ratio against its baseline, from one build's results by design name
    # (each with ``params``, ``passed``, ``counters``, ``synth``): ``[(what, figure), ...]``.
    headline: Callable[[dict], list[tuple[str, str]]] = lambda results: []

    @property
    def toplevel(self) -> str:
        """Verilog module name: the design name with ``_`` for ``-``."""
        return self.name.replace("-", "_")

    def defaults(self) -> dict:
        return {param.name: param.default for param in self.params}


_DESIGNS: dict[str, Design] = {}


def register(design: Design) -> Design:
    if design.name in _DESIGNS:
        raise ValueError(f"design {design.name!r} registered twice")
    _DESIGNS[design.name] = design
    return design


def _load_families():
    from . import designs  # noqa: F401  (registers every family on import)


def names() -> list[str]:
    _load_families()
    return sorted(_DESIGNS)


def get(name: str) -> Design:
    _load_families()
    if name not in _DESIGNS:
        raise UserError(f"unknown design {name!r}; allowed: {', '.join(sorted(_DESIGNS))}")
    return _DESIGNS[name]
