"""``build``: generate → simulate → synthesize every configured design, then ``report.md`` and ``report.html``.

The default configuration is every registered design at its defaults. A
``--config`` TOML file selects designs and parameters, one table per design::

    [dense-fc]
    n_in = 32
    parallelism = 2

Each design runs twice in simulation: once under random stalls (proves
nothing is lost or duplicated) and once without (the cycle count reported).
Both are checked bit for bit against the model. A design that fails is
reported and the others go on; the exit status says whether all passed.

The report has one section per family (``Family.title``), opening with the
family's "paper vs here" table: each claim of the seed paper beside this
build's figure for the same comparison, its operating point and the command
that regenerates the full comparison.
"""

import base64
import html
import json
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .. import design, registry
from ..errors import UserError
from . import export, plots

__all__ = ["Entry", "load_config", "build"]


@dataclass
class Entry:
    """One design of a build (a design object, ``accelgen.api.Design``) and what happened to it."""

    acc: object
    passed: bool = False
    error: str = ""
    counters: dict = field(default_factory=dict)  # of the stall-free simulation
    synth: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.acc.name

    @property
    def params(self) -> dict:
        return self.acc.params

    @property
    def cycles(self) -> int | None:
        return self.counters.get("cycles")


def _line_of(text: str, table: str, key: str | None = None) -> int:
    """1-based line of ``[table]`` (or of ``key = …`` inside it) in a TOML text; for a ``table`` that is a
    top-level key (``name = …`` before any table), that line; 0 if not found."""
    in_table, at_top, header = False, True, 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        assigned = stripped.split("=", 1)[0].strip().strip('"') if "=" in stripped else None
        if stripped.startswith("["):
            at_top = False
            in_table = stripped.strip("[]").strip().strip('"') == table
            header = number if in_table else header
        elif at_top and assigned == table and not header:
            header = number
        elif in_table and key is not None and assigned == key:
            return number
    return header


def _entry(path, text: str, name: str, table) -> Entry:
    """One ``[design]`` table checked key by key, so an error can name its line."""
    where = f"{path}:{_line_of(text, name)}"
    if not isinstance(table, dict):
        raise UserError(f"{where}: key {name!r} must be a table [design-name] of parameters")
    try:
        schema = {param.name: param for param in registry.get(name).parameters}
    except UserError as error:
        raise UserError(f"{where}: {error}") from None
    for key, value in table.items():
        line = f"{path}:{_line_of(text, name, key)}"
        if key not in schema:
            raise UserError(f"{line}: [{name}] unknown parameter {key!r}; allowed: {', '.join(schema)}")
        try:
            schema[key].parse(value)
        except UserError as error:
            raise UserError(f"{line}: [{name}] {error}") from None
    try:
        return Entry(design(name, **table))
    except UserError as error:
        raise UserError(f"{where}: [{name}] {error}") from None


def load_config(path: Path | None) -> list[Entry]:
    """Entries from a TOML file, or every registered design at its defaults.

    Errors name the file and line: ``FILE:LINE: [design] message``.
    """
    if path is None:
        return [Entry(design(name)) for name in registry.names()]
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise UserError(f"cannot read config {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"cannot read config {path}: not a UTF-8 text file (a TOML file is expected)") from None
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: malformed TOML: {error}") from None
    if not config:
        raise UserError(f"{path}: no [design] table; name at least one design to build (see: accelgen list)")
    return [_entry(path, text, name, table) for name, table in config.items()]


STALLS = (0.3, 0.0)  #: the two simulations of each design: under random stalls, then stall-free (counted)
STEPS_PER_DESIGN = 2 + len(STALLS)  #: generate, each simulation, synthesize


class Progress:
    """A text progress bar on stderr: one line per step, redrawn in place on a terminal."""

    WIDTH = 24

    def __init__(self, steps: int, stream=None):
        self.steps, self.stream = steps, stream or sys.stderr
        self.start = time.perf_counter()
        self.in_place = self.stream.isatty()

    def show(self, done: int, text: str, keep: bool = False):
        """The bar at ``done`` of the steps, the elapsed time and ``text``; ``keep`` leaves the line on a terminal."""
        filled = self.WIDTH * done // self.steps
        bar = "#" * filled + "." * (self.WIDTH - filled)
        message = f"[{bar}] {100 * done // self.steps:3d}% {time.perf_counter() - self.start:6.1f} s  {text}"
        if self.in_place:
            self.stream.write("\r\x1b[K" + message + ("\n" if keep else ""))
        else:
            self.stream.write(message + "\n")
        self.stream.flush()


def _run_entry(entry: Entry, out_dir: Path, target: str, step):
    """generate → simulate (stalled, then stall-free) → synthesize; ``step(what)`` announces each."""
    acc = entry.acc
    step("generate")
    acc.generate(out_dir / acc.name)
    for stall in STALLS:
        step(f"simulate (stall {stall})")
        result = acc.simulate(job_dir=out_dir / acc.name / "sim", stall=stall)
        if not result.passed:
            entry.error = result.reason
            return
    entry.counters = result.counters
    entry.passed = True
    step(f"synthesize ({target})")
    entry.synth = acc.synthesize(target)


def build(entries: list[Entry], out_dir: Path, target: str = "ecp5") -> bool:
    """Run every entry, write ``out_dir/report.md`` and ``report.html``; True when all passed."""
    out_dir = Path(out_dir)
    progress = Progress(STEPS_PER_DESIGN * len(entries))
    for number, entry in enumerate(entries, 1):
        prefix = f"[{number}/{len(entries)}] {entry.name}"
        first_step = (number - 1) * STEPS_PER_DESIGN
        steps = iter(range(first_step, first_step + STEPS_PER_DESIGN))

        def step(what, prefix=prefix, steps=steps):
            progress.show(next(steps), f"{prefix}: {what}")

        start = time.perf_counter()
        try:
            _run_entry(entry, out_dir, target, step)
        except Exception as error:  # one design's failure must not stop the build
            entry.error = f"{type(error).__name__}: {error}"
        status = "pass" if entry.passed else f"FAIL ({entry.error})"
        progress.show(first_step + STEPS_PER_DESIGN, f"{prefix}: {status} in {time.perf_counter() - start:.1f} s",
                      keep=True)
    export.write_atomically({out_dir / "report.md": render_markdown(entries, target),
                             out_dir / "report.html": render_html(entries, target, out_dir)})
    return all(entry.passed for entry in entries)


def _cell(value) -> str:
    return "–" if value is None else str(value)


SYNTH_KEYS = ("lut", "ff", "dsp", "bram", "fmax_mhz")
COLUMNS = ("design", "parameters", "sim", "LUT", "FF", "DSP", "BRAM", "Fmax (MHz)", "cycles")
CLAIM_COLUMNS = ("paper", "here", "operating point", "regenerate with")
NOT_MEASURED = "not measured by this build"


def _row(entry: Entry) -> list[str]:
    return [entry.name, ", ".join(f"{key}={value}" for key, value in entry.params.items()),
            "pass" if entry.passed else "FAIL", *(_cell(entry.synth.get(key)) for key in SYNTH_KEYS),
            _cell(entry.cycles)]


def _families(entries: list[Entry]) -> dict:
    """Entries grouped by family (``Family`` → entries), in build order."""
    groups: dict = {}
    for entry in entries:
        groups.setdefault(entry.acc.family, []).append(entry)
    return groups


def paper_vs_here(family, entries: list[Entry]) -> list[list[str]]:
    """One row per claim of ``family``: the paper's claim, this build's figure, its operating point, the command."""
    results = {entry.name: entry for entry in entries}
    rows = []
    for claim in family.claims:
        measured = claim.measure(results)
        figure, where = measured if measured else (NOT_MEASURED, "–")
        rows.append([claim.paper, figure, where, claim.command])
    return rows


def _markdown_table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(row) + " |" for row in rows]


def render_markdown(entries: list[Entry], target: str) -> str:
    lines = ["# accelgen build report", "",
             f"Synthesis target: {target}. Cycles: one run of the default test vectors without stalls.", ""]
    lines += _markdown_table(COLUMNS, [_row(entry) for entry in entries])
    for family, members in _families(entries).items():
        lines += ["", f"## {family.title}", "", f"Docs: {family.docs}. Paper vs here:", ""]
        lines += _markdown_table(CLAIM_COLUMNS, paper_vs_here(family, entries))
        lines += [""] + _markdown_table(COLUMNS, [_row(entry) for entry in members])
        for entry in members:
            lines += entry.acc.report_lines(entry)
    failures = [entry for entry in entries if not entry.passed]
    if failures:
        lines += ["", "## Failures", ""] + [f"- {entry.name}: {entry.error}" for entry in failures]
    return "\n".join(lines) + "\n"


def _family_plot(entries: list[Entry]) -> str:
    """A PNG (base64) of LUT and FF (bars) and Fmax (dots) per design of one family."""
    names = [entry.name for entry in entries]
    fig, area = plots.figure(figsize=(max(4, 1.4 * len(names)), 3), dpi=90)
    positions = range(len(names))
    area.bar([p - 0.2 for p in positions], [entry.synth.get("lut") or 0 for entry in entries], 0.4, label="LUT")
    area.bar([p + 0.2 for p in positions], [entry.synth.get("ff") or 0 for entry in entries], 0.4, label="FF")
    area.set_xticks(list(positions), names, rotation=15, fontsize=8)
    area.set_ylabel("cells")
    speed = area.twinx()
    speed.plot(list(positions), [entry.synth.get("fmax_mhz") or 0 for entry in entries], "o", color="black",
               label="Fmax")
    speed.set_ylabel("Fmax (MHz)")
    area.legend(loc="upper left", fontsize=8)
    return base64.b64encode(plots.png_bytes(fig)).decode()


def _design_html(entry: Entry, out_dir: Path) -> list[str]:
    name = entry.name
    manifest = out_dir / name / f"{name}.json"
    text = manifest.read_text() if manifest.exists() else "{}"
    status = "pass" if entry.passed else f"FAIL: {entry.error}"
    return [f"<details><summary><code>{name}</code> — {html.escape(status)}; "
            f"<a href=\"{name}/{name}.v\">Verilog</a></summary>",
            f"<pre>{html.escape(json.dumps(json.loads(text), indent=1))}</pre></details>"]


def _html_table(header, rows) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def render_html(entries: list[Entry], target: str, out_dir: Path) -> str:
    """One page: the summary table, then per family its paper-vs-here table, its designs, a plot and manifests."""
    lines = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\"><title>accelgen build report</title>",
             "<style>body{font-family:sans-serif;max-width:75em;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}td:first-child,td:nth-child(2)"
             "{text-align:left}table.claims td{text-align:left}.fail{color:#b00}</style></head><body>",
             "<h1>accelgen build report</h1>",
             f"<p>Synthesis target: {target}. Cycles: one run of the default test vectors without stalls. "
             f"{sum(e.passed for e in entries)} of {len(entries)} designs passed.</p>",
             _html_table(COLUMNS, [_row(entry) for entry in entries])]
    for family, members in _families(entries).items():
        lines += [f"<h2>{html.escape(family.title)}</h2>",
                  f"<p>Design notes and the full side-by-side benchmark: <code>{html.escape(family.docs)}</code>.</p>",
                  "<h3>Paper vs here</h3>",
                  _html_table(CLAIM_COLUMNS, paper_vs_here(family, entries)).replace("<table>", "<table class=\"claims\">", 1),
                  "<h3>Designs</h3>", _html_table(COLUMNS, [_row(entry) for entry in members])]
        if any(entry.synth for entry in members):
            lines.append(f"<p><img alt=\"resources of {html.escape(family.title)}\" "
                         f"src=\"data:image/png;base64,{_family_plot(members)}\"></p>")
        for entry in members:
            lines += _design_html(entry, out_dir)
    failures = [entry for entry in entries if not entry.passed]
    if failures:
        lines += ["<h2 class=\"fail\">Failures</h2><ul>"] + [
            f"<li class=\"fail\">{html.escape(e.name)}: {html.escape(e.error)}</li>" for e in failures] + ["</ul>"]
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"
