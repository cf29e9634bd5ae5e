"""``keras.losses``: Keras 3's losses as functions (per-sample values) and classes (reduced).

A loss class is called as ``loss(y_true, y_pred, sample_weight=None)``: the per-sample function
gives one value per sample (the mean over the last axis), then ``reduction`` combines them:
``"sum_over_batch_size"`` (default, alias ``"mean"``: the sum of the weighted values divided by
the number of values, not by the sum of the weights), ``"sum"``, ``"none"`` (per-sample values)
or ``"mean_with_sample_weight"`` (divided by the sum of the weights).

Cross-entropies on probabilities clip them to ``[1e-7, 1 - 1e-7]``. When ``y_pred`` is the output
of ``keras.activations.softmax``/``sigmoid`` (as from ``Dense(..., activation="softmax")``), the
loss computes from the logits that output remembers, which is exact for extreme probabilities
and faster (one fused op), as Keras does.

>>> from tapeflow import keras
>>> float(keras.losses.MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
0.5
>>> keras.losses.get("mse") is keras.losses.mean_squared_error
True
"""

import math
import warnings

from tapeflow.framework.tensor import Tensor, convert_to_tensor
from tapeflow.keras._objects import to_snake_case
from tapeflow.ops import array_ops as a
from tapeflow.ops import math_ops as m
from tapeflow.ops import nn_ops as nn
from tapeflow.ops import reduction_ops as r

EPSILON = 1e-7  # keras.config.epsilon()
_REDUCTIONS = (None, "none", "sum", "sum_over_batch_size", "mean", "mean_with_sample_weight")

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh", "Hinge",
    "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "CosineSimilarity",
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber", "log_cosh",
    "hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "poisson",
    "cosine_similarity", "binary_crossentropy", "binary_focal_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "get", "serialize",
    "deserialize",
]


# ---------------------------------------------------------------------------------------------
# helpers

def _pred(y_pred):
    y_pred = y_pred if type(y_pred) is Tensor else convert_to_tensor(y_pred)
    if y_pred._value.dtype.kind != "f":
        y_pred = m.cast(y_pred, "float32")
    return y_pred


def _true(y_true, like):
    y_true = y_true if type(y_true) is Tensor else convert_to_tensor(y_true)
    if y_true._value.dtype != like._value.dtype:
        y_true = m.cast(y_true, like.dtype)
    return y_true


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Makes ranks equal when they differ by a trailing size-1 axis (Keras's rule).

    >>> import tapeflow as tf
    >>> from tapeflow.keras.losses import squeeze_or_expand_to_same_rank
    >>> a, b = squeeze_or_expand_to_same_rank(tf.zeros([4, 1]), tf.zeros([4, 3, 1]))
    >>> a.shape, b.shape
    (TensorShape([4, 1]), TensorShape([4, 3]))
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = a.expand_dims(x2, -1)
        else:
            x1 = a.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = a.expand_dims(x1, -1)
        else:
            x2 = a.squeeze(x2, -1)
    return x1, x2


def _pair(y_true, y_pred, fn_name):
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if tuple(y_true._value.shape) != tuple(y_pred._value.shape):
        raise ValueError(f"{fn_name}: y_true and y_pred must have the same shape, received "
                         f"y_true.shape={tuple(y_true._value.shape)} and "
                         f"y_pred.shape={tuple(y_pred._value.shape)}.")
    return y_true, y_pred


def _mean(x, axis=-1):
    return r.reduce_mean(x, axis=axis)


def _logits_of(output, from_logits, fn_name, activation):
    # Keras's _get_logits: reuse the logits a softmax/sigmoid output remembers.
    logits = getattr(output, "_keras_logits", None)
    if logits is None:
        return output, from_logits
    if from_logits:
        warnings.warn(f"`{fn_name}` received `from_logits=True`, but the `output` argument was "
                      f"produced by a {activation} activation and thus does not represent "
                      f"logits. Was this intended?", stacklevel=3)
    return logits, True


# ---------------------------------------------------------------------------------------------
# per-sample functions

def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``.

    >>> from tapeflow import keras
    >>> keras.losses.mean_squared_error([[0.0, 1.0]], [[1.0, 1.0]]).numpy()
    array([0.5], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "mean_squared_error")
    return _mean(m.squared_difference(y_pred, y_true))


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)``.

    >>> from tapeflow import keras
    >>> keras.losses.mean_absolute_error([[0.0, 1.0]], [[1.0, 1.0]]).numpy()
    array([0.5], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "mean_absolute_error")
    return _mean(m.abs(y_true - y_pred))


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)), axis=-1)``.

    >>> from tapeflow import keras
    >>> keras.losses.mean_absolute_percentage_error([[2.0]], [[1.0]]).numpy()
    array([50.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "mean_absolute_percentage_error")
    diff = m.abs((y_true - y_pred) / m.maximum(m.abs(y_true), EPSILON))
    return 100.0 * _mean(diff)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)``.

    >>> from tapeflow import keras
    >>> keras.losses.mean_squared_logarithmic_error([[0.0]], [[0.0]]).numpy()
    array([0.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "mean_squared_logarithmic_error")
    first = m.log(m.maximum(y_pred, EPSILON) + 1.0)
    second = m.log(m.maximum(y_true, EPSILON) + 1.0)
    return _mean(m.square(first - second))


def huber(y_true, y_pred, delta=1.0):
    """``0.5 e^2`` where ``|e| <= delta``, else ``delta |e| - 0.5 delta^2``; mean over axis -1.

    >>> from tapeflow import keras
    >>> keras.losses.huber([[0.0, 0.0]], [[0.5, 3.0]]).numpy()
    array([1.3125], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "huber")
    if delta < 0:
        raise ValueError(f"huber: delta must be non-negative, received delta={delta}.")
    error = y_pred - y_true
    abs_error = m.abs(error)
    quad = 0.5 * m.square(error)
    lin = delta * abs_error - 0.5 * delta * delta
    return _mean(m.where(m.less_equal(abs_error, delta), quad, lin))


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow.

    >>> from tapeflow import keras
    >>> keras.losses.log_cosh([[0.0]], [[0.0]]).numpy()
    array([0.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    return _mean(x + m.softplus(-2.0 * x) - math.log(2.0))


def _hinge_labels(y_true):
    # {0, 1} labels become {-1, 1}, as Keras converts them.
    v = y_true._value
    if ((v == 0) | (v == 1)).all():
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; labels in {0, 1} become {-1, 1}.

    >>> from tapeflow import keras
    >>> keras.losses.hinge([[1.0, -1.0]], [[0.5, 0.5]]).numpy()
    array([1.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "hinge")
    return _mean(nn.relu(1.0 - _hinge_labels(y_true) * y_pred))


def squared_hinge(y_true, y_pred):
    """``mean(square(max(1 - y_true * y_pred, 0)), axis=-1)``.

    >>> from tapeflow import keras
    >>> keras.losses.squared_hinge([[1.0, -1.0]], [[0.5, 0.5]]).numpy()
    array([1.25], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "squared_hinge")
    return _mean(m.square(nn.relu(1.0 - _hinge_labels(y_true) * y_pred)))


def categorical_hinge(y_true, y_pred):
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` along axis -1.

    >>> from tapeflow import keras
    >>> keras.losses.categorical_hinge([[0.0, 1.0]], [[0.3, 0.9]]).numpy().round(4)
    array([0.4], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "categorical_hinge")
    pos = r.reduce_sum(y_true * y_pred, axis=-1)
    neg = r.reduce_max((1.0 - y_true) * y_pred, axis=-1)
    return nn.relu(neg - pos + 1.0)


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` with both clipped to ``[eps, 1]``.

    >>> from tapeflow import keras
    >>> keras.losses.kl_divergence([[0.5, 0.5]], [[0.5, 0.5]]).numpy()
    array([0.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "kl_divergence")
    y_true = m.clip_by_value(y_true, EPSILON, 1.0)
    y_pred = m.clip_by_value(y_pred, EPSILON, 1.0)
    return r.reduce_sum(y_true * m.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``.

    >>> from tapeflow import keras
    >>> keras.losses.poisson([[0.0]], [[1.0]]).numpy()
    array([1.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "poisson")
    return _mean(y_pred - y_true * m.log(y_pred + EPSILON))


def cosine_similarity(y_true, y_pred, axis=-1):
    """The NEGATIVE cosine similarity of ``y_true`` and ``y_pred`` along ``axis``.

    >>> from tapeflow import keras
    >>> keras.losses.cosine_similarity([[1.0, 0.0]], [[2.0, 0.0]]).numpy()
    array([-1.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "cosine_similarity")
    y_true = nn.l2_normalize(y_true, axis=axis)
    y_pred = nn.l2_normalize(y_pred, axis=axis)
    return m.negative(r.reduce_sum(y_true * y_pred, axis=axis))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy, mean over ``axis``; ``label_smoothing`` pulls labels to 0.5.

    >>> from tapeflow import keras
    >>> keras.losses.binary_crossentropy([[1.0]], [[0.5]]).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    output, from_logits = _logits_of(y_pred, from_logits, "binary_crossentropy", "Sigmoid")
    if from_logits:
        bce = nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=output)
    else:
        p = m.clip_by_value(output, EPSILON, 1.0 - EPSILON)
        bce = m.negative(y_true * m.log(p) + (1.0 - y_true) * m.log(1.0 - p))
    return r.reduce_mean(bce, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy scaled by ``(1 - p_t)**gamma`` (focal loss), mean over ``axis``.

    >>> from tapeflow import keras
    >>> keras.losses.binary_focal_crossentropy([[1.0]], [[0.5]]).numpy().round(4)
    array([0.1733], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred, "binary_focal_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    output, from_logits = _logits_of(y_pred, from_logits, "binary_focal_crossentropy",
                                     "Sigmoid")
    if from_logits:
        bce = nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=output)
        p = m.sigmoid(output)
    else:
        p = output
        pc = m.clip_by_value(p, EPSILON, 1.0 - EPSILON)
        bce = m.negative(y_true * m.log(pc) + (1.0 - y_true) * m.log(1.0 - pc))
    p_t = y_true * p + (1.0 - y_true) * (1.0 - p)
    focal = m.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return r.reduce_mean(focal, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy of one-hot (or soft) ``y_true`` against ``y_pred`` along ``axis``.

    Probabilities are renormalised to sum to 1 and clipped to ``[eps, 1 - eps]``.

    >>> from tapeflow import keras
    >>> keras.losses.categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]]).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    if tuple(y_true._value.shape) != tuple(y_pred._value.shape):
        raise ValueError(f"categorical_crossentropy: arguments `target` and `output` must have "
                         f"the same shape. Received: y_true.shape={tuple(y_true._value.shape)}, "
                         f"y_pred.shape={tuple(y_pred._value.shape)}.")
    if y_pred.ndim < 1:
        raise ValueError("categorical_crossentropy: y_true and y_pred must be at least rank 1, "
                         "received rank 0.")
    if y_pred._value.shape[-1] == 1:
        warnings.warn(f"In loss categorical_crossentropy, expected y_pred.shape to be "
                      f"(batch_size, num_classes) with num_classes > 1. Received: "
                      f"y_pred.shape={tuple(y_pred._value.shape)}. Consider using "
                      f"'binary_crossentropy' if you only have 2 classes.", stacklevel=2)
    if label_smoothing:
        n = y_true._value.shape[-1]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    output, from_logits = _logits_of(y_pred, from_logits, "categorical_crossentropy", "Softmax")
    if from_logits:
        return nn.softmax_cross_entropy_with_logits(labels=y_true, logits=output, axis=axis)
    output = output / r.reduce_sum(output, axis=axis, keepdims=True)
    output = m.clip_by_value(output, EPSILON, 1.0 - EPSILON)
    return m.negative(r.reduce_sum(y_true * m.log(output), axis=axis))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy of integer class labels ``y_true`` against ``y_pred`` (last axis).

    ``ignore_class`` labels contribute 0 (and are left out of the default mean).

    >>> from tapeflow import keras
    >>> keras.losses.sparse_categorical_crossentropy([1], [[0.5, 0.5]]).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    y_pred = _pred(y_pred)
    if axis not in (-1, y_pred.ndim - 1):
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    labels = y_true if type(y_true) is Tensor else convert_to_tensor(y_true)
    lv = labels._value
    if lv.ndim == y_pred.ndim and lv.ndim and lv.shape[-1] == 1:
        lv = lv[..., 0]
    if tuple(lv.shape) != tuple(y_pred._value.shape[:-1]):
        raise ValueError(f"sparse_categorical_crossentropy: y_true must have the shape of "
                         f"y_pred without its last axis. Received: "
                         f"y_true.shape={tuple(labels._value.shape)}, "
                         f"y_pred.shape={tuple(y_pred._value.shape)}.")
    valid = None
    if ignore_class is not None:
        valid = lv != ignore_class
        lv = lv * valid
    if lv.dtype.kind != "i":
        lv = lv.astype("int64")
    labels = Tensor(lv)
    output, from_logits = _logits_of(y_pred, from_logits, "sparse_categorical_crossentropy",
                                     "Softmax")
    if not from_logits:
        output = m.log(m.clip_by_value(output, EPSILON, 1.0 - EPSILON))
    res = nn.sparse_softmax_cross_entropy_with_logits(labels, output)
    if valid is not None:
        mask = Tensor(valid)
        res = m.where(mask, res, m.zeros_like(res))
        res._keras_mask = mask
    return res


# ---------------------------------------------------------------------------------------------
# reduction and the Loss classes

_FUSED_OPS = []


def _fused_ops():
    if not _FUSED_OPS:   # imported on first use, then cached (an import per call costs ~0.5 us)
        from tapeflow.ops import fused_ops  # noqa: PLC0415

        _FUSED_OPS.append(fused_ops)
    return _FUSED_OPS[0]


def _standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                         f"{_REDUCTIONS}. Received: reduction={reduction}")
    return reduction


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=None):
    """Weights per-sample ``values`` (and a mask) and reduces them as Keras does.

    >>> from tapeflow.keras.losses import reduce_weighted_values
    >>> float(reduce_weighted_values([1.0, 3.0], sample_weight=[1.0, 0.0]))
    0.5
    """
    if sample_weight is None and mask is None and dtype is None and type(values) is Tensor and \
            reduction == "sum_over_batch_size":
        v = values._value
        if v.ndim and v.shape != (0,) and v.dtype.kind == "f":
            # the common case (no weights, no mask): the Mean op ``reduce_mean`` would run,
            # without its argument handling (issue 7: per-step overhead)
            return r._mean(values, axes=tuple(range(v.ndim)), keepdims=False)
    reduction = _standardize_reduction(reduction)
    values = values if type(values) is Tensor else convert_to_tensor(values)
    if dtype is not None and values.dtype != dtype:
        values = m.cast(values, dtype)
    if sample_weight is not None:
        sample_weight = _true(sample_weight, values)
    if mask is not None:
        mask = m.cast(mask if type(mask) is Tensor else convert_to_tensor(mask), values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            total = float(mask._value.size)
            valid = float(mask._value.sum())
            mask = mask * (total / valid if valid else 0.0)
        if sample_weight is None:
            sample_weight = mask
        else:
            sample_weight, mask = squeeze_or_expand_to_same_rank(sample_weight, mask)
            sample_weight = sample_weight * mask
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        try:
            values = values * sample_weight
        except Exception:
            raise ValueError(f"sample_weight of shape {tuple(sample_weight.shape)} cannot "
                             f"weight per-sample losses of shape {tuple(values.shape)}.") from None
    if reduction in (None, "none") or values.ndim == 0 or values._value.shape == (0,):
        return values
    if reduction == "sum":
        return r.reduce_sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = float(sample_weight._value.sum())
        loss = r.reduce_sum(values)
        return loss * (1.0 / divisor) if divisor else loss * 0.0
    return r.reduce_mean(values)  # the sum over the number of values (not the weights' sum)


class Loss:
    """Base class: subclasses implement ``call(y_true, y_pred)`` returning per-sample values.

    Args:
      name: the loss's name.
      reduction: how per-sample values are combined (see the module docstring).
      dtype: dtype of the result (default: that of ``y_pred``, float32 for most inputs).

    >>> from tapeflow import keras
    >>> class Abs(keras.losses.Loss):
    ...     def call(self, y_true, y_pred):
    ...         return keras.losses.mean_absolute_error(y_true, y_pred)
    >>> float(Abs()([[1.0]], [[3.0]]))
    2.0
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = getattr(y_pred, "_keras_mask", None)
        if (sample_weight is None and in_mask is None and self.reduction == "sum_over_batch_size"
                and self.dtype is None and getattr(self, "fn", None) is mean_squared_error
                and not self._fn_kwargs and type(self).call is LossFunctionWrapper.call):
            # MSE over a batch as one recorded op instead of three (issue 7: per-step overhead
            # of small models); same numbers, forward and gradient (tapeflow/ops/fused_ops.py).
            if type(y_pred) is Tensor and type(y_true) is Tensor:
                pv, tv = y_pred._value, y_true._value
                if pv.dtype.kind == "f" and tv.dtype == pv.dtype and tv.shape == pv.shape and \
                        pv.ndim >= 2 and pv.size:   # what `_pair` would leave as it is
                    return _fused_ops().mse_mean(y_pred, y_true)
            y_true, y_pred = _pair(y_true, y_pred, "mean_squared_error")
            if y_pred._value.ndim >= 2 and y_pred._value.size:
                return _fused_ops().mse_mean(y_pred, y_true)
        losses = self.call(y_true, y_pred)
        out_mask = getattr(losses, "_keras_mask", None)
        if in_mask is not None and out_mask is not None:
            mask = m.logical_and(in_mask, out_mask)
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(losses, sample_weight=sample_weight, mask=mask,
                                      reduction=self.reduction, dtype=self.dtype)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    >>> from tapeflow import keras
    >>> loss = keras.losses.LossFunctionWrapper(keras.losses.mean_absolute_error)
    >>> float(loss([[1.0]], [[3.0]]))
    2.0
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn", None)
        if cls is LossFunctionWrapper:
            return cls(get(fn), **config)
        return cls(**config)


def _wrapper(fn, default_name, doc, **defaults):
    # Builds a LossFunctionWrapper subclass whose constructor takes ``defaults`` by name.
    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None,
                 **kwargs):
        params = dict(defaults)
        names = list(defaults)
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional "
                            f"arguments ({', '.join(names)}), received {len(args)}.")
        params.update(zip(names, args))
        for k, v in kwargs.items():
            if k not in params:
                raise TypeError(f"{type(self).__name__} got an unexpected keyword argument "
                                f"{k!r}; expected one of {names + ['reduction', 'name', 'dtype']}.")
            params[k] = v
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype,
                                     **params)

    return {"__init__": __init__, "__doc__": doc}


def _loss_class(cls_name, fn, default_name, doc, **defaults):
    return type(cls_name, (LossFunctionWrapper,), _wrapper(fn, default_name, doc, **defaults))


MeanSquaredError = _loss_class(
    "MeanSquaredError", mean_squared_error, "mean_squared_error",
    """Mean of squared errors (``mean_squared_error``), reduced over the batch.

    >>> from tapeflow import keras
    >>> float(keras.losses.MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
    0.5
    """)
MeanAbsoluteError = _loss_class(
    "MeanAbsoluteError", mean_absolute_error, "mean_absolute_error",
    """Mean of absolute errors.

    >>> from tapeflow import keras
    >>> float(keras.losses.MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]]))
    0.5
    """)
MeanAbsolutePercentageError = _loss_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
    """Mean absolute percentage error.

    >>> from tapeflow import keras
    >>> float(keras.losses.MeanAbsolutePercentageError()([[2.0]], [[1.0]]))
    50.0
    """)
MeanSquaredLogarithmicError = _loss_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
    """Mean squared logarithmic error.

    >>> from tapeflow import keras
    >>> float(keras.losses.MeanSquaredLogarithmicError()([[1.0]], [[1.0]]))
    0.0
    """)
Huber = _loss_class(
    "Huber", huber, "huber_loss",
    """Huber loss with threshold ``delta`` (default 1.0).

    >>> from tapeflow import keras
    >>> float(keras.losses.Huber(delta=1.0)([[0.0, 0.0]], [[0.5, 3.0]]))
    1.3125
    """, delta=1.0)
LogCosh = _loss_class(
    "LogCosh", log_cosh, "log_cosh",
    """Logarithm of the hyperbolic cosine of the error.

    >>> from tapeflow import keras
    >>> float(keras.losses.LogCosh()([[0.0]], [[0.0]]))
    0.0
    """)
Hinge = _loss_class(
    "Hinge", hinge, "hinge",
    """Hinge loss (labels in {-1, 1}; {0, 1} are converted).

    >>> from tapeflow import keras
    >>> float(keras.losses.Hinge()([[1.0, -1.0]], [[0.5, 0.5]]))
    1.0
    """)
SquaredHinge = _loss_class(
    "SquaredHinge", squared_hinge, "squared_hinge",
    """Squared hinge loss.

    >>> from tapeflow import keras
    >>> float(keras.losses.SquaredHinge()([[1.0, -1.0]], [[0.5, 0.5]]))
    1.25
    """)
CategoricalHinge = _loss_class(
    "CategoricalHinge", categorical_hinge, "categorical_hinge",
    """Categorical hinge loss.

    >>> from tapeflow import keras
    >>> round(float(keras.losses.CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.9]])), 4)
    0.4
    """)
KLDivergence = _loss_class(
    "KLDivergence", kl_divergence, "kl_divergence",
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))``.

    >>> from tapeflow import keras
    >>> float(keras.losses.KLDivergence()([[0.5, 0.5]], [[0.5, 0.5]]))
    0.0
    """)
Poisson = _loss_class(
    "Poisson", poisson, "poisson",
    """Poisson loss ``y_pred - y_true * log(y_pred + eps)``.

    >>> from tapeflow import keras
    >>> float(keras.losses.Poisson()([[0.0]], [[1.0]]))
    1.0
    """)
CosineSimilarity = _loss_class(
    "CosineSimilarity", cosine_similarity, "cosine_similarity",
    """Negative cosine similarity along ``axis`` (default -1).

    >>> from tapeflow import keras
    >>> float(keras.losses.CosineSimilarity()([[1.0, 0.0]], [[2.0, 0.0]]))
    -1.0
    """, axis=-1)
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
    """Binary cross-entropy (``from_logits``, ``label_smoothing``, ``axis``).

    >>> from tapeflow import keras
    >>> round(float(keras.losses.BinaryCrossentropy()([[1.0]], [[0.5]])), 4)
    0.6931
    """, from_logits=False, label_smoothing=0.0, axis=-1)
BinaryFocalCrossentropy = _loss_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy, "binary_focal_crossentropy",
    """Binary focal cross-entropy (``gamma``, ``alpha``, ``apply_class_balancing``).

    >>> from tapeflow import keras
    >>> round(float(keras.losses.BinaryFocalCrossentropy()([[1.0]], [[0.5]])), 4)
    0.1733
    """, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
    label_smoothing=0.0, axis=-1)
CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
    """Categorical cross-entropy for one-hot labels (``from_logits``, ``label_smoothing``).

    >>> from tapeflow import keras
    >>> round(float(keras.losses.CategoricalCrossentropy()([[0.0, 1.0]], [[0.5, 0.5]])), 4)
    0.6931
    """, from_logits=False, label_smoothing=0.0, axis=-1)
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy",
    """Cross-entropy for integer labels (``from_logits``, ``ignore_class``).

    >>> from tapeflow import keras
    >>> round(float(keras.losses.SparseCategoricalCrossentropy()([1], [[0.5, 0.5]])), 4)
    0.6931
    """, from_logits=False, ignore_class=None)

for _cls in (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
             MeanSquaredLogarithmicError, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge,
             KLDivergence, Poisson, CosineSimilarity, BinaryCrossentropy, BinaryFocalCrossentropy,
             CategoricalCrossentropy, SparseCategoricalCrossentropy):
    _cls.__module__ = __name__

# Keras's short aliases of the functions.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
bce = BCE = binary_crossentropy

_CLASSES = [Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError,
            MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Huber, LogCosh, Hinge,
            SquaredHinge, CategoricalHinge, KLDivergence, Poisson, CosineSimilarity,
            BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy]
_FUNCTIONS = [mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, huber, log_cosh, hinge, squared_hinge,
              categorical_hinge, kl_divergence, poisson, cosine_similarity, binary_crossentropy,
              binary_focal_crossentropy, categorical_crossentropy,
              sparse_categorical_crossentropy]
ALL_OBJECTS_DICT = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS_DICT.update({f.__name__: f for f in _FUNCTIONS})
ALL_OBJECTS_DICT.update({
    "bce": binary_crossentropy, "BCE": binary_crossentropy, "kld": kl_divergence,
    "KLD": kl_divergence, "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error, "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error, "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error, "logcosh": log_cosh, "log_cosh": log_cosh,
    "kullback_leibler_divergence": kl_divergence, "huber_loss": huber,
})
_FN_NAMES = {f: f.__name__ for f in _FUNCTIONS}


def serialize(loss):
    """Keras's dict for a loss class instance, or for a built-in loss function.

    >>> from tapeflow import keras
    >>> keras.losses.serialize(keras.losses.MeanSquaredError())["config"]
    {'name': 'mean_squared_error', 'reduction': 'sum_over_batch_size'}
    >>> keras.losses.serialize(keras.losses.mse)["config"]
    'mean_squared_error'
    """
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__,
                "config": loss.get_config(), "registered_name": None}
    name = _FN_NAMES.get(loss) or getattr(loss, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize loss {loss!r}: it is neither a Loss nor a named "
                         f"function.")
    return {"module": "keras.losses", "class_name": "function", "config": name,
            "registered_name": name}


def deserialize(config, custom_objects=None):
    """Rebuilds a loss from :func:`serialize`'s dict or a name.

    >>> from tapeflow import keras
    >>> keras.losses.deserialize({"class_name": "Huber", "config": {"delta": 2.0}}).get_config()
    {'name': 'huber_loss', 'reduction': 'sum_over_batch_size', 'delta': 2.0}
    """
    table = dict(ALL_OBJECTS_DICT)
    if custom_objects:
        table.update(custom_objects)
    return _from_identifier(config, table, "loss", sorted(table))


def _from_identifier(config, table, kind, valid_names):
    """The object ``table`` names for ``config`` (a name, or a ``serialize`` dict: a class is
    rebuilt with ``from_config``, a ``"function"`` entry is looked up by its name); shared by
    ``losses.deserialize`` and ``metrics.deserialize``."""
    if isinstance(config, str):
        name, inner = config, {}
    elif isinstance(config, dict) and "class_name" in config:
        name, inner = config["class_name"], config.get("config") or {}
        if name == "function":
            name, inner = inner, {}
    else:
        raise ValueError(f"Could not interpret {kind} identifier: {config!r}; expected a name "
                         f"or a dict with 'class_name'.")
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"Could not interpret {kind} identifier: {name!r}. Valid names are: "
                         f"{valid_names}.")
    obj = table[name]
    if isinstance(obj, type):
        return obj.from_config(dict(inner))
    return obj


def get(identifier):
    """A loss from None, a name (``"mse"``: the function; ``"MeanSquaredError"``: an instance),
    a config dict, a class or a callable.

    >>> from tapeflow import keras
    >>> keras.losses.get("categorical_crossentropy").__name__
    'categorical_crossentropy'
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}.")
