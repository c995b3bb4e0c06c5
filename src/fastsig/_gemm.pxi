# The matmul: C (n×m) = A (n×k) @ B (k×m), BLIS-style, with a fused epilogue.
#
# A and B are read through strides, (i, p) at a[i*a_rs + p*a_cs] and (p, j) at
# b[p*b_rs + j*b_cs], so that a transposed operand (Xᵀ, Wᵀ in the backward) is
# handled by the packing, never by a transposed copy. C is row-major.
#
# 1. All of B is packed once per call into panels of NR columns, zero-padded
#    past column m, laid out by depth block, then panel (_b_panel): a block of
#    NC columns is one span of memory.
# 2. C is cut into tasks: whole rows where there are at least 4 tasks a thread,
#    else rows × NC columns (NC a multiple of NR), so that few rows still give
#    every thread work when C is wide; prange hands them out. The row tasks are
#    a multiple of the threads, each at most MC_PANELS MR-row panels, the panels
#    dealt out evenly (_row_tasks, _task_start).
# 3. A task walks the depth in blocks of KC: it packs its block of A into
#    MR-row panels (zero-padded past its last row) in a buffer of its thread --
#    or, for a row-major A whose rows are not a multiple of 4 KB apart, reads A
#    where it lies -- then, for each block of NC columns (whose packed B stays in
#    L2), for each MR-row panel (kept in L1) runs the micro-kernel against each
#    NR-column panel.
# 4. The micro-kernel (the register tile) keeps an MR×NR tile of accumulators in
#    vector registers and adds the KC products of its panels into them; the first
#    depth block stores the tile into C, later ones add it. It is C with GCC
#    vector extensions (below): edges stored element by element and a ragged last
#    panel of B taking only the vectors it has; reading A in place, it prefetches
#    the next panel's rows. A compiler without them (MSVC, or FASTSIG_PORTABLE)
#    gets the Cython loops _micro_kernel*, edge tiles through a local tile.
# 5. The tiles of the last depth block add the bias as they store; then each
#    MR-row panel gets the sigmoid on its NC columns, while they are in L1.
# Each C element sums its products in increasing p within a depth block and
# adds the blocks in order: the result depends on KC (fixed per dtype) and on
# nothing else, not the task split nor the threads.
#
# A B at most half as wide as the register tile (2m <= NR: a layer of 16 or 3
# outputs in float32) would leave most of the tile's columns as padding, so it
# takes the narrow kernel
# (_gemm_narrow_task): the same packed panels and depth blocks, but a transposed
# tile of MRT rows × NRT columns whose vectors run along C's rows (NRT is small,
# so little is padding), stored into C element by element. Tasks are whole rows
# of C: NARROW_PANELS panels of MRT rows.
#
# A narrow B at most two vectors wide (16 float32 or 8 float64 lanes a vector on
# AVX-512) takes the vector tile instead (_gemm_vector_task): MRV rows of C, half
# a vector, one or two each, A read where it lies through its strides (no
# packing), B packed once into a single NRV-column panel; depths up to 4 take its
# row kernel, and its column kernel where C has at most 4 columns and A is
# row-major (whole vectors of C from permuted vectors of A: the 2-input, 3-output
# layer). gcc spills such a tile written as loops over an array of
# accumulators (9 GF/s at 12×16 float32), so it is written in C with GCC vector
# extensions (85 GF/s, one core), below; a compiler without them (MSVC) keeps the
# transposed tile. Each C element still sums its products in increasing p, one
# multiply-add each, as the other kernels do, so the choice of kernel changes no
# bit of the result.

cdef enum:
    KC_F32 = 256        # depth of a packed block, float32 (see _depth_block)
    KC_F64 = 128        # and float64
    NC_TARGET = 256     # columns of a block, rounded up to a multiple of NR
    MC_PANELS = 12      # MR-row panels in a task
    MAX_TILE = 384      # >= MR*NR and MRT*NRT of every variant and dtype
    NARROW_PANELS = 8   # MRT-row panels in a task of the narrow kernel
    SPLIT_TASKS = 4     # fewer tasks than this, and a depth of at least
    SPLIT_DEPTH = 2048  # 2 × this: the depth is split into chunks (_gemm_split_depth)
    SPLIT_CHUNKS = 32   # at most this many chunks,
    SPLIT_ELEMENTS = 4194304    # holding at most this many partial results
    ALIGN = 64          # bytes, for the packed buffers
    PACK_A_STEPS = 16   # rows of a transposed A that _pack_a copies at a time

cdef inline Py_ssize_t _depth_block(floating* kind) noexcept nogil:
    """KC: the depth of a packed block. A B panel of KC × NR values is read from L2
    for each tile; at NR = 32 float64, KC = 256 made it 64 KB, twice L1, and 2048³
    ran 10 % slower than at 128 (float32 at 256 is 4 % faster than at 128)."""
    return KC_F32 if floating is float else KC_F64


cdef enum Epilogue:
    EPILOGUE_NONE = 0
    EPILOGUE_SIGMOID = 1    # C = σ(C + bias), bias optional

cdef enum Kernel:
    KERNEL_TILE = 0         # the MR×NR register tile
    KERNEL_TRANSPOSED = 1   # the MRT×NRT transposed tile, for a narrow B
    KERNEL_VECTOR = 2       # the MRV-row vector tile, for a row-major A and B <= NRV wide

cdef enum:
    VECTOR_PANELS = 16      # MRV-row panels in a task of the vector tile
    SIGMOID_SPAN = 512      # elements of C the vector tile's epilogue takes at once
    ROW_KERNEL_DEPTH = 4    # depths up to this take the vector tile's row kernel

cdef extern from *:
    """
    /* The vector tile: C[rows, cols] (= or +=) A[rows, kc] @ B[kc, NRV], rows <= MRV,
       cols <= NRV = NV vectors of BYTES. A is read in place, (i, p) at
       a[i*a_rs + p*a_cs]; B is packed, kc rows of NRV values, zero past column cols.
       Row i of C is held in the NV vectors acc[i]; each step p broadcasts A[i, p]
       against row p of B.

       Stores: a full vector per row where that stays inside the tile's own span of
       C (rows contiguous, ldc == cols) -- its lanes past `cols` land on the next
       row, which is stored after it -- or, with `spill`, lands on rows past the
       tile that the caller writes later; lane by lane otherwise, so nothing
       outside C[rows, cols] (and the rows `spill` allows) is ever written. Adding
       into C (accumulate) goes lane by lane unless cols == NRV: a lane past `cols`
       may hold 0 * inf = NaN.

       Three shapes per dtype: half a vector (AVX-512 only: on AMD's Zen 4 a 256-bit
       FMA issues twice as often as a 512-bit one, so a C of at most 8 float32
       columns runs twice as fast in ymm), one vector, and two. */
    #if defined(__GNUC__) && !defined(FASTSIG_PORTABLE)
    #define FASTSIG_VECTOR_TILE 1
    #define FASTSIG_MIN(x, y) ((x) < (y) ? (x) : (y))
    /* MRV: rows of each shape, measured (gcc 12, Zen 4; C replica, k = 16) to keep
       every accumulator in registers. */
    #if defined(__AVX512F__)
    #define FASTSIG_VECTOR_BYTES 64
    #define FASTSIG_HALF_TILE 1
    #define FASTSIG_MRVH_F32 12
    #define FASTSIG_MRV1_F32 12
    #define FASTSIG_MRV2_F32 6
    #define FASTSIG_MRVH_F64 12
    #define FASTSIG_MRV1_F64 8
    #define FASTSIG_MRV2_F64 8
    #elif defined(__AVX2__) && defined(__FMA__)
    #define FASTSIG_VECTOR_BYTES 32
    #define FASTSIG_HALF_TILE 0
    #define FASTSIG_MRVH_F32 1
    #define FASTSIG_MRV1_F32 12
    #define FASTSIG_MRV2_F32 4
    #define FASTSIG_MRVH_F64 1
    #define FASTSIG_MRV1_F64 12
    #define FASTSIG_MRV2_F64 4
    #else
    #define FASTSIG_VECTOR_BYTES 16
    #define FASTSIG_HALF_TILE 0
    #define FASTSIG_MRVH_F32 1
    #define FASTSIG_MRV1_F32 6
    #define FASTSIG_MRV2_F32 4
    #define FASTSIG_MRVH_F64 1
    #define FASTSIG_MRV1_F64 4
    #define FASTSIG_MRV2_F64 4
    #endif
    /* NAME_vector, BYTES of T, with loads and stores by value: taking the address of  \
       an accumulator would make gcc write the whole tile to the stack on every step. */ \
    #define FASTSIG_DEFINE_VECTOR_TYPE(T, NAME, BYTES)                                  \
    typedef T NAME##_vector __attribute__((vector_size(BYTES)));                        \
    static inline NAME##_vector NAME##_load(const T* p) {                               \
        NAME##_vector v;                                                                \
        memcpy(&v, p, sizeof v);                                                        \
        return v;                                                                       \
    }                                                                                   \
    static inline void NAME##_store(T* p, NAME##_vector v) {                            \
        memcpy(p, &v, sizeof v);                                                        \
    }
    #define FASTSIG_DEFINE_VECTOR_TILE(T, NAME, MRV, NV, BYTES)                        \
    FASTSIG_DEFINE_VECTOR_TYPE(T, NAME, BYTES)                                          \
    static void NAME(Py_ssize_t kc, const T* __restrict a, Py_ssize_t a_rs,             \
                     Py_ssize_t a_cs, const T* __restrict b, T* __restrict c,           \
                     Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,  \
                     const T* __restrict bias, int spill) {                             \
        enum { LANES = BYTES / sizeof(T), NRV = NV * LANES };                           \
        NAME##_vector acc[MRV][NV], brow[NV], bvec[NV];                                 \
        T lanes[NRV];                                                                   \
        Py_ssize_t p, i, j, v, full;                                                    \
        T ai;                                                                           \
        for (i = 0; i < MRV; i++)                                                       \
            for (v = 0; v < NV; v++)                                                    \
                acc[i][v] = (NAME##_vector){0};                                         \
        for (p = 0; p < kc; p++) {                                                      \
            for (v = 0; v < NV; v++)                                                    \
                brow[v] = NAME##_load(b + p * NRV + v * LANES);                         \
            _Pragma("GCC unroll 16")                                                    \
            for (i = 0; i < MRV; i++) {                                                 \
                ai = a[i * a_rs + p * a_cs];                                            \
                for (v = 0; v < NV; v++)                                                \
                    acc[i][v] += ai * brow[v];                                          \
            }                                                                           \
        }                                                                               \
        /* The bias (NRV values, zero-padded), added after the sum of the products   \
           and what C held, as the other kernels' epilogue adds it. */                 \
        for (v = 0; v < NV; v++)                                                        \
            bvec[v] = bias ? NAME##_load(bias + v * LANES) : (NAME##_vector){0};        \
        /* Rows [0, full) take whole vectors: all rows when cols == NRV; else, when      \
           storing into contiguous rows, those whose lanes past `cols` land on a later  \
           row of the tile, or all of them where the caller lets the last rows spill    \
           (onto rows it writes later). A fixed trip count, unrolled, so that every     \
           acc[i] stays a register; the conditions are the same for every row, so gcc  \
           unswitches them. */                                                          \
        full = cols == NRV ? rows                                                       \
             : (accumulate || ldc != cols) ? 0                                          \
             : spill ? rows                                                             \
             : rows * ldc >= NRV ? (rows * ldc - NRV) / ldc + 1 : 0;                    \
        _Pragma("GCC unroll 16")                                                        \
        for (i = 0; i < MRV; i++) {                                                     \
            if (i >= full)                                                              \
                break;                                                                  \
            for (v = 0; v < NV; v++) {                                                  \
                brow[v] = accumulate                                                    \
                    ? NAME##_load(c + i * ldc + v * LANES) + acc[i][v] : acc[i][v];     \
                NAME##_store(c + i * ldc + v * LANES, bias ? brow[v] + bvec[v] : brow[v]); \
            }                                                                           \
        }                                                                               \
        /* The rest lane by lane (the tile goes through memory here). */              \
        for (i = full; i < rows; i++) {                                                 \
            for (v = 0; v < NV; v++)                                                    \
                NAME##_store(lanes + v * LANES, acc[i][v]);                             \
            for (j = 0; j < cols; j++) {                                                \
                ai = accumulate ? c[i * ldc + j] + lanes[j] : lanes[j];                 \
                c[i * ldc + j] = bias ? ai + bias[j] : ai;                              \
            }                                                                           \
        }                                                                               \
    }
    /* The row kernel, for a depth k <= 4 (a layer of 2 inputs, say), where a tile's   \
       set-up and stores cost more than its few products: B's k rows stay in       \
       registers and each row of C is one vector, summed in the tile's order (from    \
       0, p increasing), the bias added after. Stores as the tile's, no accumulate. */\
    #define FASTSIG_DEFINE_ROW_KERNEL(T, NAME, TILE)                                   \
    static void NAME(Py_ssize_t rows, Py_ssize_t k, const T* __restrict a,              \
                     Py_ssize_t a_rs, Py_ssize_t a_cs, const T* __restrict b,           \
                     T* __restrict c, Py_ssize_t ldc, Py_ssize_t cols,                  \
                     const T* __restrict bias, int spill) {                             \
        enum { NRV = sizeof(TILE##_vector) / sizeof(T) };                               \
        const TILE##_vector zero = {0};                                                 \
        TILE##_vector w0 = TILE##_load(b), w1 = zero, w2 = zero, w3 = zero, bv = zero;  \
        TILE##_vector acc;                                                              \
        T lanes[NRV];                                                                   \
        const T* ar;                                                                    \
        Py_ssize_t i, j, full;                                                          \
        if (k > 1) w1 = TILE##_load(b + NRV);                                           \
        if (k > 2) w2 = TILE##_load(b + 2 * NRV);                                       \
        if (k > 3) w3 = TILE##_load(b + 3 * NRV);                                       \
        if (bias) bv = TILE##_load(bias);                                               \
        full = cols == NRV ? rows                                                       \
             : ldc != cols ? 0                                                          \
             : spill ? rows                                                             \
             : rows * ldc >= NRV ? (rows * ldc - NRV) / ldc + 1 : 0;                    \
        for (i = 0; i < rows; i++) {                                                    \
            ar = a + i * a_rs;                                                          \
            acc = zero;                                                                 \
            acc += ar[0] * w0;                                                          \
            if (k > 1) acc += ar[a_cs] * w1;                                            \
            if (k > 2) acc += ar[2 * a_cs] * w2;                                        \
            if (k > 3) acc += ar[3 * a_cs] * w3;                                        \
            if (bias) acc += bv;                                                        \
            if (i < full) {                                                             \
                TILE##_store(c + i * ldc, acc);                                         \
            } else {                                                                    \
                TILE##_store(lanes, acc);                                               \
                for (j = 0; j < cols; j++)                                              \
                    c[i * ldc + j] = lanes[j];                                          \
            }                                                                           \
        }                                                                               \
    }
    /* Column sums for dense_backward: db[j] += sum_i dy[i, j] (when db is not NULL)   \
       and dw[p, j] += sum_i x[i, p] dy[i, j] for p < k, over `rows` rows of dy, m <=  \
       2 NRV wide (one or two vectors, nv) and readable up to a whole vector past its  \
       last row; x's rows ldx apart, dw's m. The rows of dw go COLUMN_GROUP / nv at a  \
       time, each in nv vector registers (with db's), broadcasting x[i, p] against row  \
       i of dy, over chunks of about COLUMN_CHUNK bytes of x, so that a chunk of x and  \
       dy stays in L1 for the groups after the first. Each lane is a running sum over  \
       the rows in order, from what dw and db held: the bits of plain loops, whatever   \
       the chunks and groups. Plain loops kept each sum in memory (every row waited for \
       the previous row's store), and the matmul that took dw for k·m >= 256 (xᵀ as A) \
       padded its last row panel: (16, 16) float32 ran at a third of this kernel's     \
       speed. */
    #define FASTSIG_COLUMN_GROUP 8
    #define FASTSIG_COLUMN_CHUNK 16384     /* bytes of x in a chunk, about */
    #define FASTSIG_COLUMN_SUMS_CASE(NAME, K, NV)                                       \
        case K:                                                                         \
            if (db) NAME##_body(rows, x, ldx, dy, m, dw, db, K, 1, NV);                 \
            else NAME##_body(rows, x, ldx, dy, m, dw, db, K, 0, NV);                    \
            return;
    #define FASTSIG_DEFINE_COLUMN_SUMS(T, NAME, TILE)                                  \
    static inline __attribute__((always_inline)) void NAME##_body(                      \
            Py_ssize_t rows, const T* __restrict x, Py_ssize_t ldx,                     \
            const T* __restrict dy, Py_ssize_t m, T* __restrict dw, T* __restrict db,   \
            const int k, const int with_db, const int nv) {                             \
        enum { NRV = sizeof(TILE##_vector) / sizeof(T) };                               \
        T lanes[FASTSIG_COLUMN_GROUP + 1][2 * NRV];                                     \
        TILE##_vector acc[FASTSIG_COLUMN_GROUP][2], ab[2], d[2];                        \
        const T* xr;                                                                    \
        Py_ssize_t i, j;                                                                \
        int p, v;                                                                       \
        T a;                                                                            \
        memset(lanes, 0, sizeof lanes);                                                 \
        for (p = 0; p < k; p++)                                                         \
            for (j = 0; j < m; j++)                                                     \
                lanes[p][j] = dw[p * m + j];                                            \
        if (with_db)                                                                    \
            for (j = 0; j < m; j++)                                                     \
                lanes[FASTSIG_COLUMN_GROUP][j] = db[j];                                 \
        _Pragma("GCC unroll 8")                                                         \
        for (p = 0; p < k; p++)                                                         \
            for (v = 0; v < nv; v++)                                                    \
                acc[p][v] = TILE##_load(lanes[p] + v * NRV);                            \
        for (v = 0; v < nv; v++)                                                        \
            ab[v] = TILE##_load(lanes[FASTSIG_COLUMN_GROUP] + v * NRV);                 \
        for (i = 0; i < rows; i++) {                                                    \
            for (v = 0; v < nv; v++) {                                                  \
                d[v] = TILE##_load(dy + i * m + v * NRV);                               \
                if (with_db)                                                            \
                    ab[v] += d[v];                                                      \
            }                                                                           \
            xr = x + i * ldx;                                                           \
            _Pragma("GCC unroll 8")                                                     \
            for (p = 0; p < k; p++) {                                                   \
                a = xr[p];                                                              \
                for (v = 0; v < nv; v++)                                                \
                    acc[p][v] += a * d[v];                                              \
            }                                                                           \
        }                                                                               \
        _Pragma("GCC unroll 8")                                                         \
        for (p = 0; p < k; p++)                                                         \
            for (v = 0; v < nv; v++)                                                    \
                TILE##_store(lanes[p] + v * NRV, acc[p][v]);                            \
        for (v = 0; v < nv; v++)                                                        \
            TILE##_store(lanes[FASTSIG_COLUMN_GROUP] + v * NRV, ab[v]);                 \
        for (p = 0; p < k; p++)                                                         \
            for (j = 0; j < m; j++)                                                     \
                dw[p * m + j] = lanes[p][j];                                            \
        if (with_db)                                                                    \
            for (j = 0; j < m; j++)                                                     \
                db[j] = lanes[FASTSIG_COLUMN_GROUP][j];                                 \
    }                                                                                   \
    /* One group of k <= COLUMN_GROUP / nv rows of dw (and db), k and nv constants in    \
       each case. */                                                                    \
    static void NAME##_group(Py_ssize_t rows, Py_ssize_t k, const T* x, Py_ssize_t ldx, \
                             const T* dy, Py_ssize_t m, T* dw, T* db) {                 \
        if (m <= (Py_ssize_t)(sizeof(TILE##_vector) / sizeof(T))) {                     \
            switch (k) {                                                                \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 0, 1) FASTSIG_COLUMN_SUMS_CASE(NAME, 1, 1)   \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 2, 1) FASTSIG_COLUMN_SUMS_CASE(NAME, 3, 1)   \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 4, 1) FASTSIG_COLUMN_SUMS_CASE(NAME, 5, 1)   \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 6, 1) FASTSIG_COLUMN_SUMS_CASE(NAME, 7, 1)   \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 8, 1)                                        \
            }                                                                           \
        } else {                                                                        \
            switch (k) {                                                                \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 0, 2) FASTSIG_COLUMN_SUMS_CASE(NAME, 1, 2)   \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 2, 2) FASTSIG_COLUMN_SUMS_CASE(NAME, 3, 2)   \
            FASTSIG_COLUMN_SUMS_CASE(NAME, 4, 2)                                        \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
    static void NAME(Py_ssize_t rows, Py_ssize_t k, const T* x, Py_ssize_t ldx,         \
                     const T* dy, Py_ssize_t m, T* dw, T* db) {                         \
        Py_ssize_t r0, p0, chunk;                                                       \
        Py_ssize_t group = m <= (Py_ssize_t)(sizeof(TILE##_vector) / sizeof(T))         \
                         ? FASTSIG_COLUMN_GROUP : FASTSIG_COLUMN_GROUP / 2;             \
        Py_ssize_t step = FASTSIG_COLUMN_CHUNK / (Py_ssize_t)sizeof(T) / (k > 8 ? k : 8); \
        step = step < 32 ? 32 : step;                                                   \
        for (r0 = 0; r0 < rows; r0 += step) {                                           \
            chunk = FASTSIG_MIN(step, rows - r0);                                       \
            for (p0 = 0; p0 < k || (p0 == 0 && db); p0 += group)                        \
                NAME##_group(chunk, FASTSIG_MIN(group, k - p0), x + r0 * ldx + p0, ldx, \
                             dy + r0 * m, m, dw + p0 * m, p0 == 0 ? db : NULL);         \
        }                                                                               \
    }
    /* The column kernel, for a row-major A and C of few columns (k <= 4 inputs, m <= 4  \
       outputs; the 2-input, 3-output layer), where the row kernel fills a few lanes  \
       of each vector and stores every row on its own: L rows of A are k whole        \
       vectors and L rows of C m whole vectors, so vector v of C holds elements      \
       e = vL + l, row e / m, column e % m. Its products take A[row, p] for each lane  \
       by a two-source permutation (__builtin_shuffle) of the A vectors that hold    \
       them, and B[p, column] from a vector built once. Each element is summed from   \
       0 with p increasing, the bias added after: the row kernel's bits. k and m are  \
       constants in each instance (a switch over them), so every index folds.        \
       Returns the rows done (a multiple of L, or 0 where some lane's A values span   \
       more than two vectors: (3, 1), (4, 1), and (3, 3) with 8 lanes). */            \
    #define FASTSIG_COLUMN_CASE(NAME, K, M)                                             \
        case (K) * 8 + (M): return NAME##_body(rows, a, b, ldb, c, bias, K, M);
    #define FASTSIG_DEFINE_COLUMN_KERNEL(T, I, NAME, BYTES)                             \
    FASTSIG_DEFINE_VECTOR_TYPE(T, NAME, BYTES)                                          \
    typedef I NAME##_index __attribute__((vector_size(BYTES)));                         \
    /* The first A vector of the pair that lane l of C's vector v reads for depth p. */\
    static inline __attribute__((always_inline)) int NAME##_source(int v, int p, int k, \
                                                                 int m) {               \
        enum { L = BYTES / sizeof(T) };                                                 \
        return k == 1 ? 0 : FASTSIG_MIN((v * L / m * k + p) / L, k - 2);               \
    }                                                                                   \
    static inline __attribute__((always_inline)) Py_ssize_t NAME##_body(                \
            Py_ssize_t rows, const T* __restrict a, const T* __restrict b,              \
            Py_ssize_t ldb, T* __restrict c, const T* __restrict bias, const int k,     \
            const int m) {                                                              \
        enum { L = BYTES / sizeof(T) };                                                 \
        NAME##_vector x[4], w[4][4], bv[4], brow[5], acc, t;                            \
        NAME##_index idx[4][4], column[4];                                              \
        T lanes[L];                                                                     \
        Py_ssize_t g;                                                                   \
        int v, p, l, j, s, span;                                                        \
        if (m > L)  /* a row of B must fit one vector (float64 on baseline: 2 lanes) */ \
            return 0;                                                                   \
        /* Fully unrolled, so that the indices are constants: the set-up runs once per  \
           call of up to SIGMOID_SPAN elements. brow[p]: row p of B (brow[k]: the     \
           bias) in its first m lanes; each weight vector is a permutation of it. */    \
        _Pragma("GCC unroll 5")                                                         \
        for (p = 0; p <= k; p++) {                                                      \
            _Pragma("GCC unroll 16")                                                    \
            for (l = 0; l < L; l++)                                                     \
                lanes[l] = 0;                                                           \
            _Pragma("GCC unroll 4")                                                     \
            for (j = 0; j < m; j++)                                                     \
                lanes[j] = p < k ? b[p * ldb + j] : bias ? bias[j] : 0;                 \
            brow[p] = NAME##_load(lanes);                                               \
        }                                                                               \
        _Pragma("GCC unroll 4")                                                         \
        for (v = 0; v < m; v++) {                                                       \
            _Pragma("GCC unroll 16")                                                    \
            for (l = 0; l < L; l++)                                                     \
                column[v][l] = (v * L + l) % m;                                         \
            bv[v] = __builtin_shuffle(brow[k], column[v]);                              \
            _Pragma("GCC unroll 4")                                                     \
            for (p = 0; p < k; p++) {                                                   \
                s = NAME##_source(v, p, k, m);                                          \
                span = k == 1 ? L : 2 * L;                                              \
                if (v * L / m * k + p < s * L                                           \
                        || ((v * L + L - 1) / m) * k + p - s * L >= span)               \
                    return 0;                                                           \
                _Pragma("GCC unroll 16")                                                \
                for (l = 0; l < L; l++)                                                 \
                    idx[v][p][l] = (v * L + l) / m * k + p - s * L;                     \
                w[v][p] = __builtin_shuffle(brow[p], column[v]);                        \
            }                                                                           \
        }                                                                               \
        for (g = 0; g + L <= rows; g += L) {                                            \
            _Pragma("GCC unroll 4")                                                     \
            for (p = 0; p < k; p++)                                                     \
                x[p] = NAME##_load(a + g * k + p * L);                                  \
            _Pragma("GCC unroll 4")                                                     \
            for (v = 0; v < m; v++) {                                                   \
                acc = (NAME##_vector){0};                                               \
                _Pragma("GCC unroll 4")                                                 \
                for (p = 0; p < k; p++) {                                               \
                    s = NAME##_source(v, p, k, m);                                      \
                    t = __builtin_shuffle(x[s], x[k == 1 ? 0 : s + 1], idx[v][p]);      \
                    acc += t * w[v][p];                                                 \
                }                                                                       \
                if (bias)                                                               \
                    acc += bv[v];                                                       \
                NAME##_store(c + g * m + v * L, acc);                                   \
            }                                                                           \
        }                                                                               \
        return g;                                                                       \
    }                                                                                   \
    static Py_ssize_t NAME(Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m, const T* a,     \
                           const T* b, Py_ssize_t ldb, T* c, const T* bias) {           \
        switch (k * 8 + m) {                                                            \
        FASTSIG_COLUMN_CASE(NAME, 1, 1) FASTSIG_COLUMN_CASE(NAME, 1, 2)                 \
        FASTSIG_COLUMN_CASE(NAME, 1, 3) FASTSIG_COLUMN_CASE(NAME, 1, 4)                 \
        FASTSIG_COLUMN_CASE(NAME, 2, 1) FASTSIG_COLUMN_CASE(NAME, 2, 2)                 \
        FASTSIG_COLUMN_CASE(NAME, 2, 3) FASTSIG_COLUMN_CASE(NAME, 2, 4)                 \
        FASTSIG_COLUMN_CASE(NAME, 3, 2) FASTSIG_COLUMN_CASE(NAME, 3, 3)                 \
        FASTSIG_COLUMN_CASE(NAME, 3, 4) FASTSIG_COLUMN_CASE(NAME, 4, 2)                 \
        FASTSIG_COLUMN_CASE(NAME, 4, 3) FASTSIG_COLUMN_CASE(NAME, 4, 4)                 \
        }                                                                               \
        return 0;                                                                       \
    }
    /* The register tile: C[rows, cols] (= or +=) A[MR, kc] @ B[kc, NR], NR = NV      \
       vectors, B packed (kc rows of NR values), A read through strides: packed      \
       (a_rs = 1, a_cs = MR) or where it lies (a_rs = its row stride, a_cs = 1).    \
       The MR × NV accumulators are locals that gcc keeps in registers, started at 0; \
       each step p broadcasts A[i, p] against row p of B, one multiply-add per       \
       element, as every kernel sums. A whole tile is stored (or added) a vector a    \
       row; an edge tile (rows < MR or cols < NR; A's rows past `rows` are zero or    \
       readable) element by element, so nothing outside C[rows, cols] is touched. */ \
    #define FASTSIG_DEFINE_REGISTER_TILE(T, NAME, MR, NV, BYTES)                       \
    FASTSIG_DEFINE_VECTOR_TYPE(T, NAME, BYTES)                                          \
    /* The tile's first nv vectors of columns (a constant once inlined). */            \
    static inline __attribute__((always_inline)) void NAME##_body(                      \
            Py_ssize_t kc, const T* __restrict a, Py_ssize_t a_rs, Py_ssize_t a_cs,     \
            const T* __restrict b, T* __restrict c, Py_ssize_t ldc, Py_ssize_t rows,    \
            Py_ssize_t cols, int accumulate, const T* bias, const T* next,              \
            const int nv) {                                                             \
        enum { LANES = BYTES / sizeof(T), NR = NV * LANES, LINE = 64 / sizeof(T) };     \
        NAME##_vector acc[MR][NV], brow[NV], sum;                                       \
        T lanes[NR];                                                                    \
        Py_ssize_t p, i, j, v, next_row = 0, next_col = 0;                              \
        T ai;                                                                           \
        for (i = 0; i < MR; i++)                                                        \
            for (v = 0; v < nv; v++)                                                    \
                acc[i][v] = (NAME##_vector){0};                                         \
        if (rows == MR && cols == nv * LANES && ldc * (Py_ssize_t)sizeof(T) % 4096 != 0) \
            /* C's lines, for writing, while the products run (not where C's rows      \
               are 4 KB apart: MR rows in one L1 set would evict the panels). */      \
            for (i = 0; i < MR; i++)                                                    \
                for (v = 0; v < nv * LANES; v += LINE)                                  \
                    __builtin_prefetch(c + i * ldc + v, 1, 3);                          \
        for (p = 0; p < kc; p++) {                                                      \
            if (next) {                                                                 \
                /* A line of the next A panel a step, row after row. */               \
                __builtin_prefetch(next + next_row * a_rs + next_col, 0, 3);            \
                if (++next_row == MR) {                                                 \
                    next_row = 0;                                                       \
                    next_col += LINE;                                                   \
                }                                                                       \
            }                                                                           \
            for (v = 0; v < nv; v++)                                                    \
                brow[v] = NAME##_load(b + p * NR + v * LANES);                          \
            _Pragma("GCC unroll 16")                                                    \
            for (i = 0; i < MR; i++) {                                                  \
                ai = a[i * a_rs + p * a_cs];                                            \
                for (v = 0; v < nv; v++)                                                \
                    acc[i][v] += ai * brow[v];                                          \
            }                                                                           \
        }                                                                               \
        if (rows == MR && cols == nv * LANES) {                                         \
            _Pragma("GCC unroll 16")                                                    \
            for (i = 0; i < MR; i++)                                                    \
                for (v = 0; v < nv; v++) {                                              \
                    sum = accumulate                                                    \
                        ? NAME##_load(c + i * ldc + v * LANES) + acc[i][v] : acc[i][v]; \
                    NAME##_store(c + i * ldc + v * LANES,                               \
                                 bias ? sum + NAME##_load(bias + v * LANES) : sum);     \
                }                                                                       \
            return;                                                                     \
        }                                                                               \
        memset(lanes, 0, sizeof lanes);     /* all written below; gcc cannot tell */   \
        _Pragma("GCC unroll 16")                                                        \
        for (i = 0; i < MR; i++) {                                                      \
            if (i >= rows)                                                              \
                break;                                                                  \
            for (v = 0; v < nv; v++)                                                    \
                NAME##_store(lanes + v * LANES, acc[i][v]);                             \
            for (j = 0; j < cols; j++) {                                                \
                ai = accumulate ? c[i * ldc + j] + lanes[j] : lanes[j];                 \
                c[i * ldc + j] = bias ? ai + bias[j] : ai;                              \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
    /* A panel of B narrower than the tile (the last of a C whose width is not a      \
       multiple of NR: 40 = 32 + 8) takes only the vectors it has: a 4-vector tile    \
       at 1 vector of C did 4 times the work. */                                        \
    static inline __attribute__((always_inline)) void NAME##_columns(                   \
            Py_ssize_t kc, const T* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const T* b,    \
            T* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,     \
            const T* bias, const T* next) {                                             \
        enum { LANES = BYTES / sizeof(T) };                                             \
        Py_ssize_t nv = (cols + LANES - 1) / LANES;                                     \
        if (nv >= NV)                                                                   \
            NAME##_body(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,     \
                        next, NV);                                                      \
        else if (nv == 1)                                                               \
            NAME##_body(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,     \
                        next, 1);                                                       \
        else if (nv == 2)                                                               \
            NAME##_body(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,     \
                        next, FASTSIG_MIN(2, NV));                                      \
        else                                                                            \
            NAME##_body(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,     \
                        next, FASTSIG_MIN(3, NV));                                      \
    }                                                                                   \
    static void NAME(Py_ssize_t kc, const T* a, const T* b, T* c, Py_ssize_t ldc,       \
                     Py_ssize_t rows, Py_ssize_t cols, int accumulate, const T* bias) { \
        NAME##_columns(kc, a, 1, MR, b, c, ldc, rows, cols, accumulate, bias, NULL);    \
    }                                                                                   \
    static void NAME##_in_place(Py_ssize_t kc, const T* a, Py_ssize_t lda, const T* b,  \
                                T* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, \
                                int accumulate, const T* bias, const T* next) {         \
        NAME##_columns(kc, a, lda, 1, b, c, ldc, rows, cols, accumulate, bias, next);   \
    }
    #define FASTSIG_DEFINE_VECTOR_TILES(T, SUFFIX)                                     \
    FASTSIG_DEFINE_VECTOR_TILE(T, fastsig_tile_half_##SUFFIX, FASTSIG_MRVH_##SUFFIX, 1,  \
                               FASTSIG_VECTOR_BYTES / 2)                                \
    FASTSIG_DEFINE_VECTOR_TILE(T, fastsig_tile_one_##SUFFIX, FASTSIG_MRV1_##SUFFIX, 1,   \
                               FASTSIG_VECTOR_BYTES)                                    \
    FASTSIG_DEFINE_VECTOR_TILE(T, fastsig_tile_two_##SUFFIX, FASTSIG_MRV2_##SUFFIX, 2,   \
                               FASTSIG_VECTOR_BYTES)                                    \
    FASTSIG_DEFINE_ROW_KERNEL(T, fastsig_rows_half_##SUFFIX, fastsig_tile_half_##SUFFIX)  \
    FASTSIG_DEFINE_ROW_KERNEL(T, fastsig_rows_one_##SUFFIX, fastsig_tile_one_##SUFFIX)    \
    FASTSIG_DEFINE_COLUMN_SUMS(T, fastsig_column_sums_##SUFFIX, fastsig_tile_one_##SUFFIX) \
    FASTSIG_DEFINE_COLUMN_KERNEL(T, FASTSIG_INDEX_##SUFFIX, fastsig_columns_##SUFFIX,     \
                                 FASTSIG_VECTOR_BYTES)                                  \
    FASTSIG_DEFINE_REGISTER_TILE(T, fastsig_register_tile_##SUFFIX, FASTSIG_MR_##SUFFIX,   \
        (int)(FASTSIG_NR_##SUFFIX / (FASTSIG_VECTOR_BYTES / sizeof(T))),                 \
        FASTSIG_VECTOR_BYTES)                                                           \
    static inline void fastsig_vector_rows_##SUFFIX(                                    \
            int shape, Py_ssize_t rows, Py_ssize_t k, const T* a, Py_ssize_t a_rs,      \
            Py_ssize_t a_cs, const T* b, T* c, Py_ssize_t ldc, Py_ssize_t cols,         \
            const T* bias, int spill) {                                                 \
        Py_ssize_t done = 0;                                                            \
        if (a_cs == 1 && a_rs == k && ldc == cols && cols <= 4)                         \
            done = fastsig_columns_##SUFFIX(rows, k, cols, a, b,                        \
                (shape == 0 ? FASTSIG_VECTOR_BYTES / 2 : FASTSIG_VECTOR_BYTES) / sizeof(T), \
                c, bias);                                                               \
        if (done == rows)                                                               \
            return;                                                                     \
        a += done * a_rs;                                                               \
        c += done * ldc;                                                                \
        if (shape == 0)                                                                 \
            fastsig_rows_half_##SUFFIX(rows - done, k, a, a_rs, a_cs, b, c, ldc, cols,  \
                                       bias, spill);                                    \
        else                                                                            \
            fastsig_rows_one_##SUFFIX(rows - done, k, a, a_rs, a_cs, b, c, ldc, cols,   \
                                      bias, spill);                                     \
    }                                                                                   \
    static inline void fastsig_vector_tile_##SUFFIX(                                    \
            int shape, Py_ssize_t kc, const T* a, Py_ssize_t a_rs, Py_ssize_t a_cs,     \
            const T* b, T* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,         \
            int accumulate, const T* bias, int spill) {                                 \
        if (shape == 0)                                                                 \
            fastsig_tile_half_##SUFFIX(kc, a, a_rs, a_cs, b, c, ldc, rows, cols,        \
                                       accumulate, bias, spill);                        \
        else if (shape == 1)                                                            \
            fastsig_tile_one_##SUFFIX(kc, a, a_rs, a_cs, b, c, ldc, rows, cols,         \
                                      accumulate, bias, spill);                         \
        else                                                                            \
            fastsig_tile_two_##SUFFIX(kc, a, a_rs, a_cs, b, c, ldc, rows, cols,         \
                                      accumulate, bias, spill);                         \
    }
    #else
    /* No vector extensions: the vector tile is never chosen, these never run. */
    #define FASTSIG_VECTOR_TILE 0
    #define FASTSIG_VECTOR_BYTES 16
    #define FASTSIG_HALF_TILE 0
    #define FASTSIG_MRVH_F32 1
    #define FASTSIG_MRV1_F32 1
    #define FASTSIG_MRV2_F32 1
    #define FASTSIG_MRVH_F64 1
    #define FASTSIG_MRV1_F64 1
    #define FASTSIG_MRV2_F64 1
    #define FASTSIG_DEFINE_VECTOR_TILES(T, SUFFIX)                                     \
    static inline void fastsig_vector_tile_##SUFFIX(                                    \
            int shape, Py_ssize_t kc, const T* a, Py_ssize_t a_rs, Py_ssize_t a_cs,     \
            const T* b, T* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,         \
            int accumulate, const T* bias, int spill) { }                               \
    static inline void fastsig_vector_rows_##SUFFIX(                                    \
            int shape, Py_ssize_t rows, Py_ssize_t k, const T* a, Py_ssize_t a_rs,      \
            Py_ssize_t a_cs, const T* b, T* c, Py_ssize_t ldc, Py_ssize_t cols,         \
            const T* bias, int spill) { }                                               \
    static inline void fastsig_column_sums_##SUFFIX(                                    \
            Py_ssize_t rows, Py_ssize_t k, const T* x, Py_ssize_t ldx, const T* dy,     \
            Py_ssize_t m, T* dw, T* db) { }                                             \
    static inline void fastsig_register_tile_##SUFFIX(                                  \
            Py_ssize_t kc, const T* a, const T* b, T* c, Py_ssize_t ldc,                \
            Py_ssize_t rows, Py_ssize_t cols, int accumulate, const T* bias) { }        \
    static inline void fastsig_register_tile_##SUFFIX##_in_place(                       \
            Py_ssize_t kc, const T* a, Py_ssize_t lda, const T* b, T* c, Py_ssize_t ldc, \
            Py_ssize_t rows, Py_ssize_t cols, int accumulate, const T* bias,            \
            const T* next) { }
    #endif
    #define FASTSIG_INDEX_F32 int32_t
    #define FASTSIG_INDEX_F64 int64_t
    #define FASTSIG_LANES_F32 (FASTSIG_VECTOR_BYTES / 4)
    #define FASTSIG_LANES_F64 (FASTSIG_VECTOR_BYTES / 8)
    FASTSIG_DEFINE_VECTOR_TILES(float, F32)
    FASTSIG_DEFINE_VECTOR_TILES(double, F64)
    """
    enum:
        VECTOR_TILE "FASTSIG_VECTOR_TILE"
        HALF_TILE "FASTSIG_HALF_TILE"
        MRVH_F32 "FASTSIG_MRVH_F32"
        MRV1_F32 "FASTSIG_MRV1_F32"
        MRV2_F32 "FASTSIG_MRV2_F32"
        MRVH_F64 "FASTSIG_MRVH_F64"
        MRV1_F64 "FASTSIG_MRV1_F64"
        MRV2_F64 "FASTSIG_MRV2_F64"
        LANES_F32 "FASTSIG_LANES_F32"
        LANES_F64 "FASTSIG_LANES_F64"
    void _vector_tile_f32 "fastsig_vector_tile_F32"(
        int shape, Py_ssize_t kc, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const float* b, float* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,
        int accumulate, const float* bias, int spill) noexcept nogil
    void _vector_rows_f32 "fastsig_vector_rows_F32"(
        int shape, Py_ssize_t rows, Py_ssize_t k, const float* a, Py_ssize_t a_rs,
        Py_ssize_t a_cs, const float* b, float* c, Py_ssize_t ldc, Py_ssize_t cols,
        const float* bias, int spill) noexcept nogil
    void _vector_rows_f64 "fastsig_vector_rows_F64"(
        int shape, Py_ssize_t rows, Py_ssize_t k, const double* a, Py_ssize_t a_rs,
        Py_ssize_t a_cs, const double* b, double* c, Py_ssize_t ldc, Py_ssize_t cols,
        const double* bias, int spill) noexcept nogil
    void _column_sums_f32 "fastsig_column_sums_F32"(
        Py_ssize_t rows, Py_ssize_t k, const float* x, Py_ssize_t ldx, const float* dy,
        Py_ssize_t m, float* dw, float* db) noexcept nogil
    void _column_sums_f64 "fastsig_column_sums_F64"(
        Py_ssize_t rows, Py_ssize_t k, const double* x, Py_ssize_t ldx, const double* dy,
        Py_ssize_t m, double* dw, double* db) noexcept nogil
    void _register_tile_f32 "fastsig_register_tile_F32"(
        Py_ssize_t kc, const float* a, const float* b, float* c, Py_ssize_t ldc,
        Py_ssize_t rows, Py_ssize_t cols, int accumulate, const float* bias) noexcept nogil
    void _register_tile_in_place_f32 "fastsig_register_tile_F32_in_place"(
        Py_ssize_t kc, const float* a, Py_ssize_t lda, const float* b, float* c,
        Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const float* bias, const float* next) noexcept nogil
    void _register_tile_f64 "fastsig_register_tile_F64"(
        Py_ssize_t kc, const double* a, const double* b, double* c, Py_ssize_t ldc,
        Py_ssize_t rows, Py_ssize_t cols, int accumulate, const double* bias) noexcept nogil
    void _register_tile_in_place_f64 "fastsig_register_tile_F64_in_place"(
        Py_ssize_t kc, const double* a, Py_ssize_t lda, const double* b, double* c,
        Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const double* bias, const double* next) noexcept nogil
    void _vector_tile_f64 "fastsig_vector_tile_F64"(
        int shape, Py_ssize_t kc, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const double* b, double* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,
        int accumulate, const double* bias, int spill) noexcept nogil

cdef enum VectorShape:
    VECTOR_HALF = 0     # half a vector a row (AVX-512 only)
    VECTOR_ONE = 1
    VECTOR_TWO = 2


cdef inline int _vector_shape(floating* kind, Py_ssize_t m) noexcept nogil:
    """The vector tile's shape for a B of m columns: the narrowest that holds m."""
    cdef Py_ssize_t lanes = LANES_F32 if floating is float else LANES_F64
    if HALF_TILE and 2 * m <= lanes:
        return VECTOR_HALF
    return VECTOR_ONE if m <= lanes else VECTOR_TWO


cdef inline Py_ssize_t _vector_rows(floating* kind, Py_ssize_t m) noexcept nogil:
    """MRV: rows of the vector tile for a B of m columns."""
    cdef Py_ssize_t half = MRVH_F32 if floating is float else MRVH_F64
    cdef Py_ssize_t one = MRV1_F32 if floating is float else MRV1_F64
    cdef Py_ssize_t two = MRV2_F32 if floating is float else MRV2_F64
    cdef int shape = _vector_shape(kind, m)
    return half if shape == VECTOR_HALF else (one if shape == VECTOR_ONE else two)


cdef inline Py_ssize_t _vector_width(floating* kind, Py_ssize_t m) noexcept nogil:
    """NRV: columns of the vector tile (and of B's one packed panel)."""
    cdef Py_ssize_t lanes = LANES_F32 if floating is float else LANES_F64
    cdef int shape = _vector_shape(kind, m)
    return lanes // 2 if shape == VECTOR_HALF else (lanes if shape == VECTOR_ONE else 2 * lanes)


cdef inline void _micro_kernel(Py_ssize_t kc, const floating* a, const floating* b,
                               floating* c, Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """c[:MR, :NR] (= or +=) Σ_p a[p*MR + i] * b[p*NR + j], over kc packed rows."""
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef floating acc[MAX_TILE]
    cdef floating ai
    cdef Py_ssize_t p, i, j
    for i in range(mr * nr):
        acc[i] = 0
    for p in range(kc):
        for i in range(mr):
            ai = a[p * mr + i]
            for j in range(nr):
                acc[i * nr + j] += ai * b[p * nr + j]
    if accumulate:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] += acc[i * nr + j]
    else:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] = acc[i * nr + j]


cdef inline void _micro_kernel_in_place(Py_ssize_t kc, const floating* a, Py_ssize_t lda,
                                      const floating* b, floating* c, Py_ssize_t ldc,
                                      bint accumulate) noexcept nogil:
    """_micro_kernel reading A where it lies, row i at a + i*lda, contiguous in depth.

    A second kernel rather than strides on the first: with a runtime stride gcc
    keeps the tile in registers only in some variants (A_IN_PLACE), and the packed
    kernel must keep its constant one everywhere."""
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef floating acc[MAX_TILE]
    cdef floating ai
    cdef Py_ssize_t p, i, j
    for i in range(mr * nr):
        acc[i] = 0
    for p in range(kc):
        for i in range(mr):
            ai = a[i * lda + p]
            for j in range(nr):
                acc[i * nr + j] += ai * b[p * nr + j]
    if accumulate:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] += acc[i * nr + j]
    else:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] = acc[i * nr + j]


cdef inline void _micro_kernel_t(Py_ssize_t kc, const floating* a, const floating* b,
                                 floating* c, Py_ssize_t ldc, Py_ssize_t rows,
                                 Py_ssize_t cols, bint accumulate) noexcept nogil:
    """c[:rows, :cols] (= or +=) Σ_p a[p*MRT + i] * b[p*NRT + j], over kc packed rows.

    The transposed tile of the narrow kernel: the accumulators are kept column by
    column (acc[j*MRT + i]), so that the vectors run along the MRT rows and each
    B value is one broadcast. Only the rows × cols that C has are stored."""
    cdef Py_ssize_t mr = MRT_F32 if floating is float else MRT_F64
    cdef Py_ssize_t nr = NRT_F32 if floating is float else NRT_F64
    cdef floating acc[MAX_TILE]
    cdef floating bj
    cdef Py_ssize_t p, i, j
    for i in range(mr * nr):
        acc[i] = 0
    for p in range(kc):
        for j in range(nr):
            bj = b[p * nr + j]
            for i in range(mr):
                acc[j * mr + i] += a[p * mr + i] * bj
    if rows == mr and cols == nr:
        # A whole tile: fixed trip counts, which gcc turns into far faster code
        # than the general loops below (twice the speed at a depth of 16).
        if accumulate:
            for i in range(mr):
                for j in range(nr):
                    c[i * ldc + j] += acc[j * mr + i]
        else:
            for i in range(mr):
                for j in range(nr):
                    c[i * ldc + j] = acc[j * mr + i]
    elif accumulate:
        for i in range(rows):
            for j in range(cols):
                c[i * ldc + j] += acc[j * mr + i]
    else:
        for i in range(rows):
            for j in range(cols):
                c[i * ldc + j] = acc[j * mr + i]


cdef inline void _tile(Py_ssize_t kc, const floating* a, Py_ssize_t lda, const floating* b,
                       floating* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,
                       bint accumulate, const floating* bias,
                       const floating* next) noexcept nogil:
    """C[:rows, :cols] (= or +=) the register tile's product of an A panel (packed
    when lda == 0, else rows lda apart, contiguous in depth) and a packed B panel,
    then + bias[:cols] if `bias` is not NULL (after the sum, as the epilogue adds
    it). `next`, if not NULL, is the next A panel read in place (rows lda apart),
    which the kernel prefetches as it goes.

    The C kernel (vector extensions) where the compiler has them; elsewhere the
    Cython kernels, through a local tile at the edges."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef floating edge[MAX_TILE]
    cdef Py_ssize_t i, j
    if VECTOR_TILE:
        if floating is float:
            if lda:
                _register_tile_in_place_f32(kc, a, lda, b, c, ldc, rows, cols, accumulate,
                                            bias, next)
            else:
                _register_tile_f32(kc, a, b, c, ldc, rows, cols, accumulate, bias)
        else:
            if lda:
                _register_tile_in_place_f64(kc, a, lda, b, c, ldc, rows, cols, accumulate,
                                            bias, next)
            else:
                _register_tile_f64(kc, a, b, c, ldc, rows, cols, accumulate, bias)
        return
    if rows == mr and cols == nr:
        if lda:
            _micro_kernel_in_place(kc, a, lda, b, c, ldc, accumulate)
        else:
            _micro_kernel(kc, a, b, c, ldc, accumulate)
    else:
        if lda:
            _micro_kernel_in_place(kc, a, lda, b, edge, nr, False)
        else:
            _micro_kernel(kc, a, b, edge, nr, False)
        for i in range(rows):
            for j in range(cols):
                c[i * ldc + j] = (c[i * ldc + j] + edge[i * nr + j] if accumulate
                                  else edge[i * nr + j])
    if bias != NULL:
        for i in range(rows):
            for j in range(cols):
                c[i * ldc + j] = c[i * ldc + j] + bias[j]


cdef inline const floating* _b_panel(const floating* packed, Py_ssize_t k, Py_ssize_t m,
                                    Py_ssize_t nr, Py_ssize_t panel,
                                    Py_ssize_t pc) noexcept nogil:
    """Where panel `panel` of a B (k×m) packed by _pack_b starts its depth block pc
    (a multiple of KC): the blocks before hold KC rows of every panel, this one
    min(KC, k - pc) rows of each panel before `panel`."""
    cdef Py_ssize_t panels = (m + nr - 1) // nr
    cdef Py_ssize_t kc = min(<Py_ssize_t>_depth_block(<floating*>packed), k - pc)
    return packed + pc * panels * nr + panel * kc * nr


cdef void _pack_b(const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
                  Py_ssize_t k, Py_ssize_t m, floating* packed,
                  Py_ssize_t panel0, Py_ssize_t panel1, Py_ssize_t nr) noexcept nogil:
    """Panels [panel0, panel1) of nr columns of B into `packed`: NR for the register
    tile, NRT for the narrow kernel, NRV for the vector tile. The layout is by depth
    block, then panel (see _b_panel): the panels of one depth block are contiguous,
    so a block of NC columns is one span of memory. Packed panel by panel, each
    whole in depth, a block's panels lay k*NR values apart -- 512 KB at k = 2048
    float64, a multiple of L2's way size, so they all fell into the same L2 sets
    and evicted each other (2048³ float64 ran 7 % slower)."""
    cdef Py_ssize_t depth = _depth_block(packed)
    cdef Py_ssize_t panel, pb, pc, p, j, j0, width
    cdef floating* dst
    for panel in range(panel0, panel1):
        j0 = panel * nr
        width = min(nr, m - j0)
        for pb in range((k + depth - 1) // depth):
            pc = pb * depth
            dst = <floating*>_b_panel(packed, k, m, nr, panel, pc)
            for p in range(pc, min(pc + depth, k)):
                for j in range(width):
                    dst[j] = b[p * b_rs + (j0 + j) * b_cs]
                for j in range(width, nr):
                    dst[j] = 0
                dst += nr


cdef void _pack_a(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                  Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t p0, Py_ssize_t kc,
                  floating* packed, Py_ssize_t mr) noexcept nogil:
    """Rows [i0, i1), depth [p0, p0 + kc) of A into mr-row panels of kc×mr values:
    MR for the register tile, MRT for the narrow kernel."""
    cdef Py_ssize_t panel, p, pg, i, r0, height
    cdef Py_ssize_t mr_tile = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t panels = (i1 - i0 + mr - 1) // mr
    cdef Py_ssize_t whole = (i1 - i0) // mr if a_rs == 1 and mr == mr_tile else 0
    cdef floating* dst
    cdef const floating* src
    if whole:
        # A transposed (xᵀ in the backward): step p of a panel is MR contiguous values
        # of A's row p, copied by a memcpy of a fixed length (a few vector moves). The
        # steps go PACK_A_STEPS at a time, every panel for each group, so that A is
        # read a few whole rows at a time and each panel written in runs. Panel by
        # panel, each walked all kc rows (1 KB apart at 256 × 256) through memory;
        # step by step, every step's writes fell into one L1 set (panels are kc·MR
        # values apart); as a loop of MR copies gcc vectorized it across the steps,
        # gathering (6 % of the float32 backward at 256 × 256).
        for pg in range((kc + PACK_A_STEPS - 1) // PACK_A_STEPS):
            pg = pg * PACK_A_STEPS
            for panel in range(whole):
                src = a + i0 + panel * mr_tile + (p0 + pg) * a_cs
                dst = packed + panel * kc * mr_tile + pg * mr_tile
                for p in range(min(<Py_ssize_t>PACK_A_STEPS, kc - pg)):
                    memcpy(dst + p * mr_tile, src + p * a_cs, mr_tile * sizeof(floating))
    for panel in range(whole, panels):
        dst = packed + panel * kc * mr
        r0 = i0 + panel * mr
        height = min(mr, i1 - r0)
        for p in range(kc):
            for i in range(height):
                dst[p * mr + i] = a[(r0 + i) * a_rs + (p0 + p) * a_cs]
            for i in range(height, mr):
                dst[p * mr + i] = 0


cdef void _epilogue_rows(floating* c, Py_ssize_t ldc, Py_ssize_t i0, Py_ssize_t i1,
                         Py_ssize_t j0, Py_ssize_t j1, const floating* bias,
                         int epilogue) noexcept nogil:
    """C[i0:i1, j0:j1] = σ(C + bias) (for EPILOGUE_SIGMOID)."""
    cdef Py_ssize_t i, j
    cdef floating* row
    if epilogue != EPILOGUE_SIGMOID:
        return
    for i in range(i0, i1):
        row = c + i * ldc
        if bias != NULL:
            for j in range(j0, j1):
                row[j] = row[j] + bias[j]
    if j0 == 0 and j1 == ldc:
        # Whole rows: one contiguous span, vectorized whatever the width.
        sigmoid_span(c + i0 * ldc, c + i0 * ldc, (i1 - i0) * ldc)
    else:
        for i in range(i0, i1):
            sigmoid_span(c + i * ldc + j0, c + i * ldc + j0, j1 - j0)


cdef void _gemm_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                     const floating* b_packed, floating* c,
                     Py_ssize_t k, Py_ssize_t m,
                     Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1,
                     floating* a_packed, const floating* bias, int epilogue,
                     bint accumulate) noexcept nogil:
    """C[i0:i1, j0:j1] (= or, with `accumulate`, +=) A[i0:i1] @ B[:, j0:j1], then the
    epilogue; j0 is a multiple of NR. Any width: the columns go in blocks of NC.

    A row-major A (a_cs == 1) is read where it lies (where A_IN_PLACE) unless its
    rows are a multiple of 4 KB apart and C is wider than two column panels: packing
    cost 16 % of 262144×256 @ 256×256 float32, but rows 4 KB apart all fall into one
    L1 set, which packing avoids (1024³ float32 ran 7 % slower in place). A ragged
    last row panel is still packed, so nothing past A's rows is read."""
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef bint a_in_place_ok = A_IN_PLACE_F32 if floating is float else A_IN_PLACE_F64
    cdef bint in_place = a_in_place_ok and a_cs == 1 and (
        j1 - j0 <= 2 * nr or (a_rs * <Py_ssize_t>sizeof(floating)) % 4096 != 0)
    cdef bint direct
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t pb, pc, kc, ib, ir, jb, jr, rows, cols, i, j
    cdef Py_ssize_t blocks = (k + depth - 1) // depth
    cdef Py_ssize_t nc = nr * ((NC_TARGET + nr - 1) // nr), jc, jc0, jc1
    cdef const floating* a_panel
    cdef const floating* a_next
    cdef const floating* b_panel
    cdef const floating* tile_bias
    cdef floating* c_tile
    if k == 0 and not accumulate:
        for i in range(i0, i1):
            for j in range(j0, j1):
                c[i * m + j] = 0
        _epilogue_rows(c, m, i0, i1, j0, j1, bias, epilogue)
        return
    for pb in range(blocks):
        pc = pb * depth
        kc = min(depth, k - pc)
        # The bias is added by the tiles of the last depth block, as they store.
        tile_bias = bias if pb == blocks - 1 and epilogue == EPILOGUE_SIGMOID else NULL
        if not in_place:
            _pack_a(a, a_rs, a_cs, i0, i1, pc, kc, a_packed, mr)
        # Column blocks of NC: the block of packed B they read stays in L2, and the
        # packed A serves them all (a task per column block packed A once each).
        for jc in range((j1 - j0 + nc - 1) // nc):
            jc0 = j0 + jc * nc
            jc1 = min(j1, jc0 + nc)
            for ib in range((i1 - i0 + mr - 1) // mr):
                ir = i0 + ib * mr
                rows = min(mr, i1 - ir)
                direct = in_place and rows == mr
                a_next = NULL
                if direct:
                    a_panel = a + ir * a_rs + pc
                    if ir + 2 * mr <= i1:
                        # A read in place comes from memory: the first tile of
                        # each panel fetches the next panel's rows ahead.
                        a_next = a_panel + mr * a_rs
                elif in_place:
                    _pack_a(a, a_rs, a_cs, ir, i1, pc, kc, a_packed, mr)
                    a_panel = a_packed
                else:
                    a_panel = a_packed + ib * kc * mr
                for jb in range((jc1 - jc0 + nr - 1) // nr):
                    jr = jc0 + jb * nr
                    cols = min(nr, jc1 - jr)
                    b_panel = _b_panel(b_packed, k, m, nr, jr // nr, pc)
                    c_tile = c + ir * m + jr
                    _tile(kc, a_panel, a_rs if direct else 0, b_panel, c_tile, m, rows, cols,
                          accumulate or pc > 0, tile_bias + jr if tile_bias != NULL else NULL,
                          a_next if jb == 0 else NULL)
                if pb == blocks - 1:
                    # The epilogue on this panel's rows while they are in L1: over the
                    # whole task (36 KB of float32 at m = 64) it fell out of L1 and cost
                    # more than a separate pass.
                    _epilogue_rows(c, m, ir, ir + rows, jc0, jc1, NULL, epilogue)


cdef void _gemm_narrow_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                            const floating* b_packed, floating* c, Py_ssize_t k, Py_ssize_t m,
                            Py_ssize_t i0, Py_ssize_t i1, floating* a_packed,
                            const floating* bias, int epilogue, bint accumulate) noexcept nogil:
    """C[i0:i1] (= or, with `accumulate`, +=) A[i0:i1] @ B, then the epilogue, for a B
    packed in NRT-column panels."""
    cdef Py_ssize_t mr = MRT_F32 if floating is float else MRT_F64
    cdef Py_ssize_t nr = NRT_F32 if floating is float else NRT_F64
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t pb, pc, kc, ib, ir, jb, jr, i, j
    if k == 0 and not accumulate:
        for i in range(i0, i1):
            for j in range(m):
                c[i * m + j] = 0
    for pb in range((k + depth - 1) // depth):
        pc = pb * depth
        kc = min(depth, k - pc)
        _pack_a(a, a_rs, a_cs, i0, i1, pc, kc, a_packed, mr)
        for ib in range((i1 - i0 + mr - 1) // mr):
            ir = i0 + ib * mr
            for jb in range((m + nr - 1) // nr):
                jr = jb * nr
                _micro_kernel_t(kc, a_packed + ib * kc * mr, _b_panel(b_packed, k, m, nr, jb, pc),
                                c + ir * m + jr, m, min(mr, i1 - ir), min(nr, m - jr),
                                accumulate or pc > 0)
    _epilogue_rows(c, m, i0, i1, 0, m, bias, epilogue)


cdef void _gemm_vector_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                            const floating* b_packed, floating* c, Py_ssize_t k, Py_ssize_t m,
                            Py_ssize_t i0, Py_ssize_t i1, floating* a_copy,
                            const floating* bias, int epilogue, bint accumulate) noexcept nogil:
    """C[i0:i1] (= or, with `accumulate`, +=) A[i0:i1] @ B, then the epilogue, for a B
    packed in one panel of _vector_width(m) columns. A is read where it lies.

    The epilogue runs while the rows are in L1: each tile adds the bias as it stores
    its last depth block, and σ runs over the rows finished so far (contiguous, as C's
    rows are whole) once they hold SIGMOID_SPAN elements, and at the end. Applied to
    a whole task of 192 rows instead, it cost 10-25 % of the layer at (16, 16), the
    bias's own pass over the rows most of it; σ over each tile alone (36 elements at
    m = 3) spent its time in the scalar remainder.
    A ragged last panel of fewer than MRV rows is packed by _pack_a, zero-padded to
    MRV rows, into `a_copy` (MRV × min(k, KC)), so the tile never reads past A."""
    cdef Py_ssize_t mr = _vector_rows(c, m), nr = _vector_width(c, m)
    cdef int shape = _vector_shape(c, m)
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t pb, pc, kc, ib, ir, rows, i, rs, cs, blocks = (k + depth - 1) // depth
    cdef Py_ssize_t pending = i0     # first row not yet through σ
    cdef Py_ssize_t chunk
    cdef bint last, spill, sigmoid = epilogue == EPILOGUE_SIGMOID
    cdef floating bias_padded[32]       # >= NRV of every variant and dtype
    cdef const floating* tile_bias = NULL
    cdef const floating* a_panel
    if sigmoid and bias != NULL:
        for i in range(nr):
            bias_padded[i] = bias[i] if i < m else 0
        tile_bias = bias_padded
    if k == 0 and not accumulate:
        for i in range(i0 * m, i1 * m):
            c[i] = 0
        _epilogue_rows(c, m, i0, i1, 0, m, bias, epilogue)
        return
    if k <= ROW_KERNEL_DEPTH and shape != VECTOR_TWO and not accumulate:
        # A multiple of 16 rows, so that the column kernel's blocks of L rows fit.
        chunk = max(<Py_ssize_t>16, SIGMOID_SPAN // m // 16 * 16)
        for ib in range((i1 - i0 + chunk - 1) // chunk):
            ir = i0 + ib * chunk
            rows = min(chunk, i1 - ir)
            spill = (i1 - ir - rows) * m >= nr
            if floating is float:
                _vector_rows_f32(shape, rows, k, a + ir * a_rs, a_rs, a_cs, b_packed,
                                 c + ir * m, m, m, tile_bias, spill)
            else:
                _vector_rows_f64(shape, rows, k, a + ir * a_rs, a_rs, a_cs, b_packed,
                                 c + ir * m, m, m, tile_bias, spill)
            if sigmoid:
                sigmoid_span(c + ir * m, c + ir * m, rows * m)
        return
    for pb in range(blocks):
        pc = pb * depth
        kc = min(depth, k - pc)
        last = pb == blocks - 1
        for ib in range((i1 - i0 + mr - 1) // mr):
            ir = i0 + ib * mr
            rows = min(mr, i1 - ir)
            if rows == mr:
                a_panel = a + ir * a_rs + pc * a_cs
                rs = a_rs
                cs = a_cs
            else:
                # One panel packed as the register tile's are: (i, p) at p*MRV + i.
                _pack_a(a, a_rs, a_cs, ir, i1, pc, kc, a_copy, mr)
                a_panel = a_copy
                rs = 1
                cs = mr
            # The rows after this tile in the task are written later, by this thread:
            # the tile may spill its padding lanes onto them if they hold a vector.
            spill = (i1 - ir - rows) * m >= nr
            if floating is float:
                _vector_tile_f32(shape, kc, a_panel, rs, cs, b_packed + pc * nr, c + ir * m, m,
                                 rows, m, accumulate or pc > 0, tile_bias if last else NULL,
                                 spill)
            else:
                _vector_tile_f64(shape, kc, a_panel, rs, cs, b_packed + pc * nr, c + ir * m, m,
                                 rows, m, accumulate or pc > 0, tile_bias if last else NULL,
                                 spill)
            if sigmoid and last and ((ir + rows - pending) * m >= SIGMOID_SPAN
                                     or ir + rows == i1):
                sigmoid_span(c + pending * m, c + pending * m, (ir + rows - pending) * m)
                pending = ir + rows


cdef inline void* _aligned(void* base) noexcept nogil:
    return <void*>((<uintptr_t>base + ALIGN - 1) & ~(<uintptr_t>(ALIGN - 1)))


cdef inline int _kernel_for(floating* kind, Py_ssize_t m) noexcept nogil:
    """The kernel for a B of m columns.

    Where at most half the register tile's columns would be C's, B is narrow: the
    vector tile takes it if C fills a quarter of the tile's lanes or more (below
    that, at m = 3 in float32 on AVX-512, the transposed tile pads less); else the
    transposed tile."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    if 2 * m > nr:
        return KERNEL_TILE
    if VECTOR_TILE and 4 * m >= _vector_width(kind, m):
        return KERNEL_VECTOR
    return KERNEL_TRANSPOSED


cdef inline Py_ssize_t _panel_width(floating* kind, Py_ssize_t m) noexcept nogil:
    """Columns of a packed panel of B (m columns) for the kernel _kernel_for chooses."""
    cdef int kernel = _kernel_for(kind, m)
    if kernel == KERNEL_VECTOR:
        return _vector_width(kind, m)
    if kernel == KERNEL_TRANSPOSED:
        return NRT_F32 if floating is float else NRT_F64
    return NR_F32 if floating is float else NR_F64


cdef inline Py_ssize_t _packed_b_size(floating* kind, Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """Elements of B (k×m) packed into panels (see _panel_width)."""
    cdef Py_ssize_t nr = _panel_width(kind, m)
    return ((m + nr - 1) // nr) * nr * k


cdef inline Py_ssize_t _row_task(floating* kind, Py_ssize_t m) noexcept nogil:
    """Rows of C in one task, for a B of m columns."""
    cdef int kernel = _kernel_for(kind, m)
    if kernel == KERNEL_VECTOR:
        return _vector_rows(kind, m) * VECTOR_PANELS
    if kernel == KERNEL_TRANSPOSED:
        return (MRT_F32 if floating is float else MRT_F64) * NARROW_PANELS
    return (MR_F32 if floating is float else MR_F64) * MC_PANELS


cdef inline Py_ssize_t _row_unit(floating* kind, Py_ssize_t m) noexcept nogil:
    """The rows of C that gemm() shares out whole: an MR-row panel of the register
    tile, a whole task (_row_task) of the narrow kernels."""
    if _kernel_for(kind, m) == KERNEL_TILE:
        return MR_F32 if floating is float else MR_F64
    return _row_task(kind, m)


cdef inline Py_ssize_t _row_tasks(floating* kind, Py_ssize_t n, Py_ssize_t m,
                                  int num_threads) noexcept nogil:
    """Tasks the rows of C are cut into by gemm(): each at most _row_task() rows,
    and for the register tile a multiple of the threads, so that each thread gets
    as even a share of the MR-row panels as whole panels allow (_task_start).
    Tasks of a fixed MC_PANELS panels left one thread 4 tasks where the other had
    3 and a remnant (1024 rows at 2 threads: 576 rows against 448, 11 % of the
    speed lost). No result depends on it: rows only change threads."""
    cdef Py_ssize_t unit = _row_unit(kind, m)
    cdef Py_ssize_t units = (n + unit - 1) // unit
    cdef Py_ssize_t tasks
    if _kernel_for(kind, m) != KERNEL_TILE:
        return units
    tasks = (units + MC_PANELS - 1) // MC_PANELS
    return (tasks + num_threads - 1) // num_threads * num_threads


cdef inline Py_ssize_t _task_start(Py_ssize_t task, Py_ssize_t tasks, Py_ssize_t unit,
                                   Py_ssize_t n) noexcept nogil:
    """The first row of task `task` of `tasks` over n rows in runs of `unit`: the
    units are dealt out in order, each task getting ⌊units/tasks⌋ or one more."""
    cdef Py_ssize_t units = (n + unit - 1) // unit
    return min(n, task * units // tasks * unit)


cdef inline Py_ssize_t _packed_a_size(floating* kind, Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """Elements of one task's scratch for A (k deep, B m wide), in whole cache lines:
    its packed block, or for the vector tile the copy of one ragged panel."""
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t rows = _row_task(kind, m)
    if _kernel_for(kind, m) == KERNEL_VECTOR:
        rows = _vector_rows(kind, m)
    return (rows * min(_depth_block(kind), k) + per_line - 1) // per_line * per_line


cdef inline void _row_block(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                            const floating* b_packed, floating* c,
                            Py_ssize_t k, Py_ssize_t m, Py_ssize_t i0, Py_ssize_t i1,
                            floating* scratch, const floating* bias, int epilogue,
                            bint accumulate, int kernel) noexcept nogil:
    """C[i0:i1] (= or +=) A[i0:i1] @ B by a narrow kernel (whole rows of C)."""
    if kernel == KERNEL_VECTOR:
        _gemm_vector_task(a, a_rs, a_cs, b_packed, c, k, m, i0, i1, scratch, bias, epilogue,
                          accumulate)
    else:
        _gemm_narrow_task(a, a_rs, a_cs, b_packed, c, k, m, i0, i1, scratch, bias, epilogue,
                          accumulate)


cdef void gemm_serial(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                      const floating* b_packed, floating* c,
                      Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                      floating* a_packed, bint accumulate) noexcept nogil:
    """C (= or +=) A @ B on the calling thread, B already packed in panels of
    _panel_width(c, m) columns; no epilogue. `a_packed` holds
    _packed_a_size(c, k, m)."""
    cdef Py_ssize_t mc = _row_task(c, m), blk
    cdef int kernel = _kernel_for(c, m)
    for blk in range((n + mc - 1) // mc):
        if kernel == KERNEL_TILE:
            _gemm_task(a, a_rs, a_cs, b_packed, c, k, m, blk * mc, min(n, (blk + 1) * mc), 0, m,
                       a_packed, NULL, EPILOGUE_NONE, accumulate)
        else:
            _row_block(a, a_rs, a_cs, b_packed, c, k, m, blk * mc, min(n, (blk + 1) * mc),
                       a_packed, NULL, EPILOGUE_NONE, accumulate, kernel)


cdef Py_ssize_t _depth_chunks(floating* kind, Py_ssize_t n, Py_ssize_t k,
                              Py_ssize_t m) noexcept nogil:
    """Chunks of depth that a product of few tasks and great depth is split into (1:
    none), from the shapes alone, so that the bits do not depend on the threads."""
    cdef Py_ssize_t nr = _panel_width(kind, m)
    cdef Py_ssize_t nc = (m if _kernel_for(kind, m) != KERNEL_TILE
                          else nr * ((NC_TARGET + nr - 1) // nr))
    cdef Py_ssize_t mc = _row_task(kind, m)
    cdef Py_ssize_t tasks = ((n + mc - 1) // mc) * ((m + nc - 1) // nc)
    if tasks >= SPLIT_TASKS or k < 2 * SPLIT_DEPTH:
        return 1
    return max(<Py_ssize_t>1, min(<Py_ssize_t>SPLIT_CHUNKS, k // SPLIT_DEPTH,
                                  SPLIT_ELEMENTS // (n * m)))


cdef int _gemm_split_depth(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                           const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
                           floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                           const floating* bias, int epilogue, int num_threads,
                           Py_ssize_t chunks) except -1:
    """C = A @ B (+ epilogue) for few rows and columns of C and a great depth, as
    xᵀ @ y is (16×262144 @ 262144×16): the rows of C give one task, so one thread
    did it all. The depth is cut into `chunks` chunks (whole depth blocks); each
    chunk's product A[:, chunk] @ B[chunk] goes to a partial C, on any thread, with
    its slice of B packed in that thread's scratch; C is then the sum of the
    partials in chunk order, so the bits depend on the shapes alone."""
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t kchunk = ((k + chunks - 1) // chunks + depth - 1) // depth * depth
    cdef Py_ssize_t nr = _panel_width(c, m), panels = (m + nr - 1) // nr
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t b_size = (panels * nr * kchunk + per_line - 1) // per_line * per_line
    cdef Py_ssize_t a_size = _packed_a_size(c, kchunk, m)
    cdef Py_ssize_t part_size = (n * m + per_line - 1) // per_line * per_line
    cdef Py_ssize_t chunk, k0, kc, i
    cdef int threads
    cdef void* base
    cdef floating* partials
    cdef floating* scratch
    cdef floating* th
    chunks = (k + kchunk - 1) // kchunk
    threads = <int>max(<Py_ssize_t>1, min(<Py_ssize_t>num_threads, chunks))
    base = scratch_malloc((chunks * part_size + threads * (b_size + a_size)) * sizeof(floating)
                          + ALIGN)
    if base == NULL:
        raise MemoryError("fastsig: cannot allocate the matmul's packing buffers")
    partials = <floating*>_aligned(base)
    scratch = partials + chunks * part_size
    with nogil:
        if threads == 1:
            for chunk in range(chunks):
                k0 = chunk * kchunk
                kc = min(kchunk, k - k0)
                _pack_b(b + k0 * b_rs, b_rs, b_cs, kc, m, scratch, 0, panels, nr)
                gemm_serial(a + k0 * a_cs, a_rs, a_cs, scratch, partials + chunk * part_size,
                            n, kc, m, scratch + b_size, False)
        else:
            for chunk in prange(chunks, schedule='static', num_threads=threads):
                k0 = chunk * kchunk
                kc = min(kchunk, k - k0)
                th = scratch + threadid() * (b_size + a_size)
                _pack_b(b + k0 * b_rs, b_rs, b_cs, kc, m, th, 0, panels, nr)
                gemm_serial(a + k0 * a_cs, a_rs, a_cs, th, partials + chunk * part_size,
                            n, kc, m, th + b_size, False)
        for i in range(n * m):
            c[i] = partials[i]
        for chunk in range(1, chunks):
            for i in range(n * m):
                c[i] = c[i] + partials[chunk * part_size + i]
        _epilogue_rows(c, m, 0, n, 0, m, bias, epilogue)
    free(base)
    return 0


cdef inline void _gemm_one_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                                const floating* b_packed, floating* c,
                                Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, Py_ssize_t task,
                                Py_ssize_t row_tasks, Py_ssize_t unit, Py_ssize_t nc,
                                floating* scratch, const floating* bias, int epilogue,
                                int kernel) noexcept nogil:
    """Task `task` of gemm(): row task task // col_tasks, column block task % col_tasks
    (of nc columns; the narrow kernels' tasks are whole rows, nc == m)."""
    cdef Py_ssize_t col_tasks = (m + nc - 1) // nc
    cdef Py_ssize_t ti = task // col_tasks, tj = task % col_tasks
    cdef Py_ssize_t i0 = _task_start(ti, row_tasks, unit, n)
    cdef Py_ssize_t i1 = _task_start(ti + 1, row_tasks, unit, n)
    if kernel == KERNEL_TILE:
        _gemm_task(a, a_rs, a_cs, b_packed, c, k, m, i0, i1, tj * nc, min(m, (tj + 1) * nc),
                   scratch, bias, epilogue, False)
    else:
        _row_block(a, a_rs, a_cs, b_packed, c, k, m, i0, i1, scratch, bias, epilogue, False,
                   kernel)


cdef int gemm(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
              const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
              floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
              const floating* bias, int epilogue, int num_threads) except -1:
    """C = A @ B (+ epilogue); called with the GIL, which it releases for the work.

    Allocates the packed B and one bounded block of scratch per thread, raising
    MemoryError if it cannot."""
    cdef int kernel = _kernel_for(c, m)
    cdef bint narrow = kernel != KERNEL_TILE   # its tasks are whole rows of C
    cdef Py_ssize_t nr = _panel_width(c, m)
    cdef Py_ssize_t unit = _row_unit(c, m)
    cdef Py_ssize_t row_tasks = _row_tasks(c, n, m, num_threads)
    # Tasks are whole rows where there are rows enough to share out (then a task packs
    # its block of A once, for every column block); else rows × NC columns.
    cdef Py_ssize_t nc = (m if narrow or row_tasks >= 4 * num_threads
                          else nr * ((NC_TARGET + nr - 1) // nr))
    cdef Py_ssize_t panels = (m + nr - 1) // nr
    cdef Py_ssize_t col_tasks = (m + nc - 1) // nc
    cdef Py_ssize_t tasks = row_tasks * col_tasks, task, panel
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t scratch_size = _packed_a_size(c, k, m)
    cdef Py_ssize_t b_size = (panels * nr * k + per_line - 1) // per_line * per_line
    cdef int threads = <int>max(<Py_ssize_t>1, min(<Py_ssize_t>num_threads, tasks))
    cdef void* base
    cdef floating* b_packed
    cdef floating* scratch
    cdef Py_ssize_t chunks
    if n == 0 or m == 0:
        return 0
    chunks = _depth_chunks(c, n, k, m)
    if chunks > 1:
        return _gemm_split_depth(a, a_rs, a_cs, b, b_rs, b_cs, c, n, k, m, bias, epilogue,
                                 num_threads, chunks)
    base = scratch_malloc((b_size + threads * scratch_size) * sizeof(floating) + ALIGN)
    if base == NULL:
        raise MemoryError("fastsig: cannot allocate the matmul's packing buffers")
    b_packed = <floating*>_aligned(base)
    scratch = b_packed + b_size
    with nogil:
        if threads == 1:
            _pack_b(b, b_rs, b_cs, k, m, b_packed, 0, panels, nr)
            for task in range(tasks):
                _gemm_one_task(a, a_rs, a_cs, b_packed, c, n, k, m, task, row_tasks, unit,
                               nc, scratch, bias, epilogue, kernel)
        else:
            for panel in prange(panels, schedule='static', num_threads=threads):
                _pack_b(b, b_rs, b_cs, k, m, b_packed, panel, panel + 1, nr)
            for task in prange(tasks, schedule='static', num_threads=threads):
                _gemm_one_task(a, a_rs, a_cs, b_packed, c, n, k, m, task, row_tasks, unit,
                               nc, scratch + threadid() * scratch_size, bias, epilogue, kernel)
    free(base)
    return 0


def matmul(const floating[:, ::1] x, const floating[:, ::1] w, floating[:, ::1] out,
           int num_threads):
    """out = x @ w; `out` must not overlap `x` or `w`."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    if w.shape[0] != k or out.shape[0] != n or out.shape[1] != m:
        raise ValueError("matmul kernel: inconsistent shapes")
    if n == 0 or m == 0:
        return
    # With k == 0 nothing of x or w is read; their pointers are never used.
    gemm(&x[0, 0] if k > 0 else NULL, k, 1, &w[0, 0] if k > 0 else NULL, m, 1,
         &out[0, 0], n, k, m, NULL, EPILOGUE_NONE, num_threads)
