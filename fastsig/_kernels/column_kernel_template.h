/* fastsig: the vector tile's column kernel for one dtype, included by vector_tile.h once
 * per dtype (no include guard, on purpose). Parameters, #defined by the includer and
 * #undef'd after: CK_T (float or double), CK_INDEX (the integer of CK_T's size), CK_NAME
 * (the kernel's name), CK_BYTES (bytes of a vector). */

#define CK(suffix) FASTSIG_CAT(CK_NAME, suffix)

#define VEC_T CK_T
#define VEC_NAME CK_NAME
#define VEC_BYTES CK_BYTES
#include "vector_template.h"
typedef CK_INDEX CK(_index) __attribute__((vector_size(CK_BYTES)));

/* The first A vector of the pair that lane l of C's vector v reads for depth p. */
static inline __attribute__((always_inline)) int CK(_source)(int v, int p, int k, int m) {
    enum { L = CK_BYTES / sizeof(CK_T) };
    return k == 1 ? 0 : FASTSIG_MIN((v * L / m * k + p) / L, k - 2);
}

/* Whether the kernel takes a layer of k inputs and m outputs: a row of B fits one
   vector (m <= L), and every lane's A values lie in the pair of vectors CK(_source)
   names. */
static inline __attribute__((always_inline)) int CK(_fits)(const int k, const int m) {
    enum { L = CK_BYTES / sizeof(CK_T) };
    int v, p, s, span;
    if (m > L)
        return 0;
    for (v = 0; v < m; v++)
        for (p = 0; p < k; p++) {
            s = CK(_source)(v, p, k, m);
            span = k == 1 ? L : 2 * L;
            if (v * L / m * k + p < s * L || ((v * L + L - 1) / m) * k + p - s * L >= span)
                return 0;
        }
    return 1;
}

static inline __attribute__((always_inline)) ptrdiff_t CK(_body)(
        ptrdiff_t rows, const CK_T* __restrict a, const CK_T* __restrict b, ptrdiff_t ldb,
        CK_T* __restrict c, const CK_T* __restrict bias, const int k, const int m) {
    enum { L = CK_BYTES / sizeof(CK_T) };
    CK(_vector) x[4], w[4][4], bv[4], brow[5], acc, t;
    CK(_index) idx[4][4], column[4];
    CK_T lanes[L];
    ptrdiff_t g;
    int v, p, l, j, s;
    if (!CK(_fits)(k, m))
        return 0;
    /* Fully unrolled, so that the indices are constants: the set-up runs once per call
       of up to SIGMOID_SPAN elements. brow[p]: row p of B (brow[k]: the bias) in its
       first m lanes; each weight vector is a permutation of it. */
    _Pragma("GCC unroll 5")
    for (p = 0; p <= k; p++) {
        _Pragma("GCC unroll 16")
        for (l = 0; l < L; l++)
            lanes[l] = 0;
        _Pragma("GCC unroll 4")
        for (j = 0; j < m; j++)
            lanes[j] = p < k ? b[p * ldb + j] : bias ? bias[j] : 0;
        brow[p] = CK(_load)(lanes);
    }
    _Pragma("GCC unroll 4")
    for (v = 0; v < m; v++) {
        _Pragma("GCC unroll 16")
        for (l = 0; l < L; l++)
            column[v][l] = (v * L + l) % m;
        bv[v] = __builtin_shuffle(brow[k], column[v]);
        _Pragma("GCC unroll 4")
        for (p = 0; p < k; p++) {
            s = CK(_source)(v, p, k, m);
            _Pragma("GCC unroll 16")
            for (l = 0; l < L; l++)
                idx[v][p][l] = (v * L + l) / m * k + p - s * L;
            w[v][p] = __builtin_shuffle(brow[p], column[v]);
        }
    }
    for (g = 0; g + L <= rows; g += L) {
        _Pragma("GCC unroll 4")
        for (p = 0; p < k; p++)
            x[p] = CK(_load)(a + g * k + p * L);
        _Pragma("GCC unroll 4")
        for (v = 0; v < m; v++) {
            acc = (CK(_vector)){0};
            _Pragma("GCC unroll 4")
            for (p = 0; p < k; p++) {
                s = CK(_source)(v, p, k, m);
                t = __builtin_shuffle(x[s], x[k == 1 ? 0 : s + 1], idx[v][p]);
                acc += t * w[v][p];
            }
            if (bias)
                acc += bv[v];
            CK(_store)(c + g * m + v * L, acc);
        }
    }
    return g;
}

/* k and m are constants in each case, so that every index folds. */
#define CK_CASES(RESULT)                                                                \
    RESULT(1, 1) RESULT(1, 2) RESULT(1, 3) RESULT(1, 4)                                 \
    RESULT(2, 1) RESULT(2, 2) RESULT(2, 3) RESULT(2, 4)                                 \
    RESULT(3, 2) RESULT(3, 3) RESULT(3, 4)                                              \
    RESULT(4, 2) RESULT(4, 3) RESULT(4, 4)
#define CK_RUN(K, M) case (K) * 8 + (M): return CK(_body)(rows, a, b, ldb, c, bias, K, M);
#define CK_FITS(K, M) case (K) * 8 + (M): return CK(_fits)(K, M);

static ptrdiff_t CK_NAME(ptrdiff_t rows, ptrdiff_t k, ptrdiff_t m, const CK_T* a,
                         const CK_T* b, ptrdiff_t ldb, CK_T* c, const CK_T* bias) {
    switch (k * 8 + m) {
    CK_CASES(CK_RUN)
    }
    return 0;
}

static int CK(_applies)(ptrdiff_t k, ptrdiff_t m) {
    if (k < 1 || k > 4 || m < 1 || m > 4)
        return 0;
    switch (k * 8 + m) {
    CK_CASES(CK_FITS)
    }
    return 0;
}

#undef CK_FITS
#undef CK_RUN
#undef CK_CASES
#undef CK
#undef CK_T
#undef CK_INDEX
#undef CK_NAME
#undef CK_BYTES
