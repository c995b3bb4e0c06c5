"""Check the rule for num_threads=None: no call more than 10 % slower than on one thread.

Over every case of ``python -m fastsig bench --sweep``'s grid but the training step (the
same shapes and dtypes; allocating, as the sweep calls them), times fastsig with
``num_threads=None`` against ``num_threads=1`` in one process, the two calls interleaved,
medians of 7 rounds. A case above the limit is measured twice more once every case has
run, and reported with the median of its three ratios: on a shared machine a stretch of
rounds can land on a descheduled thread.

    python tests/default_threads_check.py [--quick] [--limit 1.1]

Prints the number of cases, how many stay above the limit, and the worst cases. Exits 1
when any does. A benchmark, not a test: run it after changing a threshold
(``MIN_ELEMENTS_FOR_THREADS``, ``MIN_MULADDS_FOR_THREADS``, plan.pxi's thresholds).
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


def _call(operation, n, k, m, dtype):
    """f(num_threads) for one case of the grid, on fixed random data."""
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
    return lambda threads: fastsig.dense_backward(grad, x, w, s, num_threads=threads)


def ratio(call):
    """Median time with num_threads=None over the median with num_threads=1."""
    call(None)
    call(1)
    number = max(1, int(SECONDS_A_ROUND / max(timeit.timeit(lambda: call(1), number=1), 1e-7)))
    default, one = [], []
    for _ in range(ROUNDS):
        default.append(timeit.timeit(lambda: call(None), number=number) / number)
        one.append(timeit.timeit(lambda: call(1), number=number) / number)
    return statistics.median(default) / statistics.median(one), statistics.median(one)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the sweep's --quick grid")
    parser.add_argument("--limit", type=float, default=1.1)
    args = parser.parse_args(argv)
    cases = [case for case in _sweep.grid(args.quick) if case[0] != "train_step"]
    rows = []
    for operation, n, k, m, dtype, _ in cases:
        r, one = ratio(_call(operation, n, k, m, dtype))
        label = f"{n}" if k is None else f"{n}x{k} @ {k}x{m}"
        rows.append([r, f"{operation} {np.dtype(dtype).name} {label}", one,
                     (operation, n, k, m, dtype)])
    # The cases above the limit once more, after all the rest: a minute later the machine
    # that descheduled a thread has usually moved on.
    for row in rows:
        if row[0] > args.limit:
            call = _call(*row[3])
            row[0] = statistics.median([row[0], ratio(call)[0], ratio(call)[0]])
    rows.sort(key=lambda row: row[0], reverse=True)
    above = [row for row in rows if row[0] > args.limit]
    print(f"{len(rows)} cases on {fastsig.get_num_threads()} threads by default; "
          f"num_threads=None more than {args.limit:.2f}x one thread's time: {len(above)}")
    for r, label, one, _ in rows[:5]:
        print(f"  {r:.2f}x  {label}  (one thread {one * 1e6:.1f} us)")
    return 1 if above else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
