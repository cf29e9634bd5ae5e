"""ReLU, LeakyReLU, ELU, PReLU and Softmax layers: values recorded from Keras 3.15.1, the layer
contract, float64 finite differences for PReLU, and a .keras round trip."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.testing.gradient_check import check_gradients
from tapeflow.testing.layer_test import run_layer_test

L = keras.layers
X = np.array([[-2.0, -0.5, 0.2, 0.7, 8.0]], "float32")


@pytest.mark.parametrize("layer, want", [
    # Recorded from Keras 3.15.1 (TensorFlow backend) on X.
    (lambda: L.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
     [[-0.25, -0.1, -0.03, 0.7, 6.0]]),
    (lambda: L.LeakyReLU(), [[-0.6, -0.15, 0.2, 0.7, 8.0]]),
    (lambda: L.ELU(alpha=0.5), [[-0.43233237, -0.19673467, 0.2, 0.7, 8.0]]),
])
def test_values_match_keras(layer, want):
    np.testing.assert_allclose(layer()(X).numpy(), want, rtol=1e-6, atol=1e-7)


def test_masked_softmax_matches_keras():
    got = L.Softmax()(X, mask=np.array([[1, 1, 0, 1, 0]], bool)).numpy()
    # Keras 3.15.1: masked positions get 0, the rest renormalise.
    np.testing.assert_allclose(got, [[0.04911248, 0.22010687, 0.0, 0.7307806, 0.0]], rtol=1e-5)


def test_softmax_over_several_axes_sums_to_one():
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    y = L.Softmax(axis=(1, 2))(x).numpy()
    np.testing.assert_allclose(y.sum(axis=(1, 2)), [1.0, 1.0], rtol=1e-6)


def test_names_and_configs_match_keras():
    keras.backend.clear_session()
    assert [L.ReLU().name, L.LeakyReLU().name, L.PReLU().name, L.Softmax().name] == [
        "re_lu", "leaky_re_lu", "p_re_lu", "softmax"]
    assert L.ReLU(6.0).get_config()["max_value"] == 6.0
    assert L.LeakyReLU().get_config()["negative_slope"] == 0.3
    cfg = L.PReLU(shared_axes=[1]).get_config()
    assert cfg["alpha_initializer"]["class_name"] == "Zeros" and cfg["shared_axes"] == [1]


def test_prelu_shared_axes_weight_shape_and_gradient():
    layer = L.PReLU(shared_axes=[1], alpha_initializer=keras.initializers.Constant(0.25))
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    layer(x.astype("float32"))
    assert layer.alpha.shape == (1, 4) and layer.alpha.path.endswith("/alpha")

    def f(xt, alpha):
        return tf.nn.relu(xt) - alpha * tf.nn.relu(-xt)

    check_gradients(f, [x, np.full((1, 4), 0.25)])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="max_value of a ReLU layer cannot be a negative"):
        L.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="negative_slope=-1"):
        L.LeakyReLU(negative_slope=-1)
    with pytest.raises(ValueError, match="shared_axes holds 3"):
        L.PReLU(shared_axes=[3])(np.ones((2, 4), "float32"))


@pytest.mark.parametrize("cls, kwargs, n_weights", [
    (L.ReLU, {"max_value": 6.0}, 0), (L.LeakyReLU, {}, 0), (L.ELU, {}, 0),
    (L.PReLU, {}, 1), (L.Softmax, {}, 0),
])
def test_layer_contract(cls, kwargs, n_weights):
    run_layer_test(cls, kwargs, input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4),
                   expected_num_trainable_weights=n_weights,
                   expected_num_non_trainable_weights=0, supports_masking=True)


def test_saved_model_round_trip(tmp_path):
    model = keras.Sequential([keras.Input((4,)), L.Dense(5), L.PReLU(), L.LeakyReLU(0.1),
                              L.ReLU(6.0), L.Dense(3), L.Softmax()])
    x = np.random.default_rng(2).normal(size=(4, 4)).astype("float32")
    path = tmp_path / "act.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
