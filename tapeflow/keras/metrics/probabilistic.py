"""Cross-entropy, divergence and hinge metrics (means of the loss functions)."""

from tapeflow.keras import losses as _losses
from tapeflow.keras.metrics.reduction import MeanMetricWrapper

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge"]


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy.

    >>> from tapeflow import keras
    >>> m = keras.metrics.BinaryCrossentropy()
    >>> m.update_state([[1.0]], [[0.5]])
    >>> round(float(m.result()), 4)
    0.6931
    """

    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(_losses.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy.

    >>> from tapeflow import keras
    >>> m = keras.metrics.CategoricalCrossentropy()
    >>> m.update_state([[0.0, 1.0]], [[0.5, 0.5]])
    >>> round(float(m.result()), 4)
    0.6931
    """

    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(_losses.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical cross-entropy.

    >>> from tapeflow import keras
    >>> m = keras.metrics.SparseCategoricalCrossentropy()
    >>> m.update_state([1], [[0.5, 0.5]])
    >>> round(float(m.result()), 4)
    0.6931
    """

    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(_losses.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence.

    >>> from tapeflow import keras
    >>> m = keras.metrics.KLDivergence()
    >>> m.update_state([[0.5, 0.5]], [[0.5, 0.5]])
    >>> float(m.result())
    0.0
    """

    _direction = "down"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(_losses.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss.

    >>> from tapeflow import keras
    >>> m = keras.metrics.Poisson()
    >>> m.update_state([[0.0]], [[1.0]])
    >>> float(m.result())
    1.0
    """

    _direction = "down"

    def __init__(self, name="poisson", dtype=None):
        super().__init__(_losses.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """Mean hinge loss.

    >>> from tapeflow import keras
    >>> m = keras.metrics.Hinge()
    >>> m.update_state([[1.0, -1.0]], [[0.5, 0.5]])
    >>> float(m.result())
    1.0
    """

    _direction = "down"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(_losses.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """Mean squared hinge loss.

    >>> from tapeflow import keras
    >>> m = keras.metrics.SquaredHinge()
    >>> m.update_state([[1.0, -1.0]], [[0.5, 0.5]])
    >>> float(m.result())
    1.25
    """

    _direction = "down"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(_losses.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Mean categorical hinge loss.

    >>> from tapeflow import keras
    >>> m = keras.metrics.CategoricalHinge()
    >>> m.update_state([[0.0, 1.0]], [[0.3, 0.9]])
    >>> round(float(m.result()), 4)
    0.4
    """

    _direction = "down"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(_losses.categorical_hinge, name=name, dtype=dtype)
