/* fastsig: the product of a few rows, reading both operands where they lie.
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_few_rows_F32(rows, kc, a, lda, b, ldb, acc, c, ldc, cols, accumulate, bias)
 *   fastsig_few_rows_transposed_F32(rows, m, k, depth, dy, w, dx, ldx)   (dx = dy @ wT:
 *     below)
 * Uses: plain C loops (every compiler and build, FASTSIG_PORTABLE included), which the
 *   compiler vectorizes along the columns (lane by lane, so the bits are those of scalar
 *   code); __builtin_fma where the variant has FMA.
 *
 * C[rows, cols] (= or, with `accumulate`, +=) A[rows, kc] @ B[kc, cols] (+ bias[:cols]),
 * rows <= FASTSIG_FEW_ROWS_MAX, for products too short to pay for packing B (one row:
 * a matrix-vector product):
 * 1. A's row i at a + i*lda and B's row p at b + p*ldb are read where they lie, B a row
 *    at a time: a contiguous stream, which the hardware prefetches (the register tile
 *    would read NR columns of each row of B, a stride through memory).
 * 2. The sums are kept in `acc` (rows x cols, in L1), started at 0; each row p of B adds
 *    A[i, p] * B[p, j] to every row's sum, one multiply-add per element (fused where the
 *    variant has FMA: FASTSIG_MULADD), in increasing p: the order, and so the bits, of
 *    the register tile.
 * 3. Then C = sum, or C + sum with `accumulate`, then + bias: again the register tile's
 *    order. */
#ifndef FASTSIG_FEW_ROWS_H
#define FASTSIG_FEW_ROWS_H

#include <stddef.h>

#define FASTSIG_FEW_ROWS_MAX 4

/* One multiply-add as the tiles do it: fused where the variant has FMA (where gcc
   contracts the tiles' a * b + c), else a multiply and an add. Written out, because gcc
   left some of these loops' multiply-adds unfused once it vectorized them. */
#if defined(__GNUC__) && defined(__FMA__)
#define FASTSIG_MULADD_float(a, b, c) __builtin_fmaf((a), (b), (c))
#define FASTSIG_MULADD_double(a, b, c) __builtin_fma((a), (b), (c))
#else
#define FASTSIG_MULADD_float(a, b, c) ((a) * (b) + (c))
#define FASTSIG_MULADD_double(a, b, c) ((a) * (b) + (c))
#endif

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
            acc[j] = FASTSIG_MULADD_##T(a0, bj, acc[j]);                                   \
            if (rows > 1)                                                                  \
                acc[cols + j] = FASTSIG_MULADD_##T(a1, bj, acc[cols + j]);                 \
            if (rows > 2)                                                                  \
                acc[2 * cols + j] = FASTSIG_MULADD_##T(a2, bj, acc[2 * cols + j]);         \
            if (rows > 3)                                                                  \
                acc[3 * cols + j] = FASTSIG_MULADD_##T(a3, bj, acc[3 * cols + j]);         \
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

/* dx[rows, 0:k] = dy[rows, 0:m] @ wT, w (k x m, rows m apart) row-major where it lies,
 * dx's rows ldx apart (a slice of k of w's rows and dx's columns is a call of its own), for the
 * backward of few rows (packing wT would cost more than the product): dx[i, p] is
 * sum_j dy[i, j] w[p, j], the depth m cut into blocks of `depth` (KC). Each block's sum
 * starts at 0 and runs in increasing j, one multiply-add a step; the first block stores
 * it, the later ones add it to dx: the register tile's order, so the bits of the packed
 * path. Eight rows of w at a time, each a contiguous stream, give eight independent
 * chains (the vectors would have to run along j, which would reorder the sums). */
#define FASTSIG_FEW_ROWS_TRANSPOSED(T, SUFFIX)                                             \
static void fastsig_few_rows_transposed_##SUFFIX(                                          \
        ptrdiff_t rows, ptrdiff_t m, ptrdiff_t k, ptrdiff_t depth, const T* dy,           \
        const T* w, T* dx, ptrdiff_t ldx) {                                                \
    enum { W_ROWS = 8 };                                                                   \
    ptrdiff_t i, p0, q, rows_of_w, j0, j1, j;                                              \
    T acc[W_ROWS];                                                                         \
    for (i = 0; i < rows; i++) {                                                           \
        const T* dyrow = dy + i * m;                                                       \
        for (p0 = 0; p0 < k; p0 += W_ROWS) {                                               \
            rows_of_w = FASTSIG_FEW_ROWS_MIN(W_ROWS, k - p0);                              \
            for (j0 = 0; j0 < m; j0 = j1) {                                                \
                j1 = FASTSIG_FEW_ROWS_MIN(m, j0 + depth);                                  \
                for (q = 0; q < W_ROWS; q++)                                               \
                    acc[q] = 0;                                                            \
                if (rows_of_w == W_ROWS) {                                                 \
                    for (j = j0; j < j1; j++)                                              \
                        for (q = 0; q < W_ROWS; q++)                                       \
                            acc[q] = FASTSIG_MULADD_##T(dyrow[j], w[(p0 + q) * m + j],     \
                                                        acc[q]);                           \
                } else {                                                                   \
                    for (q = 0; q < rows_of_w; q++)                                        \
                        for (j = j0; j < j1; j++)                                          \
                            acc[q] = FASTSIG_MULADD_##T(dyrow[j], w[(p0 + q) * m + j],     \
                                                        acc[q]);                           \
                }                                                                          \
                for (q = 0; q < rows_of_w; q++)                                            \
                    dx[i * ldx + p0 + q] = j0 == 0 ? acc[q] : dx[i * ldx + p0 + q] + acc[q]; \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}

#define FASTSIG_FEW_ROWS_MIN(x, y) ((x) < (y) ? (x) : (y))

FASTSIG_FEW_ROWS(float, F32)
FASTSIG_FEW_ROWS(double, F64)
FASTSIG_FEW_ROWS_TRANSPOSED(float, F32)
FASTSIG_FEW_ROWS_TRANSPOSED(double, F64)
#undef FASTSIG_FEW_ROWS
#undef FASTSIG_FEW_ROWS_TRANSPOSED
#undef FASTSIG_FEW_ROWS_MIN
#undef FASTSIG_MULADD_float
#undef FASTSIG_MULADD_double
#undef FASTSIG_FEW_ROWS_INLINE

#endif /* FASTSIG_FEW_ROWS_H */
