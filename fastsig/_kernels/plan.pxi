# The plan: which kernel a shape takes, and how its work is cut into tasks and threads.
#
# Provides: the blocking (KC and the tiles' task sizes, constants; NC and MC, set at
#   import from fastsig/_blocking.py: _set_blocking, def blocking), the thresholds
#   for threads (the native fast paths' too: _product_one_thread_max_work and def
#   product_min_work, _backward_one_thread_max_work and def backward_min_work,
#   _sigmoid_elements_for_threads, _backward_elements_for_threads;
#   MIN_ROWS_FOR_THREADS_W_IN_L2), the enums
#   Kernel, VectorShape and DwKernel, _plan_product (for gemm) and _plan_backward (for the
#   layer's backward, with its dw's _dw_stores_first_block and _dw_by_outer_product) with
#   the helpers they use, and def plan(), the same decisions as a dict, for tests and for
#   reading.
# Uses: isa.h's constants (declared in kernels.pxi), vector_tile.h's
#   fastsig_column_kernel_*_applies, cpython's PY_SSIZE_T_MAX.
#
# Which kernel takes a shape, and how its work is cut into tasks and threads, is decided
# here and only here, from the dtype, the shapes and the thread count; the kernels follow
# it (how a kernel walks its own task -- SIGMOID_SPAN, a tile's spill -- is the kernel's).
# The bits depend on the shapes and the dtype alone, never on the threads: a product's on
# the depth block KC and the depth split (every kernel sums each output's products in
# increasing p within a depth block and adds the blocks in order, except column_dots.h's
# for a C of one to four columns: _takes_dots); the backward's dw and db also on its cut
# into blocks and parts (fixed by n and m) and on the dw kernel (fixed by k and m).
#
# The functions here take `floating* dtype`, a pointer that is never read: Cython
# specializes a fused function by the types of its arguments, and this one selects the
# float32 or float64 plan (callers pass any pointer of the compute dtype, or NULL cast
# to it).

cdef enum:
    KC_F32 = 256        # depth of a packed block, float32 (see _depth_block)
    KC_F64 = 128        # and float64
    SPLIT_NC = 256      # the register tile's NC and MC as _depth_chunks counts its tasks,
    SPLIT_MC_PANELS = 12    # whatever the blocking in force (so the bits do not follow it)
    MAX_TILE = 384      # >= MR*NR and MRT*NRT of every variant and dtype
    TRANSPOSED_PANELS = 8   # MRT-row panels in a task of the transposed tile
    VECTOR_PANELS = 16  # MRV-row panels in a task of the vector tile
    ROW_KERNEL_DEPTH = 4    # depths up to this take the vector tile's row kernel
    DOTS_ROWS = 32      # rows of C a thread takes at a time in the dots kernel (_takes_dots)
    DOTS_MAX_COLUMNS_F32 = 4    # the widest C the dots kernel takes, float32
    DOTS_MAX_COLUMNS_F64 = 3    # and float64 (_takes_dots)
    DOTS_LANES_F32 = 16     # column_dots.h's LANES: a step of its sums along k, float32
    DOTS_LANES_F64 = 8      # and float64
    X_FROM_MEMORY_BYTES = 8388608   # an x larger than this comes from memory: the
                                    # backward's dw kernels fetch it ahead (_dw_rows_fetch,
                                    # _column_sums_fetch)
    DOTS_ONE_ROW_BYTES = 12582912   # and the dots kernel reads an x larger than this one
                                    # row a step (_dots_one_row)
    DW_GEMM_FETCH_BYTES = 12582912  # and the matmul's dw (the vector and register
                                    # tiles) fetches an x larger than this ahead
                                    # (_dw_gemm_fetch)
    FEW_ROWS = 32       # products of at most this many rows read B where it lies, but
    FEW_ROWS_STREAM = 16    # where a wide B streams from beyond L2 (_b_streams) and the
                            # variant has no eight-row tile, at most this many, by the
                            # few-rows kernel's passes (_few_rows_streamed)
    FEW_ROWS_ACC_BYTES = 16384  # the few-rows kernel's sums (_few_rows_block_width)
    L2_WAY_BYTES = 131072   # one way of L2 (2 MB of 16 on Intel's server cores, 1 MB of 8
    L2_WAYS_MIN = 8         # on Zen 4), and the fewest ways (_b_rows_crowd_l2_sets)
    BLOCK_TASK_ROWS = 96    # and of at most this many, each task packs its block of B,
    BIG_B = 524288          # and where B has at least this many elements, of as many as
                            # _block_task_rows_big_b (_packs_b_per_task)
    B_PER_THREAD_L2_PART = 4    # a B packed whole in at most this part of L2: each thread
                                # packs its own copy (_packs_b_per_thread)
    ROWS_A_THREAD_DEPTH = 128   # up to BLOCK_TASK_ROWS rows of a small B of at most this
    STORE_BOUND_DEPTH = 32      # depth: a thread's rows where as even as its columns,
                                # and up to this depth whatever (_block_row_tasks)
    DX_IN_PLACE_ROWS = 2    # a backward of at most this many rows reads w in place for dx
    DX_SWAPPED_ROWS = 64    # and of at most this many, dx as (w @ dyᵀ)ᵀ (_dx_kernel)
    DX_OUTER_MIN_BYTES = 32 # one column of w, rows of dx of at least this: DX_OUTER
    B_SLAB_BYTES = 8388608  # a packed B larger than this is packed a slab at a time,
    SLAB_DEPTH_BLOCKS = 8   # each at most this many depth blocks deep (_plan_slabs)
    SPLIT_TASKS = 4     # fewer tasks than this, and a depth of at least
    SPLIT_DEPTH = 2048  # 2 × this: the depth is split into chunks (_depth_chunks)
    SPLIT_CHUNKS = 32   # at most this many chunks,
    SPLIT_ELEMENTS = 4194304    # holding at most this many partial results
    ALIGN = 64          # bytes, for the packed buffers
    # The backward:
    MAX_PARTS = 32          # partial sums of dw and db: at most this many
    ONE_PART_DW = 262144    # a dw by the matmul of at least this many elements: one part
    DY_BLOCK_ELEMS = 65536  # a block of dy holds about this many elements
    MIN_BLOCKS = 8          # and a batch is cut into at least this many blocks,
    DW_GEMM_BLOCK_ROWS = 256    # of at least this many rows where dw is a matmul
    COLUMN_SUMS_ROW_BYTES = 1024    # dw by the column-sum kernel for rows of x up to this
    DW_LOOPS_ONE_COLUMN_DEPTH = 20  # and for one column of dy, by plain loops from this
                                    # depth (_dw_kernel)

# Below this much work a call with num_threads=None runs on one thread (_api.py): waking
# threads costs more than the work. Elements for the elementwise kernels, multiply-adds
# for the products (_product_work: a few rows count as FEW_ROWS_WORK), per dtype (a
# float64 multiply-add costs about two float32 ones); the native fast paths (native.pxi)
# follow the same thresholds. Measured per shape class, one thread against two, on Zen 3
# and Zen 4 (docs/performance.md, "Threads for the products", "The products' thresholds
# after the faster tiles"; float32's 524288 again from Zen 4 and an Intel Xeon, "The
# products' float32 threshold at 524288"): below these, a second thread made some call
# slower by more than 10 % on one of them.
# The thresholds assume the caller may have just written the inputs: a worker then reads
# its share from the caller's core's cache, at a fraction of the speed of its own.
# sigmoid threads from SIGMOID_BYTES_FOR_THREADS of input (_sigmoid_elements_for_threads:
# float32 from 49152 elements, float64 from 24576), bytes rather than elements because a
# line costs the same to fetch whatever it holds; below it a second thread after the
# caller's write (its input fetched ahead: _sigmoid_fetched) made the call more than 10 %
# slower (docs/performance.md, "Threads after the caller wrote the input").
# sigmoid_backward is three operations an element against σ's thirty: it threads only
# where its two inputs and its result together exceed one core's L2
# (_backward_elements_for_threads; float32 from 174763 elements, float64 from 87382 on
# a 2 MB L2): below that a worker reading its half from the caller's cache is slower
# than one core reading all of it from its own L2; above it one core's L2 no longer holds
# the call (docs/performance.md, "Threads after the caller wrote the input").
# For the same reason a product of at most FEW_ROWS rows whose w is within 5/4 of one
# core's L2 runs on one thread whatever its work (_w_from_the_callers_cache): in a
# training loop the caller has just written w.
# A product (matmul, dense_forward) also threads from PRODUCT_ELEMENTS_FOR_THREADS
# elements of x and C (n·(k + m)): a narrow layer's product is more reading and writing
# than multiply-adds, which _product_work does not count (_product_one_thread_max_work;
# measured on an Intel Xeon: docs/performance.md, "The narrow products' threads").
# dense_forward's epilogue is work its threads share with no exchange (each applies σ to
# the rows of C it wrote, in its own cache): an element of it counts as
# EPILOGUE_MULADDS multiply-adds against the products' thresholds: somewhat less than σ
# of an element costs against the narrow tiles' multiply-adds, so that it errs toward
# one thread where the big tile's cheaper multiply-adds make σ weigh more
# (docs/performance.md, "dense_forward's epilogue in its threads' work").
# The layer's backward (_backward_one_thread_max_work; measured on an Intel Xeon, where a
# line passed between cores costs most: docs/performance.md, "The backward's threads"):
# - where its threads would share one block with dw the matmul on dy's packed panels, it
#   exchanges dy between the cores three times a block (each thread packs panels of rows
#   other threads formed, and reads panels other threads packed): threaded from
#   BACKWARD_SHARED_MULADDS_FOR_THREADS of work, both dtypes, with or without dx;
# - where its parts are a thread's each, the threads exchange only the partial sums, and
#   a narrow layer's backward is more reading and writing than multiply-adds: threaded
#   from the products' thresholds or from BACKWARD_PARTS_ELEMENTS_FOR_THREADS elements
#   of x and dy (n·(k + m)), whichever comes first.
cdef enum:
    SIGMOID_BYTES_FOR_THREADS = 196608
    MULADDS_FOR_THREADS_F32 = 524288
    MULADDS_FOR_THREADS_F64 = 262144
    EPILOGUE_MULADDS = 16
    BACKWARD_SHARED_MULADDS_FOR_THREADS = 2097152
    BACKWARD_PARTS_ELEMENTS_FOR_THREADS = 65536
    PRODUCT_ELEMENTS_FOR_THREADS = 65536
    FEW_ROWS_WORK = 8   # a product of fewer rows counts as this many (_product_work)
# The names _api.py reads: sigmoid's and sigmoid_backward's by dtype name (the latter
# from L2: _set_blocking).
MIN_ELEMENTS_FOR_THREADS = {"float32": SIGMOID_BYTES_FOR_THREADS // sizeof(float),
                            "float64": SIGMOID_BYTES_FOR_THREADS // sizeof(double)}
MIN_BACKWARD_ELEMENTS_FOR_THREADS = {}
# A threshold (most work on one thread) that no call's work exceeds.
cdef Py_ssize_t ONE_THREAD_ALWAYS = PY_SSIZE_T_MAX - 1
MIN_MULADDS_FOR_THREADS = {"float32": MULADDS_FOR_THREADS_F32,
                           "float64": MULADDS_FOR_THREADS_F64}
MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS = BACKWARD_SHARED_MULADDS_FOR_THREADS
MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS = BACKWARD_PARTS_ELEMENTS_FOR_THREADS
MIN_PRODUCT_ELEMENTS_FOR_THREADS = PRODUCT_ELEMENTS_FOR_THREADS
EPILOGUE_MULADDS_FOR_THREADS = EPILOGUE_MULADDS     # (_product_one_thread_max_work)
MIN_ROWS_FOR_THREADS_W_IN_L2 = FEW_ROWS + 1    # (_w_from_the_callers_cache)


# The register tile's blocking: NC columns of packed B and MC rows of packed A a task, per
# dtype, set once as this module is imported (_set_blocking, from fastsig/_blocking.py's
# rules: shares of the L2 cache, or FASTSIG_BLOCKING) and constant after, so that a
# call's scratch, sized from them, fits what its kernels do. They change no bit: they
# decide which task and thread computes which outputs, never the order of a sum.
cdef Py_ssize_t _nc_f32 = NR_F32, _nc_f64 = NR_F64     # multiples of NR, set at import
cdef Py_ssize_t _mc_f32 = MR_F32, _mc_f64 = MR_F64     # multiples of MR, set at import
cdef str _blocking_source = "built-in"
cdef Py_ssize_t _l2_bytes = 1048576    # one core's L2 (_blocking.choose()), set at import


cdef Py_ssize_t _blocked(Py_ssize_t wanted, Py_ssize_t unit, Py_ssize_t most):
    """`wanted` rounded to the nearest multiple of `unit`, within [unit, most]."""
    return max(unit, (min(most, wanted) + unit // 2) // unit * unit)


cdef Py_ssize_t _chosen_block(dict chosen, str name, Py_ssize_t column_bytes,
                              Py_ssize_t unit):
    """chosen[name] ("nc" or "mc"), or the share of L2 its rule gives in columns (rows)
    of column_bytes each, rounded to the tile's unit within the cap."""
    cdef str share = "b_block_bytes" if name == "nc" else "a_block_bytes"
    return _blocked(chosen[name] or chosen[share] // column_bytes, unit,
                    chosen[name + "_max"])


cdef void _set_blocking(dict chosen):
    """NC and MC per dtype from _blocking.choose()'s dict (its rules 1 and 2)."""
    global _nc_f32, _nc_f64, _mc_f32, _mc_f64, _blocking_source, _l2_bytes
    cdef Py_ssize_t f32_column = KC_F32 * <Py_ssize_t>sizeof(float)
    cdef Py_ssize_t f64_column = KC_F64 * <Py_ssize_t>sizeof(double)
    _nc_f32 = _chosen_block(chosen, "nc", f32_column, NR_F32)
    _mc_f32 = _chosen_block(chosen, "mc", f32_column, MR_F32)
    _nc_f64 = _chosen_block(chosen, "nc", f64_column, NR_F64)
    _mc_f64 = _chosen_block(chosen, "mc", f64_column, MR_F64)
    _blocking_source = chosen["source"]
    _l2_bytes = chosen["l2_bytes"]
    MIN_BACKWARD_ELEMENTS_FOR_THREADS.update(
        float32=_backward_elements_for_threads(<float*>NULL),
        float64=_backward_elements_for_threads(<double*>NULL))


cdef inline Py_ssize_t _sigmoid_elements_for_threads(floating* dtype) noexcept nogil:
    """The fewest elements of sigmoid that num_threads=None threads."""
    return SIGMOID_BYTES_FOR_THREADS // <Py_ssize_t>sizeof(floating)


cdef inline Py_ssize_t _backward_elements_for_threads(floating* dtype) noexcept nogil:
    """The fewest elements of sigmoid_backward that num_threads=None threads: its grad, s
    and result together larger than one core's L2."""
    return _l2_bytes // (3 * <Py_ssize_t>sizeof(floating)) + 1


def blocking():
    """The register tile's blocking in force: {"kc", "nc", "mc", "mr", "nr"} each a dict by
    dtype (KC the depth block, fixed; NC columns of packed B and MC rows of packed A a
    task, from the CPU's caches; MR × NR the tile, which NC and MC are multiples of) and
    "source", where NC and MC came from; "l2_bytes", one core's L2, which these and the
    thresholds for threads follow."""
    return {"kc": {"float32": KC_F32, "float64": KC_F64},
            "mr": {"float32": MR_F32, "float64": MR_F64},
            "nr": {"float32": NR_F32, "float64": NR_F64},
            "nc": {"float32": _nc_f32, "float64": _nc_f64},
            "mc": {"float32": _mc_f32, "float64": _mc_f64},
            "source": _blocking_source, "l2_bytes": _l2_bytes}


cdef inline Py_ssize_t _product_work(Py_ssize_t n, Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """A product's work against MULADDS_FOR_THREADS: its multiply-adds, 1 to
    FEW_ROWS_WORK - 1 rows counted as FEW_ROWS_WORK (none: 0). Such a product reads each
    element of W for fewer multiply-adds than that: its time is W's reading, which a
    second thread shares as it shares the multiply-adds (docs/performance.md, "A few
    rows' work for the threads")."""
    if n <= 0:
        return 0
    return max(n, <Py_ssize_t>FEW_ROWS_WORK) * k * m


def product_work(Py_ssize_t n, Py_ssize_t k, Py_ssize_t m):
    """The work of a product of x (n×k) and w (k×m) that num_threads=None compares with
    product_min_work (MIN_MULADDS_FOR_THREADS, or less for narrow layers) and, for
    dense_backward, with backward_min_work: the rule _api.py, the native paths and
    plan()'s "one_thread" apply (_api.py counts the depth k of dense_forward and
    dense_backward as at least 1)."""
    return _product_work(n, k, m)


cdef inline Py_ssize_t _one_thread_max_work(floating* dtype) noexcept nogil:
    """The most work (_product_work) of a product that num_threads=None runs on one
    thread, by its multiply-adds alone."""
    return (MULADDS_FOR_THREADS_F32 if floating is float else MULADDS_FOR_THREADS_F64) - 1


cdef inline bint _w_from_the_callers_cache(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                          Py_ssize_t m) noexcept nogil:
    """Whether a product of at most FEW_ROWS rows (such a product reads w where it lies:
    the few-rows kernel, or the register tile in place) with a w (k×m; for the backward
    w and dw, the same size) of at most 5/4 of one core's L2 runs on one thread whatever
    its work. In a training loop the caller writes
    w after every step and it stays in the caller's cache (an L2's worth of it): a worker
    reads its share of w from there, and so few rows' multiply-adds a line do not pay for
    it (a second thread gains where w is unchanged between calls, but a call cannot see
    which loop it is in). From FEW_ROWS + 1 rows each thread packs its panels
    of w and a second thread gains in both loops; a w beyond 5/4 of L2 comes mostly from
    memory whoever wrote it (docs/performance.md, "A few rows on two threads, with w
    unchanged and with w just written")."""
    return (n <= FEW_ROWS
            and k * m * <Py_ssize_t>sizeof(floating) <= _l2_bytes // 4 * 5)


cdef inline Py_ssize_t _product_one_thread_max_work(floating* dtype, Py_ssize_t n,
                                                    Py_ssize_t k, Py_ssize_t m,
                                                    bint epilogue) noexcept nogil:
    """The most work (_product_work(n, k, m)) of a product of x (n×k) and w (k×m) that
    num_threads=None runs on one thread (`epilogue`: dense_forward's, σ over C): all
    (ONE_THREAD_ALWAYS) where w comes from the caller's cache
    (_w_from_the_callers_cache), 0 (threaded at any work) from
    PRODUCT_ELEMENTS_FOR_THREADS elements of x and C, else _one_thread_max_work, less
    EPILOGUE_MULADDS a C element for the epilogue (at least 0)."""
    if _w_from_the_callers_cache(dtype, n, k, m):
        return ONE_THREAD_ALWAYS
    if n * (k + m) >= PRODUCT_ELEMENTS_FOR_THREADS:
        return 0
    if not epilogue:
        return _one_thread_max_work(dtype)
    return max(0, _one_thread_max_work(dtype) - <Py_ssize_t>EPILOGUE_MULADDS * n * m)


cdef str _float_dtype_name(object dtype, str func):
    """"float32" or "float64" for anything np.dtype() reads as one, else TypeError."""
    import numpy as np
    name = np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise TypeError(f"{func}: dtype must be float32 or float64, got {name}")
    return name


def product_min_work(dtype, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, *,
                     bint epilogue=False):
    """The least work (product_work(n, k, m)) at which num_threads=None runs matmul or,
    with `epilogue`, dense_forward of x (n×k) and w (k×m) of `dtype` threaded:
    MIN_MULADDS_FOR_THREADS[dtype], for dense_forward less EPILOGUE_MULADDS an element of
    the result (at least 1), or 1 (any) from MIN_PRODUCT_ELEMENTS_FOR_THREADS elements
    of x and the result, n·(k + m); sys.maxsize (never) for fewer than
    MIN_ROWS_FOR_THREADS_W_IN_L2 rows of a w of at most 5/4 of one core's L2,
    blocking()["l2_bytes"] (the rule _api.py, the native paths and plan()'s "one_thread"
    apply, for k >= 1)."""
    if _float_dtype_name(dtype, "product_min_work") == "float32":
        return _product_one_thread_max_work(<float*>NULL, n, k, m, epilogue) + 1
    return _product_one_thread_max_work(<double*>NULL, n, k, m, epilogue) + 1


cdef enum Kernel:
    KERNEL_REGISTER_TILE = 0    # the MR×NR register tile
    KERNEL_TRANSPOSED_TILE = 1  # the MRT×NRT transposed tile, for a narrow B
    KERNEL_VECTOR_TILE = 2      # the MRV-row vector tile, for a narrow B <= two vectors

cdef enum VectorShape:
    VECTOR_HALF = 0     # half a vector a row (AVX-512 only)
    VECTOR_ONE = 1
    VECTOR_TWO = 2
    VECTOR_ONE_HALF = 3 # a vector and half of one a row (AVX-512 only)

cdef enum DxKernel:
    DX_PACKED = 0           # dy @ wᵀ, wᵀ packed once a call
    DX_FEW_ROWS = 1         # few_rows.h's kernel, w read where it lies
    DX_SWAPPED = 2          # dxᵀ = w @ dyᵀ, w read where it lies, dyᵀ packed
    DX_OUTER = 3            # m = 1: the outer product dy wᵀ, a row of dx at a time

cdef enum DwKernel:
    DW_COLUMN_SUMS = 0      # the column-sum kernel, with db (dy at most two vectors wide)
    DW_GEMM = 1             # the matmul, on the packed dy
    DW_LOOPS = 2            # plain loops (small k·m)

cdef extern from "_kernels/vector_tile.h":
    int _column_kernel_applies_f32 "fastsig_column_kernel_F32_applies"(
        Py_ssize_t k, Py_ssize_t m) noexcept nogil
    int _column_kernel_applies_f64 "fastsig_column_kernel_F64_applies"(
        Py_ssize_t k, Py_ssize_t m) noexcept nogil


cdef inline Py_ssize_t _depth_block(floating* dtype) noexcept nogil:
    """KC: the depth of a packed block. A B panel of KC × NR values is read from L2 for
    each tile, and must stay well inside L1 beside its A panel."""
    return KC_F32 if floating is float else KC_F64


cdef inline int _vector_shape(floating* dtype, Py_ssize_t m) noexcept nogil:
    """The vector tile's shape for a B of m columns: the narrowest that holds m."""
    cdef Py_ssize_t lanes = LANES_F32 if floating is float else LANES_F64
    if HALF_TILE and 2 * m <= lanes:
        return VECTOR_HALF
    if m <= lanes:
        return VECTOR_ONE
    return VECTOR_ONE_HALF if HALF_TILE and 2 * m <= 3 * lanes else VECTOR_TWO


cdef inline Py_ssize_t _vector_tile_rows(floating* dtype, Py_ssize_t m) noexcept nogil:
    """MRV: rows of the vector tile for a B of m columns."""
    cdef Py_ssize_t half = MRVH_F32 if floating is float else MRVH_F64
    cdef Py_ssize_t one = MRV1_F32 if floating is float else MRV1_F64
    cdef Py_ssize_t two = MRV2_F32 if floating is float else MRV2_F64
    cdef Py_ssize_t one_half = MRV1H_F32 if floating is float else MRV1H_F64
    cdef int shape = _vector_shape(dtype, m)
    if shape == VECTOR_ONE_HALF:
        return one_half
    return half if shape == VECTOR_HALF else (one if shape == VECTOR_ONE else two)


cdef inline Py_ssize_t _vector_tile_width(floating* dtype, Py_ssize_t m) noexcept nogil:
    """NRV: columns of the vector tile (and of B's one packed panel)."""
    cdef Py_ssize_t lanes = LANES_F32 if floating is float else LANES_F64
    cdef int shape = _vector_shape(dtype, m)
    if shape == VECTOR_ONE_HALF:
        return lanes + lanes // 2
    return lanes // 2 if shape == VECTOR_HALF else (lanes if shape == VECTOR_ONE else 2 * lanes)


cdef inline int _kernel_for(floating* dtype, Py_ssize_t m,
                            bint a_transposed=False) noexcept nogil:
    """The kernel for a B of m columns (`a_transposed`: A is read through a column stride
    other than 1, as xᵀ in the backward's dw).

    B is narrow where at most half the register tile's columns would be C's, or, for an A
    whose rows are contiguous, where the vector tile holds all of B in fewer padded columns
    than the register tile's panels (float32 m = 13..16 on AVX2: 16 columns against 24;
    m = 17..24 on AVX-512, a vector and a half: 24 against 32; the vector tile reads A
    where it lies, which a transposed A makes a stride through memory): the vector tile
    takes it if C fills a quarter of the tile's lanes or more
    (below that, at m = 3 in float32 on AVX-512, the transposed tile pads less), or if C is
    one column of a row-major A (its row and column kernels store such a C as whole
    vectors, where the transposed tile fills one lane of NRT); else the transposed tile."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef Py_ssize_t lanes = LANES_F32 if floating is float else LANES_F64
    cdef bint vector_pads_less = (VECTOR_TILE and not a_transposed and m <= 2 * lanes
                                  and _vector_tile_width(dtype, m) < (m + nr - 1) // nr * nr)
    if 2 * m > nr and not vector_pads_less:
        return KERNEL_REGISTER_TILE
    if VECTOR_TILE and (4 * m >= _vector_tile_width(dtype, m)
                        or (m == 1 and not a_transposed)):
        return KERNEL_VECTOR_TILE
    return KERNEL_TRANSPOSED_TILE


cdef inline Py_ssize_t _panel_width(floating* dtype, Py_ssize_t m,
                                    bint a_transposed=False) noexcept nogil:
    """Columns of a packed panel of B (m columns) for the kernel _kernel_for chooses."""
    cdef int kernel = _kernel_for(dtype, m, a_transposed)
    if kernel == KERNEL_VECTOR_TILE:
        return _vector_tile_width(dtype, m)
    if kernel == KERNEL_TRANSPOSED_TILE:
        return NRT_F32 if floating is float else NRT_F64
    return NR_F32 if floating is float else NR_F64


cdef inline Py_ssize_t _task_rows(floating* dtype, Py_ssize_t m,
                                  bint a_transposed=False) noexcept nogil:
    """Rows of C in one task, for a B of m columns (the register tile's tasks may be
    fewer rows: _row_task_count)."""
    cdef int kernel = _kernel_for(dtype, m, a_transposed)
    if kernel == KERNEL_VECTOR_TILE:
        return _vector_tile_rows(dtype, m) * VECTOR_PANELS
    if kernel == KERNEL_TRANSPOSED_TILE:
        return (MRT_F32 if floating is float else MRT_F64) * TRANSPOSED_PANELS
    return _mc_f32 if floating is float else _mc_f64


cdef inline Py_ssize_t _row_grain(floating* dtype, Py_ssize_t m) noexcept nogil:
    """The rows of C that gemm() shares out whole: a panel of the kernel's tile (MR, MRV
    or MRT rows), so that a ragged panel is only ever C's last."""
    cdef int kernel = _kernel_for(dtype, m)
    if kernel == KERNEL_VECTOR_TILE:
        return _vector_tile_rows(dtype, m)
    if kernel == KERNEL_TRANSPOSED_TILE:
        return MRT_F32 if floating is float else MRT_F64
    return MR_F32 if floating is float else MR_F64


cdef inline Py_ssize_t _row_task_count(floating* dtype, Py_ssize_t n, Py_ssize_t m,
                                       int num_threads) noexcept nogil:
    """Tasks the rows of C are cut into by gemm(): each at most _task_rows() rows, and a
    multiple of the threads, so that each thread gets as even a share of the tile's
    panels as whole panels allow (_task_start), not a whole task more than another. No
    result depends on it: rows only change threads."""
    cdef Py_ssize_t grain = _row_grain(dtype, m)
    cdef Py_ssize_t grains = (n + grain - 1) // grain
    cdef Py_ssize_t panels = _task_rows(dtype, m) // grain
    cdef Py_ssize_t tasks = (grains + panels - 1) // panels
    return (tasks + num_threads - 1) // num_threads * num_threads


cdef inline Py_ssize_t _task_start(Py_ssize_t task, Py_ssize_t tasks, Py_ssize_t grain,
                                   Py_ssize_t n) noexcept nogil:
    """The first row of task `task` of `tasks` over n rows in runs of `grain`: the runs
    are dealt out in order, each task getting ⌊runs/tasks⌋ or one more."""
    cdef Py_ssize_t runs = (n + grain - 1) // grain
    return min(n, task * runs // tasks * grain)


cdef inline Py_ssize_t _register_block_width(floating* dtype) noexcept nogil:
    """NC: the columns of a block of the register tile, a multiple of NR."""
    return _nc_f32 if floating is float else _nc_f64


cdef inline Py_ssize_t _few_rows_block_width(floating* dtype, Py_ssize_t rows) noexcept nogil:
    """The columns the few-rows kernel sums at once for `rows` rows: as many as keep the
    sums within FEW_ROWS_ACC_BYTES (half of L1), in whole cache lines. Each row of B is
    read in runs of that many columns: wider runs are fewer streams for the prefetcher
    to start (docs/performance.md, "The few-rows kernel's column runs")."""
    cdef Py_ssize_t per_line = ALIGN // sizeof(floating)
    return max(per_line, FEW_ROWS_ACC_BYTES // (rows * <Py_ssize_t>sizeof(floating))
               // per_line * per_line)


cdef inline Py_ssize_t _few_rows_columns(floating* dtype, Py_ssize_t rows,
                                         Py_ssize_t cols) noexcept nogil:
    """The columns of B (of a task's `cols`) that the few-rows kernel takes through every
    depth block and every pass of FEW_ROWS_ONE_PASS of its `rows` rows before the next:
    - a pass of at most FEW_ROWS_MAX rows keeps its sums in `acc`: at most
      _few_rows_block_width of them;
    - one pass of the eight-row tile (5-8 rows, its sums in registers): all of them,
      each block of B read once;
    - several passes, where the variant has the tile: as many as keep a depth block of
      B (KC × the columns) within half of L2, so that the passes after the first read it
      from there; fewer where the last pass is of at most FEW_ROWS_MAX rows; in whole
      strips of the tile (only B's edge is a partial one)."""
    cdef Py_ssize_t strip = EIGHT_ROWS_STRIP_BYTES // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t last = rows % FEW_ROWS_ONE_PASS
    cdef Py_ssize_t nc
    if rows <= FEW_ROWS_MAX or FEW_ROWS_ONE_PASS <= FEW_ROWS_MAX:
        return _few_rows_block_width(dtype, min(rows, <Py_ssize_t>FEW_ROWS_MAX))
    if rows <= FEW_ROWS_ONE_PASS:
        return max(<Py_ssize_t>1, cols)
    nc = _l2_bytes // 2 // (_depth_block(dtype) * <Py_ssize_t>sizeof(floating))
    if 0 < last <= FEW_ROWS_MAX:
        nc = min(nc, _few_rows_block_width(dtype, FEW_ROWS_MAX))
    return max(strip, nc // strip * strip)


cdef inline Py_ssize_t _depth_chunks(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                     Py_ssize_t m) noexcept nogil:
    """Chunks of depth that a product of few tasks and great depth is split into (1:
    none), from the shapes alone, so that the bits do not depend on the threads. As xᵀ @
    y is (16×262144 @ 262144×16): the rows of C give one task, which one thread did.
    The register tile's tasks are counted with SPLIT_NC and SPLIT_MC_PANELS, not the
    blocking in force, so that the split, and so the bits, do not depend on the CPU."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef bint register = _kernel_for(dtype, m) == KERNEL_REGISTER_TILE
    cdef Py_ssize_t nc = nr * ((SPLIT_NC + nr - 1) // nr) if register else m
    cdef Py_ssize_t mc = ((MR_F32 if floating is float else MR_F64) * SPLIT_MC_PANELS
                          if register else _task_rows(dtype, m))
    cdef Py_ssize_t tasks = ((n + mc - 1) // mc) * ((m + nc - 1) // nc)
    if tasks >= SPLIT_TASKS or k < 2 * SPLIT_DEPTH:
        return 1
    return max(<Py_ssize_t>1, min(<Py_ssize_t>SPLIT_CHUNKS, k // SPLIT_DEPTH,
                                  SPLIT_ELEMENTS // (n * m)))


cdef inline Py_ssize_t _split_depth_chunk(floating* dtype, Py_ssize_t k,
                                          Py_ssize_t chunks) noexcept nogil:
    """The depth of each chunk of a depth split into `chunks`: whole depth blocks."""
    cdef Py_ssize_t depth = _depth_block(dtype)
    return ((k + chunks - 1) // chunks + depth - 1) // depth * depth


cdef inline bint _reads_a_in_place(floating* dtype, Py_ssize_t a_rs, Py_ssize_t a_cs,
                                   Py_ssize_t width) noexcept nogil:
    """Whether the register tile reads a row-major A (a_cs == 1) where it lies, for a task
    `width` columns of C wide, rather than packing it: where the variant's tile keeps its
    registers so (A_IN_PLACE), unless A's rows are a multiple of 4 KB apart and C is wider
    than two column panels (rows 4 KB apart all fall into one L1 set, which packing
    avoids). A ragged last row panel is packed all the same."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef bint in_place_ok = A_IN_PLACE_F32 if floating is float else A_IN_PLACE_F64
    return in_place_ok and a_cs == 1 and (
        width <= 2 * nr or (a_rs * <Py_ssize_t>sizeof(floating)) % 4096 != 0)


cdef inline bint _takes_row_kernel(floating* dtype, Py_ssize_t k, Py_ssize_t m,
                                   bint accumulate) noexcept nogil:
    """Whether the vector tile's task runs its row kernel (depth <= ROW_KERNEL_DEPTH, a
    vector or less wide, not adding into C) rather than the tile."""
    cdef int shape = _vector_shape(dtype, m)
    return (k <= ROW_KERNEL_DEPTH and (shape == VECTOR_HALF or shape == VECTOR_ONE)
            and not accumulate)


cdef inline bint _takes_column_kernel(floating* dtype, Py_ssize_t k, Py_ssize_t a_rs,
                                      Py_ssize_t a_cs, Py_ssize_t ldc,
                                      Py_ssize_t cols) noexcept nogil:
    """Whether the row kernel's rows go to the column kernel first (vector_tile.h): A and
    C row-major with whole rows, and a (k, cols) layer the kernel takes."""
    if not (a_cs == 1 and a_rs == k and ldc == cols and cols <= 4):
        return False
    if floating is float:
        return _column_kernel_applies_f32(k, cols) != 0
    else:
        return _column_kernel_applies_f64(k, cols) != 0


cdef inline bint _b_streams(floating* dtype, Py_ssize_t k, Py_ssize_t m,
                            int num_threads) noexcept nogil:
    """Whether each thread's share of B (all k rows, its part of the m columns) is more
    than three quarters of one core's L2: it then comes from the last level or memory at
    every call (a quarter left to A, C and the rest)."""
    cdef Py_ssize_t threads = max(num_threads, 1)
    cdef Py_ssize_t share = (m + threads - 1) // threads
    return k * share * <Py_ssize_t>sizeof(floating) > _l2_bytes // 4 * 3


cdef inline bint _b_rows_crowd_l2_sets(floating* dtype, Py_ssize_t m) noexcept nogil:
    """Whether KC rows of a row-major B, m values apart, fall into so few of L2's sets
    that more than L2_WAYS_MIN of them share one: rows a multiple of a large power of two
    apart (2048 values, 8 KB float32 or 16 KB float64). A block of such a B read where it
    lies does not stay in L2 between passes over it."""
    cdef Py_ssize_t row = m * <Py_ssize_t>sizeof(floating)
    return (min(row & -row, <Py_ssize_t>L2_WAY_BYTES) * _depth_block(dtype)
            > L2_WAYS_MIN * <Py_ssize_t>L2_WAY_BYTES)


cdef inline Py_ssize_t _few_rows_streamed(floating* dtype, Py_ssize_t m) noexcept nogil:
    """Rows up to which the few-rows kernel reads a B of FEW_ROWS_NARROW columns or more
    that streams from beyond L2 (_b_streams): FEW_ROWS where the variant has its
    eight-row tile, whose passes fetch B ahead (few_rows_fetch), the first from beyond L2,
    the later ones, over the same column block (_few_rows_columns), from L2
    (docs/performance.md, "5-8 rows of a w that streams"), unless B's rows crowd L2's
    sets (_b_rows_crowd_l2_sets); else FEW_ROWS_STREAM, passes of FEW_ROWS_MAX rows or of
    the tile. More rows pack B per column task (_packs_b_per_task)."""
    if FEW_ROWS_ONE_PASS > FEW_ROWS_MAX and not _b_rows_crowd_l2_sets(dtype, m):
        return FEW_ROWS
    return FEW_ROWS_STREAM


cdef inline bint _reads_b_in_place(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                   Py_ssize_t m, int num_threads) noexcept nogil:
    """Whether B (row-major) is read where it lies rather than packed (all of it, once a
    call), by the register tile or the few-rows kernel (_takes_few_rows): for few rows
    (n <= FEW_ROWS), where packing B costs about as much as the product, as BLIS's
    small-matrix ("sup") kernels and MKL's do. For more rows a panel read in place leaves
    L1 between row panels, and packing pays. A B of FEW_ROWS_NARROW columns or more that
    streams from beyond L2 (_b_streams) is read in place only by the few-rows kernel, up
    to _few_rows_streamed rows: the register tile's NR columns of each row of B, a
    stride through memory, are slower to bring than a task's block packed by rows
    (_packs_b_per_task). A is packed then (a few rows), and so is B's ragged last panel
    (its tile reads whole vectors)."""
    if _kernel_for(dtype, m) != KERNEL_REGISTER_TILE:
        return False
    if m >= FEW_ROWS_NARROW and _b_streams(dtype, k, m, num_threads):
        return n <= _few_rows_streamed(dtype, m)
    return n <= FEW_ROWS


cdef inline bint _few_rows_fetch(floating* dtype, Py_ssize_t k, Py_ssize_t m,
                                 int num_threads) noexcept nogil:
    """Whether the few-rows kernel's eight-row tile (where the variant has it) fetches
    each next strip of B's columns into L2 as it runs: where B streams from beyond L2
    (_b_streams). The tile reads a few lines of each row of B, rows a stride apart, which
    the hardware does not fetch ahead; from L2 the fetches cost more than they save
    (docs/performance.md, "5-8 rows of a w that streams")."""
    return FEW_ROWS_ONE_PASS > FEW_ROWS_MAX and _b_streams(dtype, k, m, num_threads)


cdef inline bint _takes_few_rows(floating* dtype, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                                 int num_threads) noexcept nogil:
    """Whether n rows that read B where it lies go to the few-rows kernel
    (FEW_ROWS_ONE_PASS rows of A a pass over B) rather than the register or vector tile:
    - up to FEW_ROWS_MAX rows always;
    - for a B of FEW_ROWS_NARROW columns or more that streams from beyond L2
      (_b_streams), up to _few_rows_streamed rows: the kernel reads B once from there
      (the eight-row tile fetching each next strip ahead, few_rows_fetch; else passes of
      FEW_ROWS_MAX rows a row of B at a time, a stream the hardware prefetches), its
      later passes over each block from cache, where the register tile would read NR
      columns of each row, a stride;
    - else up to FEW_ROWS_ONE_PASS where the kernel takes them in one pass (the eight-row
      tile reads B once for 5-8 rows, where the register tile's panels of MR rows read it
      twice or run padded rows, and the vector tile packs it), but for a whole number of
      the register tile's panels of a B of FEW_ROWS_NARROW columns or more;
    - and past that, up to twice FEW_ROWS_MAX rows: for a B of fewer than FEW_ROWS_NARROW
      columns (whose sums the kernel keeps in registers) where the tile would run more
      rows' multiply-adds (MR or MRV rows a panel, the last padded) than passes of
      FEW_ROWS_MAX rows (where they do the same rows' work, the tile: it keeps its sums
      in registers at any width); for a wider B where the tile's last panel would be of
      one or two rows: a tile that short has too few independent multiply-adds a step to
      keep the FMAs busy."""
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    if n <= FEW_ROWS_MAX:
        return True
    if m >= FEW_ROWS_NARROW and _b_streams(dtype, k, m, num_threads):
        return n <= _few_rows_streamed(dtype, m)
    if n <= FEW_ROWS_ONE_PASS:
        # But whole panels of the register tile read a wide B once too, with more sums a
        # row of B; below FEW_ROWS_NARROW columns the eight-row tile measured faster
        # (docs/performance.md, "5-8 rows in one pass").
        return n % mr != 0 or m < FEW_ROWS_NARROW
    if n > 2 * FEW_ROWS_MAX:
        return False
    if m >= FEW_ROWS_NARROW:
        return n % mr == 1 or n % mr == 2
    if _kernel_for(dtype, m) == KERNEL_VECTOR_TILE:
        mr = _vector_tile_rows(dtype, m)
    return (n + FEW_ROWS_MAX - 1) // FEW_ROWS_MAX * FEW_ROWS_MAX < (n + mr - 1) // mr * mr


cdef inline bint _packs_b_per_task(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                   Py_ssize_t m, int num_threads) noexcept nogil:
    """Whether gemm()'s tasks each pack their own column block of B, a depth block at a
    time, for all the rows, rather than the threads packing all of B first and then
    sharing it out by rows: for rows too many to read B where it lies
    (_reads_b_in_place) and at most BLOCK_TASK_ROWS; up to _block_task_rows_big_b where
    B has BIG_B elements or more, or where the threads share the rows (_block_row_tasks;
    where A is packed, at most twice a task's columns); and for any rows where the
    threads share the rows, A is read where it lies, its depth is one block and C's
    columns one block (A and C are then read once, whatever the rows).
    - A task's block of B is packed into its thread's L2 and read from there by every
      row panel; all of B packed first has left L2 (at a few MB, the last level too)
      before the tasks read it back, and each row task reads it again. That costs about
      1/n of the product, so it matters for few rows, and for more where B is large:
      then A's rows, read again for each column block of NC, cost less than B's blocks
      read again for each row task of MC rows (BLIS's loops: B a block at a time, for
      all the rows).
    - Its cost: a task is all the rows (or a thread's share of them), so its A (its rows
      × KC, packed or read where it lies) must fit in L2 beside the block of B, and A is
      packed or read once per column block; the columns shared out among the threads
      leave narrow layers unevenly split.
    - Where the threads share the rows, a task a thread, each packs its blocks of all of
      B into its own L2 within the product's one parallel region, instead of the threads
      packing B together first (a region more) and each then reading the other's part
      from the other core: a few µs a call, a quarter of a product of a few hundred
      rows."""
    cdef Py_ssize_t width, row_tasks
    cdef bint in_place
    if (_reads_b_in_place(dtype, n, k, m, num_threads) or k == 0
            or _kernel_for(dtype, m) != KERNEL_REGISTER_TILE):
        return False
    if n <= BLOCK_TASK_ROWS:
        return True
    row_tasks = _block_row_tasks(dtype, n, k, m, num_threads)
    width = _block_task_width(dtype, m, row_tasks, num_threads)
    in_place = _reads_a_in_place(dtype, k, 1, width)
    if (row_tasks > 1 and in_place and k <= _depth_block(dtype)
            and m <= _register_block_width(dtype)):
        return True
    if n > _block_task_rows_big_b(dtype) or (k * m < BIG_B and row_tasks == 1):
        return False
    # A packed (not read in place) is packed by every column task: where the tasks are
    # narrow, that costs more than B's blocks read again by row tasks would.
    return in_place or n <= 2 * width


cdef inline Py_ssize_t _largest_share(Py_ssize_t total, Py_ssize_t grain,
                                     Py_ssize_t parts) noexcept nogil:
    """The most of `total` that one of `parts` gets where runs of `grain` are dealt out
    as _task_start deals them."""
    cdef Py_ssize_t t, largest = 0
    for t in range(parts):
        largest = max(largest, _task_start(t + 1, parts, grain, total)
                      - _task_start(t, parts, grain, total))
    return largest


cdef inline Py_ssize_t _block_row_tasks(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                       Py_ssize_t m, int num_threads) noexcept nogil:
    """The row tasks of a product whose tasks each pack their block of B: one (the
    threads share the columns: each reads all of A), or one a thread (each packs all of
    B):
    - where A's rows are at least B's columns, more than a few dozen, and the columns
      fewer than an NC block a thread;
    - for at most BLOCK_TASK_ROWS rows, a whole row panel a thread or more, of a B within
      1/B_PER_THREAD_L2_PART of L2 and at most ROWS_A_THREAD_DEPTH deep, where a thread's
      rows are as even a share of C as its columns would be (MR-row panels against
      column tasks of _block_task_width columns), or whatever the shares up to
      STORE_BOUND_DEPTH. Threads that share the columns write parts of the same rows of
      C, and where C's stores weigh (few multiply-adds a result) the lines they share and
      the lines the hardware fetches ahead across into the other thread's part can cost
      more than the product; deeper, each thread's copy of all of B and uneven row panels
      cost more than that (docs/performance.md, "A thread's rows for a few rows of a
      small W")."""
    cdef Py_ssize_t mr = MR_F32 if floating is float else MR_F64
    cdef Py_ssize_t width
    if num_threads <= 1:
        return 1
    if (n > BLOCK_TASK_ROWS and n >= m
            and m < num_threads * _register_block_width(dtype)):
        return num_threads
    if (n > BLOCK_TASK_ROWS or n < num_threads * mr or k > ROWS_A_THREAD_DEPTH
            or k * m * <Py_ssize_t>sizeof(floating) > _l2_bytes // B_PER_THREAD_L2_PART):
        return 1
    if k <= STORE_BOUND_DEPTH:
        return num_threads
    # The column tasks: _block_task_width's columns each, dealt out as rows are (where
    # they outnumber the threads the static schedule gives the earlier threads the extra
    # task: the estimate decides a split, never a bound).
    width = _block_task_width(dtype, m, 1, num_threads)
    if (_largest_share(n, mr, num_threads) * m
            <= n * _largest_share(m, width, num_threads)):
        return num_threads
    return 1


cdef inline Py_ssize_t _block_task_width(floating* dtype, Py_ssize_t m, Py_ssize_t row_tasks,
                                        int num_threads) noexcept nogil:
    """The columns of a task that packs its block of B (_packs_b_per_task), in whole
    panels, at most NC: all of B's where the threads share the rows (row_tasks > 1), else
    a thread's share of them."""
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    cdef Py_ssize_t columns = m if row_tasks > 1 else (m + num_threads - 1) // num_threads
    return min(_register_block_width(dtype), (columns + nr - 1) // nr * nr)


cdef inline Py_ssize_t _block_task_rows_big_b(floating* dtype) noexcept nogil:
    """The most rows whose tasks each pack their block of a B of BIG_B elements or more:
    as many as fill half of L2 with A's rows a depth block deep (n × KC, packed or read
    where they lie), beside the task's block of B: 256 on a 512 KB L2, 1024 on a 2 MB one
    (docs/performance.md, "Each task packs its block of a large W")."""
    return _l2_bytes // 2 // (_depth_block(dtype) * <Py_ssize_t>sizeof(floating))


cdef struct ProductPlan:
    int kernel              # Kernel
    bint b_in_place         # B is read where it lies (_reads_b_in_place)
    bint b_per_task         # each task packs its column block of B (_packs_b_per_task)
    bint few_rows           # and by the few-rows kernel (FEW_ROWS_ONE_PASS rows a pass), not
                            # the register tile
    bint few_rows_fetch     # its eight-row tile fetches B's next strip ahead: B streams
                            # from beyond L2 (_b_streams)
    bint dots               # a C of one to four columns, dot products (_takes_dots)
    bint dots_one_row       # and one row of x a step (_dots_one_row)
    bint b_as_packed        # B one whole panel wide: a row-major B is its own packed form
    bint b_per_thread       # each thread packs all of B itself (_packs_b_per_thread)
    Py_ssize_t panel_width  # NR, NRT or NRV: columns of a packed panel of B
    Py_ssize_t row_grain    # rows shared out whole (_row_grain)
    Py_ssize_t row_tasks    # tasks along the rows of C
    Py_ssize_t block_width  # columns of C in a task (m: whole rows)
    Py_ssize_t tasks        # row_tasks × column blocks
    Py_ssize_t depth_chunks # > 1: the depth is split (_depth_chunks), tasks unused
    Py_ssize_t chunk_depth  # the depth of each chunk
    Py_ssize_t slab_depth   # B packed in slabs of slab_depth × slab_width (_plan_slabs);
    Py_ssize_t slab_width   # k × m: all of B at once
    int threads             # threads that get work


cdef inline ProductPlan _plan_product(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                      Py_ssize_t m, int num_threads) noexcept nogil:
    """How gemm() computes C (n×m) = A (n×k) @ B (k×m, row-major) on num_threads threads.

    Tasks are whole rows where there are rows enough to share out (then a task packs its
    block of A once, for every column block); else rows × NC columns, so that few rows
    still give every thread work when C is wide; where B is read in place (few rows), all
    the rows × NC columns."""
    cdef ProductPlan plan
    cdef Py_ssize_t nr = NR_F32 if floating is float else NR_F64
    plan.kernel = _kernel_for(dtype, m)
    plan.b_in_place = _reads_b_in_place(dtype, n, k, m, num_threads)
    plan.b_per_task = _packs_b_per_task(dtype, n, k, m, num_threads)
    plan.panel_width = _panel_width(dtype, m)
    plan.row_grain = _row_grain(dtype, m)
    plan.row_tasks = (1 if plan.b_in_place
                      else _block_row_tasks(dtype, n, k, m, num_threads) if plan.b_per_task
                      else _row_task_count(dtype, n, m, num_threads))
    plan.block_width = (m if plan.kernel != KERNEL_REGISTER_TILE
                        or plan.row_tasks >= 4 * num_threads
                        else _register_block_width(dtype))
    if plan.b_per_task:
        plan.block_width = _block_task_width(dtype, m, plan.row_tasks, num_threads)
    elif plan.b_in_place:
        # Column blocks, as many as the threads where NC would give fewer; for the
        # few-rows kernel one per thread (it walks its own, _few_rows_block_width).
        plan.block_width = ((m + num_threads - 1) // num_threads + nr - 1) // nr * nr
        if not _takes_few_rows(dtype, n, k, m, num_threads):
            plan.block_width = min(plan.block_width, _register_block_width(dtype))
    plan.tasks = plan.row_tasks * ((m + plan.block_width - 1) // plan.block_width
                                   if m > 0 else 0)
    plan.threads = <int>max(<Py_ssize_t>1, min(<Py_ssize_t>num_threads, plan.tasks))
    plan.depth_chunks = 1
    plan.chunk_depth = k
    if n > 0 and m > 0:
        plan.depth_chunks = _depth_chunks(dtype, n, k, m)
    if plan.depth_chunks > 1:
        plan.b_in_place = False
        plan.b_per_task = False
        plan.chunk_depth = _split_depth_chunk(dtype, k, plan.depth_chunks)
        plan.depth_chunks = (k + plan.chunk_depth - 1) // plan.chunk_depth
        plan.threads = <int>max(<Py_ssize_t>1, min(<Py_ssize_t>num_threads, plan.depth_chunks))
    plan.few_rows = plan.b_in_place and _takes_few_rows(dtype, n, k, m, num_threads)
    plan.few_rows_fetch = _few_rows_fetch(dtype, k, m, num_threads)
    if (_takes_few_rows(dtype, n, k, m, num_threads) and k > ROW_KERNEL_DEPTH
            and plan.kernel == KERNEL_VECTOR_TILE and plan.depth_chunks == 1):
        # A few rows of a narrow layer: the few-rows kernel, W where it lies, one task.
        # The vector tile would pack all of W and run MRV rows' multiply-adds for each
        # row (docs/performance.md, "Few rows of a narrow layer"); both sum each output
        # in increasing p within depth blocks of KC and add the blocks in order: the
        # same bits. gemm() packs W for the vector tile after all where A is not row-major.
        plan.b_in_place = plan.few_rows = True
        plan.row_tasks = plan.tasks = plan.threads = 1
        plan.block_width = m
        plan.few_rows_fetch = _few_rows_fetch(dtype, k, m, 1)
    plan.dots = _takes_dots(dtype, k, m)
    plan.dots_one_row = plan.dots and COLUMN_DOTS and _dots_one_row(dtype, n, k)
    if plan.dots:
        plan.b_in_place = plan.b_per_task = plan.few_rows = False
        plan.depth_chunks = 1
        plan.chunk_depth = k
        plan.tasks = (n + DOTS_ROWS - 1) // DOTS_ROWS
        plan.threads = <int>max(<Py_ssize_t>1, min(<Py_ssize_t>num_threads, plan.tasks))
    _plan_slabs(dtype, k, m, &plan)
    # A row-major B of exactly one panel's width has the packed layout already (_b_panel's,
    # with one panel: row p at p * NR), so gemm() reads it where it lies rather than copy it.
    plan.b_as_packed = (k > 0 and m == plan.panel_width and not plan.b_in_place
                        and not plan.dots and plan.depth_chunks == 1 and plan.slab_depth >= k)
    plan.b_per_thread = _packs_b_per_thread(dtype, k, m, &plan)
    return plan


cdef inline bint _packs_b_per_thread(floating* dtype, Py_ssize_t k, Py_ssize_t m,
                                     const ProductPlan* plan) noexcept nogil:
    """Whether each thread packs all of B into its own scratch at the start of the tasks'
    parallel region, rather than the threads packing their shares of B's panels in a
    region of their own first and each then reading the other threads' panels from their
    cores: where the threads would share all of B packed at once and it takes at most
    1/B_PER_THREAD_L2_PART of L2 (beside a task's A and C). A region fewer and no panel
    from another core cost a few µs a call (docs/performance.md, "One parallel region a
    product"); the copy costs little at that size. Each thread runs a contiguous run of
    the tasks; which thread runs a task changes none of its sums."""
    cdef Py_ssize_t nr = plan.panel_width
    return (plan.threads > 1 and k > 0 and not plan.b_in_place and not plan.b_per_task
            and not plan.b_as_packed and not plan.dots and plan.depth_chunks == 1
            and plan.slab_depth >= k and plan.slab_width >= m
            and (m + nr - 1) // nr * nr * k * <Py_ssize_t>sizeof(floating)
            <= _l2_bytes // B_PER_THREAD_L2_PART)


cdef inline bint _takes_dots(floating* dtype, Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """Whether C of one column (a logistic regression's layer), or in the avx2 and avx512
    variants of up to DOTS_MAX_COLUMNS (a few logits), is one dot product a row of A and
    column of B (column_dots.h: each row read once, along k, its sums in vector lanes),
    rather than the vector tile, which would fill m lanes of each vector
    (docs/performance.md, "One column: vectors along each row", "A few columns: dot
    products along each row"). Its sums are not
    in the tiles' order, so such a column's bits are those of that column alone, not of
    the same column of a wider B; they depend only on the row, the column and the variant.
    A variant without that kernel (COLUMN_DOTS 0: the baseline) runs few_rows.h's
    transposed kernel for one column, in the tiles' order, and the tiles for more. Depths
    up to ROW_KERNEL_DEPTH keep the row and column kernels, which store whole vectors of
    rows; for more than one column, depths below a step of the lanes (16, 8) keep the
    vector tile, and a B over B_SLAB_BYTES the tiles, which pack it a slab at a time."""
    cdef Py_ssize_t widest = (DOTS_MAX_COLUMNS_F32 if floating is float
                              else DOTS_MAX_COLUMNS_F64)
    cdef Py_ssize_t lanes = DOTS_LANES_F32 if floating is float else DOTS_LANES_F64
    if k <= ROW_KERNEL_DEPTH:
        return False
    # (More than one column: gemm() copies B's columns, within B_SLAB_BYTES, as it packs.)
    return m == 1 or (COLUMN_DOTS and m <= min(widest, <Py_ssize_t>COLUMN_DOTS_MAX_COLUMNS)
                      and k >= lanes
                      and m * k * <Py_ssize_t>sizeof(floating) <= B_SLAB_BYTES)


cdef inline bint _dots_one_row(floating* dtype, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """Whether the dots kernel reads x one row a step (column_dots.h's one_row) rather
    than several rows a step that share each step's vectors of w: where x is larger than
    DOTS_ONE_ROW_BYTES, so that it comes from memory rather than from a cache. One row a
    step is one sequential stream, which the hardware prefetchers follow at the memory's
    speed; several rows a step are as many streams k elements apart, which they follow at
    a fraction of it, and which pay while x is in a cache, an x of up to about 10 MB
    included, which a call after a call finds in L3 (docs/performance.md, "An x from
    memory: one row a step"). The same sums either way: which rows share a step changes
    none."""
    return n * k * <Py_ssize_t>sizeof(floating) > DOTS_ONE_ROW_BYTES


cdef inline void _plan_slabs(floating* dtype, Py_ssize_t k, Py_ssize_t m,
                             ProductPlan* plan) noexcept nogil:
    """The slabs B is packed in, so that the scratch has a ceiling whatever the shapes
    (BLIS packs B a KC × NC block at a time for the same reason). Where the register tile
    would pack more than B_SLAB_BYTES of B, gemm() packs one slab at a time, SLAB_DEPTH_BLOCKS
    depth blocks deep and as many NC-column blocks wide as fit, shared by the threads, and
    runs every row task over it before the next; a slab's depth starts at a multiple of KC,
    so each element's sums are those of the whole product (the same bits)."""
    cdef Py_ssize_t nr = plan.panel_width
    cdef Py_ssize_t nc = _register_block_width(dtype)
    cdef Py_ssize_t limit = B_SLAB_BYTES // <Py_ssize_t>sizeof(floating)
    plan.slab_depth = k
    plan.slab_width = m
    if (plan.kernel != KERNEL_REGISTER_TILE or plan.b_in_place or plan.b_per_task
            or plan.depth_chunks > 1 or (m + nr - 1) // nr * nr * k <= limit):
        return
    plan.slab_depth = min(k, SLAB_DEPTH_BLOCKS * _depth_block(dtype))
    plan.slab_width = min(m, max(nc, limit // plan.slab_depth // nc * nc))


cdef inline bint _db_by_column_sums(floating* dtype, Py_ssize_t m) noexcept nogil:
    """Whether the column-sum kernel (column_sums.h) takes db: dy two vectors wide at most."""
    cdef Py_ssize_t lanes = LANES_F32 if floating is float else LANES_F64
    return VECTOR_TILE and m <= 2 * lanes


cdef inline int _dw_kernel(floating* dtype, Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """What takes dw = xᵀ @ dy: for one column of dy (a logistic regression's layer) of
    depth DW_LOOPS_ONE_COLUMN_DEPTH or more, the plain loops, which run along x's rows (dw
    += x[i] · dy[i], a running sum a row at a time: the column-sum kernel's bits, where it
    took them; the matmul's tile filled one lane in eight with dy and read xᵀ through
    strides: docs/performance.md, "One column's dw along x's rows");
    else the column-sum kernel where it takes db and a row of x is at most
    COLUMN_SUMS_ROW_BYTES (a quarter of that when dy is two vectors wide), unless dy fills
    few lanes for a long row of x (k > 64 m: the plain loops run along x's rows); else the
    matmul when k·m is large; else plain loops.

    The column-sum kernel reads x a chunk of rows at a time, COLUMN_GROUP / nv columns a
    pass, so a long row of x makes every pass a stride through memory."""
    cdef Py_ssize_t lanes = LANES_F32 if floating is float else LANES_F64
    cdef Py_ssize_t row_bytes = k * <Py_ssize_t>sizeof(floating) * (1 if m <= lanes else 4)
    if m == 1 and k >= DW_LOOPS_ONE_COLUMN_DEPTH:
        return DW_LOOPS
    if _db_by_column_sums(dtype, m) and k <= 64 * m and row_bytes <= COLUMN_SUMS_ROW_BYTES:
        return DW_COLUMN_SUMS
    return DW_GEMM if k * m >= 256 else DW_LOOPS


cdef inline bint _dw_stores_first_block(floating* dtype, int dw_kernel,
                                        Py_ssize_t m) noexcept nogil:
    """Whether dw's product stores its first block rather than adding it to a zeroed dw
    (which costs a pass over dw, most of the time of a one-row backward of a wide layer):
    where it runs the register tile, whose sums start at +0 and so are never -0, 0 + sum
    is sum, bit for bit. (The narrow tiles' row kernels start from the first product.)"""
    return dw_kernel == DW_GEMM and _kernel_for(dtype, m, True) == KERNEL_REGISTER_TILE


cdef inline bint _dw_by_outer_product(bint block_stores, Py_ssize_t rows) noexcept nogil:
    """Whether a block's dw is few_rows.h's outer product (_dw_few_rows: a row of dw at a
    time, dy not packed) rather than the matmul: a block that stores its dw
    (_dw_stores_first_block, and it is the first) of at most FEW_ROWS_MAX rows. The outer
    product's sums start at +0 and run in the tile's order: the same bits."""
    return block_stores and rows <= FEW_ROWS_MAX


cdef inline bint _dw_by_rows(floating* dtype, int dw_kernel, Py_ssize_t m) noexcept nogil:
    """Whether dw's matmul (DW_GEMM) over a dy of two to DW_ROWS_MAX_COLUMNS columns runs
    as dw_rows.h's kernel: vectors along x's rows, every lane work, where the narrow tile
    it replaces fills m of a vector's lanes and reads xᵀ through strides. Its sums run in
    the matmul's order (depth blocks of KC from +0, each added to dw), so the same bits.
    Where the variant has it (DW_BY_ROWS: AVX2 and FMA). Not for one column: a pass then
    reads one line of each row, and rows a multiple of a few KB apart share L1's sets, so
    the transposed tile stays faster there (docs/performance.md, "dw of a few outputs
    along x's rows")."""
    return (DW_BY_ROWS and dw_kernel == DW_GEMM and 2 <= m <= DW_ROWS_MAX_COLUMNS
            and _kernel_for(dtype, m, True) != KERNEL_REGISTER_TILE)


cdef inline bint _x_from_memory(floating* dtype, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """Whether an x (n×k) is taken to come from memory rather than from a cache: larger
    than X_FROM_MEMORY_BYTES (the backward's fetches: _dw_rows_fetch, _column_sums_fetch)."""
    return n * k * <Py_ssize_t>sizeof(floating) > X_FROM_MEMORY_BYTES


cdef inline bint _dw_rows_fetch(floating* dtype, Py_ssize_t n, Py_ssize_t k, int dw_kernel,
                                Py_ssize_t m) noexcept nogil:
    """Whether dw_rows.h's kernel (_dw_by_rows) fetches each next depth block of x into
    L2 as it works on one (its `fetch`): where x is larger than X_FROM_MEMORY_BYTES (from
    memory, not from a cache) and two depth blocks of x's rows (KC × k) fit in one core's
    L2. Its strips read one line of each row, rows k apart, a stride the prefetchers follow
    at a fraction of the memory's speed (docs/performance.md, "An x from memory: dw's next
    block fetched"). A fetch changes no sum."""
    return (_dw_by_rows(dtype, dw_kernel, m) and _x_from_memory(dtype, n, k)
            and 2 * _depth_block(dtype) * k * <Py_ssize_t>sizeof(floating) <= _l2_bytes)


cdef inline bint _dw_gemm_fetch(floating* dtype, Py_ssize_t n, Py_ssize_t k, int dw_kernel,
                                Py_ssize_t m) noexcept nogil:
    """Whether the vector or the register tile, where it takes dw as the matmul xᵀ @ dy
    (DW_GEMM, not _dw_by_rows), fetches into L2 its rows of each next depth block of x as
    it works on one (gemm.pxi's fetch_after): where x is larger than DW_GEMM_FETCH_BYTES.
    The vector tile reads xᵀ where it lies, and the register tile's packing copies it, a
    panel's few values of each row at a time, rows k apart: a stride the prefetchers
    follow at a fraction of the memory's speed. An x of 8-11 MB is still in L3 after the
    call before, where the fetch costs more than it gains (docs/performance.md, "An x
    from memory: the tiles' next depth block fetched"). Only the C tiles fetch (a build
    without vector extensions has none). A fetch changes no sum."""
    return (VECTOR_TILE and dw_kernel == DW_GEMM and not _dw_by_rows(dtype, dw_kernel, m)
            and _kernel_for(dtype, m, True) != KERNEL_TRANSPOSED_TILE
            and n * k * <Py_ssize_t>sizeof(floating) > DW_GEMM_FETCH_BYTES)


cdef inline bint _column_sums_fetch(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                   int dw_kernel) noexcept nogil:
    """Whether the column-sum kernel, where it takes dw (DW_COLUMN_SUMS), fetches each
    next chunk of x's rows into L2 as it works on one (column_sums.h's `fetch`): where x
    is larger than X_FROM_MEMORY_BYTES (from memory, not from a cache). Its first group
    of a chunk reads a few values of each row, rows k apart, a stride the prefetchers
    follow at a fraction of the memory's speed (docs/performance.md, "An x from memory:
    the column sums' next chunk fetched"). A fetch changes no sum."""
    return dw_kernel == DW_COLUMN_SUMS and k > 0 and _x_from_memory(dtype, n, k)


cdef inline Py_ssize_t _dy_block_rows(Py_ssize_t m) noexcept nogil:
    """Rows of a block of dy at most: about DY_BLOCK_ELEMS elements, 64 to 4096 rows."""
    return max(<Py_ssize_t>64, min(<Py_ssize_t>4096, DY_BLOCK_ELEMS // max(m, <Py_ssize_t>1)))


cdef inline Py_ssize_t _batch_block_rows(Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    """Rows of a block of dy for a batch of n rows: _dy_block_rows(m), or fewer (a
    multiple of 16, at least 64) so that the batch makes MIN_BLOCKS blocks. A block is
    the least a thread gets: 4099 rows of a 16-wide layer in blocks of 4096 made parts of
    4096 rows and 3."""
    return max(<Py_ssize_t>64, min(_dy_block_rows(m),
                                   ((n + MIN_BLOCKS - 1) // MIN_BLOCKS + 15) // 16 * 16))


cdef struct BackwardPlan:
    int dw_kernel           # DwKernel
    bint db_by_column_sums
    Py_ssize_t block_rows   # rows of a block of dy
    Py_ssize_t part_rows    # rows of a part (a whole number of blocks)
    Py_ssize_t parts        # parts, each with its partial dw and db: fixed by n and m
    int dx_kernel           # DxKernel (_dx_kernel)
    bint shared_block       # one part, whose every step the threads share
                            # (_backward_shared_block), rather than parts a thread each
    int threads


cdef inline BackwardPlan _plan_backward(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                                        Py_ssize_t m, int num_threads) noexcept nogil:
    """How the layer's backward cuts n rows (n, m >= 1): blocks of dy of block_rows rows,
    grouped into at most MAX_PARTS parts of consecutive blocks; a part is one parallel
    task. All of it fixed by n, k and m."""
    cdef BackwardPlan plan
    cdef Py_ssize_t blocks
    plan.dw_kernel = _dw_kernel(dtype, k, m)
    plan.db_by_column_sums = _db_by_column_sums(dtype, m)
    plan.block_rows = _dy_block_rows(m)
    if plan.dw_kernel == DW_GEMM and (n <= plan.block_rows or k * m >= ONE_PART_DW):
        # One part: one block; or a wide dw, where partials would be parts × k·m of memory
        # to write and sum again, each block's product adding into a partial of its own.
        # One part's blocks the threads share (below), each added into dw itself; a wide
        # dw's blocks at least a depth block (KC) of rows, each a whole depth block's sums.
        if k * m >= ONE_PART_DW:
            plan.block_rows = max(plan.block_rows, _depth_block(dtype))
        blocks = (n + plan.block_rows - 1) // plan.block_rows
        plan.parts = 1
        plan.part_rows = blocks * plan.block_rows
    else:
        # Blocks for MIN_BLOCKS parts; where dw is a matmul, not below
        # DW_GEMM_BLOCK_ROWS rows: each block's dw is a product that deep into a partial
        # of k·m, too shallow below it (docs/performance.md, "At least 8 blocks a batch").
        plan.block_rows = _batch_block_rows(n, m)
        if plan.dw_kernel == DW_GEMM:
            plan.block_rows = max(plan.block_rows,
                                  min(_dy_block_rows(m), <Py_ssize_t>DW_GEMM_BLOCK_ROWS))
        blocks = (n + plan.block_rows - 1) // plan.block_rows
        plan.parts = min(<Py_ssize_t>MAX_PARTS, blocks)
        plan.part_rows = (blocks + plan.parts - 1) // plan.parts * plan.block_rows
    plan.threads = max(<int>min(<Py_ssize_t>num_threads, plan.parts), 1)
    plan.parts = (n + plan.part_rows - 1) // plan.part_rows
    plan.dx_kernel = _dx_kernel(dtype, n, k, m)
    # One part gives one thread work; where its products are the matmul, the threads
    # share each step of each of its blocks instead: rows of dy, panels, and each
    # product's row tasks or column panels (gemm_share), none of which changes a sum's
    # order.
    plan.shared_block = (plan.parts == 1 and num_threads > 1 and k > 0
                         and plan.dw_kernel == DW_GEMM)
    if plan.shared_block:
        plan.threads = num_threads
    return plan


cdef inline Py_ssize_t _backward_one_thread_max_work(floating* dtype, Py_ssize_t n,
                                                     Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    """The most work (_product_work(n, k, m)) of a backward that num_threads=None runs on
    one thread: all (ONE_THREAD_ALWAYS) where w and dw come from the caller's cache
    (_w_from_the_callers_cache: it reads w for dx and writes dw, which the caller reads
    and writes w with); BACKWARD_SHARED_MULADDS_FOR_THREADS - 1 where its threads would
    share one block (_plan_backward's shared_block) whose dw is the matmul on dy's packed panels,
    not few_rows.h's outer product; 0 (threaded at any work) where its parts would be a
    thread's each and x and dy hold BACKWARD_PARTS_ELEMENTS_FOR_THREADS elements or more;
    else the products' threshold."""
    cdef BackwardPlan plan
    if n <= 0 or k <= 0 or m <= 0:
        return _one_thread_max_work(dtype)
    if _w_from_the_callers_cache(dtype, n, k, m):
        return ONE_THREAD_ALWAYS
    plan = _plan_backward(dtype, n, k, m, 2)
    if plan.shared_block and not _dw_by_outer_product(
            _dw_stores_first_block(dtype, plan.dw_kernel, m), n):
        return <Py_ssize_t>BACKWARD_SHARED_MULADDS_FOR_THREADS - 1
    if (not plan.shared_block and plan.parts > 1
            and n * (k + m) >= BACKWARD_PARTS_ELEMENTS_FOR_THREADS):
        return 0
    return _one_thread_max_work(dtype)


def backward_min_work(dtype, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m):
    """The least work (product_work(n, k, m)) at which num_threads=None runs dense_backward
    of x (n×k) and w (k×m) of `dtype` threaded: MIN_MULADDS_FOR_THREADS[dtype];
    MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS where the threads would share one block and
    exchange dy's packed panels; 1 (any) where the parts would be a thread's each and
    n·(k + m) >= MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS; sys.maxsize (never) where
    product_min_work says so (the rule _api.py, the native path and plan()'s "one_thread"
    apply, for k >= 1)."""
    if _float_dtype_name(dtype, "backward_min_work") == "float32":
        return _backward_one_thread_max_work(<float*>NULL, n, k, m) + 1
    return _backward_one_thread_max_work(<double*>NULL, n, k, m) + 1


cdef inline int _dx_kernel(floating* dtype, Py_ssize_t n, Py_ssize_t k,
                           Py_ssize_t m) noexcept nogil:
    """What takes dx = dy @ wᵀ. Packing wᵀ (k·m values, a transposition: each value a load
    and a store of its own) costs as much as a product of a few dozen rows; for fewer
    rows (one block of dy: blocks have at least 64 rows), w is read where it lies instead: by the
    few-rows kernel for at most DX_IN_PLACE_ROWS rows, else as the A of the product
    dxᵀ = w @ dyᵀ, whose packed dyᵀ and transposed result are n·(m + k) values. Both sum
    each dx[i, p] = Σ_j dy[i, j] w[p, j] as the packed path does (the same bits). A w of
    one column makes dx the outer product dy wᵀ: few_rows.h's outer kernel writes it a
    row at a time, each dx[i, p] = dy[i] w[p] onto +0 as the register tile's one step.
    Its loop along a row of dx pays from a row of DX_OUTER_MIN_BYTES (an AVX2 vector) and
    more than ROW_KERNEL_DEPTH values; below either, the narrow tiles, which store whole
    vectors of dx's rows, were faster (docs/performance.md)."""
    if (m == 1 and k > ROW_KERNEL_DEPTH
            and k * <Py_ssize_t>sizeof(floating) >= DX_OUTER_MIN_BYTES):
        return DX_OUTER
    if n <= DX_IN_PLACE_ROWS:
        return DX_FEW_ROWS
    if n <= DX_SWAPPED_ROWS and n * (k + m) < k * m:
        return DX_SWAPPED
    return DX_PACKED


_KERNEL_NAMES = {KERNEL_REGISTER_TILE: "register_tile",
                 KERNEL_TRANSPOSED_TILE: "transposed_tile",
                 KERNEL_VECTOR_TILE: "vector_tile"}
_DW_NAMES = {DW_COLUMN_SUMS: "column_sums", DW_GEMM: "matmul", DW_LOOPS: "loops"}


cdef dict _product_plan_dict(floating* dtype, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                             int num_threads, bint epilogue):
    """def plan()'s answer for matmul and, with `epilogue`, dense_forward: A = x,
    row-major."""
    cdef ProductPlan p = _plan_product(dtype, n, k, m, num_threads)
    kernel = _KERNEL_NAMES[p.kernel]
    if p.kernel == KERNEL_VECTOR_TILE and k > 0 and _takes_row_kernel(dtype, k, m, False):
        kernel = ("column_kernel" if _takes_column_kernel(dtype, k, k, 1, m, m)
                  else "row_kernel")
    if p.few_rows and k > 0:
        kernel = "few_rows"
    if p.dots:
        kernel = "dots"
    if n == 0 or m == 0:
        kernel = "none"
    elif k == 0:
        kernel = "zeros"    # C = 0, then the epilogue
    return {
        "kernel": kernel,
        "a_in_place": (p.kernel == KERNEL_REGISTER_TILE and not p.b_in_place
                       and bool(_reads_a_in_place(dtype, k, 1, p.block_width))),
        "b_in_place": bool(p.b_in_place) and k > 0,
        "b_per_task": bool(p.b_per_task),
        "few_rows_pass": FEW_ROWS_ONE_PASS if kernel == "few_rows" else 0,
        "few_rows_fetch": (bool(p.few_rows_fetch) and kernel == "few_rows"
                           and n > FEW_ROWS_MAX),
        "b_as_packed": bool(p.b_as_packed) and n > 0,
        "b_per_thread": bool(p.b_per_thread) and n > 0,
        "dots_one_row": bool(p.dots_one_row) and kernel == "dots",
        "panel_width": p.panel_width,
        "tasks": p.tasks if p.depth_chunks == 1 else p.depth_chunks,
        "row_tasks": p.tasks if p.dots else p.row_tasks if p.depth_chunks == 1 else 1,
        "threads": p.threads,
        "depth_chunks": p.depth_chunks,
        "slabs": ((k + p.slab_depth - 1) // p.slab_depth * ((m + p.slab_width - 1) // p.slab_width)
                  if k > 0 and m > 0 else 1),
        "one_thread": (1 <= n and 1 <= k and 1 <= m and _product_work(n, k, m)
                       <= _product_one_thread_max_work(dtype, n, k, m, epilogue)),
    }


cdef dict _backward_plan_dict(floating* dtype, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                              int num_threads):
    """def plan()'s answer for dense_backward."""
    cdef BackwardPlan p
    if n == 0 or m == 0:   # zeros, or nothing at all
        return {"dw_kernel": "none", "db_kernel": "none", "dx_kernel": "none", "parts": 0,
                "threads": 1, "one_thread": False, "dw_by_rows": False,
                "dw_rows_fetch": False, "dw_gemm_fetch": False, "column_sums_fetch": False}
    p = _plan_backward(dtype, n, k, m, num_threads)
    # dx = dy @ wᵀ: a product of depth m and width k, dy read where it lies.
    dx = _product_plan_dict(dtype, p.block_rows, m, k, 1, False)["kernel"] if k > 0 else "none"
    if p.dx_kernel == DX_FEW_ROWS and k > 0:
        dx = "few_rows_transposed"
    elif p.dx_kernel == DX_SWAPPED and k > 0:
        dx = "swapped"
    elif p.dx_kernel == DX_OUTER and k > 0:
        dx = "outer"
    return {
        "dw_kernel": _DW_NAMES[p.dw_kernel] if k > 0 else "none",
        # the matmul's dw by dw_rows.h (the same order, so the same bits)
        "dw_by_rows": bool(k > 0 and _dw_by_rows(dtype, p.dw_kernel, m)),
        "dw_rows_fetch": bool(k > 0 and _dw_rows_fetch(dtype, n, k, p.dw_kernel, m)),
        # the matmul's dw (vector or register tile) over an x from memory fetches ahead
        "dw_gemm_fetch": bool(k > 0 and _dw_gemm_fetch(dtype, n, k, p.dw_kernel, m)),
        "column_sums_fetch": bool(_column_sums_fetch(dtype, n, k, p.dw_kernel)),
        "db_kernel": "column_sums" if p.db_by_column_sums else "loops",
        "dx_kernel": dx,
        "parts": p.parts,
        "shared_block": bool(p.shared_block),
        "threads": p.threads,
        "one_thread": (k > 0 and _product_work(n, k, m)
                       <= _backward_one_thread_max_work(dtype, n, k, m)),
    }


def plan(dtype, operation, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m, int num_threads=1):
    """What these kernels do for `operation` ("matmul", "dense_forward" or
    "dense_backward") on x (n×k) and w (k×m) of `dtype` with num_threads threads, as a
    dict, for tests and for reading: the kernels make the same decisions from the same
    functions.

    Products: "kernel" (register_tile, few_rows, transposed_tile, vector_tile, or the
    vector tile's row_kernel or column_kernel -- the column kernel takes whole groups of a
    vector's lanes of rows, the row kernel the rest; dots for a C of one column, or of up
    to four, a dot product a row and column; "zeros" for k = 0, "none" for an
    empty result), "a_in_place" (the register tile's first task reads x where it lies),
    "b_in_place" (w is read where it lies, by the register tile or the few-rows kernel:
    few rows), "few_rows_pass" (the few-rows kernel's rows of x a pass over w: 8 where the
    variant has the eight-row tile, else 4; 0 for another kernel), "few_rows_fetch" (its
    eight-row tile runs and fetches each next strip of w ahead: w streams from beyond
    L2), "b_per_task" (each task packs its block of w: a few dozen rows, of a w of
    BIG_B elements or more up to _block_task_rows_big_b, 1024 on a 2 MB L2, or, where a w of
    FEW_ROWS_NARROW columns or more streams from beyond L2, from 33 rows, or 17 where the
    variant has no eight-row tile or w's rows crowd L2's sets: _b_rows_crowd_l2_sets),
    "b_as_packed" (w is one whole panel
    wide, its own packed form: read where it lies, not copied), "b_per_thread" (each
    thread packs all of w itself: _packs_b_per_thread), "dots_one_row" (the dots kernel
    reads x one row a step: an x from memory; only column_dots.h has the choice),
    "panel_width", "tasks"
    and "row_tasks" (of them, along the rows of C: the rest are blocks of its columns)
    and "threads" (that get work), "depth_chunks" (> 1: the depth is split), "slabs" (> 1:
    w is packed a slab at a time), "one_thread" (num_threads=None runs it on one thread:
    product_min_work).
    The backward: "dw_kernel", "dw_by_rows" (the matmul's dw by dw_rows.h, vectors
    along x's rows, the same bits), "dw_rows_fetch" (and it fetches each next depth block
    of x into L2: an x from memory), "dw_gemm_fetch" (the matmul's dw, by the vector or
    the register tile, fetches each next depth block of x into L2: an x from memory),
    "column_sums_fetch" (the column-sum kernel's dw fetches each next chunk of x into L2:
    an x from memory), "db_kernel", "dx_kernel"
    (the kernel of dy @ wᵀ; few_rows_transposed: w read where it lies; swapped:
    (w @ dyᵀ)ᵀ, w read where it lies; outer: dy wᵀ for one column of w),
    "parts", "shared_block" (the threads share each step of one block), "threads",
    "one_thread"."""
    if n < 0 or k < 0 or m < 0 or num_threads < 1:
        raise ValueError("plan: shapes must be >= 0 and num_threads >= 1")
    dt = _float_dtype_name(dtype, "plan")
    if operation in ("matmul", "dense_forward"):
        if dt == "float32":
            return _product_plan_dict(<float*>NULL, n, k, m, num_threads,
                                      <bint>(operation == "dense_forward"))
        return _product_plan_dict(<double*>NULL, n, k, m, num_threads,
                                  <bint>(operation == "dense_forward"))
    if operation == "dense_backward":
        if dt == "float32":
            return _backward_plan_dict(<float*>NULL, n, k, m, num_threads)
        return _backward_plan_dict(<double*>NULL, n, k, m, num_threads)
    raise ValueError(f"plan: unknown operation {operation!r}; choose matmul, dense_forward "
                     "or dense_backward")
