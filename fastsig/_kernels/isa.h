/* fastsig: the one table of per-ISA constants.
 *
 * Provides: FASTSIG_COMPILED_ISA, the register tile (MR x NR), the transposed tile
 *   (MRT x NRT), whether the register tile reads A in place (A_IN_PLACE), and the vector
 *   tile (FASTSIG_VECTOR_TILE, VECTOR_BYTES, HALF_TILE, MRV rows of each shape, LANES),
 *   each per dtype (_F32, _F64); FASTSIG_MIN and FASTSIG_CAT for the other headers.
 * Uses: the macros the compiler predefines for its target (__AVX512F__, __AVX2__,
 *   __FMA__, __GNUC__) and FASTSIG_PORTABLE (setup.py).
 *
 * setup.py compiles the kernels once per target: baseline x86-64 (or any other
 * architecture), AVX2 + FMA, AVX-512 F/DQ/BW/VL. Rules for the numbers:
 * - a tile must fit the vector registers with its B row: MR * NV + NV <= 32 zmm on
 *   AVX-512, <= 16 ymm or xmm on AVX2 and the baseline (NV = NR / lanes); a tile that
 *   spills runs several times slower;
 * - the FMA tiles hold 12 accumulators or more (float64 on AVX2: 6 x 8, not 4 x 8): two
 *   FMA units at a latency of 4 cycles need 8 sums in flight, and 8 leave none to spare;
 * - NR = 32 on AVX-512 divides the layer widths people use (32, 64, 256) without a
 *   ragged last panel;
 * - A_IN_PLACE only where the register tile keeps its registers with a runtime row
 *   stride for A (gcc spills float64 on AVX2 and everything on the baseline);
 * - the vector tile's MRV rows keep every accumulator in registers; HALF_TILE (half a
 *   vector a row, and one and a half) only on AVX-512: a C of at most half a vector's
 *   columns then runs in ymm, and one of at most one and a half in a zmm and a ymm,
 *   which cores that issue 256-bit FMAs more often than 512-bit ones (Zen 4) do faster
 *   and cores with two 512-bit FMA units no slower (MRV1H: its rows).
 * The measurements behind them: docs/performance.md. */
#ifndef FASTSIG_ISA_H
#define FASTSIG_ISA_H

#if defined(__AVX512F__)
#define FASTSIG_COMPILED_ISA "avx512"
#define FASTSIG_MR_F64 6
#define FASTSIG_NR_F64 32
#define FASTSIG_MR_F32 12
#define FASTSIG_NR_F32 32
#define FASTSIG_MRT_F64 24
#define FASTSIG_NRT_F64 8
#define FASTSIG_MRT_F32 32
#define FASTSIG_NRT_F32 8
#define FASTSIG_A_IN_PLACE_F64 1
#define FASTSIG_A_IN_PLACE_F32 1
#define FASTSIG_VECTOR_BYTES 64
#define FASTSIG_HALF_TILE 1
#define FASTSIG_MRVH_F32 12
#define FASTSIG_MRV1_F32 12
#define FASTSIG_MRV2_F32 6
#define FASTSIG_MRVH_F64 12
#define FASTSIG_MRV1_F64 8
#define FASTSIG_MRV2_F64 8
#define FASTSIG_MRV1H_F32 12
#define FASTSIG_MRV1H_F64 8
#elif defined(__AVX2__) && defined(__FMA__)
#define FASTSIG_COMPILED_ISA "avx2"
#define FASTSIG_MR_F64 6
#define FASTSIG_NR_F64 8
#define FASTSIG_MR_F32 4
#define FASTSIG_NR_F32 24
#define FASTSIG_MRT_F64 8
#define FASTSIG_NRT_F64 4
#define FASTSIG_MRT_F32 24
#define FASTSIG_NRT_F32 4
#define FASTSIG_A_IN_PLACE_F64 0
#define FASTSIG_A_IN_PLACE_F32 1
#define FASTSIG_VECTOR_BYTES 32
#define FASTSIG_HALF_TILE 0
#define FASTSIG_MRVH_F32 1
#define FASTSIG_MRV1_F32 12
#define FASTSIG_MRV2_F32 4
#define FASTSIG_MRVH_F64 1
#define FASTSIG_MRV1_F64 12
#define FASTSIG_MRV2_F64 4
#define FASTSIG_MRV1H_F32 1
#define FASTSIG_MRV1H_F64 1
#else
#define FASTSIG_COMPILED_ISA "baseline"
#define FASTSIG_MR_F64 4
#define FASTSIG_NR_F64 4
#define FASTSIG_MR_F32 4
#define FASTSIG_NR_F32 8
#define FASTSIG_MRT_F64 4
#define FASTSIG_NRT_F64 4
#define FASTSIG_MRT_F32 8
#define FASTSIG_NRT_F32 4
#define FASTSIG_A_IN_PLACE_F64 0
#define FASTSIG_A_IN_PLACE_F32 0
#define FASTSIG_VECTOR_BYTES 16
#define FASTSIG_HALF_TILE 0
#define FASTSIG_MRVH_F32 1
#define FASTSIG_MRV1_F32 6
#define FASTSIG_MRV2_F32 4
#define FASTSIG_MRVH_F64 1
#define FASTSIG_MRV1_F64 4
#define FASTSIG_MRV2_F64 4
#define FASTSIG_MRV1H_F32 1
#define FASTSIG_MRV1H_F64 1
#endif

/* The C tiles (register tile, vector tile, column sums) are written with GCC's vector
   extensions. A compiler without them (MSVC), or a build with FASTSIG_PORTABLE (to test
   that path with gcc), gets the Cython tiles instead and never takes the vector tile:
   its constants are then placeholders. The bits are the same either way. */
#if defined(__GNUC__) && !defined(FASTSIG_PORTABLE)
#define FASTSIG_VECTOR_TILE 1
#else
#define FASTSIG_VECTOR_TILE 0
#undef FASTSIG_VECTOR_BYTES
#undef FASTSIG_HALF_TILE
#undef FASTSIG_MRVH_F32
#undef FASTSIG_MRV1_F32
#undef FASTSIG_MRV2_F32
#undef FASTSIG_MRVH_F64
#undef FASTSIG_MRV1_F64
#undef FASTSIG_MRV2_F64
#undef FASTSIG_MRV1H_F32
#undef FASTSIG_MRV1H_F64
#define FASTSIG_VECTOR_BYTES 16
#define FASTSIG_HALF_TILE 0
#define FASTSIG_MRVH_F32 1
#define FASTSIG_MRV1_F32 1
#define FASTSIG_MRV2_F32 1
#define FASTSIG_MRVH_F64 1
#define FASTSIG_MRV1_F64 1
#define FASTSIG_MRV2_F64 1
#define FASTSIG_MRV1H_F32 1
#define FASTSIG_MRV1H_F64 1
#endif

/* Whether a whole panel of rows of A read in place ends at a column edge within a float32
   vector of C by masked loads and stores (AVX-512's masks: register_tile_template.h,
   RT(_in_place)) rather than lane by lane from the register. */
#if FASTSIG_VECTOR_TILE && defined(__AVX512F__) && FASTSIG_VECTOR_BYTES == 64
#define FASTSIG_MASKED_EDGE 1
#else
#define FASTSIG_MASKED_EDGE 0
#endif
/* The register tile's `masked` (register_tile_template.h): B's and C's vectors masked (B
   in place), or C's only (B packed, its lanes past the columns 0). */
#define FASTSIG_MASKED_B 1
#define FASTSIG_MASKED_C 2

#define FASTSIG_LANES_F32 (FASTSIG_VECTOR_BYTES / 4)
#define FASTSIG_LANES_F64 (FASTSIG_VECTOR_BYTES / 8)

#define FASTSIG_MIN(x, y) ((x) < (y) ? (x) : (y))
#define FASTSIG_CAT_(a, b) a##b
#define FASTSIG_CAT(a, b) FASTSIG_CAT_(a, b)

#endif /* FASTSIG_ISA_H */
