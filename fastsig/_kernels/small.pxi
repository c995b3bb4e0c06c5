# The tiny-call paths: matmul, dense_forward and dense_backward on small native arrays.
#
# Provides: def matmul_small, def dense_forward_small, def dense_backward_small; each
#   returns None for a call it does not take.
# Uses: gemm.pxi (gemm), layer.pxi (_backward), plan.pxi (SMALL_MAX_WORK), numpy's C API.
#
# A call on a 2×2 @ 2×3 problem spends almost all its time outside the arithmetic: the
# Python checks of _api.py and the acquisition of typed memoryviews. These functions
# take the objects as given and check, through numpy's C API and before any arithmetic,
# that every one is an exact numpy.ndarray, 2-D (b: 1-D), C-contiguous, aligned, in
# native byte order, of one float dtype, with shapes that fit and at most SMALL_MAX_WORK
# multiply-adds (one thread's work on the full path too). If anything is otherwise they
# return None and the caller (_api.py) takes its full path, which checks and converts
# everything and raises the errors. The arithmetic is the same gemm() (or _backward())
# on one thread, so the bits are the full path's.

cimport numpy as cnp

cnp.import_array()


cdef inline int _small_typenum(object a, int ndim) noexcept:
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


cdef object _small_product(object x, object w, object b, bint with_bias, int epilogue):
    cdef int typenum = _small_typenum(x, 2)
    if typenum < 0 or _small_typenum(w, 2) != typenum:
        return None
    if with_bias and _small_typenum(b, 1) != typenum:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w
    cdef Py_ssize_t n = cnp.PyArray_DIM(xa, 0), k = cnp.PyArray_DIM(xa, 1)
    cdef Py_ssize_t m = cnp.PyArray_DIM(wa, 1)
    if cnp.PyArray_DIM(wa, 0) != k or n < 1 or k < 1 or m < 1 or n * k * m > SMALL_MAX_WORK:
        return None
    if with_bias and cnp.PyArray_DIM(<cnp.ndarray>b, 0) != m:
        return None
    cdef cnp.npy_intp dims[2]
    dims[0] = n
    dims[1] = m
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    cdef void* bias = cnp.PyArray_DATA(<cnp.ndarray>b) if with_bias else NULL
    # The dtype picks the specialization through the type of the output pointer.
    if typenum == cnp.NPY_FLOAT:
        _small_gemm(<float*>cnp.PyArray_DATA(out), xa, wa, bias, n, k, m, epilogue)
    else:
        _small_gemm(<double*>cnp.PyArray_DATA(out), xa, wa, bias, n, k, m, epilogue)
    return out


cdef int _small_gemm(floating* out, cnp.ndarray xa, cnp.ndarray wa, void* bias,
                     Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, int epilogue) except -1:
    """out = x @ w (+ epilogue) on one thread, every array already checked to be of out's dtype."""
    return gemm(<const floating*>cnp.PyArray_DATA(xa), k, 1,
                <const floating*>cnp.PyArray_DATA(wa), m, 1, out, n, k, m,
                <const floating*>bias, epilogue, 1)


def matmul_small(x, w):
    """x @ w for small native arrays (see the header), or None."""
    return _small_product(x, w, None, False, EPILOGUE_NONE)


def dense_forward_small(x, w, b, bint fast):
    """σ(x @ w + b) (b may be None; σ in the "fast" accuracy mode if `fast`) for small
    native arrays (see the header), or None."""
    return _small_product(x, w, b, b is not None,
                          EPILOGUE_SIGMOID_FAST if fast else EPILOGUE_SIGMOID)


def dense_backward_small(grad, x, w, s, bint compute_dx):
    """(dx or None, dw, db) for small native arrays (see the header), or None."""
    cdef int typenum = _small_typenum(x, 2)
    if (typenum < 0 or _small_typenum(w, 2) != typenum or _small_typenum(grad, 2) != typenum
            or _small_typenum(s, 2) != typenum):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w
    cdef cnp.ndarray ga = <cnp.ndarray>grad, sa = <cnp.ndarray>s
    cdef Py_ssize_t n = cnp.PyArray_DIM(xa, 0), k = cnp.PyArray_DIM(xa, 1)
    cdef Py_ssize_t m = cnp.PyArray_DIM(wa, 1)
    if cnp.PyArray_DIM(wa, 0) != k or n < 1 or k < 1 or m < 1 or n * k * m > SMALL_MAX_WORK:
        return None
    if (cnp.PyArray_DIM(ga, 0) != n or cnp.PyArray_DIM(ga, 1) != m
            or cnp.PyArray_DIM(sa, 0) != n or cnp.PyArray_DIM(sa, 1) != m):
        return None
    cdef cnp.npy_intp dims[2]
    dims[0] = k
    dims[1] = m
    cdef cnp.ndarray dw = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    cdef cnp.ndarray db = cnp.PyArray_EMPTY(1, &dims[1], typenum, 0)
    dims[0] = n
    dims[1] = k
    cdef object dx = cnp.PyArray_EMPTY(2, dims, typenum, 0) if compute_dx else None
    cdef void* dxp = cnp.PyArray_DATA(<cnp.ndarray>dx) if compute_dx else NULL
    # The dtype picks the specialization through the type of db's pointer.
    if typenum == cnp.NPY_FLOAT:
        _small_backward(<float*>cnp.PyArray_DATA(db), ga, xa, wa, sa, dxp, dw, n, k, m)
    else:
        _small_backward(<double*>cnp.PyArray_DATA(db), ga, xa, wa, sa, dxp, dw, n, k, m)
    return dx, dw, db


cdef int _small_backward(floating* db, cnp.ndarray ga, cnp.ndarray xa, cnp.ndarray wa,
                         cnp.ndarray sa, void* dx, cnp.ndarray dw,
                         Py_ssize_t n, Py_ssize_t k, Py_ssize_t m) except -1:
    """The backward on one thread, every array already checked to be of db's dtype."""
    return _backward(<const floating*>cnp.PyArray_DATA(ga), <const floating*>cnp.PyArray_DATA(xa),
                     <const floating*>cnp.PyArray_DATA(wa), <const floating*>cnp.PyArray_DATA(sa),
                     <floating*>dx, <floating*>cnp.PyArray_DATA(dw), db, n, k, m, 1)
