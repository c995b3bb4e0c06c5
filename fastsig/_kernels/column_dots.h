/* fastsig: a C of one to four columns, a dot product a row and column (a logistic
 * regression's layer, a few logits).
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_column_dots_F32(rows, k, m, x, wt, bias, y, one_row)
 *     y[i*m + j] = sum_p x[i*k + p] * wt[j*k + p] (+ bias[j] where bias is not NULL: the
 *     sum rounded, then the bias added), i < rows, j < m, 1 <= m <=
 *     FASTSIG_COLUMN_DOTS_MAX_COLUMNS (wt: w's columns, each contiguous; for one column,
 *     w itself); one_row nonzero: one row a step (for an x that comes from memory, not
 *     from a cache: below)
 *   FASTSIG_COLUMN_DOTS   1 where the variant has the kernel, else 0 (and the functions
 *     expand to nothing: gemm.pxi then takes few_rows.h's transposed kernel for one
 *     column, the tiles' order, and the tiles for more)
 *   FASTSIG_COLUMN_DOTS_MAX_COLUMNS   4: R rows at once share each step's vectors of w,
 *     with R * m <= FASTSIG_COLUMN_DOTS_PAIRS pairs (8 with AVX-512VL, else 4), 2 R m
 *     sums in flight. With one_row, R = 1: x read as one sequential stream, the pattern
 *     the hardware prefetchers follow at the memory's speed; R rows a step are R streams
 *     k elements apart, which they follow at a fraction of it, and which pay only
 *     while x is in a cache (docs/performance.md, "An x from memory: one row a step").
 * Uses: AVX2 and FMA intrinsics, where the variant has them (the avx2 and avx512
 *   variants: the same code but for how many rows share a step, so the same bits, in
 *   both), isa.h (FASTSIG_MIN). The baseline variant keeps the
 *   tiles' order (docs/performance.md, "One column: vectors along each row", says why).
 *
 * The order of the sum of row i and column j, LANES = 16 (float32) or 8 (float64):
 * 1. Partial sum l (l < LANES) starts at +0 and takes x[p] * w[p] for p = l, l + LANES,
 *    l + 2 LANES, ... < k, in increasing p, one fused multiply-add a step. Where LANES
 *    does not divide k, the last step is a whole one, with zeros for x[p] and w[p] past
 *    k (masked loads): 0 * 0 added to each sum past k.
 * 2. The partial sums are added in a fixed tree: s[l] += s[l + h] for l < h, for
 *    h = LANES/2, ..., 2, 1.
 * 3. y[i, j] = s[0].
 * So an element's bits depend only on its row of x, its column of w and the variant: not
 * on the batch, the thread count, which rows share a call, or the other columns (a column
 * of a C of m columns has the bits of that column alone). Each row streams through memory
 * once, along k: the tiles' order (one chain along p per output) would need x's columns
 * as vectors, 32 rows read at once and transposed, which the memory serves far slower
 * than one stream a row (docs/performance.md, "One column: vectors along each row"), and
 * fills m of each vector's lanes.
 * Accuracy: each sum is of at most ceil(k / LANES) + log2(LANES) roundings (and one more
 * for the bias), within the products' bound 2 k u (|x| . |w|). */
#ifndef FASTSIG_COLUMN_DOTS_H
#define FASTSIG_COLUMN_DOTS_H

#include <stddef.h>

#include "isa.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define FASTSIG_COLUMN_DOTS 1
#define FASTSIG_COLUMN_DOTS_MAX_COLUMNS 4

#define FASTSIG_COLUMN_DOTS_INLINE static inline __attribute__((always_inline))
/* A vector loaded once and used for several columns stays in its register: without this
   gcc loads it again for each use (twice the loads of two columns, which bound them). */
#define FASTSIG_COLUMN_DOTS_KEEP(v) __asm__("" : "+v"(v))
/* The (row, column) pairs a step computes at most: with 32 vector registers (AVX-512VL) 8
   pairs' 16 sums beside their rows' and columns' vectors, with 16 (AVX2) 4. Which rows
   share a step changes no sum. */
#if defined(__AVX512VL__)
#define FASTSIG_COLUMN_DOTS_PAIRS 8
#else
#define FASTSIG_COLUMN_DOTS_PAIRS 4
#endif

/* Step 2 for float32: lanes 0-7 in a, 8-15 in b. */
FASTSIG_COLUMN_DOTS_INLINE float fastsig_column_dots_tree_F32(__m256 a, __m256 b) {
    const __m256 t = _mm256_add_ps(a, b);                                   /* h = 8 */
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t),
                                _mm256_extractf128_ps(t, 1));                /* h = 4 */
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));                     /* h = 2 */
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));                /* h = 1 */
}

/* Step 2 for float64: lanes 0-3 in a, 4-7 in b. */
FASTSIG_COLUMN_DOTS_INLINE double fastsig_column_dots_tree_F64(__m256d a, __m256d b) {
    const __m256d t = _mm256_add_pd(a, b);                                  /* h = 4 */
    const __m128d u = _mm_add_pd(_mm256_castpd256_pd128(t),
                                 _mm256_extractf128_pd(t, 1));               /* h = 2 */
    return _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)));             /* h = 1 */
}

/* Step 2 for four pairs at once (a[q], b[q]: pair q's lanes), into y[0..3], each plus
   add[q]: the same additions of the same lanes as fastsig_column_dots_tree_F32, four pairs
   to a vector, then the one addition of add. */
FASTSIG_COLUMN_DOTS_INLINE void fastsig_column_dots_tree4_F32(const __m256* a, const __m256* b,
                                                              __m128 add, float* y) {
    const __m256 t0 = _mm256_add_ps(a[0], b[0]), t1 = _mm256_add_ps(a[1], b[1]); /* h = 8 */
    const __m256 t2 = _mm256_add_ps(a[2], b[2]), t3 = _mm256_add_ps(a[3], b[3]);
    const __m256 u02 = _mm256_add_ps(_mm256_permute2f128_ps(t0, t2, 0x20),      /* h = 4 */
                                     _mm256_permute2f128_ps(t0, t2, 0x31));     /* u0 | u2 */
    const __m256 u13 = _mm256_add_ps(_mm256_permute2f128_ps(t1, t3, 0x20),
                                     _mm256_permute2f128_ps(t1, t3, 0x31));     /* u1 | u3 */
    const __m256 v = _mm256_add_ps(_mm256_shuffle_ps(u02, u13, 0x44),           /* h = 2 */
                                   _mm256_shuffle_ps(u02, u13, 0xEE));
    const __m256 o = _mm256_add_ps(_mm256_shuffle_ps(v, v, 0x88),               /* h = 1 */
                                   _mm256_shuffle_ps(v, v, 0xDD));  /* o0 o1 o0 o1 | o2 o3 .. */
    _mm_storeu_ps(y, _mm_add_ps(_mm_shuffle_ps(_mm256_castps256_ps128(o),
                                               _mm256_extractf128_ps(o, 1), 0x44),
                                add));
}

FASTSIG_COLUMN_DOTS_INLINE void fastsig_column_dots_tree4_F64(const __m256d* a,
                                                              const __m256d* b,
                                                              __m256d add, double* y) {
    const __m256d t0 = _mm256_add_pd(a[0], b[0]), t1 = _mm256_add_pd(a[1], b[1]); /* h = 4 */
    const __m256d t2 = _mm256_add_pd(a[2], b[2]), t3 = _mm256_add_pd(a[3], b[3]);
    const __m256d u01 = _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20),     /* h = 2 */
                                      _mm256_permute2f128_pd(t0, t1, 0x31));    /* u0 | u1 */
    const __m256d u23 = _mm256_add_pd(_mm256_permute2f128_pd(t2, t3, 0x20),
                                      _mm256_permute2f128_pd(t2, t3, 0x31));    /* u2 | u3 */
    const __m256d o = _mm256_add_pd(_mm256_unpacklo_pd(u01, u23),               /* h = 1 */
                                    _mm256_unpackhi_pd(u01, u23));  /* o0 o2 | o1 o3 */
    _mm256_storeu_pd(y, _mm256_add_pd(_mm256_permute4x64_pd(o, 0xD8), add));
}

/* Rows 0..R-1 of x against columns 0..M-1 of w (R <= 4, R * M <= PAIRS; R and M
 * constants where inlined): pair q = r * M + j (row r, column j) holds its partial sums in
 * a[q] (lanes 0..W-1) and b[q] (lanes W..2W-1). Each step loads the 2R vectors of x once
 * for the M columns and the 2M vectors of w once for the R rows, so 2RM chains are in
 * flight. The pairs are contiguous in y (row i's columns at y[i * M]), so each four pairs
 * reduce into four consecutive values. VEC is the vector type, W its lanes (LANES = 2 W),
 * MASK(r) the mask of the first r lanes, SETR4 a vector of four T (the first lowest). */
#define FASTSIG_COLUMN_DOTS_ROWS(T, SUFFIX, VEC, W, ZERO, LOAD, MASKLOAD, FMA, MASK,       \
                                 SETR4)                                                    \
FASTSIG_COLUMN_DOTS_INLINE void fastsig_column_dots_rows_##SUFFIX(                         \
        const T* x, ptrdiff_t k, const T* wt, const T* bias, T* y, const int R,            \
        const int M) {                                                                     \
    VEC a[FASTSIG_COLUMN_DOTS_PAIRS], b[FASTSIG_COLUMN_DOTS_PAIRS], x0[4], x1[4];          \
    T add[FASTSIG_COLUMN_DOTS_PAIRS];                                                      \
    ptrdiff_t p;                                                                           \
    int r, j;                                                                              \
    for (r = 0; r < R * M; r++)                                                            \
        a[r] = b[r] = ZERO();                                                              \
    for (p = 0; p + 2 * W <= k; p += 2 * W) {                                              \
        for (r = 0; r < R; r++) {                                                          \
            x0[r] = LOAD(x + r * k + p);                                                   \
            x1[r] = LOAD(x + r * k + p + W);                                               \
            if (M > 1) {                                                                   \
                FASTSIG_COLUMN_DOTS_KEEP(x0[r]);                                           \
                FASTSIG_COLUMN_DOTS_KEEP(x1[r]);                                           \
            }                                                                              \
        }                                                                                  \
        for (j = 0; j < M; j++) {                                                          \
            VEC w0 = LOAD(wt + j * k + p), w1 = LOAD(wt + j * k + p + W);                  \
            if (R > 1) {                                                                   \
                FASTSIG_COLUMN_DOTS_KEEP(w0);                                              \
                FASTSIG_COLUMN_DOTS_KEEP(w1);                                              \
            }                                                                              \
            for (r = 0; r < R; r++) {                                                      \
                a[r * M + j] = FMA(x0[r], w0, a[r * M + j]);                               \
                b[r * M + j] = FMA(x1[r], w1, b[r * M + j]);                               \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    if (p < k) {                                                                           \
        /* The last step: zeros past k (a second vector's address only where it starts    \
           before k; past k it is all zeros). */                                           \
        const int second = k - p > W;                                                      \
        const __m256i m0 = MASK(k - p), m1 = MASK(k - p - W);                              \
        for (r = 0; r < R; r++) {                                                          \
            x0[r] = MASKLOAD(x + r * k + p, m0);                                           \
            x1[r] = second ? MASKLOAD(x + r * k + p + W, m1) : ZERO();                     \
        }                                                                                  \
        for (j = 0; j < M; j++) {                                                          \
            const VEC w0 = MASKLOAD(wt + j * k + p, m0);                                   \
            const VEC w1 = second ? MASKLOAD(wt + j * k + p + W, m1) : ZERO();             \
            for (r = 0; r < R; r++) {                                                      \
                a[r * M + j] = FMA(x0[r], w0, a[r * M + j]);                               \
                b[r * M + j] = FMA(x1[r], w1, b[r * M + j]);                               \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    /* Pair q's bias, or -0 (x + -0 = x for every x, -0 included, rounding to nearest      \
       without DAZ, as fastsig runs); four of them made into a vector from the scalars     \
       (a vector load of just-stored scalars would wait on the stores). */                 \
    for (r = 0; r < R * M; r++)                                                            \
        add[r] = bias != NULL ? bias[r % M] : (T)-0.0;                                     \
    for (r = 0; r + 4 <= R * M; r += 4)                                                    \
        fastsig_column_dots_tree4_##SUFFIX(                                                \
            a + r, b + r, SETR4(add[r], add[r + 1], add[r + 2], add[r + 3]), y + r);       \
    for (; r < R * M; r++)                                                                 \
        y[r] = fastsig_column_dots_tree_##SUFFIX(a[r], b[r]) + add[r];                     \
}                                                                                          \
                                                                                           \
/* Rows of M columns, R at a time (four of one column, else two where PAIRS pairs hold     \
   them; with one_row none), then one at a time. */                                        \
FASTSIG_COLUMN_DOTS_INLINE void fastsig_column_dots_m_##SUFFIX(                            \
        ptrdiff_t rows, ptrdiff_t k, const T* x, const T* wt, const T* bias, T* y,         \
        int one_row, const int M) {                                                        \
    const int R = FASTSIG_MIN(M == 1 ? 4 : 2, FASTSIG_COLUMN_DOTS_PAIRS / M);              \
    ptrdiff_t i = 0;                                                                       \
    if (R > 1 && !one_row)                                                                 \
        for (; i + R <= rows; i += R)                                                      \
            fastsig_column_dots_rows_##SUFFIX(x + i * k, k, wt, bias, y + i * M, R, M);    \
    for (; i < rows; i++)                                                                  \
        fastsig_column_dots_rows_##SUFFIX(x + i * k, k, wt, bias, y + i * M, 1, M);        \
}                                                                                          \
                                                                                           \
static void fastsig_column_dots_##SUFFIX(ptrdiff_t rows, ptrdiff_t k, ptrdiff_t m,        \
                                         const T* x, const T* wt, const T* bias, T* y,    \
                                         int one_row) {                                   \
    switch (m) {                                                                           \
    case 1: fastsig_column_dots_m_##SUFFIX(rows, k, x, wt, bias, y, one_row, 1); break;    \
    case 2: fastsig_column_dots_m_##SUFFIX(rows, k, x, wt, bias, y, one_row, 2); break;    \
    case 3: fastsig_column_dots_m_##SUFFIX(rows, k, x, wt, bias, y, one_row, 3); break;    \
    case 4: fastsig_column_dots_m_##SUFFIX(rows, k, x, wt, bias, y, one_row, 4); break;    \
    default: break;                                                                        \
    }                                                                                      \
}

/* The first `count` lanes (count may be <= 0 or past the vector's end). */
FASTSIG_COLUMN_DOTS_INLINE __m256i fastsig_column_dots_mask_F32(ptrdiff_t count) {
    const ptrdiff_t c = count < 0 ? 0 : count > 8 ? 8 : count;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)c),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

FASTSIG_COLUMN_DOTS_INLINE __m256i fastsig_column_dots_mask_F64(ptrdiff_t count) {
    const ptrdiff_t c = count < 0 ? 0 : count > 4 ? 4 : count;
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(c), _mm256_setr_epi64x(0, 1, 2, 3));
}

FASTSIG_COLUMN_DOTS_ROWS(float, F32, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps,
                         _mm256_maskload_ps, _mm256_fmadd_ps, fastsig_column_dots_mask_F32,
                         _mm_setr_ps)
FASTSIG_COLUMN_DOTS_ROWS(double, F64, __m256d, 4, _mm256_setzero_pd, _mm256_loadu_pd,
                         _mm256_maskload_pd, _mm256_fmadd_pd, fastsig_column_dots_mask_F64,
                         _mm256_setr_pd)
#undef FASTSIG_COLUMN_DOTS_ROWS
#undef FASTSIG_COLUMN_DOTS_INLINE

#else
#define FASTSIG_COLUMN_DOTS 0
#define FASTSIG_COLUMN_DOTS_MAX_COLUMNS 0
#define fastsig_column_dots_F32(rows, k, m, x, wt, bias, y, one_row) ((void)0)
#define fastsig_column_dots_F64(rows, k, m, x, wt, bias, y, one_row) ((void)0)
#endif

#endif /* FASTSIG_COLUMN_DOTS_H */
