"""fastsig's formulas in numpy, written once: the references its results are checked against,
and the numpy code it replaces.

References (the self-test, `python -m fastsig check`, and the test suite): exact formulas in
a dtype more precise than the result's, in the forms that neither overflow nor cancel.

    sigmoid(y, dtype)                      σ(y) = 1/(1+e^-y), as (1 or t)/(1+t), t = e^-|y|
    sigmoid_backward(grad, s, dtype)       grad·s·(1−s)
    dense_forward(x, w, b, dtype)          σ(x @ w + b)
    dense_backward(grad, x, w, s, dtype)   (dy @ wᵀ, xᵀ @ dy, Σ_rows dy), dy = grad·s·(1−s)

The numpy peer (the benchmarks, `python -m fastsig bench` and asv): the expressions a numpy
user writes for the same layer, timed beside fastsig, in the inputs' own dtype.

    numpy_sigmoid(y), numpy_sigmoid_backward(grad, s), numpy_dense_forward(x, w, b),
    numpy_dense_backward(grad, x, w, s)
"""

import numpy as np

# A float dtype with at least 63 mantissa bits (x86's 80-bit long double), where numpy has one.
EXTENDED_LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63


def wider(dtype):
    """The dtype a reference for `dtype` results is computed in: float64 for float32 results,
    long double for float64 ones (just float64 where long double is no wider)."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float32 else np.dtype(np.longdouble)


# ---- references ----------------------------------------------------------------------------


def sigmoid(y, dtype=None):
    """σ(y) in `dtype` (default: y's own), without overflow: t = e^-|y| <= 1, then
    1/(1+t) for y >= 0 and t/(1+t) below, so that tiny results keep their precision and
    σ(±inf) = 1 / 0, σ(NaN) = NaN."""
    with np.errstate(all="ignore"):  # casting a signalling NaN is "invalid"; exp may underflow
        y = np.asarray(y, dtype=dtype)
        if y.dtype.kind != "f":
            y = y.astype(np.float64)
        t = np.exp(-np.abs(y))
        return np.where(y >= 0, 1 / (1 + t), t / (1 + t)).astype(y.dtype, copy=False)


def sigmoid_backward(grad, s, dtype=np.float64):
    """grad·s·(1−s) in `dtype`."""
    grad, s = np.asarray(grad, dtype), np.asarray(s, dtype)
    return grad * s * (1 - s)


def dense_forward(x, w, b=None, dtype=np.float64):
    """σ(x @ w + b) in `dtype`."""
    y = np.asarray(x, dtype) @ np.asarray(w, dtype)
    if b is not None:
        y = y + np.asarray(b, dtype)
    return sigmoid(y)


def dense_backward(grad, x, w, s, dtype=np.float64):
    """(dx, dw, db) = (dy @ wᵀ, xᵀ @ dy, Σ_rows dy) with dy = grad·s·(1−s), in `dtype`."""
    dy = sigmoid_backward(grad, s, dtype)
    x, w = np.asarray(x, dtype), np.asarray(w, dtype)
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


# ---- the numpy peer ------------------------------------------------------------------------


def numpy_sigmoid(y):
    """1 / (1 + exp(-y)). exp(-y) overflows to inf for very negative y, and 1 / (1 + inf) is
    the right answer, 0: the warning is silenced, as a user who knows it would."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-y))


def numpy_sigmoid_backward(grad, s):
    return grad * s * (1 - s)


def numpy_dense_forward(x, w, b):
    return numpy_sigmoid(x @ w + b)


def numpy_dense_backward(grad, x, w, s):
    dy = numpy_sigmoid_backward(grad, s)
    return dy @ w.T, x.T @ dy, dy.sum(0)
