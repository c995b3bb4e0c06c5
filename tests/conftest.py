"""Shared fixtures and helpers for the fastsig test suite (references, bounds, function specs)."""

# With --import-mode=importlib test modules cannot import this file, so everything a test
# module needs from here is handed out as a fixture (helpers are "factory" fixtures returning
# plain functions).  Parametrization over dtypes and over the public functions is done by the
# parametrized fixtures ``dtype`` and ``spec``.

import os
import subprocess
import sys
import zlib
from types import SimpleNamespace

# The tests exercise the installed fastsig, never the source tree beside them (which has no
# compiled kernels, or stale ones from an old in-place build). `python -m pytest` puts the
# working directory first on sys.path; from the repository's root that would make `import
# fastsig` find the source tree's `fastsig/`, so the root moves to the end of the path, behind
# site-packages, before fastsig is imported. (It stays on the path: dask's worker processes,
# which start with this sys.path, import the test modules' functions from `tests`.) An
# editable install still imports the tree, through its own import hook: that is what it is for.
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_AT_ROOT = [p for p in sys.path if os.path.abspath(p or os.curdir) == _SOURCE_ROOT]
sys.path[:] = [p for p in sys.path if p not in _AT_ROOT] + _AT_ROOT[:1]

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import fastsig  # noqa: E402
from fastsig import _reference  # noqa: E402


def pytest_report_header(config):
    from fastsig import _dispatch

    return (f"fastsig {fastsig.__version__} from {os.path.dirname(fastsig.__file__)} "
            f"(kernels: {_dispatch.ISA}, of {', '.join(_dispatch.AVAILABLE)})")

DTYPES = (np.float32, np.float64)


# --------------------------------------------------------------------------------------------
# hypothesis profiles
# --------------------------------------------------------------------------------------------
# "ci": derandomized (the same examples on every run, so a red CI run is reproducible), no
# deadline (threaded kernels and sanitizer builds have noisy timings) and a modest number of
# examples per test. "dev": hypothesis' random search with its example database, no deadline.
# CI=<anything> in the environment selects "ci"; HYPOTHESIS_PROFILE=<name> picks one explicitly.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=50,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI") else "dev"))


# --------------------------------------------------------------------------------------------
# numerics helpers
# --------------------------------------------------------------------------------------------

def _ref_dtype(dtype):
    """A dtype clearly more precise than `dtype`, used for reference computations."""
    if np.dtype(dtype) == np.float32:
        return np.float64
    return np.longdouble


def ref_sigmoid(y, dtype=None):
    """Numerically stable logistic sigmoid in (at least) the precision of `dtype`."""
    return _reference.sigmoid(y, dtype)


def exact_matmul(a, b):
    """(product, error bound of the product itself) computed in a wider precision.

    float32 operands are multiplied in float64, float64 operands in np.longdouble.  The returned
    error bound (k * eps_ref * |a|@|b|) covers the reference's own rounding, so that tests stay
    correct on platforms where longdouble is just float64.
    """
    rd = _ref_dtype(np.result_type(a, b))
    A = np.asarray(a, dtype=rd)
    B = np.asarray(b, dtype=rd)
    k = A.shape[1]
    prod = A @ B
    absprod = np.abs(A) @ np.abs(B)
    ref_err = k * np.finfo(rd).eps * absprod
    return prod, absprod, ref_err


def gemm_bound_check(result, a, b, *, extra_terms=0, extra_abs=None, c=None, what="product"):
    """Assert |result - a@b (+c)| <= (2k + extra_terms) u (|a|@|b| (+|c|)) (+ reference error)."""
    result = np.asarray(result)
    dt = result.dtype
    u = np.finfo(dt).eps / 2
    k = a.shape[1]
    prod, absprod, ref_err = exact_matmul(a, b)
    if c is not None:
        rd = prod.dtype
        prod = prod + np.asarray(c, dtype=rd)
        absprod = absprod + np.abs(np.asarray(c, dtype=rd))
        k += 1
    bound = (2 * k + extra_terms) * u * absprod + 2 * ref_err
    if extra_abs is not None:
        bound = bound + extra_abs
    err = np.abs(result.astype(prod.dtype) - prod)
    bad = ~(err <= bound)
    if np.any(bad):
        idx = np.argwhere(bad)[0]
        raise AssertionError(
            f"{what}: {int(bad.sum())} entries outside the error bound; first at {tuple(idx)}: "
            f"got {result[tuple(idx)]!r}, exact {prod[tuple(idx)]!r}, bound {bound[tuple(idx)]!r}"
        )


def ulp_distance(a, b):
    """Integer ULP distance between two arrays of the same float dtype (finite or inf)."""
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    assert a.dtype == b.dtype and a.dtype in (np.float32, np.float64)
    it = np.int32 if a.dtype == np.float32 else np.int64
    ia = a.view(it).astype(np.int64)
    ib = b.view(it).astype(np.int64)
    # map the sign-magnitude representation onto a monotone integer line
    mn = np.iinfo(it).min
    ia = np.where(ia < 0, mn - ia, ia)
    ib = np.where(ib < 0, mn - ib, ib)
    return np.abs(ia - ib)


def assert_bitwise_equal(a, b, what=""):
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    ua = np.ascontiguousarray(a).view(np.uint8)
    ub = np.ascontiguousarray(b).view(np.uint8)
    if not np.array_equal(ua, ub):
        # Entries whose bytes differ (-0 against +0 and NaN payloads included).
        diff = (ua.reshape(a.size, a.itemsize) != ub.reshape(b.size, b.itemsize)).any(axis=1)
        raise AssertionError(f"{what}: results differ bitwise at {int(diff.sum())} entries")


def as_tuple(result):
    return tuple(result) if isinstance(result, tuple) else (result,)


def compute_dtype(*arrays):
    """The contract's compute dtype: result_type, then int/bool -> float64, float16 -> float32."""
    rt = np.result_type(*arrays)
    if rt.kind in "biu":
        return np.dtype(np.float64)
    if rt == np.float16:
        return np.dtype(np.float32)
    return np.dtype(rt)


# --------------------------------------------------------------------------------------------
# the public functions, described uniformly
# --------------------------------------------------------------------------------------------

class Spec:
    """One public function: how to build valid inputs and how to call it.

    make(rng, dtype, size) returns the positional array arguments; size is "small" (a few
    dozen elements, odd shapes) or "big" (big enough to be run threaded).
    """

    def __init__(self, name, arg_names, make, *, has_out, elementwise):
        self.name = name
        self.arg_names = arg_names
        self.make = make
        self.has_out = has_out
        self.elementwise = elementwise

    @property
    def fn(self):
        return getattr(fastsig, self.name)

    def __call__(self, *args, **kw):
        return self.fn(*args, **kw)

    def result_shape(self, args):
        if self.elementwise:
            return np.shape(args[0])
        if self.name in ("matmul", "dense_forward"):
            return (np.shape(args[0])[0], np.shape(args[1])[1])
        raise ValueError(self.name)

    def __repr__(self):
        return self.name


_SIZES = {
    # (n, k, m) for the matrix functions, shape for the elementwise ones
    "small": ((7, 5, 6), (7, 6)),
    "big": ((300, 200, 150), (1000, 1000)),
}


def _uniform(rng, shape, dtype, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def _s_values(rng, shape, dtype):
    return ref_sigmoid(rng.normal(0.0, 2.0, size=shape)).astype(dtype)


def _make_matmul(rng, dtype, size="small"):
    n, k, m = _SIZES[size][0]
    return (_uniform(rng, (n, k), dtype), _uniform(rng, (k, m), dtype))


def _make_sigmoid(rng, dtype, size="small"):
    shape = _SIZES[size][1]
    return (_uniform(rng, shape, dtype, -8, 8),)


def _make_sigmoid_backward(rng, dtype, size="small"):
    shape = _SIZES[size][1]
    return (_uniform(rng, shape, dtype, -2, 2), _s_values(rng, shape, dtype))


def _make_dense_forward(rng, dtype, size="small"):
    n, k, m = _SIZES[size][0]
    return (_uniform(rng, (n, k), dtype), _uniform(rng, (k, m), dtype), _uniform(rng, (m,), dtype))


def _make_dense_backward(rng, dtype, size="small"):
    n, k, m = _SIZES[size][0]
    return (
        _uniform(rng, (n, m), dtype, -2, 2),
        _uniform(rng, (n, k), dtype),
        _uniform(rng, (k, m), dtype),
        _s_values(rng, (n, m), dtype),
    )


SPECS = {
    "matmul": Spec("matmul", ("x", "w"), _make_matmul, has_out=True, elementwise=False),
    "sigmoid": Spec("sigmoid", ("y",), _make_sigmoid, has_out=True, elementwise=True),
    "sigmoid_backward": Spec(
        "sigmoid_backward", ("grad", "s"), _make_sigmoid_backward, has_out=True, elementwise=True
    ),
    "dense_forward": Spec(
        "dense_forward", ("x", "w", "b"), _make_dense_forward, has_out=True, elementwise=False
    ),
    "dense_backward": Spec(
        "dense_backward", ("grad", "x", "w", "s"), _make_dense_backward, has_out=False,
        elementwise=False,
    ),
}


# --------------------------------------------------------------------------------------------
# layouts: views with the same values as a C-contiguous array but another memory layout
# --------------------------------------------------------------------------------------------

def _strided(a):
    a = np.asarray(a)
    steps = (2, 3, 2)[: a.ndim]
    big = np.zeros(tuple(s * st for s, st in zip(a.shape, steps)), dtype=a.dtype)
    sl = tuple(slice(None, None, st) for st in steps)
    big[sl] = a
    return big[sl]


def _negative(a):
    a = np.asarray(a)
    rev = tuple(slice(None, None, -1) for _ in range(a.ndim))
    return a[rev].copy()[rev]


def _readonly(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def _bigendian(a):
    a = np.asarray(a)
    return a.astype(a.dtype.newbyteorder(">"))


def _fortran(a):
    return np.asfortranarray(a)


def _nested_list(a):
    return np.asarray(a).tolist()


def _broadcast(a):
    """A zero-stride (read-only) view: the first entry along axis 0 repeated."""
    a = np.asarray(a)
    return np.broadcast_to(a[:1], a.shape)


LAYOUTS = {
    "fortran": _fortran,
    "strided": _strided,
    "negative": _negative,
    "readonly": _readonly,
    "bigendian": _bigendian,
    "list": _nested_list,
    "broadcast": _broadcast,
    # "mmap" needs tmp_path: handled by the fixture below
}
LAYOUT_NAMES = tuple(LAYOUTS) + ("mmap",)


def canonical(a):
    """What the kernel should see: a native-byte-order C-contiguous ndarray of the same values."""
    a = np.ascontiguousarray(np.asarray(a))
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a


# --------------------------------------------------------------------------------------------
# subprocess helper
# --------------------------------------------------------------------------------------------

def python_env(**extra):
    """Environment for a child interpreter that imports the same fastsig as this process.

    The child runs in a temporary directory (so the source tree is not on sys.path by accident)
    and gets the directory holding the imported fastsig package prepended to PYTHONPATH.
    """
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastsig.__file__)))
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + old if old else "")
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def run_python(args, cwd, *, timeout=120, **env):
    """Run sys.executable with `args` (a list), return the CompletedProcess (text mode)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=python_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------

@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    """float32 and float64, the native dtypes (as numpy scalar types)."""
    return request.param


@pytest.fixture
def rng(request):
    """A generator seeded from the test id: deterministic, but different for each test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(params=list(SPECS), ids=list(SPECS))
def spec(request):
    """Each of the five public compute functions."""
    return SPECS[request.param]


@pytest.fixture(params=[n for n in SPECS if SPECS[n].has_out])
def out_spec(request):
    """The public functions that take out=."""
    return SPECS[request.param]


@pytest.fixture
def specs():
    return SPECS


@pytest.fixture(params=LAYOUT_NAMES)
def layout_name(request):
    """Each non-C-contiguous / non-native / read-only / array-like input layout."""
    return request.param


@pytest.fixture
def layout(tmp_path):
    """layout(name, array) -> a view/array-like with the same values in that memory layout."""
    counter = [0]

    def make(name, a):
        if name == "mmap":
            counter[0] += 1
            path = tmp_path / f"arr{counter[0]}.npy"
            np.save(path, np.ascontiguousarray(a))
            m = np.load(path, mmap_mode="r")
            assert not m.flags.writeable
            return m
        return LAYOUTS[name](a)

    return make


def block_task_rows_big_b(dtype):
    """The most rows whose tasks each pack their block of a large w (plan.pxi's
    _block_task_rows_big_b): A's rows a depth block deep in half of L2."""
    from fastsig import _dispatch

    blocking = _dispatch.kernels.blocking()
    name = np.dtype(dtype).name
    return blocking["l2_bytes"] // 2 // (blocking["kc"][name] * np.dtype(dtype).itemsize)


@pytest.fixture
def helpers():
    """The numeric helpers of this module, as a namespace."""
    return SimpleNamespace(
        ref_sigmoid=ref_sigmoid,
        exact_matmul=exact_matmul,
        gemm_bound_check=gemm_bound_check,
        ulp_distance=ulp_distance,
        assert_bitwise_equal=assert_bitwise_equal,
        as_tuple=as_tuple,
        compute_dtype=compute_dtype,
        canonical=canonical,
        ref_dtype=_ref_dtype,
        run_python=run_python,
        python_env=python_env,
        block_task_rows_big_b=block_task_rows_big_b,
        DTYPES=DTYPES,
    )


@pytest.fixture
def thread_setting():
    """Yields fastsig.set_num_threads and always resets the process-wide value afterwards."""
    try:
        yield fastsig.set_num_threads
    finally:
        fastsig.set_num_threads(None)


@pytest.fixture
def accuracy_setting():
    """Yields fastsig.set_accuracy and always resets the process-wide mode afterwards."""
    try:
        yield fastsig.set_accuracy
    finally:
        fastsig.set_accuracy(None)
