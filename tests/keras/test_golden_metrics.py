"""Golden cases of keras.metrics (Keras 3.15): result after each of two update_state calls
(the second weighted, one weight 0); configs carry Keras's keys."""

import pytest
from golden_utils import assert_close, cases, lookup, resolve, resolve_kwargs

import tapeflow as tf


@pytest.mark.parametrize("case", cases("metrics"), ids=lambda c: c["id"])
def test_metric_case(case):
    m = lookup(case["api"])(**resolve_kwargs(case["kwargs"], case))
    for upd, name in zip(case["updates"], case["outputs"]):
        m.update_state(*[resolve(a, case) for a in upd["args"]],
                       **resolve_kwargs(upd["kwargs"], case))
        got = m.result()
        assert isinstance(got, tf.Tensor) and got.dtype == tf.float32
        assert_close(got, case, name)
    config = m.get_config()
    for k, v in case["config"].items():
        if k == "name":   # Keras numbers repeated default names (auc_1); tapeflow does not
            assert config[k] == v.rsplit("_1", 1)[0] or config[k] == v
        else:
            assert config[k] == v, k
    m.reset_state()
    assert all(float(abs(v.numpy()).sum()) == 0.0 for v in m.variables)
