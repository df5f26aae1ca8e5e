"""Convolution layers (CirCNN): valid, stride 1, as a matrix product over sliding windows, bit-exact.

``y[o, a, b] = Σ_{i, u, v} W[o, i, u, v] · x[i, a + u, b + v]`` for
``a, b < out = size − r + 1``: the window of output pixel ``(a, b)`` is the
vector ``x[i, a + u, b + v]`` in the order ``(u, v, i)`` (channels fastest,
the order a line buffer holds pixels in), and the layer is that vector times
the ``c_out × r²·c_in`` matrix ``M[o, (u, v, i)] = W[o, i, u, v]``.

- ``dense``: ``M`` on ``hw/dense.py``'s engine, ``models.dense.dense_fc_raw``.
- ``circulant``: at each kernel position the ``c_out × c_in`` matrix is
  block-circulant, ``W[o, i, u, v] = w[o//k, i//k, u, v, (o mod k − i mod k) mod k]``
  (``w``: ``c_out/k × c_in/k × r × r × k``); with the window order above ``M``
  is block-circulant too, its first columns ``w`` with ``(u, v)`` folded into
  the input blocks (:func:`circulant_columns`), on ``hw/circulant.py``'s engine
  (``models.circulant.circulant_fc_raw``).

Pixels stream in the order rows, columns, channels (``NHWC``); outputs leave
per pixel, ``c_out`` channels each. ``run`` arrays are ``NCHW``.
"""

import numpy as np

from .circulant import block_circulant, circulant_fc_raw, spectrum_words
from .dense import dense_fc_raw
from .fixed import FixedFormat

__all__ = ["output_size", "weight_words", "windows", "dense_matrix", "circulant_columns", "dense_weights",
           "conv_raw", "conv_float", "POOLS", "pool_raw", "pool_float"]

#: 2×2 pooling, stride 2: ``max`` or ``avg`` (the sum of four, rounded half up by two bits).
POOLS = ("max", "avg")


def output_size(size: int, kernel: int) -> int:
    """Output height and width of a valid convolution, stride 1."""
    return size - kernel + 1


def windows(x: np.ndarray, kernel: int) -> np.ndarray:
    """``x`` (batch × c_in × size × size) as window vectors (batch·out² × r²·c_in), pixels in raster order,
    each window in the order ``(u, v, i)``."""
    x = np.asarray(x)
    batch, c_in, size, _ = x.shape
    out = output_size(size, kernel)
    pixels = x.transpose(0, 2, 3, 1)  # NHWC
    rows = [pixels[:, a:a + kernel, b:b + kernel, :].reshape(batch, -1) for a in range(out) for b in range(out)]
    return np.stack(rows, axis=1).reshape(batch * out * out, kernel * kernel * c_in)


def dense_matrix(w: np.ndarray) -> np.ndarray:
    """``M[o, (u, v, i)] = W[o, i, u, v]`` from dense weights ``c_out × c_in × r × r``."""
    return np.asarray(w).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def circulant_columns(w: np.ndarray) -> np.ndarray:
    """The first columns (``p × r²·q × k``) of ``M`` from circulant weights ``p × q × r × r × k``."""
    p, q, r, _, k = w.shape
    return np.asarray(w).transpose(0, 2, 3, 1, 4).reshape(p, r * r * q, k)


def dense_weights(w: np.ndarray) -> np.ndarray:
    """Circulant weights ``p × q × r × r × k`` expanded to ``W`` (``c_out × c_in × r × r``)."""
    p, q, r, _, k = w.shape
    matrix = block_circulant(circulant_columns(w))  # c_out × r²·c_in, columns (u, v, i)
    return matrix.reshape(p * k, r, r, q * k).transpose(0, 3, 1, 2)


def _images(y: np.ndarray, batch: int, out: int) -> np.ndarray:
    """Window products (batch·out² × c_out) back to ``batch × c_out × out × out``."""
    return y.reshape(batch, out, out, -1).transpose(0, 3, 1, 2)


def conv_raw(engine: str, w_raw: np.ndarray, x_raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Bit-exact ``y_raw`` (batch × c_out × out × out) on the ``dense`` or ``circulant`` engine."""
    batch, _, size, _ = x_raw.shape
    kernel = w_raw.shape[2]
    vectors = windows(x_raw, kernel)
    if engine == "circulant":
        y = circulant_fc_raw(circulant_columns(w_raw), vectors, fmt)
    else:
        y = dense_fc_raw(dense_matrix(w_raw), vectors, fmt)
    return _images(y, batch, output_size(size, kernel))


def conv_float(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Float reference by explicit sums over the kernel (dense ``W``: ``c_out × c_in × r × r``)."""
    w, x = np.asarray(w, dtype=np.float64), np.asarray(x, dtype=np.float64)
    r, out = w.shape[2], output_size(x.shape[2], w.shape[2])
    y = np.zeros((x.shape[0], w.shape[0], out, out))
    for u in range(r):
        for v in range(r):
            y += np.einsum("oi,niab->noab", w[:, :, u, v], x[:, :, u:u + out, v:v + out])
    return y


def _quads(x: np.ndarray) -> np.ndarray:
    """``x`` (batch × c × size × size) as its 2×2 blocks (batch × c × size//2 × size//2 × 4); an odd last
    row and column are dropped (ONNX's ``ceil_mode = 0``)."""
    x = np.asarray(x)
    half = x.shape[-1] // 2
    x = x[..., :2 * half, :2 * half]
    return x.reshape(*x.shape[:2], half, 2, half, 2).transpose(0, 1, 2, 4, 3, 5).reshape(*x.shape[:2], half, half, 4)


def pool_raw(kind: str, x_raw: np.ndarray) -> np.ndarray:
    """Bit-exact 2×2 pooling: the largest of four, or ``(sum + 2) >> 2`` (the mean rounded half up)."""
    quads = _quads(np.asarray(x_raw, dtype=np.int64))
    return quads.max(axis=-1) if kind == "max" else (quads.sum(axis=-1) + 2) >> 2


def pool_float(kind: str, x: np.ndarray) -> np.ndarray:
    """Float reference by explicit slicing of the four corners."""
    x = np.asarray(x, dtype=np.float64)
    half = x.shape[-1] // 2
    corners = [x[..., dy:2 * half:2, dx:2 * half:2] for dy in (0, 1) for dx in (0, 1)]
    return np.maximum.reduce(corners) if kind == "max" else sum(corners) / 4


def weight_words(w_raw, params: dict) -> np.ndarray:
    """``w_in``'s words for ``hw.conv.Conv2D`` with ``params``: the dense matrix row by row, or the circulant
    weight spectra (``models.circulant.spectrum_words``)."""
    if params["engine"] == "circulant":
        return spectrum_words(circulant_columns(w_raw), params)
    return dense_matrix(w_raw).reshape(-1)
