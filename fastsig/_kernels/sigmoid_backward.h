/* fastsig: sigmoid_backward of float32, out = grad * s * (1 - s), over a span.
 *
 * Provides: fastsig_sigmoid_backward_F32(grad, s, out, n).
 * Uses: the AVX or AVX-512 intrinsics of <immintrin.h> in the avx2 and avx512 variants
 *   (unless FASTSIG_PORTABLE), plain C in the others.
 *
 * Each element is formed in double, (g * s) * (1 - s) with g and s widened, and rounded
 * once to float32 at the end: the same operations, so the same bits, as the scalar
 * sigmoid_backward_one of _sigmoid_math.pxd. Accuracy: g * s is exact in double; the
 * float32 result is within 1 ULP of the exact product.
 * 1. 4 floats (AVX) or 8 (AVX-512) are loaded and widened to a vector of doubles by one
 *    instruction, for grad and for s; two vectors a step.
 * 2. Three double operations a vector, then narrowed back to floats and stored.
 * 3. The tail of fewer than two vectors' elements: the scalar form.
 * Written out because gcc's own vectorization of the scalar loop widens and narrows
 * through extracts and inserts of 128-bit halves (figures: docs/performance.md,
 * "Elementwise and threads"). */
#ifndef FASTSIG_SIGMOID_BACKWARD_H
#define FASTSIG_SIGMOID_BACKWARD_H

#include <stddef.h>

static inline float fastsig_sigmoid_backward_one_F32(float grad, float s) {
    double sd = s;
    return (float)((double)grad * sd * (1.0 - sd));
}

#if (defined(__AVX512F__) || defined(__AVX__)) && !defined(FASTSIG_PORTABLE)
#include <immintrin.h>

/* Intrinsics, not GCC's vector extensions: gcc widens a vector of 4 floats through two
   2-lane conversions and an insert, where one vcvtps2pd from memory does it. */
#if defined(__AVX512F__)
#define FASTSIG_SBW_LANES 8
#define FASTSIG_SBW_DOUBLES __m512d
#define FASTSIG_SBW_WIDEN(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define FASTSIG_SBW_STORE(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
#define FASTSIG_SBW_MUL _mm512_mul_pd
#define FASTSIG_SBW_SUB _mm512_sub_pd
#define FASTSIG_SBW_ONE _mm512_set1_pd(1.0)
#else
#define FASTSIG_SBW_LANES 4
#define FASTSIG_SBW_DOUBLES __m256d
#define FASTSIG_SBW_WIDEN(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define FASTSIG_SBW_STORE(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
#define FASTSIG_SBW_MUL _mm256_mul_pd
#define FASTSIG_SBW_SUB _mm256_sub_pd
#define FASTSIG_SBW_ONE _mm256_set1_pd(1.0)
#endif

static inline void fastsig_sigmoid_backward_vector_F32(const float* grad, const float* s,
                                                       float* out) {
    const FASTSIG_SBW_DOUBLES g = FASTSIG_SBW_WIDEN(grad);
    const FASTSIG_SBW_DOUBLES sd = FASTSIG_SBW_WIDEN(s);
    FASTSIG_SBW_STORE(out, FASTSIG_SBW_MUL(FASTSIG_SBW_MUL(g, sd),
                                           FASTSIG_SBW_SUB(FASTSIG_SBW_ONE, sd)));
}

static void fastsig_sigmoid_backward_F32(const float* grad, const float* s, float* out,
                                         ptrdiff_t n) {
    enum { LANES = FASTSIG_SBW_LANES };
    ptrdiff_t i = 0;
    for (; i + 2 * LANES <= n; i += 2 * LANES) {
        fastsig_sigmoid_backward_vector_F32(grad + i, s + i, out + i);
        fastsig_sigmoid_backward_vector_F32(grad + i + LANES, s + i + LANES, out + i + LANES);
    }
    for (; i < n; i++)
        out[i] = fastsig_sigmoid_backward_one_F32(grad[i], s[i]);
}

#undef FASTSIG_SBW_LANES
#undef FASTSIG_SBW_DOUBLES
#undef FASTSIG_SBW_WIDEN
#undef FASTSIG_SBW_STORE
#undef FASTSIG_SBW_MUL
#undef FASTSIG_SBW_SUB
#undef FASTSIG_SBW_ONE

#else

/* The baseline and portable builds: the scalar loop, which the compiler vectorizes as it
   can. */
static void fastsig_sigmoid_backward_F32(const float* grad, const float* s, float* out,
                                         ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i < n; i++)
        out[i] = fastsig_sigmoid_backward_one_F32(grad[i], s[i]);
}

#endif

#endif /* FASTSIG_SIGMOID_BACKWARD_H */
