# The native fast paths: every public function on native arrays, checked in compiled code.
#
# Provides: def matmul_native, def dense_forward_native, def dense_backward_native,
#   def sigmoid_native, def sigmoid_backward_native (each returns None for a call it does
#   not take), def ran_threaded.
# Uses: gemm.pxi (gemm), layer.pxi (_backward), elementwise.pxi (sigmoid_parts,
#   sigmoid_backward_parts), plan.pxi (the thresholds for threads), numpy's
#   C API.
#
# A call on a 2×2 @ 2×3 problem spends almost all its time outside the arithmetic, and
# one on a few thousand elements much of it: the Python checks of _api.py's full path and
# the acquisition of typed memoryviews (about 5 µs). These functions take the objects as
# given and check, through numpy's C API and before any arithmetic, that every one is an
# exact numpy.ndarray, 2-D (b: 1-D), C-contiguous, aligned, in native byte order, of one
# float dtype, with shapes that fit; an `out` likewise, of the result's shape, writeable,
# sharing no memory with an input (nor, for dense_backward's three, with each other). If
# anything is otherwise they return None and the caller (the public function of
# _public.pyx) takes the full path of _api.py, which checks and converts everything and
# raises the errors. The arithmetic is the same
# gemm() (or _backward()), on the thread count the full path gives (_threads_for): a
# num_threads the caller gave, as given; for None, get_num_threads() (asked only then)
# from the dtype's MULADDS_FOR_THREADS of work (_product_work; dense_forward's epilogue
# counting EPILOGUE_MULADDS a result element) or the elements of
# _product_one_thread_max_work (dense_backward: _backward_one_thread_max_work), one thread
# below (and always for a few rows of a w in L2: _w_from_the_callers_cache); the bits do
# not depend on it.
#
# The elementwise functions likewise, for arrays of any shape, with or without `out`: an
# `out` must be an exact ndarray of the inputs' dtype and shape, C-contiguous, aligned,
# writeable, in native byte order, and either one of the inputs itself or sharing no
# memory with any (a partial overlap goes to the full path, which raises); `threads` as
# given, or for None from _sigmoid_elements_for_threads elements (sigmoid_backward:
# _backward_elements_for_threads). The same span loops as the full path's, so the same
# bits.
#
# A call that runs on more than one thread sets the flag ran_threaded() reads, which
# _config consults at a fork (as _api's _resolve_num_threads sets its own).

cimport numpy as cnp

cnp.import_array()


cdef inline int _native_typenum(object a, int ndim) noexcept:
    """NPY_FLOAT or NPY_DOUBLE if `a` is an exact ndarray of that dtype that the
    kernels can read in place, with `ndim` dimensions; else -1."""
    cdef cnp.ndarray arr
    if type(a) is not cnp.ndarray:
        return -1
    arr = <cnp.ndarray>a
    if (cnp.PyArray_NDIM(arr) != ndim or not cnp.PyArray_ISCARRAY_RO(arr)
            or not cnp.PyArray_ISNOTSWAPPED(arr)):
        return -1
    if cnp.PyArray_TYPE(arr) == cnp.NPY_FLOAT or cnp.PyArray_TYPE(arr) == cnp.NPY_DOUBLE:
        return cnp.PyArray_TYPE(arr)
    return -1


cdef bint _ran_threaded = False


cdef object _config_module = None


cdef bint _forked_after_threads() except -1:
    """_config's flag: this process is a child forked after threads ran, where every
    call runs on one thread (OpenMP's threads do not survive a fork)."""
    global _config_module
    if _config_module is None:
        from . import _config
        _config_module = _config
    return _config_module._forked_after_threads


cdef inline int _threads_for(Py_ssize_t work, Py_ssize_t max_one_thread,
                             object threads_of) except -1:
    """The threads a native call with `work` runs on. `threads_of` is the caller's
    num_threads, a positive int, run as given whatever the work (as _api.py's
    _resolve_num_threads gives it; one thread in a child forked after threads ran), or
    for num_threads=None a function that returns the count (_config.get_num_threads,
    asked only by a call of more than `max_one_thread` work: a small call runs on one
    thread and does not pay for it). Notes a threaded call for ran_threaded()."""
    global _ran_threaded
    cdef int count
    if isinstance(threads_of, int):
        if threads_of > 1 and _forked_after_threads():
            return 1
        count = threads_of
    elif work <= max_one_thread:
        return 1
    else:
        count = threads_of()
    if count <= 1:
        return 1
    _ran_threaded = True
    return count


def ran_threaded():
    """Whether a native fast path has run on more than one thread in this process."""
    return _ran_threaded


cdef object _native_product(object x, object w, object b, bint with_bias, int epilogue,
                           object out_given, object threads_of):
    cdef int typenum = _native_typenum(x, 2)
    if typenum < 0 or _native_typenum(w, 2) != typenum:
        return None
    if with_bias and _native_typenum(b, 1) != typenum:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w
    cdef Py_ssize_t n = cnp.PyArray_DIM(xa, 0), k = cnp.PyArray_DIM(xa, 1)
    cdef Py_ssize_t m = cnp.PyArray_DIM(wa, 1)
    if cnp.PyArray_DIM(wa, 0) != k or n < 1 or k < 1 or m < 1:
        return None
    if with_bias and cnp.PyArray_DIM(<cnp.ndarray>b, 0) != m:
        return None
    cdef cnp.npy_intp dims[2]
    dims[0] = n
    dims[1] = m
    cdef cnp.ndarray out
    if out_given is None:
        out = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    else:
        if type(out_given) is not cnp.ndarray:
            return None
        out = <cnp.ndarray>out_given
        if (cnp.PyArray_TYPE(out) != typenum or cnp.PyArray_NDIM(out) != 2
                or cnp.PyArray_DIM(out, 0) != n or cnp.PyArray_DIM(out, 1) != m
                or not cnp.PyArray_ISCARRAY(out) or not cnp.PyArray_ISNOTSWAPPED(out)
                or not _apart(out, xa) or not _apart(out, wa)
                or (with_bias and not _apart(out, <cnp.ndarray>b))):
            return None
    cdef void* bias = cnp.PyArray_DATA(<cnp.ndarray>b) if with_bias else NULL
    cdef int threads = _threads_for(
        _product_work(n, k, m),
        _product_one_thread_max_work(<float*>NULL, n, k, m, epilogue != EPILOGUE_NONE)
        if typenum == cnp.NPY_FLOAT
        else _product_one_thread_max_work(<double*>NULL, n, k, m, epilogue != EPILOGUE_NONE),
        threads_of)
    # The dtype picks the specialization through the type of the output pointer.
    if typenum == cnp.NPY_FLOAT:
        _native_gemm(<float*>cnp.PyArray_DATA(out), xa, wa, bias, n, k, m, epilogue, threads)
    else:
        _native_gemm(<double*>cnp.PyArray_DATA(out), xa, wa, bias, n, k, m, epilogue, threads)
    return out


cdef int _native_gemm(floating* out, cnp.ndarray xa, cnp.ndarray wa, void* bias,
                      Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, int epilogue,
                      int threads) except -1:
    """out = x @ w (+ epilogue), every array already checked to be of out's dtype."""
    return gemm(<const floating*>cnp.PyArray_DATA(xa), k, 1,
                <const floating*>cnp.PyArray_DATA(wa), m, 1, out, n, k, m,
                <const floating*>bias, epilogue, threads)


def matmul_native(x, w, out, threads_of):
    """x @ w for native arrays (see the header), into `out` if it is given and fits
    (as the elementwise paths' `out`, but sharing no memory with an input), or None."""
    return _native_product(x, w, None, False, EPILOGUE_NONE, out, threads_of)


def dense_forward_native(x, w, b, out, bint fast, threads_of):
    """σ(x @ w + b) (b may be None; σ in the "fast" accuracy mode if `fast`) for native
    arrays (see the header), into `out` as matmul_native's, or None."""
    return _native_product(x, w, b, b is not None,
                          EPILOGUE_SIGMOID_FAST if fast else EPILOGUE_SIGMOID, out, threads_of)


cdef cnp.ndarray _native_out(object a, int typenum, int ndim, Py_ssize_t d0, Py_ssize_t d1):
    """`a` if it is an exact ndarray of that dtype and shape (d1 only for ndim 2),
    C-contiguous, aligned, writeable and native; else None."""
    cdef cnp.ndarray arr
    if type(a) is not cnp.ndarray:
        return None
    arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != typenum or cnp.PyArray_NDIM(arr) != ndim
            or cnp.PyArray_DIM(arr, 0) != d0 or (ndim == 2 and cnp.PyArray_DIM(arr, 1) != d1)
            or not cnp.PyArray_ISCARRAY(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)):
        return None
    return arr


cdef bint _all_apart(list outs, list arrays):
    """No array of `outs` shares a byte with an array of `arrays` or with another of `outs`."""
    cdef Py_ssize_t i, j
    for i in range(len(outs)):
        for j in range(len(arrays)):
            if not _apart(<cnp.ndarray>outs[i], <cnp.ndarray>arrays[j]):
                return False
        for j in range(i):
            if not _apart(<cnp.ndarray>outs[i], <cnp.ndarray>outs[j]):
                return False
    return True


def dense_backward_native(grad, x, w, s, bint compute_dx, out, threads_of):
    """(dx or None, dw, db) for native arrays (see the header), into `out` =
    (dx or None, dw, db) if it is given and fits, or None."""
    cdef int typenum = _native_typenum(x, 2)
    if (typenum < 0 or _native_typenum(w, 2) != typenum or _native_typenum(grad, 2) != typenum
            or _native_typenum(s, 2) != typenum):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w
    cdef cnp.ndarray ga = <cnp.ndarray>grad, sa = <cnp.ndarray>s
    cdef Py_ssize_t n = cnp.PyArray_DIM(xa, 0), k = cnp.PyArray_DIM(xa, 1)
    cdef Py_ssize_t m = cnp.PyArray_DIM(wa, 1)
    if cnp.PyArray_DIM(wa, 0) != k or n < 1 or k < 1 or m < 1:
        return None
    if (cnp.PyArray_DIM(ga, 0) != n or cnp.PyArray_DIM(ga, 1) != m
            or cnp.PyArray_DIM(sa, 0) != n or cnp.PyArray_DIM(sa, 1) != m):
        return None
    cdef cnp.npy_intp dims[2]
    cdef cnp.ndarray dw, db
    cdef object dx
    if out is None:
        dims[0] = k
        dims[1] = m
        dw = cnp.PyArray_EMPTY(2, dims, typenum, 0)
        db = cnp.PyArray_EMPTY(1, &dims[1], typenum, 0)
        dims[0] = n
        dims[1] = k
        dx = cnp.PyArray_EMPTY(2, dims, typenum, 0) if compute_dx else None
    else:
        if type(out) is not tuple or len(<tuple>out) != 3:
            return None
        dx = (<tuple>out)[0]
        if (dx is not None) != compute_dx:
            return None
        dw = _native_out((<tuple>out)[1], typenum, 2, k, m)
        db = _native_out((<tuple>out)[2], typenum, 1, m, 0)
        if dw is None or db is None:
            return None
        outs = [dw, db]
        if compute_dx:
            dx = _native_out(dx, typenum, 2, n, k)
            if dx is None:
                return None
            outs.append(dx)
        if not _all_apart(outs, [ga, xa, wa, sa]):
            return None
    cdef void* dxp = cnp.PyArray_DATA(<cnp.ndarray>dx) if compute_dx else NULL
    # (The backward's rule plans the backward: only for num_threads=None.)
    cdef Py_ssize_t max_one_thread = 0
    if not isinstance(threads_of, int):
        max_one_thread = (_backward_one_thread_max_work(<float*>NULL, n, k, m)
                          if typenum == cnp.NPY_FLOAT
                          else _backward_one_thread_max_work(<double*>NULL, n, k, m))
    cdef int threads = _threads_for(_product_work(n, k, m), max_one_thread, threads_of)
    # The dtype picks the specialization through the type of db's pointer.
    if typenum == cnp.NPY_FLOAT:
        _native_backward(<float*>cnp.PyArray_DATA(db), ga, xa, wa, sa, dxp, dw, n, k, m,
                         threads)
    else:
        _native_backward(<double*>cnp.PyArray_DATA(db), ga, xa, wa, sa, dxp, dw, n, k, m,
                         threads)
    return dx, dw, db


cdef int _native_backward(floating* db, cnp.ndarray ga, cnp.ndarray xa, cnp.ndarray wa,
                          cnp.ndarray sa, void* dx, cnp.ndarray dw,
                          Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, int threads) except -1:
    """The backward, every array already checked to be of db's dtype."""
    return _backward(<const floating*>cnp.PyArray_DATA(ga), <const floating*>cnp.PyArray_DATA(xa),
                     <const floating*>cnp.PyArray_DATA(wa), <const floating*>cnp.PyArray_DATA(sa),
                     <floating*>dx, <floating*>cnp.PyArray_DATA(dw), db, n, k, m, threads)


cdef inline bint _apart(cnp.ndarray out, cnp.ndarray a) noexcept:
    """`out` and `a`, both C-contiguous, share no byte."""
    cdef char* o = <char*>cnp.PyArray_DATA(out)
    cdef char* p = <char*>cnp.PyArray_DATA(a)
    return o + cnp.PyArray_NBYTES(out) <= p or p + cnp.PyArray_NBYTES(a) <= o


cdef inline bint _same_array_or_apart(cnp.ndarray out, cnp.ndarray a) noexcept:
    """`out` is `a` itself (same start and size, both C-contiguous, of one dtype and shape
    as the caller checked), or shares no byte with it; else (a partial overlap) False."""
    if (cnp.PyArray_DATA(out) == cnp.PyArray_DATA(a)
            and cnp.PyArray_NBYTES(out) == cnp.PyArray_NBYTES(a)):
        return True
    return _apart(out, a)


cdef object _native_elementwise_out(object out, cnp.ndarray like, int typenum):
    """The array an elementwise result goes to: a new one shaped like `like`, or `out` if
    it fits the contract (apart from its overlap, checked by the caller); None if not."""
    cdef cnp.ndarray oa
    cdef int i
    if out is None:
        return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(like), cnp.PyArray_DIMS(like), typenum, 0)
    if type(out) is not cnp.ndarray:
        return None
    oa = <cnp.ndarray>out
    if (cnp.PyArray_TYPE(oa) != typenum or cnp.PyArray_NDIM(oa) != cnp.PyArray_NDIM(like)
            or not cnp.PyArray_ISCARRAY(oa) or not cnp.PyArray_ISNOTSWAPPED(oa)):
        return None
    for i in range(cnp.PyArray_NDIM(like)):
        if cnp.PyArray_DIM(oa, i) != cnp.PyArray_DIM(like, i):
            return None
    return oa


cdef inline int _native_elementwise_typenum(object a) noexcept:
    """NPY_FLOAT or NPY_DOUBLE for an exact, C-contiguous, aligned, native ndarray of that
    dtype, any shape; else -1."""
    if type(a) is not cnp.ndarray:
        return -1
    return _native_typenum(a, cnp.PyArray_NDIM(<cnp.ndarray>a))


def sigmoid_native(y, out, bint fast, threads_of):
    """σ(y) (in the "fast" mode if `fast`) for a native array, into `out` if it is given
    and fits (see the header), or None."""
    cdef int typenum = _native_elementwise_typenum(y)
    if typenum < 0:
        return None
    cdef cnp.ndarray ya = <cnp.ndarray>y
    result = _native_elementwise_out(out, ya, typenum)
    if result is None or not _same_array_or_apart(<cnp.ndarray>result, ya):
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(ya)
    cdef void* yp = cnp.PyArray_DATA(ya)
    cdef void* op = cnp.PyArray_DATA(<cnp.ndarray>result)
    cdef int threads = _threads_for(
        n, (_sigmoid_elements_for_threads(<float*>NULL) if typenum == cnp.NPY_FLOAT
            else _sigmoid_elements_for_threads(<double*>NULL)) - 1, threads_of)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            sigmoid_parts(<const float*>yp, <float*>op, n, fast, threads)
        else:
            sigmoid_parts(<const double*>yp, <double*>op, n, fast, threads)
    return result


def sigmoid_backward_native(grad, s, out, threads_of):
    """grad·s·(1 − s) for native arrays of one dtype and shape, into `out` if it is given
    and fits (see the header), or None."""
    cdef int typenum = _native_elementwise_typenum(grad)
    if typenum < 0 or _native_elementwise_typenum(s) != typenum:
        return None
    cdef cnp.ndarray ga = <cnp.ndarray>grad, sa = <cnp.ndarray>s
    cdef int i
    if cnp.PyArray_NDIM(sa) != cnp.PyArray_NDIM(ga):
        return None
    for i in range(cnp.PyArray_NDIM(ga)):
        if cnp.PyArray_DIM(sa, i) != cnp.PyArray_DIM(ga, i):
            return None
    result = _native_elementwise_out(out, ga, typenum)
    if (result is None or not _same_array_or_apart(<cnp.ndarray>result, ga)
            or not _same_array_or_apart(<cnp.ndarray>result, sa)):
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(ga)
    cdef void* gp = cnp.PyArray_DATA(ga)
    cdef void* sp = cnp.PyArray_DATA(sa)
    cdef void* op = cnp.PyArray_DATA(<cnp.ndarray>result)
    cdef int threads = _threads_for(
        n, (_backward_elements_for_threads(<float*>NULL) if typenum == cnp.NPY_FLOAT
            else _backward_elements_for_threads(<double*>NULL)) - 1, threads_of)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            sigmoid_backward_parts(<const float*>gp, <const float*>sp, <float*>op, n, threads)
        else:
            sigmoid_backward_parts(<const double*>gp, <const double*>sp, <double*>op, n,
                                   threads)
    return result
