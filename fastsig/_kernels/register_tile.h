/* fastsig: the register tile, the micro-kernel of the matmul's large products.
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_register_tile_F32(kc, a, b, c, ldc, rows, cols, accumulate, bias)
 *   fastsig_register_tile_F32_in_place(kc, a, lda, b, c, ldc, rows, cols, accumulate,
 *                                      bias, next)
 *   fastsig_register_tile_F32_b_in_place(kc, a, b, ldb, c, ldc, rows, cols, accumulate,
 *                                        bias)
 *   fastsig_register_tile_F32_ahead(kc, a, b, c, ldc, cols, accumulate, bias, ahead,
 *                                   ahead_cs, ahead_steps)
 * Uses: isa.h (MR, NR, VECTOR_BYTES), GCC vector extensions; without them (MSVC,
 *   FASTSIG_PORTABLE) empty stubs that are never called (tiles.pxi then runs its
 *   Cython tile).
 *
 * C[rows, cols] (= or, with `accumulate`, +=) A[MR, kc] @ B[kc, NR] (+ bias[:cols]):
 * 1. B is packed (kc rows of NR values, zero past column `cols`) or, for products of
 *    few rows, read where it lies (row p at b + p*ldb, NR columns there). A is packed
 *    (step p at a + p*MR) or read where it lies (row i at a + i*lda, contiguous in
 *    depth); not both in place.
 * 2. The MR x NV accumulators (NV = NR / lanes) are locals that gcc keeps in vector
 *    registers, started at 0; each step p broadcasts A[i, p] against row p of B, one
 *    multiply-add per element, in increasing p: the order every kernel sums in.
 * 3. A whole tile is stored (or added) a vector a row, the bias added after the sum;
 *    an edge tile (rows < MR or cols < NR; A's rows past `rows` zero or readable)
 *    element by element, so nothing outside C[rows, cols] is written (a whole panel of
 *    rows read in place, float32, by masked loads and stores where the ISA has them:
 *    FASTSIG_MASKED_EDGE).
 *    A last panel of B narrower than NR takes only the vectors it has.
 * 4. Whole tiles prefetch C's lines for writing, and a tile reading A in place
 *    prefetches the next A panel (`next`) a line a step; the `_ahead` tile (A and B
 *    packed, MR rows) fetches into L2 a line a step of memory its caller names: the lines
 *    the next depth block's packing of A reads. */
#ifndef FASTSIG_REGISTER_TILE_H
#define FASTSIG_REGISTER_TILE_H

#include <stddef.h>
#include <string.h>

#include "isa.h"

#if FASTSIG_VECTOR_TILE

#define RT_T float
#define RT_NAME fastsig_register_tile_F32
#define RT_MR FASTSIG_MR_F32
#define RT_NV (int)(FASTSIG_NR_F32 / (FASTSIG_VECTOR_BYTES / sizeof(float)))
#define RT_BYTES FASTSIG_VECTOR_BYTES
#include "register_tile_template.h"

#define RT_T double
#define RT_NAME fastsig_register_tile_F64
#define RT_MR FASTSIG_MR_F64
#define RT_NV (int)(FASTSIG_NR_F64 / (FASTSIG_VECTOR_BYTES / sizeof(double)))
#define RT_BYTES FASTSIG_VECTOR_BYTES
#include "register_tile_template.h"

#else

#define FASTSIG_REGISTER_TILE_STUBS(T, SUFFIX)                                          \
    static inline void fastsig_register_tile_##SUFFIX(                                  \
        ptrdiff_t kc, const T* a, const T* b, T* c, ptrdiff_t ldc, ptrdiff_t rows,      \
        ptrdiff_t cols, int accumulate, const T* bias) { }                              \
    static inline void fastsig_register_tile_##SUFFIX##_in_place(                       \
        ptrdiff_t kc, const T* a, ptrdiff_t lda, const T* b, T* c, ptrdiff_t ldc,       \
        ptrdiff_t rows, ptrdiff_t cols, int accumulate, const T* bias, const T* next) { } \
    static inline void fastsig_register_tile_##SUFFIX##_b_in_place(                     \
        ptrdiff_t kc, const T* a, const T* b, ptrdiff_t ldb, T* c, ptrdiff_t ldc,       \
        ptrdiff_t rows, ptrdiff_t cols, int accumulate, const T* bias) { }              \
    static inline void fastsig_register_tile_##SUFFIX##_ahead(                          \
        ptrdiff_t kc, const T* a, const T* b, T* c, ptrdiff_t ldc, ptrdiff_t cols,      \
        int accumulate, const T* bias, const T* ahead, ptrdiff_t ahead_cs,              \
        ptrdiff_t ahead_steps) { }
FASTSIG_REGISTER_TILE_STUBS(float, F32)
FASTSIG_REGISTER_TILE_STUBS(double, F64)
#undef FASTSIG_REGISTER_TILE_STUBS

#endif /* FASTSIG_VECTOR_TILE */
#endif /* FASTSIG_REGISTER_TILE_H */
