"""The FMA peak probe (fastsig._peak, _kernels/fma_peak.h): what it counts and what it reports."""

import math

import numpy as np
import pytest

from fastsig import _dispatch, _peak

pytestmark = pytest.mark.quick


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_probe_counts_its_operations(dtype):
    """Two operations a lane a multiply-add, 12 or 24 chains, lanes of the variant's vectors
    (one lane in a build without vector extensions): linear in the iterations."""
    one = _dispatch.kernels.fma_probe(dtype, 1000) / 1000
    assert _dispatch.kernels.fma_probe(dtype, 3000) == pytest.approx(3000 * one)
    itemsize = np.dtype(dtype).itemsize
    per_step = {2 * chains * lanes for chains in (12, 24) for lanes in (1, 16 // itemsize,
                                                                       32 // itemsize,
                                                                       64 // itemsize)}
    assert one in per_step, one


def test_the_probe_refuses_bad_arguments():
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        _dispatch.kernels.fma_probe("float32", 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        _dispatch.kernels.fma_probe(np.int32, 10)


def test_the_peak_is_measured_once_per_process():
    first = _peak.fma_peak()
    assert set(first) == {"float32", "float64"}
    assert all(math.isfinite(v) and v > 0 for v in first.values())
    # (The two peaks are not compared: they are timings on a shared machine.
    # test_float32_fills_twice_the_lanes_of_float64 checks what they rest on, by count.)
    assert _peak.fma_peak() == first
    _peak.fma_peak()["float32"] = -1.0   # a copy: the cache cannot be changed from outside
    assert _peak.fma_peak() == first


def test_float32_fills_twice_the_lanes_of_float64():
    """The probe's float32 steps fill twice the lanes of its float64 steps in the same
    vectors, over the same chains (equal in a build without vector extensions, one lane
    each): counted, not timed."""
    float32 = _dispatch.kernels.fma_probe("float32", 1000)
    float64 = _dispatch.kernels.fma_probe("float64", 1000)
    # A build without vector extensions (FASTSIG_PORTABLE) has no vector tile either.
    vectors = any(_dispatch.kernels.plan("float64", "matmul", 1000, 64, m)["kernel"]
                  == "vector_tile" for m in range(1, 33))
    assert float32 == (2 * float64 if vectors else float64), (float32, float64)
