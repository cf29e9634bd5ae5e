"""Files written by Keras 3.15.1 (tests/data/keras_files) load in tapeflow and predict the same.

The oracle is Keras itself: ``expected.npz`` holds the inputs and what Keras's ``predict`` gave.
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
MANIFEST = json.load(open(os.path.join(HERE, "manifest.json")))
EXPECTED = np.load(os.path.join(HERE, "expected.npz"))
ATOL = MANIFEST["atol"]
NAMES = sorted(MANIFEST["models"])


def _inputs(name):
    xs = [EXPECTED[k] for k in MANIFEST["models"][name]["inputs"]]
    return xs[0] if len(xs) == 1 else xs


def _h5_of(path):
    with zipfile.ZipFile(path) as z:
        return h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_loads_and_predicts_like_keras(name):
    entry = MANIFEST["models"][name]
    path = os.path.join(HERE, entry["file"])
    model = keras.models.load_model(path)
    got = model.predict(_inputs(name), verbose=0)
    want = EXPECTED[entry["outputs"][0]]
    np.testing.assert_allclose(np.asarray(got), want, atol=ATOL, rtol=0)
    # the optimizer state came back too: iteration count and every slot
    f = _h5_of(path)
    opt_vars = [v.numpy() for v in model.optimizer.variables]
    assert len(opt_vars) == len(f["optimizer/vars"])
    for i, v in enumerate(opt_vars):
        np.testing.assert_array_equal(v, f[f"optimizer/vars/{i}"][()])


@pytest.mark.parametrize("name", NAMES)
def test_keras_weights_file_loads_into_same_architecture(name):
    entry = MANIFEST["models"][name]
    fresh = keras.models.load_model(os.path.join(HERE, entry["file"]), compile=False)
    for w in fresh.weights:  # scramble so that loading must restore every weight
        w.assign(np.zeros(w.shape, w.dtype.name if hasattr(w.dtype, "name") else w.dtype))
    fresh.load_weights(os.path.join(HERE, entry["weights"]))
    got = fresh.predict(_inputs(name), verbose=0)
    np.testing.assert_allclose(np.asarray(got), EXPECTED[entry["outputs"][0]], atol=ATOL,
                               rtol=0)


def test_compile_false_skips_optimizer():
    model = keras.models.load_model(os.path.join(HERE, "mlp_sequential.keras"), compile=False)
    assert getattr(model, "optimizer", None) is None or not model.optimizer.variables


def test_loaded_keras_config_is_preserved():
    model = keras.models.load_model(os.path.join(HERE, "functional_two_inputs.keras"))
    cfg = model.get_config()
    with zipfile.ZipFile(os.path.join(HERE, "functional_two_inputs.keras")) as z:
        want = json.loads(z.read("config.json"))["config"]
    assert cfg["name"] == want["name"]
    assert [layer["name"] for layer in cfg["layers"]] == [layer["name"] for layer in want["layers"]]
    assert cfg["input_layers"] == want["input_layers"]
    assert cfg["output_layers"] == want["output_layers"]
    for got, exp in zip(cfg["layers"], want["layers"]):
        assert got["class_name"] == exp["class_name"]
        assert [[a["config"]["keras_history"] for a in _tensors(n["args"])]
                for n in got["inbound_nodes"]] == \
            [[a["config"]["keras_history"] for a in _tensors(n["args"])]
             for n in exp["inbound_nodes"]]


def _tensors(args):
    out, stack = [], [args]
    while stack:
        a = stack.pop(0)
        if isinstance(a, list):
            stack = list(a) + stack
        elif isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
            out.append(a)
    return out
