"""Argument conversion shared by the op modules: dtype rules and axis normalisation."""

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.tensor import (
    Tensor,
    _python_to_array,
    _TensorLike,
    _wrap,
    convert_to_tensor,
)

_ndarray = np.ndarray


def to_tensor(x, dtype=None):
    """Converts an op argument to a Tensor (fast path for Tensors)."""
    if type(x) is Tensor and dtype is None:
        return x
    return convert_to_tensor(x, dtype=dtype)


def _like(v, ref, op_name, position):
    # Python values and arrays adopt the dtype of the tensor they meet; tensors must match it.
    if isinstance(v, _TensorLike):
        t = v if type(v) is Tensor else convert_to_tensor(v)
        if t._value.dtype != ref._value.dtype:
            raise InvalidArgumentError(
                f"{op_name}: cannot compute {op_name} as input #{position}(zero-based) was "
                f"expected to be a {ref.dtype.name} tensor but is a {t.dtype.name} tensor")
        return t
    target = ref._value.dtype
    if isinstance(v, (float, int)) and not isinstance(v, bool):
        if target.kind in "iu" and isinstance(v, float) and v != int(v):
            raise TypeError(f"{op_name}: cannot convert {v!r} to EagerTensor of dtype "
                            f"{ref.dtype.name}")
        arr = np.asarray(v, dtype=target)
    else:
        arr = _python_to_array(v, None)
        if arr.dtype != target:
            if arr.dtype.kind == "f" and target.kind in "iub":
                raise TypeError(f"{op_name}: cannot convert a {arr.dtype.name} value to "
                                f"EagerTensor of dtype {ref.dtype.name}")
            arr = arr.astype(target)
    return _wrap(arr)


def binary_args(x, y, op_name):
    """Converts both operands of a binary elementwise op to Tensors of one dtype."""
    tx = type(x) is Tensor
    ty = type(y) is Tensor
    if tx and ty:
        if x._value.dtype is not y._value.dtype and x._value.dtype != y._value.dtype:
            raise InvalidArgumentError(
                f"{op_name}: cannot compute {op_name} as input #1(zero-based) was expected to be "
                f"a {x.dtype.name} tensor but is a {y.dtype.name} tensor")
        return x, y
    if tx or isinstance(x, _TensorLike):
        x = to_tensor(x)
        return x, _like(y, x, op_name, 1)
    if ty or isinstance(y, _TensorLike):
        y = to_tensor(y)
        return _like(x, y, op_name, 0), y
    x = to_tensor(x)
    return x, _like(y, x, op_name, 1)


def norm_axis(axis, ndim, op_name="op"):
    """Returns ``axis`` as a sorted tuple of non-negative ints (None means every axis)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, _TensorLike):
        axis = axis._value.tolist()
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise InvalidArgumentError(
                f"{op_name}: axis {a} is out of range for a tensor of rank {ndim}; expected "
                f"an axis in [{-ndim}, {ndim}).")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def shape_arg(shape):
    """Converts a shape argument (list, tuple, TensorShape or int tensor) to a tuple of ints."""
    if isinstance(shape, _TensorLike):
        return tuple(int(d) for d in np.asarray(shape._value).reshape(-1))
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(-1 if d is None else int(d) for d in shape)


def dtype_arg(dtype):
    return _dt.as_dtype(dtype)


def is_float(t):
    return t._value.dtype.kind in "fc"
