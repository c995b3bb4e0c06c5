"""A training step's time on one thread against fastsig's default, split into its parts.

A benchmark, not a test. The step is the sweep's `train_step` (forward, backward without dx,
then numpy's in-place update of w and b), run in a loop as a training loop runs it. Each
configuration gives the forward's and the backward's thread counts: "1/1" one thread for
both, "N/N" num_threads=None for both (the default, on `--threads` threads), "N/1" and
"1/N" one of each. The update is timed on its own, so that the cost a threaded call leaves
to the caller's next write of w shows:

    python tests/train_step_threads.py float64:7x256x256 float32:1x1000x1000 --threads 2

Prints per shape and configuration the step's median time and its parts in µs (the best of
`--rounds` rounds of the median).
"""

import argparse
import time

import numpy as np

import fastsig

CONFIGURATIONS = {"1/1": (1, 1), "N/N": (None, None), "N/1": (None, 1), "1/N": (1, None)}


def steps(n, k, m, dtype, forward_threads, backward_threads, count):
    """Median µs of (forward, backward, update of w, update of b) over `count` steps."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = (rng.standard_normal((k, m)) * 0.01).astype(dtype)
    b = np.zeros(m, dtype)
    grad = rng.standard_normal((n, m)).astype(dtype)
    lr = dtype(1e-3)
    clock = time.perf_counter
    parts = []
    for step in range(count + 20):  # the first 20 warm up
        t0 = clock()
        s = fastsig.dense_forward(x, w, b, num_threads=forward_threads)
        t1 = clock()
        _, dw, db = fastsig.dense_backward(grad, x, w, s, compute_dx=False,
                                           num_threads=backward_threads)
        t2 = clock()
        w -= lr * dw
        t3 = clock()
        b -= lr * db
        t4 = clock()
        if step >= 20:
            parts.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3))
    return np.median(np.array(parts), axis=0) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", nargs="+", help="DTYPE:NxKxM, e.g. float64:7x256x256")
    parser.add_argument("--threads", type=int, default=2, help="set_num_threads for None")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fastsig.set_num_threads(args.threads)
    for spec in args.shapes:
        dtype_name, shape = spec.split(":")
        n, k, m = map(int, shape.split("x"))
        dtype = np.dtype(dtype_name).type
        count = max(10, int(3e5 / (n * k * m / 1e3 + 50)))
        best = {name: None for name in CONFIGURATIONS}
        for _ in range(args.rounds):
            for name, (forward, backward) in CONFIGURATIONS.items():
                result = steps(n, k, m, dtype, forward, backward, count)
                best[name] = result if best[name] is None else np.minimum(best[name], result)
        cells = [f"{name}: {parts.sum():8.1f} (forward {parts[0]:.1f}, backward {parts[1]:.1f}, "
                 f"update {parts[2] + parts[3]:.1f})" for name, parts in best.items()]
        print(f"{dtype_name} {n}x{k} @ {k}x{m}\n  " + "\n  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
