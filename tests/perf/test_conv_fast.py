"""The fast paths of ``tapeflow/ops/conv_ops.py`` (issue 7, W3) against the general ones.

- im2col: the transposed (K*C, M) matrix built by slice copies (few input channels, with the bias
  folded in as a ones row) and the row-major matrix, against a float64 direct convolution; the
  filter/bias gradient from the cached matrix against a rebuilt one.
- max pooling whose windows tile the input (stride == window, no padding, odd tails dropped):
  the first-maximum gradient on the reshape view, bit for bit against the general strided-slice
  kernel, with ties, NaN, -inf, odd sizes, 1-D/3-D and float64.
- the first convolution's raw gradient (relu backprop fused into the filter GEMM's chunks) bit
  for bit against the composite gradient.
- the fused conv + bias + relu op: forward and gradients against the separate ops, and second
  order through nested tapes against float64 finite differences.
"""

import itertools

import numpy as np
import pytest

import tapeflow as tf
from tapeflow.ops import conv_ops as C

rng = np.random.default_rng(11)


def _direct_conv(x, w, strides, dilations, pads):
    """float64 channels-last convolution by explicit loops over the kernel offsets."""
    x = np.pad(x.astype(np.float64), [(0, 0)] + list(pads) + [(0, 0)])
    n = x.ndim - 2
    ks = w.shape[:n]
    out = [(s - (k - 1) * d - 1) // st + 1 for s, k, st, d in
           zip(x.shape[1:-1], ks, strides, dilations, strict=True)]
    y = np.zeros([x.shape[0]] + out + [w.shape[-1]])
    for idx in itertools.product(*[range(k) for k in ks]):
        sl = (slice(None),) + tuple(slice(i * d, i * d + st * (o - 1) + 1, st) for i, d, st, o
                                    in zip(idx, dilations, strides, out, strict=True))
        y += x[sl] @ w[idx].astype(np.float64)
    return y


CONV_CASES = [
    # (x shape, kernel size, strides, dilations, pads) with C = 1, 2, 3 (transposed im2col) and
    # 4, 5, 8 (row-major im2col)
    ((3, 9, 8, 1), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((2, 9, 8, 1), (3, 2), (2, 1), (1, 1), ((1, 1), (0, 1))),
    ((2, 11, 10, 2), (3, 3), (1, 1), (2, 2), ((2, 2), (2, 2))),
    ((2, 7, 7, 3), (2, 3), (2, 3), (1, 1), ((0, 1), (1, 1))),
    ((2, 8, 9, 5), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((2, 8, 9, 8), (3, 2), (2, 2), (1, 1), ((1, 0), (0, 1))),
    ((2, 9, 9, 8), (2, 3), (1, 1), (1, 2), ((0, 0), (0, 0))),
    ((2, 11, 4), (3,), (1,), (1,), ((0, 0),)),
    ((2, 11, 1), (4,), (2,), (1,), ((1, 2),)),
    ((2, 5, 6, 5, 2), (2, 3, 2), (1, 2, 1), (1, 1, 1), ((0, 0), (1, 1), (0, 1))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_forward_and_filter_gradient_match_direct_float64(case, dtype):
    shape, ks, st, dl, pads = CONV_CASES[case]
    c = shape[-1]
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(ks + (c, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    ref = _direct_conv(x, w, st, dl, pads)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for bias in (None, b):
        cache = {}
        y = C._conv_fwd(x, w, st, dl, pads, 1, cache, bias=bias)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ref + (0 if bias is None else b), **tol)
        assert cache["cols"][0] == ("T" if c < C._T_MAX_C else "R")
        # filter (+ bias) gradient: cached matrix == rebuilt matrix == float64 reference
        dy = rng.standard_normal(y.shape).astype(dtype)
        xp = np.pad(x.astype(np.float64), [(0, 0)] + list(pads) + [(0, 0)])
        dw_ref = np.zeros(w.shape)
        for idx in itertools.product(*[range(k) for k in ks]):
            sl = (slice(None),) + tuple(slice(i * d, i * d + s * (o - 1) + 1, s) for i, d, s, o
                                        in zip(idx, dl, st, y.shape[1:-1], strict=True))
            dw_ref[idx] = np.tensordot(xp[sl], dy.astype(np.float64),
                                       axes=(list(range(len(ks) + 1)),) * 2)
        got = C._conv_bp_filter(x, dy, w.shape, st, dl, pads, 1, cache["cols"],
                                bias=bias is not None)
        again = C._conv_bp_filter(x, dy, w.shape, st, dl, pads, 1, None, bias=bias is not None)
        if bias is None:
            got, again = (got, None), (again, None)
        np.testing.assert_allclose(got[0], dw_ref, **tol)
        np.testing.assert_allclose(again[0], dw_ref, **tol)
        if bias is not None:
            db_ref = dy.astype(np.float64).reshape(-1, 4).sum(0)
            np.testing.assert_allclose(got[1], db_ref, **tol)
            np.testing.assert_allclose(again[1], db_ref, **tol)
            assert got[1].dtype == dtype


def _conv_bias_relu_composite(x, w, b, strides, padding):
    return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, strides, padding), b))


@pytest.mark.parametrize("c,strides,padding", [(1, 1, "VALID"), (3, 2, "SAME"), (8, 1, "SAME"),
                                               (32, 1, "VALID")])
def test_fused_conv_bias_relu_matches_separate_ops(c, strides, padding):
    x = tf.constant(rng.standard_normal((3, 9, 8, c)).astype(np.float32))
    w = tf.Variable(rng.standard_normal((3, 3, c, 5)).astype(np.float32) * 0.5)
    b = tf.Variable(rng.standard_normal(5).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = C._conv_nd(x, w, 2, strides, padding, None, None, "c", bias=b, relu=True)
        ref = _conv_bias_relu_composite(x, w, b, strides, padding)
        s, sr = tf.reduce_sum(y * y), tf.reduce_sum(ref * ref)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    for g, gr in zip(tape.gradient(s, [x, w, b]), tape.gradient(sr, [x, w, b]), strict=True):
        np.testing.assert_allclose(g.numpy(), gr.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("c", [1, 6])
def test_fused_conv_bias_relu_second_order_matches_finite_differences(c):
    # d/dw of ||d loss / dx||^2 through nested tapes (the composite gradient with the
    # two-output filter+bias op), against float64 central differences
    x0 = rng.standard_normal((2, 6, 5, c))
    w0 = rng.standard_normal((3, 2, c, 3)) * 0.5
    b0 = rng.standard_normal(3) + 0.5

    def inner(w, b, x):
        with tf.GradientTape() as t2:
            t2.watch(x)
            y = C._conv_nd(x, w, 2, 1, "SAME", None, None, "c", bias=b, relu=True)
            loss = tf.reduce_sum(y * y * y)
        gx = t2.gradient(loss, x)
        return tf.reduce_sum(gx * gx)

    w = tf.constant(w0)
    b = tf.constant(b0)
    x = tf.constant(x0)
    with tf.GradientTape() as t1:
        t1.watch([w, b])
        val = inner(w, b, x)
    gw, gb = t1.gradient(val, [w, b])
    eps = 1e-6
    for arr, got in ((w0, gw.numpy()), (b0, gb.numpy())):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            orig = arr[i]
            arr[i] = orig + eps
            hi = float(inner(tf.constant(w0), tf.constant(b0), x))
            arr[i] = orig - eps
            lo = float(inner(tf.constant(w0), tf.constant(b0), x))
            arr[i] = orig
            num[i] = (hi - lo) / (2 * eps)
        np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- max pooling, tiled windows
def _general_fwd(x, ksize, strides, pads):
    xp = C._pad_input(x, pads, -np.inf)
    out_sp = C._pool_out_sp(x.shape, ksize, strides, pads)
    y = None
    for sl in C._offset_slices(ksize, strides, out_sp):
        y = xp[sl].copy() if y is None else np.maximum(y, xp[sl])
    return y


def _pool_inputs(shape, dtype):
    yield rng.standard_normal(shape).astype(dtype)
    yield np.maximum(rng.standard_normal(shape), 0).astype(dtype)       # relu output: 0 ties
    yield rng.integers(-2, 2, shape).astype(dtype)                       # many ties
    yield np.zeros(shape, dtype)                                         # every window tied
    a = rng.standard_normal(shape).astype(dtype)
    a.flat[::7] = np.nan
    a.flat[3::11] = -np.inf
    a.flat[5::13] = np.inf
    yield a


POOL_CASES = [
    ((2, 26, 26, 3), (2, 2)),      # W3's first pool
    ((2, 11, 11, 4), (2, 2)),      # W3's second pool: 11 is odd, the last row/col is dropped
    ((3, 13, 7, 2), (2, 2)),
    ((2, 9, 10, 3), (3, 3)),
    ((2, 8, 9, 3), (2, 1)),
    ((2, 7, 5, 1), (1, 1)),
    ((2, 11, 3), (2,)),
    ((2, 7, 3), (3,)),
    ((2, 5, 6, 7, 2), (2, 2, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_tiled_max_pool_matches_general_bit_for_bit(case, dtype):
    shape, ks = POOL_CASES[case]
    pads = ((0, 0),) * len(ks)
    assert C._tiled(ks, ks, pads)
    for x in _pool_inputs(shape, dtype):
        y = C._max_pool_fwd(x, ks, ks, pads)
        ref = _general_fwd(x, ks, ks, pads)
        assert y.dtype == dtype and y.shape == ref.shape
        np.testing.assert_array_equal(y, ref)
        assert not np.shares_memory(y, x)
        dy = rng.standard_normal(y.shape).astype(dtype)
        got = C._max_pool_bp(x, y, dy, ks, ks, pads)
        want = C._max_pool_bp_general(x, y, dy, ks, ks, pads)
        assert got.dtype == dtype and got.shape == x.shape
        np.testing.assert_array_equal(got, want)


def test_tiled_max_pool_gradient_goes_to_the_first_maximum():
    x = np.array([[1, 3, 3, 0], [3, 2, 0, 0], [5, 5, 7, 7], [5, 5, 7, 7]], np.float32)
    x = x.reshape(1, 4, 4, 1)
    y = C._max_pool_fwd(x, (2, 2), (2, 2), ((0, 0), (0, 0)))
    dx = C._max_pool_bp(x, y, np.ones_like(y), (2, 2), (2, 2), ((0, 0), (0, 0)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 1, 1, 0], [0, 0, 0, 0],
                                                   [1, 0, 1, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_max_pool_gradient_raw_and_composite_paths_agree(fmt):
    x = tf.constant(rng.integers(-3, 3, (2, 3, 7, 9)).astype(np.float32))
    y_shape = tf.nn.max_pool2d(x, 2, 2, "VALID", data_format=fmt).shape
    wgt = tf.constant(rng.standard_normal(y_shape).astype(np.float32))

    def run():
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.reduce_sum(tf.nn.max_pool2d(x, 2, 2, "VALID", data_format=fmt) * wgt)
        return tape.gradient(s, x).numpy()

    raw = run()
    with tf.GradientTape() as outer:   # records the backward pass: the composite gradient
        outer.watch(x)
        composite = run()
    np.testing.assert_array_equal(raw, composite)
    assert np.count_nonzero(raw) == int(np.prod(y_shape))   # one slot per window


@pytest.mark.parametrize("shape", [(3, 9, 8, 1), (2, 100, 70, 2), (2, 9, 8, 6)])
def test_first_conv_fused_relu_filter_gradient_raw_equals_composite(shape):
    # the input is not watched: the raw gradient fuses the relu backprop into the filter/bias
    # GEMM over chunks (more than one chunk for the 100x70 case); the composite path (an outer
    # tape recording the backward pass) must give the same bits
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    w = tf.Variable(rng.standard_normal((3, 3, shape[-1], 5)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(5).astype(np.float32))
    wgt = None

    def run():
        nonlocal wgt
        with tf.GradientTape() as tape:
            y = C._conv_nd(x, w, 2, 1, "VALID", None, None, "c", bias=b, relu=True)
            if wgt is None:
                wgt = tf.constant(rng.standard_normal(y.shape).astype(np.float32))
            s = tf.reduce_sum(y * wgt)
        return [g.numpy() for g in tape.gradient(s, [w, b])]

    raw = run()
    with tf.GradientTape() as outer:
        outer.watch([w, b])
        composite = run()
    for r, c in zip(raw, composite, strict=True):
        np.testing.assert_array_equal(r, c)
    # and both match float64
    y64 = _direct_conv(x.numpy(), w.numpy(), (1, 1), (1, 1), ((0, 0), (0, 0))) + b.numpy()
    dz = wgt.numpy().astype(np.float64) * (y64 > 0)
    np.testing.assert_allclose(raw[1], dz.reshape(-1, 5).sum(0), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("case", [0, 1, 2, 6, 8])
def test_max_pool_masks_from_the_forward_give_the_general_gradient(case):
    # a recording tape: the forward keeps the first-maximum masks and the raw gradient uses them
    shape, ks = POOL_CASES[case]
    pads = ((0, 0),) * len(ks)
    for xa in _pool_inputs(shape, np.float32):
        x = tf.constant(xa)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.max_pool(x, list(ks), list(ks), "VALID")
        dy = rng.standard_normal(y.shape).astype(np.float32)
        got = tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()
        want = C._max_pool_bp_general(xa, y.numpy(), dy, ks, ks, pads)
        np.testing.assert_array_equal(got, want)


def test_max_pool_keeps_no_masks_when_nothing_is_watched():
    x = tf.constant(rng.standard_normal((2, 4, 4, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    assert not tape._records     # nothing recorded, so no masks were built either
    assert y.shape == (2, 2, 2, 3)
