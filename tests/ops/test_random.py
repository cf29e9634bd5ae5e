"""tf.random: distributions, dtypes, and TensorFlow's reproducibility promises."""

import numpy as np
import pytest

import tapeflow as tf


def test_same_global_seed_same_sequence():
    tf.random.set_seed(42)
    a1, a2 = tf.random.uniform([3]), tf.random.normal([3])
    tf.random.set_seed(42)
    b1, b2 = tf.random.uniform([3]), tf.random.normal([3])
    np.testing.assert_array_equal(a1.numpy(), b1.numpy())
    np.testing.assert_array_equal(a2.numpy(), b2.numpy())
    assert not np.array_equal(tf.random.uniform([3]).numpy(), a1.numpy())  # successive draws
    tf.random.set_seed(7)
    assert not np.array_equal(tf.random.uniform([3]).numpy(), a1.numpy())


def test_op_seed_fixes_the_stream():
    tf.random.set_seed(1)
    x1, x2 = tf.random.uniform([2], seed=5), tf.random.uniform([2], seed=5)
    assert not np.array_equal(x1.numpy(), x2.numpy())  # the stream continues
    tf.random.set_seed(1)
    tf.random.normal([10])  # another op in between does not change the seeded op's stream
    np.testing.assert_array_equal(tf.random.uniform([2], seed=5).numpy(), x1.numpy())


def test_distributions():
    tf.random.set_seed(0)
    n = tf.random.normal([20000], mean=2.0, stddev=3.0)
    assert n.dtype == tf.float32 and abs(float(tf.reduce_mean(n)) - 2.0) < 0.1
    assert abs(float(tf.math.reduce_std(n)) - 3.0) < 0.1
    u = tf.random.uniform([20000], minval=-1.0, maxval=3.0, dtype=tf.float64)
    assert u.dtype == tf.float64 and -1.0 <= float(tf.reduce_min(u)) and \
        float(tf.reduce_max(u)) < 3.0
    i = tf.random.uniform([1000], minval=2, maxval=5, dtype=tf.int64)
    assert i.dtype == tf.int64 and set(np.unique(i.numpy()).tolist()) == {2, 3, 4}
    t = tf.random.truncated_normal([20000], stddev=0.5)
    assert float(tf.reduce_max(tf.abs(t))) <= 1.0
    assert abs(float(tf.math.reduce_std(t)) - 0.5 * 0.8796) < 0.02


def test_shuffle_and_categorical():
    tf.random.set_seed(0)
    x = tf.reshape(tf.range(10), [5, 2])
    s = tf.random.shuffle(x)
    assert sorted(s.numpy()[:, 0].tolist()) == [0, 2, 4, 6, 8]
    np.testing.assert_array_equal(s.numpy()[:, 1] - s.numpy()[:, 0], 1)  # rows move whole
    c = tf.random.categorical(tf.math.log([[0.1, 0.9], [1.0, 0.0]]), 2000)
    assert c.shape == (2, 2000) and c.dtype == tf.int64
    assert 0.85 < float(tf.reduce_mean(tf.cast(c[0], tf.float32))) < 0.95
    assert int(tf.reduce_max(c[1])) == 0


def test_stateless_and_generator():
    a = tf.random.stateless_uniform([4], seed=[1, 2])
    np.testing.assert_array_equal(a.numpy(), tf.random.stateless_uniform([4], seed=[1, 2]).numpy())
    assert not np.array_equal(a.numpy(), tf.random.stateless_uniform([4], seed=[1, 3]).numpy())
    g = tf.random.Generator.from_seed(3)
    first = g.normal([3])
    assert not np.array_equal(first.numpy(), g.normal([3]).numpy())
    g.reset_from_seed(3)
    np.testing.assert_array_equal(first.numpy(), g.normal([3]).numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="seed must be a shape"):
        tf.random.stateless_normal([2], seed=[1, 2, 3])


def test_random_mean_stddev_tensors_are_differentiable():
    mu = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.random.normal([5], mean=mu, seed=1))
    assert float(tape.gradient(y, mu)) == 5.0
