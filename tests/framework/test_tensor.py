"""Tensor and Variable: operators, indexing, conversions, reprs, dtype rules."""

import numpy as np
import pytest

import tapeflow as tf


def test_python_operators_match_numpy():
    a = np.array([[1.5, -2.0], [3.0, 4.0]], dtype=np.float32)
    b = np.array([[0.5, 2.0], [-1.0, 3.0]], dtype=np.float32)
    x, y = tf.constant(a), tf.constant(b)
    for got, want in [(x + y, a + b), (x - y, a - b), (x * y, a * b), (x / y, a / b),
                      (x // y, a // b), (x % y, np.mod(a, b)), (abs(x) ** y, np.abs(a) ** b),
                      (x @ y, a @ b), (-x, -a), (+x, a), (abs(x), np.abs(a)), (2.0 - x, 2 - a),
                      (1.0 / x, 1 / a), (a + y, a + b)]:
        assert isinstance(got, tf.Tensor)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    for got, want in [(x < y, a < b), (x <= y, a <= b), (x > y, a > b), (x >= y, a >= b),
                      (x == y, a == b), (x != y, a != b)]:
        np.testing.assert_array_equal(got.numpy(), want)
    p, q = tf.constant([True, False]), tf.constant([True, True])
    np.testing.assert_array_equal((p & q).numpy(), [True, False])
    np.testing.assert_array_equal((p | q).numpy(), [True, True])
    np.testing.assert_array_equal((p ^ q).numpy(), [False, True])
    np.testing.assert_array_equal((~p).numpy(), [False, True])


def test_getitem():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = tf.constant(a)
    for key in [0, -1, (1, 2), slice(None, None, 2), (Ellipsis, 1), (None, 0), (0, None, 1),
                (slice(None), slice(None, None, -1)), (1, slice(0, 3, 2), Ellipsis),
                (Ellipsis, None)]:
        np.testing.assert_array_equal(x[key].numpy(), a[key], err_msg=str(key))
    np.testing.assert_array_equal(x[:, tf.newaxis].numpy(), a[:, None])
    np.testing.assert_array_equal(x[tf.constant(1)].numpy(), a[1])
    mask = a[:, :, 0] > 5
    np.testing.assert_array_equal(x[tf.constant(mask)].numpy(), a[mask])
    np.testing.assert_array_equal(x[tf.constant([1, 0, 1])].numpy(), a[[1, 0, 1]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of bounds"):
        x[5]


def test_len_iter_and_scalar_conversions():
    x = tf.constant([[1, 2], [3, 4], [5, 6]])
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and rows[1].numpy().tolist() == [3, 4]
    s = tf.constant(2.5)
    assert float(s) == 2.5 and int(tf.constant(7)) == 7 and bool(tf.constant(True))
    with pytest.raises(TypeError):
        len(s)
    with pytest.raises(TypeError):
        iter(s)
    assert [1, 2, 3][tf.constant(1)] == 2


def test_repr_and_str_match_tensorflow():
    assert repr(tf.constant([1.0, 2.0])) == \
        "<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert repr(tf.constant(1.5)) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.5>"
    assert repr(tf.constant(3)) == "<tf.Tensor: shape=(), dtype=int32, numpy=3>"
    assert repr(tf.constant(True)) == "<tf.Tensor: shape=(), dtype=bool, numpy=True>"
    assert repr(tf.constant([[1, 2], [3, 4]])) == (
        "<tf.Tensor: shape=(2, 2), dtype=int32, numpy=\narray([[1, 2],\n       [3, 4]], "
        "dtype=int32)>")
    assert str(tf.constant([1, 2])) == "tf.Tensor([1 2], shape=(2,), dtype=int32)"
    assert str(tf.constant(2.0)) == "tf.Tensor(2.0, shape=(), dtype=float32)"
    assert repr(tf.Variable([1.0, 2.0], name="w")) == (
        "<tf.Variable 'w:0' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>")
    assert repr(tf.Variable(1.0)) == "<tf.Variable 'Variable:0' shape=() dtype=float32, numpy=1.0>"


def test_default_dtypes_and_mixing_rules():
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.constant(1).dtype == tf.int32
    assert tf.constant(np.float64(1.0)).dtype == tf.float64
    assert (tf.constant([1, 2], dtype=tf.int64) + 1).dtype == tf.int64
    assert (tf.constant(1.0, dtype=tf.float16) * 2.0).dtype == tf.float16
    with pytest.raises(tf.errors.InvalidArgumentError, match="int32.*float32|float32.*int32"):
        tf.constant(1) + tf.constant(1.0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant(1.0, dtype=tf.float64) * tf.constant(2.0)


def test_variable_assign_and_use_as_tensor():
    v = tf.Variable([1.0, 2.0], name="v")
    assert v.name == "v:0" and v.trainable
    v.assign([3.0, 4.0])
    v.assign_add([1.0, 1.0])
    v.assign_sub([0.5, 0.5])
    np.testing.assert_allclose(v.numpy(), [3.5, 4.5])
    np.testing.assert_allclose((v * 2).numpy(), [7.0, 9.0])
    np.testing.assert_allclose(tf.reduce_sum(v).numpy(), 8.0)
    r = v.read_value()
    v.assign([0.0, 0.0])
    np.testing.assert_allclose(r.numpy(), [3.5, 4.5])  # a read is a snapshot
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    assert not tf.Variable(1.0, trainable=False).trainable


def test_tensor_shape():
    t = tf.zeros([2, 3])
    assert t.shape == (2, 3) and t.shape.as_list() == [2, 3] and t.shape.rank == 2
    assert t.ndim == 2 and t.dtype == tf.float32
    assert np.asarray(t).shape == (2, 3)


def test_creation_functions():
    np.testing.assert_array_equal(tf.zeros_like(tf.constant([1, 2])).numpy(), [0, 0])
    np.testing.assert_array_equal(tf.ones_like(tf.constant([1.0])).numpy(), [1.0])
    np.testing.assert_array_equal(tf.fill([2], 3.0).numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(tf.eye(2, 3).numpy(), np.eye(2, 3))
    np.testing.assert_allclose(tf.linspace(0.0, 1.0, 5).numpy(), np.linspace(0, 1, 5))
    assert tf.range(1, 10, 3).numpy().tolist() == [1, 4, 7]
    assert tf.identity(tf.constant([1, 2])).numpy().tolist() == [1, 2]
