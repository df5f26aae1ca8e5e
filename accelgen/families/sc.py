# amaranth: UnusedElaboratable=no
# (Design.__init__ builds each component once to check its parameters; that one is never elaborated.)
"""``sc-layer``, ``sc-net`` and ``sc-cnn``: stochastic-computing layers and networks (SC-AQFP; ``hw/sc.py``,
``models/sc.py``)."""

import hashlib
from functools import cached_property
from pathlib import Path

import numpy as np

import hw.sc
from models.fixed import FixedFormat
from models.conv import output_size
from models.sc import (ADDERS, bits_from_words, check_order, layer_outputs, natural_order, net_weight_words, sc_cnn,
                       sc_layer, sc_net, weight_words)

from ..api import ArraySpec, Claim, Design, Family
from ..flows.link import stream_through
from ..params import Param, sizes_of
from ..registry import register

SC_AQFP = Family(
    title="SC-AQFP — stochastic computing on superconducting logic",
    docs="docs/aqfp.md",
    claims=(
        Claim("SC-AQFP: SC blocks on AQFP (deep pipelining, one-buffer true RNG) far more energy-efficient than "
              "CMOS", lambda results: None, "python benchmarks/aqfp.py"),
    ),
)


class SCDesign(Design):
    """What the SC designs share: their family, their testbench and their input format."""
    family = SC_AQFP
    testbench = "sim.tb_sc"

    def value_format(self) -> FixedFormat:
        """``bits``-bit signed inputs in [-1, 1): raw / 2**(bits-1)."""
        return FixedFormat(self.params["bits"], self.params["bits"] - 1)

    @property
    def n_outputs(self) -> int:
        """Neurons of the last layer: bits of each ``y_out`` word."""
        raise NotImplementedError

    def weight_stream(self, raw) -> np.ndarray:
        """The ``w_in`` words for ``raw``'s weight arrays."""
        raise NotImplementedError

    def outputs(self):
        """The last layer's ``y_raw = 2·ones - length`` per neuron and vector; ``y = y_raw / length`` in
        [-1, 1]."""
        length = self.params["length"]
        return {"y": ArraySpec((None, self.n_outputs), FixedFormat(length.bit_length() + 1, 0), scale=1 / length)}

    def stream_plan(self, raw):
        """``w_in``: :meth:`weight_stream`; ``x_in``: each vector's words, flattened; per vector ``length``
        words of the last layer's stream bits come back."""
        batch, length = len(raw["x_raw"]), self.params["length"]

        def unpack(words):
            return layer_outputs(bits_from_words(words, batch, length, self.n_outputs))
        sends = [("w_in", self.weight_stream(raw)), ("x_in", raw["x_raw"].reshape(batch, -1))]
        return stream_through(sends, batch * length, unpack)


@register
class SCLayer(SCDesign):
    name = "sc-layer"
    summary = ("stochastic-computing FC layer (SC-AQFP): SNGs, XNOR products, sorter-with-feedback or "
               "majority-chain adder")
    parameters = (
        Param("n_in", 8, "inputs per neuron", lo=1, hi=256),
        Param("n_out", 4, "neurons", lo=1, hi=64),
        Param("length", 64, "stream length L: cycles (output bits) per input vector", lo=4, hi=65536,
              power_of_two=True),
        Param("bits", 8, "SNG precision: x, w, b are signed bits-bit values in [-1, 1)", lo=2, hi=16),
        Param("adder", "sorter", "neuron adder: sorter (bitonic, with feedback), counter (same function, "
              "popcount) or majority chain", choices=ADDERS),
        Param("seed", 1, "seed of the random LFSR columns (never all zero)", lo=1, hi=2**31 - 1),
        Param("order", "natural", "each neuron's adder inputs from first to last: natural (products, bias, "
              "padding) or a .npy file of n_out permutations (docs/aqfp.md; the majority chain's later inputs "
              "weigh more)", path=True, choices=("natural",)),
    )

    @cached_property
    def order(self) -> np.ndarray:
        """The adder input order, n_out × ``models.sc.neuron_inputs(n_in)`` (``ValueError`` for a bad file)."""
        p = self.params
        if p["order"] == "natural":
            return natural_order(p["n_in"], p["n_out"])
        try:
            order = np.load(p["order"], allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"order={p['order']} is not a .npy array ({error})") from None
        return check_order(order, p["n_in"], p["n_out"])

    def files(self):
        if self.params["order"] == "natural":
            return {}
        return {"order": hashlib.sha256(Path(self.params["order"]).read_bytes()).hexdigest()}

    def component(self):
        return hw.sc.SCLayer(**{**self.params, "order": self.order})

    def inputs(self):
        p, fmt = self.params, self.value_format()
        return {"w": ArraySpec((p["n_out"], p["n_in"]), fmt), "b": ArraySpec((p["n_out"],), fmt),
                "x": ArraySpec((None, p["n_in"]), fmt)}

    @property
    def n_outputs(self) -> int:
        return self.params["n_out"]

    def golden(self, raw):
        """Every output stream bit (``y_bits_raw``, batch × length × n_out) and the counts ``y_raw``."""
        p = self.params
        bits = sc_layer(raw["w_raw"], raw["b_raw"], raw["x_raw"], bits=p["bits"], length=p["length"],
                        seed=p["seed"], adder=p["adder"], order=self.order).astype(np.int64)
        return layer_outputs(bits)

    def weight_stream(self, raw):
        """The weights row by row, then the biases."""
        return weight_words(raw["w_raw"], raw["b_raw"])


@register
class SCNet(SCDesign):
    name = "sc-net"
    summary = "stochastic-computing MLP (SC-AQFP): SC layers in a chain, each on the previous layer's streams"
    tasks = ("digits",)
    parameters = (
        Param("layers", "8-4-2", "sizes: inputs, then each layer's neurons (e.g. 64-32-10)", lo=1, hi=256,
              sizes=True),
        Param("length", 64, "stream length L: cycles (output bits) per input vector", lo=4, hi=65536,
              power_of_two=True),
        Param("bits", 8, "SNG precision: x, w, b are signed bits-bit values in [-1, 1)", lo=2, hi=16),
        Param("adder", "sorter", "every neuron's adder: sorter (hard-tanh of the sum), counter (the same, "
              "popcount) or majority chain", choices=ADDERS),
        Param("seed", 1, "seed of the first layer's random LFSR columns (layer k: seed + k)", lo=1,
              hi=2**31 - 1),
    )

    @property
    def sizes(self) -> list[int]:
        return sizes_of(self.params["layers"])

    def component(self):
        p = self.params
        stages = hw.sc.mlp_stages(sizes=self.sizes, length=p["length"], bits=p["bits"], seed=p["seed"],
                                  adder=p["adder"])
        return hw.sc.SCNet(stages, bits=p["bits"], outputs=self.sizes[-1])

    def inputs(self):
        fmt, sizes = self.value_format(), self.sizes
        arrays = {}
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
            arrays[f"w{k}"] = ArraySpec((n_out, n_in), fmt)
            arrays[f"b{k}"] = ArraySpec((n_out,), fmt)
        return {**arrays, "x": ArraySpec((None, sizes[0]), fmt)}

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    def raw_layers(self, raw) -> list[tuple]:
        return [(raw[f"w{k}_raw"], raw[f"b{k}_raw"]) for k in range(1, len(self.sizes))]

    def golden(self, raw):
        """The last layer's stream bits (``y_bits_raw``, batch × length × n_out) and counts ``y_raw``."""
        p = self.params
        streams = sc_net(self.raw_layers(raw), raw["x_raw"], bits=p["bits"], length=p["length"], seed=p["seed"],
                         adder=p["adder"])
        return layer_outputs(streams[-1].astype(np.int64))

    def weight_stream(self, raw):
        """Every layer's weights row by row, then its biases."""
        return net_weight_words(self.raw_layers(raw))

    def train_accuracy(self, task):
        """``digits``: a hard-tanh MLP of these sizes trained in float (``models.train.sc.train_sc_net``; the
        layers must start at 64 inputs and end at 10 classes), its weights at ``bits`` bits, the test split
        through the bit-exact SC model: argmax of the last layer's ones."""
        from models.train.sc import sc_net_accuracy, train_sc_net
        sizes, p = self.sizes, self.params
        if sizes[0] != 64 or sizes[-1] != 10:
            raise ValueError(f"layers={p['layers']} not allowed for task digits; allowed: 64-…-10")
        model = train_sc_net(tuple(sizes))
        return sc_net_accuracy(model, bits=p["bits"], length=p["length"], adder=p["adder"], seed=p["seed"])


@register
class SCCNN(SCDesign):
    name = "sc-cnn"
    summary = ("stochastic-computing CNN (SC-AQFP): SC convolution, 2×2 average pooling, fully connected "
               "layer, all on streams")
    tasks = ("digits",)
    parameters = (
        Param("size", 6, "input image side", lo=3, hi=32),
        Param("c_in", 1, "input channels", lo=1, hi=8),
        Param("channels", 2, "convolution output channels", lo=1, hi=32),
        Param("kernel", 3, "convolution kernel side (size − kernel + 1 must be even: 2×2 pooling)", lo=1, hi=7),
        Param("classes", 3, "neurons of the fully connected layer", lo=1, hi=64),
        Param("length", 64, "stream length L: cycles (output bits) per image", lo=4, hi=65536, power_of_two=True),
        Param("bits", 8, "SNG precision: x, w, b are signed bits-bit values in [-1, 1)", lo=2, hi=16),
        Param("adder", "sorter", "every neuron's adder: sorter, counter or majority", choices=ADDERS),
        Param("seed", 1, "seed of the convolution's random columns (pooling: seed + 1, FC: seed + 2)", lo=1,
              hi=2**31 - 1),
    )

    @property
    def pooled(self) -> int:
        """Side of the pooled feature maps."""
        return output_size(self.params["size"], self.params["kernel"]) // 2

    def check(self):
        p = self.params
        out = p["size"] - p["kernel"] + 1
        if out < 2 or out % 2:
            raise ValueError(f"size={p['size']}, kernel={p['kernel']}: the convolution's output side {out} must be "
                             "even and at least 2 (2×2 pooling)")

    def component(self):
        p = self.params
        stages = hw.sc.cnn_stages(c_in=p["c_in"], size=p["size"], channels=p["channels"], kernel=p["kernel"],
                                  classes=p["classes"], length=p["length"], bits=p["bits"], seed=p["seed"],
                                  adder=p["adder"])
        return hw.sc.SCNet(stages, bits=p["bits"], outputs=p["classes"])

    def inputs(self):
        p, fmt = self.params, self.value_format()
        return {"w1": ArraySpec((p["channels"], p["c_in"], p["kernel"], p["kernel"]), fmt),
                "b1": ArraySpec((p["channels"],), fmt),
                "w2": ArraySpec((p["classes"], p["channels"] * self.pooled ** 2), fmt),
                "b2": ArraySpec((p["classes"],), fmt),
                "x": ArraySpec((None, p["c_in"], p["size"], p["size"]), fmt)}

    @property
    def n_outputs(self) -> int:
        return self.params["classes"]

    def golden(self, raw):
        """The FC layer's stream bits (``y_bits_raw``, batch × length × classes) and counts ``y_raw``."""
        p = self.params
        streams = sc_cnn((raw["w1_raw"], raw["b1_raw"]), (raw["w2_raw"], raw["b2_raw"]), raw["x_raw"],
                         bits=p["bits"], length=p["length"], seed=p["seed"], adder=p["adder"])
        return layer_outputs(streams[-1].astype(np.int64))

    def weight_stream(self, raw):
        """The kernels (``dense_matrix`` rows) and biases, then the FC weights and biases."""
        return net_weight_words([(raw["w1_raw"], raw["b1_raw"]), (raw["w2_raw"], raw["b2_raw"])])

    def train_accuracy(self, task):
        """``digits``: the 8×8 images, one channel, 10 classes; a hard-tanh CNN of this shape trained in float
        (``models.train.sc.train_sc_cnn``), weights at ``bits`` bits, the test split through the bit-exact
        SC model: argmax of the FC layer's ones."""
        from models.train.sc import sc_cnn_accuracy, train_sc_cnn
        p = self.params
        if (p["size"], p["c_in"], p["classes"]) != (8, 1, 10):
            raise ValueError(f"size={p['size']}, c_in={p['c_in']}, classes={p['classes']} not allowed for task "
                             "digits; allowed: size=8, c_in=1, classes=10")
        model = train_sc_cnn(channels=p["channels"], kernel=p["kernel"])
        return sc_cnn_accuracy(model, bits=p["bits"], length=p["length"], adder=p["adder"], seed=p["seed"])
