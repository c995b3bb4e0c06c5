"""Threads: num_threads resolution, bitwise determinism, concurrent Python threads, fork safety."""

import concurrent.futures
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings

import numpy as np
import pytest

import fastsig
from fastsig import _reference
from fastsig import _api
from fastsig._openmp_helpers import openmp_enabled

OPENMP = openmp_enabled()
needs_openmp = pytest.mark.skipif(not OPENMP, reason="fastsig was built without OpenMP")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

BIG_WORK = 10**9  # a work size that is always worth threads
BAD_VALUES = [(0, ValueError), (-1, ValueError), (-64, ValueError),
              (1.0, TypeError), (2.5, TypeError), ("2", TypeError), (True, TypeError),
              (False, TypeError)]

resolve = _api._resolve_num_threads


# --------------------------------------------------------------------------------------------
# resolution of num_threads
# --------------------------------------------------------------------------------------------

@pytest.mark.quick
@pytest.mark.parametrize("n", [1, 2, 3, 7, 64])
def test_explicit_num_threads_used_as_given(n):
    for work in (0, 1, 100, 65535, 65536, BIG_WORK):
        assert resolve(n, work) == n
    assert resolve(np.int64(n), 10) == n


@pytest.mark.quick
def test_default_num_threads(thread_setting):
    thread_setting(None)
    default = fastsig.get_num_threads()
    assert isinstance(default, int) and default >= 1
    assert resolve(None, BIG_WORK) == default
    # only with None may a small input drop to fewer threads
    for work in (0, 1, 1000):
        assert 1 <= resolve(None, work) <= default
    if not OPENMP:
        assert default == 1


@needs_openmp
def test_default_matches_openmp_runtime(thread_setting):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    thread_setting(None)
    counts = {info["num_threads"] for info in threadpoolctl.threadpool_info()
              if info.get("user_api") == "openmp"}
    if not counts:
        pytest.skip("threadpoolctl does not see an OpenMP runtime")
    assert fastsig.get_num_threads() in counts


@pytest.mark.quick
def test_set_num_threads(thread_setting):
    thread_setting(None)
    default = fastsig.get_num_threads()
    for n in (3, 1, 5):
        thread_setting(n)
        assert fastsig.get_num_threads() == n
        assert resolve(None, BIG_WORK) == n
        assert resolve(2, BIG_WORK) == 2  # explicit still wins
    thread_setting(None)
    assert fastsig.get_num_threads() == default
    assert resolve(None, BIG_WORK) == default


def test_set_num_threads_bad_values(thread_setting):
    thread_setting(3)
    for value, exc in BAD_VALUES:
        with pytest.raises(exc):
            thread_setting(value)
        assert fastsig.get_num_threads() == 3, f"state changed by set_num_threads({value!r})"


def test_threadpoolctl_limits(thread_setting):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    thread_setting(None)
    default = fastsig.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastsig.get_num_threads() == 1
        assert resolve(None, BIG_WORK) == 1
        assert resolve(3, BIG_WORK) == 3
        # a process-wide set_num_threads value takes precedence over the OpenMP default
        thread_setting(2)
        assert resolve(None, BIG_WORK) == 2
        thread_setting(None)
        assert resolve(None, BIG_WORK) == 1
    assert fastsig.get_num_threads() == default


@needs_openmp
def test_threadpoolctl_limits_two(thread_setting):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    thread_setting(None)
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        assert fastsig.get_num_threads() == 2
        assert resolve(None, BIG_WORK) == 2


_PRINT_THREADS = (
    "import fastsig; from fastsig import _api; "
    "print(fastsig.get_num_threads(), _api._resolve_num_threads(None, 10**9))"
)


@pytest.mark.parametrize("omp", ["1", "3"])
def test_omp_num_threads_environment(tmp_path, helpers, omp):
    if omp != "1" and not OPENMP:
        pytest.skip("fastsig was built without OpenMP")
    p = helpers.run_python(["-c", _PRINT_THREADS], tmp_path, timeout=120, OMP_NUM_THREADS=omp)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [omp, omp]


@pytest.mark.quick
@pytest.mark.parametrize("value,exc", BAD_VALUES, ids=repr)
def test_resolver_bad_values(value, exc):
    for work in (0, 10, BIG_WORK):
        with pytest.raises(exc):
            resolve(value, work)


@pytest.mark.parametrize("value,exc", BAD_VALUES, ids=repr)
def test_public_functions_bad_num_threads(spec, rng, value, exc):
    args = spec.make(rng, np.float64)
    with pytest.raises(exc):
        spec(*args, num_threads=value)


# --------------------------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------------------------

def _check_deterministic(fn, args, helpers, what, thread_setting=None):
    ref = helpers.as_tuple(fn(*args, num_threads=1))
    runs = [(nt, fn(*args, num_threads=nt)) for nt in (2, 3, None, 1, 2, 3)]
    if thread_setting is not None:
        thread_setting(2)
        runs.append(("set 2", fn(*args)))
        thread_setting(3)
        runs.append(("set 3", fn(*args, num_threads=None)))
        thread_setting(None)
    for nt, res in runs:
        for r, e in zip(helpers.as_tuple(res), ref):
            helpers.assert_bitwise_equal(r, e, f"{what}: num_threads={nt} vs 1")


@pytest.mark.quick
def test_deterministic_across_threads(spec, dtype, rng, helpers, thread_setting):
    args = spec.make(rng, dtype, "big")
    _check_deterministic(spec, args, helpers, spec.name, thread_setting)
    if spec.name == "dense_backward":
        a = helpers.as_tuple(spec(*args, compute_dx=False, num_threads=1))
        b = helpers.as_tuple(spec(*args, compute_dx=False, num_threads=3))
        assert a[0] is None and b[0] is None
        helpers.assert_bitwise_equal(a[1], b[1], "dw, compute_dx=False")
        helpers.assert_bitwise_equal(a[2], b[2], "db, compute_dx=False")


@pytest.mark.parametrize("n,k,m", [(301, 203, 149), (1000, 64, 50), (4099, 17, 5), (5, 700, 400)],
                         ids=str)
def test_deterministic_gemm_shapes(dtype, rng, helpers, n, k, m):
    x = rng.uniform(-1, 1, size=(n, k)).astype(dtype)
    w = rng.uniform(-1, 1, size=(k, m)).astype(dtype)
    b = rng.uniform(-1, 1, size=m).astype(dtype)
    g = rng.normal(size=(n, m)).astype(dtype)
    s = rng.uniform(0, 1, size=(n, m)).astype(dtype)
    _check_deterministic(fastsig.matmul, (x, w), helpers, "matmul")
    _check_deterministic(fastsig.dense_forward, (x, w, b), helpers, "dense_forward")
    _check_deterministic(fastsig.dense_backward, (g, x, w, s), helpers, "dense_backward")


@pytest.mark.parametrize("size", [10**6 + 7, 65536, 65535, 131073, 1001])
def test_deterministic_elementwise_sizes(dtype, rng, helpers, size):
    y = rng.uniform(-20, 20, size=size).astype(dtype)
    s = rng.uniform(0, 1, size=size).astype(dtype)
    _check_deterministic(fastsig.sigmoid, (y,), helpers, "sigmoid")
    _check_deterministic(fastsig.sigmoid_backward, (y, s), helpers, "sigmoid_backward")


def test_deterministic_with_out_and_in_place(dtype, rng, helpers):
    y = rng.uniform(-20, 20, size=(1000, 1000)).astype(dtype)
    ref = fastsig.sigmoid(y, num_threads=1)
    for nt in (2, 3, None):
        out = np.empty_like(y)
        helpers.assert_bitwise_equal(fastsig.sigmoid(y, out=out, num_threads=nt), ref)
        z = y.copy()
        helpers.assert_bitwise_equal(fastsig.sigmoid(z, out=z, num_threads=nt), ref)


# --------------------------------------------------------------------------------------------
# many Python threads at once
# --------------------------------------------------------------------------------------------

def _tasks(specs, seed):
    rng = np.random.default_rng(seed)
    names = list(specs)
    tasks = []
    for i in range(20):
        spec = specs[names[i % len(names)]]
        dtype = (np.float32, np.float64)[(i // len(names)) % 2]
        size = "big" if i % 3 == 0 else "small"
        nt = (None, 2, 1, 3)[i % 4]
        tasks.append((spec, spec.make(rng, dtype, size), nt))
    return tasks


@pytest.mark.quick
def test_python_threads_concurrently(specs, helpers):
    tasks = _tasks(specs, 2024)
    serial = [spec(*args, num_threads=nt) for spec, args, nt in tasks]
    for _ in range(2):
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            futures = [ex.submit(spec, *args, num_threads=nt) for spec, args, nt in tasks]
            results = [f.result(timeout=120) for f in futures]
        for (spec, _, nt), res, ref in zip(tasks, results, serial):
            for r, e in zip(helpers.as_tuple(res), helpers.as_tuple(ref)):
                helpers.assert_bitwise_equal(r, e, f"{spec.name} num_threads={nt} in a thread")


def test_python_threads_with_out(helpers, rng):
    ys = [rng.uniform(-9, 9, size=(500, 400)) for _ in range(8)]
    refs = [fastsig.sigmoid(y) for y in ys]
    outs = [np.empty_like(y) for y in ys]

    def work(i):
        return fastsig.sigmoid(ys[i], out=outs[i], num_threads=2)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(work, range(8), timeout=120))
    for i, r in enumerate(results):
        assert r is outs[i]
        helpers.assert_bitwise_equal(r, refs[i])


def _run_threads(targets, timeout=180):
    """Run each callable in its own Python thread; re-raise the first failure."""
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        return run

    threads = [threading.Thread(target=wrap(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout} s"
    if errors:
        raise errors[0]


@pytest.mark.quick
def test_eight_threads_every_function_mixed_num_threads(specs, helpers, thread_setting):
    """8 Python threads, released together by a barrier, each calling all five functions (with
    and without out=) on its own data, each with its own num_threads (1, 2, 3, 4 and None,
    which follows set_num_threads while a 9th thread keeps changing it): every result has the
    bits of the serial one-thread call."""
    rng = np.random.default_rng(77)
    per_thread_nt = (1, 2, 3, 4, None, 2, None, 3)
    work = []
    for i, nt in enumerate(per_thread_nt):
        dtype = (np.float32, np.float64)[i % 2]
        size = "big" if i % 4 < 2 else "small"
        calls = [(spec, spec.make(rng, dtype, size)) for spec in specs.values()]
        refs = [helpers.as_tuple(spec(*args, num_threads=1)) for spec, args in calls]
        work.append((nt, calls, refs))

    rounds = 3
    barrier = threading.Barrier(len(work) + 1)
    stop = threading.Event()
    results = [[] for _ in work]

    def worker(i):
        nt, calls, _ = work[i]
        barrier.wait(timeout=60)
        for _ in range(rounds):
            for spec, args in calls:
                results[i].append((spec.name, helpers.as_tuple(spec(*args, num_threads=nt))))
                if spec.has_out:
                    out = np.full(spec.result_shape(args), np.nan,
                                  dtype=helpers.as_tuple(results[i][-1][1])[0].dtype)
                    results[i].append((spec.name + " out=",
                                       (spec(*args, out=out, num_threads=nt),)))

    def toggler():
        barrier.wait(timeout=60)
        values = (1, 3, None, 2, 4)
        i = 0
        while not stop.is_set():
            fastsig.set_num_threads(values[i % len(values)])
            i += 1
            time.sleep(0.0005)

    toggle = threading.Thread(target=toggler, daemon=True)
    toggle.start()
    try:
        _run_threads([lambda i=i: worker(i) for i in range(len(work))])
    finally:
        stop.set()
        toggle.join(30)
    for i, (nt, calls, refs) in enumerate(work):
        expected = []  # per round: each function, and again with out= where it takes one
        for (spec, _), ref in zip(calls, refs):
            expected.append((spec.name, ref))
            if spec.has_out:
                expected.append((spec.name + " out=", ref))
        assert len(results[i]) == rounds * len(expected)
        for k, (name, res) in enumerate(results[i]):
            exp_name, ref = expected[k % len(expected)]
            assert name == exp_name
            for r, e in zip(res, ref):
                helpers.assert_bitwise_equal(r, e, f"thread {i} {name} num_threads={nt}")


# --------------------------------------------------------------------------------------------
# fork
# --------------------------------------------------------------------------------------------

def _fork_inputs(rng):
    y = rng.uniform(-10, 10, size=10**6)
    x = rng.uniform(-1, 1, size=(300, 200))
    w = rng.uniform(-1, 1, size=(200, 150))
    g = rng.normal(size=(300, 150))
    s = rng.uniform(0, 1, size=(300, 150))
    return y, x, w, g, s


def _wait_child(pid, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid != 0:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)


@pytest.mark.quick
@needs_fork
def test_fork_after_threaded_call(rng, helpers):
    y, x, w, g, s = _fork_inputs(rng)
    # run every kernel threaded in the parent first
    s_ref = fastsig.sigmoid(y, num_threads=2)
    y_ref = fastsig.matmul(x, w, num_threads=2)
    back_ref = fastsig.dense_backward(g, x, w, s, num_threads=2)
    fwd_ref = fastsig.dense_forward(x, w, num_threads=2)
    sb_ref = fastsig.sigmoid_backward(g, s, num_threads=2)
    # numpy references, computed here so that the child needs nothing but fastsig
    np_s = helpers.ref_sigmoid(y)
    np_y = x @ w
    np_back = _reference.dense_backward(g, x, w, s, g.dtype)

    def child():
        for nt in (None, 2):
            r = fastsig.sigmoid(y, num_threads=nt)
            np.testing.assert_allclose(r, np_s, rtol=1e-14, atol=0)
            helpers.assert_bitwise_equal(r, s_ref, f"child sigmoid num_threads={nt}")
            r = fastsig.matmul(x, w, num_threads=nt)
            np.testing.assert_allclose(r, np_y, rtol=1e-10, atol=1e-10)
            helpers.assert_bitwise_equal(r, y_ref, f"child matmul num_threads={nt}")
            res = fastsig.dense_backward(g, x, w, s, num_threads=nt)
            for a, b, c in zip(res, np_back, back_ref):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
                helpers.assert_bitwise_equal(a, c, f"child dense_backward num_threads={nt}")
            helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, num_threads=nt),
                                         fwd_ref, "child dense_forward")
            helpers.assert_bitwise_equal(fastsig.sigmoid_backward(g, s, num_threads=nt),
                                         sb_ref, "child sigmoid_backward")
        if OPENMP:
            assert resolve(None, BIG_WORK) == 1
            assert resolve(2, BIG_WORK) == 1

    status, detail = _fork_call(child, timeout=30)
    _assert_child_ok(status, detail, "fork after a threaded call")
    # the parent is unaffected and still threaded
    helpers.assert_bitwise_equal(fastsig.sigmoid(y, num_threads=2), s_ref, "parent after fork")
    if OPENMP:
        assert resolve(2, BIG_WORK) == 2


def _pool_worker(task):
    name, args, nt = task
    res = getattr(fastsig, name)(*args, num_threads=nt)
    return res, _api._resolve_num_threads(None, 10**9)


@needs_fork
def test_multiprocessing_fork_pool(rng, helpers):
    y, x, w, g, s = _fork_inputs(rng)
    tasks = [
        ("sigmoid", (y,), None), ("sigmoid", (y,), 2),
        ("matmul", (x, w), None), ("matmul", (x, w), 3),
        ("dense_forward", (x, w, w[0]), 2),
        ("dense_backward", (g, x, w, s), None), ("dense_backward", (g, x, w, s), 2),
        ("sigmoid_backward", (g, s), 2),
    ]
    # threaded calls in the parent before the pool forks
    expected = [getattr(fastsig, name)(*args, num_threads=2) for name, args, _ in tasks]
    ctx = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with ctx.Pool(2) as pool:
            results = pool.map_async(_pool_worker, tasks).get(timeout=120)
    for (name, _, nt), (res, resolved), exp in zip(tasks, results, expected):
        for r, e in zip(helpers.as_tuple(res), helpers.as_tuple(exp)):
            helpers.assert_bitwise_equal(r, e, f"{name} num_threads={nt} in a fork pool")
        if OPENMP:
            assert resolved == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
def test_spawned_child_uses_threads(tmp_path, helpers):
    # a fresh interpreter (not forked) has its full default again
    code = ("import fastsig; from fastsig import _api; import numpy as np; "
            "fastsig.sigmoid(np.ones(10**6), num_threads=2); "
            "print(_api._resolve_num_threads(2, 10**9))")
    p = helpers.run_python(["-c", code], tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["2"]


def _fork_call(child, timeout=60.0):
    """Run child() in a forked process; return (exit status or None on timeout, its error)."""
    errfile = os.path.join(tempfile.gettempdir(),
                           f"fastsig-fork-{os.getpid()}-{time.monotonic_ns()}.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            child()
            code = 0
        except BaseException:
            with open(errfile, "w") as f:
                traceback.print_exc(file=f)
        finally:
            os._exit(code)
    status = _wait_child(pid, timeout)
    detail = ""
    if os.path.exists(errfile):
        with open(errfile) as f:
            detail = f.read()
        os.unlink(errfile)
    return status, detail


def _assert_child_ok(status, detail, what):
    if status is None:
        pytest.fail(f"{what}: the forked child did not finish in time (OpenMP deadlock?)")
    assert os.WIFEXITED(status), f"{what}: child killed by signal {os.WTERMSIG(status)}\n{detail}"
    assert os.WEXITSTATUS(status) == 0, f"{what}: child failed:\n{detail}"


@needs_fork
def test_fork_grandchild(rng, helpers):
    """A child forked after threaded work forks again: the grandchild computes on one thread,
    correctly, and does not hang either."""
    y, x, w, g, s = _fork_inputs(rng)
    refs = {nt: (fastsig.matmul(x, w, num_threads=nt), fastsig.sigmoid(y, num_threads=nt))
            for nt in (2, 1)}

    def compute_and_check():
        for nt in (None, 2, 3):
            helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=nt), refs[2][0],
                                         "matmul in a (grand)child")
            helpers.assert_bitwise_equal(fastsig.sigmoid(y, num_threads=nt), refs[2][1],
                                         "sigmoid in a (grand)child")
        if OPENMP:
            assert resolve(4, BIG_WORK) == 1

    def child():
        compute_and_check()
        status, detail = _fork_call(compute_and_check, timeout=30)
        _assert_child_ok(status, detail, "grandchild")

    status, detail = _fork_call(child, timeout=60)
    _assert_child_ok(status, detail, "child")


def _process_target(conn, tasks):
    try:
        out = [(name, getattr(fastsig, name)(*args, num_threads=nt)) for name, args, nt in tasks]
        conn.send(("ok", out, _api._resolve_num_threads(2, 10**9)))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        conn.send(("error", repr(exc), None))
    finally:
        conn.close()


@needs_fork
def test_multiprocessing_fork_process(rng, helpers):
    """multiprocessing.Process with the "fork" start method, after threaded calls, while the
    parent keeps computing threaded in another Python thread: the child computes every function
    right, on one thread, and exits in time."""
    y, x, w, g, s = _fork_inputs(rng)
    tasks = [("sigmoid", (y,), 2), ("sigmoid_backward", (g, s), None), ("matmul", (x, w), 3),
             ("dense_forward", (x, w, w[0]), None), ("dense_backward", (g, x, w, s), 2)]
    expected = [getattr(fastsig, name)(*args, num_threads=2) for name, args, _ in tasks]
    ctx = multiprocessing.get_context("fork")
    stop = threading.Event()

    def busy():  # the OpenMP team is in use in the parent while it forks
        while not stop.is_set():
            fastsig.matmul(x, w, num_threads=2)

    busy_thread = threading.Thread(target=busy, daemon=True)
    busy_thread.start()
    try:
        for _ in range(3):
            parent_conn, child_conn = ctx.Pipe(duplex=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                proc = ctx.Process(target=_process_target, args=(child_conn, tasks))
                proc.start()
            child_conn.close()
            if not parent_conn.poll(60):
                proc.kill()
                proc.join(10)
                pytest.fail("the fork-started process sent nothing within 60 s (deadlock?)")
            status, out, resolved = parent_conn.recv()
            proc.join(30)
            assert not proc.is_alive(), "the fork-started process did not exit"
            assert status == "ok", out
            assert proc.exitcode == 0
            for (name, res), exp in zip(out, expected):
                for r, e in zip(helpers.as_tuple(res), helpers.as_tuple(exp)):
                    helpers.assert_bitwise_equal(r, e, f"{name} in a fork-started process")
            if OPENMP:
                assert resolved == 1
    finally:
        stop.set()
        busy_thread.join(60)


_FORK_BEFORE_THREADS = r"""
import os, sys, time
import numpy as np
import fastsig
from fastsig import _api

def wait(pid, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit("child hung")
        time.sleep(0.02)

y = np.linspace(-30, 30, 10**6)
ref = fastsig.sigmoid(y, num_threads=1)
# fork before any threaded call: the child keeps its threads
pid = os.fork()
if pid == 0:
    ok = (_api._resolve_num_threads(2, 10**9) == 2
          and np.array_equal(fastsig.sigmoid(y, num_threads=2), ref))
    os._exit(0 if ok else 3)
status = wait(pid)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
# now threaded in the parent, then fork: the child runs on one thread, and right
assert np.array_equal(fastsig.sigmoid(y, num_threads=2), ref)
pid = os.fork()
if pid == 0:
    ok = (_api._resolve_num_threads(2, 10**9) == 1 and fastsig.get_num_threads() == 1
          and np.array_equal(fastsig.sigmoid(y, num_threads=2), ref))
    os._exit(0 if ok else 4)
status = wait(pid)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
print("ok")
"""


@needs_fork
@needs_openmp
def test_fork_before_and_after_threads_fresh_interpreter(tmp_path, helpers):
    """In a fresh interpreter: a child forked before any threaded call keeps its threads; one
    forked after runs on one thread; both compute right and exit."""
    p = helpers.run_python(["-c", _FORK_BEFORE_THREADS], tmp_path, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split() == ["ok"]


def _assert_script_ok(script, tmp_path, helpers):
    """Run `script` in a fresh interpreter; it prints "ok" when its checks hold."""
    p = helpers.run_python(["-c", script], tmp_path, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split() == ["ok"]


_FORK_AFTER_NATIVE_THREADS = r"""
import os, sys, time
import numpy as np
import fastsig
from fastsig import _api, _config, _dispatch

fastsig.set_num_threads(2)
small, big = np.linspace(-3, 3, 100), np.linspace(-30, 30, 10**6)
ref = fastsig.sigmoid(big, num_threads=1)
fastsig.sigmoid(small)      # num_threads=None, below the threshold: one thread
# sigmoid_backward just below its own threshold: one thread
half = np.zeros(_dispatch.kernels.MIN_BACKWARD_ELEMENTS_FOR_THREADS["float32"] - 1, np.float32)
fastsig.sigmoid_backward(half, half)
assert not _dispatch.kernels.ran_threaded() and not _config._threads_used
pid = os.fork()
if pid == 0:
    os._exit(0 if fastsig.get_num_threads() == 2 else 3)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
# num_threads=None above the threshold: the native path runs threaded and says so, so a
# child forked now runs on one thread, and right
assert np.array_equal(fastsig.sigmoid(big), ref)
assert _dispatch.kernels.ran_threaded() and not _config._threads_used
pid = os.fork()
if pid == 0:
    ok = (fastsig.get_num_threads() == 1 and _api._resolve_num_threads(2, 10**9) == 1
          and np.array_equal(fastsig.sigmoid(big), ref))
    os._exit(0 if ok else 4)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
print("ok")
"""


@needs_fork
@needs_openmp
def test_a_threaded_native_call_counts_for_the_fork_rule(tmp_path, helpers):
    """The native fast path (num_threads=None on native arrays) starts threads itself above
    the thresholds: a child forked after such a call runs on one thread, one forked after
    only one-thread calls keeps its threads."""
    _assert_script_ok(_FORK_AFTER_NATIVE_THREADS, tmp_path, helpers)


_GIVEN_COUNT_ON_THE_NATIVE_PATH = r"""
import os
import numpy as np
import fastsig
from fastsig import _config, _dispatch

rng = np.random.default_rng(0)
x, w, g = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
s = fastsig.dense_forward(x, w, num_threads=1)
refs = [fastsig.matmul(x, w, num_threads=1), s, fastsig.sigmoid(x, num_threads=1),
        fastsig.sigmoid_backward(g, s, num_threads=1)]
back = fastsig.dense_backward(g, x, w, s, num_threads=1)
assert not _dispatch.kernels.ran_threaded()


def every_call(count):
    got = [fastsig.matmul(x, w, num_threads=count), fastsig.dense_forward(x, w, num_threads=count),
           fastsig.sigmoid(x, num_threads=count), fastsig.sigmoid_backward(g, s, num_threads=count)]
    for a, b in zip(got, refs):
        assert a.tobytes() == b.tobytes()
    for a, b in zip(fastsig.dense_backward(g, x, w, s, num_threads=count), back):
        assert a.tobytes() == b.tobytes()


# in a process forked after threads ran (_config's flag, set here by hand), a given count
# runs on one thread: the native path does not start threads
_config._forked_after_threads = True
every_call(2)
assert not _dispatch.kernels.ran_threaded()
_config._forked_after_threads = False
# a small call with a count given runs on that many threads (the native path notes it)
every_call(2)
assert _dispatch.kernels.ran_threaded()
every_call(3)
pid = os.fork()
if pid == 0:  # forked after threads ran: the flag is set, the same bits
    try:
        assert _config._forked_after_threads
        every_call(2)
        code = 0
    except BaseException:
        code = 5
    os._exit(code)
assert os.waitpid(pid, 0)[1] == 0
print("ok")
"""


@needs_fork
@needs_openmp
def test_a_given_thread_count_runs_as_given_on_the_native_path(tmp_path, helpers):
    """num_threads=k on native arrays (the native paths take it: test_gemm_paths) runs on
    k threads whatever the size, which counts for the fork rule, and on one thread where
    the fork rule holds; a child forked after it gets the same bits."""
    _assert_script_ok(_GIVEN_COUNT_ON_THE_NATIVE_PATH, tmp_path, helpers)
