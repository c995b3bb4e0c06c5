# The matmul: C (n×m) = A (n×k) @ B (k×m), BLIS-style, with a fused epilogue.
#
# Provides: gemm (C = A @ B (+ epilogue), threaded, called with the GIL), gemm_serial
#   (on the calling thread, B already packed: the backward's products) and gemm_share
#   (a share of gemm_serial's work, for the backward's threads), the Epilogue
#   enum, _epilogue_rows, def matmul.
# Uses: plan.pxi (every decision: kernel, tasks, threads, depth split, A in place),
#   packing.pxi, tiles.pxi, elementwise.pxi (sigmoid_span, the epilogue), scratch.h.
#
# A and B are read through strides (packing.pxi), so a transposed operand costs nothing
# extra; C is row-major, ldc = m.
# 1. B is packed once per call into panels of the chosen kernel's width, zero-padded
#    past column m, laid out by depth block, then panel (a row-major B of exactly one
#    panel's width is that layout already, and is read where it lies); or, for a product
#    of few rows (_reads_b_in_place), B is read where it lies: by the few-rows kernel
#    (few_rows.h, FEW_ROWS_ONE_PASS rows a pass; _takes_few_rows), else by the register
#    tile, all but B's ragged last panel. Each thread packs a contiguous run of the panels;
#    a B within a quarter of L2 each thread packs whole for itself, at the start of the
#    tasks' region (_packs_b_per_thread). A packed B larger than B_SLAB_BYTES is packed
#    a slab at a time instead (_gemm_slabs), so that the scratch has a ceiling; for a
#    product of a few dozen rows, up to a thousand of a large B, or a task a thread
#    (_packs_b_per_task), each task packs its own column block of B, a depth block at a
#    time, into its thread's scratch (_b_block_task).
# 2. C is cut into tasks (_plan_product): whole rows, or rows × NC columns where rows
#    are too few to give every thread work (all the rows × columns, where B is read in
#    place or packed per task, or a thread's rows: _block_row_tasks); prange hands them
#    out statically.
# 3. The register tile's task walks the depth in blocks of KC: it packs its block of A
#    into MR-row panels in its thread's scratch, or reads A where it lies
#    (_reads_a_in_place), then for each block of NC columns (whose packed B stays in L2)
#    and each MR-row panel (kept in L1) runs the tile against each NR-column panel; the
#    first depth block stores into C, later ones add to it.
# 4. A narrow B (at most half the register tile's width) takes a narrow tile instead,
#    in tasks of whole rows: the vector tile (A read where it lies; a ragged last panel
#    by its short tile of MRV_SHORT rows; its row and column kernels for depths up to
#    ROW_KERNEL_DEPTH) or the transposed tile; a B of one column and greater depth, and in
#    the avx2 and avx512 variants of up to DOTS_MAX_COLUMNS and a depth of a step of its
#    lanes, a dot product a row of A and column of B (_dots_rows: column_dots.h, whose
#    sums run in vector lanes along the row, the one exception to the order below; in the
#    baseline few_rows.h's transposed kernel for one column, in the tiles' order).
# 5. The epilogue: the register and vector tiles of the last depth block add the bias as
#    they store, and σ runs over each panel's rows (the vector tile's: every SIGMOID_SPAN
#    elements) while they are in L1, in C itself, so Y is never stored on its own; the
#    transposed tile adds the bias and applies σ over its task's rows at the end.
# 6. A product of few tasks and great depth (xᵀ @ dy) is split along the depth into
#    chunks of whole depth blocks, each into a partial C, summed in chunk order.
# Each C element sums its products in increasing p within a depth block and adds the
# blocks (and chunks) in order: the result depends on the shapes and KC alone, not on
# the task split, the kernel or the threads. The exception: a C that the dots kernel takes
# in the avx2 and avx512 variants (_takes_dots), column_dots.h's order.

cdef enum Epilogue:
    EPILOGUE_NONE = 0
    EPILOGUE_SIGMOID = 1        # C = σ(C + bias), bias optional; the "high" accuracy mode
    EPILOGUE_SIGMOID_FAST = 2   # the same in the "fast" mode

cdef enum:
    SIGMOID_SPAN = 512      # elements of C the vector tile's epilogue takes at once


cdef void _epilogue_rows(floating* c, Py_ssize_t ldc, Py_ssize_t i0, Py_ssize_t i1,
                         Py_ssize_t j0, Py_ssize_t j1, const floating* bias,
                         int epilogue) noexcept nogil:
    """C[i0:i1, j0:j1] = σ(C + bias) (for the sigmoid epilogues)."""
    cdef Py_ssize_t i, j
    cdef floating* row
    cdef bint fast = epilogue == EPILOGUE_SIGMOID_FAST
    if epilogue == EPILOGUE_NONE:
        return
    for i in range(i0, i1):
        row = c + i * ldc
        if bias != NULL:
            for j in range(j0, j1):
                row[j] = row[j] + bias[j]
    if j0 == 0 and j1 == ldc:
        # Whole rows: one contiguous span, vectorized whatever the width.
        sigmoid_span(c + i0 * ldc, c + i0 * ldc, (i1 - i0) * ldc, fast)
    else:
        for i in range(i0, i1):
            sigmoid_span(c + i * ldc + j0, c + i * ldc + j0, j1 - j0, fast)


cdef inline Py_ssize_t _steps_ahead(Py_ssize_t depth, Py_ssize_t k, Py_ssize_t next_pc,
                                    Py_ssize_t fetch_after) noexcept nogil:
    """The steps of the depth block from next_pc that a tile fetches ahead: a whole block
    of this product's (k deep), or past its end up to fetch_after steps (A goes on there:
    the rows of x after a block of the backward's); 0 where fetch_after < 0 (none)."""
    if fetch_after < 0:
        return 0
    return max(<Py_ssize_t>0, min(depth, k + fetch_after - next_pc))


cdef void _register_tile_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                              const floating* b_packed, const floating* b, Py_ssize_t b_rs,
                              floating* c, Py_ssize_t ldc, Py_ssize_t k, Py_ssize_t m,
                              Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1,
                              floating* a_packed, const floating* bias, int epilogue,
                              bint accumulate, Py_ssize_t fetch_after) noexcept nogil:
    """C[i0:i1, j0:j1] (= or, with `accumulate`, +=) A[i0:i1] @ B[:, j0:j1] by the register
    tile, then the epilogue; B is k×m, C's rows ldc apart (m, or more for a slab of B's
    columns: gemm's slabs), j0 a multiple of NR. Any width: the columns go in blocks of
    NC. A ragged last row panel is packed even where A is read in place, so nothing past
    A's rows is read.

    B is packed in `b_packed` (see _b_panel), or, where `b` is not NULL, read where it
    lies (row-major, rows b_rs apart) except its ragged last panel, which `b_packed` then
    holds alone (packed as a B of m % NR columns); A is packed then.

    fetch_after >= 0 (A transposed, a_rs == 1, packed: xᵀ from memory, _dw_gemm_fetch):
    each row panel's first tile fetches into L2, step by step, the lines of its rows of A
    in the next depth block, which the next packing reads, up to fetch_after steps past k
    (see _vector_tile_task). A fetch changes no sum."""
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef bint in_place = b == NULL and _reads_a_in_place(c, a_rs, a_cs, j1 - j0)
    cdef Py_ssize_t whole_panels = m // nr, ldb
    cdef bint direct
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t pb, pc, kc, ib, ir, jb, jr, rows, cols, i, j
    cdef Py_ssize_t blocks = (k + depth - 1) // depth
    cdef Py_ssize_t nc = _register_block_width(c), jc, jc0, jc1, ahead_kc
    cdef const floating* a_panel
    cdef const floating* a_next
    cdef const floating* b_panel
    cdef const floating* tile_bias
    cdef floating* c_tile
    if k == 0 and not accumulate:
        for i in range(i0, i1):
            for j in range(j0, j1):
                c[i * ldc + j] = 0
        _epilogue_rows(c, ldc, i0, i1, j0, j1, bias, epilogue)
        return
    for pb in range(blocks):
        pc = pb * depth
        kc = min(depth, k - pc)
        # The bias is added by the tiles of the last depth block, as they store.
        tile_bias = bias if pb == blocks - 1 and epilogue != EPILOGUE_NONE else NULL
        if not in_place:
            _pack_a(a, a_rs, a_cs, i0, i1, pc, kc, a_packed, mr)
        ahead_kc = _steps_ahead(depth, k, pc + kc, fetch_after)
        # Column blocks of NC: the block of packed B they read stays in L2, and the
        # packed A serves them all.
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
                    ldb = nr
                    if b == NULL:
                        b_panel = _b_panel(b_packed, k, m, nr, jr // nr, pc)
                    elif jr // nr < whole_panels:
                        b_panel = b + pc * b_rs + jr
                        ldb = b_rs
                    else:
                        b_panel = b_packed + pc * nr
                    c_tile = c + ir * ldc + jr
                    if ahead_kc > 0 and jc == 0 and jb == 0 and not in_place and b == NULL:
                        _register_tile_ahead(kc, a_panel, b_panel, c_tile, ldc, rows, cols,
                                             accumulate or pc > 0,
                                             tile_bias + jr if tile_bias != NULL else NULL,
                                             a + ir + (pc + kc) * a_cs, a_cs, ahead_kc)
                    else:
                        _register_tile(kc, a_panel, a_rs if direct else 0, b_panel, ldb, c_tile,
                                       ldc, rows, cols, accumulate or pc > 0,
                                       tile_bias + jr if tile_bias != NULL else NULL,
                                       a_next if jb == 0 else NULL)
                if pb == blocks - 1:
                    # The epilogue on this panel's rows while they are in L1 (over a
                    # whole task they would have left it).
                    _epilogue_rows(c, ldc, ir, ir + rows, jc0, jc1, NULL, epilogue)


cdef void _few_rows_task(const floating* a, Py_ssize_t a_rs, const floating* b,
                         Py_ssize_t b_rs, floating* c, Py_ssize_t k, Py_ssize_t m,
                         Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1,
                         bint fetch, floating* acc, const floating* bias,
                         int epilogue) noexcept nogil:
    """C[i0:i1, j0:j1] = A[i0:i1] @ B[:, j0:j1], then the epilogue, by the few-rows kernel
    (few_rows.h, FEW_ROWS_ONE_PASS rows a pass; `fetch`: plan.few_rows_fetch), A and B
    row-major where they lie, depth blocks of KC as the register tile's (the same bits),
    column blocks of _few_rows_columns; `acc` holds FEW_ROWS_ACC_BYTES."""
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t blocks = (k + depth - 1) // depth
    cdef Py_ssize_t rows_a_pass = FEW_ROWS_ONE_PASS
    cdef Py_ssize_t nc = _few_rows_columns(c, i1 - i0, j1 - j0)
    cdef Py_ssize_t jc, jc0, jc1, pb, pc, r0, rows
    cdef const floating* block_bias
    for jc in range((j1 - j0 + nc - 1) // nc):
        jc0 = j0 + jc * nc
        jc1 = min(j1, jc0 + nc)
        for pb in range(blocks):
            pc = pb * depth
            block_bias = (bias + jc0 if bias != NULL and pb == blocks - 1
                          and epilogue != EPILOGUE_NONE else NULL)
            # The passes of rows_a_pass rows over one block of B, while it is in cache.
            r0 = i0
            while r0 < i1:
                rows = min(rows_a_pass, i1 - r0)
                if floating is float:
                    _few_rows_f32(rows, min(depth, k - pc), a + r0 * a_rs + pc, a_rs,
                                  b + pc * b_rs + jc0, b_rs, acc, c + r0 * m + jc0, m,
                                  jc1 - jc0, pc > 0, block_bias, fetch)
                else:
                    _few_rows_f64(rows, min(depth, k - pc), a + r0 * a_rs + pc, a_rs,
                                  b + pc * b_rs + jc0, b_rs, acc, c + r0 * m + jc0, m,
                                  jc1 - jc0, pc > 0, block_bias, fetch)
                r0 += rows
        _epilogue_rows(c, m, i0, i1, jc0, jc1, NULL, epilogue)


cdef void _transposed_tile_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                                const floating* b_packed, floating* c, Py_ssize_t k,
                                Py_ssize_t m, Py_ssize_t i0, Py_ssize_t i1,
                                floating* a_packed, const floating* bias, int epilogue,
                                bint accumulate) noexcept nogil:
    """C[i0:i1] (= or, with `accumulate`, +=) A[i0:i1] @ B by the transposed tile, then the
    epilogue, for a B packed in NRT-column panels."""
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
                _transposed_tile(kc, a_packed + ib * kc * mr,
                                 _b_panel(b_packed, k, m, nr, jb, pc), c + ir * m + jr, m,
                                 min(mr, i1 - ir), min(nr, m - jr), accumulate or pc > 0)
    _epilogue_rows(c, m, i0, i1, 0, m, bias, epilogue)


cdef void _vector_short_panels(int shape, Py_ssize_t kc, const floating* a,
                               Py_ssize_t a_rs, Py_ssize_t a_cs, const floating* b_block,
                               floating* c, Py_ssize_t m, Py_ssize_t ir, Py_ssize_t i1,
                               floating* a_copy, bint accumulate,
                               const floating* bias) noexcept nogil:
    """C[ir:i1] (= or +=) A[ir:i1, depth block] @ B's block (+ bias) by the short tile,
    MRV_SHORT rows at a time, the last ragged few packed (zero-padded) into `a_copy`."""
    cdef Py_ssize_t nr = _vector_tile_width(c, m)
    cdef Py_ssize_t rows
    cdef bint spill
    while ir < i1:
        rows = min(<Py_ssize_t>MRV_SHORT, i1 - ir)
        spill = (i1 - ir - rows) * m >= nr
        if rows == MRV_SHORT:
            _vector_tile_short(shape, kc, a + ir * a_rs, a_rs, a_cs, b_block, c + ir * m, m,
                               rows, m, accumulate, bias, spill)
        else:
            _pack_a(a, a_rs, a_cs, ir, i1, 0, kc, a_copy, MRV_SHORT)
            _vector_tile_short(shape, kc, a_copy, 1, MRV_SHORT, b_block, c + ir * m, m,
                               rows, m, accumulate, bias, spill)
        ir += rows


cdef void _vector_tile_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                            const floating* b_packed, floating* c, Py_ssize_t k, Py_ssize_t m,
                            Py_ssize_t i0, Py_ssize_t i1, floating* a_copy,
                            const floating* bias, int epilogue, bint accumulate,
                            Py_ssize_t fetch_after) noexcept nogil:
    """C[i0:i1] (= or, with `accumulate`, +=) A[i0:i1] @ B by the vector tile (or its row
    kernels), then the epilogue, for a B packed in one panel of _vector_tile_width(m)
    columns. A is read where it lies.

    fetch_after >= 0 (A transposed, a_rs == 1: xᵀ from memory, _dw_gemm_fetch): each tile
    read in place fetches into L2, step by step, the lines of its rows of A in the next
    depth block (vector_tile.h, step 3), up to fetch_after steps past k (where A goes on:
    the rows of x after this block's, which the next call reads). A fetch changes no sum.

    The epilogue runs while the rows are in L1: each tile adds the bias as it stores its
    last depth block, and σ runs over the rows finished so far (contiguous, as C's rows
    are whole) once they hold SIGMOID_SPAN elements, and at the end: not over a whole
    task (out of L1 by then), nor over each tile alone (a few dozen elements, mostly the
    scalar remainder of the vectorized loop).
    A ragged last panel of fewer than MRV rows goes to the short tile (MRV_SHORT rows)
    where that runs no more rows' multiply-adds than the tile (_vector_short_panels),
    else is packed by _pack_a, zero-padded to MRV rows, into `a_copy` (MRV × min(k, KC));
    the tiles never read past A."""
    cdef Py_ssize_t mr = _vector_tile_rows(c, m), nr = _vector_tile_width(c, m)
    cdef int shape = _vector_shape(c, m)
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t pb, pc, kc, ib, ir, rows, i, rs, cs, blocks = (k + depth - 1) // depth
    cdef Py_ssize_t ahead_kc
    cdef Py_ssize_t pending = i0     # first row not yet through σ
    cdef Py_ssize_t chunk
    cdef bint last, spill, sigmoid = epilogue != EPILOGUE_NONE
    cdef bint fast = epilogue == EPILOGUE_SIGMOID_FAST
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
    if _takes_row_kernel(c, k, m, accumulate):
        # A multiple of 16 rows, so that the column kernel's groups of L rows fit.
        chunk = max(<Py_ssize_t>16, SIGMOID_SPAN // m // 16 * 16)
        for ib in range((i1 - i0 + chunk - 1) // chunk):
            ir = i0 + ib * chunk
            rows = min(chunk, i1 - ir)
            spill = (i1 - ir - rows) * m >= nr
            _vector_row_kernels(shape, rows, k, a + ir * a_rs, a_rs, a_cs, b_packed,
                                c + ir * m, m, m, tile_bias, spill)
            if sigmoid:
                sigmoid_span(c + ir * m, c + ir * m, rows * m, fast)
        return
    for pb in range(blocks):
        pc = pb * depth
        kc = min(depth, k - pc)
        last = pb == blocks - 1
        ahead_kc = _steps_ahead(depth, k, pc + kc, fetch_after)
        for ib in range((i1 - i0 + mr - 1) // mr):
            ir = i0 + ib * mr
            rows = min(mr, i1 - ir)
            if rows < mr and (rows + MRV_SHORT - 1) // MRV_SHORT * MRV_SHORT <= mr:
                # A ragged panel: the short tile, in no more rows' work than the tile's.
                _vector_short_panels(shape, kc, a + pc * a_cs, a_rs, a_cs, b_packed + pc * nr,
                                     c, m, ir, i1, a_copy, accumulate or pc > 0,
                                     tile_bias if last else NULL)
            else:
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
                # The rows after this tile in the task are written later, by this
                # thread: the tile may spill its padding lanes onto them if they hold a
                # vector.
                spill = (i1 - ir - rows) * m >= nr
                _vector_tile(shape, kc, a_panel, rs, cs, b_packed + pc * nr, c + ir * m, m,
                             rows, m, accumulate or pc > 0, tile_bias if last else NULL,
                             spill,
                             a + ir + (pc + kc) * a_cs if rows == mr and ahead_kc > 0 else NULL,
                             ahead_kc if rows == mr else 0)
            if sigmoid and last and ((ir + rows - pending) * m >= SIGMOID_SPAN
                                     or ir + rows == i1):
                sigmoid_span(c + pending * m, c + pending * m, (ir + rows - pending) * m,
                             fast)
                pending = ir + rows


cdef inline void _narrow_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                              const floating* b_packed, floating* c,
                              Py_ssize_t k, Py_ssize_t m, Py_ssize_t i0, Py_ssize_t i1,
                              floating* scratch, const floating* bias, int epilogue,
                              bint accumulate, int kernel,
                              Py_ssize_t fetch_after) noexcept nogil:
    """C[i0:i1] (= or +=) A[i0:i1] @ B by a narrow tile (whole rows of C); fetch_after: see
    _vector_tile_task (the transposed tile fetches nothing)."""
    if kernel == KERNEL_VECTOR_TILE:
        _vector_tile_task(a, a_rs, a_cs, b_packed, c, k, m, i0, i1, scratch, bias, epilogue,
                          accumulate, fetch_after)
    else:
        _transposed_tile_task(a, a_rs, a_cs, b_packed, c, k, m, i0, i1, scratch, bias,
                              epilogue, accumulate)


cdef void gemm_serial(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                      const floating* b_packed, floating* c,
                      Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                      floating* a_packed, bint accumulate, bint a_transposed,
                      Py_ssize_t fetch_after) noexcept nogil:
    """C (= or +=) A @ B on the calling thread, B already packed in panels of
    _panel_width(c, m, a_transposed) columns; no epilogue. `a_packed` holds
    _packed_a_size(c, k, m, a_transposed). `a_transposed`: A is xᵀ (see _kernel_for);
    fetch_after: -1, or for an xᵀ from memory see _vector_tile_task and
    _register_tile_task."""
    cdef Py_ssize_t rect[4]
    gemm_share(a, a_rs, a_cs, b_packed, c, n, k, m, 0, 1, a_packed, accumulate, a_transposed,
               fetch_after, rect)


cdef void gemm_share(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                     const floating* b_packed, floating* c,
                     Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, Py_ssize_t share,
                     Py_ssize_t shares, floating* a_packed, bint accumulate,
                     bint a_transposed, Py_ssize_t fetch_after,
                     Py_ssize_t* rect) noexcept nogil:
    """Share `share` of `shares` of gemm_serial's product, on the calling thread: the rows
    of C dealt out in order (the register tile's in MR-row panels, as gemm deals them, so
    that the shares differ by at most a panel, not a whole task), or, where there are
    fewer tasks than
    `shares` and the register tile takes B, the NR-column panels (so that few rows still
    share out). `rect` receives the share's rows and columns of C: [i0, i1, j0, j1]. Each
    element's sums are those of the whole product (the same bits). fetch_after: see
    _vector_tile_task and _register_tile_task (-1: none)."""
    cdef Py_ssize_t mc = _task_rows(c, m, a_transposed), blk, i
    cdef Py_ssize_t blocks = (n + mc - 1) // mc, grain, nr, panels, j0, j1
    cdef int kernel = _kernel_for(c, m, a_transposed)
    grain = mc if kernel != KERNEL_REGISTER_TILE else (MR_F32 if floating is float else MR_F64)
    rect[0] = 0
    rect[1] = n
    j0 = 0
    j1 = m
    if blocks >= shares or kernel != KERNEL_REGISTER_TILE:
        rect[0] = _task_start(share, shares, grain, n)
        rect[1] = _task_start(share + 1, shares, grain, n)
    else:
        nr = _panel_width(c, m, a_transposed)
        panels = (m + nr - 1) // nr
        j0 = share * panels // shares * nr
        j1 = min(m, (share + 1) * panels // shares * nr)
    rect[2] = j0
    rect[3] = j1
    if j0 >= j1:
        return
    for blk in range((rect[1] - rect[0] + mc - 1) // mc):
        i = rect[0] + blk * mc
        if kernel == KERNEL_REGISTER_TILE:
            _register_tile_task(a, a_rs, a_cs, b_packed, NULL, 0, c, m, k, m, i,
                                min(rect[1], i + mc), j0, j1, a_packed, NULL,
                                EPILOGUE_NONE, accumulate, fetch_after)
        else:
            _narrow_task(a, a_rs, a_cs, b_packed, c, k, m, i, min(rect[1], i + mc),
                         a_packed, NULL, EPILOGUE_NONE, accumulate, kernel, fetch_after)


cdef void _dots_rows(const floating* a, const floating* b, floating* c, Py_ssize_t i0,
                     Py_ssize_t i1, Py_ssize_t k, Py_ssize_t m, const floating* bias,
                     int epilogue, bint one_row) noexcept nogil:
    """C[i0:i1] = A[i0:i1] @ B (k×m, m <= DOTS_MAX_COLUMNS), then the epilogue: a dot
    product a row of A (row-major, rows k apart) and column of B, given as its columns
    (b: m×k, row-major) (column_dots.h; without it, m = 1 and few_rows.h's transposed
    kernel, the tiles' order: _takes_dots); one_row: one row of A a step
    (_dots_one_row)."""
    if i1 <= i0:
        return
    if COLUMN_DOTS:
        # The bias added as each sum is stored (the epilogue's addition, in the kernel).
        _column_dots(i1 - i0, k, m, a + i0 * k, b,
                     bias if epilogue != EPILOGUE_NONE else NULL, c + i0 * m, one_row)
        _epilogue_rows(c, m, i0, i1, 0, m, NULL, epilogue)
    else:
        # The transposed kernel's dx (1×rows) = dy (1×k) @ wᵀ, w = A's rows i0..i1.
        _dx_few_rows(1, k, i1 - i0, b, a + i0 * k, c + i0, 0)
        _epilogue_rows(c, 1, i0, i1, 0, 1, bias, epilogue)


cdef int _gemm_split_depth(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                           const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
                           floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                           const floating* bias, int epilogue,
                           ProductPlan plan) except -1:
    """C = A @ B (+ epilogue) with the depth split into plan.depth_chunks chunks of
    plan.chunk_depth (whole depth blocks): each chunk's product A[:, chunk] @ B[chunk]
    goes to a partial C, on any thread, with its slice of B packed in that thread's
    scratch; C is then the sum of the partials in chunk order."""
    cdef Py_ssize_t chunks = plan.depth_chunks, kchunk = plan.chunk_depth
    cdef Py_ssize_t nr = plan.panel_width, panels = (m + nr - 1) // nr
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t b_size = (panels * nr * kchunk + per_line - 1) // per_line * per_line
    cdef Py_ssize_t a_size = _packed_a_size(c, kchunk, m)
    cdef Py_ssize_t part_size = (n * m + per_line - 1) // per_line * per_line
    cdef Py_ssize_t chunk, k0, kc, i
    cdef int threads = plan.threads
    cdef void* base
    cdef size_t base_size
    cdef floating* partials
    cdef floating* scratch
    cdef floating* th
    base = scratch_take((chunks * part_size + threads * (b_size + a_size)) * sizeof(floating)
                        + ALIGN, &base_size)
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
                            n, kc, m, scratch + b_size, False, False, -1)
        else:
            for chunk in prange(chunks, schedule='static', num_threads=threads):
                k0 = chunk * kchunk
                kc = min(kchunk, k - k0)
                th = scratch + threadid() * (b_size + a_size)
                _pack_b(b + k0 * b_rs, b_rs, b_cs, kc, m, th, 0, panels, nr)
                gemm_serial(a + k0 * a_cs, a_rs, a_cs, th, partials + chunk * part_size,
                            n, kc, m, th + b_size, False, False, -1)
        for i in range(n * m):
            c[i] = partials[i]
        for chunk in range(1, chunks):
            for i in range(n * m):
                c[i] = c[i] + partials[chunk * part_size + i]
        _epilogue_rows(c, m, 0, n, 0, m, bias, epilogue)
    scratch_give(base, base_size)
    return 0


cdef inline void _gemm_one_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                                const floating* b_packed, const floating* b, Py_ssize_t b_rs,
                                Py_ssize_t b_cs,
                                floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                                Py_ssize_t task, const ProductPlan* plan, floating* scratch,
                                const floating* bias, int epilogue) noexcept nogil:
    """Task `task` of gemm(): row task task // column blocks, column block task % column
    blocks (of plan.block_width columns; the narrow tiles' tasks are whole rows). `b`:
    B where it lies, for plan.b_in_place (see _register_tile_task; by the few-rows kernel
    for plan.few_rows) and for plan.b_per_task (_b_block_task packs it), else NULL."""
    cdef Py_ssize_t nc = plan.block_width
    cdef Py_ssize_t col_tasks = (m + nc - 1) // nc
    cdef Py_ssize_t ti = task // col_tasks, tj = task % col_tasks
    cdef Py_ssize_t i0 = _task_start(ti, plan.row_tasks, plan.row_grain, n)
    cdef Py_ssize_t i1 = _task_start(ti + 1, plan.row_tasks, plan.row_grain, n)
    if plan.b_per_task:
        _b_block_task(a + i0 * a_rs, a_rs, a_cs, b, b_rs, b_cs, c + i0 * m, i1 - i0, k, m,
                      tj * nc, min(m, (tj + 1) * nc), plan.panel_width, scratch, bias,
                      epilogue, plan.b_as_packed)
    elif b != NULL and plan.few_rows and a_cs == 1:
        _few_rows_task(a, a_rs, b, b_rs, c, k, m, i0, i1, tj * nc, min(m, (tj + 1) * nc),
                       plan.few_rows_fetch, scratch, bias, epilogue)
    elif plan.kernel == KERNEL_REGISTER_TILE:
        _register_tile_task(a, a_rs, a_cs, b_packed, b, b_rs, c, m, k, m, i0, i1, tj * nc,
                            min(m, (tj + 1) * nc), scratch, bias, epilogue, False, -1)
    else:
        _narrow_task(a, a_rs, a_cs, b_packed, c, k, m, i0, i1, scratch, bias, epilogue, False,
                     plan.kernel, -1)


cdef void _b_block_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                        const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
                        floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                        Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t nr, floating* scratch,
                        const floating* bias, int epilogue, bint as_packed) noexcept nogil:
    """C[:, j0:j1] = A @ B[:, j0:j1] (+ epilogue) for plan.b_per_task, k >= 1: for each
    depth block in order, B[pc:pc + KC, j0:j1] packed into `scratch` (`as_packed`: B is
    one panel wide and row-major, its own packing, and is read where it lies), then every
    row panel run over it (A packed behind it), adding into C after the first block, as
    _slab_task does with a slab: the bits of B packed whole."""
    cdef Py_ssize_t depth = _depth_block(c)
    cdef Py_ssize_t blocks = (k + depth - 1) // depth
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t panels = (j1 - j0 + nr - 1) // nr
    cdef floating* a_scratch = scratch + ((min(k, depth) * panels * nr + per_line - 1)
                                          // per_line * per_line)
    cdef Py_ssize_t pb, pc, kc
    cdef bint last
    cdef const floating* b_block
    for pb in range(blocks):
        pc = pb * depth
        kc = min(depth, k - pc)
        last = pb == blocks - 1
        if as_packed:
            # (B one panel wide is one column block: j0 == 0.)
            b_block = b + pc * b_rs
        else:
            _pack_b(b + pc * b_rs + j0 * b_cs, b_rs, b_cs, kc, j1 - j0, scratch, 0, panels, nr)
            b_block = scratch
        _register_tile_task(a + pc * a_cs, a_rs, a_cs, b_block, NULL, 0, c + j0, m, kc,
                            j1 - j0, 0, n, 0, j1 - j0, a_scratch,
                            bias + j0 if last and bias != NULL else NULL,
                            epilogue if last else EPILOGUE_NONE, pc > 0, -1)


cdef int _gemm_slabs(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                     const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
                     floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                     const floating* bias, int epilogue, ProductPlan plan) except -1:
    """C = A @ B (+ epilogue) by the register tile with B packed a slab at a time
    (_plan_slabs): for each slab of columns, for each slab of depth in order, the threads
    pack the slab together, then run every row task over it, adding into C after the
    first depth slab; the epilogue comes with the last. Scratch: one slab and one block of
    A per thread, whatever the shapes."""
    cdef Py_ssize_t nr = plan.panel_width
    cdef Py_ssize_t kb_max = plan.slab_depth, nb_max = plan.slab_width
    cdef Py_ssize_t nc = min(plan.block_width, nb_max)
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t b_size = ((nb_max + nr - 1) // nr * nr * kb_max + per_line - 1) \
        // per_line * per_line
    cdef Py_ssize_t scratch_size = _packed_a_size(c, k, m)
    cdef Py_ssize_t js, ps, j0, p0, nb, kb, panels, col_blocks, tasks, task
    cdef int t
    cdef int threads = plan.threads
    cdef void* base
    cdef size_t base_size
    cdef floating* b_packed
    cdef floating* scratch
    base = scratch_take((b_size + threads * scratch_size) * sizeof(floating) + ALIGN,
                        &base_size)
    if base == NULL:
        raise MemoryError("fastsig: cannot allocate the matmul's packing buffers")
    b_packed = <floating*>_aligned(base)
    scratch = b_packed + b_size
    with nogil:
        for js in range((m + nb_max - 1) // nb_max):
            j0 = js * nb_max
            nb = min(nb_max, m - j0)
            panels = (nb + nr - 1) // nr
            col_blocks = (nb + nc - 1) // nc
            tasks = plan.row_tasks * col_blocks
            for ps in range((k + kb_max - 1) // kb_max):
                p0 = ps * kb_max
                kb = min(kb_max, k - p0)
                if threads == 1:
                    _pack_b(b + p0 * b_rs + j0 * b_cs, b_rs, b_cs, kb, nb, b_packed, 0,
                            panels, nr)
                    for task in range(tasks):
                        _slab_task(a, a_rs, a_cs, b_packed, c, n, k, m, p0, kb, j0, nb, nc,
                                   task, &plan, scratch, bias, epilogue)
                else:
                    for t in prange(threads, schedule='static', num_threads=threads):
                        _pack_b(b + p0 * b_rs + j0 * b_cs, b_rs, b_cs, kb, nb, b_packed,
                                t * panels // threads, (t + 1) * panels // threads, nr)
                    for task in prange(tasks, schedule='static', num_threads=threads):
                        _slab_task(a, a_rs, a_cs, b_packed, c, n, k, m, p0, kb, j0, nb, nc,
                                   task, &plan, scratch + threadid() * scratch_size, bias,
                                   epilogue)
    scratch_give(base, base_size)
    return 0


cdef inline void _slab_task(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                            const floating* b_packed, floating* c, Py_ssize_t n,
                            Py_ssize_t k, Py_ssize_t m, Py_ssize_t p0, Py_ssize_t kb,
                            Py_ssize_t j0, Py_ssize_t nb, Py_ssize_t nc, Py_ssize_t task,
                            const ProductPlan* plan, floating* scratch,
                            const floating* bias, int epilogue) noexcept nogil:
    """Task `task` of the slab at depth p0 (kb deep) and column j0 (nb wide): a row task
    of the plan's over a block of nc of the slab's columns."""
    cdef Py_ssize_t col_blocks = (nb + nc - 1) // nc
    cdef Py_ssize_t ti = task // col_blocks, tj = task % col_blocks
    cdef Py_ssize_t i0 = _task_start(ti, plan.row_tasks, plan.row_grain, n)
    cdef Py_ssize_t i1 = _task_start(ti + 1, plan.row_tasks, plan.row_grain, n)
    cdef bint last = p0 + kb == k
    _register_tile_task(a + p0 * a_cs, a_rs, a_cs, b_packed, NULL, 0, c + j0, m, kb, nb,
                        i0, i1, tj * nc, min(nb, (tj + 1) * nc), scratch,
                        bias + j0 if last and bias != NULL else NULL,
                        epilogue if last else EPILOGUE_NONE, p0 > 0, -1)


cdef int _gemm_dots(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                    const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
                    floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                    const floating* bias, int epilogue, int threads, bint one_row) except -1:
    """gemm() by the dots kernel (_takes_dots): B's columns, each contiguous (B itself for
    one column read along its rows, else copied into scratch), then DOTS_ROWS rows a
    task; one_row: one row of A a step (_dots_one_row)."""
    cdef const floating* columns = b
    cdef floating* copy
    cdef void* base = NULL
    cdef size_t base_size = 0
    cdef Py_ssize_t p, j
    cdef int t
    if a_cs != 1 or a_rs != k:
        raise ValueError("fastsig: the dots kernel reads a row-major A")
    if m > 1 or b_rs != 1:
        base = scratch_take(m * k * sizeof(floating) + ALIGN, &base_size)
        if base == NULL:
            raise MemoryError("fastsig: cannot allocate the matmul's packing buffers")
        copy = <floating*>_aligned(base)
        with nogil:
            for p in range(k):
                for j in range(m):
                    copy[j * k + p] = b[p * b_rs + j * b_cs]
        columns = copy
    with nogil:
        if threads == 1:
            _dots_rows(a, columns, c, 0, n, k, m, bias, epilogue, one_row)
        else:
            for t in prange(threads, schedule='static', num_threads=threads):
                _dots_rows(a, columns, c, _task_start(t, threads, DOTS_ROWS, n),
                           _task_start(t + 1, threads, DOTS_ROWS, n), k, m, bias, epilogue,
                           one_row)
    if base != NULL:
        scratch_give(base, base_size)
    return 0


cdef int gemm(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
              const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
              floating* c, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
              const floating* bias, int epilogue, int num_threads) except -1:
    """C = A @ B (+ epilogue); called with the GIL, which it releases for the work.

    Allocates the packed B (where B is read in place, only its ragged last panel; where it
    is one whole panel wide and row-major, nothing; where it is large, one slab of it:
    _gemm_slabs; where each thread packs its own, one a thread) and one bounded block of
    scratch per thread, raising MemoryError if it cannot."""
    cdef ProductPlan plan = _plan_product(c, n, k, m, num_threads)
    cdef Py_ssize_t nr = plan.panel_width
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t panels = (m + nr - 1) // nr
    cdef Py_ssize_t task, task_rows
    cdef int t
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t scratch_size = _packed_a_size(c, k, m)
    cdef Py_ssize_t b_size = (panels * nr * k + per_line - 1) // per_line * per_line
    # (The vector tile's few rows read B in place only through the few-rows kernel, which
    # needs a row-major A: _plan_product.)
    cdef bint b_in_place = (plan.b_in_place and b_cs == 1 and k > 0
                            and (plan.kernel == KERNEL_REGISTER_TILE or a_cs == 1))
    cdef bint few_rows = b_in_place and plan.few_rows and a_cs == 1
    cdef Py_ssize_t ragged = 0 if few_rows else m % nr
    cdef const floating* b_direct = b if b_in_place or plan.b_per_task else NULL
    cdef const floating* b_panels
    cdef int threads = plan.threads
    cdef void* base
    cdef size_t base_size
    cdef floating* b_packed
    cdef floating* scratch
    if n == 0 or m == 0:
        return 0
    # The plan's b_as_packed holds for a row-major B (x @ w); B read through other strides
    # is packed.
    plan.b_as_packed = plan.b_as_packed and b_cs == 1 and b_rs == nr
    if plan.dots:
        return _gemm_dots(a, a_rs, a_cs, b, b_rs, b_cs, c, n, k, m, bias, epilogue, threads,
                          plan.dots_one_row)
    if b_in_place:
        b_size = (nr * k + per_line - 1) // per_line * per_line if ragged else 0
        # A task's rows are all n (one row task), packed a depth block at a time.
        scratch_size = max(scratch_size, ((n + mr - 1) // mr * mr * min(k, _depth_block(c))
                                          + per_line - 1) // per_line * per_line)
    if few_rows:
        # The few-rows kernel's sums (_few_rows_task).
        scratch_size = max(scratch_size, <Py_ssize_t>(FEW_ROWS_ACC_BYTES // sizeof(floating)))
    if plan.b_per_task:
        # A task's block of B (KC × its columns), then its packed A (its rows × KC; the
        # most rows _task_start deals a task; A read where it lies: its ragged last panel).
        b_size = 0
        task_rows = (((n + plan.row_grain - 1) // plan.row_grain + plan.row_tasks - 1)
                     // plan.row_tasks * plan.row_grain)
        if _reads_a_in_place(c, a_rs, a_cs, plan.block_width):
            task_rows = min(task_rows, mr)
        scratch_size = ((min(k, _depth_block(c)) * ((plan.block_width + nr - 1) // nr * nr)
                         + per_line - 1) // per_line * per_line
                        + ((task_rows + mr - 1) // mr * mr * min(k, _depth_block(c))
                           + per_line - 1) // per_line * per_line)
    if plan.b_as_packed:
        b_size = 0
    # (B read through other strides than the plan's is packed as the plan says.)
    cdef bint b_per_thread = plan.b_per_thread and b_size > 0 and not b_in_place
    cdef floating* th
    if plan.depth_chunks > 1:
        return _gemm_split_depth(a, a_rs, a_cs, b, b_rs, b_cs, c, n, k, m, bias, epilogue,
                                 plan)
    if plan.slab_depth < k or plan.slab_width < m:
        return _gemm_slabs(a, a_rs, a_cs, b, b_rs, b_cs, c, n, k, m, bias, epilogue, plan)
    base = scratch_take(((b_size + threads * scratch_size) if not b_per_thread
                         else threads * (b_size + scratch_size)) * sizeof(floating) + ALIGN,
                        &base_size)
    if base == NULL:
        raise MemoryError("fastsig: cannot allocate the matmul's packing buffers")
    b_packed = <floating*>_aligned(base)
    scratch = b_packed + b_size
    b_panels = b if plan.b_as_packed else b_packed
    with nogil:
        if b_per_thread:
            # Thread t's copy of B, then its scratch; its tasks a contiguous run of them
            # (which thread runs a task changes no sum).
            for t in prange(threads, schedule='static', num_threads=threads):
                th = b_packed + t * (b_size + scratch_size)
                _pack_b(b, b_rs, b_cs, k, m, th, 0, panels, nr)
                for task in range(t * plan.tasks // threads, (t + 1) * plan.tasks // threads):
                    _gemm_one_task(a, a_rs, a_cs, th, b_direct, b_rs, b_cs, c, n, k, m,
                                   task, &plan, th + b_size, bias, epilogue)
        elif b_in_place:
            if ragged:
                _pack_b(b + (m - ragged) * b_cs, b_rs, b_cs, k, ragged, b_packed, 0, 1, nr)
        elif plan.b_per_task or plan.b_as_packed:
            pass
        elif threads == 1:
            _pack_b(b, b_rs, b_cs, k, m, b_packed, 0, panels, nr)
        else:
            for t in prange(threads, schedule='static', num_threads=threads):
                _pack_b(b, b_rs, b_cs, k, m, b_packed, t * panels // threads,
                        (t + 1) * panels // threads, nr)
        if b_per_thread:
            pass
        elif threads == 1:
            for task in range(plan.tasks):
                _gemm_one_task(a, a_rs, a_cs, b_panels, b_direct, b_rs, b_cs, c, n, k, m, task,
                               &plan, scratch, bias, epilogue)
        else:
            for task in prange(plan.tasks, schedule='static', num_threads=threads):
                _gemm_one_task(a, a_rs, a_cs, b_panels, b_direct, b_rs, b_cs, c, n, k, m, task,
                               &plan, scratch + threadid() * scratch_size, bias, epilogue)
    scratch_give(base, base_size)
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
