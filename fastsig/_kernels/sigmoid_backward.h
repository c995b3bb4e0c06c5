/* fastsig: sigmoid_backward of float32, out = grad * s * (1 - s), over a span.
 *
 * Provides: fastsig_sigmoid_backward_F32(grad, s, out, n).
 * Uses: fmaf, and the AVX-512 F or AVX intrinsics of <immintrin.h> in the avx512 and avx2
 *   variants (unless FASTSIG_PORTABLE); plain C in the others.
 * Targets: AVX-512 F, DQ, VL + FMA (the float32 form, 16 lanes), AVX (the double form, 4
 *   lanes), scalar C of the same form as its variant's vectors.
 *
 * Accuracy: max 1 ULP from the exact grad * s * (1 - s) for 0 <= s <= 1 in both forms:
 * one rounding to float32 of a value within 2^-21 ULP of the exact product.
 *
 * The double form (the baseline and avx2 variants, _sigmoid_math.pxd's
 * sigmoid_backward_one): g and s widened, (g * s) * (1 - s), rounded once to float32;
 * g * s is exact in double.
 *
 * The float32 form (the avx512 variant: FASTSIG_SBW_FLOAT32_FORM, where __AVX512F__ and
 * __FMA__; in vectors where also AVX-512 DQ and VL), by error-free transformations,
 * nothing widened:
 * 1. g * s = ph + pl exactly: ph = g * s rounded, pl = fma(g, s, -ph).
 * 2. 1 - s = t + tl exactly: t = 1 - s rounded, tl = (1 - t) - s (Fast2Sum, 1 >= s).
 * 3. r = fma(ph, t, fma(ph, tl, pl * t)): ph * t and the two first-order terms, rounded
 *    once; the dropped pl * tl and the two inner roundings are within 2^-46 of the
 *    product.
 * 4. r's sign bit is set to that of ph * t (ph's xor t's): the exact product's, and the
 *    one the double form gives its zeros (g or s zero, s == 1, g * s below the smallest
 *    subnormal), which step 3's sums of zeros need not have (and a compiler may fold
 *    -fma(-a, b, c) into fma(a, b, -c), which changes only a zero's sign).
 * 5. A lane with 0 < |ph| < 2^-80 (pl and pl * t would round among the subnormals) or a
 *    result that is not finite (an infinity or NaN in, or s far outside [0, 1]) is "hard"
 *    and takes the double form instead. Hard lanes are rare: a block of 4 vectors is
 *    tested at once (the least bits(|ph|) - 1 and the largest bits(|r|), unsigned) and
 *    formed again vector by vector if it has one. The rule is the lane's own: an
 *    element's bits never depend on its neighbours, its place in a block, a vector or
 *    the tail (masked loads and store), or the thread count.
 * For 0 <= s <= 1 the two forms give the same bits except where the exact product lies
 * within about 2^-46 of a float32 halfway point, and the special values (zeros of both
 * signs, infinities, NaN) alike. (For s < 0, where |1 - s| > 1, a g * s below the smallest
 * subnormal gives the float32 form a zero where the double form may round to the
 * smallest subnormal.)
 * Why two forms: per 16 results the double form converts six vectors (two widened per
 * input, two narrowed) besides its six operations; a core that runs a 512-bit conversion
 * as two halves (Zen 4) does the float32 form faster, one with two 512-bit FMA units
 * about as fast. In AVX2, without unsigned compares into masks or ternary logic, the
 * float32 form takes more instructions than the 4-lane double form, which the avx2
 * variant keeps (figures: docs/performance.md, "The float32 sigmoid_backward without
 * widening").
 */
#ifndef FASTSIG_SIGMOID_BACKWARD_H
#define FASTSIG_SIGMOID_BACKWARD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float fastsig_sigmoid_backward_double_F32(float grad, float s) {
    double sd = s;
    return (float)((double)grad * sd * (1.0 - sd));
}

#if defined(__AVX512F__) && defined(__FMA__)
#define FASTSIG_SBW_FLOAT32_FORM 1
#else
#define FASTSIG_SBW_FLOAT32_FORM 0
#endif

#if FASTSIG_SBW_FLOAT32_FORM

/* Step 5's bounds on bits(|x|): hard where bits(|ph|) - 1 < TINY_BITS - 1 (unsigned, so
   a zero wraps to the top and is not hard) or bits(|r|) > MAX_BITS. */
#define FASTSIG_SBW_TINY_BITS 0x17800000u /* 2^-80 */
#define FASTSIG_SBW_MAX_BITS 0x7F7FFFFFu  /* FLT_MAX */
#define FASTSIG_SBW_SIGN_BIT 0x80000000u

static inline uint32_t fastsig_sbw_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float fastsig_sigmoid_backward_one_F32(float grad, float s) {
    const float ph = grad * s, pl = fmaf(grad, s, -ph);
    const float t = 1.0f - s, tl = (1.0f - t) - s;
    const float r = fmaf(ph, t, fmaf(ph, tl, pl * t));
    uint32_t r_bits = fastsig_sbw_bits(r) & ~FASTSIG_SBW_SIGN_BIT;
    float signed_r;
    if ((fastsig_sbw_bits(ph) & ~FASTSIG_SBW_SIGN_BIT) - 1u < FASTSIG_SBW_TINY_BITS - 1u ||
        r_bits > FASTSIG_SBW_MAX_BITS)
        return fastsig_sigmoid_backward_double_F32(grad, s);
    r_bits |= (fastsig_sbw_bits(ph) ^ fastsig_sbw_bits(t)) & FASTSIG_SBW_SIGN_BIT;
    memcpy(&signed_r, &r_bits, sizeof signed_r);
    return signed_r;
}

#else

static inline float fastsig_sigmoid_backward_one_F32(float grad, float s) {
    return fastsig_sigmoid_backward_double_F32(grad, s);
}

#endif

#if FASTSIG_SBW_FLOAT32_FORM && defined(__AVX512DQ__) && defined(__AVX512VL__) && \
    !defined(FASTSIG_PORTABLE)
#include <immintrin.h>

enum { FASTSIG_SBW_LANES = 16, FASTSIG_SBW_BLOCK = 4 };

/* Steps 1-4 for 16 lanes; the bits of |ph| less one and of |r| for step 5. */
static inline __m512 fastsig_sbw_product(__m512 g, __m512 s, __m512i* ph_bits_less_one,
                                         __m512i* r_bits) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    const __m512 ph = _mm512_mul_ps(g, s), pl = _mm512_fmsub_ps(g, s, ph);
    const __m512 t = _mm512_sub_ps(one, s), tl = _mm512_sub_ps(_mm512_sub_ps(one, t), s);
    const __m512 r = _mm512_fmadd_ps(ph, t, _mm512_fmadd_ps(ph, tl, _mm512_mul_ps(pl, t)));
    *ph_bits_less_one = _mm512_sub_epi32(
        _mm512_and_si512(_mm512_castps_si512(ph), magnitude), _mm512_set1_epi32(1));
    *r_bits = _mm512_and_si512(_mm512_castps_si512(r), magnitude);
    /* 0xF8: A | (B & C), |r| with the sign bit of ph xor t */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        *r_bits, _mm512_castps_si512(_mm512_xor_ps(ph, t)),
        _mm512_set1_epi32((int)FASTSIG_SBW_SIGN_BIT), 0xF8));
}

static inline __mmask16 fastsig_sbw_hard_lanes(__m512i ph_bits_less_one, __m512i r_bits) {
    return _mm512_cmplt_epu32_mask(ph_bits_less_one,
                                   _mm512_set1_epi32((int)(FASTSIG_SBW_TINY_BITS - 1u))) |
           _mm512_cmpgt_epu32_mask(r_bits, _mm512_set1_epi32((int)FASTSIG_SBW_MAX_BITS));
}

/* The double form into the hard lanes of r, of `lanes` (a mask of the lanes there are)
   at grad and s; no lane outside `lanes` is read. */
static inline __m512 fastsig_sbw_fix_lanes(__m512 r, __mmask16 hard, __mmask16 lanes,
                                           const float* grad, const float* s) {
    const __m512d one = _mm512_set1_pd(1.0);
    const __mmask8 low = (__mmask8)lanes, high = (__mmask8)(lanes >> 8);
    const __m512d g0 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(low, grad));
    const __m512d g1 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(high, grad + 8));
    const __m512d s0 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(low, s));
    const __m512d s1 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(high, s + 8));
    const __m256 d0 = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(g0, s0), _mm512_sub_pd(one, s0)));
    const __m256 d1 = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(g1, s1), _mm512_sub_pd(one, s1)));
    const __m512 d = _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castpd256_pd512(_mm256_castps_pd(d0)), _mm256_castps_pd(d1), 1));
    return _mm512_mask_mov_ps(r, hard, d);
}

/* The lanes `lanes` of 16 at grad and s into a register, by masked loads (no other lane
   is read): steps 1-5, the hard lanes by the double form. */
static inline __m512 fastsig_sbw_vector(const float* grad, const float* s, __mmask16 lanes) {
    __m512i ph_bits_less_one, r_bits;
    const __m512 r = fastsig_sbw_product(_mm512_maskz_loadu_ps(lanes, grad),
                                         _mm512_maskz_loadu_ps(lanes, s), &ph_bits_less_one,
                                         &r_bits);
    const __mmask16 hard = fastsig_sbw_hard_lanes(ph_bits_less_one, r_bits) & lanes;
    return hard ? fastsig_sbw_fix_lanes(r, hard, lanes, grad, s) : r;
}

/* A block of 4 vectors, formed in registers and then stored; a block with a hard lane
   is formed again vector by vector. Each output is stored after its own inputs are read
   for the last time, so `out` may be `grad` or `s`. Blocks, not single vectors: where
   `out` lies 64 to 256 bytes after an input modulo 4096, a store and the next vector's
   load share their address bits 0-11 and the load waits on the store ("4K aliasing");
   in blocks that happens once a block. */
static inline void fastsig_sbw_block(const float* grad, const float* s, float* out) {
    enum { LANES = FASTSIG_SBW_LANES, BLOCK = FASTSIG_SBW_BLOCK, ALL = 0xFFFF };
    __m512 r[BLOCK];
    __m512i least = _mm512_set1_epi32(-1), largest = _mm512_setzero_si512();
    int v;
    _Pragma("GCC unroll 4")
    for (v = 0; v < BLOCK; v++) {
        __m512i ph_bits_less_one, r_bits;
        r[v] = fastsig_sbw_product(_mm512_loadu_ps(grad + v * LANES),
                                   _mm512_loadu_ps(s + v * LANES), &ph_bits_less_one, &r_bits);
        least = _mm512_min_epu32(least, ph_bits_less_one);
        largest = _mm512_max_epu32(largest, r_bits);
    }
    if (fastsig_sbw_hard_lanes(least, largest)) {
        for (v = 0; v < BLOCK; v++)
            _mm512_storeu_ps(out + v * LANES, fastsig_sbw_vector(grad + v * LANES,
                                                                 s + v * LANES, ALL));
        return;
    }
    _Pragma("GCC unroll 4")
    for (v = 0; v < BLOCK; v++)
        _mm512_storeu_ps(out + v * LANES, r[v]);
}

static void fastsig_sigmoid_backward_F32(const float* grad, const float* s, float* out,
                                         ptrdiff_t n) {
    enum { LANES = FASTSIG_SBW_LANES, STEP = FASTSIG_SBW_LANES * FASTSIG_SBW_BLOCK,
           ALL = 0xFFFF };
    ptrdiff_t i = 0;
    for (; i + STEP <= n; i += STEP)
        fastsig_sbw_block(grad + i, s + i, out + i);
    for (; i + LANES <= n; i += LANES)
        _mm512_storeu_ps(out + i, fastsig_sbw_vector(grad + i, s + i, ALL));
    if (i < n) {
        const __mmask16 tail = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(out + i, tail, fastsig_sbw_vector(grad + i, s + i, tail));
    }
}

#elif !FASTSIG_SBW_FLOAT32_FORM && defined(__AVX__) && !defined(FASTSIG_PORTABLE)
#include <immintrin.h>

/* The double form, 4 floats widened by one vcvtps2pd from memory (gcc's vectorization of
   the scalar loop widens through extracts and inserts of 128-bit halves). */
static inline void fastsig_sigmoid_backward_vector_F32(const float* grad, const float* s,
                                                       float* out) {
    const __m256d g = _mm256_cvtps_pd(_mm_loadu_ps(grad));
    const __m256d sd = _mm256_cvtps_pd(_mm_loadu_ps(s));
    _mm_storeu_ps(out, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(g, sd),
                                                     _mm256_sub_pd(_mm256_set1_pd(1.0), sd))));
}

static void fastsig_sigmoid_backward_F32(const float* grad, const float* s, float* out,
                                         ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        fastsig_sigmoid_backward_vector_F32(grad + i, s + i, out + i);
        fastsig_sigmoid_backward_vector_F32(grad + i + 4, s + i + 4, out + i + 4);
    }
    for (; i < n; i++)
        out[i] = fastsig_sigmoid_backward_one_F32(grad[i], s[i]);
}

#else

/* Without the intrinsics (or the float32 form without AVX-512 DQ and VL): the scalar
   loop, which the compiler vectorizes as it can (the same operations on every element,
   so the same bits). */
static void fastsig_sigmoid_backward_F32(const float* grad, const float* s, float* out,
                                         ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i < n; i++)
        out[i] = fastsig_sigmoid_backward_one_F32(grad[i], s[i]);
}

#endif

#endif /* FASTSIG_SIGMOID_BACKWARD_H */
