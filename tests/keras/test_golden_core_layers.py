"""Golden cases (TF 2.21 / Keras 3.15) for the core and merge layers: outputs and gradients."""

import numpy as np
import pytest
from golden_utils import array, assert_close, cases, lookup, resolve, resolve_kwargs

import tapeflow as tf
from tapeflow.keras import backend

MINE = {"Dense", "Dropout", "Flatten", "Reshape", "Permute", "RepeatVector", "Rescaling",
        "Normalization", "Concatenate", "Add", "Multiply"}
CASES = [c for c in cases("layers") if c["api"].split(".")[-1] in MINE]


def test_every_core_layer_has_golden_cases():
    assert {c["api"].split(".")[-1] for c in CASES} == MINE


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_layer_case(case):
    backend.clear_session()
    layer = lookup(case["api"])(*resolve(case["args"], case), **resolve_kwargs(case["kwargs"],
                                                                                case))
    args = resolve(case["call"]["args"], case)
    kwargs = resolve_kwargs(case["call"]["kwargs"], case)
    if "adapt_data" in case["arrays"]:
        layer.adapt(array(case, "adapt_data"))
    layer(*args, **kwargs)
    if case["weights"]:
        layer.set_weights([array(case, w["array"]) for w in case["weights"]])
    assert [w.name for w in layer.weights] == [w["name"] for w in case["weights"]] or \
        not case["weights"]
    assert [w.path for w in layer.weights] == [w["path"] for w in case["weights"]] or \
        not case["weights"]
    wrt = case.get("grads", {}).get("wrt", {})
    watched = {}
    with tf.GradientTape() as tape:
        call_args = []
        for a, spec in zip(args, case["call"]["args"]):
            if isinstance(spec, dict) and spec.get("array") in wrt:
                t = tf.constant(a)
                tape.watch(t)
                watched[spec["array"]] = t
                call_args.append(t)
            elif isinstance(spec, list):
                ts = []
                for item, s in zip(a, spec):
                    t = tf.constant(item)
                    if s.get("array") in wrt:
                        tape.watch(t)
                        watched[s["array"]] = t
                    ts.append(t)
                call_args.append(ts)
            else:
                call_args.append(a)
        out = layer(*call_args, **kwargs)
        target = tf.reduce_sum(out * array(case, case["grads"]["cotangents"][0])) if wrt else None
    assert_close(out, case, case["outputs"][0])
    if "mean" in case["outputs"]:
        assert_close(layer.mean, case, "mean")
        assert_close(layer.variance, case, "variance")
    if wrt:
        weights = {w["array"]: v for w, v in zip(case["weights"], layer.weights)}
        sources = [watched.get(n, weights.get(n)) for n in wrt]
        grads = tape.gradient(target, sources)
        for name, g in zip(wrt, grads):
            assert_close(np.zeros_like(array(case, wrt[name])) if g is None else g, case,
                         wrt[name])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_layer_config_matches_keras(case):
    backend.clear_session()
    layer = lookup(case["api"])(*resolve(case["args"], case), **resolve_kwargs(case["kwargs"],
                                                                                case))
    assert layer.get_config() == case["config"]
