"""Golden cases of keras.losses (TF 2.21 / Keras 3.15): values for four reductions and the
gradient with respect to y_pred."""

import pytest
from golden_utils import array, assert_close, cases, lookup, resolve, resolve_kwargs

import tapeflow as tf


@pytest.mark.parametrize("case", cases("losses"), ids=lambda c: c["id"])
def test_loss_case(case):
    loss = lookup(case["api"])(**resolve_kwargs(case["kwargs"], case))
    y_pred = tf.constant(array(case, "y_pred"))
    args = [resolve(v, case) for v in case["call"]["args"]]
    args[1] = y_pred
    kwargs = resolve_kwargs(case["call"]["kwargs"], case)
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        out = loss(*args, **kwargs)
        target = tf.reduce_sum(out * array(case, case["grads"]["cotangents"][0]))
    assert_close(out, case, "out")
    assert out.dtype == tf.float32
    assert_close(tape.gradient(target, y_pred), case, case["grads"]["wrt"]["y_pred"])
    # Keras's config keys are all there, with the same values
    config = loss.get_config()
    for k, v in case["config"].items():
        assert config[k] == v, (k, config[k], v)


@pytest.mark.parametrize("case", [c for c in cases("losses") if c["id"].endswith("_none")],
                         ids=lambda c: c["id"])
def test_loss_function_matches_class(case):
    # the per-sample function under its string name gives the "none" reduction's values
    loss = lookup(case["api"])(**resolve_kwargs(case["kwargs"], case))
    fn = tf.keras.losses.get(case["config"]["name"].replace("huber_loss", "huber"))
    extra = {k: v for k, v in loss.get_config().items() if k not in ("name", "reduction")}
    got = fn(*[resolve(v, case) for v in case["call"]["args"]], **extra)
    assert_close(got, case, "out")
