# The dense sigmoid layer, forward and backward, built on _gemm.pxd and
# _sigmoid_math.pxd.
#
# Forward: each block of ROW_BLOCK rows computes y = x @ w for its rows, then
# adds b and applies σ to those rows while they are still in cache, in the output
# buffer itself: Y is never stored separately.
#
# Backward, with dy = grad ⊙ s ⊙ (1 − s):
#   dx = dy @ wᵀ   one dot product per element, rows of dy against rows of w;
#   dw = xᵀ @ dy   and db = column sums of dy.
# Every sum runs in a fixed order (over j for dx, over rows i ascending for dw
# and db) that depends neither on the thread count nor on the schedule, so the
# results are bitwise reproducible. dw and db are shared out by rows of dw (db
# counts as row k, with an implicit x of 1); each thread walks all rows of dy in
# blocks of ROW_BLOCK, reusing each block from cache for all of its rows of dw.
#
# fastsig 0.1 forms dy in a full n×m temporary; the fused, blocked backward
# replaces this module's loops behind the same signatures.

from cython cimport floating
from cython.parallel cimport prange

from ._gemm cimport matmul_rows, ROW_BLOCK
from ._sigmoid_math cimport sigmoid_one, sigmoid_backward_one

import numpy as np


cdef void _forward_rows(const floating* x, const floating* w, const floating* b,
                        floating* out, Py_ssize_t r0, Py_ssize_t r1,
                        Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef floating* row
    matmul_rows(x, w, out, r0, r1, k, m)
    for i in range(r0, r1):
        row = out + i * m
        if b != NULL:
            for j in range(m):
                row[j] = sigmoid_one(row[j] + b[j])
        else:
            for j in range(m):
                row[j] = sigmoid_one(row[j])


def dense_forward(const floating[:, ::1] x, const floating[:, ::1] w, const floating[::1] b,
                  bint has_bias, floating[:, ::1] out, int num_threads):
    """out = σ(x @ w + b), b used only when `has_bias`; `out` must not overlap an input."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    cdef Py_ssize_t blk, nblocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    if (w.shape[0] != k or out.shape[0] != n or out.shape[1] != m
            or (has_bias and b.shape[0] != m)):
        raise ValueError("dense_forward kernel: inconsistent shapes")
    if n == 0 or m == 0:
        return
    cdef const floating* xp = &x[0, 0] if k > 0 else NULL
    cdef const floating* wp = &w[0, 0] if k > 0 else NULL
    cdef const floating* bp = &b[0] if has_bias else NULL
    cdef floating* yp = &out[0, 0]
    with nogil:
        if num_threads == 1 or nblocks == 1:
            for blk in range(nblocks):
                _forward_rows(xp, wp, bp, yp, blk * ROW_BLOCK, min((blk + 1) * ROW_BLOCK, n), k, m)
        else:
            for blk in prange(nblocks, schedule='static', num_threads=num_threads):
                _forward_rows(xp, wp, bp, yp, blk * ROW_BLOCK, min((blk + 1) * ROW_BLOCK, n), k, m)


cdef void _dy_dx_rows(const floating* grad, const floating* s, const floating* w,
                      floating* dy, floating* dx, Py_ssize_t r0, Py_ssize_t r1,
                      Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """dy[r0:r1] = grad ⊙ s ⊙ (1 − s), then dx[r0:r1] = dy @ wᵀ (dx may be NULL)."""
    cdef Py_ssize_t i, j, p
    cdef floating acc
    cdef floating* dyrow
    cdef const floating* wrow
    for i in range(r0 * m, r1 * m):
        dy[i] = sigmoid_backward_one(grad[i], s[i])
    if dx == NULL:
        return
    for i in range(r0, r1):
        dyrow = dy + i * m
        for p in range(k):
            wrow = w + p * m
            acc = 0
            for j in range(m):
                acc = acc + dyrow[j] * wrow[j]
            dx[i * k + p] = acc


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
    for blk in range((n + ROW_BLOCK - 1) // ROW_BLOCK):
        ib = blk * ROW_BLOCK
        ie = min(ib + ROW_BLOCK, n)
        for p in range(p0, p1):
            target = dw + p * m if p < k else db
            for i in range(ib, ie):
                a = x[i * k + p] if p < k else 1
                dyrow = dy + i * m
                for j in range(m):
                    target[j] += a * dyrow[j]


def dense_backward(const floating[:, ::1] grad, const floating[:, ::1] x,
                   const floating[:, ::1] w, const floating[:, ::1] s,
                   floating[:, ::1] dx, bint compute_dx,
                   floating[:, ::1] dw, floating[::1] db, int num_threads):
    """dx = dy @ wᵀ (when `compute_dx`), dw = xᵀ @ dy, db = Σ_rows dy, dy = grad ⊙ s ⊙ (1 − s)."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    cdef Py_ssize_t blk, nblocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    cdef Py_ssize_t t, nparts, rows_of_dw = k + 1
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
    cdef const floating* wp = &w[0, 0] if k > 0 else NULL
    cdef floating* dyp = &dy[0, 0]
    cdef floating* dxp = &dx[0, 0] if compute_dx and k > 0 else NULL
    cdef floating* dwp = &dw[0, 0] if k > 0 else NULL
    cdef floating* dbp = &db[0]
    # Rows of [dw; db] per thread: the split changes who computes a row, never
    # the order of its sum.
    nparts = min(rows_of_dw, num_threads)
    with nogil:
        if num_threads == 1:
            for blk in range(nblocks):
                _dy_dx_rows(gp, sp, wp, dyp, dxp, blk * ROW_BLOCK, min((blk + 1) * ROW_BLOCK, n), k, m)
            _dw_db_rows(xp, dyp, dwp, dbp, 0, rows_of_dw, n, k, m)
        else:
            for blk in prange(nblocks, schedule='static', num_threads=num_threads):
                _dy_dx_rows(gp, sp, wp, dyp, dxp, blk * ROW_BLOCK, min((blk + 1) * ROW_BLOCK, n), k, m)
            for t in prange(nparts, schedule='static', num_threads=num_threads):
                _dw_db_rows(xp, dyp, dwp, dbp, t * rows_of_dw // nparts,
                            (t + 1) * rows_of_dw // nparts, n, k, m)
