"""Bad input gets Keras's error types with messages naming what was received and expected."""

import re

import numpy as np
import pytest

from tapeflow import keras


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    return model


def test_dense_built_for_4_features_fed_5_symbolic_and_eager():
    layer = keras.layers.Dense(3)
    layer(keras.Input((4,)))
    msg = ('Input 0 of layer "dense" is incompatible with the layer: expected axis -1 of input '
           "shape to have value 4, but received input with shape (None, 5)")
    with pytest.raises(ValueError, match=re.escape(msg)):
        layer(keras.Input((5,)))
    with pytest.raises(ValueError, match=re.escape("received input with shape (2, 5)")):
        layer(np.ones((2, 5)))


def test_sequential_with_wrong_feature_count():
    model = _model()
    with pytest.raises(ValueError, match=r'layer "dense".*expected axis -1 of input shape to '
                                         r"have value 4.*\(3, 5\)"):
        model.predict(np.ones((3, 5)), verbose=0)


def test_rank_errors_name_the_layer():
    with pytest.raises(ValueError, match=r'Input 0 of layer "dense_1" is incompatible with the '
                                         r"layer: expected min_ndim=2, found ndim=1"):
        keras.layers.Dense(2, name="dense_1")(np.ones(3))


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_fit_before_compile(method):
    model = _model()
    # Keras 3.15 raises ValueError here.
    with pytest.raises(ValueError, match=re.escape("You must call `compile()` before using "
                                                     "the model.")):
        getattr(model, method)(np.ones((2, 4)), np.ones((2, 2)))


def test_x_and_y_with_different_sample_counts():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"Data cardinality is ambiguous.*\n'x' sizes: 10\n'y' "
                                         r"sizes: 8"):
        model.fit(np.ones((10, 4)), np.ones((8, 2)), verbose=0)


def test_unknown_names_list_the_valid_ones():
    model = _model()
    with pytest.raises(ValueError, match=r"(?s)nonexistent_loss.*mean_squared_error"):
        model.compile(optimizer="sgd", loss="nonexistent_loss")
        model.fit(np.ones((2, 4)), np.ones((2, 2)), verbose=0)
    with pytest.raises(ValueError, match=r"(?s)nonexistent_optimizer.*adam"):
        model.compile(optimizer="nonexistent_optimizer", loss="mse")
    model.compile(optimizer="sgd", loss="mse", metrics=["nonexistent_metric"])
    with pytest.raises(ValueError, match=r"(?s)nonexistent_metric.*accuracy"):
        model.fit(np.ones((2, 4)), np.ones((2, 2)), verbose=0)


def test_loss_list_must_match_outputs():
    a = keras.Input((2,))
    model = keras.Model(a, [keras.layers.Dense(1)(a), keras.layers.Dense(1)(a)])
    model.compile(optimizer="sgd", loss=["mse"])
    with pytest.raises(ValueError, match="should have as many entries as the model has outputs"):
        model.fit(np.ones((2, 2)), [np.ones((2, 1))] * 2, verbose=0)


def test_functional_model_fed_wrong_number_of_inputs():
    a, b = keras.Input((2,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(ValueError, match="expects 2 input"):
        model([np.ones((1, 2))] * 3)


def test_fit_without_loss():
    model = _model()
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(np.ones((2, 4)), np.ones((2, 2)), verbose=0)


def test_generator_with_y_is_rejected():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    gen = ((np.ones((2, 4)), np.ones((2, 2))) for _ in range(2))
    with pytest.raises(ValueError, match="`y` and `sample_weight` must not be given"):
        model.fit(gen, np.ones((2, 2)), verbose=0)


def test_validation_split_too_large():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="not sufficient to split"):
        model.fit(np.ones((1, 4)), np.ones((1, 2)), validation_split=0.5, verbose=0)
