"""sigmoid and sigmoid_backward on one thread, two and num_threads=None, with the input
unchanged between calls and rewritten by the caller before each call.

A benchmark, not a test. Each call is timed alone, median of 250 after 50 warm-up calls;
the caller's write (`y *= 1.0` in place; for sigmoid_backward grad and s) is not timed.
The ratio is one thread's time over num_threads=None's (below 0.9x breaks #18 item 6: the
default more than 10 % slower than one thread):

    python tests/elementwise_threads.py float32:16384 float32:65536 float64:131072

Each argument is DTYPE:ELEMENTS, or DTYPE:ELEMENTS:fast for sigmoid's "fast" accuracy.
"""

import sys

import numpy as np

import fastsig
from few_rows_threads import median_us   # (tests/ is this script's directory on sys.path)


def main(specs):
    for spec in specs:
        name, size, *mode = spec.split(":")
        dtype, size = np.dtype(name), int(size)
        accuracy = mode[0] if mode else "high"
        rng = np.random.default_rng(0)
        y = rng.standard_normal(size).astype(dtype)
        s = rng.uniform(0, 1, size).astype(dtype)
        out = np.empty_like(y)

        def write():
            np.multiply(y, 1.0, out=y)
            np.multiply(s, 1.0, out=s)

        for op in ("sigmoid", "sigmoid_backward"):
            times = {}
            for threads in (1, 2, None):
                if op == "sigmoid":
                    def call():
                        fastsig.sigmoid(y, out=out, num_threads=threads, accuracy=accuracy)
                else:
                    def call():
                        fastsig.sigmoid_backward(y, s, out=out, num_threads=threads)
                times["static", threads] = median_us(call, lambda: None)
                times["written", threads] = median_us(call, write)
            line = f"{op} {dtype.name} {size}" + (f" ({accuracy})" if mode else "") + ":"
            for case, label in (("static", "unchanged"), ("written", "after the caller's write")):
                one, two, default = (times[case, t] for t in (1, 2, None))
                line += (f"  {label}: 1t {one:6.1f} 2t {two:6.1f} None {default:6.1f}"
                         f" ({one / default:.2f}x)")
            print(line, flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
