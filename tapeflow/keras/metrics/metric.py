"""The ``Metric`` base class: state in Variables, updated with NumPy (no tape recording).

Metrics are updated on every batch during ``fit``, so ``update_state`` works on the raw arrays
of its inputs: a tape that is active around it records nothing.
"""

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor, _TensorLike, convert_to_tensor
from tapeflow.framework.variable import Variable
from tapeflow.keras._objects import to_snake_case

__all__ = ["Metric"]


def to_array(x, dtype=None):
    """The raw NumPy array of a Tensor/Variable/array-like (cast to ``dtype`` if given).

    >>> from tapeflow.keras.metrics.metric import to_array
    >>> to_array([1.0, 2.0]).dtype
    dtype('float32')
    """
    if isinstance(x, _TensorLike):
        a = x._value
    elif isinstance(x, np.ndarray):
        a = x
    else:  # Python values follow TensorFlow's rules (floats -> float32)
        a = convert_to_tensor(x)._value
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    return a


def detach(x):
    """A fresh, unwatched Tensor with the value of ``x`` (keeps a softmax/sigmoid's logits).

    >>> import tapeflow as tf
    >>> from tapeflow.keras.metrics.metric import detach
    >>> x = tf.constant([1.0])
    >>> detach(x) is x, detach(x).numpy()
    (False, array([1.], dtype=float32))
    """
    if isinstance(x, _TensorLike):
        t = Tensor(x._value)
        logits = getattr(x, "_keras_logits", None)
        if logits is not None:
            t._keras_logits = Tensor(logits._value)
        mask = getattr(x, "_keras_mask", None)
        if mask is not None:
            t._keras_mask = mask
        return t
    return convert_to_tensor(x)


def squeeze_or_expand(x1, x2):
    """Keras's squeeze_or_expand_to_same_rank on NumPy arrays.

    >>> import numpy as np
    >>> from tapeflow.keras.metrics.metric import squeeze_or_expand
    >>> [a.shape for a in squeeze_or_expand(np.zeros((4, 1)), np.zeros(4))]
    [(4, 1), (4, 1)]
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


class Metric:
    """Base class of stateful metrics (``keras.metrics.Metric``).

    Subclasses create state with ``add_variable`` in ``__init__`` and implement
    ``update_state(...)`` and ``result()``; ``reset_state()`` zeroes every variable.

    >>> from tapeflow import keras
    >>> class Count(keras.metrics.Metric):
    ...     def __init__(self, name="count", dtype=None):
    ...         super().__init__(name=name, dtype=dtype)
    ...         self.n = self.add_variable((), "zeros", name="n")
    ...     def update_state(self, values):
    ...         self.n.assign_add(float(len(values)))
    ...     def result(self):
    ...         return self.n.value()
    >>> m = Count()
    >>> m.update_state([1, 2, 3])
    >>> float(m.result())
    3.0
    """

    _direction = None

    def __init__(self, dtype=None, name=None):
        self.name = name or to_snake_case(type(self).__name__)
        self._dtype = np.dtype(getattr(dtype, "name", dtype) or "float32").name
        self._variables = []
        self._metrics = []

    @property
    def dtype(self):
        return self._dtype

    @property
    def variables(self):
        """Every state variable (this metric's, then those of its sub-metrics)."""
        out = list(self._variables)
        for m in self._metrics:
            out.extend(m.variables)
        return out

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="sum", name=None):
        """Creates a non-trainable state Variable (zeros unless ``initializer`` says otherwise)."""
        shape = tuple(shape)
        dtype = np.dtype(dtype or self._dtype)
        if initializer in ("zeros", None):
            value = np.zeros(shape, dtype)
        else:
            from tapeflow.keras import initializers

            value = initializers.get(initializer)(shape, dtype=dtype.name)._value
        var = Variable(value, trainable=False, name=name or "variable")
        self._variables.append(var)
        return var

    add_weight = add_variable

    def reset_state(self):
        """Sets every state variable back to zero."""
        for v in self.variables:
            v._value[...] = 0

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def __call__(self, *args, **kwargs):
        """Updates the state with the arguments and returns the new result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    def _scalar(self, value):
        return Tensor(np.asarray(value, dtype=self._dtype))
