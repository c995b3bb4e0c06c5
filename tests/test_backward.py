"""dense_backward's blocked, deterministic reduction: many parts, every thread count."""

import numpy as np
import pytest

import fastsig
from fastsig import _reference


def _reference_backward(g, x, w, s):
    return _reference.dense_backward(g, x, w, s, np.float64)


# n large enough for many row blocks (and so many partial sums of dw and db);
# (k, m) on the matmul path (k·m large) and the plain-loop path (small), and on the
# matmul's narrow kernels (vector tile, transposed tile): an output at most half a
# register tile wide, for dx (k) or dw (m) or both; dw reads xᵀ through its strides, in
# whole and ragged panels, half a vector, one and two vectors wide; db and dw by the
# column-sum kernel (dy at most two vectors wide, rows of x up to 1 KB): one group of up to 8
# (4 for two vectors) rows of dw, several with a partial last one (9, 13, 30, 33, 100), chunks
# of rows that do not divide the blocks, dy a vector wide or less, or two (24, 29, 20 and 16
# in float64, per instruction set).
@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", [(20011, 40, 40), (50003, 3, 2), (9000, 1, 300),
                                   (20011, 16, 16), (10007, 300, 12), (10007, 12, 300),
                                   (20011, 7, 5), (10007, 13, 9), (10007, 5, 29),
                                   (20011, 4, 8), (9001, 1, 16), (7777, 2, 1),
                                   (20011, 33, 16), (10007, 100, 7), (9001, 64, 1),
                                   (20011, 9, 24), (10007, 30, 20), (20011, 24, 32),
                                   (10007, 100, 1)],    # dw by the loops, one column
                         ids=str)
def test_bitwise_identical_for_any_thread_count(dtype, rng, helpers, n, k, m):
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    ref = fastsig.dense_backward(g, x, w, s, num_threads=1)
    for threads in (2, 3, 4, 7):
        got = fastsig.dense_backward(g, x, w, s, num_threads=threads)
        for r, e in zip(got, ref):
            helpers.assert_bitwise_equal(r, e, f"num_threads={threads} vs 1")
    dx, dw, db = _reference_backward(g, x, w, s)
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(ref[0], dx, **tol)
    np.testing.assert_allclose(ref[1], dw, **tol)
    np.testing.assert_allclose(ref[2], db, **tol)


def test_run_to_run_identical(dtype, rng, helpers):
    n, k, m = 30000, 24, 64
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    first = fastsig.dense_backward(g, x, w, s)
    for _ in range(3):
        for r, e in zip(fastsig.dense_backward(g, x, w, s), first):
            helpers.assert_bitwise_equal(r, e, "a second run")


def _problem(rng, dtype, n=3000, k=20, m=30):
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    return g, x, w, s


@pytest.mark.quick
def test_out_buffers_are_filled_and_returned(dtype, rng, helpers):
    g, x, w, s = _problem(rng, dtype)
    expected = fastsig.dense_backward(g, x, w, s)
    out = tuple(np.full_like(e, np.nan) for e in expected)
    got = fastsig.dense_backward(g, x, w, s, out=out)
    for r, o, e in zip(got, out, expected):
        assert r is o
        helpers.assert_bitwise_equal(r, e, "out= vs allocating")
    # Reused as a training loop would: the same bits again.
    got = fastsig.dense_backward(g, x, w, s, out=out)
    for r, e in zip(got, expected):
        helpers.assert_bitwise_equal(r, e, "second call into the same out")
    # compute_dx=False takes (None, dw, db).
    dx, dw, db = fastsig.dense_backward(g, x, w, s, compute_dx=False, out=(None, out[1], out[2]))
    assert dx is None and dw is out[1] and db is out[2]
    helpers.assert_bitwise_equal(dw, expected[1], "dw, compute_dx=False")


@pytest.mark.quick
def test_bad_out_buffers(dtype, rng):
    g, x, w, s = _problem(rng, dtype, n=50, k=4, m=6)
    other = np.float32 if dtype == np.float64 else np.float64

    def buffers():
        return [np.empty((50, 4), dtype), np.empty((4, 6), dtype), np.empty(6, dtype)]

    with pytest.raises(TypeError, match="tuple"):
        fastsig.dense_backward(g, x, w, s, out=buffers())
    for i, bad in enumerate([np.empty((50, 4), other), np.empty((4, 6), other),
                             np.empty(6, other)]):
        out = buffers()
        out[i] = bad
        with pytest.raises(TypeError, match="dtype"):
            fastsig.dense_backward(g, x, w, s, out=tuple(out))
    for i, bad in enumerate([np.empty((4, 50), dtype), np.empty((6, 4), dtype),
                             np.empty(5, dtype)]):
        out = buffers()
        out[i] = bad
        with pytest.raises(ValueError, match="shape"):
            fastsig.dense_backward(g, x, w, s, out=tuple(out))
    out = buffers()
    with pytest.raises(ValueError, match="None"):
        fastsig.dense_backward(g, x, w, s, compute_dx=False, out=tuple(out))
    with pytest.raises(ValueError, match="None"):
        fastsig.dense_backward(g, x, w, s, out=(None, out[1], out[2]))
    # dw written over x (an input), and db inside dw (another output): overlaps.
    memory = np.empty(200, dtype)
    x_view, dw_over_x = memory.reshape(50, 4), memory[:24].reshape(4, 6)
    x_view[:] = x
    with pytest.raises(ValueError, match="overlaps the input x"):
        fastsig.dense_backward(g, x_view, w, s, out=(out[0], dw_over_x, out[2]))
    shared = np.empty(4 * 6 + 6, dtype)
    dw_view, db_view = shared[:24].reshape(4, 6), shared[18:24]
    with pytest.raises(ValueError, match="overlaps"):
        fastsig.dense_backward(g, x, w, s, out=(out[0], dw_view, db_view))
    g_view = np.empty((50, 6), dtype)
    g_view[:] = g
    with pytest.raises(ValueError, match="overlaps"):
        fastsig.dense_backward(g_view, x, w, s, out=(out[0], out[1], g_view[0]))


@pytest.mark.quick
@pytest.mark.parametrize("k,m", [(1000, 1000), (300, 77), (5, 3), (64, 1)], ids=str)
def test_the_dw_of_one_row_is_its_outer_product(dtype, rng, helpers, k, m):
    """A batch of one row: dw = xᵀ @ dy is the outer product, each element x·dy rounded
    once and +0 where it is zero (never -0: the kernels' sums start at +0), on any thread
    count, whichever kernel takes it (few_rows.h's outer product, the tiles)."""
    x = rng.uniform(-1, 1, (1, k)).astype(dtype)
    x[0, :2] = [-1, -0.0]
    w = rng.uniform(-1, 1, (k, m)).astype(dtype)
    s = rng.uniform(0, 1, (1, m)).astype(dtype)
    g = rng.normal(size=(1, m)).astype(dtype)
    g[0, 0] = 0.0
    dy = fastsig.sigmoid_backward(g, s)
    expected = x.T * dy + dtype(0)
    assert np.signbit(expected[0, 0]) == 0 and (x.T * dy)[0, 0] == 0
    for threads in (1, 2, 3):
        dw = fastsig.dense_backward(g, x, w, s, num_threads=threads)[1]
        helpers.assert_bitwise_equal(dw, expected, f"dw on {threads} threads")


def _dw_in_depth_blocks(x, dy, depth, fused):
    """The matmul's order for dw = xᵀ @ dy, emulated exactly (mpmath): in blocks of `depth`
    rows, each element's sum from +0 over the block's rows in order, one multiply-add a
    step (`fused`: the exact product and sum, rounded once; else the product rounded, then
    the sum), each block's sum then added to dw (zero before the first block)."""
    mpmath = pytest.importorskip("mpmath")
    dtype = x.dtype.type
    prec = 24 if x.dtype == np.float32 else 53
    n, k = x.shape
    m = dy.shape[1]
    dw = np.zeros((k, m), x.dtype)
    for i0 in range(0, n, depth):
        for p in range(k):
            for j in range(m):
                acc = dtype(0)
                for i in range(i0, min(n, i0 + depth)):
                    product = (mpmath.fmul(float(x[i, p]), float(dy[i, j]), exact=True)
                               if fused else float(x[i, p] * dy[i, j]))
                    acc = dtype(float(mpmath.fadd(product, float(acc), prec=prec,
                                                  rounding="n")))
                dw[p, j] = dw[p, j] + acc
    return dw


@pytest.mark.parametrize("n,k,m", [(300, 130, 2), (130, 259, 4), (9, 300, 3)], ids=str)
def test_a_few_columns_of_dy_give_dw_in_the_matmuls_order(dtype, rng, helpers, n, k, m):
    """dw of a dy of two to four columns where dw is the matmul: in the avx2 and avx512
    variants dw_rows.h (plan: "dw_by_rows"), vectors along x's rows; its bits those of the
    matmul's order (depth blocks of KC: 256 float32, 128 float64, so 300 and 130 rows make
    two or three blocks), on any thread count."""
    isa = fastsig.show_config()["isa"]
    p = fastsig._dispatch.kernels.plan(dtype, "dense_backward", n, k, m, 2)
    assert p["dw_kernel"] == "matmul" and p["dw_by_rows"] == (isa != "baseline"), p
    one = fastsig._dispatch.kernels.plan(dtype, "dense_backward", n, k, 1, 2)
    assert not one["dw_by_rows"], one
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, m)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.uniform(-2, 2, (n, m)).astype(dtype)
    dy = fastsig.sigmoid_backward(g, s)
    _, dw, _ = fastsig.dense_backward(g, x, w, s, num_threads=1)
    depth = 256 if dtype == np.float32 else 128
    # FMA in the avx2 and avx512 variants; the baseline's tiles round the product first.
    helpers.assert_bitwise_equal(dw, _dw_in_depth_blocks(x, dy, depth, isa != "baseline"),
                                 "the matmul's order")
    for threads in (2, 3):
        helpers.assert_bitwise_equal(
            fastsig.dense_backward(g, x, w, s, num_threads=threads)[1], dw, f"{threads} threads")


@pytest.mark.quick
@pytest.mark.parametrize("n,k", [(50, 20), (40, 31), (30, 300), (9, 1000)], ids=str)
def test_one_column_of_dy_gives_dw_by_plain_loops_in_row_order(dtype, rng, helpers, n, k):
    """dw of one column of dy from a depth of 20 (a logistic regression's layer; below it
    the column-sum kernel): plain loops along x's rows, each element a running sum over
    the rows in order from +0 (fused multiply-adds in the avx2 and avx512 variants, whose
    flags allow the compiler to fuse; the baseline rounds the product first), one part for
    a small batch; the same bits on any thread count."""
    isa = fastsig.show_config()["isa"]
    plan = fastsig._dispatch.kernels.plan
    assert plan(dtype, "dense_backward", n, k, 1, 1)["dw_kernel"] == "loops"
    # Below depth 20 the column-sum kernel, where the build has it (not in portable kernels).
    has_sums = plan(dtype, "dense_backward", 100, 8, 4, 1)["dw_kernel"] == "column_sums"
    assert plan(dtype, "dense_backward", n, 19, 1, 1)["dw_kernel"] == (
        "column_sums" if has_sums else "loops")
    assert plan(dtype, "dense_backward", n, k, 2, 1)["dw_kernel"] != "loops" or k * 2 < 256
    x = rng.uniform(-2, 2, (n, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, 1)).astype(dtype)
    s = rng.uniform(0, 1, (n, 1)).astype(dtype)
    g = rng.uniform(-2, 2, (n, 1)).astype(dtype)
    dy = fastsig.sigmoid_backward(g, s)
    _, dw, db = fastsig.dense_backward(g, x, w, s, num_threads=1)
    helpers.assert_bitwise_equal(dw, _dw_in_depth_blocks(x, dy, n, isa != "baseline"),
                                 "a running sum over the rows")
    for threads in (2, 3):
        got = fastsig.dense_backward(g, x, w, s, num_threads=threads)
        helpers.assert_bitwise_equal(got[1], dw, f"dw, {threads} threads")
        helpers.assert_bitwise_equal(got[2], db, f"db, {threads} threads")


def _check_dw_of_a_large_x(dtype, rng, helpers, n, k, m):
    """dense_backward(compute_dx=False) of random data: dw within the products' bound of
    the float64 product, dw and db the same bits on 1, 2 and 3 threads. Returns (x, w, s,
    g)."""
    x = rng.standard_normal((n, k)).astype(dtype)
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    ref = fastsig.dense_backward(g, x, w, s, compute_dx=False, num_threads=1)
    dy = g.astype(np.float64) * s * (1 - s.astype(np.float64))
    exact = x.astype(np.float64).T @ dy
    bound = 2 * n * np.finfo(dtype).eps / 2 * (np.abs(x).astype(np.float64).T @ np.abs(dy))
    assert (np.abs(ref[1] - exact) <= bound + 4 * np.finfo(dtype).eps * np.abs(exact)).all()
    for threads in (2, 3):
        got = fastsig.dense_backward(g, x, w, s, compute_dx=False, num_threads=threads)
        helpers.assert_bitwise_equal(got[1], ref[1], f"dw, {threads} threads")
        helpers.assert_bitwise_equal(got[2], ref[2], f"db, {threads} threads")
    return x, w, s, g


@pytest.mark.quick
@pytest.mark.parametrize("m", [4, 6])
def test_an_x_from_memory_fetches_the_column_sums_next_chunk_with_the_same_bits(
        dtype, rng, helpers, m):
    """plan(): where the column-sum kernel takes dw (rows of x of at most 1 KB) and x is
    larger than 8 MB, each chunk of rows fetches the next into L2 ("column_sums_fetch";
    not for a smaller x, nor where another kernel takes dw); a fetch changes no sum: dw
    and db the same bits on any thread count, dw within the products' bound."""
    plan = fastsig._dispatch.kernels.plan
    itemsize = np.dtype(dtype).itemsize
    k = 40
    n = 8 * 2**20 // (k * itemsize) + 1
    p = plan(dtype, "dense_backward", n, k, m, 1)
    assert p["column_sums_fetch"] == (p["dw_kernel"] == "column_sums"), p
    if p["dw_kernel"] != "column_sums":     # (dy two of this variant's vectors wide)
        return
    assert not plan(dtype, "dense_backward", n - 1, k, m, 1)["column_sums_fetch"]
    assert not plan(dtype, "dense_backward", n, k, 1, 1)["column_sums_fetch"]  # the loops
    _check_dw_of_a_large_x(dtype, rng, helpers, n, k, m)


@pytest.mark.quick
@pytest.mark.parametrize("m", [5, 10, 40])
def test_an_x_from_memory_fetches_the_tiles_next_depth_block_with_the_same_bits(
        dtype, rng, helpers, m):
    """plan(): where the vector or the register tile takes dw as the matmul xᵀ @ dy and x
    is larger than 12 MB, each tile fetches its rows of x's next depth block into L2
    ("dw_gemm_fetch"; not for a smaller x, nor where another kernel takes dw, nor without
    the C tiles); a fetch changes no sum: dw and db the same bits on any thread count, in
    the parts and in the shared block (one block of rows, its steps shared by the
    threads), dw within the products' bound."""
    isa = fastsig.show_config()["isa"]
    plan = fastsig._dispatch.kernels.plan
    itemsize = np.dtype(dtype).itemsize
    # Only the C tiles fetch: a build without vector extensions (FASTSIG_PORTABLE) has none.
    c_tiles = any(plan(dtype, "matmul", 1000, 64, j)["kernel"] == "vector_tile"
                  for j in range(1, 33))
    block = min(4096, 65536 // m)       # a block of dy's rows (one part, shared)
    for n, k in ((12 * 2**20 // (301 * itemsize) + 1, 301),
                 (block, 12 * 2**20 // (block * itemsize) + 1)):
        p = plan(dtype, "dense_backward", n, k, m, 1)
        # dy of 5, 10 (the vector tile's) or 40 columns (the register tile's) on AVX-512
        if isa == "avx512" and c_tiles:
            assert p["dw_gemm_fetch"], p
        if not c_tiles:
            assert not p["dw_gemm_fetch"], p
        if p["dw_gemm_fetch"]:
            assert p["dw_kernel"] == "matmul" and not p["dw_by_rows"], p
        assert not plan(dtype, "dense_backward", 12 * 2**20 // (k * itemsize), k, m,
                        1)["dw_gemm_fetch"]
        if n == block:
            assert p["parts"] == 1 and plan(dtype, "dense_backward", n, k, m,
                                            2)["shared_block"], p
        _check_dw_of_a_large_x(dtype, rng, helpers, n, k, m)


@pytest.mark.quick
@pytest.mark.parametrize("m", [2, 3])
def test_an_x_from_memory_fetches_dws_next_block_with_the_same_bits(dtype, rng, helpers, m):
    """plan(): where dw_rows.h takes dw and x is larger than 8 MB (from memory), each depth
    block fetches the next into L2 ("dw_rows_fetch"; not where two blocks of x's rows
    exceed L2, nor for a smaller x); a fetch changes no sum: dw the same bits on any
    thread count, in the parts and in the shared block (the order itself:
    test_a_few_columns_of_dy_give_dw_in_the_matmuls_order)."""
    isa = fastsig.show_config()["isa"]
    plan = fastsig._dispatch.kernels.plan
    itemsize = np.dtype(dtype).itemsize
    k = 301
    n = 8 * 2**20 // (k * itemsize) + 1
    assert plan(dtype, "dense_backward", n, k, m, 1)["dw_rows_fetch"] == (isa != "baseline")
    assert not plan(dtype, "dense_backward", n - 1, k, m, 1)["dw_rows_fetch"]
    l2 = fastsig.show_config()["blocking"]["l2_bytes"]
    depth = 256 if dtype == np.float32 else 128
    too_wide = l2 // (2 * depth * itemsize) + 1     # two blocks of x's rows exceed L2
    assert not plan(dtype, "dense_backward", 8 * 2**20 // (too_wide * itemsize) + 1,
                    too_wide, m, 1)["dw_rows_fetch"]
    x, w, s, g = _check_dw_of_a_large_x(dtype, rng, helpers, n, k, m)
    # The shared block (the threads take rows of dw) of a batch of one block's rows.
    rows = 3 * depth
    one_block = fastsig.dense_backward(g[:rows], x[:rows], w, s[:rows], compute_dx=False,
                                       num_threads=1)[1]
    helpers.assert_bitwise_equal(
        fastsig.dense_backward(g[:rows], x[:rows], w, s[:rows], compute_dx=False,
                               num_threads=2)[1], one_block, "a small batch, 2 threads")


@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", [(4099, 300, 2), (700, 1000, 4), (3000, 256, 1),
                                   (500, 301, 3), (5, 300, 2)], ids=str)
def test_a_few_columns_of_dy_keep_their_bits_in_any_thread_count(dtype, rng, helpers, n, k, m):
    """dw by dw_rows.h in the backward's parts (4099 rows) and its one shared block (the
    threads taking rows of dw), a ragged last strip of x's columns (301): dx, dw and db the
    same bits on any thread count, dw within the products' bound of the float64 one."""
    x = rng.standard_normal((n, k)).astype(dtype)
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(dtype)
    s = rng.uniform(0, 1, (n, m)).astype(dtype)
    g = rng.standard_normal((n, m)).astype(dtype)
    ref = fastsig.dense_backward(g, x, w, s, num_threads=1)
    dy = g.astype(np.float64) * s * (1 - s.astype(np.float64))
    exact = x.astype(np.float64).T @ dy
    bound = 2 * n * np.finfo(dtype).eps / 2 * (np.abs(x).astype(np.float64).T @ np.abs(dy))
    assert (np.abs(ref[1] - exact) <= bound + 4 * np.finfo(dtype).eps * np.abs(exact)).all()
    for threads in (2, 3, 4):
        got = fastsig.dense_backward(g, x, w, s, num_threads=threads)
        for r, e, name in zip(got, ref, ("dx", "dw", "db")):
            helpers.assert_bitwise_equal(r, e, f"{name}, {threads} threads")
