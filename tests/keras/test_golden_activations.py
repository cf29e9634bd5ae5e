"""Golden cases of keras.activations (TF 2.21 / Keras 3.15 values in tests/golden)."""

import numpy as np
import pytest
from golden_utils import array, assert_close, cases, lookup, resolve, resolve_kwargs

import tapeflow as tf


@pytest.mark.parametrize("case", cases("activations"), ids=lambda c: c["id"])
def test_activation_case(case):
    fn = lookup(case["api"])
    kwargs = resolve_kwargs(case["kwargs"], case)
    wrt = case["grads"]["wrt"]
    xs = {n: tf.constant(array(case, n)) for n in wrt}
    with tf.GradientTape() as tape:
        for t in xs.values():
            tape.watch(t)
        args = [xs[a["array"]] if isinstance(a, dict) and a.get("array") in xs
                else resolve(a, case) for a in case["args"]]
        out = fn(*args, **kwargs)
        target = tf.reduce_sum(out * array(case, case["grads"]["cotangents"][0]))
    assert_close(out, case, "out")
    got = tape.gradient(target, list(xs.values()))
    for gname, g in zip(wrt.values(), got):
        assert_close(g, case, gname)
    # the string identifier resolves to the same function
    name = case["api"].rsplit(".", 1)[1]
    assert tf.keras.activations.get(name) is fn


def test_every_golden_activation_dtype_float32():
    for case in cases("activations"):
        out = lookup(case["api"])(array(case, "x"))
        assert out.dtype == tf.float32, case["id"]
        assert np.all(np.isfinite(out.numpy()))


def test_step_values_zero_gradient_and_warning():
    x = tf.constant([-1.5, 0.0, 2.0])
    np.testing.assert_array_equal(tf.keras.activations.step(x).numpy(), [0.0, 1.0, 1.0])
    w = tf.Variable([[1.0, -1.0]])
    with tf.GradientTape() as tape:
        y = tf.keras.activations.get("step")(tf.matmul(tf.constant([[1.0]]), w))
        loss = tf.reduce_sum(y)
    with pytest.warns(UserWarning, match="no gradient flows"):
        g = tape.gradient(loss, w)
    np.testing.assert_array_equal(g.numpy(), [[0.0, 0.0]])


def test_softmax_and_sigmoid_remember_logits():
    x = tf.constant([[1.0, 2.0]])
    assert tf.keras.activations.softmax(x)._keras_logits is x
    assert tf.keras.activations.sigmoid(x)._keras_logits is x


def test_relu_threshold_gradient_finite_difference():
    x0 = np.array([-2.0, -0.3, 0.7, 1.4, 3.1], dtype=np.float64)
    f = lambda v: tf.keras.activations.relu(v, negative_slope=0.1, max_value=2.5,  # noqa: E731
                                            threshold=0.5)
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(f(x))
    g = tape.gradient(y, x).numpy()
    eps = 1e-6
    num = [(float(tf.reduce_sum(f(tf.constant(x0 + eps * e)))) -
            float(tf.reduce_sum(f(tf.constant(x0 - eps * e))))) / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_get_serialize_deserialize():
    acts = tf.keras.activations
    assert acts.get(None) is acts.linear
    assert acts.serialize(acts.swish) == "silu"
    assert acts.serialize(acts.get("relu")) == "relu"
    assert acts.deserialize("softmax") is acts.softmax
    assert acts.deserialize({"module": "keras.activations", "class_name": "function",
                             "config": "tanh", "registered_name": "tanh"}) is acts.tanh
    f = lambda t: t  # noqa: E731
    assert acts.get(f) is f
    with pytest.raises(ValueError, match="Could not interpret activation.*'relu'"):
        acts.get("rellu")
    with pytest.raises(ValueError, match="negative_slope"):
        acts.relu([1.0], negative_slope=-1.0)


def test_dense_step_activation_trains_with_warning():
    from tapeflow import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="step")])
    model.compile(optimizer="sgd", loss="mse")
    assert model.get_config()["layers"][1]["config"]["activation"] == "step"
    x = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    out = model.predict(x, verbose=0)
    assert set(np.unique(out)) <= {0.0, 1.0}
    before = [w.copy() for w in model.get_weights()]
    with pytest.warns(UserWarning, match="no gradient flows"):
        model.fit(x, np.ones((2, 3), np.float32), epochs=1, verbose=0)
    for b, a in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)      # zero gradient: SGD changes nothing
