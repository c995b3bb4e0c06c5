"""fastsig against the numpy code it replaces, on the same data in the same process.

Each class times fastsig (time_fastsig) and the numpy expression a user would otherwise write
(time_numpy) side by side. Neither is given out=: the numpy expressions allocate their results,
so fastsig allocates too. numpy's BLAS is limited to the same thread count as fastsig's
num_threads; numpy's ufuncs run on one thread whatever it is, so their 1- and 2-thread timings
should agree, which shows the noise.
"""

import numpy as np
from threadpoolctl import threadpool_limits

import fastsig

DTYPES = ["float32", "float64"]
THREADS = [1, 2]
# (n, k, m): X is n x k, W is k x m. DESIGN.md's worked example, then tall-skinny batches.
DENSE_SHAPES = {
    "2x2 @ 2x3": (2, 2, 3),
    "65536x16 @ 16x16": (65536, 16, 16),
    "65536x64 @ 64x64": (65536, 64, 64),
}
MATMUL_SHAPES = {**DENSE_SHAPES, "512x512 @ 512x512": (512, 512, 512)}
SIZES = [10**5, 10**6]


def np_sigmoid(y):
    # exp(-y) overflows to inf for very negative y, and 1 / (1 + inf) is the right answer, 0.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-y))


def np_dense_backward(grad, x, w, s):
    dy = grad * s * (1 - s)
    return dy @ w.T, x.T @ dy, dy.sum(0)


def dense_data(dtype, n, k, m):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k), dtype=dtype)
    w = rng.standard_normal((k, m), dtype=dtype)
    w /= np.sqrt(k)  # so that x @ w + b is of order one, where the sigmoid is not saturated
    b = rng.standard_normal(m, dtype=dtype)
    return rng, x, w, b


class _SameThreads:
    """Limits numpy's BLAS to num_threads from setup to teardown."""

    def limit_blas(self, num_threads):
        self._blas_limit = threadpool_limits(num_threads, user_api="blas")

    def teardown(self, *params):
        self._blas_limit.restore_original_limits()


class Matmul(_SameThreads):
    params = (DTYPES, list(MATMUL_SHAPES), THREADS)
    param_names = ("dtype", "shape", "num_threads")

    def setup(self, dtype, shape, num_threads):
        self.limit_blas(num_threads)
        _, self.x, self.w, _ = dense_data(dtype, *MATMUL_SHAPES[shape])

    def time_fastsig(self, dtype, shape, num_threads):
        fastsig.matmul(self.x, self.w, num_threads=num_threads)

    def time_numpy(self, dtype, shape, num_threads):
        self.x @ self.w


class DenseForward(_SameThreads):
    params = (DTYPES, list(DENSE_SHAPES), THREADS)
    param_names = ("dtype", "shape", "num_threads")

    def setup(self, dtype, shape, num_threads):
        self.limit_blas(num_threads)
        _, self.x, self.w, self.b = dense_data(dtype, *DENSE_SHAPES[shape])

    def time_fastsig(self, dtype, shape, num_threads):
        fastsig.dense_forward(self.x, self.w, self.b, num_threads=num_threads)

    def time_numpy(self, dtype, shape, num_threads):
        np_sigmoid(self.x @ self.w + self.b)


class DenseForwardMemory:
    """Peak memory of the forward: fastsig writes only S, numpy also makes Y and temporaries.
    The largest batch only, where the arrays outweigh the interpreter."""

    params = (DTYPES,)
    param_names = ("dtype",)

    def setup(self, dtype):
        _, self.x, self.w, self.b = dense_data(dtype, *DENSE_SHAPES["65536x64 @ 64x64"])

    def peakmem_fastsig(self, dtype):
        fastsig.dense_forward(self.x, self.w, self.b)

    def peakmem_numpy(self, dtype):
        np_sigmoid(self.x @ self.w + self.b)


class DenseBackward(_SameThreads):
    params = (DTYPES, list(DENSE_SHAPES), THREADS)
    param_names = ("dtype", "shape", "num_threads")

    def setup(self, dtype, shape, num_threads):
        self.limit_blas(num_threads)
        rng, self.x, self.w, b = dense_data(dtype, *DENSE_SHAPES[shape])
        self.s = np_sigmoid(self.x @ self.w + b)
        self.grad = rng.standard_normal(self.s.shape, dtype=dtype)

    def time_fastsig(self, dtype, shape, num_threads):
        fastsig.dense_backward(self.grad, self.x, self.w, self.s, num_threads=num_threads)

    def time_numpy(self, dtype, shape, num_threads):
        np_dense_backward(self.grad, self.x, self.w, self.s)


class Sigmoid(_SameThreads):
    params = (DTYPES, SIZES, THREADS)
    param_names = ("dtype", "size", "num_threads")

    def setup(self, dtype, size, num_threads):
        self.limit_blas(num_threads)
        self.y = np.random.default_rng(0).standard_normal(size, dtype=dtype)
        self.y *= 4

    def time_fastsig(self, dtype, size, num_threads):
        fastsig.sigmoid(self.y, num_threads=num_threads)

    def time_numpy(self, dtype, size, num_threads):
        np_sigmoid(self.y)


class SigmoidBackward(_SameThreads):
    params = (DTYPES, SIZES, THREADS)
    param_names = ("dtype", "size", "num_threads")

    def setup(self, dtype, size, num_threads):
        self.limit_blas(num_threads)
        rng = np.random.default_rng(0)
        self.grad = rng.standard_normal(size, dtype=dtype)
        self.s = rng.random(size, dtype=dtype)

    def time_fastsig(self, dtype, size, num_threads):
        fastsig.sigmoid_backward(self.grad, self.s, num_threads=num_threads)

    def time_numpy(self, dtype, size, num_threads):
        self.grad * self.s * (1 - self.s)
