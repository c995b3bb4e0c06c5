"""API contract of every public function: dtypes, shapes, layouts, out=, special values, empty."""

import warnings

import numpy as np
import pytest

import fastsig
from fastsig import _reference
from fastsig._config import ULP_BOUNDS

# --------------------------------------------------------------------------------------------
# helpers local to this module
# --------------------------------------------------------------------------------------------

# argument names whose values must lie in [0, 1] (the saved sigmoid output)
_S_ARGS = {"s"}


def _to_dtype(a, dt, is_s):
    """Cast float64 values `a` to `dt` so that the cast is exact (small integers for ints)."""
    dt = np.dtype(dt)
    a = np.asarray(a, dtype=np.float64)
    if dt.kind == "b":
        return (a > 0.5) if is_s else (a > 0)
    if dt.kind in "iu":
        v = np.round(a) if is_s else np.round(a * 3)
        if dt.kind == "u":
            v = np.abs(v)
        return v.astype(dt)
    if dt == np.float16:
        return (np.round(a * 8) / 8).astype(dt)
    return a.astype(dt)


def _no_warnings_call(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return fn(*args, **kw)


def _shape_str(shape):
    return str(tuple(shape))


# --------------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------------

@pytest.mark.quick
def test_native_dtype_preserved(spec, dtype, rng, helpers):
    args = spec.make(rng, dtype)
    res = helpers.as_tuple(spec(*args))
    for r in res:
        assert isinstance(r, np.ndarray)
        assert r.dtype == dtype
        assert r.dtype.isnative


# (dtype of the argument at `position`, dtype of all other arguments, expected result dtype)
PROMOTIONS = [
    ("float32", "float32", "float32"),
    ("float64", "float64", "float64"),
    ("float32", "int8", "float32"),
    ("int8", "float32", "float32"),
    ("float32", "int64", "float64"),
    ("int64", "float32", "float64"),
    ("int32", "int32", "float64"),
    ("int64", "int64", "float64"),
    ("uint8", "uint8", "float64"),
    ("bool", "bool", "float64"),
    ("bool", "float32", "float32"),
    ("float16", "float16", "float32"),
    ("float16", "int8", "float32"),
    ("float16", "float64", "float64"),
    ("float32", "float64", "float64"),
    ("float64", "float32", "float64"),
]
# single-argument functions only see the first dtype
SINGLE = {"float32": "float32", "float64": "float64", "int8": "float64", "int32": "float64",
          "int64": "float64", "uint8": "float64", "bool": "float64", "float16": "float32"}


@pytest.mark.parametrize("dt_at,dt_other,expected", PROMOTIONS, ids=lambda v: str(v))
def test_dtype_promotion(spec, rng, helpers, dt_at, dt_other, expected):
    nargs = len(spec.arg_names)
    if nargs == 1:
        expected = SINGLE[dt_at]
    base = spec.make(rng, np.float64)
    for position in range(nargs):
        args = [
            _to_dtype(a, dt_at if i == position else dt_other, name in _S_ARGS)
            for i, (a, name) in enumerate(zip(base, spec.arg_names))
        ]
        res = helpers.as_tuple(spec(*args))
        # the same as converting every input to the compute dtype first, bit for bit
        ref = helpers.as_tuple(spec(*[a.astype(expected) for a in args]))
        for r, e in zip(res, ref):
            assert r.dtype == np.dtype(expected), f"{spec.name}: argument {position}"
            helpers.assert_bitwise_equal(r, e, f"{spec.name}: argument {position}")


def _bad_arrays(shape):
    return {
        "longdouble": np.ones(shape, dtype=np.longdouble),
        "complex64": np.ones(shape, dtype=np.complex64),
        "complex128": np.ones(shape, dtype=np.complex128),
        "object": np.ones(shape, dtype=object),
        "str": np.full(shape, "abc"),
        "datetime64": np.zeros(shape, dtype="datetime64[s]"),
    }


BAD_DTYPES = ["longdouble", "complex64", "complex128", "object", "str", "datetime64"]


def _assert_names_dtype(msg, dt, bad, what):
    names = {str(dt), dt.name}
    if bad == "longdouble":
        names.add("longdouble")
    assert any(nm in msg for nm in names), f"{what}: the TypeError does not name {dt}: {msg!r}"


@pytest.mark.quick
@pytest.mark.parametrize("bad", BAD_DTYPES)
def test_bad_dtype_all_inputs(spec, rng, bad):
    base = spec.make(rng, np.float64)
    args = [_bad_arrays(a.shape)[bad] for a in base]
    with pytest.raises(TypeError) as info:
        spec(*args)
    _assert_names_dtype(str(info.value), args[0].dtype, bad, spec.name)


@pytest.mark.parametrize("bad", BAD_DTYPES)
def test_bad_dtype_one_input(spec, rng, bad):
    # one argument of an unsupported dtype among float64 ones: the message names the dtype the
    # caller passed (complex64 stays "complex64", not the promoted "complex128")
    base = spec.make(rng, np.float64)
    for position in range(len(base)):
        args = list(base)
        args[position] = _bad_arrays(base[position].shape)[bad]
        with pytest.raises(TypeError) as info:
            spec(*args)
        _assert_names_dtype(str(info.value), args[position].dtype, bad,
                            f"{spec.name} argument {position}")


# --------------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------------

def _expect_shape_error(fn, args, shapes, **kw):
    with pytest.raises(ValueError) as info:
        fn(*args, **kw)
    msg = str(info.value)
    for shp in shapes:
        assert _shape_str(shp) in msg, f"{_shape_str(shp)} not in {msg!r}"


MATMUL_BAD_SHAPES = [
    # (x shape, w shape, shapes that must appear in the message)
    ((4,), (4, 3), [(4,)]),
    ((2, 3, 4), (4, 5), [(2, 3, 4)]),
    ((3, 4), (4,), [(4,)]),
    ((3, 4), (2, 4, 3), [(2, 4, 3)]),
    ((), (4, 3), [()]),
    ((3, 4), (5, 2), [(3, 4), (5, 2)]),
    ((3, 4), (3, 4), [(3, 4)]),
    ((1, 7), (6, 1), [(1, 7), (6, 1)]),
]


@pytest.mark.quick
@pytest.mark.parametrize("xs,ws,in_msg", MATMUL_BAD_SHAPES, ids=str)
def test_matmul_shape_errors(dtype, xs, ws, in_msg):
    x = np.ones(xs, dtype)
    w = np.ones(ws, dtype)
    _expect_shape_error(fastsig.matmul, (x, w), in_msg)
    # the same checks guard dense_forward and dense_backward
    _expect_shape_error(fastsig.dense_forward, (x, w), in_msg)
    if len(xs) == 2 and len(ws) == 2:
        g = np.ones((xs[0], ws[1]), dtype)
        _expect_shape_error(fastsig.dense_backward, (g, x, w, g * 0.5), in_msg)


@pytest.mark.parametrize("bs", [(5,), (1,), (3,)], ids=str)
def test_dense_forward_bias_length(dtype, bs):
    x = np.ones((3, 4), dtype)
    w = np.ones((4, 2), dtype)
    b = np.ones(bs, dtype)
    with pytest.raises(ValueError) as info:
        fastsig.dense_forward(x, w, b)
    msg = str(info.value)
    assert _shape_str(bs) in msg
    assert _shape_str((4, 2)) in msg or _shape_str((2,)) in msg, msg


@pytest.mark.parametrize("bs", [(1, 2), (3, 2), (2, 1), ()], ids=str)
def test_dense_forward_bias_not_1d(dtype, bs):
    x = np.ones((3, 4), dtype)
    w = np.ones((4, 2), dtype)
    b = np.ones(bs, dtype)
    with pytest.raises(ValueError) as info:
        fastsig.dense_forward(x, w, b)
    if bs:
        assert _shape_str(bs) in str(info.value)


ELEMENTWISE_MISMATCH = [
    ((3, 4), (4, 3)),
    ((3, 4), (4,)),
    ((3, 4), (1, 4)),
    ((3, 1), (3, 4)),
    ((12,), (3, 4)),
    ((2, 3, 4), (2, 3, 5)),
    ((), (1,)),
]


@pytest.mark.quick
@pytest.mark.parametrize("gs,ss", ELEMENTWISE_MISMATCH, ids=str)
def test_sigmoid_backward_shape_mismatch(dtype, gs, ss):
    g = np.ones(gs, dtype)
    s = np.full(ss, 0.5, dtype)
    _expect_shape_error(fastsig.sigmoid_backward, (g, s), [gs, ss])


def test_dense_backward_shape_errors(dtype):
    x = np.ones((3, 4), dtype)
    w = np.ones((4, 2), dtype)
    g = np.ones((3, 2), dtype)
    s = np.full((3, 2), 0.5, dtype)
    # grad/s do not match x @ w
    g5 = np.ones((3, 5), dtype)
    _expect_shape_error(fastsig.dense_backward, (g5, x, w, np.full((3, 5), 0.5, dtype)),
                        [(3, 5)])
    _expect_shape_error(fastsig.dense_backward, (np.ones((4, 2), dtype), x, w, s), [(4, 2)])
    # grad and s differ
    _expect_shape_error(fastsig.dense_backward, (g, x, w, np.full((2, 3), 0.5, dtype)),
                        [(3, 2), (2, 3)])
    _expect_shape_error(fastsig.dense_backward, (g, x, w, np.full((2,), 0.5, dtype)), [(2,)])
    # 1-D / 3-D operands
    _expect_shape_error(fastsig.dense_backward, (g, np.ones(4, dtype), w, s), [(4,)])
    _expect_shape_error(fastsig.dense_backward, (g[None], x, w, s[None]), [(1, 3, 2)])
    # also with compute_dx=False
    _expect_shape_error(fastsig.dense_backward, (g, np.ones((3, 5), dtype), w, s),
                        [(3, 5), (4, 2)], compute_dx=False)


@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 4), (2, 3, 4), (2, 1, 3, 2)], ids=str)
def test_elementwise_any_shape(dtype, rng, helpers, shape):
    y = rng.uniform(-5, 5, size=shape).astype(dtype)
    s = fastsig.sigmoid(y)
    assert np.shape(s) == shape and np.asarray(s).dtype == dtype
    flat = fastsig.sigmoid(np.asarray(y).reshape(-1))
    helpers.assert_bitwise_equal(np.asarray(s).reshape(-1), flat)
    g = rng.normal(size=shape).astype(dtype)
    r = fastsig.sigmoid_backward(g, s)
    assert np.shape(r) == shape and np.asarray(r).dtype == dtype
    helpers.assert_bitwise_equal(
        np.asarray(r).reshape(-1),
        fastsig.sigmoid_backward(np.asarray(g).reshape(-1), np.asarray(s).reshape(-1)),
    )


# --------------------------------------------------------------------------------------------
# layouts
# --------------------------------------------------------------------------------------------

@pytest.mark.quick
def test_layouts_all_inputs(spec, dtype, rng, helpers, layout, layout_name):
    args = spec.make(rng, dtype)
    transformed = [layout(layout_name, a) for a in args]
    res = helpers.as_tuple(spec(*transformed))
    # the answer of the same values handed over as native C-contiguous arrays
    ref = helpers.as_tuple(spec(*[helpers.canonical(t) for t in transformed]))
    for r, e in zip(res, ref):
        assert isinstance(r, np.ndarray)
        assert r.dtype.isnative
        assert r.flags.c_contiguous and r.flags.writeable
        helpers.assert_bitwise_equal(r, e, f"{spec.name} {layout_name}")
    if layout_name not in ("list", "broadcast"):
        # same values as the original arrays
        for r, e in zip(res, helpers.as_tuple(spec(*args))):
            helpers.assert_bitwise_equal(r, e, f"{spec.name} {layout_name} vs original")


def test_layouts_mixed(spec, dtype, rng, helpers, layout):
    args = spec.make(rng, dtype)
    names = ["fortran", "negative", "strided", "mmap", "bigendian", "readonly"]
    for shift in range(len(names)):
        transformed = [layout(names[(i + shift) % len(names)], a) for i, a in enumerate(args)]
        for r, e in zip(helpers.as_tuple(spec(*transformed)), helpers.as_tuple(spec(*args))):
            helpers.assert_bitwise_equal(r, e, f"{spec.name} shift {shift}")


def test_elementwise_transposed_3d(dtype, rng, helpers):
    a = rng.uniform(-6, 6, size=(4, 5, 6)).astype(dtype)
    t = a.transpose(2, 0, 1)
    s = fastsig.sigmoid(t)
    assert s.shape == (6, 4, 5)
    helpers.assert_bitwise_equal(s, fastsig.sigmoid(np.ascontiguousarray(t)))
    g = rng.normal(size=(6, 4, 5)).astype(dtype)
    helpers.assert_bitwise_equal(
        fastsig.sigmoid_backward(g, t[::-1]),
        fastsig.sigmoid_backward(g, np.ascontiguousarray(t[::-1])),
    )


def test_inputs_not_modified(spec, dtype, rng):
    args = spec.make(rng, dtype)
    copies = [a.copy() for a in args]
    spec(*args)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)


# --------------------------------------------------------------------------------------------
# out=
# --------------------------------------------------------------------------------------------

@pytest.mark.quick
@pytest.mark.parametrize("size", ["small", "big"])
def test_out_is_returned_and_filled(out_spec, dtype, rng, helpers, size):
    args = out_spec.make(rng, dtype, size)
    expected = out_spec(*args)
    out = np.full(out_spec.result_shape(args), np.nan, dtype=dtype)
    r = out_spec(*args, out=out)
    assert r is out
    helpers.assert_bitwise_equal(out, expected, out_spec.name)


def _wrong_dtypes(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    return [other, np.int64, np.float16, np.longdouble, np.dtype(dtype).newbyteorder(">")]


@pytest.mark.quick
def test_out_wrong_dtype(out_spec, dtype, rng):
    args = out_spec.make(rng, dtype)
    shape = out_spec.result_shape(args)
    for bad in _wrong_dtypes(dtype):
        out = np.zeros(shape, dtype=bad)
        with pytest.raises(TypeError):
            out_spec(*args, out=out)
        assert np.all(out == 0), f"out of dtype {out.dtype} written before the error"


def test_out_dtype_follows_promotion(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    w = rng.integers(-3, 3, size=(3, 5)).astype(np.int64)
    with pytest.raises(TypeError):
        fastsig.matmul(x, w, out=np.zeros((4, 5), np.float32))
    out = np.zeros((4, 5), np.float64)
    assert fastsig.matmul(x, w, out=out) is out
    w8 = w.astype(np.int8)
    out32 = np.zeros((4, 5), np.float32)
    assert fastsig.matmul(x, w8, out=out32) is out32
    with pytest.raises(TypeError):
        fastsig.sigmoid(np.arange(5), out=np.zeros(5, np.float32))
    out5 = np.zeros(5)
    assert fastsig.sigmoid(np.arange(5), out=out5) is out5


def _wrong_shapes(shape):
    shape = tuple(shape)
    cands = [
        (shape[0] + 1,) + shape[1:],
        shape + (1,),
        (int(np.prod(shape)),),
        shape[::-1],
        (1,) + shape,
    ]
    return [c for c in cands if c != shape]


def test_out_wrong_shape(out_spec, dtype, rng):
    args = out_spec.make(rng, dtype)
    shape = out_spec.result_shape(args)
    for bad in _wrong_shapes(shape):
        out = np.zeros(bad, dtype=dtype)
        with pytest.raises(ValueError):
            out_spec(*args, out=out)
        assert np.all(out == 0)


@pytest.mark.quick
def test_out_not_c_contiguous(out_spec, dtype, rng):
    args = out_spec.make(rng, dtype)
    shape = out_spec.result_shape(args)
    assert len(shape) == 2 and min(shape) > 1
    fortran = np.zeros(shape, dtype=dtype, order="F")
    big = np.zeros((shape[0], 2 * shape[1]), dtype=dtype)
    strided = big[:, ::2]
    reversed_rows = np.zeros(shape, dtype=dtype)[::-1]
    for out in (fortran, strided, reversed_rows):
        with pytest.raises(ValueError):
            out_spec(*args, out=out)
    assert np.all(fortran == 0) and np.all(big == 0)


@pytest.mark.quick
def test_out_read_only(out_spec, dtype, rng, tmp_path):
    args = out_spec.make(rng, dtype)
    shape = out_spec.result_shape(args)
    out = np.zeros(shape, dtype=dtype)
    out.flags.writeable = False
    with pytest.raises(ValueError):
        out_spec(*args, out=out)
    assert np.all(out == 0)
    path = tmp_path / "out.npy"
    np.save(path, np.zeros(shape, dtype=dtype))
    with pytest.raises(ValueError):
        out_spec(*args, out=np.load(path, mmap_mode="r"))


def test_out_not_ndarray(out_spec, dtype, rng):
    args = out_spec.make(rng, dtype)
    shape = out_spec.result_shape(args)
    for out in (np.zeros(shape, dtype=dtype).tolist(), memoryview(np.zeros(shape, dtype=dtype)),
                "out", 1.0):
        with pytest.raises(TypeError):
            out_spec(*args, out=out)


def test_out_3d_elementwise(dtype, rng, helpers):
    y = rng.normal(size=(3, 4, 5)).astype(dtype)
    out = np.empty_like(y)
    assert fastsig.sigmoid(y, out=out) is out
    helpers.assert_bitwise_equal(out, fastsig.sigmoid(y))
    with pytest.raises(ValueError):
        fastsig.sigmoid(y, out=np.empty((3, 20), dtype))
    with pytest.raises(ValueError):
        fastsig.sigmoid(y, out=np.empty((5, 4, 3), dtype))


@pytest.mark.quick
@pytest.mark.parametrize("size", ["small", "big"])
def test_sigmoid_in_place(dtype, rng, helpers, size):
    shape = (7, 6) if size == "small" else (1000, 1000)
    y = rng.uniform(-8, 8, size=shape).astype(dtype)
    expected = fastsig.sigmoid(y)
    r = fastsig.sigmoid(y, out=y)
    assert r is y
    helpers.assert_bitwise_equal(y, expected)


@pytest.mark.quick
@pytest.mark.parametrize("which", ["grad", "s"])
@pytest.mark.parametrize("size", ["small", "big"])
def test_sigmoid_backward_in_place(dtype, rng, helpers, which, size):
    shape = (7, 6) if size == "small" else (1000, 1000)
    g = rng.normal(size=shape).astype(dtype)
    s = rng.uniform(0, 1, size=shape).astype(dtype)
    expected = fastsig.sigmoid_backward(g, s)
    out = g if which == "grad" else s
    r = fastsig.sigmoid_backward(g, s, out=out)
    assert r is out
    helpers.assert_bitwise_equal(out, expected)


def test_sigmoid_backward_same_array_twice(dtype, rng, helpers):
    a = rng.uniform(0, 1, size=(5, 9)).astype(dtype)
    expected = fastsig.sigmoid_backward(a.copy(), a.copy())
    r = fastsig.sigmoid_backward(a, a, out=a)
    assert r is a
    helpers.assert_bitwise_equal(a, expected)


def _check_rejected(fn, args, out, buffers):
    before = [b.copy() for b in buffers]
    with pytest.raises(ValueError):
        fn(*args, out=out)
    for b, c in zip(buffers, before):
        np.testing.assert_array_equal(b, c, err_msg="buffer written before the error")


@pytest.mark.quick
def test_sigmoid_partial_overlap(dtype, rng):
    buf = rng.uniform(-3, 3, size=101).astype(dtype)
    _check_rejected(fastsig.sigmoid, (buf[:-1],), buf[1:], [buf])
    _check_rejected(fastsig.sigmoid, (buf[1:],), buf[:-1], [buf])
    buf2 = rng.uniform(-3, 3, size=(8, 6)).astype(dtype)
    _check_rejected(fastsig.sigmoid, (buf2[:6],), buf2[2:], [buf2])
    _check_rejected(fastsig.sigmoid, (buf2[2:],), buf2[:6], [buf2])


def test_sigmoid_partial_overlap_big(dtype, rng):
    buf = rng.uniform(-3, 3, size=10**6 + 64).astype(dtype)
    _check_rejected(fastsig.sigmoid, (buf[:10**6],), buf[64:], [buf])


@pytest.mark.quick
def test_sigmoid_backward_partial_overlap(dtype, rng):
    buf = rng.uniform(0, 1, size=101).astype(dtype)
    other = rng.uniform(0, 1, size=100).astype(dtype)
    # out partially overlaps grad, or s
    _check_rejected(fastsig.sigmoid_backward, (buf[:-1], other), buf[1:], [buf, other])
    _check_rejected(fastsig.sigmoid_backward, (other, buf[:-1]), buf[1:], [buf, other])
    # out is exactly grad, but s overlaps it partially
    _check_rejected(fastsig.sigmoid_backward, (buf[:-1], buf[1:]), buf[:-1], [buf])
    _check_rejected(fastsig.sigmoid_backward, (buf[1:], buf[:-1]), buf[:-1], [buf])


@pytest.mark.quick
def test_matmul_out_overlap(dtype, rng):
    x = rng.normal(size=(5, 5)).astype(dtype)
    w = rng.normal(size=(5, 5)).astype(dtype)
    _check_rejected(fastsig.matmul, (x, w), x, [x, w])
    _check_rejected(fastsig.matmul, (x, w), w, [x, w])
    _check_rejected(fastsig.matmul, (x, x), x, [x])
    # a transposed view of out as an input still overlaps
    _check_rejected(fastsig.matmul, (x.T, w), x, [x, w])
    # partial overlap through a shared buffer
    buf = rng.normal(size=60).astype(dtype)
    xv = buf[:20].reshape(4, 5)
    wv = rng.normal(size=(5, 6)).astype(dtype)
    outv = buf[15:39].reshape(4, 6)
    _check_rejected(fastsig.matmul, (xv, wv), outv, [buf, wv])
    wv2 = buf[30:60].reshape(5, 6)
    xv2 = rng.normal(size=(4, 5)).astype(dtype)
    _check_rejected(fastsig.matmul, (xv2, wv2), buf[10:34].reshape(4, 6), [buf, xv2])


@pytest.mark.quick
def test_dense_forward_out_overlap(dtype, rng):
    x = rng.normal(size=(5, 5)).astype(dtype)
    w = rng.normal(size=(5, 5)).astype(dtype)
    b = rng.normal(size=5).astype(dtype)
    _check_rejected(fastsig.dense_forward, (x, w, b), x, [x, w, b])
    _check_rejected(fastsig.dense_forward, (x, w, b), w, [x, w, b])
    _check_rejected(fastsig.dense_forward, (x, w), x, [x, w])
    out = rng.normal(size=(5, 5)).astype(dtype)
    _check_rejected(fastsig.dense_forward, (x, w, out[2]), out, [x, w, out])
    buf = rng.normal(size=60).astype(dtype)
    _check_rejected(fastsig.dense_forward, (buf[:25].reshape(5, 5), w, b),
                    buf[20:45].reshape(5, 5), [buf, w, b])


def test_keyword_only(rng):
    x = rng.normal(size=(3, 4))
    w = rng.normal(size=(4, 2))
    b = rng.normal(size=2)
    s = fastsig.dense_forward(x, w, b)
    with pytest.raises(TypeError):
        fastsig.matmul(x, w, np.empty((3, 2)))
    with pytest.raises(TypeError):
        fastsig.sigmoid(x, np.empty((3, 4)))
    with pytest.raises(TypeError):
        fastsig.sigmoid_backward(s, s, np.empty((3, 2)))
    with pytest.raises(TypeError):
        fastsig.dense_forward(x, w, b, np.empty((3, 2)))
    with pytest.raises(TypeError):
        fastsig.dense_backward(s, x, w, s, False)


def test_dense_forward_bias_none_equals_zero_bias(dtype, rng, helpers):
    x = rng.normal(size=(9, 8)).astype(dtype)
    w = rng.normal(size=(8, 7)).astype(dtype)
    helpers.assert_bitwise_equal(fastsig.dense_forward(x, w),
                                 fastsig.dense_forward(x, w, np.zeros(7, dtype)))
    helpers.assert_bitwise_equal(fastsig.dense_forward(x, w),
                                 fastsig.dense_forward(x, w, None))


# --------------------------------------------------------------------------------------------
# special values, with every warning an error
# --------------------------------------------------------------------------------------------

def _special_inputs(dtype):
    fi = np.finfo(dtype)
    vals = {
        np.inf: 1.0, -np.inf: 0.0, 1000.0: 1.0, -1000.0: 0.0, 0.0: 0.5,
        float(fi.max): 1.0, -float(fi.max): 0.0, float(fi.tiny): 0.5, -float(fi.tiny): 0.5,
        float(fi.smallest_subnormal): 0.5, 1e4: 1.0, -1e4: 0.0,
    }
    return vals


@pytest.mark.quick
@pytest.mark.parametrize("accuracy", ["high", "fast"])
def test_sigmoid_special_values(dtype, accuracy):
    vals = _special_inputs(dtype)
    y = np.array(list(vals) + [np.nan, -0.0], dtype=dtype)
    expected = np.array(list(vals.values()) + [np.nan, 0.5], dtype=dtype)
    s = _no_warnings_call(fastsig.sigmoid, y, accuracy=accuracy)
    np.testing.assert_array_equal(s, expected)
    assert not np.signbit(s[-1])  # sigma(-0.0) is +0.5
    # also as 0-d, inside a long array (vector path) and threaded
    for v, e in zip(y, expected):
        np.testing.assert_array_equal(
            _no_warnings_call(fastsig.sigmoid, np.array(v), accuracy=accuracy), e)
    long = np.tile(y, 10**5 // len(y) + 1)
    for nt in (None, 1, 2):
        np.testing.assert_array_equal(
            _no_warnings_call(fastsig.sigmoid, long, num_threads=nt, accuracy=accuracy),
            np.tile(expected, 10**5 // len(y) + 1),
        )


@pytest.mark.parametrize("accuracy", ["high", "fast"])
def test_sigmoid_overflow_region_no_warnings(dtype, helpers, accuracy):
    # where exp(-y) overflows or underflows in the dtype
    y = np.concatenate([np.linspace(-800, -80, 1001), np.linspace(80, 800, 1001)]).astype(dtype)
    s = _no_warnings_call(fastsig.sigmoid, y, accuracy=accuracy)
    ref = helpers.ref_sigmoid(y.astype(helpers.ref_dtype(dtype))).astype(dtype)
    maxulp = ULP_BOUNDS[accuracy][np.dtype(dtype).name]
    assert int(np.max(helpers.ulp_distance(s, ref))) <= maxulp + 1


@pytest.mark.quick
def test_sigmoid_backward_special_values(dtype):
    big = float(np.finfo(dtype).max)
    g = np.array([np.inf, -np.inf, np.nan, 1, 1, 1, big, 0, np.inf, np.inf, -0.0], dtype=dtype)
    s = np.array([0.5, 0.5, 0.5, np.nan, 0, 1, 0.5, np.nan, 0, 1, 0.5], dtype=dtype)
    r = _no_warnings_call(fastsig.sigmoid_backward, g, s)
    with np.errstate(all="ignore"):
        expected = g * s * (1 - s)
    np.testing.assert_array_equal(r, expected)
    assert r[3] != r[3] and r[8] != r[8] and r[9] != r[9]


@pytest.mark.quick
def test_matmul_and_dense_forward_special_values(dtype):
    x = np.array([[np.inf, 1], [-np.inf, 1], [np.nan, 1], [1000, 0], [-1000, 0], [1000, -1000]],
                 dtype=dtype)
    w = np.array([[1, 2], [1, 3]], dtype=dtype)
    y = _no_warnings_call(fastsig.matmul, x, w)
    np.testing.assert_array_equal(
        y, np.array([[np.inf, np.inf], [-np.inf, -np.inf], [np.nan, np.nan],
                     [1000, 2000], [-1000, -2000], [0, -1000]], dtype=dtype))
    s = _no_warnings_call(fastsig.dense_forward, x, w)
    expected = np.array([[1, 1], [0, 0], [np.nan, np.nan], [1, 1], [0, 0], [0.5, 0]], dtype=dtype)
    np.testing.assert_array_equal(s, expected)
    s_b = _no_warnings_call(fastsig.dense_forward, x, w, np.array([0, np.inf], dtype=dtype))
    expected_b = expected.copy()
    expected_b[[0, 1, 3, 4, 5], 1] = [1, np.nan, 1, 1, 1]
    np.testing.assert_array_equal(s_b, expected_b)


def test_large_magnitudes_stay_finite(dtype, rng):
    # products that are large but finite must not turn into inf/nan through the sigmoid
    x = rng.uniform(-1, 1, size=(40, 30)).astype(dtype) * 100
    w = rng.uniform(-1, 1, size=(30, 20)).astype(dtype) * 100
    s = _no_warnings_call(fastsig.dense_forward, x, w)
    assert np.all((s >= 0) & (s <= 1))
    g = np.ones((40, 20), dtype)
    dx, dw, db = _no_warnings_call(fastsig.dense_backward, g, x, w, s)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dw)) and np.all(np.isfinite(db))


@pytest.mark.quick
def test_dense_backward_nan_propagation(dtype, rng):
    n, k, m = 6, 4, 5
    g = np.ones((n, m), dtype)
    x = rng.uniform(0.5, 1.5, size=(n, k)).astype(dtype)
    w = rng.uniform(0.5, 1.5, size=(k, m)).astype(dtype)
    s = np.zeros((n, m), dtype)
    s[2, 3] = np.nan
    dx, dw, db = _no_warnings_call(fastsig.dense_backward, g, x, w, s)
    exp_dx = np.zeros((n, k), dtype)
    exp_dx[2, :] = np.nan
    exp_dw = np.zeros((k, m), dtype)
    exp_dw[:, 3] = np.nan
    exp_db = np.zeros(m, dtype)
    exp_db[3] = np.nan
    np.testing.assert_array_equal(dx, exp_dx)
    np.testing.assert_array_equal(dw, exp_dw)
    np.testing.assert_array_equal(db, exp_db)


# --------------------------------------------------------------------------------------------
# empty inputs
# --------------------------------------------------------------------------------------------

@pytest.mark.quick
@pytest.mark.parametrize("nt", [None, 2])
@pytest.mark.parametrize("n,k,m", [(0, 4, 3), (3, 4, 0), (3, 0, 5), (0, 0, 0), (0, 0, 2)],
                         ids=str)
def test_matmul_empty(dtype, n, k, m, nt):
    x = np.ones((n, k), dtype)
    w = np.ones((k, m), dtype)
    y = fastsig.matmul(x, w, num_threads=nt)
    assert y.shape == (n, m) and y.dtype == dtype
    np.testing.assert_array_equal(y, np.zeros((n, m), dtype))
    out = np.full((n, m), np.nan, dtype)
    assert fastsig.matmul(x, w, out=out, num_threads=nt) is out
    np.testing.assert_array_equal(out, np.zeros((n, m), dtype))


@pytest.mark.quick
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4), (0, 0, 2), (2, 0, 3)], ids=str)
def test_elementwise_empty(dtype, shape):
    y = np.ones(shape, dtype)
    for nt in (None, 3):
        s = fastsig.sigmoid(y, num_threads=nt)
        assert s.shape == shape and s.dtype == dtype
        r = fastsig.sigmoid_backward(y, y, num_threads=nt)
        assert r.shape == shape and r.dtype == dtype
        out = np.empty(shape, dtype)
        assert fastsig.sigmoid(y, out=out, num_threads=nt) is out
        assert fastsig.sigmoid_backward(y, y, out=out, num_threads=nt) is out
        assert fastsig.sigmoid(y, out=y) is y


@pytest.mark.quick
@pytest.mark.parametrize("nt", [None, 2])
def test_dense_forward_empty(dtype, rng, helpers, nt):
    b3 = rng.normal(size=3).astype(dtype)
    s = fastsig.dense_forward(np.ones((0, 4), dtype), np.ones((4, 3), dtype), b3, num_threads=nt)
    assert s.shape == (0, 3) and s.dtype == dtype
    s = fastsig.dense_forward(np.ones((3, 4), dtype), np.ones((4, 0), dtype), np.ones(0, dtype),
                              num_threads=nt)
    assert s.shape == (3, 0) and s.dtype == dtype
    # k = 0: sigma(b) on every row, 0.5 without b
    b5 = rng.normal(size=5).astype(dtype)
    s = fastsig.dense_forward(np.ones((3, 0), dtype), np.ones((0, 5), dtype), b5, num_threads=nt)
    assert s.shape == (3, 5) and s.dtype == dtype
    helpers.assert_bitwise_equal(s, np.broadcast_to(fastsig.sigmoid(b5), (3, 5)).copy())
    s = fastsig.dense_forward(np.ones((3, 0), dtype), np.ones((0, 5), dtype), num_threads=nt)
    np.testing.assert_array_equal(s, np.full((3, 5), 0.5, dtype))
    out = np.full((3, 5), np.nan, dtype)
    assert fastsig.dense_forward(np.ones((3, 0), dtype), np.ones((0, 5), dtype), out=out) is out
    np.testing.assert_array_equal(out, np.full((3, 5), 0.5, dtype))


@pytest.mark.quick
@pytest.mark.parametrize("nt", [None, 2])
def test_dense_backward_empty(dtype, rng, nt):
    # n = 0: an empty batch gives zero dw, db
    k, m = 4, 3
    dx, dw, db = fastsig.dense_backward(np.ones((0, m), dtype), np.ones((0, k), dtype),
                                        np.ones((k, m), dtype), np.ones((0, m), dtype),
                                        num_threads=nt)
    assert dx.shape == (0, k) and dx.dtype == dtype
    np.testing.assert_array_equal(dw, np.zeros((k, m), dtype))
    np.testing.assert_array_equal(db, np.zeros(m, dtype))
    assert dw.dtype == db.dtype == dtype
    dx, dw, db = fastsig.dense_backward(np.ones((0, m), dtype), np.ones((0, k), dtype),
                                        np.ones((k, m), dtype), np.ones((0, m), dtype),
                                        compute_dx=False, num_threads=nt)
    assert dx is None
    np.testing.assert_array_equal(dw, np.zeros((k, m), dtype))
    np.testing.assert_array_equal(db, np.zeros(m, dtype))
    # k = 0: dx (n, 0), dw (0, m), db the column sums of dY
    n = 5
    g = rng.normal(size=(n, m)).astype(dtype)
    s = rng.uniform(0, 1, size=(n, m)).astype(dtype)
    dx, dw, db = fastsig.dense_backward(g, np.ones((n, 0), dtype), np.ones((0, m), dtype), s,
                                        num_threads=nt)
    assert dx.shape == (n, 0) and dw.shape == (0, m) and db.shape == (m,)
    dy = _reference.sigmoid_backward(g, s, np.float64)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6)
    # m = 0: dx zeros (n, k), dw (k, 0), db (0,)
    dx, dw, db = fastsig.dense_backward(np.ones((n, 0), dtype), np.ones((n, k), dtype),
                                        np.ones((k, 0), dtype), np.ones((n, 0), dtype),
                                        num_threads=nt)
    np.testing.assert_array_equal(dx, np.zeros((n, k), dtype))
    assert dx.dtype == dtype and dw.shape == (k, 0) and db.shape == (0,)
