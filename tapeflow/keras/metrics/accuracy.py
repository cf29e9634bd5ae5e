"""Accuracy metrics: exact match, binary, categorical, sparse categorical and top-k."""

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor
from tapeflow.keras.metrics.metric import squeeze_or_expand, to_array
from tapeflow.keras.metrics.reduction import MeanMetricWrapper

__all__ = ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "accuracy",
           "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"]


def _f(x):
    return Tensor(np.asarray(x, dtype=np.float32))


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` exactly, else 0.0 (elementwise).

    >>> from tapeflow import keras
    >>> keras.metrics.accuracy([1, 2], [1, 3]).numpy()
    array([1., 0.], dtype=float32)
    """
    p = to_array(y_pred)
    t = to_array(y_true, p.dtype)
    t, p = squeeze_or_expand(t, p)
    return _f(t == p)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``(y_pred > threshold) == y_true`` (elementwise).

    >>> from tapeflow import keras
    >>> keras.metrics.binary_accuracy([[1.0], [0.0]], [[0.7], [0.6]]).numpy()
    array([[1.],
           [0.]], dtype=float32)
    """
    p = to_array(y_pred)
    t = to_array(y_true)
    t, p = squeeze_or_expand(t, p)
    return _f(t == (p > threshold).astype(t.dtype))


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_true) == argmax(y_pred)`` (per sample).

    >>> from tapeflow import keras
    >>> keras.metrics.categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]]).numpy()
    array([1., 0.], dtype=float32)
    """
    t = np.argmax(to_array(y_true), axis=-1)
    p = to_array(y_pred)
    reshape = None
    if t.ndim == p.ndim:
        reshape = t.shape
        t = t[..., 0]
    m = _f(t == np.argmax(p, axis=-1))
    return Tensor(m._value.reshape(reshape)) if reshape is not None else m


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label ``y_true == argmax(y_pred)`` (per sample).

    >>> from tapeflow import keras
    >>> keras.metrics.sparse_categorical_accuracy([1, 0], [[0.2, 0.8], [0.3, 0.7]]).numpy()
    array([1., 0.], dtype=float32)
    """
    p = to_array(y_pred)
    t = to_array(y_true)
    reshape = None
    if t.ndim == p.ndim and t.shape[-1] == 1:
        reshape = t.shape
        t = t[..., 0]
    matches = (t == np.argmax(p, axis=-1)).astype(np.float32)
    if reshape is not None:
        matches = matches.reshape(reshape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return _f(matches)


def _in_top_k(targets, predictions, k):
    # TensorFlow's in_top_k: ties at the boundary count as inside the top k
    targets = targets.astype(np.intp)
    picked = np.take_along_axis(predictions, targets[:, None], axis=-1)
    return (predictions > picked).sum(axis=-1) < k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of one-hot ``y_true`` is among the ``k`` largest of ``y_pred``.

    >>> from tapeflow import keras
    >>> keras.metrics.top_k_categorical_accuracy([[0, 0, 1]], [[0.5, 0.3, 0.2]], k=2).numpy()
    array([0.], dtype=float32)
    """
    p = to_array(y_pred)
    t = np.argmax(to_array(y_true), axis=-1)
    shape = t.shape
    p2 = p.reshape(-1, p.shape[-1])
    return _f(_in_top_k(t.reshape(-1), p2, k).reshape(shape))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label ``y_true`` is among the ``k`` largest of ``y_pred``.

    >>> from tapeflow import keras
    >>> keras.metrics.sparse_top_k_categorical_accuracy([1], [[0.5, 0.3, 0.2]], k=2).numpy()
    array([1.], dtype=float32)
    """
    p = to_array(y_pred)
    t = to_array(y_true)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    shape = t.shape
    p2 = p.reshape(-1, p.shape[-1])
    return _f(_in_top_k(t.reshape(-1), p2, k).reshape(shape))


# These read their inputs' arrays only (``to_array``): MeanMetricWrapper skips detaching them.
for _fn in (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
            top_k_categorical_accuracy, sparse_top_k_categorical_accuracy):
    _fn._reads_arrays = True
del _fn


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly.

    >>> from tapeflow import keras
    >>> m = keras.metrics.Accuracy()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    >>> float(m.result())
    0.75
    """

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the binary labels.

    >>> from tapeflow import keras
    >>> m = keras.metrics.BinaryAccuracy()
    >>> m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> float(m.result())
    0.75
    """

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and not 0 <= threshold <= 1:
            raise ValueError(f"Invalid value for argument `threshold`. Expected a value in "
                             f"interval [0, 1]. Received: threshold={threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches ``argmax`` of one-hot labels.

    >>> from tapeflow import keras
    >>> m = keras.metrics.CategoricalAccuracy()
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> float(m.result())
    0.5
    """

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches integer labels.

    >>> from tapeflow import keras
    >>> m = keras.metrics.SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    >>> float(m.result())
    0.5
    """

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is in the top ``k`` predictions.

    >>> from tapeflow import keras
    >>> m = keras.metrics.TopKCategoricalAccuracy(k=1)
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> float(m.result())
    0.5
    """

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is in the top ``k`` predictions.

    >>> from tapeflow import keras
    >>> m = keras.metrics.SparseTopKCategoricalAccuracy(k=1)
    >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> float(m.result())
    0.5
    """

    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
