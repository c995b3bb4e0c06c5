"""Huge inputs (more than 2**31 elements): index arithmetic must not overflow 32 bits."""

import os

import numpy as np
import pytest

import fastsig
from fastsig import _reference

pytestmark = pytest.mark.slow


def _available_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _need(nbytes):
    if _available_bytes() < nbytes * 1.3:
        pytest.skip(f"needs about {nbytes * 1.3 / 2**30:.0f} GiB of free memory")


def test_sigmoid_more_than_2_31_elements():
    size = 2**31 + 1000
    _need(size * 4)
    y = np.zeros(size, dtype=np.float32)
    idx = np.array([0, 2**31 - 1, 2**31, 2**31 + 1, size - 1])
    y[idx] = [-1.0, 2.0, 3.0, -4.0, 5.0]
    r = fastsig.sigmoid(y, out=y)
    assert r is y
    np.testing.assert_allclose(y[idx], _reference.sigmoid(np.array([-1.0, 2, 3, -4, 5])),
                               rtol=1e-6)
    assert y[2**31 + 500] == np.float32(0.5)
    assert y[12345] == np.float32(0.5)


def test_matmul_output_more_than_2_31_elements():
    n, m = 2**16 + 3, 2**15 + 5  # n * m > 2**31
    _need(n * m * 4)
    x = (np.arange(n, dtype=np.float32) % 7 + 1).reshape(n, 1)
    w = (np.arange(m, dtype=np.float32) % 5 + 1).reshape(1, m)
    y = fastsig.matmul(x, w)
    assert y.shape == (n, m)
    for i in (0, 1, n // 2, n - 2, n - 1):
        np.testing.assert_array_equal(y[i], x[i, 0] * w[0])
    np.testing.assert_array_equal(y[:, -1], x[:, 0] * w[0, -1])
