"""Every core and merge layer through ``run_layer_test``, plus their specific behaviour."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.testing.layer_test import run_layer_test

L = keras.layers

LAYER_CASES = [
    (L.Dense, {"units": 3}, (2, 4), (2, 3), 2),
    (L.Dense, {"units": 3, "use_bias": False, "activation": "relu"}, (2, 5, 4), (2, 5, 3), 1),
    (L.Activation, {"activation": "tanh"}, (2, 4), (2, 4), 0),
    (L.Dropout, {"rate": 0.3}, (2, 4), (2, 4), 0),
    (L.Flatten, {}, (2, 3, 4), (2, 12), 0),
    (L.Reshape, {"target_shape": (2, -1)}, (2, 3, 4), (2, 2, 6), 0),
    (L.Permute, {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3), 0),
    (L.RepeatVector, {"n": 3}, (2, 4), (2, 3, 4), 0),
    (L.Identity, {}, (2, 4), (2, 4), 0),
    (L.Rescaling, {"scale": 0.5, "offset": 1.0}, (2, 4), (2, 4), 0),
    (L.GaussianNoise, {"stddev": 0.1}, (2, 4), (2, 4), 0),
    (L.ActivityRegularization, {"l1": 0.01, "l2": 0.01}, (2, 4), (2, 4), 0),
    (L.Normalization, {"mean": 1.0, "variance": 4.0}, (2, 4), (2, 4), 0),
    (L.Masking, {"mask_value": 0.0}, (2, 3, 4), (2, 3, 4), 0),
    (L.Concatenate, {"axis": -1}, [(2, 3), (2, 4)], (2, 7), 0),
    (L.Add, {}, [(2, 3), (2, 3)], (2, 3), 0),
    (L.Subtract, {}, [(2, 3), (2, 3)], (2, 3), 0),
    (L.Multiply, {}, [(2, 3), (2, 3), (2, 3)], (2, 3), 0),
    (L.Average, {}, [(2, 3), (2, 3)], (2, 3), 0),
    (L.Maximum, {}, [(2, 3), (2, 3)], (2, 3), 0),
    (L.Minimum, {}, [(2, 3), (2, 3)], (2, 3), 0),
    (L.Dot, {"axes": 1}, [(2, 3), (2, 3)], (2, 1), 0),
    (L.Dot, {"axes": (2, 2), "normalize": True}, [(2, 5, 3), (2, 4, 3)], (2, 5, 4), 0),
]


@pytest.mark.parametrize("cls,kwargs,shape,out_shape,n_train", LAYER_CASES,
                         ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_run_layer_test(cls, kwargs, shape, out_shape, n_train):
    run_layer_test(cls, kwargs, input_shape=shape, expected_output_shape=out_shape,
                   expected_num_trainable_weights=n_train, expected_num_non_trainable_weights=0)


def test_dropout_in_training_zeroes_and_rescales():
    keras.utils.set_random_seed(0)
    layer = L.Dropout(0.5)
    out = layer(np.ones((100, 100), "float32"), training=True).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6
    np.testing.assert_array_equal(layer(np.ones((2, 2)), training=False).numpy(), np.ones((2, 2)))
    with pytest.raises(ValueError, match="Received: rate=1.5"):
        L.Dropout(1.5)


def test_dropout_is_active_inside_fit_only():
    model = keras.Sequential([keras.Input((4,)), L.Dropout(0.99)])
    x = np.ones((3, 4), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_normalization_adapt_and_invert():
    data = np.random.default_rng(0).normal(3.0, 2.0, (200, 3)).astype("float32")
    layer = L.Normalization()
    layer.adapt(data)
    out = layer(data).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-4)
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    assert int(layer.count.numpy()) == 200
    inv = L.Normalization(mean=layer.mean.numpy(), variance=layer.variance.numpy(), invert=True)
    np.testing.assert_allclose(inv(out).numpy(), data, rtol=1e-4, atol=1e-4)


def test_normalization_adapt_on_batches():
    data = np.arange(12, dtype="float32").reshape(6, 2)
    layer = L.Normalization()
    layer.adapt([(data[:3],), (data[3:],)].__iter__())
    np.testing.assert_allclose(layer.mean.numpy(), data.mean(0, keepdims=True))


def test_lambda_layer_and_its_config_round_trip():
    layer = L.Lambda(lambda x: x * 3.0)
    np.testing.assert_allclose(layer(tf.constant([1.0])).numpy(), [3.0])
    # Keras 3.15 refuses a lambda's bytecode in safe mode, even in a direct from_config call.
    with pytest.raises(ValueError, match="Lambda.*Python lambda.*safe_mode=False"):
        L.Lambda.from_config(layer.get_config())
    clone = L.Lambda.from_config(layer.get_config(), safe_mode=False)
    np.testing.assert_allclose(clone(tf.constant([2.0])).numpy(), [6.0])
    with keras.saving.serialization_lib.SafeModeScope(False):
        clone = L.Lambda.from_config(layer.get_config())
    np.testing.assert_allclose(clone(tf.constant([2.0])).numpy(), [6.0])
    x = keras.Input((2,))
    assert L.Lambda(lambda t: t[:, :1])(x).shape == (None, 1)


def test_merge_layers_reject_bad_inputs():
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        L.Add()(tf.ones((2, 3)))
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        L.Subtract()([tf.ones((2, 3))] * 3)
    with pytest.raises(ValueError, match="incompatible shapes"):
        L.Add()([tf.ones((2, 3)), tf.ones((2, 4))])
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        L.Concatenate()([keras.Input((2, 3)), keras.Input((4, 3))])


def test_merge_values():
    a, b = tf.constant([[1.0, 5.0]]), tf.constant([[3.0, 2.0]])
    np.testing.assert_allclose(L.Average()([a, b]).numpy(), [[2.0, 3.5]])
    np.testing.assert_allclose(L.Subtract()([a, b]).numpy(), [[-2.0, 3.0]])
    np.testing.assert_allclose(L.Dot(axes=1)([a, b]).numpy(), [[13.0]])
    cos = L.Dot(axes=1, normalize=True)([a, b]).numpy()
    np.testing.assert_allclose(cos, [[13.0 / (np.sqrt(26) * np.sqrt(13))]], rtol=1e-6)
    assert keras.layers.concatenate([a, b]).shape == (1, 4)


def test_flatten_channels_first_moves_channels_last():
    x = np.arange(12, dtype="float32").reshape(1, 3, 2, 2)
    out = L.Flatten(data_format="channels_first")(x).numpy()
    np.testing.assert_array_equal(out[0], x.transpose(0, 2, 3, 1).reshape(-1))


def test_dense_rejects_non_positive_units():
    with pytest.raises(ValueError, match="Received: units=0"):
        L.Dense(0)


def test_masking_zeroes_masked_steps_and_an_lstm_skips_them():
    x = np.zeros((2, 4, 3), "float32")
    x[0, :2] = 1.0
    x[1] = 2.0
    out = L.Masking()(x)
    assert out._keras_mask.numpy().tolist() == [[True, True, False, False], [True] * 4]
    keras.utils.set_random_seed(0)
    lstm = L.LSTM(2)
    masked = keras.Sequential([keras.Input((4, 3)), L.Masking(), lstm])
    short = keras.Sequential([keras.Input((2, 3)), lstm])
    np.testing.assert_allclose(masked(x).numpy()[0], short(x[:, :2]).numpy()[0], rtol=1e-5,
                               atol=1e-6)
