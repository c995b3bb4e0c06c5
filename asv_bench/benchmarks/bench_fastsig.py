"""fastsig and its peers, on the same data: one benchmark class per public function.

The library is a parameter, beside dtype, shape and thread count, so that `asv compare` and the
published graphs show fastsig next to the code it replaces: numpy's expression,
scipy.special.expit, numexpr and torch. A peer that is not installed is skipped (its setup
raises NotImplementedError, which asv reports as skipped, not failed).

Beside fastsig's public API, the suite uses fastsig._reference, where the numpy peer's
expressions are written once for this suite and `python -m fastsig bench`: asv runs today's
benchmarks against older commits too, back to the one that added it.

The functions that evaluate the sigmoid also have the library "fastsig-fast": fastsig with
accuracy="fast" (float32 within 2 ULP rather than 1; float64 unchanged), skipped on commits
older than the accuracy modes.

Nobody gets out=: the peers allocate their results, so fastsig allocates too. Every library runs
on num_threads threads: fastsig, torch and numexpr by their set_num_threads (so fastsig, like
torch, may still run inputs too small to be worth threads on one), numpy's BLAS by
threadpoolctl. numpy's ufuncs and expit run on one thread whatever it is, so their timings at
different thread counts should agree, which shows the noise.

FASTSIG_ASV_CI=1 shrinks the parameters (small shapes, float32, one thread) so that CI's
`asv run --quick` of the whole suite takes a minute or two.
"""

import importlib
import os
from contextlib import ExitStack

import numpy as np

import fastsig
from fastsig._reference import (
    numpy_dense_backward,
    numpy_dense_forward,
    numpy_sigmoid,
    numpy_sigmoid_backward,
)

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

# The peers are imported by the benchmarks that run them only (each benchmark runs in a fresh
# process): torch alone adds over a second and 200 MB to a process, which would slow every
# benchmark and, in the peakmem_ figures, bury what fastsig's calls allocate.
PEER_MODULES = {"scipy": "scipy.special", "numexpr": "numexpr", "torch": "torch"}

CI = os.environ.get("FASTSIG_ASV_CI") == "1"
DTYPES = ["float32"] if CI else ["float32", "float64"]
THREADS = [1] if CI else [1, 2]
BATCH = 262_144
# (n, k, m): X is n x k, W is k x m. The worked 2x2 · 2x3 example, then tall-skinny batches as a
# layer sees them: many rows, few features.
TALL_SKINNY = [(BATCH, k, m) for k, m in [(2, 3), (16, 16), (64, 64), (256, 256)]]
DENSE_SHAPES = {f"{n}x{k} @ {k}x{m}": (n, k, m) for n, k, m in [(2, 2, 3), *TALL_SKINNY]}
if CI:
    DENSE_SHAPES = {label: DENSE_SHAPES[label] for label in ["2x2 @ 2x3", f"{BATCH}x2 @ 2x3"]}
# A reduced grid of `python -m fastsig bench --sweep`, where the tall-skinny batches above say
# nothing: a single row through a real layer, mid-size batches, narrow and wide layers.
SWEEP_SHAPES = {f"{n}x{k} @ {k}x{m}": (n, k, m) for n, k, m in
                [(1, 256, 256), (64, 13, 7), (500, 31, 200), (4099, 64, 10), (100_003, 100, 16)]}
if CI:
    SWEEP_SHAPES = {label: SWEEP_SHAPES[label] for label in ["1x256 @ 256x256", "64x13 @ 13x7"]}
# The elementwise functions get the n x m results of the dense shapes, and flat arrays from in
# cache to far beyond it.
ELEMENTWISE_SHAPES = {f"{n}x{m}": (n, m) for n, _, m in DENSE_SHAPES.values()}
ELEMENTWISE_SHAPES.update({f"10**{e}": (10**e,) for e in ([3] if CI else [3, 5, 7])})


def dense_data(dtype, n, k, m):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k), dtype=dtype)
    w = rng.standard_normal((k, m), dtype=dtype)
    w /= np.sqrt(k)  # so that x @ w + b is of order one, where the sigmoid is not saturated
    b = rng.standard_normal(m, dtype=dtype)
    return rng, x, w, b


def require(library):
    """Skip (NotImplementedError) unless the library can be imported."""
    if library not in PEER_MODULES:
        return
    try:
        importlib.import_module(PEER_MODULES[library])
    # Not only ImportError: a broken install (a missing shared library, say) raises others,
    # and it should skip that peer, not fail the suite.
    except Exception as exc:
        raise NotImplementedError(f"{library} cannot be imported: {exc}") from exc


def fast_mode():
    """The accuracy= of fastsig's "fast" mode; skips (NotImplementedError) where this fastsig
    has no accuracy modes."""
    if not hasattr(fastsig, "set_accuracy"):
        raise NotImplementedError("this fastsig has no accuracy modes")
    return "fast"


def copy_bound(a, num_threads):
    """A new array holding `a`, by fastsig's threaded copy kernel: the memory traffic of one
    elementwise pass, the bound for the sigmoid. Not public API: skipped where it is missing
    (asv also runs this suite against older commits)."""
    from fastsig import _dispatch

    stream_copy = getattr(_dispatch.kernels, "stream_copy", None)
    if stream_copy is None:
        raise NotImplementedError("this fastsig has no stream_copy kernel")
    # one thread below fastsig's own threshold for elementwise calls, as fastsig.sigmoid does
    threads = num_threads if a.size >= 16384 else 1
    flat = a.reshape(-1)

    def copy():
        out = np.empty_like(flat)
        stream_copy(flat, out, threads)
        return out

    return copy


def tensors(*arrays):
    """torch tensors sharing the arrays' memory, made in setup so that no timing holds them."""
    import torch

    return [torch.from_numpy(a) for a in arrays]


class _Function:
    """One public function against its peers. A subclass gives `shapes` ({label: shape}),
    `params` (the libraries first), data(dtype, shape) -> the inputs, and for each library
    call_<library>(*inputs) -> the callable to measure.
    """

    param_names = ("library", "dtype", "shape", "num_threads")
    uses_blas = True  # numpy's code for it calls BLAS, whose threads need threadpoolctl
    # On one thread, with fastsig's portable kernels, the largest float64 backward takes tens
    # of seconds a call; asv's default of 60 s per benchmark would cut it off.
    timeout = 900

    # asv calls teardown after every setup, also one that raised NotImplementedError (a
    # skipped peer) or failed half-way: teardown undoes what setup did, and only that.
    def setup(self, library, dtype, shape, num_threads):
        self._threads = ExitStack()
        require(library)
        self._num_threads = num_threads
        self._run_on_threads(library, num_threads)
        make_call = getattr(self, f"call_{library.replace('-', '_')}")
        self.call = make_call(*self.data(dtype, self.shapes[shape]))

    def teardown(self, *params):
        threads = self.__dict__.pop("_threads", None)
        if threads is not None:
            threads.close()

    def _run_on_threads(self, library, num_threads):
        if library.startswith("fastsig"):
            fastsig.set_num_threads(num_threads)
            self._threads.callback(fastsig.set_num_threads, None)
        elif library == "torch":
            import torch

            self._threads.callback(torch.set_num_threads, torch.get_num_threads())
            torch.set_num_threads(num_threads)
        elif library == "numexpr":
            import numexpr

            previous = numexpr.set_num_threads(num_threads)
            self._threads.callback(numexpr.set_num_threads, previous)
        elif self.uses_blas:
            if threadpoolctl is None:
                raise NotImplementedError("threadpoolctl is needed to set numpy's BLAS threads")
            self._threads.enter_context(
                threadpoolctl.threadpool_limits(num_threads, user_api="blas")
            )

    def time_call(self, *params):
        self.call()

    def peakmem_call(self, *params):
        self.call()


class Matmul(_Function):
    shapes = DENSE_SHAPES
    params = (["fastsig", "numpy", "torch"], DTYPES, list(shapes), THREADS)

    def data(self, dtype, shape):
        _, x, w, _ = dense_data(dtype, *shape)
        return x, w

    def call_fastsig(self, x, w):
        return lambda: fastsig.matmul(x, w)

    def call_numpy(self, x, w):
        return lambda: x @ w

    def call_torch(self, x, w):
        import torch

        tx, tw = tensors(x, w)
        return lambda: torch.matmul(tx, tw)


class WideMatmul(Matmul):
    """A layer whose w is hundreds of MB. peakmem_call shows what each library allocates
    beside the inputs (fastsig packs w a slab of at most 8 MB at a time, not all of it)."""

    shapes = ({"32x1024 @ 1024x2100": (32, 1024, 2100)} if CI
              else {"512x8192 @ 8192x8192": (512, 8192, 8192)})
    params = (["fastsig", "numpy", "torch"], DTYPES, list(shapes), THREADS)


class DenseForward(_Function):
    shapes = DENSE_SHAPES
    params = (["fastsig", "fastsig-fast", "numpy", "torch"], DTYPES, list(shapes), THREADS)

    def data(self, dtype, shape):
        _, x, w, b = dense_data(dtype, *shape)
        return x, w, b

    def call_fastsig(self, x, w, b):
        return lambda: fastsig.dense_forward(x, w, b)

    def call_fastsig_fast(self, x, w, b):
        accuracy = fast_mode()
        return lambda: fastsig.dense_forward(x, w, b, accuracy=accuracy)

    def call_numpy(self, x, w, b):
        return lambda: numpy_dense_forward(x, w, b)

    def call_torch(self, x, w, b):
        import torch

        tx, tw, tb = tensors(x, w, b)
        return lambda: torch.sigmoid(torch.addmm(tb, tx, tw))


class DenseBackward(_Function):
    shapes = DENSE_SHAPES
    params = (["fastsig", "numpy", "torch"], DTYPES, list(shapes), THREADS)

    def data(self, dtype, shape):
        rng, x, w, b = dense_data(dtype, *shape)
        s = numpy_dense_forward(x, w, b)
        grad = rng.standard_normal(s.shape, dtype=dtype)
        return grad, x, w, s

    def call_fastsig(self, grad, x, w, s):
        return lambda: fastsig.dense_backward(grad, x, w, s)

    def call_numpy(self, grad, x, w, s):
        return lambda: numpy_dense_backward(grad, x, w, s)

    def call_torch(self, grad, x, w, s):
        import torch

        tgrad, tx, tw, ts = tensors(grad, x, w, s)

        def backward():
            dy = torch.ops.aten.sigmoid_backward(tgrad, ts)
            return dy @ tw.T, tx.T @ dy, dy.sum(0)

        return backward


class TrainStep(_Function):
    """One SGD step of a first layer (no dx): forward, backward, weights updated in place;
    torch by autograd on nn.Linear + sigmoid."""

    shapes = DENSE_SHAPES
    params = (["fastsig", "numpy", "torch"], DTYPES, list(shapes), THREADS)

    def data(self, dtype, shape):
        rng, x, w, b = dense_data(dtype, *shape)
        grad = rng.standard_normal((shape[0], shape[2]), dtype=dtype)  # dL/dS from above
        return x, w, b, grad, np.dtype(dtype).type(1e-3)

    def call_fastsig(self, x, w, b, grad, lr):
        def step():
            s = fastsig.dense_forward(x, w, b)
            _, dw, db = fastsig.dense_backward(grad, x, w, s, compute_dx=False)
            w[...] -= lr * dw
            b[...] -= lr * db

        return step

    def call_numpy(self, x, w, b, grad, lr):
        def step():
            s = numpy_dense_forward(x, w, b)
            dy = numpy_sigmoid_backward(grad, s)
            w[...] -= lr * (x.T @ dy)
            b[...] -= lr * dy.sum(0)

        return step

    def call_torch(self, x, w, b, grad, lr):
        import torch

        tx, tgrad = tensors(x, grad)
        layer = torch.nn.Linear(w.shape[0], w.shape[1], dtype=tx.dtype)
        with torch.no_grad():  # nn.Linear keeps W as m x k
            layer.weight.copy_(torch.from_numpy(w.T))
            layer.bias.copy_(torch.from_numpy(b))

        def step():
            layer.zero_grad(set_to_none=True)
            torch.sigmoid(layer(tx)).backward(tgrad)
            with torch.no_grad():
                for parameter in layer.parameters():
                    parameter -= lr * parameter.grad

        return step


class Sigmoid(_Function):
    """With "copy", the bound: a threaded copy of the same bytes (see copy_bound)."""

    shapes = ELEMENTWISE_SHAPES
    params = (["fastsig", "fastsig-fast", "numpy", "scipy", "numexpr", "torch", "copy"], DTYPES,
              list(shapes), THREADS)
    uses_blas = False

    def data(self, dtype, shape):
        y = np.random.default_rng(0).standard_normal(shape, dtype=dtype)
        y *= 4
        return (y,)

    def call_fastsig(self, y):
        return lambda: fastsig.sigmoid(y)

    def call_fastsig_fast(self, y):
        accuracy = fast_mode()
        return lambda: fastsig.sigmoid(y, accuracy=accuracy)

    def call_numpy(self, y):
        return lambda: numpy_sigmoid(y)

    def call_scipy(self, y):
        from scipy.special import expit

        return lambda: expit(y)

    def call_numexpr(self, y):
        from numexpr import evaluate

        return lambda: evaluate("1 / (1 + exp(-y))", local_dict={"y": y})

    def call_torch(self, y):
        import torch

        (ty,) = tensors(y)
        return lambda: torch.sigmoid(ty)

    def call_copy(self, y):
        return copy_bound(y, self._num_threads)


class SigmoidBackward(_Function):
    shapes = ELEMENTWISE_SHAPES
    params = (["fastsig", "numpy", "numexpr", "torch"], DTYPES, list(shapes), THREADS)
    uses_blas = False

    def data(self, dtype, shape):
        rng = np.random.default_rng(0)
        return rng.standard_normal(shape, dtype=dtype), rng.random(shape, dtype=dtype)

    def call_fastsig(self, grad, s):
        return lambda: fastsig.sigmoid_backward(grad, s)

    def call_numpy(self, grad, s):
        return lambda: numpy_sigmoid_backward(grad, s)

    def call_numexpr(self, grad, s):
        from numexpr import evaluate

        return lambda: evaluate("g * s * (1 - s)", local_dict={"g": grad, "s": s})

    def call_torch(self, grad, s):
        import torch

        tgrad, ts = tensors(grad, s)
        return lambda: torch.ops.aten.sigmoid_backward(tgrad, ts)


class SweepDenseForward(DenseForward):
    """dense_forward on the sweep's reduced grid (SWEEP_SHAPES)."""

    shapes = SWEEP_SHAPES
    params = (["fastsig", "fastsig-fast", "numpy", "torch"], DTYPES, list(shapes), THREADS)


class SweepDenseBackward(DenseBackward):
    """dense_backward on the sweep's reduced grid (SWEEP_SHAPES)."""

    shapes = SWEEP_SHAPES
    params = (["fastsig", "numpy", "torch"], DTYPES, list(shapes), THREADS)
