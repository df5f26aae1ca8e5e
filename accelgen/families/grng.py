# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""VIBNN's Gaussian random number generators: ``rlf-grng``, ``wallace-grng``, ``lfsr-grng`` (bnn-mlp's ε
source without block RAM) and the ``clt-grng`` baseline.

They take no input; ``samples`` sets how many steps ``sim`` and ``run`` draw
(it does not change the hardware). ``run`` returns ``z_raw`` (the integers
the RTL emits) and ``z = z_raw × scale``, the standard-normal values.
"""

import math

import numpy as np
from amaranth.hdl import Value

import hw.grng
from hw.link import TAKE
from models.fixed import FixedFormat, unpack
from models.grng import (PAIRED_LFSRS, RLF_LENGTHS, WALLACE_FORMAT, clt_grng, clt_scale, paired_lfsr_grng,
                         rlf_columns, rlf_grng, wallace_grng)
from models.lfsr import LFSR_TAPS

from ..api import ArraySpec, Claim, Design, Family
from ..flows.link import stream_through
from ..params import Param
from ..registry import register
from .common import SEED, measured, per_second, point, times

SAMPLES = Param("samples", 1024, "steps drawn by sim/run (not a hardware parameter)", lo=1, hi=1_000_000)
MAX_RLF_COLUMNS = 8192  #: widest LFSR RAM accepted (lanes × bits)


def _lanes(default, hi, help_text="samples per cycle"):
    return Param("lanes", default, help_text, lo=1, hi=hi)


def _samples_per_lut_vs_clt(name: str):
    """``name`` against the clt-grng baseline: samples per second per LUT, each at its Fmax."""
    def measure(results):
        pair = measured(results, name, "clt-grng")
        if pair is None:
            return None
        generator, clt = pair
        figure = times(per_second(generator, "samples", generator.params["lanes"]) * clt.synth["lut"],
                       per_second(clt, "samples", clt.params["lanes"]) * generator.synth["lut"])
        return f"{figure} samples/s per LUT vs clt-grng", f"{point(generator)} vs {point(clt)}"
    return measure


def _images_per_second(results):
    """bnn-mlp's images per second at its Fmax (its own parameters: a small MLP, not VIBNN's 784-200-200-10)."""
    found = measured(results, "bnn-mlp")
    if found is None:
        return None
    return f"{per_second(found[0], 'images'):,.0f} images/s", point(found[0])


VIBNN = Family(
    title="VIBNN — Gaussian generators and Bayesian MLP",
    docs="docs/vibnn.md",
    claims=(
        Claim("VIBNN: RLF-GRNG, a high-throughput Gaussian generator from RAM-held LFSRs",
              _samples_per_lut_vs_clt("rlf-grng"), "python benchmarks/vibnn.py"),
        Claim("VIBNN: Wallace GRNG for BNN sampling", _samples_per_lut_vs_clt("wallace-grng"),
              "python benchmarks/vibnn.py"),
        Claim("VIBNN: 321,543.4 images/s (784-200-200-10 on FPGA)", _images_per_second,
              "accelgen synth bnn-mlp; accelgen sim bnn-mlp"),
    ),
)


class GaussianGenerator(Design):
    """A generator with no input: ``samples`` steps of ``lanes`` samples come out as ``z``."""

    family = VIBNN
    testbench = "sim.tb_grng"

    def outputs(self):
        fmt, scale = self.sample_format()
        return {"z": ArraySpec((None, self.params["lanes"]), fmt, scale=scale)}

    def sample_format(self) -> tuple[FixedFormat, float]:
        raise NotImplementedError

    def stream_plan(self, raw):
        """Ask the link for ``samples`` words (channel ``take``); each word holds one sample per lane."""
        samples, lanes = self.params["samples"], self.params["lanes"]
        lane_width = Value.cast(self.component().z_out.payload).shape().width // lanes
        return stream_through([(TAKE, [samples])], samples,
                              lambda words: {"z_raw": np.stack(unpack(words, lane_width, lanes), axis=1)})


def _binomial_format(bits: int) -> tuple[FixedFormat, float]:
    """Raw ``2S - bits`` lattice points and their scale to unit variance."""
    return FixedFormat(bits.bit_length() + 1, 0), 1 / math.sqrt(bits)


@register
class RLFGRNG(GaussianGenerator):
    name = "rlf-grng"
    summary = "RAM-based LFSR GRNG (VIBNN): z = (2S - bits)/sqrt(bits) per lane, S the ones among fresh LFSR bits"
    parameters = (
        Param("n", 63, f"LFSR length = RAM depth (one of {list(RLF_LENGTHS)})", lo=min(RLF_LENGTHS), hi=max(RLF_LENGTHS)),
        _lanes(4, 256),
        Param("bits", 32, "bits per sample: outputs are Binomial(bits, 1/2)", lo=2, hi=256),
        SEED, SAMPLES,
    )

    def check(self):
        p = self.params
        if p["n"] not in RLF_LENGTHS:
            raise ValueError(f"n={p['n']} has no taps d = n - 1 here; allowed: {list(RLF_LENGTHS)}")
        columns = rlf_columns(p["lanes"], p["bits"])
        if columns > MAX_RLF_COLUMNS:
            raise ValueError(f"lanes={p['lanes']} with bits={p['bits']} needs a {columns}-bit RAM; "
                             f"allowed: lanes*bits <= {MAX_RLF_COLUMNS}")

    def component(self):
        p = self.params
        return hw.grng.RLFGRNG(n=p["n"], lanes=p["lanes"], bits=p["bits"], seed=p["seed"])

    def sample_format(self):
        return _binomial_format(self.params["bits"])

    def golden(self, raw):
        p = self.params
        return {"z_raw": rlf_grng(p["n"], p["lanes"], p["bits"], p["seed"], p["samples"])}


@register
class PairedLFSRGRNG(GaussianGenerator):
    name = "lfsr-grng"
    summary = ("two register LFSRs per lane (bnn-mlp's eps source, no block RAM): z = (2S - bits)/sqrt(bits), "
               "S the ones among their XORed new bits")
    parameters = (
        _lanes(4, 256),
        Param("bits", 32, "bits per sample: outputs are Binomial(bits, 1/2)", lo=2,
              hi=min(LFSR_TAPS[n] for n in PAIRED_LFSRS)),
        SEED, SAMPLES,
    )

    def component(self):
        p = self.params
        return hw.grng.PairedLFSRGRNG(lanes=p["lanes"], bits=p["bits"], seed=p["seed"])

    def sample_format(self):
        return _binomial_format(self.params["bits"])

    def golden(self, raw):
        p = self.params
        return {"z_raw": paired_lfsr_grng(p["lanes"], p["bits"], p["seed"], p["samples"])}


@register
class WallaceGRNG(GaussianGenerator):
    name = "wallace-grng"
    summary = "Wallace GRNG: pools of normals, multiplier-free 4-point orthogonal steps, chi-square gain"
    parameters = (
        Param("pool", 1024, "pool size per unit of 4 lanes", lo=64, hi=8192, power_of_two=True),
        Param("lanes", 4, "samples per cycle (a multiple of 4: one unit per 4)", lo=4, hi=64),
        SEED, SAMPLES,
    )

    def check(self):
        if self.params["lanes"] % 4:
            raise ValueError(f"lanes={self.params['lanes']} is not a multiple of 4 (4 samples per Wallace unit)")

    def component(self):
        p = self.params
        return hw.grng.WallaceGRNG(pool=p["pool"], lanes=p["lanes"], seed=p["seed"])

    def sample_format(self):
        return WALLACE_FORMAT, 1.0

    def golden(self, raw):
        p = self.params
        return {"z_raw": wallace_grng(p["pool"], p["lanes"], p["seed"], p["samples"])}


@register
class CLTGRNG(GaussianGenerator):
    name = "clt-grng"
    summary = "central-limit baseline: sum of `terms` uniform `bits`-bit LFSR words per lane"
    parameters = (
        Param("terms", 12, "uniforms summed per sample", lo=2, hi=32),
        Param("bits", 8, "bits per uniform", lo=1, hi=16),
        _lanes(4, 64),
        SEED, SAMPLES,
    )

    def check(self):
        most = max(LFSR_TAPS.values())
        new_bits = self.params["terms"] * self.params["bits"]
        if new_bits > most:
            raise ValueError(f"terms*bits={new_bits} out of range [1, {most}] (new LFSR bits per step)")

    def component(self):
        p = self.params
        return hw.grng.CLTGRNG(terms=p["terms"], bits=p["bits"], lanes=p["lanes"], seed=p["seed"])

    def sample_format(self):
        terms, bits = self.params["terms"], self.params["bits"]
        return FixedFormat(bits + terms.bit_length() + 1, 0), clt_scale(terms, bits)

    def golden(self, raw):
        p = self.params
        return {"z_raw": clt_grng(p["terms"], p["bits"], p["lanes"], p["seed"], p["samples"])}
