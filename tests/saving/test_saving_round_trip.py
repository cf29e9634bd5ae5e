"""Models saved by tapeflow: round trips, Keras's layout, optimizer state, resumed training.

The layout oracle is the set of files Keras 3.15.1 wrote (tests/data/keras_files): a tapeflow save
of the same architecture must have the same HDF5 paths/shapes/dtypes and the same config keys.
"""

import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

from tapeflow import keras

HERE = os.path.join(os.path.dirname(__file__), "..", "data", "keras_files")


# ------------------------------------------------------------------ the architectures
def mlp_sequential():
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(0.2),
                              keras.layers.Dense(3, activation="softmax")], name="mlp")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(16, 20)).astype("float32"), rng.integers(0, 3, 16)


def functional_two_inputs():
    deep = keras.Input((6,), name="deep")
    wide = keras.Input((5,), name="wide")
    h = keras.layers.Dense(16, activation="relu")(deep)
    h = keras.layers.Dense(8, activation="relu")(h)
    out = keras.layers.Dense(1, name="out")(keras.layers.Concatenate()([wide, h]))
    model = keras.Model([wide, deep], out, name="wide_deep")
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(16, 5)).astype("float32"), rng.normal(size=(16, 6)).astype("float32")]
    return model, x, rng.normal(size=(16, 1)).astype("float32")


def nested_model():
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(4)], name="inner")
    x = keras.Input((6,))
    model = keras.Model(x, keras.layers.Dense(2)(inner(x)), name="nested")
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(2)
    return model, rng.normal(size=(16, 6)).astype("float32"), \
        rng.normal(size=(16, 2)).astype("float32")


def normalization_preproc():
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(64, 4)) * 3 + 1).astype("float32")
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input((4,)), norm, keras.layers.Dense(2)], name="normalized")
    model.compile(optimizer="adam", loss="mse")
    return model, x[:16], rng.normal(size=(16, 2)).astype("float32")


def cnn():
    x = keras.Input((12, 12, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(x)
    h = keras.layers.MaxPooling2D()(keras.layers.BatchNormalization()(h))
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(h)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(x, out, name="cnn")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(4)
    return model, rng.normal(size=(8, 12, 12, 1)).astype("float32"), rng.integers(0, 3, 8)


def rnn():
    model = keras.Sequential([keras.Input((10,), dtype="int32"),
                              keras.layers.Embedding(50, 8, mask_zero=True),
                              keras.layers.LSTM(8, return_sequences=True), keras.layers.GRU(6),
                              keras.layers.Dense(1, activation="sigmoid")], name="rnn")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(5)
    x = rng.integers(1, 50, (8, 10)).astype("int32")
    x[:, 7:] = 0
    return model, x, rng.integers(0, 2, (8, 1)).astype("float32")


ARCHS = {"cnn": cnn, "rnn": rnn, "mlp_sequential": mlp_sequential,
         "functional_two_inputs": functional_two_inputs,
         "nested_model": nested_model, "normalization_preproc": normalization_preproc}


def _trained(name):
    keras.utils.set_random_seed(0)
    model, x, y = ARCHS[name]()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return model, x, y


# ------------------------------------------------------------------ layout vs Keras
def _h5_layout(data):
    f = h5py.File(io.BytesIO(data), "r")
    out = {}

    def visit(name, obj):
        out[name] = (obj.shape, obj.dtype.str) if isinstance(obj, h5py.Dataset) else "group"

    f.visititems(visit)
    return out


def _key_tree(cfg):
    """The config's nested key structure (values dropped), ignoring Keras-only bookkeeping."""
    if isinstance(cfg, dict):
        return {k: (None if k == "kwargs" else _key_tree(v)) for k, v in cfg.items()
                if k != "shared_object_id"}
    if isinstance(cfg, list):
        return [_key_tree(v) for v in cfg]
    return None


def _key_diff(ours, theirs, path=""):
    """Paths where the key structures differ: ('extra'|'missing'|'length', path)."""
    out = []
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for k in sorted(set(ours) | set(theirs)):
            if k not in theirs:
                out.append(("extra", f"{path}/{k}"))
            elif k not in ours:
                out.append(("missing", f"{path}/{k}"))
            else:
                out.extend(_key_diff(ours[k], theirs[k], f"{path}/{k}"))
    elif isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            out.append(("length", path))
        for i, (a, b) in enumerate(zip(ours, theirs)):
            out.extend(_key_diff(a, b, f"{path}[{i}]"))
    elif ours != theirs:
        out.append(("type", path))
    return out


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_saved_layout_matches_keras(name, tmp_path):
    model, _, _ = _trained(name)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    with zipfile.ZipFile(path) as ours, zipfile.ZipFile(os.path.join(HERE, f"{name}.keras")) \
            as theirs:
        assert sorted(ours.namelist()) == sorted(theirs.namelist()) == \
            ["config.json", "metadata.json", "model.weights.h5"]
        assert _h5_layout(ours.read("model.weights.h5")) == \
            _h5_layout(theirs.read("model.weights.h5"))
        got, want = json.loads(ours.read("config.json")), json.loads(theirs.read("config.json"))
        assert _key_diff(_key_tree(got), _key_tree(want)) == []
        assert (got["module"], got["class_name"], got["registered_name"]) == \
            (want["module"], want["class_name"], want["registered_name"])
        assert set(json.loads(ours.read("metadata.json"))) == {"keras_version", "date_saved"}


def test_weights_file_layout_matches_keras(tmp_path):
    model, _, _ = _trained("nested_model")
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    with open(path, "rb") as f:
        ours = _h5_layout(f.read())
    with open(os.path.join(HERE, "nested_model.weights.h5"), "rb") as f:
        assert ours == _h5_layout(f.read())


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("name", sorted(ARCHS))
def test_round_trip_predictions_config_and_optimizer(name, tmp_path):
    model, x, _ = _trained(name)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))
    assert loaded.get_config() == model.get_config()
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert loaded.compiled


def test_to_json_and_model_from_json():
    model, x, _ = _trained("functional_two_inputs")
    rebuilt = keras.models.model_from_json(model.to_json())
    assert rebuilt.get_config() == model.get_config()
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(np.asarray(rebuilt.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))


def test_sequential_and_functional_from_config():
    for name in ("mlp_sequential", "nested_model"):
        model, _, _ = _trained(name)
        clone = type(model).from_config(model.get_config())
        assert clone.get_config() == model.get_config()
        assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_save_weights_load_weights_round_trip(tmp_path):
    model, x, _ = _trained("mlp_sequential")
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    other, _, _ = mlp_sequential()
    other.load_weights(path)
    np.testing.assert_array_equal(np.asarray(other.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights(str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        model.save(str(tmp_path / "m.h5"))


@pytest.mark.parametrize("name", ["functional_two_inputs", "normalization_preproc"])
def test_resumed_training_continues_exactly(name, tmp_path):
    # oracle: one uninterrupted run; shuffle=False so both runs see the same batches
    keras.utils.set_random_seed(0)
    model, x, y = ARCHS[name]()
    start = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    want = model.get_weights()

    keras.utils.set_random_seed(0)
    first, _, _ = ARCHS[name]()
    first.set_weights(start)
    first.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    path = str(tmp_path / "half.keras")
    first.save(path)
    resumed = keras.models.load_model(path)
    resumed.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), want):
        np.testing.assert_array_equal(a, b)


@keras.saving.register_keras_serializable(package="RoundTrip")
class TwoLayer(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.head = keras.layers.Dense(1)

    def call(self, x):
        return self.head(self.hidden(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_registered_model_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    model = TwoLayer(3, name="two")
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    model(x[:1])
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    path = str(tmp_path / "sub.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        layout = _h5_layout(z.read("model.weights.h5"))
        cfg = json.loads(z.read("config.json"))
    assert cfg["registered_name"] == "RoundTrip>TwoLayer"
    assert {"head/vars/0", "hidden/vars/0", "optimizer/vars/0"} <= set(layout)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, TwoLayer) and loaded.units == 3
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))


class Unregistered(keras.layers.Layer):
    def call(self, x):
        return x * 2.0


def test_custom_objects_needed_for_unregistered_layer(tmp_path):
    model = keras.Sequential([keras.Input((3,)), Unregistered(name="twice"),
                              keras.layers.Dense(2)])
    path = str(tmp_path / "c.keras")
    model.save(path)
    with pytest.raises(ValueError, match="Unregistered.*not a registered serializable"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, custom_objects={"Unregistered": Unregistered})
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    with keras.saving.custom_object_scope({"Unregistered": Unregistered}):
        assert keras.models.load_model(path).get_layer("twice").name == "twice"


def test_failed_load_weights_leaves_model_unchanged_and_skip_mismatch(tmp_path):
    from tapeflow.keras.saving import saving_api

    small = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    big = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(5)])
    path = str(tmp_path / "small.weights.h5")
    small.save_weights(path)
    before = [w.copy() for w in big.get_weights()]
    with pytest.raises(ValueError, match=r"small\.weights\.h5.*Dense.*layers/dense_1/vars.*"
                                         r"shape \(4, 2\) but the model expects \(4, 5\)"):
        big.load_weights(path)
    for a, b in zip(big.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the first layer was not half-loaded
    with pytest.warns(UserWarning, match="skip_mismatch"):
        saving_api.load_weights(big, path, skip_mismatch=True)
    np.testing.assert_array_equal(big.get_weights()[0], small.get_weights()[0])
    np.testing.assert_array_equal(big.get_weights()[2], before[2])


def custom_loss(y_true, y_pred):
    return (y_true - y_pred) ** 2


def test_custom_loss_function_round_trip(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=custom_loss)
    path = str(tmp_path / "loss.keras")
    model.save(path)
    with pytest.raises(ValueError, match="custom_loss.*safe_mode=False"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, custom_objects={"custom_loss": custom_loss})
    x = np.ones((4, 3), "float32")
    loaded.fit(x, np.ones((4, 1), "float32"), epochs=1, verbose=0)
    assert keras.models.load_model(path, compile=False).optimizer is None


def test_wrappers_cells_and_lambda_layout_and_round_trip(tmp_path):
    from tapeflow.keras.saving import h5_store

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((5, 4)),
        keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True)),
        keras.layers.TimeDistributed(keras.layers.Dense(2)),
        keras.layers.RNN(keras.layers.GRUCell(3)),
        keras.layers.Lambda(lambda t: t * 2.0)])
    paths = h5_store.weight_paths(model)
    # Keras 3 keeps wrapped layers and cells under their attribute names
    assert paths["layers/bidirectional/forward_layer/cell/vars"] == [(4, 12), (3, 12), (12,)]
    assert paths["layers/bidirectional/backward_layer/cell/vars"] == [(4, 12), (3, 12), (12,)]
    assert paths["layers/time_distributed/layer/vars"] == [(6, 2), (2,)]
    assert paths["layers/rnn/cell/vars"] == [(2, 9), (3, 9), (2, 9)]
    assert paths["layers/lambda/vars"] == []
    path = str(tmp_path / "w.keras")
    model.save(path)
    with pytest.raises(ValueError, match="lambda.*bytecode.*safe_mode=False"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, safe_mode=False)  # the user trusts this file
    x = np.random.default_rng(0).random((2, 5, 4), dtype="float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_overwrite_false_asks_before_replacing(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = str(tmp_path / "sub" / "m.keras")  # the folder is created
    model.save(path)
    stamp = open(path, "rb").read()
    model.set_weights([w + 1.0 for w in model.get_weights()])
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    model.save(path, overwrite=False)
    assert open(path, "rb").read() == stamp
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    model.save(path, overwrite=False)
    np.testing.assert_array_equal(keras.models.load_model(path).get_weights()[1],
                                  model.get_weights()[1])


def test_shared_layer_and_dict_inputs_outputs_round_trip(tmp_path):
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = keras.layers.Dense(4, name="shared")
    ha, hb = shared(a), shared(b)
    o1 = keras.layers.Dense(1, name="o1")(keras.layers.Add()([ha, hb]))
    o2 = keras.layers.Dense(2, name="o2")(hb)
    model = keras.Model({"a": a, "b": b}, {"x": o1, "y": o2}, name="multi")
    cfg = model.get_config()
    assert cfg["input_layers"] == {"a": ["a", 0, 0], "b": ["b", 0, 0]}
    assert cfg["output_layers"] == {"x": ["o1", 0, 0], "y": ["o2", 0, 0]}
    shared_cfg = [layer for layer in cfg["layers"] if layer["name"] == "shared"][0]
    assert [n["args"][0]["config"]["keras_history"] for n in shared_cfg["inbound_nodes"]] == \
        [["a", 0, 0], ["b", 0, 0]]  # two calls of one layer: node indices 0 and 1
    model.compile(optimizer="adam", loss={"x": "mse", "y": "mse"})
    rng = np.random.default_rng(0)
    x = {"a": rng.random((4, 3), dtype="float32"), "b": rng.random((4, 3), dtype="float32")}
    model.fit(x, {"x": np.ones((4, 1)), "y": np.ones((4, 2))}, verbose=0)
    path = str(tmp_path / "multi.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == cfg
    want, got = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for k in ("x", "y"):
        np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(want[k]))
