# Packing: the operands of the matmul copied into the panels its tiles read.
#
# Provides: _pack_b (by _pack_b_by_rows for a row-major B), _b_panel (where a packed
#   panel's depth block starts), _pack_a, _packed_b_size, _packed_a_size, _aligned.
# Uses: plan.pxi (_depth_block, _panel_width, _task_rows, _kernel_for, _vector_tile_rows,
#   ALIGN), isa.h's constants (declared in kernels.pxi).
#
# A and B are read through strides, (i, p) at a[i*a_rs + p*a_cs] and (p, j) at
# b[p*b_rs + j*b_cs], so that a transposed operand (xᵀ, wᵀ in the backward) is
# transposed by the packing, never by a copy of its own. Panels are zero-padded past
# the operand's edge, so the tiles never test for it.

cdef enum:
    PACK_A_STEPS = 16   # rows of a transposed A that _pack_a copies at a time


cdef inline void* _aligned(void* base) noexcept nogil:
    """`base` rounded up to a multiple of ALIGN bytes (callers allocate ALIGN more)."""
    return <void*>((<uintptr_t>base + ALIGN - 1) & ~(<uintptr_t>(ALIGN - 1)))


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
    tile, NRT for the transposed tile, NRV for the vector tile, zero past column m.

    The layout is by depth block, then panel (see _b_panel): the panels of one depth
    block are contiguous, so a block of NC columns is one span of memory. (Each panel
    whole in depth would put a block's panels k*NR values apart, at large k a multiple
    of L2's way size: they would all fall into the same L2 sets.)"""
    cdef Py_ssize_t depth = _depth_block(packed)
    cdef Py_ssize_t panel, pb, pc, p, j, j0, width
    cdef floating* dst
    if b_cs == 1:
        _pack_b_by_rows(b, b_rs, k, m, packed, panel0, panel1, nr)
        return
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


cdef void _pack_b_by_rows(const floating* b, Py_ssize_t b_rs, Py_ssize_t k, Py_ssize_t m,
                          floating* packed, Py_ssize_t panel0, Py_ssize_t panel1,
                          Py_ssize_t nr) noexcept nogil:
    """_pack_b for a row-major B (b_cs == 1): each row of a depth block is read once
    across the panels [panel0, panel1), a run of contiguous memory, and its nr-value
    pieces go to the panels. Packing panel by panel would read one piece of every row per
    panel, a new page each at large m: as many TLB misses as pieces."""
    cdef Py_ssize_t depth = _depth_block(packed)
    cdef Py_ssize_t whole = min(panel1, m // nr)
    cdef Py_ssize_t panel, pb, pc, p, kc, j, j0
    cdef const floating* src
    cdef floating* block
    cdef floating* dst
    for pb in range((k + depth - 1) // depth):
        pc = pb * depth
        kc = min(depth, k - pc)
        block = <floating*>_b_panel(packed, k, m, nr, 0, pc)
        for p in range(kc):
            src = b + (pc + p) * b_rs
            dst = block + panel0 * kc * nr + p * nr
            for panel in range(panel0, whole):
                _copy_panel_row(dst, src + panel * nr, nr)
                dst += kc * nr
            for panel in range(max(panel0, whole), panel1):
                j0 = panel * nr
                for j in range(min(nr, m - j0)):
                    dst[j] = src[j0 + j]
                for j in range(min(nr, m - j0), nr):
                    dst[j] = 0
                dst += kc * nr


cdef inline void _copy_panel_row(floating* dst, const floating* src,
                                 Py_ssize_t nr) noexcept nogil:
    """nr values from src to dst: for the register tile's width, a copy of a length fixed
    at compile time (a few vector moves, not a call)."""
    cdef Py_ssize_t j
    if floating is float:
        if nr == NR_F32:
            memcpy(dst, src, NR_F32 * sizeof(float))
            return
    else:
        if nr == NR_F64:
            memcpy(dst, src, NR_F64 * sizeof(double))
            return
    for j in range(nr):
        dst[j] = src[j]


cdef void _pack_a(const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                  Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t p0, Py_ssize_t kc,
                  floating* packed, Py_ssize_t mr) noexcept nogil:
    """Rows [i0, i1), depth [p0, p0 + kc) of A into mr-row panels of kc×mr values,
    step p of a panel at p*mr, zero past row i1: MR for the register tile, MRT for the
    transposed tile, MRV for the vector tile's ragged last panel."""
    cdef Py_ssize_t panel, p, pg, i, r0, height
    cdef Py_ssize_t mr_tile = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t panels = (i1 - i0 + mr - 1) // mr
    cdef Py_ssize_t whole = (i1 - i0) // mr if a_rs == 1 and mr == mr_tile else 0
    cdef floating* dst
    cdef const floating* src
    if whole:
        # A transposed (xᵀ in the backward): step p of a panel is MR contiguous values
        # of A's row p, copied by a memcpy of a fixed length (a few vector moves, where
        # a loop of MR copies would be vectorized across the steps, gathering). The
        # steps go PACK_A_STEPS at a time, every panel for each group: A is read a few
        # whole rows at a time (not all kc rows per panel) and each panel is written in
        # runs (not one step of every panel, which all fall into one L1 set).
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
        if height < mr:
            # A ragged panel: zeros first, then each row along its depth (a row-major
            # A's row is read as it lies; a loop per step over `height` rows and then
            # the padding cost more than the copy).
            memset(dst, 0, kc * mr * sizeof(floating))
            for i in range(height):
                src = a + (r0 + i) * a_rs + p0 * a_cs
                for p in range(kc):
                    dst[p * mr + i] = src[p * a_cs]
        else:
            for p in range(kc):
                for i in range(mr):
                    dst[p * mr + i] = a[(r0 + i) * a_rs + (p0 + p) * a_cs]


cdef inline Py_ssize_t _packed_b_size(floating* dtype, Py_ssize_t k, Py_ssize_t m,
                                      bint a_transposed=False) noexcept nogil:
    """Elements of B (k×m) packed into panels (see _panel_width)."""
    cdef Py_ssize_t nr = _panel_width(dtype, m, a_transposed)
    return ((m + nr - 1) // nr) * nr * k


cdef inline Py_ssize_t _packed_a_size(floating* dtype, Py_ssize_t k, Py_ssize_t m,
                                      bint a_transposed=False) noexcept nogil:
    """Elements of one task's scratch for A (k deep, B m wide), in whole cache lines:
    its packed block, or for the vector tile the copy of one ragged panel."""
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    cdef Py_ssize_t rows = _task_rows(dtype, m, a_transposed)
    if _kernel_for(dtype, m, a_transposed) == KERNEL_VECTOR_TILE:
        rows = _vector_tile_rows(dtype, m)
    return (rows * min(_depth_block(dtype), k) + per_line - 1) // per_line * per_line
