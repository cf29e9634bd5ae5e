"""More files written by Keras 3.15.1 (tests/data/keras_files/extra): the layers that did not move
between Keras and tapeflow before the interop audit (MultiHeadAttention's sub-layers,
Bidirectional/TimeDistributed/RNN(StackedRNNCells) nested configs, SpatialDropout configs, custom
activations, a functional model nested in another), every optimizer's state.

The files come from ``tools/check_keras_interop.py`` (its Keras side); ``expected.npz`` holds the
inputs, what Keras's ``predict`` returned and Keras's optimizer variables. Loading them in
tapeflow must predict the same; saving them again from tapeflow must write the HDF5 tree and the
config Keras wrote (which is what makes tapeflow's files load in Keras).
"""

import importlib.util
import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

from tapeflow import keras
from tapeflow.keras.saving import h5_store

HERE = os.path.join(os.path.dirname(__file__), "..", "data", "keras_files", "extra")
MANIFEST = json.load(open(os.path.join(HERE, "manifest.json")))
EXPECTED = np.load(os.path.join(HERE, "expected.npz"))
ATOL = MANIFEST["atol"]
NAMES = sorted(MANIFEST["models"])
WITH_WEIGHTS = sorted(n for n in NAMES if MANIFEST["models"][n]["weights"])


def _load_interop_tool():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "check_keras_interop.py")
    spec = importlib.util.spec_from_file_location("check_keras_interop", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The custom objects of the "custom" case: the very builders tools/check_keras_interop.py uses
# (registered with tapeflow's keras here), so the two cannot drift apart.
_CUSTOM = _load_interop_tool()._custom_objects(keras)
soft_clip = _CUSTOM["soft_clip"]
Subclassed = _CUSTOM["Subclassed"]


def _inputs(name):
    keys = MANIFEST["models"][name]["inputs"]
    if any(k.startswith("x_") for k in keys):
        return {k[2:]: EXPECTED[f"{name}/{k}"] for k in keys}
    xs = [EXPECTED[f"{name}/{k}"] for k in sorted(keys, key=lambda k: int(k[1:]))]
    return xs[0] if len(xs) == 1 else xs


def _check_predictions(model, name):
    got = model.predict(_inputs(name), verbose=0)
    outs = MANIFEST["models"][name]["outputs"]
    got = got if isinstance(got, dict) else {"0": got}
    assert sorted(f"y_{k}" for k in got) == sorted(outs)
    for k, v in got.items():
        np.testing.assert_allclose(np.asarray(v), EXPECTED[f"{name}/y_{k}"], atol=ATOL, rtol=0)


def _h5_tree(h5):
    out = {}
    h5.visititems(lambda n, o: out.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset)
                  else None)
    return out


def _members(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json")), h5py.File(io.BytesIO(
            z.read("model.weights.h5")), "r")


def _resaved_members(name, tmp_path):
    """The (config, weights) members of the Keras file ``name`` saved again by tapeflow, and
    those of the Keras file itself."""
    original = os.path.join(HERE, f"{name}.keras")
    path = str(tmp_path / f"{name}.keras")
    keras.models.load_model(original).save(path)
    return _members(path), _members(original)


@pytest.mark.parametrize("name", NAMES)
def test_extra_keras_file_loads_and_predicts_like_keras(name):
    model = keras.models.load_model(os.path.join(HERE, f"{name}.keras"))
    _check_predictions(model, name)
    # the optimizer came back with every variable Keras had, values included
    n = MANIFEST["models"][name]["optimizer_variables"]
    opt = [v.numpy() for v in model.optimizer.variables]
    assert len(opt) == n
    for i, v in enumerate(opt):
        np.testing.assert_allclose(v, EXPECTED[f"{name}/opt_{i}"], atol=1e-6, rtol=0)


RESUMABLE = sorted(n for n in NAMES if MANIFEST["models"][n]["resumed"])


@pytest.mark.parametrize("name", RESUMABLE)
def test_training_resumed_from_a_keras_file_continues_as_in_keras(name):
    # Keras trained one more epoch (shuffle=False) after saving; tapeflow, starting from the
    # file, must land on the same weights: the optimizer variables mean the same thing.
    model = keras.models.load_model(os.path.join(HERE, f"{name}.keras"))
    (target,) = MANIFEST["models"][name]["targets"]
    model.fit(_inputs(name), EXPECTED[f"{name}/{target}"], batch_size=16, epochs=1,
              shuffle=False, verbose=0)
    (resumed,) = MANIFEST["models"][name]["resumed"]
    np.testing.assert_allclose(np.asarray(model.predict(_inputs(name), verbose=0)),
                               EXPECTED[f"{name}/{resumed}"], atol=MANIFEST["resume_atol"],
                               rtol=0)


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_extra_keras_weights_file_restores_every_weight(name):
    model = keras.models.load_model(os.path.join(HERE, f"{name}.keras"), compile=False)
    for w in model.weights:
        w.assign(np.zeros(w.shape, w.dtype.name))
    model.load_weights(os.path.join(HERE, MANIFEST["models"][name]["weights"]))
    _check_predictions(model, name)


@pytest.mark.parametrize("name", NAMES)
def test_resaved_by_tapeflow_has_the_keras_weights_tree(name, tmp_path):
    # The HDF5 paths Keras reads (MultiHeadAttention's query_dense/..., a nested functional
    # model's "functional" group, cells of stacked RNNs) are the ones tapeflow writes.
    (_, got), (_, want) = _resaved_members(name, tmp_path)
    assert _h5_tree(got) == _h5_tree(want)


def _config_diffs(a, b, path="", out=None):
    """Differences between tapeflow's config ``a`` and Keras's ``b``, leaving out the ones Keras
    does not need: ids of shared objects, a ``build_config`` Keras writes for layers without
    weights, ``"mask": null`` call arguments, ``axis`` as an int instead of a one-item list,
    ``module`` of a registered custom class (``__main__`` instead of null), and float round-off."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k == "shared_object_id" or (k in ("build_config", "mask") and k not in a):
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k} only in {'keras' if k in b else 'tapeflow'}")
            elif k == "axis" and [a[k]] == b[k]:
                continue
            elif k == "module" and a.get("registered_name") and b[k] is None:
                continue
            else:
                _config_diffs(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _config_diffs(x, y, f"{path}[{i}]", out)
    elif isinstance(a, float) and isinstance(b, float):
        if abs(a - b) > 1e-6 * max(1.0, abs(b)):
            out.append(f"{path}: {a} != {b}")
    elif a != b:
        out.append(f"{path}: {json.dumps(a)[:120]} != {json.dumps(b)[:120]}")
    return out


@pytest.mark.parametrize("name", NAMES)
def test_resaved_by_tapeflow_has_the_keras_config(name, tmp_path):
    (got, _), (want, _) = _resaved_members(name, tmp_path)
    diffs = [d for d in _config_diffs(got, want)
             # Keras 3.15 omits the seed of SimpleRNN from its config (it takes the argument)
             if not d.endswith(".config.seed only in tapeflow")]
    assert diffs == []


# ------------------------------------------------------------------- the individual fixes
def test_spatial_dropout_config_is_keras_s():
    # recorded from Keras 3.15.1: BaseSpatialDropout.get_config has no "trainable" and a
    # string dtype (Keras's constructor refuses "trainable")
    assert keras.layers.SpatialDropout1D(0.1, name="s").get_config() == {
        "rate": 0.1, "seed": None, "name": "s", "dtype": "float32"}
    assert keras.layers.SpatialDropout2D(0.1, name="s").get_config() == {
        "rate": 0.1, "seed": None, "name": "s", "dtype": "float32",
        "data_format": "channels_last"}


def test_nested_layer_configs_are_full_keras_dicts():
    layer = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))
    layer(np.zeros((2, 4, 5), "float32"))
    config = layer.get_config()
    for key in ("layer", "backward_layer"):
        assert set(config[key]) == {"module", "class_name", "config", "registered_name",
                                    "build_config"}
        assert config[key]["module"] == "keras.layers"
        # Keras forces zero_output_for_mask=return_sequences on both directions
        assert config[key]["config"]["zero_output_for_mask"] is True
    td = keras.layers.TimeDistributed(keras.layers.Dense(2)).get_config()["layer"]
    assert td["module"] == "keras.layers" and td["registered_name"] is None
    cells = keras.layers.RNN(keras.layers.StackedRNNCells(
        [keras.layers.GRUCell(2), keras.layers.LSTMCell(2)])).get_config()["cell"]
    assert cells["class_name"] == "StackedRNNCells"
    assert [c["class_name"] for c in cells["config"]["cells"]] == ["GRUCell", "LSTMCell"]
    assert all(c["module"] == "keras.layers" for c in cells["config"]["cells"])


def test_nested_layer_config_of_a_registered_custom_cell_round_trips():
    @keras.saving.register_keras_serializable(package="InteropTest")
    class Cell(keras.layers.Layer):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

        def call(self, x, states):
            h = keras.activations.tanh(x @ self.kernel + states[0])
            return h, [h]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    rnn = keras.layers.RNN(Cell(3))
    config = rnn.get_config()
    assert config["cell"]["registered_name"] == "InteropTest>Cell"
    clone = keras.layers.RNN.from_config(config)
    assert type(clone.cell) is Cell and clone.cell.units == 3


def test_custom_activation_serializes_as_keras_does():
    # recorded from Keras 3.15.1 (Dense(3, activation=soft_clip).get_config()["activation"])
    layer = keras.layers.Dense(3, activation=soft_clip)
    assert layer.get_config()["activation"] == {
        "module": "builtins", "class_name": "function", "config": "Interop>soft_clip",
        "registered_name": "function"}
    assert keras.layers.Dense.from_config(layer.get_config()).activation is soft_clip


def test_multi_head_attention_weights_live_under_its_projections():
    q, v = keras.Input((5, 8)), keras.Input((6, 8))
    model = keras.Model([q, v], keras.layers.MultiHeadAttention(2, 4)(q, v))
    paths = {p: s for p, s in h5_store.weight_paths(model).items() if s}
    # recorded from Keras 3.15.1's model.weights.h5
    assert paths == {
        "layers/multi_head_attention/key_dense/vars": [(8, 2, 4), (2, 4)],
        "layers/multi_head_attention/output_dense/vars": [(2, 4, 8), (8,)],
        "layers/multi_head_attention/query_dense/vars": [(8, 2, 4), (2, 4)],
        "layers/multi_head_attention/value_dense/vars": [(8, 2, 4), (2, 4)]}


def test_nested_functional_model_is_stored_as_functional():
    x = keras.Input((3,))
    inner = keras.Model(x, keras.layers.Dense(2)(x), name="inner")
    y = keras.Input((3,))
    outer = keras.Model(y, inner(y))
    paths = {p for p, s in h5_store.weight_paths(outer).items() if s}
    # Keras 3 names the group after the class Functional, whatever the model's name
    assert paths == {"layers/functional/layers/dense/vars"}


def test_subclassed_model_layout_is_keras_s():
    model = Subclassed(4)
    model(np.ones((2, 5), "float32"))
    paths = {p: s for p, s in h5_store.weight_paths(model).items() if s}
    # recorded from Keras 3.15.1: attributes sorted, private ones last; `layers` (the tracked
    # layers) is met between "branches"/"block" and "output_layer", so _head and output_layer
    # are saved as layers/dense and layers/dense_1; a Block's private _inner as block/_inner
    assert paths == {
        "block/_inner/vars": [(5, 4), (4,)], "block/extra/vars": [(4, 4), (4,)],
        "branches/dense/vars": [(5, 3), (3,)], "branches/dense_1/vars": [(3, 1), (1,)],
        "layers/dense/vars": [(4, 2), (2,)], "layers/dense_1/vars": [(2, 1), (1,)]}


def test_weights_the_layout_cannot_reach_are_refused_not_dropped(tmp_path):
    # How MultiHeadAttention lost its weights before the audit: a built-in layer keeping a
    # sub-layer only in a private attribute (tapeflow's own classes are walked through public
    # attributes and properties). Saving must refuse rather than write a file without them,
    # and loading must refuse rather than leave them at their initial values.
    class Holder(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._proj = keras.layers.Dense(2)

        def call(self, x):
            return self._proj(x)

    Holder.__module__ = "tapeflow.keras.layers.pretend_builtin"
    model = keras.Sequential([keras.Input((3,)), Holder()])
    assert len(model.weights) == 2
    path = tmp_path / "w.weights.h5"
    with pytest.raises(ValueError, match=r"Cannot save model .*belong to no layer"):
        model.save_weights(str(path))
    assert not os.path.exists(path)
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save_weights(str(path))
    with pytest.raises(ValueError, match=r"Cannot load .*w\.weights\.h5.* into model .*"
                                         r"belong to no layer"):
        model.load_weights(str(path))
