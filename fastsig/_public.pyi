# Stubs for the public functions (_public.pyx).
#
# Inputs are anything numpy converts (ArrayLike). Results are float32 or float64 depending on
# the inputs' dtypes (numpy's result_type, with integer/bool -> float64 and float16 ->
# float32), which the types cannot follow through ArrayLike: hence NDArray[np.floating[Any]].
# num_threads takes any integer (operator.index), numpy's included; accuracy one of the
# modes of _config.ACCURACY_MODES.

from typing import Any, Literal, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._config import _Accuracy

_Float = NDArray[np.floating[Any]]

def matmul(
    x: ArrayLike,
    w: ArrayLike,
    *,
    out: _Float | None = None,
    num_threads: SupportsIndex | None = None,
) -> _Float: ...
def sigmoid(
    y: ArrayLike,
    *,
    out: _Float | None = None,
    num_threads: SupportsIndex | None = None,
    accuracy: _Accuracy | None = None,
) -> _Float: ...
def sigmoid_backward(
    grad: ArrayLike,
    s: ArrayLike,
    *,
    out: _Float | None = None,
    num_threads: SupportsIndex | None = None,
) -> _Float: ...
def dense_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    out: _Float | None = None,
    num_threads: SupportsIndex | None = None,
    accuracy: _Accuracy | None = None,
) -> _Float: ...

# dx is None exactly when compute_dx is False: the overloads let a caller that leaves
# compute_dx alone use dx without checking it for None.
@overload
def dense_backward(
    grad: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    s: ArrayLike,
    *,
    compute_dx: Literal[True] = True,
    out: tuple[_Float, _Float, _Float] | None = None,
    num_threads: SupportsIndex | None = None,
) -> tuple[_Float, _Float, _Float]: ...
@overload
def dense_backward(
    grad: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    s: ArrayLike,
    *,
    compute_dx: Literal[False],
    out: tuple[None, _Float, _Float] | None = None,
    num_threads: SupportsIndex | None = None,
) -> tuple[None, _Float, _Float]: ...
@overload
def dense_backward(
    grad: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    s: ArrayLike,
    *,
    compute_dx: bool,
    out: tuple[_Float | None, _Float, _Float] | None = None,
    num_threads: SupportsIndex | None = None,
) -> tuple[_Float | None, _Float, _Float]: ...

