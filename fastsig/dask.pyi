# Stubs for fastsig.dask (needs the dask extra: pip install fastsig[dask]).
#
# Every result is a lazy dask array of fastsig's dtype for the inputs; the batch operands
# may be dask arrays or anything dask.array.asarray converts, the small ones (w, b) numpy or
# dask arrays. num_threads is per task, 1 by default (dask already runs one task per thread);
# accuracy=None is resolved when the graph is built.

from typing import Literal, SupportsIndex, overload

import dask.array as da
from numpy.typing import ArrayLike

from ._config import _Accuracy

__all__ = ["dense_backward", "dense_forward", "sigmoid", "sigmoid_backward"]

_Batch = da.Array | ArrayLike

def sigmoid(
    y: _Batch, *, num_threads: SupportsIndex | None = 1, accuracy: _Accuracy | None = None
) -> da.Array: ...
def sigmoid_backward(
    grad: _Batch, s: _Batch, *, num_threads: SupportsIndex | None = 1
) -> da.Array: ...
def dense_forward(
    x: _Batch,
    w: _Batch,
    b: _Batch | None = None,
    *,
    num_threads: SupportsIndex | None = 1,
    accuracy: _Accuracy | None = None,
) -> da.Array: ...

# dx is None exactly when compute_dx is False (see _public.pyi).
@overload
def dense_backward(
    grad: _Batch,
    x: _Batch,
    w: _Batch,
    s: _Batch,
    *,
    compute_dx: Literal[True] = True,
    split_every: int | None = None,
    num_threads: SupportsIndex | None = 1,
) -> tuple[da.Array, da.Array, da.Array]: ...
@overload
def dense_backward(
    grad: _Batch,
    x: _Batch,
    w: _Batch,
    s: _Batch,
    *,
    compute_dx: Literal[False],
    split_every: int | None = None,
    num_threads: SupportsIndex | None = 1,
) -> tuple[None, da.Array, da.Array]: ...
@overload
def dense_backward(
    grad: _Batch,
    x: _Batch,
    w: _Batch,
    s: _Batch,
    *,
    compute_dx: bool,
    split_every: int | None = None,
    num_threads: SupportsIndex | None = 1,
) -> tuple[da.Array | None, da.Array, da.Array]: ...
