"""No leaks: every public function, called 10**4 times on each path, keeps memory flat.

Each path (allocating result, out=, in place, threaded, converted inputs, and the error paths:
a bad dtype, a bad shape, a bad out=, a bad num_threads) is warmed up, then called 10**4 times
on small arrays in 5 windows of 2000 calls. After each window, the memory Python knows of
(tracemalloc, which numpy's array data reports to as well) and the resident set size
(/proc/self/statm, which also sees what the kernels malloc) are read. A leak grows them in
every window; the interpreter's own one-time growth (a free list filling up, a dict of its
resizing once, seen after thousands of calls) shows in one window only. So all windows but
the one that grew most must stay within a small bound: 8 kB of tracemalloc (4 bytes per call:
one leaked object per call is 16 or more) and 256 kB of RSS (128 bytes per call).

Not in the quick subset: under AddressSanitizer freed memory is held in a quarantine, so RSS
grows by design.
"""

import gc
import os
import tracemalloc

import numpy as np
import pytest

import fastsig

ITERATIONS = 10**4
WINDOWS = 5
WARMUP = 500
TRACED_BOUND = 8 * 1024      # bytes tracemalloc may grow in one window of ITERATIONS / WINDOWS
RSS_BOUND = 256 * 1024       # bytes RSS may grow in one window

def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _raises(exc, fn, *args, **kw):
    """A call that must raise `exc` (the path under test is the error path)."""
    def call():
        try:
            fn(*args, **kw)
        except exc:
            return
        raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")
    return call


def _cases(name):
    """(label, zero-argument callable) for every path of the public function `name`."""
    rng = np.random.default_rng(7)
    f64, f32 = np.float64, np.float32
    x = rng.uniform(-1, 1, (7, 5))
    w = rng.uniform(-1, 1, (5, 6))
    b = rng.uniform(-1, 1, 6)
    y = rng.uniform(-8, 8, (7, 6))
    g = rng.normal(size=(7, 6))
    s = rng.uniform(0, 1, (7, 6))
    x32, w32, y32, g32, s32 = (a.astype(f32) for a in (x, w, y, g, s))
    out = np.empty((7, 6))
    out32 = np.empty((7, 6), f32)
    cplx = np.ones((7, 6), np.complex128)
    F = np.asfortranarray

    if name == "matmul":
        fn = fastsig.matmul
        return [
            ("allocating", lambda: fn(x, w)),
            ("float32", lambda: fn(x32, w32)),
            ("out=", lambda: fn(x, w, out=out)),
            ("threaded", lambda: fn(x, w, num_threads=2)),
            ("converted inputs", lambda: fn(F(x), w[:, ::-1])),
            ("promoted dtype", lambda: fn(x32, np.ones((5, 6), np.int64))),
            ("empty", lambda: fn(x[:0], w)),
            ("bad dtype", _raises(TypeError, fn, x, np.ones((5, 6), np.complex64))),
            ("bad shape", _raises(ValueError, fn, x, x)),
            ("bad out dtype", _raises(TypeError, fn, x, w, out=out32)),
            ("bad out shape", _raises(ValueError, fn, x, w, out=np.empty((6, 7)))),
            ("out overlaps", _raises(ValueError, fn, x[:5, :5], x[:5, :5], out=x[:5, :5])),
            ("bad num_threads", _raises(ValueError, fn, x, w, num_threads=0)),
        ]
    if name == "sigmoid":
        fn = fastsig.sigmoid
        inplace = y.copy()
        buf = np.zeros(43)
        return [
            ("allocating", lambda: fn(y)),
            ("float32", lambda: fn(y32)),
            ("out=", lambda: fn(y, out=out)),
            ("in place", lambda: fn(inplace, out=inplace)),
            ("threaded", lambda: fn(y, num_threads=2)),
            ("converted input", lambda: fn(F(y))),
            ("list input", lambda: fn([0.5, -1.0, 2.0])),
            ("bad dtype", _raises(TypeError, fn, cplx)),
            ("bad out shape", _raises(ValueError, fn, y, out=np.empty((6, 7)))),
            ("bad out dtype", _raises(TypeError, fn, y, out=out32)),
            ("out partial overlap", _raises(ValueError, fn, buf[:42], out=buf[1:])),
            ("bad num_threads", _raises(ValueError, fn, y, num_threads=-1)),
        ]
    if name == "sigmoid_backward":
        fn = fastsig.sigmoid_backward
        inplace = g.copy()
        return [
            ("allocating", lambda: fn(g, s)),
            ("float32", lambda: fn(g32, s32)),
            ("out=", lambda: fn(g, s, out=out)),
            ("in place", lambda: fn(inplace, s, out=inplace)),
            ("threaded", lambda: fn(g, s, num_threads=2)),
            ("converted inputs", lambda: fn(F(g), s[::-1])),
            ("bad dtype", _raises(TypeError, fn, cplx, s)),
            ("bad shape", _raises(ValueError, fn, g, s.T)),
            ("bad out", _raises(ValueError, fn, g, s, out=F(np.empty((7, 6))))),
            ("bad out dtype", _raises(TypeError, fn, g, s, out=out32)),
        ]
    if name == "dense_forward":
        fn = fastsig.dense_forward
        return [
            ("allocating", lambda: fn(x, w, b)),
            ("no bias", lambda: fn(x, w)),
            ("float32", lambda: fn(x32, w32, b.astype(f32))),
            ("out=", lambda: fn(x, w, b, out=out)),
            ("threaded", lambda: fn(x, w, b, num_threads=2)),
            ("converted inputs", lambda: fn(F(x), F(w), b[::-1])),
            ("k = 0", lambda: fn(x[:, :0], w[:0], b)),
            ("bad dtype", _raises(TypeError, fn, x, w, b.astype(np.complex128))),
            ("bad bias shape", _raises(ValueError, fn, x, w, b[:5])),
            ("bad shape", _raises(ValueError, fn, x, w.T)),
            ("bad out", _raises(ValueError, fn, x, w, b, out=np.empty((7, 6))[::-1])),
            ("bad out dtype", _raises(TypeError, fn, x, w, b, out=out32)),
        ]
    if name == "dense_backward":
        fn = fastsig.dense_backward
        return [
            ("allocating", lambda: fn(g, x, w, s)),
            ("no dx", lambda: fn(g, x, w, s, compute_dx=False)),
            ("float32", lambda: fn(g32, x32, w32, s32)),
            ("threaded", lambda: fn(g, x, w, s, num_threads=2)),
            ("converted inputs", lambda: fn(F(g), F(x), w[::-1][::-1], s)),
            ("empty batch", lambda: fn(g[:0], x[:0], w, s[:0])),
            ("bad dtype", _raises(TypeError, fn, g, x, w, s.astype(np.complex64))),
            ("bad shape", _raises(ValueError, fn, g, x, w, s.T)),
            ("bad num_threads", _raises(ValueError, fn, g, x, w, s, num_threads=0)),
        ]
    raise ValueError(name)


def _measure():
    gc.collect()
    return tracemalloc.get_traced_memory()[0], _rss_bytes()


@pytest.mark.parametrize("name", ["matmul", "sigmoid", "sigmoid_backward", "dense_forward",
                                  "dense_backward"])
def test_no_leaks(name):
    if _rss_bytes() is None:
        pytest.skip("needs /proc/self/statm for the resident set size")
    cases = _cases(name)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    gc.collect()
    gc.freeze()  # what exists now is not garbage: the collections below only scan new objects
    grown = []
    per_window = ITERATIONS // WINDOWS
    try:
        for label, call in cases:
            for _ in range(WARMUP):
                call()
            traced, rss = [], []
            t0, r0 = _measure()
            for _ in range(WINDOWS):
                for _ in range(per_window):
                    call()
                t1, r1 = _measure()
                traced.append(t1 - t0)
                rss.append(r1 - r0)
                t0, r0 = t1, r1
            # all windows but the one that grew most (a one-time growth) must be flat
            if sorted(traced)[-2] > TRACED_BOUND or sorted(rss)[-2] > RSS_BOUND:
                grown.append(f"{name} {label}: growth per {per_window} calls: tracemalloc "
                             f"{traced} B, RSS {rss} B")
    finally:
        gc.unfreeze()
        if started:
            tracemalloc.stop()
    assert not grown, "memory grew:\n" + "\n".join(grown)
