"""Golden Keras 3.15 cases for the layers of tests/layers: outputs, gradients with respect to the
float inputs and every trainable weight, and BatchNormalization's moving statistics."""

import pytest
from golden_utils import array, assert_close, cases, lookup, resolve, resolve_watched

import tapeflow as tf

MINE = ("Conv", "Pooling", "ZeroPadding", "UpSampling", "Cropping", "Embedding",
        "BatchNormalization", "LayerNormalization", "GroupNormalization", "RNN", "LSTM", "GRU",
        "Bidirectional", "Attention", "TimeDistributed", "SpatialDropout")
CASES = [c for c in cases("layers") if any(k in c["api"] for k in MINE)]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_layer_case(case):
    tf.keras.backend.clear_session()
    layer = lookup(case["api"])(*[resolve(a, case) for a in case["args"]],
                                **{k: resolve(v, case) for k, v in case["kwargs"].items()})
    call = case["call"]
    args = [resolve_watched(a, case, {}) for a in call["args"]]
    kwargs = {k: resolve_watched(v, case, {}) for k, v in call["kwargs"].items()}
    layer(*args, **kwargs)                                    # builds
    assert [tuple(w.shape) for w in layer.weights] == [tuple(w["shape"]) for w in case["weights"]]
    assert [w.path for w in layer.weights] == [w["path"] for w in case["weights"]]
    layer.set_weights([array(case, w["array"]) for w in case["weights"]])
    wrt = case.get("grads", {}).get("wrt", {})
    inputs = {n: tf.constant(array(case, n)) for n in wrt if n in case["arrays"] and
              not n.startswith("w")}
    weights = {w["array"]: v for w, v in zip(case["weights"], layer.weights, strict=True)}
    with tf.GradientTape() as tape:
        for t in inputs.values():
            tape.watch(t)
        args = [resolve_watched(a, case, inputs) for a in call["args"]]
        kwargs = {k: resolve_watched(v, case, inputs) for k, v in call["kwargs"].items()}
        out = layer(*args, **kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        names = [n for n in case["outputs"] if not n.startswith("moving_")]
        for name, got in zip(names, outs, strict=True):
            assert_close(got, case, name)
        if wrt:
            cots = case["grads"]["cotangents"]
            target = tf.add_n([tf.reduce_sum(o * array(case, c))
                               for o, c in zip(outs, cots, strict=True)]) if len(outs) > 1 \
                else tf.reduce_sum(outs[0] * array(case, cots[0]))
    if "moving_mean_after" in case["outputs"]:
        assert_close(layer.moving_mean, case, "moving_mean_after")
        assert_close(layer.moving_variance, case, "moving_variance_after")
    if wrt:
        srcs = [inputs[n] if n in inputs else weights[n] for n in wrt]
        got = tape.gradient(target, srcs)
        for (n, gname), g in zip(wrt.items(), got, strict=True):
            assert g is not None, f"{case['id']}: no gradient for {n}"
            assert_close(g, case, gname)
