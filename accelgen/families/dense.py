# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``dense-fc``: the fixed-point matrix-vector baseline (``hw/dense.py``, ``models/dense.py``)."""

import hw.dense
from models.dense import dense_fc_raw

from ..api import ArraySpec, Design
from ..flows.link import weights_then_vectors
from ..params import Param
from ..registry import register
from .circulant import CIRCULANT
from .common import FRAC, WIDTH, check_format


@register
class DenseFC(Design):
    name = "dense-fc"
    summary = "y = W x with `parallelism` MAC lanes; W loaded at start through w_in (baseline for circulant-fc)"
    family = CIRCULANT
    docs = "docs/flow.md"
    testbench = "sim.tb_dense"
    parameters = (
        Param("n_in", 64, "input vector length", lo=1, hi=4096),
        Param("n_out", 64, "output vector length", lo=1, hi=4096),
        WIDTH,
        FRAC,
        Param("parallelism", 4, "MAC lanes (multipliers) working in parallel (<= n_out)", lo=1, hi=256),
    )

    def check(self):
        check_format(self.params)

    def component(self):
        return hw.dense.DenseFC(**self.params)

    def inputs(self):
        p = self.params
        return {"w": ArraySpec((p["n_out"], p["n_in"]), self.fmt), "x": ArraySpec((None, p["n_in"]), self.fmt)}

    def outputs(self):
        return {"y": ArraySpec((None, self.params["n_out"]), self.fmt)}

    def golden(self, raw):
        return {"y_raw": dense_fc_raw(raw["w_raw"], raw["x_raw"], self.fmt)}

    def stream_plan(self, raw):
        return weights_then_vectors(raw["w_raw"], raw["x_raw"], self.params["n_out"])
