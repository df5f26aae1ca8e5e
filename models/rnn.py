"""Block-circulant LSTM and GRU cells (C-LSTM / E-RNN), float and bit-exact (``hw/rnn.py``).

Gates ``i, f, g, o`` (in that order) come from one block-circulant matrix
``W`` of ``4H × (n_in + H)`` applied to ``[x_t; h_{t−1}]``:
``a = W [x_t; h_{t−1}] + b``; ``i, f, o = σ(a)``, ``g = tanh(a)``;
``c_t = f ⊙ c_{t−1} + i ⊙ g``; ``h_t = o ⊙ tanh(c_t)``; ``h_0 = c_0 = 0``.
No peephole connections.

Bit-exact mode: ``W [x; h]`` is ``models.circulant.circulant_fc_raw``
(saturated to ``width``); ``a`` adds the bias with saturation; σ and tanh
are the PWL functions of ``models/pwl.py``; each element-wise product is
rounded half up by ``frac`` bits on its own, sums saturate:
``c_t = sat(rnd(f·c) + rnd(i·g))``, ``h_t = sat(rnd(o·tanh_pwl(c_t)))``.

GRU: the same ``4H × (n_in + H)`` matrix holds the rows ``r, z, n_x, n_h``;
a standard GRU has ``W_nx`` only on the ``x`` columns and ``U_nh`` only on
the ``h`` columns (its other blocks are zero, and are multiplied anyway),
with biases ``b = [b_r, b_z, b_in, b_hn]``:
``a = W [x_t; h_{t−1}] + b``; ``r, z = σ(a_r), σ(a_z)``;
``n = tanh(sat(a_nx + rnd(r·a_nh)))``;
``h_t = sat(rnd((1 − z)·n) + rnd(z·h_{t−1}))``.
"""

import numpy as np

from .circulant import block_circulant, circulant_fc_raw
from .fixed import FixedFormat, requantize, round_shift, saturate
from .pwl import SIGMOID, TANH, pwl_raw

__all__ = ["gate_shape", "lstm_raw", "lstm_float", "gru_raw", "gru_float", "gru_zero_blocks"]


def gate_shape(n_in: int, hidden: int, k: int) -> tuple[int, int, int]:
    """Shape ``(p, q, k)`` of the first-column array of the ``4H × (n_in + H)`` gate matrix."""
    return 4 * hidden // k, (n_in + hidden) // k, k


def gru_zero_blocks(w: np.ndarray, n_in: int, hidden: int) -> np.ndarray:
    """``w`` with the blocks a standard GRU leaves zero cleared (``n_x`` × h-columns, ``n_h`` × x-columns)."""
    k = w.shape[-1]
    w = np.array(w)
    rows_nx, rows_nh = slice(2 * hidden // k, 3 * hidden // k), slice(3 * hidden // k, 4 * hidden // k)
    w[rows_nx, n_in // k:] = 0
    w[rows_nh, :n_in // k] = 0
    return w


def _gates(w_raw, b_raw, x_t, h, fmt):
    """Saturated ``W [x_t; h] + b``, split into its four ``H``-long gate rows."""
    hidden = len(b_raw) // 4
    a = saturate(circulant_fc_raw(w_raw, np.concatenate([x_t, h])[None], fmt)[0] + b_raw, fmt.width)
    return [a[n * hidden:(n + 1) * hidden] for n in range(4)]


def lstm_raw(w_raw, b_raw, x_raw, fmt: FixedFormat) -> np.ndarray:
    """Hidden states ``h`` (``T × H``) for the sequence ``x_raw`` (``T × n_in``)."""
    hidden = len(b_raw) // 4
    h = np.zeros(hidden, dtype=np.int64)
    c = np.zeros(hidden, dtype=np.int64)
    states = []
    for x_t in np.asarray(x_raw, dtype=np.int64):
        i, f, g, o = _gates(w_raw, b_raw, x_t, h, fmt)
        i, f, o = (pwl_raw(SIGMOID, gate, fmt) for gate in (i, f, o))
        g = pwl_raw(TANH, g, fmt)
        c = saturate(round_shift(f * c, fmt.frac) + round_shift(i * g, fmt.frac), fmt.width)
        h = requantize(o * pwl_raw(TANH, c, fmt), fmt.frac, fmt.width)
        states.append(h)
    return np.array(states, dtype=np.int64).reshape(-1, hidden)


def gru_raw(w_raw, b_raw, x_raw, fmt: FixedFormat) -> np.ndarray:
    """Hidden states ``h`` (``T × H``) of the GRU for the sequence ``x_raw``."""
    hidden = len(b_raw) // 4
    one = 1 << fmt.frac
    h = np.zeros(hidden, dtype=np.int64)
    states = []
    for x_t in np.asarray(x_raw, dtype=np.int64):
        a_r, a_z, a_nx, a_nh = _gates(w_raw, b_raw, x_t, h, fmt)
        r, z = pwl_raw(SIGMOID, a_r, fmt), pwl_raw(SIGMOID, a_z, fmt)
        n = pwl_raw(TANH, saturate(a_nx + round_shift(r * a_nh, fmt.frac), fmt.width), fmt)
        h = saturate(round_shift((one - z) * n, fmt.frac) + round_shift(z * h, fmt.frac), fmt.width)
        states.append(h)
    return np.array(states, dtype=np.int64).reshape(-1, hidden)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def gru_float(w, b, x) -> np.ndarray:
    """Float GRU reference (dense matrix, exact σ and tanh)."""
    matrix = block_circulant(np.asarray(w, dtype=np.float64))
    hidden = len(b) // 4
    h = np.zeros(hidden)
    states = []
    for x_t in np.asarray(x, dtype=np.float64):
        a = matrix @ np.concatenate([x_t, h]) + b
        a_r, a_z, a_nx, a_nh = (a[n * hidden:(n + 1) * hidden] for n in range(4))
        r, z = _sigmoid(a_r), _sigmoid(a_z)
        n = np.tanh(a_nx + r * a_nh)
        h = (1 - z) * n + z * h
        states.append(h)
    return np.array(states).reshape(-1, hidden)


def lstm_float(w, b, x) -> np.ndarray:
    """Float reference: dense matrix from ``w``, exact sigmoid and tanh."""
    matrix = block_circulant(np.asarray(w, dtype=np.float64))
    hidden = len(b) // 4
    h, c = np.zeros(hidden), np.zeros(hidden)
    states = []
    for x_t in np.asarray(x, dtype=np.float64):
        a = matrix @ np.concatenate([x_t, h]) + b
        i, f, g, o = (a[n * hidden:(n + 1) * hidden] for n in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        states.append(h)
    return np.array(states).reshape(-1, hidden)
