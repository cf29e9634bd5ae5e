"""tf.nn convolution and pooling ops: golden TF values, float64 finite differences, errors."""

import numpy as np
import pytest
from golden_utils import array, assert_close, cases, lookup, resolve_watched

import tapeflow as tf

GOLDEN = [c for c in cases("ops") if any(k in c["api"] for k in ("conv", "pool"))]


@pytest.mark.parametrize("case", GOLDEN, ids=[c["id"] for c in GOLDEN])
def test_golden(case):
    wrt = case.get("grads", {}).get("wrt", {})
    xs = {n: tf.constant(array(case, n)) for n in wrt}
    with tf.GradientTape() as tape:
        for t in xs.values():
            tape.watch(t)
        args = [resolve_watched(a, case, xs) for a in case["args"]]
        kwargs = {k: resolve_watched(v, case, xs) for k, v in case["kwargs"].items()}
        out = lookup(case["api"])(*args, **kwargs)
        assert_close(out, case, case["outputs"][0])
        if wrt:
            cot = array(case, case["grads"]["cotangents"][0])
            target = tf.reduce_sum(out * cot)
    if wrt:
        got = tape.gradient(target, list(xs.values()))
        for (_n, gname), g in zip(wrt.items(), got, strict=False):
            assert_close(g, case, gname)


def _fd_check(f, arrays, eps=1e-6, tol=1e-6, seed=0):
    """Compares tape gradients of sum(f(*xs) * cot) with central differences (float64)."""
    rng = np.random.default_rng(seed)
    xs = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for t in xs:
            tape.watch(t)
        y = f(*xs)
        cot = rng.standard_normal(y.shape)
        target = tf.reduce_sum(y * cot)
    grads = tape.gradient(target, xs)
    for i, a in enumerate(arrays):
        num = np.zeros_like(a)
        flat = a.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            up = np.sum(f(*[tf.constant(b) for b in arrays]).numpy() * cot)
            flat[j] = old - eps
            dn = np.sum(f(*[tf.constant(b) for b in arrays]).numpy() * cot)
            flat[j] = old
            num.reshape(-1)[j] = (up - dn) / (2 * eps)
        np.testing.assert_allclose(grads[i].numpy(), num, rtol=tol, atol=tol,
                                   err_msg=f"input {i}")


R = np.random.default_rng(42)


def _r(*shape):
    return R.standard_normal(shape)


@pytest.mark.parametrize("kw", [
    dict(strides=1, padding="SAME"), dict(strides=2, padding="SAME"),
    dict(strides=[1, 2], padding="VALID"), dict(strides=1, padding="SAME", dilations=2),
    dict(strides=1, padding=[[0, 0], [1, 0], [0, 2], [0, 0]]),
])
def test_conv2d_fd(kw):
    _fd_check(lambda x, w: tf.nn.conv2d(x, w, **kw), [_r(2, 5, 4, 2), _r(3, 2, 2, 3)])


def test_conv2d_nchw_matches_nhwc():
    x, w = _r(2, 5, 5, 3), _r(3, 3, 3, 4)
    a = tf.nn.conv2d(x, w, 2, "SAME").numpy()
    b = tf.nn.conv2d(np.transpose(x, (0, 3, 1, 2)), w, 2, "SAME", data_format="NCHW").numpy()
    np.testing.assert_allclose(a, np.transpose(b, (0, 2, 3, 1)), rtol=1e-10)


def test_grouped_conv_fd_and_reference():
    x, w = _r(1, 4, 4, 4), _r(2, 2, 2, 6)
    y = tf.nn.conv2d(x, w, 1, "VALID").numpy()
    ref = np.concatenate([tf.nn.conv2d(x[..., 2 * g:2 * g + 2], w[..., 3 * g:3 * g + 3], 1,
                                       "VALID").numpy() for g in range(2)], axis=-1)
    np.testing.assert_allclose(y, ref, rtol=1e-10)
    _fd_check(lambda x, w: tf.nn.conv2d(x, w, 1, "VALID"), [x, w])


def test_conv1d_conv3d_fd():
    _fd_check(lambda x, w: tf.nn.conv1d(x, w, 2, "SAME"), [_r(2, 7, 2), _r(3, 2, 2)])
    _fd_check(lambda x, w: tf.nn.conv3d(x, w, 1, "VALID"), [_r(1, 3, 3, 3, 1), _r(2, 2, 2, 1, 2)])


def test_conv_reference_loop():
    x, w = _r(2, 6, 5, 3), _r(3, 2, 3, 4)
    y = tf.nn.conv2d(x, w, [2, 1], "VALID").numpy()
    ref = np.zeros_like(y)
    for i in range(y.shape[1]):
        for j in range(y.shape[2]):
            patch = x[:, 2 * i:2 * i + 3, j:j + 2, :]
            ref[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    np.testing.assert_allclose(y, ref, rtol=1e-10)


@pytest.mark.parametrize("padding,strides", [("SAME", 2), ("VALID", 2), ("VALID", 1)])
def test_conv2d_transpose_fd(padding, strides):
    x, w = _r(2, 3, 3, 2), _r(3, 3, 4, 2)
    out = {("SAME", 2): 6, ("VALID", 2): 7, ("VALID", 1): 5}[(padding, strides)]
    f = lambda x, w: tf.nn.conv2d_transpose(x, w, [2, out, out, 4], strides, padding)  # noqa
    _fd_check(f, [x, w])
    # conv2d_transpose is the adjoint of conv2d: <conv(a, w), b> == <a, convT(b, w)>
    a = _r(2, out, out, 4)
    lhs = np.sum(tf.nn.conv2d(a, w, strides, padding).numpy() * x)
    rhs = np.sum(a * f(x, w).numpy())
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_depthwise_separable_fd():
    _fd_check(lambda x, w: tf.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME"),
              [_r(1, 5, 5, 2), _r(3, 3, 2, 2)])
    _fd_check(lambda x, d, p: tf.nn.separable_conv2d(x, d, p, [1, 1, 1, 1], "VALID"),
              [_r(1, 4, 4, 2), _r(2, 2, 2, 2), _r(1, 1, 4, 3)])


@pytest.mark.parametrize("fn", [tf.nn.max_pool2d, tf.nn.avg_pool2d])
@pytest.mark.parametrize("k,s,p", [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "SAME"),
                                   (2, 2, "SAME"), (2, 1, "VALID")])
def test_pool2d_fd(fn, k, s, p):
    _fd_check(lambda x: fn(x, k, s, p), [_r(2, 5, 5, 2)])


def test_pool1d_3d_fd():
    _fd_check(lambda x: tf.nn.max_pool1d(x, 3, 2, "SAME"), [_r(2, 7, 2)])
    _fd_check(lambda x: tf.nn.avg_pool3d(x, 2, 2, "VALID"), [_r(1, 4, 5, 4, 1)])


def test_max_pool_tie_goes_to_first():
    x = tf.zeros([1, 2, 2, 1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    g = tape.gradient(y, x).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(g, [[1.0, 0.0], [0.0, 0.0]])


def test_second_order_conv():
    x = tf.constant(_r(1, 4, 4, 1))
    w = tf.constant(_r(2, 2, 1, 2))
    with tf.GradientTape() as outer:
        outer.watch(w)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "VALID") ** 2)
        gx = inner.gradient(y, x)
        s = tf.reduce_sum(gx)
    gw = outer.gradient(s, w)
    # numerical derivative of sum(d y / d x) w.r.t. w
    def h(wv):
        xt = tf.constant(x.numpy())
        with tf.GradientTape() as t:
            t.watch(xt)
            yy = tf.reduce_sum(tf.nn.conv2d(xt, tf.constant(wv), 1, "VALID") ** 2)
        return float(tf.reduce_sum(t.gradient(yy, xt)))
    wv = w.numpy().copy()
    num = np.zeros_like(wv)
    for j in range(wv.size):
        e = np.zeros_like(wv)
        e.reshape(-1)[j] = 1e-6
        num.reshape(-1)[j] = (h(wv + e) - h(wv - e)) / 2e-6
    np.testing.assert_allclose(gw.numpy(), num, rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="input depth 3 must be a multiple"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 3]), tf.ones([3, 3, 2, 4]), 1, "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="padding must be"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 4]), 1, "FULL")
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be rank 4"):
        tf.nn.conv2d(tf.ones([4, 4, 1]), tf.ones([3, 3, 1, 4]), 1, "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="data_format"):
        tf.nn.max_pool2d(tf.ones([1, 4, 4, 1]), 2, 2, "VALID", data_format="NHCW")
    with pytest.raises(tf.errors.InvalidArgumentError, match="same dtype"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 4], dtype=tf.float64), 1, "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="output_shape"):
        tf.nn.conv2d_transpose(tf.ones([1, 2, 2, 1]), tf.ones([3, 3, 1, 1]), [1, 9, 9, 1], 2)


@pytest.mark.parametrize("fn", [tf.nn.max_pool2d, tf.nn.avg_pool2d])
def test_second_order_pool(fn):
    xv = _r(1, 5, 5, 2)
    cot = _r(1, 5, 5, 2)

    def inner_grad(x):
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.reduce_sum(fn(x, 3, 2, "SAME") ** 2)
        return t.gradient(y, x)

    x = tf.constant(xv)
    with tf.GradientTape() as outer:
        outer.watch(x)
        s = tf.reduce_sum(inner_grad(x) * cot)
    got = outer.gradient(s, x).numpy()
    num = np.zeros_like(xv)
    for j in range(xv.size):
        e = np.zeros_like(xv)
        e.reshape(-1)[j] = 1e-6
        up = np.sum(inner_grad(tf.constant(xv + e)).numpy() * cot)
        dn = np.sum(inner_grad(tf.constant(xv - e)).numpy() * cot)
        num.reshape(-1)[j] = (up - dn) / 2e-6
    np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(strides=1, padding="SAME"), dict(strides=2, padding="SAME"),
                                dict(strides=1, padding="VALID", dilations=2)])
def test_conv2d_many_channels_input_grad(kw):
    # C >= 8 takes the per-offset GEMM path of the input gradient
    x, w = _r(1, 5, 5, 8), _r(3, 3, 8, 2)
    _fd_check(lambda x: tf.nn.conv2d(x, tf.constant(w), **kw), [x])


@pytest.mark.parametrize("relu", [True, False])
def test_fused_conv_bias_act_fd(relu):
    from tapeflow.ops import conv_ops

    def f(x, w, b):
        return conv_ops._conv_nd(x, w, 2, 2, "SAME", "NHWC", None, "conv2d", bias=b, relu=relu)

    _fd_check(f, [_r(2, 5, 4, 2), _r(3, 3, 2, 3), _r(3)])
    x, w, b = _r(2, 5, 4, 2), _r(3, 3, 2, 3), _r(3)
    want = tf.nn.conv2d(x, w, 2, "SAME").numpy() + b
    np.testing.assert_allclose(f(x, w, b).numpy(), np.maximum(want, 0) if relu else want,
                               rtol=1e-12)
