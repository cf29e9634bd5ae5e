"""Regression metrics: MSE, MAE, MAPE, MSLE, RMSE, cosine similarity, log-cosh error."""

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor
from tapeflow.keras import losses as _losses
from tapeflow.keras.metrics.metric import squeeze_or_expand, to_array
from tapeflow.keras.metrics.reduction import Mean, MeanMetricWrapper

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "RootMeanSquaredError", "CosineSimilarity",
           "LogCoshError", "cosine_similarity"]


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
