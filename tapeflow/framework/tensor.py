"""``Tensor``: an immutable value wrapping one backend array, and ``TensorShape``.

Operators (``+``, ``@``, ``[]``, comparisons) dispatch to the public ops, which are bound once by
``tapeflow.ops`` through ``_bind_ops`` (the ops import this module, so it cannot import them).
"""

import builtins

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt

__all__ = ["Tensor", "TensorShape", "constant", "convert_to_tensor", "is_tensor"]

_ndarray = np.ndarray
_ops = None  # the namespace of public ops, set by tapeflow.ops at import


def _bind_ops(namespace):
    global _ops
    _ops = namespace


class TensorShape:
    """The shape of a tensor: a list of dimensions, each an ``int`` or ``None`` (unknown).

    >>> import tapeflow as tf
    >>> s = tf.TensorShape([None, 3])
    >>> s.rank, s.as_list(), s[1], s == (None, 3)
    (2, [None, 3], 3, True)
    """

    __slots__ = ("_dims",)

    def __init__(self, dims):
        if dims is None:
            self._dims = None
        elif isinstance(dims, TensorShape):
            self._dims = dims._dims
        elif isinstance(dims, (int, np.integer)):
            self._dims = (int(dims),)
        else:
            self._dims = tuple(None if d is None else int(d) for d in dims)

    @property
    def rank(self):
        return None if self._dims is None else len(self._dims)

    ndims = rank

    @property
    def dims(self):
        return None if self._dims is None else list(self._dims)

    def as_list(self):
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def is_fully_defined(self):
        return self._dims is not None and all(d is not None for d in self._dims)

    def num_elements(self):
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims:
            n *= d
        return n

    def is_compatible_with(self, other):
        other = TensorShape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def merge_with(self, other):
        other = TensorShape(other)
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible.")
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        return TensorShape([a if a is not None else b for a, b in zip(self._dims, other._dims)])

    def concatenate(self, other):
        other = TensorShape(other)
        if self._dims is None or other._dims is None:
            return TensorShape(None)
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank):
        if self._dims is not None and len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}.")
        return self

    def __len__(self):
        if self._dims is None:
            raise ValueError("Cannot take the length of a shape with unknown rank.")
        return len(self._dims)

    def __iter__(self):
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self._dims)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return self._dims[key]

    def __eq__(self, other):
        try:
            other = TensorShape(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self._dims == other._dims

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self._dims)

    def __bool__(self):
        return self._dims is not None

    def __add__(self, other):
        return self.concatenate(other)

    def __radd__(self, other):
        return TensorShape(other).concatenate(self)

    def __repr__(self):
        if self._dims is None:
            return "TensorShape(None)"
        return f"TensorShape({list(self._dims)})"

    def __str__(self):
        if self._dims is None:
            return "<unknown>"
        if len(self._dims) == 1:
            return f"({self._dims[0]},)"
        return "(" + ", ".join(str(d) for d in self._dims) + ")"


class _TensorLike:
    """Operators and read-only properties shared by ``Tensor`` and ``Variable``.

    Subclasses keep their array in ``_value``.
    """

    __slots__ = ()
    __array_priority__ = 100  # make ``ndarray + tensor`` call our __radd__

    @property
    def dtype(self):
        return _dt.from_numpy(self._value.dtype)

    @property
    def shape(self):
        return TensorShape(self._value.shape)

    def get_shape(self):
        return self.shape

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def device(self):
        return "/job:localhost/replica:0/task:0/device:CPU:0"

    def __array__(self, dtype=None, copy=None):
        v = self._value
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (self[i] for i in range(self._value.shape[0]))

    def __bool__(self):
        return builtins.bool(self._value)

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __index__(self):
        if self._value.dtype.kind not in "iu":
            raise TypeError(f"Only integer scalar tensors can be used as an index, got "
                            f"dtype {self.dtype.name}.")
        return int(self._value)

    def __format__(self, spec):
        if self._value.ndim == 0:
            return format(self._value.item(), spec)
        return format(str(self._value), spec)  # as TensorFlow: the NumPy text of the value

    def __hash__(self):
        # elementwise __eq__, as in TensorFlow 2: use .ref() for dict keys
        raise TypeError(f"{type(self).__name__} is unhashable. Instead, use "
                        f"{type(self).__name__.lower()}.ref() as the key.")

    def ref(self):
        """A hashable reference to this object, for use as a dict key or set member."""
        return _Ref(self)

    experimental_ref = ref

    # Arithmetic: each calls the public op so that tapes record it.
    def __add__(self, y):
        return _ops.add(self, y)

    def __radd__(self, x):
        return _ops.add(x, self)

    def __sub__(self, y):
        return _ops.subtract(self, y)

    def __rsub__(self, x):
        return _ops.subtract(x, self)

    def __mul__(self, y):
        return _ops.multiply(self, y)

    def __rmul__(self, x):
        return _ops.multiply(x, self)

    def __truediv__(self, y):
        return _ops.truediv(self, y)

    def __rtruediv__(self, x):
        return _ops.truediv(x, self)

    def __floordiv__(self, y):
        return _ops.floordiv(self, y)

    def __rfloordiv__(self, x):
        return _ops.floordiv(x, self)

    def __mod__(self, y):
        return _ops.floormod(self, y)

    def __rmod__(self, x):
        return _ops.floormod(x, self)

    def __pow__(self, y):
        return _ops.pow(self, y)

    def __rpow__(self, x):
        return _ops.pow(x, self)

    def __matmul__(self, y):
        return _ops.matmul(self, y)

    def __rmatmul__(self, x):
        return _ops.matmul(x, self)

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.logical_not(self)

    def __and__(self, y):
        return _ops.logical_and(self, y)

    def __rand__(self, x):
        return _ops.logical_and(x, self)

    def __or__(self, y):
        return _ops.logical_or(self, y)

    def __ror__(self, x):
        return _ops.logical_or(x, self)

    def __xor__(self, y):
        return _ops.logical_xor(self, y)

    def __rxor__(self, x):
        return _ops.logical_xor(x, self)

    def __lt__(self, y):
        return _ops.less(self, y)

    def __le__(self, y):
        return _ops.less_equal(self, y)

    def __gt__(self, y):
        return _ops.greater(self, y)

    def __ge__(self, y):
        return _ops.greater_equal(self, y)

    def __eq__(self, y):
        if y is None:
            return False
        return _ops.tensor_equals(self, y)

    def __ne__(self, y):
        if y is None:
            return True
        return _ops.tensor_not_equals(self, y)

    def __getitem__(self, key):
        return _ops.getitem(self, key)


class _Ref:
    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def deref(self):
        return self._obj

    def __hash__(self):
        return id(self._obj)

    def __eq__(self, other):
        return isinstance(other, _Ref) and other._obj is self._obj


class Tensor(_TensorLike):
    """An immutable multi-dimensional array of one dtype (TensorFlow's eager tensor).

    Create tensors with ``tf.constant`` or ``tf.convert_to_tensor``; every op returns one.

    >>> import tapeflow as tf
    >>> t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    >>> t.shape, t.dtype
    (TensorShape([2, 2]), tf.float32)
    >>> (t @ t)[0].numpy()
    array([ 7., 10.], dtype=float32)
    """

    __slots__ = ("_value", "_keras_mask", "_keras_logits", "__weakref__")

    def __init__(self, value):
        # Internal constructor: ``value`` must already be a backend array (see ``_wrap``).
        self._value = value

    def numpy(self):
        """Returns the value as a NumPy array (a NumPy scalar for rank 0)."""
        v = self._value
        return v[()] if v.ndim == 0 else v

    def set_shape(self, shape):
        if not TensorShape(shape).is_compatible_with(self._value.shape):
            raise ValueError(f"Tensor's shape {self.shape} is not compatible with supplied "
                             f"shape {TensorShape(shape)}.")

    @property
    def name(self):
        raise AttributeError("Tensor.name is meaningless when eager execution is enabled.")

    def __repr__(self):
        return (f"<tf.Tensor: shape={self.shape}, dtype={self.dtype.name}, "
                f"numpy={_np_repr(self._value)}>")

    def __str__(self):
        return f"tf.Tensor({_np_str(self._value)}, shape={self.shape}, dtype={self.dtype.name})"

    def __reduce__(self):
        return constant, (self._value,)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return Tensor(self._value.copy())


def _np_repr(v):
    # Scalars print as NumPy 1.x did (``numpy=1.5``, ``numpy=3``, ``numpy=True``), as TF shows
    # them; a value that spans lines starts on a new line, as in TensorFlow's ``numpy_text``.
    # TensorFlow 2.21 shows a float scalar as the Python float it converts to (float32 0.1 is
    # ``numpy=0.10000000149011612``).
    if v.ndim == 0:
        text = repr(v.item()) if v.dtype.kind == "f" else str(v[()])
    else:
        text = repr(v)
    return "\n" + text if "\n" in text else text


def _np_str(v):
    text = str(v[()] if v.ndim == 0 else v)
    return "\n" + text if "\n" in text else text


def _wrap(value):
    """Wraps a backend array (or NumPy scalar) as a Tensor without copying."""
    if type(value) is not _ndarray:
        value = np.asarray(value)
    t = Tensor.__new__(Tensor)
    t._value = value
    return t


def _python_to_array(value, dtype):
    """Converts Python values and NumPy arrays to an array, with TensorFlow's default dtypes."""
    if isinstance(value, (_ndarray, np.generic)):
        arr = np.asarray(value)
        if dtype is not None and arr.dtype != dtype._np:
            arr = _checked_cast(arr, dtype, value)
        return arr
    if isinstance(value, _TensorLike):
        arr = value._value
        if dtype is not None and arr.dtype != dtype._np:
            arr = _checked_cast(arr, dtype, value)
        return arr
    packed = None  # a list holding tensors packs to their dtype (Python numbers adapt)
    if isinstance(value, (list, tuple)) and any(isinstance(v, _TensorLike) for v in value):
        packed = np.result_type(*[v._value.dtype for v in value if isinstance(v, _TensorLike)])
        value = [np.asarray(v) for v in value]
    if value is None:
        raise ValueError("Attempt to convert a value (None) with an unsupported type "
                         "(<class 'NoneType'>) to a Tensor.")
    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"Can't convert non-rectangular Python sequence to Tensor: the nested "
                         f"lists of {_short(value)} have different lengths.") from None
    if arr.dtype.kind == "O":
        raise TypeError(f"Can't convert {value!r} to a Tensor: it has mixed or unsupported "
                        f"element types.")
    if dtype is not None:
        if arr.dtype != dtype._np:
            arr = _checked_cast(arr, dtype, value)
        return arr
    if packed is not None and arr.dtype.kind in "biuf":
        return arr if arr.dtype == packed else arr.astype(packed)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64:
        if arr.size and (arr.max() > 2**31 - 1 or arr.min() < -(2**31)):
            return arr
        return arr.astype(np.int32)
    return arr


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _checked_cast(arr, dtype, original):
    # TensorFlow refuses to turn a non-integral float into an integer tensor, or a negative
    # number into an unsigned one, at conversion time; say which value failed.
    target = dtype._np
    if target.kind in "iu" and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.trunc(arr)):
            raise TypeError(f"Cannot convert {original!r} to EagerTensor of dtype {dtype.name}.")
    if target.kind == "b" and arr.dtype.kind != "b":
        raise TypeError(f"Cannot convert {original!r} to EagerTensor of dtype bool.")
    return arr.astype(target)


def constant(value, dtype=None, shape=None, name=None):
    """Creates a constant tensor from a Python value or array.

    Args:
      value: a Python scalar, nested list, NumPy array or Tensor.
      dtype: optional element type; Python floats default to float32 and ints to int32.
      shape: optional shape; a scalar ``value`` is broadcast (filled) to it.
      name: ignored (eager mode).
    Returns:
      A ``Tensor``.
    Raises:
      TypeError: if ``value`` cannot be represented in ``dtype``.

    >>> import tapeflow as tf
    >>> tf.constant([1, 2]).dtype, tf.constant(1.5).dtype
    (tf.int32, tf.float32)
    >>> tf.constant(0.0, shape=[2, 2]).numpy()
    array([[0., 0.],
           [0., 0.]], dtype=float32)
    """
    dtype = None if dtype is None else _dt.as_dtype(dtype)
    arr = np.array(_python_to_array(value, dtype), copy=True)
    if shape is not None:
        shape = tuple(TensorShape(shape).as_list())
        if arr.size == 1:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        elif arr.size == int(np.prod(shape)):
            arr = arr.reshape(shape)
        else:
            raise TypeError(f"Eager execution of tf.constant with unsupported shape. Tried to "
                            f"convert a value of {arr.size} elements to shape {list(shape)}.")
    return _wrap(arr)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """Converts ``value`` to a ``Tensor`` (a Tensor is returned as is).

    Args:
      value: a Tensor, Variable, array or Python value.
      dtype: the required dtype; a Tensor of another dtype raises ``ValueError``.
      dtype_hint: a preferred dtype for Python values that have no dtype of their own.
      name: ignored.
    Returns:
      A ``Tensor``.

    >>> import tapeflow as tf
    >>> tf.convert_to_tensor([1.0, 2.0]).dtype
    tf.float32
    """
    if type(value) is Tensor:
        if dtype is not None and value.dtype != dtype:
            raise ValueError(f"Tensor conversion requested dtype {_dt.as_dtype(dtype).name} for "
                             f"Tensor with dtype {value.dtype.name}: {value!r}")
        return value
    if isinstance(value, _TensorLike):  # a Variable: read it (recorded on tapes)
        t = value.read_value()
        if dtype is not None and t.dtype != dtype:
            raise ValueError(f"Tensor conversion requested dtype {_dt.as_dtype(dtype).name} for "
                             f"variable with dtype {t.dtype.name}.")
        return t
    dtype = None if dtype is None else _dt.as_dtype(dtype)
    if dtype is None and dtype_hint is not None and not isinstance(value, (_ndarray, np.generic)):
        try:
            return _wrap(_python_to_array(value, _dt.as_dtype(dtype_hint)))
        except (TypeError, ValueError):
            pass
    return _wrap(_python_to_array(value, dtype))


def is_tensor(x):
    """True for a ``Tensor`` or ``Variable`` (``tf.is_tensor``).

    >>> import tapeflow as tf
    >>> tf.is_tensor(tf.constant(1)), tf.is_tensor(1)
    (True, False)
    """
    return isinstance(x, _TensorLike)
