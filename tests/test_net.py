"""``net``: ONNX import against onnxruntime, the bit-exact model against the float network, the RTL against
the model (hypothesis-drawn networks under stalls), layer overlap from the RTL's counters, bad input."""

import json

import numpy as np
import onnx
import onnxruntime
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import accelgen
from models.fixed import FixedFormat, quantize
from models.net import ACTIVATIONS, Layer, error_bound, fold, layer_interval, network_float, network_raw
from models.onnx_import import load_layers
from models.train.admm import load_split
from models.train.digits_onnx import write_onnx

from .test_cli import accelgen as cli
from .test_cli import assert_usage_error

FMT = FixedFormat(16, 10)


def random_layers(rng, sizes, activations, scale=1.0) -> list[Layer]:
    """Float32-representable random layers ``sizes[0] → … → sizes[-1]``."""
    layers = []
    for number, (n_in, n_out, activation) in enumerate(zip(sizes, sizes[1:], activations)):
        weight = rng.uniform(-scale, scale, (n_out, n_in)).astype(np.float32).astype(np.float64)
        bias = rng.uniform(-0.5, 0.5, n_out).astype(np.float32).astype(np.float64)
        layers.append(Layer(f"fc{number}", weight, bias, activation))
    return layers


def onnxruntime_output(path, x) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: np.asarray(x, dtype=np.float32)})[0]


def save(graph, path, opset=17):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


# -- ONNX import --------------------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 12), min_size=2, max_size=4), data=st.data())
def test_import_matches_onnxruntime_on_gemm_chains(tmp_path, sizes, data):
    activations = data.draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=len(sizes) - 1,
                                     max_size=len(sizes) - 1))
    rng = np.random.default_rng(len(sizes))
    layers = random_layers(rng, sizes, activations)
    path = write_onnx(tmp_path / "m.onnx", layers)
    imported, input_shape = load_layers(path)
    x = rng.uniform(-2, 2, (5, sizes[0]))
    assert input_shape == (sizes[0],) and [layer.activation for layer in imported] == activations
    assert np.abs(network_float(imported, x)[-1] - onnxruntime_output(path, x)).max() < 1e-4


def test_import_matmul_add_transb0_alpha_beta_flatten_reshape_identity(tmp_path):
    """The other spellings of a linear layer give the same network as onnxruntime runs."""
    rng = np.random.default_rng(3)
    w1, b1 = rng.normal(size=(6, 8)).astype(np.float32), rng.normal(size=6).astype(np.float32)
    w2, b2 = rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    init = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2"),
            numpy_helper.from_array(np.array([-1, 8], dtype=np.int64), "shape")]
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1),
             helper.make_node("Reshape", ["f", "shape"], ["r"]),
             helper.make_node("Identity", ["r"], ["i"]),
             helper.make_node("Gemm", ["i", "w1", "b1"], ["g"], transB=1, alpha=0.5, beta=2.0),
             helper.make_node("Tanh", ["g"], ["t"]),
             helper.make_node("MatMul", ["t", "w2"], ["m"]),
             helper.make_node("Add", ["m", "b2"], ["a"]),
             helper.make_node("Sigmoid", ["a"], ["y"])]
    graph = helper.make_graph(nodes, "spellings", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], init)
    path = save(graph, tmp_path / "m.onnx")
    layers, input_shape = load_layers(path)
    x = rng.uniform(-1, 1, (3, 2, 4))
    assert input_shape == (2, 4) and [layer.activation for layer in layers] == ["tanh", "sigmoid"]
    assert np.abs(network_float(layers, x.reshape(3, 8))[-1] - onnxruntime_output(path, x)).max() < 1e-5


# -- folding and the model against the float reference -------------------------------------------------------------


@pytest.mark.parametrize("engine, n_in, n_out, k", [("dense", 64, 64, 0), ("dense", 20, 7, 0),
                                                    ("circulant", 64, 64, 8), ("circulant", 32, 128, 16)])
def test_fold_picks_the_fewest_lanes_that_meet_the_target(engine, n_in, n_out, k):
    for target in (1, 100, 300, 700, 5000):
        lanes = fold(engine, n_in, n_out, k, target)
        interval = layer_interval(engine, n_in, n_out, k, lanes)
        if interval <= target:
            assert lanes == 1 or layer_interval(engine, n_in, n_out, k, lanes - 1) > target
        else:
            assert lanes == (n_out if engine == "dense" else k // 2 + 1), "unreachable: the most lanes"


@pytest.mark.parametrize("model, engine", [("digits-dense", "dense"), ("digits-circulant", "hybrid")])
def test_digits_model_within_its_bound_of_onnxruntime_and_within_a_point_of_float_accuracy(model, engine):
    acc = accelgen.design("net", model=model, engine=engine)
    data = load_split(0)
    reference = acc.reference(data.x_test)
    raw = network_raw(acc.layers, quantize(data.x_test, acc.fmt), acc.fmt)
    floats = network_float(acc.float_layers[0], data.x_test)
    assert np.abs(floats[-1] - reference).max() < 1e-4, "our float network is onnxruntime's"
    bound = error_bound(acc.float_layers[0], acc.layers, data.x_test, acc.fmt)
    assert np.all(np.abs(raw * acc.fmt.lsb - reference) <= bound + 1e-4)
    assert bound.max() < 0.5 * np.abs(reference).max(), "the bound says something"
    float_accuracy = (reference.argmax(1) == data.y_test).mean()
    model_accuracy = (raw.argmax(1) == data.y_test).mean()
    assert float_accuracy > 0.95 and model_accuracy >= float_accuracy - 0.01


def test_admm_weights_pass_the_projection_exactly_and_dense_ones_do_not():
    circulant = accelgen.design("net", model="digits-circulant", engine="hybrid").layers
    dense = accelgen.design("net", model="digits-dense", engine="hybrid").layers
    assert [layer.engine for layer in circulant] == ["circulant", "circulant", "dense"]
    assert max(layer.projection_error for layer in circulant) < 1e-6
    assert min(layer.projection_error for layer in dense[:2]) > 0.5
    # engine=auto: circulant exactly where the weights already are (k = 2 divides the 10-way layer too)
    auto = accelgen.design("net", model="digits-circulant", engine="auto", k=2).layers
    assert [layer.engine for layer in auto] == ["dense", "dense", "dense"]
    auto = accelgen.design("net", model="digits-circulant", engine="auto").layers
    assert [layer.engine for layer in auto] == ["circulant", "circulant", "dense"]


# -- the RTL ----------------------------------------------------------------------------------------------------------


def _rtl_network(tmp_path, draw_sizes, activations, engine, target, seed):
    layers = random_layers(np.random.default_rng(seed), draw_sizes, activations, scale=0.6)
    path = write_onnx(tmp_path / f"net{seed}.onnx", layers)
    return accelgen.design("net", model=str(path), engine=engine, k=4, width=16, frac=10, target_interval=target)


def _network_strategy():
    return st.tuples(
        st.lists(st.sampled_from([4, 8]), min_size=2, max_size=4),
        st.sampled_from(["dense", "hybrid"]),
        st.integers(20, 200),
        st.integers(0, 2**16),
    )


def _check_rtl(tmp_path, network, data):
    sizes, engine, target, seed = network
    if engine == "dense":  # dense layers take any size
        sizes = [size - data.draw(st.integers(0, 3)) for size in sizes]
    activations = data.draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    acc = _rtl_network(tmp_path, sizes, activations, engine, target, seed)
    result = acc.simulate(job_dir=tmp_path / "sim", stall=0.3, seed=seed, batch=3)
    assert result.passed, f"{acc!r} {sizes} {activations}: {result.reason}"


@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(network=_network_strategy(), data=st.data())
def test_rtl_equals_model_on_random_networks_under_stalls(tmp_path, network, data):
    _check_rtl(tmp_path, network, data)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(network=_network_strategy(), data=st.data())
def test_rtl_equals_model_on_many_random_networks_under_stalls(tmp_path, network, data):
    _check_rtl(tmp_path, network, data)


@pytest.mark.parametrize("model, engine", [("digits-dense", "dense"),
                                           pytest.param("digits-circulant", "hybrid", marks=pytest.mark.slow)])
def test_layers_overlap_the_network_runs_at_its_slowest_layer(tmp_path, model, engine):
    """Steady-state cycles per image from the RTL within 5 % of the slowest layer's interval, and well
    under the layers run one after another; digits images through the RTL equal the model."""
    acc = accelgen.design("net", model=model, engine=engine)
    result = acc.simulate(job_dir=tmp_path, stall=0.0, batch=6)
    assert result.passed, result.reason
    intervals = [layer.interval for layer in acc.layers]
    assert max(intervals) <= result.counters["interval"] <= 1.05 * max(intervals)
    assert result.counters["interval"] < 0.5 * sum(intervals)
    accuracy = acc.digits_accuracy(rtl_images=6)
    assert accuracy["rtl_equals_model"]


def test_run_from_the_command_line_reports_cycles_and_every_layers_interval(tmp_path):
    x = load_split(0).x_test[:3]
    np.savez(tmp_path / "x.npz", x=x)
    result = cli("run", "net", "--input", "x.npz", "--output", "y.npz", "--report", "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    acc = accelgen.design("net")
    with np.load(tmp_path / "y.npz") as y:
        assert np.array_equal(y["y_raw"], acc.model({"x": x})["y_raw"])
    assert report["cycles"] > 0 and [row["interval"] for row in report["layers"]] == [l.interval for l in acc.layers]


def test_manifest_records_the_model_files_sha256(tmp_path):
    acc = accelgen.design("net")
    _, manifest = acc.generate(tmp_path)
    import hashlib
    recorded = json.loads(manifest.read_text())["files"]["model"]
    assert recorded == hashlib.sha256(acc.model_path.read_bytes()).hexdigest()


# -- bad input ------------------------------------------------------------------------------------------------------


def _bad_models(tmp_path) -> dict:
    (tmp_path / "text.onnx").write_text("not a model\n")
    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 4, 4])
    weight = [numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")]
    for stem, node, out in (("softmax", helper.make_node("Softmax", ["x"], ["y"], name="soft1"), [1, 4, 4]),
                            ("padded", helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", pads=[1, 1, 1, 1]),
                             [1, 4, 4]),
                            ("pool3", helper.make_node("MaxPool", ["x"], ["y"], name="pool1", kernel_shape=[3, 3],
                                                       strides=[3, 3]), [1, 1, 1])):
        graph = helper.make_graph([node], stem, [image], [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                                            ["n", *out])],
                                  weight if node.op_type == "Conv" else [])
        save(graph, tmp_path / f"{stem}.onnx")
    layer = random_layers(np.random.default_rng(0), [6, 5], ["relu"])
    dynamic = onnx.load(str(write_onnx(tmp_path / "ok.onnx", layer)))
    dynamic.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "features"
    (tmp_path / "dynamic.onnx").write_bytes(dynamic.SerializeToString())
    write_onnx(tmp_path / "odd.onnx", random_layers(np.random.default_rng(0), [8, 6], ["none"]))
    write_onnx(tmp_path / "huge.onnx", [Layer("big", np.zeros((512, 512)), np.zeros(512))])
    return {"text": "not an ONNX file", "softmax": "unsupported op Softmax at node 'soft1'",
            "padded": "Conv node 'conv1': pads=[1, 1, 1, 1] is not supported",
            "pool3": "MaxPool node 'pool1': kernel_shape=[3, 3]; only 2×2",
            "dynamic": "axis 1 is dynamic ('features')", "odd": "not multiples of k=4"}


def test_bad_models_exit_2_with_one_line_and_write_nothing(tmp_path):
    for stem, fragment in _bad_models(tmp_path).items():
        result = cli("generate", "net", "-p", f"model={stem}.onnx", "-p", "engine=circulant", "-p", "k=4",
                     "-o", "out", cwd=tmp_path)
        assert_usage_error(result, fragment)
        assert not (tmp_path / "out").exists()
    assert_usage_error(cli("generate", "net", "-p", "model=missing.onnx", cwd=tmp_path), "model=missing.onnx",
                       "no such file")


def test_weights_beyond_the_block_ram_are_refused_before_synthesis(tmp_path):
    _bad_models(tmp_path)
    result = cli("synth", "net", "-p", "model=huge.onnx", "-p", "target_interval=10000000", "--target", "ice40",
                 cwd=tmp_path)
    assert_usage_error(result, "block RAMs", "iCE40UP5K")


# -- convolutional networks ---------------------------------------------------------------------------------------


def random_cnn(rng, c_in, size, kernel, c_out, pool, activation, classes=5) -> list[Layer]:
    out = size - kernel + 1
    layers = [Layer("conv", rng.uniform(-0.5, 0.5, (c_out, c_in, kernel, kernel)).astype(np.float32).astype(float),
                    rng.uniform(-0.2, 0.2, c_out).astype(np.float32).astype(float), activation, op="conv", size=size)]
    if pool:
        layers.append(Layer("pool", np.zeros((0, 0)), np.zeros(0), op="pool", kind=pool, channels=c_out, size=out))
        out //= 2
    features = c_out * out * out
    layers.append(Layer("fc", rng.uniform(-0.5, 0.5, (classes, features)).astype(np.float32).astype(float),
                        rng.uniform(-0.2, 0.2, classes).astype(np.float32).astype(float)))
    return layers


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(1, 3), st.integers(2, 8), st.integers(1, 3), st.integers(1, 4)),
       pool=st.sampled_from([None, "max", "avg"]), activation=st.sampled_from(ACTIVATIONS))
def test_cnn_import_matches_onnxruntime(tmp_path, shape, pool, activation):
    """Conv, pooling and a fully connected layer after the flattened image (NCHW in ONNX, NHWC on the wire)."""
    c_in, size, kernel, c_out = shape
    kernel = min(kernel, size)
    if pool and size - kernel + 1 < 2:
        pool = None
    rng = np.random.default_rng(size * 7 + kernel)
    path = write_onnx(tmp_path / "cnn.onnx", random_cnn(rng, c_in, size, kernel, c_out, pool, activation), "cnn",
                      input_shape=(c_in, size, size))
    layers, input_shape = load_layers(path)
    x = rng.uniform(-1, 1, (3, c_in, size, size))
    assert input_shape == (c_in, size, size)
    assert np.abs(network_float(layers, x)[-1] - onnxruntime_output(path, x)).max() < 1e-4


@pytest.mark.parametrize("engine", ["hybrid", pytest.param("dense", marks=pytest.mark.slow)])
def test_cnn_rtl_equals_model_under_stalls_and_runs_at_its_slowest_layer(tmp_path, engine):
    """A circulant (k = 2) convolution, 2×2 max pooling and a dense classifier on the RTL."""
    rng = np.random.default_rng(11)
    path = write_onnx(tmp_path / "cnn.onnx", random_cnn(rng, 2, 6, 3, 4, "max", "relu"), "cnn", input_shape=(2, 6, 6))
    acc = accelgen.design("net", model=str(path), engine=engine, k=2, width=16, frac=10, target_interval=200)
    assert [layer.engine for layer in acc.layers] == [engine.replace("hybrid", "circulant"), "pool", "dense"]
    stalled = acc.simulate(job_dir=tmp_path / "stalled", stall=0.3, batch=3)
    assert stalled.passed, stalled.reason
    steady = acc.simulate(job_dir=tmp_path / "steady", stall=0.0, batch=6)
    assert steady.passed, steady.reason
    slowest = max(layer.interval for layer in acc.layers)
    assert slowest <= steady.counters["interval"] <= 1.05 * slowest


def test_digits_cnn_circulant_within_two_points_of_its_dense_twin():
    """CirCNN's claim at k = 8 on the built-in CNNs: the bit-exact model of the ADMM-circulant CNN
    (conv2 block-circulant) against the dense CNN's float accuracy."""
    dense = accelgen.design("net", model="digits-cnn").digits_accuracy(rtl_images=0)
    circulant_net = accelgen.design("net", model="digits-cnn-circulant", engine="hybrid")
    circulant = circulant_net.digits_accuracy(rtl_images=0)
    assert dense["float"] > 0.95
    assert circulant["model"] >= dense["float"] - 0.02
    assert [layer.engine for layer in circulant_net.layers] == ["dense", "circulant", "pool", "dense"]
    assert circulant_net.layers[1].projection_error < 1e-6
