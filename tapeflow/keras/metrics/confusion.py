"""Confusion-matrix metrics: TruePositives..., Precision, Recall and AUC (Keras 3 semantics).

A prediction is positive when it is strictly greater than a threshold (0.5 by default); a label
is positive when it is non-zero. ``sample_weight`` weights the counts.
"""

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor
from tapeflow.keras.metrics.metric import Metric, squeeze_or_expand, to_array

__all__ = ["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision",
           "Recall", "AUC"]

_EPSILON = 1e-7
_NEG_INF = -1e10


def _parse_thresholds(thresholds, default):
    if thresholds is None:
        return [default]
    ts = [float(thresholds)] if np.isscalar(thresholds) else [float(t) for t in thresholds]
    for t in ts:
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {thresholds}")
    return ts


def _evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=_EPSILON))


def _filter_top_k(x, k):
    # keep the top k values of the last axis, set the others to -1e10
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, bool)
    np.put_along_axis(mask, idx, True, axis=-1)
    return np.where(mask, x, _NEG_INF)


def confusion_counts(y_true, y_pred, thresholds, sample_weight=None, top_k=None, class_id=None,
                     evenly=False, multi_label=False, label_weights=None):
    """(tp, fp, tn, fn) per threshold (and per label when ``multi_label``), as NumPy arrays.

    >>> from tapeflow.keras.metrics.confusion import confusion_counts
    >>> [c.tolist() for c in confusion_counts([0, 1, 1], [0.2, 0.7, 0.4], [0.5])]
    [[1.0], [0.0], [1.0], [1.0]]
    """
    p = to_array(y_pred).astype(np.float32)
    t = to_array(y_true).astype(np.float32)
    p, t = squeeze_or_expand(p, t)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape. Received: "
                         f"y_true.shape={t.shape}, y_pred.shape={p.shape}.")
    w = None
    if sample_weight is not None:
        w = np.asarray(to_array(sample_weight), np.float32)
        w, _ = squeeze_or_expand(w, p) if w.ndim > p.ndim else (w, None)
        while w.ndim < p.ndim:
            w = w[..., None]
        w = np.broadcast_to(w, p.shape)
    if top_k is not None:
        p = _filter_top_k(p, top_k)
    if class_id is not None:
        p, t = p[..., class_id], t[..., class_id]
        w = None if w is None else w[..., class_id]
    if label_weights is not None and not multi_label:
        lw = np.broadcast_to(np.asarray(label_weights, np.float32), p.shape)
        w = lw if w is None else w * lw
    thresholds = np.asarray(thresholds, np.float32)
    n_t = len(thresholds)
    pos = t != 0
    if multi_label:
        p2 = p.reshape(-1, p.shape[-1])
        pos2 = pos.reshape(-1, p.shape[-1])
        w2 = np.ones_like(p2) if w is None else w.reshape(p2.shape)
    else:
        p2 = p.reshape(-1, 1)
        pos2 = pos.reshape(-1, 1)
        w2 = np.ones_like(p2) if w is None else w.reshape(-1, 1)
    n_labels = p2.shape[1]
    tw = np.where(pos2, w2, 0.0)
    fw = np.where(pos2, 0.0, w2)
    if evenly:
        # bucket each prediction: pred > thresholds[j] for j < bucket (Keras's fast path)
        b = np.ceil(np.clip(p2, 0.0, 1.0) * np.float32(n_t - 1)) - 1
        if thresholds[0] < 0.0 or thresholds[-1] > 1.0:  # endpoints padded with epsilon
            b = np.maximum(b, 0)
        b = b.astype(np.intp)
        tp = np.zeros((n_t, n_labels), np.float64)
        fp = np.zeros((n_t, n_labels), np.float64)
        cols = np.broadcast_to(np.arange(n_labels), b.shape)
        np.add.at(tp, (b, cols), tw)
        np.add.at(fp, (b, cols), fw)
        tp = np.cumsum(tp[::-1], axis=0)[::-1]
        fp = np.cumsum(fp[::-1], axis=0)[::-1]
        fn = tp[0] - tp
        tn = fp[0] - fp
    else:
        above = p2[None, :, :] > thresholds[:, None, None]          # (T, N, L)
        tp = (above * tw[None]).sum(axis=1)
        fp = (above * fw[None]).sum(axis=1)
        fn = tw.sum(axis=0)[None] - tp
        tn = fw.sum(axis=0)[None] - fp
    if not multi_label:
        tp, fp, tn, fn = (x[:, 0] for x in (tp, fp, tn, fn))
    return tp, fp, tn, fn


class _ConfusionCount(Metric):
    _which = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self._evenly = _evenly_distributed(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = dict(zip(("tp", "fp", "tn", "fn"), confusion_counts(
            y_true, y_pred, self.thresholds, sample_weight, evenly=self._evenly)))
        self.accumulator._value += counts[self._which]

    def result(self):
        v = self.accumulator._value
        return Tensor(np.array(v[0] if len(self.thresholds) == 1 else v, dtype=self._dtype))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self._init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) number of true positives.

    >>> from tapeflow import keras
    >>> m = keras.metrics.TruePositives()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> float(m.result())
    2.0
    """

    _which = "tp"


class FalsePositives(_ConfusionCount):
    """The (weighted) number of false positives.

    >>> from tapeflow import keras
    >>> m = keras.metrics.FalsePositives()
    >>> m.update_state([0, 1, 0, 0], [0, 0, 1, 1])
    >>> float(m.result())
    2.0
    """

    _which = "fp"


class TrueNegatives(_ConfusionCount):
    """The (weighted) number of true negatives.

    >>> from tapeflow import keras
    >>> m = keras.metrics.TrueNegatives()
    >>> m.update_state([0, 1, 0, 0], [1, 1, 0, 0])
    >>> float(m.result())
    2.0
    """

    _which = "tn"


class FalseNegatives(_ConfusionCount):
    """The (weighted) number of false negatives.

    >>> from tapeflow import keras
    >>> m = keras.metrics.FalseNegatives()
    >>> m.update_state([0, 1, 1, 1], [0, 1, 0, 0])
    >>> float(m.result())
    2.0
    """

    _which = "fn"


class _PrecisionRecall(Metric):
    _direction = "up"
    _names = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = _NEG_INF if top_k is not None else 0.5
        self.thresholds = [default] if thresholds is None else \
            _parse_thresholds(thresholds, default)
        self._evenly = _evenly_distributed(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), name="true_positives")
        setattr(self, self._names[1], self.add_variable((n,), name=self._names[1]))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = confusion_counts(y_true, y_pred, self.thresholds, sample_weight,
                                          top_k=self.top_k, class_id=self.class_id,
                                          evenly=self._evenly)
        self.true_positives._value += tp
        getattr(self, self._names[1])._value += {"false_positives": fp,
                                                 "false_negatives": fn}[self._names[1]]

    def result(self):
        tp = self.true_positives._value
        other = getattr(self, self._names[1])._value
        den = tp + other
        r = np.where(den > 0, tp / np.where(den > 0, den, 1), 0).astype(self._dtype)
        return Tensor(np.asarray(r[0] if len(self.thresholds) == 1 else r))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """``true_positives / (true_positives + false_positives)`` (threshold 0.5 by default).

    >>> from tapeflow import keras
    >>> m = keras.metrics.Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(float(m.result()), 4)
    0.6667
    """

    _names = ("true_positives", "false_positives")


class Recall(_PrecisionRecall):
    """``true_positives / (true_positives + false_negatives)`` (threshold 0.5 by default).

    >>> from tapeflow import keras
    >>> m = keras.metrics.Recall()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(float(m.result()), 4)
    0.6667
    """

    _names = ("true_positives", "false_negatives")


class AUC(Metric):
    """Area under the ROC or PR curve, from confusion counts at ``num_thresholds`` thresholds.

    Args:
      num_thresholds: number of evenly spaced thresholds (default 200).
      curve: ``"ROC"`` or ``"PR"``.
      summation_method: ``"interpolation"`` (trapezoids; Davis & Goadrich for PR),
        ``"minoring"`` or ``"majoring"``.
      thresholds: explicit thresholds (then ``num_thresholds`` = their number + 2).
      multi_label: one curve per label, averaged (weighted by ``label_weights``).
      from_logits: apply a sigmoid to predictions first.

    >>> from tapeflow import keras
    >>> m = keras.metrics.AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> round(float(m.result()), 4)
    0.75
    """

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        curve = str(curve).upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             f'["ROC", "PR"]')
        summation_method = str(summation_method).lower()
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             f'Expected values are ["interpolation", "majoring", "minoring"]')
        self.curve, self.summation_method = curve, summation_method
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            ts = sorted(_parse_thresholds(thresholds, 0.5))
            self.num_thresholds = len(ts) + 2
            self._evenly = _evenly_distributed([0.0] + ts + [1.0])
        else:
            if num_thresholds is None or num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: "
                                 f"num_thresholds={num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            ts = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - _EPSILON] + ts + [1.0 + _EPSILON])
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else \
            np.asarray(label_weights, np.float32)
        self._from_logits = from_logits
        self._built = False
        if num_labels is not None or not multi_label:
            self._build(num_labels)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, num_labels):
        shape = (self.num_thresholds,) if not self.multi_label else \
            (self.num_thresholds, num_labels)
        self.num_labels = num_labels if self.multi_label else None
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.true_negatives = self.add_variable(shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = to_array(y_pred).astype(np.float32)
        if not self._built:
            if p.ndim < 2:
                raise ValueError(f"AUC(multi_label=True) expects predictions of shape "
                                 f"(batch, num_labels), received shape {p.shape}.")
            self._build(p.shape[-1])
        if self._from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        tp, fp, tn, fn = confusion_counts(
            y_true, p, self._thresholds, sample_weight, evenly=self._evenly,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)
        self.true_positives._value += tp
        self.false_positives._value += fp
        self.true_negatives._value += tn
        self.false_negatives._value += fn

    def _interpolate_pr_auc(self):
        tp, fp, fn = (v._value.astype(np.float64) for v in
                      (self.true_positives, self.false_positives, self.false_negatives))
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        dpp = np.maximum(dp, 0)
        slope = np.divide(dtp, dpp, out=np.zeros_like(dtp), where=dpp != 0)
        intercept = tp[1:] - slope * p[1:]
        ok = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.ones_like(p[1:])
        np.divide(p[:-1], np.maximum(p[1:], 0), out=ratio, where=ok & (p[1:] > 0))
        num = slope * (dtp + intercept * np.log(ratio))
        den = np.maximum(tp[1:] + fn[1:], 0)
        inc = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
        return self._combine(inc)

    def _combine(self, terms):
        if self.multi_label:
            by_label = terms.sum(axis=0)
            if self.label_weights is None:
                return float(by_label.mean())
            lw = self.label_weights.astype(np.float64)
            return float((by_label * lw).sum() / lw.sum()) if lw.sum() else 0.0
        return float(terms.sum())

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._scalar(self._interpolate_pr_auc())
        tp, fp, tn, fn = (v._value.astype(np.float64) for v in
                          (self.true_positives, self.false_positives, self.true_negatives,
                           self.false_negatives))

        def div(a, b):
            return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

        recall = div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = div(fp, fp + tn), recall
        else:
            x, y = recall, div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._scalar(self._combine((x[:-1] - x[1:]) * heights))

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else
                  self.label_weights.tolist(), "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config
