"""fastsig.dask on a real dask.distributed cluster and on dask's threaded scheduler.

Needs the optional extra (pip install fastsig[dask]); without dask or distributed the whole
module is skipped. The cluster's worker processes import fastsig the way this process does
(they inherit the environment, PYTHONPATH included).
"""

import importlib
import os
import sys
import uuid
from types import SimpleNamespace

import numpy as np
import pytest

import fastsig
from fastsig import _reference

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")  # a dependency of distributed

import fastsig.dask as fsd  # noqa: E402  (after the skips: it needs dask)

DTYPES = [np.float32, np.float64]

# 10_007 rows in chunks of 2_500: four full chunks and a ragged last one of 7 rows.
N, K, M = 10_007, 24, 5
ROW_CHUNK = 2_500


@pytest.fixture(scope="module")
def client():
    """A client of a LocalCluster of two single-threaded worker processes.

    Not the default scheduler (set_as_default=False), so the rest of the suite is unaffected;
    the tests compute on it explicitly.
    """
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client


def on_cluster(client, *arrays):
    return client.gather(client.compute(list(arrays)))


def on_threads(*arrays):
    with dask.config.set(scheduler="threads"):
        return dask.compute(*arrays)


def make_layer(dtype, seed):
    """Numpy inputs of a dense layer: x, w, b, and grad, s for the backward."""
    rng = np.random.default_rng(seed)
    s = _reference.sigmoid(rng.normal(0.0, 2.0, (N, M)))
    return SimpleNamespace(
        x=rng.uniform(-1, 1, (N, K)).astype(dtype),
        w=rng.uniform(-0.5, 0.5, (K, M)).astype(dtype),
        b=rng.uniform(-1, 1, M).astype(dtype),
        grad=rng.uniform(-2, 2, (N, M)).astype(dtype),
        s=s.astype(dtype),
    )


def by_rows(a):
    """`a` as a dask array chunked by ROW_CHUNK rows."""
    return da.from_array(a, chunks=(ROW_CHUNK, -1))


def build_all(layer, x, grad, s, *, num_threads=1, split_every=None):
    """The lazy results of the four functions, keyed by name."""
    dx, dw, db = fsd.dense_backward(grad, x, layer.w, s, split_every=split_every,
                                    num_threads=num_threads)
    return {
        "forward": fsd.dense_forward(x, layer.w, layer.b, num_threads=num_threads),
        "sigmoid": fsd.sigmoid(x, num_threads=num_threads),
        "sigmoid_backward": fsd.sigmoid_backward(grad, s, num_threads=num_threads),
        "dx": dx, "dw": dw, "db": db,
    }


def compute_dict(compute, lazy):
    return dict(zip(lazy, compute(*lazy.values())))


# ------------------------------------------------------------------------------------------
# the numpy float64 reference and its rounding bounds
# ------------------------------------------------------------------------------------------

def reference(layer):
    """(exact value in float64, magnitude, operation count) for each result.

    A result computed in the input dtype (unit roundoff u) must lie within
    2 · operations · u · magnitude of the float64 value: a sum of products of `operations`
    terms is within operations · u · (the same sum of absolute values), and the factor 2
    also covers the float64 reference's own rounding.
    """
    x, w, b, grad, s = (np.asarray(a, np.float64) for a in
                        (layer.x, layer.w, layer.b, layer.grad, layer.s))
    dy = _reference.sigmoid_backward(grad, s)
    dx, dw, db = _reference.dense_backward(grad, x, w, s)
    sig_x = _reference.sigmoid(x)
    return {
        # the error of y enters σ with slope <= 1/4; σ itself adds <= 2 ulp of a value <= 1
        "forward": (_reference.dense_forward(x, w, b), (np.abs(x) @ np.abs(w) + np.abs(b)) / 4 + 1,
                    K + 3),
        "sigmoid": (sig_x, sig_x, 3),
        "sigmoid_backward": (dy, np.abs(dy), 3),
        "dx": (dx, np.abs(dy) @ np.abs(w.T), M + 3),
        "dw": (dw, np.abs(x.T) @ np.abs(dy), N + 3),
        "db": (db, np.abs(dy).sum(axis=0), N + 3),
    }


def assert_matches_reference(results, layer, dtype):
    """Each of `results` (a dict keyed like reference()'s) within its rounding bound."""
    u = np.finfo(dtype).eps / 2
    expected = reference(layer)
    for name, got in results.items():
        exact, magnitude, operations = expected[name]
        assert got.dtype == dtype, name
        err = np.abs(got.astype(np.float64) - exact)
        bound = 2 * operations * u * magnitude
        assert np.all(err <= bound), f"{name}: max error {err.max()}, bound {bound.min()}"


def assert_bitwise_equal(a, b, what):
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert np.array_equal(np.ascontiguousarray(a).view(np.uint8),
                          np.ascontiguousarray(b).view(np.uint8)), what


def single_array_results(layer):
    """fastsig's own results on whole numpy arrays, for the chunk-by-chunk functions."""
    return {
        "forward": fastsig.dense_forward(layer.x, layer.w, layer.b),
        "sigmoid": fastsig.sigmoid(layer.x),
        "sigmoid_backward": fastsig.sigmoid_backward(layer.grad, layer.s),
    }


def assert_chunkwise_equal_to_single_array(results, layer):
    for name, expected in single_array_results(layer).items():
        assert_bitwise_equal(results[name], expected, name)


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_cluster_results_match_numpy_and_threaded_scheduler(client, dtype):
    layer = make_layer(dtype, seed=1)
    lazy = build_all(layer, by_rows(layer.x), by_rows(layer.grad), by_rows(layer.s),
                     split_every=2)
    on_cluster_results = compute_dict(lambda *a: on_cluster(client, *a), lazy)

    assert_matches_reference(on_cluster_results, layer, dtype)
    assert_chunkwise_equal_to_single_array(on_cluster_results, layer)
    # dw and db are summed in an order fixed by the chunking: any scheduler, the same bits
    for name, result in compute_dict(on_threads, lazy).items():
        assert_bitwise_equal(result, on_cluster_results[name], name)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_threaded_scheduler_results_match_numpy(dtype):
    layer = make_layer(dtype, seed=2)
    lazy = build_all(layer, by_rows(layer.x), by_rows(layer.grad), by_rows(layer.s))
    results = compute_dict(on_threads, lazy)

    assert_matches_reference(results, layer, dtype)
    assert_chunkwise_equal_to_single_array(results, layer)


def test_more_kernel_threads_per_task_give_the_same_bits():
    layer = make_layer(np.float32, seed=3)
    args = (layer, by_rows(layer.x), by_rows(layer.grad), by_rows(layer.s))
    one_thread = compute_dict(on_threads, build_all(*args))
    for name, result in compute_dict(on_threads, build_all(*args, num_threads=2)).items():
        assert_bitwise_equal(result, one_thread[name], name)


def test_dask_weights_are_used_as_one_array():
    layer = make_layer(np.float64, seed=4)
    x = by_rows(layer.x)
    w_chunked, b_chunked = da.from_array(layer.w, chunks=(7, 2)), da.from_array(layer.b, chunks=2)
    with_numpy = on_threads(fsd.dense_forward(x, layer.w, layer.b),
                            *fsd.dense_backward(by_rows(layer.grad), x, layer.w, by_rows(layer.s)))
    with_dask = on_threads(fsd.dense_forward(x, w_chunked, b_chunked),
                           *fsd.dense_backward(by_rows(layer.grad), x, w_chunked, by_rows(layer.s)))
    for name, a, b in zip(("forward", "dx", "dw", "db"), with_dask, with_numpy):
        assert_bitwise_equal(a, b, name)


def test_inputs_chunked_along_columns_are_rechunked_to_whole_rows(client):
    layer = make_layer(np.float32, seed=5)
    x_by_columns = da.from_array(layer.x, chunks=(ROW_CHUNK, 7))
    grad_other_rows = da.from_array(layer.grad, chunks=(3_001, 2))
    s_other_rows = da.from_array(layer.s, chunks=(1_999, 3))

    s = fsd.dense_forward(x_by_columns, layer.w, layer.b)
    dx, dw, db = fsd.dense_backward(grad_other_rows, x_by_columns, layer.w, s_other_rows)
    assert s.chunks == (by_rows(layer.x).chunks[0], (M,))
    assert dx.chunks == by_rows(layer.x).chunks

    # grad and s take x's row chunks: the same partials, so the same bits as all by rows
    expected = on_threads(fsd.dense_forward(by_rows(layer.x), layer.w, layer.b),
                          *fsd.dense_backward(by_rows(layer.grad), by_rows(layer.x), layer.w,
                                              by_rows(layer.s)))
    for name, a, b in zip(("forward", "dx", "dw", "db"), on_cluster(client, s, dx, dw, db),
                          expected):
        assert_bitwise_equal(a, b, name)


# ------------------------------------------------------------------------------------------
# laziness, checks, the optional dependency
# ------------------------------------------------------------------------------------------

class ComputedTooEarly(Exception):
    pass


def _refuse(block):
    raise ComputedTooEarly


def test_results_are_lazy_until_computed():
    # inputs that raise if any of their chunks is computed: building must not touch them
    x = da.zeros((N, K), chunks=(ROW_CHUNK, 5)).map_blocks(_refuse, dtype=np.float64)
    grad = da.zeros((N, M), chunks=ROW_CHUNK).map_blocks(_refuse, dtype=np.float32)
    w = da.zeros((K, M), chunks=3).map_blocks(_refuse, dtype=np.float32)
    s = fsd.dense_forward(x, w)
    dx, dw, db = fsd.dense_backward(grad, x, w, s)
    elementwise = [fsd.sigmoid(x), fsd.sigmoid_backward(grad, grad)]

    for result, shape, dtype in [(s, (N, M), np.float64), (dx, (N, K), np.float64),
                                 (dw, (K, M), np.float64), (db, (M,), np.float64),
                                 (elementwise[0], (N, K), np.float64),
                                 (elementwise[1], (N, M), np.float32)]:
        assert isinstance(result, da.Array)
        assert result.shape == shape and result.dtype == dtype
    with pytest.raises(ComputedTooEarly):
        on_threads(dw)


def test_misfits_raise_before_computing_with_the_shapes():
    x = da.zeros((N, K), chunks=ROW_CHUNK)
    with pytest.raises(ValueError, match=r"w of shape \(23, 5\)"):
        fsd.dense_forward(x, np.zeros((K - 1, M)))
    with pytest.raises(ValueError, match=r"grad of shape \(10006, 5\)"):
        fsd.dense_backward(da.zeros((N - 1, M)), x, np.zeros((K, M)), da.zeros((N, M)))
    with pytest.raises(ValueError, match=r"\(10007, 5\).*\(10007, 4\)"):
        fsd.sigmoid_backward(da.zeros((N, M)), da.zeros((N, M - 1)))
    with pytest.raises(TypeError, match="complex"):
        fsd.sigmoid(da.zeros(3, dtype=np.complex128))


def test_import_without_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    monkeypatch.delitem(sys.modules, "fastsig.dask")
    with pytest.raises(ImportError, match=r"pip install fastsig\[dask\]"):
        importlib.import_module("fastsig.dask")


# ------------------------------------------------------------------------------------------
# a worker dying mid-computation
# ------------------------------------------------------------------------------------------

def _hold_first_chunk(block, started, release, pid, block_id=None):
    """The identity; the first chunk's task first publishes its worker's pid and waits.

    It sets the Event `started`, stores os.getpid() in the Variable `pid` and blocks until
    the Event `release` is set. The retried task finds `release` set and passes at once.
    """
    if block_id[0] == 0:
        distributed.Variable(pid).set(os.getpid())
        distributed.Event(started).set()
        distributed.Event(release).wait()
    return block


def test_a_worker_killed_mid_computation_is_replaced_and_the_result_is_right(client):
    names = {name: f"fastsig-{name}-{uuid.uuid4().hex}" for name in ("started", "release", "pid")}
    layer = make_layer(np.float64, seed=6)
    x = by_rows(layer.x).map_blocks(_hold_first_chunk, dtype=np.float64, **names)
    s = fsd.dense_forward(x, layer.w, layer.b)
    _, dw, db = fsd.dense_backward(by_rows(layer.grad), x, layer.w, by_rows(layer.s),
                                   compute_dx=False)
    futures = client.compute([s, dw, db])

    # the timeout only stops a broken test from hanging: the kill follows the Event
    assert distributed.Event(names["started"], client=client).wait(timeout=120)
    victim = psutil.Process(distributed.Variable(names["pid"], client=client).get())
    victim.kill()
    victim.wait(timeout=60)
    distributed.Event(names["release"], client=client).set()

    results = dict(zip(("forward", "dw", "db"), client.gather(futures)))
    assert_matches_reference(results, layer, np.float64)
    assert_bitwise_equal(results["forward"], fastsig.dense_forward(layer.x, layer.w, layer.b),
                         "forward")

    client.wait_for_workers(2, timeout=120)
    assert victim.pid not in client.run(os.getpid).values()
