/* fastsig: the vector tile, for products whose B (the layer's W) is narrow.
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_vector_tile_{half,one,one_half,two}_F32(kc, a, a_rs, a_cs, b, c, ldc, rows,
 *                                                   cols, accumulate, bias, spill, ahead,
 *                                                   ahead_steps)
 *   fastsig_vector_rows_{half,one}_F32(rows, k, a, a_rs, a_cs, b, c, ldc, cols, bias,
 *                                      spill)                      the row kernel
 *   fastsig_column_kernel_F32(rows, k, m, a, b, ldb, c, bias)      the column kernel
 *   fastsig_column_kernel_F32_applies(k, m)
 * Uses: isa.h (VECTOR_BYTES, MRV), GCC vector extensions; without them empty stubs
 *   that are never called (plan.pxi never chooses the vector tile there).
 *
 * The tile: C[rows, cols] (= or, with `accumulate`, +=) A[rows, kc] @ B[kc, NRV]
 * (+ bias), rows <= MRV, cols <= NRV: half a vector, one, one and a half, or two (half
 * and one and a half on AVX-512 only: a ymm FMA costs Zen 4 half a zmm FMA, so a row of
 * a zmm and a ymm costs three quarters of two zmm, and no more than two zmm on cores with
 * two 512-bit FMA units). A is read in place, (i, p) at a[i*a_rs + p*a_cs]; B is packed,
 * kc rows of NRV values, zero past column `cols`.
 * 1. Row i of C is held in the NV vectors acc[i] (and acc_half[i]: the half vector of a
 *    row of one and a half); each step p broadcasts A[i, p]
 *    against row p of B, in increasing p, one multiply-add each: the bits of every
 *    other kernel.
 * 2. Stores: a whole vector a row where that stays inside the tile's own span of C
 *    (rows contiguous, ldc == cols: its lanes past `cols` land on the next row, which
 *    is stored after it) or, with `spill`, lands on rows past the tile that the caller
 *    writes later; lane by lane otherwise, so nothing outside C[rows, cols] (and the
 *    rows `spill` allows) is written. Adding into C goes lane by lane unless
 *    cols == NRV: a lane past `cols` may hold 0 * inf = NaN.
 * 3. Step p < ahead_steps also fetches into L2 the line at ahead + p * a_cs (a prefetch,
 *    no value read: NULL and 0 for none): for an A that comes from memory, the line the
 *    tile's next depth block reads at that step (gemm.pxi: _vector_tile_task).
 * Written as loops over an array of accumulators, gcc spills such a tile; with vector
 * extensions and constant trip counts it keeps it in registers.
 *
 * The short tile, for a ragged last panel: the same tile of FASTSIG_MRV_SHORT (4) rows,
 *   fastsig_vector_tile_short_F32(shape, kc, a, ..., spill), shape 0, 1, 2 or 3 (half,
 *   one, two, one and a half vectors: plan.pxi's VectorShape). A panel of a few rows then
 *   costs a few rows' multiply-adds, not MRV's; each output's sum is the same, so the
 *   same bits.
 *
 * The row kernel, for depths k <= 4: B's k rows stay in registers and each row of C
 * is one vector, summed from 0 with p increasing, the bias after.
 *
 * The column kernel, for a row-major A and C of few columns (k <= 4 inputs, m <= 4
 * outputs: the 2-input, 3-output layer), where the row kernel would fill a few lanes
 * of each vector: L rows of A are k whole vectors and L rows of C m whole vectors, so
 * vector v of C holds elements e = vL + l (row e / m, column e % m). Its products take
 * A[row, p] for each lane by a two-source permutation (__builtin_shuffle) of the A
 * vectors that hold them, and B[p, column] from a vector built once; each element is
 * summed from 0 with p increasing, the bias after: the row kernel's bits. It returns
 * the rows it did (a multiple of L), 0 where it does not apply (_applies: some lane's
 * A values span more than two vectors, as at (3, 1), (4, 1), and (3, 3) with 8 lanes;
 * or a row of B is wider than a vector). */
#ifndef FASTSIG_VECTOR_TILE_H
#define FASTSIG_VECTOR_TILE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "isa.h"

#if FASTSIG_VECTOR_TILE

#define FASTSIG_MRV_SHORT 4

/* The short tile's entry: shape 0-3 (plan.pxi's VectorShape) picks the instance. */
#define FASTSIG_VECTOR_TILE_SHORT(T, SUFFIX)                                            \
static void fastsig_vector_tile_short_##SUFFIX(                                         \
        int shape, ptrdiff_t kc, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const T* b, \
        T* c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, int accumulate,             \
        const T* bias, int spill) {                                                     \
    if (shape == 0)                                                                     \
        fastsig_vector_tile_half_short_##SUFFIX(kc, a, a_rs, a_cs, b, c, ldc, rows,     \
                                                cols, accumulate, bias, spill, NULL,    \
                                                0);                                     \
    else if (shape == 1)                                                                \
        fastsig_vector_tile_one_short_##SUFFIX(kc, a, a_rs, a_cs, b, c, ldc, rows,      \
                                               cols, accumulate, bias, spill, NULL, 0); \
    else if (shape == 2)                                                                \
        fastsig_vector_tile_two_short_##SUFFIX(kc, a, a_rs, a_cs, b, c, ldc, rows,      \
                                               cols, accumulate, bias, spill, NULL, 0); \
    else                                                                                \
        fastsig_vector_tile_one_half_short_##SUFFIX(kc, a, a_rs, a_cs, b, c, ldc, rows, \
                                                    cols, accumulate, bias, spill,      \
                                                    NULL, 0);                           \
}

/* Each instance defines the template's parameters, which it #undefs. */
#define VT_T float
#define VT_NAME fastsig_vector_tile_half_F32
#define VT_MRV FASTSIG_MRVH_F32
#define VT_NV 1
#define VT_BYTES (FASTSIG_VECTOR_BYTES / 2)
#define VT_ROWS_NAME fastsig_vector_rows_half_F32
#include "vector_tile_template.h"
#define VT_T float
#define VT_NAME fastsig_vector_tile_one_F32
#define VT_MRV FASTSIG_MRV1_F32
#define VT_NV 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#define VT_ROWS_NAME fastsig_vector_rows_one_F32
#include "vector_tile_template.h"
#define VT_T float
#define VT_NAME fastsig_vector_tile_two_F32
#define VT_MRV FASTSIG_MRV2_F32
#define VT_NV 2
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T float
#define VT_NAME fastsig_vector_tile_one_half_F32
#define VT_MRV FASTSIG_MRV1H_F32
#define VT_NV 1
#define VT_HALF_LAST 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T float
#define VT_NAME fastsig_vector_tile_half_short_F32
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 1
#define VT_BYTES (FASTSIG_VECTOR_BYTES / 2)
#include "vector_tile_template.h"
#define VT_T float
#define VT_NAME fastsig_vector_tile_one_short_F32
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T float
#define VT_NAME fastsig_vector_tile_two_short_F32
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 2
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T float
#define VT_NAME fastsig_vector_tile_one_half_short_F32
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 1
#define VT_HALF_LAST 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
FASTSIG_VECTOR_TILE_SHORT(float, F32)
#define CK_T float
#define CK_INDEX int32_t
#define CK_NAME fastsig_column_kernel_F32
#define CK_BYTES FASTSIG_VECTOR_BYTES
#include "column_kernel_template.h"

#define VT_T double
#define VT_NAME fastsig_vector_tile_half_F64
#define VT_MRV FASTSIG_MRVH_F64
#define VT_NV 1
#define VT_BYTES (FASTSIG_VECTOR_BYTES / 2)
#define VT_ROWS_NAME fastsig_vector_rows_half_F64
#include "vector_tile_template.h"
#define VT_T double
#define VT_NAME fastsig_vector_tile_one_F64
#define VT_MRV FASTSIG_MRV1_F64
#define VT_NV 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#define VT_ROWS_NAME fastsig_vector_rows_one_F64
#include "vector_tile_template.h"
#define VT_T double
#define VT_NAME fastsig_vector_tile_two_F64
#define VT_MRV FASTSIG_MRV2_F64
#define VT_NV 2
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T double
#define VT_NAME fastsig_vector_tile_one_half_F64
#define VT_MRV FASTSIG_MRV1H_F64
#define VT_NV 1
#define VT_HALF_LAST 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T double
#define VT_NAME fastsig_vector_tile_half_short_F64
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 1
#define VT_BYTES (FASTSIG_VECTOR_BYTES / 2)
#include "vector_tile_template.h"
#define VT_T double
#define VT_NAME fastsig_vector_tile_one_short_F64
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T double
#define VT_NAME fastsig_vector_tile_two_short_F64
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 2
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
#define VT_T double
#define VT_NAME fastsig_vector_tile_one_half_short_F64
#define VT_MRV FASTSIG_MRV_SHORT
#define VT_NV 1
#define VT_HALF_LAST 1
#define VT_BYTES FASTSIG_VECTOR_BYTES
#include "vector_tile_template.h"
FASTSIG_VECTOR_TILE_SHORT(double, F64)
#define CK_T double
#define CK_INDEX int64_t
#define CK_NAME fastsig_column_kernel_F64
#define CK_BYTES FASTSIG_VECTOR_BYTES
#include "column_kernel_template.h"

#else

#define FASTSIG_VECTOR_TILE_STUBS(T, SUFFIX)                                            \
    static inline void fastsig_vector_tile_half_##SUFFIX(                               \
        ptrdiff_t kc, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const T* b, T* c,     \
        ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, int accumulate, const T* bias,   \
        int spill, const T* ahead, ptrdiff_t ahead_steps) { }                           \
    static inline void fastsig_vector_tile_one_##SUFFIX(                                \
        ptrdiff_t kc, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const T* b, T* c,     \
        ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, int accumulate, const T* bias,   \
        int spill, const T* ahead, ptrdiff_t ahead_steps) { }                           \
    static inline void fastsig_vector_tile_two_##SUFFIX(                                \
        ptrdiff_t kc, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const T* b, T* c,     \
        ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, int accumulate, const T* bias,   \
        int spill, const T* ahead, ptrdiff_t ahead_steps) { }                           \
    static inline void fastsig_vector_tile_one_half_##SUFFIX(                           \
        ptrdiff_t kc, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const T* b, T* c,     \
        ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, int accumulate, const T* bias,   \
        int spill, const T* ahead, ptrdiff_t ahead_steps) { }                           \
    static inline void fastsig_vector_tile_short_##SUFFIX(                              \
        int shape, ptrdiff_t kc, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const T* b, \
        T* c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, int accumulate,             \
        const T* bias, int spill) { }                                                   \
    static inline void fastsig_vector_rows_half_##SUFFIX(                               \
        ptrdiff_t rows, ptrdiff_t k, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs,        \
        const T* b, T* c, ptrdiff_t ldc, ptrdiff_t cols, const T* bias, int spill) { }  \
    static inline void fastsig_vector_rows_one_##SUFFIX(                                \
        ptrdiff_t rows, ptrdiff_t k, const T* a, ptrdiff_t a_rs, ptrdiff_t a_cs,        \
        const T* b, T* c, ptrdiff_t ldc, ptrdiff_t cols, const T* bias, int spill) { }  \
    static inline ptrdiff_t fastsig_column_kernel_##SUFFIX(                             \
        ptrdiff_t rows, ptrdiff_t k, ptrdiff_t m, const T* a, const T* b,               \
        ptrdiff_t ldb, T* c, const T* bias) { return 0; }                               \
    static inline int fastsig_column_kernel_##SUFFIX##_applies(ptrdiff_t k, ptrdiff_t m) \
        { return 0; }
FASTSIG_VECTOR_TILE_STUBS(float, F32)
FASTSIG_VECTOR_TILE_STUBS(double, F64)
#undef FASTSIG_VECTOR_TILE_STUBS

#define FASTSIG_MRV_SHORT 1
#endif /* FASTSIG_VECTOR_TILE */
#endif /* FASTSIG_VECTOR_TILE_H */
