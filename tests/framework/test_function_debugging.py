"""tf.function, tf.print and tf.debugging."""

import io
import sys

import numpy as np
import pytest

import tapeflow as tf


def _f(x, w):
    return tf.reduce_sum(tf.tanh(x @ w))


def test_function_same_values_and_gradients():
    g1 = tf.function(_f)

    @tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
    def g2(x, w):
        return _f(x, w)

    x = tf.constant([[1.0, 2.0]])
    w = tf.Variable([[0.5], [-0.25]])
    for fn in (g1, g2):
        with tf.GradientTape() as tape:
            y = fn(x, w)
        with tf.GradientTape() as ref_tape:
            ref = _f(x, w)
        assert float(y) == float(ref)
        np.testing.assert_array_equal(tape.gradient(y, w).numpy(),
                                      ref_tape.gradient(ref, w).numpy())
    assert g1.python_function is _f


def test_input_signature_and_concrete_function():
    @tf.function(input_signature=[tf.TensorSpec(shape=[None, 2], dtype=tf.float32)])
    def double(x):
        return x * 2.0

    np.testing.assert_array_equal(double(tf.constant([[1.0, 2.0]])).numpy(), [[2.0, 4.0]])
    np.testing.assert_array_equal(double([[1.0, 1.0]]).numpy(), [[2.0, 2.0]])
    with pytest.raises(TypeError):
        double(tf.constant([[1, 2]]))
    with pytest.raises((TypeError, ValueError), match="input_signature"):
        double(tf.constant([1.0, 2.0, 3.0]))
    cf = double.get_concrete_function()
    np.testing.assert_array_equal(cf(tf.constant([[0.5, 0.5]])).numpy(), [[1.0, 1.0]])
    spec = cf.structured_input_signature[0][0]
    assert spec.shape.as_list() == [None, 2]


def test_function_on_methods_and_tracing_count():
    class Model:
        def __init__(self):
            self.w = tf.Variable(3.0)

        @tf.function
        def __call__(self, x):
            return self.w * x

    m = Model()
    assert float(m(tf.constant(2.0))) == 6.0
    f = tf.function(lambda x: x + 1)
    f(tf.constant(1.0))
    f(tf.constant(2.0))
    assert f.experimental_get_tracing_count() == 1
    f(tf.constant([1.0, 2.0]))
    assert f.experimental_get_tracing_count() == 2


def test_print_formats_like_tensorflow(capsys):
    buf = io.StringIO()
    tf.print(tf.range(10), output_stream=buf)
    tf.print("x:", tf.constant([1.5, 2.0]), {"a": tf.constant(1)}, sep="|", output_stream=buf)
    tf.print(tf.reshape(tf.range(30), [10, 3]), output_stream=buf, summarize=2)
    tf.print(tf.constant([True, False]), tf.constant(0.1), output_stream=buf, end="!\n")
    assert buf.getvalue().splitlines() == [
        "[0 1 2 ... 7 8 9]", "x:|[1.5 2]|{'a': 1}",
        "[[0 1 2]", " [3 4 5]", " ...", " [24 25 26]", " [27 28 29]]", "[1 0] 0.1!"]
    tf.print(tf.range(3))  # TensorFlow's default stream is stderr
    assert capsys.readouterr().err == "[0 1 2]\n"
    tf.print(tf.range(8), summarize=-1, output_stream=sys.stdout)
    assert capsys.readouterr().out == "[0 1 2 3 4 5 6 7]\n"


def test_shape_rank_size():
    x = tf.zeros([2, 3, 4])
    assert tf.shape(x).numpy().tolist() == [2, 3, 4] and tf.shape(x).dtype == tf.int32
    assert int(tf.rank(x)) == 3 and int(tf.size(x)) == 24


def test_debugging_asserts():
    d = tf.debugging
    d.assert_equal(tf.constant([1, 2]), tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"(?s)custom.*Condition x == y did not hold.*Indices of first 1"):
        d.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]), message="custom")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Condition x < y"):
        tf.assert_less(tf.constant([1.0, 3.0]), tf.constant([2.0, 2.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Condition x > y"):
        d.assert_greater(tf.constant([1.0]), 1.0)
    d.assert_near(tf.constant([1.0]), tf.constant([1.0000001]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not equal to tolerance"):
        d.assert_near(tf.constant([1.0]), tf.constant([1.1]), rtol=0.01, atol=0.0)
    with pytest.raises(ValueError, match="must have rank 2. Received rank 1"):
        d.assert_rank(tf.zeros([3]), 2)
    d.assert_shapes([(tf.zeros([2, 3]), ("N", "D")), (tf.zeros([2]), ("N",))])
    with pytest.raises(tf.errors.InvalidArgumentError, match="dimension 'N'"):
        d.assert_shapes([(tf.zeros([2, 3]), ("N", "D")), (tf.zeros([4]), ("N",))])
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank 3"):
        d.assert_shapes([(tf.zeros([2, 3]), ("N", "D", 1))])
    with pytest.raises(tf.errors.InvalidArgumentError, match="loss : Tensor had NaN values"):
        d.check_numerics(tf.constant([1.0, np.nan]), "loss")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Tensor had Inf values"):
        d.assert_all_finite(tf.constant([np.inf]), "x")
    x = tf.constant([1.0])
    assert d.check_numerics(x, "fine") is x
