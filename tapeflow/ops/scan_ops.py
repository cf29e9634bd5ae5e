"""Accumulating ops: ``add_n``, ``cumsum``, ``cumprod``."""

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import op
from tapeflow.ops import math_ops as m
from tapeflow.ops._helpers import norm_axis, to_tensor


@op("AddN")
def _add_n(*xs):
    out = xs[0].copy()
    for x in xs[1:]:
        out += x
    return out


@_add_n.defgrad
def _add_n_grad(op, dy):
    return tuple(dy for _ in op.inputs)


def add_n(inputs, name=None):
    """Adds a list of tensors of one shape and dtype elementwise.

    Raises:
      InvalidArgumentError: if the shapes or dtypes differ.

    >>> import tapeflow as tf
    >>> tf.add_n([tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])]).numpy()
    array([4., 6.], dtype=float32)
    """
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError(f"add_n: inputs must be a non-empty list of tensors, got {inputs!r}.")
    ts = [to_tensor(x) for x in inputs]
    first = ts[0]
    for i, t in enumerate(ts[1:], 1):
        if t._value.dtype != first._value.dtype:
            raise InvalidArgumentError(f"add_n: inputs[{i}] has dtype {t.dtype.name} but "
                                       f"inputs[0] has dtype {first.dtype.name}.")
        if t._value.shape != first._value.shape:
            raise InvalidArgumentError(f"add_n: inputs[{i}] has shape {tuple(t._value.shape)} "
                                       f"but inputs[0] has shape {tuple(first._value.shape)}.")
    if len(ts) == 1:
        return ts[0]
    return _add_n(*ts)


def _shifted(y, axis, exclusive, reverse, identity):
    # For exclusive scans: shift the inclusive result by one along ``axis``.
    if not exclusive:
        return y
    pad = [(0, 0)] * y.ndim
    sl = [slice(None)] * y.ndim
    if reverse:
        pad[axis] = (0, 1)
        sl[axis] = slice(1, None)
    else:
        pad[axis] = (1, 0)
        sl[axis] = slice(None, -1)
    return np.pad(y[tuple(sl)], pad, constant_values=identity)


def _scan(fn, x, axis, exclusive, reverse, identity):
    if reverse:
        x = np.flip(x, axis)
    y = fn(x, axis=axis, dtype=x.dtype)
    if reverse:
        y = np.flip(y, axis)
    return _shifted(y, axis, exclusive, reverse, identity)


@op("Cumsum")
def _cumsum(x, axis, exclusive, reverse):
    return _scan(np.cumsum, x, axis, exclusive, reverse, 0)


@_cumsum.defgrad
def _cumsum_grad(op, dy):
    a = op.attrs
    return (_cumsum(dy, axis=a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"]),)


@op("Cumprod")
def _cumprod(x, axis, exclusive, reverse):
    return _scan(np.cumprod, x, axis, exclusive, reverse, 1)


@_cumprod.defgrad
def _cumprod_grad(op, dy):
    # As TensorFlow: valid where x != 0.
    (x,) = op.inputs
    (y,) = op.outputs
    a = op.attrs
    s = _cumsum(y * dy, axis=a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])
    return (m.divide(s, x),)


def _scan_args(x, axis, name):
    x = to_tensor(x)
    if x._value.ndim == 0:
        raise InvalidArgumentError(f"{name}: input must be at least rank 1, got a scalar.")
    return x, norm_axis(int(axis), x._value.ndim, name)[0]


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along ``axis`` (``exclusive`` leaves out the current element).

    >>> import tapeflow as tf
    >>> tf.math.cumsum(tf.constant([1, 2, 3])).numpy()
    array([1, 3, 6], dtype=int32)
    >>> tf.math.cumsum(tf.constant([1, 2, 3]), exclusive=True, reverse=True).numpy()
    array([5, 3, 0], dtype=int32)
    """
    x, axis = _scan_args(x, axis, "cumsum")
    return _cumsum(x, axis=axis, exclusive=bool(exclusive), reverse=bool(reverse))


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative product along ``axis``.

    >>> import tapeflow as tf
    >>> tf.math.cumprod(tf.constant([1.0, 2.0, 3.0])).numpy()
    array([1., 2., 6.], dtype=float32)
    """
    x, axis = _scan_args(x, axis, "cumprod")
    return _cumprod(x, axis=axis, exclusive=bool(exclusive), reverse=bool(reverse))
