"""Inception-v4 and DenseNet-264 layer lists against the networks' published sizes."""

import pytest

from models.cnn_shapes import conv, densenet_264, inception_v4


def _weights(layers) -> int:
    return sum(layer.n_o * layer.n_i for layer in layers)


@pytest.mark.parametrize("network, layers, published", [
    # Inception-v4: 42.68 M parameters (Keras' model, batch-norm offsets included); DenseNet-264 (growth 32):
    # 33.3 M. The layer lists hold conv and classifier weights only, so they land just below.
    (inception_v4, 150, 42.68e6), (densenet_264, 265, 33.3e6),
])
def test_weights_match_the_published_parameter_counts(network, layers, published):
    found = network()
    assert len(found) == layers
    assert 0.98 * published < _weights(found) <= published


def test_channels_chain_through_each_network():
    inception = inception_v4()
    assert inception[-1].n_i == 1536 and inception[0].batch == 149 * 149  # 299 → 149 after the 3×3/2 stem conv
    dense = densenet_264()
    assert dense[-1].n_i == 2688 and dense[1].n_i == 64 and dense[1].batch == 56 * 56
    assert {layer.n_o for layer in dense if layer.name.endswith("3x3")} == {32}


def test_inception_v4_multiply_accumulates_match_the_published_12_3_billion():
    assert 12.0e9 < sum(layer.n_o * layer.n_i * layer.batch for layer in inception_v4()) < 12.5e9


@pytest.mark.parametrize("size, kernel, stride, same, out", [(299, 3, 2, False, 149), (35, 3, 1, True, 35),
                                                              (17, 7, 1, True, 17), (35, 3, 2, False, 17)])
def test_conv_output_size(size, kernel, stride, same, out):
    layer, found = conv("c", size, 4, 8, kernel, stride=stride, same=same)
    assert found == out and layer.batch == out * out and layer.n_i == kernel * kernel * 4
