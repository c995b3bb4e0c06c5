# Elementwise kernels: sigmoid and sigmoid_backward over flat, C-contiguous
# buffers. One element is an inline function of _sigmoid_math.pxd, branch-free so
# that these loops vectorize. `out` may be the very buffer of an input (in
# place): each element is read before the same element is written.

# Elements per parallel task: large enough that scheduling costs nothing, small
# enough that two threads share a mid-sized array evenly.
cdef Py_ssize_t ELEMENTWISE_CHUNK = 16384


cdef void sigmoid_span(const floating* y, floating* out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = sigmoid_one(y[i])


cdef void _sigmoid_backward_span(const floating* grad, const floating* s, floating* out,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = sigmoid_backward_one(grad[i], s[i])


def sigmoid(const floating[::1] y, floating[::1] out, int num_threads):
    """out[i] = σ(y[i]); `out` may be `y` itself."""
    cdef Py_ssize_t n = y.shape[0], c, start, nchunks
    if out.shape[0] != n:
        raise ValueError(f"sigmoid kernel: out has {out.shape[0]} elements, y has {n}")
    if n == 0:
        return
    cdef const floating* yp = &y[0]
    cdef floating* op = &out[0]
    nchunks = (n + ELEMENTWISE_CHUNK - 1) // ELEMENTWISE_CHUNK
    with nogil:
        if num_threads == 1 or nchunks == 1:
            sigmoid_span(yp, op, n)
        else:
            for c in prange(nchunks, schedule='static', num_threads=num_threads):
                start = c * ELEMENTWISE_CHUNK
                sigmoid_span(yp + start, op + start, min(ELEMENTWISE_CHUNK, n - start))


def sigmoid_backward(const floating[::1] grad, const floating[::1] s, floating[::1] out,
                     int num_threads):
    """out[i] = grad[i] * s[i] * (1 - s[i]); `out` may be `grad` or `s` itself."""
    cdef Py_ssize_t n = grad.shape[0], c, start, nchunks
    if s.shape[0] != n or out.shape[0] != n:
        raise ValueError(
            f"sigmoid_backward kernel: lengths {n}, {s.shape[0]}, {out.shape[0]} differ")
    if n == 0:
        return
    cdef const floating* gp = &grad[0]
    cdef const floating* sp = &s[0]
    cdef floating* op = &out[0]
    nchunks = (n + ELEMENTWISE_CHUNK - 1) // ELEMENTWISE_CHUNK
    with nogil:
        if num_threads == 1 or nchunks == 1:
            _sigmoid_backward_span(gp, sp, op, n)
        else:
            for c in prange(nchunks, schedule='static', num_threads=num_threads):
                start = c * ELEMENTWISE_CHUNK
                _sigmoid_backward_span(gp + start, sp + start, op + start,
                                       min(ELEMENTWISE_CHUNK, n - start))


cdef void _copy_span(const floating* src, floating* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = src[i]


def stream_copy(const floating[::1] src, floating[::1] dst, int num_threads):
    """dst[:] = src, chunked over threads like the elementwise kernels.

    Not part of the API: the benchmarks' measure of the memory bandwidth that a
    one-pass elementwise kernel can reach on this machine."""
    cdef Py_ssize_t n = src.shape[0], c, start, nchunks
    if dst.shape[0] != n:
        raise ValueError(f"stream_copy: dst has {dst.shape[0]} elements, src has {n}")
    if n == 0:
        return
    cdef const floating* sp = &src[0]
    cdef floating* dp = &dst[0]
    nchunks = (n + ELEMENTWISE_CHUNK - 1) // ELEMENTWISE_CHUNK
    with nogil:
        if num_threads == 1 or nchunks == 1:
            _copy_span(sp, dp, n)
        else:
            for c in prange(nchunks, schedule='static', num_threads=num_threads):
                start = c * ELEMENTWISE_CHUNK
                _copy_span(sp + start, dp + start, min(ELEMENTWISE_CHUNK, n - start))
