"""``python -m fastsig check``: a self-test to run after installing on a new machine.

Every public function, in float32 and float64, is compared with a numpy reference computed from
the same inputs in float64 (the sigmoid in long double where that is wider), within the accuracy
the contract in README.md promises, and is run with num_threads=1, 2 and None, whose results must
be bitwise identical. The functions that evaluate σ are checked in each accuracy mode; σ's error
is reported as the promise counts it, in steps from the correctly rounded value, beside the bound.
"""

import contextlib
import functools
import io
import warnings

import numpy as np

import fastsig
from fastsig import _reference
from fastsig._config import ACCURACY_MODES, ULP_BOUNDS

DTYPES = (np.float32, np.float64)
THREAD_COUNTS = (1, 2, None)

# Products: the contract allows 2*k*u*(|X| @ |W|). A float64 reference is itself off by up to
# about k*u*(|X| @ |W|), so float64 gets that on top; a float64 reference of float32 data is
# exact enough to need nothing extra.
PRODUCT_FACTOR = {np.float32: 2, np.float64: 3}
# The sigmoid's promise, per accuracy mode and dtype (ULP_BOUNDS): at most that many steps
# (representable numbers) from the correctly rounded σ. The check counts exactly that. The
# reference, float64 for float32 results and x86's 80-bit long double for float64 ones,
# rounded to the result's dtype is the correctly rounded value, except where it lies within
# its own error (REFERENCE_ERROR, relative) of a midpoint between two neighbours: there either
# may be, and the nearer one counts. Where long double is just float64, the reference is
# itself up to about 2 steps off, allowed on top (SIGMOID_SLACK_STEPS).
EXTENDED_LONG_DOUBLE = _reference.EXTENDED_LONG_DOUBLE
REFERENCE_ERROR = {np.float32: 2.0**-44, np.float64: 2.0**-56}
SIGMOID_SLACK_STEPS = {np.float32: 0, np.float64: 0 if EXTENDED_LONG_DOUBLE else 2}
# grad * s * (1 - s) is three roundings; float64 again doubles it for the reference.
BACKWARD_ROUNDINGS = {np.float32: 3, np.float64: 6}

MATMUL_SHAPES = ((257, 65, 33), (1031, 517, 263))  # (n, k, m); odd sizes leave partial tiles
DENSE_SHAPES = ((257, 65, 33), (20011, 64, 64))
ELEMENTWISE_SHAPES = ((257, 65), (1_000_003,))
SPECIAL_VALUES = (np.inf, -np.inf, np.nan, 1000.0, -1000.0, 0.0, -0.0)


class CheckFailure(Exception):
    """A result outside the contract; the message says which and by how much."""


def config_summary():
    """show_config()'s dict, without its printout."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fastsig.show_config()


def summary_line(config):
    return (
        f"fastsig {config['version']}  isa={config['isa']}  openmp={config['openmp']}  "
        f"threads={config['num_threads']}"
    )


def sigmoid_reference(y, dtype):
    """The sigmoid of y, to be compared with a `dtype` result: in float64 for float32, in long
    double for float64 (see above)."""
    return _reference.sigmoid(y, _reference.wider(dtype))


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def _expect_array(name, got, dtype, shape):
    if not isinstance(got, np.ndarray):
        raise CheckFailure(f"{name} returned {type(got).__name__}, not an ndarray")
    if got.dtype != dtype or got.shape != shape:
        raise CheckFailure(
            f"{name} returned {got.dtype} {got.shape}, expected {np.dtype(dtype)} {shape}"
        )


def _same_for_all_threads(call):
    """Run call(num_threads) for every thread count, with warnings as errors (the contract
    promises none); all results must be bitwise identical. Returns the first."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first, *others = [_as_tuple(call(n)) for n in THREAD_COUNTS]
    for n, result in zip(THREAD_COUNTS[1:], others):
        for a, b in zip(first, result):
            # Compare bytes so that NaNs and signed zeros count too.
            if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                raise CheckFailure(
                    f"num_threads={n} is not bitwise identical to num_threads={THREAD_COUNTS[0]}"
                )
    return first if len(first) > 1 else first[0]


def _within(name, got, ref, tol, dtype):
    """|got - ref| <= tol elementwise; returns the largest error as a fraction of tol."""
    _expect_array(name, got, dtype, ref.shape)
    err = np.abs(got.astype(np.float64) - ref)
    bad = ~(err <= tol)  # NaN is bad too
    if bad.any():
        i = np.unravel_index(np.argmax(bad), bad.shape)
        raise CheckFailure(
            f"{name}[{', '.join(map(str, i))}] = {got[i]}, reference {ref[i]}: "
            f"error {err[i]:.3g} > allowed {tol[i]:.3g}"
        )
    fraction = np.divide(err, tol, out=np.zeros_like(err), where=tol > 0)
    return float(fraction.max(initial=0.0))


def _bound(abs_sum, inner, dtype):
    """The contract's 2*k*u*(|X| @ |W|), given |X| @ |W| and k (widened by PRODUCT_FACTOR)."""
    u = np.finfo(dtype).eps / 2
    return PRODUCT_FACTOR[dtype] * inner * u * abs_sum


def _product_tol(a, b, inner, dtype):
    return _bound(np.abs(a) @ np.abs(b), inner, dtype)


def sigmoid_bound(dtype, accuracy):
    """The promise: steps from the correctly rounded σ, in `accuracy` mode."""
    return ULP_BOUNDS[accuracy][np.dtype(dtype).name]


def sigmoid_ulps_from_exact(dtype, accuracy):
    """The promise as an error in ULPs of the exact σ (half a step more), plus the slack of a
    reference no wider than float64."""
    return sigmoid_bound(dtype, accuracy) + 0.5 + SIGMOID_SLACK_STEPS[dtype]


def steps_from_correctly_rounded(got, ref, dtype):
    """Representable numbers between `got` (>= +0, no NaN) and the correctly rounded value of
    the wider reference `ref`: the rounded reference, or where `ref` lies within its own
    error of a midpoint, the nearer of the two neighbours."""
    ints = np.int32 if np.dtype(dtype) == np.float32 else np.int64
    rounded = ref.astype(dtype)
    away = np.where(ref > rounded, np.asarray(np.inf, dtype), np.asarray(-np.inf, dtype))
    neighbour = np.nextafter(rounded, away)
    midpoint = (rounded.astype(ref.dtype) + neighbour.astype(ref.dtype)) / 2
    unsure = np.abs(ref - midpoint) <= np.abs(ref) * REFERENCE_ERROR[dtype]
    got_int = got.astype(dtype).view(ints).astype(np.int64)
    steps = np.abs(got_int - rounded.view(ints))
    to_neighbour = np.abs(got_int - neighbour.view(ints))
    return np.where(unsure, np.minimum(steps, to_neighbour), steps)


def _check_sigmoid_steps(y, got, dtype, accuracy):
    """sigmoid(y) within the promise of `accuracy` mode; returns the most steps it is from the
    correctly rounded value."""
    ref = sigmoid_reference(y, dtype)
    _expect_array("sigmoid", got, dtype, ref.shape)
    got, ref, y = got.ravel(), ref.ravel(), y.ravel()
    nan = np.isnan(ref)
    if not np.array_equal(np.isnan(got), nan):
        i = np.argmax(np.isnan(got) != nan)
        raise CheckFailure(f"sigmoid({y[i]}) = {got[i]}, expected {ref[i]}")
    got, ref, y = got[~nan], ref[~nan], y[~nan]
    outside = ~((got >= 0) & (got <= 1))
    if outside.any():
        i = np.argmax(outside)
        raise CheckFailure(f"sigmoid({y[i]}) = {got[i]} is outside [0, 1]")
    steps = steps_from_correctly_rounded(got, ref, dtype)
    i = np.argmax(steps)
    allowed = sigmoid_bound(dtype, accuracy) + SIGMOID_SLACK_STEPS[dtype]
    if steps[i] > allowed:
        raise CheckFailure(
            f"sigmoid({y[i]}, accuracy={accuracy!r}) = {got[i]}, reference {ref[i]}: "
            f"{steps[i]} steps from the correctly rounded value > {allowed}"
        )
    return int(steps[i])


def _matrices(rng, n, k, m, dtype):
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    return x, w, b


def _f64(*arrays):
    return [a.astype(np.float64) for a in arrays]


def _check_matmul(dtype):
    rng = np.random.default_rng(0)
    worst = 0.0
    for n, k, m in MATMUL_SHAPES:
        x, w, _ = _matrices(rng, n, k, m, dtype)
        got = _same_for_all_threads(lambda t: fastsig.matmul(x, w, num_threads=t))
        x64, w64 = _f64(x, w)
        tol = _product_tol(x64, w64, k, dtype)
        worst = max(worst, _within("matmul", got, x64 @ w64, tol, dtype))
    return worst


def _sigmoid_inputs(rng, shape, dtype):
    """Normal values; a 1-D input also sweeps down through the range where the sigmoid is
    subnormal and then 0, and ends with the special values."""
    y = rng.standard_normal(shape) * 8
    if len(shape) == 1:
        lowest = np.log(np.finfo(dtype).smallest_subnormal) - 5
        y[: shape[0] // 2] = np.linspace(lowest, 40, shape[0] // 2)
        y[-len(SPECIAL_VALUES) :] = SPECIAL_VALUES
    return y.astype(dtype)


def _check_sigmoid(dtype, accuracy):
    rng = np.random.default_rng(0)
    worst = 0
    for shape in ELEMENTWISE_SHAPES:
        y = _sigmoid_inputs(rng, shape, dtype)
        got = _same_for_all_threads(
            lambda t: fastsig.sigmoid(y, num_threads=t, accuracy=accuracy))
        worst = max(worst, _check_sigmoid_steps(y, got, dtype, accuracy))
    return worst


def _check_sigmoid_backward(dtype):
    rng = np.random.default_rng(0)
    u = np.finfo(dtype).eps / 2
    worst = 0.0
    for shape in ELEMENTWISE_SHAPES:
        grad = rng.standard_normal(shape).astype(dtype)
        s = rng.random(shape).astype(dtype)
        got = _same_for_all_threads(lambda t: fastsig.sigmoid_backward(grad, s, num_threads=t))
        ref = _reference.sigmoid_backward(grad, s)
        tol = BACKWARD_ROUNDINGS[dtype] * u * np.abs(ref)
        worst = max(worst, _within("sigmoid_backward", got, ref, tol, dtype))
    return worst


def _check_dense_forward(dtype, accuracy):
    rng = np.random.default_rng(0)
    worst = 0.0
    for n, k, m in DENSE_SHAPES:
        x, w, b = _matrices(rng, n, k, m, dtype)
        for bias in (b, None):
            got = _same_for_all_threads(
                lambda t: fastsig.dense_forward(x, w, bias, num_threads=t, accuracy=accuracy)
            )
            x64, w64 = _f64(x, w)
            b64 = np.zeros(m) if bias is None else bias.astype(np.float64)
            ref = sigmoid_reference(x64 @ w64 + b64, dtype)
            # The error in Y = XW + b (k products and one more rounding for b) passes through
            # the sigmoid scaled by its slope s(1 - s), which barely changes over an interval as
            # narrow as that error (hence 1%); then the sigmoid adds its own ULPs.
            y_tol = _bound(np.abs(x64) @ np.abs(w64) + np.abs(b64), k + 1, dtype)
            ulp = np.spacing(ref.astype(dtype)).astype(ref.dtype)
            tol = 1.01 * ref * (1 - ref) * y_tol + sigmoid_ulps_from_exact(dtype, accuracy) * ulp
            worst = max(worst, _within("dense_forward", got, ref, tol, dtype))
    return worst


def _check_dense_backward(dtype):
    rng = np.random.default_rng(0)
    worst = 0.0
    for n, k, m in DENSE_SHAPES:
        x, w, _ = _matrices(rng, n, k, m, dtype)
        grad = rng.standard_normal((n, m)).astype(dtype)
        s = sigmoid_reference(rng.standard_normal((n, m)) * 3, dtype).astype(dtype)
        dx, dw, db = _same_for_all_threads(
            lambda t: fastsig.dense_backward(grad, x, w, s, num_threads=t)
        )
        _, dw_only, db_only = fastsig.dense_backward(grad, x, w, s, compute_dx=False)
        if dw_only.tobytes() != dw.tobytes() or db_only.tobytes() != db.tobytes():
            raise CheckFailure("dw or db differ bitwise between compute_dx=False and True")
        x64, w64 = _f64(x, w)
        dy = _reference.sigmoid_backward(grad, s)
        dx_ref, dw_ref, db_ref = _reference.dense_backward(grad, x, w, s)
        # Each product consumes dY, itself three roundings away from exact: inner + 3.
        products = (
            ("dx", dx, dx_ref, _product_tol(dy, w64.T, m + 3, dtype)),
            ("dw", dw, dw_ref, _product_tol(x64.T, dy, n + 3, dtype)),
            ("db", db, db_ref, _product_tol(np.ones(n), dy, n + 3, dtype)),
        )
        for name, got, ref, tol in products:
            worst = max(worst, _within(f"dense_backward {name}", got, ref, tol, dtype))
    return worst


def _checks():
    """(label, check(dtype), unit, accuracy): the functions that evaluate σ once per mode."""
    yield "matmul", _check_matmul, "bound", None
    for mode in ACCURACY_MODES:
        label = "sigmoid" if mode == "high" else f"sigmoid {mode}"
        yield label, functools.partial(_check_sigmoid, accuracy=mode), "steps", mode
    yield "sigmoid_backward", _check_sigmoid_backward, "bound", None
    for mode in ACCURACY_MODES:
        label = "dense_forward" if mode == "high" else f"dense_forward {mode}"
        yield label, functools.partial(_check_dense_forward, accuracy=mode), "bound", mode
    yield "dense_backward", _check_dense_backward, "bound", None


CHECKS = tuple(_checks())


def _format_err(value, unit, dtype, accuracy):
    if unit == "steps":
        return f"{value} ulp, bound {sigmoid_bound(dtype, accuracy)}"
    return f"{value:.2g} of bound"


def _report(name, errors, failures, unit, accuracy):
    if failures:
        reasons = "; ".join(f"{np.dtype(d)}: {why}" for d, why in failures.items())
        return f"FAIL {name:<20} {reasons}"
    dtypes = ", ".join(str(np.dtype(d)) for d in errors)
    worst = ("; " if unit == "steps" else ", ").join(
        f"{np.dtype(d)} {_format_err(e, unit, d, accuracy)}" for d, e in errors.items())
    return f"ok   {name:<20} {dtypes}  (max err: {worst})"


def run_check(stream):
    """Check every public function in both dtypes; print one line each; 0 if all pass."""
    print(summary_line(config_summary()), file=stream)
    all_passed = True
    for name, check, unit, accuracy in CHECKS:
        errors, failures = {}, {}
        for dtype in DTYPES:
            try:
                errors[dtype] = check(dtype)
            except CheckFailure as exc:
                failures[dtype] = str(exc)
            except Exception as exc:  # a crash or a wrongly raised error fails this check only
                failures[dtype] = f"{type(exc).__name__}: {exc}"
        print(_report(name, errors, failures, unit, accuracy), file=stream, flush=True)
        all_passed &= not failures
    print("(ulp: representable numbers from the correctly rounded sigmoid, as README's bounds "
          "count them)", file=stream)
    return 0 if all_passed else 1
