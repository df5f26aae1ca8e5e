"""``sc-layer``: a stochastic-computing fully connected layer (SC-AQFP; ``hw/sc.py``, ``models/sc.py``)."""

from hw.sc import SCLayer
from models.fixed import FixedFormat
from models.sc import ADDERS

from ..params import Param
from ..registry import ArraySpec, Design, register


def _value_format(params) -> FixedFormat:
    """``bits``-bit signed inputs in [-1, 1): raw / 2**(bits-1)."""
    return FixedFormat(params["bits"], params["bits"] - 1)


def _outputs(params):
    """``y_raw = 2·ones - length`` per neuron and vector; ``y = y_raw / length`` in [-1, 1]."""
    length = params["length"]
    return {"y": ArraySpec((None, params["n_out"]), FixedFormat(length.bit_length() + 1, 0), scale=1 / length)}


register(Design(
    name="sc-layer",
    summary="stochastic-computing FC layer (SC-AQFP): SNGs, XNOR products, sorter-with-feedback or majority-chain adder",
    params=(
        Param("n_in", 8, "inputs per neuron", lo=1, hi=256),
        Param("n_out", 4, "neurons", lo=1, hi=64),
        Param("length", 64, "stream length L: cycles (output bits) per input vector", lo=4, hi=65536,
              power_of_two=True),
        Param("bits", 8, "SNG precision: x, w, b are signed bits-bit values in [-1, 1)", lo=2, hi=16),
        Param("adder", "sorter", "neuron adder: sorter (bitonic, with feedback), counter (same function, "
              "popcount) or majority chain", choices=ADDERS),
        Param("seed", 1, "seed of the random LFSR columns (never all zero)", lo=1, hi=2**31 - 1),
    ),
    component=lambda p: SCLayer(**p),
    test_module="sim.test_sc",
    inputs=lambda p: {"w": ArraySpec((p["n_out"], p["n_in"]), _value_format(p)),
                      "b": ArraySpec((p["n_out"],), _value_format(p)),
                      "x": ArraySpec((None, p["n_in"]), _value_format(p))},
    outputs=_outputs,
    counters=("cycles", "vectors"),
    docs="docs/aqfp.md",
))
