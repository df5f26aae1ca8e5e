"""Block-circulant LSTM cell (C-LSTM / E-RNN), float and bit-exact (``hw/rnn.py``).

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
"""

import numpy as np

from .circulant import block_circulant, circulant_fc_raw
from .fixed import FixedFormat, requantize, round_shift, saturate
from .pwl import SIGMOID, TANH, pwl_raw

__all__ = ["lstm_shape", "lstm_raw", "lstm_float"]


def lstm_shape(n_in: int, hidden: int, k: int) -> tuple[int, int, int]:
    """Shape ``(p, q, k)`` of the first-column array of the gate matrix."""
    return 4 * hidden // k, (n_in + hidden) // k, k


def lstm_raw(w_raw, b_raw, x_raw, fmt: FixedFormat) -> np.ndarray:
    """Hidden states ``h`` (``T × H``) for the sequence ``x_raw`` (``T × n_in``)."""
    hidden = len(b_raw) // 4
    h = np.zeros(hidden, dtype=np.int64)
    c = np.zeros(hidden, dtype=np.int64)
    states = []
    for x_t in np.asarray(x_raw, dtype=np.int64):
        a = saturate(circulant_fc_raw(w_raw, np.concatenate([x_t, h])[None], fmt)[0] + b_raw, fmt.width)
        i, f, g, o = (a[n * hidden:(n + 1) * hidden] for n in range(4))
        i, f, o = (pwl_raw(SIGMOID, gate, fmt) for gate in (i, f, o))
        g = pwl_raw(TANH, g, fmt)
        c = saturate(round_shift(f * c, fmt.frac) + round_shift(i * g, fmt.frac), fmt.width)
        h = requantize(o * pwl_raw(TANH, c, fmt), fmt.frac, fmt.width)
        states.append(h)
    return np.array(states, dtype=np.int64).reshape(-1, hidden)


def lstm_float(w, b, x) -> np.ndarray:
    """Float reference: dense matrix from ``w``, exact sigmoid and tanh."""
    matrix = block_circulant(np.asarray(w, dtype=np.float64))
    hidden = len(b) // 4
    h, c = np.zeros(hidden), np.zeros(hidden)
    states = []
    for x_t in np.asarray(x, dtype=np.float64):
        a = matrix @ np.concatenate([x_t, h]) + b
        i, f, g, o = (a[n * hidden:(n + 1) * hidden] for n in range(4))
        sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        states.append(h)
    return np.array(states).reshape(-1, hidden)
