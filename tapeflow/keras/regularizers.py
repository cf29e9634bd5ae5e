"""``keras.regularizers``: penalties on weights, added to the training loss.

A regularizer is called on a weight and returns a scalar tensor (differentiable). Keras 3's
defaults: ``L1(l1=0.01)``, ``L2(l2=0.01)``, ``L1L2(l1=0.0, l2=0.0)``; the lower-case names are
aliases of the classes.

>>> from tapeflow import keras
>>> float(keras.regularizers.L2(0.5)([1.0, 2.0]))
2.5
"""

import math

from tapeflow.framework.tensor import convert_to_tensor
from tapeflow.keras._objects import deserialize_object, get_object, serialize_object, to_snake_case
from tapeflow.ops import array_ops as a
from tapeflow.ops import linalg_ops as la
from tapeflow.ops import math_ops as m
from tapeflow.ops import reduction_ops as r

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]


def validate_float_arg(value, name):
    """Checks a penalty factor: a finite non-negative number (returned as float).

    >>> from tapeflow.keras.regularizers import validate_float_arg
    >>> validate_float_arg(1, "l2")
    1.0
    """
    if (not isinstance(value, (float, int)) or isinstance(value, bool) or math.isinf(value)
            or math.isnan(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(x)`` returns a scalar penalty; ``get_config`` its arguments.

    >>> from tapeflow import keras
    >>> class Sum(keras.regularizers.Regularizer):
    ...     def __call__(self, x):
    ...         return float(sum(x))
    >>> Sum()([1.0, 2.0])
    3.0
    """

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    """``l1 * sum(abs(x))``.

    >>> from tapeflow import keras
    >>> round(float(keras.regularizers.L1(0.1)([-1.0, 2.0])), 4)
    0.3
    """

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, name="l1")

    def __call__(self, x):
        return self.l1 * r.reduce_sum(m.abs(convert_to_tensor(x)))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(square(x))``.

    >>> from tapeflow import keras
    >>> float(keras.regularizers.L2(0.1)([1.0, 2.0]))
    0.5
    """

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x):
        return self.l2 * r.reduce_sum(m.square(convert_to_tensor(x)))

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(abs(x)) + l2 * sum(square(x))`` (both default to 0, as in Keras 3).

    >>> from tapeflow import keras
    >>> float(keras.regularizers.L1L2(l1=1.0, l2=1.0)([-1.0, 2.0]))
    8.0
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x):
        x = convert_to_tensor(x)
        out = 0.0
        if self.l1:
            out = self.l1 * r.reduce_sum(m.abs(x))
        if self.l2:
            out = out + self.l2 * r.reduce_sum(m.square(x))
        if not self.l1 and not self.l2:
            out = r.reduce_sum(x * 0.0)
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns of a 2-D weight towards orthonormality.

    ``factor * mean(|offdiag(N N^T)|)`` where N holds the L2-normalised rows/columns.

    >>> from tapeflow import keras
    >>> float(keras.regularizers.OrthogonalRegularizer(0.1)([[1.0, 0.0], [0.0, 1.0]]))
    0.0
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = validate_float_arg(factor, name="factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f"Invalid value for argument `mode`. Expected one of "
                             f"{{'rows', 'columns'}}. Received: mode={mode}")
        self.mode = mode

    def __call__(self, x):
        x = convert_to_tensor(x)
        if x.ndim != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(x.shape)}")
        if self.mode == "columns":
            x = a.transpose(x)
        n = x / m.sqrt(m.maximum(r.reduce_sum(m.square(x), axis=1, keepdims=True), 1e-12))
        prod = la.matmul(n, n, transpose_b=True)
        size = x.shape[0]
        off = m.abs(prod) * (1.0 - a.eye(size, dtype=x.dtype))
        return self.factor * r.reduce_sum(off) / (size * (size - 1) if size > 1 else 1)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = [Regularizer, L1, L2, L1L2, OrthogonalRegularizer]
ALL_OBJECTS_DICT = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(c.__name__): c for c in _CLASSES})
ALL_OBJECTS_DICT["l1_l2"] = L1L2


def serialize(regularizer):
    """Keras's dict for ``regularizer`` (module ``keras.regularizers``).

    >>> from tapeflow import keras
    >>> keras.regularizers.serialize(keras.regularizers.L2())["config"]
    {'l2': 0.01}
    """
    return serialize_object(regularizer, "keras.regularizers")


def deserialize(config, custom_objects=None):
    """Builds a regularizer from :func:`serialize`'s dict or a name.

    >>> from tapeflow import keras
    >>> keras.regularizers.deserialize("l1")
    L1(l1=0.01)
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "regularizer", custom_objects)


def get(identifier):
    """A regularizer from None, a name (``"l2"``), a dict, a class or a callable.

    >>> from tapeflow import keras
    >>> keras.regularizers.get("l1_l2")
    L1L2(l1=0.0, l2=0.0)
    """
    return get_object(identifier, ALL_OBJECTS_DICT, "regularizer", Regularizer)
