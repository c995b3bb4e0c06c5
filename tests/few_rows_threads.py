"""A call of a few rows on one thread against two, with w unchanged between calls (an
inference loop) and with w rewritten by the caller before each call (a training loop).

A benchmark, not a test. Each call is timed alone, median of 250 after 50 warm-up calls;
the caller's write (`w *= 1.0` in place, or for the backward `w -= 0 * dw`, which also
reads the dw the call returned) is not timed. The ratio is one thread's time over two's
(> 1: the second thread gains), and one thread's over num_threads=None's (what the
default makes of it, on the machine's cores: below 0.9x breaks #18 item 6):

    python tests/few_rows_threads.py matmul float64:7x256x256 float32:7x512x512
    python tests/few_rows_threads.py backward float64:7x256x256

OP: matmul, or backward (dense_backward with compute_dx=False).
"""

import sys
import time

import numpy as np

import fastsig


def median_us(call, before, reps=300):
    """The median µs of `call` over reps - 50 calls (after 50), `before` run untimed first."""
    times = []
    for _ in range(reps):
        before()
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return np.median(times[50:]) * 1e6


def main(op, specs):
    for spec in specs:
        name, shape = spec.split(":")
        n, k, m = map(int, shape.split("x"))
        dtype = np.dtype(name)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, k)).astype(dtype)
        w = rng.standard_normal((k, m)).astype(dtype)
        out = np.empty((n, m), dtype)
        grad = rng.standard_normal((n, m)).astype(dtype)
        s = rng.uniform(0, 1, (n, m)).astype(dtype)
        result = [None]
        times = {}
        for threads in (1, 2, None):
            if op == "matmul":
                def call():
                    fastsig.matmul(x, w, out=out, num_threads=threads)

                def write():
                    np.multiply(w, 1.0, out=w)
            else:
                def call():
                    result[0] = fastsig.dense_backward(grad, x, w, s, compute_dx=False,
                                                       num_threads=threads)

                def write():
                    if result[0] is not None:   # the caller reads dw and writes w
                        w.__isub__(result[0][1] * 0.0)
            times["static", threads] = median_us(call, lambda: None)
            times["written", threads] = median_us(call, write)
        line = f"{op} {dtype.name} {n}x{k}@{k}x{m}:"
        for case, label in (("static", "w unchanged"), ("written", "after the caller's write")):
            one, two, default = times[case, 1], times[case, 2], times[case, None]
            line += (f"  {label}: 1t {one:7.1f} 2t {two:7.1f} ({one / two:.2f}x)"
                     f" None {default:7.1f} ({one / default:.2f}x)")
        print(line, flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("matmul", "backward"):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
