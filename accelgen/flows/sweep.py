"""``sweep``: a cartesian grid of one design's parameters, evaluated in parallel on Dask.

Every point is generated and synthesized (and, with ``--sim``, simulated
against its model without stalls, which gives its cycle count). Points run
as tasks of a ``dask.distributed`` client: a ``LocalCluster`` of ``jobs``
worker processes by default, or an existing scheduler given by address
(its workers need accelgen installed and share nothing but the tasks).
Synthesis results are cached by Verilog hash, so a repeated point is free.
Results are the same however they are scheduled: rows are sorted by grid
order and each point is a pure function of its parameters.

With ``train`` (a design's task, ``Design.tasks``) each point also trains
a model for that task at its parameters (cached) and adds ``accuracy``, the
bit-exact model's test accuracy.

Outputs in ``out_dir``: ``<design>-sweep.csv`` (one row per point) and
``<design>-pareto.png`` (LUT vs throughput, Pareto-optimal points marked;
with ``accuracy``, a second panel of accuracy against LUT).
"""

import csv
import io
import itertools
import tempfile
from pathlib import Path

from .. import design
from ..errors import UserError
from . import plots
from .outputs import write_atomically

__all__ = ["grid", "evaluate", "run_sweep", "pareto", "result_paths", "write_results"]

METRICS = ("lut", "ff", "dsp", "bram", "fmax_mhz")


def grid(name: str, values: dict[str, str]) -> list[dict]:
    """Validated parameter dicts of design ``name`` for the product of ``key=v1,v2,…`` lists (first key
    varies slowest)."""
    axes = {key: [item.strip() for item in text.split(",") if item.strip()] for key, text in values.items()}
    for key, items in axes.items():
        if not items:
            raise UserError(f"-p {key}= has no values; give {key}=v1,v2,…")
    keys = list(axes)
    return [design(name, **dict(zip(keys, combination))).params for combination in itertools.product(*axes.values())]


def evaluate(name: str, params: dict, target: str, with_sim: bool, task: str | None = None) -> dict:
    """One point: synthesis figures, cycles from a stall-free simulation and the trained accuracy when
    asked. Runs on a worker."""
    acc = design(name, **params)
    row = {**params, **{key: acc.synthesize(target).get(key) for key in METRICS}}
    if task:
        row["accuracy"] = acc.accuracy(task)
    row["cycles"] = None
    if with_sim:
        with tempfile.TemporaryDirectory(prefix="accelgen-sweep-") as job_dir:
            result = acc.simulate(job_dir=job_dir, stall=0.0)
            if not result.passed:
                raise RuntimeError(f"{acc!r}: {result.reason}")
            row["cycles"] = result.counters.get("cycles")
    return row


def _client(scheduler: str | None, jobs: int):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except OSError as error:
            raise UserError(f"cannot reach Dask scheduler {scheduler}: {error}") from None
    cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def run_sweep(name: str, points: list[dict], *, target="ecp5", with_sim=False, scheduler=None, jobs=2,
              task: str | None = None) -> list[dict]:
    """Evaluate every point on Dask; rows in grid order."""
    client, cluster = _client(scheduler, jobs)
    try:
        futures = client.map(evaluate, [name] * len(points), points, [target] * len(points),
                             [with_sim] * len(points), [task] * len(points), pure=False)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def throughput(row: dict) -> float | None:
    """Results per µs at Fmax when the cycles are known, else Fmax alone (MHz)."""
    if not row.get("fmax_mhz"):
        return None
    return row["fmax_mhz"] / row["cycles"] if row.get("cycles") else row["fmax_mhz"]


def pareto(rows: list[dict]) -> list[bool]:
    """True for points no other point beats on both fewer LUTs and more throughput."""
    scored = [(row.get("lut"), throughput(row)) for row in rows]
    front = []
    for lut, speed in scored:
        if lut is None or speed is None:
            front.append(False)
            continue
        dominated = any(other_lut is not None and other_speed is not None and other_lut <= lut and
                        other_speed >= speed and (other_lut, other_speed) != (lut, speed)
                        for other_lut, other_speed in scored)
        front.append(not dominated)
    return front


def _csv_text(rows: list[dict], front: list[bool]) -> str:
    buffer = io.StringIO()
    fields = [*rows[0].keys(), "throughput", "pareto"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row, optimal in zip(rows, front):
        writer.writerow({**row, "throughput": throughput(row), "pareto": optimal})
    return buffer.getvalue()


def _plot_png(name: str, rows: list[dict], front: list[bool]) -> bytes:
    trained = any(row.get("accuracy") is not None for row in rows)
    fig, panels = plots.figure(ncols=2 if trained else 1, figsize=(11 if trained else 6, 4), dpi=100, squeeze=False)
    axes = panels[0][0]
    if trained:
        scored = [(row["lut"], 100 * row["accuracy"], optimal) for row, optimal in zip(rows, front)
                  if row.get("lut") is not None]
        panels[0][1].scatter([p[0] for p in scored], [p[1] for p in scored],
                             c=["tab:red" if p[2] else "tab:gray" for p in scored])
        panels[0][1].set_xlabel("LUT")
        panels[0][1].set_ylabel("test accuracy (%)")
        panels[0][1].set_title("accuracy (red: on the LUT/throughput front)")
    points = [(row["lut"], throughput(row), optimal) for row, optimal in zip(rows, front)
              if row.get("lut") is not None and throughput(row) is not None]
    axes.scatter([p[0] for p in points], [p[1] for p in points], color="tab:gray", label="design point")
    best = sorted((p for p in points if p[2]), key=lambda p: p[0])
    axes.plot([p[0] for p in best], [p[1] for p in best], "o-", color="tab:red", label="Pareto front")
    axes.set_xlabel("LUT")
    axes.set_ylabel("results / µs at Fmax" if any(row.get("cycles") for row in rows) else "Fmax (MHz)")
    axes.set_title(f"{name} sweep")
    axes.legend()
    return plots.png_bytes(fig)


def result_paths(name: str, out_dir) -> tuple[Path, Path]:
    """Where a sweep of ``name`` writes its CSV and its Pareto plot."""
    return Path(out_dir) / f"{name}-sweep.csv", Path(out_dir) / f"{name}-pareto.png"


def write_results(name: str, rows: list[dict], out_dir: Path) -> tuple[Path, Path]:
    front = pareto(rows)
    csv_path, png_path = result_paths(name, out_dir)
    write_atomically({csv_path: _csv_text(rows, front), png_path: _plot_png(name, rows, front)})
    return csv_path, png_path
