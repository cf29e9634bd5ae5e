"""``keras.constraints``: projections applied to a weight after each optimizer update.

A constraint is called on a weight and returns the projected value; optimizers assign it back.

>>> from tapeflow import keras
>>> keras.constraints.NonNeg()([-1.0, 2.0]).numpy()
array([0., 2.], dtype=float32)
"""

from tapeflow.framework.tensor import convert_to_tensor
from tapeflow.keras._objects import deserialize_object, get_object, serialize_object, to_snake_case
from tapeflow.ops import math_ops as m
from tapeflow.ops import reduction_ops as r

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm",
           "min_max_norm", "non_neg", "unit_norm", "get", "serialize", "deserialize"]

_EPSILON = 1e-7  # keras.config.epsilon()


def _norms(w, axis):
    return m.sqrt(r.reduce_sum(m.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight.

    >>> from tapeflow import keras
    >>> keras.constraints.Constraint()([1.0]).numpy()
    array([1.], dtype=float32)
    """

    def __call__(self, w):
        return convert_to_tensor(w)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales each slice along ``axis`` whose L2 norm exceeds ``max_value`` down to it.

    >>> from tapeflow import keras
    >>> keras.constraints.MaxNorm(1.0)([[3.0], [4.0]]).numpy().round(3)
    array([[0.6],
           [0.8]], dtype=float32)
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        norms = _norms(w, self.axis)
        desired = m.clip_by_value(norms, 0.0, float(self.max_value))
        return w * (desired / (norms + _EPSILON))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative values to 0.

    >>> from tapeflow import keras
    >>> keras.constraints.NonNeg()([-1.0, 1.0]).numpy()
    array([0., 1.], dtype=float32)
    """

    def __call__(self, w):
        w = convert_to_tensor(w)
        return m.where(m.greater_equal(w, 0.0), w, m.zeros_like(w))


class UnitNorm(Constraint):
    """Divides each slice along ``axis`` by its L2 norm.

    >>> from tapeflow import keras
    >>> keras.constraints.UnitNorm()([[3.0], [4.0]]).numpy().round(3)
    array([[0.6],
           [0.8]], dtype=float32)
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Keeps the L2 norm of each slice along ``axis`` in ``[min_value, max_value]``.

    ``rate`` blends the clipped norm with the current one (1.0: fully enforced).

    >>> from tapeflow import keras
    >>> keras.constraints.MinMaxNorm(1.0, 2.0)([[0.3], [0.4]]).numpy().round(3)
    array([[0.6],
           [0.8]], dtype=float32)
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        norms = _norms(w, self.axis)
        desired = (self.rate * m.clip_by_value(norms, float(self.min_value),
                                               float(self.max_value))
                   + (1.0 - self.rate) * norms)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

_CLASSES = [Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm]
ALL_OBJECTS_DICT = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(c.__name__): c for c in _CLASSES})


def serialize(constraint):
    """Keras's dict for ``constraint`` (module ``keras.constraints``).

    >>> from tapeflow import keras
    >>> keras.constraints.serialize(keras.constraints.MaxNorm())["config"]
    {'max_value': 2, 'axis': 0}
    """
    return serialize_object(constraint, "keras.constraints")


def deserialize(config, custom_objects=None):
    """Builds a constraint from :func:`serialize`'s dict or a name.

    >>> from tapeflow import keras
    >>> keras.constraints.deserialize("non_neg")
    NonNeg()
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "constraint", custom_objects)


def get(identifier):
    """A constraint from None, a name (``"max_norm"``), a dict, a class or a callable.

    >>> from tapeflow import keras
    >>> keras.constraints.get("unit_norm")
    UnitNorm(axis=0)
    """
    return get_object(identifier, ALL_OBJECTS_DICT, "constraint", Constraint)
