# matmul: y = x @ w over C-contiguous float32/float64 buffers.
#
# The arithmetic lives in _gemm.pxd (shared with the fused dense layer); this
# module only cuts the rows into ROW_BLOCK tasks and hands them to threads.
# Validation is done by _api.py; the wrapper re-checks the shapes that memory
# safety depends on before it releases the GIL.

from cython cimport floating
from cython.parallel cimport prange

from ._gemm cimport matmul_rows, ROW_BLOCK


def matmul(const floating[:, ::1] x, const floating[:, ::1] w, floating[:, ::1] out,
           int num_threads):
    """out = x @ w; `out` must not overlap `x` or `w`."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    cdef Py_ssize_t blk, nblocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    if w.shape[0] != k or out.shape[0] != n or out.shape[1] != m:
        raise ValueError("matmul kernel: inconsistent shapes")
    if n == 0 or m == 0:
        return
    # With k == 0 nothing of x or w is read; their pointers are never used.
    cdef const floating* xp = &x[0, 0] if k > 0 else NULL
    cdef const floating* wp = &w[0, 0] if k > 0 else NULL
    cdef floating* yp = &out[0, 0]
    with nogil:
        if num_threads == 1 or nblocks == 1:
            for blk in range(nblocks):
                matmul_rows(xp, wp, yp, blk * ROW_BLOCK, min((blk + 1) * ROW_BLOCK, n), k, m)
        else:
            for blk in prange(nblocks, schedule='static', num_threads=num_threads):
                matmul_rows(xp, wp, yp, blk * ROW_BLOCK, min((blk + 1) * ROW_BLOCK, n), k, m)
