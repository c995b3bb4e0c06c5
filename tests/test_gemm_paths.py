"""The matmul's two kernels: the register tile and the narrow kernel's transposed tile.

Shapes are picked to land on each (a narrow w, m at most half the register tile's width,
takes the narrow kernel whatever its depth; everything else the register tile), with
ragged edges, several tasks and several depth blocks; each result is checked against
the error bound and for bitwise equality across thread counts.
"""

import numpy as np
import pytest

import fastsig

SHAPES = [
    (1031, 2, 3),      # narrow: the 2x2·2x3 layer, batched, ragged last task
    (777, 8, 1),       # narrow, one column
    (1000, 20, 16),    # narrow: whole transposed tiles and a ragged row edge
    (515, 9, 12),      # narrow, a ragged column panel
    (300, 300, 7),     # narrow, a depth block and a ragged one
    (97, 513, 130),    # the tile: three depth blocks, ragged rows and columns
    (5, 40, 1000),     # the tile: few rows, many column tasks
]


@pytest.mark.quick
@pytest.mark.parametrize("n,k,m", SHAPES, ids=str)
def test_matmul_and_dense_forward_paths(dtype, rng, helpers, n, k, m):
    x = rng.uniform(-1, 1, (n, k)).astype(dtype)
    w = rng.uniform(-1, 1, (k, m)).astype(dtype)
    b = rng.uniform(-1, 1, m).astype(dtype)
    y = fastsig.matmul(x, w, num_threads=1)
    helpers.gemm_bound_check(y, x, w, what="matmul")
    s = fastsig.dense_forward(x, w, b, num_threads=1)
    ref = 1 / (1 + np.exp(-(x.astype(np.float64) @ w.astype(np.float64) + b)))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(s, ref, rtol=tol, atol=tol)
    for threads in (2, 3):
        helpers.assert_bitwise_equal(fastsig.matmul(x, w, num_threads=threads), y, "matmul")
        helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, b, num_threads=threads), s,
                                     "dense_forward")


def test_row_results_do_not_depend_on_the_batch(dtype, rng, helpers):
    """A row's result is the same alone or inside any batch (as fastsig.dask relies on)."""
    for k, m in ((2, 3), (64, 64)):
        x = rng.uniform(-1, 1, (600, k)).astype(dtype)
        w = rng.uniform(-1, 1, (k, m)).astype(dtype)
        whole = fastsig.dense_forward(x, w)
        for lo, hi in ((0, 1), (17, 300), (599, 600)):
            helpers.assert_bitwise_equal(fastsig.dense_forward(x[lo:hi], w), whole[lo:hi],
                                         f"rows {lo}:{hi}")
