"""``KerasVariable`` (a layer weight) and the list/dict wrappers that track attributes.

A ``KerasVariable`` is a ``tf.Variable`` with Keras 3's naming (``name`` is ``"kernel"``, ``path``
is ``"dense/kernel"``), an optional regularizer and constraint, and a ``value`` property that
reads it in the compute dtype inside a mixed-precision layer's call.
"""

from tapeflow._backend import np
from tapeflow.framework.variable import Variable

__all__ = ["KerasVariable"]

_N_REGULARIZED = [0]    # variables ever given a regularizer (0: `losses` skips the scan)
_AUTOCAST = []          # compute dtype of mixed-precision calls in progress (None: no cast)


class KerasVariable(Variable):
    """A layer weight: a ``tf.Variable`` whose ``name`` is plain (``"kernel"``) and whose ``path``
    is ``"<layer name>/kernel"``.

    >>> from tapeflow import keras
    >>> keras.backend.clear_session()
    >>> layer = keras.layers.Dense(2)
    >>> layer.build((None, 3))
    >>> layer.kernel.name, layer.kernel.path, tuple(layer.kernel.shape)
    ('kernel', 'dense/kernel', (3, 2))
    """

    def __init__(self, initial_value, trainable=True, name=None, dtype=None, constraint=None,
                 regularizer=None, path=None):
        super().__init__(initial_value, trainable=trainable, name=name or "variable",
                         dtype=dtype, constraint=constraint)
        self.path = path or self._name
        self.regularizer = regularizer

    @property
    def name(self):
        return self._name

    @property
    def value(self):
        """The current value as a Tensor (reads are recorded on active tapes). Inside the call
        of a mixed-precision layer, float variables are read in its compute dtype."""
        if _AUTOCAST and _AUTOCAST[-1] is not None and self._value.dtype.kind == "f" and \
                self._value.dtype != _np_dtype(_AUTOCAST[-1]):
            return _cast(self._read(), _AUTOCAST[-1])
        return self._read()

    @property
    def regularizer(self):
        return self.__dict__.get("_regularizer")

    @regularizer.setter
    def regularizer(self, value):
        if value is not None and self.__dict__.get("_regularizer") is None:
            _N_REGULARIZED[0] += 1
        self.__dict__["_regularizer"] = value

    @property
    def constraint(self):
        return self._constraint

    @constraint.setter
    def constraint(self, value):
        self._constraint = value

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={tuple(self._value.shape)}, "
                f"dtype={self.dtype.name}, value={self._value}>")

    def __deepcopy__(self, memo):
        v = KerasVariable(self._value.copy(), trainable=self._trainable, name=self._name,
                          constraint=self._constraint, regularizer=self.regularizer,
                          path=self.path)
        return v


class _TrackedList(list):
    """A list attribute of a layer: layers and variables appended later are tracked too."""

    def __init__(self, values, owner):
        super().__init__(values)
        self._owner = owner

    def append(self, value):
        self._owner._track_value(value)
        super().append(value)

    def extend(self, values):
        values = list(values)
        for v in values:
            self._owner._track_value(v)
        super().extend(values)

    def insert(self, index, value):
        self._owner._track_value(value)
        super().insert(index, value)

    def __setitem__(self, key, value):
        for v in (value if isinstance(key, slice) else [value]):
            self._owner._track_value(v)
        super().__setitem__(key, value)

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __reduce__(self):
        return list, (list(self),)


class _TrackedDict(dict):
    """A dict attribute of a layer: layers and variables stored later are tracked too."""

    def __init__(self, values, owner):
        super().__init__(values)
        self._owner = owner

    def __setitem__(self, key, value):
        self._owner._track_value(value)
        super().__setitem__(key, value)

    def update(self, *args, **kwargs):
        for v in dict(*args, **kwargs).values():
            self._owner._track_value(v)
        super().update(*args, **kwargs)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def __reduce__(self):
        return dict, (dict(self),)


def _cast(t, dtype):
    from tapeflow.ops.math_ops import cast  # noqa: PLC0415 - keras sits above the ops

    return cast(t, dtype)


_NP_DTYPES = {}


def _np_dtype(name):
    dt = _NP_DTYPES.get(name)
    if dt is None:
        dt = _NP_DTYPES[name] = np.dtype(name)
    return dt
