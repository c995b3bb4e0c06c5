"""``python -m fastsig bench``: fastsig side by side with the code it replaces.

Each case (an operation, a shape, a dtype) gives the same data to fastsig and to every installed
peer: numpy's expression, scipy.special.expit, numexpr and torch. Each peer's answer is first
checked against fastsig's, then all of them are timed in the same process, calls interleaved
(fastsig, numpy, scipy, ..., fastsig, numpy, ...) so that clock-speed changes and background load
hit all alike, and medians are compared: ratio = peer time / fastsig time. Nobody gets a
preallocated ``out=``: the peers allocate their results, so fastsig allocates too.

Beside the peers, the sigmoid has a bound: "copy", a threaded copy of its input into
a new array (fastsig's own OpenMP copy kernel, on the threads fastsig uses), the least a
one-pass kernel must move through memory. Its ratio is the fraction of that bandwidth the
fastsig function reaches.
"""

import importlib
import importlib.metadata
import json
import math
import os
import platform
import re
import statistics
import sys
import textwrap
import time
from contextlib import ExitStack, contextmanager

import numpy as np

import fastsig

from . import _api, _dispatch, _reference
from ._check import config_summary
from ._config import _blocking_line
from ._peak import fma_peak

DTYPES = (np.float32, np.float64)
# Agreement: a relative tolerance, with the absolute one scaled to the largest result, since
# entries near zero from cancellation carry errors of the size of the large ones.
RTOL = {np.float32: 1e-4, np.float64: 1e-10}
TIME_BUDGET_S = {False: 1.0, True: 0.25}  # per case, all libraries together, by quick
# Medians of fewer than 7 are thrown by a burst of other work on a small machine; --quick makes
# do with 3, since every round waits for spinning threads (settle) and warms up (WARM_S).
MIN_ROUNDS = {False: 7, True: 3}
MIN_BLOCK_S = 1e-3  # tiny calls are timed in blocks so the timer's own cost is negligible
# settle(): the process counts as quiet when its threads use less than SETTLE_BUSY of one core
# over SETTLE_WINDOW_S; it waits at most SETTLE_MAX_S (a peer that never sleeps its threads).
SETTLE_WINDOW_S, SETTLE_BUSY, SETTLE_MAX_S = 0.005, 0.2, 1.0
WARM_S = 0.02  # untimed calls before each timed block, at least one
# Optional peers: the name in the table, the module the code below uses, its distribution.
PEER_MODULES = {
    "scipy": ("scipy.special", "scipy"),
    "numexpr": ("numexpr", "numexpr"),
    "torch": ("torch", "torch"),
}
# Columns that are bounds rather than libraries: timed, never checked for agreement.
BOUNDS = ("copy",)
PLOT_HINT = "pip install matplotlib (or pip install 'fastsig[bench]')"
PLOT_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)  # labelled ratios


# ---- the numpy code fastsig replaces: fastsig._reference's numpy peer ----------------------

np_sigmoid = _reference.numpy_sigmoid
np_sigmoid_backward = _reference.numpy_sigmoid_backward
np_dense_forward = _reference.numpy_dense_forward
np_dense_backward = _reference.numpy_dense_backward


def torch_dense_backward(torch, grad, x, w, s):
    """What a torch user writes by hand for this layer's backward (autograd does the same)."""
    dy = torch.ops.aten.sigmoid_backward(grad, s)
    return dy @ w.T, x.T @ dy, dy.sum(0)


# ---- cases: for each operation, the call of every library on one set of data --------------
#
# Each function below builds the data of one case and returns {library: callable}, fastsig
# first; `peers` maps the installed optional peers to their modules. torch gets tensors that
# share the numpy arrays' memory, made once, so that its timings hold no conversions.


def _dense_data(n, k, m, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k), dtype=dtype)
    w = rng.standard_normal((k, m), dtype=dtype)
    w /= np.sqrt(k)  # so that x @ w + b is of order one, where the sigmoid is not saturated
    b = rng.standard_normal(m, dtype=dtype)
    return rng, x, w, b


def _tensors(torch, *arrays):
    return [torch.from_numpy(a) for a in arrays]


def _copy_bound(a):
    """A new array holding `a`, copied by fastsig's threaded copy kernel on the threads
    fastsig would use for an elementwise call on `a`: the memory traffic of one pass."""
    threads = _api._resolve_num_threads(None, a.size, _api._MIN_ELEMENTS_FOR_THREADS[a.dtype])
    flat = a.reshape(-1)

    def copy():
        out = np.empty_like(flat)
        _dispatch.kernels.stream_copy(flat, out, threads)
        return out

    return copy


def _matmul(shape, dtype, peers):
    _, x, w, _ = _dense_data(*shape, dtype)
    calls = {"fastsig": lambda: fastsig.matmul(x, w), "numpy": lambda: x @ w}
    if "torch" in peers:
        torch = peers["torch"]
        tx, tw = _tensors(torch, x, w)
        calls["torch"] = lambda: torch.matmul(tx, tw)
    return calls


def _dense_forward(shape, dtype, peers):
    _, x, w, b = _dense_data(*shape, dtype)
    calls = {
        "fastsig": lambda: fastsig.dense_forward(x, w, b),
        "numpy": lambda: np_dense_forward(x, w, b),
    }
    if "torch" in peers:
        torch = peers["torch"]
        tx, tw, tb = _tensors(torch, x, w, b)
        calls["torch"] = lambda: torch.sigmoid(torch.addmm(tb, tx, tw))
    return calls


def _dense_backward(shape, dtype, peers):
    rng, x, w, b = _dense_data(*shape, dtype)
    s = np_dense_forward(x, w, b)
    grad = rng.standard_normal(s.shape, dtype=dtype)
    calls = {
        "fastsig": lambda: fastsig.dense_backward(grad, x, w, s),
        "numpy": lambda: np_dense_backward(grad, x, w, s),
    }
    if "torch" in peers:
        torch = peers["torch"]
        tensors = _tensors(torch, grad, x, w, s)
        calls["torch"] = lambda: torch_dense_backward(torch, *tensors)
    return calls


def _train_step(shape, dtype, peers):
    """One SGD step of the layer on a batch: forward, backward, weights updated in place. The
    layer is the first of a network (no dx): torch's autograd skips dx for an input that does
    not require grad, fastsig is told compute_dx=False. `grad` is dL/dS as the layer above
    gives it. Each library updates weights of its own; every call returns (s, dw, db) of the
    weights it started from, which agree on the first call, when the weights are equal."""
    rng, x, w0, b0 = _dense_data(*shape, dtype)
    grad = rng.standard_normal((shape[0], shape[2]), dtype=dtype)
    lr = dtype(1e-3)

    def fastsig_step(w=w0.copy(), b=b0.copy()):
        s = fastsig.dense_forward(x, w, b)
        _, dw, db = fastsig.dense_backward(grad, x, w, s, compute_dx=False)
        w -= lr * dw
        b -= lr * db
        return s, dw, db

    def numpy_step(w=w0.copy(), b=b0.copy()):
        s = np_dense_forward(x, w, b)
        dy = np_sigmoid_backward(grad, s)
        dw, db = x.T @ dy, dy.sum(0)
        w -= lr * dw
        b -= lr * db
        return s, dw, db

    calls = {"fastsig": fastsig_step, "numpy": numpy_step}
    if "torch" in peers:
        torch = peers["torch"]
        tx, tgrad = _tensors(torch, x, grad)
        layer = torch.nn.Linear(shape[1], shape[2], dtype=tx.dtype)
        with torch.no_grad():  # nn.Linear keeps W as m x k: y = x W^T + b
            layer.weight.copy_(torch.from_numpy(w0.T))
            layer.bias.copy_(torch.from_numpy(b0))

        def torch_step():
            layer.zero_grad(set_to_none=True)
            s = torch.sigmoid(layer(tx))
            s.backward(tgrad)
            with torch.no_grad():
                for parameter in layer.parameters():
                    parameter -= lr * parameter.grad
            return s.detach(), layer.weight.grad.T, layer.bias.grad

        calls["torch"] = torch_step
    return calls


def _sigmoid(size, dtype, peers):
    y = np.random.default_rng(0).standard_normal(size, dtype=dtype)
    y *= 4
    calls = {"fastsig": lambda: fastsig.sigmoid(y), "numpy": lambda: np_sigmoid(y)}
    if "scipy" in peers:
        expit = peers["scipy"].expit
        calls["scipy"] = lambda: expit(y)
    if "numexpr" in peers:
        evaluate = peers["numexpr"].evaluate
        calls["numexpr"] = lambda: evaluate("1 / (1 + exp(-y))", local_dict={"y": y})
    if "torch" in peers:
        torch = peers["torch"]
        (ty,) = _tensors(torch, y)
        calls["torch"] = lambda: torch.sigmoid(ty)
    calls["copy"] = _copy_bound(y)
    return calls


def _sigmoid_backward(size, dtype, peers):
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(size, dtype=dtype)
    s = rng.random(size, dtype=dtype)
    calls = {
        "fastsig": lambda: fastsig.sigmoid_backward(grad, s),
        "numpy": lambda: np_sigmoid_backward(grad, s),
    }
    if "numexpr" in peers:
        evaluate = peers["numexpr"].evaluate
        calls["numexpr"] = lambda: evaluate("g * s * (1 - s)", local_dict={"g": grad, "s": s})
    if "torch" in peers:
        torch = peers["torch"]
        tgrad, ts = _tensors(torch, grad, s)
        calls["torch"] = lambda: torch.ops.aten.sigmoid_backward(tgrad, ts)
    return calls


def _matrix_label(shape):
    n, k, m = shape
    return f"{n}x{k} @ {k}x{m}"


def _cases(quick, peers):
    """(operation, shape label, dtype, make) in table order; make() builds the data and returns
    the calls of every library, so that only one case's data is alive at a time."""
    n = 65_536 if quick else 262_144
    # The worked 2x2 · 2x3 example, then tall-skinny batches as a layer sees them.
    # (n, 256, 256) is in the asv suite: at seconds a call for numpy it would make this command
    # take minutes.
    tall = [(n, 16, 16)] if quick else [(n, 2, 3), (n, 16, 16), (n, 64, 64)]
    dense_shapes = [(2, 2, 3)] + tall
    matmul_shapes = dense_shapes if quick else dense_shapes + [(1024, 1024, 1024)]
    exponents = [6] if quick else [3, 5, 7]
    groups = [
        ("matmul", _matmul, [(_matrix_label(s), s) for s in matmul_shapes]),
        ("dense_forward", _dense_forward, [(_matrix_label(s), s) for s in dense_shapes]),
        ("dense_backward", _dense_backward, [(_matrix_label(s), s) for s in dense_shapes]),
        ("train_step", _train_step, [(_matrix_label(s), s) for s in dense_shapes]),
        ("sigmoid", _sigmoid, [(f"10**{e}", 10**e) for e in exponents]),
        ("sigmoid_backward", _sigmoid_backward, [(f"10**{e}", 10**e) for e in exponents]),
    ]
    return [
        (operation, label, dtype, lambda f=factory, s=size, d=dtype: f(s, d, peers))
        for operation, factory, sizes in groups
        for label, size in sizes
        for dtype in DTYPES
    ]


# ---- peers ---------------------------------------------------------------------------------


def import_peers():
    """({name: module} of the installed optional peers, {name: why not} of the others)."""
    installed, missing = {}, {}
    for name, (module, _) in PEER_MODULES.items():
        try:
            installed[name] = importlib.import_module(module)
        # Not only ImportError: a broken install (a missing shared library, say) raises others,
        # and it should cost that peer's column, not the benchmark.
        except Exception as exc:
            missing[name] = f"{type(exc).__name__}: {exc}"
    return installed, missing


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown version"


# ---- measuring -----------------------------------------------------------------------------


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def disagreement(got, want, dtype, peer):
    """None if a peer's results `got` match fastsig's `want`, else how they differ. np.asarray
    reads torch's tensors too."""
    got, want = _as_tuple(got), _as_tuple(want)
    if len(got) != len(want):
        return f"{peer} gave {len(got)} results, fastsig {len(want)}"
    for a, b in zip(got, want):
        a = np.asarray(a)
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{peer} gave {a.dtype} {a.shape}, fastsig {b.dtype} {b.shape}"
        scale = float(np.max(np.abs(b), initial=0.0))
        if not np.allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * scale):
            diff = float(np.max(np.abs(a.astype(np.float64) - b)))
            return f"max |{peer} - fastsig| = {diff:.3g}, largest |fastsig| = {scale:.3g}"
    return None


def _failure(exc):
    return f"{type(exc).__name__}: {exc}"


def _seconds(call, number):
    start = time.perf_counter()
    for _ in range(number):
        call()
    return time.perf_counter() - start


def settle(max_wait=SETTLE_MAX_S):
    """Wait until no other thread of this process is running, at most `max_wait` seconds.

    After a call, a library's worker threads keep spinning for a while before they sleep:
    numpy's OpenBLAS for about 130 ms (seen on a 2-vCPU machine). On few cores a spinning
    thread takes a core from the next library's threads, and a threaded call waits for its
    slowest thread: fastsig's 2.5 ms dense_backward at (16, 16) took 8-17 ms right after a
    512² numpy product. The process's CPU time (all its threads) against the wall clock over a
    short sleep tells whether anything still runs."""
    deadline = time.perf_counter() + max_wait
    while True:
        cpu, wall = time.process_time(), time.perf_counter()
        time.sleep(SETTLE_WINDOW_S)
        busy = (time.process_time() - cpu) / (time.perf_counter() - wall)
        if busy < SETTLE_BUSY or time.perf_counter() > deadline:
            return


def time_interleaved(calls, budget, min_rounds=MIN_ROUNDS[False]):
    """{name: median seconds per call} of `calls`, in rounds that run each library in turn.

    In a round each library waits until the previous one's threads have stopped spinning
    (settle), makes untimed calls for WARM_S at least (its threads wake, its caches fill, and
    the cores, idle while settle waited, get back to speed: one call of 3 ms was not enough)
    and then a timed block of calls.
    """
    once = {name: max(_seconds(call, 1), 1e-9) for name, call in calls.items()}
    number = {name: math.ceil(MIN_BLOCK_S / seconds) for name, seconds in once.items()}
    # A round's time as the budget sees it: each library's settle, warm-up and timed block.
    round_s = sum(SETTLE_WINDOW_S + max(once[name], WARM_S) + once[name] * number[name]
                  for name in calls)
    rounds = max(min_rounds, round(budget / round_s))
    samples = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            settle()
            warm_until = time.perf_counter() + WARM_S
            call()
            while time.perf_counter() < warm_until:
                call()
            samples[name].append(_seconds(call, number[name]) / number[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(calls, dtype, budget, min_rounds=MIN_ROUNDS[False]):
    """Agreement with fastsig, then timings, of one case's calls; the checking calls double as
    a warm-up. A peer that disagrees or fails is reported and left out of the timing."""
    reference = calls["fastsig"]()
    peers = {}
    timed = {"fastsig": calls["fastsig"]}
    for name, call in calls.items():
        if name == "fastsig":
            continue
        result = {"ms": None, "ratio": None, "disagreement": None, "error": None}
        try:
            if name in BOUNDS:
                call()  # a warm-up like the others'; a bound computes something else
            else:
                result["disagreement"] = disagreement(call(), reference, dtype, name)
        except Exception as exc:  # a broken peer costs its own cell, not the case
            result["error"] = _failure(exc)
        if not (result["disagreement"] or result["error"]):
            timed[name] = call
        peers[name] = result
    seconds = time_interleaved(timed, budget, min_rounds=min_rounds)
    for name in timed.keys() - {"fastsig"}:
        peers[name].update(ms=seconds[name] * 1e3, ratio=seconds[name] / seconds["fastsig"])
    return {"fastsig_ms": seconds["fastsig"] * 1e3, "peers": peers}


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


def _threads_text(count):
    return "1 thread" if count == 1 else f"{count} threads"


def _blas_threads():
    """What numpy's BLAS runs on, as threadpoolctl sees it."""
    from threadpoolctl import threadpool_info

    blas = [
        f"{info['internal_api']} on {_threads_text(info['num_threads'])}"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    # numpy's and scipy's own copies of OpenBLAS would otherwise read as two lines alike
    return ", ".join(dict.fromkeys(blas)) or "not found by threadpoolctl"


def _limit_blas(stack, threads):
    """numpy's BLAS on `threads` threads until `stack` closes; returns a note for the header."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "BLAS threads not limited: threadpoolctl is not installed"
    stack.enter_context(threadpool_limits(threads, user_api="blas"))
    return f"BLAS {_blas_threads()}"


@contextmanager
def threads_for_all(threads, peers):
    """fastsig on `threads` threads (None: its default), and numpy's BLAS, numexpr and torch on
    as many as fastsig, inside the block; yields that count and a note per library."""
    with ExitStack() as stack:
        if threads is not None:
            fastsig.set_num_threads(threads)
            # The command line runs this in a process of its own; a caller in-process gets
            # fastsig's default back.
            stack.callback(fastsig.set_num_threads, None)
        count = fastsig.get_num_threads()
        notes = {"numpy": _limit_blas(stack, count), "scipy": "expit on 1 thread (a ufunc)"}
        if "numexpr" in peers:
            previous = peers["numexpr"].set_num_threads(count)
            stack.callback(peers["numexpr"].set_num_threads, previous)
            notes["numexpr"] = f"on {_threads_text(count)}"
        if "torch" in peers:
            torch = peers["torch"]
            stack.callback(torch.set_num_threads, torch.get_num_threads())
            torch.set_num_threads(count)
            notes["torch"] = f"on {_threads_text(count)}"
        yield count, notes


def _load_average():
    """The 1-minute load average, None where the OS has none (Windows): on few cores, another
    busy process makes threaded calls wait for a descheduled thread."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _machine(threads, notes, peers, missing):
    config = config_summary()
    peak = fma_peak()
    versions = {"numpy": np.__version__}
    versions.update((name, _version(PEER_MODULES[name][1])) for name in peers)
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "fastsig_version": config["version"],
        "isa": config["isa"],
        "accuracy": config["accuracy"],
        "blocking": config["blocking"],
        "openmp": config["openmp"],
        "threads": threads,
        "python": platform.python_version(),
        "peers": {name: {"version": v, "threads": notes[name]} for name, v in versions.items()},
        "missing_peers": missing,
        "load_average": {"start": _load_average()},
        "fma_peak_gflops": peak,
    }


# ---- output --------------------------------------------------------------------------------

CASE_COLUMNS = (("operation", 16), ("shape", 21), ("dtype", 7), ("threads", 7))
MS_WIDTH, RATIO_WIDTH = 9, 6
TIMING_NOTE = (
    "timing: medians of rounds that run every library in turn on the same data; in each round"
    " a library waits until the previous library's OpenMP/BLAS threads have stopped spinning"
    " (the process's CPU time says so), makes untimed calls for 20 ms (at least one), then a"
    " timed block of calls (>= 1 ms). Another busy process still slows threaded calls most;"
    " --threads 1 avoids it"
)


def _table_peers(rows):
    """The peers that have a cell in some row: numpy, then the optional ones."""
    present = {name for row in rows for name in row["peers"]}
    return [name for name in ("numpy", *PEER_MODULES, *BOUNDS) if name in present]


def _case_cells(values):
    """The columns that name a case: text left-aligned, the thread count right-aligned."""
    return "  ".join(
        f"{value!s:>{width}}" if name == "threads" else f"{value!s:<{width}}"
        for value, (name, width) in zip(values, CASE_COLUMNS)
    )


def _peer_cells(result):
    if result is None:
        return " " * (MS_WIDTH + 2 + RATIO_WIDTH)
    if result["ratio"] is None:  # disagreed or failed: reported above the row
        return f"{'-':>{MS_WIDTH}}  {'!':>{RATIO_WIDTH}}"
    return f"{result['ms']:>{MS_WIDTH}.3g}  {result['ratio']:>{RATIO_WIDTH}.3g}"


def _table_header(peers):
    case_width = sum(width for _, width in CASE_COLUMNS) + 2 * (len(CASE_COLUMNS) - 1)
    group_width = MS_WIDTH + 2 + RATIO_WIDTH
    titles = f"{'':{case_width}}  {'fastsig':>{MS_WIDTH}}" + "".join(
        f"  {name:>{group_width}}" for name in peers
    )
    names = _case_cells([name for name, _ in CASE_COLUMNS])
    units = f"{names}  {'ms':>{MS_WIDTH}}" + "".join(
        f"  {'ms':>{MS_WIDTH}}  {'ratio':>{RATIO_WIDTH}}" for _ in peers
    )
    return [titles.rstrip(), units]


def _header(machine, peers):
    libraries = "; ".join(
        f"{name} {info['version']} {info['threads']}" for name, info in machine["peers"].items()
    )
    lines = [
        f"CPU: {machine['cpu']}, {machine['cpu_count']} logical CPUs",
        f"fastsig {machine['fastsig_version']}  isa={machine['isa']}  "
        f"openmp={machine['openmp']}  threads={machine['threads']}  "
        f"accuracy={machine['accuracy']}  python {machine['python']}",
        f"blocking: {_blocking_line(machine['blocking']) if machine.get('blocking') else '-'}",
        f"peers: {libraries}",
    ]
    lines += [f"not installed: {name} ({why})" for name, why in machine["missing_peers"].items()]
    load = machine["load_average"]
    if load["start"] is not None:
        lines.append(
            f"load average (1 min): {load['start']} at the start, {load['end']} at the end"
        )
    lines += [
        "ratio = peer ms / fastsig ms: > 1 means fastsig is faster",
        "copy: a threaded copy of the same bytes, the memory-bandwidth bound of the sigmoid;"
        " its ratio is the fraction of that bandwidth fastsig reaches",
        "train_step: forward, backward without dx, SGD update; torch by autograd (nn.Linear)",
        *textwrap.wrap(TIMING_NOTE, width=100, subsequent_indent="  "),
        "",
    ]
    return lines + _table_header(peers)


def _peer_problem(name, result):
    if result["disagreement"]:
        return f"WARNING: {name} and fastsig disagree on the next row: {result['disagreement']}"
    return f"WARNING: {name} failed on the next row: {result['error']}"


def _row_lines(row, peers):
    if row["error"]:
        return [f"ERROR {row['operation']} {row['shape']} {row['dtype']}: {row['error']}"]
    problems = [
        _peer_problem(name, result)
        for name, result in row["peers"].items()
        if result["ratio"] is None
    ]
    cases = _case_cells([row[name] for name, _ in CASE_COLUMNS])
    line = f"{cases}  {row['fastsig_ms']:>{MS_WIDTH}.3g}" + "".join(
        f"  {_peer_cells(row['peers'].get(name))}" for name in peers
    )
    return problems + [line.rstrip()]


def _matmul_gflops(row):
    """{library: GFLOP/s} of a matmul row (a multiply-add counts two), or None."""
    if row["operation"] != "matmul" or row["error"]:
        return None
    n, k, m = map(int, re.fullmatch(r"(\d+)x(\d+) @ \d+x(\d+)", row["shape"]).groups())
    flops = 2 * n * k * m
    rates = {"fastsig": flops / (row["fastsig_ms"] * 1e6)}
    rates.update((name, flops / (result["ms"] * 1e6))
                 for name, result in row["peers"].items() if result["ms"])
    return rates


def _peak_lines(rows, machine):
    """Each matmul row's GFLOP/s and its fraction of the FMA peak of the threads it ran on."""
    peak = machine["fma_peak_gflops"]
    threads = machine["threads"]
    lines = [
        "",
        f"matmul against the FMA peak: the probe measured {peak['float32']:.0f} (float32) and"
        f" {peak['float64']:.0f} (float64) GFLOP/s on one core; x {threads} thread(s)",
    ]
    for row in rows:
        rates = row.get("gflops")
        if not rates:
            continue
        ceiling = peak[row["dtype"]] * threads
        cells = "  ".join(f"{name} {rate:.3g} GF/s ({rate / ceiling:.0%})"
                          for name, rate in rates.items())
        lines.append(f"  {row['shape']:<{CASE_COLUMNS[1][1]}}  {row['dtype']:<7}  {cells}")
    return lines


def _failed(row):
    return bool(row["error"]) or any(result["ratio"] is None for result in row["peers"].values())


# ---- plot ----------------------------------------------------------------------------------


def import_figure():
    """matplotlib's Figure class, imported only for --plot: matplotlib is an optional extra."""
    from matplotlib.figure import Figure

    return Figure


def _plot(rows, machine, path, figure_class):
    """One horizontal bar per case and peer, from 1 to its ratio on a log axis, so that bars to
    the right of the line at 1 are cases where fastsig is faster."""
    peers = _table_peers(rows)
    colors = {name: f"C{i}" for i, name in enumerate(peers)}
    bars, case_ticks = [], []  # bars: (y, peer, ratio); case_ticks: (y, case label)
    y = 0.0
    for row in reversed(rows):  # matplotlib's y grows upwards; the first case goes on top
        timed = [(name, r["ratio"]) for name, r in row["peers"].items() if r["ratio"]]
        if not timed:
            continue
        for offset, (name, ratio) in enumerate(reversed(timed)):
            bars.append((y + offset, name, ratio))
        label = f"{row['operation']} {row['shape']} {row['dtype']}"
        case_ticks.append((y + (len(timed) - 1) / 2, label))
        y += len(timed) + 0.8  # a gap between cases
    figure = figure_class(figsize=(9, 1.5 + 0.2 * y), layout="constrained")
    axes = figure.add_subplot()
    for name in peers:
        mine = [(position, ratio) for position, peer, ratio in bars if peer == name]
        if mine:
            positions, ratios = zip(*mine)
            widths = [ratio - 1 for ratio in ratios]
            axes.barh(positions, widths, left=1, height=0.85, color=colors[name], label=name)
    for position, _, ratio in bars:  # the number at the end of its bar
        right = ratio >= 1
        axes.annotate(
            f"{ratio:.2g}",
            (ratio, position),
            xytext=(3 if right else -3, 0),
            textcoords="offset points",
            va="center",
            ha="left" if right else "right",
            fontsize=6,
        )
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xscale("log")
    axes.margins(x=0.1)
    # A log axis labels only the powers of ten; ratios read better at 0.5, 2, 5 too.
    low, high = axes.get_xlim()
    ratio_ticks = [tick for tick in PLOT_TICKS if low <= tick <= high]
    axes.set_xticks(ratio_ticks, [f"{tick:g}" for tick in ratio_ticks])
    axes.tick_params(axis="x", which="minor", labelbottom=False)
    axes.set_yticks(
        [position for position, _ in case_ticks], [label for _, label in case_ticks], fontsize=7
    )
    axes.set_ylim(-1, y - 0.2)
    axes.set_xlabel("peer time / fastsig time (> 1: fastsig is faster)")
    axes.set_title(
        f"fastsig {machine['fastsig_version']} vs peers: {machine['cpu']}, "
        f"{_threads_text(machine['threads'])}, isa={machine['isa']}",
        fontsize=9,
    )
    if bars:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # clear of the bars
    figure.savefig(path, dpi=110)


# ---- the command ---------------------------------------------------------------------------


def _progress(i, count, operation, label, dtype):
    print(f"[{i}/{count}] {operation} {np.dtype(dtype)} {label} ...", file=sys.stderr, flush=True)


def _run_case(operation, label, dtype, make, threads, budget, min_rounds):
    row = {
        "operation": operation,
        "shape": label,
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "error": None,
        "fastsig_ms": None,
        "peers": {},
    }
    try:
        row.update(measure(make(), dtype, budget, min_rounds))
    except Exception as exc:  # one broken case should not cost the rest of the table
        row["error"] = _failure(exc)
    return row


def run_bench(quick, threads, json_path, plot_path=None):
    """Time every operation against each installed peer and print a table; 1 if any case
    failed or disagreed, 2 if --plot cannot be drawn (checked before anything runs)."""
    figure_class = None
    if plot_path:
        try:
            figure_class = import_figure()
        except ImportError as exc:  # the reason tells a missing matplotlib from a broken one
            message = f"error: --plot needs matplotlib, which cannot be imported ({exc})"
            print(f"{message}: {PLOT_HINT}", file=sys.stderr)
            return 2
    peers, missing = import_peers()
    cases = _cases(quick, peers)
    with threads_for_all(threads, peers) as (count, notes):
        machine = _machine(count, notes, peers, missing)
        rows = []
        for i, (operation, label, dtype, make) in enumerate(cases, 1):
            _progress(i, len(cases), operation, label, dtype)
            rows.append(_run_case(operation, label, dtype, make, count, TIME_BUDGET_S[quick],
                                  MIN_ROUNDS[quick]))
        machine["load_average"]["end"] = _load_average()
    for row in rows:
        gflops = _matmul_gflops(row)
        if gflops:
            row["gflops"] = gflops
    table_peers = _table_peers(rows)
    print("\n".join(_header(machine, table_peers)))
    for row in rows:
        print("\n".join(_row_lines(row, table_peers)))
    print("\n".join(_peak_lines(rows, machine)))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": machine, "rows": rows}, f, indent=2)
    if figure_class:
        _plot(rows, machine, plot_path, figure_class)
    return 1 if any(_failed(row) for row in rows) else 0
