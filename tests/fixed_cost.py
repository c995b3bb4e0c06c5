"""The fixed cost of a call: each public function on a few elements, beside its peers.

A benchmark, not a test. Each build given (a directory holding a built `fastsig` package)
is timed in its own processes, the builds taking turns, and each call's figure is the
minimum over every round of timeit's repeats (the least-disturbed run, since the work is a
few hundred nanoseconds). One thread for every library. With two builds the last column is
the first build's time over the second's:

    python tests/fixed_cost.py /path/to/old_build /work/main --rounds 3

Prints one line per call: its time in µs for each build, and the peers' (scipy's expit, the
numpy expression, torch) measured in the same processes.
"""

import argparse
import json
import os
import subprocess
import sys

# Runs in a child process with one build first on the path; prints {label: µs}.
CHILD = r"""
import json, timeit
import numpy as np
import fastsig

try:
    import scipy.special as special
except ImportError:
    special = None
try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None

fastsig.set_num_threads(1)
rng = np.random.default_rng(0)
times = {}


def timed(label, call):
    times[label] = min(timeit.repeat(call, number=5000, repeat=21)) / 5000 * 1e6


for dtype in (np.float64, np.float32):
    name = np.dtype(dtype).name
    for size in (1, 10, 1000):
        y = rng.random(size).astype(dtype)
        o = np.empty_like(y)
        timed(f"sigmoid {name} {size}", lambda: fastsig.sigmoid(y))
        timed(f"sigmoid out= {name} {size}", lambda: fastsig.sigmoid(y, out=o))
        timed(f"sigmoid_backward {name} {size}", lambda: fastsig.sigmoid_backward(y, y))
        if special is not None:
            timed(f"  peer scipy expit {name} {size}", lambda: special.expit(y))
        timed(f"  peer numpy g*s*(1-s) {name} {size}", lambda: y * y * (1 - y))
        if torch is not None:
            ty = torch.from_numpy(y)
            timed(f"  peer torch sigmoid {name} {size}", lambda: torch.sigmoid(ty))
    x = rng.random((2, 2)).astype(dtype)
    w = rng.random((2, 3)).astype(dtype)
    b = rng.random(3).astype(dtype)
    g = rng.random((2, 3)).astype(dtype)
    s = fastsig.dense_forward(x, w, b)
    timed(f"matmul {name} 2x2@2x3", lambda: fastsig.matmul(x, w))
    timed(f"dense_forward {name} 2x2@2x3", lambda: fastsig.dense_forward(x, w, b))
    timed(f"dense_backward {name} 2x2@2x3", lambda: fastsig.dense_backward(g, x, w, s))
    timed(f"  peer numpy matmul {name} 2x2@2x3", lambda: x @ w)
    if torch is not None:
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        timed(f"  peer torch matmul {name} 2x2@2x3", lambda: tx @ tw)
print(json.dumps(times))
"""


def _run(build):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(build), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=os.path.abspath(build),
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+", help="directories that hold a built fastsig")
    parser.add_argument("--rounds", type=int, default=3, help="processes per build")
    args = parser.parse_args()
    runs = {build: [] for build in args.builds}
    for _ in range(args.rounds):
        for build in args.builds:
            runs[build].append(_run(build))
    best = {build: {label: min(run[label] for run in results) for label in results[0]}
            for build, results in runs.items()}
    first, last = best[args.builds[0]], best[args.builds[-1]]
    for label in first:
        figures = "  ".join(f"{best[build][label]:7.3f}" for build in args.builds)
        ratio = "" if label.startswith("  ") or len(args.builds) < 2 else \
            f"  {first[label] / last[label]:.2f}x"
        print(f"{label:<40}{figures}{ratio}")


if __name__ == "__main__":
    main()
