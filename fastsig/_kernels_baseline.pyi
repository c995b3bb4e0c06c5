# Stubs for the compiled kernels (_kernels/kernels.pxi, included by _kernels_baseline.pyx).
#
# Every def is a Cython fused function over `floating`: all its arrays must be of one
# dtype, float32 or float64, hence an overload per dtype. The arrays are typed memoryviews,
# so anything exporting a buffer of that dtype with the right layout is accepted; NDArray is
# what _api.py passes. These are internal: _api.py has already checked dtypes, shapes, out=
# and the thread count; the kernels only re-check the shapes memory safety depends on
# (ValueError).
#
# _kernels_avx2.pyi and _kernels_avx512.pyi re-export these names: the three variants are
# one source compiled with different flags.

from collections.abc import Callable
from typing import Any, TypeAlias, overload

import numpy as np
from numpy.typing import NDArray

def compiled_isa() -> str: ...
@overload
def sigmoid(
    y: NDArray[np.float32], out: NDArray[np.float32], num_threads: int, fast: bool
) -> None: ...
@overload
def sigmoid(
    y: NDArray[np.float64], out: NDArray[np.float64], num_threads: int, fast: bool
) -> None: ...
@overload
def sigmoid_backward(
    grad: NDArray[np.float32], s: NDArray[np.float32], out: NDArray[np.float32], num_threads: int
) -> None: ...
@overload
def sigmoid_backward(
    grad: NDArray[np.float64], s: NDArray[np.float64], out: NDArray[np.float64], num_threads: int
) -> None: ...
@overload
def stream_copy(src: NDArray[np.float32], dst: NDArray[np.float32], num_threads: int) -> None: ...
@overload
def stream_copy(src: NDArray[np.float64], dst: NDArray[np.float64], num_threads: int) -> None: ...
@overload
def matmul(
    x: NDArray[np.float32], w: NDArray[np.float32], out: NDArray[np.float32], num_threads: int
) -> None: ...
@overload
def matmul(
    x: NDArray[np.float64], w: NDArray[np.float64], out: NDArray[np.float64], num_threads: int
) -> None: ...
@overload
def dense_forward(
    x: NDArray[np.float32],
    w: NDArray[np.float32],
    b: NDArray[np.float32],
    has_bias: bool,
    out: NDArray[np.float32],
    num_threads: int,
    fast: bool,
) -> None: ...
@overload
def dense_forward(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    b: NDArray[np.float64],
    has_bias: bool,
    out: NDArray[np.float64],
    num_threads: int,
    fast: bool,
) -> None: ...
@overload
def dense_backward(
    grad: NDArray[np.float32],
    x: NDArray[np.float32],
    w: NDArray[np.float32],
    s: NDArray[np.float32],
    dx: NDArray[np.float32],
    compute_dx: bool,
    dw: NDArray[np.float32],
    db: NDArray[np.float32],
    num_threads: int,
) -> None: ...
@overload
def dense_backward(
    grad: NDArray[np.float64],
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    s: NDArray[np.float64],
    dx: NDArray[np.float64],
    compute_dx: bool,
    dw: NDArray[np.float64],
    db: NDArray[np.float64],
    num_threads: int,
) -> None: ...

# The native fast paths of _kernels/native.pxi: any objects; the result, or None when the
# call is not on native arrays (the caller then takes its full path). `threads_of`: what
# num_threads=None gives a call above the thresholds, or a function returning it (called only
# by such a call); 1 for a call with num_threads=1.
_ThreadsOf: TypeAlias = int | Callable[[], int]

def matmul_native(
    x: object, w: object, out: object, threads_of: _ThreadsOf
) -> NDArray[np.floating[Any]] | None: ...
def dense_forward_native(
    x: object, w: object, b: object, out: object, fast: bool, threads_of: _ThreadsOf
) -> NDArray[np.floating[Any]] | None: ...
def sigmoid_native(
    y: object, out: object, fast: bool, threads_of: _ThreadsOf
) -> NDArray[np.floating[Any]] | None: ...
def sigmoid_backward_native(
    grad: object, s: object, out: object, threads_of: _ThreadsOf
) -> NDArray[np.floating[Any]] | None: ...
def dense_backward_native(
    grad: object,
    x: object,
    w: object,
    s: object,
    compute_dx: bool,
    out: object,
    threads_of: _ThreadsOf,
) -> (
    tuple[NDArray[np.floating[Any]] | None, NDArray[np.floating[Any]], NDArray[np.floating[Any]]]
    | None
): ...
def ran_threaded() -> bool: ...

# The plan (_kernels/plan.pxi): the thresholds for threads, and the kernels' decisions for
# a shape, as the kernels make them (for tests and for reading).
MIN_ELEMENTS_FOR_THREADS: dict[str, int]
MIN_BACKWARD_ELEMENTS_FOR_THREADS: dict[str, int]
MIN_MULADDS_FOR_THREADS: dict[str, int]
MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS: int
MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS: int
MIN_PRODUCT_ELEMENTS_FOR_THREADS: int
EPILOGUE_MULADDS_FOR_THREADS: int
MIN_ROWS_FOR_THREADS_W_IN_L2: int

# A product's work against product_min_work and backward_min_work: n·k·m, fewer than 8 rows
# counted as 8.
def product_work(n: int, k: int, m: int) -> int: ...

# The least product_work(n, k, m) at which num_threads=None runs matmul or (`epilogue`)
# dense_forward threaded: MIN_MULADDS_FOR_THREADS[dtype], for dense_forward less
# EPILOGUE_MULADDS_FOR_THREADS an element of the result (at least 1), or 1 from
# MIN_PRODUCT_ELEMENTS_FOR_THREADS elements of x and the result, n·(k + m); sys.maxsize
# (never) for fewer than MIN_ROWS_FOR_THREADS_W_IN_L2 rows of a w of at most 5/4 of one
# core's L2.
def product_min_work(dtype: Any, n: int, k: int, m: int, *, epilogue: bool = False) -> int: ...

# The least product_work(n, k, m) at which num_threads=None runs dense_backward threaded:
# MIN_MULADDS_FOR_THREADS[dtype]; MIN_BACKWARD_SHARED_MULADDS_FOR_THREADS where its threads
# would share one block and exchange dy's packed panels; 1 where its parts would be a thread's
# each and n·(k + m) >= MIN_BACKWARD_PARTS_ELEMENTS_FOR_THREADS; sys.maxsize (never) where
# product_min_work says so.
def backward_min_work(dtype: Any, n: int, k: int, m: int) -> int: ...

def plan(
    dtype: Any, operation: str, n: int, k: int, m: int, num_threads: int = 1
) -> dict[str, Any]: ...

# The register tile's blocking in force, set at import from fastsig._blocking.choose():
# {"kc", "nc", "mc", "mr", "nr"}: {"float32": int, "float64": int} each, "source": str, and
# "l2_bytes": int (one core's L2, which the blocking and the thresholds for threads follow).
def blocking() -> dict[str, Any]: ...

# The FMA peak probe (_kernels/probe.pxi): floating-point operations done, for fastsig._peak.
def fma_probe(dtype: Any, iterations: int) -> float: ...
