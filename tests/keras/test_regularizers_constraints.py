"""keras.regularizers and keras.constraints: values, gradients, names, configs, errors."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras

W = np.array([[1.0, -2.0], [3.0, 0.5]], dtype=np.float32)


def test_regularizer_values_and_defaults():
    r = keras.regularizers
    assert r.L1().get_config() == {"l1": 0.01}
    assert r.L2().get_config() == {"l2": 0.01}
    assert r.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    np.testing.assert_allclose(float(r.l1(0.1)(W)), 0.1 * np.abs(W).sum(), rtol=1e-6)
    np.testing.assert_allclose(float(r.l2(0.1)(W)), 0.1 * (W ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(float(r.l1_l2(l1=0.1, l2=0.2)(W)),
                               0.1 * np.abs(W).sum() + 0.2 * (W ** 2).sum(), rtol=1e-6)
    assert float(r.L1L2()(W)) == 0.0
    assert r.L2(0.1)(W).shape == ()


def test_regularizer_gradient():
    v = tf.Variable(W)
    with tf.GradientTape() as tape:
        loss = keras.regularizers.L1L2(l1=0.1, l2=0.2)(v)
    g = tape.gradient(loss, v).numpy()
    np.testing.assert_allclose(g, 0.1 * np.sign(W) + 0.4 * W, rtol=1e-6)


def test_orthogonal_regularizer():
    r = keras.regularizers.OrthogonalRegularizer(factor=1.0)
    assert float(r(np.eye(3, dtype=np.float32))) == pytest.approx(0.0, abs=1e-7)
    x = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    assert float(r(x)) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="rank 2"):
        r(np.ones(3, np.float32))


@pytest.mark.parametrize("name,cls", [("l1", "L1"), ("l2", "L2"), ("l1_l2", "L1L2"),
                                      ("L2", "L2"), ("orthogonal_regularizer",
                                                     "OrthogonalRegularizer")])
def test_regularizer_names_round_trip(name, cls):
    reg = keras.regularizers.get(name)
    assert type(reg).__name__ == cls
    conf = keras.regularizers.serialize(reg)
    assert conf["module"] == "keras.regularizers" and conf["class_name"] == cls
    assert keras.regularizers.deserialize(conf).get_config() == reg.get_config()


def test_regularizer_errors():
    with pytest.raises(ValueError, match="l1.*non-negative"):
        keras.regularizers.L1(-1.0)
    with pytest.raises(ValueError, match="l2"):
        keras.regularizers.L2(float("nan"))
    with pytest.raises(ValueError, match="Could not interpret regularizer.*'l1_l2'"):
        keras.regularizers.get("l3")
    assert keras.regularizers.get(None) is None


def _norm0(x):
    return np.sqrt((x.astype(np.float64) ** 2).sum(axis=0, keepdims=True))


def test_constraints_values():
    c = keras.constraints
    got = c.MaxNorm(2.0)(W).numpy()
    n = _norm0(W)
    np.testing.assert_allclose(got, W * np.clip(n, 0, 2) / (n + 1e-7), rtol=1e-6)
    np.testing.assert_allclose(c.UnitNorm()(W).numpy(), W / (n + 1e-7), rtol=1e-6)
    np.testing.assert_array_equal(c.NonNeg()(W).numpy(), np.maximum(W, 0))
    got = c.MinMaxNorm(min_value=1.0, max_value=2.0, rate=0.5)(W).numpy()
    want = W * (0.5 * np.clip(n, 1, 2) + 0.5 * n) / (n + 1e-7)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(c.UnitNorm(axis=1)(W).numpy(),
                               W / np.sqrt((W ** 2).sum(axis=1, keepdims=True)), rtol=1e-6)


@pytest.mark.parametrize("name,cls,conf", [
    ("max_norm", "MaxNorm", {"max_value": 2, "axis": 0}),
    ("non_neg", "NonNeg", {}),
    ("unit_norm", "UnitNorm", {"axis": 0}),
    ("min_max_norm", "MinMaxNorm", {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}),
])
def test_constraint_names_round_trip(name, cls, conf):
    con = keras.constraints.get(name)
    assert type(con).__name__ == cls
    assert con.get_config() == conf
    s = keras.constraints.serialize(con)
    assert s == {"module": "keras.constraints", "class_name": cls, "config": conf,
                 "registered_name": None}
    assert keras.constraints.deserialize(s).get_config() == conf


def test_constraint_errors():
    with pytest.raises(ValueError, match="Could not interpret constraint"):
        keras.constraints.get("maxnorm2")
    f = keras.constraints.get(lambda w: w)
    assert callable(f)
