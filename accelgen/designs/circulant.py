"""Block-circulant family: the ``fft`` processing element and ``circulant-fc``."""

from hw.fft import FFTUnit
from models.fft import forward_width, inverse_width
from models.fixed import FixedFormat

from ..params import Param
from ..registry import ArraySpec, Design, register
from .common import FRAC, WIDTH, check_format

K_FFT = Param("k", 16, "FFT size (block size of the circulant matrix)", lo=2, hi=64, power_of_two=True)


def _fmt(params):
    return FixedFormat(params["width"], params["frac"])


def _spectrum_fmt(params):
    return FixedFormat(forward_width(params["width"]), params["frac"])


register(Design(
    name="fft",
    summary="radix-2 FFT PE: k real samples in, bins 0..k/2 of FFT(x)/k out (one shared butterfly)",
    params=(K_FFT, WIDTH, FRAC),
    component=lambda p: FFTUnit(k=p["k"], width=inverse_width(p["width"], p["k"])),
    check=check_format,
    test_module="sim.test_fft",
    inputs=lambda p: {"x": ArraySpec((None, p["k"]), _fmt(p))},
    outputs=lambda p: {"X_re": ArraySpec((None, p["k"] // 2 + 1), _spectrum_fmt(p)),
                       "X_im": ArraySpec((None, p["k"] // 2 + 1), _spectrum_fmt(p))},
    counters=("cycles", "transforms"),
    docs="docs/circulant.md",
))
