# Stubs for _api.py: the full path of the public functions (_public.pyx), which takes their
# arguments as given, after the accuracy mode is read (`fast`).

from typing import Any

import numpy as np
from numpy.typing import NDArray

_Float = NDArray[np.floating[Any]]

def matmul_full_path(x: Any, w: Any, out: Any, num_threads: Any) -> _Float: ...
def sigmoid_full_path(y: Any, out: Any, num_threads: Any, fast: bool) -> _Float: ...
def sigmoid_backward_full_path(grad: Any, s: Any, out: Any, num_threads: Any) -> _Float: ...
def dense_forward_full_path(
    x: Any, w: Any, b: Any, out: Any, num_threads: Any, fast: bool
) -> _Float: ...
def dense_backward_full_path(
    grad: Any, x: Any, w: Any, s: Any, compute_dx: Any, out: Any, num_threads: Any
) -> tuple[_Float | None, _Float, _Float]: ...
