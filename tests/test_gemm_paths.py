"""The matmul's kernels: the register tile (reading w where it lies for few rows, or the
few-rows kernel for up to four, or eight in one pass where the variant has the eight-row
tile; a large w packed a slab at a time), and for a narrow w (m at most half the
register tile's width, or where the vector tile pads w to fewer columns) the vector tile
(with its row and column kernels for depths up to 4) or the transposed tile; and products
of few rows and great depth, whose depth is split into chunks summed in a fixed order.

Which kernel a shape takes depends on the kernel variant and the dtype (the tiles'
widths differ). The kernels' plan (fastsig._dispatch.kernels.plan, the same decisions the
kernels make) says which: test_the_shapes_cover_every_path checks that SHAPES reach every
path this build can take, and the labelled shapes are checked to take their path. Each
result is checked against the error bound and for bitwise equality across thread counts.
"""

import os
import sys
import types

import numpy as np
import pytest

import fastsig
from fastsig import _reference
from fastsig import _blocking, _dispatch

SHAPES = [
    (1031, 2, 3),      # narrow: the 2x2·2x3 layer, batched, ragged last task (column kernel)
    (515, 1, 2),       # the row kernel's column kernel: L rows as whole vectors ...
    (515, 3, 3),       # ... (8 float64 lanes: the row kernel)
    (515, 4, 4),
    (515, 3, 1),       # ... not where a lane's inputs span three vectors
    (777, 8, 1),       # one column: a dot product a row (the dots kernel)
    (1000, 600, 1),    # ... deep (the baseline: three depth blocks), threads' runs of 32 rows
    (37, 5, 1),        # ... the least depth it takes, a ragged group of rows
    (777, 16, 2),      # two to four columns (avx2, avx512): dot products, rows in pairs
    (1000, 600, 3),    # ... deep, three columns (a row at a time on avx2)
    (37, 16, 4),       # ... the least float32 depth, four columns (float64: the vector tile)
    (1000, 20, 16),    # narrow: whole transposed tiles and a ragged row edge
    (515, 9, 12),      # narrow, a ragged column panel
    (300, 300, 7),     # narrow, a depth block and a ragged one
    (1001, 12, 4),     # vector tile (float32 AVX2, float64): a quarter of a vector
    (997, 300, 16),    # vector tile, whole vectors, added into C over depth blocks
    (997, 300, 12),    # vector tile, a partial vector added into C lane by lane
    (997, 300, 20),    # ... a vector and a half (float32 AVX-512)
    (997, 300, 10),    # ... (float64 AVX-512)
    (523, 5, 9),       # a vector and a half a row (float64 AVX-512), two (float32 AVX2)
    (523, 5, 20),      # a vector and a half (float32 AVX-512), ragged rows
    (997, 300, 24),    # ... whole, added into C over depth blocks
    (61, 16, 11),      # ... (float64 AVX-512): its ragged last panel by the short tile
    (61, 16, 8),       # vector tile: a single task, ragged last panel
    (250, 7, 2),       # half a vector (AVX-512) at a quarter full, the narrowest it takes
    (777, 1, 6),       # the vector tile's row kernel (depth <= 4), several chunks
    (403, 4, 16),      # row kernel, whole vectors
    (130, 3, 9),       # row kernel one vector wide (float32), the tile 1.5 (float64 AVX-512)
    (16, 9000, 16),    # few rows, great depth (xᵀ @ y): the depth split into chunks
    (3, 4500, 5),      # depth split, a narrow output (wider than the dots kernel takes),
                       # a ragged last chunk
    (40, 8192, 130),   # depth split over the register tile
    (93, 513, 130),    # the tile: several depth blocks, ragged rows and columns
    (5, 40, 1000),     # few rows, many column tasks: the eight-row tile (AVX-512); the
                       # tile, or the few-rows kernel's passes where MR is 4 (its last
                       # panel would be of one row)
    (150, 40, 40),     # the tile's last panel one vector wide or less (a narrower tile)
    (150, 20, 48),     # last panel of whole vectors: 2 of float64's 4, 1 of float32's 2
    (150, 64, 56),     # last panel of 3 float64 vectors (AVX-512), 1.5 float32
    (300, 1024, 100),  # rows a multiple of 4 KB apart: A packed, not read in place
    (1, 300, 1000),    # one row: the few-rows kernel, w where it lies, column tasks
    (3, 513, 130),     # few rows, several depth blocks and a ragged one, odd columns
    (3, 300, 13),      # few rows of a narrow layer: the few-rows kernel, not the vector tile
    (11, 300, 77),     # the tile reading w in place, its ragged last panel packed
    (7, 300, 1000),    # ... 7 rows: the few-rows kernel's eight-row tile (AVX-512); a
                       # tile of 8 rows (float32 AVX2: MR 4 × 2) or passes of the few-rows
                       # kernel where MR is 6 (a last panel of one row)
    (6, 100, 256),     # ... 6 rows: a tile of 6 (float64: one whole panel); the
                       # eight-row tile (float32 AVX-512)
    (8, 300, 45),      # the eight-row tile (AVX-512), a ragged last vector (a masked load)
    (5, 513, 5),       # ... fewer columns than a vector, several depth blocks
    (100, 256, 77),    # packed, a ragged last row panel of 4 rows (MR 12 or 6)
    (16, 40, 1000),    # w read in place, many column tasks
    (32, 300, 1000),   # the most rows that read w in place (where w stays in L2)
    (90, 300, 1000),   # each column task packs its block of w, a depth block at a time
    (200, 1030, 520),  # and so for more rows where w is large
    (260, 2100, 1100),  # w large: each column task packs its block (slabs on a small L2)
    (250, 2200, 240),  # ... on 2 threads a task a thread, each packing its blocks of w
                       # (rows at least w's columns: _block_row_tasks)
    (250, 100, 130),   # ... and so a small w, in the product's one parallel region
    (2100, 50, 200),   # ... for any rows where x is read in place and w is one block
    (130, 20, 500),    # w packed whole, a copy by each thread (within a quarter of L2)
    (64, 4, 512),      # few rows of a small, shallow w: a thread's rows (2-3 threads),
    (72, 96, 256),     # ... and deeper where the rows are as even a share as the columns
    (9, 1100, 1000),   # w streamed from beyond L2 (a thread's share more than 3/4 of it):
                       # the few-rows kernel, 5-32 rows in passes of its eight-row tile
                       # fetching w ahead (AVX-512), else 5-16 in passes of four rows
    (20, 1100, 1000),  # ... and more rows pack it, each column task its block (but on
                       # AVX-512)
]

# What some shapes take on every variant and dtype, as the plan says it.
LABELLED = {
    (777, 8, 1): lambda p: p["kernel"] == "dots",
    (1000, 600, 1): lambda p: p["kernel"] == "dots" and p["tasks"] >= 2 and p["threads"] == 2,
    (16, 9000, 16): lambda p: p["depth_chunks"] > 1,
    (3, 4500, 5): lambda p: p["depth_chunks"] > 1,
    (40, 8192, 130): lambda p: p["depth_chunks"] > 1 and p["kernel"] == "register_tile",
    (11, 40, 2200): lambda p: p["kernel"] == "register_tile" and p["tasks"] > 2,
    (300, 1024, 100): lambda p: p["kernel"] == "register_tile" and not p["a_in_place"],
    (1, 300, 1000): lambda p: p["kernel"] == "few_rows" and p["b_in_place"] and p["tasks"] >= 2,
    (3, 513, 130): lambda p: p["kernel"] == "few_rows" and p["b_in_place"],
    (11, 300, 77): lambda p: p["kernel"] == "register_tile" and p["b_in_place"],
    (16, 40, 1000): lambda p: p["kernel"] == "register_tile" and p["b_in_place"],
    (93, 513, 130): lambda p: (p["kernel"] == "register_tile" and not p["b_in_place"]
                               and p["b_per_task"] and p["slabs"] == 1),
    (90, 300, 1000): lambda p: p["b_per_task"] and p["tasks"] >= 2,
    (200, 1030, 520): lambda p: p["b_per_task"] and p["tasks"] >= 2,
    (300, 1024, 100): lambda p: not p["b_per_task"] and p["slabs"] == 1,
    (4100, 2100, 1100): lambda p: p["kernel"] == "register_tile" and p["slabs"] >= 4,
    (250, 2200, 240): lambda p: p["b_per_task"] and p["tasks"] == 2 and p["threads"] == 2,
    (250, 2200, 260): lambda p: p["b_per_task"] and p["tasks"] == 2,  # the columns shared
    (250, 100, 130): lambda p: p["b_per_task"] and p["tasks"] == 2 and p["threads"] == 2,
    (130, 20, 500): lambda p: (p["kernel"] == "register_tile" and p["b_per_thread"]
                               and not p["b_per_task"] and p["threads"] == 2),
    (2100, 50, 200): lambda p: p["b_per_task"] == p["a_in_place"] and (
        p["tasks"] == 2 or not p["b_per_task"]),
}


# num_threads=1 that the native fast paths do not take (they take None and a positive int):
# the full path's checks and conversions, on one thread.
FULL_PATH_ONE = np.int64(1)


def _plan(dtype, n, k, m, threads=2):
    return _dispatch.kernels.plan(dtype, "matmul", n, k, m, threads)


@pytest.mark.quick
def test_the_shapes_cover_every_path(dtype, helpers):
    """Every kernel this build can choose for the dtype (found by asking the plan over a
    grid of layers) is taken by some shape of SHAPES, reading A in place and packed, with
    the depth split; and the labelled shapes take their path. The labels' task counts hold
    for any blocking from the caches (NC at most NC_MAX); under FASTSIG_BLOCKING (CI's
    quick runs) they need not, and the other tests still run those shapes."""
    if os.environ.get("FASTSIG_BLOCKING"):
        pytest.skip("the labelled shapes are cut for the blocking from the caches")
    reachable = set()
    for m in range(1, 130):
        for k in (1, 2, 3, 4, 5, 64):
            for n in (1, 4096):
                reachable.add(_plan(dtype, n, k, m)["kernel"])
    taken = {_plan(dtype, n, k, m)["kernel"] for n, k, m in SHAPES}
    assert reachable <= taken, f"no shape takes {sorted(reachable - taken)}"
    assert "register_tile" in taken
    register = [_plan(dtype, n, k, m) for n, k, m in SHAPES]
    register = [p for p in register if p["kernel"] == "register_tile"]
    in_place = {p["a_in_place"] for p in register}
    if _dispatch.kernels.plan(dtype, "matmul", 4096, 64, 200)["a_in_place"]:
        assert in_place == {True, False}, "A read in place and packed"
    assert {p["b_in_place"] for p in register} == {True, False}, "w read in place and packed"
    assert {p["b_per_task"] for p in register} == {True, False}, "w packed by tasks and whole"
    per_thread = {_plan(dtype, n, k, m)["b_per_thread"] for n, k, m in SHAPES}
    assert per_thread == {True, False}, "w packed whole by each thread and shared"
    # w one whole panel wide, read as its own packing, where some kernel's panel allows it.
    if any(_plan(dtype, 4096, 64, m)["b_as_packed"] for m in range(1, 130)):
        as_packed = {_plan(dtype, n, k, m)["b_as_packed"] for n, k, m in SHAPES}
        assert as_packed == {True, False}, "w read as its own packing and packed"
    for shape, takes in LABELLED.items():
        assert takes(_plan(dtype, *shape)), (shape, _plan(dtype, *shape))
    # A w of BIG_B elements or more is packed a block per task for as many rows as fill
    # half of L2 a depth block deep (256 on a 512 KB L2); by the row tasks beyond. (Where x
    # is packed, also at most twice a task's columns: _packs_b_per_task.)
    bound = helpers.block_task_rows_big_b(dtype)
    assert bound >= 256 or _blocking.choose()["l2_bytes"] < 512 << 10, bound
    in_place = _plan(dtype, 4096, 1000, 1000)["a_in_place"]     # rows 1000 apart
    for threads in (1, 2):
        assert _plan(dtype, 97, 1000, 1000, threads)["b_per_task"], threads
        if in_place:
            assert _plan(dtype, bound, 1000, 1000, threads)["b_per_task"], (bound, threads)
        assert not _plan(dtype, bound + 1, 1000, 1000, threads)["b_per_task"], (bound, threads)
    # A small w too where the threads share the rows, a task a thread (not on one thread);
    # beyond the bound where x is read in place and w is one depth block and one NC block.
    blocking = _dispatch.kernels.blocking()
    depth, width = blocking["kc"][np.dtype(dtype).name], blocking["nc"][np.dtype(dtype).name]
    assert _plan(dtype, 250, 100, 130, 2)["b_per_task"]
    assert not _plan(dtype, 250, 100, 130, 1)["b_per_task"]
    p = _plan(dtype, bound + 1, depth, 130, 2)
    assert p["b_per_task"] == p["a_in_place"], p
    assert not _plan(dtype, bound + 1, depth + 1, 130, 2)["b_per_task"]
    assert not _plan(dtype, bound + 1, 100, width + 1, 2)["b_per_task"]
    # Up to 96 rows (BLOCK_TASK_ROWS) of a small w that tasks pack per block: a thread's
    # rows where w is shallow, or, up to 128 deep, where the rows give as even shares as
    # the columns would (here 72 rows: whole panels of MR, three a thread where MR is 12);
    # deeper, the threads share the columns; one thread, one row task; rows fewer than a
    # panel a thread, the columns.
    mr = blocking["mr"][np.dtype(dtype).name]
    small = blocking["l2_bytes"] // 4 // np.dtype(dtype).itemsize
    # (38 rows split unevenly for MR 12, 6 and 4, and 192 columns evenly.)
    for n, k, m, rows in ((64, 4, 512, True), (96, 16, 1000, True), (72, 96, 256, True),
                          (38, 64, 192, False), (64, 256, 256, False), (64, 129, 96, False)):
        p = _plan(dtype, n, k, m, 2)
        if p["b_per_task"]:
            assert p["row_tasks"] == (2 if rows and k * m <= small else 1), (n, k, m, p)
        assert _plan(dtype, n, k, m, 1)["row_tasks"] == 1, (n, k, m)
    p = _plan(dtype, 64, 4, 512, 3)
    assert not p["b_per_task"] or p["row_tasks"] == (3 if 64 >= 3 * mr else 1), p
    p = _plan(dtype, 64, 4, 512, 7)
    assert not p["b_per_task"] or p["row_tasks"] == (7 if 64 >= 7 * mr else 1), p
    # 9-32 rows of a wide w: the register tile reading it in place where a thread's share
    # of w stays within 3/4 of L2; where it streams from beyond, the few-rows kernel reads
    # it once from there, 9-32 rows where the variant has the eight-row tile (which then
    # fetches w ahead), else 9-16 (passes of four rows reading w as rows), and more pack
    # it per column task (also 17-32 rows of a w whose rows, 2048 values apart, would crowd
    # L2's sets). Which holds
    # depends on this CPU's L2; 1100 × 1000 on one thread (4.4 MB float32) streams on
    # the CPUs fastsig has met, 40 × 1000 on two (80 KB float32) on none.
    l2 = _blocking.choose()["l2_bytes"]
    eight_rows = _plan(dtype, 5, 100, 100, 1)["few_rows_pass"] == 8
    streamed = 0
    for n, k, m, threads in ((9, 1100, 1000, 1), (16, 1100, 1000, 1), (20, 1100, 1000, 1),
                             (32, 1100, 1000, 1), (33, 1100, 1000, 1), (9, 40, 1000, 2),
                             (20, 40, 1000, 2), (32, 40, 1000, 2), (32, 300, 1000, 2),
                             (16, 512, 4096, 1), (24, 512, 4096, 1)):
        p = _plan(dtype, n, k, m, threads)
        streamed_rows = 32 if eight_rows and m % 2048 else 16
        share = k * -(-m // threads) * np.dtype(dtype).itemsize
        if share <= l2 * 3 // 4 and n <= 32:
            assert p["kernel"] == "register_tile" and p["b_in_place"], (n, k, m, threads, p)
        elif share <= l2 * 3 // 4:
            assert p["kernel"] == "register_tile" and p["b_per_task"], (n, k, m, threads, p)
        elif n <= streamed_rows:
            assert p["kernel"] == "few_rows" and p["b_in_place"], (n, k, m, threads, p)
            assert p["few_rows_fetch"] == (p["few_rows_pass"] == 8), (n, k, m, threads, p)
        else:
            assert p["kernel"] == "register_tile" and p["b_per_task"], (n, k, m, threads, p)
        streamed += share > l2 * 3 // 4
    assert streamed >= 3 or l2 > 4 << 20, "no w streamed: the shapes miss the rule"
    # A few rows of a layer that the vector tile takes (not in every variant: the portable
    # kernels have none) go to the few-rows kernel.
    for n, k, m in ((1, 100, 16), (3, 300, 13), (4, 64, 10), (2, 5, 7)):
        if _plan(dtype, 64, k, m)["kernel"] == "vector_tile":
            assert _plan(dtype, n, k, m)["kernel"] == "few_rows", (n, k, m)


@pytest.mark.quick
def test_the_plan_answers_for_every_operation(dtype):
    kernels = _dispatch.kernels
    name = np.dtype(dtype).name
    for operation in ("matmul", "dense_forward"):
        p = kernels.plan(dtype, operation, 262144, 64, 64, 2)
        assert p["kernel"] in {"register_tile", "transposed_tile", "vector_tile"}
        assert p["threads"] == 2 and p["tasks"] >= 2 and p["depth_chunks"] == 1
        assert not p["one_thread"] and not p["b_in_place"] and p["slabs"] == 1
        one_row = kernels.plan(dtype, operation, 1, 256, 256, 2)
        assert one_row["kernel"] == "few_rows" and one_row["b_in_place"]
        assert kernels.plan(dtype, operation, 2, 2, 3)["one_thread"]
        # num_threads=None runs a product on one thread below a threshold per dtype, of
        # multiply-adds, a product of fewer rows counted as FEW_ROWS_WORK rows.
        limit = kernels.MIN_MULADDS_FOR_THREADS[np.dtype(dtype).name]
        # dense_forward's epilogue counts EPILOGUE_MULADDS_FOR_THREADS a result element.
        epilogue = operation == "dense_forward"

        def own_limit(n, m):
            if not epilogue:
                return limit
            return max(1, limit - kernels.EPILOGUE_MULADDS_FOR_THREADS * n * m)

        few = kernels.product_work(1, 1, 1)
        assert few > 1 and kernels.product_work(few, 3, 5) == few * 15
        assert kernels.product_work(0, 300, 300) == 0
        assert kernels.product_work(few + 1, 3, 5) == (few + 1) * 15
        # The thresholds follow one core's L2, as the blocking does; sigmoid_backward
        # threads where its two inputs and its result exceed it.
        l2 = kernels.blocking()["l2_bytes"]
        assert l2 == _blocking.choose()["l2_bytes"]
        assert (kernels.MIN_BACKWARD_ELEMENTS_FOR_THREADS[name]
                == l2 // (3 * np.dtype(dtype).itemsize) + 1)
        # Fewer than MIN_ROWS_FOR_THREADS_W_IN_L2 rows of a w of at most 5/4 of one
        # core's L2 run on one thread whatever their work (w may lie in the caller's
        # cache); the rest thread from the threshold, fewer rows counted as FEW_ROWS_WORK.
        # (256 deep, so that x and the result stay below the elements' threshold.)
        rows = kernels.MIN_ROWS_FOR_THREADS_W_IN_L2
        assert rows > few
        widest_in_l2 = kernels.blocking()["l2_bytes"] // 4 * 5 // (256 * np.dtype(dtype).itemsize)
        for n in (1, few - 1, few, rows - 1):
            for m in (limit // (few * 256) - 1, limit // (few * 256), widest_in_l2,
                      widest_in_l2 + 1):
                in_l2 = m <= widest_in_l2
                by_elements = n * (256 + m) >= kernels.MIN_PRODUCT_ELEMENTS_FOR_THREADS
                least = sys.maxsize if in_l2 else 1 if by_elements else own_limit(n, m)
                assert (kernels.product_min_work(name, n, 256, m, epilogue=epilogue)
                        == least), (n, m)
                assert (kernels.plan(dtype, operation, n, 256, m)["one_thread"]
                        == (kernels.product_work(n, 256, m) < least)), (n, m)
        for m in (limit // (rows * 256) - 1, limit // (rows * 256), widest_in_l2):
            assert (kernels.plan(dtype, operation, rows, 256, m)["one_thread"]
                    == (kernels.product_work(rows, 256, m) < own_limit(rows, m))), m
        # And from MIN_PRODUCT_ELEMENTS_FOR_THREADS elements of x and the result, n·(k + m),
        # at any work: a narrow layer's product is more reading and writing than arithmetic.
        elements = kernels.MIN_PRODUCT_ELEMENTS_FOR_THREADS
        assert elements * 3 < limit
        for at, below in (((32768, 1, 1), (32767, 1, 1)), ((13108, 2, 3), (13107, 2, 3)),
                          ((4096, 8, 8), (4095, 8, 8)), ((64, 1, 1023), (64, 1, 1022))):
            assert at[0] * (at[1] + at[2]) >= elements > below[0] * (below[1] + below[2])
            assert kernels.product_min_work(name, *at, epilogue=epilogue) == 1, at
            assert not kernels.plan(dtype, operation, *at)["one_thread"], at
            below_limit = own_limit(below[0], below[2])
            assert (kernels.product_min_work(name, *below, epilogue=epilogue)
                    == below_limit), below
            assert (kernels.plan(dtype, operation, *below)["one_thread"]
                    == (kernels.product_work(*below) < below_limit)), below
        # A product whose multiply-adds alone fall short of the threshold: matmul on one
        # thread, dense_forward threaded where its epilogue's elements make up the rest.
        n = limit // 512
        k, m = 16, 20
        assert n * (k + m) < kernels.MIN_PRODUCT_ELEMENTS_FOR_THREADS
        work = kernels.product_work(n, k, m)
        assert work < limit <= work + kernels.EPILOGUE_MULADDS_FOR_THREADS * n * m
        assert kernels.plan(dtype, operation, n, k, m)["one_thread"] is not epilogue
        assert kernels.plan(dtype, operation, 0, 2, 3)["kernel"] == "none"
        assert kernels.plan(dtype, operation, 5, 0, 3)["kernel"] == "zeros"
    # The backward threads from kernels.backward_min_work: where its threads would share
    # one block and exchange dy's packed panels (dw by the matmul on packed dy; not the
    # outer product of 1-4 rows of a wide layer) from
    # MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS, else from the products' threshold (or below).
    shared_limit = kernels.MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS
    assert shared_limit >= limit
    for n, k, m in ((33, 256, 256), (64, 31, 200), (500, 64, 64), (48, 256, 256)):
        p = kernels.plan(dtype, "dense_backward", n, k, m, 2)
        assert p["shared_block"] and p["dw_kernel"] == "matmul", (n, k, m)
        assert kernels.backward_min_work(name, n, k, m) == shared_limit, (n, k, m)
        assert p["one_thread"] == (kernels.product_work(n, k, m) < shared_limit), (n, k, m)
    # Fewer than MIN_ROWS_FOR_THREADS_W_IN_L2 rows of a w (and dw) of at most 5/4 of one
    # core's L2: one thread, whatever the work, as the products.
    l2_share = kernels.blocking()["l2_bytes"] // 4 * 5 // np.dtype(dtype).itemsize
    rows = kernels.MIN_ROWS_FOR_THREADS_W_IN_L2
    for n, k, m in ((1, 64, 64), (7, 128, 64), (rows - 1, 64, 128), (2, 5, 7),
                    (4, 2000, 4), (1, 256, l2_share // 256), (rows - 1, 256, l2_share // 256)):
        assert kernels.backward_min_work(name, n, k, m) == sys.maxsize, (n, k, m)
        assert kernels.plan(dtype, "dense_backward", n, k, m, 2)["one_thread"], (n, k, m)
    # 1-4 rows take the outer product only where dw's tile is the register tile; for a
    # layer 4 wide (the vector tiles' width, where the variant has them) dw of 1-4 rows is
    # the matmul on packed dy, so the shared block's threshold (beyond 5/4 of L2).
    if _dispatch.ISA != "baseline":
        for n in (1, 4, 5):
            assert (kernels.backward_min_work(name, n, l2_share // 4 + 1, 4)
                    == shared_limit), n
    for n, k, m in ((1, 256, l2_share // 256 + 1), (4, 256, l2_share // 256 + 1)):
        assert kernels.backward_min_work(name, n, k, m) == limit, (n, k, m)
        assert (kernels.plan(dtype, "dense_backward", n, k, m, 2)["one_thread"]
                == (kernels.product_work(n, k, m) < limit)), (n, k, m)
    # Where the parts would be a thread's each: from the products' threshold or from
    # MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS elements of x and dy, n·(k + m).
    elements = kernels.MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS
    for n, k, m in ((4099, 16, 16), (20000, 2, 3), (640, 100, 2), (32768, 1, 1),
                    (32767, 1, 1), (2700, 16, 8)):
        p = kernels.plan(dtype, "dense_backward", n, k, m, 2)
        assert not p["shared_block"] and p["parts"] > 1, (n, k, m)
        by_elements = n * (k + m) >= elements
        assert (kernels.backward_min_work(name, n, k, m)
                == (1 if by_elements else limit)), (n, k, m)
        assert p["one_thread"] == (not by_elements
                                   and kernels.product_work(n, k, m) < limit), (n, k, m)
    # The dtype as anything numpy reads as one.
    assert kernels.backward_min_work(np.dtype(dtype), 33, 256, 256) == shared_limit
    assert kernels.product_min_work(dtype, 33, 256, 256) == limit
    with pytest.raises(TypeError):
        kernels.backward_min_work("int32", 7, 256, 256)
    with pytest.raises(TypeError):
        kernels.product_min_work("int32", 7, 256, 256)
    back = kernels.plan(dtype, "dense_backward", 262144, 16, 16, 2)
    assert back["dw_kernel"] in {"column_sums", "matmul", "loops"}
    assert back["db_kernel"] in {"column_sums", "loops"}
    assert back["parts"] == 32 and back["threads"] == 2
    # A mid-size batch makes at least MIN_BLOCKS parts, which threads share evenly.
    for k, m in ((100, 16), (64, 10), (300, 100)):
        assert kernels.plan(dtype, "dense_backward", 4099, k, m, 2)["parts"] >= 8, (k, m)
    assert kernels.plan(dtype, "dense_backward", 1000, 2, 2)["dw_kernel"] in {
        "column_sums", "loops"}
    assert kernels.plan(dtype, "dense_backward", 1000, 256, 256)["dw_kernel"] == "matmul"
    no_inputs = kernels.plan(dtype, "dense_backward", 1000, 0, 3)
    assert no_inputs["dw_kernel"] == no_inputs["dx_kernel"] == "none"
    assert no_inputs["db_kernel"] in {"column_sums", "loops"} and no_inputs["parts"] >= 1
    with pytest.raises(ValueError, match="unknown operation"):
        kernels.plan(dtype, "sigmoid", 1, 1, 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.plan(np.int64, "matmul", 1, 1, 1)


@pytest.mark.quick
def test_no_kernel_pads_w_more_than_the_register_tile(dtype):
    """A narrow tile is chosen only where it pads w to no more columns than the register
    tile's panels would, and where the vector tile pads fewer it is chosen (float32 m = 13..16
    on AVX2: 16 columns against the tile's 24)."""
    plan = _dispatch.kernels.plan
    nr = plan(dtype, "matmul", 1000, 64, 1000)["panel_width"]  # the register tile's NR
    assert plan(dtype, "matmul", 1000, 64, 1000)["kernel"] == "register_tile"
    for m in range(1, 2 * nr + 1):
        p = plan(dtype, "matmul", 1000, 64, m)
        padded = -(-m // p["panel_width"]) * p["panel_width"]
        assert padded <= -(-m // nr) * nr, (m, p)
    # (a build without vector extensions, FASTSIG_PORTABLE, has no vector tile)
    kernels = {plan(dtype, "matmul", 1000, 64, m)["kernel"] for m in range(1, nr + 1)}
    if _dispatch.ISA == "avx2" and dtype == np.float32 and "vector_tile" in kernels:
        for m in range(13, 17):
            assert plan(dtype, "matmul", 1000, 64, m)["kernel"] == "vector_tile", m


@pytest.mark.quick
def test_the_vector_tile_runs_a_vector_and_a_half_on_avx512(dtype):
    """On AVX-512 a layer of one to one and a half vectors' columns (float32 17-24, float64
    9-12) takes the vector tile in a zmm and a ymm a row, not two zmm; a wider one, two
    vectors' worth of columns (the register tile's NR for float32)."""
    plan = _dispatch.kernels.plan
    lanes = 64 // np.dtype(dtype).itemsize
    if (_dispatch.ISA != "avx512"
            or plan(dtype, "matmul", 1000, 64, lanes)["kernel"] != "vector_tile"):
        pytest.skip("a vector and a half is the AVX-512 vector tile's shape")
    for m in range(lanes + 1, lanes * 3 // 2 + 1):
        p = plan(dtype, "matmul", 1000, 64, m)
        assert (p["kernel"], p["panel_width"]) == ("vector_tile", lanes * 3 // 2), (m, p)
    assert plan(dtype, "matmul", 1000, 64, lanes * 3 // 2 + 1)["panel_width"] == 2 * lanes


@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", SHAPES, ids=str)
def test_matmul_and_dense_forward_paths(dtype, rng, helpers, n, k, m):
    x = rng.uniform(-1, 1, (n, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, m)).astype(dtype)
    b = rng.uniform(-1, 1, m).astype(dtype)
    y = fastsig.matmul(x, w, num_threads=1)
    helpers.gemm_bound_check(y, x, w, what="matmul")
    s = fastsig.dense_forward(x, w, b, num_threads=1)
    ref = _reference.dense_forward(x, w, b, np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(s, ref, rtol=tol, atol=tol)
    # The fast mode's epilogue on the same path: σ of the same sums, in that mode's σ.
    fast = fastsig.dense_forward(x, w, b, num_threads=1, accuracy="fast")
    helpers.assert_bitwise_equal(fast, fastsig.sigmoid(y + b, accuracy="fast"),
                                 "dense_forward, fast")
    helpers.assert_bitwise_equal(s, fastsig.sigmoid(y + b), "dense_forward")
    for threads in (2, 3):
        helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=threads), y, "matmul")
        helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, b, num_threads=threads), s,
                                     "dense_forward")
        helpers.assert_bitwise_equal(
            fastsig.dense_forward(x, w, b, num_threads=threads, accuracy="fast"), fast,
            "dense_forward, fast")


@pytest.mark.quick
@pytest.mark.parametrize("n,k", [(150, 40), (7, 300), (1000, 300), (33, 1), (64, 300)],
                         ids=str)
def test_w_one_panel_wide_has_the_bits_of_the_same_columns_packed(dtype, rng, helpers, n, k):
    """A w of exactly the register tile's width is read where it lies as its own packing
    (plan: b_as_packed, where the rows are too many to read w in place; (64, 300): by
    tasks that read it a depth block at a time, two or three blocks); its columns have the
    bits they have as the first panel of a wider w, which is packed. (The vector tile's
    widths, 16 columns: test_row_results_do_not_depend_on_the_batch's 100×16 layer, whose
    few rows take the few-rows kernel, w read in place, and the batch the vector tile.)"""
    nr = _plan(dtype, 4096, 64, 4096)["panel_width"]
    x = rng.uniform(-1, 1, (n, k)).astype(dtype)
    wide = rng.uniform(-1, 1, (k, 2 * nr)).astype(dtype)
    w = np.ascontiguousarray(wide[:, :nr])
    b = rng.uniform(-1, 1, 2 * nr).astype(dtype)
    assert _plan(dtype, n, k, 2 * nr)["kernel"] == _plan(dtype, n, k, nr)["kernel"]
    assert not _plan(dtype, n, k, 2 * nr)["b_as_packed"]
    if n > 32:
        assert _plan(dtype, n, k, nr)["b_as_packed"]
    if (n, k) == (64, 300) and not os.environ.get("FASTSIG_BLOCKING"):
        assert _plan(dtype, n, k, nr)["b_per_task"]
    for threads in (1, 2, 3):
        helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=threads),
                                     fastsig.matmul(x, wide, num_threads=threads)[:, :nr],
                                     f"matmul, {threads} threads")
        helpers.assert_bitwise_equal(
            fastsig.dense_forward(x, w, b[:nr], num_threads=threads),
            fastsig.dense_forward(x, wide, b, num_threads=threads)[:, :nr],
            f"dense_forward, {threads} threads")


_PEAK_MEMORY = """
import resource, sys
import numpy as np
import fastsig
dtype, n, k, m = sys.argv[1], *map(int, sys.argv[2:5])
x = np.full((n, k), 0.5, dtype)
w = np.full((k, m), 0.25, dtype)
out = np.zeros((n, m), dtype)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fastsig.dense_forward(x, w, out=out)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


@pytest.mark.parametrize("rows", ["few", "a few hundred", "more than the tasks' bound"])
def test_the_scratch_has_a_ceiling_whatever_the_shapes(dtype, helpers, tmp_path, rows):
    """A product whose w is 64 MB packs a block of it per task (up to the rows of
    _block_task_rows_big_b), or packs it a slab at a time (more rows): the process's peak
    memory rises by a few MB (the slab, 8 MB, and A's blocks), not by a second copy of w.
    (In a child process, started outside the source tree, so that it imports the
    installed fastsig.)"""
    pytest.importorskip("resource")
    k = m = 4096 if dtype == np.float32 else 2896     # w: 64 MB either way
    bound = helpers.block_task_rows_big_b(dtype)
    n = {"few": 40, "a few hundred": 260}.get(rows, bound + 4)
    plan = _plan(dtype, n, k, m)
    assert plan["slabs"] > 1 if n > bound else plan["b_per_task"], plan
    child = helpers.run_python(
        ["-c", _PEAK_MEMORY, np.dtype(dtype).name, str(n), str(k), str(m)], tmp_path)
    assert child.returncode == 0, child.stderr
    rise = float(child.stdout)
    assert rise < 24, f"peak memory rose by {rise:.1f} MB for a 64 MB w"


@pytest.mark.quick
@pytest.mark.parametrize("k,m", [(256, 256), (3, 2), (7, 5), (13, 300), (300, 13), (64, 4),
                                 (2, 3), (17, 1), (1000, 40), (40, 1000), (130, 513)],
                         ids=str)
def test_the_backward_dx_of_few_rows_has_the_batch_bits(dtype, rng, helpers, k, m):
    """dx of one or two rows reads w where it lies (few_rows.h); of up to 64, where w is
    large beside them, it is (w @ dyᵀ)ᵀ, w again where it lies; a batch packs wᵀ for its
    tiles. Each row of dx has the same bits any way, on any thread count (two or more
    share the steps of a one-block backward)."""
    n = 300
    x = rng.uniform(-1, 1, (n, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.normal(size=(n, m)).astype(dtype)
    whole = fastsig.dense_backward(g, x, w, s, num_threads=1)[0]
    assert _dispatch.kernels.plan(dtype, "dense_backward", n, k, m)["dx_kernel"] not in (
        "few_rows_transposed", "swapped")
    # m = 1 with rows of dx of more than 4 values and 32 bytes: every batch takes the outer
    # product (its bits: test_one_column_dx_is_the_outer_product_with_the_tiles_bits).
    for lo, hi in ((0, 1), (5, 7), (10, 13), (20, 36), (100, 164), (299, 300)):
        rows = hi - lo
        kernel = _dispatch.kernels.plan(dtype, "dense_backward", rows, k, m)["dx_kernel"]
        if m == 1 and k > 4 and k * np.dtype(dtype).itemsize >= 32:
            assert kernel == "outer", (lo, hi, kernel)
        else:
            assert (kernel == "few_rows_transposed") == (rows <= 2), (lo, hi, kernel)
            assert (kernel == "swapped") == (2 < rows <= 64 and rows * (k + m) < k * m), kernel
        for threads in (1, 2, 3, None):
            dx = fastsig.dense_backward(g[lo:hi], x[lo:hi], w, s[lo:hi],
                                        num_threads=threads)[0]
            helpers.assert_bitwise_equal(dx, whole[lo:hi], f"dx of rows {lo}:{hi}")


@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", [(1, 300, 700), (2, 1000, 64), (5, 300, 33), (16, 256, 256),
                                   (40, 64, 1000), (64, 1000, 64), (256, 256, 256),
                                   (100, 3000, 20), (7, 5, 400), (300, 600, 600),
                                   (1000, 70, 4000)], ids=str)
def test_a_one_part_backward_shares_its_steps_with_the_same_bits(dtype, rng, helpers,
                                                                  n, k, m):
    """A backward of one part -- one block of dy, or a dw by the matmul of at least
    ONE_PART_DW elements over several blocks (the last two shapes) -- runs every step of
    every block on all the threads (_backward_shared_block): dx, dw and db have the bits of
    one thread, with and without dx."""
    plan = _dispatch.kernels.plan(dtype, "dense_backward", n, k, m, 2)
    assert plan["parts"] == 1 and plan["shared_block"] and plan["threads"] == 2, plan
    assert not _dispatch.kernels.plan(dtype, "dense_backward", n, k, m, 1)["shared_block"]
    x = rng.uniform(-1, 1, (n, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.normal(size=(n, m)).astype(dtype)
    one = fastsig.dense_backward(g, x, w, s, num_threads=1)
    reference = _reference_backward(g, x, w, s)
    for got, want, name in zip(one, reference, ("dx", "dw", "db")):
        np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-10,
                                   atol=(1e-4 if dtype == np.float32 else 1e-10)
                                   * np.abs(want).max(), err_msg=name)
    for threads in (2, 3, 7):
        for compute_dx in (True, False):
            got = fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx,
                                         num_threads=threads)
            for a, b, name in zip(got, one, ("dx", "dw", "db")):
                if a is None:
                    assert not compute_dx
                    continue
                helpers.assert_bitwise_equal(a, b, f"{name}, {threads} threads")


def _reference_backward(g, x, w, s):
    """dx, dw, db in float64 numpy."""
    g, x, w, s = (a.astype(np.float64) for a in (g, x, w, s))
    dy = g * s * (1 - s)
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


@pytest.mark.quick
@pytest.mark.parametrize("n,k", [(1, 100), (2, 9), (300, 17), (5000, 100), (64, 1000)],
                         ids=str)
def test_one_column_dx_is_the_outer_product_with_the_tiles_bits(dtype, rng, helpers, n, k):
    """dx of a one-column layer (few_rows.h's outer product, "outer") has the bits the
    register tile gives it as part of a wider layer whose other column of dy is zero, on
    any thread count; in float32 each dx[i, p] is dy[i] w[p] rounded once."""
    x = rng.uniform(-1, 1, (n, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, 2)).astype(dtype)
    s = rng.uniform(0.01, 0.99, (n, 2)).astype(dtype)
    g = rng.normal(size=(n, 2)).astype(dtype)
    g[:, 1] = 0
    wide = fastsig.dense_backward(g, x, w, s, num_threads=1)[0]
    assert _dispatch.kernels.plan(dtype, "dense_backward", n, k, 1)["dx_kernel"] == "outer"
    for threads in (1, 2, 3, None):
        dx = fastsig.dense_backward(g[:, :1].copy(), x, w[:, :1].copy(), s[:, :1].copy(),
                                    num_threads=threads)[0]
        helpers.assert_bitwise_equal(dx, wide, f"{threads} threads")
    if dtype == np.float32:
        dy = fastsig.sigmoid_backward(g[:, :1].copy(), s[:, :1].copy()).astype(np.float64)
        helpers.assert_bitwise_equal(dx, (dy * w[:, 0].astype(np.float64)).astype(dtype),
                                     "dy w rounded once")


def _column_dot_in_lanes(row, w):
    """column_dots.h's order for one row, emulated exactly: LANES partial sums from +0,
    lane l taking p = l, l + LANES, ... in increasing p by one fused multiply-add (mpmath:
    the exact product and sum, rounded once at the dtype's precision), the last step
    whole with zeros past k, then the fixed tree s[l] += s[l + h], h = LANES/2 ... 1."""
    mpmath = pytest.importorskip("mpmath")
    dtype = row.dtype.type
    lanes, prec = (16, 24) if row.dtype == np.float32 else (8, 53)
    steps = -(-len(row) // lanes) * lanes
    row = np.concatenate([row, np.zeros(steps - len(row), row.dtype)])
    w = np.concatenate([w, np.zeros(steps - len(w), w.dtype)])
    sums = [dtype(0)] * lanes
    for p in range(steps):
        exact = mpmath.fadd(mpmath.fmul(float(row[p]), float(w[p]), exact=True),
                            float(sums[p % lanes]), prec=prec, rounding="n")
        sums[p % lanes] = dtype(float(exact))
    h = lanes // 2
    while h >= 1:
        sums = [sums[l] + sums[l + h] for l in range(h)]
        h //= 2
    return sums[0]


@pytest.mark.quick
@pytest.mark.parametrize("n,k", [(9, 5), (3, 11), (13, 16), (7, 17), (4, 29), (6, 40),
                                 (5, 45), (5, 71), (3, 33)], ids=str)
def test_one_column_sums_each_row_in_vector_lanes(dtype, rng, helpers, n, k):
    """A C of one column (column_dots.h, the avx2 and avx512 variants) has the bits of its
    documented order: each row's sum in 16 (float32) or 8 (float64) lanes along k, fused
    multiply-adds, then a fixed tree. The baseline keeps the tiles' order: the bits of
    that column of a wider w."""
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-2, 2, (k, 1)).astype(dtype)
    assert _plan(dtype, n, k, 1)["kernel"] == "dots"
    y = fastsig.matmul(x, w)
    if fastsig.show_config()["isa"] == "baseline":
        # column_dots.h needs AVX2 and FMA; the baseline keeps the tiles' order: the bits
        # of that column of a wider w (the vector tile, the register tile), σ's too.
        b = rng.uniform(-1, 1, 40).astype(dtype)
        wide_w = np.concatenate([w, rng.uniform(-2, 2, (k, 39)).astype(dtype)], axis=1)
        for width in (3, 40):
            wide = fastsig.matmul(x, wide_w[:, :width], num_threads=1)
            wide_s = fastsig.dense_forward(x, wide_w[:, :width], b[:width], num_threads=1)
            for threads in (1, 2, 3):
                helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=threads)[:, 0],
                                             wide[:, 0], f"width {width}, {threads}")
                helpers.assert_bitwise_equal(
                    fastsig.dense_forward(x, w, b[:1], num_threads=threads)[:, 0],
                    wide_s[:, 0], f"σ, width {width}, {threads}")
    else:
        lanes = np.array([_column_dot_in_lanes(x[i], w[:, 0]) for i in range(n)])
        helpers.assert_bitwise_equal(y[:, 0], lanes, "column_dots.h's order")


def _dots_widest(dtype):
    """The widest C the dots kernel takes in this build (0 in a variant without it)."""
    lanes = 16 if np.dtype(dtype) == np.float32 else 8
    return max([m for m in range(2, 9) if _plan(dtype, 100, 4 * lanes, m)["kernel"] == "dots"],
               default=0)


@pytest.mark.quick
def test_the_dots_kernel_takes_one_column_and_in_the_vector_variants_up_to_four(dtype):
    """plan(): a C of one column and depth >= 5 is the dots kernel's in every variant; in the
    avx2 and avx512 variants also two to four columns in float32, two or three in float64,
    from a depth of one step of its lanes (16 float32, 8 float64), whatever the rows or the
    threads; never a wider C, nor a shallower one, nor in the baseline variant."""
    lanes = 16 if dtype == np.float32 else 8
    widest = {"baseline": 1}.get(fastsig.show_config()["isa"],
                                 4 if dtype == np.float32 else 3)
    for k in (1, 4, 5, lanes - 1, lanes, lanes + 1, 300):
        for m in range(1, 7):
            expected = k >= 5 and (m == 1 or (m <= widest and k >= lanes))
            for n, threads in ((1, 1), (7, 1), (777, 1), (777, 2), (100003, 2)):
                p = _plan(dtype, n, k, m, threads)
                assert (p["kernel"] == "dots") == expected, (n, k, m, threads, p)
    assert _dots_widest(dtype) == (0 if widest == 1 else widest)
    # Two columns or more copy w's columns: not past the slabs' ceiling (8 MB).
    deep = 8 * 2**20 // np.dtype(dtype).itemsize // 2
    assert (_plan(dtype, 64, deep, 2)["kernel"] == "dots") == (widest > 1)
    assert _plan(dtype, 64, deep + 1, 2)["kernel"] != "dots"
    assert _plan(dtype, 64, deep + 1, 1)["kernel"] == "dots"


@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", [(9, 16, 2), (4, 29, 3), (6, 40, 4), (5, 45, 2), (3, 33, 3),
                                   (7, 17, 4), (2, 71, 3), (8, 8, 2)], ids=str)
def test_a_few_columns_sum_each_row_in_vector_lanes(dtype, rng, helpers, n, k, m):
    """A C of two to four columns that the dots kernel takes (the avx2 and avx512 variants)
    has each column in column_dots.h's documented order, the bits of that column alone;
    dense_forward adds the bias to each sum, then σ. Where the plan takes a tile (the
    baseline, float64's four columns, float32's depth below 16), the tiles' order: each
    column the bits of the same column of a wider w."""
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-2, 2, (k, m)).astype(dtype)
    b = rng.uniform(-1, 1, m).astype(dtype)
    y = fastsig.matmul(x, w)
    s = fastsig.dense_forward(x, w, b)
    if _plan(dtype, n, k, m)["kernel"] == "dots":
        lanes = np.array([[_column_dot_in_lanes(x[i], w[:, j]) for j in range(m)]
                          for i in range(n)])
        helpers.assert_bitwise_equal(y, lanes, "column_dots.h's order")
        for j in range(m):
            helpers.assert_bitwise_equal(
                fastsig.matmul(x, np.ascontiguousarray(w[:, j:j + 1]))[:, 0], y[:, j],
                f"column {j} alone")
    else:
        wide_w = np.concatenate([w, rng.uniform(-2, 2, (k, 40 - m)).astype(dtype)], axis=1)
        helpers.assert_bitwise_equal(fastsig.matmul(x, wide_w, num_threads=1)[:, :m], y,
                                     "the same columns of a wider w")
    helpers.assert_bitwise_equal(s, fastsig.sigmoid(y + b), "σ(x @ w + b)")


@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", [(777, 8, 1), (1000, 600, 1), (37, 5, 1), (1, 1000, 1),
                                   (300, 256, 1), (777, 16, 2), (1000, 600, 3), (37, 16, 4),
                                   (1, 1000, 2), (301, 256, 3), (33, 100, 4)], ids=str)
def test_a_few_columns_rows_keep_their_bits_in_any_batch_and_thread_count(dtype, rng, helpers,
                                                                          n, k, m):
    """One to four columns' rows (the dots kernel where the plan takes it): the same bits
    alone, in any slice of the batch and on any thread count; dense_forward is σ(x @ w + b)
    of those sums (fastsig's own σ); each within the products' bound of the float64
    product."""
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-2, 2, (k, m)).astype(dtype)
    b = rng.uniform(-1, 1, m).astype(dtype)
    whole = fastsig.matmul(x, w, num_threads=1)
    exact = x.astype(np.float64) @ w.astype(np.float64)
    bound = 2 * k * np.finfo(dtype).eps / 2 * (np.abs(x).astype(np.float64) @ np.abs(w))
    assert (np.abs(whole - exact) <= bound).all()
    for threads in (1, 2, 3):
        helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=threads), whole,
                                     f"{threads} threads")
        helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, b, num_threads=threads),
                                     fastsig.sigmoid(whole + b), f"σ, {threads} threads")
    for lo, hi in ((0, 1), (n - 1, n), (n // 3, n // 3 + 33), (1, n)):
        helpers.assert_bitwise_equal(fastsig.matmul(x[lo:hi], w), whole[lo:hi],
                                     f"rows {lo}:{hi}")


@pytest.mark.quick
@pytest.mark.parametrize("m", [1, 2, 3])
def test_an_x_from_memory_takes_the_dots_kernel_one_row_a_step_with_the_same_bits(
        dtype, rng, helpers, m):
    """plan(): the dots kernel reads x one row a step where x is larger than 12 MB (an x
    from memory: _dots_one_row), several rows a step below (column_dots.h: the avx2 and
    avx512 variants; the baseline's one-column kernel has no such choice); which rows
    share a step changes no sum, so the rows of such an x have the bits they have in a
    small batch, on any thread count, and dense_forward is σ of them."""
    itemsize = np.dtype(dtype).itemsize
    k = 301
    n = 12 * 2**20 // (k * itemsize) + 1       # just over 12 MB of x
    widest = 1 if fastsig.show_config()["isa"] == "baseline" else 3
    if m > widest:
        assert _plan(dtype, n, k, m)["kernel"] != "dots"
        return
    assert _plan(dtype, n, k, m)["kernel"] == "dots"
    assert _plan(dtype, n, k, m)["dots_one_row"] == (widest > 1)
    assert not _plan(dtype, n - 1, k, m)["dots_one_row"]
    assert not _plan(dtype, 777, k, m)["dots_one_row"]
    assert _plan(dtype, n, k, m, 2)["dots_one_row"] == (widest > 1)
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-2, 2, (k, m)).astype(dtype)
    b = rng.uniform(-1, 1, m).astype(dtype)
    whole = fastsig.matmul(x, w, num_threads=1)
    rows = np.r_[0:5, n // 2 - 3:n // 2 + 70, n - 9:n]
    helpers.assert_bitwise_equal(whole[rows], fastsig.matmul(x[rows], w, num_threads=1),
                                 "the same rows in a small batch")
    for threads in (2, 3):
        helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=threads), whole,
                                     f"{threads} threads")
    helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, b, num_threads=2),
                                 fastsig.sigmoid(whole + b), "σ(x @ w + b)")


def test_row_results_do_not_depend_on_the_batch(dtype, rng, helpers):
    """A row's result is the same alone or inside any batch (as fastsig.dask relies on)."""
    # (16, 12), (100, 16) and (513, 10): narrow layers, whose few rows take the few-rows
    # kernel and the rest the vector tile (513: depth blocks added in order), its ragged
    # last panel the short tile; (256, 24), (1000, 32), (100, 48): 5-8 rows take the
    # few-rows kernel in passes of 4, in runs of columns (1000: two depth blocks), or in one
    # pass of the eight-row tile on AVX-512 (float32 24: a ragged last vector); (100, 20)
    # and (513, 10) a vector and a half a row on AVX-512; (6, 40) and (263, 33): the
    # few-rows kernel's passes of four rows of w, then two, then one, in every depth block;
    # (40, 1000) and (37, 300): 1-3 rows of a wide layer, whose passes of four rows of w go
    # in explicit vectors, the columns past the last whole vector after them; (1100, 1000):
    # a w that leaves L2, 5-32 rows in passes of the few-rows kernel (5-16 without the
    # eight-row tile), more packing it.
    for k, m in ((2, 3), (1, 2), (3, 3), (4, 4), (16, 12), (100, 16), (513, 10), (64, 64),
                 (300, 77), (40, 1000), (37, 300), (256, 24), (1000, 32), (100, 48),
                 (100, 20), (6, 40), (263, 33), (1100, 1000)):
        x = rng.uniform(-1, 1, (1200, k)).astype(dtype)
        w = rng.uniform(-1, 1, (k, m)).astype(dtype)
        # One thread for the layer whose w streams from beyond L2: on many cores a
        # thread's share of it would not.
        threads = 1 if k * m >= 1100 * 1000 else None
        whole = fastsig.dense_forward(x, w, num_threads=threads)
        # One row, two, three and four (the few-rows kernel), 5, 7 and 8 (its eight-row
        # tile on AVX-512, else passes of it where the tile would pad), eleven and 32 (w
        # read in place), more.
        for lo, hi in ((0, 1), (42, 44), (5, 8), (9, 13), (0, 5), (10, 17), (2, 10),
                       (20, 31), (40, 72), (17, 300), (1199, 1200)):
            part = fastsig.dense_forward(x[lo:hi], w, num_threads=threads)
            helpers.assert_bitwise_equal(part, whole[lo:hi], f"rows {lo}:{hi}")


@pytest.mark.quick
def test_five_to_eight_rows_read_w_once_where_the_variant_has_the_eight_row_tile(
        dtype, rng, helpers):
    """5-8 rows take the few-rows kernel in one pass of the eight-row tile where vectors
    are 64 bytes (the avx512 variant with vector extensions; float64's 6 rows of a layer
    256 or more wide that stays in L2 the register tile, one whole panel), else passes of
    four rows where they take it; where w streams from beyond L2, 5-16 rows take the
    kernel (5-32 where it has the eight-row tile, which then fetches w ahead); either way a row's bits are those
    it has inside any batch, a ragged last vector (read by a masked load), several depth
    blocks and a w wider than the kernel's column blocks included, and inf and NaN reach
    only their own rows."""
    lanes = 64 // np.dtype(dtype).itemsize
    has_vectors = any(_plan(dtype, 1000, 64, m)["kernel"] == "vector_tile"
                      for m in range(1, 33))
    one_pass = 8 if _dispatch.ISA == "avx512" and has_vectors else 4
    l2 = _blocking.choose()["l2_bytes"]
    # (2, 7): too shallow for the few-rows kernel, the vector tile's row kernel instead;
    # (1100, 1000): a w that streams from beyond L2 on the CPUs fastsig has met.
    for k, m in ((256, 256), (300, 45), (513, 5), (31, 200), (100, 3 * lanes + 1),
                 (100, 3 * lanes), (64, 2 * lanes), (2, 7), (300, 600), (1100, 1000)):
        streams = k * m * np.dtype(dtype).itemsize > l2 * 3 // 4
        x = rng.uniform(-1, 1, (64, k)).astype(dtype)
        w = rng.uniform(-1, 1, (k, m)).astype(dtype)
        b = rng.uniform(-1, 1, m).astype(dtype)
        whole = fastsig.dense_forward(x, w, b, num_threads=1)
        whole_y = fastsig.matmul(x, w, num_threads=1)
        for n in list(range(5, 9)) + ([12, 16, 20, 32] if streams else []):
            p = _plan(dtype, n, k, m, 1)
            # A whole panel of the register tile (float64's MR 6) reads a wide w once too.
            whole_panel = (n, dtype) == (6, np.float64) and m >= 256
            if streams and n > (32 if one_pass == 8 else 16):
                assert p["kernel"] == "register_tile" and p["b_per_task"], (n, k, m, p)
            elif streams:
                assert p["kernel"] == "few_rows" and p["few_rows_pass"] == one_pass, (n, k, m, p)
                assert p["few_rows_fetch"] == (one_pass == 8), (n, k, m, p)
            elif one_pass == 8 and whole_panel:
                assert p["kernel"] == "register_tile" and p["b_in_place"], (n, k, m, p)
            elif one_pass == 8 and k > 2:
                assert p["kernel"] == "few_rows" and p["few_rows_pass"] == 8, (n, k, m, p)
                assert not p["few_rows_fetch"], (n, k, m, p)
            else:
                assert p["few_rows_pass"] in (0, 4), (n, k, m, p)
            lo = 3 + n
            for threads in (1, 2):
                part = fastsig.dense_forward(x[lo:lo + n], w, b, num_threads=threads)
                helpers.assert_bitwise_equal(part, whole[lo:lo + n], f"{n} rows of {k}x{m}")
                part = fastsig.matmul(x[lo:lo + n], w, num_threads=threads)
                helpers.assert_bitwise_equal(part, whole_y[lo:lo + n], f"{n} rows of {k}x{m}")
            helpers.gemm_bound_check(part, x[lo:lo + n], w, what=f"{n} rows of {k}x{m}")
        bad = x[:7].copy()
        bad[[1, 4], 0] = np.inf
        bad[5, k - 1] = np.nan
        y = fastsig.matmul(bad, w, num_threads=1)
        helpers.assert_bitwise_equal(y[[0, 2, 3, 6]], whole_y[[0, 2, 3, 6]], "finite rows")
        assert not np.isfinite(y[[1, 4, 5]]).any()


@pytest.mark.quick
def test_few_rows_of_a_wide_shallow_w_keep_their_sums_within_the_scratch(dtype, rng, helpers):
    """A pass of 1-4 rows keeps its sums in the thread's scratch, a column block at a time,
    whatever the passes before it: rows of a w tens of thousands of columns wide and a few
    rows deep (sums far larger than the scratch, which such a shallow w's packing leaves
    small), alone and after passes of the eight-row tile (9-12 rows of a w that streams
    from beyond L2: 16 × 40000 float32 is 2.56 MB), have the bits of the same rows inside
    a batch and the matmul's error bound. (5015f2c wrote a 1-4-row pass's sums for all the
    columns at once where the eight-row tile is built: past the scratch.) The sanitizer
    build runs this test, and poisons what a call leaves unused of a kept scratch
    buffer (scratch.h)."""
    l2 = _blocking.choose()["l2_bytes"]
    for k, m in ((1, 40000), (5, 40001), (16, 40000)):
        x = rng.uniform(-1, 1, (24, k)).astype(dtype)
        w = rng.uniform(-1, 1, (k, m)).astype(dtype)
        whole = fastsig.matmul(x, w, num_threads=1)
        streams = k * m * np.dtype(dtype).itemsize > l2 * 3 // 4
        for n in (1, 2, 3, 4, 9, 11, 12):
            if n <= 4 or streams:
                assert _plan(dtype, n, k, m, 1)["kernel"] == "few_rows", (n, k, m)
            for threads in (1, 2):
                part = fastsig.matmul(x[5:5 + n], w, num_threads=threads)
                helpers.assert_bitwise_equal(part, whole[5:5 + n], f"{n} rows of {k}x{m}")
            helpers.gemm_bound_check(part, x[5:5 + n], w, what=f"{n} rows of {k}x{m}")


@pytest.mark.quick
def test_a_sum_of_negative_zero_keeps_its_sign_in_any_batch(dtype, helpers):
    """A sum that is -0 (a negative product that underflows, then products of -0) has the
    sign of zero of the tiles' arithmetic on 1-8 rows too (the few-rows kernel's passes in
    explicit vectors, its eight-row tile), and the same bits as the rows inside a batch.
    With FMA the first multiply-add rounds the product alone, to -0; without (the
    baseline variant), the product's -0 is added to the sum's +0, which is +0."""
    tiny = np.finfo(dtype).smallest_subnormal ** 0.5 / 4   # tiny * tiny rounds to zero
    k, m = 12, 300
    x = np.full((64, k), -0.0, dtype)
    x[:, 0] = -tiny
    w = np.full((k, m), tiny, dtype)
    whole = fastsig.matmul(x, w)
    assert np.all(whole == 0)
    if _dispatch.ISA != "baseline":
        assert np.all(np.signbit(whole)), "the batch's sums are not -0"
    for rows in range(1, 9):
        helpers.assert_bitwise_equal(fastsig.matmul(x[:rows], w), whole[:rows],
                                     f"{rows} rows")


@pytest.mark.quick
@pytest.mark.parametrize("k,m", [(300, 12), (300, 16), (16, 5), (4, 5), (2, 3), (4, 4),
                                 (300, 1), (29, 1), (5, 1), (300, 10), (300, 20)],
                         ids=str)
def test_non_finite_rows_stay_in_their_rows(dtype, rng, helpers, k, m):
    """inf and NaN in x reach only their own rows of the product.

    The vector tile computes lanes past C's last column (against zero padding, so
    inf * 0 = NaN there) and stores whole vectors over the next row where it can: that
    row must still come out exact, also when a second depth block adds into C."""
    x = rng.uniform(-1, 1, (257, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, m)).astype(dtype)
    clean = fastsig.matmul(x, w, num_threads=1)
    bad_rows = [0, 11, 12, 100, 256]
    x[bad_rows, 3 % k] = np.inf
    x[bad_rows[::2], k - 1] = np.nan
    y = fastsig.matmul(x, w, num_threads=1)
    good = np.setdiff1d(np.arange(257), bad_rows)
    helpers.assert_bitwise_equal(y[good], clean[good], "rows without inf or NaN")
    assert not np.isfinite(y[bad_rows]).any()


# The native fast paths (_kernels/native.pxi) and the full path give the same bits, and the fast
# paths run threaded above the threads' thresholds. The native paths take num_threads None and
# a positive int; one thread given as a numpy integer (FULL_PATH_ONE) takes the full path.
@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", [(2, 2, 3), (1, 1, 1), (40, 30, 50), (300, 200, 100),
                                   (16, 256, 256)], ids=str)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_native_calls_match_the_full_path(dtype, rng, helpers, n, k, m, threads):
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-2, 2, (k, m)).astype(dtype)
    b = rng.uniform(-2, 2, m).astype(dtype)
    fast = _dispatch.kernels.matmul_native(x, w, None, threads)
    assert fast is not None and fast.dtype == dtype and fast.shape == (n, m)
    helpers.assert_bitwise_equal(fast, fastsig.matmul(x, w, num_threads=FULL_PATH_ONE),
                                 "matmul")
    helpers.assert_bitwise_equal(fastsig.matmul(x, w), fast, "matmul")
    out = np.full((n, m), np.nan, dtype)
    assert _dispatch.kernels.matmul_native(x, w, out, threads) is out
    helpers.assert_bitwise_equal(out, fast, "matmul, out=")
    for bias, accuracy in ((b, "high"), (None, "high"), (b, "fast"), (None, "fast")):
        fast = _dispatch.kernels.dense_forward_native(x, w, bias, None, accuracy == "fast",
                                                      threads)
        assert fast is not None
        full = fastsig.dense_forward(x, w, bias, num_threads=FULL_PATH_ONE, accuracy=accuracy)
        helpers.assert_bitwise_equal(fast, full, f"dense_forward, {accuracy}")
        out = np.full((n, m), np.nan, dtype)
        assert fastsig.dense_forward(x, w, bias, out=out, accuracy=accuracy) is out
        helpers.assert_bitwise_equal(out, full, f"dense_forward, out=, {accuracy}")
        helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, bias, accuracy=accuracy), full,
                                     f"dense_forward, {accuracy}")
    g = rng.uniform(-2, 2, (n, m)).astype(dtype)
    s = fastsig.dense_forward(x, w, b)
    for compute_dx in (True, False):
        fast = _dispatch.kernels.dense_backward_native(g, x, w, s, compute_dx, None, threads)
        assert fast is not None and (fast[0] is None) == (not compute_dx)
        full = fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx,
                                      num_threads=FULL_PATH_ONE)
        api = fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx)
        for name, a, c, d in zip(("dx", "dw", "db"), fast, full, api):
            if not compute_dx and name == "dx":
                assert a is None and c is None and d is None
                continue
            assert a.dtype == dtype and a.shape == c.shape
            helpers.assert_bitwise_equal(a, c, f"dense_backward {name}")
            helpers.assert_bitwise_equal(d, c, f"dense_backward {name}")
        outs = tuple(None if a is None else np.full_like(a, np.nan) for a in fast)
        into = _dispatch.kernels.dense_backward_native(g, x, w, s, compute_dx, outs, threads)
        assert into is not None and all(r is o for r, o in zip(into, outs))
        got = fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx, out=outs)
        assert all(r is o for r, o in zip(got, outs))
        for name, a, c in zip(("dx", "dw", "db"), outs, full):
            if a is not None:
                helpers.assert_bitwise_equal(a, c, f"dense_backward {name}, out=")


@pytest.mark.quick
def test_the_native_fast_paths_refuse(rng):
    """Everything but native, C-contiguous, aligned arrays of one float dtype goes to the
    full path (None), which converts it or raises the contract's error."""
    kernels = _dispatch.kernels

    def small(a, c, o):
        return kernels.matmul_native(a, c, o, 2)

    x = rng.uniform(-1, 1, (4, 3))
    w = rng.uniform(-1, 1, (3, 5))
    unaligned = np.zeros(4 * 3 * 8 + 1, np.uint8)[1:].view(np.float64).reshape(4, 3)
    unaligned[...] = x
    refused = {
        "list": (x.tolist(), w),
        "fortran": (np.asfortranarray(x), w),
        "strided": (rng.uniform(-1, 1, (4, 6))[:, ::2], w),
        "mixed dtypes": (x.astype(np.float32), w),
        "integers": (x.astype(np.int64), w.astype(np.int64)),
        "byte-swapped": (x.astype(">f8"), w.astype(">f8")),
        "subclass": (x.view(np.matrix), w),
        "1-D": (x[0], w),
        "shapes do not fit": (x, w.T.copy()),
        "empty": (x[:0], w),
        "unaligned": (unaligned, w),
    }
    for what, (a, c) in refused.items():
        assert small(a, c, None) is None, what
    out = np.empty((4, 5))
    for what, o in {"list": out.tolist(), "float32": out.astype(np.float32),
                    "shape": out.T.copy(), "fortran": np.asfortranarray(out),
                    "byte-swapped": out.astype(">f8"), "is x": x, "overlaps w": w}.items():
        if what == "overlaps w":
            o = np.empty(20)
            w_in = o[:15].reshape(3, 5)
            w_in[...] = w
            assert small(x, w_in, o.reshape(4, 5)) is None, what
            continue
        assert small(x, w, o) is None, what
    read_only = np.empty((4, 5))
    read_only.flags.writeable = False
    assert small(x, w, read_only) is None, "read-only"
    def forward(a, c, bias, o, fast):
        return kernels.dense_forward_native(a, c, bias, o, fast, 2)

    assert forward(x, w, np.zeros(4), None, False) is None  # b's length
    assert forward(x, w, np.zeros(5, np.float32), None, False) is None
    b = np.zeros(25)
    assert forward(x, w, b[:5], b[4:24].reshape(4, 5), False) is None  # out overlaps b
    with pytest.raises(ValueError, match="overlaps the input b"):
        fastsig.dense_forward(x, w, b[:5], out=b[4:24].reshape(4, 5))
    apart = forward(x, w, b[:5], b[5:].reshape(4, 5), False)  # beside b, not on it
    assert apart is not None and apart.base is b
    def backward(g, a, c, s, compute_dx, o):
        return kernels.dense_backward_native(g, a, c, s, compute_dx, o, 2)

    g = rng.uniform(-1, 1, (4, 5))
    assert backward(g, x, w, g, True, None) is not None
    assert backward(g[:, :4].copy(), x, w, g, True, None) is None  # grad of the wrong shape
    assert backward(g, x, w, g[:3].copy(), True, None) is None  # s of the wrong shape
    assert backward(g.astype(np.float32), x, w, g, True, None) is None  # mixed dtypes
    assert backward(g.tolist(), x, w, g, True, None) is None
    assert backward(np.asfortranarray(g), x, w, g, True, None) is None
    dx, dw, db = np.empty((4, 3)), np.empty((3, 5)), np.empty(5)
    assert backward(g, x, w, g, True, (dx, dw, db)) is not None
    refused = {
        "a list": [dx, dw, db], "two": (dx, dw), "dx given, not asked": (dx, dw, db),
        "dx asked, None": (None, dw, db), "dw shape": (dx, dw.T.copy(), db),
        "db dtype": (dx, dw, db.astype(np.float32)), "dx is x": (x, dw, db),
        "dw overlaps db": (dx, *(lambda m: (m[:15].reshape(3, 5), m[14:19]))(np.empty(20))),
    }
    for what, outs in refused.items():
        compute_dx = what != "dx given, not asked"
        assert backward(g, x, w, g, compute_dx, outs) is None, what
    with pytest.raises(ValueError, match="overlaps"):
        fastsig.dense_backward(g, x, w, g, out=refused["dw overlaps db"])
    # and through the API the contract holds as before
    with pytest.raises(ValueError, match="do not align"):
        fastsig.matmul(x, w.T.copy())
    np.testing.assert_allclose(fastsig.matmul(x.tolist(), w), x @ w, rtol=1e-14)
    assert not unaligned.flags.aligned
    np.testing.assert_array_equal(fastsig.matmul(unaligned, w), fastsig.matmul(x, w))


# The elementwise functions' native paths (sigmoid_native, sigmoid_backward_native): any shape,
# with or without out=, threaded from the threshold on, the full path's bits.
@pytest.mark.quick
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 4), (24575,), (24576,), (49151,), (49152,),
                                   (300, 301)], ids=str)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_native_elementwise_calls_match_the_full_path(dtype, rng, helpers, shape, threads):
    kernels = _dispatch.kernels
    y = rng.uniform(-30, 30, shape).astype(dtype)
    s = rng.uniform(0, 1, shape).astype(dtype)
    for accuracy in ("high", "fast"):
        full = fastsig.sigmoid(y, num_threads=FULL_PATH_ONE, accuracy=accuracy)
        small = kernels.sigmoid_native(y, None, accuracy == "fast", threads)
        assert small is not None and small.shape == shape and small.dtype == dtype
        helpers.assert_bitwise_equal(small, full, f"sigmoid, {accuracy}")
        helpers.assert_bitwise_equal(fastsig.sigmoid(y, accuracy=accuracy), full, accuracy)
        out = np.full(shape, np.nan, dtype)
        assert fastsig.sigmoid(y, out=out, accuracy=accuracy) is out
        helpers.assert_bitwise_equal(out, full, f"sigmoid, out=, {accuracy}")
        z = y.copy()
        assert fastsig.sigmoid(z, out=z, accuracy=accuracy) is z
        helpers.assert_bitwise_equal(z, full, f"sigmoid in place, {accuracy}")
    full = fastsig.sigmoid_backward(y, s, num_threads=FULL_PATH_ONE)
    small = kernels.sigmoid_backward_native(y, s, None, threads)
    assert small is not None and small.shape == shape and small.dtype == dtype
    helpers.assert_bitwise_equal(small, full, "sigmoid_backward")
    out = np.full(shape, np.nan, dtype)
    assert fastsig.sigmoid_backward(y, s, out=out) is out
    helpers.assert_bitwise_equal(out, full, "sigmoid_backward, out=")
    for which in ("grad", "s"):
        g2, s2 = y.copy(), s.copy()
        target = g2 if which == "grad" else s2
        assert fastsig.sigmoid_backward(g2, s2, out=target) is target
        helpers.assert_bitwise_equal(target, full, f"sigmoid_backward into {which}")


@pytest.mark.quick
def test_the_native_paths_ask_for_the_thread_count_only_where_they_may_thread(dtype, rng,
                                                                              helpers):
    """_public.pyx hands the native paths get_num_threads itself: a call below its kernel's
    threshold for threads runs on one thread without asking (a small call does not pay for
    it), one at the threshold asks once; either way the full path's bits."""
    kernels = _dispatch.kernels
    name = np.dtype(dtype).name
    asked = []

    def threads_of():
        asked.append(True)
        return 2

    def check(label, native, full, expect_ask):
        asked.clear()
        result = native()
        assert result is not None, label
        assert len(asked) == (1 if expect_ask else 0), label
        for got, want in zip(result if isinstance(result, tuple) else [result],
                             full if isinstance(full, tuple) else [full]):
            if want is None:    # dense_backward's dx with compute_dx=False
                assert got is None, label
                continue
            helpers.assert_bitwise_equal(got, want, label)

    for size, may_thread in ((kernels.MIN_ELEMENTS_FOR_THREADS[name] - 1, False),
                             (kernels.MIN_ELEMENTS_FOR_THREADS[name], True)):
        y = rng.uniform(-30, 30, size).astype(dtype)
        check(f"sigmoid of {size}", lambda: kernels.sigmoid_native(y, None, False, threads_of),
              fastsig.sigmoid(y, num_threads=FULL_PATH_ONE, accuracy="high"), may_thread)
    limit = kernels.MIN_BACKWARD_ELEMENTS_FOR_THREADS[name]
    for size, may_thread in ((limit - 1, False), (limit, True)):
        g = rng.standard_normal(size).astype(dtype)
        s = rng.uniform(0, 1, size).astype(dtype)
        check(f"sigmoid_backward of {size}",
              lambda: kernels.sigmoid_backward_native(g, s, None, threads_of),
              fastsig.sigmoid_backward(g, s, num_threads=FULL_PATH_ONE), may_thread)
    limit = kernels.MIN_MULADDS_FOR_THREADS[name]
    w = rng.standard_normal((64, 64)).astype(dtype)
    b = rng.standard_normal(64).astype(dtype)
    for n, may_thread in ((limit // (64 * 64) - 1, False), (limit // (64 * 64), True)):
        x = rng.standard_normal((n, 64)).astype(dtype)
        check(f"matmul of {n} rows", lambda: kernels.matmul_native(x, w, None, threads_of),
              fastsig.matmul(x, w, num_threads=FULL_PATH_ONE), may_thread)
    # dense_forward's epilogue counts EPILOGUE_MULADDS_FOR_THREADS a result element.
    rows = -(-limit // (64 * (64 + kernels.EPILOGUE_MULADDS_FOR_THREADS)))
    assert rows * 128 < kernels.MIN_PRODUCT_ELEMENTS_FOR_THREADS
    for n, may_thread in ((rows - 1, False), (rows, True)):
        assert (kernels.product_work(n, 64, 64)
                >= kernels.product_min_work(name, n, 64, 64, epilogue=True)) == may_thread
        x = rng.standard_normal((n, 64)).astype(dtype)
        check(f"dense_forward of {n} rows",
              lambda: kernels.dense_forward_native(x, w, b, None, False, threads_of),
              fastsig.dense_forward(x, w, b, num_threads=FULL_PATH_ONE, accuracy="high"),
              may_thread)
    # dense_backward from its own rule (kernels.backward_min_work): a batch of a 1×1
    # layer (parts a thread's each) threaded from MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS
    # elements of x and dy, one of a 64×64 layer (the threads would share one block and
    # exchange dy's panels) from MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS; with dx and
    # without.
    for k, m in ((1, 1), (64, 64)):
        if k == 1:
            rows = kernels.MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS // (k + m)
            assert kernels.product_work(rows, k, m) < limit
        else:
            rows = kernels.MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS // (k * m)
        for n, may_thread in ((rows - 1, False), (rows, True)):
            assert kernels.plan(name, "dense_backward", n, k, m, 2)["one_thread"] != may_thread
            x = rng.standard_normal((n, k)).astype(dtype)
            w = rng.standard_normal((k, m)).astype(dtype)
            g = rng.standard_normal((n, m)).astype(dtype)
            s = rng.uniform(0, 1, (n, m)).astype(dtype)
            for compute_dx in (True, False):
                check(f"dense_backward of {n}x{k} @ {k}x{m}, compute_dx={compute_dx}",
                      lambda: kernels.dense_backward_native(g, x, w, s, compute_dx, None,
                                                            threads_of),
                      fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx,
                                             num_threads=FULL_PATH_ONE), may_thread)
    # One row of a w of at most 5/4 of one core's L2: one thread whatever its work; of a
    # wider w, threaded from the threshold (a row counts as FEW_ROWS_WORK rows:
    # kernels.product_work; on a 2 MB L2 it is reached).
    widest_in_l2 = kernels.blocking()["l2_bytes"] // 4 * 5 // (64 * np.dtype(dtype).itemsize)
    for m in (widest_in_l2, widest_in_l2 + 1):
        x = rng.standard_normal((1, 64)).astype(dtype)
        w = rng.standard_normal((64, m)).astype(dtype)
        work = kernels.product_work(1, 64, m)
        may_thread = work >= kernels.product_min_work(name, 1, 64, m)
        assert may_thread == (m > widest_in_l2 and work >= limit), m
        check(f"matmul of one row, {m} columns",
              lambda: kernels.matmul_native(x, w, None, threads_of),
              fastsig.matmul(x, w, num_threads=FULL_PATH_ONE), may_thread)
        g = rng.standard_normal((1, m)).astype(dtype)
        s = rng.uniform(0, 1, (1, m)).astype(dtype)
        may_thread = work >= kernels.backward_min_work(name, 1, 64, m)
        assert not may_thread or m > widest_in_l2, m
        check(f"dense_backward of one row, {m} columns",
              lambda: kernels.dense_backward_native(g, x, w, s, True, None, threads_of),
              fastsig.dense_backward(g, x, w, s, num_threads=FULL_PATH_ONE), may_thread)
    # A narrow layer's product from MIN_PRODUCT_ELEMENTS_FOR_THREADS elements of x and
    # the result, at any work; dense_forward's also from its multiply-adds and its
    # epilogue's EPILOGUE_MULADDS_FOR_THREADS an element, where that comes first.
    rows = kernels.MIN_PRODUCT_ELEMENTS_FOR_THREADS // 2
    epilogue_rows = -(-limit // (1 + kernels.EPILOGUE_MULADDS_FOR_THREADS))
    w = rng.standard_normal((1, 1)).astype(dtype)
    for n, may_thread in ((rows - 1, False), (rows, True), (epilogue_rows - 1, False),
                          (epilogue_rows, True)):
        x = rng.standard_normal((n, 1)).astype(dtype)
        if n in (rows - 1, rows):
            check(f"matmul of {n} rows of a 1x1 layer",
                  lambda: kernels.matmul_native(x, w, None, threads_of),
                  fastsig.matmul(x, w, num_threads=FULL_PATH_ONE), may_thread)
        may_thread = n >= min(rows, epilogue_rows)
        check(f"dense_forward of {n} rows of a 1x1 layer",
              lambda: kernels.dense_forward_native(x, w, w[0], None, False, threads_of),
              fastsig.dense_forward(x, w, w[0], num_threads=FULL_PATH_ONE, accuracy="high"),
              may_thread)


@pytest.mark.quick
def test_the_full_path_counts_a_few_rows_as_the_plan_does(dtype, rng, helpers, monkeypatch,
                                                         thread_setting):
    """_api.py's full path (here for a strided x) decides a product's threads from
    kernels.product_work and product_min_work, as the native paths and plan() do: one row
    of a w of at most 5/4 of one core's L2 on one thread, of a wider w threaded."""
    kernels = _dispatch.kernels
    widest_in_l2 = kernels.blocking()["l2_bytes"] // 4 * 5 // (64 * np.dtype(dtype).itemsize)
    passed = []
    matmul = kernels.matmul

    def spy(x, w, out, threads):
        passed.append(threads)
        return matmul(x, w, out, threads)

    monkeypatch.setattr(kernels, "matmul", spy)
    thread_setting(2)
    limit = kernels.MIN_MULADDS_FOR_THREADS[np.dtype(dtype).name]
    for m in (widest_in_l2, widest_in_l2 + 1):
        work = kernels.product_work(1, 64, m)
        threads = 2 if work >= kernels.product_min_work(dtype, 1, 64, m) else 1
        assert (threads == 2) == (m > widest_in_l2 and work >= limit), m
        x = rng.standard_normal((1, 128)).astype(dtype)[:, ::2]
        w = rng.standard_normal((64, m)).astype(dtype)
        passed.clear()
        y = fastsig.matmul(x, w)
        assert passed == [threads], (m, passed)
        helpers.gemm_bound_check(y, x, w, what="matmul")


@pytest.mark.quick
def test_the_full_path_counts_dense_forwards_epilogue_as_the_plan_does(dtype, rng, helpers,
                                                                     monkeypatch,
                                                                     thread_setting):
    """_api.py's full path (here for a strided x) counts dense_forward's epilogue,
    EPILOGUE_MULADDS_FOR_THREADS a result element, as the native path and plan() do: a
    product whose multiply-adds alone fall short of the threshold runs matmul on one
    thread and dense_forward on two."""
    kernels = _dispatch.kernels
    limit = kernels.MIN_MULADDS_FOR_THREADS[np.dtype(dtype).name]
    n, k, m = limit // 512, 16, 20
    passed = []
    # The thread count's place: matmul(x, w, out, threads), dense_forward(x, w, b,
    # has_bias, out, threads, fast).
    for name, place in (("matmul", -1), ("dense_forward", -2)):
        kernel = getattr(kernels, name)

        def spy(*args, kernel=kernel, place=place):
            passed.append(args[place])
            return kernel(*args)

        monkeypatch.setattr(kernels, name, spy)
    thread_setting(2)
    x = rng.standard_normal((n, 2 * k)).astype(dtype)[:, ::2]
    w = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    y = fastsig.matmul(x, w)
    s = fastsig.dense_forward(x, w, b)
    assert passed == [1, 2], passed
    assert kernels.plan(dtype, "matmul", n, k, m)["one_thread"]
    assert not kernels.plan(dtype, "dense_forward", n, k, m)["one_thread"]
    helpers.gemm_bound_check(y, x, w, what="matmul")
    helpers.assert_bitwise_equal(s, fastsig.dense_forward(x, w, b, num_threads=1),
                                 "dense_forward")


@pytest.mark.quick
def test_a_threads_rows_give_the_bits_of_one_thread(dtype, rng, helpers):
    """Up to 96 rows of a small w whose threads take their own rows, or share the columns
    (too few rows a thread, or uneven rows): the bits of one thread on 2, 3, 4 and 7."""
    for n, k, m in ((64, 4, 512), (72, 96, 256), (38, 64, 192), (96, 16, 1000)):
        x = rng.standard_normal((n, k)).astype(dtype)
        w = rng.standard_normal((k, m)).astype(dtype)
        b = rng.standard_normal(m).astype(dtype)
        y = fastsig.matmul(x, w, num_threads=1)
        s = fastsig.dense_forward(x, w, b, num_threads=1)
        helpers.gemm_bound_check(y, x, w, what="matmul")
        for threads in (2, 3, 4, 7):
            label = f"{n}x{k} @ {k}x{m} on {threads} threads"
            helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=threads), y,
                                         f"matmul {label}")
            helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, b, num_threads=threads),
                                         s, f"dense_forward {label}")


@pytest.mark.quick
def test_the_full_path_threads_the_backward_as_the_plan_does(dtype, rng, helpers,
                                                           monkeypatch, thread_setting):
    """_api.py's full path (here for a strided x) decides dense_backward's threads from
    kernels.backward_min_work, as the native path and plan() do: a batch of a 1×1 layer
    (parts) and one of a 64×64 layer (the threads would share one block) on one thread
    just below their thresholds, threaded at them; the same results either way."""
    kernels = _dispatch.kernels
    name = np.dtype(dtype).name
    rows = kernels.MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS // (64 * 64)
    passed = []
    backward = kernels.dense_backward

    def spy(*args):
        passed.append(args[-1])
        return backward(*args)

    monkeypatch.setattr(kernels, "dense_backward", spy)
    thread_setting(2)
    # A batch of a 1×1 layer (parts a thread's each) from
    # MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS elements of x and dy.
    parts_rows = kernels.MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS // 2
    for n, threads in ((parts_rows - 1, 1), (parts_rows, 2)):
        x = rng.standard_normal((n, 2)).astype(dtype)[:, ::2]
        w = rng.standard_normal((1, 1)).astype(dtype)
        g = rng.standard_normal((n, 1)).astype(dtype)
        s = fastsig.dense_forward(x, w)
        passed.clear()
        result = fastsig.dense_backward(g, x, w, s)
        assert passed == [threads], (n, passed)
        for got, want in zip(result, fastsig.dense_backward(g, x, w, s, num_threads=1)):
            helpers.assert_bitwise_equal(got, want, f"{n} rows of a 1x1 layer")
    for n, threads in ((rows - 1, 1), (rows, 2)):
        p = kernels.plan(name, "dense_backward", n, 64, 64, 2)
        assert p["one_thread"] == (threads == 1), n
        x = rng.standard_normal((n, 128)).astype(dtype)[:, ::2]
        w = (rng.standard_normal((64, 64)) / 8).astype(dtype)
        g = rng.standard_normal((n, 64)).astype(dtype)
        s = fastsig.dense_forward(x, w)
        passed.clear()
        dx, dw, db = fastsig.dense_backward(g, x, w, s)
        assert passed == [threads], (n, passed)
        dx1, dw1, db1 = fastsig.dense_backward(g, x, w, s, num_threads=1)
        for got, want, what in ((dx, dx1, "dx"), (dw, dw1, "dw"), (db, db1, "db")):
            helpers.assert_bitwise_equal(got, want, what)


@pytest.mark.quick
def test_a_given_count_takes_the_native_paths(dtype, rng, helpers, monkeypatch):
    """A positive int num_threads on native arrays is computed by the native fast paths,
    as num_threads=None is: the full path's kernels, replaced by ones that fail, are never
    called, and the bits are the full path's. A numpy integer takes the full path."""
    kernels = _dispatch.kernels
    x = rng.uniform(-2, 2, (40, 30)).astype(dtype)
    w = rng.uniform(-2, 2, (30, 50)).astype(dtype)
    b = rng.uniform(-2, 2, 50).astype(dtype)
    g = rng.uniform(-2, 2, (40, 50)).astype(dtype)
    s = fastsig.dense_forward(x, w, b)
    calls = {
        "matmul": lambda t: fastsig.matmul(x, w, num_threads=t),
        "dense_forward": lambda t: fastsig.dense_forward(x, w, b, num_threads=t),
        "dense_backward": lambda t: fastsig.dense_backward(g, x, w, s, num_threads=t),
        "sigmoid": lambda t: fastsig.sigmoid(g, num_threads=t),
        "sigmoid_backward": lambda t: fastsig.sigmoid_backward(g, s, num_threads=t),
    }
    full = {name: call(FULL_PATH_ONE) for name, call in calls.items()}

    def refuse(*args):
        raise AssertionError("the full path ran")

    proxy = types.SimpleNamespace(**{name: getattr(kernels, name) for name in dir(kernels)
                                     if not name.startswith("__")})
    for name in calls:
        setattr(proxy, name, refuse)
    monkeypatch.setattr(fastsig._api, "_kernels", proxy)
    for name, call in calls.items():
        for count in (1, 2, 3):
            got = call(count)
            for a, c in zip(got if isinstance(got, tuple) else [got],
                            full[name] if isinstance(full[name], tuple) else [full[name]]):
                helpers.assert_bitwise_equal(a, c, f"{name}, num_threads={count}")
        with pytest.raises(AssertionError, match="the full path ran"):
            call(FULL_PATH_ONE)


@pytest.mark.quick
def test_the_native_elementwise_paths_refuse(rng):
    """What the elementwise native paths leave to the full path, which converts it or raises
    the contract's error (the same errors as without the native paths)."""
    kernels = _dispatch.kernels

    def sig(a, o, fast):
        return kernels.sigmoid_native(a, o, fast, 2)

    def back(g, s, o):
        return kernels.sigmoid_backward_native(g, s, o, 2)

    y = rng.uniform(-3, 3, (4, 6))
    s = rng.uniform(0, 1, (4, 6))
    out = np.empty((4, 6))
    refused_inputs = {
        "list": y.tolist(), "strided": y[:, ::2], "fortran": np.asfortranarray(y),
        "float16": y.astype(np.float16), "integers": y.astype(np.int64),
        "byte-swapped": y.astype(">f8"), "subclass": y.view(np.matrix),
    }
    for what, a in refused_inputs.items():
        assert sig(a, None, False) is None, what
        assert back(a, a, None) is None, what
    refused_outs = {
        "list": [0.0] * 24, "float32": out.astype(np.float32), "shape": out.reshape(6, 4),
        "strided": np.empty((4, 12))[:, ::2], "read-only": np.empty((4, 6)),
        "byte-swapped": out.astype(">f8"),
        "unaligned": np.zeros(24 * 8 + 1, np.uint8)[1:].view(np.float64).reshape(4, 6),
    }
    refused_outs["read-only"].flags.writeable = False
    for what, o in refused_outs.items():
        assert sig(y, o, False) is None, what
        assert back(y, s, o) is None, what
    buffer = np.empty(30)
    view_a, view_b = buffer[:24].reshape(4, 6), buffer[6:30].reshape(4, 6)
    assert sig(view_a, view_b, False) is None, "partial overlap with y"
    assert back(view_a, s, view_b) is None, "partial overlap with grad"
    assert back(y, view_a, view_b) is None, "partial overlap with s"
    assert back(y, s[:, :5].copy(), None) is None, "shapes differ"
    assert back(y, s.astype(np.float32), None) is None, "dtypes differ"
    # and through the API the contract holds as before
    with pytest.raises(ValueError, match="partially overlaps"):
        fastsig.sigmoid(view_a, out=view_b)
    with pytest.raises(TypeError, match="dtype"):
        fastsig.sigmoid(y, out=out.astype(np.float32))
    with pytest.raises(ValueError, match="read-only"):
        fastsig.sigmoid_backward(y, s, out=refused_outs["read-only"])
    with pytest.raises(ValueError, match="differ"):
        fastsig.sigmoid_backward(y, s[:, :5].copy())
    np.testing.assert_array_equal(fastsig.sigmoid(y.tolist()), fastsig.sigmoid(y))
