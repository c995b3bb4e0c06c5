"""dense_backward's blocked, deterministic reduction: many parts, every thread count."""

import numpy as np
import pytest

import fastsig


def _reference(g, x, w, s):
    g, x, w, s = (a.astype(np.float64) for a in (g, x, w, s))
    dy = g * s * (1 - s)
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


# n large enough for many row blocks (and so many partial sums of dw and db);
# (k, m) on both the matmul path (k·m large) and the plain-loop path (small).
@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", [(20011, 40, 40), (50003, 3, 2), (9000, 1, 300)], ids=str)
def test_bitwise_identical_for_any_thread_count(dtype, rng, helpers, n, k, m):
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    ref = fastsig.dense_backward(g, x, w, s, num_threads=1)
    for threads in (2, 3, 4, 7):
        got = fastsig.dense_backward(g, x, w, s, num_threads=threads)
        for r, e in zip(got, ref):
            helpers.assert_bitwise_equal(r, e, f"num_threads={threads} vs 1")
    dx, dw, db = _reference(g, x, w, s)
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(ref[0], dx, **tol)
    np.testing.assert_allclose(ref[1], dw, **tol)
    np.testing.assert_allclose(ref[2], db, **tol)


def test_run_to_run_identical(dtype, rng, helpers):
    n, k, m = 30000, 24, 64
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    first = fastsig.dense_backward(g, x, w, s)
    for _ in range(3):
        for r, e in zip(fastsig.dense_backward(g, x, w, s), first):
            helpers.assert_bitwise_equal(r, e, "a second run")
