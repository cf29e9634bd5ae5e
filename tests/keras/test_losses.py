"""keras.losses beyond the goldens: the logits fast path, errors, names, configs, gradients."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras

L = keras.losses
RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(5, 4)).astype(np.float32) * 3
LABELS = np.array([0, 3, 1, 2, 3], dtype=np.int32)
ONEHOT = np.eye(4, dtype=np.float32)[LABELS]


def _grad(loss_fn, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = loss_fn(x)
    return out, tape.gradient(out, x)


@pytest.mark.parametrize("cls,y", [(L.SparseCategoricalCrossentropy, LABELS),
                                   (L.CategoricalCrossentropy, ONEHOT)])
def test_softmax_output_uses_logits(cls, y):
    # same value and gradient (wrt the logits) as from_logits=True
    out1, g1 = _grad(lambda z: cls()(y, keras.activations.softmax(z)), LOGITS)
    out2, g2 = _grad(lambda z: cls(from_logits=True)(y, z), LOGITS)
    np.testing.assert_allclose(out1.numpy(), out2.numpy(), rtol=1e-6)
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-5, atol=1e-7)


def test_softmax_output_stable_for_extreme_logits():
    z = np.array([[200.0, 0.0, -200.0]], dtype=np.float32)
    got = L.sparse_categorical_crossentropy([2], keras.activations.softmax(z))
    np.testing.assert_allclose(got.numpy(), [400.0], rtol=1e-6)  # clipping would give 16.1
    clipped = L.sparse_categorical_crossentropy([2], keras.activations.softmax(z).numpy())
    assert float(clipped[0]) < 17.0


def test_sigmoid_output_uses_logits():
    z = np.array([[50.0, -3.0, 0.5]], dtype=np.float32)
    y = np.array([[0.0, 1.0, 1.0]], dtype=np.float32)
    got = L.BinaryCrossentropy()(y, keras.activations.sigmoid(z))
    want = L.BinaryCrossentropy(from_logits=True)(y, z)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-6)
    assert float(got) > 16.0


def test_from_logits_on_softmax_output_warns():
    with pytest.warns(UserWarning, match="from_logits=True"):
        L.CategoricalCrossentropy(from_logits=True)(ONEHOT, keras.activations.softmax(LOGITS))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 2\).*y_pred.shape=\(4, 3\)"):
        L.MeanSquaredError()(np.zeros((4, 2)), np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(5, 4\)"):
        L.CategoricalCrossentropy()(np.zeros((5, 3)), LOGITS)
    with pytest.raises(ValueError, match=r"y_true.shape=\(4,\).*y_pred.shape=\(5, 4\)"):
        L.SparseCategoricalCrossentropy()(LABELS[:4], LOGITS)


def test_trailing_one_axis_is_squeezed():
    y = np.arange(4, dtype=np.float32)
    p = y[:, None] + 1.0
    assert float(L.MeanSquaredError()(y, p)) == pytest.approx(1.0)
    np.testing.assert_allclose(
        L.SparseCategoricalCrossentropy(from_logits=True)(LABELS[:, None], LOGITS).numpy(),
        L.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS).numpy(), rtol=1e-6)


def test_reductions_and_sample_weight():
    y, p = ONEHOT, np.abs(LOGITS) / 10
    per = L.mean_squared_error(y, p).numpy()
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.5], np.float32)
    assert float(L.MeanSquaredError(reduction="sum")(y, p)) == pytest.approx(per.sum(), rel=1e-6)
    assert float(L.MeanSquaredError(reduction="mean")(y, p)) == pytest.approx(per.mean(),
                                                                             rel=1e-6)
    np.testing.assert_allclose(L.MeanSquaredError(reduction=None)(y, p).numpy(), per)
    got = L.MeanSquaredError()(y, p, sample_weight=w)
    assert float(got) == pytest.approx((per * w).sum() / 5, rel=1e-6)
    got = L.MeanSquaredError(reduction="mean_with_sample_weight")(y, p, sample_weight=w)
    assert float(got) == pytest.approx((per * w).sum() / w.sum(), rel=1e-6)
    with pytest.raises(ValueError, match="reduction.*sum_over_batch_size.*Received: "
                                         "reduction=avg"):
        L.MeanSquaredError(reduction="avg")


def test_ignore_class():
    labels = np.array([0, -1, 1, 2, -1], dtype=np.int32)
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)(labels, LOGITS)
    per = L.sparse_categorical_crossentropy(np.array([0, 1, 2]), LOGITS[[0, 2, 3]],
                                            from_logits=True).numpy()
    assert float(loss) == pytest.approx(per.mean(), rel=1e-6)


@pytest.mark.parametrize("name", ["mse", "mae", "mape", "msle", "huber", "log_cosh", "hinge",
                                  "squared_hinge", "categorical_hinge", "kl_divergence",
                                  "poisson", "cosine_similarity", "binary_crossentropy",
                                  "categorical_crossentropy", "binary_focal_crossentropy"])
def test_float64_gradient_matches_finite_differences(name):
    fn = L.get(name)
    y = RNG.uniform(0.1, 0.9, size=(3, 4))
    if name in ("categorical_crossentropy", "kl_divergence"):
        y = y / y.sum(-1, keepdims=True)
    p0 = RNG.uniform(0.15, 0.85, size=(3, 4))
    p = tf.constant(p0)
    with tf.GradientTape() as tape:
        tape.watch(p)
        out = tf.reduce_sum(fn(y, p))
    g = tape.gradient(out, p).numpy()
    eps = 1e-6
    num = np.zeros_like(p0)
    for i in np.ndindex(p0.shape):
        d = np.zeros_like(p0)
        d[i] = eps
        num[i] = (float(tf.reduce_sum(fn(y, tf.constant(p0 + d)))) -
                  float(tf.reduce_sum(fn(y, tf.constant(p0 - d))))) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_sparse_gradient_float64_finite_differences():
    z0 = LOGITS.astype(np.float64)
    f = lambda z: tf.reduce_sum(L.sparse_categorical_crossentropy(  # noqa: E731
        LABELS, tf.nn.softmax(z)))
    z = tf.constant(z0)
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = f(z)
    g = tape.gradient(out, z).numpy()
    num = np.zeros_like(z0)
    for i in np.ndindex(z0.shape):
        d = np.zeros_like(z0)
        d[i] = 1e-6
        num[i] = (float(f(tf.constant(z0 + d))) - float(f(tf.constant(z0 - d)))) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["mse", "mean_squared_error", "MSE", "mae", "mape", "msle",
                                  "kld", "bce", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy", "binary_crossentropy",
                                  "hinge", "poisson", "log_cosh", "logcosh", "huber"])
def test_string_names_give_functions(name):
    fn = L.get(name)
    assert callable(fn) and not isinstance(fn, L.Loss)
    assert L.deserialize(L.serialize(fn)) is fn


@pytest.mark.parametrize("cls", [L.MeanSquaredError, L.Huber, L.CategoricalCrossentropy,
                                 L.SparseCategoricalCrossentropy, L.BinaryCrossentropy,
                                 L.CosineSimilarity, L.BinaryFocalCrossentropy, L.KLDivergence])
def test_class_config_round_trip(cls):
    loss = cls(reduction="sum", name="custom")
    s = L.serialize(loss)
    assert s["module"] == "keras.losses" and s["class_name"] == cls.__name__
    assert s["registered_name"] is None
    again = L.deserialize(s)
    assert type(again) is cls and again.get_config() == loss.get_config()
    assert isinstance(L.get(cls.__name__), cls)


def test_unknown_names_and_bad_arguments():
    with pytest.raises(ValueError, match="Could not interpret loss identifier.*'mse'"):
        L.get("mean_sq_error")
    with pytest.raises(TypeError, match="unexpected keyword argument 'deltaa'"):
        L.Huber(deltaa=2.0)
    assert L.get(None) is None
    assert L.Huber(2.0).get_config()["delta"] == 2.0
