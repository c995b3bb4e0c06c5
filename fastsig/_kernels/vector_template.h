/* fastsig: a GCC vector type with its loads and stores, included by the tile templates
 * (no include guard, on purpose). Parameters, #defined by the includer and #undef'd
 * here: VEC_T (float or double), VEC_NAME (the prefix: VEC_NAME_vector, _load, _store),
 * VEC_BYTES (bytes of a vector). _load_first and _store_first move a vector's first
 * lanes.
 *
 * Loads and stores go by value (memcpy, one vector move): taking the address of an
 * accumulator would make gcc write the whole tile to the stack on every step. */

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

typedef VEC_T FASTSIG_CAT(VEC_NAME, _vector) __attribute__((vector_size(VEC_BYTES)));

static inline FASTSIG_CAT(VEC_NAME, _vector) FASTSIG_CAT(VEC_NAME, _load)(const VEC_T* p) {
    FASTSIG_CAT(VEC_NAME, _vector) v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void FASTSIG_CAT(VEC_NAME, _store)(VEC_T* p, FASTSIG_CAT(VEC_NAME, _vector) v) {
    memcpy(p, &v, sizeof v);
}

/* The first n (0 <= n <= lanes) values at p, the other lanes 0; nothing past p + n is
   read (AVX-512: a masked load, whose masked lanes do not fault). */
static inline FASTSIG_CAT(VEC_NAME, _vector) FASTSIG_CAT(VEC_NAME, _load_first)(
        const VEC_T* p, ptrdiff_t n) {
#if defined(__AVX512F__) && VEC_BYTES == 64
    if (sizeof(VEC_T) == sizeof(double))
        return (FASTSIG_CAT(VEC_NAME, _vector))_mm512_maskz_loadu_pd(
            (__mmask8)((1u << n) - 1), (const double*)p);
    return (FASTSIG_CAT(VEC_NAME, _vector))_mm512_maskz_loadu_ps(
        (__mmask16)((1u << n) - 1), (const float*)p);
#else
    FASTSIG_CAT(VEC_NAME, _vector) v = {0};
    memcpy(&v, p, (size_t)n * sizeof(VEC_T));
    return v;
#endif
}

/* v's first n (0 <= n <= lanes) values to p; nothing past p + n is written. */
static inline void FASTSIG_CAT(VEC_NAME, _store_first)(
        VEC_T* p, FASTSIG_CAT(VEC_NAME, _vector) v, ptrdiff_t n) {
#if defined(__AVX512F__) && VEC_BYTES == 64
    if (sizeof(VEC_T) == sizeof(double))
        _mm512_mask_storeu_pd((double*)p, (__mmask8)((1u << n) - 1), (__m512d)v);
    else
        _mm512_mask_storeu_ps((float*)p, (__mmask16)((1u << n) - 1), (__m512)v);
#else
    memcpy(p, &v, (size_t)n * sizeof(VEC_T));
#endif
}

#undef VEC_T
#undef VEC_NAME
#undef VEC_BYTES
