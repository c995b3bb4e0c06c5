/* fastsig: the register tile for one dtype, included by register_tile.h once per dtype
 * and by few_rows.h for its eight-row tile (no include guard, on purpose). Parameters,
 * #defined by the includer and #undef'd at the end: RT_T (float or double), RT_NAME (the
 * function's name), RT_MR (rows), RT_NV (vectors of columns: NR = RT_NV lanes), RT_BYTES
 * (bytes of a vector). */

#define RT(suffix) FASTSIG_CAT(RT_NAME, suffix)

#define VEC_T RT_T
#define VEC_NAME RT_NAME
#define VEC_BYTES RT_BYTES
#include "vector_template.h"

/* The tile over its first mr rows and nv vectors of columns (constants once inlined;
   mr < MR for a panel of fewer rows: RT(_rows)); `masked`: each vector of C is read
   and written by masked loads and stores of its lanes among the `cols` columns, nothing
   past them, and, where `masked` is FASTSIG_MASKED_B, each vector of B too (B in place,
   no padding: its lanes past them 0; with FASTSIG_MASKED_C B is packed, those lanes 0
   already); `fetch`: B is in
   place and streams from beyond L2, and each step fetches into L2 the same row of the
   next strip (the nv vectors past these), the lines the next call reads (a prefetch
   never faults, past B's row or its end included). A tile reads a few lines of each row
   of B, rows a stride apart, which the hardware does not fetch ahead; `ahead` (NULL, a
   constant, for none): step p < ahead_steps fetches into L2 the line at
   ahead + p * ahead_cs (see RT(_ahead)). */
static inline __attribute__((always_inline)) void RT(_body)(
        ptrdiff_t kc, const RT_T* __restrict a, ptrdiff_t a_rs, ptrdiff_t a_cs,
        const RT_T* __restrict b, ptrdiff_t ldb, RT_T* __restrict c, ptrdiff_t ldc,
        ptrdiff_t rows, ptrdiff_t cols, int accumulate, const RT_T* bias,
        const RT_T* next, const int mr, const int nv, const int masked, const int fetch,
        const RT_T* ahead, ptrdiff_t ahead_cs, ptrdiff_t ahead_steps) {
    enum { LANES = RT_BYTES / sizeof(RT_T), NR = RT_NV * LANES, LINE = 64 / sizeof(RT_T) };
    /* Every loop over acc's rows or vectors carries GCC's unroll pragma: gcc keeps acc in
       registers only where each index into it is a constant when scalar replacement runs,
       and a loop left rolled put a tile of more than 8 vectors on the stack (stored and
       reloaded around the depth loop of every call; docs/performance.md). */
    RT(_vector) acc[RT_MR][RT_NV], brow[RT_NV], sum;
    ptrdiff_t p, i, j, v, whole, next_row = 0, next_col = 0, lanes[RT_NV];
    RT_T ai;
    _Pragma("GCC unroll 16")
    for (v = 0; v < nv; v++)
        lanes[v] = FASTSIG_MIN(LANES, cols > v * LANES ? cols - v * LANES : 0);
    _Pragma("GCC unroll 16")
    for (i = 0; i < mr; i++)
        _Pragma("GCC unroll 16")
        for (v = 0; v < nv; v++)
            acc[i][v] = (RT(_vector)){0};
    if (rows == mr && cols == nv * LANES && ldc * (ptrdiff_t)sizeof(RT_T) % 4096 != 0)
        /* C's lines, for writing, while the products run (not where C's rows are 4 KB
           apart: MR rows in one L1 set would evict the panels). */
        for (i = 0; i < mr; i++)
            for (v = 0; v < nv * LANES; v += LINE)
                __builtin_prefetch(c + i * ldc + v, 1, 3);
    for (p = 0; p < kc; p++) {
        if (next) {
            /* A line of the next A panel a step, row after row. */
            __builtin_prefetch(next + next_row * a_rs + next_col, 0, 3);
            if (++next_row == RT_MR) {
                next_row = 0;
                next_col += LINE;
            }
        }
        if (ahead && p < ahead_steps)
            __builtin_prefetch(ahead + p * ahead_cs, 0, 2);
        if (fetch)
            /* nv vectors at any alignment span at most nv + 1 lines. */
            for (v = 0; v <= nv; v++)
                __builtin_prefetch((const char*)(b + p * ldb + nv * LANES) + v * 64, 0, 2);
        for (v = 0; v < nv; v++)
            brow[v] = masked == FASTSIG_MASKED_B
                ? RT(_load_first)(b + p * ldb + v * LANES, lanes[v])
                : RT(_load)(b + p * ldb + v * LANES);
        _Pragma("GCC unroll 16")
        for (i = 0; i < mr; i++) {
            ai = a[i * a_rs + p * a_cs];
            _Pragma("GCC unroll 16")
            for (v = 0; v < nv; v++)
                acc[i][v] += ai * brow[v];
        }
    }
    if (masked) {
        /* Each vector's lanes among the columns, by masked loads and stores: the same
           lane-by-lane sums as the stores below. */
        _Pragma("GCC unroll 16")
        for (i = 0; i < mr; i++)
            _Pragma("GCC unroll 16")
            for (v = 0; v < nv; v++) {
                sum = accumulate
                    ? RT(_load_first)(c + i * ldc + v * LANES, lanes[v]) + acc[i][v]
                    : acc[i][v];
                RT(_store_first)(
                    c + i * ldc + v * LANES,
                    bias ? sum + RT(_load_first)(bias + v * LANES, lanes[v]) : sum, lanes[v]);
            }
        return;
    }
    if (rows == mr && cols == nv * LANES) {
        _Pragma("GCC unroll 16")
        for (i = 0; i < mr; i++)
            _Pragma("GCC unroll 16")
            for (v = 0; v < nv; v++) {
                sum = accumulate
                    ? RT(_load)(c + i * ldc + v * LANES) + acc[i][v] : acc[i][v];
                RT(_store)(c + i * ldc + v * LANES,
                           bias ? sum + RT(_load)(bias + v * LANES) : sum);
            }
        return;
    }
    /* At an edge: C's whole vectors of a row as vectors, its last partial vector lane by
       lane, each lane taken from the register (constant lanes once unrolled). Stored to
       memory and read back a lane at a time, as before, each read waited on the vector
       store: the edge cost more than a short tile's products (4099×13 @ 13×7 float64,
       docs/performance.md). */
    whole = cols / LANES;
    _Pragma("GCC unroll 16")
    for (i = 0; i < mr; i++) {
        if (i >= rows)
            break;
        _Pragma("GCC unroll 16")
        for (v = 0; v < nv; v++) {
            if (v < whole) {
                sum = accumulate
                    ? RT(_load)(c + i * ldc + v * LANES) + acc[i][v] : acc[i][v];
                RT(_store)(c + i * ldc + v * LANES,
                           bias ? sum + RT(_load)(bias + v * LANES) : sum);
            } else if (v == whole) {
                sum = acc[i][v];
                _Pragma("GCC unroll 16")
                for (j = 0; j < LANES; j++) {
                    if (j < cols - whole * LANES) {
                        ai = accumulate ? c[i * ldc + v * LANES + j] + sum[j] : sum[j];
                        c[i * ldc + v * LANES + j] = bias ? ai + bias[v * LANES + j] : ai;
                    }
                }
            }
        }
    }
}

/* A panel of B narrower than the tile (the last of a C whose width is not a multiple of
   NR: 40 = 32 + 8) takes only the vectors it has, not the whole tile's work. */
static inline __attribute__((always_inline)) void RT(_columns)(
        ptrdiff_t kc, const RT_T* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const RT_T* b,
        ptrdiff_t ldb, RT_T* c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols,
        int accumulate, const RT_T* bias, const RT_T* next, const int mr,
        const RT_T* ahead, ptrdiff_t ahead_cs, ptrdiff_t ahead_steps) {
    enum { LANES = RT_BYTES / sizeof(RT_T) };
    ptrdiff_t nv = (cols + LANES - 1) / LANES;
    if (nv >= RT_NV)
        RT(_body)(kc, a, a_rs, a_cs, b, ldb, c, ldc, rows, cols, accumulate, bias, next, mr,
                  RT_NV, 0, 0, ahead, ahead_cs, ahead_steps);
    else if (nv == 1)
        RT(_body)(kc, a, a_rs, a_cs, b, ldb, c, ldc, rows, cols, accumulate, bias, next, mr,
                  1, 0, 0, ahead, ahead_cs, ahead_steps);
    else if (nv == 2)
        RT(_body)(kc, a, a_rs, a_cs, b, ldb, c, ldc, rows, cols, accumulate, bias, next, mr,
                  FASTSIG_MIN(2, RT_NV), 0, 0, ahead, ahead_cs, ahead_steps);
    else
        RT(_body)(kc, a, a_rs, a_cs, b, ldb, c, ldc, rows, cols, accumulate, bias, next, mr,
                  FASTSIG_MIN(3, RT_NV), 0, 0, ahead, ahead_cs, ahead_steps);
}

/* A packed (step p of the panel is its MR values at a + p * MR), B's step p at b + p * ldb:
   a panel of fewer rows than MR runs a tile of 1, 2, 4, 6 or 8 rows where that holds
   them, so that each B value loaded serves only the rows there are (a few rows of a
   product reading B in place, the last panel of a task's rows). */
static inline __attribute__((always_inline)) void RT(_rows)(
        ptrdiff_t kc, const RT_T* a, const RT_T* b, ptrdiff_t ldb, RT_T* c, ptrdiff_t ldc,
        ptrdiff_t rows, ptrdiff_t cols, int accumulate, const RT_T* bias) {
    if (rows == 1)
        RT(_columns)(kc, a, 1, RT_MR, b, ldb, c, ldc, rows, cols, accumulate, bias, NULL, 1,
                     NULL, 0, 0);
    else if (rows == 2)
        RT(_columns)(kc, a, 1, RT_MR, b, ldb, c, ldc, rows, cols, accumulate, bias, NULL,
                     FASTSIG_MIN(2, RT_MR), NULL, 0, 0);
    else if (rows <= 4)
        RT(_columns)(kc, a, 1, RT_MR, b, ldb, c, ldc, rows, cols, accumulate, bias, NULL,
                     FASTSIG_MIN(4, RT_MR), NULL, 0, 0);
    else if (rows <= 6)
        RT(_columns)(kc, a, 1, RT_MR, b, ldb, c, ldc, rows, cols, accumulate, bias, NULL,
                     FASTSIG_MIN(6, RT_MR), NULL, 0, 0);
    else if (rows <= 8)
        RT(_columns)(kc, a, 1, RT_MR, b, ldb, c, ldc, rows, cols, accumulate, bias, NULL,
                     FASTSIG_MIN(8, RT_MR), NULL, 0, 0);
    else
        RT(_columns)(kc, a, 1, RT_MR, b, ldb, c, ldc, rows, cols, accumulate, bias, NULL,
                     RT_MR, NULL, 0, 0);
}

/* A and B where they lie: A's row i at a + i * lda, contiguous in depth; B's step p at
   b + p * ldb, `cols` (<= NR) columns there, read by masked loads (nothing past them);
   mr == rows (A has no rows past them to read); `fetch`: see RT(_body). The masks keep
   every edge to vector stores: the unmasked edge's stores lane by lane, unrolled in
   each body, are most of a body's code and compile time. */
static inline __attribute__((always_inline)) void RT(_both_in_place)(
        ptrdiff_t kc, const RT_T* a, ptrdiff_t lda, const RT_T* b, ptrdiff_t ldb, RT_T* c,
        ptrdiff_t ldc, ptrdiff_t cols, int accumulate, const RT_T* bias, const int mr,
        const int fetch) {
    enum { LANES = RT_BYTES / sizeof(RT_T) };
    if (cols > 2 * LANES)
        RT(_body)(kc, a, lda, 1, b, ldb, c, ldc, mr, cols, accumulate, bias, NULL, mr, RT_NV,
                  FASTSIG_MASKED_B, fetch, NULL, 0, 0);
    else if (cols > LANES)
        RT(_body)(kc, a, lda, 1, b, ldb, c, ldc, mr, cols, accumulate, bias, NULL, mr,
                  FASTSIG_MIN(2, RT_NV), FASTSIG_MASKED_B, fetch, NULL, 0, 0);
    else
        RT(_body)(kc, a, lda, 1, b, ldb, c, ldc, mr, cols, accumulate, bias, NULL, mr, 1,
                  FASTSIG_MASKED_B, fetch, NULL, 0, 0);
}

/* The entries below are unused where a file includes the template for
   RT(_both_in_place) alone (few_rows.h). */

/* A packed; B packed (NR values a step). */
static __attribute__((unused)) void RT_NAME(
        ptrdiff_t kc, const RT_T* a, const RT_T* b, RT_T* c, ptrdiff_t ldc, ptrdiff_t rows,
        ptrdiff_t cols, int accumulate, const RT_T* bias) {
    RT(_rows)(kc, a, b, RT_NV * (RT_BYTES / (ptrdiff_t)sizeof(RT_T)), c, ldc, rows, cols,
              accumulate, bias);
}

/* A packed; B where it lies: step p of the panel is NR values at b + p * ldb (a whole
   panel: B has NR columns from b on). */
static __attribute__((unused)) void RT(_b_in_place)(
        ptrdiff_t kc, const RT_T* a, const RT_T* b, ptrdiff_t ldb, RT_T* c, ptrdiff_t ldc,
        ptrdiff_t rows, ptrdiff_t cols, int accumulate, const RT_T* bias) {
    RT(_rows)(kc, a, b, ldb, c, ldc, rows, cols, accumulate, bias);
}

/* A where it lies: row i at a + i * lda, contiguous in depth; `next`, if not NULL, is
   the next panel, prefetched a line a step. */
static __attribute__((unused)) void RT(_in_place)(
        ptrdiff_t kc, const RT_T* a, ptrdiff_t lda, const RT_T* b, RT_T* c, ptrdiff_t ldc,
        ptrdiff_t rows, ptrdiff_t cols, int accumulate, const RT_T* bias, const RT_T* next) {
    enum { LANES = RT_BYTES / sizeof(RT_T), NR = RT_NV * LANES };
    if (FASTSIG_MASKED_EDGE && LANES > 8 && rows == RT_MR && cols < NR && cols % LANES) {
        /* A partial vector of C at the column edge: masked loads and stores of its lanes
           (B's packed lanes past `cols` are 0), a body apart from the whole tiles'. Where
           a vector has 16 lanes (float32), up to 15 a row stored lane by lane cost more
           than the mask; up to 7 (float64) did not (docs/performance.md). */
        if (cols > 3 * LANES)
            RT(_body)(kc, a, lda, 1, b, NR, c, ldc, rows, cols, accumulate, bias, next,
                      RT_MR, RT_NV, FASTSIG_MASKED_C, 0, NULL, 0, 0);
        else if (cols > 2 * LANES)
            RT(_body)(kc, a, lda, 1, b, NR, c, ldc, rows, cols, accumulate, bias, next,
                      RT_MR, FASTSIG_MIN(3, RT_NV), FASTSIG_MASKED_C, 0, NULL, 0, 0);
        else if (cols > LANES)
            RT(_body)(kc, a, lda, 1, b, NR, c, ldc, rows, cols, accumulate, bias, next,
                      RT_MR, FASTSIG_MIN(2, RT_NV), FASTSIG_MASKED_C, 0, NULL, 0, 0);
        else
            RT(_body)(kc, a, lda, 1, b, NR, c, ldc, rows, cols, accumulate, bias, next,
                      RT_MR, 1, FASTSIG_MASKED_C, 0, NULL, 0, 0);
        return;
    }
    RT(_columns)(kc, a, lda, 1, b, RT_NV * (RT_BYTES / (ptrdiff_t)sizeof(RT_T)), c, ldc,
                 rows, cols, accumulate, bias, next, RT_MR, NULL, 0, 0);
}

/* As RT_NAME for a whole panel of rows (rows == MR), each step p < ahead_steps also
   fetching into L2 the line at ahead + p * ahead_cs (a prefetch: no value read): for an A
   packed from an xᵀ that comes from memory, the line of the tile's rows in x's next depth
   block, which the next packing reads (gemm.pxi: _register_tile_task). */
static __attribute__((unused)) void RT(_ahead)(
        ptrdiff_t kc, const RT_T* a, const RT_T* b, RT_T* c, ptrdiff_t ldc, ptrdiff_t cols,
        int accumulate, const RT_T* bias, const RT_T* ahead, ptrdiff_t ahead_cs,
        ptrdiff_t ahead_steps) {
    RT(_columns)(kc, a, 1, RT_MR, b, RT_NV * (RT_BYTES / (ptrdiff_t)sizeof(RT_T)), c, ldc,
                 RT_MR, cols, accumulate, bias, NULL, RT_MR, ahead, ahead_cs, ahead_steps);
}

#undef RT
#undef RT_T
#undef RT_NAME
#undef RT_MR
#undef RT_NV
#undef RT_BYTES
