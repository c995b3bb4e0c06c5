"""The FMA peak of one core, measured: what the kernels' instructions can reach on this CPU.

``fma_peak()`` times the chosen kernel variant's probe (``_kernels/fma_peak.h``: independent
multiply-add chains and nothing else) on the calling thread and returns GFLOP/s per dtype.
``python -m fastsig info`` prints it; ``python -m fastsig bench`` puts each matmul row's
GFLOP/s beside it (times the threads), so a reader sees how far from the hardware every
library is. A multiply-add counts two operations, as GFLOP/s figures for GEMM do.
"""

import functools
import time

from . import _dispatch

DTYPES = ("float32", "float64")
MIN_SECONDS = 0.005     # a timed run lasts at least this long
REPEATS = 5             # the best of this many runs: the peak, not the mean


def _gflops(dtype):
    probe = _dispatch.kernels.fma_probe
    iterations = 1 << 12
    while True:
        start = time.perf_counter()
        flops = probe(dtype, iterations)
        seconds = time.perf_counter() - start
        if seconds >= MIN_SECONDS:
            break
        iterations *= 2
    best = seconds
    for _ in range(REPEATS - 1):
        start = time.perf_counter()
        probe(dtype, iterations)
        best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


@functools.lru_cache(maxsize=None)
def _peak(isa):
    return {dtype: _gflops(dtype) for dtype in DTYPES}


def fma_peak():
    """{"float32": GFLOP/s, "float64": GFLOP/s} of one core with the chosen kernel variant
    (``show_config()['isa']``), measured once a process (about 0.1 s)."""
    return dict(_peak(_dispatch.ISA))
