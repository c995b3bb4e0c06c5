"""Property tests (hypothesis) of every public function against exact references.

Inputs come from ``hypothesis.extra.numpy``: shapes with zero sides, float32 and float64, values
that include NaN, ±inf, ±0, subnormals and magnitudes up to the dtype's maximum, in C, Fortran,
strided (a slice of a bigger NaN-filled array), reversed, unaligned and read-only layouts.

References are exact, not another floating-point computation:
- sigmoid: the correctly rounded σ(y) (mpmath at 160 bits, then rounded to the dtype by integer
  arithmetic, subnormals included); fastsig must be within 1 (float32) / 2 (float64)
  representable steps of it, NaN exactly where the input is NaN;
- products (matmul, dense_forward's x @ w + b, dense_backward's dx, dw, db) and
  sigmoid_backward: computed exactly with Python integers (every float is an integer multiple of
  the smallest subnormal), and fastsig must be within the contract's bound 2·k·u·(|X|·|W|), plus
  the absolute error that gradual underflow adds (a few smallest subnormals per term). Where
  |X|·|W| reaches the dtype's maximum an overflow to ±inf or NaN is accepted.
- with NaN/±inf inputs: NaN and ±inf at exactly the positions of numpy's float64 result
  (computed elementwise, without BLAS), the finite entries within the bounds above.
Wrong shapes must raise ValueError naming them, unsupported dtypes TypeError.

Run with CI=1 for the derandomized "ci" profile of conftest.py.
"""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fastsig

DTYPES = (np.float32, np.float64)
MAX_STEPS = {np.dtype(np.float32): 1, np.dtype(np.float64): 2}  # sigmoid accuracy, in steps

# The tests build their inputs themselves; the fixtures they use (none, or pure helpers) do not
# need resetting between examples.
_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------------------------
# exact arithmetic
# --------------------------------------------------------------------------------------------

def _fmt(dtype):
    """(precision p, minimum normal exponent emin, log2 of the smallest subnormal)."""
    fi = np.finfo(dtype)
    return fi.nmant + 1, fi.minexp, fi.minexp - fi.nmant


def _scaled_ints(a, dtype):
    """The values of the finite array `a` as Python ints, in units of dtype's smallest subnormal.

    Returns an object array of the same shape (exact: every float of `dtype` is an integer
    multiple of 2**emin_sub)."""
    _, _, esub = _fmt(dtype)
    a = np.asarray(a, dtype=dtype)
    out = np.empty(a.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(a.reshape(-1).tolist()):
        num, den = float(v).as_integer_ratio()
        flat[i] = num * (2 ** -esub // den)
    return out


def _round_to(q, dtype):
    """The Fraction (or int) q correctly rounded to `dtype` (ties to even, subnormals, inf)."""
    p, emin, _ = _fmt(dtype)
    if q == 0:
        return dtype(0.0)
    neg = q < 0
    a = Fraction(-q if neg else q)
    num, den = a.numerator, a.denominator
    e = num.bit_length() - den.bit_length()  # 2**(e-1) < a < 2**(e+1)
    if a < Fraction(2) ** e:
        e -= 1
    e = max(e, emin)  # 2**e <= a < 2**(e+1), or a subnormal
    quantum = Fraction(2) ** (e - (p - 1))
    n = round(a / quantum)  # Fraction.__round__: half to even
    value = n * quantum
    if value > Fraction(float(np.finfo(dtype).max)):
        r = math.inf
    else:
        r = float(value)  # exact: value is representable in dtype, hence in float64
    return dtype(-r if neg else r)


def _ordinals(a):
    """Position of each float on the line of representable values (monotone, ±0 equal)."""
    a = np.ascontiguousarray(a)
    it = np.int32 if a.dtype == np.float32 else np.int64
    i = a.view(it).astype(np.int64)
    return np.where(i < 0, np.iinfo(it).min - i, i).astype(object)


def _steps(a, b):
    """Number of representable steps between a and b (same dtype, no NaN)."""
    return np.abs(_ordinals(a) - _ordinals(b))


def _sigmoid_cr(v, dtype):
    """σ(v) correctly rounded to dtype (mpmath, 160 bits; NaN for NaN)."""
    mpmath = pytest.importorskip("mpmath")

    if math.isnan(v):
        return dtype(np.nan)
    if v >= 800:  # 1 - σ(v) < e**-800: rounds to 1 in both dtypes
        return dtype(1.0)
    if v <= -800:  # σ(v) < e**-800, far below half the smallest subnormal
        return dtype(0.0)
    with mpmath.workprec(160):
        y = mpmath.mpf(v)
        t = mpmath.exp(-abs(y))
        s = 1 / (1 + t) if v >= 0 else t / (1 + t)
        sign, man, exp, _ = s._mpf_
    q = Fraction(int(man)) * Fraction(2) ** int(exp)
    return _round_to(-q if sign else q, dtype)


def _sigmoid_cr_array(a, dtype, cache):
    out = np.empty(a.shape, dtype=dtype)
    flat = out.reshape(-1)
    for i, v in enumerate(np.asarray(a, dtype=np.float64).reshape(-1).tolist()):
        key = (v, np.dtype(dtype).char)
        if key not in cache:
            cache[key] = _sigmoid_cr(v, dtype)
        flat[i] = cache[key]
    return out


def _sigmoid_of_fraction(q, dtype):
    """σ(q) correctly rounded to dtype, for a Fraction q (200-bit evaluation)."""
    mpmath = pytest.importorskip("mpmath")

    if q >= 800:
        return dtype(1.0)
    if q <= -800:
        return dtype(0.0)
    with mpmath.workprec(200):
        y = mpmath.mpf(q.numerator) / q.denominator
        t = mpmath.exp(-abs(y))
        s = 1 / (1 + t) if y >= 0 else t / (1 + t)
        sign, man, exp, _ = s._mpf_
    r = Fraction(int(man)) * Fraction(2) ** int(exp)
    return _round_to(-r if sign else r, dtype)


def _fractions(ints, scale_log2):
    """Object array of the Fractions ints * 2**scale_log2."""
    f = Fraction(2) ** scale_log2
    ints = np.asarray(ints, dtype=object)  # 0-d arithmetic on object arrays gives a bare int
    out = np.empty(ints.shape, dtype=object)
    for idx in np.ndindex(ints.shape):
        out[idx] = ints[idx] * f
    return out


class ExactProduct:
    """P = A @ B exactly, and the error bound the contract allows for a computed P.

    A and B are object arrays of ints, the values A·2**a_scale and B·2**b_scale. `c` (ints at
    the product's scale) is an extra term of each sum (the bias). When one operand is itself
    computed (`perturbed` = "A" or "B": the dY of the backward), its entries may be off by
    rel_extra·u relative plus abs_extra·η absolute (η = the smallest subnormal / 2).

    The bound: (2·terms + rel_extra)·u·(|A|·|B|) (the contract's 2·k·u·(|X|·|W|)), plus the
    perturbation's absolute part carried through the other operand, plus gradual underflow:
    each product or sum that is subnormal may add η."""

    def __init__(self, A, a_scale, B, b_scale, dtype, *, c=None, perturbed=None,
                 rel_extra=0, abs_extra=0):
        self.dtype = np.dtype(dtype)
        p, _, esub = _fmt(dtype)
        self.u = u = Fraction(1, 2 ** p)
        eta = Fraction(1, 2 ** (1 - esub))
        K = A.shape[1]
        absA, absB = np.abs(A), np.abs(B)
        P, absP = np.dot(A, B), np.dot(absA, absB)
        terms = K
        if c is not None:
            P, absP, terms = P + c, absP + np.abs(c), K + 1
        scale = a_scale + b_scale
        self.P, self.absP = _fractions(P, scale), _fractions(absP, scale)
        extra = np.zeros(P.shape, dtype=object)
        if perturbed == "A" and abs_extra:  # Σ_l η·|B_lj|
            extra = extra + _fractions(np.dot(np.ones((1, K), dtype=object), absB), b_scale)
        elif perturbed == "B" and abs_extra:  # Σ_l |A_il|·η
            extra = extra + _fractions(np.dot(absA, np.ones((K, 1), dtype=object)), a_scale)
        rel = (2 * terms + rel_extra) * u * (1 + 8 * (rel_extra + 1) * u)
        self.bound = np.empty(P.shape, dtype=object)
        for idx in np.ndindex(P.shape):
            self.bound[idx] = (rel * self.absP[idx] + 2 * abs_extra * eta * extra[idx]
                               + 2 * (terms + 1) * eta)
        self.max = Fraction(float(np.finfo(dtype).max))

    def may_overflow(self, idx):
        """An intermediate (a product, a partial sum) may exceed the dtype's range."""
        return self.absP[idx] * (1 + 4 * self.u) + self.bound[idx] >= self.max

    def check(self, result, what, finite_mask=None):
        """Every entry within the bound; non-finite only where an overflow was possible."""
        result = np.asarray(result)
        assert result.dtype == self.dtype, f"{what}: dtype {result.dtype} != {self.dtype}"
        assert result.shape == self.P.shape, f"{what}: shape {result.shape} != {self.P.shape}"
        for idx in np.ndindex(result.shape):
            if finite_mask is not None and not finite_mask[idx]:
                continue
            r = float(result[idx])
            if not math.isfinite(r):
                assert self.may_overflow(idx), (
                    f"{what}{list(idx)}: got {r} but the exact value is {float(self.P[idx])!r} "
                    f"and no overflow is possible")
                continue
            err = abs(Fraction(r) - self.P[idx])
            assert err <= self.bound[idx], (
                f"{what}{list(idx)}: got {r!r}, exact {float(self.P[idx])!r}, error "
                f"{float(err):.3g} > bound {float(self.bound[idx]):.3g}")


# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------

dtypes = st.sampled_from(DTYPES)
LAYOUTS = ("C", "F", "strided", "reversed", "unaligned", "readonly")


def _finite(dtype):
    """Mostly moderate values, often the extremes: subnormals, ±0, huge magnitudes."""
    width = np.dtype(dtype).itemsize * 8
    return st.one_of(
        st.floats(-4, 4, width=width),
        hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False,
                       allow_subnormal=True),
        st.sampled_from([0.0, -0.0, float(np.finfo(dtype).smallest_subnormal),
                         float(np.finfo(dtype).tiny), float(np.finfo(dtype).max),
                         -float(np.finfo(dtype).max)]),
    )


def _moderate_or_special(dtype):
    """NaN / ±inf / ±0 and values 2**-10 <= |v| <= 8, whose products (dY = g·s·(1-s) too)
    neither overflow nor underflow: so that inf·0 = NaN happens only with a zero input, never
    with a product that underflowed in one dtype and not in another."""
    width = np.dtype(dtype).itemsize * 8
    magnitude = st.floats(2.0 ** -10, 8, width=width)
    return st.one_of(magnitude, magnitude.map(lambda v: -v),
                     st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]))


def _anything(dtype):
    return hnp.from_dtype(np.dtype(dtype), allow_nan=True, allow_infinity=True,
                          allow_subnormal=True)


def _unit_interval(dtype):
    """The saved sigmoid output: values in [0, 1], with 0, 1, subnormals and 1 - ε."""
    width = np.dtype(dtype).itemsize * 8
    one_minus = float(np.nextafter(dtype(1), dtype(0)))
    return st.one_of(st.floats(0, 1, width=width),
                     st.sampled_from([0.0, 1.0, 0.5, one_minus,
                                      float(np.finfo(dtype).smallest_subnormal)]))


def _arrays(dtype, shape, elements):
    return hnp.arrays(dtype=dtype, shape=shape, elements=elements)


def relayout(a, how):
    """An array with the values of `a` in another memory layout."""
    a = np.asarray(a)
    if how == "C":  # (np.ascontiguousarray would make a 0-d array 1-d)
        return np.array(a, order="C")
    if how == "F":
        return np.array(a, order="F")
    if how == "strided":
        # a slice of a bigger array whose other entries are NaN: a kernel that reads outside
        # the view shows up as NaN in the result
        steps = tuple(2 + (i % 2) for i in range(a.ndim))
        big = np.full(tuple(max(s * st_, 1) for s, st_ in zip(a.shape, steps)), np.nan,
                      dtype=a.dtype)
        view = big[tuple(slice(None, None, st_) for st_ in steps) + (Ellipsis,)]
        view = view[tuple(slice(0, s) for s in a.shape) + (Ellipsis,)]
        view[...] = a
        return view
    if how == "reversed":
        rev = tuple(slice(None, None, -1) for _ in range(a.ndim)) + (Ellipsis,)
        return np.array(a[rev], order="C")[rev]
    if how == "unaligned":
        # C-contiguous but at an odd address (numpy's flags.aligned is False)
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        view = raw[1:].view(a.dtype).reshape(a.shape)
        view[...] = a
        return view
    if how == "readonly":
        r = np.array(a, copy=True)
        r.flags.writeable = False
        return r
    raise ValueError(how)


layouts = st.sampled_from(LAYOUTS)


def _no_warnings(fn, *args, **kw):
    """Call fn with every warning, and every numpy floating-point error, an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return fn(*args, **kw)


def _np64(a):
    return np.asarray(a, dtype=np.float64)


def _same_nonfinite(result, ref, what):
    """NaN, +inf and -inf at the same positions as the float64 reference."""
    result = np.asarray(result)
    for name, pred in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        got, want = pred(result), pred(ref)
        if not np.array_equal(got, want):
            idx = tuple(np.argwhere(got != want)[0])
            raise AssertionError(f"{what}: {name} positions differ from numpy's float64 "
                                 f"result, first at {list(idx)}: got {result[idx]!r}, numpy "
                                 f"{ref[idx]!r}")


# --------------------------------------------------------------------------------------------
# sigmoid
# --------------------------------------------------------------------------------------------

_SIGMOID_CACHE = {}
elementwise_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7)


@pytest.mark.quick
@_SETTINGS
@given(data=st.data(), dtype=dtypes, shape=elementwise_shapes, how=layouts,
       out_mode=st.sampled_from(["new", "out", "inplace"]))
def test_sigmoid_correctly_rounded(data, dtype, shape, how, out_mode):
    y = data.draw(_arrays(dtype, shape, _anything(dtype)), label="y")
    ref = _sigmoid_cr_array(y, dtype, _SIGMOID_CACHE)
    arg = relayout(y, how)
    if out_mode == "new":
        s = _no_warnings(fastsig.sigmoid, arg)
    elif out_mode == "out":
        out = np.full(shape, 7.0, dtype=dtype)
        s = _no_warnings(fastsig.sigmoid, arg, out=out)
        assert s is out
    else:
        arg = np.array(y, dtype=dtype, order="C")
        s = _no_warnings(fastsig.sigmoid, arg, out=arg)
        assert s is arg
    assert isinstance(s, np.ndarray) and s.dtype == dtype and s.shape == shape
    nan = np.isnan(y)
    np.testing.assert_array_equal(np.isnan(s), nan, err_msg="NaN exactly where the input is NaN")
    d = _steps(s[~nan], ref[~nan])
    if d.size:
        worst = int(np.argmax(d))
        assert d[worst] <= MAX_STEPS[np.dtype(dtype)], (
            f"sigmoid({y[~nan][worst]!r}) = {s[~nan][worst]!r}, correctly rounded "
            f"{ref[~nan][worst]!r}: {d[worst]} steps")


@_SETTINGS
@given(dtype=dtypes, data=st.data())
def test_sigmoid_promoted_dtypes(dtype, data):
    # integer and bool inputs compute in float64, float16 in float32; the answer is the
    # sigmoid of the converted values
    src = data.draw(st.sampled_from([np.int8, np.int32, np.int64, np.uint16, np.bool_,
                                     np.float16]))
    shape = data.draw(elementwise_shapes)
    y = data.draw(hnp.arrays(dtype=src, shape=shape))
    expected = np.float32 if src == np.float16 else np.float64
    s = _no_warnings(fastsig.sigmoid, y)
    assert s.dtype == expected and s.shape == shape
    np.testing.assert_array_equal(s, fastsig.sigmoid(y.astype(expected)))


# --------------------------------------------------------------------------------------------
# sigmoid_backward
# --------------------------------------------------------------------------------------------

def _backward_exact(g, s, dtype):
    """g·s·(1-s) exactly, as Fractions (g, s finite)."""
    _, _, esub = _fmt(dtype)
    G, S = _scaled_ints(g, dtype), _scaled_ints(s, dtype)
    one = 2 ** -esub
    return _fractions(G * S * (one - S), 3 * esub)


@pytest.mark.quick
@_SETTINGS
@given(data=st.data(), dtype=dtypes, shape=elementwise_shapes, how_g=layouts, how_s=layouts,
       out_mode=st.sampled_from(["new", "out", "grad", "s"]))
def test_sigmoid_backward_accuracy(data, dtype, shape, how_g, how_s, out_mode):
    g = data.draw(_arrays(dtype, shape, _finite(dtype)), label="grad")
    s = data.draw(_arrays(dtype, shape, _unit_interval(dtype)), label="s")
    exact = _backward_exact(g, s, dtype)
    ga, sa = relayout(g, how_g), relayout(s, how_s)
    if out_mode == "new":
        r = _no_warnings(fastsig.sigmoid_backward, ga, sa)
    elif out_mode == "out":
        out = np.full(shape, 7.0, dtype=dtype)
        r = _no_warnings(fastsig.sigmoid_backward, ga, sa, out=out)
        assert r is out
    else:  # in place into grad or s
        ga, sa = np.array(g, order="C"), np.array(s, order="C")
        target = ga if out_mode == "grad" else sa
        r = _no_warnings(fastsig.sigmoid_backward, ga, sa, out=target)
        assert r is target
    assert r.dtype == dtype and r.shape == shape
    # within 1 (float32) / 2 (float64) steps of the correctly rounded exact product
    for idx in np.ndindex(shape):
        cr = _round_to(exact[idx], dtype)
        d = int(_steps(np.array([r[idx]], dtype), np.array([cr], dtype))[0])
        assert d <= MAX_STEPS[np.dtype(dtype)], (
            f"sigmoid_backward({g[idx]!r}, {s[idx]!r}) = {r[idx]!r}, correctly rounded "
            f"{cr!r}: {d} steps")


@_SETTINGS
@given(data=st.data(), dtype=dtypes, shape=elementwise_shapes, how=layouts)
def test_sigmoid_backward_special_values(data, dtype, shape, how):
    g = data.draw(_arrays(dtype, shape, _moderate_or_special(dtype)), label="grad")
    s = data.draw(_arrays(dtype, shape, _moderate_or_special(dtype)), label="s")
    r = _no_warnings(fastsig.sigmoid_backward, relayout(g, how), relayout(s, how))
    assert r.dtype == dtype and r.shape == shape
    with np.errstate(all="ignore"):
        ref = _np64(g) * _np64(s) * (1 - _np64(s))
    _same_nonfinite(r, ref, "sigmoid_backward")
    fin = np.isfinite(ref)
    u = np.finfo(dtype).eps / 2
    tol = 4 * u * np.abs(ref[fin]) + 32 * float(np.finfo(dtype).smallest_subnormal)
    assert np.all(np.abs(_np64(r[fin]) - ref[fin]) <= tol)


# --------------------------------------------------------------------------------------------
# matmul and dense_forward
# --------------------------------------------------------------------------------------------

sides = st.integers(0, 12)
wide_sides = st.one_of(st.integers(0, 12), st.integers(40, 52))  # past a register tile's width


@st.composite
def gemm_problem(draw, elements, with_bias=False):
    dtype = draw(dtypes)
    n, k, m = draw(sides), draw(sides), draw(wide_sides)
    x = draw(_arrays(dtype, (n, k), elements(dtype)), label="x")
    w = draw(_arrays(dtype, (k, m), elements(dtype)), label="w")
    b = draw(st.none() | _arrays(dtype, (m,), elements(dtype))) if with_bias else None
    return dtype, x, w, b


def _exact_gemm(x, w, dtype, b=None):
    _, _, esub = _fmt(dtype)
    X, W = _scaled_ints(x, dtype), _scaled_ints(w, dtype)
    c = None
    if b is not None:
        c = _scaled_ints(b, dtype)[None, :] * 2 ** -esub  # to the product's scale
    return ExactProduct(X, esub, W, esub, dtype, c=c)


def _np_gemm64(x, w):
    """numpy's float64 product, elementwise (no BLAS): IEEE inf/NaN rules for every term."""
    with np.errstate(all="ignore"):
        return (_np64(x)[:, :, None] * _np64(w)[None, :, :]).sum(axis=1)


@pytest.mark.quick
@_SETTINGS
@given(problem=gemm_problem(_finite), how_x=layouts, how_w=layouts,
       use_out=st.booleans(), nt=st.sampled_from([None, 1, 2, 3]))
def test_matmul_within_bound(problem, how_x, how_w, use_out, nt):
    dtype, x, w, _ = problem
    n, m = x.shape[0], w.shape[1]
    xa, wa = relayout(x, how_x), relayout(w, how_w)
    if use_out:
        out = np.full((n, m), 7.0, dtype=dtype)
        y = _no_warnings(fastsig.matmul, xa, wa, out=out, num_threads=nt)
        assert y is out
    else:
        y = _no_warnings(fastsig.matmul, xa, wa, num_threads=nt)
    _exact_gemm(x, w, dtype).check(y, "matmul")


@_SETTINGS
@given(problem=gemm_problem(_moderate_or_special), how=layouts)
def test_matmul_special_values(problem, how):
    dtype, x, w, _ = problem
    y = _no_warnings(fastsig.matmul, relayout(x, how), relayout(w, how))
    ref = _np_gemm64(x, w)
    _same_nonfinite(y, ref, "matmul")
    xf, wf = np.where(np.isfinite(x), x, 0), np.where(np.isfinite(w), w, 0)
    _exact_gemm(xf, wf, dtype).check(y, "matmul", finite_mask=np.isfinite(ref))


def _check_dense_forward(s, exact, dtype, finite_mask=None):
    """s = σ(Y) for some Y within the product bound of exact Y, with σ's own error on top."""
    assert s.dtype == dtype and s.shape == exact.P.shape
    steps = MAX_STEPS[np.dtype(dtype)]
    for idx in np.ndindex(s.shape):
        if finite_mask is not None and not finite_mask[idx]:
            continue
        v = s[idx]
        if exact.may_overflow(idx):
            assert np.isnan(v) or 0 <= v <= 1, f"dense_forward{list(idx)} = {v!r}"
            continue
        y, bnd = exact.P[idx], exact.bound[idx]
        lo = _sigmoid_of_fraction(y - bnd, dtype)
        hi = _sigmoid_of_fraction(y + bnd, dtype)
        o = _ordinals(np.array([lo, v, hi], dtype=dtype))
        assert o[0] - steps <= o[1] <= o[2] + steps, (
            f"dense_forward{list(idx)} = {v!r}; σ of the exact pre-activation "
            f"{float(y)!r} ± {float(bnd):.3g} is in [{lo!r}, {hi!r}]")


@pytest.mark.quick
@_SETTINGS
@given(problem=gemm_problem(_finite, with_bias=True), how=layouts, use_out=st.booleans(),
       nt=st.sampled_from([None, 1, 2]))
def test_dense_forward_within_bound(problem, how, use_out, nt):
    dtype, x, w, b = problem
    n, m = x.shape[0], w.shape[1]
    args = [relayout(x, how), relayout(w, how)] + ([] if b is None else [relayout(b, how)])
    kw = {"num_threads": nt}
    if use_out:
        kw["out"] = np.full((n, m), 7.0, dtype=dtype)
    s = _no_warnings(fastsig.dense_forward, *args, **kw)
    if use_out:
        assert s is kw["out"]
    _check_dense_forward(s, _exact_gemm(x, w, dtype, b), dtype)


@_SETTINGS
@given(problem=gemm_problem(_moderate_or_special, with_bias=True), how=layouts)
def test_dense_forward_special_values(problem, how):
    dtype, x, w, b = problem
    args = [relayout(x, how), relayout(w, how)] + ([] if b is None else [relayout(b, how)])
    s = _no_warnings(fastsig.dense_forward, *args)
    y = _np_gemm64(x, w)
    if b is not None:
        with np.errstate(all="ignore"):
            y = y + _np64(b)
    np.testing.assert_array_equal(np.isnan(s), np.isnan(y), err_msg="NaN positions")
    assert np.all(s[np.isposinf(y)] == 1) and np.all(s[np.isneginf(y)] == 0)
    fin = lambda a: np.where(np.isfinite(a), a, 0)  # noqa: E731
    exact = _exact_gemm(fin(x), fin(w), dtype, None if b is None else fin(b))
    _check_dense_forward(s, exact, dtype, finite_mask=np.isfinite(y))


# --------------------------------------------------------------------------------------------
# dense_backward
# --------------------------------------------------------------------------------------------

@st.composite
def backward_problem(draw, grad_elements, x_elements, s_elements):
    dtype = draw(dtypes)
    n, k, m = draw(sides), draw(sides), draw(wide_sides)
    g = draw(_arrays(dtype, (n, m), grad_elements(dtype)), label="grad")
    x = draw(_arrays(dtype, (n, k), x_elements(dtype)), label="x")
    w = draw(_arrays(dtype, (k, m), x_elements(dtype)), label="w")
    s = draw(_arrays(dtype, (n, m), s_elements(dtype)), label="s")
    return dtype, g, x, w, s


def _exact_backward(g, x, w, s, dtype, dy_abs=3):
    """Exact dx, dw, db as ExactProduct checkers.

    dY = g·s·(1-s) is formed by the kernel in floating point: at most 3 roundings (4u
    relative) and, with 0 <= s <= 1, at most 3η absolute from underflow per entry (more when
    |1 - s| > 1: `dy_abs`), which the bounds carry through the products."""
    _, _, esub = _fmt(dtype)
    G, X, W, S = (_scaled_ints(a, dtype) for a in (g, x, w, s))
    DY = G * S * (2 ** -esub - S)  # the exact dY, in units of 2**(3·esub)
    ones = np.ones((1, g.shape[0]), dtype=object)
    kw = dict(rel_extra=4, abs_extra=dy_abs)
    dx = ExactProduct(DY, 3 * esub, W.T, esub, dtype, perturbed="A", **kw)
    dw = ExactProduct(X.T, esub, DY, 3 * esub, dtype, perturbed="B", **kw)
    db = ExactProduct(ones, 0, DY, 3 * esub, dtype, perturbed="B", **kw)
    return dx, dw, db


@pytest.mark.quick
@_SETTINGS
@given(problem=backward_problem(_finite, _finite, _unit_interval), how=layouts,
       compute_dx=st.booleans(), nt=st.sampled_from([None, 1, 2]))
def test_dense_backward_within_bound(problem, how, compute_dx, nt):
    dtype, g, x, w, s = problem
    n, k = x.shape
    m = w.shape[1]
    dx, dw, db = _no_warnings(fastsig.dense_backward, *(relayout(a, how) for a in (g, x, w, s)),
                              compute_dx=compute_dx, num_threads=nt)
    edx, edw, edb = _exact_backward(g, x, w, s, dtype)
    if compute_dx:
        assert dx.shape == (n, k)
        edx.check(dx, "dx")
    else:
        assert dx is None
    edw.check(dw, "dw")
    assert db.shape == (m,)
    edb.check(db[None, :], "db")


@_SETTINGS
@given(problem=backward_problem(_moderate_or_special, _moderate_or_special,
                                _moderate_or_special), how=layouts)
def test_dense_backward_special_values(problem, how):
    dtype, g, x, w, s = problem
    dx, dw, db = _no_warnings(fastsig.dense_backward, *(relayout(a, how) for a in (g, x, w, s)))
    with np.errstate(all="ignore"):
        dy = _np64(g) * _np64(s) * (1 - _np64(s))
        ref_dx = (dy[:, None, :] * _np64(w)[None, :, :]).sum(axis=2)
        ref_dw = (_np64(x)[:, :, None] * dy[:, None, :]).sum(axis=0)
        ref_db = dy.sum(axis=0)
    _same_nonfinite(dx, ref_dx, "dx")
    _same_nonfinite(dw, ref_dw, "dw")
    _same_nonfinite(db, ref_db, "db")
    # the finite entries: within the bounds, with the non-finite inputs (which only reach the
    # non-finite entries) replaced by zeros
    fin = lambda a: np.where(np.isfinite(a), a, 0)  # noqa: E731
    # |1 - s| <= 9 here: an underflow in g·s is magnified up to 9 times
    edx, edw, edb = _exact_backward(fin(g), fin(x), fin(w), fin(s), dtype, dy_abs=12)
    edx.check(dx, "dx", finite_mask=np.isfinite(ref_dx))
    edw.check(dw, "dw", finite_mask=np.isfinite(ref_dw))
    edb.check(db[None, :], "db", finite_mask=np.isfinite(ref_db)[None, :])


# --------------------------------------------------------------------------------------------
# the promised errors
# --------------------------------------------------------------------------------------------

any_shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


def _assert_shapes_named(exc, *shapes):
    msg = str(exc.value)
    for shp in shapes:
        assert str(tuple(shp)) in msg, f"{tuple(shp)} not in {msg!r}"


@pytest.mark.quick
@_SETTINGS
@given(dtype=dtypes, xs=any_shape, ws=any_shape)
def test_matmul_shapes(dtype, xs, ws):
    x, w = np.ones(xs, dtype), np.ones(ws, dtype)
    ok = len(xs) == 2 and len(ws) == 2 and xs[1] == ws[0]
    for fn in (fastsig.matmul, fastsig.dense_forward):
        if ok:
            assert fn(x, w).shape == (xs[0], ws[1])
            continue
        with pytest.raises(ValueError) as info:
            fn(x, w)
        # a non-2-D operand is named (x checked first); misaligned ones both
        bad = [xs] if len(xs) != 2 else [ws] if len(ws) != 2 else [xs, ws]
        _assert_shapes_named(info, *bad)


@_SETTINGS
@given(dtype=dtypes, gs=any_shape, ss=any_shape)
def test_sigmoid_backward_shapes(dtype, gs, ss):
    g, s = np.ones(gs, dtype), np.full(ss, 0.5, dtype)
    if gs == ss:
        assert fastsig.sigmoid_backward(g, s).shape == gs
        return
    with pytest.raises(ValueError) as info:
        fastsig.sigmoid_backward(g, s)
    _assert_shapes_named(info, gs, ss)


@_SETTINGS
@given(dtype=dtypes, n=st.integers(0, 4), k=st.integers(0, 4), m=st.integers(0, 4),
       bs=any_shape)
def test_dense_forward_bias_shape(dtype, n, k, m, bs):
    x, w, b = np.ones((n, k), dtype), np.ones((k, m), dtype), np.ones(bs, dtype)
    if bs == (m,):
        assert fastsig.dense_forward(x, w, b).shape == (n, m)
        return
    with pytest.raises(ValueError) as info:
        fastsig.dense_forward(x, w, b)
    _assert_shapes_named(info, bs)


@_SETTINGS
@given(dtype=dtypes, n=st.integers(0, 4), k=st.integers(0, 4), m=st.integers(0, 4),
       gs=any_shape, ss=any_shape, compute_dx=st.booleans())
def test_dense_backward_shapes(dtype, n, k, m, gs, ss, compute_dx):
    x, w = np.ones((n, k), dtype), np.ones((k, m), dtype)
    g, s = np.ones(gs, dtype), np.full(ss, 0.5, dtype)
    if gs == ss == (n, m):
        dx, dw, db = fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx)
        assert dw.shape == (k, m) and db.shape == (m,)
        return
    with pytest.raises(ValueError) as info:
        fastsig.dense_backward(g, x, w, s, compute_dx=compute_dx)
    # the first that does not fit is named (grad is checked before s)
    _assert_shapes_named(info, gs if gs != (n, m) else ss)


BAD_DTYPES = [np.longdouble, np.complex64, np.complex128, np.object_, np.str_, "datetime64[s]"]


def _call_with(name, arrays):
    return getattr(fastsig, name)(*arrays)


@pytest.mark.quick
@_SETTINGS
@given(data=st.data(), name=st.sampled_from(["matmul", "sigmoid", "sigmoid_backward",
                                              "dense_forward", "dense_backward"]),
       bad=st.sampled_from(BAD_DTYPES), dtype=dtypes)
def test_bad_dtype_type_error(data, name, bad, dtype):
    n, k, m = data.draw(sides), data.draw(sides), data.draw(sides)
    shapes = {"matmul": [(n, k), (k, m)], "sigmoid": [(n, m)],
              "sigmoid_backward": [(n, m), (n, m)], "dense_forward": [(n, k), (k, m), (m,)],
              "dense_backward": [(n, m), (n, k), (k, m), (n, m)]}[name]
    arrays = [np.zeros(sh, dtype) for sh in shapes]
    pos = data.draw(st.integers(0, len(arrays) - 1), label="bad argument")
    arrays[pos] = np.zeros(shapes[pos], dtype=bad)
    with pytest.raises(TypeError) as info:
        _call_with(name, arrays)
    dt = arrays[pos].dtype
    assert str(dt) in str(info.value) or dt.name in str(info.value) or (
        bad is np.longdouble and "longdouble" in str(info.value)), str(info.value)


@_SETTINGS
@given(data=st.data(), name=st.sampled_from(["matmul", "sigmoid", "sigmoid_backward",
                                              "dense_forward"]),
       dtype=dtypes, defect=st.sampled_from(["dtype", "shape", "fortran", "strided",
                                             "readonly", "not-array"]))
def test_bad_out(data, name, dtype, defect):
    n, k, m = data.draw(st.integers(2, 5)), data.draw(sides), data.draw(st.integers(2, 5))
    args = {"matmul": [(n, k), (k, m)], "sigmoid": [(n, m)],
            "sigmoid_backward": [(n, m), (n, m)], "dense_forward": [(n, k), (k, m), (m,)]}[name]
    arrays = [np.full(sh, 0.25, dtype) for sh in args]
    other = np.float64 if dtype == np.float32 else np.float32
    out = {
        "dtype": lambda: np.zeros((n, m), other),
        "shape": lambda: np.zeros((n, m + 1), dtype),
        "fortran": lambda: np.zeros((n, m), dtype, order="F"),
        "strided": lambda: np.zeros((n, 2 * m), dtype)[:, ::2],
        "readonly": lambda: np.require(np.zeros((n, m), dtype), requirements="C"),
        "not-array": lambda: np.zeros((n, m), dtype).tolist(),
    }[defect]()
    if defect == "readonly":
        out.flags.writeable = False
    exc = TypeError if defect in ("dtype", "not-array") else ValueError
    with pytest.raises(exc):
        getattr(fastsig, name)(*arrays, out=out)
    if isinstance(out, np.ndarray):
        assert np.all(out == 0), "out was written before the error"


@pytest.mark.quick
@pytest.mark.parametrize("name", ["matmul", "sigmoid", "sigmoid_backward", "dense_forward"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_unaligned_out(name, dtype):
    """An out= at an odd address (C-contiguous, writeable, flags.aligned False) is refused
    with ValueError: it is never copied, and a misaligned store in a kernel is undefined
    behaviour (which the UBSan job reports). Unaligned inputs are copied and give the same
    bits as aligned ones."""
    rng = np.random.default_rng(3)
    shapes = {"matmul": [(9, 5), (5, 7)], "sigmoid": [(9, 7)],
              "sigmoid_backward": [(9, 7), (9, 7)], "dense_forward": [(9, 5), (5, 7), (7,)]}
    args = [rng.uniform(0, 1, sh).astype(dtype) for sh in shapes[name]]
    expected = getattr(fastsig, name)(*args)
    out = relayout(np.zeros((9, 7), dtype), "unaligned")
    assert not out.flags.aligned and out.flags.c_contiguous and out.flags.writeable
    with pytest.raises(ValueError, match="aligned"):
        getattr(fastsig, name)(*args, out=out)
    unaligned_args = [relayout(a, "unaligned") for a in args]
    assert not any(a.flags.aligned for a in unaligned_args)
    np.testing.assert_array_equal(getattr(fastsig, name)(*unaligned_args), expected)
