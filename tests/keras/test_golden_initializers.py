"""keras.initializers: golden statistics (Keras 3.15), seeding, string names and configs."""

import numpy as np
import pytest
from golden_utils import array, cases, lookup, resolve_kwargs

import tapeflow as tf
from tapeflow import keras
from tapeflow.keras import _rng


@pytest.mark.parametrize("case", cases("initializers"), ids=lambda c: c["id"])
def test_initializer_statistics(case):
    init = lookup(case["api"])(**resolve_kwargs(case["kwargs"], case))
    w = init(**case["call"]["kwargs"])
    assert isinstance(w, tf.Tensor)
    assert w.dtype == tf.float32
    assert tuple(w.shape) == tuple(case["call"]["kwargs"]["shape"])
    x = w.numpy().astype(np.float64)
    exp, tol = case["expected"], case["tolerance"]
    assert abs(x.mean() - exp["mean"]) <= tol["mean_atol"]
    assert abs(x.std() - exp["std"]) <= tol["std_rtol"] * exp["std"] + 1e-12
    bound = float(array(case, "expected_bound"))
    if np.isfinite(bound):
        assert np.abs(x).max() <= bound * (1 + tol["bound_rtol"])
        if tol.get("bound_reach"):
            assert np.abs(x).max() >= tol["bound_reach"] * bound
    if case.get("identifier"):
        same = keras.initializers.get(case["identifier"])
        assert type(same) is type(init)


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
                                  "lecun_normal", "lecun_uniform", "random_normal",
                                  "random_uniform", "truncated_normal", "orthogonal",
                                  "variance_scaling"])
def test_seeded_draws_repeat_and_unseeded_follow_global_seed(name):
    cls = type(keras.initializers.get(name))
    a = cls(seed=3)((8, 5)).numpy()
    b = cls(seed=3)((8, 5)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, cls(seed=4)((8, 5)).numpy())
    _rng.set_seed(11)
    c = cls()((8, 5)).numpy()
    _rng.set_seed(11)
    np.testing.assert_array_equal(c, cls()((8, 5)).numpy())


@pytest.mark.parametrize("name", sorted(set(keras.initializers.ALL_OBJECTS_DICT)))
def test_config_round_trip(name):
    init = keras.initializers.get(name)
    conf = keras.initializers.serialize(init)
    assert set(conf) == {"module", "class_name", "config", "registered_name"}
    assert conf["module"] == "keras.initializers"
    again = keras.initializers.deserialize(conf)
    assert type(again) is type(init) and again.get_config() == init.get_config()


def test_keras_file_config_loads():
    conf = {"module": "keras.initializers", "class_name": "GlorotUniform",
            "config": {"seed": None, "input_axes": None, "output_axes": None},
            "registered_name": None}
    assert isinstance(keras.initializers.get(conf), keras.initializers.GlorotUniform)
    assert keras.initializers.GlorotUniform().get_config() == conf["config"]
    assert keras.initializers.VarianceScaling().get_config()["distribution"] == "truncated_normal"


def test_get_variants_and_errors():
    assert keras.initializers.get(None) is None
    assert isinstance(keras.initializers.get(keras.initializers.Ones), keras.initializers.Ones)
    inst = keras.initializers.Zeros()
    assert keras.initializers.get(inst) is inst
    with pytest.raises(ValueError, match="glorot_uniform"):
        keras.initializers.get("glorot_uniformm")
    with pytest.raises(ValueError, match="scale"):
        keras.initializers.VarianceScaling(scale=-1.0)
    with pytest.raises(ValueError, match="mode"):
        keras.initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        keras.initializers.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="2D"):
        keras.initializers.Identity()((2, 2, 2))


def test_identity_orthogonal_constant_values():
    np.testing.assert_array_equal(keras.initializers.Identity(gain=2.0)((2, 3)).numpy(),
                                  2 * np.eye(2, 3, dtype=np.float32))
    q = keras.initializers.Orthogonal(seed=1)((6, 4)).numpy().astype(np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    q = keras.initializers.Orthogonal(seed=1)((3, 7)).numpy().astype(np.float64)
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)
    c = keras.initializers.Constant(3)((2,), dtype="float64")
    assert c.dtype == tf.float64 and c.numpy().tolist() == [3.0, 3.0]
    fan_in, fan_out = keras.initializers.compute_fans((3, 3, 8, 16))
    assert (fan_in, fan_out) == (72, 144)


def test_tf_random_set_seed_also_seeds_initializers():
    tf.random.set_seed(7)
    a = keras.initializers.GlorotUniform()((4, 4)).numpy()
    tf.random.set_seed(7)
    b = keras.initializers.GlorotUniform()((4, 4)).numpy()
    keras.utils.set_random_seed(7)
    c = keras.initializers.GlorotUniform()((4, 4)).numpy()
    keras.utils.set_random_seed(7)
    d = keras.initializers.GlorotUniform()((4, 4)).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, d)
