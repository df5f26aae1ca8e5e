"""VIBNN's Gaussian random number generators: ``rlf-grng``, ``wallace-grng`` and the ``clt-grng`` baseline.

They take no input; ``samples`` sets how many steps ``sim`` and ``run`` draw
(it does not change the hardware). ``run`` returns ``z_raw`` (the integers
the RTL emits) and ``z = z_raw × scale``, the standard-normal values.
"""

import math

from hw.grng import CLTGRNG, RLFGRNG, WallaceGRNG
from models.fixed import FixedFormat
from models.grng import LFSR_TAPS, WALLACE_FORMAT, clt_scale, rlf_columns

from ..params import Param
from ..registry import ArraySpec, Design, register
from .common import measured, rate, times

SEED = Param("seed", 1, "seed of the generator's initial state (never all zero)", lo=1, hi=2**31 - 1)
SAMPLES = Param("samples", 1024, "steps drawn by sim/run (not a hardware parameter)", lo=1, hi=1_000_000)
MAX_RLF_COLUMNS = 512  #: widest LFSR RAM accepted (lanes × (1 + shuffle) bits)


def _lanes(default, hi, help_text="samples per cycle"):
    return Param("lanes", default, help_text, lo=1, hi=hi)


def _samples_per_us_per_lut(result) -> float:
    return rate(result, "samples", result.params["lanes"]) * result.synth["fmax_mhz"] / result.synth["lut"]


def _headline_vs_clt(name: str):
    """``name`` against the clt-grng baseline: samples per cycle and samples per second per LUT."""
    def headline(results):
        pair = measured(results, name, "clt-grng")
        if pair is None:
            return []
        generator, clt = pair
        return [(f"samples per cycle, {name} ÷ clt-grng", times(rate(generator, "samples", generator.params["lanes"]),
                                                               rate(clt, "samples", clt.params["lanes"]))),
                ("samples per second per LUT (each at its Fmax)",
                 times(_samples_per_us_per_lut(generator), _samples_per_us_per_lut(clt)))]
    return headline


def _check_rlf(params):
    if params["n"] not in LFSR_TAPS:
        raise ValueError(f"n={params['n']} has no maximal-length taps here; allowed: {sorted(LFSR_TAPS)}")
    columns = rlf_columns(params["lanes"], params["shuffle"])
    if columns > MAX_RLF_COLUMNS:
        raise ValueError(f"lanes={params['lanes']} with shuffle={params['shuffle']} needs a {columns}-bit RAM; "
                         f"allowed: lanes*(1+shuffle) <= {MAX_RLF_COLUMNS}")


def _rlf_output(params):
    fmt = FixedFormat(params["n"].bit_length() + 1, 0)
    return {"z": ArraySpec((None, params["lanes"]), fmt, scale=1 / math.sqrt(params["n"]))}


register(Design(
    name="rlf-grng",
    summary="RAM-based LFSR GRNG (VIBNN): z = (2S - n)/sqrt(n) per lane, running popcount, Bays-Durham shuffle",
    params=(
        Param("n", 127, f"LFSR length (one of {sorted(LFSR_TAPS)})", lo=31, hi=255),
        _lanes(4, 64),
        Param("shuffle", 12, "log2 of the shuffle buffer per lane (0: no shuffle, outputs correlated)", lo=0, hi=14),
        SEED, SAMPLES,
    ),
    component=lambda p: RLFGRNG(n=p["n"], lanes=p["lanes"], shuffle=p["shuffle"], seed=p["seed"]),
    check=_check_rlf,
    test_module="sim.test_grng",
    inputs=lambda p: {},
    outputs=_rlf_output,
    counters=("cycles", "samples"),
    docs="docs/vibnn.md",
    headline=_headline_vs_clt("rlf-grng"),
))


def _check_wallace(params):
    if params["lanes"] % 4:
        raise ValueError(f"lanes={params['lanes']} is not a multiple of 4 (4 samples per Wallace unit)")


register(Design(
    name="wallace-grng",
    summary="Wallace GRNG: pools of normals, multiplier-free 4-point orthogonal steps, chi-square gain",
    params=(
        Param("pool", 1024, "pool size per unit of 4 lanes", lo=64, hi=8192, power_of_two=True),
        Param("lanes", 4, "samples per cycle (a multiple of 4: one unit per 4)", lo=4, hi=64),
        SEED, SAMPLES,
    ),
    component=lambda p: WallaceGRNG(pool=p["pool"], lanes=p["lanes"], seed=p["seed"]),
    check=_check_wallace,
    test_module="sim.test_grng",
    inputs=lambda p: {},
    outputs=lambda p: {"z": ArraySpec((None, p["lanes"]), WALLACE_FORMAT)},
    counters=("cycles", "samples"),
    docs="docs/vibnn.md",
    headline=_headline_vs_clt("wallace-grng"),
))


def _check_clt(params):
    most = max(LFSR_TAPS.values())
    if params["terms"] * params["bits"] > most:
        raise ValueError(f"terms*bits={params['terms'] * params['bits']} out of range [1, {most}] "
                         "(new LFSR bits per step)")


def _clt_output(params):
    fmt = FixedFormat(params["bits"] + params["terms"].bit_length() + 1, 0)
    return {"z": ArraySpec((None, params["lanes"]), fmt, scale=clt_scale(params["terms"], params["bits"]))}


register(Design(
    name="clt-grng",
    summary="central-limit baseline: sum of `terms` uniform `bits`-bit LFSR words per lane",
    params=(
        Param("terms", 12, "uniforms summed per sample", lo=2, hi=32),
        Param("bits", 8, "bits per uniform", lo=1, hi=16),
        _lanes(4, 64),
        SEED, SAMPLES,
    ),
    component=lambda p: CLTGRNG(terms=p["terms"], bits=p["bits"], lanes=p["lanes"], seed=p["seed"]),
    check=_check_clt,
    test_module="sim.test_grng",
    inputs=lambda p: {},
    outputs=_clt_output,
    counters=("cycles", "samples"),
    docs="docs/vibnn.md",
))
