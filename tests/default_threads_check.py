"""Check the rule for num_threads=None: no call more than 10 % slower than on one thread.

Over every case of ``python -m fastsig bench --sweep``'s grid but the training step (the
same shapes and dtypes; allocating, as the sweep calls them; ``dense_backward`` also with
``compute_dx=False``, the training step's call), times fastsig with
``num_threads=None`` against ``num_threads=1`` in one process, the two calls interleaved,
medians of 7 rounds. A case above the limit is measured twice more once every case has
run, and reported with the median of its three ratios: on a shared machine a stretch of
rounds can land on a descheduled thread.

    python tests/default_threads_check.py [--quick] [--limit 1.1]

Prints the number of cases, how many stay above the limit, and the worst cases. Exits 1
when any does. A benchmark, not a test: run it after changing a threshold
(``MIN_ELEMENTS_FOR_THREADS``, ``MIN_MULADDS_FOR_THREADS``, plan.pxi's thresholds).

What a given count does where the rule keeps one thread, for choosing a threshold:

    python tests/default_threads_check.py --given 2 --operations dense_backward \
        --shapes 7x256x256,300x64x64

times ``num_threads=2`` against 1 for those shapes (both dtypes; dense_backward with dx
and without) and prints every case.
"""

import argparse
import statistics
import sys
import timeit

import numpy as np

import fastsig
from fastsig import _sweep

ROUNDS = 7
SECONDS_A_ROUND = 0.02


def _call(operation, n, k, m, dtype, compute_dx=True):
    """f(num_threads) for one case of the grid, on fixed random data (dense_backward
    without dx where compute_dx is false: a training step's call)."""
    rng = np.random.default_rng(0)
    if k is None:
        a = rng.standard_normal(n).astype(dtype)
        s = rng.random(n).astype(dtype)
        if operation == "sigmoid":
            return lambda threads: fastsig.sigmoid(a, num_threads=threads)
        return lambda threads: fastsig.sigmoid_backward(a, s, num_threads=threads)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    if operation == "matmul":
        return lambda threads: fastsig.matmul(x, w, num_threads=threads)
    if operation == "dense_forward":
        return lambda threads: fastsig.dense_forward(x, w, b, num_threads=threads)
    grad = rng.standard_normal((n, m)).astype(dtype)
    s = fastsig.dense_forward(x, w, b)
    return lambda threads: fastsig.dense_backward(grad, x, w, s, compute_dx=compute_dx,
                                                  num_threads=threads)


def ratio(call, given=None):
    """Median time with num_threads=given (None: the default) over the median with
    num_threads=1, and the latter."""
    call(given)
    call(1)
    number = max(1, int(SECONDS_A_ROUND / max(timeit.timeit(lambda: call(1), number=1), 1e-7)))
    default, one = [], []
    for _ in range(ROUNDS):
        default.append(timeit.timeit(lambda: call(given), number=number) / number)
        one.append(timeit.timeit(lambda: call(1), number=number) / number)
    return statistics.median(default) / statistics.median(one), statistics.median(one)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the sweep's --quick grid")
    parser.add_argument("--limit", type=float, default=1.1)
    parser.add_argument("--given", type=int, default=None,
                        help="time this num_threads rather than None against 1")
    parser.add_argument("--operations", default="matmul,dense_forward,dense_backward",
                        help="with --shapes: the products to time")
    parser.add_argument("--shapes", default=None,
                        help="NxKxM,... instead of the sweep's grid (prints every case)")
    args = parser.parse_args(argv)
    products = {"matmul", "dense_forward", "dense_backward"}
    if not set(args.operations.split(",")) <= products:
        parser.error(f"--operations: choose among {', '.join(sorted(products))}")
    if args.operations != parser.get_default("operations") and not args.shapes:
        parser.error("--operations goes with --shapes")
    grid = _sweep.grid(args.quick)
    if args.shapes:
        grid = [(operation, *map(int, shape.split("x")), dtype, None)
                for dtype in (np.float32, np.float64)
                for operation in args.operations.split(",")
                for shape in args.shapes.split(",")]
    cases = []
    for operation, n, k, m, dtype, _ in grid:
        if operation != "train_step":
            cases.append((operation, n, k, m, dtype, True))
        if operation == "dense_backward":
            cases.append((operation, n, k, m, dtype, False))
    rows = []
    for case in cases:
        operation, n, k, m, dtype, compute_dx = case
        r, one = ratio(_call(*case), args.given)
        label = f"{n}" if k is None else f"{n}x{k} @ {k}x{m}"
        if not compute_dx:
            label += ", compute_dx=False"
        rows.append([r, f"{operation} {np.dtype(dtype).name} {label}", one, case])
    # The cases above the limit once more, after all the rest: a minute later the machine
    # that descheduled a thread has usually moved on.
    for row in rows:
        if row[0] > args.limit:
            call = _call(*row[3])
            row[0] = statistics.median([row[0], ratio(call, args.given)[0],
                                        ratio(call, args.given)[0]])
    if not args.shapes:
        rows.sort(key=lambda row: row[0], reverse=True)
    above = [row for row in rows if row[0] > args.limit]
    threads = (f"{fastsig.get_num_threads()} threads by default" if args.given is None
               else f"num_threads={args.given}")
    print(f"{len(rows)} cases on {threads}; num_threads={args.given} more than "
          f"{args.limit:.2f}x one thread's time: {len(above)}")
    for r, label, one, _ in rows if args.shapes else rows[:5]:
        print(f"  {r:.2f}x  {label}  (one thread {one * 1e6:.1f} us)")
    return 1 if above else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
