"""Pieces every benchmark script shares: the import path, synthesis of one design point, ratios."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import accelgen  # noqa: E402


def synth(name: str, params: dict, target: str = "ecp5", *, cached_only: bool = False,
          seeds: int = 1) -> dict | None:
    """Resolve ``params`` for design ``name`` and synthesize it (cached by Verilog hash), placed with nextpnr
    seeds 1 … ``seeds``; ``None`` for a point without a cached result when ``cached_only``."""
    return accelgen.design(name, **params).synthesize(target, cached_only=cached_only, seeds=seeds)


def ratio(a, b) -> str:
    """``a / b`` as ``1.23×``, or ``–`` when either is missing."""
    return "–" if a is None or b is None else f"{a / b:.2f}×"


def progress(message: str):
    print(message, file=sys.stderr, flush=True)
