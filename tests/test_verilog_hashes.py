"""Every design's Verilog at its defaults is pinned by hash: a refactoring that changes the hardware fails here.

When a change to a design's RTL is intended, state it in the commit and update
``tests/data/verilog_sha256.json`` with ``python tests/test_verilog_hashes.py``.
"""

import hashlib
import json
import sys
from pathlib import Path

import pytest

import accelgen

HASHES = Path(__file__).parent / "data" / "verilog_sha256.json"
NET_MODEL = Path(__file__).parent / "data" / "net_pinned.onnx"


def pinned_point(name: str):
    """The design at its defaults; ``net`` on a committed ONNX file (its built-in default is trained on the
    machine, so its weights could differ in the last float bit across BLAS builds)."""
    return accelgen.design(name, **({"model": str(NET_MODEL)} if name == "net" else {}))


def default_hashes() -> dict:
    return {name: hashlib.sha256(pinned_point(name).verilog().encode()).hexdigest() for name in accelgen.designs()}


def test_every_design_is_pinned():
    assert sorted(json.loads(HASHES.read_text())) == accelgen.designs()


@pytest.mark.parametrize("name", sorted(json.loads(HASHES.read_text())))
def test_default_verilog_unchanged(name):
    pinned = json.loads(HASHES.read_text())[name]
    text = pinned_point(name).verilog()
    assert hashlib.sha256(text.encode()).hexdigest() == pinned, f"{name}: default Verilog changed"


if __name__ == "__main__":
    HASHES.write_text(json.dumps(default_hashes(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {HASHES}", file=sys.stderr)
