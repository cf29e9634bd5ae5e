"""Regression metrics: MSE, MAE, MAPE, MSLE, RMSE, cosine similarity, log-cosh error."""

import warnings

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor
from tapeflow.keras import losses as _losses
from tapeflow.keras.metrics.metric import Metric, squeeze_or_expand, to_array
from tapeflow.keras.metrics.reduction import Mean, MeanMetricWrapper

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "RootMeanSquaredError", "CosineSimilarity",
           "LogCoshError", "R2Score", "cosine_similarity"]


def _pair(y_true, y_pred):
    p = to_array(y_pred)
    if p.dtype.kind != "f":
        p = p.astype(np.float32)
    t = to_array(y_true, p.dtype)
    return squeeze_or_expand(t, p)


def _mse(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    d = p - t
    return Tensor(np.mean(d * d, axis=-1))


def _mae(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    return Tensor(np.mean(np.abs(p - t), axis=-1))


def cosine_similarity(y_true, y_pred, axis=-1):
    """Cosine similarity of ``y_true`` and ``y_pred`` along ``axis`` (positive, unlike the loss).

    >>> from tapeflow import keras
    >>> keras.metrics.cosine_similarity([[0.0, 1.0]], [[1.0, 1.0]]).numpy().round(4)
    array([0.7071], dtype=float32)
    """
    t, p = _pair(y_true, y_pred)
    tn = t / np.sqrt(np.maximum(np.sum(t * t, axis=axis, keepdims=True), 1e-12))
    pn = p / np.sqrt(np.maximum(np.sum(p * p, axis=axis, keepdims=True), 1e-12))
    return Tensor(np.sum(tn * pn, axis=axis))


class MeanSquaredError(MeanMetricWrapper):
    """Mean of ``(y_true - y_pred)**2``.

    >>> from tapeflow import keras
    >>> m = keras.metrics.MeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> float(m.result())
    0.25
    """

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_mse, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of ``|y_true - y_pred|``.

    >>> from tapeflow import keras
    >>> m = keras.metrics.MeanAbsoluteError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> float(m.result())
    0.25
    """

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_mae, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error.

    >>> from tapeflow import keras
    >>> m = keras.metrics.MeanAbsolutePercentageError()
    >>> m.update_state([[2.0]], [[1.0]])
    >>> float(m.result())
    50.0
    """

    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(_losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean squared logarithmic error.

    >>> from tapeflow import keras
    >>> m = keras.metrics.MeanSquaredLogarithmicError()
    >>> m.update_state([[1.0]], [[1.0]])
    >>> float(m.result())
    0.0
    """

    _direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(_losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity along ``axis``.

    >>> from tapeflow import keras
    >>> m = keras.metrics.CosineSimilarity()
    >>> m.update_state([[0.0, 1.0]], [[0.0, 2.0]])
    >>> float(m.result())
    1.0
    """

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)


class LogCoshError(MeanMetricWrapper):
    """Mean of ``log(cosh(y_pred - y_true))``.

    >>> from tapeflow import keras
    >>> m = keras.metrics.LogCoshError()
    >>> m.update_state([[0.0]], [[0.0]])
    >>> float(m.result())
    0.0
    """

    _direction = "down"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(_losses.log_cosh, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """Square root of the (weighted) mean of ``(y_true - y_pred)**2``.

    >>> from tapeflow import keras
    >>> m = keras.metrics.RootMeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> float(m.result())
    0.5
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _pair(y_true, y_pred)
        d = (p - t).astype(self._dtype)
        super().update_state(d * d, sample_weight=sample_weight)

    def result(self):
        return self._scalar(np.sqrt(super().result()._value))


class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output column, aggregated.

    Args:
      class_aggregation: ``"uniform_average"`` (mean over columns), ``"variance_weighted_average"``
        or None (one score per column).
      num_regressors: for the adjusted R2 (0: the plain R2).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> m = keras.metrics.R2Score()
    >>> m.update_state(np.array([[1.0], [4.0], [3.0]]), np.array([[2.0], [4.0], [4.0]]))
    >>> round(float(m.result()), 5)
    0.57143
    """

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of "
                             f"{valid}. Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError(f"Invalid value for argument `num_regressors`. Expected a value "
                             f">= 0. Received: num_regressors={num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable((), name="num_samples")
        self._built = False

    def _build(self, shape):
        if len(shape) != 2:
            raise ValueError(f"R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shape: {shape}.")
        n = (shape[-1],)
        self.squared_sum = self.add_variable(n, name="squared_sum")
        self.sum = self.add_variable(n, name="sum")
        self.total_mse = self.add_variable(n, name="residual")
        self.count = self.add_variable(n, name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = to_array(y_true, self._dtype)
        p = to_array(y_pred, self._dtype)
        t, p = squeeze_or_expand(t, p)
        if not self._built:
            self._build(t.shape)
        w = np.asarray(1.0 if sample_weight is None else to_array(sample_weight, self._dtype),
                       self._dtype)
        if w.ndim == 1:
            w = w[:, None]
        w = np.broadcast_to(w, t.shape)
        wt = t * w
        self.sum._value += wt.sum(axis=0)
        self.squared_sum._value += (t * wt).sum(axis=0)
        self.total_mse._value += ((t - p) ** 2 * w).sum(axis=0)
        self.count._value += w.sum(axis=0)
        self.num_samples._value += t.size

    def result(self):
        if not self._built:
            return self._scalar(0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum._value / self.count._value
            total = self.squared_sum._value - self.sum._value * mean
            raw = 1 - self.total_mse._value / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = np.sum(total * raw) / np.sum(total)
        else:
            score = raw
        n, k = float(self.num_samples._value), self.num_regressors
        if k:
            if k > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 "
                              "score. Falling back to standard R2 score.", stacklevel=2)
            elif k == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard "
                              "R2 score.", stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - k - 1.0)
        return Tensor(np.asarray(score, dtype=self._dtype))

    def reset_state(self):
        for v in self.variables:
            v._value[...] = 0

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
