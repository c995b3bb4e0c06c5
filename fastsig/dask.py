"""fastsig over dask arrays: the same kernels, one task per chunk of rows.

    import fastsig.dask as fsd
    s = fsd.dense_forward(x, w, b)                      # lazy, chunked like x's rows
    dx, dw, db = fsd.dense_backward(grad, x, w, s)      # lazy; dw, db tree-reduced
    s, dw, db = dask.compute(s, dw, db)                 # on threads or a distributed cluster

The batch (``x``, ``grad``, ``s``) is a dask array chunked by rows; inputs also chunked along
columns are rechunked to whole rows, since every kernel call needs complete rows. The weights
``w`` and bias ``b`` are small: numpy arrays or dask arrays, put into the graph once as a single
value that every task shares (on a cluster each worker fetches it once, rather than every task
carrying its own copy).

The forward and ``dx`` are one kernel call per row chunk (``map_blocks``). ``dw`` and ``db`` sum
over all rows, so each row chunk yields its partial ``dw``, ``db`` and dask's tree reduction
adds the partials: the additions run in an order fixed by the chunking and ``split_every``, so the
result is bitwise identical from run to run, on any scheduler.

The sigmoid's accuracy mode (``accuracy=``, default ``fastsig.get_accuracy()``) is read when
the graph is built and recorded in it: workers in other processes compute in the mode the
client chose, whatever their own default.

Each task's kernel runs on one thread by default: dask already runs one task per worker thread,
and more kernel threads would only compete with them. Every kernel releases the GIL, so dask's
threaded scheduler runs chunks in parallel too.

Install with ``pip install fastsig[dask]``.
"""

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as err:
    raise ImportError(
        "fastsig.dask needs dask: pip install fastsig[dask]"
    ) from err

import fastsig

__all__ = ["dense_backward", "dense_forward", "sigmoid", "sigmoid_backward"]


def _empty(ndim, dtype):
    """A zero-size array: stands in for a chunk when checking inputs and declaring results."""
    return np.empty((0,) * ndim, dtype)


def _empty_rows(a):
    """A zero-row array with the columns and dtype of the 2-D array `a`."""
    return np.empty((0, a.shape[1]), a.dtype)


def _stand_in(a):
    """A numpy array of the small operand `a`'s shape and dtype, for checking (None stays None)."""
    return None if a is None else np.zeros(a.shape, a.dtype)


def _as_small_operand(a):
    """`a` as something with a shape and a dtype: a dask array stays one, None stays None."""
    return a if a is None or isinstance(a, da.Array) else np.asarray(a)


def _shared(a):
    """A small operand as one graph node that every task reads (None stays None).

    A numpy array handed to each task separately would be copied into every task; a dask
    array is computed once, as a whole.
    """
    return None if a is None else dask.delayed(a)


def _whole_rows(a):
    """The 2-D dask array `a` with each chunk holding complete rows (one chunk along axis 1)."""
    return a.rechunk({1: -1})


def _rows_chunked_like(a, row_chunks):
    """The 2-D dask array `a` with row chunks `row_chunks`, each holding complete rows."""
    return a.rechunk({0: row_chunks, 1: -1})


def _require_2d(func, **arrays):
    for name, a in arrays.items():
        if a.ndim != 2:
            raise ValueError(f"{func}: {name} must be 2-D, got shape {a.shape}")


def _require_output_shape(func, x, w, **arrays):
    """Raise ValueError unless each of `arrays` has the layer output's shape (n, m)."""
    expected = (x.shape[0], w.shape[1])
    for name, a in arrays.items():
        if a.shape != expected:
            raise ValueError(
                f"{func}: {name} of shape {a.shape} does not fit x of shape {x.shape} "
                f"and w of shape {w.shape} (expected {expected})"
            )


def _resolved_accuracy(accuracy):
    """The accuracy mode a graph records: `accuracy`, or the process's default for None."""
    return fastsig.get_accuracy() if accuracy is None else accuracy


def sigmoid(y, *, num_threads=1, accuracy=None):
    """The logistic sigmoid ``1 / (1 + exp(-y))`` of a dask array, chunk by chunk.

    Parameters
    ----------
    y : dask.array.Array or array_like
        Any shape and any chunking (the function is elementwise).
    num_threads : int or None, default 1
        Threads each task's kernel uses; None follows fastsig's default
        (`fastsig.set_num_threads` / OpenMP).
    accuracy : {'high', 'fast'}, optional
        The accuracy mode (see `fastsig.set_accuracy`); None takes
        `fastsig.get_accuracy()` now, when the graph is built.

    Returns
    -------
    dask.array.Array
        Lazy, with the shape and chunks of `y`; float32 or float64 as
        `fastsig.sigmoid` would give for `y`'s dtype. Each chunk is bitwise
        equal to `fastsig.sigmoid` of that chunk in the same mode.

    Raises
    ------
    TypeError
        An unsupported dtype (raised here, before anything is computed).
    ValueError
        An unknown `accuracy`.

    Examples
    --------
    >>> import dask.array as da, fastsig.dask as fsd
    >>> fsd.sigmoid(da.zeros(4, chunks=2)).compute()
    array([0.5, 0.5, 0.5, 0.5])
    """
    y = da.asarray(y)
    accuracy = _resolved_accuracy(accuracy)
    meta = fastsig.sigmoid(_empty(y.ndim, y.dtype), accuracy=accuracy)
    return y.map_blocks(fastsig.sigmoid, dtype=meta.dtype, meta=meta,
                        num_threads=num_threads, accuracy=accuracy)


def sigmoid_backward(grad, s, *, num_threads=1):
    """The gradient through the sigmoid, ``grad * s * (1 - s)``, of dask arrays.

    Parameters
    ----------
    grad : dask.array.Array or array_like
        dL/ds, any shape and chunking.
    s : dask.array.Array or array_like
        The sigmoid's output, of the same shape; rechunked like `grad` if
        chunked otherwise.
    num_threads : int or None, default 1
        Threads each task's kernel uses; None follows fastsig's default.

    Returns
    -------
    dask.array.Array
        Lazy, with the shape and chunks of `grad`, of `fastsig.sigmoid_backward`'s
        dtype for these inputs.

    Raises
    ------
    ValueError
        `grad` and `s` of different shapes.
    TypeError
        An unsupported dtype.

    Examples
    --------
    >>> import dask.array as da, fastsig.dask as fsd
    >>> fsd.sigmoid_backward(da.full(4, 2.0, chunks=2), da.full(4, 0.5, chunks=2)).compute()
    array([0.5, 0.5, 0.5, 0.5])
    """
    grad, s = da.asarray(grad), da.asarray(s)
    if grad.shape != s.shape:
        raise ValueError(
            f"sigmoid_backward: grad of shape {grad.shape} and s of shape {s.shape} differ"
        )
    meta = fastsig.sigmoid_backward(_empty(grad.ndim, grad.dtype), _empty(s.ndim, s.dtype))
    return da.map_blocks(fastsig.sigmoid_backward, grad, s.rechunk(grad.chunks),
                         dtype=meta.dtype, meta=meta, num_threads=num_threads)


def dense_forward(x, w, b=None, *, num_threads=1, accuracy=None):
    """A dense sigmoid layer, ``sigmoid(x @ w + b)``, over a dask array of rows.

    Parameters
    ----------
    x : dask.array.Array or array_like, shape (n, k)
        The batch, chunked by rows; chunks along columns are merged first.
    w : numpy.ndarray or dask.array.Array, shape (k, m)
        The weights, shared by every task.
    b : numpy.ndarray or dask.array.Array, shape (m,), optional
        The bias, shared by every task.
    num_threads : int or None, default 1
        Threads each task's kernel uses; None follows fastsig's default.
    accuracy : {'high', 'fast'}, optional
        The sigmoid's accuracy mode (see `fastsig.set_accuracy`); None takes
        `fastsig.get_accuracy()` now, when the graph is built.

    Returns
    -------
    dask.array.Array, shape (n, m)
        Lazy, with `x`'s row chunks and one chunk along columns; of
        `fastsig.dense_forward`'s dtype for these inputs. Each chunk is bitwise
        equal to `fastsig.dense_forward` of that chunk of rows in the same mode.

    Raises
    ------
    ValueError
        Shapes that do not fit (the message shows them); an unknown `accuracy`.
    TypeError
        An unsupported dtype.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastsig.dask as fsd
    >>> x = da.zeros((4, 2), chunks=(3, 2))
    >>> fsd.dense_forward(x, np.ones((2, 1)), np.array([0.0])).compute().ravel()
    array([0.5, 0.5, 0.5, 0.5])
    """
    x = da.asarray(x)
    _require_2d("dense_forward", x=x)
    w, b = _as_small_operand(w), _as_small_operand(b)
    # The real function on zero rows checks w and b against x with fastsig's own messages
    # and gives the result dtype, without computing anything of x.
    accuracy = _resolved_accuracy(accuracy)
    meta = fastsig.dense_forward(_empty_rows(x), _stand_in(w), _stand_in(b), accuracy=accuracy)
    x = _whole_rows(x)
    return da.map_blocks(fastsig.dense_forward, x, _shared(w), _shared(b),
                         chunks=(x.chunks[0], (w.shape[1],)), dtype=meta.dtype, meta=meta,
                         num_threads=num_threads, accuracy=accuracy)


def _dx_chunk(grad, s, w, dtype, num_threads):
    """dx = (grad * s * (1 - s)) @ w.T for one chunk of rows, in the compute `dtype`."""
    dy = fastsig.sigmoid_backward(grad.astype(dtype, copy=False), s.astype(dtype, copy=False),
                                  num_threads=num_threads)
    return fastsig.matmul(dy, w.T.astype(dtype, copy=False), num_threads=num_threads)


def _dw_db_chunk(grad, x, s, w, num_threads):
    """This chunk's partial dw (k, m) and db (m,), stacked as one (1, k + 1, m) block."""
    _, dw, db = fastsig.dense_backward(grad, x, w, s, compute_dx=False, num_threads=num_threads)
    return np.concatenate([dw, db[np.newaxis]])[np.newaxis]


def _dx(grad, s, w_shared, x_chunks, dtype, num_threads):
    """dx chunk by chunk, with x's chunks.

    dx is its own product, dy @ w.T: dense_backward's dx would redo the dw product that the
    partials already compute.
    """
    return da.map_blocks(_dx_chunk, grad, s, w_shared, dtype, num_threads, token="dense_dx",
                         chunks=x_chunks, dtype=dtype, meta=_empty(2, dtype))


def _dw_db(grad, x, s, w_shared, w_shape, dtype, split_every, num_threads):
    """dw and db: one partial per chunk of rows, summed by dask's tree reduction."""
    k, m = w_shape
    # Indices: c chunks of rows, k x's columns (contracted: each task gets whole rows),
    # m outputs, p the k + 1 rows of a partial (dw's k, then db).
    partials = da.blockwise(
        _dw_db_chunk, "cpm", grad, "cm", x, "ck", s, "cm", w_shared, None, token="dense_dw_db",
        new_axes={"p": k + 1}, adjust_chunks={"c": 1}, concatenate=True,
        dtype=dtype, meta=_empty(3, dtype), num_threads=num_threads,
    )
    total = partials.sum(axis=0, split_every=split_every)
    return total[:k], total[k]


def dense_backward(grad, x, w, s, *, compute_dx=True, split_every=None, num_threads=1):
    """Gradients of a dense sigmoid layer ``s = sigmoid(x @ w + b)`` over dask arrays of rows.

    With ``dy = grad * s * (1 - s)``: ``dx = dy @ w.T`` (chunk by chunk),
    ``dw = x.T @ dy`` and ``db = dy.sum(axis=0)`` (one partial per chunk of
    rows, the partials summed by a tree reduction). For a given chunking and
    `split_every` the sums run in a fixed order, so the results are bitwise
    identical from run to run and on any scheduler.

    Parameters
    ----------
    grad : dask.array.Array or array_like, shape (n, m)
        dL/ds, rechunked to `x`'s row chunks if chunked otherwise.
    x : dask.array.Array or array_like, shape (n, k)
        The layer's input, chunked by rows; chunks along columns are merged.
    w : numpy.ndarray or dask.array.Array, shape (k, m)
        The layer's weights, shared by every task.
    s : dask.array.Array or array_like, shape (n, m)
        The layer's output, rechunked to `x`'s row chunks if chunked otherwise.
    compute_dx : bool, default True
        False skips `dx` (a first layer needs no input gradient).
    split_every : int, optional
        How many partials each step of the tree reduction adds; None uses
        dask's default.
    num_threads : int or None, default 1
        Threads each task's kernel uses; None follows fastsig's default.

    Returns
    -------
    dx : dask.array.Array, shape (n, k), or None when `compute_dx` is False
        Lazy, with `x`'s row chunks.
    dw : dask.array.Array, shape (k, m)
    db : dask.array.Array, shape (m,)
        Lazy, one chunk each. Compute `dw` and `db` together
        (``dask.compute(dw, db)``) so that each chunk's kernel runs once for both.
        All of `fastsig.dense_backward`'s dtype for these inputs.

    Raises
    ------
    ValueError
        Shapes that do not fit (the message shows them).
    TypeError
        An unsupported dtype.

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da, fastsig.dask as fsd
    >>> x, w = da.ones((4, 1), chunks=(3, 1)), np.zeros((1, 1))
    >>> s = fsd.dense_forward(x, w)
    >>> dx, dw, db = fsd.dense_backward(da.ones((4, 1), chunks=(3, 1)), x, w, s)
    >>> dask.compute(dw, db)
    (array([[1.]]), array([1.]))
    """
    grad, x, s = da.asarray(grad), da.asarray(x), da.asarray(s)
    w = _as_small_operand(w)
    _require_2d("dense_backward", grad=grad, x=x, w=w, s=s)
    _require_output_shape("dense_backward", x, w, grad=grad, s=s)
    # The real function on zero rows checks x against w and gives the result dtype.
    _, dw_meta, _ = fastsig.dense_backward(_empty_rows(grad), _empty_rows(x), _stand_in(w),
                                           _empty_rows(s), compute_dx=False)
    dtype = dw_meta.dtype
    x = _whole_rows(x)
    grad, s = _rows_chunked_like(grad, x.chunks[0]), _rows_chunked_like(s, x.chunks[0])
    w_shared = _shared(w)
    dw, db = _dw_db(grad, x, s, w_shared, w.shape, dtype, split_every, num_threads)
    dx = _dx(grad, s, w_shared, x.chunks, dtype, num_threads) if compute_dx else None
    return dx, dw, db
