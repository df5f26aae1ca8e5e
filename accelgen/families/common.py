"""Parameter declarations and report helpers several families share."""

from ..params import Param

WIDTH = Param("width", 16, "fixed-point word width in bits", lo=4, hi=24)
FRAC = Param("frac", 10, "fractional bits of the fixed-point format (< width)", lo=0, hi=23)
SEED = Param("seed", 1, "seed of the generator's initial state (never all zero)", lo=1, hi=2**31 - 1)


def check_format(params: dict):
    """``frac`` must leave at least one integer bit (the sign)."""
    if params["frac"] >= params["width"]:
        raise ValueError(f"frac={params['frac']} out of range [0, {params['width'] - 1}] for width={params['width']}")


def measured(results: dict, *names: str) -> list | None:
    """The build results of ``names`` when every one passed simulation and synthesis, else ``None``."""
    found = [results.get(name) for name in names]
    if all(result is not None and result.passed and result.synth.get("lut") for result in found):
        return found
    return None


def rate(result, unit: str, scale: int = 1) -> float:
    """``unit`` per cycle (counter ``unit`` × ``scale`` over counter ``cycles``) of one build result."""
    return result.counters[unit] * scale / result.counters["cycles"]


def per_second(result, unit: str, scale: int = 1) -> float:
    """``unit`` per second at the result's Fmax."""
    return rate(result, unit, scale) * result.synth["fmax_mhz"] * 1e6


def times(numerator: float, denominator: float) -> str:
    """``'1.78×'``, or ``'n/a'`` when the baseline figure is zero."""
    return f"{numerator / denominator:.2f}×" if denominator else "n/a"


def point(result) -> str:
    """A build result's operating point: its design and parameters, as one line."""
    return f"{result.name} " + ", ".join(f"{key}={value}" for key, value in result.params.items())
