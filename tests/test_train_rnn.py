"""E-RNN Phase I: BPTT gradients against finite differences; ADMM against the other ways to a circulant RNN."""

import numpy as np
import pytest

from models.circulant import block_circulant, project_block_circulant
import accelgen
from models.train.rnn import RNNClassifier, cell_arrays, compare, digit_sequences, readout


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("k", [None, 4])
def test_gradients_equal_finite_differences(cell, k):
    rng = np.random.default_rng(1)
    model = RNNClassifier(cell, 8, 8, rng, k)
    for name in model.params:  # away from the initial values (the zero biases) so every term matters
        model.params[name] = model.params[name] + rng.normal(0, 0.3, model.params[name].shape)
    x, y = rng.random((5, 4, 8)), rng.integers(0, 10, 5)
    grads = model.gradients(x, y)
    for name, values in model.params.items():
        for _ in range(8):
            index = tuple(int(rng.integers(0, size)) for size in values.shape)
            kept = values[index]
            values[index] = kept + 1e-6
            above = model.loss(x, y)
            values[index] = kept - 1e-6
            below = model.loss(x, y)
            values[index] = kept
            assert abs((above - below) / 2e-6 - grads[name][index]) < 1e-6, (name, index)


def test_gru_keeps_its_zero_blocks():
    model = RNNClassifier("gru", 8, 8, np.random.default_rng(0))
    hidden = 8
    assert not model.params["w"][2 * hidden:3 * hidden, 8:].any() and not model.params["w"][3 * hidden:, :8].any()


def test_sequences_are_the_digit_rows_padded():
    data = digit_sequences(n_in=16)
    assert data.x_train.shape[1:] == (8, 16) and not data.x_train[:, :, 8:].any()
    assert len(data.x_test) == 450


@pytest.fixture(scope="module")
def at_k4():
    """The four methods at k = 4 for each cell (trained once for this module)."""
    return {cell: compare(cell, 4) for cell in ("lstm", "gru")}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_admm_reaches_the_dense_accuracy_at_k4(cell, at_k4):
    """E-RNN's claim: ADMM within 1 point of the dense RNN at k = 4; projecting once without retraining
    collapses; the first columns ADMM leaves are exactly block-circulant."""
    found = at_k4[cell]
    assert found["ADMM"] >= found["dense"] - 0.01, found
    assert found["projected once"] < found["dense"] - 0.3, found
    w = found["models"]["ADMM"].params["w"]
    assert np.allclose(block_circulant(project_block_circulant(w, 4)), w)


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_trained_cell_runs_on_the_rtl(cell, at_k4):
    """The ADMM-trained cell (k = 4, H = 32) in Q16.10: test sequences through the RTL (one run, the state
    cleared every 8 steps) equal the bit-exact model word for word; over the whole test split the bit-exact
    path's accuracy is within 1 point of float."""
    model, data = at_k4[cell]["models"]["ADMM"], digit_sequences()
    acc = accelgen.design(f"circulant-{cell}", n_in=8, hidden=32, k=4, parallelism=3, sequence=8)
    sample = data.x_test[:12]
    outputs, counters = acc.run(cell_arrays(model, 4, sample))
    exact = acc.model(cell_arrays(model, 4, sample))
    assert np.array_equal(outputs["h_raw"], exact["h_raw"]) and counters["steps"] == 96
    everything = acc.model(cell_arrays(model, 4, data.x_test))
    fixed = float((readout(model, everything["h"]) == data.y_test).mean())
    assert abs(fixed - float((model.predict(data.x_test) == data.y_test).mean())) <= 0.01


def test_accuracy_is_a_cached_design_operation(tmp_path, monkeypatch):
    """design.accuracy('digits') trains at the point's k and width; the second call reads the cache; a point
    the task cannot use is a one-line error."""
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    acc = accelgen.design("circulant-gru", n_in=8, hidden=32, k=8)
    first = acc.accuracy("digits")
    assert 0.9 < first <= 1 and len(list((tmp_path / "train").iterdir())) == 1
    assert acc.accuracy("digits") == first
    with pytest.raises(accelgen.UserError, match=r"n_in=4 out of range \[8, 1024\] for task digits"):
        accelgen.design("circulant-gru", n_in=4, hidden=8, k=4).accuracy("digits")
