# cython: embedsignature=False
"""The public functions, compiled: a call tries the native fast path, then the full path.

Each function first hands its arguments to the native fast path of the kernel variant
_dispatch chose (_kernels/native.pxi), which checks the common call (exact ndarrays of one
native float dtype, C-contiguous and aligned; num_threads None or a positive int) in
compiled code and computes it, or returns None for anything else. What it does not take
goes to the full path of _api.py, which checks and converts everything and raises the
contract's errors; both paths give the same bits. The accuracy mode is read first, so an
unknown `accuracy` is an error on either path.

The functions are compiled, rather than Python defs in _api.py, because on a call of a few
elements the interpreter's frame for a def and its global and attribute lookups cost as
much as the arithmetic: compiled, a call costs what a ufunc's does (docs/performance.md,
"The fixed cost of a call, compiled"). The native paths and get_num_threads are looked up
once, at import.
"""

from . import _api, _config, _dispatch

cdef object _kernels = _dispatch.kernels
cdef object _matmul_native = _kernels.matmul_native
cdef object _sigmoid_native = _kernels.sigmoid_native
cdef object _sigmoid_backward_native = _kernels.sigmoid_backward_native
cdef object _dense_forward_native = _kernels.dense_forward_native
cdef object _dense_backward_native = _kernels.dense_backward_native
cdef object _get_num_threads = _config.get_num_threads


cdef inline bint _native_count(object num_threads) except -1:
    """True for the thread counts the native paths take: None, or a positive int (a numpy
    integer, a bool and anything else go to the full path, which converts or rejects it)."""
    return num_threads is None or (type(num_threads) is int and num_threads >= 1)


cdef inline bint _fast_mode(object accuracy) except -1:
    """True when σ is to be computed in the "fast" accuracy mode (None: get_accuracy())."""
    if accuracy is None:
        return _config._accuracy == "fast"
    return _config._check_accuracy(accuracy) == "fast"


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
    if _native_count(num_threads):
        result = _matmul_native(x, w, out, num_threads or _get_num_threads)
        if result is not None:
            return result
    return _api.matmul_full_path(x, w, out, num_threads)


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
    cdef bint fast = _fast_mode(accuracy)
    if _native_count(num_threads):
        result = _sigmoid_native(y, out, fast, num_threads or _get_num_threads)
        if result is not None:
            return result
    return _api.sigmoid_full_path(y, out, num_threads, fast)


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
    if _native_count(num_threads):
        result = _sigmoid_backward_native(grad, s, out, num_threads or _get_num_threads)
        if result is not None:
            return result
    return _api.sigmoid_backward_full_path(grad, s, out, num_threads)


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
    cdef bint fast = _fast_mode(accuracy)
    if _native_count(num_threads):
        result = _dense_forward_native(x, w, b, out, fast, num_threads or _get_num_threads)
        if result is not None:
            return result
    return _api.dense_forward_full_path(x, w, b, out, num_threads, fast)


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
    if _native_count(num_threads):
        result = _dense_backward_native(grad, x, w, s, bool(compute_dx), out,
                                        num_threads or _get_num_threads)
        if result is not None:
            return result
    return _api.dense_backward_full_path(grad, x, w, s, compute_dx, out, num_threads)
