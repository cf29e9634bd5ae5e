"""``Variable``: mutable state that tapes watch automatically when it is trainable."""

import itertools

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework import registry as _reg
from tapeflow.framework.tensor import Tensor, TensorShape, _python_to_array, _TensorLike

__all__ = ["Variable"]

_uid = itertools.count(1)
# Lists that collect every variable read while they are on this stack (custom_gradient uses it).
_ACCESS_WATCHERS = []


@_reg.op("ReadVariableOp")
def _read_variable(value):
    return value


@_read_variable.defgrad
def _read_variable_grad(op, dy):
    return (dy,)


_READ = _read_variable.opdef


class Variable(_TensorLike):
    """A mutable tensor-valued state, such as a layer's weights (``tf.Variable``).

    Use it anywhere a tensor is expected. Under a ``GradientTape``, reading a trainable variable
    makes the tape watch it, so ``tape.gradient(loss, [v])`` needs no ``tape.watch(v)``.

    Args:
      initial_value: the starting value (a Tensor, array, Python value or a zero-argument callable).
      trainable: whether tapes watch the variable automatically.
      name: the variable's name.
      dtype: optional dtype to convert ``initial_value`` to.
      shape: optional shape to check ``initial_value`` against.
      constraint: optional function applied by optimizers after each update.

    >>> import tapeflow as tf
    >>> v = tf.Variable([1.0, 2.0])
    >>> _ = v.assign_add([1.0, 1.0])
    >>> v.numpy()
    array([2., 3.], dtype=float32)
    """

    __slots__ = ("_value", "_name", "_trainable", "_constraint", "_uid", "path", "_aggregation",
                 "_synchronization", "__weakref__", "__dict__")

    def __init__(self, initial_value=None, trainable=True, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None,
                 import_scope=None, constraint=None, synchronization=None, aggregation=None,
                 shape=None, experimental_enable_variable_lifting=True):
        if initial_value is None:
            raise ValueError("Variable: initial_value must be given, got None.")
        if callable(initial_value):
            initial_value = initial_value()
        dtype = None if dtype is None else _dt.as_dtype(dtype)
        arr = np.array(_python_to_array(initial_value, dtype), copy=True, order="C")
        if shape is not None and validate_shape:
            if not TensorShape(shape).is_compatible_with(arr.shape):
                raise ValueError(f"Variable: initial_value has shape {arr.shape}, which is not "
                                 f"compatible with shape={TensorShape(shape)}.")
        self._value = arr
        self._name = name or "Variable"
        self._trainable = bool(trainable)
        self._constraint = constraint
        self._uid = next(_uid)
        self.path = self._name
        self._aggregation = aggregation
        self._synchronization = synchronization

    @property
    def name(self):
        return self._name + ":0"

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    @property
    def constraint(self):
        return self._constraint

    @property
    def aggregation(self):
        return self._aggregation

    @property
    def synchronization(self):
        return self._synchronization

    @property
    def initial_value(self):
        return Tensor(self._value.copy())

    def _read(self):
        """Reads the value as an op so tapes can route gradients back to this variable."""
        for watcher in _ACCESS_WATCHERS:
            watcher.append(self)
        if _reg._TAPES:
            for tape in _reg._TAPES:
                if tape._recording:
                    tape._variable_accessed(self)
            return _reg.execute(_READ, [self], {})
        t = Tensor.__new__(Tensor)
        t._value = self._value
        return t

    def read_value(self):
        """Returns the current value as a new Tensor (a copy: later assigns do not change it)."""
        t = self._read()
        return Tensor(t._value.copy()) if not _reg._TAPES else _copy_read(t)

    def value(self):
        return self.read_value()

    def numpy(self):
        v = self._value.copy()
        return v[()] if v.ndim == 0 else v

    def _check_assign(self, value, op_name):
        if isinstance(value, _TensorLike) and value._value.dtype != self._value.dtype:
            # TensorFlow converts the value to the variable's dtype, which a Tensor of another
            # dtype refuses (Python values and NumPy arrays are converted).
            raise ValueError(f"Variable.{op_name}: Tensor conversion requested dtype "
                             f"{_dt.from_numpy(self._value.dtype).name} for Tensor with dtype "
                             f"{_dt.from_numpy(value._value.dtype).name}; cast the value first "
                             f"(variable {self._name!r}).")
        arr = _python_to_array(value, None)
        if arr.shape != self._value.shape:
            try:
                arr = np.broadcast_to(arr, self._value.shape) if arr.ndim == 0 else arr
            except ValueError:
                pass
            if arr.shape != self._value.shape:
                raise ValueError(f"Variable.{op_name}: cannot assign a value of shape "
                                 f"{tuple(arr.shape)} to variable {self._name!r} of shape "
                                 f"{tuple(self._value.shape)}.")
        if arr.dtype != self._value.dtype and arr.dtype.kind != self._value.dtype.kind:
            if not (arr.dtype.kind in "iub" and self._value.dtype.kind in "fiu"):
                raise TypeError(f"Variable.{op_name}: cannot assign a value of dtype "
                                f"{arr.dtype.name} to variable {self._name!r} of dtype "
                                f"{self._value.dtype.name}.")
        return arr

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Sets the variable's value in place; the shape must not change."""
        np.copyto(self._value, self._check_assign(value, "assign"), casting="unsafe")
        return self

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Adds ``delta`` to the variable in place."""
        np.add(self._value, self._check_assign(delta, "assign_add"), out=self._value,
               casting="unsafe")
        return self

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """Subtracts ``delta`` from the variable in place."""
        np.subtract(self._value, self._check_assign(delta, "assign_sub"), out=self._value,
                    casting="unsafe")
        return self

    def get_shape(self):
        return self.shape

    def __repr__(self):
        return (f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={_np_repr(self._value)}>")

    def __str__(self):
        return self.__repr__()

    def __deepcopy__(self, memo):
        v = Variable(self._value.copy(), trainable=self._trainable, name=self._name,
                     constraint=self._constraint)
        v.path = self.path
        return v

    def __reduce__(self):
        return _rebuild_variable, (self._value.copy(), self._trainable, self._name)


def _rebuild_variable(value, trainable, name):
    return Variable(value, trainable=trainable, name=name)


def _np_repr(v):
    from tapeflow.framework.tensor import _np_repr as tensor_np_repr

    return tensor_np_repr(v)


@_reg.op("Identity")
def _identity(x):
    return x.copy()


@_identity.defgrad
def _identity_grad(op, dy):
    return (dy,)


def _copy_read(t):
    return _identity(t)
