"""The Layer base class: tracking, weights, freezing, training flag, masks, losses, config."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


class Block(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = keras.layers.Dense(3)
        self.stack = [keras.layers.Dense(2), keras.layers.Dense(2)]
        self.table = {"b": keras.layers.Dense(1)}
        self.stack.append(keras.layers.Dense(4))

    def call(self, x):
        h = self.first(x)
        for layer in self.stack[:2]:
            h = layer(h)
        return self.table["b"](h)


def test_tracks_layers_in_attributes_lists_and_dicts_in_assignment_order():
    block = Block()
    assert [layer.name for layer in block._layers] == ["dense", "dense_1", "dense_2", "dense_3",
                                                      "dense_4"]
    out = block(np.ones((2, 5), "float32"))
    assert out.shape == (2, 1)
    # dense_4 (appended later, never called) has no weights; the others have kernel and bias
    assert len(block.weights) == 8
    assert [w.path for w in block.weights[:2]] == ["block/dense/kernel", "block/dense/bias"]


def test_tracks_variables_assigned_as_attributes():
    class Scale(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.s = tf.Variable(2.0)
            self.frozen = tf.Variable(1.0, trainable=False)

        def call(self, x):
            return x * self.s * self.frozen

    layer = Scale()
    assert len(layer.trainable_weights) == 1 and len(layer.non_trainable_weights) == 1
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(tf.constant([1.0, 2.0])))
    assert float(tape.gradient(y, layer.trainable_weights)[0]) == pytest.approx(3.0)


def test_add_weight_defaults_and_names():
    layer = keras.layers.Layer(name="holder")
    w = layer.add_weight(shape=(2, 3), name="w")
    b = layer.add_weight(shape=(3,), initializer="zeros", name="b", trainable=False)
    assert w.name == "w" and w.path == "holder/w" and w.dtype == tf.float32
    assert w.trainable and not b.trainable
    assert np.all(b.numpy() == 0) and np.any(w.numpy() != 0)   # glorot_uniform default
    assert layer.weights == [w, b]
    assert isinstance(w.value, tf.Tensor)


def test_trainable_false_freezes_all_weights():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4
    model.trainable = True
    assert len(model.trainable_weights) == 4


def test_frozen_layer_is_not_updated_by_fit():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.layers[0].trainable = False
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 4)), np.zeros((8, 1)), epochs=1, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(before[0], after[0])
    assert not np.array_equal(before[2], after[2])


def test_training_flag_is_passed_down_to_inner_layers():
    seen = []

    class Probe(keras.layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class Outer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.probe = Probe()

        def call(self, x):
            return self.probe(x)

    outer = Outer()
    outer(np.ones((1, 2)), training=True)
    outer(np.ones((1, 2)))
    outer(np.ones((1, 2)), training=False)
    assert seen == [True, None, False]


def test_float_inputs_are_cast_to_the_layer_dtype():
    layer = keras.layers.Dense(2)
    assert layer(np.ones((1, 3), dtype="float64")).dtype == tf.float32
    layer64 = keras.layers.Dense(2, dtype="float64")
    assert layer64(np.ones((1, 3), dtype="float32")).dtype == tf.float64
    assert layer64.get_config()["dtype"]["config"]["name"] == "float64"


def test_get_weights_set_weights_and_mismatch_errors():
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    ws = [np.ones((3, 2)), np.zeros(2)]
    layer.set_weights(ws)
    np.testing.assert_array_equal(layer.get_weights()[0], ws[0])
    with pytest.raises(ValueError, match=r"layer 'dense' with a weight list of length 1, but "
                                         r"the layer was expecting 2 weights"):
        layer.set_weights([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"Layer dense weight shape \(3, 2\) is not compatible "
                                         r"with provided weight shape \(4, 2\)"):
        layer.set_weights([np.ones((4, 2)), np.zeros(2)])


def test_count_params_needs_a_built_layer():
    layer = keras.layers.Dense(2)
    with pytest.raises(ValueError, match="isn't built"):
        layer.count_params()
    layer.build((None, 3))
    assert layer.count_params() == 8


def test_add_loss_and_regularizer_losses_are_collected_per_call():
    class WithLoss(keras.layers.Layer):
        def call(self, x):
            self.add_loss(tf.reduce_sum(x))
            return x

    layer = WithLoss()
    layer(np.ones((2, 2), "float32"))
    layer(np.ones((2, 2), "float32"))
    assert len(layer.losses) == 1 and float(layer.losses[0]) == 4.0
    dense = keras.layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.5),
                               kernel_initializer="ones")
    dense(np.ones((1, 3), "float32"))
    assert len(dense.losses) == 1 and float(dense.losses[0]) == pytest.approx(0.5 * 6)


def test_activity_regularizer_divides_by_batch_size():
    layer = keras.layers.ActivityRegularization(l1=1.0)
    layer(tf.constant([[1.0, -1.0], [2.0, 0.0]]))
    assert float(layer.losses[0]) == pytest.approx(4.0 / 2)


def test_masks_propagate_through_layers_that_support_them():
    class MakeMask(keras.layers.Layer):
        def call(self, x):
            return x

        def compute_mask(self, inputs, previous_mask=None):
            return tf.not_equal(inputs[..., 0], 0.0)

    class Consume(keras.layers.Layer):
        def call(self, x, mask=None):
            self.got = mask
            return x

    x = tf.constant([[[1.0], [0.0]]])
    y = MakeMask()(x)
    assert y._keras_mask.numpy().tolist() == [[True, False]]
    z = keras.layers.Identity()(y)
    consumer = Consume()
    consumer(z)
    assert consumer.got.numpy().tolist() == [[True, False]]
    assert getattr(keras.layers.Flatten()(y), "_keras_mask", None) is None


def test_config_round_trip_of_a_custom_layer_without_get_config():
    class Custom(keras.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def call(self, x):
            return x

    layer = Custom(units=5, name="c")
    config = layer.get_config()
    assert config["units"] == 5 and config["name"] == "c"
    assert Custom.from_config(config).units == 5


def test_build_config_and_own_variables_store():
    layer = keras.layers.Dense(2)
    layer(np.ones((4, 3), "float32"))
    assert layer.get_build_config() == {"input_shape": [4, 3]}
    clone = keras.layers.Dense(2)
    clone.build_from_config(layer.get_build_config())
    store = {}
    layer.save_own_variables(store)
    assert sorted(store) == ["0", "1"]
    clone.load_own_variables(store)
    np.testing.assert_array_equal(clone.kernel.numpy(), layer.kernel.numpy())
    with pytest.raises(ValueError, match="expected 2 variables, but received 1"):
        clone.load_own_variables({"0": store["0"]})


def test_unknown_constructor_keyword_is_rejected():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense"):
        keras.layers.Dense(2, bogus=1)


def test_gradient_through_dense_matches_finite_differences():
    layer = keras.layers.Dense(3, activation="tanh", dtype="float64")
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 4)))
    layer(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    g = tape.gradient(loss, layer.kernel).numpy()
    k = layer.kernel.numpy()
    eps = 1e-6
    num = np.zeros_like(k)
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            for sign in (1, -1):
                kk = k.copy()
                kk[i, j] += sign * eps
                layer.kernel.assign(kk)
                num[i, j] += sign * float(tf.reduce_sum(layer(x) ** 2)) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_attributes_set_before_super_init_are_tracked():
    class Early(keras.layers.Layer):
        def __init__(self):
            self.inner = keras.layers.Dense(2)
            super().__init__()

        def call(self, x):
            return self.inner(x)

    layer = Early()
    layer(np.ones((1, 3), "float32"))
    assert len(layer.weights) == 2


def test_keyword_only_inputs_and_extra_array_arguments_are_converted():
    class TwoInputs(keras.layers.Layer):
        def call(self, query, value=None, scale=2):
            assert isinstance(query, tf.Tensor) and isinstance(value, tf.Tensor)
            assert query.dtype == tf.float32 and value.dtype == tf.float32
            return query * scale + value

    layer = TwoInputs()
    out = layer(query=np.ones((1, 2)), value=np.ones((1, 2)))
    np.testing.assert_allclose(out.numpy(), [[3.0, 3.0]])
    out = layer(np.ones((1, 2)), np.zeros((1, 2)), scale=3)
    np.testing.assert_allclose(out.numpy(), [[3.0, 3.0]])


def test_mixed_precision_policy_keeps_float32_weights_and_computes_in_float16():
    layer = keras.layers.Dense(2, dtype="mixed_float16")
    out = layer(np.ones((1, 3)))
    assert out.dtype == tf.float16 and layer.kernel.dtype == tf.float32
    assert layer.dtype_policy.name == "mixed_float16"
    inner = keras.layers.Dense(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, dtype="mixed_float16"),
                              inner])
    assert model.predict(np.ones((2, 3)), verbose=0).dtype == np.float32
