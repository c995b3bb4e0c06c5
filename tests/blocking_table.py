"""`matmul` under several cache blockings (FASTSIG_BLOCKING), each against numpy in its process.

    python tests/blocking_table.py --settings "nc=256,mc=144;nc=512,mc=144;default"
        [--shapes 1024x1024x1024,2048x2048x2048] [--threads 1] [--runs 2] [--budget 2]

Each setting runs in a child process of its own (the blocking is fixed at import), the
settings alternating for `--runs` rounds; in each child fastsig and numpy get ``out=`` and
are timed interleaved (``_bench.time_interleaved``, `--budget` seconds a case, under
``_bench.threads_for_all``). Prints, per case and setting, the median over the runs of
numpy's time over fastsig's (> 1: fastsig is faster), and the blocking each setting gave
(``default``: the rules of fastsig/_blocking.py on this CPU).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys
import numpy as np
import fastsig
from fastsig import _bench, _dispatch

threads, budget, shapes = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")
peers, _ = _bench.import_peers()
ratios = {}
with _bench.threads_for_all(threads, peers):
    for shape in shapes:
        n, k, m = map(int, shape.split("x"))
        for dtype in ("float32", "float64"):
            rng = np.random.default_rng(0)
            x = rng.standard_normal((n, k)).astype(dtype)
            w = rng.standard_normal((k, m)).astype(dtype)
            outs = [np.empty((n, m), dtype) for _ in range(2)]
            seconds = _bench.time_interleaved(
                {"fastsig": lambda: fastsig.matmul(x, w, out=outs[0], num_threads=threads),
                 "numpy": lambda: np.matmul(x, w, out=outs[1])}, budget, min_rounds=5)
            ratios[f"{shape} {dtype}"] = seconds["numpy"] / seconds["fastsig"]
print(json.dumps({"blocking": _dispatch.kernels.blocking(), "ratios": ratios}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", default="default;nc=128;nc=512;mc=48;mc=288")
    parser.add_argument("--shapes", default="1024x1024x1024,2048x2048x2048,5000x300x300")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per case")
    args = parser.parse_args()
    settings = [s.strip() for s in args.settings.split(";") if s.strip()]
    results = {setting: [] for setting in settings}
    blockings = {}
    for _ in range(args.runs):
        for setting in settings:
            env = dict(os.environ)
            env.pop("FASTSIG_BLOCKING", None)
            if setting != "default":
                env["FASTSIG_BLOCKING"] = setting
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.threads), str(args.budget), args.shapes],
                env=env, capture_output=True, text=True, check=True)
            record = json.loads(done.stdout.strip().splitlines()[-1])
            results[setting].append(record["ratios"])
            blockings[setting] = record["blocking"]
    for setting in settings:
        b = blockings[setting]
        print(f"{setting}: nc {b['nc']['float32']}/{b['nc']['float64']}, "
              f"mc {b['mc']['float32']}/{b['mc']['float64']} (float32/float64; {b['source']})")
    cases = list(results[settings[0]][0])
    width = max(len(case) for case in cases)
    print(f"{'fastsig / numpy':<{width}}" + "".join(f"  {s:>14}" for s in settings))
    for case in cases:
        cells = (statistics.median(run[case] for run in results[s]) for s in settings)
        print(f"{case:<{width}}" + "".join(f"  {cell:>14.3f}" for cell in cells))


if __name__ == "__main__":
    main()
