"""Golden ``models`` cases: a Sequential MLP trained with train_on_batch and with fit (SGD),
compared step by step with Keras 3.15 (losses, accuracies, weights, predictions)."""

import numpy as np
import pytest
from golden_utils import array, assert_close, cases, lookup, resolve

import tapeflow
from tapeflow import keras

CASES = cases("models")


def _build(case):
    keras.backend.clear_session()
    layers = [lookup(spec["api"])(**spec["kwargs"]) for spec in case["layers"]]
    model = keras.Sequential([keras.Input(tuple(case["input_shape"]))] + layers)
    assert [w.path for w in model.weights] == [w["path"] for w in case["weights"]]
    model.set_weights([array(case, w["array"]) for w in case["weights"]])
    comp = case["compile"]
    opt = lookup(comp["optimizer"]["api"])(**comp["optimizer"]["kwargs"])
    model.compile(optimizer=opt, loss=comp["loss"], metrics=comp["metrics"])
    return model


def test_there_are_two_model_cases():
    assert sorted(c["procedure"]["method"] for c in CASES) == ["fit", "train_on_batch"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_model_case(case):
    model = _build(case)
    x, y = resolve(case["procedure"]["args"], case)
    assert_close(model(x), case, "predictions_init")
    proc = case["procedure"]
    names = [w["array"].rsplit("_", 1)[0] for w in case["weights"]]
    if proc["method"] == "train_on_batch":
        losses, accs, steps = [], [], {n: [] for n in names}
        for _ in range(proc["calls"]):
            loss, acc = model.train_on_batch(x, y, **proc["kwargs"])
            losses.append(loss)
            accs.append(acc)
            for n, w in zip(names, model.get_weights()):
                steps[n].append(w)
        assert_close(np.array(losses), case, "loss")
        assert_close(np.array(accs), case, "accuracy")
        for n in names:
            assert_close(np.stack(steps[n]), case, f"{n}_steps")
    else:
        history = model.fit(x, y, **proc["kwargs"])
        assert sorted(history.history) == ["accuracy", "loss"]
        assert_close(np.array(history.history["loss"]), case, "history_loss")
        assert_close(np.array(history.history["accuracy"]), case, "history_accuracy")
        for n, w in zip(names, model.get_weights()):
            assert_close(w, case, f"{n}_final")
    assert_close(model.predict(x, verbose=0), case, "predictions_final")
    assert isinstance(model(tapeflow.constant(x)), tapeflow.Tensor)
