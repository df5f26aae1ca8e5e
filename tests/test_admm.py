"""ADMM block-circulant training on digits: accuracy target and structure of the result."""

import numpy as np

from models.circulant import block_circulant
from models.train.admm import evaluate, load_split, train_block_circulant, train_dense


def test_k8_within_two_points_of_dense_and_exactly_block_circulant():
    data = load_split(seed=0)
    dense = train_dense(data, seed=0)
    model, w = train_block_circulant(dense, data, k=8, seed=0)
    dense_accuracy, circulant_accuracy = evaluate(dense, data), evaluate(model, data)
    assert dense_accuracy > 0.95, "the dense twin must itself be a working classifier"
    assert circulant_accuracy >= dense_accuracy - 0.02
    assert w.shape == (8, 8, 8)
    assert np.allclose(model.params["w1"], block_circulant(w), rtol=0, atol=1e-12)  # 8× fewer free weights


def test_training_is_deterministic():
    data = load_split(seed=1)
    first = evaluate(train_dense(data, epochs=5, seed=3), data)
    second = evaluate(train_dense(data, epochs=5, seed=3), data)
    assert first == second
