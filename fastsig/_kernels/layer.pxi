# The dense sigmoid layer, forward and backward, on the matmul of gemm.pxi.
#
# Provides: def dense_forward, def dense_backward, _backward (the backward on raw
#   buffers, also the native fast path's).
# Uses: gemm.pxi (gemm, gemm_serial, gemm_share), plan.pxi (_plan_backward and its
#   kernels' choice), packing.pxi, tiles.pxi (_dx_few_rows, _dw_few_rows), column_sums.h
#   and dw_rows.h (C), elementwise.pxi (_sigmoid_backward_span), scratch.h (scratch_take,
#   scratch_give: kernels.pxi).
#
# Forward: σ(x @ w + b) is the matmul with the sigmoid epilogue (gemm.pxi, step 5).
#
# Backward, with dy = grad ⊙ s ⊙ (1 − s), block by block (_plan_backward: blocks of dy
# and parts of consecutive blocks, fixed by n, k and m). For each of its blocks a part
# forms dy in a scratch buffer, then
#   dx[block] = dy @ wᵀ           the matmul, wᵀ packed once for the call (or once by
#                                 each thread, where small: _backward; for a few rows,
#                                 w read where it lies: few_rows.h's kernel, or the
#                                 product (w @ dyᵀ)ᵀ; for one column of w, few_rows.h's
#                                 outer product; _dx_kernel);
#   dw_part  += x[block]ᵀ @ dy    the column-sum kernel, the matmul on the packed dy, or
#                                 plain loops (_dw_kernel); for a batch of a few rows,
#                                 few_rows.h's outer product (_dw_few_rows); for a dy of
#                                 a few columns, dw_rows.h in the matmul's order
#                                 (_dw_by_rows);
#   db_part  += Σ_rows dy          the column-sum kernel where it applies, else loops.
# Parts are parallel tasks, and dw and db the sums of their partials in part order (the
# elements shared by the threads: _sum_partials); a backward of one part (one block, or
# a wide dw) writes dw and db itself, its steps shared by the threads
# (_backward_shared_block). Every sum runs in an order fixed by n,
# k and m alone, so the results are bitwise identical for any thread count; no n×m
# temporary is ever formed.

cdef extern from "_kernels/column_sums.h":
    void _column_sums_f32 "fastsig_column_sums_F32"(
        Py_ssize_t rows, Py_ssize_t k, const float* x, Py_ssize_t ldx, const float* dy,
        Py_ssize_t m, float* dw, float* db, int fetch) noexcept nogil
    void _column_sums_f64 "fastsig_column_sums_F64"(
        Py_ssize_t rows, Py_ssize_t k, const double* x, Py_ssize_t ldx, const double* dy,
        Py_ssize_t m, double* dw, double* db, int fetch) noexcept nogil

cdef extern from "_kernels/dw_rows.h":
    enum:
        DW_BY_ROWS "FASTSIG_DW_ROWS"      # 1 where the variant has dw_rows.h's kernel
        DW_ROWS_MAX_COLUMNS "FASTSIG_DW_ROWS_MAX_COLUMNS"   # its widest dy
    void _dw_rows_f32 "fastsig_dw_rows_F32"(
        Py_ssize_t rows, Py_ssize_t k, const float* x, Py_ssize_t ldx, const float* dy,
        Py_ssize_t m, float* dw, Py_ssize_t depth, int fetch) noexcept nogil
    void _dw_rows_f64 "fastsig_dw_rows_F64"(
        Py_ssize_t rows, Py_ssize_t k, const double* x, Py_ssize_t ldx, const double* dy,
        Py_ssize_t m, double* dw, Py_ssize_t depth, int fetch) noexcept nogil

cdef enum:
    DY_PAD = 16     # zeros after a block of dy: >= lanes of a vector, both dtypes


cdef void _dw_direct(const floating* x, const floating* dy, floating* dw,
                     Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """dw += xᵀ @ dy over `rows` rows (plain loops, for small k·m). For one column of dy
    (a logistic regression's layer) a row of x at a time, dw += x[i] · dy[i]: the
    innermost loop runs along dw, so it vectorizes (a loop over dy's one column does
    not), the same multiply-adds in the same order."""
    cdef Py_ssize_t i, p, j
    cdef floating a
    cdef const floating* dyrow
    if m == 1:
        for i in range(rows):
            a = dy[i]
            for p in range(k):
                dw[p] += x[i * k + p] * a
        return
    for i in range(rows):
        dyrow = dy + i * m
        for p in range(k):
            a = x[i * k + p]
            for j in range(m):
                dw[p * m + j] += a * dyrow[j]


cdef inline void _dw_rows(Py_ssize_t rows, Py_ssize_t k, const floating* x, Py_ssize_t ldx,
                          const floating* dy, Py_ssize_t m, floating* dw,
                          bint fetch) noexcept nogil:
    """dw (k×m) += x[:rows]ᵀ @ dy (rows×m, m <= DW_ROWS_MAX_COLUMNS) by dw_rows.h, in
    depth blocks of KC (the matmul's order); x's rows ldx apart; fetch: each block fetches
    the next into L2 (_dw_rows_fetch). Only where DW_BY_ROWS."""
    if floating is float:
        _dw_rows_f32(rows, k, x, ldx, dy, m, dw, _depth_block(dw), fetch)
    else:
        _dw_rows_f64(rows, k, x, ldx, dy, m, dw, _depth_block(dw), fetch)


cdef inline void _column_sums(Py_ssize_t rows, Py_ssize_t k, const floating* x,
                              Py_ssize_t ldx, const floating* dy, Py_ssize_t m, floating* dw,
                              floating* db, bint fetch) noexcept nogil:
    """column_sums.h for the dtype: db += Σ_rows dy, and dw += xᵀ @ dy where k > 0; dy
    followed by DY_PAD zeros; fetch: x's next chunk fetched ahead (_column_sums_fetch)."""
    if floating is float:
        _column_sums_f32(rows, k, x, ldx, dy, m, dw, db, fetch)
    else:
        _column_sums_f64(rows, k, x, ldx, dy, m, dw, db, fetch)


cdef inline void _db_loops(const floating* dy, Py_ssize_t rows, Py_ssize_t m, floating* db,
                           Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """db[j0:j1] += Σ_rows dy[:, j0:j1], row after row (where the column-sum kernel does
    not take db)."""
    cdef Py_ssize_t i, j
    for i in range(rows):
        for j in range(j0, j1):
            db[j] += dy[i * m + j]


cdef inline void _dx_from_transposed(const floating* dxt, Py_ssize_t rows, floating* dx,
                                     Py_ssize_t k, Py_ssize_t i0, Py_ssize_t i1,
                                     Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """dx[i, j] = dxᵀ[j, i] for rows [i0, i1) and columns [j0, j1) (DX_SWAPPED's last
    step; dxᵀ is k×rows, dx's rows k apart)."""
    cdef Py_ssize_t i, j
    for i in range(i0, i1):
        for j in range(j0, j1):
            dx[i * k + j] = dxt[j * rows + i]


cdef void _backward_part(const floating* grad, const floating* s, const floating* x,
                         const floating* w, const floating* wt_packed, floating* dx,
                         floating* dw_part, floating* db_part,
                         Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t block_rows,
                         Py_ssize_t k, Py_ssize_t m, int dw_kernel, int dx_kernel,
                         bint dw_fetch, floating* dy, floating* dy_packed,
                         floating* a_packed) noexcept nogil:
    """The rows [r0, r1) of the backward: dx rows, and this part's dw and db partials. dx
    by dx_kernel (_dx_kernel): from the packed wᵀ, or from w where it lies; for
    DX_SWAPPED `dy_packed` holds dyᵀ packed and then dxᵀ (see _backward's scratch).
    dw_fetch: dw's kernel (dw_rows.h, the matmul's tiles or the column sums) fetches x
    ahead, an x from memory (_dw_rows_fetch, _dw_gemm_fetch, _column_sums_fetch)."""
    cdef Py_ssize_t blk, b0, rows, i, j
    cdef Py_ssize_t dyt_nr
    cdef floating* dxt
    cdef Py_ssize_t dy_nr = _panel_width(dy, m, True)   # dy is B of dw's product (A: xᵀ)
    cdef bint sums = _db_by_column_sums(dy, m)
    cdef Py_ssize_t sums_k = k if dw_kernel == DW_COLUMN_SUMS else 0
    cdef bint dw_stores = _dw_stores_first_block(dy, dw_kernel, m)
    cdef bint dw_by_rows = _dw_by_rows(dy, dw_kernel, m)
    if not dw_stores:
        for j in range(k * m):
            dw_part[j] = 0
    for j in range(m):
        db_part[j] = 0
    for blk in range((r1 - r0 + block_rows - 1) // block_rows):
        b0 = r0 + blk * block_rows
        rows = min(block_rows, r1 - b0)
        _sigmoid_backward_span(grad + b0 * m, s + b0 * m, dy, rows * m)
        if sums:
            # db, and dw where DW_COLUMN_SUMS; the vector read past dy's last row sees
            # the zeros after it (see DY_PAD).
            for i in range(rows * m, rows * m + DY_PAD):
                dy[i] = 0
            _column_sums(rows, sums_k, x + b0 * k, k, dy, m, dw_part, db_part, dw_fetch)
        else:
            _db_loops(dy, rows, m, db_part, 0, m)
        if k == 0:
            continue
        if dx != NULL and dx_kernel == DX_SWAPPED:
            # dxᵀ (k×rows) = w (k×m) @ dyᵀ (m×rows), then transposed into dx[b0:b0+rows]
            dyt_nr = _panel_width(dy, rows)
            dxt = dy_packed + _packed_b_size(dy, m, rows)
            _pack_b(dy, 1, m, m, rows, dy_packed, 0, (rows + dyt_nr - 1) // dyt_nr, dyt_nr)
            gemm_serial(w, m, 1, dy_packed, dxt, k, m, rows, a_packed, False, False, -1)
            _dx_from_transposed(dxt, rows, dx + b0 * k, k, 0, rows, 0, k)
        elif dx != NULL and dx_kernel == DX_FEW_ROWS:
            # dx[b0:b0+rows] (rows×k) = dy (rows×m) @ wᵀ (m×k), w read where it lies
            _dx_few_rows(rows, m, k, dy, w, dx + b0 * k, k)
        elif dx != NULL and dx_kernel == DX_OUTER:
            # dx[b0:b0+rows] (rows×k) = dy (rows×1) wᵀ (1×k): "dw" of one row of "x" = dyᵀ
            _dw_few_rows(1, rows, dy, rows, w, k, dx + b0 * k)
        elif dx != NULL:
            # dx[b0:b0+rows] (rows×k) = dy (rows×m) @ wᵀ (m×k)
            gemm_serial(dy, m, 1, wt_packed, dx + b0 * k, rows, m, k, a_packed, False, False,
                        -1)
        if _dw_by_outer_product(dw_stores and blk == 0, rows):
            # dw_part (k×m) = x[b0:b0+rows]ᵀ @ dy, a row of dw at a time
            _dw_few_rows(rows, k, x + b0 * k, k, dy, m, dw_part)
        elif dw_by_rows:
            # dw_part (k×m) += x[b0:b0+rows]ᵀ @ dy, in the matmul's order (dw_part
            # zeroed: a narrow tile never stores its first block)
            _dw_rows(rows, k, x + b0 * k, k, dy, m, dw_part, dw_fetch)
        elif dw_kernel == DW_GEMM:
            # dw_part (k×m) += x[b0:b0+rows]ᵀ (k×rows) @ dy (rows×m)
            _pack_b(dy, m, 1, rows, m, dy_packed, 0, (m + dy_nr - 1) // dy_nr, dy_nr)
            gemm_serial(x + b0 * k, 1, k, dy_packed, dw_part, k, rows, m, a_packed,
                        blk > 0 or not dw_stores, True,
                        min(r1 - b0 - rows, _depth_block(dy)) if dw_fetch else -1)
        elif dw_kernel == DW_LOOPS:
            _dw_direct(x + b0 * k, dy, dw_part, rows, k, m)


def dense_forward(const floating[:, ::1] x, const floating[:, ::1] w, const floating[::1] b,
                  bint has_bias, floating[:, ::1] out, int num_threads, bint fast):
    """out = σ(x @ w + b), b used only when `has_bias`, σ in the "fast" accuracy mode if
    `fast`; `out` must not overlap an input."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    if (w.shape[0] != k or out.shape[0] != n or out.shape[1] != m
            or (has_bias and b.shape[0] != m)):
        raise ValueError("dense_forward kernel: inconsistent shapes")
    if n == 0 or m == 0:
        return
    gemm(&x[0, 0] if k > 0 else NULL, k, 1, &w[0, 0] if k > 0 else NULL, m, 1,
         &out[0, 0], n, k, m, &b[0] if has_bias else NULL,
         EPILOGUE_SIGMOID_FAST if fast else EPILOGUE_SIGMOID, num_threads)


def dense_backward(const floating[:, ::1] grad, const floating[:, ::1] x,
                   const floating[:, ::1] w, const floating[:, ::1] s,
                   floating[:, ::1] dx, bint compute_dx,
                   floating[:, ::1] dw, floating[::1] db, int num_threads):
    """dx = dy @ wᵀ (when `compute_dx`), dw = xᵀ @ dy, db = Σ_rows dy, with
    dy = grad ⊙ s ⊙ (1 − s)."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    if (w.shape[0] != k or grad.shape[0] != n or grad.shape[1] != m
            or s.shape[0] != n or s.shape[1] != m
            or dw.shape[0] != k or dw.shape[1] != m or db.shape[0] != m
            or (compute_dx and (dx.shape[0] != n or dx.shape[1] != k))):
        raise ValueError("dense_backward kernel: inconsistent shapes")
    if m == 0:
        if compute_dx and n > 0 and k > 0:
            dx[:, :] = 0
        return
    if n == 0:
        dw[:, :] = 0
        db[:] = 0
        return
    _backward(&grad[0, 0], &x[0, 0] if k > 0 else NULL, &w[0, 0] if k > 0 else NULL, &s[0, 0],
              &dx[0, 0] if compute_dx and k > 0 else NULL, &dw[0, 0] if k > 0 else NULL,
              &db[0], n, k, m, num_threads)


cdef int _backward(const floating* gp, const floating* xp, const floating* wp,
                   const floating* sp, floating* dxp, floating* dwp, floating* dbp,
                   Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, int num_threads) except -1:
    """The backward on raw buffers, n, m >= 1: dx (n×k, skipped when dxp is NULL),
    dw (k×m), db (m), every array C-contiguous; xp, wp, dwp may be NULL when k == 0.
    Called with the GIL, which it releases for the work."""
    cdef BackwardPlan plan = _plan_backward(dbp, n, k, m, num_threads)
    if plan.shared_block:
        return _backward_shared_block(gp, xp, wp, sp, dxp, dwp, dbp, n, k, m, plan)
    cdef Py_ssize_t wt_nr = _panel_width(dbp, k)   # panels of wᵀ, which is m×k
    cdef Py_ssize_t block_rows = plan.block_rows, part_rows = plan.part_rows
    cdef Py_ssize_t parts = plan.parts
    cdef Py_ssize_t part
    cdef int dw_kernel = plan.dw_kernel
    cdef bint dw_fetch = (_dw_rows_fetch(dbp, n, k, dw_kernel, m)
                          or _dw_gemm_fetch(dbp, n, k, dw_kernel, m)
                          or _column_sums_fetch(dbp, n, k, dw_kernel))
    cdef int threads = plan.threads
    # Scratch, per thread: a block of dy (of at most n rows), its packed copy, one packed
    # block of A (and wᵀ packed, where wt_per_thread); shared: wᵀ packed (else), and the
    # parts' partial sums. One part writes dw and
    # db itself: they are its partials (zeroed first, so the bits of 0 + the partial, or
    # where dw's first block is stored, _dw_stores_first_block, the same bits).
    cdef Py_ssize_t dy_rows = min(block_rows, n)
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t dy_size = (dy_rows * m + DY_PAD + per_line - 1) // per_line * per_line
    cdef Py_ssize_t dy_packed_size = ((_packed_b_size(dbp, dy_rows, m, True) + per_line - 1)
                                      // per_line * per_line if dw_kernel == DW_GEMM else 0)
    # A of dx's product: dy, m deep, output k wide (for DX_SWAPPED: w, m deep, output n
    # wide); of dw's: xᵀ, dy_rows deep, output m wide.
    cdef Py_ssize_t a_size = max(_packed_a_size(dbp, m, k),
                                 _packed_a_size(dbp, dy_rows, m, True))
    if plan.dx_kernel == DX_SWAPPED:
        # dy_packed then holds dyᵀ packed (m×n) and dxᵀ (k×n) for dx's product; n is
        # one block of dy.
        dy_packed_size = max(dy_packed_size, (_packed_b_size(dbp, m, n) + k * n + per_line - 1)
                             // per_line * per_line)
        a_size = max(a_size, _packed_a_size(dbp, m, n))
    cdef Py_ssize_t thread_size = dy_size + dy_packed_size + a_size
    cdef bint direct = parts == 1 and k > 0
    cdef Py_ssize_t partial_size = (k * m + m + per_line - 1) // per_line * per_line
    cdef Py_ssize_t partials_size = 0 if direct else parts * partial_size
    cdef Py_ssize_t wt_size = (0 if plan.dx_kernel != DX_PACKED else
                               (_packed_b_size(dbp, m, k) + per_line - 1) // per_line * per_line)
    # As gemm() does a small B (_packs_b_per_thread), each thread packs a small wᵀ for
    # itself at the start of the parts' region: its copy after its scratch.
    cdef bint wt_per_thread = (threads > 1 and not direct and k > 0 and dxp != NULL
                               and plan.dx_kernel == DX_PACKED
                               and wt_size * <Py_ssize_t>sizeof(floating)
                               <= _l2_bytes // B_PER_THREAD_L2_PART)
    if wt_per_thread:
        thread_size += wt_size
    cdef size_t base_size
    cdef void* base = scratch_take(((0 if wt_per_thread else wt_size) + partials_size
                                    + threads * thread_size) * sizeof(floating) + ALIGN,
                                   &base_size)
    if base == NULL:
        raise MemoryError("fastsig: cannot allocate the backward's scratch buffers")
    cdef floating* wt_packed = <floating*>_aligned(base)
    cdef floating* partials = wt_packed + (0 if wt_per_thread else wt_size)
    cdef const floating* wt = wt_packed if plan.dx_kernel == DX_PACKED else NULL
    cdef floating* scratch = partials + partials_size
    cdef floating* th
    cdef Py_ssize_t wt_panels = (k + wt_nr - 1) // wt_nr
    cdef Py_ssize_t sums = k * m + m
    cdef int t
    if k == 0:
        dxp = NULL
    with nogil:
        if dxp != NULL and wt != NULL and not wt_per_thread:
            # wᵀ (m×k): element (j, p) is w[p, j] = w[p*m + j]; its panels shared out.
            if threads == 1:
                _pack_b(wp, 1, m, m, k, wt_packed, 0, wt_panels, wt_nr)
            else:
                for t in prange(threads, schedule='static', num_threads=threads):
                    _pack_b(wp, 1, m, m, k, wt_packed, t * wt_panels // threads,
                            (t + 1) * wt_panels // threads, wt_nr)
        if direct:
            _backward_part(gp, sp, xp, wp, wt, dxp, dwp, dbp, 0, n, block_rows, k, m,
                           dw_kernel, plan.dx_kernel, dw_fetch, scratch, scratch + dy_size,
                           scratch + dy_size + dy_packed_size)
        elif threads == 1:
            for part in range(parts):
                _backward_part(gp, sp, xp, wp, wt, dxp,
                               partials + part * partial_size,
                               partials + part * partial_size + k * m,
                               part * part_rows, min(n, (part + 1) * part_rows), block_rows,
                               k, m, dw_kernel, plan.dx_kernel, dw_fetch,
                               scratch, scratch + dy_size, scratch + dy_size + dy_packed_size)
        elif wt_per_thread:
            # Thread t's parts a contiguous run of them (which thread runs a part changes
            # no sum).
            for t in prange(threads, schedule='static', num_threads=threads):
                th = scratch + t * thread_size
                _pack_b(wp, 1, m, m, k, th + thread_size - wt_size, 0, wt_panels, wt_nr)
                for part in range(t * parts // threads, (t + 1) * parts // threads):
                    _backward_part(gp, sp, xp, wp, th + thread_size - wt_size, dxp,
                                   partials + part * partial_size,
                                   partials + part * partial_size + k * m,
                                   part * part_rows, min(n, (part + 1) * part_rows),
                                   block_rows, k, m, dw_kernel, plan.dx_kernel, dw_fetch,
                                   th, th + dy_size, th + dy_size + dy_packed_size)
        else:
            for part in prange(parts, schedule='static', num_threads=threads):
                th = scratch + threadid() * thread_size
                _backward_part(gp, sp, xp, wp, wt, dxp,
                               partials + part * partial_size,
                               partials + part * partial_size + k * m,
                               part * part_rows, min(n, (part + 1) * part_rows), block_rows,
                               k, m, dw_kernel, plan.dx_kernel, dw_fetch,
                               th, th + dy_size, th + dy_size + dy_packed_size)
        # dw and db: the parts' partials summed in part order, the elements shared out.
        if direct:
            pass
        elif threads == 1:
            _sum_partials(partials, parts, partial_size, k * m, dwp, dbp, 0, sums)
        else:
            for t in prange(threads, schedule='static', num_threads=threads):
                _sum_partials(partials, parts, partial_size, k * m, dwp, dbp,
                              t * sums // threads, (t + 1) * sums // threads)
    scratch_give(base, base_size)
    return 0


cdef void _sum_partials(const floating* partials, Py_ssize_t parts, Py_ssize_t partial_size,
                        Py_ssize_t dw_size, floating* dw, floating* db, Py_ssize_t j0,
                        Py_ssize_t j1) noexcept nogil:
    """Elements [j0, j1) of dw then db (dw's dw_size first): each 0 + the parts' partials
    in part order (a part's partial: dw's, then db's; partial_size apart), a part at a
    time along the elements."""
    cdef Py_ssize_t j, part, d1 = min(j1, dw_size), b0 = max(j0, dw_size) - dw_size
    cdef Py_ssize_t b1 = j1 - dw_size
    cdef floating zero = 0
    cdef const floating* partial
    for j in range(j0, d1):
        dw[j] = zero + partials[j]
    for j in range(b0, b1):
        db[j] = zero + partials[dw_size + j]
    for part in range(1, parts):
        partial = partials + part * partial_size
        for j in range(j0, d1):
            dw[j] = dw[j] + partial[j]
        for j in range(b0, b1):
            db[j] = db[j] + partial[dw_size + j]


cdef int _backward_shared_block(const floating* gp, const floating* xp, const floating* wp,
                                const floating* sp, floating* dxp, floating* dwp,
                                floating* dbp, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                                BackwardPlan plan) except -1:
    """_backward of one part (plan.shared_block: dw by the matmul, k >= 1) on
    plan.threads threads. For each block of dy in turn, each thread takes share t of T of
    every step:
    1. dy's rows; wᵀ's panels (DX_PACKED; with the first block);
    2. dy's panels as dw's B, dyᵀ's (DX_SWAPPED); dw zeroed (with the first block, unless
       _dw_stores_first_block); db's columns (the column-sum kernel's db: share 0);
    3. dx's product (gemm_share; DX_SWAPPED: then its share of dxᵀ transposed into dx;
       DX_FEW_ROWS: its rows of w; DX_OUTER: its rows of dx), then dw += xᵀ @ dy's (the
       first block's stored, where dw was not zeroed; of up to FEW_ROWS_MAX rows, its
       rows of dw by _dw_few_rows).
    Every sum runs as in _backward_part's single part (dw and db zeroed, then each block
    added in order), so the bits are those of one thread. DX_SWAPPED and DX_FEW_ROWS
    come with one block only (_dx_kernel)."""
    cdef int threads = plan.threads, dx_kernel = plan.dx_kernel
    cdef Py_ssize_t block_rows = plan.block_rows, rows_max = min(block_rows, n)
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t dy_nr = _panel_width(dbp, m, True), dy_panels = (m + dy_nr - 1) // dy_nr
    cdef Py_ssize_t wt_nr = _panel_width(dbp, k), wt_panels = (k + wt_nr - 1) // wt_nr
    cdef Py_ssize_t dyt_nr = _panel_width(dbp, n)
    cdef bint packed = dxp != NULL and dx_kernel == DX_PACKED
    cdef bint swapped = dxp != NULL and dx_kernel == DX_SWAPPED
    cdef bint sums = _db_by_column_sums(dbp, m)
    cdef bint dw_fetch = (_dw_rows_fetch(dbp, n, k, DW_GEMM, m)
                          or _dw_gemm_fetch(dbp, n, k, DW_GEMM, m))
    cdef Py_ssize_t dy_size = (rows_max * m + DY_PAD + per_line - 1) // per_line * per_line
    cdef Py_ssize_t dy_packed_size = ((_packed_b_size(dbp, rows_max, m, True) + per_line - 1)
                                      // per_line * per_line)
    cdef Py_ssize_t wt_size = ((_packed_b_size(dbp, m, k) + per_line - 1) // per_line
                               * per_line if packed else 0)
    cdef Py_ssize_t dyt_size = ((_packed_b_size(dbp, m, n) + per_line - 1) // per_line
                                * per_line if swapped else 0)
    cdef Py_ssize_t dxt_size = (k * n + per_line - 1) // per_line * per_line if swapped else 0
    cdef Py_ssize_t a_size = max(_packed_a_size(dbp, m, k),
                                 _packed_a_size(dbp, rows_max, m, True),
                                 _packed_a_size(dbp, m, n) if swapped else 0)
    cdef size_t base_size
    cdef void* base = scratch_take((dy_size + dy_packed_size + wt_size + dyt_size + dxt_size
                                      + threads * a_size) * sizeof(floating) + ALIGN,
                                   &base_size)
    if base == NULL:
        raise MemoryError("fastsig: cannot allocate the backward's scratch buffers")
    cdef floating* dy = <floating*>_aligned(base)
    cdef floating* dy_packed = dy + dy_size
    cdef floating* wt = dy_packed + dy_packed_size
    cdef floating* dyt = wt + wt_size
    cdef floating* dxt = dyt + dyt_size
    cdef floating* a_scratch = dxt + dxt_size
    cdef Py_ssize_t i, blk, b0, rows
    cdef Py_ssize_t* rects = <Py_ssize_t*>malloc(4 * threads * sizeof(Py_ssize_t))
    if rects == NULL:
        scratch_give(base, base_size)
        raise MemoryError("fastsig: cannot allocate the backward's scratch buffers")
    with nogil:
        for blk in range((n + block_rows - 1) // block_rows):
            b0 = blk * block_rows
            rows = min(block_rows, n - b0)
            for i in range(rows * m, rows * m + DY_PAD):
                dy[i] = 0
            _shared_block_step(gp, sp, xp, wp, dxp, dwp, dbp, b0, rows, k, m, blk == 0,
                               threads, dx_kernel, sums, dw_fetch, n - b0 - rows, dy,
                               dy_packed, wt, wt_nr, wt_panels,
                               dyt, dyt_nr, dxt, dy_nr, dy_panels, a_scratch, a_size, rects)
    free(rects)
    scratch_give(base, base_size)
    return 0


cdef void _shared_block_step(const floating* gp, const floating* sp, const floating* xp,
                             const floating* wp, floating* dxp, floating* dwp, floating* dbp,
                             Py_ssize_t b0, Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m,
                             bint first, int threads, int dx_kernel, bint sums,
                             bint dw_fetch, Py_ssize_t rows_after, floating* dy,
                             floating* dy_packed, floating* wt, Py_ssize_t wt_nr,
                             Py_ssize_t wt_panels, floating* dyt,
                             Py_ssize_t dyt_nr, floating* dxt, Py_ssize_t dy_nr,
                             Py_ssize_t dy_panels, floating* a_scratch, Py_ssize_t a_size,
                             Py_ssize_t* rects) noexcept nogil:
    """Steps 1–3 of _backward_shared_block for the block of `rows` rows from b0;
    rows_after: x's rows after the block, which a fetching dw (dw_fetch) may fetch."""
    cdef bint packed = dxp != NULL and dx_kernel == DX_PACKED
    cdef bint swapped = dxp != NULL and dx_kernel == DX_SWAPPED
    cdef Py_ssize_t dyt_panels = (rows + dyt_nr - 1) // dyt_nr
    cdef bint dw_stores = first and _dw_stores_first_block(dy, DW_GEMM, m)
    cdef bint dw_outer = _dw_by_outer_product(dw_stores, rows)
    cdef bint dw_by_rows = _dw_by_rows(dy, DW_GEMM, m)
    cdef Py_ssize_t t, i, j, p0, p1
    cdef Py_ssize_t* rect
    cdef floating* a_packed
    for t in prange(threads, schedule='static', num_threads=threads):
        i = t * rows // threads * m
        _sigmoid_backward_span(gp + b0 * m + i, sp + b0 * m + i, dy + i,
                               (t + 1) * rows // threads * m - i)
        if packed and first:
            # wᵀ (m×k): element (j, p) is w[p, j] = w[p*m + j].
            _pack_b(wp, 1, m, m, k, wt, t * wt_panels // threads,
                    (t + 1) * wt_panels // threads, wt_nr)
    for t in prange(threads, schedule='static', num_threads=threads):
        if not (dw_outer or dw_by_rows):
            _pack_b(dy, m, 1, rows, m, dy_packed, t * dy_panels // threads,
                    (t + 1) * dy_panels // threads, dy_nr)
        if swapped:
            _pack_b(dy, 1, m, m, rows, dyt, t * dyt_panels // threads,
                    (t + 1) * dyt_panels // threads, dyt_nr)
        if first and not dw_stores:
            for i in range(t * (k * m) // threads, (t + 1) * (k * m) // threads):
                dwp[i] = 0
        if sums:
            if t == 0:
                if first:
                    for j in range(m):
                        dbp[j] = 0
                _column_sums(rows, 0, xp + b0 * k, k, dy, m, dwp, dbp, False)
        else:
            p0 = t * m // threads
            p1 = (t + 1) * m // threads
            if first:
                for j in range(p0, p1):
                    dbp[j] = 0
            _db_loops(dy, rows, m, dbp, p0, p1)
    for t in prange(threads, schedule='static', num_threads=threads):
        a_packed = a_scratch + threadid() * a_size
        rect = rects + 4 * threadid()     # [i0, i1, j0, j1] of this share of C
        if packed:
            gemm_share(dy, m, 1, wt, dxp + b0 * k, rows, m, k, t, threads, a_packed, False,
                       False, -1, rect)
        elif swapped:
            gemm_share(wp, m, 1, dyt, dxt, k, m, rows, t, threads, a_packed, False, False,
                       -1, rect)
            _dx_from_transposed(dxt, rows, dxp + b0 * k, k, rect[2], rect[3], rect[0],
                                rect[1])
        elif dxp != NULL and dx_kernel == DX_OUTER:
            p0 = t * rows // threads
            p1 = (t + 1) * rows // threads
            if p1 > p0:
                _dw_few_rows(1, p1 - p0, dy + p0, rows, wp, k, dxp + (b0 + p0) * k)
        elif dxp != NULL:
            p0 = t * k // threads
            p1 = (t + 1) * k // threads
            if p1 > p0:
                _dx_few_rows(rows, m, p1 - p0, dy, wp + p0 * m, dxp + b0 * k + p0, k)
        if dw_outer:
            p0 = t * k // threads
            p1 = (t + 1) * k // threads
            if p1 > p0:
                _dw_few_rows(rows, p1 - p0, xp + b0 * k + p0, k, dy, m, dwp + p0 * m)
        elif dw_by_rows:
            # Its rows of dw (dw zeroed with the first block: a narrow tile's dw)
            p0 = t * k // threads
            p1 = (t + 1) * k // threads
            if p1 > p0:
                _dw_rows(rows, p1 - p0, xp + b0 * k + p0, k, dy, m, dwp + p0 * m, dw_fetch)
        else:
            gemm_share(xp + b0 * k, 1, k, dy_packed, dwp, k, rows, m, t, threads, a_packed,
                       not dw_stores, True,
                       min(rows_after, _depth_block(dy)) if dw_fetch else -1, rect)
