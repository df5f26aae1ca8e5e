"""Block-circulant family: the ``fft`` processing element, ``circulant-fc`` and the ``pwl`` activations."""

from hw.circulant import CirculantFC
from hw.fft import StreamingFFT
from hw.pwl import PWLActivation
from hw.rnn import CirculantRNN
from models.fft import forward_width, inverse_width
from models.circulant import weight_storage_bits
from models.fixed import FixedFormat
from models.pwl import FUNCTIONS
from models.pwl import check_format as check_pwl_format
from models.rnn import gate_shape

from ..params import Param
from ..registry import ArraySpec, Design, register
from .common import FRAC, WIDTH, check_blocks, check_format, fixed_format, measured, rate, times

K_FFT = Param("k", 16, "FFT size (block size of the circulant matrix)", lo=2, hi=64, power_of_two=True)


def _spectrumfixed_format(params):
    return FixedFormat(forward_width(params["width"]), params["frac"])


def _check_pwl(params):
    check_format(params)
    check_pwl_format(fixed_format(params))


register(Design(
    name="fft",
    summary="streaming radix-2 FFT PE: k real samples in, bins 0..k/2 of FFT(x)/k out, one sample per cycle",
    params=(K_FFT, WIDTH, FRAC),
    component=lambda p: StreamingFFT(k=p["k"], width=inverse_width(p["width"], p["k"])),
    check=check_format,
    test_module="sim.test_fft",
    inputs=lambda p: {"x": ArraySpec((None, p["k"]), fixed_format(p))},
    outputs=lambda p: {"X_re": ArraySpec((None, p["k"] // 2 + 1), _spectrumfixed_format(p)),
                       "X_im": ArraySpec((None, p["k"] // 2 + 1), _spectrumfixed_format(p))},
    counters=("cycles", "transforms"),
    docs="docs/circulant.md",
))


def _headline_vs_dense(results):
    """circulant-fc against dense-fc of the same n_in × n_out: vectors per cycle over the simulated batch
    (first ``x`` word to last ``y`` word, so circulant-fc's pipeline fill counts), per DSP, per LUT;
    weight bits."""
    pair = measured(results, "circulant-fc", "dense-fc")
    if pair is None:
        return []
    circ, dense = pair
    if (circ.params["n_in"], circ.params["n_out"]) != (dense.params["n_in"], dense.params["n_out"]):
        return [("circulant-fc ÷ dense-fc", "not compared: their n_in × n_out differ")]
    circ_rate, dense_rate = (rate(r, "vectors") for r in pair)
    circ_speed, dense_speed = circ_rate * circ.synth["fmax_mhz"], dense_rate * dense.synth["fmax_mhz"]  # per µs
    p = circ.params
    dense_bits = p["n_in"] * p["n_out"] * dense.params["width"]
    circ_bits = weight_storage_bits(p["n_in"], p["n_out"], p["k"], p["width"], p["parallelism"])
    return [
        ("vectors per cycle, circulant-fc ÷ dense-fc", times(circ_rate, dense_rate)),
        ("vectors per cycle per DSP", times(circ_rate * dense.synth["dsp"], dense_rate * circ.synth["dsp"])
         if circ.synth["dsp"] and dense.synth["dsp"] else "n/a (one of them uses no DSP)"),
        ("vectors per second per LUT (each at its Fmax)", times(circ_speed * dense.synth["lut"],
                                                               dense_speed * circ.synth["lut"])),
        ("weight storage bits, dense-fc ÷ circulant-fc", times(dense_bits, circ_bits)),
    ]


def _check_circulant(params):
    check_format(params)
    check_blocks(params, ("n_in", "n_out"))


register(Design(
    name="circulant-fc",
    summary="block-circulant y = W x via FFT -> frequency-domain complex MAC -> IFFT (CirCNN), stages overlapped",
    params=(
        Param("n_in", 64, "input vector length (multiple of k)", lo=2, hi=4096),
        Param("n_out", 64, "output vector length (multiple of k)", lo=2, hi=4096),
        K_FFT, WIDTH, FRAC,
        Param("parallelism", 3, "complex MAC lanes, 3 multipliers each (<= k/2+1)", lo=1, hi=33),
    ),
    component=lambda p: CirculantFC(**p),
    check=_check_circulant,
    test_module="sim.test_circulant",
    inputs=lambda p: {"w": ArraySpec((p["n_out"] // p["k"], p["n_in"] // p["k"], p["k"]), fixed_format(p)),
                      "x": ArraySpec((None, p["n_in"]), fixed_format(p))},
    outputs=lambda p: {"y": ArraySpec((None, p["n_out"]), fixed_format(p))},
    counters=("cycles", "load_cycles", "vectors"),
    docs="docs/circulant.md",
    headline=_headline_vs_dense,
))


register(Design(
    name="pwl",
    summary="C-LSTM piecewise-linear sigmoid/tanh (22 segments), one sample per cycle",
    params=(
        Param("function", "sigmoid", "activation", choices=("sigmoid", "tanh")),
        WIDTH, FRAC,
    ),
    component=lambda p: PWLActivation(FUNCTIONS[p["function"]], width=p["width"], frac=p["frac"]),
    check=_check_pwl,
    test_module="sim.test_pwl",
    inputs=lambda p: {"x": ArraySpec((None,), fixed_format(p))},
    outputs=lambda p: {"y": ArraySpec((None,), fixed_format(p))},
    counters=("cycles", "samples"),
    docs="docs/circulant.md",
))


def _check_rnn(params):
    _check_pwl(params)
    check_blocks(params, ("n_in", "hidden"))


RNN_PARAMS = (
    Param("n_in", 16, "input size per time step (multiple of k)", lo=2, hi=1024),
    Param("hidden", 16, "hidden size H (multiple of k)", lo=2, hi=1024),
    Param("k", 8, "block size of the circulant gate matrix", lo=2, hi=64, power_of_two=True),
    WIDTH, FRAC,
    Param("parallelism", 2, "complex MAC lanes of the circulant engine (<= k/2+1)", lo=1, hi=33),
)


def _register_rnn(cell: str, summary: str):
    register(Design(
        name=f"circulant-{cell}",
        summary=summary,
        params=RNN_PARAMS,
        component=lambda p: CirculantRNN(cell=cell, **p),
        check=_check_rnn,
        test_module="sim.test_rnn",
        inputs=lambda p: {"w": ArraySpec(gate_shape(p["n_in"], p["hidden"], p["k"]), fixed_format(p)),
                          "b": ArraySpec((4 * p["hidden"],), fixed_format(p)),
                          "x": ArraySpec((None, p["n_in"]), fixed_format(p))},
        outputs=lambda p: {"h": ArraySpec((None, p["hidden"]), fixed_format(p))},
        counters=("cycles", "steps"),
        sim_batch=8,
        docs="docs/circulant.md",
    ))


_register_rnn("lstm", "LSTM cell (C-LSTM/E-RNN): block-circulant gates i,f,g,o; PWL sigmoid/tanh; fixed-point state")
_register_rnn("gru", "GRU cell (E-RNN): block-circulant gate rows r,z,n_x,n_h; PWL sigmoid/tanh")
