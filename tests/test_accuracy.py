"""The sigmoid's accuracy modes: accuracy=, set_accuracy / get_accuracy, and what each mode
keeps of the contract (bits for any thread count, the same errors, dask's graphs).

The bounds themselves are checked in test_math.py (against mpmath, and on every float32 input
in the slow tests); the special values and warnings in test_contract.py."""

import numpy as np
import pytest

import fastsig
from fastsig import _dispatch
from fastsig._config import ACCURACY_MODES

# The fast float32 routine needs FMA as one instruction; the baseline kernels compute the
# "high" routine in both modes.
FAST_IS_DISTINCT = _dispatch.ISA != "baseline"


@pytest.mark.quick
def test_default_and_set_get(accuracy_setting):
    assert fastsig.get_accuracy() == "high"
    assert ACCURACY_MODES == ("high", "fast")
    accuracy_setting("fast")
    assert fastsig.get_accuracy() == "fast"
    assert fastsig.show_config()["accuracy"] == "fast"
    accuracy_setting("high")
    assert fastsig.get_accuracy() == "high"
    accuracy_setting("fast")
    accuracy_setting(None)
    assert fastsig.get_accuracy() == "high"
    assert fastsig.show_config()["accuracy"] == "high"


@pytest.mark.quick
@pytest.mark.parametrize("bad", ["low", "HIGH", "", 1, True, b"fast", ["fast"]], ids=repr)
def test_unknown_modes_are_value_errors_naming_the_choices(bad, accuracy_setting):
    y = np.linspace(-3, 3, 7)
    x, w = np.ones((2, 3)), np.ones((3, 2))
    out = np.full((2, 2), 7.0)
    calls = {
        "set_accuracy": lambda: fastsig.set_accuracy(bad),
        "sigmoid": lambda: fastsig.sigmoid(y, accuracy=bad),
        "dense_forward": lambda: fastsig.dense_forward(x, w, accuracy=bad),
        "dense_forward, out": lambda: fastsig.dense_forward(x, w, out=out, accuracy=bad),
    }
    for what, call in calls.items():
        with pytest.raises(ValueError, match="'high' or 'fast'") as err:
            call()
        assert repr(bad) in str(err.value), what
    assert fastsig.get_accuracy() == "high"  # a refused mode changes nothing
    assert (out == 7.0).all()                # nor writes anything


def test_per_call_mode_overrides_the_default(rng, helpers, accuracy_setting):
    y = rng.uniform(-30, 30, 20000).astype(np.float32)
    x = rng.uniform(-2, 2, (300, 40)).astype(np.float32)
    w = rng.uniform(-2, 2, (40, 24)).astype(np.float32)
    b = rng.uniform(-2, 2, 24).astype(np.float32)
    results = {mode: (fastsig.sigmoid(y, accuracy=mode),
                      fastsig.dense_forward(x, w, b, accuracy=mode),
                      fastsig.dense_forward(x[:2], w[:, :3], b[:3], accuracy=mode))
               for mode in ACCURACY_MODES}
    for default in ACCURACY_MODES:
        accuracy_setting(default)
        for got, want in zip((fastsig.sigmoid(y), fastsig.dense_forward(x, w, b),
                              fastsig.dense_forward(x[:2], w[:, :3], b[:3])), results[default]):
            helpers.assert_bitwise_equal(got, want, f"default {default}")
        for mode in ACCURACY_MODES:
            helpers.assert_bitwise_equal(fastsig.sigmoid(y, accuracy=mode), results[mode][0],
                                         f"accuracy={mode} over default {default}")
    if FAST_IS_DISTINCT:  # the modes are different routines, seen on 20 000 inputs
        assert not np.array_equal(results["high"][0], results["fast"][0])
    else:
        helpers.assert_bitwise_equal(results["high"][0], results["fast"][0], "baseline")


def test_float64_has_one_routine(rng, helpers):
    y = np.concatenate([rng.uniform(-750, 750, 5000), rng.normal(0, 5, 5000)])
    helpers.assert_bitwise_equal(fastsig.sigmoid(y, accuracy="fast"), fastsig.sigmoid(y))
    x, w = rng.normal(size=(500, 30)), rng.normal(size=(30, 20))
    helpers.assert_bitwise_equal(fastsig.dense_forward(x, w, accuracy="fast"),
                                 fastsig.dense_forward(x, w))


@pytest.mark.quick
@pytest.mark.parametrize("size", [1, 17, 65536 + 5, 10**6 + 7])
def test_fast_mode_is_deterministic(dtype, rng, helpers, size):
    y = rng.uniform(-90, 90, size).astype(dtype)
    ref = fastsig.sigmoid(y, num_threads=1, accuracy="fast")
    for nt in (2, 3, None):
        helpers.assert_bitwise_equal(fastsig.sigmoid(y, num_threads=nt, accuracy="fast"), ref,
                                     f"num_threads={nt}")
        z = y.copy()
        helpers.assert_bitwise_equal(fastsig.sigmoid(z, out=z, num_threads=nt, accuracy="fast"),
                                     ref, f"in place, num_threads={nt}")
    # each element alone, as a 0-d array, too: the bits do not depend on the batch
    for i in (0, size // 2, size - 1):
        helpers.assert_bitwise_equal(fastsig.sigmoid(y[i], accuracy="fast"), ref[i], f"y[{i}]")


def test_fast_dense_forward_is_deterministic(dtype, rng, helpers):
    for n, k, m in ((5000, 64, 10), (3001, 33, 40), (1, 256, 256), (20000, 16, 16)):
        x = rng.uniform(-1, 1, (n, k)).astype(dtype)
        w = rng.uniform(-1, 1, (k, m)).astype(dtype)
        b = rng.uniform(-1, 1, m).astype(dtype)
        ref = fastsig.dense_forward(x, w, b, num_threads=1, accuracy="fast")
        for nt in (2, 3, None):
            out = np.empty_like(ref)
            helpers.assert_bitwise_equal(
                fastsig.dense_forward(x, w, b, out=out, num_threads=nt, accuracy="fast"), ref,
                f"{(n, k, m)}, num_threads={nt}")
        helpers.assert_bitwise_equal(fastsig.dense_forward(x[-1:], w, b, accuracy="fast"),
                                     ref[-1:], f"{(n, k, m)}, the last row alone")


def test_dask_graph_records_the_mode_it_was_built_with(rng, helpers, accuracy_setting):
    pytest.importorskip("dask")
    import dask
    import dask.array as da
    import fastsig.dask as fsd

    y = rng.uniform(-30, 30, 3000).astype(np.float32)
    x = rng.uniform(-2, 2, (3000, 8)).astype(np.float32)
    w = rng.uniform(-2, 2, (8, 5)).astype(np.float32)
    dy, dx = da.from_array(y, chunks=1000), da.from_array(x, chunks=(1000, 8))
    accuracy_setting("fast")
    lazy = (fsd.sigmoid(dy), fsd.dense_forward(dx, w))
    explicit = (fsd.sigmoid(dy, accuracy="high"), fsd.dense_forward(dx, w, accuracy="high"))
    accuracy_setting("high")  # after the graph is built: it must not matter
    with dask.config.set(scheduler="sync"):
        s, f = dask.compute(*lazy)
        s_high, f_high = dask.compute(*explicit)
    helpers.assert_bitwise_equal(s, fastsig.sigmoid(y, accuracy="fast"), "sigmoid")
    helpers.assert_bitwise_equal(f, fastsig.dense_forward(x, w, accuracy="fast"), "dense_forward")
    helpers.assert_bitwise_equal(s_high, fastsig.sigmoid(y), "sigmoid, high")
    helpers.assert_bitwise_equal(f_high, fastsig.dense_forward(x, w), "dense_forward, high")
    with pytest.raises(ValueError, match="'high' or 'fast'"):
        fsd.sigmoid(dy, accuracy="fastest")
    with pytest.raises(ValueError, match="'high' or 'fast'"):
        fsd.dense_forward(dx, w, accuracy="fastest")


@pytest.mark.quick
def test_the_self_test_counts_steps_from_the_correctly_rounded_value():
    """`python -m fastsig check` reports σ's error as the promise counts it."""
    from fastsig._check import steps_from_correctly_rounded

    one = np.float32(1)
    up = np.nextafter(one, np.float32(2))
    below = np.nextafter(one, np.float32(0))
    ref = np.array([1.0, 1.0, 1.0, 1.0 + 2.0**-30], dtype=np.float64)
    got = np.array([one, up, np.nextafter(up, np.float32(2)), up], dtype=np.float32)
    assert steps_from_correctly_rounded(got, ref, np.float32).tolist() == [0, 1, 2, 1]
    assert steps_from_correctly_rounded(np.array([below]), np.array([1.0]),
                                        np.float32).tolist() == [1]
    # a reference within its own error of the midpoint between 1 and `up`: either may be
    # the correctly rounded value, and the nearer one counts
    midpoint = (1.0 + float(up)) / 2
    for r in (midpoint, midpoint * (1 + 2.0**-48), midpoint * (1 - 2.0**-48)):
        assert steps_from_correctly_rounded(np.array([up]), np.array([r]), np.float32) == 0
        assert steps_from_correctly_rounded(np.array([one]), np.array([r]), np.float32) == 0
    # but not when it is clearly on one side
    r = midpoint * (1 + 2.0**-30)
    assert steps_from_correctly_rounded(np.array([one]), np.array([r]), np.float32) == 1
