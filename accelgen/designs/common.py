"""Parameter declarations several families share."""

from ..params import Param

WIDTH = Param("width", 16, "fixed-point word width in bits", lo=4, hi=24)
FRAC = Param("frac", 10, "fractional bits of the fixed-point format (< width)", lo=0, hi=23)


def check_format(params: dict):
    """``frac`` must leave at least one integer bit (the sign)."""
    if params["frac"] >= params["width"]:
        raise ValueError(f"frac={params['frac']} out of range [0, {params['width'] - 1}] for width={params['width']}")
