/* fastsig: the FMA peak probe, a loop of independent multiply-adds and nothing else.
 *
 * Provides, per dtype (F32, F64):
 *   double fastsig_fma_probe_F32(long long iterations)
 *     runs `iterations` steps of FASTSIG_PROBE_CHAINS independent vector multiply-adds
 *     and returns the floating-point operations done (2 a lane a multiply-add), for the
 *     caller to divide by the time it took: this kernel variant's peak on one core.
 * Uses: isa.h (VECTOR_BYTES, FASTSIG_VECTOR_TILE), GCC vector extensions; without them
 *   (MSVC, FASTSIG_PORTABLE) the same loop on scalars, which is then this build's peak.
 *
 * 1. The chains hide the multiply-add's latency: a core issuing F per cycle with latency
 *    L needs F*L chains in flight (2 x 4 = 8 on Zen 3/4 and Intel's two-unit cores); 12
 *    (24 with 32 vector registers, AVX-512) leave a margin and still fit the registers.
 * 2. acc = acc * mul + add with |mul| < 1 stays finite and normal however many steps run,
 *    so no step takes a slow path; the compiler may not reassociate (no -ffast-math) and
 *    contracts each step into one FMA where the ISA has it (the baseline: a multiply and
 *    an add, counted as the same two operations).
 * 3. The sums decide the sign of the result, so that the loop cannot be dropped as
 *    dead. */
#ifndef FASTSIG_FMA_PEAK_H
#define FASTSIG_FMA_PEAK_H

#include <stddef.h>
#include <string.h>

#include "isa.h"

#if FASTSIG_VECTOR_BYTES >= 64
#define FASTSIG_PROBE_CHAINS 24
#else
#define FASTSIG_PROBE_CHAINS 12
#endif

#if FASTSIG_VECTOR_TILE
#define FASTSIG_PROBE_LANES(T) (FASTSIG_VECTOR_BYTES / sizeof(T))
#define FASTSIG_PROBE_VECTOR(T, NAME) \
    typedef T NAME __attribute__((vector_size(FASTSIG_VECTOR_BYTES)));
#else
#define FASTSIG_PROBE_LANES(T) 1
#define FASTSIG_PROBE_VECTOR(T, NAME) typedef T NAME;
#endif

#define FASTSIG_FMA_PROBE(T, SUFFIX)                                                       \
FASTSIG_PROBE_VECTOR(T, fastsig_probe_##SUFFIX##_vector)                                   \
static double fastsig_fma_probe_##SUFFIX(long long iterations) {                           \
    fastsig_probe_##SUFFIX##_vector acc[FASTSIG_PROBE_CHAINS];                             \
    const fastsig_probe_##SUFFIX##_vector mul = {0}, add = {0};                            \
    fastsig_probe_##SUFFIX##_vector m = mul + (T)0.999999, a = add + (T)1e-3;              \
    T lanes[FASTSIG_PROBE_LANES(T)], total = 0;                                            \
    long long it;                                                                          \
    int c;                                                                                 \
    size_t j;                                                                              \
    for (c = 0; c < FASTSIG_PROBE_CHAINS; c++)                                             \
        acc[c] = mul + (T)(c + 1);                                                         \
    for (it = 0; it < iterations; it++) {                                                  \
        _Pragma("GCC unroll 32")                                                           \
        for (c = 0; c < FASTSIG_PROBE_CHAINS; c++)                                         \
            acc[c] = acc[c] * m + a;                                                       \
    }                                                                                      \
    for (c = 0; c < FASTSIG_PROBE_CHAINS; c++) {                                           \
        memcpy(lanes, &acc[c], sizeof lanes);                                              \
        for (j = 0; j < FASTSIG_PROBE_LANES(T); j++)                                       \
            total += lanes[j];                                                             \
    }                                                                                      \
    /* total is finite and positive: the operations counted are the result's only use */  \
    return (total > 0 ? 2.0 : -2.0) * (double)iterations * FASTSIG_PROBE_CHAINS            \
        * (double)FASTSIG_PROBE_LANES(T);                                                  \
}

FASTSIG_FMA_PROBE(float, F32)
FASTSIG_FMA_PROBE(double, F64)
#undef FASTSIG_FMA_PROBE
#undef FASTSIG_PROBE_VECTOR

#endif /* FASTSIG_FMA_PEAK_H */
