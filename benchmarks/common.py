"""Pieces every benchmark script shares: the import path, synthesis of one design point, ratios."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accelgen import registry  # noqa: E402
from accelgen.flows import synthesize  # noqa: E402
from accelgen.params import resolve  # noqa: E402


def synth(name: str, params: dict, target: str = "ecp5", *, cached_only: bool = False,
          seeds: int = 1) -> dict | None:
    """Resolve ``params`` for design ``name`` and synthesize it (cached by Verilog hash), placed with nextpnr
    seeds 1 … ``seeds``; ``None`` for a point without a cached result when ``cached_only``."""
    design = registry.get(name)
    return synthesize.synthesize_design(design, resolve(design, params), target, cached_only=cached_only,
                                        seeds=seeds)


def ratio(a, b) -> str:
    """``a / b`` as ``1.23×``, or ``–`` when either is missing."""
    return "–" if a is None or b is None else f"{a / b:.2f}×"


def progress(message: str):
    print(message, file=sys.stderr, flush=True)
