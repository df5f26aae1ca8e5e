"""``dense-fc``: the fixed-point matrix-vector baseline (``hw/dense.py``, ``models/dense.py``)."""

from hw.dense import DenseFC

from ..params import Param
from ..registry import ArraySpec, Design, register
from .common import FRAC, WIDTH, check_format, fixed_format


def _check(params):
    check_format(params)
    if params["parallelism"] > params["n_out"]:
        raise ValueError(f"parallelism={params['parallelism']} out of range [1, {params['n_out']}] (at most n_out)")


register(Design(
    name="dense-fc",
    summary="y = W x with `parallelism` MAC lanes; W loaded at start through w_in (baseline for circulant-fc)",
    params=(
        Param("n_in", 64, "input vector length", lo=1, hi=4096),
        Param("n_out", 64, "output vector length", lo=1, hi=4096),
        WIDTH,
        FRAC,
        Param("parallelism", 4, "MAC lanes (multipliers) working in parallel (<= n_out)", lo=1, hi=256),
    ),
    component=lambda p: DenseFC(**p),
    check=_check,
    test_module="sim.test_dense",
    inputs=lambda p: {"w": ArraySpec((p["n_out"], p["n_in"]), fixed_format(p)), "x": ArraySpec((None, p["n_in"]), fixed_format(p))},
    outputs=lambda p: {"y": ArraySpec((None, p["n_out"]), fixed_format(p))},
    counters=("cycles", "load_cycles", "vectors"),
    docs="docs/flow.md",
))
