"""Models: functional graphs (several inputs/outputs, shared layers, nesting), Sequential in
its three forms, subclassing, summary and layer access."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def test_input_and_input_layer():
    x = keras.Input(shape=(3, 4), batch_size=2, dtype="int32", name="ids")
    assert x.shape == (2, 3, 4) and x.dtype == "int32" and x.name == "ids"
    layer = x._keras_history.operation
    assert isinstance(layer, keras.layers.InputLayer)
    assert layer.get_config() == {"batch_shape": [2, 3, 4], "dtype": "int32", "sparse": False,
                                  "ragged": False, "name": "ids", "optional": False}


def test_functional_two_inputs_two_outputs_lists_and_dicts():
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    h = keras.layers.Concatenate()([a, b])
    h = keras.layers.Dense(4, activation="relu", name="hidden")(h)
    out1 = keras.layers.Dense(1, name="reg")(h)
    out2 = keras.layers.Dense(3, activation="softmax", name="cls")(h)
    model = keras.Model([a, b], [out1, out2])
    assert model.name == "functional"
    assert [layer.name for layer in model.layers] == ["a", "b", "concatenate", "hidden", "reg",
                                                      "cls"]
    assert model.output_names == ["reg", "cls"]
    xa, xb = np.ones((5, 3), "float32"), np.ones((5, 2), "float32")
    r, c = model([xa, xb])
    assert r.shape == (5, 1) and c.shape == (5, 3)
    r2, _ = model({"a": xa, "b": xb})
    np.testing.assert_allclose(r2.numpy(), r.numpy())
    dmodel = keras.Model({"a": a, "b": b}, {"reg": out1, "cls": out2})
    out = dmodel({"a": xa, "b": xb})
    assert sorted(out) == ["cls", "reg"]
    np.testing.assert_allclose(out["reg"].numpy(), r.numpy())


def test_shared_layer_and_model_used_as_a_layer():
    shared = keras.layers.Dense(2, name="shared")
    a, b = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([a, b], keras.layers.Add()([shared(a), shared(b)]))
    assert len(shared._inbound_nodes) == 2
    assert len(model.weights) == 2
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="inner")
    x = keras.Input((3,))
    outer = keras.Model(x, keras.layers.Dense(1)(inner(x)))
    assert outer.layers[1] is inner and len(outer.weights) == 4
    assert outer(np.ones((4, 3))).shape == (4, 1)


def test_graph_disconnected_raises():
    a, b = keras.Input((3,)), keras.Input((3,))
    out = keras.layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)


def test_functional_inputs_must_be_keras_tensors():
    with pytest.raises(ValueError, match="must be KerasTensors"):
        keras.Model(np.ones((1, 3)), keras.Input((3,)))


def test_sequential_three_ways_give_the_same_structure():
    m1 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    m2 = keras.Sequential([keras.layers.Dense(3, input_shape=(4,)), keras.layers.Dense(1)])
    m3 = keras.Sequential()
    m3.add(keras.layers.Dense(3))
    m3.add(keras.layers.Dense(1))
    assert m1.built and m2.built and not m3.built
    assert m1.output_shape == m2.output_shape == (None, 1)
    m3(np.ones((2, 4)))
    assert m3.built and len(m3.weights) == 4
    assert [len(m.layers) for m in (m1, m2, m3)] == [2, 2, 2]
    assert m1.get_layer(index=0) is m1.layers[0]
    assert m1.get_layer("dense").name == "dense"
    with pytest.raises(ValueError, match="No such layer: nope"):
        m1.get_layer("nope")


def test_sequential_add_pop_and_duplicate_names():
    model = keras.Sequential([keras.Input((4,))])
    model.add(keras.layers.Dense(3, name="d"))
    model.add(keras.layers.Dense(2))
    assert model.output_shape == (None, 2)
    last = model.pop()
    assert last.name == "dense" and model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="should have unique names"):
        model.add(keras.layers.Dense(2, name="d"))
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        model.add("dense")


def test_subclassed_model_builds_on_first_call_and_trains():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.out = keras.layers.Dense(1)

        def call(self, x, training=False):
            return self.out(self.hidden(x))

    net = Net()
    assert net.name == "net" and not net.weights
    x = np.random.default_rng(0).standard_normal((32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    net.compile(optimizer="adam", loss="mse")
    h = net.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert len(net.weights) == 4 and h.history["loss"][-1] < h.history["loss"][0]
    net2 = Net()
    net2.build((None, 3))
    assert len(net2.weights) == 4


def test_summary_table(capsys):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(3)], name="mlp")
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "mlp"' in out
    assert "Layer (type)" in out and "Output Shape" in out and "Param #" in out
    assert "dense (Dense)" in out and "(None, 4)" in out
    assert " Total params: 39 (156.00 B)" in out
    assert " Trainable params: 39 (156.00 B)" in out
    assert " Non-trainable params: 0 (0.00 B)" in out
    lines = []
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    keras.Model([a, b], keras.layers.Add()([a, b])).summary(print_fn=lines.append)
    assert any("Connected to" in line for line in lines)   # a graph that is not a chain
    # Keras 3.15 prints an unbuilt model with "?" shapes and "0 (unbuilt)" counts.
    lines = []
    keras.Sequential([keras.layers.Dense(1, name="d")]).summary(print_fn=lines.append)
    assert "│ d (Dense)                       │ ?                      │   0 (unbuilt) │" in \
        lines[0] or "0 (unbuilt)" in lines[0]


def test_model_weights_get_and_set():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    ws = model.get_weights()
    model.set_weights([w + 1 for w in ws])
    np.testing.assert_allclose(model.get_weights()[1], ws[1] + 1)


def test_functional_symbolic_output_shapes_with_unknown_time_axis():
    x = keras.Input((None, 4))
    y = keras.layers.Dense(2)(x)
    assert y.shape == (None, None, 2)
    z = keras.layers.Reshape((-1,))(keras.Input((3, 4)))
    assert z.shape == (None, 12)


def test_functional_model_casts_and_adjusts_inputs():
    x = keras.Input((1,), dtype="float32")
    model = keras.Model(x, keras.layers.Dense(1, kernel_initializer="ones")(x))
    out = model(np.array([1.0, 2.0]))   # rank 1 data for a (None, 1) input
    np.testing.assert_allclose(out.numpy(), [[1.0], [2.0]])


def test_model_call_under_a_tape_gives_gradients_for_every_weight():
    a = keras.Input((3,))
    model = keras.Model(a, keras.layers.Dense(1)(keras.layers.Dense(4, activation="tanh")(a)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(np.ones((2, 3))))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads) and len(grads) == 4


def test_python_operators_on_keras_tensors_become_graph_nodes():
    x, a = keras.Input((3,)), keras.Input((3,))
    y = (x * 2.0 + 1.0 - a) / 2
    z = -(y[:, :2] ** 2)
    model = keras.Model([x, a], [y, z])
    assert y.shape == (None, 3) and z.shape == (None, 2)
    xv = np.arange(6, dtype="float32").reshape(2, 3)
    av = np.ones((2, 3), "float32")
    out_y, out_z = model([xv, av])
    np.testing.assert_allclose(out_y.numpy(), (xv * 2 + 1 - av) / 2)
    np.testing.assert_allclose(out_z.numpy(), -(((xv * 2 + 1 - av) / 2)[:, :2] ** 2))
    with pytest.raises(TypeError, match="cannot be used as a Python bool"):
        bool(x)


def test_nodes_record_calls_for_the_saving_code():
    x = keras.Input((3,), name="x")
    dense = keras.layers.Dense(2, name="d")
    y = dense(x)
    z = keras.layers.Dropout(0.5, name="drop")(y, training=True)
    node = dense._inbound_nodes[0]
    assert node.operation is dense and node.arguments.args == (x,)
    assert node.arguments.keras_tensors == [x] and node.outputs == [y]
    assert y._keras_history == (dense, 0, 0)
    assert x._keras_history.operation._inbound_nodes[0].is_input
    drop_node = z._keras_history.operation._inbound_nodes[0]
    assert drop_node.arguments.kwargs == {"training": True}
    assert drop_node.parent_nodes == [node]
    model = keras.Model(x, z)
    assert model.inputs == [x] and model.outputs == [z]
