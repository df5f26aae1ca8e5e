# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""Block-circulant family: the ``fft`` processing element, ``circulant-fc``, the ``pwl`` activations and the
recurrent cells ``circulant-lstm`` / ``circulant-gru`` (``hw/{fft,circulant,pwl,rnn}.py``, same names in
``models/``)."""

import numpy as np

import hw.circulant
import hw.fft
import hw.pwl
import hw.rnn
from models.circulant import circulant_fc_raw, spectrum_words, weight_storage_bits
from models.fft import forward_width, inverse_width, rfft_raw
from models.fixed import FixedFormat
from models.pwl import FUNCTIONS, pwl_raw
from models.pwl import check_format as check_pwl_format
from models.rnn import gate_shape, gru_raw, lstm_raw
from models.train.rnn import STEPS, cell_arrays, digit_sequences, readout, train_admm, train_rnn

from ..api import ArraySpec, Claim, Design, Family
from ..flows.link import stream_through, weights_then_vectors
from ..params import Param
from ..registry import register
from .common import FRAC, WIDTH, check_format, measured, per_second, point, rate, times

# The PWL tables need breakpoints 0.4 apart (frac >= 2) and ±5.5 in range (width - frac >= 4).
PWL_WIDTH = Param("width", 16, "fixed-point word width in bits", lo=6, hi=24)
PWL_FRAC = Param("frac", 10, "fractional bits (2 <= frac <= width - 4: the PWL tables need ±5.5)", lo=2, hi=20)
K_FFT = Param("k", 16, "FFT size (block size of the circulant matrix)", lo=2, hi=64, power_of_two=True)


def _per_dsp_vs_dense(results):
    """circulant-fc against dense-fc of the same n_in × n_out: vectors per second per DSP, each at its Fmax."""
    pair = measured(results, "circulant-fc", "dense-fc")
    if pair is None or pair[0].synth.get("dsp") is None or not pair[1].synth.get("dsp"):
        return None
    circ, dense = pair
    if (circ.params["n_in"], circ.params["n_out"]) != (dense.params["n_in"], dense.params["n_out"]):
        return "not compared", "circulant-fc and dense-fc built at different n_in × n_out"
    figure = times(per_second(circ, "vectors") * dense.synth["dsp"], per_second(dense, "vectors") * circ.synth["dsp"])
    return f"{figure} vectors/s per DSP; {times(rate(circ, 'vectors'), rate(dense, 'vectors'))} vectors/cycle", \
        f"{point(circ)} vs dense-fc parallelism={dense.params['parallelism']}"


def _storage_vs_dense(results):
    """Weight bits the two designs store for the same matrix shape."""
    circ, dense = results.get("circulant-fc"), results.get("dense-fc")
    if circ is None or dense is None:
        return None
    p = circ.params
    dense_bits = dense.params["n_in"] * dense.params["n_out"] * dense.params["width"]
    circ_bits = weight_storage_bits(p["n_in"], p["n_out"], p["k"], p["width"], p["parallelism"])
    return f"{times(dense_bits, circ_bits)} fewer weight bits", point(circ)


CIRCULANT = Family(
    title="CirCNN — block-circulant FFT engines",
    docs="docs/circulant.md",
    claims=(
        Claim("CirCNN: storage O(n²) → O(n), compute O(n²) → O(n log n) per layer", _storage_vs_dense,
              "python benchmarks/circulant.py"),
        Claim("CirCNN: ≥ 31× energy efficiency over the reference FPGA work (same accuracy); here the same "
              "device's dense engine is the reference", _per_dsp_vs_dense,
              "python benchmarks/circulant.py --seeds 3"),
    ),
)


def _steps_per_lut_gru_vs_lstm(results):
    """GRU against LSTM of the same shape: time steps per second per LUT, each at its Fmax."""
    pair = measured(results, "circulant-gru", "circulant-lstm")
    if pair is None:
        return None
    gru, lstm = pair
    figure = times(per_second(gru, "steps") * lstm.synth["lut"], per_second(lstm, "steps") * gru.synth["lut"])
    return f"{figure} time steps/s per LUT (equal shape; accuracy not compared here)", point(gru)


RECURRENT = Family(
    title="C-LSTM and E-RNN — block-circulant recurrent cells",
    docs="docs/circulant.md",
    claims=(
        Claim("E-RNN: the GRU design > 2× the energy efficiency of C-LSTM's LSTM at equal accuracy",
              _steps_per_lut_gru_vs_lstm, "accelgen synth circulant-gru --seeds 3 (and circulant-lstm)"),
    ),
)


@register
class FFT(Design):
    name = "fft"
    summary = "streaming radix-2 FFT PE: k real samples in, bins 0..k/2 of FFT(x)/k out, one sample per cycle"
    family = CIRCULANT
    testbench = "sim.tb_fft"
    parameters = (K_FFT, WIDTH, FRAC)

    def check(self):
        check_format(self.params)

    def component(self):
        return hw.fft.StreamingFFT(k=self.params["k"], width=inverse_width(self.params["width"], self.params["k"]))

    def inputs(self):
        return {"x": ArraySpec((None, self.params["k"]), self.fmt)}

    def outputs(self):
        spectrum = ArraySpec((None, self.params["k"] // 2 + 1),
                             FixedFormat(forward_width(self.params["width"]), self.params["frac"]))
        return {"X_re": spectrum, "X_im": spectrum}

    def golden(self, raw):
        re, im = rfft_raw(raw["x_raw"], self.params["width"])
        return {"X_re_raw": re, "X_im_raw": im}


@register
class CirculantFC(Design):
    name = "circulant-fc"
    summary = "block-circulant y = W x via FFT -> frequency-domain complex MAC -> IFFT (CirCNN), stages overlapped"
    family = CIRCULANT
    testbench = "sim.tb_circulant"
    parameters = (
        Param("n_in", 64, "input vector length (multiple of k)", lo=2, hi=4096),
        Param("n_out", 64, "output vector length (multiple of k)", lo=2, hi=4096),
        K_FFT, WIDTH, FRAC,
        Param("parallelism", 3, "complex MAC lanes, 3 multipliers each (<= k/2+1)", lo=1, hi=33),
    )

    def check(self):
        check_format(self.params)

    def component(self):
        return hw.circulant.CirculantFC(**self.params)

    def inputs(self):
        p = self.params
        return {"w": ArraySpec((p["n_out"] // p["k"], p["n_in"] // p["k"], p["k"]), self.fmt),
                "x": ArraySpec((None, p["n_in"]), self.fmt)}

    def outputs(self):
        return {"y": ArraySpec((None, self.params["n_out"]), self.fmt)}

    def golden(self, raw):
        return {"y_raw": circulant_fc_raw(raw["w_raw"], raw["x_raw"], self.fmt)}

    def stream_plan(self, raw):
        return weights_then_vectors(spectrum_words(raw["w_raw"], self.params), raw["x_raw"], self.params["n_out"])


@register
class PWL(Design):
    name = "pwl"
    summary = "C-LSTM piecewise-linear sigmoid/tanh (22 segments), one sample per cycle"
    family = CIRCULANT
    testbench = "sim.tb_pwl"
    parameters = (Param("function", "sigmoid", "activation", choices=("sigmoid", "tanh")), PWL_WIDTH, PWL_FRAC)

    def check(self):
        check_format(self.params)
        check_pwl_format(self.fmt)

    def component(self):
        return hw.pwl.PWLActivation(FUNCTIONS[self.params["function"]], width=self.params["width"], frac=self.params["frac"])

    def inputs(self):
        return {"x": ArraySpec((None,), self.fmt)}

    def outputs(self):
        return {"y": ArraySpec((None,), self.fmt)}

    def golden(self, raw):
        return {"y_raw": pwl_raw(FUNCTIONS[self.params["function"]], raw["x_raw"], self.fmt)}

    def stream_plan(self, raw):
        return stream_through([("x_in", raw["x_raw"])], raw["x_raw"].size, lambda words: {"y_raw": words})


class CirculantRNN(Design):
    """A recurrent cell on the circulant engine; subclasses name the ``cell`` and its model."""

    cell: str
    family = RECURRENT
    testbench = "sim.tb_rnn"
    sim_batch = 8
    parameters = (
        Param("n_in", 16, "input size per time step (multiple of k)", lo=2, hi=1024),
        Param("hidden", 16, "hidden size H (multiple of k)", lo=2, hi=1024),
        Param("k", 8, "block size of the circulant gate matrix", lo=2, hi=64, power_of_two=True),
        PWL_WIDTH, PWL_FRAC,
        Param("parallelism", 2, "complex MAC lanes of the circulant engine (<= k/2+1)", lo=1, hi=33),
        Param("sequence", 0, "time steps per sequence: h and c return to zero after every `sequence` steps "
              "(0: the run is one sequence)", lo=0, hi=65535),
    )

    def check(self):
        check_format(self.params)
        check_pwl_format(self.fmt)
        for name in ("n_in", "hidden"):  # named here: the engine only sees n_in + hidden
            if self.params[name] % self.params["k"]:
                raise ValueError(f"{name}={self.params[name]} is not a multiple of k={self.params['k']}")

    def component(self):
        return hw.rnn.CirculantRNN(cell=self.cell, **self.params)

    def inputs(self):
        p = self.params
        return {"w": ArraySpec(gate_shape(p["n_in"], p["hidden"], p["k"]), self.fmt),
                "b": ArraySpec((4 * p["hidden"],), self.fmt),
                "x": ArraySpec((None, p["n_in"]), self.fmt)}

    def outputs(self):
        return {"h": ArraySpec((None, self.params["hidden"]), self.fmt)}

    tasks = ("digits",)

    def train_accuracy(self, task):
        """``digits``: digits read as 8 steps of 8 pixels (padded to ``n_in``), H = ``hidden``, trained dense
        then by ADMM at this ``k`` (``models/train/rnn.py``); the weights saturate to ``Q(width, frac)``; the
        test split runs through the bit-exact cell (a sequence of 8 steps each) and a float readout."""
        p = self.params
        if p["n_in"] < STEPS:
            raise ValueError(f"n_in={p['n_in']} out of range [{STEPS}, 1024] for task digits (8 pixels per step)")
        data = digit_sequences(n_in=p["n_in"])
        model = train_admm(train_rnn(self.cell, data, p["hidden"]), data, p["k"])
        arrays = cell_arrays(model, p["k"], data.x_test)
        fmt = self.fmt
        arrays.update({name: np.clip(arrays[name], fmt.min_value, fmt.max_value) for name in ("w", "b")})
        cell = type(self)(**{**p, "sequence": STEPS})
        return float((readout(model, cell.model(arrays)["h"]) == data.y_test).mean())

    def golden(self, raw):
        """Each sequence from a zero state: ``sequence`` steps each (the last one may be shorter), or the
        whole ``x``."""
        model = {"lstm": lstm_raw, "gru": gru_raw}[self.cell]
        x_raw, sequence = raw["x_raw"], self.params["sequence"]
        sequences = np.split(x_raw, range(sequence, len(x_raw), sequence)) if sequence else [x_raw]
        return {"h_raw": np.concatenate([model(raw["w_raw"], raw["b_raw"], x, self.fmt) for x in sequences])}

    def stream_plan(self, raw):
        steps, hidden = len(raw["x_raw"]), self.params["hidden"]
        sends = [("w_in", spectrum_words(raw["w_raw"], self.params)), ("b_in", raw["b_raw"]), ("x_in", raw["x_raw"])]
        return stream_through(sends, steps * hidden, lambda words: {"h_raw": words.reshape(steps, hidden)})


@register
class CirculantLSTM(CirculantRNN):
    name = "circulant-lstm"
    summary = "LSTM cell (C-LSTM/E-RNN): block-circulant gates i,f,g,o; PWL sigmoid/tanh; fixed-point state"
    cell = "lstm"


@register
class CirculantGRU(CirculantRNN):
    name = "circulant-gru"
    summary = "GRU cell (E-RNN): block-circulant gate rows r,z,n_x,n_h; PWL sigmoid/tanh"
    cell = "gru"
