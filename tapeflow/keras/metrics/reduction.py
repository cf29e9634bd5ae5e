"""Reduction metrics: Sum, Mean and MeanMetricWrapper (a per-sample function averaged)."""

from tapeflow._backend import np
from tapeflow.keras.metrics.metric import Metric, detach, squeeze_or_expand, to_array

__all__ = ["Sum", "Mean", "MeanMetricWrapper"]


def reduce_to_samplewise(values, sample_weight, reduce_fn, dtype, mask=None):
    """Keras's reduce_to_samplewise_values on NumPy arrays: weighted per-sample values.

    >>> import numpy as np
    >>> from tapeflow.keras.metrics.reduction import reduce_to_samplewise
    >>> reduce_to_samplewise(np.ones((2, 3)), np.array([1.0, 0.0]), np.mean, "float32")[0]
    array([1., 0.], dtype=float32)
    """
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=dtype)
        if mask is not None:
            sample_weight = sample_weight * np.asarray(mask, dtype=dtype)
        values, sample_weight = squeeze_or_expand(values, sample_weight)
        w_nd, v_nd = sample_weight.ndim, values.ndim
        if v_nd > w_nd:
            values = reduce_fn(values, axis=tuple(range(w_nd, v_nd)))
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {sample_weight.shape} cannot be "
                             f"broadcast to values of shape {values.shape}.") from None
        values = values * sample_weight
        if w_nd > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_nd)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen.

    >>> from tapeflow import keras
    >>> m = keras.metrics.Sum()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0])
    >>> float(m.result())
    16.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise(to_array(values), sample_weight, np.sum, self._dtype)
        self.total._value += values.sum(dtype=self._dtype)

    def result(self):
        return self._scalar(self.total._value)


class Mean(Metric):
    """The (weighted) mean of the values seen: ``total / count``.

    >>> from tapeflow import keras
    >>> m = keras.metrics.Mean()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    >>> float(m.result())
    2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None):
        mask = getattr(values, "_keras_mask", None)
        values, sample_weight = reduce_to_samplewise(
            to_array(values), None if sample_weight is None else to_array(sample_weight),
            np.mean, self._dtype, None if mask is None else to_array(mask))
        self.total._value += values.sum(dtype=self._dtype)
        if sample_weight is not None:
            n = sample_weight.sum(dtype=self._dtype)
        elif values.ndim >= 1:
            n = values.shape[0]
        else:
            n = 1
        self.count._value += n

    def result(self):
        c = self.count._value
        return self._scalar(self.total._value / c if c != 0 else 0.0)


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` over the samples seen.

    ``fn`` may be any per-sample function (a loss function, a custom function of tensors).

    >>> from tapeflow import keras
    >>> m = keras.metrics.MeanMetricWrapper(keras.losses.mean_absolute_error)
    >>> m.update_state([[1.0], [2.0]], [[2.0], [2.0]])
    >>> float(m.result())
    0.5
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        if getattr(self._fn, "_reads_arrays", False):
            # a function of the raw arrays only (the accuracies): it records no op, so it needs
            # no detached copies (issue 7: per-step overhead)
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        else:
            values = self._fn(detach(y_true), detach(y_pred), **self._fn_kwargs)
        values = to_array(values)
        if mask is not None:
            mask = to_array(mask)
            sample_weight = mask if sample_weight is None else \
                np.asarray(to_array(sample_weight), self._dtype) * mask
        Mean.update_state(self, values, sample_weight=sample_weight)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        if type(self) is MeanMetricWrapper:
            config["fn"] = getattr(self._fn, "__name__", None)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is MeanMetricWrapper:
            from tapeflow.keras import losses
            from tapeflow.keras import metrics as _metrics

            fn = config.pop("fn")
            if isinstance(fn, str):
                fn = getattr(_metrics, fn, None) or losses.get(fn)
            return cls(fn, **config)
        return cls(**config)
