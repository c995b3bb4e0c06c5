# Elementwise kernels: sigmoid and sigmoid_backward over flat, C-contiguous buffers.
#
# Provides: sigmoid_span (also the matmul's epilogue), sigmoid_parts and
#   sigmoid_backward_parts (threaded; also the native fast paths'), def sigmoid, def
#   sigmoid_backward, def stream_copy (the benchmarks' bandwidth bound).
# Uses: _sigmoid_math.pxd (one element, inline and branch-free, so these loops
#   vectorize), sigmoid_backward.h (C: float32's sigmoid_backward), fetch.h (a threaded
#   part of sigmoid asks for its input ahead).
#
# `out` may be the very buffer of an input (in place): each element is read before the
# same element is written.

# Threads split a buffer into one contiguous part each, of equal size rounded up to a
# multiple of PART_ALIGN elements (whole cache lines at every part boundary): equal
# parts, since in cache the work is the exp and a thread with more parts finishes last.
cdef Py_ssize_t PART_ALIGN = 16


cdef inline Py_ssize_t _part_size(Py_ssize_t n, int nparts) noexcept nogil:
    cdef Py_ssize_t size = (n + nparts - 1) // nparts
    return (size + PART_ALIGN - 1) // PART_ALIGN * PART_ALIGN


cdef void sigmoid_span(const floating* y, floating* out, Py_ssize_t n,
                       bint fast) noexcept nogil:
    """out[i] = σ(y[i]) in the "high" accuracy mode, or with `fast` the "fast" one."""
    cdef Py_ssize_t i
    if fast:
        for i in range(n):
            out[i] = sigmoid_one_fast(y[i])
    else:
        for i in range(n):
            out[i] = sigmoid_one(y[i])


cdef extern from "_kernels/sigmoid_backward.h":
    void _sigmoid_backward_f32 "fastsig_sigmoid_backward_F32"(
        const float* grad, const float* s, float* out, Py_ssize_t n) noexcept nogil


cdef void _sigmoid_backward_span(const floating* grad, const floating* s, floating* out,
                                 Py_ssize_t n) noexcept nogil:
    """out[i] = grad[i] * s[i] * (1 - s[i]): float64 by sigmoid_backward_one, float32 by
    sigmoid_backward.h (its double form, or in the avx512 variant its float32 one)."""
    cdef Py_ssize_t i
    if floating is float:
        _sigmoid_backward_f32(grad, s, out, n)
    else:
        for i in range(n):
            out[i] = sigmoid_backward_one(grad[i], s[i])


cdef extern from "_kernels/fetch.h":
    void fetch "fastsig_fetch"(const void* p, Py_ssize_t bytes) noexcept nogil

cdef enum:
    FETCH_BLOCK_BYTES = 4096    # a threaded part of sigmoid fetches its input this much ahead


cdef void _sigmoid_fetched(const floating* y, floating* out, Py_ssize_t n,
                           bint fast) noexcept nogil:
    """sigmoid_span over one thread's part, a block of FETCH_BLOCK_BYTES of y at a time,
    the next block's lines asked for (fetch.h) before this one is computed: y may lie in
    another core's cache, written there just before the call, where the hardware does
    not fetch it ahead (docs/performance.md, "Threads after the caller wrote the
    input"). The same bits as sigmoid_span: each element on its own."""
    cdef Py_ssize_t block = FETCH_BLOCK_BYTES // sizeof(floating), start = 0
    fetch(y, min(block, n) * <Py_ssize_t>sizeof(floating))
    while start < n:
        if start + block < n:
            fetch(y + start + block,
                  min(block, n - start - block) * <Py_ssize_t>sizeof(floating))
        sigmoid_span(y + start, out + start, min(block, n - start), fast)
        start += block


cdef void sigmoid_parts(const floating* y, floating* out, Py_ssize_t n, bint fast,
                        int threads) noexcept nogil:
    """sigmoid_span over n elements on `threads` threads, one part each
    (_sigmoid_fetched)."""
    cdef Py_ssize_t part, start, size = _part_size(n, threads)
    if threads == 1 or size >= n:
        sigmoid_span(y, out, n, fast)
    else:
        for part in prange(threads, schedule='static', num_threads=threads):
            start = part * size
            if start < n:
                _sigmoid_fetched(y + start, out + start, min(size, n - start), fast)


cdef void sigmoid_backward_parts(const floating* grad, const floating* s, floating* out,
                                 Py_ssize_t n, int threads) noexcept nogil:
    """out = grad·s·(1 − s) over n elements on `threads` threads, one part each."""
    cdef Py_ssize_t part, start, size = _part_size(n, threads)
    if threads == 1 or size >= n:
        _sigmoid_backward_span(grad, s, out, n)
    else:
        for part in prange(threads, schedule='static', num_threads=threads):
            start = part * size
            if start < n:
                _sigmoid_backward_span(grad + start, s + start, out + start,
                                       min(size, n - start))


def sigmoid(const floating[::1] y, floating[::1] out, int num_threads, bint fast):
    """out[i] = σ(y[i]), in the "fast" accuracy mode if `fast`; `out` may be `y` itself."""
    cdef Py_ssize_t n = y.shape[0]
    if out.shape[0] != n:
        raise ValueError(f"sigmoid kernel: out has {out.shape[0]} elements, y has {n}")
    if n == 0:
        return
    cdef const floating* yp = &y[0]
    cdef floating* op = &out[0]
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    with nogil:
        sigmoid_parts(yp, op, n, fast, num_threads)


def sigmoid_backward(const floating[::1] grad, const floating[::1] s, floating[::1] out,
                     int num_threads):
    """out[i] = grad[i] * s[i] * (1 - s[i]); `out` may be `grad` or `s` itself."""
    cdef Py_ssize_t n = grad.shape[0]
    if s.shape[0] != n or out.shape[0] != n:
        raise ValueError(
            f"sigmoid_backward kernel: lengths {n}, {s.shape[0]}, {out.shape[0]} differ")
    if n == 0:
        return
    cdef const floating* gp = &grad[0]
    cdef const floating* sp = &s[0]
    cdef floating* op = &out[0]
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    with nogil:
        sigmoid_backward_parts(gp, sp, op, n, num_threads)


cdef void _copy_span(const floating* src, floating* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = src[i]


def stream_copy(const floating[::1] src, floating[::1] dst, int num_threads):
    """dst[:] = src, chunked over threads like the elementwise kernels.

    Not part of the API: the benchmarks' measure of the memory bandwidth that a
    one-pass elementwise kernel can reach on this machine."""
    cdef Py_ssize_t n = src.shape[0], part, start, size
    if dst.shape[0] != n:
        raise ValueError(f"stream_copy: dst has {dst.shape[0]} elements, src has {n}")
    if n == 0:
        return
    cdef const floating* sp = &src[0]
    cdef floating* dp = &dst[0]
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    size = _part_size(n, num_threads)
    with nogil:
        if num_threads == 1 or size >= n:
            _copy_span(sp, dp, n)
        else:
            for part in prange(num_threads, schedule='static', num_threads=num_threads):
                start = part * size
                if start < n:
                    _copy_span(sp + start, dp + start, min(size, n - start))
