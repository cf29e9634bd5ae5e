"""Golden cases of keras.optimizers (Keras 3.15): five apply_gradients steps on two variables,
with schedules, clipping and weight decay; the configs carry Keras's keys and defaults."""

import numpy as np
import pytest
from golden_utils import array, assert_close, cases, lookup, resolve_kwargs

import tapeflow as tf


@pytest.mark.parametrize("case", cases("optimizers"), ids=lambda c: c["id"])
def test_optimizer_case(case):
    tf.keras.backend.clear_session()   # auto names are unique per session: "sgd", "sgd_1"
    opt = lookup(case["api"])(**resolve_kwargs(case["kwargs"], case))
    var0 = tf.Variable(array(case, "var0_init"))
    var1 = tf.Variable(array(case, "var1_init"))
    g0, g1 = array(case, "grads0"), array(case, "grads1")
    for s in range(case["steps"]):
        opt.apply_gradients([(tf.constant(g0[s]), var0), (tf.constant(g1[s]), var1)])
        np.testing.assert_allclose(var0.numpy(), array(case, "var0_steps")[s], rtol=case["rtol"],
                                   atol=case["atol"], err_msg=f"{case['id']} var0 step {s}")
        np.testing.assert_allclose(var1.numpy(), array(case, "var1_steps")[s], rtol=case["rtol"],
                                   atol=case["atol"], err_msg=f"{case['id']} var1 step {s}")
    assert int(opt.iterations) == case["steps"]
    if "learning_rates" in case["arrays"]:
        sched = opt._learning_rate
        assert_close([float(sched(k)) for k in range(case["steps"] + 1)], case,
                     "learning_rates")
    config = opt.get_config()
    assert set(config) == set(case["config"])
    for k, v in case["config"].items():
        if isinstance(v, float):
            assert config[k] == pytest.approx(v, rel=1e-7), k
        else:
            assert config[k] == v, k
