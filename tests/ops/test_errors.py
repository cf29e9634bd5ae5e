"""Misuse raises TensorFlow's error types with messages that name the op, the rule and what was
received."""

import pytest

import tapeflow as tf


def test_matmul_inner_dimensions():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"matmul: inner dimensions must match.*\(2, 3\).*\(4, 5\)"):
        tf.matmul(tf.ones([2, 3]), tf.ones([4, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank >= 2"):
        tf.matmul(tf.ones([3]), tf.ones([3, 2]))


def test_gather_out_of_range():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"gather: indices contains 5, which is not in \[0, 3\)"):
        tf.gather(tf.constant([1, 2, 3]), [0, 5])


def test_reshape_sizes():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"reshape: cannot reshape a tensor with 6 elements .* \[4, 2\]"):
        tf.reshape(tf.zeros([2, 3]), [4, 2])


def test_dtype_mismatch():
    with pytest.raises(tf.errors.InvalidArgumentError, match="AddV2.*float32.*int32"):
        tf.add(tf.constant(1.0), tf.constant(1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="einsum: input #1 has dtype"):
        tf.einsum("i,i->", tf.ones([2]), tf.ones([2], dtype=tf.float64))


def test_incompatible_broadcast_and_axes():
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
        tf.add(tf.ones([2, 3]), tf.ones([4]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="axis 3 is out of range"):
        tf.reduce_sum(tf.ones([2, 3]), axis=3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot contract"):
        tf.tensordot(tf.ones([2, 3]), tf.ones([4, 2]), axes=1)


def test_non_persistent_tape_reuse():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.jacobian(y, x)


def test_random_uniform_int_needs_maxval():
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype int32"):
        tf.random.uniform([2], dtype=tf.int32)
    with pytest.raises(ValueError, match="floating point"):
        tf.random.normal([2], dtype=tf.int32)


def test_error_hierarchy():
    assert issubclass(tf.errors.InvalidArgumentError, tf.errors.OpError)
    for name in ["NotFoundError", "OutOfRangeError", "UnimplementedError", "InternalError",
                 "FailedPreconditionError", "ResourceExhaustedError", "AlreadyExistsError"]:
        assert issubclass(getattr(tf.errors, name), tf.errors.OpError)
