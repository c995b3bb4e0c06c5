"""The mathematics: worked example, gradients vs finite differences / torch, accuracy bounds."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fastsig
from fastsig import _reference
from fastsig._config import ACCURACY_MODES, ULP_BOUNDS


def _np_sigmoid64(y):
    return _reference.sigmoid(y, np.float64)


# --------------------------------------------------------------------------------------------
# the worked 2x2 · 2x3 example (README.md)
# --------------------------------------------------------------------------------------------

X_EX = np.array([[0.5, -1.0], [1.5, 0.25]])
W_EX = np.array([[0.2, -0.4, 1.0], [0.3, 0.8, -0.6]])


def _loss_from_y(y):
    """L = sum 2 sigma(Y), float64."""
    return float(np.sum(2 * _np_sigmoid64(y)))


def _central_diff(f, a, h):
    a = np.array(a, dtype=np.float64)
    g = np.empty_like(a)
    for idx in np.ndindex(a.shape):
        ap = a.copy()
        am = a.copy()
        ap[idx] += h
        am[idx] -= h
        g[idx] = (f(ap) - f(am)) / (2 * h)
    return g


def _tols(dtype):
    return dict(rtol=1e-7, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-5, atol=2e-6)


@pytest.mark.quick
def test_worked_example_dL_dY(dtype):
    x = X_EX.astype(dtype)
    w = W_EX.astype(dtype)
    s = fastsig.dense_forward(x, w)
    assert s.shape == (2, 3) and s.dtype == dtype
    y64 = X_EX @ W_EX
    np.testing.assert_allclose(s, _np_sigmoid64(y64), **_tols(dtype))

    g = 2 * np.ones((2, 3), dtype=dtype)  # dL/dS for L = sum 2 sigma
    dy = fastsig.sigmoid_backward(g, s)
    assert dy.dtype == dtype
    s64 = s.astype(np.float64)
    expected = 2 * s64 * (1 - s64)
    # the sigma factor is there at every one of the six entries ...
    np.testing.assert_allclose(dy, expected, rtol=4 * np.finfo(dtype).eps, atol=0)
    # ... so the "(1 - sigma) without sigma" derivation is wrong everywhere
    wrong = 2 * (1 - s64)
    assert np.all(np.abs(dy - wrong) > 0.1 * np.abs(wrong))
    # and it is the derivative: central finite difference of L in float64 per entry of Y
    fd = _central_diff(_loss_from_y, y64, 1e-5)
    np.testing.assert_allclose(dy, fd, **_tols(dtype))


@pytest.mark.quick
def test_worked_example_dense_backward(dtype):
    x = X_EX.astype(dtype)
    w = W_EX.astype(dtype)
    s = fastsig.dense_forward(x, w)
    g = 2 * np.ones((2, 3), dtype=dtype)
    dx, dw, db = fastsig.dense_backward(g, x, w, s)
    assert dx.shape == (2, 2) and dw.shape == (2, 3) and db.shape == (3,)
    assert dx.dtype == dw.dtype == db.dtype == dtype

    fd_w = _central_diff(lambda ww: _loss_from_y(X_EX @ ww), W_EX, 1e-5)
    fd_x = _central_diff(lambda xx: _loss_from_y(xx @ W_EX), X_EX, 1e-5)
    fd_b = _central_diff(lambda bb: _loss_from_y(X_EX @ W_EX + bb), np.zeros(3), 1e-5)
    np.testing.assert_allclose(dw, fd_w, **_tols(dtype))
    np.testing.assert_allclose(dx, fd_x, **_tols(dtype))
    np.testing.assert_allclose(db, fd_b, **_tols(dtype))

    # compute_dx=False gives the same dw, db and no dx
    dx2, dw2, db2 = fastsig.dense_backward(g, x, w, s, compute_dx=False)
    assert dx2 is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


# --------------------------------------------------------------------------------------------
# gradients of a random small problem
# --------------------------------------------------------------------------------------------

def _random_problem(rng, n=5, k=4, m=3):
    x = rng.normal(size=(n, k))
    w = rng.normal(size=(k, m)) * 0.7
    b = rng.normal(size=m) * 0.5
    g = rng.normal(size=(n, m))
    return x, w, b, g


def _loss(x, w, b, g):
    return float(np.sum(g * _np_sigmoid64(x @ w + b)))


def test_dense_backward_finite_differences_float64(rng):
    x, w, b, g = _random_problem(rng)
    s = fastsig.dense_forward(x, w, b)
    dx, dw, db = fastsig.dense_backward(g, x, w, s)
    h = 1e-6
    fd_x = _central_diff(lambda a: _loss(a, w, b, g), x, h)
    fd_w = _central_diff(lambda a: _loss(x, a, b, g), w, h)
    fd_b = _central_diff(lambda a: _loss(x, w, a, g), b, h)
    np.testing.assert_allclose(dx, fd_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, fd_w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, fd_b, rtol=1e-6, atol=1e-8)


def test_dense_backward_float32_close_to_float64(rng):
    x, w, b, g = _random_problem(rng, 9, 7, 5)
    x32, w32, b32, g32 = (a.astype(np.float32) for a in (x, w, b, g))
    s32 = fastsig.dense_forward(x32, w32, b32)
    s64 = fastsig.dense_forward(*(a.astype(np.float64) for a in (x32, w32, b32)))
    np.testing.assert_allclose(s32, s64, rtol=1e-6, atol=1e-7)
    r32 = fastsig.dense_backward(g32, x32, w32, s32)
    r64 = fastsig.dense_backward(g32.astype(np.float64), x32.astype(np.float64),
                                 w32.astype(np.float64), s64)
    for a32, a64, name in zip(r32, r64, ("dx", "dw", "db")):
        assert a32.dtype == np.float32 and a64.dtype == np.float64, name
        scale = np.max(np.abs(a64))
        np.testing.assert_allclose(a32, a64, rtol=1e-5, atol=1e-5 * scale, err_msg=name)


def test_against_torch_autograd(dtype, rng):
    torch = pytest.importorskip("torch")
    x, w, b, g = (a.astype(dtype) for a in _random_problem(rng, 17, 11, 6))
    s = fastsig.dense_forward(x, w, b)
    dx, dw, db = fastsig.dense_backward(g, x, w, s)

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ts = torch.sigmoid(tx @ tw + tb)
    (torch.tensor(g) * ts).sum().backward()

    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(s, ts.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(dw, tw.grad.numpy(), **tol)
    np.testing.assert_allclose(db, tb.grad.numpy(), **tol)


# --------------------------------------------------------------------------------------------
# accuracy bounds against float64 / longdouble references
# --------------------------------------------------------------------------------------------

GEMM_SHAPES = [
    (1, 1, 1),
    (2, 3, 4),
    (1, 300, 1),
    (37, 53, 29),
    (64, 64, 64),
    (129, 257, 65),
    (70, 600, 90),
    (17, 1030, 33),
]


@pytest.mark.parametrize("n,k,m", GEMM_SHAPES, ids=lambda v: str(v))
def test_matmul_accuracy(dtype, rng, helpers, n, k, m):
    x = rng.normal(size=(n, k)).astype(dtype)
    w = rng.normal(size=(k, m)).astype(dtype)
    y = fastsig.matmul(x, w)
    assert y.dtype == dtype and y.shape == (n, m)
    helpers.gemm_bound_check(y, x, w, what="matmul")
    # and against numpy's own product with the same inputs
    np.testing.assert_allclose(y, x @ w, rtol=0, atol=float(4 * k * np.finfo(dtype).eps
                                                              * np.max(np.abs(x) @ np.abs(w))))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 24), k=st.integers(0, 40), m=st.integers(0, 24),
    seed=st.integers(0, 2**32 - 1), use32=st.booleans(),
)
def test_matmul_accuracy_random_shapes(n, k, m, seed, use32):
    dtype = np.float32 if use32 else np.float64
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(n, k)).astype(dtype)
    w = rng.uniform(-3, 3, size=(k, m)).astype(dtype)
    y = fastsig.matmul(x, w)
    assert y.shape == (n, m) and y.dtype == dtype
    u = np.finfo(dtype).eps / 2
    ref = x.astype(np.longdouble) @ w.astype(np.longdouble)
    absref = np.abs(x.astype(np.longdouble)) @ np.abs(w.astype(np.longdouble))
    bound = 2 * max(k, 1) * u * absref * (1 + 1e-6)
    assert np.all(np.abs(y - ref) <= bound)


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("n,k,m", [(1, 1, 1), (37, 53, 29), (129, 257, 65)], ids=str)
def test_dense_forward_accuracy(dtype, rng, helpers, n, k, m, with_bias):
    x = rng.normal(size=(n, k)).astype(dtype)
    w = (rng.normal(size=(k, m)) / np.sqrt(k)).astype(dtype)
    b = rng.normal(size=m).astype(dtype) if with_bias else None
    s = fastsig.dense_forward(x, w, b) if with_bias else fastsig.dense_forward(x, w)
    assert s.dtype == dtype and s.shape == (n, m)

    prod, absprod, ref_err = helpers.exact_matmul(x, w)
    kk = k
    if with_bias:
        prod = prod + b.astype(prod.dtype)
        absprod = absprod + np.abs(b.astype(prod.dtype))
        kk += 1
    u = np.finfo(dtype).eps / 2
    ybound = 2 * kk * u * absprod + 2 * ref_err
    # sigma is monotone: sigma(Y_computed) lies in [sigma(Y - bound), sigma(Y + bound)], and
    # the sigmoid itself may add its own ULP error on top
    lo = helpers.ref_sigmoid(prod - ybound)
    hi = helpers.ref_sigmoid(prod + ybound)
    ulps = 1 if dtype == np.float32 else 2
    sp = np.spacing(hi.astype(dtype)).astype(prod.dtype)  # the larger of the two ends
    ok = (s >= lo - (ulps + 0.5) * sp) & (s <= hi + (ulps + 0.5) * sp)
    assert np.all(ok), f"{int((~ok).sum())} entries outside the bound"
    assert np.all((s >= 0) & (s <= 1))


@pytest.mark.parametrize("n,k,m", [(5, 4, 3), (37, 53, 29), (300, 64, 17), (1100, 9, 13)],
                         ids=str)
def test_dense_backward_accuracy(dtype, rng, helpers, n, k, m):
    g = rng.normal(size=(n, m)).astype(dtype)
    x = rng.normal(size=(n, k)).astype(dtype)
    w = rng.normal(size=(k, m)).astype(dtype)
    s = helpers.ref_sigmoid(rng.normal(0, 2, size=(n, m))).astype(dtype)
    dx, dw, db = fastsig.dense_backward(g, x, w, s)
    assert dx.shape == (n, k) and dw.shape == (k, m) and db.shape == (m,)
    assert dx.dtype == dw.dtype == db.dtype == dtype

    rd = helpers.ref_dtype(dtype)
    dy = _reference.sigmoid_backward(g, s, rd)  # exact enough: the product of three numbers
    # the contract's 2*k*u bound is for the products; forming dY in the dtype adds (at most)
    # about 3u relative to each dY entry, hence the extra 4 terms
    helpers.gemm_bound_check(dx, dy, w.astype(rd).T, extra_terms=4, what="dx")
    helpers.gemm_bound_check(dw, x.astype(rd).T, dy, extra_terms=4, what="dw")
    helpers.gemm_bound_check(db[None, :], np.ones((1, n), rd), dy, extra_terms=4, what="db")


def test_sigmoid_backward_accuracy(dtype, rng, helpers):
    """Within 1 ULP (float32) / 2 ULP (float64) of the exact product, as steps from it rounded."""
    n = 10**5
    g = (rng.uniform(-10, 10, n) * 10.0 ** rng.integers(-30, 30, n)).astype(dtype)
    s = np.concatenate([rng.uniform(0, 1, n - 1000), rng.uniform(0.999, 1, 500),
                        rng.uniform(0, 1e-3, 500)]).astype(dtype)
    r = fastsig.sigmoid_backward(g, s)
    assert r.dtype == dtype and r.shape == (n,)
    # float32 products are exact in float64; float64 ones nearly so in long double.
    wide = np.float64 if dtype == np.float32 else np.longdouble
    ref = _reference.sigmoid_backward(g, s, wide).astype(dtype)
    d = helpers.ulp_distance(r, ref)
    assert int(np.max(d)) <= (1 if dtype == np.float32 else 2)


def _double_form_f32(g, s):
    """float32 sigmoid_backward formed in double and rounded once: the baseline and avx2
    variants' bits, and the avx512 variant's wherever the product is not within about
    2^-46 of a float32 halfway point (sigmoid_backward.h)."""
    s64 = s.astype(np.float64)
    with np.errstate(all="ignore"):
        return (g.astype(np.float64) * s64 * (1 - s64)).astype(np.float32)


# zeros of both signs, the ends of s, values around the 2^-80 bound of the float32 form's
# hard lanes, subnormals, the largest float, infinities, NaN, and s outside [0, 1]
_SBW_SPECIALS = np.array(
    [0.0, -0.0, 1.0, -1.0, 0.5, 0.25, 0.75, 1e-45, -1e-45, 1e-40, 1.17549435e-38, 1e-30, 1e-25,
     3e-25, 1e-20, 1e-10, 0.999999, 0.99999994, 1.0000001, 2.0, -2.0, 1e30, -1e30, 3.4028235e38,
     -3.4028235e38, np.inf, -np.inf, np.nan, 7.0, 1e-6, 2.0**-80, np.nextafter(2.0**-80, 0),
     2.0**-79, 2.0**-40, 3 * 2.0**-41, -0.5, -0.4, 2.0**-149],
    dtype=np.float32)


@pytest.mark.quick
def test_sigmoid_backward_float32_special_values(helpers):
    """Every pair of special values gives the double form's bits -- NaN exactly where it
    gives NaN, its infinities, zeros' signs -- in every variant (the avx512 one sends these
    lanes to the double form or gets the same bits by its own); but for s < 0 (outside the
    range the bits are promised for) with g·s below the smallest subnormal, where the
    float32 form gives ±0 and the double form may round to ±2^-149: a step apart."""
    g, s = (a.ravel() for a in np.meshgrid(_SBW_SPECIALS, _SBW_SPECIALS))
    r = fastsig.sigmoid_backward(g, s)
    ref = _double_form_f32(g, s)
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(r), nan)
    with np.errstate(invalid="ignore"):  # inf · 0
        product = np.abs(g.astype(np.float64) * s.astype(np.float64))  # exact in double
    below_subnormal = (s < 0) & (product > 0) & (product < 2.0**-149)
    same = ~nan & ~below_subnormal
    assert np.array_equal(r[same].view(np.uint32), ref[same].view(np.uint32))
    assert int(np.max(helpers.ulp_distance(r[below_subnormal], ref[below_subnormal]))) <= 1


@pytest.mark.quick
def test_sigmoid_backward_float32_lane_independent(rng, helpers):
    """An element's bits do not depend on where it lies (a vector, a block of vectors with
    or without a hard lane, the scalar tail), on the thread count, or on out= being an
    input."""
    n = 4099
    g = rng.normal(size=n).astype(np.float32)
    s = rng.uniform(0, 1, n).astype(np.float32)
    hard = rng.choice(n, 40, replace=False)  # tiny products and infinities: the double form
    g[hard[:20]] = np.float32(2.0**-90)
    g[hard[20:]] = np.inf
    s[rng.choice(n, 40, replace=False)] = 1.0
    g[rng.choice(n, 40, replace=False)] = -0.0
    whole = fastsig.sigmoid_backward(g, s, num_threads=1)
    for start in list(range(0, 20)) + [127, 128, 129, 1000]:
        part = fastsig.sigmoid_backward(g[start:], s[start:], num_threads=1)
        assert np.array_equal(part.view(np.uint32), whole[start:].view(np.uint32)), start
    for stop in (1, 15, 16, 17, 127, 129, 130):
        part = fastsig.sigmoid_backward(g[:stop], s[:stop], num_threads=1)
        assert np.array_equal(part.view(np.uint32), whole[:stop].view(np.uint32)), stop
    threaded = fastsig.sigmoid_backward(g, s, num_threads=2)
    assert np.array_equal(threaded.view(np.uint32), whole.view(np.uint32))
    in_place = g.copy()
    fastsig.sigmoid_backward(in_place, s, out=in_place)
    assert np.array_equal(in_place.view(np.uint32), whole.view(np.uint32))
    in_place = s.copy()
    fastsig.sigmoid_backward(g, in_place, out=in_place)
    assert np.array_equal(in_place.view(np.uint32), whole.view(np.uint32))
    finite = np.isfinite(g)
    ref = _double_form_f32(g[finite], s[finite])
    assert int(np.max(helpers.ulp_distance(whole[finite], ref))) <= 1


def test_sigmoid_backward_float32_near_the_tiny_bound(rng, helpers):
    """Products g·s on both sides of 2^-80 (the float32 form's bound for hard lanes) and
    s near 0 and near 1: within 1 ULP of the exact product."""
    n = 20000
    s = np.concatenate([rng.uniform(0, 1, n // 2), 1 - rng.uniform(0, 2.0**-20, n // 4),
                        rng.uniform(0, 2.0**-20, n // 4)]).astype(np.float32)
    target = 2.0 ** rng.uniform(-84, -76, n)
    g = (target / np.maximum(s.astype(np.float64), 2.0**-30) * rng.choice([-1, 1], n))
    g = g.astype(np.float32)
    r = fastsig.sigmoid_backward(g, s)
    # the product in double: g·s is exact there, 1 - s too for s >= 2^-29 and within 2^-53
    # below; then one more rounding of 2^-53, far below a float32 step
    exact = g.astype(np.float64) * s.astype(np.float64) * (1 - s.astype(np.float64))
    assert int(np.max(helpers.ulp_distance(r, exact.astype(np.float32)))) <= 1


# --------------------------------------------------------------------------------------------
# the sigmoid
# --------------------------------------------------------------------------------------------

def _mp_round(v, dtype):
    """Round the mpmath number 0 <= v <= 1 to `dtype`, correctly (subnormals included)."""
    import mpmath

    fi = np.finfo(dtype)
    mp = mpmath.mp
    min_normal = mpmath.ldexp(1, fi.minexp)
    if v < min_normal:
        q = mpmath.ldexp(1, fi.minexp - fi.nmant)
        r = mpmath.nint(v / q) * q
    else:
        with mp.workprec(fi.nmant + 1):
            r = +v
    return dtype(float(r))


def _sigmoid_points(rng, dtype):
    """About 10**5 points: the bulk, the ends of the ranges and the subnormal outputs."""
    if dtype == np.float32:
        ends = [88.72, 103.97]  # where exp(y) overflows, and where σ(-y) falls to 0
        parts = [
            rng.uniform(-20, 20, 40000),
            rng.uniform(-103.98, -87.3, 20000),  # subnormal (and zero) outputs
            rng.uniform(-87.4, -20, 15000),
            rng.uniform(15, 110, 10000),  # outputs near / equal to 1
            rng.uniform(-1e-3, 1e-3, 5000),
            np.geomspace(1e-30, 1e-4, 2000),
            -np.geomspace(1e-30, 1e-4, 2000),
            [-110.0, -104.0, -103.3, -88.0, -87.3, -16.6, 16.6, 17.4, 88.7, 0.0, -0.0],
        ]
    else:
        ends = [709.78, 745.13]
        parts = [
            rng.uniform(-40, 40, 40000),
            rng.uniform(-745.14, -708.3, 20000),  # subnormal (and zero) outputs
            rng.uniform(-708.4, -40, 15000),
            rng.uniform(30, 750, 10000),
            rng.uniform(-1e-3, 1e-3, 5000),
            np.geomspace(1e-300, 1e-4, 2000),
            -np.geomspace(1e-300, 1e-4, 2000),
            [-750.0, -745.2, -745.0, -744.4, -709.0, -708.3, -36.7, 36.7, 37.5, 709.8, 0.0, -0.0],
        ]
    for end in ends:  # a few hundred consecutive representable values around each end
        for sign in (-1.0, 1.0):
            center = dtype(sign * end)
            parts.append(center + np.arange(-300, 300) * np.spacing(center))
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts]).astype(dtype)


@pytest.mark.parametrize("accuracy", ["high", "fast"])
def test_sigmoid_ulp_vs_mpmath(dtype, rng, helpers, accuracy):
    mpmath = pytest.importorskip("mpmath")
    y = _sigmoid_points(rng, dtype)
    s = fastsig.sigmoid(y, accuracy=accuracy)
    assert s.dtype == dtype and s.shape == y.shape
    with mpmath.mp.workprec(113):
        ref = np.array(
            [_mp_round(1 / (1 + mpmath.exp(-mpmath.mpf(float(v)))), dtype) for v in y],
            dtype=dtype,
        )
    d = helpers.ulp_distance(s, ref)
    maxulp = ULP_BOUNDS[accuracy][np.dtype(dtype).name]
    worst = int(np.argmax(d))
    assert d[worst] <= maxulp, (
        f"sigmoid({y[worst]!r}, accuracy={accuracy!r}) = {s[worst]!r}, correctly rounded "
        f"{ref[worst]!r}: {int(d[worst])} ULP"
    )
    # the subnormal region was really exercised, and zero/one are reached
    fi = np.finfo(dtype)
    assert np.any((ref > 0) & (ref < fi.tiny))
    assert np.any(ref == 0) and np.any(ref == 1)


def _float32_midpoint_near(ref64, ref32):
    """Where the float64 value `ref64` lies so near a midpoint between two float32 values
    that its own error (< 2^-50 relative) may have rounded it to the wrong one."""
    away = np.where(ref64 > ref32, np.float32(np.inf), np.float32(-np.inf))
    neighbour = np.nextafter(ref32, away)
    midpoint = (ref32.astype(np.float64) + neighbour.astype(np.float64)) * 0.5
    return np.abs(ref64 - midpoint) <= np.abs(ref64) * 2.0**-44


@pytest.mark.slow
def test_sigmoid_float32_every_input():
    """All 2^32 float32 inputs, in each accuracy mode: within the mode's bound (1 step for
    "high", 2 for "fast") of the correctly rounded σ, +0 or more, NaN for NaN.

    The reference is float64 arithmetic (within 2^-50 relative of the truth) rounded to
    float32: the correctly rounded value, except where the float64 value lies within 2^-44
    of a float32 midpoint; those inputs (a few thousand) are settled with mpmath. σ >= +0
    everywhere, so the int32 view of an output is monotone and a difference of views counts
    steps. Chunks of 2^20 inputs: the reference's temporaries (8 MB each) are then reused by
    the allocator, not fresh pages every chunk."""
    mpmath = pytest.importorskip("mpmath")
    modes = {mode: ULP_BOUNDS[mode]["float32"] for mode in ACCURACY_MODES}
    chunk = 1 << 20
    offsets = np.arange(chunk, dtype=np.uint32)
    bits = np.empty(chunk, dtype=np.uint32)
    y = bits.view(np.float32)
    out = np.empty(chunk, dtype=np.float32)
    ref = np.empty(chunk, dtype=np.float32)
    steps = np.empty(chunk, dtype=np.int32)
    near_midpoint = []
    worst = dict.fromkeys(modes, 0)
    # +0 .. +inf and -0 .. -inf; the NaN bit patterns above each infinity are checked apart.
    for first, last in ((0x00000000, 0x7F800000), (0x80000000, 0xFF800000)):
        for start in range(first, last + 1, chunk):
            count = min(chunk, last + 1 - start)
            np.add(offsets, np.uint32(start), out=bits)
            ref64 = _reference.sigmoid(y, np.float64)
            ref[...] = ref64
            unsure = _float32_midpoint_near(ref64, ref)[:count]
            near_midpoint.extend(y[:count][unsure].tolist())
            for mode, bound in modes.items():
                fastsig.sigmoid(y, out=out, accuracy=mode)
                assert not np.signbit(out[:count]).any(), mode
                np.subtract(out.view(np.int32), ref.view(np.int32), out=steps)
                np.abs(steps, out=steps)
                steps[:count][unsure] = 0           # settled below
                i = int(np.argmax(steps[:count]))
                assert steps[i] <= bound, (
                    f"sigmoid({y[i]!r}, accuracy={mode!r}) = {out[i]!r}, "
                    f"correctly rounded {ref[i]!r}")
                worst[mode] = max(worst[mode], int(steps[i]))
    nan_bits = np.array([0x7F800001, 0x7FC00000, 0x7FFFFFFF, 0xFF800001, 0xFFC00000,
                         0xFFFFFFFF], dtype=np.uint32)
    for mode in modes:
        assert np.isnan(fastsig.sigmoid(nan_bits.view(np.float32), accuracy=mode)).all()
    assert len(near_midpoint) < 20000, f"{len(near_midpoint)} inputs near a midpoint"
    v = np.array(near_midpoint, dtype=np.float32)
    with mpmath.mp.workprec(113):
        exact = np.array([_mp_round(1 / (1 + mpmath.exp(-mpmath.mpf(float(e)))), np.float32)
                          for e in v], dtype=np.float32)
    for mode, bound in modes.items():
        got = fastsig.sigmoid(v, accuracy=mode)
        d = np.abs(got.view(np.int32).astype(np.int64) - exact.view(np.int32))
        assert d.max(initial=0) <= bound, (mode, v[int(np.argmax(d))])
        worst[mode] = max(worst[mode], int(d.max(initial=0)))
    # The bounds are what the modes reach, not slack: a change that makes either mode more
    # accurate should tighten its promise (README, set_accuracy).
    assert worst == modes, worst


def test_sigmoid_vs_scipy_expit(dtype, rng, helpers):
    special = pytest.importorskip("scipy.special")
    y = np.concatenate([rng.uniform(-30, 30, 5000), rng.normal(0, 3, 5000)]).astype(dtype)
    s = fastsig.sigmoid(y)
    # expit evaluated in float64 and rounded: within 1 ULP of the truth for float32 as well
    ref = special.expit(y.astype(np.float64)).astype(dtype)
    maxulp = 2 if dtype == np.float32 else 6  # expit's own error is added to ours
    assert int(np.max(helpers.ulp_distance(s, ref))) <= maxulp


def test_sigmoid_vs_numpy_reference(dtype, rng, helpers):
    y = rng.normal(0, 10, size=(50, 77)).astype(dtype)
    s = fastsig.sigmoid(y)
    assert s.shape == y.shape and s.dtype == dtype
    ref = helpers.ref_sigmoid(y.astype(helpers.ref_dtype(dtype))).astype(dtype)
    maxulp = 1 if dtype == np.float32 else 2
    # +1: the wider-precision reference, rounded, may itself be one ULP off
    assert int(np.max(helpers.ulp_distance(s, ref))) <= maxulp + 1


def test_sigmoid_range(dtype, rng):
    y = np.concatenate([
        rng.normal(0, 1, 2000), rng.normal(0, 100, 2000), rng.uniform(-1e30, 1e30, 2000),
    ]).astype(dtype)
    s = fastsig.sigmoid(y)
    assert not np.any(np.isnan(s))
    assert np.all((s >= 0) & (s <= 1))
    # sign symmetry in the bulk: sigma(-y) = 1 - sigma(y), to a few ulp
    z = rng.uniform(-5, 5, 1000).astype(dtype)
    np.testing.assert_allclose(fastsig.sigmoid(-z), 1 - fastsig.sigmoid(z),
                               rtol=0, atol=4 * np.finfo(dtype).eps)


def test_sigmoid_monotone(dtype, helpers):
    lim = 110 if dtype == np.float32 else 750
    y = np.linspace(-lim, lim, 200_001).astype(dtype)
    s = fastsig.sigmoid(y)
    ref = helpers.ref_sigmoid(y.astype(helpers.ref_dtype(dtype))).astype(dtype)
    # keep only samples whose true values are far enough apart (more ULPs than twice the
    # allowed error): on those an accurate sigmoid must be strictly increasing
    maxulp = 1 if dtype == np.float32 else 2
    pos = helpers.ulp_distance(ref, np.zeros_like(ref)).tolist()  # ULP index of each value
    keep = [0]
    for i in range(1, len(pos)):
        if pos[i] - pos[keep[-1]] > 2 * maxulp + 1:
            keep.append(i)
    assert len(keep) > 1000
    assert np.all(np.diff(s[keep]) > 0)
    # where the curve is steep every step of 1e-3 is many ULPs: strictly increasing
    z = np.arange(-5, 5, 1e-3).astype(dtype)
    assert np.all(np.diff(fastsig.sigmoid(z)) > 0)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9),
        elements={"allow_nan": True, "allow_infinity": True},
    )
)
def test_sigmoid_property(y):
    s = fastsig.sigmoid(y)
    assert s.shape == y.shape and s.dtype == y.dtype
    nan = np.isnan(y)
    np.testing.assert_array_equal(np.isnan(s), nan)
    assert np.all((s[~nan] >= 0) & (s[~nan] <= 1))
    ref = _np_sigmoid64(y).astype(y.dtype)  # float64 reference rounded to the dtype
    ulps = 3 if y.dtype == np.float32 else 5  # allowed error plus the reference's own
    with np.errstate(all="ignore"):
        ok = nan | (np.abs(s - ref) <= ulps * np.spacing(ref))
    assert np.all(ok)


@settings(max_examples=40, deadline=None)
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9),
    seed=st.integers(0, 2**32 - 1),
    use32=st.booleans(),
)
def test_sigmoid_backward_property(shape, seed, use32):
    dtype = np.float32 if use32 else np.float64
    rng = np.random.default_rng(seed)
    g = rng.normal(size=shape).astype(dtype)
    s = rng.uniform(0, 1, size=shape).astype(dtype)
    r = fastsig.sigmoid_backward(g, s)
    assert r.shape == shape and r.dtype == dtype
    ref = _reference.sigmoid_backward(g, s, np.float64)
    u = np.finfo(dtype).eps / 2
    assert np.all(np.abs(r - ref) <= 4 * u * np.abs(ref) + np.finfo(dtype).smallest_subnormal * 4)
