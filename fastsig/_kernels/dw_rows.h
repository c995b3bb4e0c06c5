/* fastsig: dw = xᵀ @ dy of a layer of one to four outputs, in vectors along x's rows.
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_dw_rows_F32(rows, k, x, ldx, dy, m, dw, depth, fetch)
 *     dw[p*m + j] += sum over i < rows of x[i*ldx + p] * dy[i*m + j], p < k, j < m,
 *     1 <= m <= FASTSIG_DW_ROWS_MAX_COLUMNS; fetch nonzero: each step also fetches into
 *     L2 the line it reads one depth block later (below)
 *   FASTSIG_DW_ROWS   1 where the variant has the kernel (AVX2 and FMA), else 0 (and the
 *     function expands to nothing: plan.pxi then leaves dw to the matmul)
 *   FASTSIG_DW_ROWS_MAX_COLUMNS   4
 * Uses: AVX2 and FMA intrinsics (the avx2 and avx512 variants: the same code in both),
 *   column_dots.h (its masks of a vector's first lanes).
 *
 * The matmul's order, which the narrow tiles give dw (its rows p are C's rows, its depth
 * x's rows i), so the same bits as the matmul on the packed dy:
 * 1. The rows go in depth blocks of `depth` rows (the matmul's KC), in order.
 * 2. In a block, each element's sum starts at +0 and takes x[i, p] * dy[i, j] for i in
 *    increasing order, one fused multiply-add a step.
 * 3. The block's sum is added to dw: dw = dw + sum (dw zeroed before the first block).
 * The matmul reads xᵀ through strides and fills m of a vector's lanes with dy's row; here
 * a vector holds 8 (float32) or 4 (float64) consecutive p of x's row, a step a row, each
 * column of dy a broadcast: every lane is work. A block's sums are in registers for 16
 * (float32) or 8 (float64) columns of x at a time (two vectors a column of dy), then
 * added into dw's rows through a small buffer (dw is k×m: its rows interleave the
 * columns).
 * A strip reads one line of each of the block's rows, rows ldx apart: for an x from
 * memory the first strip of a block waits on the memory for every row (a stride the
 * hardware prefetchers follow at a fraction of the memory's speed). With fetch, each
 * step fetches the same place `depth` rows on, so that the strips fetch the next block
 * into L2, a line a step, while they work on this one: the caller's choice, where x
 * comes from memory and two blocks fit in L2 (plan.pxi, _dw_rows_fetch). */
#ifndef FASTSIG_DW_ROWS_H
#define FASTSIG_DW_ROWS_H

#include <stddef.h>

#include "column_dots.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define FASTSIG_DW_ROWS 1
#define FASTSIG_DW_ROWS_MAX_COLUMNS 4

#define FASTSIG_DW_ROWS_INLINE static inline __attribute__((always_inline))

/* One strip of 2 W columns of x (p0 .. p0 + width - 1, width <= 2 W; `full`: width = 2 W,
 * a constant where inlined) over rows [0, rows) of one depth block, M columns of dy: the
 * block's sums added into dw. VEC is the vector type, W its lanes, MASK(r) the mask of
 * the first r lanes, BCAST a broadcast from memory. */
#define FASTSIG_DW_ROWS_KERNEL(T, SUFFIX, VEC, W, ZERO, LOAD, MASKLOAD, FMA, BCAST, STORE,  \
                               MASK)                                                       \
FASTSIG_DW_ROWS_INLINE void fastsig_dw_rows_strip_##SUFFIX(                                 \
        ptrdiff_t rows, ptrdiff_t width, const T* x, ptrdiff_t ldx, const T* dy, T* dw,    \
        ptrdiff_t ahead, const int M, const int full) {                                    \
    VEC a[FASTSIG_DW_ROWS_MAX_COLUMNS], b[FASTSIG_DW_ROWS_MAX_COLUMNS];                    \
    T sums[FASTSIG_DW_ROWS_MAX_COLUMNS][2 * W];                                            \
    const __m256i m0 = MASK(width), m1 = MASK(width - W);                                  \
    ptrdiff_t i, l;                                                                        \
    int j;                                                                                 \
    for (j = 0; j < M; j++)                                                                \
        a[j] = b[j] = ZERO();                                                              \
    for (i = 0; i < rows; i++) {                                                           \
        const T* row = x + i * ldx;                                                        \
        if (ahead != 0) /* (a fetch past x's end is a hint, never a read) */               \
            _mm_prefetch((const char*)(row + ahead), _MM_HINT_T1);                         \
        const VEC x0 = full ? LOAD(row) : MASKLOAD(row, m0);                               \
        const VEC x1 = full ? LOAD(row + W) : MASKLOAD(row + W, m1);                       \
        for (j = 0; j < M; j++) {                                                          \
            const VEC d = BCAST(dy + i * M + j);                                           \
            a[j] = FMA(x0, d, a[j]);                                                       \
            b[j] = FMA(x1, d, b[j]);                                                       \
        }                                                                                  \
    }                                                                                      \
    for (j = 0; j < M; j++) {                                                              \
        STORE(sums[j], a[j]);                                                              \
        STORE(sums[j] + W, b[j]);                                                          \
    }                                                                                      \
    for (l = 0; l < width; l++)                                                            \
        for (j = 0; j < M; j++)                                                            \
            dw[l * M + j] = dw[l * M + j] + sums[j][l];                                    \
}                                                                                          \
                                                                                           \
FASTSIG_DW_ROWS_INLINE void fastsig_dw_rows_m_##SUFFIX(                                     \
        ptrdiff_t rows, ptrdiff_t k, const T* x, ptrdiff_t ldx, const T* dy, T* dw,        \
        ptrdiff_t depth, int fetch, const int M) {                                         \
    const ptrdiff_t ahead = fetch ? depth * ldx : 0;                                       \
    ptrdiff_t i0, p;                                                                       \
    for (i0 = 0; i0 < rows; i0 += depth) {                                                 \
        const ptrdiff_t block = rows - i0 < depth ? rows - i0 : depth;                     \
        const T* xb = x + i0 * ldx;                                                        \
        const T* dyb = dy + i0 * M;                                                        \
        for (p = 0; p + 2 * W <= k; p += 2 * W)                                            \
            fastsig_dw_rows_strip_##SUFFIX(block, 2 * W, xb + p, ldx, dyb, dw + p * M,     \
                                           ahead, M, 1);                                   \
        if (p < k)                                                                         \
            fastsig_dw_rows_strip_##SUFFIX(block, k - p, xb + p, ldx, dyb, dw + p * M,     \
                                           ahead, M, 0);                                   \
    }                                                                                      \
}                                                                                          \
                                                                                           \
static void fastsig_dw_rows_##SUFFIX(ptrdiff_t rows, ptrdiff_t k, const T* x,             \
                                     ptrdiff_t ldx, const T* dy, ptrdiff_t m, T* dw,       \
                                     ptrdiff_t depth, int fetch) {                         \
    switch (m) {                                                                           \
    case 1: fastsig_dw_rows_m_##SUFFIX(rows, k, x, ldx, dy, dw, depth, fetch, 1); break;   \
    case 2: fastsig_dw_rows_m_##SUFFIX(rows, k, x, ldx, dy, dw, depth, fetch, 2); break;   \
    case 3: fastsig_dw_rows_m_##SUFFIX(rows, k, x, ldx, dy, dw, depth, fetch, 3); break;   \
    case 4: fastsig_dw_rows_m_##SUFFIX(rows, k, x, ldx, dy, dw, depth, fetch, 4); break;   \
    default: break;                                                                        \
    }                                                                                      \
}

FASTSIG_DW_ROWS_KERNEL(float, F32, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps,
                       _mm256_maskload_ps, _mm256_fmadd_ps, _mm256_broadcast_ss,
                       _mm256_storeu_ps, fastsig_column_dots_mask_F32)
FASTSIG_DW_ROWS_KERNEL(double, F64, __m256d, 4, _mm256_setzero_pd, _mm256_loadu_pd,
                       _mm256_maskload_pd, _mm256_fmadd_pd, _mm256_broadcast_sd,
                       _mm256_storeu_pd, fastsig_column_dots_mask_F64)
#undef FASTSIG_DW_ROWS_KERNEL
#undef FASTSIG_DW_ROWS_INLINE

#else
#define FASTSIG_DW_ROWS 0
#define FASTSIG_DW_ROWS_MAX_COLUMNS 0
#define fastsig_dw_rows_F32(rows, k, x, ldx, dy, m, dw, depth, fetch) ((void)0)
#define fastsig_dw_rows_F64(rows, k, x, ldx, dy, m, dw, depth, fetch) ((void)0)
#endif

#endif /* FASTSIG_DW_ROWS_H */
