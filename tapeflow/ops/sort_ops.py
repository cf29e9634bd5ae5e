"""Sorting ops: ``sort``, ``argsort``, ``math.top_k``."""

import collections

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import op
from tapeflow.framework.tensor import Tensor
from tapeflow.ops._helpers import to_tensor

TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


@op("TakeAlongAxis")
def _take_along(x, indices, axis):
    return np.take_along_axis(x, indices, axis)


@_take_along.defgrad
def _take_along_grad(op, dy):
    x, indices = op.inputs
    return (_put_along(dy, indices, axis=op.attrs["axis"], shape=x._value.shape), None)


@op("PutAlongAxis")
def _put_along(dy, indices, axis, shape):
    # The indices come from a sort or top_k, so they are unique along ``axis``.
    out = np.zeros(shape, dtype=dy.dtype)
    np.put_along_axis(out, indices, dy, axis)
    return out


@_put_along.defgrad
def _put_along_grad(op, ddy):
    return (_take_along(ddy, op.inputs[1], axis=op.attrs["axis"]), None)


def _order(v, axis, descending):
    # Stable order; ties keep the lower index first in both directions, as TensorFlow.
    if descending:
        if v.dtype.kind == "b":
            v = v.astype(np.int8)
        if v.dtype.kind == "u":
            v = v.astype(np.int64)
        return np.argsort(-v, axis=axis, kind="stable")
    return np.argsort(v, axis=axis, kind="stable")


def _direction(direction, name):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"{name}: direction must be 'ASCENDING' or 'DESCENDING', got "
                         f"{direction!r}.")
    return direction == "DESCENDING"


def _axis(t, axis, name):
    nd = t._value.ndim
    if nd == 0:
        raise InvalidArgumentError(f"{name}: input must be at least rank 1, got a scalar.")
    if not -nd <= int(axis) < nd:
        raise InvalidArgumentError(f"{name}: axis {axis} is out of range for a tensor of rank "
                                   f"{nd}.")
    return int(axis) % nd


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The int32 indices that sort ``values`` along ``axis``.

    >>> import tapeflow as tf
    >>> tf.argsort(tf.constant([3.0, 1.0, 2.0])).numpy()
    array([1, 2, 0], dtype=int32)
    """
    t = to_tensor(values)
    desc = _direction(direction, "argsort")
    return Tensor(_order(t._value, _axis(t, axis, "argsort"), desc).astype(np.int32))


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """Sorts ``values`` along ``axis``; the gradient flows back to the original positions.

    >>> import tapeflow as tf
    >>> tf.sort(tf.constant([3, 1, 2]), direction="DESCENDING").numpy()
    array([3, 2, 1], dtype=int32)
    """
    t = to_tensor(values)
    desc = _direction(direction, "sort")
    ax = _axis(t, axis, "sort")
    idx = Tensor(_order(t._value, ax, desc))
    return _take_along(t, idx, axis=ax)


def top_k(input, k=1, sorted=True, index_type=None, name=None):  # noqa: A002
    """The ``k`` largest entries of the last axis and their int32 indices.

    Raises:
      InvalidArgumentError: if ``k`` is negative or larger than the last dimension.

    >>> import tapeflow as tf
    >>> r = tf.math.top_k(tf.constant([1.0, 5.0, 3.0]), k=2)
    >>> r.values.numpy(), r.indices.numpy()
    (array([5., 3.], dtype=float32), array([1, 2], dtype=int32))
    """
    t = to_tensor(input)
    if t._value.ndim == 0:
        raise InvalidArgumentError("top_k: input must be at least rank 1, got a scalar.")
    k = int(k)
    n = t._value.shape[-1]
    if not 0 <= k <= n:
        raise InvalidArgumentError(f"top_k: input must have at least k={k} columns, got shape "
                                   f"{tuple(t._value.shape)}." if k > n else
                                   f"top_k: k must be non-negative, got {k}.")
    idx = _order(t._value, -1, True)[..., :k]
    values = _take_along(t, Tensor(idx), axis=-1)
    dt = np.int32 if index_type is None else np.dtype(str(getattr(index_type, "name",
                                                                   index_type)))
    return TopKV2(values, Tensor(idx.astype(dt)))
