"""TensorFlow's ``DType`` objects on top of NumPy dtypes (``tf.float32``, ``tf.as_dtype``)."""

import builtins

from tapeflow._backend import np

__all__ = ["DType", "as_dtype"]


class DType:
    """A tensor element type, named as in TensorFlow.

    Compares equal to its name and to the matching NumPy dtype, so ``x.dtype == "float32"`` and
    ``x.dtype == tf.float32`` both work.

    >>> import tapeflow as tf
    >>> tf.as_dtype("float32") == tf.float32, tf.float32.is_floating, tf.int32.max
    (True, True, 2147483647)
    """

    __slots__ = ("name", "_np")

    def __init__(self, name, np_dtype):
        self.name = name
        self._np = np.dtype(np_dtype)

    @property
    def as_numpy_dtype(self):
        return self._np.type

    @property
    def is_floating(self):
        return self._np.kind == "f"

    @property
    def is_integer(self):
        return self._np.kind in "iu"

    @property
    def is_unsigned(self):
        return self._np.kind == "u"

    @property
    def is_bool(self):
        return self._np.kind == "b"

    @property
    def is_complex(self):
        return self._np.kind == "c"

    @property
    def is_numeric(self):
        return self._np.kind in "iufc"

    @property
    def size(self):
        return self._np.itemsize

    @property
    def base_dtype(self):
        return self

    @property
    def real_dtype(self):
        return self

    @property
    def max(self):
        if self.is_floating:
            return float(np.finfo(self._np).max)
        if self.is_bool:
            return True
        return int(np.iinfo(self._np).max)

    @property
    def min(self):
        if self.is_floating:
            return float(np.finfo(self._np).min)
        if self.is_bool:
            return False
        return int(np.iinfo(self._np).min)

    def is_compatible_with(self, other):
        return self == other

    def __eq__(self, other):
        if other is self:
            return True
        if other is None:
            return False
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"tf.{self.name}"

    @property
    def is_numpy_compatible(self):
        return True

    def __str__(self):
        return f"<dtype: '{self.name}'>"

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", "float16")
half = float16
float32 = DType("float32", "float32")
float64 = DType("float64", "float64")
double = float64
int8 = DType("int8", "int8")
int16 = DType("int16", "int16")
int32 = DType("int32", "int32")
int64 = DType("int64", "int64")
uint8 = DType("uint8", "uint8")
uint16 = DType("uint16", "uint16")
uint32 = DType("uint32", "uint32")
uint64 = DType("uint64", "uint64")
bool = DType("bool", "bool")  # noqa: A001 - TensorFlow's public name is tf.bool
complex64 = DType("complex64", "complex64")
complex128 = DType("complex128", "complex128")
string = DType("string", "object")

_ALL = [float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool,
        complex64, complex128, string]
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "double": float64, "float": float32, "int": int32,
                 "str": string, "bytes": string, "object": string})
_BY_NP = {d._np: d for d in _ALL}
_BY_NP[np.dtype("U")] = string
_BY_PY = {float: float32, int: int32, builtins.bool: bool, complex: complex64, str: string,
          bytes: string}


def from_numpy(np_dtype):
    """Fast path used by Tensor.dtype: NumPy dtype -> DType."""
    d = _BY_NP.get(np_dtype)
    if d is None:
        if np_dtype.kind in "USO":
            return string
        raise TypeError(f"Cannot convert NumPy dtype {np_dtype!r} to a tapeflow DType.")
    return d


def as_dtype(type_value):
    """Converts a name, NumPy dtype, Python type or ``DType`` to a ``DType``.

    Args:
      type_value: e.g. ``"float32"``, ``np.float64``, ``int`` or ``tf.int64``.
    Returns:
      The ``DType``.
    Raises:
      TypeError: if the value names no supported dtype.

    >>> import tapeflow as tf
    >>> tf.as_dtype("int64")
    tf.int64
    """
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        d = _BY_NAME.get(type_value)
        if d is None:
            raise TypeError(
                f"Cannot convert {type_value!r} to a DType; expected one of {sorted(_BY_NAME)}.")
        return d
    if type_value in _BY_PY:
        return _BY_PY[type_value]
    name = getattr(type_value, "name", None)
    if isinstance(name, str) and name in _BY_NAME and not isinstance(type_value, type):
        return _BY_NAME[name]
    try:
        return from_numpy(np.dtype(type_value))
    except (TypeError, ValueError):
        raise TypeError(f"Cannot convert value {type_value!r} to a tapeflow DType.") from None
