"""The full path of the public functions: validation, conversion, out= checks, threads.

The public functions (_public.pyx) hand every call to the native fast paths of
_kernels/native.pxi first; those check the common call (native arrays; num_threads None or
a positive int, as a dask task or a worker pool's call gives it) in compiled code and
compute it. Everything else comes here: everything a user can get wrong is checked, in
Python, before any kernel releases the GIL; the kernels below (_kernels/, in the variant
_dispatch chose for this CPU) only do arithmetic on aligned, C-contiguous buffers of the
compute dtype. On either path a given count is run as given (one thread in a child forked
after threads ran), whatever the size, and None follows the thresholds below.

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

_MIN_ELEMENTS_FOR_THREADS = {
    np.dtype(name): size for name, size in _kernels.MIN_ELEMENTS_FOR_THREADS.items()}
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


def matmul_full_path(x, w, out, num_threads):
    """fastsig.matmul for any arguments: checked, converted, computed."""
    x_in, w_in = _as_array(x), _as_array(w)
    _check_matmul_shapes("matmul", x_in, w_in)
    dtype = _compute_dtype("matmul", x_in, w_in)
    n, k = x_in.shape
    m = w_in.shape[1]
    result = _output("matmul", out, dtype, (n, m), [("x", x_in), ("w", w_in)])
    threads = _resolve_num_threads(num_threads, _kernels.product_work(n, k, m),
                                   _kernels.product_min_work(dtype, n, k, m))
    _kernels.matmul(_as_kernel_input(x_in, dtype), _as_kernel_input(w_in, dtype), result, threads)
    return result


def sigmoid_full_path(y, out, num_threads, fast):
    """fastsig.sigmoid for any arguments (`fast`: the accuracy mode, already checked)."""
    y_in = _as_array(y)
    dtype = _compute_dtype("sigmoid", y_in)
    result = _output("sigmoid", out, dtype, y_in.shape, [("y", y_in)], in_place_ok=True)
    threads = _resolve_num_threads(num_threads, y_in.size, _MIN_ELEMENTS_FOR_THREADS[dtype])
    _kernels.sigmoid(_as_kernel_input(y_in, dtype).reshape(-1), result.reshape(-1), threads,
                     fast)
    return result


def sigmoid_backward_full_path(grad, s, out, num_threads):
    """fastsig.sigmoid_backward for any arguments: checked, converted, computed."""
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


def dense_forward_full_path(x, w, b, out, num_threads, fast):
    """fastsig.dense_forward for any arguments (`fast`: the accuracy mode, already checked)."""
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
                                   _kernels.product_min_work(dtype, n, k, m, epilogue=True))
    bias = _as_kernel_input(b_in, dtype) if b is not None else np.empty(0, dtype)
    _kernels.dense_forward(_as_kernel_input(x_in, dtype), _as_kernel_input(w_in, dtype),
                         bias, b is not None, result, threads, fast)
    return result


def dense_backward_full_path(grad, x, w, s, compute_dx, out, num_threads):
    """fastsig.dense_backward for any arguments: checked, converted, computed."""
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
                                   _kernels.backward_min_work(dtype, n, k, m))
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
