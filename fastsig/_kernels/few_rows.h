/* fastsig: the product of a few rows, reading both operands where they lie.
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_few_rows_F32(rows, kc, a, lda, b, ldb, acc, c, ldc, cols, accumulate, bias)
 * Uses: plain C loops (every compiler and build, FASTSIG_PORTABLE included), which the
 *   compiler vectorizes along the columns (lane by lane, so the bits are those of scalar
 *   code).
 *
 * C[rows, cols] (= or, with `accumulate`, +=) A[rows, kc] @ B[kc, cols] (+ bias[:cols]),
 * rows <= FASTSIG_FEW_ROWS_MAX, for products too short to pay for packing B (one row:
 * a matrix-vector product):
 * 1. A's row i at a + i*lda and B's row p at b + p*ldb are read where they lie, B a row
 *    at a time: a contiguous stream, which the hardware prefetches (the register tile
 *    would read NR columns of each row of B, a stride through memory).
 * 2. The sums are kept in `acc` (rows x cols, in L1), started at 0; each row p of B adds
 *    A[i, p] * B[p, j] to every row's sum, one multiply-add per element, in increasing
 *    p: the order, and so the bits, of the register tile.
 * 3. Then C = sum, or C + sum with `accumulate`, then + bias: again the register tile's
 *    order. */
#ifndef FASTSIG_FEW_ROWS_H
#define FASTSIG_FEW_ROWS_H

#include <stddef.h>

#define FASTSIG_FEW_ROWS_MAX 4

/* The body is inlined into each row count, so that `rows` is a constant there. */
#if defined(__GNUC__)
#define FASTSIG_FEW_ROWS_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FASTSIG_FEW_ROWS_INLINE static __forceinline
#else
#define FASTSIG_FEW_ROWS_INLINE static inline
#endif

#define FASTSIG_FEW_ROWS(T, SUFFIX)                                                        \
FASTSIG_FEW_ROWS_INLINE void fastsig_few_rows_##SUFFIX##_body(                           \
        ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* __restrict b, ptrdiff_t ldb,    \
        T* __restrict acc, ptrdiff_t cols, const int rows) {                               \
    ptrdiff_t p, j;                                                                        \
    for (j = 0; j < rows * cols; j++)                                                      \
        acc[j] = 0;                                                                        \
    for (p = 0; p < kc; p++) {                                                             \
        const T* __restrict brow = b + p * ldb;                                            \
        const T a0 = a[p];                                                                 \
        const T a1 = rows > 1 ? a[lda + p] : 0;                                            \
        const T a2 = rows > 2 ? a[2 * lda + p] : 0;                                        \
        const T a3 = rows > 3 ? a[3 * lda + p] : 0;                                        \
        for (j = 0; j < cols; j++) {                                                       \
            const T bj = brow[j];                                                          \
            acc[j] += a0 * bj;                                                             \
            if (rows > 1) acc[cols + j] += a1 * bj;                                        \
            if (rows > 2) acc[2 * cols + j] += a2 * bj;                                    \
            if (rows > 3) acc[3 * cols + j] += a3 * bj;                                    \
        }                                                                                  \
    }                                                                                      \
}                                                                                          \
                                                                                           \
static void fastsig_few_rows_##SUFFIX(                                                     \
        ptrdiff_t rows, ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* b,              \
        ptrdiff_t ldb, T* acc, T* c, ptrdiff_t ldc, ptrdiff_t cols, int accumulate,       \
        const T* bias) {                                                                   \
    ptrdiff_t i, j;                                                                        \
    T sum;                                                                                 \
    switch (rows) {                                                                        \
    case 1: fastsig_few_rows_##SUFFIX##_body(kc, a, lda, b, ldb, acc, cols, 1); break;    \
    case 2: fastsig_few_rows_##SUFFIX##_body(kc, a, lda, b, ldb, acc, cols, 2); break;    \
    case 3: fastsig_few_rows_##SUFFIX##_body(kc, a, lda, b, ldb, acc, cols, 3); break;    \
    default: fastsig_few_rows_##SUFFIX##_body(kc, a, lda, b, ldb, acc, cols, 4); break;   \
    }                                                                                      \
    for (i = 0; i < rows; i++)                                                             \
        for (j = 0; j < cols; j++) {                                                       \
            sum = accumulate ? c[i * ldc + j] + acc[i * cols + j] : acc[i * cols + j];    \
            c[i * ldc + j] = bias ? sum + bias[j] : sum;                                   \
        }                                                                                  \
}

FASTSIG_FEW_ROWS(float, F32)
FASTSIG_FEW_ROWS(double, F64)
#undef FASTSIG_FEW_ROWS
#undef FASTSIG_FEW_ROWS_INLINE

#endif /* FASTSIG_FEW_ROWS_H */
