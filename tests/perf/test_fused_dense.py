"""The fused Dense op (``tapeflow/ops/fused_ops.py``) behind ``keras.layers.Dense``: same numbers as
the separate ops, float64 finite-difference gradients, second order through nested tapes, and
TensorFlow's rule that an unwatched input gets no gradient."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.ops.fused_ops import fused_dense

rng = np.random.default_rng(3)


def _composite(x, k, b, act):
    z = tf.matmul(x, k) if len(x.shape) == 2 else tf.reshape(
        tf.matmul(tf.reshape(x, (-1, x.shape[-1])), k), list(x.shape[:-1]) + [k.shape[-1]])
    if b is not None:
        z = z + b
    return {"linear": z, "relu": tf.nn.relu(z), "tanh": tf.tanh(z)}[act]


@pytest.mark.parametrize("act", ["linear", "relu", "tanh"])
@pytest.mark.parametrize("shape", [(6, 3), (2, 5, 3)])
def test_forward_and_gradients_match_the_separate_ops(act, shape):
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    k = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(4).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y1 = fused_dense(x, k, b, act)
        y2 = _composite(x, k, b, act)
        l1, l2 = tf.reduce_sum(y1 * y1), tf.reduce_sum(y2 * y2)
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    for g1, g2 in zip(tape.gradient(l1, [x, k, b]), tape.gradient(l2, [x, k, b])):
        np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("act", ["linear", "relu", "tanh"])
def test_gradient_against_float64_finite_differences(act):
    x0 = rng.standard_normal((4, 3))
    k0 = rng.standard_normal((3, 2))
    b0 = rng.standard_normal(2)

    def loss(x, k, b):
        y = fused_dense(tf.constant(x), tf.constant(k), tf.constant(b), act)
        return float(tf.reduce_sum(y * y))

    x, k, b = tf.constant(x0), tf.constant(k0), tf.constant(b0)
    with tf.GradientTape() as tape:
        tape.watch([x, k, b])
        y = fused_dense(x, k, b, act)
        out = tf.reduce_sum(y * y)
    grads = tape.gradient(out, [x, k, b])
    args = [x0, k0, b0]
    eps = 1e-6
    for i, g in enumerate(grads):
        num = np.zeros_like(args[i])
        for j in np.ndindex(args[i].shape):
            plus = [a.copy() for a in args]
            minus = [a.copy() for a in args]
            plus[i][j] += eps
            minus[i][j] -= eps
            num[j] = (loss(*plus) - loss(*minus)) / (2 * eps)
        np.testing.assert_allclose(g.numpy(), num, rtol=1e-5, atol=1e-6)


def test_second_order_through_nested_tapes():
    x = tf.constant(rng.standard_normal((3, 2)))
    k = tf.Variable(rng.standard_normal((2, 2)))
    b = tf.Variable(rng.standard_normal(2))

    def grad_norm(fn):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = fn(x, k, b)
                loss = tf.reduce_sum(y * y * y)
            gk = inner.gradient(loss, k)
            s = tf.reduce_sum(gk * gk)
        return outer.gradient(s, [k, b])

    got = grad_norm(lambda x, k, b: fused_dense(x, k, b, "tanh"))
    want = grad_norm(lambda x, k, b: _composite(x, k, b, "tanh"))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10)


def test_unwatched_input_gets_no_gradient_and_watched_input_does():
    x = tf.constant(rng.standard_normal((3, 2)).astype(np.float32))
    k = tf.Variable(rng.standard_normal((2, 2)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(fused_dense(x, k, None, "relu"))
    assert tape.gradient(y, x) is None
    assert tape.gradient(y, k).shape == (2, 2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(fused_dense(x, k, None, "relu"))
    assert tape.gradient(y, x).shape == (3, 2)


def test_bad_arguments_raise_tf_errors():
    with pytest.raises(InvalidArgumentError, match=r"x.shape=\(2, 3\) does not fit"):
        fused_dense(tf.ones([2, 3]), tf.ones([4, 2]))
    with pytest.raises(InvalidArgumentError, match="activation must be one of"):
        fused_dense(tf.ones([2, 3]), tf.ones([3, 2]), activation="softmax")
    with pytest.raises(InvalidArgumentError, match="bias must have shape"):
        fused_dense(tf.ones([2, 3]), tf.ones([3, 2]), tf.ones([3]))
    with pytest.raises(InvalidArgumentError, match="dtype"):
        fused_dense(tf.ones([2, 3], dtype=tf.float64), tf.ones([3, 2]))


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "softmax", "sigmoid", "elu"])
def test_keras_dense_uses_the_same_numbers(activation):
    layer = keras.layers.Dense(4, activation=activation)
    x = tf.constant(rng.standard_normal((5, 3)).astype(np.float32))
    y = layer(x)
    z = tf.matmul(x, tf.constant(layer.kernel.numpy())) + tf.constant(layer.bias.numpy())
    want = keras.activations.get(activation)(z)
    np.testing.assert_array_equal(y.numpy(), want.numpy())
    if activation in ("softmax", "sigmoid"):  # the loss finds the logits
        np.testing.assert_array_equal(y._keras_logits.numpy(), z.numpy())


def test_keras_dense_gradients_reach_kernel_and_bias():
    layer = keras.layers.Dense(3, activation="relu")
    x = tf.constant(rng.standard_normal((4, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    gk, gb = tape.gradient(loss, [layer.kernel, layer.bias])
    z = x.numpy() @ layer.kernel.numpy() + layer.bias.numpy()
    np.testing.assert_allclose(gb.numpy(), (z > 0).sum(0), rtol=1e-6)
    np.testing.assert_allclose(gk.numpy(), x.numpy().T @ (z > 0), rtol=1e-5)
