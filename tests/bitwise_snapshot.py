"""Record, and compare, the bits of every public function over every kernel path.

A refactoring of the kernels must leave every result bitwise unchanged. This script
calls each public function on a fixed set of inputs -- shapes that land on every matmul
kernel (register tile, packed or read in place; transposed tile; vector tile, its row
and column kernels; the depth split), every dw kernel of the backward, the tiny-call
paths and the elementwise kernels -- in both dtypes, under every kernel variant this
CPU runs (``FASTSIG_ISA``, one child interpreter each) and on 1 and 2 threads, and
records a SHA-256 of each output. Only the public API is used, so any two builds can be
compared, whatever their internals.

    python tests/bitwise_snapshot.py record before.json     # with the old build installed
    python tests/bitwise_snapshot.py record after.json      # with the new one
    python tests/bitwise_snapshot.py compare before.json after.json

To compare two commits, install each in its own virtual environment (``pip install .``
from a checkout of it, e.g. ``git worktree add /tmp/old OLD``) and record with each
environment's python; run it from outside the source tree, so that the installed build
is the one imported. ``compare`` exits 1 when any output differs or is missing.
"""

import hashlib
import json
import os
import subprocess
import sys

# (n, k, m): the shapes of tests/test_gemm_paths.py (every matmul kernel of every variant)
# and the backward's (the column-sum kernel, one and two vectors wide; the matmul on the
# packed dy; plain loops; k = 0 and m = 0), then the tiny calls (the _small paths).
PRODUCT_SHAPES = [
    (1031, 2, 3), (515, 1, 2), (515, 3, 3), (515, 4, 4), (515, 3, 1), (777, 8, 1),
    (1000, 20, 16), (515, 9, 12), (300, 300, 7), (1001, 16, 4), (997, 300, 16),
    (997, 300, 12), (523, 5, 9), (61, 16, 8), (250, 7, 2), (777, 1, 6), (403, 4, 16),
    (130, 3, 9), (16, 9000, 16), (3, 4500, 2), (40, 8192, 130), (97, 513, 130),
    (5, 40, 1000), (150, 40, 40), (150, 20, 48), (150, 64, 56), (300, 1024, 100),
    (4100, 16, 16), (5000, 100, 13), (700, 64, 32), (3000, 256, 1), (2000, 64, 10),
    (257, 130, 70), (9000, 8, 8), (1, 256, 256), (8, 256, 256), (0, 3, 4), (5, 0, 4),
    (5, 3, 0), (1, 300, 1000), (3, 513, 130), (11, 300, 77), (16, 40, 1000), (2, 7, 64),
    (20, 2100, 1100), (40, 2100, 1100), (32, 300, 1000), (16, 256, 256), (40, 64, 1000), (5, 300, 33), (100, 3000, 20),
    (64, 1000, 64), (2, 1000, 64), (1000, 600, 1), (37, 5, 1), (500, 100, 1),
    (2, 2, 3), (1, 1, 1), (40, 30, 50), (7, 5, 6), (9, 1100, 1000), (20, 1100, 1000),
    (7, 1100, 1000), (12, 1100, 1000), (32, 1100, 1000), (3, 1, 40000), (300, 1100, 520),
    (250, 2200, 240),
    (500, 31, 200), (777, 16, 2), (1000, 600, 3), (37, 16, 4), (3, 4500, 5), (1001, 12, 4),
    (5, 513, 5), (9, 40, 3), (4, 1000, 2), (500, 300, 2), (4099, 300, 2), (700, 1000, 4),
    (2100, 50, 200),
    (130, 20, 500),
    (64, 4, 512),
    (72, 96, 256),
]
ELEMENTWISE_SIZES = [0, 1, 7, 33, 1000, 16383, 16384, 100_003]


def _inputs(seed, n, k, m, dtype):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-2, 2, (k, m)).astype(dtype)
    b = rng.uniform(-2, 2, m).astype(dtype)
    g = rng.uniform(-2, 2, (n, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    return x, w, b, g, s


def _digest(array):
    import numpy as np

    a = np.ascontiguousarray(array)
    return f"{a.dtype.str}{a.shape}:" + hashlib.sha256(a.tobytes()).hexdigest()[:24]


def _record_this_process():
    """{case: digest} for the kernel variant this process imported."""
    import numpy as np

    import fastsig

    out = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for seed, (n, k, m) in enumerate(PRODUCT_SHAPES):
            x, w, b, g, s = _inputs(seed, n, k, m, dtype)
            for threads in (None, 1, 2):
                key = f"{name} {n}x{k}x{m} t={threads}"
                out[f"matmul {key}"] = _digest(fastsig.matmul(x, w, num_threads=threads))
                out[f"dense_forward {key}"] = _digest(
                    fastsig.dense_forward(x, w, b, num_threads=threads))
                out[f"dense_forward nobias {key}"] = _digest(
                    fastsig.dense_forward(x, w, num_threads=threads))
                for compute_dx in (True, False):
                    dx, dw, db = fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx,
                                                        num_threads=threads)
                    tag = f"dense_backward dx={compute_dx} {key}"
                    out[f"{tag} dw"] = _digest(dw)
                    out[f"{tag} db"] = _digest(db)
                    if dx is not None:
                        out[f"{tag} dx"] = _digest(dx)
        rng = np.random.default_rng(1234)
        for size in ELEMENTWISE_SIZES:
            y = (rng.standard_normal(size) * 30).astype(dtype)
            y[: min(size, 4)] = [np.inf, -np.inf, np.nan, -0.0][: min(size, 4)]
            gs = rng.uniform(-2, 2, size).astype(dtype)
            ss = rng.uniform(0, 1, size).astype(dtype)
            for threads in (None, 1, 2):
                key = f"{name} {size} t={threads}"
                out[f"sigmoid {key}"] = _digest(fastsig.sigmoid(y, num_threads=threads))
                out[f"sigmoid_backward {key}"] = _digest(
                    fastsig.sigmoid_backward(gs, ss, num_threads=threads))
    return out


def record(path):
    """Record every variant this CPU runs, each in a child interpreter."""
    import fastsig._dispatch as dispatch

    results = {}
    for isa in dispatch.AVAILABLE:
        env = dict(os.environ, FASTSIG_ISA=isa)
        child = subprocess.run([sys.executable, __file__, "_child"], env=env,
                               capture_output=True, text=True, check=True)
        results[isa] = json.loads(child.stdout)
        print(f"{isa}: {len(results[isa])} outputs", file=sys.stderr)
    with open(path, "w") as f:
        json.dump(results, f, indent=0, sort_keys=True)


def compare(path_a, path_b):
    with open(path_a) as f:
        a = json.load(f)
    with open(path_b) as f:
        b = json.load(f)
    bad = 0
    for isa in sorted(set(a) | set(b)):
        if isa not in a or isa not in b:
            print(f"{isa}: recorded in only one of the files")
            bad += 1
            continue
        keys = sorted(set(a[isa]) | set(b[isa]))
        differ = [key for key in keys if a[isa].get(key) != b[isa].get(key)]
        for key in differ:
            print(f"{isa}: {key}: {a[isa].get(key)} != {b[isa].get(key)}")
        print(f"{isa}: {len(keys) - len(differ)} of {len(keys)} outputs identical")
        bad += len(differ)
    return 1 if bad else 0


def main(argv):
    if argv[:1] == ["_child"]:
        json.dump(_record_this_process(), sys.stdout)
        return 0
    if len(argv) == 2 and argv[0] == "record":
        record(argv[1])
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
