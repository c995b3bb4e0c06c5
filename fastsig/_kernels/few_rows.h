/* fastsig: the product of a few rows, reading both operands where they lie.
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_few_rows_F32(rows, kc, a, lda, b, ldb, acc, c, ldc, cols, accumulate, bias,
 *                        fetch)
 *   fastsig_few_rows_transposed_F32(rows, m, k, depth, dy, w, dx, ldx)   (dx = dy @ wT:
 *     below)
 *   fastsig_few_rows_outer_F32(rows, k, x, ldx, dy, m, dw)   (dw = xT @ dy: below)
 * Uses: plain C loops (every compiler and build, FASTSIG_PORTABLE included), which the
 *   compiler vectorizes along the columns (lane by lane, so the bits are those of scalar
 *   code); __builtin_fma where the variant has FMA; AVX2 intrinsics for the transposed
 *   kernel's float32 dot products where the variant has AVX2 and FMA (the avx2 and
 *   avx512 variants); isa.h and vector_template.h (GCC vector types) for the runs of
 *   step 2 where the variant has the vector tile; register_tile_template.h for the
 *   eight-row tile (below) where vectors are 64 bytes.
 *
 * C[rows, cols] (= or, with `accumulate`, +=) A[rows, kc] @ B[kc, cols] (+ bias[:cols]),
 * rows <= FASTSIG_FEW_ROWS_ONE_PASS, for products too short to pay for packing B (one
 * row: a matrix-vector product):
 * 1. A's row i at a + i*lda and B's row p at b + p*ldb are read where they lie, B a row
 *    at a time: a contiguous stream, which the hardware prefetches (the register tile
 *    would read NR columns of each row of B, a stride through memory).
 * 2. The sums are kept in `acc` (rows x cols, in L1), started at 0; each row p of B adds
 *    A[i, p] * B[p, j] to every row's sum, one multiply-add per element (fused where the
 *    variant has FMA: FASTSIG_MULADD), in increasing p: the order, and so the bits, of
 *    the register tile. Several rows of B go in one pass over the sums, their
 *    multiply-adds in order between a load and a store: eight for one row of A (a
 *    matrix-vector product), four for more (then two, then one for the depth left).
 *    The sums' loads and stores, not B's stream, bounded the kernel at two rows a pass.
 *    For 1-3 rows of A the pass of four rows of B goes in explicit vectors (where isa.h
 *    has FASTSIG_VECTOR_TILE), each loaded once: for fewer than four rows gcc's vectorized
 *    loop loads B again for each row's multiply-add. Four rows keep the loop, whose B gcc
 *    keeps in registers.
 *    For 2-4 rows of a B narrower than FASTSIG_FEW_ROWS_NARROW columns, the first
 *    columns go in runs of two vectors instead (where isa.h has FASTSIG_VECTOR_TILE):
 *    each run's sums stay in registers over all of kc, the same multiply-adds in the
 *    same order; the loop over a short row of B at every p paid its set-up more than
 *    its work. One row takes a run only where it is all of B's columns:
 *    its two sums wait on the multiply-add's latency, and a run and the loop after it go
 *    one after the other, where the loop alone keeps every column's sum in flight.
 * 3. Then C = sum, or C + sum with `accumulate`, then + bias: again the register tile's
 *    order.
 * Where vectors are 64 bytes (32 registers: FASTSIG_FEW_ROWS_ONE_PASS 8), 5-8 rows go
 * through the eight-row tile instead of passes of four rows (step 2b): the register tile's
 * template at 8 rows and 3 vectors, A and B read where they lie (B's last, partial vector
 * by a masked load, nothing past its row read), each vector of B loaded once for all the
 * rows, the sums in registers over all of kc, started at 0, in increasing p, then step 3's
 * order: the same bits. Passes of four rows read B twice, from L2 for a w of a few hundred
 * square. The tile reads a few lines of each row of B, rows a stride apart, which the
 * hardware does not fetch ahead: where B streams from beyond L2 the caller passes
 * `fetch` (plan.pxi: few_rows_fetch), and each strip of columns fetches the next strip's
 * rows into L2 as it runs, a row a step (register_tile_template.h). */
#ifndef FASTSIG_FEW_ROWS_H
#define FASTSIG_FEW_ROWS_H

#include <stddef.h>
#include <string.h>

#include "isa.h"

#define FASTSIG_FEW_ROWS_MAX 4

/* Rows of A the kernel takes in one pass over B: FASTSIG_FEW_ROWS_ONE_PASS (the caller
   passes at most that many). Where vectors are 64 bytes, 5-8 rows go through the
   eight-row tile (step 2b): 8 rows x 3 vectors, 24 sums and a row of B in the 32 vector
   registers; else passes of FASTSIG_FEW_ROWS_MAX rows. */
#if FASTSIG_VECTOR_TILE && FASTSIG_VECTOR_BYTES == 64
#define FASTSIG_FEW_ROWS_ONE_PASS 8
#define FASTSIG_EIGHT_ROWS_NV 3
/* The columns of a strip of the eight-row tile, in bytes (the caller's column blocks are
   whole strips). */
#define FASTSIG_EIGHT_ROWS_STRIP_BYTES (FASTSIG_EIGHT_ROWS_NV * FASTSIG_VECTOR_BYTES)
#define RT_T float
#define RT_NAME fastsig_eight_rows_F32
#define RT_MR 8
#define RT_NV FASTSIG_EIGHT_ROWS_NV
#define RT_BYTES FASTSIG_VECTOR_BYTES
#include "register_tile_template.h"
#define RT_T double
#define RT_NAME fastsig_eight_rows_F64
#define RT_MR 8
#define RT_NV FASTSIG_EIGHT_ROWS_NV
#define RT_BYTES FASTSIG_VECTOR_BYTES
#include "register_tile_template.h"
#else
#define FASTSIG_FEW_ROWS_ONE_PASS FASTSIG_FEW_ROWS_MAX
#define FASTSIG_EIGHT_ROWS_STRIP_BYTES 64
#endif

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

/* Runs of columns whose sums stay in registers (two vectors a row): B narrower than
   FASTSIG_FEW_ROWS_NARROW columns goes in such runs, its rows too short for the loop
   over a row's columns to pay for its set-up at every step of depth. Where isa.h has
   no vector tile (no GCC vector extensions, or FASTSIG_PORTABLE), no runs. */
#define FASTSIG_FEW_ROWS_NARROW 256
#if FASTSIG_VECTOR_TILE
#define VEC_T float
#define VEC_NAME fastsig_few_rows_F32
#define VEC_BYTES FASTSIG_VECTOR_BYTES
#include "vector_template.h"
#define VEC_T double
#define VEC_NAME fastsig_few_rows_F64
#define VEC_BYTES FASTSIG_VECTOR_BYTES
#include "vector_template.h"
#define FASTSIG_FEW_ROWS_RUNS(T, SUFFIX)                                                   \
/* C's sums of columns [0, 2 * LANES) of `rows` rows into acc (rows `cols` apart). */     \
FASTSIG_FEW_ROWS_INLINE void fastsig_few_rows_##SUFFIX##_run(                            \
        ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* __restrict b, ptrdiff_t ldb,    \
        T* __restrict acc, ptrdiff_t cols, const int rows) {                               \
    typedef fastsig_few_rows_##SUFFIX##_vector V;                                          \
    enum { LANES = FASTSIG_VECTOR_BYTES / sizeof(T) };                                     \
    V s00 = {0}, s01 = {0}, s10 = {0}, s11 = {0}, s20 = {0}, s21 = {0}, s30 = {0},       \
      s31 = {0};                                                                           \
    ptrdiff_t p;                                                                           \
    for (p = 0; p < kc; p++) {                                                             \
        const V b0 = fastsig_few_rows_##SUFFIX##_load(b + p * ldb);                        \
        const V b1 = fastsig_few_rows_##SUFFIX##_load(b + p * ldb + LANES);                \
        s00 += a[p] * b0;                                                                  \
        s01 += a[p] * b1;                                                                  \
        if (rows > 1) { s10 += a[lda + p] * b0; s11 += a[lda + p] * b1; }                  \
        if (rows > 2) { s20 += a[2 * lda + p] * b0; s21 += a[2 * lda + p] * b1; }          \
        if (rows > 3) { s30 += a[3 * lda + p] * b0; s31 += a[3 * lda + p] * b1; }          \
    }                                                                                      \
    fastsig_few_rows_##SUFFIX##_store(acc, s00);                                           \
    fastsig_few_rows_##SUFFIX##_store(acc + LANES, s01);                                   \
    if (rows > 1) { fastsig_few_rows_##SUFFIX##_store(acc + cols, s10);                    \
                    fastsig_few_rows_##SUFFIX##_store(acc + cols + LANES, s11); }          \
    if (rows > 2) { fastsig_few_rows_##SUFFIX##_store(acc + 2 * cols, s20);                \
                    fastsig_few_rows_##SUFFIX##_store(acc + 2 * cols + LANES, s21); }      \
    if (rows > 3) { fastsig_few_rows_##SUFFIX##_store(acc + 3 * cols, s30);                \
                    fastsig_few_rows_##SUFFIX##_store(acc + 3 * cols + LANES, s31); }      \
}
#define FASTSIG_FEW_ROWS_RUN_LANES(T) (2 * FASTSIG_VECTOR_BYTES / (ptrdiff_t)sizeof(T))
#define FASTSIG_FEW_ROWS_PASS(T, SUFFIX)                                                   \
/* Step 2's pass of four rows of B (b, ldb apart) over the whole vectors of `cols` sums   \
   of 1 to 3 rows (ldacc apart), A's four values a row at e[4 * i]: each vector of B      \
   loaded once, the rows' multiply-adds lane by lane as the scalar loop's. Returns the    \
   columns done (whole vectors). */                                                       \
FASTSIG_FEW_ROWS_INLINE ptrdiff_t fastsig_few_rows_##SUFFIX##_pass(                       \
        const T* __restrict b, ptrdiff_t ldb, T* __restrict acc, ptrdiff_t ldacc,         \
        ptrdiff_t cols, const T* e, const int rows) {                                     \
    typedef fastsig_few_rows_##SUFFIX##_vector V;                                          \
    enum { LANES = FASTSIG_VECTOR_BYTES / sizeof(T) };                                     \
    /* A's values as scalars, which each multiply broadcasts as the tiles' do (adding    \
       them to a vector of zeros would turn -0 into +0, and a sum of -0 would differ). */  \
    const T x00 = e[0], x01 = e[1], x02 = e[2], x03 = e[3];                                \
    const T x10 = e[4], x11 = e[5], x12 = e[6], x13 = e[7];                                \
    const T x20 = e[8], x21 = e[9], x22 = e[10], x23 = e[11];                              \
    ptrdiff_t j;                                                                           \
    for (j = 0; j + LANES <= cols; j += LANES) {                                           \
        const V u0 = fastsig_few_rows_##SUFFIX##_load(b + j);                              \
        const V u1 = fastsig_few_rows_##SUFFIX##_load(b + ldb + j);                        \
        const V u2 = fastsig_few_rows_##SUFFIX##_load(b + 2 * ldb + j);                    \
        const V u3 = fastsig_few_rows_##SUFFIX##_load(b + 3 * ldb + j);                    \
        T* const s0 = acc + j;                                                             \
        fastsig_few_rows_##SUFFIX##_store(s0, x03 * u3 + (x02 * u2 + (x01 * u1 + (         \
            x00 * u0 + fastsig_few_rows_##SUFFIX##_load(s0)))));                           \
        if (rows > 1)                                                                      \
            fastsig_few_rows_##SUFFIX##_store(s0 + ldacc, x13 * u3 + (x12 * u2 + (          \
                x11 * u1 + (x10 * u0 + fastsig_few_rows_##SUFFIX##_load(s0 + ldacc)))));   \
        if (rows > 2)                                                                      \
            fastsig_few_rows_##SUFFIX##_store(s0 + 2 * ldacc, x23 * u3 + (x22 * u2 + (      \
                x21 * u1 + (x20 * u0 + fastsig_few_rows_##SUFFIX##_load(s0 + 2 * ldacc))))); \
    }                                                                                      \
    return j;                                                                              \
}
#else
#define FASTSIG_FEW_ROWS_RUNS(T, SUFFIX)                                                   \
FASTSIG_FEW_ROWS_INLINE void fastsig_few_rows_##SUFFIX##_run(                            \
        ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* b, ptrdiff_t ldb, T* acc,       \
        ptrdiff_t cols, const int rows) { }
#define FASTSIG_FEW_ROWS_RUN_LANES(T) ((ptrdiff_t)1 << 30)
#define FASTSIG_FEW_ROWS_PASS(T, SUFFIX)                                                   \
FASTSIG_FEW_ROWS_INLINE ptrdiff_t fastsig_few_rows_##SUFFIX##_pass(                       \
        const T* b, ptrdiff_t ldb, T* acc, ptrdiff_t ldacc, ptrdiff_t cols, const T* e,   \
        const int rows) { return 0; }
#endif

#if FASTSIG_FEW_ROWS_ONE_PASS > FASTSIG_FEW_ROWS_MAX
/* One body per row count (5-8) and `fetch` (constants in the body). */
#define FASTSIG_EIGHT_ROWS_CASE(SUFFIX, R)                                                 \
    case R:                                                                                \
        if (fetch)                                                                         \
            fastsig_eight_rows_##SUFFIX##_both_in_place(kc, a, lda, b + j, ldb, c + j,    \
                                                        ldc, w, accumulate, bias_j, R, 1); \
        else                                                                               \
            fastsig_eight_rows_##SUFFIX##_both_in_place(kc, a, lda, b + j, ldb, c + j,    \
                                                        ldc, w, accumulate, bias_j, R, 0); \
        break;
#define FASTSIG_FEW_ROWS_EIGHT(T, SUFFIX)                                                  \
/* Step 2b: C of 5-8 rows by the eight-row tile, NV vectors of columns at a time;         \
   `fetch`: each strip fetches the next one's rows into L2 (a B that streams). */         \
static void fastsig_few_rows_##SUFFIX##_eight(                                             \
        ptrdiff_t rows, ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* b,              \
        ptrdiff_t ldb, T* c, ptrdiff_t ldc, ptrdiff_t cols, int accumulate,               \
        const T* bias, int fetch) {                                                        \
    enum { NR = FASTSIG_EIGHT_ROWS_NV * (FASTSIG_VECTOR_BYTES / sizeof(T)) };             \
    ptrdiff_t j, w;                                                                        \
    for (j = 0; j < cols; j += NR) {                                                       \
        const T* const bias_j = bias ? bias + j : NULL;                                    \
        w = FASTSIG_FEW_ROWS_MIN(NR, cols - j);                                            \
        switch (rows) {                                                                    \
        FASTSIG_EIGHT_ROWS_CASE(SUFFIX, 5)                                                 \
        FASTSIG_EIGHT_ROWS_CASE(SUFFIX, 6)                                                 \
        FASTSIG_EIGHT_ROWS_CASE(SUFFIX, 7)                                                 \
        FASTSIG_EIGHT_ROWS_CASE(SUFFIX, 8)                                                 \
        default: __builtin_unreachable();   /* the caller passes 5-8 rows */               \
        }                                                                                  \
    }                                                                                      \
}
#else
#define FASTSIG_FEW_ROWS_EIGHT(T, SUFFIX)                                                  \
static void fastsig_few_rows_##SUFFIX##_eight(                                             \
        ptrdiff_t rows, ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* b,              \
        ptrdiff_t ldb, T* c, ptrdiff_t ldc, ptrdiff_t cols, int accumulate,               \
        const T* bias, int fetch) { }
#endif

#define FASTSIG_FEW_ROWS(T, SUFFIX)                                                        \
FASTSIG_FEW_ROWS_RUNS(T, SUFFIX)                                                           \
FASTSIG_FEW_ROWS_PASS(T, SUFFIX)                                                           \
FASTSIG_FEW_ROWS_INLINE void fastsig_few_rows_##SUFFIX##_body(                           \
        ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* __restrict b, ptrdiff_t ldb,    \
        T* __restrict acc, ptrdiff_t cols, const int rows) {                               \
    const ptrdiff_t RUN = FASTSIG_FEW_ROWS_RUN_LANES(T);                                   \
    const ptrdiff_t j0 = cols < FASTSIG_FEW_ROWS_NARROW && (rows > 1 || cols == RUN)      \
                         ? cols / RUN * RUN : 0;                                           \
    const ptrdiff_t ldacc = cols;                                                          \
    ptrdiff_t p, j;                                                                        \
    for (j = 0; j < j0; j += RUN)                                                          \
        fastsig_few_rows_##SUFFIX##_run(kc, a, lda, b + j, ldb, acc + j, ldacc, rows);    \
    /* The columns past the runs: all of them where there are none. */                    \
    b += j0;                                                                               \
    acc += j0;                                                                             \
    cols -= j0;                                                                            \
    if (j0 == 0)                                                                           \
        for (j = 0; j < rows * cols; j++)                                                  \
            acc[j] = 0;                                                                    \
    else                                                                                   \
        for (p = 0; p < rows; p++)                                                         \
            for (j = 0; j < cols; j++)                                                     \
                acc[p * ldacc + j] = 0;                                                    \
    /* One row of A (a matrix-vector product): eight rows of B a pass. */                  \
    for (p = 0; rows == 1 && p + 8 <= kc; p += 8) {                                        \
        const T* __restrict r0 = b + p * ldb;                                              \
        const T e0 = a[p], e1 = a[p + 1], e2 = a[p + 2], e3 = a[p + 3];                    \
        const T e4 = a[p + 4], e5 = a[p + 5], e6 = a[p + 6], e7 = a[p + 7];                \
        for (j = 0; j < cols; j++) {                                                       \
            T t = FASTSIG_MULADD_##T(e0, r0[j], acc[j]);                                   \
            t = FASTSIG_MULADD_##T(e1, r0[ldb + j], t);                                    \
            t = FASTSIG_MULADD_##T(e2, r0[2 * ldb + j], t);                                \
            t = FASTSIG_MULADD_##T(e3, r0[3 * ldb + j], t);                                \
            t = FASTSIG_MULADD_##T(e4, r0[4 * ldb + j], t);                                \
            t = FASTSIG_MULADD_##T(e5, r0[5 * ldb + j], t);                                \
            t = FASTSIG_MULADD_##T(e6, r0[6 * ldb + j], t);                                \
            acc[j] = FASTSIG_MULADD_##T(e7, r0[7 * ldb + j], t);                           \
        }                                                                                  \
    }                                                                                      \
    for (; p + 4 <= kc; p += 4) {                                                          \
        const T* __restrict b0row = b + p * ldb;                                           \
        const T* __restrict b1row = b0row + ldb;                                           \
        const T* __restrict b2row = b1row + ldb;                                           \
        const T* __restrict b3row = b2row + ldb;                                           \
        const T a0 = a[p], b0 = a[p + 1], c0 = a[p + 2], d0 = a[p + 3];                    \
        const T a1 = rows > 1 ? a[lda + p] : 0, b1 = rows > 1 ? a[lda + p + 1] : 0;        \
        const T c1 = rows > 1 ? a[lda + p + 2] : 0, d1 = rows > 1 ? a[lda + p + 3] : 0;    \
        const T a2 = rows > 2 ? a[2 * lda + p] : 0, b2 = rows > 2 ? a[2 * lda + p + 1] : 0; \
        const T c2 = rows > 2 ? a[2 * lda + p + 2] : 0;                                    \
        const T d2 = rows > 2 ? a[2 * lda + p + 3] : 0;                                    \
        const T a3 = rows > 3 ? a[3 * lda + p] : 0, b3 = rows > 3 ? a[3 * lda + p + 1] : 0; \
        const T c3 = rows > 3 ? a[3 * lda + p + 2] : 0;                                    \
        const T d3 = rows > 3 ? a[3 * lda + p + 3] : 0;                                    \
        const T e[12] = {a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2};                  \
        j = rows < 4 ? fastsig_few_rows_##SUFFIX##_pass(b0row, ldb, acc, ldacc, cols, e,   \
                                                        rows) : 0;                         \
        for (; j < cols; j++) {                                                            \
            const T u0 = b0row[j], u1 = b1row[j], u2 = b2row[j], u3 = b3row[j];           \
            acc[j] = FASTSIG_MULADD_##T(d0, u3, FASTSIG_MULADD_##T(c0, u2,                 \
                FASTSIG_MULADD_##T(b0, u1, FASTSIG_MULADD_##T(a0, u0, acc[j]))));          \
            if (rows > 1)                                                                  \
                acc[ldacc + j] = FASTSIG_MULADD_##T(d1, u3, FASTSIG_MULADD_##T(c1, u2,     \
                    FASTSIG_MULADD_##T(b1, u1, FASTSIG_MULADD_##T(a1, u0,                  \
                                                                  acc[ldacc + j]))));      \
            if (rows > 2)                                                                  \
                acc[2 * ldacc + j] = FASTSIG_MULADD_##T(d2, u3, FASTSIG_MULADD_##T(c2, u2, \
                    FASTSIG_MULADD_##T(b2, u1, FASTSIG_MULADD_##T(a2, u0,                  \
                                                                  acc[2 * ldacc + j]))));  \
            if (rows > 3)                                                                  \
                acc[3 * ldacc + j] = FASTSIG_MULADD_##T(d3, u3, FASTSIG_MULADD_##T(c3, u2, \
                    FASTSIG_MULADD_##T(b3, u1, FASTSIG_MULADD_##T(a3, u0,                  \
                                                                  acc[3 * ldacc + j]))));  \
        }                                                                                  \
    }                                                                                      \
    for (; p + 2 <= kc; p += 2) {                                                          \
        const T* __restrict brow = b + p * ldb;                                            \
        const T* __restrict bnext = brow + ldb;                                            \
        const T a0 = a[p], b0 = a[p + 1];                                                  \
        const T a1 = rows > 1 ? a[lda + p] : 0, b1 = rows > 1 ? a[lda + p + 1] : 0;        \
        const T a2 = rows > 2 ? a[2 * lda + p] : 0, b2 = rows > 2 ? a[2 * lda + p + 1] : 0; \
        const T a3 = rows > 3 ? a[3 * lda + p] : 0, b3 = rows > 3 ? a[3 * lda + p + 1] : 0; \
        for (j = 0; j < cols; j++) {                                                       \
            const T bj = brow[j], cj = bnext[j];                                           \
            acc[j] = FASTSIG_MULADD_##T(b0, cj, FASTSIG_MULADD_##T(a0, bj, acc[j]));       \
            if (rows > 1)                                                                  \
                acc[ldacc + j] = FASTSIG_MULADD_##T(                                        \
                    b1, cj, FASTSIG_MULADD_##T(a1, bj, acc[ldacc + j]));                    \
            if (rows > 2)                                                                  \
                acc[2 * ldacc + j] = FASTSIG_MULADD_##T(                                    \
                    b2, cj, FASTSIG_MULADD_##T(a2, bj, acc[2 * ldacc + j]));                \
            if (rows > 3)                                                                  \
                acc[3 * ldacc + j] = FASTSIG_MULADD_##T(                                    \
                    b3, cj, FASTSIG_MULADD_##T(a3, bj, acc[3 * ldacc + j]));                \
        }                                                                                  \
    }                                                                                      \
    for (; p < kc; p++) {                                                                  \
        const T* __restrict brow = b + p * ldb;                                            \
        const T a0 = a[p];                                                                 \
        const T a1 = rows > 1 ? a[lda + p] : 0;                                            \
        const T a2 = rows > 2 ? a[2 * lda + p] : 0;                                        \
        const T a3 = rows > 3 ? a[3 * lda + p] : 0;                                        \
        for (j = 0; j < cols; j++) {                                                       \
            const T bj = brow[j];                                                          \
            acc[j] = FASTSIG_MULADD_##T(a0, bj, acc[j]);                                   \
            if (rows > 1)                                                                  \
                acc[ldacc + j] = FASTSIG_MULADD_##T(a1, bj, acc[ldacc + j]);                 \
            if (rows > 2)                                                                  \
                acc[2 * ldacc + j] = FASTSIG_MULADD_##T(a2, bj, acc[2 * ldacc + j]);         \
            if (rows > 3)                                                                  \
                acc[3 * ldacc + j] = FASTSIG_MULADD_##T(a3, bj, acc[3 * ldacc + j]);         \
        }                                                                                  \
    }                                                                                      \
}                                                                                          \
                                                                                           \
FASTSIG_FEW_ROWS_EIGHT(T, SUFFIX)                                                          \
                                                                                           \
static void fastsig_few_rows_##SUFFIX(                                                     \
        ptrdiff_t rows, ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* b,              \
        ptrdiff_t ldb, T* acc, T* c, ptrdiff_t ldc, ptrdiff_t cols, int accumulate,       \
        const T* bias, int fetch) {                                                        \
    ptrdiff_t i, j;                                                                        \
    T sum;                                                                                 \
    if (FASTSIG_FEW_ROWS_ONE_PASS > FASTSIG_FEW_ROWS_MAX && rows > FASTSIG_FEW_ROWS_MAX) { \
        fastsig_few_rows_##SUFFIX##_eight(rows, kc, a, lda, b, ldb, c, ldc, cols,         \
                                          accumulate, bias, fetch);                        \
        return;                                                                            \
    }                                                                                      \
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

/* Dot products of the transposed kernel, float32: out[q] = sum_{j0 <= j < j1} dy[j] *
 * w[q*m + j] for q < 8 * groups, each in increasing j from 0, one multiply-add a step.
 * With AVX2 and FMA the sums are the lanes of vectors: 8 x 8 blocks of w are transposed
 * in registers, so that each step is one vector multiply-add of dy[j] against column j
 * of a block -- the lane-by-lane operations of the scalar chains, so the same bits.
 * Four groups of eight rows (FASTSIG_DOT_ROWS = 32) keep four chains in flight: one
 * chain waits on its multiply-add's latency every step. (float64 keeps the scalar
 * chains: reading w bounds it, not the multiply-adds; docs/performance.md.) */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FASTSIG_DOT_ROWS 32

/* Eight rows of w from w, columns j..j+7, into acc (lane q: row q). */
static inline __attribute__((always_inline)) __m256 fastsig_dot_step_F32(
        const float* w, ptrdiff_t m, const float* dy, ptrdiff_t j, __m256 acc) {
    __m256 r0, r1, r2, r3, r4, r5, r6, r7, t0, t1, t2, t3, t4, t5, t6, t7;
    __m256 s0, s1, s2, s3, s4, s5, s6, s7;
    r0 = _mm256_loadu_ps(w + j);
    r1 = _mm256_loadu_ps(w + m + j);
    r2 = _mm256_loadu_ps(w + 2 * m + j);
    r3 = _mm256_loadu_ps(w + 3 * m + j);
    r4 = _mm256_loadu_ps(w + 4 * m + j);
    r5 = _mm256_loadu_ps(w + 5 * m + j);
    r6 = _mm256_loadu_ps(w + 6 * m + j);
    r7 = _mm256_loadu_ps(w + 7 * m + j);
    t0 = _mm256_unpacklo_ps(r0, r1);    /* r0_0 r1_0 r0_1 r1_1 | r0_4 r1_4 r0_5 r1_5 */
    t1 = _mm256_unpackhi_ps(r0, r1);    /* r0_2 r1_2 r0_3 r1_3 | r0_6 r1_6 r0_7 r1_7 */
    t2 = _mm256_unpacklo_ps(r2, r3);
    t3 = _mm256_unpackhi_ps(r2, r3);
    t4 = _mm256_unpacklo_ps(r4, r5);
    t5 = _mm256_unpackhi_ps(r4, r5);
    t6 = _mm256_unpacklo_ps(r6, r7);
    t7 = _mm256_unpackhi_ps(r6, r7);
    s0 = _mm256_shuffle_ps(t0, t2, 0x44);   /* rows 0-3 of columns 0 | 4 */
    s1 = _mm256_shuffle_ps(t0, t2, 0xEE);   /* columns 1 | 5 */
    s2 = _mm256_shuffle_ps(t1, t3, 0x44);   /* columns 2 | 6 */
    s3 = _mm256_shuffle_ps(t1, t3, 0xEE);   /* columns 3 | 7 */
    s4 = _mm256_shuffle_ps(t4, t6, 0x44);   /* rows 4-7 likewise */
    s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    s6 = _mm256_shuffle_ps(t5, t7, 0x44);
    s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j]), _mm256_permute2f128_ps(s0, s4, 0x20), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j + 1]), _mm256_permute2f128_ps(s1, s5, 0x20), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j + 2]), _mm256_permute2f128_ps(s2, s6, 0x20), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j + 3]), _mm256_permute2f128_ps(s3, s7, 0x20), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j + 4]), _mm256_permute2f128_ps(s0, s4, 0x31), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j + 5]), _mm256_permute2f128_ps(s1, s5, 0x31), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j + 6]), _mm256_permute2f128_ps(s2, s6, 0x31), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy[j + 7]), _mm256_permute2f128_ps(s3, s7, 0x31), acc);
    return acc;
}

static inline __attribute__((always_inline)) void fastsig_dots_F32(
        const float* w, ptrdiff_t m, const float* dy, ptrdiff_t j0, ptrdiff_t j1,
        float* out, const int groups) {
    __m256 acc[FASTSIG_DOT_ROWS / 8];
    ptrdiff_t j;
    int g;
    for (g = 0; g < groups; g++)
        acc[g] = _mm256_setzero_ps();
    for (j = j0; j + 8 <= j1; j += 8)
        for (g = 0; g < groups; g++)
            acc[g] = fastsig_dot_step_F32(w + 8 * g * m, m, dy, j, acc[g]);
    for (; j < j1; j++)
        for (g = 0; g < groups; g++) {
            const float* wg = w + 8 * g * m + j;
            acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(dy[j]),
                                     _mm256_set_ps(wg[7 * m], wg[6 * m], wg[5 * m], wg[4 * m],
                                                   wg[3 * m], wg[2 * m], wg[m], wg[0]),
                                     acc[g]);
        }
    for (g = 0; g < groups; g++)
        _mm256_storeu_ps(out + 8 * g, acc[g]);
}

#define FASTSIG_DOTS_F32(w, m, dy, j0, j1, out, groups)                                     \
    fastsig_dots_F32(w, m, dy, j0, j1, out, groups)
#else
#define FASTSIG_DOT_ROWS 8
#define FASTSIG_DOTS_F32(w, m, dy, j0, j1, out, groups) ((void)0)
#endif
#define FASTSIG_DOTS_F64(w, m, dy, j0, j1, out, groups) ((void)0)

/* dx[rows, 0:k] = dy[rows, 0:m] @ wT, w (k x m, rows m apart) row-major where it lies,
 * dx's rows ldx apart (a slice of k of w's rows and dx's columns is a call of its own), for the
 * backward of few rows (packing wT would cost more than the product): dx[i, p] is
 * sum_j dy[i, j] w[p, j], the depth m cut into blocks of `depth` (KC). Each block's sum
 * starts at 0 and runs in increasing j, one multiply-add a step; the first block stores
 * it, the later ones add it to dx: the register tile's order, so the bits of the packed
 * path. Eight rows of w at a time, each a contiguous stream, give eight independent
 * chains; in float32 where the variant has AVX2, 32 rows at a time are the lanes of
 * four vectors (fastsig_dots_F32: vectors along j would reorder the sums). */
#define FASTSIG_FEW_ROWS_TRANSPOSED(T, SUFFIX, DOT_ROWS)                                   \
static void fastsig_few_rows_transposed_##SUFFIX(                                          \
        ptrdiff_t rows, ptrdiff_t m, ptrdiff_t k, ptrdiff_t depth, const T* dy,           \
        const T* w, T* dx, ptrdiff_t ldx) {                                                \
    enum { W_ROWS = DOT_ROWS, VECTORS = DOT_ROWS > 8 };                                    \
    ptrdiff_t i, p0, q, q0, rows_of_w, j0, j1, j;                                          \
    T acc[W_ROWS];                                                                         \
    /* Rows of w a multiple of 512 bytes apart fall into at most 8 of L1's 64 sets: 32 \
       such rows at once would evict each other, 8 not. */                                \
    const int spread = (m * (ptrdiff_t)sizeof(T)) % 512 != 0;                              \
    for (i = 0; i < rows; i++) {                                                           \
        const T* dyrow = dy + i * m;                                                       \
        for (p0 = 0; p0 < k; p0 += W_ROWS) {                                               \
            rows_of_w = FASTSIG_FEW_ROWS_MIN(W_ROWS, k - p0);                              \
            for (j0 = 0; j0 < m; j0 = j1) {                                                \
                j1 = FASTSIG_FEW_ROWS_MIN(m, j0 + depth);                                  \
                for (q = 0; q < W_ROWS; q++)                                               \
                    acc[q] = 0;                                                            \
                q0 = 0;                                                                    \
                if (VECTORS && rows_of_w == W_ROWS && spread) {                            \
                    FASTSIG_DOTS_##SUFFIX(w + p0 * m, m, dyrow, j0, j1, acc, W_ROWS / 8);  \
                    q0 = W_ROWS;                                                           \
                }                                                                          \
                for (; VECTORS && q0 + 8 <= rows_of_w; q0 += 8)                            \
                    FASTSIG_DOTS_##SUFFIX(w + (p0 + q0) * m, m, dyrow, j0, j1, acc + q0, 1); \
                if (!VECTORS && rows_of_w == W_ROWS) {                                     \
                    for (j = j0; j < j1; j++)                                              \
                        for (q = 0; q < W_ROWS; q++)                                       \
                            acc[q] = FASTSIG_MULADD_##T(dyrow[j], w[(p0 + q) * m + j],     \
                                                        acc[q]);                           \
                    q0 = W_ROWS;                                                           \
                }                                                                          \
                for (q = q0; q < rows_of_w; q++)                                           \
                    for (j = j0; j < j1; j++)                                              \
                        acc[q] = FASTSIG_MULADD_##T(dyrow[j], w[(p0 + q) * m + j], acc[q]); \
                for (q = 0; q < rows_of_w; q++)                                            \
                    dx[i * ldx + p0 + q] = j0 == 0 ? acc[q] : dx[i * ldx + p0 + q] + acc[q]; \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}

/* dw[0:k, 0:m] = x[0:rows, 0:k]T @ dy[0:rows, 0:m], x's rows ldx apart, rows <=
 * FASTSIG_FEW_ROWS_MAX, for the backward of a few rows: dw[p, j] = sum_i x[i, p] dy[i, j],
 * from 0 in increasing i, one multiply-add a step (the first onto 0: +0 for a product of
 * -0, as the tile's sum): the register tile's order, so its bits, for a depth of `rows`.
 * Each row of dw is written once, a contiguous stream; the tile's fixed cost per MR x NR
 * block was most of the time at so small a depth. */
#define FASTSIG_FEW_ROWS_OUTER(T, SUFFIX)                                                  \
FASTSIG_FEW_ROWS_INLINE void fastsig_few_rows_outer_##SUFFIX##_body(                     \
        ptrdiff_t k, const T* x, ptrdiff_t ldx, const T* __restrict dy, ptrdiff_t m,      \
        T* __restrict dw, const int rows) {                                                \
    ptrdiff_t p, j;                                                                        \
    const T zero = 0;                                                                      \
    T sum;                                                                                 \
    for (p = 0; p < k; p++) {                                                              \
        T* __restrict out = dw + p * m;                                                    \
        const T a0 = x[p];                                                                 \
        const T a1 = rows > 1 ? x[ldx + p] : 0;                                            \
        const T a2 = rows > 2 ? x[2 * ldx + p] : 0;                                        \
        const T a3 = rows > 3 ? x[3 * ldx + p] : 0;                                        \
        for (j = 0; j < m; j++) {                                                          \
            sum = FASTSIG_MULADD_##T(a0, dy[j], zero);                                     \
            if (rows > 1)                                                                  \
                sum = FASTSIG_MULADD_##T(a1, dy[m + j], sum);                              \
            if (rows > 2)                                                                  \
                sum = FASTSIG_MULADD_##T(a2, dy[2 * m + j], sum);                          \
            if (rows > 3)                                                                  \
                sum = FASTSIG_MULADD_##T(a3, dy[3 * m + j], sum);                          \
            out[j] = sum;                                                                  \
        }                                                                                  \
    }                                                                                      \
}                                                                                          \
                                                                                           \
static void fastsig_few_rows_outer_##SUFFIX(                                               \
        ptrdiff_t rows, ptrdiff_t k, const T* x, ptrdiff_t ldx, const T* __restrict dy,   \
        ptrdiff_t m, T* __restrict dw) {                                                   \
    switch (rows) {                                                                        \
    case 1: fastsig_few_rows_outer_##SUFFIX##_body(k, x, ldx, dy, m, dw, 1); break;       \
    case 2: fastsig_few_rows_outer_##SUFFIX##_body(k, x, ldx, dy, m, dw, 2); break;       \
    case 3: fastsig_few_rows_outer_##SUFFIX##_body(k, x, ldx, dy, m, dw, 3); break;       \
    default: fastsig_few_rows_outer_##SUFFIX##_body(k, x, ldx, dy, m, dw, 4); break;      \
    }                                                                                      \
}

#define FASTSIG_FEW_ROWS_MIN(x, y) ((x) < (y) ? (x) : (y))

FASTSIG_FEW_ROWS(float, F32)
FASTSIG_FEW_ROWS(double, F64)
FASTSIG_FEW_ROWS_TRANSPOSED(float, F32, FASTSIG_DOT_ROWS)
FASTSIG_FEW_ROWS_TRANSPOSED(double, F64, 8)
FASTSIG_FEW_ROWS_OUTER(float, F32)
FASTSIG_FEW_ROWS_OUTER(double, F64)
#undef FASTSIG_FEW_ROWS
#undef FASTSIG_FEW_ROWS_TRANSPOSED
#undef FASTSIG_FEW_ROWS_EIGHT
#undef FASTSIG_EIGHT_ROWS_CASE
#undef FASTSIG_FEW_ROWS_OUTER
#undef FASTSIG_FEW_ROWS_MIN
#undef FASTSIG_DOTS_F32
#undef FASTSIG_DOTS_F64
#undef FASTSIG_DOT_ROWS
#undef FASTSIG_MULADD_float
#undef FASTSIG_MULADD_double
#undef FASTSIG_FEW_ROWS_INLINE

#endif /* FASTSIG_FEW_ROWS_H */
