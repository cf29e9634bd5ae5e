"""Eager-mode context managers and small array utilities TensorFlow exposes at ``tf.X``.

tapeflow always runs eagerly on one device, so ``name_scope``, ``device``,
``control_dependencies`` and ``init_scope`` are context managers that only keep TensorFlow code
running; ``slice``, ``repeat``, ``ensure_shape`` and friends are built from recorded ops, so they
need no gradient of their own.
"""

import builtins
import contextlib

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.tensor import TensorShape, _TensorLike
from tapeflow.ops import array_ops as _a
from tapeflow.ops._helpers import to_tensor

__all__ = ["executing_eagerly", "name_scope", "device", "control_dependencies", "init_scope",
           "ensure_shape", "no_gradient", "get_static_value", "identity_n", "shape_n", "slice",
           "repeat"]


def executing_eagerly():
    """True: tapeflow always executes eagerly (also inside ``tf.function``).

    >>> import tapeflow as tf
    >>> tf.executing_eagerly()
    True
    """
    return True


class name_scope:  # noqa: N801 - TensorFlow's name
    """A context manager naming a scope (``tf.name_scope``); ops are unaffected in eager mode.

    >>> import tapeflow as tf
    >>> with tf.name_scope("block") as scope:
    ...     scope
    'block/'
    """

    def __init__(self, name):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name_scope: `name` must be a string, got {name!r}.")
        self._name = name

    @property
    def name(self):
        return self._name

    def __enter__(self):
        return "" if not self._name else self._name.rstrip("/") + "/"

    def __exit__(self, *exc):
        return False


@contextlib.contextmanager
def device(device_name):
    """Places ops on ``device_name`` (``tf.device``); tapeflow runs on the CPU and ignores it.

    >>> import tapeflow as tf
    >>> with tf.device("/CPU:0"):
    ...     float(tf.constant(1.0) + 1.0)
    2.0
    """
    if device_name is not None and not isinstance(device_name, str) and not callable(device_name):
        raise ValueError(f"device: expected a device string such as '/CPU:0', got "
                         f"{device_name!r}.")
    yield


@contextlib.contextmanager
def control_dependencies(control_inputs):
    """Orders ops after ``control_inputs`` (``tf.control_dependencies``); eager code already runs
    in order, so this only checks its argument.

    >>> import tapeflow as tf
    >>> with tf.control_dependencies([tf.debugging.assert_positive(tf.constant([1.0]))]):
    ...     float(tf.constant(2.0))
    2.0
    """
    if control_inputs is not None and not isinstance(control_inputs, (list, tuple)):
        raise TypeError(f"control_dependencies: `control_inputs` must be a list of tensors or "
                        f"ops (or None), got {type(control_inputs).__name__}.")
    yield


@contextlib.contextmanager
def init_scope():
    """Lifts code out of function-building graphs (``tf.init_scope``); a no-op when eager.

    >>> import tapeflow as tf
    >>> with tf.init_scope():
    ...     v = tf.Variable(1.0)
    """
    yield


def ensure_shape(x, shape, name=None):
    """Returns ``x`` after checking that its shape is compatible with ``shape``
    (``tf.ensure_shape``; ``None`` dimensions match anything).

    >>> import tapeflow as tf
    >>> tf.ensure_shape(tf.zeros([2, 3]), [None, 3]).shape
    TensorShape([2, 3])
    """
    t = to_tensor(x)
    want = TensorShape(shape)
    if not want.is_compatible_with(t.shape):
        raise InvalidArgumentError(f"ensure_shape: Shape of tensor x {list(t.shape.as_list())} "
                                   f"is not compatible with expected shape {want}.")
    return t


def no_gradient(op_type):
    """Declares the registered op ``op_type`` as having no gradient (``tf.no_gradient``).

    >>> import tapeflow as tf
    >>> tf.no_gradient("Equal")
    """
    from tapeflow.framework.registry import not_differentiable

    if not isinstance(op_type, str):
        raise TypeError(f"no_gradient: op_type must be the string name of an op, got "
                        f"{op_type!r}.")
    not_differentiable(op_type)


def get_static_value(tensor, partial=False):
    """The value of ``tensor`` as a NumPy array (always known in eager mode), or the value itself
    for non-tensors (``tf.get_static_value``).

    >>> import tapeflow as tf
    >>> tf.get_static_value(tf.constant([1, 2]))
    array([1, 2], dtype=int32)
    """
    if isinstance(tensor, _TensorLike):
        return np.array(tensor._value)
    return tensor if tensor is None else np.asarray(tensor)


def identity_n(input, name=None):  # noqa: A002 - TensorFlow's argument name
    """``tf.identity`` of each tensor in a list.

    >>> import tapeflow as tf
    >>> [t.numpy() for t in tf.identity_n([tf.constant(1), tf.constant(2.0)])]
    [np.int32(1), np.float32(2.0)]
    """
    return [_a.identity(t) for t in input]


def shape_n(input, out_type=None, name=None):  # noqa: A002
    """``tf.shape`` of each tensor in a list.

    >>> import tapeflow as tf
    >>> [s.numpy().tolist() for s in tf.shape_n([tf.zeros([2]), tf.zeros([1, 3])])]
    [[2], [1, 3]]
    """
    return [_a.shape(t) if out_type is None else _a.shape(t, out_type=out_type) for t in input]


def slice(input_, begin, size, name=None):  # noqa: A001 - TensorFlow's name
    """Extracts ``size`` elements starting at ``begin`` along each axis (``tf.slice``); a size of
    -1 takes everything to the end.

    >>> import tapeflow as tf
    >>> tf.slice(tf.reshape(tf.range(6), [2, 3]), [0, 1], [2, -1]).numpy()
    array([[1, 2],
           [4, 5]], dtype=int32)
    """
    x = to_tensor(input_)
    shape = x._value.shape
    begin = [int(b) for b in np.asarray(getattr(begin, "_value", begin)).reshape(-1)]
    size = [int(s) for s in np.asarray(getattr(size, "_value", size)).reshape(-1)]
    if len(begin) != len(shape) or len(size) != len(shape):
        raise InvalidArgumentError(f"slice: Expected begin and size arguments to be 1-D tensors "
                                   f"of size {len(shape)}, but got shapes [{len(begin)}] and "
                                   f"[{len(size)}] instead.")
    key = []
    for axis, (b, s, n) in enumerate(zip(begin, size, shape)):
        end = n if s == -1 else b + s
        if b < 0 or end > n or s < -1:
            raise InvalidArgumentError(
                f"slice: Expected begin[{axis}] = {b} and size[{axis}] = {s} to stay within the "
                f"dimension of size {n} (0 <= begin, begin + size <= {n}).")
        key.append(builtins.slice(b, end))
    return x[tuple(key)]



def repeat(input, repeats, axis=None, name=None):  # noqa: A002
    """Repeats each element ``repeats`` times along ``axis`` (the flattened input when None),
    as ``np.repeat`` (``tf.repeat``).

    >>> import tapeflow as tf
    >>> tf.repeat(tf.constant([[1, 2], [3, 4]]), repeats=[1, 2], axis=0).numpy()
    array([[1, 2],
           [3, 4],
           [3, 4]], dtype=int32)
    """
    x = to_tensor(input)
    if axis is None:
        x = _a.reshape(x, [-1])
        axis = 0
    axis = int(axis)
    n = x._value.shape[axis]
    reps = np.asarray(getattr(repeats, "_value", repeats)).reshape(-1)
    if reps.size not in (1, n):
        raise InvalidArgumentError(f"repeat: `repeats` must have 1 or {n} elements (the size of "
                                   f"axis {axis}), got {reps.size}.")
    if np.any(reps < 0):
        raise InvalidArgumentError(f"repeat: `repeats` must be non-negative, got {reps.tolist()}.")
    idx = np.repeat(np.arange(n), reps)
    return _a.gather(x, idx.astype(np.int32), axis=axis)


def searchsorted(sorted_sequence, values, side="left", out_type=None, name=None):
    """Indices at which ``values`` would be inserted into each row of ``sorted_sequence`` (the
    innermost axis) to keep it sorted (``tf.searchsorted``).

    >>> import tapeflow as tf
    >>> tf.searchsorted([[0, 3, 9], [1, 2, 3]], [[2, 4], [3, 0]], side="right").numpy()
    array([[1, 2],
           [3, 0]], dtype=int32)
    """
    from tapeflow.framework import dtypes as _dt
    from tapeflow.framework.tensor import Tensor

    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}.")
    seq = to_tensor(sorted_sequence)._value
    vals = to_tensor(values)._value
    if seq.shape[:-1] != vals.shape[:-1]:
        raise InvalidArgumentError(f"searchsorted: sorted_sequence and values must have the same "
                                   f"leading dimensions, got {tuple(seq.shape)} and "
                                   f"{tuple(vals.shape)}.")
    s2 = seq.reshape(-1, seq.shape[-1])
    v2 = vals.reshape(-1, vals.shape[-1])
    out = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(s2, v2)]) if len(s2) else \
        np.zeros(v2.shape, dtype=np.int64)
    dt = _dt.int32 if out_type is None else _dt.as_dtype(out_type)
    return Tensor(out.reshape(vals.shape).astype(dt._np))
