# The dense sigmoid layer, forward and backward, on the matmul of _gemm.pxi.
#
# Forward: σ(x @ w + b) is the matmul with the sigmoid epilogue: each task adds
# b and applies σ to its block of the output while it is in cache, in the output
# buffer itself, so Y is never stored separately.
#
# Backward, with dy = grad ⊙ s ⊙ (1 − s):
#   dx = dy @ wᵀ   the matmul, wᵀ read through the packing (no transposed copy);
#   dw = xᵀ @ dy   and db = column sums of dy, shared out by rows of dw (db
#                  counts as row k, with an implicit x of 1); each row sums over
#                  the rows i of dy in increasing order, block by block, whatever
#                  the thread count.
# dy is formed in an n×m scratch buffer here; the fused, blocked backward
# replaces this behind the same signature.

cdef void _dy_rows(const floating* grad, const floating* s, floating* dy,
                   Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        dy[i] = sigmoid_backward_one(grad[i], s[i])


cdef void _dw_db_rows(const floating* x, const floating* dy, floating* dw, floating* db,
                      Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t n,
                      Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """dw[p] = Σ_i x[i, p] dy[i] for p in [p0, p1); p == k stands for db (x = 1)."""
    cdef Py_ssize_t blk, ib, ie, i, p, j
    cdef floating a
    cdef floating* target
    cdef const floating* dyrow
    for p in range(p0, p1):
        target = dw + p * m if p < k else db
        for j in range(m):
            target[j] = 0
    # Blocks of rows, so each block of dy is reused from cache for every row of dw.
    for blk in range((n + KC - 1) // KC):
        ib = blk * KC
        ie = min(ib + KC, n)
        for p in range(p0, p1):
            target = dw + p * m if p < k else db
            for i in range(ib, ie):
                a = x[i * k + p] if p < k else 1
                dyrow = dy + i * m
                for j in range(m):
                    target[j] += a * dyrow[j]


def dense_forward(const floating[:, ::1] x, const floating[:, ::1] w, const floating[::1] b,
                  bint has_bias, floating[:, ::1] out, int num_threads):
    """out = σ(x @ w + b), b used only when `has_bias`; `out` must not overlap an input."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    if (w.shape[0] != k or out.shape[0] != n or out.shape[1] != m
            or (has_bias and b.shape[0] != m)):
        raise ValueError("dense_forward kernel: inconsistent shapes")
    if n == 0 or m == 0:
        return
    gemm(&x[0, 0] if k > 0 else NULL, k, 1, &w[0, 0] if k > 0 else NULL, m, 1,
         &out[0, 0], n, k, m, &b[0] if has_bias else NULL, EPILOGUE_SIGMOID, num_threads)


def dense_backward(const floating[:, ::1] grad, const floating[:, ::1] x,
                   const floating[:, ::1] w, const floating[:, ::1] s,
                   floating[:, ::1] dx, bint compute_dx,
                   floating[:, ::1] dw, floating[::1] db, int num_threads):
    """dx = dy @ wᵀ (when `compute_dx`), dw = xᵀ @ dy, db = Σ_rows dy, dy = grad ⊙ s ⊙ (1 − s)."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    cdef Py_ssize_t c, start, nchunks, t, nparts, rows_of_dw = k + 1
    if (w.shape[0] != k or grad.shape[0] != n or grad.shape[1] != m
            or s.shape[0] != n or s.shape[1] != m
            or dw.shape[0] != k or dw.shape[1] != m or db.shape[0] != m
            or (compute_dx and (dx.shape[0] != n or dx.shape[1] != k))):
        raise ValueError("dense_backward kernel: inconsistent shapes")
    if m == 0:
        if compute_dx and n > 0 and k > 0:
            dx[:, :] = 0
        return
    if n == 0:
        dw[:, :] = 0
        db[:] = 0
        return
    dy_buffer = np.empty((n, m), dtype=np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] dy = dy_buffer
    cdef const floating* gp = &grad[0, 0]
    cdef const floating* sp = &s[0, 0]
    cdef const floating* xp = &x[0, 0] if k > 0 else NULL
    cdef floating* dyp = &dy[0, 0]
    cdef floating* dwp = &dw[0, 0] if k > 0 else NULL
    cdef floating* dbp = &db[0]
    nchunks = (n * m + ELEMENTWISE_CHUNK - 1) // ELEMENTWISE_CHUNK
    # Rows of [dw; db] per thread: the split changes who computes a row, never
    # the order of its sum.
    nparts = min(rows_of_dw, num_threads)
    with nogil:
        if num_threads == 1:
            _dy_rows(gp, sp, dyp, 0, n * m)
            _dw_db_rows(xp, dyp, dwp, dbp, 0, rows_of_dw, n, k, m)
        else:
            for c in prange(nchunks, schedule='static', num_threads=num_threads):
                start = c * ELEMENTWISE_CHUNK
                _dy_rows(gp, sp, dyp, start, min(start + ELEMENTWISE_CHUNK, n * m))
            for t in prange(nparts, schedule='static', num_threads=num_threads):
                _dw_db_rows(xp, dyp, dwp, dbp, t * rows_of_dw // nparts,
                            (t + 1) * rows_of_dw // nparts, n, k, m)
    if compute_dx and k > 0:
        # dx (n×k) = dy (n×m) @ wᵀ (m×k): element (j, p) of wᵀ is w[p, j] = w[p*m + j].
        gemm(dyp, m, 1, &w[0, 0], 1, m, &dx[0, 0], n, m, k, NULL, EPILOGUE_NONE, num_threads)
