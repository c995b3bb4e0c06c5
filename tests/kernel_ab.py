"""Time two builds' kernels against each other in one process, calls interleaved.

Two builds timed in two processes differ by the machine's drift (up to 2x over minutes on a
shared 2-vCPU machine); in one process, alternating, they see the same machine. Each build's
compiled kernel module (``_kernels_<isa>``) is loaded under a package name of its own, and
the kernels are called directly, as fastsig's API calls them after its checks (the new
build's thread count rule for num_threads=None, for both).

    python tests/kernel_ab.py OLD_FASTSIG_DIR NEW_FASTSIG_DIR [--isa avx2] [--dtype float32]
        [--shapes 262144x16x16,5000x1000x16] [--ops matmul,dense_forward,dense_backward]
        [--fast] [--rounds 7] [--c-offsets 0,16,32,48]

`--ops dense_backward_nodx` times the backward with compute_dx=False (dw and db only).

`--ops sigmoid_backward` times the elementwise kernel over n*m elements (k is not used:
a shape 100003x1x1 is 100003 elements), threaded from the new build's threshold.

OLD_FASTSIG_DIR and NEW_FASTSIG_DIR are the directories of two installed fastsig packages
(``python -c "import fastsig; print(fastsig.__path__[0])"`` in each environment). Prints,
per case, each build's median and old/new (> 1: the new build is faster), sorted, then the
median ratio. Both builds must take the same kernel arguments (the same commit's API).
"""

import argparse
import glob
import importlib.util
import os
import sys
import time
import types

import numpy as np


def load(label, fastsig_dir, isa):
    path = glob.glob(os.path.join(fastsig_dir, f"_kernels_{isa}.*"))
    path = [p for p in path if p.endswith((".so", ".pyd"))]
    if not path:
        raise SystemExit(f"no _kernels_{isa} module in {fastsig_dir}")
    # A package of the label's name over the build's directory, so that the module's own
    # relative imports (`from . import _blocking`) find that build's Python files.
    package = types.ModuleType(label)
    package.__path__ = [fastsig_dir]
    sys.modules[label] = package
    spec = importlib.util.spec_from_file_location(f"{label}._kernels_{isa}", path[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_seconds(call, budget):
    call()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < budget or len(times) < 3:
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def at_offset(shape, dtype, offset):
    """An uninitialized C-contiguous array whose data starts `offset` bytes past a 64-byte
    line (None: as numpy allocates it)."""
    if offset is None:
        return np.empty(shape, dtype)
    size = int(np.prod(shape))
    buffer = np.empty(size + 128 // dtype.itemsize, dtype)
    start = ((-buffer.ctypes.data) % 64 + offset) // dtype.itemsize
    return buffer[start:start + size].reshape(shape)


def cases(op, n, k, m, dtype, fast, threads, offset=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    out = at_offset((n, m), dtype, offset)
    if op == "sigmoid_backward":
        g, s = rng.standard_normal(n * m).astype(dtype), rng.random(n * m).astype(dtype)
        flat = out.reshape(-1)
        return lambda K: K.sigmoid_backward(g, s, flat, threads)
    if op == "matmul":
        return lambda K: K.matmul(x, w, out, threads)
    if op == "dense_forward":
        return lambda K: K.dense_forward(x, w, b, True, out, threads, fast)
    g = rng.standard_normal((n, m)).astype(dtype)
    s = rng.random((n, m)).astype(dtype)
    dx, dw, db = np.empty((n, k), dtype), np.empty((k, m), dtype), np.empty(m, dtype)
    compute_dx = op != "dense_backward_nodx"
    return lambda K: K.dense_backward(g, x, w, s, dx, compute_dx, dw, db, threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--isa", default="avx2")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--shapes", default="262144x16x16,5000x1000x16,1000x64x13,7x300x15")
    parser.add_argument("--ops", default="matmul,dense_forward,dense_backward")
    parser.add_argument("--fast", action="store_true", help="dense_forward in the fast mode")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--c-offsets", default=None,
                        help="e.g. 0,16,32,48: time matmul and dense_forward with their "
                             "result C starting at each of these byte offsets past a 64-byte "
                             "line, and compare the means (threads that share C's lines cost "
                             "by where C starts, which numpy leaves to malloc)")
    args = parser.parse_args()
    offsets = ([None] if args.c_offsets is None
               else [int(v) for v in args.c_offsets.split(",")])
    itemsize = np.dtype(args.dtype).itemsize
    if any(v is not None and not (0 <= v < 64 and v % itemsize == 0) for v in offsets):
        parser.error(f"--c-offsets: each offset in [0, 64) and a multiple of {itemsize}")
    old, new = load("fastsig_old", args.old, args.isa), load("fastsig_new", args.new, args.isa)
    # The new build's rule for num_threads=None, for both builds (older builds had one
    # threshold for both dtypes, newer ones one per dtype, the newest one per shape:
    # product_min_work, backward_min_work).
    threshold = new.MIN_MULADDS_FOR_THREADS
    if isinstance(threshold, dict):
        threshold = threshold[np.dtype(args.dtype).name]
    rows = []
    for shape in args.shapes.split(","):
        n, k, m = (int(v) for v in shape.split("x"))
        work = new.product_work(n, k, m) if hasattr(new, "product_work") else n * k * m
        budget = 0.02 if n * k * m < 1e6 else 0.1
        for op in args.ops.split(","):
            if op == "sigmoid_backward":
                elements = new.MIN_BACKWARD_ELEMENTS_FOR_THREADS[np.dtype(args.dtype).name]
                threads = args.threads if n * m >= elements else 1
            elif op.startswith("dense_backward") and hasattr(new, "backward_min_work"):
                minimum = new.backward_min_work(args.dtype, n, k, m)
                threads = args.threads if work >= minimum else 1
            elif hasattr(new, "product_min_work"):
                try:    # dense_forward's epilogue counted, in builds that count it
                    minimum = new.product_min_work(args.dtype, n, k, m,
                                                   epilogue=op == "dense_forward")
                except TypeError:
                    minimum = new.product_min_work(args.dtype, n, k, m)
                threads = args.threads if work >= minimum else 1
            else:
                threads = args.threads if work >= threshold else 1
            o = w = 0.0     # the means over the offsets
            placements = (offsets if not op.startswith("dense_backward")
                          else [None])   # (no C given)
            for offset in placements:
                call = cases(op, n, k, m, np.dtype(args.dtype), args.fast, threads, offset)
                t_old, t_new = [], []
                for _ in range(args.rounds):
                    t_old.append(median_seconds(lambda: call(old), budget))
                    t_new.append(median_seconds(lambda: call(new), budget))
                o += float(np.median(t_old)) / len(placements)
                w += float(np.median(t_new)) / len(placements)
            rows.append((o / w, f"{op} {n}x{k} @ {k}x{m}", o, w, threads))
    for ratio, label, o, w, threads in sorted(rows):
        print(f"{ratio:5.2f}x  {label:<32} threads {threads}  old {o * 1e6:10.1f} us"
              f"  new {w * 1e6:10.1f} us")
    print(f"median old/new {np.median([r[0] for r in rows]):.2f}")


if __name__ == "__main__":
    main()
