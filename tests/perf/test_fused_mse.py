"""Keras's mean squared error over a batch as one recorded op (``fused_ops.mse_mean``, used by
``keras.losses.Loss.__call__`` for MSE with no weights, no mask and ``sum_over_batch_size``): the
same numbers as the three separate ops, bit for bit, forward, gradient (raw-array and op-based
backward walks), second order through nested tapes, and a whole ``fit``."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import jit
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.keras.losses import mean_squared_error, reduce_weighted_values
from tapeflow.ops.fused_ops import mse_mean

rng = np.random.default_rng(5)


def _composite(y_true, y_pred):
    return reduce_weighted_values(mean_squared_error(y_true, y_pred))


@pytest.mark.parametrize("shape", [(6, 1), (5, 3), (2, 4, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_and_gradient_match_the_separate_ops_bit_for_bit(shape, dtype):
    yt = tf.constant(rng.standard_normal(shape).astype(dtype))
    yp = tf.Variable(rng.standard_normal(shape).astype(dtype))
    loss = keras.losses.MeanSquaredError()
    with tf.GradientTape(persistent=True) as tape:
        l1 = loss(yt, yp)
        l2 = _composite(yt, yp)
    assert l1.dtype == l2.dtype and l1.shape == l2.shape == []
    np.testing.assert_array_equal(l1.numpy(), l2.numpy())
    assert "_MeanSquaredErrorMean" in [r.opdef.name for r in tape._records]
    np.testing.assert_array_equal(tape.gradient(l1, yp).numpy(), tape.gradient(l2, yp).numpy())


def test_op_based_backward_and_second_order_match():
    yt = tf.constant(rng.standard_normal((4, 3)).astype(np.float64))
    yp = tf.Variable(rng.standard_normal((4, 3)).astype(np.float64))
    results = []
    for fn in (keras.losses.MeanSquaredError(), _composite):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = fn(yt, yp)
            g = inner.gradient(loss, yp)   # recorded by `outer`: the op-based gradients
            s = tf.reduce_sum(g * g)
        results.append((g.numpy(), outer.gradient(s, yp).numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    # d/dyp sum((2 (yp - yt) / n)^2) = 8 (yp - yt) / n^2
    np.testing.assert_allclose(results[0][1], 8 * (yp.numpy() - yt.numpy()) / 144, rtol=1e-12)


def test_fit_is_unchanged_by_the_fused_loss(monkeypatch):
    # the loss op's two paths, so not the compiled Dense step (tapeflow/keras/_fused_mlp.py)
    monkeypatch.setattr(jit, "enabled", False)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)

    def run(loss):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss)
        hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        return hist.history["loss"], [w.copy() for w in model.get_weights()]

    # A Loss subclass with its own `call` takes the three-op path.
    class Composite(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return mean_squared_error(y_true, y_pred)

    fused, composite = run("mse"), run(Composite())
    assert fused[0] == composite[0]
    for a, b in zip(fused[1], composite[1]):
        np.testing.assert_array_equal(a, b)


def test_other_cases_keep_the_separate_ops():
    # rank-1 targets, sample weights: the Keras reduction path, same values as before
    mse = keras.losses.MeanSquaredError()
    assert float(mse([1.0, 2.0], [2.0, 2.0])) == 0.5
    assert float(mse([[1.0], [2.0]], [[2.0], [4.0]], sample_weight=[1.0, 0.0])) == 0.5


def test_mse_mean_rejects_what_it_does_not_compute():
    with pytest.raises(InvalidArgumentError, match=r"mse_mean: expected .*\(3,\) float32"):
        mse_mean(tf.constant([1.0, 2.0, 3.0]), tf.constant([1.0, 2.0, 3.0]))
