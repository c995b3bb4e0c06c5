# The micro-kernels: the tiles that do the multiply-adds of every product.
#
# Provides: _register_tile (the MR×NR tile: C where the compiler has vector extensions,
#   else the Cython tile below) and _register_tile_ahead (one that fetches ahead as it
#   goes), _transposed_tile (MRT×NRT, Cython), _vector_tile and
#   _vector_row_kernels (the vector tile, its row and column kernels: C), the few-rows
#   kernel (few_rows.h: C, plain loops, in every build) with its transposed kernel and
#   outer product (_dx_few_rows, _dw_few_rows), and the dot products of a C of one to
#   four columns (_column_dots: column_dots.h).
# Uses: register_tile.h, vector_tile.h, few_rows.h and column_dots.h (the C kernels; their
#   headers state how they work), isa.h's constants (declared in kernels.pxi), plan.pxi
#   (the VectorShape enum, MAX_TILE, _takes_column_kernel).
#
# Every tile sums each element of C from 0 over p increasing, one multiply-add a step,
# then adds what C held (accumulate) and then the bias: whichever tile computes an
# element, it gets the same bits. The one exception is column_dots.h, which in the avx2
# and avx512 variants takes a C of one column of depth > ROW_KERNEL_DEPTH, and of up to
# DOTS_MAX_COLUMNS of a depth of a step of its lanes (_takes_dots; the baseline takes one
# column by few_rows.h's transposed kernel, in the tiles' order): its sums run in vector
# lanes along each row of A, so such a column's bits are those of that column alone, not
# of the same column in a C the tiles take. The C tiles and the Cython tiles of a
# compiler without vector extensions (MSVC, FASTSIG_PORTABLE) agree bit for bit.

cdef extern from "_kernels/register_tile.h":
    void _register_tile_f32 "fastsig_register_tile_F32"(
        Py_ssize_t kc, const float* a, const float* b, float* c, Py_ssize_t ldc,
        Py_ssize_t rows, Py_ssize_t cols, int accumulate, const float* bias) noexcept nogil
    void _register_tile_in_place_f32 "fastsig_register_tile_F32_in_place"(
        Py_ssize_t kc, const float* a, Py_ssize_t lda, const float* b, float* c,
        Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const float* bias, const float* next) noexcept nogil
    void _register_tile_b_in_place_f32 "fastsig_register_tile_F32_b_in_place"(
        Py_ssize_t kc, const float* a, const float* b, Py_ssize_t ldb, float* c,
        Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const float* bias) noexcept nogil
    void _register_tile_ahead_f32 "fastsig_register_tile_F32_ahead"(
        Py_ssize_t kc, const float* a, const float* b, float* c, Py_ssize_t ldc, Py_ssize_t cols,
        int accumulate, const float* bias, const float* ahead, Py_ssize_t ahead_cs,
        Py_ssize_t ahead_steps) noexcept nogil
    void _register_tile_f64 "fastsig_register_tile_F64"(
        Py_ssize_t kc, const double* a, const double* b, double* c, Py_ssize_t ldc,
        Py_ssize_t rows, Py_ssize_t cols, int accumulate, const double* bias) noexcept nogil
    void _register_tile_in_place_f64 "fastsig_register_tile_F64_in_place"(
        Py_ssize_t kc, const double* a, Py_ssize_t lda, const double* b, double* c,
        Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const double* bias, const double* next) noexcept nogil
    void _register_tile_b_in_place_f64 "fastsig_register_tile_F64_b_in_place"(
        Py_ssize_t kc, const double* a, const double* b, Py_ssize_t ldb, double* c,
        Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const double* bias) noexcept nogil
    void _register_tile_ahead_f64 "fastsig_register_tile_F64_ahead"(
        Py_ssize_t kc, const double* a, const double* b, double* c, Py_ssize_t ldc, Py_ssize_t cols,
        int accumulate, const double* bias, const double* ahead, Py_ssize_t ahead_cs,
        Py_ssize_t ahead_steps) noexcept nogil

cdef extern from "_kernels/few_rows.h":
    enum:
        FEW_ROWS_MAX "FASTSIG_FEW_ROWS_MAX"
        FEW_ROWS_ONE_PASS "FASTSIG_FEW_ROWS_ONE_PASS"   # rows of A a pass (5-8: eight-row tile)
        EIGHT_ROWS_STRIP_BYTES "FASTSIG_EIGHT_ROWS_STRIP_BYTES"     # its columns at a time
        FEW_ROWS_NARROW "FASTSIG_FEW_ROWS_NARROW"
    void _few_rows_f32 "fastsig_few_rows_F32"(
        Py_ssize_t rows, Py_ssize_t kc, const float* a, Py_ssize_t lda, const float* b,
        Py_ssize_t ldb, float* acc, float* c, Py_ssize_t ldc, Py_ssize_t cols,
        int accumulate, const float* bias, int fetch) noexcept nogil
    void _few_rows_transposed_f32 "fastsig_few_rows_transposed_F32"(
        Py_ssize_t rows, Py_ssize_t m, Py_ssize_t k, Py_ssize_t depth, const float* dy,
        const float* w, float* dx, Py_ssize_t ldx) noexcept nogil
    void _few_rows_transposed_f64 "fastsig_few_rows_transposed_F64"(
        Py_ssize_t rows, Py_ssize_t m, Py_ssize_t k, Py_ssize_t depth, const double* dy,
        const double* w, double* dx, Py_ssize_t ldx) noexcept nogil
    void _few_rows_outer_f32 "fastsig_few_rows_outer_F32"(
        Py_ssize_t rows, Py_ssize_t k, const float* x, Py_ssize_t ldx, const float* dy,
        Py_ssize_t m, float* dw) noexcept nogil
    void _few_rows_outer_f64 "fastsig_few_rows_outer_F64"(
        Py_ssize_t rows, Py_ssize_t k, const double* x, Py_ssize_t ldx, const double* dy,
        Py_ssize_t m, double* dw) noexcept nogil
    void _few_rows_f64 "fastsig_few_rows_F64"(
        Py_ssize_t rows, Py_ssize_t kc, const double* a, Py_ssize_t lda, const double* b,
        Py_ssize_t ldb, double* acc, double* c, Py_ssize_t ldc, Py_ssize_t cols,
        int accumulate, const double* bias, int fetch) noexcept nogil

cdef extern from "_kernels/column_dots.h":
    enum:
        COLUMN_DOTS "FASTSIG_COLUMN_DOTS"      # 1 where the variant has column_dots.h's kernel
        COLUMN_DOTS_MAX_COLUMNS "FASTSIG_COLUMN_DOTS_MAX_COLUMNS"  # its widest C
    void _column_dots_f32 "fastsig_column_dots_F32"(
        Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m, const float* x, const float* wt,
        const float* bias, float* y, int one_row) noexcept nogil
    void _column_dots_f64 "fastsig_column_dots_F64"(
        Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m, const double* x, const double* wt,
        const double* bias, double* y, int one_row) noexcept nogil

cdef extern from "_kernels/vector_tile.h":
    enum: MRV_SHORT "FASTSIG_MRV_SHORT"
    void _vector_tile_half_f32 "fastsig_vector_tile_half_F32"(
        Py_ssize_t kc, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const float* b,
        float* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const float* bias, int spill, const float* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_tile_one_f32 "fastsig_vector_tile_one_F32"(
        Py_ssize_t kc, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const float* b,
        float* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const float* bias, int spill, const float* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_tile_two_f32 "fastsig_vector_tile_two_F32"(
        Py_ssize_t kc, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const float* b,
        float* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const float* bias, int spill, const float* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_tile_one_half_f32 "fastsig_vector_tile_one_half_F32"(
        Py_ssize_t kc, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const float* b,
        float* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const float* bias, int spill, const float* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_rows_half_f32 "fastsig_vector_rows_half_F32"(
        Py_ssize_t rows, Py_ssize_t k, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const float* b, float* c, Py_ssize_t ldc, Py_ssize_t cols, const float* bias,
        int spill) noexcept nogil
    void _vector_rows_one_f32 "fastsig_vector_rows_one_F32"(
        Py_ssize_t rows, Py_ssize_t k, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const float* b, float* c, Py_ssize_t ldc, Py_ssize_t cols, const float* bias,
        int spill) noexcept nogil
    void _vector_tile_short_f32 "fastsig_vector_tile_short_F32"(
        int shape, Py_ssize_t kc, const float* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const float* b, float* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,
        int accumulate, const float* bias, int spill) noexcept nogil
    Py_ssize_t _column_kernel_f32 "fastsig_column_kernel_F32"(
        Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m, const float* a, const float* b,
        Py_ssize_t ldb, float* c, const float* bias) noexcept nogil
    void _vector_tile_half_f64 "fastsig_vector_tile_half_F64"(
        Py_ssize_t kc, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const double* b,
        double* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const double* bias, int spill, const double* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_tile_one_f64 "fastsig_vector_tile_one_F64"(
        Py_ssize_t kc, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const double* b,
        double* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const double* bias, int spill, const double* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_tile_two_f64 "fastsig_vector_tile_two_F64"(
        Py_ssize_t kc, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const double* b,
        double* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const double* bias, int spill, const double* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_tile_one_half_f64 "fastsig_vector_tile_one_half_F64"(
        Py_ssize_t kc, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const double* b,
        double* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols, int accumulate,
        const double* bias, int spill, const double* ahead, Py_ssize_t ahead_steps) noexcept nogil
    void _vector_rows_half_f64 "fastsig_vector_rows_half_F64"(
        Py_ssize_t rows, Py_ssize_t k, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const double* b, double* c, Py_ssize_t ldc, Py_ssize_t cols, const double* bias,
        int spill) noexcept nogil
    void _vector_rows_one_f64 "fastsig_vector_rows_one_F64"(
        Py_ssize_t rows, Py_ssize_t k, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const double* b, double* c, Py_ssize_t ldc, Py_ssize_t cols, const double* bias,
        int spill) noexcept nogil
    void _vector_tile_short_f64 "fastsig_vector_tile_short_F64"(
        int shape, Py_ssize_t kc, const double* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
        const double* b, double* c, Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,
        int accumulate, const double* bias, int spill) noexcept nogil
    Py_ssize_t _column_kernel_f64 "fastsig_column_kernel_F64"(
        Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m, const double* a, const double* b,
        Py_ssize_t ldb, double* c, const double* bias) noexcept nogil


cdef inline void _cython_register_tile(Py_ssize_t kc, const floating* a, const floating* b,
                                       Py_ssize_t ldb, floating* c, Py_ssize_t ldc,
                                       bint accumulate) noexcept nogil:
    """c[:MR, :NR] (= or +=) Σ_p a[p*MR + i] * b[p*ldb + j], over kc packed rows of A and
    rows of B ldb apart (NR: packed): the register tile where the C one
    (register_tile.h) is not compiled."""
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
                acc[i * nr + j] += ai * b[p * ldb + j]
    if accumulate:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] += acc[i * nr + j]
    else:
        for i in range(mr):
            for j in range(nr):
                c[i * ldc + j] = acc[i * nr + j]


cdef inline void _cython_register_tile_in_place(Py_ssize_t kc, const floating* a, Py_ssize_t lda,
                                      const floating* b, floating* c, Py_ssize_t ldc,
                                      bint accumulate) noexcept nogil:
    """_cython_register_tile reading A where it lies, row i at a + i*lda, contiguous in
    depth. A second kernel rather than strides on the first: the packed one keeps its
    constant stride, which gcc needs to keep the tile in registers."""
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


cdef inline void _transposed_tile(Py_ssize_t kc, const floating* a, const floating* b,
                                 floating* c, Py_ssize_t ldc, Py_ssize_t rows,
                                 Py_ssize_t cols, bint accumulate) noexcept nogil:
    """c[:rows, :cols] (= or +=) Σ_p a[p*MRT + i] * b[p*NRT + j], over kc packed rows.

    The transposed tile, for a narrow B: the accumulators are kept column by column
    (acc[j*MRT + i]), so that the vectors run along the MRT rows and each B value is one
    broadcast, and a B of few columns pads little. Only the rows × cols that C has are
    stored."""
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
        # A whole tile: fixed trip counts, which gcc vectorizes (the loops below it
        # does not).
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


cdef inline void _register_tile_ahead(Py_ssize_t kc, const floating* a, const floating* b,
                                      floating* c, Py_ssize_t ldc, Py_ssize_t rows,
                                      Py_ssize_t cols, bint accumulate,
                                      const floating* bias, const floating* ahead,
                                      Py_ssize_t ahead_cs,
                                      Py_ssize_t ahead_steps) noexcept nogil:
    """_register_tile of a packed A and B panel, where a whole panel of rows also fetches
    into L2 the line at ahead + p * ahead_cs at each step p < ahead_steps (register_tile.h's
    `_ahead` tile; a prefetch, the same bits). Without the C kernel, or for fewer rows,
    the tile without the fetch."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    if VECTOR_TILE and rows == mr:
        if floating is float:
            _register_tile_ahead_f32(kc, a, b, c, ldc, cols, accumulate, bias, ahead,
                                     ahead_cs, ahead_steps)
        else:
            _register_tile_ahead_f64(kc, a, b, c, ldc, cols, accumulate, bias, ahead,
                                     ahead_cs, ahead_steps)
        return
    _register_tile(kc, a, 0, b, nr, c, ldc, rows, cols, accumulate, bias, NULL)


cdef inline void _register_tile(Py_ssize_t kc, const floating* a, Py_ssize_t lda,
                                const floating* b, Py_ssize_t ldb, floating* c,
                                Py_ssize_t ldc, Py_ssize_t rows, Py_ssize_t cols,
                                bint accumulate, const floating* bias,
                                const floating* next) noexcept nogil:
    """C[:rows, :cols] (= or +=) the register tile's product of an A panel (packed
    when lda == 0, else rows lda apart, contiguous in depth) and a B panel (packed
    when ldb == NR, else NR columns read where they lie, rows ldb apart; then A is
    packed), then + bias[:cols] if `bias` is not NULL (after the sum, as the epilogue
    adds it). `next`, if not NULL, is the next A panel read in place (rows lda apart),
    which the kernel prefetches as it goes.

    The C kernel (vector extensions) where the compiler has them; elsewhere the
    Cython kernels, through a local tile at the edges."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef floating edge[MAX_TILE]
    cdef Py_ssize_t i, j
    if VECTOR_TILE:
        if floating is float:
            if ldb != nr:
                _register_tile_b_in_place_f32(kc, a, b, ldb, c, ldc, rows, cols, accumulate,
                                              bias)
            elif lda:
                _register_tile_in_place_f32(kc, a, lda, b, c, ldc, rows, cols, accumulate,
                                            bias, next)
            else:
                _register_tile_f32(kc, a, b, c, ldc, rows, cols, accumulate, bias)
        else:
            if ldb != nr:
                _register_tile_b_in_place_f64(kc, a, b, ldb, c, ldc, rows, cols, accumulate,
                                              bias)
            elif lda:
                _register_tile_in_place_f64(kc, a, lda, b, c, ldc, rows, cols, accumulate,
                                            bias, next)
            else:
                _register_tile_f64(kc, a, b, c, ldc, rows, cols, accumulate, bias)
        return
    if rows == mr and cols == nr:
        if lda:
            _cython_register_tile_in_place(kc, a, lda, b, c, ldc, accumulate)
        else:
            _cython_register_tile(kc, a, b, ldb, c, ldc, accumulate)
    else:
        if lda:
            _cython_register_tile_in_place(kc, a, lda, b, edge, nr, False)
        else:
            _cython_register_tile(kc, a, b, ldb, edge, nr, False)
        for i in range(rows):
            for j in range(cols):
                c[i * ldc + j] = (c[i * ldc + j] + edge[i * nr + j] if accumulate
                                  else edge[i * nr + j])
    if bias != NULL:
        for i in range(rows):
            for j in range(cols):
                c[i * ldc + j] = c[i * ldc + j] + bias[j]


cdef inline void _vector_tile(int shape, Py_ssize_t kc, const floating* a, Py_ssize_t a_rs,
                              Py_ssize_t a_cs, const floating* b, floating* c, Py_ssize_t ldc,
                              Py_ssize_t rows, Py_ssize_t cols, bint accumulate,
                              const floating* bias, bint spill, const floating* ahead,
                              Py_ssize_t ahead_steps) noexcept nogil:
    """The vector tile of shape `shape` (VectorShape), as vector_tile.h states it (ahead,
    ahead_steps: its step 3, NULL and 0 for none)."""
    if floating is float:
        if shape == VECTOR_HALF:
            _vector_tile_half_f32(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,
                                  spill, ahead, ahead_steps)
        elif shape == VECTOR_ONE:
            _vector_tile_one_f32(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,
                                 spill, ahead, ahead_steps)
        elif shape == VECTOR_ONE_HALF:
            _vector_tile_one_half_f32(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate,
                                      bias, spill, ahead, ahead_steps)
        else:
            _vector_tile_two_f32(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,
                                 spill, ahead, ahead_steps)
    else:
        if shape == VECTOR_HALF:
            _vector_tile_half_f64(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,
                                  spill, ahead, ahead_steps)
        elif shape == VECTOR_ONE:
            _vector_tile_one_f64(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,
                                 spill, ahead, ahead_steps)
        elif shape == VECTOR_ONE_HALF:
            _vector_tile_one_half_f64(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate,
                                      bias, spill, ahead, ahead_steps)
        else:
            _vector_tile_two_f64(kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate, bias,
                                 spill, ahead, ahead_steps)


cdef inline void _vector_tile_short(int shape, Py_ssize_t kc, const floating* a,
                                    Py_ssize_t a_rs, Py_ssize_t a_cs, const floating* b,
                                    floating* c, Py_ssize_t ldc, Py_ssize_t rows,
                                    Py_ssize_t cols, bint accumulate, const floating* bias,
                                    bint spill) noexcept nogil:
    """The vector tile of shape `shape` in MRV_SHORT rows (vector_tile.h's short tile)."""
    if floating is float:
        _vector_tile_short_f32(shape, kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate,
                               bias, spill)
    else:
        _vector_tile_short_f64(shape, kc, a, a_rs, a_cs, b, c, ldc, rows, cols, accumulate,
                               bias, spill)


cdef inline void _vector_row_kernels(int shape, Py_ssize_t rows, Py_ssize_t k,
                                     const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                                     const floating* b, floating* c, Py_ssize_t ldc,
                                     Py_ssize_t cols, const floating* bias,
                                     bint spill) noexcept nogil:
    """C[rows, cols] = A[rows, k] @ B (+ bias) for k <= ROW_KERNEL_DEPTH and a vector tile
    of shape VECTOR_HALF or VECTOR_ONE (B packed at that tile's width): the column kernel
    where it applies (_takes_column_kernel) takes whole groups of rows, the row kernel
    the rest."""
    cdef Py_ssize_t done = 0
    cdef Py_ssize_t ldb = (LANES_F32 if floating is float else LANES_F64) // (
        2 if shape == VECTOR_HALF else 1)
    if _takes_column_kernel(c, k, a_rs, a_cs, ldc, cols):
        if floating is float:
            done = _column_kernel_f32(rows, k, cols, a, b, ldb, c, bias)
        else:
            done = _column_kernel_f64(rows, k, cols, a, b, ldb, c, bias)
    if done == rows:
        return
    a += done * a_rs
    c += done * ldc
    if floating is float:
        if shape == VECTOR_HALF:
            _vector_rows_half_f32(rows - done, k, a, a_rs, a_cs, b, c, ldc, cols, bias, spill)
        else:
            _vector_rows_one_f32(rows - done, k, a, a_rs, a_cs, b, c, ldc, cols, bias, spill)
    else:
        if shape == VECTOR_HALF:
            _vector_rows_half_f64(rows - done, k, a, a_rs, a_cs, b, c, ldc, cols, bias, spill)
        else:
            _vector_rows_one_f64(rows - done, k, a, a_rs, a_cs, b, c, ldc, cols, bias, spill)


cdef inline void _dx_few_rows(Py_ssize_t rows, Py_ssize_t m, Py_ssize_t k,
                              const floating* dy, const floating* w, floating* dx,
                              Py_ssize_t ldx) noexcept nogil:
    """dx (rows×k, rows ldx apart) = dy (rows×m) @ wᵀ, w's k rows where they lie
    (few_rows.h's transposed kernel: the backward's DX_FEW_ROWS, and gemm's _dots_rows in
    a variant without column_dots.h)."""
    if floating is float:
        _few_rows_transposed_f32(rows, m, k, _depth_block(dx), dy, w, dx, ldx)
    else:
        _few_rows_transposed_f64(rows, m, k, _depth_block(dx), dy, w, dx, ldx)


cdef inline void _dw_few_rows(Py_ssize_t rows, Py_ssize_t k, const floating* x,
                              Py_ssize_t ldx, const floating* dy, Py_ssize_t m,
                              floating* dw) noexcept nogil:
    """dw (k×m) = x[:rows]ᵀ @ dy, rows <= FEW_ROWS_MAX, each row of dw written once
    (few_rows.h): the bits of the register tile storing its first block."""
    if floating is float:
        _few_rows_outer_f32(rows, k, x, ldx, dy, m, dw)
    else:
        _few_rows_outer_f64(rows, k, x, ldx, dy, m, dw)


cdef inline void _column_dots(Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m,
                              const floating* x, const floating* wt, const floating* bias,
                              floating* y, bint one_row) noexcept nogil:
    """y (rows×m, row-major) = x (rows×k, row-major) @ wtᵀ (wt: m×k, w's columns) (+ bias,
    where not NULL), a dot product a row and column in vector lanes along k (column_dots.h
    states the order; one_row: one row a step, for an x from memory, the same sums); only
    where COLUMN_DOTS, m <= COLUMN_DOTS_MAX_COLUMNS."""
    if floating is float:
        _column_dots_f32(rows, k, m, x, wt, bias, y, one_row)
    else:
        _column_dots_f64(rows, k, m, x, wt, bias, y, one_row)
