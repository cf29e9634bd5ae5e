"""GradientTape semantics: sources and targets of every structure, persistence, nesting,
recording control, unconnected and integer sources, jacobians and custom gradients."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow.testing.gradient_check import numerical_gradient


def test_scalar_and_nonscalar_targets():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        s = tf.reduce_sum(y)
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), [2.0, 4.0, 6.0])
    # a non-scalar target is summed, as in TensorFlow
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0, 6.0])
    # several targets: gradients add up
    np.testing.assert_allclose(tape.gradient([y, s], x).numpy(), [4.0, 8.0, 12.0])


def test_output_gradients():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=tf.constant([10.0, 100.0]))
    np.testing.assert_allclose(g.numpy(), [20.0, 400.0])


def test_list_dict_and_nested_sources():
    a = tf.Variable(2.0)
    b = tf.Variable(3.0)
    c = tf.Variable(4.0)
    with tf.GradientTape(persistent=True) as tape:
        y = a * b + c
    ga, gb = tape.gradient(y, [a, b])
    assert (float(ga), float(gb)) == (3.0, 2.0)
    d = tape.gradient(y, {"a": a, "c": c})
    assert set(d) == {"a", "c"} and float(d["c"]) == 1.0
    nested = tape.gradient(y, [a, {"x": (b, c)}])
    assert float(nested[1]["x"][0]) == 2.0 and float(nested[1]["x"][1]) == 1.0


def test_non_persistent_tape_raises_on_second_call():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used"):
        tape.gradient(y, x)


def test_persistent_tape_allows_many_calls():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(y, x)) == 6.0
    assert float(tape.gradient(z, x)) == 108.0


def test_nested_tapes_second_and_third_order():
    x = tf.constant(2.0)
    with tf.GradientTape() as t3:
        t3.watch(x)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = x * x * x * x  # x^4
            d1 = t1.gradient(y, x)  # 4x^3 = 32
        d2 = t2.gradient(d1, x)  # 12x^2 = 48
    d3 = t3.gradient(d2, x)  # 24x = 48
    assert (float(d1), float(d2), float(d3)) == (32.0, 48.0, 48.0)


def test_second_order_through_softmax_and_matmul():
    w = tf.Variable([[0.5, -0.2], [0.1, 0.3]], dtype=tf.float64)
    x = tf.constant([[1.0, 2.0]], dtype=tf.float64)

    def grad_norm(wv):
        w.assign(wv)
        with tf.GradientTape() as inner:
            loss = tf.reduce_sum(tf.nn.softmax(x @ w) * tf.constant([[1.0, 3.0]], tf.float64))
        g = inner.gradient(loss, w)
        return tf.reduce_sum(g * g)

    w0 = w.numpy().copy()
    with tf.GradientTape() as outer:
        gn = grad_norm(w0)
    got = outer.gradient(gn, w).numpy()
    want = numerical_gradient(lambda xs: float(grad_norm(xs[0])), [w0])[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_stop_recording_and_reset():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * x  # not recorded
        w = y * 3.0
    assert tape.gradient(z, x) is None
    assert float(tape.gradient(w, x)) == 12.0
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        tape.watch(x)
        total = y + x * 5.0  # y was recorded before the reset: no gradient through it
    assert float(tape.gradient(total, x)) == 5.0


def test_variables_watched_automatically_and_not_when_disabled():
    v = tf.Variable(3.0)
    frozen = tf.Variable(4.0, trainable=False)
    with tf.GradientTape() as tape:
        y = v * frozen
    gv, gf = tape.gradient(y, [v, frozen])
    assert float(gv) == 4.0 and gf is None
    assert [w.name for w in tape.watched_variables()] == [v.name]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    assert tape.gradient(y, v) is None
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(v)
        y = v * v
    assert float(tape.gradient(y, v)) == 6.0


def test_variable_gradient_matches_finite_differences():
    # ReadVariableOp: the gradient reaches the variable through every read.
    v = tf.Variable(np.array([0.3, -1.2, 2.0]))
    c = np.array([1.0, 2.0, -0.5])

    def loss_of(val):
        v.assign(val)
        return tf.reduce_sum(tf.sin(v) * c + v * v)

    with tf.GradientTape() as tape:
        loss = loss_of(np.array([0.3, -1.2, 2.0]))
    got = tape.gradient(loss, v).numpy()
    want = numerical_gradient(lambda xs: float(loss_of(xs[0])), [np.array([0.3, -1.2, 2.0])])[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_unconnected_and_integer_sources():
    x = tf.constant(1.0)
    u = tf.constant([1.0, 2.0])
    i = tf.constant(3)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, u, i])
        y = x * 2.0
    assert tape.gradient(y, u) is None
    zero = tape.gradient(y, u, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(zero.numpy(), [0.0, 0.0])
    zero2 = tape.gradient(y, u, unconnected_gradients="zero")
    assert zero2.shape == (2,)
    assert tape.gradient(y, i) is None


def test_stop_gradient():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * tf.stop_gradient(x)
    assert float(tape.gradient(y, x)) == 3.0


def test_gradient_wrt_unwatched_constant_is_none():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None


def test_jacobian():
    x = tf.constant([1.0, 2.0, 3.0])
    other = tf.constant([1.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, other])
        y = tf.stack([x[0] * x[1], tf.reduce_sum(x * x)])
    j = tape.jacobian(y, x)
    np.testing.assert_allclose(j.numpy(), [[2.0, 1.0, 0.0], [2.0, 4.0, 6.0]])
    # an unconnected source is None (zeros on request), even though its rows are all zero
    assert tape.jacobian(y, other) is None
    z = tape.jacobian(y, other, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert z.shape == (2, 1)
    # a connected source whose jacobian happens to be zero is not None
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 0.0
    np.testing.assert_array_equal(tape.jacobian(y, x).numpy(), np.zeros((3, 3)))


def test_batch_jacobian():
    x = tf.constant(np.arange(6.0).reshape(2, 3))
    w = tf.constant(np.arange(12.0).reshape(3, 4) / 10.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.tanh(x @ w)
    bj = tape.batch_jacobian(y, x)
    full = tape.jacobian(y, x).numpy()
    assert bj.shape == (2, 4, 3)
    for b in range(2):
        np.testing.assert_allclose(bj.numpy()[b], full[b, :, b, :])


def test_custom_gradient():
    @tf.custom_gradient
    def log1pexp(x):
        e = tf.exp(x)

        def grad(dy):
            return dy * (1 - 1 / (1 + e))

        return tf.math.log(1 + e), grad

    x = tf.constant(50.0)  # the naive gradient would be inf / inf here
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert float(tape.gradient(y, x)) == 1.0


def test_custom_gradient_with_variables():
    v = tf.Variable(2.0)

    @tf.custom_gradient
    def scaled(x):
        def grad(dy, variables=None):
            return dy * v, [dy * 100.0 for _ in variables]

        return x * v, grad

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = scaled(x)
    gx, gv = tape.gradient(y, [x, v])
    assert float(gx) == 2.0 and float(gv) == 100.0


def test_tape_records_only_while_active():
    x = tf.constant(2.0)
    tape = tf.GradientTape()
    with tape:
        tape.watch(x)
    y = x * x  # after the block: not recorded
    assert tape.gradient(y, x) is None
