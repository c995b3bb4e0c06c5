/* fastsig: a GCC vector type with its loads and stores, included by the tile templates
 * (no include guard, on purpose). Parameters, #defined by the includer and #undef'd
 * here: VEC_T (float or double), VEC_NAME (the prefix: VEC_NAME_vector, _load, _store),
 * VEC_BYTES (bytes of a vector).
 *
 * Loads and stores go by value (memcpy, one vector move): taking the address of an
 * accumulator would make gcc write the whole tile to the stack on every step. */

typedef VEC_T FASTSIG_CAT(VEC_NAME, _vector) __attribute__((vector_size(VEC_BYTES)));

static inline FASTSIG_CAT(VEC_NAME, _vector) FASTSIG_CAT(VEC_NAME, _load)(const VEC_T* p) {
    FASTSIG_CAT(VEC_NAME, _vector) v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void FASTSIG_CAT(VEC_NAME, _store)(VEC_T* p, FASTSIG_CAT(VEC_NAME, _vector) v) {
    memcpy(p, &v, sizeof v);
}

#undef VEC_T
#undef VEC_NAME
#undef VEC_BYTES
