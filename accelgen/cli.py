"""The ``accelgen`` command line (SPEC §3). Bad input: one line on stderr, exit status 2."""

import argparse
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from sim.runner import SimulatorError

from . import __version__, registry
from .errors import UserError
from .flows import aqfp, export, report, simulate, sweep, synthesize
from .params import parse_assignments, resolve

EXIT_FAILED, EXIT_USAGE = 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit 2, like every other bad input."""

    def error(self, message):
        raise UserError(message)


def _design_args(parser):
    parser.add_argument("design", help="design name (see `accelgen list`)")
    parser.add_argument("-p", dest="params", action="append", default=[], metavar="KEY=VALUE",
                        help="set a parameter (repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="accelgen", description=__doc__)
    parser.add_argument("--version", action="version", version=f"accelgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="designs, their parameters, defaults and ranges")

    generate = commands.add_parser("generate", help="write Verilog and a manifest")
    _design_args(generate)
    generate.add_argument("-o", dest="out_dir", help="output directory (default rtl_out/DESIGN/)")

    sim = commands.add_parser("sim", help="run the design's cocotb tests against its golden model")
    _design_args(sim)
    sim.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    sim.add_argument("--waves", action="store_true", help="write a waveform dump")
    sim.add_argument("--seed", type=int, default=1, help="random seed of vectors and stalls")
    sim.add_argument("--stall", type=float, default=0.3, help="valid/ready stall probability in [0, 1)")
    sim.add_argument("-o", dest="out_dir", help="job directory (default rtl_out/DESIGN/sim/)")

    synth = commands.add_parser("synth", help="synthesize and place-and-route, report area and Fmax")
    _design_args(synth)
    synth.add_argument("--target", choices=synthesize.TARGETS, default="ecp5")
    synth.add_argument("--json", dest="json_file", help="also write the result to this file")
    synth.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="place with nextpnr seeds 1..N, add each Fmax and their median (default 1)")

    run = commands.add_parser("run", help="push your arrays through the RTL in simulation")
    _design_args(run)
    run.add_argument("--input", help=".npz with the design's input arrays")
    run.add_argument("--output", required=True, help=".npz to write the outputs to")
    run.add_argument("--report", help="JSON file for cycles and counters")
    run.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")

    sweep_ = commands.add_parser("sweep", help="a parameter grid, generated and synthesized in parallel on Dask")
    sweep_.add_argument("design", help="design name (see `accelgen list`)")
    sweep_.add_argument("-p", dest="params", action="append", default=[], metavar="KEY=V1,V2,…",
                        help="values of one parameter (repeatable; the grid is their product)")
    sweep_.add_argument("--sim", action="store_true", help="also simulate each point (gives cycles and throughput)")
    sweep_.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    sweep_.add_argument("--jobs", type=int, default=2, help="LocalCluster worker processes (default 2)")
    sweep_.add_argument("--target", choices=synthesize.TARGETS, default="ecp5")
    sweep_.add_argument("-o", dest="out_dir", default="rtl_out", help="output directory (default rtl_out/)")

    aqfp_ = commands.add_parser("aqfp", help="AQFP superconducting logic tools")
    aqfp_commands = aqfp_.add_subparsers(dest="aqfp_command", required=True, parser_class=_Parser)
    aqfp_map = aqfp_commands.add_parser("map", help="map combinational Verilog to balanced AQFP cells (JSON)")
    aqfp_map.add_argument("netlist", help="Verilog file")
    aqfp_map.add_argument("--top", required=True, help="module to map")
    aqfp_map.add_argument("-o", dest="out", required=True, help="output JSON")
    aqfp_map.add_argument("--verilog", help="also write the balanced netlist as Verilog (one register per phase)")
    aqfp_map.add_argument("--naive", action="store_true", help="baseline balancing (no buffer sharing)")
    aqfp_map.add_argument("--no-majority", action="store_true", help="map to AND2/OR2 only (no MAJ3 extraction)")

    build = commands.add_parser("build", help="the main job: every design, generated, simulated, synthesized")
    build.add_argument("--config", help="TOML file: one [design] table of parameters each")
    build.add_argument("-o", dest="out_dir", default="rtl_out", help="output directory (default rtl_out/)")
    build.add_argument("--target", choices=synthesize.TARGETS, default="ecp5")
    return parser


def _design_and_params(args):
    design = registry.get(args.design)
    return design, resolve(design, parse_assignments(args.params))


def _array_names(specs: dict) -> str:
    def shape(spec):
        return "×".join("batch" if axis is None else str(axis) for axis in spec.shape) or "scalar"
    def fmt(spec):
        scaled = "" if spec.scale == 1.0 else f" × {spec.scale:.6g}"
        return f"Q{spec.fmt.width}.{spec.fmt.frac}{scaled}"
    return ", ".join(f"{name} ({shape(spec)}, {fmt(spec)})" for name, spec in specs.items())


def cmd_list(args):
    for name in registry.names():
        design = registry.get(name)
        print(f"{name}: {design.summary}")
        for param in design.params:
            print(f"    {param.name:<12} default {param.default!s:<8} {param.allowed():<28} {param.help}")
        defaults = design.defaults()
        print(f"    run arrays at the defaults: in {_array_names(design.inputs(defaults)) or 'none'}; "
              f"out {_array_names(design.outputs(defaults))}")


def cmd_generate(args):
    design, params = _design_and_params(args)
    v_path, json_path = export.generate(design, params, args.out_dir)
    print(f"wrote {v_path} and {json_path}")


def cmd_sim(args):
    design, params = _design_and_params(args)
    if not 0.0 <= args.stall < 1.0:
        raise UserError(f"--stall={args.stall} out of range [0, 1)")
    job_dir = Path(args.out_dir or Path("rtl_out") / design.name / "sim")
    start = time.perf_counter()
    result = simulate.simulate(design, params, job_dir=job_dir, simulator=args.simulator,
                               waves=args.waves, stall=args.stall, seed=args.seed)
    elapsed = time.perf_counter() - start
    build = "cached build" if result.cached_build else "fresh build"
    if not result.passed:
        print(f"{design.name}: FAIL ({simulate.failure_reason(result)}); log {result.log}")
        return EXIT_FAILED
    counters = " ".join(f"{key}={value}" for key, value in result.counters().items())
    print(f"{design.name}: PASS ({args.simulator}, {build}, {elapsed:.1f} s) {counters}")
    if result.waves:
        print(f"waves: {result.waves}")


def cmd_synth(args):
    if not 1 <= args.seeds <= synthesize.MAX_SEEDS:
        raise UserError(f"--seeds={args.seeds} out of range [1, {synthesize.MAX_SEEDS}]")
    design, params = _design_and_params(args)
    result = synthesize.synthesize_design(design, params, args.target, seeds=args.seeds)
    line = json.dumps(result, sort_keys=True)
    if args.json_file:
        export.write_atomically({args.json_file: line + "\n"})
    print(line)


def _load_npz(path: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return dict(arrays)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UserError(f"cannot read {path}: {error}") from None


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def cmd_run(args):
    design, params = _design_and_params(args)
    specs = design.inputs(params)
    if specs and not args.input:
        raise UserError(f"{design.name} needs --input IN.npz with arrays {', '.join(specs)}")
    arrays = _load_npz(args.input) if args.input else {}
    raw_inputs = simulate.prepare_inputs(design, params, arrays)
    outputs, counters = simulate.run_arrays(design, params, raw_inputs, simulator=args.simulator)
    files = {args.output: _npz_bytes(outputs)}
    if args.report:
        files[args.report] = json.dumps(counters, indent=2, sort_keys=True) + "\n"
    export.write_atomically(files)
    print(f"{design.name}: wrote {args.output} ({', '.join(sorted(outputs))}); cycles={counters.get('cycles')}")


def cmd_sweep(args):
    design = registry.get(args.design)
    if not 1 <= args.jobs <= 64:
        raise UserError(f"--jobs={args.jobs} out of range [1, 64]")
    points = sweep.grid(design, parse_assignments(args.params))
    print(f"{design.name}: {len(points)} points on {args.scheduler or f'a LocalCluster of {args.jobs} workers'}",
          file=sys.stderr, flush=True)
    rows = sweep.run_sweep(design.name, points, target=args.target, with_sim=args.sim,
                           scheduler=args.scheduler, jobs=args.jobs)
    csv_path, png_path = sweep.write_results(design.name, rows, Path(args.out_dir))
    print(f"wrote {csv_path} and {png_path}")


def cmd_aqfp(args):
    netlist = aqfp.map_verilog(Path(args.netlist), args.top, sharing=not args.naive, majority=not args.no_majority)
    aqfp.write_outputs(netlist, args.out, args.verilog)
    print(aqfp.summary(netlist))


def cmd_build(args):
    entries = report.load_config(args.config)
    passed = report.build(entries, Path(args.out_dir), args.target)
    print(f"report: {Path(args.out_dir) / 'report.md'}")
    return 0 if passed else EXIT_FAILED


COMMANDS = {"list": cmd_list, "generate": cmd_generate, "sim": cmd_sim, "synth": cmd_synth,
            "run": cmd_run, "sweep": cmd_sweep, "aqfp": cmd_aqfp, "build": cmd_build}


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args) or 0
    except UserError as error:
        print(f"accelgen: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (SimulatorError, synthesize.SynthesisError) as error:
        print(f"accelgen: failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
