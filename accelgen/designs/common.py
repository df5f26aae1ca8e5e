"""Parameter declarations several families share."""

from models.fixed import FixedFormat

from ..params import Param

WIDTH = Param("width", 16, "fixed-point word width in bits", lo=4, hi=24)
FRAC = Param("frac", 10, "fractional bits of the fixed-point format (< width)", lo=0, hi=23)


def check_format(params: dict):
    """``frac`` must leave at least one integer bit (the sign)."""
    if params["frac"] >= params["width"]:
        raise ValueError(f"frac={params['frac']} out of range [0, {params['width'] - 1}] for width={params['width']}")


def fixed_format(params: dict) -> FixedFormat:
    """``Q(width, frac)`` of a design's data."""
    return FixedFormat(params["width"], params["frac"])


def check_blocks(params: dict, sizes: tuple[str, ...]):
    """Block-circulant designs: each of ``sizes`` a multiple of ``k``; at most ``k/2 + 1`` MAC lanes."""
    k = params["k"]
    for name in sizes:
        if params[name] % k:
            raise ValueError(f"{name}={params[name]} is not a multiple of k={k}")
    if params["parallelism"] > k // 2 + 1:
        raise ValueError(f"parallelism={params['parallelism']} out of range [1, {k // 2 + 1}] (at most k/2+1 bins)")


def measured(results: dict, *names: str) -> list | None:
    """The build results of ``names`` when every one passed simulation and synthesis, else ``None``."""
    found = [results.get(name) for name in names]
    if all(result is not None and result.passed and result.synth.get("lut") for result in found):
        return found
    return None


def rate(result, unit: str, scale: int = 1) -> float:
    """``unit`` per cycle (counter ``unit`` × ``scale`` over counter ``cycles``) of one build result."""
    return result.counters[unit] * scale / result.counters["cycles"]


def times(numerator: float, denominator: float) -> str:
    """``'1.78×'``, or ``'n/a'`` when the baseline figure is zero."""
    return f"{numerator / denominator:.2f}×" if denominator else "n/a"
