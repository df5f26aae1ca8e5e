"""accelgen: Verilog generators for FPGA neural-network accelerators, checked against NumPy models.

Every command is a thin layer over the Python API (accelgen.design(...)):
it parses arguments, calls one method and prints. Bad input gives one line
on stderr and exit status 2.
"""

import argparse
import io
import json
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from sim.runner import SimulatorError

from . import __version__, aqfp_map, build, design, designs, sweep
from .errors import UserError
from .flows import aqfp, board, link, synthesize
from .flows.outputs import check_outputs, write_atomically
from .params import Param, parse_assignments

EXIT_FAILED, EXIT_USAGE = 1, 2
DESCRIPTION = ("Generate Verilog for FPGA neural-network accelerators from a few parameters, check it bit for bit "
               "against a NumPy model in simulation, synthesize it for ECP5 or iCE40, and push your own arrays "
               "through it. The same operations exist in Python: accelgen.design(name, **params).")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit 2, like every other bad input."""

    def error(self, message):
        raise UserError(message)


def _design_args(parser):
    parser.add_argument("design", help="design name (see: accelgen list)")
    parser.add_argument("-p", dest="params", action="append", default=[], metavar="KEY=VALUE",
                        help="set a parameter (repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="accelgen", description=DESCRIPTION)
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
    sim.add_argument("--input", metavar="IN.npz", help="run's arrays instead of random ones (still under stalls)")

    synth = commands.add_parser("synth", help="synthesize and place-and-route, report area and Fmax")
    _design_args(synth)
    synth.add_argument("--target", choices=synthesize.TARGETS, default="ecp5")
    synth.add_argument("--json", dest="json_file", metavar="FILE",
                       help="write the result as JSON to FILE ('-': print it instead of the summary)")
    synth.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="place with nextpnr seeds 1..N, add each Fmax and their median (default 1)")
    synth.add_argument("--goal", type=float, default=synthesize.CLOCK_TARGET_MHZ, metavar="MHZ",
                       help=f"nextpnr's timing goal (--freq; default {synthesize.CLOCK_TARGET_MHZ}): placement and "
                            "routing work on the paths that miss it; the achieved Fmax is reported either way")
    synth.add_argument("--router", choices=synthesize.ROUTERS, default=synthesize.ROUTERS[0],
                       help="nextpnr's router (default router1; router2 finishes congested designs)")
    synth.add_argument("--place-only", action="store_true",
                       help="stop after placement: Fmax is nextpnr's estimate (a quick probe of a large design)")
    synth.add_argument("--floorplan", action="store_true",
                       help="ECP5: pin each PE's DSP multiplier to a grid of DSP sites (intergrad with "
                            "pipeline=1 and one multiplier per PE)")

    run = commands.add_parser("run", help="push your arrays through the RTL in simulation")
    _design_args(run)
    run.add_argument("--input", help=".npz with the design's input arrays")
    run.add_argument("--output", required=True, help=".npz to write the outputs to")
    run.add_argument("--report", help="JSON file for cycles and counters")
    run.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    run.add_argument("--board", metavar="PORT", help="run on a deployed board over serial PORT instead")
    run.add_argument("--baud", type=int, default=link.BAUD, help=f"the link's baud rate (default {link.BAUD})")

    deploy = commands.add_parser("deploy", help="a bitstream for a real ECP5 board, behind a UART host link")
    _design_args(deploy)
    deploy.add_argument("--board", required=True, help=f"one of: {', '.join(sorted(board.BOARDS))}")
    deploy.add_argument("-o", dest="out_dir", required=True, help="output directory")
    deploy.add_argument("--program", action="store_true", help="load the bitstream with openFPGALoader")
    deploy.add_argument("--baud", type=int, default=link.BAUD, help=f"the link's baud rate (default {link.BAUD})")

    sweep_ = commands.add_parser("sweep", help="a parameter grid, generated and synthesized in parallel on Dask")
    sweep_.add_argument("design", help="design name (see: accelgen list)")
    sweep_.add_argument("-p", dest="params", action="append", default=[], metavar="KEY=V1,V2,…",
                        help="values of one parameter (repeatable; the grid is their product)")
    sweep_.add_argument("--sim", action="store_true", help="also simulate each point (gives cycles and throughput)")
    sweep_.add_argument("--train", metavar="TASK", help="also train each point for TASK (e.g. digits for "
                        "circulant-lstm/gru) and add its test accuracy")
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

    prove = commands.add_parser("prove", help="prove the stream contract of every output stream (SymbiYosys)")
    _design_args(prove)
    prove.add_argument("--depth", type=int, default=24, metavar="N",
                       help="induction / BMC depth in cycles (default 24)")
    prove.add_argument("--json", dest="json_file", metavar="FILE", help="also write the results as JSON to FILE")

    build = commands.add_parser("build", help="the main job: every design, generated, simulated, synthesized")
    build.add_argument("--config", help="TOML file: one [design] table of parameters each")
    build.add_argument("-o", dest="out_dir", default="rtl_out", help="output directory (default rtl_out/)")
    build.add_argument("--target", choices=synthesize.TARGETS, default="ecp5")
    return parser


def _design(args):
    return design(args.design, **parse_assignments(args.params))


def _array_names(specs: dict) -> str:
    return ", ".join(f"{name} ({spec.describe()})" for name, spec in specs.items())


def cmd_list(args):
    for name in designs():
        acc = design(name)
        print(f"{name}: {acc.summary}")
        widths = [max([minimum, *(len(text(param)) for param in acc.parameters)])
                  for minimum, text in ((12, lambda p: p.name), (8, lambda p: str(p.default)), (28, Param.allowed))]
        for param in acc.parameters:
            print(f"    {param.name:<{widths[0]}} default {param.default!s:<{widths[1]}} "
                  f"{param.allowed():<{widths[2]}} {param.help}")
        print(f"    run arrays at the defaults: in {_array_names(acc.inputs()) or 'none'}; "
              f"out {_array_names(acc.outputs())}")


def cmd_generate(args):
    v_path, json_path = _design(args).generate(args.out_dir)
    print(f"wrote {v_path} and {json_path}")


def cmd_sim(args):
    acc = _design(args)
    start = time.perf_counter()
    arrays = _load_npz(args.input) if args.input else None
    result = acc.simulate(arrays, job_dir=args.out_dir, simulator=args.simulator, waves=args.waves,
                          stall=args.stall, seed=args.seed)
    elapsed = time.perf_counter() - start
    build = "cached build" if result.cached_build else "fresh build"
    if not result.passed:
        print(f"{acc.name}: FAIL ({result.reason}); log {result.log}")
        return EXIT_FAILED
    counters = " ".join(f"{key}={value}" for key, value in result.counters.items())
    print(f"{acc.name}: PASS ({args.simulator}, {build}, {elapsed:.1f} s) {counters}")
    if result.waves:
        print(f"waves: {result.waves}")


def cmd_synth(args):
    acc = _design(args)
    if args.json_file != "-":
        check_outputs([args.json_file])
    result = acc.synthesize(args.target, seeds=args.seeds, goal_mhz=args.goal, router=args.router,
                            route=not args.place_only, floorplan=args.floorplan)
    text = json.dumps(result, sort_keys=True) + "\n"
    if args.json_file == "-":
        sys.stdout.write(text)
        return
    if args.json_file:
        write_atomically({args.json_file: text})
    print(f"{acc.name}: {synthesize.summary(result)}")


def _load_npz(path: str) -> dict:
    """The arrays of an ``.npz`` archive; one line naming the file (and member) for anything else."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise UserError(f"{path} is not an .npz archive (numpy.savez writes one; a .npy holds a single array)")
    with loaded:
        try:
            arrays = {name: loaded[name] for name in loaded.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            raise UserError(f"cannot read {path}: {error}") from None
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise UserError(f"{path}: member {name!r} is not a .npy array")
    return arrays


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def cmd_run(args):
    acc = _design(args)
    if acc.inputs() and not args.input:
        raise UserError(f"{acc.name} needs --input IN.npz with arrays {', '.join(acc.inputs())}")
    if args.input and not acc.inputs():
        raise UserError(f"{acc.name} takes no input arrays; drop --input {args.input}")
    check_outputs([args.output, args.report], inputs=[args.input])
    outputs, counters = acc.run(_load_npz(args.input) if args.input else {}, simulator=args.simulator,
                                board=args.board, baud=args.baud)
    files = {args.output: _npz_bytes(outputs)}
    if args.report:
        files[args.report] = json.dumps(counters, indent=2, sort_keys=True) + "\n"
    write_atomically(files)
    where = f"board on {args.board}, {counters.get('seconds')} s" if args.board else f"cycles={counters.get('cycles')}"
    print(f"{acc.name}: wrote {args.output} ({', '.join(sorted(outputs))}); {where}")


def cmd_deploy(args):
    acc = _design(args)
    manifest = acc.deploy(args.board, args.out_dir, program=args.program, baud=args.baud)
    print(f"{acc.name}: wrote {Path(args.out_dir) / manifest['bitstream']} for {args.board} at "
          f"{manifest['clock_mhz']:g} MHz (on-board Fmax {manifest['fmax_on_board_mhz']} MHz), "
          f"link {manifest['link']['baud']} baud" + ("; programmed" if args.program else ""))


def cmd_sweep(args):
    def announce(points):
        where = args.scheduler or f"a LocalCluster of {args.jobs} workers"
        print(f"{args.design}: {len(points)} points on {where}", file=sys.stderr, flush=True)

    _, csv_path, png_path = sweep(args.design, parse_assignments(args.params), out_dir=args.out_dir,
                                  target=args.target, with_sim=args.sim, scheduler=args.scheduler, jobs=args.jobs,
                                  on_start=announce, train=args.train)
    print(f"wrote {csv_path} and {png_path}")


def cmd_aqfp(args):
    netlist = aqfp_map(args.netlist, args.top, args.out, verilog=args.verilog, sharing=not args.naive,
                       majority=not args.no_majority)
    print(aqfp.summary(netlist))


def cmd_prove(args):
    acc = _design(args)
    if args.json_file:
        check_outputs([args.json_file])
    report = acc.prove(depth=args.depth)
    if args.json_file:
        write_atomically({args.json_file: json.dumps(report, indent=2, sort_keys=True) + "\n"})
    for found in report["properties"]:
        trace = f"; counterexample {found['trace']}" if "trace" in found else ""
        print(f"{found['name']}: {found['result']} ({found['kind']}, depth {found['depth']}, "
              f"{found['seconds']:.1f} s){trace}")
    return 0 if all(found["result"] == "proved" for found in report["properties"]) else EXIT_FAILED


def cmd_build(args):
    passed = build(args.config, args.out_dir, args.target)
    print(f"report: {Path(args.out_dir) / 'report.md'}")
    return 0 if passed else EXIT_FAILED


COMMANDS = {"list": cmd_list, "generate": cmd_generate, "sim": cmd_sim, "synth": cmd_synth,
            "run": cmd_run, "sweep": cmd_sweep, "aqfp": cmd_aqfp, "build": cmd_build, "prove": cmd_prove,
            "deploy": cmd_deploy}


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args) or 0
    except UserError as error:
        print(f"accelgen: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (SimulatorError, synthesize.SynthesisError, link.LinkError) as error:
        print(f"accelgen: failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (`accelgen list | head -1`): stop quietly, as SIGPIPE would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
