"""The built-in digits networks (MLPs and CNNs) end to end, side by side in one run; writes
docs/network-results.md.

    python benchmarks/network.py                   # both networks, 32 test images through the RTL
    python benchmarks/network.py --rtl-images 450  # every test image through the RTL (slow)
    python benchmarks/network.py --cached-only     # synthesis from the cache only

For ``digits-dense`` and ``digits-cnn`` on dense engines and ``digits-circulant``,
``digits-cnn-circulant`` (ADMM, k = 8) on the hybrid engines: digits test accuracy (onnxruntime float, the bit-exact
model on all 450 test images, the RTL on the first ``--rtl-images``), each
layer's engine, lanes and interval (``models.net.layer_interval``), the
network's steady-state interval measured by the RTL (``sim/tb_net.py``,
stall-free, 8 images), ECP5 LUT/FF/DSP/BRAM and Fmax (yowasp flow, cached),
and images per second at Fmax for the overlapped network beside the same
layers run one after another (the sum of their intervals).
"""

import argparse
import tempfile
from pathlib import Path

from common import ROOT, progress

import accelgen
from accelgen.flows.outputs import write_atomically

POINTS = (("digits-dense", "dense"), ("digits-circulant", "hybrid"), ("digits-cnn", "dense"),
          ("digits-cnn-circulant", "hybrid"))


def measure(model: str, engine: str, rtl_images: int, cached_only: bool) -> dict:
    acc = accelgen.design("net", model=model, engine=engine)
    progress(f"{model}: accuracy (RTL on {rtl_images} images)")
    accuracy = acc.digits_accuracy(rtl_images)
    progress(f"{model}: interval")
    with tempfile.TemporaryDirectory() as directory:
        result = acc.simulate(job_dir=directory, stall=0.0, batch=8)
    if not result.passed:
        raise SystemExit(f"{model}: RTL differs from the model: {result.reason}")
    progress(f"{model}: synthesis")
    synth = acc.synthesize("ecp5", cached_only=cached_only) or {}
    return {"acc": acc, "accuracy": accuracy, "interval": result.counters["interval"], "synth": synth}


def cnn_accuracy_vs_k(ks=(2, 4, 8)) -> list[dict]:
    """The digits CNN with ``conv2`` block-circulant at each ``k`` (ADMM from the same dense CNN): float
    accuracy (onnxruntime) and the bit-exact model's, on all test images; ``k = 1`` is the dense twin."""
    from models.train.admm import load_split
    from models.train.cnn import cnn_layers, train_circulant_cnn, train_cnn
    from models.train.digits_onnx import write_onnx

    data = load_split(0)
    dense = train_cnn(data)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for k in (1, *ks):
            model = dense if k == 1 else train_circulant_cnn(dense, data, k)
            path = write_onnx(Path(directory) / f"cnn{k}.onnx", cnn_layers(model), "cnn", input_shape=(1, 8, 8))
            acc = accelgen.design("net", model=str(path), engine="dense" if k == 1 else "auto", k=max(k, 2))
            progress(f"digits CNN at k={k}")
            rows.append({"k": k, **acc.digits_accuracy(rtl_images=0),
                         "conv2_weights": 16 * 8 * 9 // k})
    return rows


def _per_second(synth: dict, cycles: int) -> str:
    return f"{synth['fmax_mhz'] * 1e3 / cycles:.1f}" if synth.get("fmax_mhz") else "–"


def render(rows: list[dict], rtl_images: int, by_k: list[dict]) -> str:
    lines = ["# Networks: the built-in digits networks end to end", "",
             "Regenerate with `python benchmarks/network.py` (docs/network.md explains the design). "
             "Q16.9 words, `target_interval=512`, ECP5 LFE5U-85F, nextpnr seed 1.", "",
             "| network | engines | float acc. | model acc. (450) | RTL acc. (first "
             f"{rtl_images}) | RTL = model | LUT | FF | DSP | BRAM | Fmax (MHz) | interval (cycles) | "
             "k images/s | layers one after another: cycles | k images/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        acc, accuracy, synth = row["acc"], row["accuracy"], row["synth"]
        sequential = sum(layer.interval for layer in acc.layers)
        resources = [str(synth.get(key, "–")) for key in ("lut", "ff", "dsp", "bram", "fmax_mhz")]
        lines.append(f"| {acc.params['model']} | {acc.params['engine']} | {accuracy['float']:.4f} | "
                     f"{accuracy['model']:.4f} | {accuracy['rtl']:.4f} | {accuracy['rtl_equals_model']} | "
                     + " | ".join(resources) + f" | {row['interval']} | {_per_second(synth, row['interval'])} | "
                     f"{sequential} | {_per_second(synth, sequential)} |")
    lines += ["", "Layers (interval: cycles per image of that layer alone, `models.net.layer_interval`):", "",
              "| network | layer | engine | shape | lanes | interval | activation | projection error |",
              "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for layer in row["acc"].layer_table():
            lines.append(f"| {row['acc'].params['model']} | {layer['name']} | {layer['engine']} | "
                         f"{layer['n_out']}×{layer['n_in']} | {layer['parallelism']} | {layer['interval']} | "
                         f"{layer['activation']} | {layer['projection_error']:.4f} |")
    lines += ["", "The digits CNN with `conv2` block-circulant at each k (ADMM from the same dense CNN; k = 1 is "
              "the dense twin; `engine=auto`: circulant exactly where the weights are), all 450 test images:", "",
              "| k | conv2 weights | float acc. | model acc. |", "|---|---|---|---|"]
    lines += [f"| {row['k']} | {row['conv2_weights']} | {row['float']:.4f} | {row['model']:.4f} |" for row in by_k]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtl-images", type=int, default=32)
    parser.add_argument("--cached-only", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "network-results.md")
    args = parser.parse_args()
    rows = [measure(model, engine, args.rtl_images, args.cached_only) for model, engine in POINTS]
    write_atomically({args.out: render(rows, args.rtl_images, cnn_accuracy_vs_k())})
    print(args.out)


if __name__ == "__main__":
    main()
