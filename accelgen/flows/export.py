"""``generate``: Amaranth component → Verilog text + manifest, written atomically.

Verilog is emitted without source locations (``emit_src=False``), so the
same parameters give byte-identical files on any machine. Elaboration costs
seconds (Amaranth's Yosys backend), so the text is cached under
``cache_dir()/verilog/`` keyed by design, parameters and a hash of the
sources that decide the hardware: ``hw/``, ``models/`` and the declarations
in ``accelgen/families/``.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape

from hw.common.dsp import BEHAVIOURAL_VERILOG, MULTIPLIER_MODULE

from .. import __version__
from .cache import cache_dir
from .outputs import check_outputs, write_atomically

__all__ = ["component_verilog", "elaborate", "manifest", "generate", "verilog_hash"]

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def _sources_hash() -> str:
    digest = hashlib.sha256()
    for package in ("hw", "models", "accelgen/families"):
        for path in sorted((_PACKAGE_ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(_PACKAGE_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def verilog_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _params_key(design) -> str:
    spec = json.dumps({"design": design.name, "params": design.params, "files": design.files(),
                       "src": _sources_hash()}, sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()[:24]


def _signature_ports(component) -> list[dict]:
    """Top-level ports in Verilog naming: ``clk``, ``rst``, then the signature's members."""
    found = [{"name": "clk", "dir": "in", "width": 1, "signed": False},
             {"name": "rst", "dir": "in", "width": 1, "signed": False}]
    for path, member in component.signature.members.flatten():
        if not member.is_port:
            continue
        shape = Shape.cast(member.shape)
        found.append({
            "name": "__".join(str(part) for part in path),
            "dir": "in" if member.flow.name == "In" else "out",
            "width": shape.width,
            "signed": shape.signed,
        })
    return found


def component_verilog(component, name: str) -> str:
    """``component`` as Verilog, top module ``name``, self-contained: an instantiated hard-block
    multiplier (``hw/common/dsp.py``) gets its behavioural definition appended."""
    text = verilog.convert(component, name=name, emit_src=False)
    return text + BEHAVIOURAL_VERILOG if MULTIPLIER_MODULE in text else text


def elaborate(design) -> tuple[str, list[dict]]:
    """Verilog text and port list of one design point (``accelgen.api.Design``), elaborated once and cached."""
    stem = cache_dir() / "verilog" / f"{design.toplevel}-{_params_key(design)}"
    v_file, ports_file = stem.with_suffix(".v"), stem.with_suffix(".ports.json")
    if v_file.exists() and ports_file.exists():
        return v_file.read_text(), json.loads(ports_file.read_text())
    component = design.component()
    text = component_verilog(component, design.toplevel)
    found = _signature_ports(component)
    write_atomically({v_file: text, ports_file: json.dumps(found)})
    return text, found


def manifest(design, text: str, port_list: list[dict]) -> dict:
    """What a user (or a later flow) needs to know about the generated file."""
    formats = {name: {**spec.fmt.describe(), "scale": spec.scale, "shape": spec.shape_json(), "role": role}
               for role, specs in (("input", design.inputs()), ("output", design.outputs()))
               for name, spec in specs.items()}
    return {
        "design": design.name,
        "top": design.toplevel,
        "parameters": design.params,
        "files": design.files(),
        "ports": port_list,
        "formats": formats,
        "verilog_sha256": verilog_hash(text),
        "accelgen_version": __version__,
    }


def generate(design, out_dir=None) -> tuple[Path, Path]:
    """Write ``<out_dir>/<design>.v`` and ``.json``; default ``rtl_out/<design>/``."""
    out_dir = Path(out_dir if out_dir is not None else Path("rtl_out") / design.name)
    v_path, json_path = out_dir / f"{design.name}.v", out_dir / f"{design.name}.json"
    check_outputs([v_path, json_path])
    text, port_list = elaborate(design)
    info = manifest(design, text, port_list)
    write_atomically({v_path: text, json_path: json.dumps(info, indent=2, sort_keys=True) + "\n"})
    return v_path, json_path
