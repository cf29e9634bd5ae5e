"""Every model the examples build survives save -> load: same predictions, config and optimizer
state, and the file has Keras's three members."""

import importlib.util
import os
import zipfile

import numpy as np
import pytest

from tapeflow import keras

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _rng():
    return np.random.default_rng(0)


def mnist_mlp():
    model = _example("mnist_mlp").build_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, _rng().random((8, 784), dtype="float32"), _rng().integers(0, 10, 8), {}


def wide_and_deep():
    model = _example("wide_and_deep").build_model()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    r = _rng()
    x = [r.normal(size=(8, 5)).astype("float32"), r.normal(size=(8, 6)).astype("float32")]
    return model, x, r.normal(size=(8, 1)).astype("float32"), {}


def cnn_digits():
    model = _example("cnn_digits").build_cnn()
    return model, _rng().random((8, 8, 8, 1), dtype="float32"), _rng().integers(0, 10, 8), {}


def text_lstm(kind):
    mod = _example("text_lstm")
    model = mod.build(kind)
    x = _rng().integers(1, mod.VOCAB, (8, mod.MAX_LEN)).astype("int32")
    x[:, 12:] = 0
    return model, x, _rng().integers(0, 2, (8, 1)).astype("float32"), {}


def xor_mlp():
    model = _example("xor_mlp").build_mlp()
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
    return model, x, np.array([[0], [1], [1], [0]], "float32"), {}


def why_nonlinearity():
    model = _example("why_nonlinearity").make_stack("relu")
    return model, _rng().normal(size=(8, 2)).astype("float32"), \
        _rng().integers(0, 2, (8, 1)).astype("float32"), {}


def subclassed_model():
    mod = _example("subclassed_model")
    keras.utils.set_random_seed(0)
    model = mod.ResidualMLP()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="binary_crossentropy")
    x = _rng().normal(size=(8, 2)).astype("float32")
    model(x[:1])
    return model, x, _rng().integers(0, 2, (8, 1)).astype("float32"), \
        {"custom_objects": {"ResidualMLP": mod.ResidualMLP}}


BUILDERS = {"mnist_mlp": mnist_mlp, "wide_and_deep": wide_and_deep, "cnn_digits": cnn_digits,
            "text_lstm_lstm": lambda: text_lstm("lstm"), "text_lstm_bow": lambda: text_lstm("bow"),
            "xor_mlp": xor_mlp, "why_nonlinearity": why_nonlinearity,
            "subclassed_model": subclassed_model}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_example_model_round_trip(name, tmp_path):
    model, x, y, load_kwargs = BUILDERS[name]()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    loaded = keras.models.load_model(path, **load_kwargs)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))
    assert loaded.get_config() == model.get_config()
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables) > 2
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_subclassed_model_metrics_are_saved_like_keras(tmp_path):
    # Keras saves every layer and metric held in a public attribute, under the attribute name.
    import h5py

    model, x, y, kwargs = subclassed_model()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = str(tmp_path / "sub.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        names = []
        h5py.File(__import__("io").BytesIO(z.read("model.weights.h5")), "r").visit(names.append)
    groups = {n for n in names if n.endswith("/vars") or n == "vars"}
    assert groups == {"vars", "acc/vars", "block/vars", "dropout/vars", "head/vars", "inp/vars",
                      "loss_tracker/vars", "optimizer/vars"}
    loaded = keras.models.load_model(path, **kwargs)
    assert float(loaded.acc.result()) == float(model.acc.result())
