# The matmul kernel, header-only so that _gemm.pyx and _dense.pyx share it.
#
# y[r0:r1, :] = x[r0:r1, :] @ w for row-major x (n×k), w (k×m), y (n×m).
#
# The rows [r0, r1) are one unit of parallel work (a block of ROW_BLOCK rows).
# Inside it the loops are blocked so that a K_BLOCK×N_BLOCK panel of w stays in
# the L2 cache while every row of the block uses it; the innermost loop is an
# axpy over contiguous columns that the C compiler vectorizes. Each y[i, j] sums
# its k products in increasing p whatever the blocking and the thread count, so
# results are bitwise reproducible, and the error stays within k·u·(|x|·|w|).
#
# This is the plain, correct kernel of fastsig 0.1; the packed, register-tiled
# matmul replaces it behind the same signature.

from cython cimport floating

cdef enum:
    ROW_BLOCK = 64      # rows of x (and y) per parallel task
    K_BLOCK = 256       # rows of the w panel kept in L2
    N_BLOCK = 256       # columns of the w panel kept in L2


cdef inline void matmul_rows(const floating* x, const floating* w, floating* y,
                             Py_ssize_t r0, Py_ssize_t r1,
                             Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i, p, j, jb, je, pb, pe, jblk, pblk
    cdef floating a
    cdef floating* yrow
    cdef const floating* wrow
    for i in range(r0 * m, r1 * m):
        y[i] = 0
    for jblk in range((m + N_BLOCK - 1) // N_BLOCK):
        jb = jblk * N_BLOCK
        je = min(jb + N_BLOCK, m)
        for pblk in range((k + K_BLOCK - 1) // K_BLOCK):
            pb = pblk * K_BLOCK
            pe = min(pb + K_BLOCK, k)
            for i in range(r0, r1):
                yrow = y + i * m
                for p in range(pb, pe):
                    a = x[i * k + p]
                    wrow = w + p * m
                    for j in range(jb, je):
                        yrow[j] += a * wrow[j]
