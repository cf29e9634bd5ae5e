"""keras.metrics beyond the goldens: names, state, no tape recording, confusion metrics, AUC."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras

M = keras.metrics
RNG = np.random.default_rng(1)


@pytest.mark.parametrize("name,cls", [("accuracy", M.Accuracy), ("acc", M.Accuracy),
                                      ("mse", M.MeanSquaredError), ("mae", M.MeanAbsoluteError),
                                      ("AUC", M.AUC), ("auc", M.AUC),
                                      ("binary_accuracy", M.BinaryAccuracy),
                                      ("sparse_categorical_accuracy",
                                       M.SparseCategoricalAccuracy),
                                      ("precision", M.Precision), ("Recall", M.Recall),
                                      ("rmse", M.RootMeanSquaredError),
                                      ("categorical_crossentropy", M.CategoricalCrossentropy)])
def test_get_by_name(name, cls):
    m = M.get(name)
    assert type(m) is cls
    assert m.dtype == "float32"
    s = M.serialize(m)
    assert s["module"] == "keras.metrics" and s["class_name"] == cls.__name__
    again = M.deserialize(s)
    assert type(again) is cls and again.get_config() == m.get_config()


def test_get_errors_and_passthrough():
    with pytest.raises(ValueError, match="Could not interpret metric identifier.*'accuracy'"):
        M.get("acuracy")
    f = lambda y, p: p  # noqa: E731
    assert M.get(f) is f
    assert M.get(None) is None
    assert isinstance(M.get(M.AUC), M.AUC)


def test_update_state_records_nothing_on_tape():
    x = tf.constant(RNG.normal(size=(4, 3)).astype(np.float32))
    m = M.CategoricalCrossentropy()
    acc = M.CategoricalAccuracy()
    with tf.GradientTape() as tape:
        tape.watch(x)
        p = keras.activations.softmax(x)
        n = len(tape._records)
        m.update_state(np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], p)
        acc.update_state(np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], p)
        assert len(tape._records) == n
    want = keras.losses.categorical_crossentropy(np.eye(3, dtype=np.float32)[[0, 1, 2, 0]],
                                                 x, from_logits=True).numpy().mean()
    assert float(m.result()) == pytest.approx(float(want), rel=1e-6)


def test_mean_sum_weights_and_reset():
    m = M.Mean()
    m.update_state([[1.0, 3.0], [5.0, 7.0]], sample_weight=[[1.0, 0.0], [1.0, 1.0]])
    assert float(m.result()) == pytest.approx((1 + 5 + 7) / 3)
    assert [v.shape for v in m.variables] == [(), ()]
    m.reset_state()
    assert float(m.result()) == 0.0
    s = M.Sum()
    s.update_state([1.0, 2.0], sample_weight=[2.0, 1.0])
    assert float(s.result()) == 4.0
    assert float(M.Mean()(np.array([2.0, 4.0]))) == 3.0  # __call__ updates and returns result


def test_mean_metric_wrapper_with_custom_fn():
    def abs_err(y_true, y_pred):
        return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)

    m = M.MeanMetricWrapper(abs_err, name="my_err")
    m.update_state([[1.0, 2.0]], [[2.0, 4.0]])
    assert m.name == "my_err" and float(m.result()) == pytest.approx(1.5)


def test_precision_recall_thresholds_topk_classid():
    y = np.array([[0, 1, 1], [1, 0, 1]], np.float32)
    p = np.array([[0.2, 0.9, 0.6], [0.7, 0.3, 0.4]], np.float32)
    m = M.Precision(thresholds=[0.3, 0.5])
    m.update_state(y, p)
    np.testing.assert_allclose(m.result().numpy(), [4 / 4, 3 / 3])
    m = M.Recall(thresholds=[0.3, 0.5])
    m.update_state(y, p)
    np.testing.assert_allclose(m.result().numpy(), [4 / 4, 3 / 4])
    m = M.Precision(top_k=1)
    m.update_state(y, p)
    assert float(m.result()) == 1.0
    m = M.Recall(class_id=2)
    m.update_state(y, p)
    assert float(m.result()) == pytest.approx(0.5)
    tp, fp = M.TruePositives(), M.FalsePositives()
    tn, fn = M.TrueNegatives(), M.FalseNegatives()
    for c in (tp, fp, tn, fn):
        c.update_state(y, p, sample_weight=[1.0, 2.0])
    assert [float(c.result()) for c in (tp, fp, tn, fn)] == [2.0 + 2.0, 0.0, 1.0 + 2.0, 2.0]


def _exact_roc_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    return ((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())


def test_auc_close_to_exact_rank_auc():
    y = (RNG.random(500) < 0.4).astype(np.float32)
    p = np.clip(0.3 * y + RNG.random(500) * 0.7, 0, 1).astype(np.float32)
    m = M.AUC(num_thresholds=1000)
    m.update_state(y[:250], p[:250])
    m.update_state(y[250:], p[250:])
    assert float(m.result()) == pytest.approx(_exact_roc_auc(y, p), abs=2e-3)
    lo, hi = M.AUC(summation_method="minoring"), M.AUC(summation_method="majoring")
    for a in (lo, hi):
        a.update_state(y, p)
    assert float(lo.result()) <= float(m.result()) <= float(hi.result())
    logit = M.AUC(from_logits=True)
    logit.update_state(y, np.log(p + 1e-6) - np.log1p(-p + 1e-6))
    assert float(logit.result()) == pytest.approx(_exact_roc_auc(y, p), abs=1e-2)


def test_auc_multi_label_and_explicit_thresholds():
    y = (RNG.random((200, 3)) < 0.5).astype(np.float32)
    p = np.clip(0.4 * y + RNG.random((200, 3)) * 0.6, 0, 1).astype(np.float32)
    m = M.AUC(multi_label=True)
    m.update_state(y, p)
    want = np.mean([_exact_roc_auc(y[:, j], p[:, j]) for j in range(3)])
    assert float(m.result()) == pytest.approx(want, abs=1e-2)
    assert m.true_positives.shape == (200, 3)
    e = M.AUC(thresholds=[0.25, 0.5, 0.75])
    assert e.num_thresholds == 5 and e.get_config()["thresholds"] == [0.25, 0.5, 0.75]
    with pytest.raises(ValueError, match="num_thresholds"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XY")


def test_top_k_ties_count_as_inside():
    p = np.array([[0.5, 0.5, 0.1]], np.float32)
    assert float(M.sparse_top_k_categorical_accuracy([1], p, k=1)[0]) == 1.0
    assert float(M.top_k_categorical_accuracy([[0, 0, 1]], p, k=2)[0]) == 0.0


def test_accuracy_variants_shapes():
    assert M.sparse_categorical_accuracy(np.array([[1], [0]]),
                                         np.array([[0.2, 0.8], [0.9, 0.1]])).shape == (2,)
    m = M.BinaryAccuracy(threshold=0.3)
    m.update_state([1, 0, 1], [0.4, 0.2, 0.1])
    assert float(m.result()) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="threshold"):
        M.BinaryAccuracy(threshold=2.0)
    r = M.RootMeanSquaredError()
    r.update_state([[0.0], [0.0]], [[3.0], [4.0]])
    assert float(r.result()) == pytest.approx(np.sqrt(12.5))


YT = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
YP = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)


def test_f_scores_match_keras_documented_values():
    # values printed in Keras 3's FBetaScore / F1Score docstrings
    m = M.FBetaScore(beta=2.0, threshold=0.5)
    m.update_state(YT, YP)
    np.testing.assert_allclose(m.result().numpy(), [0.3846154, 0.90909094, 0.8333334], rtol=1e-5)
    f1 = M.get("f1_score")
    f1.threshold = 0.5
    f1.update_state(YT, YP)
    np.testing.assert_allclose(f1.result().numpy(), [0.5, 0.8, 0.6666667], rtol=1e-5)
    per_class = f1.result().numpy()
    macro = M.F1Score(average="macro", threshold=0.5)
    macro.update_state(YT, YP)
    assert float(macro.result()) == pytest.approx(per_class.mean(), rel=1e-5)
    weighted = M.F1Score(average="weighted", threshold=0.5)
    weighted.update_state(YT, YP)
    support = YT.sum(0)
    assert float(weighted.result()) == pytest.approx((per_class * support).sum() / support.sum(),
                                                     rel=1e-5)
    micro = M.F1Score(average="micro", threshold=0.5)
    micro.update_state(YT, YP)
    tp = ((YP > 0.5) & (YT == 1)).sum()
    fp = ((YP > 0.5) & (YT == 0)).sum()
    fn = ((YP <= 0.5) & (YT == 1)).sum()
    assert float(micro.result()) == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-5)
    with pytest.raises(ValueError, match="average"):
        M.F1Score(average="mean")
    with pytest.raises(ValueError, match="beta"):
        M.FBetaScore(beta=1)
    assert M.deserialize(M.serialize(macro)).get_config() == macro.get_config()


def test_r2_score():
    # Keras 3's R2Score docstring: 0.57142854
    m = M.R2Score()
    m.update_state(np.array([[1.0], [4.0], [3.0]]), np.array([[2.0], [4.0], [4.0]]))
    assert float(m.result()) == pytest.approx(0.57142854, rel=1e-6)
    yt = RNG.normal(size=(20, 2))
    yp = yt + 0.3 * RNG.normal(size=(20, 2))
    m = M.R2Score(class_aggregation=None)
    m.update_state(yt[:10], yp[:10])
    m.update_state(yt[10:], yp[10:])
    want = 1 - ((yt - yp) ** 2).sum(0) / ((yt - yt.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(m.result().numpy(), want, rtol=1e-4)
    adj = M.R2Score(num_regressors=3)
    adj.update_state(yt[:, :1], yp[:, :1])
    r2 = want[0]
    assert float(adj.result()) == pytest.approx(1 - (1 - r2) * 19 / 16, rel=1e-4)
    with pytest.raises(ValueError, match="class_aggregation"):
        M.R2Score(class_aggregation="median")
