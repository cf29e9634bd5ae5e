"""backprop.trace: its numbers are exactly GradientTape's gradients and the optimizer's update."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.backprop import BackpropTrace, trace


def _mlp(seed=0, **dense_kwargs):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)),
                             keras.layers.Dense(5, activation="tanh", **dense_kwargs),
                             keras.layers.Dense(4, activation="relu"),
                             keras.layers.Dense(2, activation="softmax")])


def _twin(model):
    twin = _mlp(seed=123)
    twin.set_weights(model.get_weights())
    return twin


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, size=6)]
    return x, y


def _reference_step(model, x, y, loss_fn, optimizer):
    """The canonical train_step, written out."""
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = loss_fn(y, y_pred)
        for extra in model.losses:
            loss = loss + extra
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return y_pred.numpy(), float(loss), [g.numpy() for g in grads]


@pytest.mark.parametrize("make_opt", [lambda: keras.optimizers.SGD(learning_rate=0.1),
                                      lambda: keras.optimizers.SGD(0.05, momentum=0.9),
                                      lambda: keras.optimizers.Adam(learning_rate=0.01)])
def test_trace_equals_gradient_tape_and_optimizer_exactly(make_opt):
    model = _mlp()
    twin = _twin(model)
    x, y = _batch()
    loss_fn = keras.losses.CategoricalCrossentropy()
    before = model.get_weights()
    opt, ref_opt = make_opt(), make_opt()
    for _ in range(2):   # the second step checks the optimizer's state (momentum, moments)
        t = trace(model, x, y, loss=loss_fn, optimizer=opt)
        y_pred, loss, grads = _reference_step(twin, x, y, loss_fn, ref_opt)
        assert isinstance(t, BackpropTrace) and t.applied
        np.testing.assert_array_equal(t.y_pred, y_pred)
        assert t.loss == loss and t.data_loss == loss and t.regularization_loss == 0.0
        assert len(t.gradients) == len(grads) == 6
        for got, want in zip(t.gradients, grads):
            np.testing.assert_array_equal(got, want)
        for w, v in zip(t.weights, twin.trainable_variables):
            np.testing.assert_array_equal(w.after, v.numpy())        # the optimizer's result
            np.testing.assert_array_equal(w.update, w.after - w.before)
            assert w.grad_norm == pytest.approx(np.linalg.norm(w.gradient.astype(np.float64)))
        for a, b in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(before[0], model.get_weights()[0])


def test_trace_sgd_update_is_minus_lr_times_gradient():
    model = _mlp()
    x, y = _batch(1)
    t = trace(model, x, y, loss="categorical_crossentropy",
              optimizer=keras.optimizers.SGD(learning_rate=0.1))
    assert t.learning_rate == pytest.approx(0.1)
    for w in t.weights:
        np.testing.assert_array_equal(w.after, (w.before - np.float32(0.1) * w.gradient))


def test_trace_records_each_layer_forward_and_backward():
    model = _mlp()
    x, y = _batch(2)
    t = trace(model, x, y, loss="categorical_crossentropy", optimizer="sgd", apply=False)
    assert [lt.name for lt in t.layers] == [layer.name for layer in model.layers]
    assert [lt.activation for lt in t.layers] == ["tanh", "relu", "softmax"]
    # forward pass: each layer's output from the previous one, and z = h W + b before activation
    h = x
    for lt, layer in zip(t.layers, model.layers):
        w, b = layer.get_weights()
        z = h @ w + b
        np.testing.assert_allclose(lt.pre_activation, z, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(lt.output, layer(h).numpy())
        h = lt.output
        assert [wt.name for wt in lt.weights] == ["kernel", "bias"]
    np.testing.assert_array_equal(t.y_pred, t.layers[-1].output)
    # backward pass: d loss / d (each layer's output), from the tape
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        h1 = model.layers[0](x_t)
        tape.watch(h1)
        h2 = model.layers[1](h1)
        out = model.layers[2](h2)
        loss = keras.losses.CategoricalCrossentropy()(y, out)
    g1, g2, g3 = tape.gradient(loss, [h1, h2, out])
    np.testing.assert_array_equal(t.layers[0].output_grad, g1.numpy())
    np.testing.assert_array_equal(t.layers[1].output_grad, g2.numpy())
    # the loss reads the softmax's logits z3, not its output (as in Keras): no gradient there
    assert g3 is None and t.layers[2].output_grad is None
    # the chain rule by hand: dL/dz3 = (softmax - y) / n, dL/dW3 = h2^T dL/dz3,
    # dL/dh2 = dL/dz3 W3^T
    dz3 = (t.y_pred - y) / len(x)
    np.testing.assert_allclose(t.layers[2].pre_activation_grad, dz3, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(t.weights[4].gradient, t.layers[1].output.T @ dz3,
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(t.weights[5].gradient, dz3.sum(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(t.layers[1].output_grad, dz3 @ t.weights[4].before.T,
                               rtol=1e-4, atol=1e-6)


def test_trace_apply_false_leaves_model_and_optimizer_unchanged():
    model = _mlp()
    opt = keras.optimizers.Adam(0.01)
    x, y = _batch(3)
    before = model.get_weights()
    t = trace(model, x, y, loss="categorical_crossentropy", optimizer=opt, apply=False)
    assert not t.applied
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(opt.iterations.numpy()) == 0
    assert all(float(np.abs(w.update).sum()) > 0 for w in t.weights)
    # applying now gives the same step as the traced one
    t2 = trace(model, x, y, loss="categorical_crossentropy", optimizer=opt)
    for w1, w2 in zip(t.weights, t2.weights):
        np.testing.assert_array_equal(w1.after, w2.after)


def test_trace_uses_the_compiled_loss_and_optimizer():
    model = _mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss="categorical_crossentropy")
    x, y = _batch(4)
    t = trace(model, x, y)
    assert t.loss_name == "categorical_crossentropy" and t.optimizer_name == "SGD"
    assert int(model.optimizer.iterations.numpy()) == 1


def test_trace_includes_regularization_losses():
    model = _mlp(kernel_regularizer=keras.regularizers.L2(0.1))
    x, y = _batch(5)
    t = trace(model, x, y, loss="categorical_crossentropy", optimizer="sgd", apply=False)
    reg = 0.1 * float(np.sum(np.square(t.weights[0].before)))
    assert t.regularization_loss == pytest.approx(reg, rel=1e-5)
    assert t.loss == pytest.approx(t.data_loss + reg, rel=1e-6)


def test_trace_table_shows_the_four_phases():
    model = _mlp()
    x, y = _batch(6)
    text = str(trace(model, x, y, loss="categorical_crossentropy", optimizer="sgd"))
    for part in ["one mini-batch of 6 examples", "1. Forward pass (input layer -> output layer)",
                 "2. Loss", "3. Backward pass (output layer -> input layer, chain rule)",
                 "4. Gradient step", "learning rate = 0.01", "/kernel", "h = softmax(z)",
                 "z (logits)", "(the loss reads z, the logits, directly)"]:
        assert part in text, part
    # backward section lists the output layer before the first layer
    back = text.split("3. Backward pass")[1]
    assert back.index(model.layers[2].name + " output") < back.index(model.layers[0].name +
                                                                    " output")


def test_trace_table_explains_the_update_rule():
    model = _mlp()
    x, y = _batch(4)
    t = trace(model, x, y, loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.5),
              apply=False)
    assert t.plain_sgd
    step = str(t).split("4. Gradient step")[1]
    assert "rule: update = -learning_rate * gradient (plain SGD)" in step
    w = t.weights[0]
    shape = str(tuple(w.before.shape))
    assert f"{w.label:<30}{shape:<12}" in step       # each weight's shape in the table
    # one entry worked through: the first weight's largest gradient
    i, j = np.unravel_index(np.argmax(np.abs(w.gradient)), w.gradient.shape)
    assert f"e.g. {w.label}[{i}, {j}] (its largest gradient)" in step
    g, u = float(w.gradient[i, j]), float(w.update[i, j])
    assert g != 0 and u == pytest.approx(-0.5 * g, rel=1e-5)
    gs = f"({g:.6g})" if g < 0 else f"{g:.6g}"              # a negative gradient in brackets
    assert f"update = -0.5 * {gs} = {u:.6g}" in step
    assert f"w before = {float(w.before[i, j]):.6g}" in step
    assert f"w after = {float(w.after[i, j]):.6g}" in step
    for opt in (keras.optimizers.Adam(0.01), keras.optimizers.SGD(0.1, momentum=0.9)):
        t = trace(model, x, y, loss="categorical_crossentropy", optimizer=opt, apply=False)
        assert not t.plain_sgd
        assert "not just -learning_rate * gradient" in str(t)
        assert "(plain SGD)" not in str(t)


def test_trace_errors():
    model = _mlp()
    x, y = _batch()
    with pytest.raises(ValueError, match=r"no loss given and the model is not compiled"):
        trace(model, x, y, optimizer="sgd")
    with pytest.raises(ValueError, match=r"no optimizer given and the model is not compiled"):
        trace(model, x, y, loss="mse")
    with pytest.raises(ValueError, match=r"expected a Keras model with layers"):
        trace(lambda v: v, x, y, loss="mse", optimizer="sgd")
    inp = keras.Input((3,))
    shared = keras.layers.Dense(3)
    branchy = keras.Model(inp, keras.layers.Add()([shared(inp), shared(shared(inp))]))
    with pytest.raises(ValueError, match=r"do not form a chain"):
        trace(branchy, x, x, loss="mse", optimizer="sgd")
