"""F-scores: FBetaScore and F1Score over (batch, classes) predictions."""

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor
from tapeflow.keras.metrics.metric import Metric, to_array

__all__ = ["FBetaScore", "F1Score"]

_EPSILON = 1e-7


class FBetaScore(Metric):
    """``(1 + b^2) * precision * recall / (b^2 * precision + recall)`` per class.

    Args:
      average: None (one score per class), ``"micro"`` (from the total counts), ``"macro"``
        (mean of the class scores) or ``"weighted"`` (mean weighted by each class's support).
      beta: weight of recall (a float > 0).
      threshold: predictions above it count as positive; None: the argmax of each row.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> m = keras.metrics.FBetaScore(beta=2.0, threshold=0.5)
    >>> m.update_state(np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]]),
    ...                np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]))
    >>> m.result().numpy().round(4)
    array([0.3846, 0.9091, 0.8333], dtype=float32)
    """

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"Invalid `average` argument value. Expected one of: {{None, "
                             f"'micro', 'macro', 'weighted'}}. Received: average={average}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float > 0. "
                             f"Received: beta={beta!r}")
        if threshold is not None and (not isinstance(threshold, float)
                                      or not 0.0 < threshold <= 1.0):
            raise ValueError(f"Invalid `threshold` argument value. It should be a Python float "
                             f"with 0 < threshold <= 1. Received: threshold={threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, t_shape, p_shape):
        if len(p_shape) != 2 or len(t_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape={p_shape} and "
                             f"y_true.shape={t_shape}.")
        shape = () if self.average == "micro" else (p_shape[-1],)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = to_array(y_true, self._dtype)
        p = to_array(y_pred, self._dtype)
        if not self._built:
            self._build(t.shape, p.shape)
        if self.threshold is None:
            hit = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            hit = p > self.threshold
        p = hit.astype(self._dtype)
        w = None if sample_weight is None else to_array(sample_weight, self._dtype)[:, None]

        def wsum(x):
            return (x if w is None else x * w).sum(axis=self.axis)

        self.true_positives._value += wsum(p * t)
        self.false_positives._value += wsum(p * (1 - t))
        self.false_negatives._value += wsum((1 - p) * t)
        self.intermediate_weights._value += wsum(t)

    def result(self):
        if not self._built:
            return self._scalar(0.0)
        tp, fp, fn = (v._value for v in (self.true_positives, self.false_positives,
                                          self.false_negatives))
        precision = tp / (tp + fp + _EPSILON)
        recall = tp / (tp + fn + _EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + _EPSILON) * (1 + b2)
        if self.average == "weighted":
            iw = self.intermediate_weights._value
            score = np.sum(score * (iw / (iw.sum() + _EPSILON)))
        elif self.average is not None:
            score = np.mean(score)
        return Tensor(np.asarray(score, dtype=self._dtype))

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average,
                "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F-beta score with ``beta=1``: the harmonic mean of precision and recall.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> m = keras.metrics.F1Score(threshold=0.5)
    >>> m.update_state(np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]]),
    ...                np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]))
    >>> m.result().numpy().round(4)
    array([0.5   , 0.8   , 0.6667], dtype=float32)
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
