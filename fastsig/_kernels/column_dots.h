/* fastsig: one column of C, a dot product a row (a logistic regression's layer).
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_column_dots_F32(rows, k, x, w, y)   y[i] = sum_p x[i*k + p] * w[p], i < rows
 *   FASTSIG_COLUMN_DOTS   1 where the variant has the kernel, else 0 (and the functions
 *     expand to nothing: gemm.pxi then takes few_rows.h's transposed kernel, the tiles'
 *     order)
 * Uses: AVX2 and FMA intrinsics, where the variant has them (the avx2 and avx512
 *   variants: the same code, so the same bits, in both). The baseline variant keeps the
 *   tiles' order (docs/performance.md, "One column: vectors along each row", says why).
 *
 * The order of a row's sum, LANES = 16 (float32) or 8 (float64):
 * 1. Partial sum l (l < LANES) starts at +0 and takes x[p] * w[p] for p = l, l + LANES,
 *    l + 2 LANES, ... < k, in increasing p, one fused multiply-add a step. Where LANES
 *    does not divide k, the last step is a whole one, with zeros for x[p] and w[p] past
 *    k (masked loads): 0 * 0 added to each sum past k.
 * 2. The partial sums are added in a fixed tree: s[l] += s[l + h] for l < h, for
 *    h = LANES/2, ..., 2, 1.
 * 3. y[i] = s[0].
 * So a row's bits depend only on that row, w and the variant: not on the batch, the thread
 * count, or which rows share a call. Each row streams through memory once, along k: the
 * tiles' order (one chain along p per output) would need x's columns as vectors, 32 rows
 * read at once and transposed, which the memory serves far slower than one stream a row
 * (docs/performance.md, "One column: vectors along each row").
 * Accuracy: each sum is of at most ceil(k / LANES) + log2(LANES) roundings, within the
 * products' bound 2 k u (|x| . |w|). */
#ifndef FASTSIG_COLUMN_DOTS_H
#define FASTSIG_COLUMN_DOTS_H

#include <stddef.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define FASTSIG_COLUMN_DOTS 1

#define FASTSIG_COLUMN_DOTS_INLINE static inline __attribute__((always_inline))

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

/* Step 2 for four rows at once (a[r], b[r]: row r's lanes), into y[0..3]: the same
   additions of the same lanes as fastsig_column_dots_tree_F32, four rows to a vector. */
FASTSIG_COLUMN_DOTS_INLINE void fastsig_column_dots_tree4_F32(const __m256* a, const __m256* b,
                                                              float* y) {
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
    _mm_storeu_ps(y, _mm_shuffle_ps(_mm256_castps256_ps128(o), _mm256_extractf128_ps(o, 1),
                                    0x44));
}

FASTSIG_COLUMN_DOTS_INLINE void fastsig_column_dots_tree4_F64(const __m256d* a,
                                                              const __m256d* b, double* y) {
    const __m256d t0 = _mm256_add_pd(a[0], b[0]), t1 = _mm256_add_pd(a[1], b[1]); /* h = 4 */
    const __m256d t2 = _mm256_add_pd(a[2], b[2]), t3 = _mm256_add_pd(a[3], b[3]);
    const __m256d u01 = _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20),     /* h = 2 */
                                      _mm256_permute2f128_pd(t0, t1, 0x31));    /* u0 | u1 */
    const __m256d u23 = _mm256_add_pd(_mm256_permute2f128_pd(t2, t3, 0x20),
                                      _mm256_permute2f128_pd(t2, t3, 0x31));    /* u2 | u3 */
    const __m256d o = _mm256_add_pd(_mm256_unpacklo_pd(u01, u23),               /* h = 1 */
                                    _mm256_unpackhi_pd(u01, u23));  /* o0 o2 | o1 o3 */
    _mm256_storeu_pd(y, _mm256_permute4x64_pd(o, 0xD8));
}

/* Rows 0..R-1 of x (R <= 4, a constant where inlined): their partial sums side by side,
 * so that each step's two vectors of w serve R rows and 2R chains are in flight. VEC is
 * the vector type, W its lanes (LANES = 2 W), MASK(r) the mask of the first r lanes. */
#define FASTSIG_COLUMN_DOTS_ROWS(T, SUFFIX, VEC, W, ZERO, LOAD, MASKLOAD, FMA, MASK)      \
FASTSIG_COLUMN_DOTS_INLINE void fastsig_column_dots_rows_##SUFFIX(                         \
        const T* x, ptrdiff_t k, const T* w, T* y, const int R) {                          \
    VEC a[4], b[4];                                                                        \
    ptrdiff_t p;                                                                           \
    int r;                                                                                 \
    for (r = 0; r < R; r++)                                                                \
        a[r] = b[r] = ZERO();                                                              \
    for (p = 0; p + 2 * W <= k; p += 2 * W) {                                              \
        const VEC w0 = LOAD(w + p), w1 = LOAD(w + p + W);                                  \
        for (r = 0; r < R; r++) {                                                          \
            a[r] = FMA(LOAD(x + r * k + p), w0, a[r]);                                     \
            b[r] = FMA(LOAD(x + r * k + p + W), w1, b[r]);                                 \
        }                                                                                  \
    }                                                                                      \
    if (p < k) {                                                                           \
        /* The last step: zeros past k (a second vector's address only where it starts    \
           before k; past k it is all zeros). */                                           \
        const int second = k - p > W;                                                      \
        const __m256i m0 = MASK(k - p), m1 = MASK(k - p - W);                              \
        const VEC w0 = MASKLOAD(w + p, m0);                                                \
        const VEC w1 = second ? MASKLOAD(w + p + W, m1) : ZERO();                          \
        for (r = 0; r < R; r++) {                                                          \
            a[r] = FMA(MASKLOAD(x + r * k + p, m0), w0, a[r]);                             \
            b[r] = FMA(second ? MASKLOAD(x + r * k + p + W, m1) : ZERO(), w1, b[r]);       \
        }                                                                                  \
    }                                                                                      \
    if (R == 4)                                                                            \
        fastsig_column_dots_tree4_##SUFFIX(a, b, y);                                       \
    else                                                                                   \
        for (r = 0; r < R; r++)                                                            \
            y[r] = fastsig_column_dots_tree_##SUFFIX(a[r], b[r]);                          \
}                                                                                          \
                                                                                           \
static void fastsig_column_dots_##SUFFIX(ptrdiff_t rows, ptrdiff_t k, const T* x,         \
                                         const T* w, T* y) {                              \
    ptrdiff_t i = 0;                                                                       \
    for (; i + 4 <= rows; i += 4)                                                          \
        fastsig_column_dots_rows_##SUFFIX(x + i * k, k, w, y + i, 4);                     \
    for (; i < rows; i++)                                                                  \
        fastsig_column_dots_rows_##SUFFIX(x + i * k, k, w, y + i, 1);                     \
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
                         _mm256_maskload_ps, _mm256_fmadd_ps, fastsig_column_dots_mask_F32)
FASTSIG_COLUMN_DOTS_ROWS(double, F64, __m256d, 4, _mm256_setzero_pd, _mm256_loadu_pd,
                         _mm256_maskload_pd, _mm256_fmadd_pd, fastsig_column_dots_mask_F64)
#undef FASTSIG_COLUMN_DOTS_ROWS
#undef FASTSIG_COLUMN_DOTS_INLINE

#else
#define FASTSIG_COLUMN_DOTS 0
#define fastsig_column_dots_F32(rows, k, x, w, y) ((void)0)
#define fastsig_column_dots_F64(rows, k, x, w, y) ((void)0)
#endif

#endif /* FASTSIG_COLUMN_DOTS_H */
