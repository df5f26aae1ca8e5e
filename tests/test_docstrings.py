"""Every public hardware component states its contract in one docstring style (numpydoc sections
Parameters, Members, Latency, Throughput), and no code cites a document users don't have."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("Parameters", "Members", "Latency", "Throughput")


def _component_nodes():
    for path in sorted((ROOT / "hw").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            bases = {getattr(base, "attr", getattr(base, "id", None)) for base in node.bases} \
                if isinstance(node, ast.ClassDef) else set()
            if "Component" in bases and not node.name.startswith("_"):
                yield pytest.param(node, id=f"{path.relative_to(ROOT)}:{node.name}")


@pytest.mark.parametrize("node", list(_component_nodes()))
def test_component_docstring_has_every_section(node):
    doc = ast.get_docstring(node) or ""
    missing = [name for name in SECTIONS if f"\n{name}\n{'-' * len(name)}\n" not in doc]
    assert not missing, f"{node.name}: no {', '.join(missing)} section"


def test_no_code_cites_the_spec():
    cited = [str(path.relative_to(ROOT)) for package in ("accelgen", "hw", "models", "sim", "tests", "benchmarks")
             for path in (ROOT / package).rglob("*.py") if "SPEC " + "§" in path.read_text()]
    assert not cited
