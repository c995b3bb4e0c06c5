/* fastsig: the column-sum kernel for one dtype, included by column_sums.h once per dtype
 * (no include guard, on purpose). Parameters, #defined by the includer and #undef'd
 * at the end: CS_T (float or double), CS_NAME (the kernel's name), CS_TILE (the one-vector
 * vector tile of that dtype, whose vector type, loads and stores it uses). */

#define CS(suffix) FASTSIG_CAT(CS_NAME, suffix)
#define CS_TILE_(suffix) FASTSIG_CAT(CS_TILE, suffix)

/* k rows of dw (and db, with_db) over `rows` rows of x and dy, nv vectors of dy a row;
   k, with_db and nv are constants in each instance (CS(_group)'s switch). */
static inline __attribute__((always_inline)) void CS(_body)(
        ptrdiff_t rows, const CS_T* __restrict x, ptrdiff_t ldx,
        const CS_T* __restrict dy, ptrdiff_t m, CS_T* __restrict dw, CS_T* __restrict db,
        ptrdiff_t ahead, const int k, const int with_db, const int nv) {
    enum { NRV = sizeof(CS_TILE_(_vector)) / sizeof(CS_T) };
    CS_T lanes[FASTSIG_COLUMN_GROUP + 1][2 * NRV];
    CS_TILE_(_vector) acc[FASTSIG_COLUMN_GROUP][2], ab[2], d[2];
    const CS_T* xr;
    ptrdiff_t i, j;
    int p, v;
    CS_T a;
    /* dw's and db's rows as whole vectors where they are (m == nv NRV); else through
       `lanes`, zero past m. */
    const int whole = m == nv * NRV;
    if (!whole) {
        memset(lanes, 0, sizeof lanes);
        for (p = 0; p < k; p++)
            for (j = 0; j < m; j++)
                lanes[p][j] = dw[p * m + j];
        if (with_db)
            for (j = 0; j < m; j++)
                lanes[FASTSIG_COLUMN_GROUP][j] = db[j];
    }
    _Pragma("GCC unroll 8")
    for (p = 0; p < k; p++)
        for (v = 0; v < nv; v++)
            acc[p][v] = CS_TILE_(_load)((whole ? dw + p * m : lanes[p]) + v * NRV);
    for (v = 0; v < nv; v++)
        ab[v] = with_db ? CS_TILE_(_load)((whole ? db : lanes[FASTSIG_COLUMN_GROUP]) + v * NRV)
                        : (CS_TILE_(_vector)){0};
    for (i = 0; i < rows; i++) {
        for (v = 0; v < nv; v++) {
            d[v] = CS_TILE_(_load)(dy + i * m + v * NRV);
            if (with_db)
                ab[v] += d[v];
        }
        xr = x + i * ldx;
        if (ahead != 0)
            FASTSIG_FETCH_L2(xr + ahead);
        _Pragma("GCC unroll 8")
        for (p = 0; p < k; p++) {
            a = xr[p];
            for (v = 0; v < nv; v++)
                acc[p][v] += a * d[v];
        }
    }
    _Pragma("GCC unroll 8")
    for (p = 0; p < k; p++)
        for (v = 0; v < nv; v++)
            CS_TILE_(_store)((whole ? dw + p * m : lanes[p]) + v * NRV, acc[p][v]);
    if (with_db)
        for (v = 0; v < nv; v++)
            CS_TILE_(_store)((whole ? db : lanes[FASTSIG_COLUMN_GROUP]) + v * NRV, ab[v]);
    if (whole)
        return;
    for (p = 0; p < k; p++)
        for (j = 0; j < m; j++)
            dw[p * m + j] = lanes[p][j];
    if (with_db)
        for (j = 0; j < m; j++)
            db[j] = lanes[FASTSIG_COLUMN_GROUP][j];
}

#define CS_CASE(K, NV)                                                                  \
    case K:                                                                             \
        if (db) CS(_body)(rows, x, ldx, dy, m, dw, db, ahead, K, 1, NV);                \
        else CS(_body)(rows, x, ldx, dy, m, dw, db, ahead, K, 0, NV);                   \
        return;

/* One group of k <= COLUMN_GROUP / nv rows of dw (and db); ahead nonzero: each row also
   fetches the same place `ahead` elements on into L2. */
static void CS(_group)(ptrdiff_t rows, ptrdiff_t k, const CS_T* x, ptrdiff_t ldx,
                       const CS_T* dy, ptrdiff_t m, CS_T* dw, CS_T* db, ptrdiff_t ahead) {
    if (m <= (ptrdiff_t)(sizeof(CS_TILE_(_vector)) / sizeof(CS_T))) {
        switch (k) {
        CS_CASE(0, 1) CS_CASE(1, 1) CS_CASE(2, 1) CS_CASE(3, 1) CS_CASE(4, 1)
        CS_CASE(5, 1) CS_CASE(6, 1) CS_CASE(7, 1) CS_CASE(8, 1)
        }
    } else {
        switch (k) {
        CS_CASE(0, 2) CS_CASE(1, 2) CS_CASE(2, 2) CS_CASE(3, 2) CS_CASE(4, 2)
        }
    }
}

#undef CS_CASE

static void CS_NAME(ptrdiff_t rows, ptrdiff_t k, const CS_T* x, ptrdiff_t ldx,
                    const CS_T* dy, ptrdiff_t m, CS_T* dw, CS_T* db, int fetch) {
    ptrdiff_t r0, p0, chunk;
    ptrdiff_t group = m <= (ptrdiff_t)(sizeof(CS_TILE_(_vector)) / sizeof(CS_T))
                    ? FASTSIG_COLUMN_GROUP : FASTSIG_COLUMN_GROUP / 2;
    ptrdiff_t step = FASTSIG_COLUMN_CHUNK / (ptrdiff_t)sizeof(CS_T) / (k > 8 ? k : 8);
    step = step < 32 ? 32 : step;
    for (r0 = 0; r0 < rows; r0 += step) {
        chunk = FASTSIG_MIN(step, rows - r0);
        for (p0 = 0; p0 < k || (p0 == 0 && db); p0 += group)
            CS(_group)(chunk, FASTSIG_MIN(group, k - p0), x + r0 * ldx + p0, ldx,
                       dy + r0 * m, m, dw + p0 * m, p0 == 0 ? db : NULL,
                       fetch ? step * ldx : 0);
    }
}

#undef CS_TILE_
#undef CS
#undef CS_T
#undef CS_NAME
#undef CS_TILE
