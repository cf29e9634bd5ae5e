"""The compiled 2-D convolution and tiled max pooling (tapeflow[jit], tapeflow/ops/conv_ops.py
``_conv_fwd_jit`` / ``_conv_bp_jit``, jit_kernels ``conv_*`` and ``pool_*``) against the NumPy
kernels, float64 finite differences through them, and the cases that must keep NumPy."""

import contextlib

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import jit
from tapeflow.ops import conv_ops

rng = np.random.default_rng(5)


@pytest.fixture
def kern():
    old = jit.enabled
    jit.enabled = True
    try:
        k = jit.kernels()
        assert k is not None, jit.why_not()
        yield k
    finally:
        jit.enabled = old


@contextlib.contextmanager
def paths(compiled, pool=True):
    old = jit.enabled, jit._parallel[0], jit.SplitChooser.fixed
    jit.enabled = compiled
    if compiled:
        jit._parallel[0] = jit.SplitChooser.fixed = pool
    try:
        yield
    finally:
        jit.enabled, jit._parallel[0], jit.SplitChooser.fixed = old


@pytest.fixture
def calls(kern, monkeypatch):
    """Counts the compiled kernels' calls by name (through a proxy module)."""
    seen = {}

    class Proxy:
        def __getattr__(self, name):
            real = getattr(kern, name)
            if not callable(real):
                return real

            def counting(*args):
                seen[name] = seen.get(name, 0) + 1
                return real(*args)
            return counting

    proxy = Proxy()
    real_kernels = jit.kernels
    monkeypatch.setattr(jit, "kernels", lambda: proxy if real_kernels() is not None else None)
    return seen


def _close(got, want, tol):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-3)
    assert float(np.abs(got - want).max(initial=0.0)) <= tol * scale


TOL = {np.float32: 3e-6, np.float64: 1e-12}

# (x shape, filters, kernel, strides, padding)
CASES = [
    ((5, 9, 8, 1), 4, (3, 3), (1, 1), "VALID"),
    ((5, 9, 8, 5), 3, (3, 2), (2, 1), "SAME"),
    ((1, 7, 7, 3), 2, (2, 3), (2, 3), "SAME"),      # batch of 1: one thread
    ((4, 8, 9, 8), 6, (3, 3), (1, 1), "VALID"),
    ((3, 6, 6, 2), 2, (1, 1), (1, 1), "VALID"),
]


def _conv_step(x, w, b, strides, padding, relu, nested=False):
    """y and d(loss)/d(x, w, b) of conv + bias (+ relu) + max pool; ``nested``: under an
    outer recording tape (the op-based gradients instead of the raw kernels)."""
    xt, wt, bt = tf.Variable(x), tf.Variable(w), tf.Variable(b)
    weights = np.random.default_rng(9).standard_normal((64,)).astype(x.dtype)
    outer = tf.GradientTape() if nested else contextlib.nullcontext()
    with outer:
        with tf.GradientTape() as tape:
            y = tf.nn.bias_add(tf.nn.conv2d(xt, wt, strides, padding), bt)
            if relu:
                y = tf.nn.relu(y)
            flat = tf.reshape(y, [-1])
            loss = tf.reduce_sum(flat * tf.constant(np.resize(weights, flat.shape[0])))
        grads = tape.gradient(loss, [xt, wt, bt])
    return [y.numpy()] + [g.numpy() for g in grads]


def _layer_step(x, filters, ksize, strides, padding, pool):
    """A Conv2D(relu) [+ MaxPooling2D] layer pair's output and gradients (fused op path)."""
    keras.utils.set_random_seed(3)
    conv = keras.layers.Conv2D(filters, ksize, strides=strides, padding=padding.lower(),
                               activation="relu")
    layers = [conv] + ([keras.layers.MaxPooling2D(2)] if pool else [])
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = xt
        for layer in layers:
            y = layer(y)
        loss = tf.reduce_sum(y * y)
    grads = tape.gradient(loss, [xt, conv.kernel, conv.bias])
    return [y.numpy()] + [g.numpy() for g in grads]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("pool", [True, False], ids=["pool", "one-thread"])
def test_conv_layer_compiled_matches_numpy(kern, calls, case, dtype, pool):
    shape, filters, ks, st, pad = CASES[case]
    x = rng.standard_normal(shape).astype(dtype)
    pooled = all(s >= 2 for s in shape[1:3]) and pad == "VALID" and st == (1, 1)
    with paths(False):
        want = _layer_step(x, filters, ks, st, pad, pooled)
    assert not calls
    with paths(True, pool):
        got = _layer_step(x, filters, ks, st, pad, pooled)
    two = pool and shape[0] >= 2
    assert calls.get("conv_fwd2" if two else "conv_rows") == 1
    assert calls.get("conv_bp2" if two else "conv_bp_rows") == 1
    if pooled:
        assert calls.get("pool_fwd2" if two else "pool_rows") == 1
    for g, w in zip(got, want):
        _close(g, w, TOL[np.float32])       # the layer computes in float32 (floatx)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("case", [0, 1, 3])
def test_conv_op_raw_and_nested_gradients_match_numpy(kern, case, relu):
    shape, filters, ks, st, pad = CASES[case]
    x = rng.standard_normal(shape)
    w = rng.standard_normal(ks + (shape[-1], filters))
    b = rng.standard_normal(filters)
    with paths(False):
        want = _conv_step(x, w, b, st, pad, relu)
    for nested in (False, True):
        with paths(True):
            got = _conv_step(x, w, b, st, pad, relu, nested=nested)
        for g, v in zip(got, want):
            _close(g, v, 1e-12)


def test_conv_compiled_finite_differences(kern, calls):
    # float64 central differences through the compiled conv + bias + relu (raw gradient path)
    x = rng.standard_normal((3, 6, 5, 2))
    w = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3) * 0.1
    weights = rng.standard_normal(200)

    def loss(xv, wv, bv):
        y = conv_ops._conv_fwd(xv, wv, (2, 1), (1, 1), ((1, 1), (0, 1)), 1, None, bias=bv,
                               relu=True)
        return float(np.sum(y.reshape(-1) * weights[:y.size]))

    with paths(True):
        y = conv_ops._conv_fwd(x, w, (2, 1), (1, 1), ((1, 1), (0, 1)), 1, cache := {},
                               bias=b, relu=True)
        dy = weights[:y.size].reshape(y.shape)
        dx, dw, db = conv_ops._conv_bp_jit(jit.kernels(), w, dy, y, (2, 1), ((1, 1), (0, 1)),
                                           True, cache["jit"], cache["cols"][1])
        assert calls.get("conv_fwd2") and calls.get("conv_bp2")
        for arr, grad, i in ((x, dx, 0), (w, dw, 1), (b, db, 2)):
            num = np.empty_like(arr)
            for idx in np.ndindex(arr.shape):
                args = [x.copy(), w.copy(), b.copy()]
                args[i][idx] += 1e-6
                up = loss(*args)
                args[i][idx] -= 2e-6
                num[idx] = (up - loss(*args)) / 2e-6
            np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


def test_pool_compiled_semantics(kern, calls):
    # first maximum on ties; a NaN window passes NaN forward and no gradient; an infinite dy
    # gives NaN at the other positions (dy * 0), as the NumPy kernel; an untiled tail gets 0
    x = np.zeros((2, 5, 4, 2))
    x[0, 0, 0, 0] = x[0, 0, 1, 0] = 3.0             # a tie: the first one gets the gradient
    x[0, 2, 2, 1] = np.nan
    x[1, 1, 1, 0] = 7.0
    dy = np.ones((2, 2, 2, 2))
    dy[1, 0, 0, 0] = np.inf
    out = []
    for compiled in (False, True):
        with paths(compiled), np.errstate(invalid="ignore"):     # inf * 0 on purpose
            xt = tf.Variable(x)
            with tf.GradientTape() as tape:
                y = tf.nn.max_pool2d(xt, 2, 2, "VALID")
                loss = tf.reduce_sum(y * tf.constant(dy))
            out.append((y.numpy(), tape.gradient(loss, xt).numpy()))
    assert calls.get("pool_fwd2") == 1 and calls.get("pool_bp2") == 1
    (y0, g0), (y1, g1) = out
    np.testing.assert_array_equal(y1, y0)
    np.testing.assert_array_equal(g1, g0)
    assert g1[0, 0, 0, 0] == 1 and g1[0, 0, 1, 0] == 0
    assert np.isnan(y1[0, 1, 1, 1]) and g1[0, 2, 2, 1] == 0
    assert np.isinf(g1[1, 1, 1, 0]) and np.isnan(g1[1, 0, 0, 0])
    assert not g1[:, 4].any()


def test_unsupported_convolutions_keep_numpy(kern, calls):
    x = rng.standard_normal((2, 9, 9, 4)).astype(np.float32)
    with paths(True):
        tf.nn.conv2d(x, rng.standard_normal((3, 3, 4, 2)).astype(np.float32), 1, "VALID",
                     dilations=2)                                       # dilated
        tf.nn.conv1d(x[:, 0], rng.standard_normal((3, 4, 2)).astype(np.float32), 1, "VALID")
        tf.nn.depthwise_conv2d(x, rng.standard_normal((3, 3, 4, 1)).astype(np.float32),
                               [1, 1, 1, 1], "VALID")
        tf.nn.max_pool2d(x, 3, 2, "SAME")                               # overlapping windows
    assert not calls


def test_cnn_fit_compiled_matches_numpy(kern):
    x = rng.standard_normal((40, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    hist = []
    for compiled in (False, True):
        with paths(compiled):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([
                keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.MaxPooling2D(2), keras.layers.Conv2D(6, 3, activation="relu"),
                keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                keras.layers.Dense(3, activation="softmax")])
            model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            h = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
            hist.append((h, model.get_weights()))
    (h0, w0), (h1, w1) = hist
    np.testing.assert_allclose(h1["loss"], h0["loss"], rtol=1e-4)
    assert h1["accuracy"] == h0["accuracy"]
    for a, b in zip(w1, w0):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_split_and_one_thread_halves_are_bit_identical(kern, calls):
    # the chooser may run the halves on two threads or one after the other: the same numbers
    x = rng.standard_normal((6, 10, 9, 3)).astype(np.float32)
    out = []
    for fixed in (True, False):
        with paths(True):
            jit.SplitChooser.fixed = fixed          # (paths restores it)
            out.append(_layer_step(x, 5, (3, 3), (1, 1), "VALID", True))
    assert calls.get("conv_fwd2") == 1 and calls.get("conv_rows") == 2
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
