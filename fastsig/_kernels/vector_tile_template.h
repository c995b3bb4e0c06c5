/* fastsig: one shape of the vector tile, and its row kernel, included by vector_tile.h
 * once per dtype and shape (no include guard, on purpose). Parameters, #defined by the
 * includer and #undef'd after: VT_T (float or double), VT_NAME (the tile's name), VT_MRV
 * (rows), VT_NV (vectors a row), VT_BYTES (bytes of a vector), VT_HALF_LAST (optional, 1:
 * a row is VT_NV vectors and then half a vector), and VT_ROWS_NAME (the row kernel's
 * name) for the shapes of at most one vector (half and one), which have one. */

#define VT(suffix) FASTSIG_CAT(VT_NAME, suffix)
#ifndef VT_HALF_LAST
#define VT_HALF_LAST 0
#endif

#define VEC_T VT_T
#define VEC_NAME VT_NAME
#define VEC_BYTES VT_BYTES
#include "vector_template.h"
/* The half vector that ends a row where VT_HALF_LAST (declared in every instance: in
   the others a whole vector, never used). */
#define VEC_T VT_T
#define VEC_NAME VT(_half)
#define VEC_BYTES (VT_HALF_LAST ? VT_BYTES / 2 : VT_BYTES)
#include "vector_template.h"

static void VT_NAME(ptrdiff_t kc, const VT_T* __restrict a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                    const VT_T* __restrict b, VT_T* __restrict c, ptrdiff_t ldc,
                    ptrdiff_t rows, ptrdiff_t cols, int accumulate,
                    const VT_T* __restrict bias, int spill, const VT_T* ahead,
                    ptrdiff_t ahead_steps) {
    enum { LANES = VT_BYTES / sizeof(VT_T), WHOLE = VT_NV * LANES,
           NRV = WHOLE + VT_HALF_LAST * (LANES / 2) };
    VT(_vector) acc[VT_MRV][VT_NV], brow[VT_NV], bvec[VT_NV];
    /* The half vector of each row (VT_HALF_LAST only; `if` on the constant, so the other
       instances compile none of it). */
    VT(_half_vector) acc_half[VT_MRV], bhalf = {0}, bhalf_bias = {0};
    VT_T lanes[NRV];
    ptrdiff_t p, i, j, v, full, fetched;
    VT_T ai;
    /* Every loop over acc's rows has a constant trip count and GCC's unroll pragma, so
       that every index into acc is a constant and gcc keeps it in registers (an index
       that varies at run time puts acc on the stack: zeroed there, stored at the end of
       the depth loop and read back, on every call). */
    _Pragma("GCC unroll 16")
    for (i = 0; i < VT_MRV; i++) {
        for (v = 0; v < VT_NV; v++)
            acc[i][v] = (VT(_vector)){0};
        acc_half[i] = (VT(_half_vector)){0};
    }
    /* Step p: B's row p against A's column p. The steps that fetch (vector_tile.h, step
       3) are a loop of their own, so that the others test nothing. */
#define VT_STEP(p)                                                                      \
    do {                                                                                \
        for (v = 0; v < VT_NV; v++)                                                     \
            brow[v] = VT(_load)(b + (p) * NRV + v * LANES);                             \
        if (VT_HALF_LAST)                                                               \
            bhalf = VT(_half_load)(b + (p) * NRV + WHOLE);                              \
        _Pragma("GCC unroll 16")                                                        \
        for (i = 0; i < VT_MRV; i++) {                                                  \
            ai = a[i * a_rs + (p) * a_cs];                                              \
            for (v = 0; v < VT_NV; v++)                                                 \
                acc[i][v] += ai * brow[v];                                              \
            if (VT_HALF_LAST)                                                           \
                acc_half[i] += ai * bhalf;                                              \
        }                                                                               \
    } while (0)
    fetched = ahead_steps < kc ? ahead_steps : kc;
    for (p = 0; p < fetched; p++) {
        __builtin_prefetch(ahead + p * a_cs, 0, 2);
        VT_STEP(p);
    }
    for (; p < kc; p++)
        VT_STEP(p);
#undef VT_STEP
    /* The bias (NRV values, zero-padded), added after the sum of the products and what
       C held, as the other kernels' epilogue adds it. */
    for (v = 0; v < VT_NV; v++)
        bvec[v] = bias ? VT(_load)(bias + v * LANES) : (VT(_vector)){0};
    if (VT_HALF_LAST && bias)
        bhalf_bias = VT(_half_load)(bias + WHOLE);
    /* Rows [0, full) take whole vectors: all rows when cols == NRV; else, when storing
       into contiguous rows, those whose lanes past `cols` land on a later row of the
       tile, or all of them where the caller lets the last rows spill (onto rows it
       writes later). A fixed trip count, unrolled, so that every acc[i] stays a
       register; the conditions are the same for every row, so gcc unswitches them. */
    full = cols == NRV ? rows
         : (accumulate || ldc != cols) ? 0
         : spill ? rows
         : rows * ldc >= NRV ? (rows * ldc - NRV) / ldc + 1 : 0;
    _Pragma("GCC unroll 16")
    for (i = 0; i < VT_MRV; i++) {
        if (i >= full)
            break;
        for (v = 0; v < VT_NV; v++) {
            brow[v] = accumulate
                ? VT(_load)(c + i * ldc + v * LANES) + acc[i][v] : acc[i][v];
            VT(_store)(c + i * ldc + v * LANES, bias ? brow[v] + bvec[v] : brow[v]);
        }
        if (VT_HALF_LAST) {
            bhalf = accumulate
                ? VT(_half_load)(c + i * ldc + WHOLE) + acc_half[i] : acc_half[i];
            VT(_half_store)(c + i * ldc + WHOLE, bias ? bhalf + bhalf_bias : bhalf);
        }
    }
    /* The rest, rows [full, rows), lane by lane through `lanes`. */
    _Pragma("GCC unroll 16")
    for (i = 0; i < VT_MRV; i++) {
        if (i < full || i >= rows)
            continue;
        for (v = 0; v < VT_NV; v++)
            VT(_store)(lanes + v * LANES, acc[i][v]);
        if (VT_HALF_LAST)
            VT(_half_store)(lanes + WHOLE, acc_half[i]);
        for (j = 0; j < cols; j++) {
            ai = accumulate ? c[i * ldc + j] + lanes[j] : lanes[j];
            c[i * ldc + j] = bias ? ai + bias[j] : ai;
        }
    }
}

#ifdef VT_ROWS_NAME
/* The row kernel, for a depth k <= 4 (a layer of 2 inputs, say), where a tile's set-up
   and stores cost more than its few products: B's k rows stay in registers and each row
   of C is one vector, summed in the tile's order (from 0, p increasing), the bias added
   after. Stores as the tile's, never accumulating. */
static void VT_ROWS_NAME(ptrdiff_t rows, ptrdiff_t k, const VT_T* __restrict a,
                         ptrdiff_t a_rs, ptrdiff_t a_cs, const VT_T* __restrict b,
                         VT_T* __restrict c, ptrdiff_t ldc, ptrdiff_t cols,
                         const VT_T* __restrict bias, int spill) {
    enum { NRV = sizeof(VT(_vector)) / sizeof(VT_T) };
    const VT(_vector) zero = {0};
    VT(_vector) w0 = VT(_load)(b), w1 = zero, w2 = zero, w3 = zero, bv = zero;
    VT(_vector) acc;
    VT_T lanes[NRV];
    const VT_T* ar;
    ptrdiff_t i, j, full;
    if (k > 1) w1 = VT(_load)(b + NRV);
    if (k > 2) w2 = VT(_load)(b + 2 * NRV);
    if (k > 3) w3 = VT(_load)(b + 3 * NRV);
    if (bias) bv = VT(_load)(bias);
    full = cols == NRV ? rows
         : ldc != cols ? 0
         : spill ? rows
         : rows * ldc >= NRV ? (rows * ldc - NRV) / ldc + 1 : 0;
    for (i = 0; i < rows; i++) {
        ar = a + i * a_rs;
        acc = zero;
        acc += ar[0] * w0;
        if (k > 1) acc += ar[a_cs] * w1;
        if (k > 2) acc += ar[2 * a_cs] * w2;
        if (k > 3) acc += ar[3 * a_cs] * w3;
        if (bias) acc += bv;
        if (i < full) {
            VT(_store)(c + i * ldc, acc);
        } else {
            VT(_store)(lanes, acc);
            for (j = 0; j < cols; j++)
                c[i * ldc + j] = lanes[j];
        }
    }
}
#endif /* VT_ROWS_NAME */

#undef VT
#undef VT_T
#undef VT_NAME
#undef VT_ROWS_NAME
#undef VT_MRV
#undef VT_NV
#undef VT_BYTES
#undef VT_HALF_LAST
