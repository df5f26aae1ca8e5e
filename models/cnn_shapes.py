"""Every weight layer of Inception-v4 and DenseNet-264 as the GEMM of its backward pass (``models/intergrad.py``).

Convolutions lower by im2col: ``n_o = c_out``, ``n_i = kh·kw·c_in``,
columns = output pixels of one image. Pooling layers have no weights and
are skipped (they only change the size the next layer sees).

- Inception-v4 (Szegedy et al., 2016), 299 × 299 input: the stem, 4
  Inception-A, Reduction-A, 7 Inception-B, Reduction-B, 3 Inception-C, the
  1536 → 1000 classifier.
- DenseNet-264 (Huang et al., 2017), 224 × 224 input, growth 32, blocks of
  6, 12, 64 and 48 bottleneck layers (1×1 to 128 channels, then 3×3 to 32),
  transitions halving the channels.
"""

from .intergrad import Layer

__all__ = ["conv", "inception_v4", "densenet_264"]


def conv(name: str, size: int, c_in: int, c_out: int, kh: int, kw: int | None = None, *, stride: int = 1,
         same: bool = True) -> tuple[Layer, int]:
    """One convolution on a ``size × size`` map: its GEMM and the output size (``same`` pads to keep
    ``ceil(size/stride)``, else no padding)."""
    kw = kh if kw is None else kw
    out = -(-size // stride) if same else (size - max(kh, kw)) // stride + 1
    return Layer(name, c_out, kh * kw * c_in, out * out), out


def _chain(name: str, size: int, c_in: int, steps: list) -> tuple[list[Layer], int, int]:
    """A branch of convolutions ``(c_out, kh, kw, stride, same)``: its layers, output size and channels."""
    layers = []
    for index, (c_out, kh, kw, stride, same) in enumerate(steps):
        layer, size = conv(f"{name}.{index}", size, c_in, c_out, kh, kw, stride=stride, same=same)
        layers.append(layer)
        c_in = c_out
    return layers, size, c_in


def _block(name: str, size: int, c_in: int, branches: list[list]) -> tuple[list[Layer], int, int]:
    """Parallel branches on one input, concatenated: layers, output size, channels. A branch of ``[]`` is
    a pooling path (no weights; it keeps ``c_in`` channels and, in a reduction, shrinks like the others)."""
    layers, channels, out = [], 0, size
    for index, steps in enumerate(branches):
        if not steps:
            channels += c_in
            continue
        branch, out, c_out = _chain(f"{name}/b{index}", size, c_in, steps)
        layers += branch
        channels += c_out
    return layers, out, channels


def _step(c_out: int, kh: int, kw: int | None = None, stride: int = 1, same: bool = True) -> tuple:
    return (c_out, kh, kh if kw is None else kw, stride, same)


def _inception_c(name: str, size: int) -> list[Layer]:
    """Inception-C on 8 × 8 × 1536: two of its branches fork after a shared stem, so it is written out."""
    def layer(tag, c_in, c_out, kh, kw):
        return conv(f"{name}/{tag}", size, c_in, c_out, kh, kw)[0]
    return [layer("pool.1x1", 1536, 256, 1, 1), layer("1x1", 1536, 256, 1, 1),
            layer("b3.1x1", 1536, 384, 1, 1), layer("b3.1x3", 384, 256, 1, 3), layer("b3.3x1", 384, 256, 3, 1),
            layer("b4.1x1", 1536, 384, 1, 1), layer("b4.1x3", 384, 448, 1, 3), layer("b4.3x1", 448, 512, 3, 1),
            layer("b4.out.1x3", 512, 256, 1, 3), layer("b4.out.3x1", 512, 256, 3, 1)]


def inception_v4() -> list[Layer]:
    """The weight layers of Inception-v4, input to output."""
    c = _step
    layers, size, ch = _chain("stem", 299, 3, [c(32, 3, stride=2, same=False), c(32, 3, same=False), c(64, 3)])
    inception_a = [[c(96, 1)], [c(96, 1)], [c(64, 1), c(96, 3)], [c(64, 1), c(96, 3), c(96, 3)]]
    inception_b = [[c(128, 1)], [c(384, 1)], [c(192, 1), c(224, 1, 7), c(256, 7, 1)],
                   [c(192, 1), c(192, 7, 1), c(224, 1, 7), c(224, 7, 1), c(256, 1, 7)]]
    stages = [("stem/mixed3", [[], [c(96, 3, stride=2, same=False)]]),
              ("stem/mixed4", [[c(64, 1), c(96, 3, same=False)],
                               [c(64, 1), c(64, 7, 1), c(64, 1, 7), c(96, 3, same=False)]]),
              ("stem/mixed5", [[c(192, 3, stride=2, same=False)], []]),
              *((f"inception-a{n}", inception_a) for n in range(4)),
              ("reduction-a", [[], [c(384, 3, stride=2, same=False)],
                               [c(192, 1), c(224, 3), c(256, 3, stride=2, same=False)]]),
              *((f"inception-b{n}", inception_b) for n in range(7)),
              ("reduction-b", [[], [c(192, 1), c(192, 3, stride=2, same=False)],
                               [c(256, 1), c(256, 1, 7), c(320, 7, 1), c(320, 3, stride=2, same=False)]])]
    for name, branches in stages:
        block, size, ch = _block(name, size, ch, branches)
        layers += block
    for n in range(3):
        layers += _inception_c(f"inception-c{n}", size)
    return layers + [Layer("classifier", 1000, 1536, 1)]


def densenet_264(growth: int = 32, blocks=(6, 12, 64, 48)) -> list[Layer]:
    """The weight layers of DenseNet-264 (DenseNet-BC, compression 0.5), input to output."""
    first, size = conv("conv0", 224, 3, 2 * growth, 7, stride=2)
    layers, size, channels = [first], size // 2, 2 * growth  # 3×3/2 max pool: 112 → 56
    for index, count in enumerate(blocks):
        for layer in range(count):
            bottleneck, _ = conv(f"block{index + 1}.{layer}.1x1", size, channels, 4 * growth, 1)
            grow, _ = conv(f"block{index + 1}.{layer}.3x3", size, 4 * growth, growth, 3)
            layers += [bottleneck, grow]
            channels += growth
        if index < len(blocks) - 1:
            transition, _ = conv(f"transition{index + 1}", size, channels, channels // 2, 1)
            layers.append(transition)
            channels, size = channels // 2, size // 2  # 2×2/2 average pool
    return layers + [Layer("classifier", 1000, channels, 1)]
