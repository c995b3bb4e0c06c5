"""``python -m fastsig bench``: a first side-by-side timing of fastsig against numpy.

Each case runs the numpy code a user would otherwise write next to the fastsig call, on the same
data in the same process: first a check that the two agree, then calls interleaved (fastsig,
numpy, fastsig, numpy, ...) so that clock-speed changes and background load hit both alike, and
the medians are compared. Neither side is given a preallocated ``out=``: the numpy expressions
allocate their results, so fastsig allocates too and both do the same work.
"""

import json
import math
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager

import numpy as np

import fastsig

from ._check import config_summary

DTYPES = (np.float32, np.float64)
# Agreement: a relative tolerance, with the absolute one scaled to the largest result, since
# entries near zero from cancellation carry errors of the size of the large ones.
RTOL = {np.float32: 1e-4, np.float64: 1e-10}
TIME_BUDGET_S = {False: 0.2, True: 0.05}  # per case, by quick
MIN_REPEATS = 5
MIN_SAMPLE_S = 50e-6  # tiny calls are timed in batches so the timer's own cost is negligible


# ---- the numpy code fastsig replaces -------------------------------------------------------


def np_sigmoid(y):
    # exp(-y) overflows to inf for very negative y, and 1 / (1 + inf) is the right answer, 0.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-y))


def np_sigmoid_backward(grad, s):
    return grad * s * (1 - s)


def np_dense_forward(x, w, b):
    return np_sigmoid(x @ w + b)


def np_dense_backward(grad, x, w, s):
    dy = grad * s * (1 - s)
    return dy @ w.T, x.T @ dy, dy.sum(0)


# ---- cases ---------------------------------------------------------------------------------


def _dense_data(n, k, m, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k), dtype=dtype)
    w = rng.standard_normal((k, m), dtype=dtype)
    w /= np.sqrt(k)  # so that x @ w + b is of order one, where the sigmoid is not saturated
    b = rng.standard_normal(m, dtype=dtype)
    return rng, x, w, b


def _matmul(shape, dtype):
    _, x, w, _ = _dense_data(*shape, dtype)
    return (lambda: fastsig.matmul(x, w)), (lambda: x @ w)


def _dense_forward(shape, dtype):
    _, x, w, b = _dense_data(*shape, dtype)
    return (lambda: fastsig.dense_forward(x, w, b)), (lambda: np_dense_forward(x, w, b))


def _dense_backward(shape, dtype):
    rng, x, w, b = _dense_data(*shape, dtype)
    s = np_dense_forward(x, w, b)
    grad = rng.standard_normal(s.shape, dtype=dtype)
    return (
        lambda: fastsig.dense_backward(grad, x, w, s),
        lambda: np_dense_backward(grad, x, w, s),
    )


def _sigmoid(exponent, dtype):
    rng = np.random.default_rng(0)
    y = rng.standard_normal(10**exponent, dtype=dtype)
    y *= 4
    return (lambda: fastsig.sigmoid(y)), (lambda: np_sigmoid(y))


def _sigmoid_backward(exponent, dtype):
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(10**exponent, dtype=dtype)
    s = rng.random(10**exponent, dtype=dtype)
    return (
        lambda: fastsig.sigmoid_backward(grad, s),
        lambda: np_sigmoid_backward(grad, s),
    )


def _matrix_label(shape):
    n, k, m = shape
    return f"{n}x{k} @ {k}x{m}"


def _cases(quick):
    """(operation, shape label, dtype, make) in table order; make() builds the data and returns
    the fastsig and numpy callables, so that only one case's data is alive at a time."""
    n = 65_536 if quick else 262_144
    tall = [(n, 16, 16)] if quick else [(n, 16, 16), (n, 64, 64)]
    dense_shapes = [(2, 2, 3)] + tall  # the worked example of DESIGN.md, then a batch
    matmul_shapes = dense_shapes if quick else dense_shapes + [(1024, 1024, 1024)]
    exponents = [6] if quick else [5, 7]
    groups = [
        ("matmul", _matmul, [(_matrix_label(s), s) for s in matmul_shapes]),
        ("dense_forward", _dense_forward, [(_matrix_label(s), s) for s in dense_shapes]),
        ("dense_backward", _dense_backward, [(_matrix_label(s), s) for s in dense_shapes]),
        ("sigmoid", _sigmoid, [(f"10**{e}", e) for e in exponents]),
        ("sigmoid_backward", _sigmoid_backward, [(f"10**{e}", e) for e in exponents]),
    ]
    return [
        (operation, label, dtype, lambda f=factory, s=size, d=dtype: f(s, d))
        for operation, factory, sizes in groups
        for label, size in sizes
        for dtype in DTYPES
    ]


# ---- measuring -----------------------------------------------------------------------------


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def _disagreement(got, want, dtype):
    """None if fastsig's results match numpy's, else a description of how they differ."""
    for a, b in zip(_as_tuple(got), _as_tuple(want)):
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"fastsig gave {a.dtype} {a.shape}, numpy {b.dtype} {b.shape}"
        scale = float(np.max(np.abs(b), initial=0.0))
        if not np.allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * scale):
            diff = float(np.max(np.abs(a.astype(np.float64) - b)))
            return f"max |fastsig - numpy| = {diff:.3g}, largest |numpy| = {scale:.3g}"
    return None


def _seconds(call, number):
    start = time.perf_counter()
    for _ in range(number):
        call()
    return time.perf_counter() - start


def _time_pair(fast, peer, budget):
    """Median seconds per call of each, measured in interleaved samples of `number` calls."""
    once = min(_seconds(fast, 1), _seconds(peer, 1))
    number = max(1, math.ceil(MIN_SAMPLE_S / max(once, 1e-9)))
    pair = _seconds(fast, number) + _seconds(peer, number)
    repeats = max(MIN_REPEATS, round(budget / pair))
    fast_samples, peer_samples = [], []
    for _ in range(repeats):
        fast_samples.append(_seconds(fast, number))
        peer_samples.append(_seconds(peer, number))
    return statistics.median(fast_samples) / number, statistics.median(peer_samples) / number


def _measure(make, dtype, budget):
    """Agreement, then timings, of one case; the first calls double as a warm-up."""
    fast, peer = make()
    disagreement = _disagreement(fast(), peer(), dtype)
    fast_s, peer_s = _time_pair(fast, peer, budget)
    return {
        "disagreement": disagreement,
        "fastsig_ms": fast_s * 1e3,
        "numpy_ms": peer_s * 1e3,
        "ratio": peer_s / fast_s,
    }


# ---- machine and threads -------------------------------------------------------------------


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_threads():
    """What numpy's BLAS runs on, as threadpoolctl sees it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    blas = [
        f"{info['internal_api']} {info['num_threads']}"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    return ", ".join(blas) or "not found by threadpoolctl"


@contextmanager
def _threads_limited_to(threads):
    """fastsig, and numpy's BLAS when threadpoolctl is installed, on `threads` threads (None:
    leave both alone); yields a note saying what happened to numpy's BLAS."""
    if threads is None:
        yield "the default, not limited"
        return
    fastsig.set_num_threads(threads)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield "not limited: threadpoolctl is not installed"
        else:
            with threadpool_limits(threads, user_api="blas"):
                yield f"limited to {threads} with threadpoolctl"
    finally:
        # The command line runs this in a process of its own; a caller in-process gets fastsig's
        # default back.
        fastsig.set_num_threads(None)


def _machine(limit_note):
    config = config_summary()
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "fastsig_version": config["version"],
        "isa": config["isa"],
        "openmp": config["openmp"],
        "fastsig_threads": fastsig.get_num_threads(),
        "numpy_version": np.__version__,
        "numpy_blas_threads": f"{_blas_threads()} ({limit_note})",
        "python": platform.python_version(),
    }


# ---- output --------------------------------------------------------------------------------

COLUMNS = (
    ("operation", 16),
    ("shape", 22),
    ("dtype", 7),
    ("threads", 7),
    ("fastsig ms", 10),
    ("numpy ms", 10),
    ("numpy/fastsig", 13),
)


def _format_cells(cells):
    """Text columns left-aligned, numbers right-aligned."""
    return "  ".join(
        f"{cell:<{width}}" if i < 3 else f"{cell:>{width}}"
        for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS))
    )


def _header(machine):
    lines = [
        f"CPU: {machine['cpu']} ({machine['cpu_count']} logical CPUs)",
        f"fastsig {machine['fastsig_version']}  isa={machine['isa']}  "
        f"openmp={machine['openmp']}  threads={machine['fastsig_threads']}",
        f"numpy {machine['numpy_version']}  BLAS threads: {machine['numpy_blas_threads']}",
        "numpy/fastsig > 1 means fastsig is faster; medians of interleaved calls",
    ]
    if machine["fastsig_threads"] > 1:
        # Measured: on 2 cores a threaded call right after the other library's runs several
        # times slower than alone, as OpenMP and OpenBLAS threads spin-wait after each call.
        lines.append(
            "note: fastsig's OpenMP threads and numpy's BLAS threads spin for a while after each"
            " call, so alternating calls slow each other on few cores (--threads 1 avoids it)"
        )
    return lines + ["", _format_cells([name for name, _ in COLUMNS])]


def _row_lines(row):
    if row["error"]:
        return [f"ERROR {row['operation']} {row['shape']} {row['dtype']}: {row['error']}"]
    line = _format_cells(
        (
            row["operation"],
            row["shape"],
            row["dtype"],
            row["threads"],
            f"{row['fastsig_ms']:.3g}",
            f"{row['numpy_ms']:.3g}",
            f"{row['ratio']:.2f}",
        )
    )
    if row["disagreement"]:
        return [f"WARNING: fastsig and numpy disagree on the next row: {row['disagreement']}", line]
    return [line]


def run_bench(quick, threads, json_path):
    """Time every operation against numpy and print a table; 1 if any case failed or disagreed."""
    cases = _cases(quick)
    rows = []
    with _threads_limited_to(threads) as limit_note:
        machine = _machine(limit_note)
        for i, (operation, label, dtype, make) in enumerate(cases, 1):
            progress = f"[{i}/{len(cases)}] {operation} {np.dtype(dtype)} {label} ..."
            print(progress, file=sys.stderr, flush=True)
            row = {
                "operation": operation,
                "shape": label,
                "dtype": np.dtype(dtype).name,
                "threads": machine["fastsig_threads"],
                "error": None,
            }
            try:
                row.update(_measure(make, dtype, TIME_BUDGET_S[quick]))
            except Exception as exc:  # one broken case should not cost the rest of the table
                row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
    print("\n".join(_header(machine)))
    for row in rows:
        print("\n".join(_row_lines(row)))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": machine, "rows": rows}, f, indent=2)
    return 1 if any(row["error"] or row.get("disagreement") for row in rows) else 0
