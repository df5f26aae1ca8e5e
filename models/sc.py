"""Stochastic-computing blocks of SC-AQFP, bit-exact with ``hw/sc.py``.

Bipolar encoding: a stream whose bits are 1 with probability ``p`` carries
the value ``2p - 1`` in [-1, 1]. A ``bits``-bit signed integer ``raw`` (value
``raw / 2**(bits-1)``) becomes the stream ``word < raw + 2**(bits-1)`` for a
uniform random ``bits``-bit ``word`` each cycle (the comparator SNG).

On AQFP one buffer is a true random bit; in the RTL the words come from
leap-forward LFSRs (``models.grng.lfsr_words``, one ``RANDOM_LFSR``-bit LFSR
per random column), so the model reproduces the RTL bit for bit.

Blocks:

* :func:`sng` — comparator stream generator; :func:`xnor` — bipolar multiply.
* :func:`majority_chain` — FC neuron adder: ``MAJ(...MAJ(MAJ(p0, p1, p2), p3, p4)...)``
  over an odd number of product streams. It is the carry chain of a binary adder, so each cycle the
  last pair of agreeing bits decides the output: later inputs weigh more (the input ``order`` of
  each neuron is a wiring choice, :func:`check_order`).
* :func:`sorter_activate` — CONV accumulate-and-activate: each cycle the ``n``
  product bits and ``F`` feedback bits are sorted; the output is the bit at
  the middle rank and ``F`` bits of the sorted vector, starting where the
  output bit was taken off, are fed back. The feedback holds the running
  residual ``A = 2·ones - F`` in [-F, F], so the output stream's value
  approaches ``clip(Σ products, -1, 1)`` — a hard-tanh of the dot product.
* :func:`average_pool` (random select among 2**k streams) and
  :func:`max_pool` (pass the stream with the most ones in the previous segment).

:func:`sc_layer` is the ``sc-layer`` design: a fully connected layer whose
neurons use one of the adders. :func:`sc_net` is the ``sc-net`` design: that
layer, then :func:`sc_stream_layer` layers that take the previous layer's
output streams as their inputs (no SNG between layers).
"""

import numpy as np

from .conv import dense_matrix, output_size, windows
from .lfsr import lfsr_words

__all__ = [
    "layer_outputs", "bits_from_words", "weight_words",
    "RANDOM_LFSR", "ADDERS", "level", "sng", "xnor", "majority_chain", "majority_chain_value",
    "sorter_size", "feedback_bits", "sorter_activate", "average_pool", "max_pool",
    "random_columns", "neuron_inputs", "sc_layer", "bipolar_value", "sc_layer_exact", "random_sorter_streams",
    "natural_order", "check_order", "sc_stream_layer", "sc_net", "layer_seed", "net_weight_words",
    "conv_taps", "sc_conv_layer", "sc_pool", "sc_cnn",
]

RANDOM_LFSR = 31  #: length of each random column's LFSR (tap distance 28: up to 28 new bits per cycle)
#: Neuron adders. ``counter`` computes exactly the sorter's function with a popcount and a saturating
#: residual counter — the CMOS-friendly circuit (a bitonic sorter suits AQFP, where AND/OR are native).
ADDERS = ("sorter", "counter", "majority")


def level(raw, bits: int):
    """Offset-binary threshold of a signed ``bits``-bit value: P(1) = level / 2**bits."""
    return np.asarray(raw, dtype=np.int64) + (1 << (bits - 1))


def sng(raw, words, bits: int) -> np.ndarray:
    """Stream bits ``words < level(raw)`` (broadcasting)."""
    return (np.asarray(words) < level(raw, bits)).astype(np.uint8)


def xnor(a, b) -> np.ndarray:
    """Bipolar product of two independent streams."""
    return (1 - (np.asarray(a) ^ np.asarray(b))).astype(np.uint8)


def majority_chain(products: np.ndarray) -> np.ndarray:
    """``(..., n)`` bits, ``n`` odd → ``(...)``: majority of the first three, then of (that, next two), …"""
    n = products.shape[-1]
    assert n % 2 == 1, f"a majority chain needs an odd number of inputs, not {n}"
    out = products[..., 0]
    for i in range(1, n, 2):
        a, b = products[..., i], products[..., i + 1]
        out = (out & a) | (out & b) | (a & b)
    return out.astype(np.uint8)


def majority_chain_value(values) -> float:
    """Exact bipolar value of :func:`majority_chain` on independent streams of bipolar ``values``."""
    p = (np.asarray(values, dtype=np.float64) + 1) / 2
    out = p[0]
    for i in range(1, len(p), 2):
        a, b = p[i], p[i + 1]
        out = out * a + out * b + a * b - 2 * out * a * b
    return 2 * out - 1


def sorter_size(n: int) -> int:
    """Inputs of the sorter for ``n`` products: the smallest power of two leaving ``F >= n + 1`` feedback
    bits, so the residual can absorb a whole cycle of products before it saturates (a smaller ``F``
    clips the fluctuations and biases the output: ``tests/test_sc.py``)."""
    size = 1
    while size - n < n + 1:
        size *= 2
    return size


def feedback_bits(n: int) -> int:
    """``F``: the sorter's inputs beyond the ``n`` products."""
    return sorter_size(n) - n


def sorter_activate(products: np.ndarray) -> np.ndarray:
    """``(cycles, n)`` product bits of one vector, ``n`` odd → ``(cycles,)`` output bits.

    With ``c`` ones among the ``n + F`` sorted bits (descending), the bipolar
    total is ``T = 2c - n - F`` (products plus residual). The output is
    ``o = [T > 0]``, the sorted bit at index ``(n + F) // 2``; the new residual
    ``T - (2o - 1)`` is fed back as ``clamp(c - o - (n-1)/2, 0, F)`` ones — the
    ``F`` sorted bits from index ``(n-1)/2 + o`` (saturating at ±F). Each
    vector starts from ``F // 2`` feedback ones (residual 0, or -1 for odd F).
    """
    cycles, n = products.shape
    assert n % 2 == 1, f"the sorter adds an odd number of products, not {n}"
    f = feedback_bits(n)
    ones = f // 2
    out = np.zeros(cycles, dtype=np.uint8)
    counts = products.sum(axis=1, dtype=np.int64)
    for t in range(cycles):
        c = counts[t] + ones
        o = int(c > (n + f) // 2)
        out[t] = o
        ones = min(max(c - o - (n - 1) // 2, 0), f)
    return out


def random_sorter_streams(n_in: int, bits: int, streams: int, steps: int, seed: int) -> list[dict]:
    """``streams`` independent neuron streams (random raw ``x``, ``w``, ``b`` and per-step random words,
    ``steps × random_columns(n_in)``) with the sorter's output bits for each (:func:`sorter_activate`):
    the reference for running one neuron's netlist on many streams at once."""
    rng = np.random.default_rng(seed)
    half = 1 << (bits - 1)
    out = []
    for _ in range(streams):
        x, w = rng.integers(-half, half, n_in), rng.integers(-half, half, n_in)
        b = int(rng.integers(-half, half))
        words = rng.integers(0, 1 << bits, (steps, random_columns(n_in)))
        products = [xnor(sng(x, words[:, :n_in], bits), sng(w, words[:, n_in:2 * n_in], bits)),
                    sng(b, words[:, 2 * n_in:], bits)]
        if neuron_inputs(n_in) > n_in + 1:
            products.append((np.arange(steps) % 2)[:, None].astype(np.uint8))
        out.append({"x": x, "w": w, "b": b, "words": words,
                    "out": [int(bit) for bit in sorter_activate(np.concatenate(products, axis=1))]})
    return out


def average_pool(streams: np.ndarray, select: np.ndarray) -> np.ndarray:
    """``(cycles, 2**k)`` streams, ``select`` (cycles,) random k-bit words → the selected bit each cycle."""
    return streams[np.arange(len(streams)), select].astype(np.uint8)


def max_pool(streams: np.ndarray, segment: int) -> np.ndarray:
    """``(cycles, k)`` streams → the bit of the stream with the most ones in the previous ``segment``
    cycles (the lowest index on a tie; stream 0 during the first segment)."""
    out = np.empty(len(streams), dtype=np.uint8)
    chosen = 0
    for start in range(0, len(streams), segment):
        block = streams[start:start + segment]
        out[start:start + segment] = block[:, chosen]
        chosen = int(np.argmax(block.sum(axis=0)))
    return out


def neuron_inputs(n_in: int) -> int:
    """Streams into each neuron's adder: ``n_in`` products, the bias, and one zero-valued alternating
    stream when that count would be even (both adders need an odd count)."""
    return n_in + 1 + n_in % 2


def random_columns(n_in: int) -> int:
    """Random words per cycle: one per input's x stream, one per input's weight streams (shared by the
    neurons), one for the biases."""
    return 2 * n_in + 1


def natural_order(n_in: int, n_out: int) -> np.ndarray:
    """Every neuron's adder inputs in their natural order: the products of x_0 … x_(n_in−1), the bias, the
    padding stream (:func:`neuron_inputs`)."""
    return np.tile(np.arange(neuron_inputs(n_in)), (n_out, 1))


def check_order(order, n_in: int, n_out: int) -> np.ndarray:
    """``order`` as an ``n_out × neuron_inputs(n_in)`` integer array whose row ``j`` lists, from the chain's
    first input to its last, which of neuron ``j``'s adder inputs (index ``i < n_in``: the product with
    x_i; ``n_in``: the bias; ``n_in + 1``: the padding stream) enters there. ``ValueError`` unless every
    row is a permutation."""
    order = np.asarray(order)
    expected = (n_out, neuron_inputs(n_in))
    if order.shape != expected or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(f"order has shape {order.shape} ({order.dtype}); allowed: integers of shape {expected}")
    for j, row in enumerate(order):
        if sorted(row.tolist()) != list(range(expected[1])):
            raise ValueError(f"order row {j} is not a permutation of 0 … {expected[1] - 1}")
    return order.astype(np.int64)


def sc_layer(w_raw, b_raw, x_raw, *, bits: int, length: int, seed: int, adder: str, order=None) -> np.ndarray:
    """``batch × length × n_out`` output bits of the layer for ``x_raw`` (batch × n_in).

    Cycle ``t`` of the whole run (vectors back to back, ``length`` cycles
    each) uses random words ``lfsr_words(RANDOM_LFSR, 2·n_in + 1, seed, …)[t]``:
    column ``i`` drives x_i's SNG, column ``n_in + i`` the SNGs of column ``i``
    of ``w``, column ``2·n_in`` those of ``b``. Each neuron's adder takes its
    inputs in ``order`` (:func:`check_order`; default :func:`natural_order`):
    only the majority chain's result depends on it.
    """
    w_raw, b_raw, x_raw = (np.asarray(a, dtype=np.int64) for a in (w_raw, b_raw, x_raw))
    n_out, n_in = w_raw.shape
    batch = len(x_raw)
    words = lfsr_words(RANDOM_LFSR, random_columns(n_in), seed, batch * length, 1, bits)[:, 0]
    words = words.reshape(batch, length, -1)
    x_bits = sng(x_raw[:, None, :], words[:, :, :n_in], bits)  # batch × L × n_in
    w_bits = sng(w_raw[None, None], words[:, :, None, n_in:2 * n_in], bits)  # batch × L × n_out × n_in
    b_bits = sng(b_raw[None, None], words[:, :, 2 * n_in:], bits)  # batch × L × n_out
    return _adder_outputs(x_bits, w_bits, b_bits, adder, order)


def sc_stream_layer(in_bits, w_raw, b_raw, *, bits: int, seed: int, adder: str, order=None) -> np.ndarray:
    """A layer on stream inputs: ``in_bits`` (batch × length × n_in, the previous layer's output bits) →
    batch × length × n_out bits. Cycle ``t`` uses random words ``lfsr_words(RANDOM_LFSR, n_in + 1, seed,
    …)[t]``: column ``i`` for column ``i`` of ``w``, column ``n_in`` for ``b``."""
    in_bits, w_raw, b_raw = (np.asarray(a, dtype=np.int64) for a in (in_bits, w_raw, b_raw))
    batch, length, n_in = in_bits.shape
    words = lfsr_words(RANDOM_LFSR, n_in + 1, seed, batch * length, 1, bits)[:, 0].reshape(batch, length, -1)
    w_bits = sng(w_raw[None, None], words[:, :, None, :n_in], bits)
    b_bits = sng(b_raw[None, None], words[:, :, n_in:], bits)
    return _adder_outputs(in_bits.astype(np.uint8), w_bits, b_bits, adder, order)


def _adder_outputs(in_bits, w_bits, b_bits, adder: str, order) -> np.ndarray:
    """Output bits (batch × L × n_out) of fully connected neurons from their input streams
    (batch × L × n_in), weight streams (batch × L × n_out × n_in) and bias streams (batch × L × n_out)."""
    return _neuron_outputs(xnor(in_bits[:, :, None, :], w_bits), b_bits, adder, order)


def _neuron_outputs(products, b_bits, adder: str, order) -> np.ndarray:
    """Output bits (batch × L × n_out) from each neuron's XNOR products (batch × L × n_out × fan-in) and bias
    streams (batch × L × n_out): the products, the bias, the padding stream when the count is even, in
    ``order``, through the adder."""
    batch, length, n_out, n_in = products.shape
    streams = [products, b_bits[..., None]]
    if (n_in + 1) % 2 == 0:
        alternating = np.broadcast_to((np.arange(length) % 2)[None, :, None, None], (batch, length, n_out, 1))
        streams.append(alternating.astype(np.uint8))
    products = np.concatenate(streams, axis=-1)  # batch × L × n_out × n
    if order is not None:
        products = np.take_along_axis(products, check_order(order, n_in, n_out)[None, None], axis=-1)
    if adder == "majority":
        return majority_chain(products)
    out = np.empty((batch, length, n_out), dtype=np.uint8)
    for v in range(batch):
        for j in range(n_out):
            out[v, :, j] = sorter_activate(products[v, :, j])
    return out


def layer_seed(seed: int, layer: int) -> int:
    """The random columns' seed of layer ``layer`` (0 first) of an ``sc-net`` seeded ``seed``: each layer
    its own LFSRs, never seed 0."""
    return (seed - 1 + layer) % (2**31 - 1) + 1


def sc_net(layers, x_raw, *, bits: int, length: int, seed: int, adder: str) -> list[np.ndarray]:
    """Every layer's output bits (batch × length × n_out each) of ``layers`` — ``(w_raw, b_raw)`` pairs —
    on ``x_raw``: :func:`sc_layer` first, then :func:`sc_stream_layer` on the previous layer's bits."""
    outputs = []
    for k, (w_raw, b_raw) in enumerate(layers):
        run = {"bits": bits, "seed": layer_seed(seed, k), "adder": adder}
        outputs.append(sc_layer(w_raw, b_raw, x_raw, length=length, **run) if k == 0 else
                       sc_stream_layer(outputs[-1], w_raw, b_raw, **run))
    return outputs


def bipolar_value(stream_bits: np.ndarray, axis: int = -2) -> np.ndarray:
    """Value of streams along ``axis``: ``2·mean - 1``."""
    return 2 * np.asarray(stream_bits, dtype=np.float64).mean(axis=axis) - 1


def sc_layer_exact(w, b, x, adder: str, order=None) -> np.ndarray:
    """What the layer's streams converge to (float reference, batch × n_out).

    ``sorter`` and ``counter``: ``clip(x·wᵀ + b, -1, 1)``. ``majority``: the exact expected
    value of the chain on independent streams (:func:`majority_chain_value`), its inputs in ``order``.
    """
    w, b, x = (np.asarray(a, dtype=np.float64) for a in (w, b, x))
    if adder != "majority":
        return np.clip(x @ w.T + b, -1.0, 1.0)
    order = natural_order(x.shape[1], len(w)) if order is None else check_order(order, x.shape[1], len(w))
    values = np.empty((len(x), len(w)))
    for v, row in enumerate(x):
        for j in range(len(w)):
            inputs = np.array(list(row * w[j]) + [b[j]] + ([0.0] if (len(row) + 1) % 2 == 0 else []))
            values[v, j] = majority_chain_value(inputs[order[j]])
    return values


def layer_outputs(bits: np.ndarray) -> dict:
    """``sc-layer``'s raw outputs from its stream bits (batch × length × n_out): the bits, and per neuron
    the bipolar count ``2·ones − length``."""
    return {"y_bits_raw": bits, "y_raw": 2 * bits.sum(axis=1) - bits.shape[1]}


def bits_from_words(words: np.ndarray, batch: int, length: int, n_out: int) -> np.ndarray:
    """``y_out`` words (one bit per neuron, neuron 0 lowest) as stream bits, batch × length × n_out."""
    return ((np.asarray(words)[:, None] >> np.arange(n_out)) & 1).reshape(batch, length, n_out)


def weight_words(w_raw: np.ndarray, b_raw: np.ndarray) -> np.ndarray:
    """``sc-layer``'s ``w_in`` words: the weights row by row, then the biases."""
    return np.concatenate([np.asarray(w_raw).reshape(-1), np.asarray(b_raw).reshape(-1)])


def net_weight_words(layers) -> np.ndarray:
    """``sc-net``'s and ``sc-cnn``'s ``w_in`` words: each layer's :func:`weight_words`, first layer first; a
    conv layer's kernels (``c_out × c_in × r × r``) as ``models.conv.dense_matrix`` rows (taps ``(u, v, i)``)."""
    return np.concatenate([weight_words(dense_matrix(w_raw) if np.ndim(w_raw) == 4 else w_raw, b_raw)
                           for w_raw, b_raw in layers])


def conv_taps(c_in: int, size: int, kernel: int) -> np.ndarray:
    """``out² × kernel²·c_in``: the flat (``c_in × size × size``) input index of each tap ``(u, v, i)`` of
    each output position (raster order) of a valid convolution."""
    index = np.arange(c_in * size * size).reshape(1, c_in, size, size)
    return windows(index, kernel).reshape(output_size(size, kernel) ** 2, kernel * kernel * c_in)


def sc_conv_layer(w_raw, b_raw, x_raw, *, bits: int, length: int, seed: int, adder: str) -> np.ndarray:
    """An SC convolution (valid, stride 1): ``w_raw`` ``c_out × c_in × r × r``, ``b_raw`` ``c_out``,
    ``x_raw`` ``batch × c_in × size × size`` → batch × length × (c_out·out²) bits, neurons in ``(o, y, x)``
    order.

    Cycle ``t`` uses random words ``lfsr_words(RANDOM_LFSR, c_in·size² + r²·c_in + 1, seed, …)[t]``: one
    column per input pixel (its SNG), one per kernel tap (the SNGs of that tap's weights, shared by every
    position and channel), one for the biases. Each neuron's adder takes its window's r²·c_in products.
    """
    w_raw, b_raw, x_raw = (np.asarray(a, dtype=np.int64) for a in (w_raw, b_raw, x_raw))
    batch, c_in, size, _ = x_raw.shape
    c_out, taps = len(w_raw), w_raw[0].size
    pixels = c_in * size * size
    words = lfsr_words(RANDOM_LFSR, pixels + taps + 1, seed, batch * length, 1, bits)[:, 0]
    words = words.reshape(batch, length, -1)
    x_bits = sng(x_raw.reshape(batch, 1, pixels), words[:, :, :pixels], bits)  # batch × L × pixels
    w_bits = sng(dense_matrix(w_raw)[None, None], words[:, :, None, pixels:pixels + taps], bits)  # … × c_out × taps
    b_bits = sng(b_raw[None, None], words[:, :, pixels + taps:], bits)  # batch × L × c_out
    window_bits = x_bits[:, :, conv_taps(c_in, size, w_raw.shape[2])]  # batch × L × positions × taps
    products = xnor(window_bits[:, :, None], w_bits[:, :, :, None])  # batch × L × c_out × positions × taps
    positions = window_bits.shape[2]
    products = products.reshape(batch, length, c_out * positions, taps)
    return _neuron_outputs(products, np.repeat(b_bits, positions, axis=2), adder, None)


def sc_pool(in_bits, channels: int, size: int, seed: int) -> np.ndarray:
    """SC 2×2 average pooling, stride 2, of ``channels × size × size`` streams (batch × L × c·size², ``size``
    even) → batch × L × c·(size/2)²: each cycle one 2-bit word ``s`` from ``lfsr_words(RANDOM_LFSR, 1,
    seed, …)``, shared by every window, passes corner ``(s >> 1, s & 1)`` of each window (value: the mean)."""
    in_bits = np.asarray(in_bits)
    batch, length, _ = in_bits.shape
    select = lfsr_words(RANDOM_LFSR, 1, seed, batch * length, 1, 2)[:, 0, 0].reshape(batch, length)
    grid = in_bits.reshape(batch, length, channels, size // 2, 2, size // 2, 2)
    corners = grid.transpose(0, 1, 2, 3, 5, 4, 6).reshape(batch, length, channels, size // 2, size // 2, 4)
    chosen = np.take_along_axis(corners, select[:, :, None, None, None, None], axis=-1)[..., 0]
    return chosen.reshape(batch, length, -1).astype(np.uint8)


def sc_cnn(conv, fc, x_raw, *, bits: int, length: int, seed: int, adder: str) -> list[np.ndarray]:
    """``sc-cnn``: :func:`sc_conv_layer` (``conv`` = ``(w_raw, b_raw)``), :func:`sc_pool`, then a fully
    connected :func:`sc_stream_layer` (``fc``); layer k seeded ``layer_seed(seed, k)``. Every stage's bits."""
    c_out, kernel, size = len(conv[0]), np.shape(conv[0])[2], np.shape(x_raw)[2]
    first = sc_conv_layer(*conv, x_raw, bits=bits, length=length, seed=layer_seed(seed, 0), adder=adder)
    pooled = sc_pool(first, c_out, output_size(size, kernel), layer_seed(seed, 1))
    return [first, pooled, sc_stream_layer(pooled, *fc, bits=bits, seed=layer_seed(seed, 2), adder=adder)]
