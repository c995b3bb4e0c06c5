"""The command line: ``python -m fastsig {info,check,bench}``.

Thin on purpose: the self-test lives in ``_check``, the benchmark in ``_bench`` and its
shape sweep in ``_sweep``.
"""

import argparse
import sys

from . import _bench, _check, _dispatch, _peak, _sweep, get_accuracy, set_accuracy, show_config
from ._config import ACCURACY_MODES


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0  # reported below, with the same message as a zero or a negative count
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m fastsig",
        description="fastsig: a dense layer with a sigmoid, forward and backward.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{info,check,bench}")
    commands.add_parser("info", help="print the build and runtime configuration")
    commands.add_parser(
        "check", help="self-test every function against a numpy reference (run after installing)"
    )
    bench = commands.add_parser(
        "bench",
        help="time fastsig against numpy, scipy, numexpr and torch (those installed)",
    )
    bench.add_argument(
        "--quick", action="store_true", help="fewer and smaller cases, shorter timings"
    )
    bench.add_argument(
        "--sweep",
        action="store_true",
        help="instead of the table, a sweep over the shapes users run (batches of 1 to 10^5"
        " rows, layers of 1x1 to 1000x1000, both dtypes, every function): each case's ratio to"
        " the fastest installed peer, and a summary; --plot draws a heat map",
    )
    bench.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="run fastsig, numexpr, torch and (when threadpoolctl is installed) numpy's BLAS on"
        " N threads; default: fastsig's default thread count, for all of them",
    )
    bench.add_argument(
        "--accuracy",
        choices=ACCURACY_MODES,
        help="the sigmoid's accuracy mode fastsig is timed in (see fastsig.set_accuracy);"
        " default: fastsig's default, 'high' unless set_accuracy changed it",
    )
    bench.add_argument(
        "--json", dest="json_path", metavar="FILE", help="also write the results as JSON"
    )
    bench.add_argument(
        "--plot",
        dest="plot_path",
        metavar="FILE.png",
        help="also draw the ratios as a bar chart, or with --sweep a heat map (needs"
        " matplotlib)",
    )
    return parser


def main(argv=None):
    """Run one command; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "info":
        show_config()
        peak = _peak.fma_peak()
        print(f"FMA peak, one core ({_dispatch.ISA} kernels, measured now): "
              + ", ".join(f"{dtype} {gflops:.0f} GFLOP/s" for dtype, gflops in peak.items()))
        return 0
    if args.command == "check":
        return _check.run_check(sys.stdout)
    # The mode applies to every fastsig call of the run; the header says which it was.
    previous = get_accuracy()
    set_accuracy(args.accuracy or previous)
    try:
        if args.sweep:
            return _sweep.run_sweep(args.quick, args.threads, args.json_path, args.plot_path)
        return _bench.run_bench(args.quick, args.threads, args.json_path, args.plot_path)
    finally:
        set_accuracy(previous)


if __name__ == "__main__":
    sys.exit(main())
