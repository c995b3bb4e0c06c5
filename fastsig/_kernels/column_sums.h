/* fastsig: the column-sum kernel of dense_backward (db, and dw for narrow layers).
 *
 * Provides, per dtype (F32, F64):
 *   fastsig_column_sums_F32(rows, k, x, ldx, dy, m, dw, db, fetch)
 * Uses: vector_tile.h (the one-vector tile's vector type), isa.h, __builtin_prefetch
 *   (GCC, Clang; nothing elsewhere); without vector extensions an empty stub that is
 *   never called (plan.pxi never chooses it).
 *
 * db[j] += sum_i dy[i, j] (when db is not NULL) and dw[p, j] += sum_i x[i, p] dy[i, j]
 * for p < k, over `rows` rows of dy, which is at most two vectors (2 NRV) wide and
 * readable up to a whole vector past its last row; x's rows ldx apart, dw's m.
 * 1. The rows of dw go COLUMN_GROUP / nv at a time (nv: dy's vectors a row), each held
 *    in nv vector registers beside db's, broadcasting x[i, p] against row i of dy.
 * 2. The rows of x go in chunks of about COLUMN_CHUNK bytes, so that a chunk of x and
 *    dy stays in L1 for the groups after the first.
 * 3. Each lane is a running sum over the rows in order, from what dw and db held: the
 *    bits of plain loops, whatever the chunks and groups.
 * With fetch (an x from memory: plan.pxi, _column_sums_fetch), each row of a chunk also
 *    fetches into L2 the same place a chunk on: the first group of a chunk otherwise
 *    waits on the memory for each row, a stride the prefetchers follow slowly. A fetch
 *    changes no sum. */
#ifndef FASTSIG_COLUMN_SUMS_H
#define FASTSIG_COLUMN_SUMS_H

#include <stddef.h>
#include <string.h>

#include "isa.h"
#include "vector_tile.h"

#define FASTSIG_COLUMN_GROUP 8          /* rows of dw in registers, for one vector of dy */
#define FASTSIG_COLUMN_CHUNK 16384      /* bytes of x in a chunk, about */

#if defined(__GNUC__) || defined(__clang__)
#define FASTSIG_FETCH_L2(p) __builtin_prefetch((p), 0, 2)   /* for reading, into L2 */
#else
#define FASTSIG_FETCH_L2(p) ((void)(p))
#endif

#if FASTSIG_VECTOR_TILE

#define CS_T float
#define CS_NAME fastsig_column_sums_F32
#define CS_TILE fastsig_vector_tile_one_F32
#include "column_sums_template.h"

#define CS_T double
#define CS_NAME fastsig_column_sums_F64
#define CS_TILE fastsig_vector_tile_one_F64
#include "column_sums_template.h"

#else

static inline void fastsig_column_sums_F32(ptrdiff_t rows, ptrdiff_t k, const float* x,
                                           ptrdiff_t ldx, const float* dy, ptrdiff_t m,
                                           float* dw, float* db, int fetch) { }
static inline void fastsig_column_sums_F64(ptrdiff_t rows, ptrdiff_t k, const double* x,
                                           ptrdiff_t ldx, const double* dy, ptrdiff_t m,
                                           double* dw, double* db, int fetch) { }

#endif /* FASTSIG_VECTOR_TILE */
#endif /* FASTSIG_COLUMN_SUMS_H */
