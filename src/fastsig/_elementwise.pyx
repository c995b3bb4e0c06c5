# Elementwise kernels: sigmoid and sigmoid_backward over flat, C-contiguous buffers.
#
# Design (the same in every fastsig kernel):
# - the Python layer (_api.py) has already checked dtypes, shapes, out= and the
#   thread count, and converted the inputs; these wrappers only re-check the
#   lengths that memory safety depends on, then release the GIL;
# - one element is an inline function of _sigmoid_math.pxd; the loops here only
#   walk the buffers;
# - with more than one thread the buffer is cut into fixed chunks handed out
#   statically by prange; with one thread the loop runs without entering OpenMP
#   at all, which is what keeps a child forked after threaded work safe.
# Inputs are `const` memoryviews so read-only arrays (np.load mmap_mode="r") work;
# `out` may be the very buffer of an input (in place): each element is read
# before the same element is written.

from cython cimport floating
from cython.parallel cimport prange

from ._sigmoid_math cimport sigmoid_one, sigmoid_backward_one

# Elements per chunk: large enough that scheduling costs nothing, small enough
# that two threads share the work of a mid-sized array evenly.
cdef Py_ssize_t CHUNK = 32768


cdef void _sigmoid_span(const floating* y, floating* out,
                        Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = sigmoid_one(y[i])


cdef void _sigmoid_backward_span(const floating* grad, const floating* s, floating* out,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = sigmoid_backward_one(grad[i], s[i])


def sigmoid(const floating[::1] y, floating[::1] out, int num_threads):
    """out[i] = σ(y[i]); `out` may be `y` itself."""
    cdef Py_ssize_t n = y.shape[0], c, nchunks
    if out.shape[0] != n:
        raise ValueError(f"sigmoid kernel: out has {out.shape[0]} elements, y has {n}")
    if n == 0:
        return
    nchunks = (n + CHUNK - 1) // CHUNK
    with nogil:
        if num_threads == 1 or nchunks == 1:
            _sigmoid_span(&y[0], &out[0], 0, n)
        else:
            for c in prange(nchunks, schedule='static', num_threads=num_threads):
                _sigmoid_span(&y[0], &out[0], c * CHUNK, min((c + 1) * CHUNK, n))


def sigmoid_backward(const floating[::1] grad, const floating[::1] s, floating[::1] out,
                     int num_threads):
    """out[i] = grad[i] * s[i] * (1 - s[i]); `out` may be `grad` or `s` itself."""
    cdef Py_ssize_t n = grad.shape[0], c, nchunks
    if s.shape[0] != n or out.shape[0] != n:
        raise ValueError(f"sigmoid_backward kernel: lengths {n}, {s.shape[0]}, {out.shape[0]} differ")
    if n == 0:
        return
    nchunks = (n + CHUNK - 1) // CHUNK
    with nogil:
        if num_threads == 1 or nchunks == 1:
            _sigmoid_backward_span(&grad[0], &s[0], &out[0], 0, n)
        else:
            for c in prange(nchunks, schedule='static', num_threads=num_threads):
                _sigmoid_backward_span(&grad[0], &s[0], &out[0],
                                       c * CHUNK, min((c + 1) * CHUNK, n))
