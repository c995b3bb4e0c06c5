"""The public functions: validation, conversion, out= checks, thread resolution.

Everything a user can get wrong is checked here, in Python, before any kernel
releases the GIL; the kernels below (_kernels/, in the variant _dispatch
chose for this CPU) only do arithmetic on aligned, C-contiguous buffers of the
compute dtype. The exception is the common call (native arrays; num_threads None or a
positive int, as a dask task or a worker pool's call gives it): the native fast paths of
_kernels/native.pxi check it in compiled code and compute it, or return None for
anything else, which then takes the checks here. On either path a given count is run as
given (one thread in a child forked after threads ran), whatever the size, and None
follows the thresholds below.

The compute dtype is numpy's ``result_type`` over all array inputs, then
integer/bool -> float64 and float16 -> float32; anything else but float32 and
float64 is a TypeError. Inputs are converted once, here, to aligned C-contiguous
arrays of that dtype in native byte order (a no-op for arrays already like that,
so a read-only or memory-mapped input is read where it lies).
"""

import numpy as np

from . import _config, _dispatch

_kernels = _dispatch.kernels
# The native fast paths note their threaded calls themselves; a fork consults them too.
_config._thread_probes.append(_kernels.ran_threaded)

# Below this much work (elements for the elementwise kernels, multiply-adds for the
# products, as _kernels.product_work counts them) a call with num_threads=None runs on one
# thread; the kernels' plan (_kernels/plan.pxi) holds the thresholds, beside its other
# decisions.
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)

_MIN_ELEMENTS_FOR_THREADS = _kernels.MIN_ELEMENTS_FOR_THREADS
_MIN_BACKWARD_ELEMENTS_FOR_THREADS = {
    np.dtype(name): size for name, size in _kernels.MIN_BACKWARD_ELEMENTS_FOR_THREADS.items()}
_MIN_MULADDS_FOR_THREADS = {np.dtype(name): work
                            for name, work in _kernels.MIN_MULADDS_FOR_THREADS.items()}


def _resolve_num_threads(num_threads, work, min_work=_MIN_MULADDS_FOR_THREADS[_FLOAT32]):
    """The thread count a call with `work` units of work runs on (`min_work`: the least
    work that num_threads=None runs threaded)."""
    if num_threads is None:
        n = _config.get_num_threads()
        if work < min_work:
            n = 1
    else:
        n = _config._check_thread_count(num_threads)
    if _config._forked_after_threads:
        return 1
    if n > 1:
        _config._threads_used = True
    return n


def _is_fast(accuracy):
    """True when σ is to be computed in the "fast" accuracy mode."""
    if accuracy is None:
        return _config._accuracy == "fast"
    return _config._check_accuracy(accuracy) == "fast"


def _compute_dtype(func, *arrays):
    """The dtype the kernels run in for these input arrays."""
    for a in arrays:
        if a.dtype.kind not in "biuf" or a.dtype.itemsize > 8:
            raise TypeError(
                f"{func}: unsupported dtype {a.dtype} (fastsig computes in float32 and "
                "float64; integer, bool and float16 inputs are promoted)"
            )
    dt = np.result_type(*arrays)
    if dt.kind in "biu":
        return _FLOAT64
    return _FLOAT32 if dt.itemsize <= 4 else _FLOAT64


def _as_array(a):
    """An ndarray as it is (its layout still checked against out=), anything else converted."""
    return a if isinstance(a, np.ndarray) else np.asarray(a)


def _as_kernel_input(a, dtype):
    """`a` as an aligned, C-contiguous array of `dtype` in native byte order (no copy if
    it is one). An unaligned buffer would be undefined behaviour for the kernels."""
    a = np.asarray(a, dtype=dtype, order="C")
    return a if a.flags.aligned else a.copy()


def _require_ndim(func, name, a, ndim):
    if a.ndim != ndim:
        raise ValueError(f"{func}: {name} must be {ndim}-D, got shape {a.shape}")


def _check_matmul_shapes(func, x, w):
    _require_ndim(func, "x", x, 2)
    _require_ndim(func, "w", w, 2)
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"{func}: x of shape {x.shape} and w of shape {w.shape} do not align "
            f"(x.shape[1] = {x.shape[1]} != w.shape[0] = {w.shape[0]})"
        )


def _same_memory(a, b):
    """a and b are the very same elements: same start, shape, strides and itemsize."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides
            and a.itemsize == b.itemsize)


def _check_out(func, out, dtype, shape, inputs, in_place_ok):
    """Check a user's `out=` against the contract; return it unchanged.

    `inputs` are the caller's arrays as given (before conversion). With
    `in_place_ok`, `out` may be exactly one of them; any other overlap is an error.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{func}: out has dtype {out.dtype}, the result has dtype {dtype}")
    if out.shape != shape:
        raise ValueError(f"{func}: out has shape {out.shape}, the result has shape {shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{func}: out must be C-contiguous")
    if not out.flags.aligned:
        raise ValueError(f"{func}: out must be aligned to its dtype's size")
    if not out.flags.writeable:
        raise ValueError(f"{func}: out is read-only")
    for name, a in inputs:
        if not isinstance(a, np.ndarray) or not np.may_share_memory(out, a):
            continue
        if in_place_ok and _same_memory(out, a):
            continue
        if np.shares_memory(out, a):
            what = "partially overlaps" if in_place_ok else "overlaps"
            raise ValueError(f"{func}: out {what} the input {name}")
    return out


def _output(func, out, dtype, shape, inputs, in_place_ok=False):
    if out is None:
        return np.empty(shape, dtype=dtype)
    return _check_out(func, out, dtype, shape, inputs, in_place_ok)


def matmul(x, w, *, out=None, num_threads=None):
    """Matrix product of two 2-D arrays, ``x @ w``.

    Parameters
    ----------
    x : array_like, shape (n, k)
    w : array_like, shape (k, m)
    out : ndarray, shape (n, m), optional
        Where to write the result: exactly the result dtype, C-contiguous, aligned,
        writeable, sharing no memory with `x` or `w`.
    num_threads : int, optional
        Threads to use; None follows `set_num_threads` / OpenMP's default and
        runs small products on one thread.

    Returns
    -------
    ndarray, shape (n, m)
        float32 or float64, numpy's ``result_type`` of the inputs (integer and
        bool promote to float64, float16 to float32). `out` if given.

    Raises
    ------
    TypeError
        An unsupported dtype (complex, longdouble, object, str, ...); an `out`
        that is not an ndarray or of another dtype; a `num_threads` that is not
        an integer.
    ValueError
        Operands that are not 2-D or do not align (the message shows both
        shapes); an `out` of the wrong shape, not C-contiguous, unaligned,
        read-only or overlapping an input; ``num_threads`` < 1.

    Examples
    --------
    >>> import numpy as np, fastsig
    >>> fastsig.matmul(np.ones((2, 3)), np.ones((3, 4)))
    array([[3., 3., 3., 3.],
           [3., 3., 3., 3.]])
    """
    if num_threads is None or (num_threads.__class__ is int and num_threads >= 1):
        # None unless native: _kernels/native.pxi
        result = _kernels.matmul_native(x, w, out, num_threads or _config.get_num_threads)
        if result is not None:
            return result
    x_in, w_in = _as_array(x), _as_array(w)
    _check_matmul_shapes("matmul", x_in, w_in)
    dtype = _compute_dtype("matmul", x_in, w_in)
    n, k = x_in.shape
    m = w_in.shape[1]
    result = _output("matmul", out, dtype, (n, m), [("x", x_in), ("w", w_in)])
    threads = _resolve_num_threads(num_threads, _kernels.product_work(n, k, m),
                                   _MIN_MULADDS_FOR_THREADS[dtype])
    _kernels.matmul(_as_kernel_input(x_in, dtype), _as_kernel_input(w_in, dtype), result, threads)
    return result


def sigmoid(y, *, out=None, num_threads=None, accuracy=None):
    """The logistic sigmoid ``1 / (1 + exp(-y))``, elementwise.

    Computed without overflow and without warnings: σ(+inf) = 1, σ(-inf) = 0,
    σ(nan) = nan, σ(±1000) = 1 / 0, and outputs that are subnormal keep their
    precision. In the default accuracy mode float32 results are within 1 ULP of
    the correctly rounded value, float64 within 2 ULP; in the ``'fast'`` mode
    float32 results are within 2 ULP.

    Parameters
    ----------
    y : array_like
        Any shape.
    out : ndarray, optional
        Same shape as `y`, exactly the result dtype, C-contiguous, aligned, writeable;
        may be `y` itself (in place) but may not partially overlap it.
    num_threads : int, optional
        Threads to use; None follows `set_num_threads` / OpenMP's default and
        runs small arrays on one thread.
    accuracy : {'high', 'fast'}, optional
        The accuracy mode (see `set_accuracy`); None follows `get_accuracy`.

    Returns
    -------
    ndarray
        Same shape as `y`, float32 or float64 (integer and bool promote to
        float64, float16 to float32). `out` if given.

    Raises
    ------
    TypeError
        An unsupported dtype; an `out` that is not an ndarray or of another
        dtype; a `num_threads` that is not an integer.
    ValueError
        An `out` of the wrong shape, not C-contiguous, unaligned, read-only or
        partially overlapping `y`; ``num_threads`` < 1; an unknown `accuracy`.

    Examples
    --------
    >>> import numpy as np, fastsig
    >>> fastsig.sigmoid(np.array([-np.inf, 0.0, np.inf]))
    array([0. , 0.5, 1. ])
    """
    # _is_fast(accuracy), written out for accuracy=None: a small call pays for each call.
    fast = _config._accuracy == "fast" if accuracy is None else _is_fast(accuracy)
    if num_threads is None or (num_threads.__class__ is int and num_threads >= 1):
        result = _kernels.sigmoid_native(y, out, fast, num_threads or _config.get_num_threads)
        if result is not None:
            return result
    y_in = _as_array(y)
    dtype = _compute_dtype("sigmoid", y_in)
    result = _output("sigmoid", out, dtype, y_in.shape, [("y", y_in)], in_place_ok=True)
    threads = _resolve_num_threads(num_threads, y_in.size, _MIN_ELEMENTS_FOR_THREADS)
    _kernels.sigmoid(_as_kernel_input(y_in, dtype).reshape(-1), result.reshape(-1), threads,
                     fast)
    return result


def sigmoid_backward(grad, s, *, out=None, num_threads=None):
    """The gradient through the sigmoid: ``grad * s * (1 - s)``, elementwise.

    With ``s = sigmoid(y)`` and ``grad = dL/ds``, this is ``dL/dy``
    (σ'(y) = σ(y)(1 - σ(y)), so no exp is needed).

    Parameters
    ----------
    grad : array_like
        The gradient of the loss with respect to ``s``.
    s : array_like
        The sigmoid's output; same shape as `grad`.
    out : ndarray, optional
        Same shape, exactly the result dtype, C-contiguous, aligned, writeable; may be
        `grad` or `s` itself but may not partially overlap either.
    num_threads : int, optional
        Threads to use; None follows `set_num_threads` / OpenMP's default.

    Returns
    -------
    ndarray
        Same shape as the inputs; `out` if given.

    Raises
    ------
    TypeError
        An unsupported dtype; an `out` that is not an ndarray or of another
        dtype; a `num_threads` that is not an integer.
    ValueError
        `grad` and `s` of different shapes (both are shown); an `out` of the
        wrong shape, not C-contiguous, unaligned, read-only or partially
        overlapping an input; ``num_threads`` < 1.

    Examples
    --------
    >>> import numpy as np, fastsig
    >>> fastsig.sigmoid_backward(np.array([2.0]), np.array([0.5]))
    array([0.5])
    """
    if num_threads is None or (num_threads.__class__ is int and num_threads >= 1):
        result = _kernels.sigmoid_backward_native(grad, s, out,
                                                  num_threads or _config.get_num_threads)
        if result is not None:
            return result
    g_in, s_in = _as_array(grad), _as_array(s)
    if g_in.shape != s_in.shape:
        raise ValueError(
            f"sigmoid_backward: grad of shape {g_in.shape} and s of shape {s_in.shape} differ"
        )
    dtype = _compute_dtype("sigmoid_backward", g_in, s_in)
    result = _output("sigmoid_backward", out, dtype, g_in.shape,
                     [("grad", g_in), ("s", s_in)], in_place_ok=True)
    threads = _resolve_num_threads(num_threads, g_in.size,
                                   _MIN_BACKWARD_ELEMENTS_FOR_THREADS[dtype])
    _kernels.sigmoid_backward(_as_kernel_input(g_in, dtype).reshape(-1),
                                  _as_kernel_input(s_in, dtype).reshape(-1),
                                  result.reshape(-1), threads)
    return result


def dense_forward(x, w, b=None, *, out=None, num_threads=None, accuracy=None):
    """A dense layer with a sigmoid activation: ``sigmoid(x @ w + b)``.

    The bias and the sigmoid are applied to each block of output rows while it
    is in cache; the pre-activation ``x @ w + b`` is never stored.

    Parameters
    ----------
    x : array_like, shape (n, k)
    w : array_like, shape (k, m)
    b : array_like, shape (m,), optional
    out : ndarray, shape (n, m), optional
        Exactly the result dtype, C-contiguous, aligned, writeable, sharing no memory
        with any input.
    num_threads : int, optional
        Threads to use; None follows `set_num_threads` / OpenMP's default.
    accuracy : {'high', 'fast'}, optional
        The sigmoid's accuracy mode (see `set_accuracy`); None follows
        `get_accuracy`.

    Returns
    -------
    ndarray, shape (n, m)
        float32 or float64: numpy's ``result_type`` of `x`, `w` and `b`, with
        integer/bool -> float64 and float16 -> float32. `out` if given. With
        k = 0 every row is ``sigmoid(b)`` (0.5 without a bias).

    Raises
    ------
    TypeError
        An unsupported dtype; an `out` that is not an ndarray or of another
        dtype; a `num_threads` that is not an integer.
    ValueError
        Shapes that do not fit (the message shows them); an `out` of the wrong
        shape, not C-contiguous, unaligned, read-only or overlapping an input;
        ``num_threads`` < 1; an unknown `accuracy`.

    Examples
    --------
    >>> import numpy as np, fastsig
    >>> fastsig.dense_forward(np.zeros((1, 2)), np.ones((2, 3)), np.array([0.0, 1e3, -1e3]))
    array([[0.5, 1. , 0. ]])
    """
    # _is_fast(accuracy), written out for accuracy=None: a small call pays for each call.
    fast = _config._accuracy == "fast" if accuracy is None else _is_fast(accuracy)
    if num_threads is None or (num_threads.__class__ is int and num_threads >= 1):
        result = _kernels.dense_forward_native(x, w, b, out, fast,
                                               num_threads or _config.get_num_threads)
        if result is not None:
            return result
    x_in, w_in = _as_array(x), _as_array(w)
    _check_matmul_shapes("dense_forward", x_in, w_in)
    arrays = [("x", x_in), ("w", w_in)]
    m = w_in.shape[1]
    if b is not None:
        b_in = _as_array(b)
        if b_in.ndim != 1 or b_in.shape[0] != m:
            raise ValueError(
                f"dense_forward: b of shape {b_in.shape} does not fit w of shape {w_in.shape} "
                f"(expected shape ({m},))"
            )
        arrays.append(("b", b_in))
    dtype = _compute_dtype("dense_forward", *(a for _, a in arrays))
    n, k = x_in.shape
    result = _output("dense_forward", out, dtype, (n, m), arrays)
    threads = _resolve_num_threads(num_threads, _kernels.product_work(n, max(k, 1), m),
                                   _MIN_MULADDS_FOR_THREADS[dtype])
    bias = _as_kernel_input(b_in, dtype) if b is not None else np.empty(0, dtype)
    _kernels.dense_forward(_as_kernel_input(x_in, dtype), _as_kernel_input(w_in, dtype),
                         bias, b is not None, result, threads, fast)
    return result


def dense_backward(grad, x, w, s, *, compute_dx=True, out=None, num_threads=None):
    """Gradients of a dense sigmoid layer ``s = sigmoid(x @ w + b)``.

    With ``dy = grad * s * (1 - s)`` (``grad`` = dL/ds):
    ``dx = dy @ w.T``, ``dw = x.T @ dy``, ``db = dy.sum(axis=0)``.
    Every sum runs in a fixed order, so results are bitwise identical for any
    thread count and from run to run.

    Parameters
    ----------
    grad : array_like, shape (n, m)
        The gradient of the loss with respect to the layer's output.
    x : array_like, shape (n, k)
        The layer's input.
    w : array_like, shape (k, m)
        The layer's weights.
    s : array_like, shape (n, m)
        The layer's output, ``dense_forward(x, w, b)``.
    compute_dx : bool, default True
        False skips ``dx`` (a first layer needs no input gradient).
    out : tuple of ndarray, optional
        ``(dx, dw, db)`` to write into, so that a training loop allocates
        nothing: each exactly the result dtype and shape, C-contiguous,
        aligned, writeable, sharing no memory with an input or with each
        other; ``dx`` is None when `compute_dx` is False.
    num_threads : int, optional
        Threads to use; None follows `set_num_threads` / OpenMP's default.

    Returns
    -------
    dx : ndarray, shape (n, k), or None when ``compute_dx`` is False
    dw : ndarray, shape (k, m)
    db : ndarray, shape (m,)
        All of the compute dtype (numpy's ``result_type`` of the four inputs,
        integer/bool -> float64, float16 -> float32); the arrays of `out` if
        given. An empty batch gives zeros for `dw` and `db`.

    Raises
    ------
    TypeError
        An unsupported dtype; an `out` that is not a tuple of three, or whose
        arrays are not ndarrays or of another dtype; a `num_threads` that is
        not an integer.
    ValueError
        Shapes that do not fit (the message shows them); an `out` array of the
        wrong shape, not C-contiguous, unaligned, read-only or overlapping an
        input or another `out` array; an `out` whose ``dx`` is None while
        `compute_dx` is True or the other way round; ``num_threads`` < 1.

    Examples
    --------
    >>> import numpy as np, fastsig
    >>> x, w = np.ones((2, 1)), np.zeros((1, 1))
    >>> s = fastsig.dense_forward(x, w)
    >>> dx, dw, db = fastsig.dense_backward(np.ones((2, 1)), x, w, s)
    >>> dw, db
    (array([[0.5]]), array([0.5]))
    """
    if num_threads is None or (num_threads.__class__ is int and num_threads >= 1):
        # None unless native: see _kernels/native.pxi
        result = _kernels.dense_backward_native(grad, x, w, s, bool(compute_dx), out,
                                                num_threads or _config.get_num_threads)
        if result is not None:
            return result
    g_in, x_in, w_in, s_in = (_as_array(a) for a in (grad, x, w, s))
    _check_matmul_shapes("dense_backward", x_in, w_in)
    n, k = x_in.shape
    m = w_in.shape[1]
    for name, a in (("grad", g_in), ("s", s_in)):
        if a.shape != (n, m):
            raise ValueError(
                f"dense_backward: {name} of shape {a.shape} does not fit x of shape "
                f"{x_in.shape} and w of shape {w_in.shape} (expected {(n, m)})"
            )
    dtype = _compute_dtype("dense_backward", g_in, x_in, w_in, s_in)
    dx, dw, db = _backward_outputs(out, dtype, (n, k, m), bool(compute_dx),
                                   [("grad", g_in), ("x", x_in), ("w", w_in), ("s", s_in)])
    threads = _resolve_num_threads(num_threads, _kernels.product_work(n, max(k, 1), m),
                                   _MIN_MULADDS_FOR_THREADS[dtype])
    _kernels.dense_backward(*(_as_kernel_input(a, dtype) for a in (g_in, x_in, w_in, s_in)),
                            np.empty((0, 0), dtype) if dx is None else dx, dx is not None,
                            dw, db, threads)
    return dx, dw, db


def _backward_outputs(out, dtype, nkm, compute_dx, inputs):
    """(dx or None, dw, db) for dense_backward: new arrays, or the checked arrays of `out`."""
    n, k, m = nkm
    func = "dense_backward"
    if out is None:
        return (np.empty((n, k), dtype) if compute_dx else None,
                np.empty((k, m), dtype), np.empty(m, dtype))
    if not isinstance(out, tuple) or len(out) != 3:
        raise TypeError(f"{func}: out must be a tuple (dx, dw, db), got {type(out).__name__}")
    dx, dw, db = out
    if not compute_dx and dx is not None:
        raise ValueError(f"{func}: out's dx must be None when compute_dx is False")
    if compute_dx and dx is None:
        raise ValueError(f"{func}: out's dx is None but compute_dx is True")
    checked = []
    for name, array, shape in (("dx", dx, (n, k)), ("dw", dw, (k, m)), ("db", db, (m,))):
        if array is not None:
            _check_out(f"{func} (out {name})", array, dtype, shape, inputs + checked, False)
            checked.append((f"out {name}", array))
    return dx, dw, db
