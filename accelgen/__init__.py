"""accelgen: parametric Verilog for FPGA neural-network accelerators, verified against NumPy models.

The Python API (``docs/api.md``)::

    import accelgen
    accelgen.designs()                                   # every design name
    acc = accelgen.design("dense-fc", n_in=32, n_out=16)  # validated; accelgen.UserError otherwise
    acc.verilog(); acc.generate("out/"); acc.model(arrays); acc.run(arrays)
    acc.simulate(seed=1, stall=0.3); acc.synthesize(target="ecp5", seeds=1)
    accelgen.build(); accelgen.sweep("dense-fc", {"parallelism": "1,2,4"}); accelgen.aqfp_map(...)
"""

__version__ = "0.1.0"

from .errors import UserError  # noqa: E402
from . import registry  # noqa: E402
from .api import Design  # noqa: E402

__all__ = ["__version__", "UserError", "Design", "designs", "design", "build", "sweep", "aqfp_map"]


def designs() -> list[str]:
    """The names of every registered design, sorted."""
    return registry.names()


def design(name: str, **params):
    """Design ``name`` at ``params`` (defaults for the rest), validated: an :class:`accelgen.api.Design`.

    Bad names or values raise :class:`UserError` with one line naming the value and the allowed range.
    """
    return registry.get(name)(**params)


def build(config=None, out_dir="rtl_out", target: str = "ecp5") -> bool:
    """The main job: every design of ``config`` (a TOML file; default every design at its defaults)
    generated, simulated and synthesized; writes ``out_dir/report.md`` and ``report.html``.
    Returns whether every design passed."""
    from pathlib import Path

    from .flows import report
    from .flows.outputs import check_outputs
    entries = report.load_config(config)
    check_outputs([Path(out_dir) / "report.md", Path(out_dir) / "report.html"])
    return report.build(entries, Path(out_dir), target)


def sweep(name: str, values: dict, *, out_dir="rtl_out", target: str = "ecp5", with_sim: bool = False,
          scheduler: str | None = None, jobs: int = 2, on_start=None, train: str | None = None):
    """A grid of design ``name``'s parameters (``{"key": "v1,v2,…"}``, the product of the lists) on Dask:
    every point synthesized (and simulated with ``with_sim``; trained for task ``train``, adding
    ``accuracy``). Writes ``<name>-sweep.csv`` and
    ``<name>-pareto.png`` in ``out_dir``; returns ``(rows, csv_path, png_path)``. ``on_start(points)``
    is called once the grid is validated, before any work."""
    from pathlib import Path

    from .flows import sweep as flow
    from .flows.outputs import check_outputs
    if not 1 <= jobs <= 64:
        raise UserError(f"jobs={jobs} out of range [1, 64]")
    name = registry.get(name).name
    points = flow.grid(name, values)
    if train is not None and train not in registry.get(name).tasks:
        tasks = registry.get(name).tasks
        raise UserError(f"--train {train} not allowed for {name}; "
                        + (f"allowed: {', '.join(tasks)}" if tasks else "it has no training task"))
    check_outputs(flow.result_paths(name, out_dir))
    if on_start:
        on_start(points)
    rows = flow.run_sweep(name, points, target=target, with_sim=with_sim, scheduler=scheduler, jobs=jobs,
                          task=train)
    return (rows, *flow.write_results(name, rows, Path(out_dir)))


def aqfp_map(netlist, top: str, out, *, verilog=None, sharing: bool = True, majority: bool = True):
    """Map module ``top`` of the combinational Verilog file ``netlist`` to phase-balanced AQFP cells;
    write the JSON netlist to ``out`` (and, with ``verilog``, the balanced netlist as Verilog) as one
    unit. Returns the ``models.aqfp.Netlist``."""
    from pathlib import Path

    from .flows import aqfp
    from .flows.outputs import check_outputs
    check_outputs([out, verilog], inputs=[netlist])
    mapped = aqfp.map_verilog(Path(netlist), top, sharing=sharing, majority=majority)
    aqfp.write_outputs(mapped, out, verilog)
    return mapped
