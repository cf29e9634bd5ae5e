"""N-d indexing ops: ``gather_nd``, ``scatter_nd``, ``tensor_scatter_nd_*``, ``boolean_mask``,
``reverse`` and ``roll``."""

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import op
from tapeflow.ops import array_ops as a
from tapeflow.ops import math_ops as m
from tapeflow.ops._helpers import norm_axis, shape_arg, to_tensor


def _nd_key(indices, batch_dims=0):
    # indices[..., k] index the first k dims after the batch dims; batch dims use aranges.
    depth = indices.shape[-1]
    lead = indices.shape[:-1]
    key = []
    for b in range(batch_dims):
        shape = [1] * len(lead)
        shape[b] = lead[b]
        key.append(np.arange(lead[b]).reshape(shape))
    key += [indices[..., i] for i in range(depth)]
    return tuple(key)


@op("GatherNd")
def _gather_nd(params, indices, batch_dims):
    return params[_nd_key(indices, batch_dims)]


@_gather_nd.defgrad
def _gather_nd_grad(op, dy):
    params, indices = op.inputs
    return (_scatter_nd_add(dy, indices, batch_dims=op.attrs["batch_dims"],
                            shape=params._value.shape), None)


@op("ScatterNdAdd")
def _scatter_nd_add(updates, indices, batch_dims, shape):
    out = np.zeros(shape, dtype=updates.dtype)
    np.add.at(out, _nd_key(indices, batch_dims), updates)
    return out


@_scatter_nd_add.defgrad
def _scatter_nd_add_grad(op, ddy):
    indices = op.inputs[1]
    return (_gather_nd(ddy, indices, batch_dims=op.attrs["batch_dims"]), None)


def _check_nd_indices(name, shape, idx, batch_dims):
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be an integer tensor, got {idx.dtype.name}.")
    v = idx._value
    if v.ndim < 1:
        raise InvalidArgumentError(f"{name}: indices must be at least rank 1, got a scalar.")
    depth = v.shape[-1]
    dims = shape[batch_dims:batch_dims + depth]
    if depth + batch_dims > len(shape):
        raise InvalidArgumentError(
            f"{name}: index innermost dimension {depth} (plus batch_dims={batch_dims}) is larger "
            f"than the rank {len(shape)} of params with shape {tuple(shape)}.")
    if v.size:
        bad = (v < 0) | (v >= np.asarray(dims, dtype=np.int64))
        if bad.any():
            pos = tuple(int(p) for p in np.argwhere(bad.any(axis=-1))[0])
            raise InvalidArgumentError(
                f"{name}: indices{list(pos)} = {v[pos].tolist()} does not index into param "
                f"shape {list(shape)}.")


def gather_nd(params, indices, batch_dims=0, name=None):
    """Gathers slices of ``params`` at the multi-indices in the last axis of ``indices``.

    Raises:
      InvalidArgumentError: for an index outside ``params``.

    >>> import tapeflow as tf
    >>> tf.gather_nd(tf.constant([[1, 2], [3, 4]]), [[0, 1], [1, 0]]).numpy()
    array([2, 3], dtype=int32)
    """
    p = to_tensor(params)
    idx = to_tensor(indices)
    batch_dims = int(batch_dims)
    _check_nd_indices("gather_nd", p._value.shape, idx, batch_dims)
    return _gather_nd(p, idx, batch_dims=batch_dims)


def scatter_nd(indices, updates, shape, name=None):
    """A tensor of ``shape`` zeros with ``updates`` added at ``indices`` (duplicates summed).

    >>> import tapeflow as tf
    >>> tf.scatter_nd([[1], [3]], tf.constant([5.0, 7.0]), [4]).numpy()
    array([0., 5., 0., 7.], dtype=float32)
    """
    idx = to_tensor(indices)
    u = to_tensor(updates)
    shape = shape_arg(shape)
    _check_nd_indices("scatter_nd", shape, idx, 0)
    want = tuple(idx._value.shape[:-1]) + tuple(shape[idx._value.shape[-1]:])
    if tuple(u._value.shape) != want:
        raise InvalidArgumentError(f"scatter_nd: updates must have shape {want} for indices of "
                                   f"shape {tuple(idx._value.shape)} and shape {shape}, got "
                                   f"{tuple(u._value.shape)}.")
    return _scatter_nd_add(u, idx, batch_dims=0, shape=shape)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    """``tensor`` with ``updates`` added at ``indices``.

    >>> import tapeflow as tf
    >>> tf.tensor_scatter_nd_add(tf.ones([3]), [[0]], [2.0]).numpy()
    array([3., 1., 1.], dtype=float32)
    """
    t = to_tensor(tensor)
    u = to_tensor(updates, dtype=t.dtype) if not hasattr(updates, "_value") else updates
    return t + scatter_nd(indices, u, t._value.shape)


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """``tensor`` with the elements/slices at ``indices`` replaced by ``updates``.

    >>> import tapeflow as tf
    >>> tf.tensor_scatter_nd_update(tf.zeros([3]), [[2]], [5.0]).numpy()
    array([0., 0., 5.], dtype=float32)
    """
    t = to_tensor(tensor)
    u = to_tensor(updates, dtype=t.dtype) if not hasattr(updates, "_value") else updates
    shape = t._value.shape
    ones = m.ones_like(u)
    mask = scatter_nd(indices, ones, shape)  # 1 where replaced
    keep = m.cast(m.equal(mask, m.zeros_like(mask)), t.dtype)
    return t * keep + scatter_nd(indices, u, shape)


def boolean_mask(tensor, mask, axis=None, name=None):
    """The elements (or slices) of ``tensor`` where ``mask`` is True, flattened over the mask's
    dimensions.

    Raises:
      InvalidArgumentError: if the mask's shape does not match the tensor's dimensions.

    >>> import tapeflow as tf
    >>> tf.boolean_mask(tf.constant([[1, 2], [3, 4]]), [True, False]).numpy()
    array([[1, 2]], dtype=int32)
    """
    t = to_tensor(tensor)
    mk = to_tensor(mask)
    if mk._value.dtype.kind != "b":
        raise TypeError(f"boolean_mask: mask must be a bool tensor, got {mk.dtype.name}.")
    k = mk._value.ndim
    axis = 0 if axis is None else int(axis) % max(t._value.ndim, 1)
    shape = tuple(t._value.shape)
    if k == 0:
        raise ValueError("boolean_mask: mask cannot be a scalar.")
    if shape[axis:axis + k] != tuple(mk._value.shape):
        raise InvalidArgumentError(f"boolean_mask: mask of shape {tuple(mk._value.shape)} does "
                                   f"not match dimensions {axis}..{axis + k - 1} of tensor "
                                   f"shape {shape}.")
    n = int(np.prod(shape[axis:axis + k]))
    flat = a.reshape(t, shape[:axis] + (n,) + shape[axis + k:])
    idx = np.flatnonzero(mk._value).astype(np.int64)
    return a.gather(flat, idx, axis=axis)


@op("ReverseV2")
def _reverse(x, axes):
    return np.flip(x, axes)


@_reverse.defgrad
def _reverse_grad(op, dy):
    return (_reverse(dy, axes=op.attrs["axes"]),)


def reverse(tensor, axis, name=None):
    """Reverses ``tensor`` along each axis in ``axis``.

    >>> import tapeflow as tf
    >>> tf.reverse(tf.constant([[1, 2], [3, 4]]), axis=[1]).numpy()
    array([[2, 1],
           [4, 3]], dtype=int32)
    """
    t = to_tensor(tensor)
    return _reverse(t, axes=norm_axis(axis, t._value.ndim, "reverse"))


@op("Roll")
def _roll(x, shift, axis):
    return np.roll(x, shift, axis)


@_roll.defgrad
def _roll_grad(op, dy):
    return (_roll(dy, shift=tuple(-s for s in op.attrs["shift"]), axis=op.attrs["axis"]),)


def roll(input, shift, axis, name=None):  # noqa: A002 - TensorFlow's argument name
    """Rolls the elements of ``input`` by ``shift`` along ``axis``.

    >>> import tapeflow as tf
    >>> tf.roll(tf.constant([1, 2, 3, 4]), shift=1, axis=0).numpy()
    array([4, 1, 2, 3], dtype=int32)
    """
    t = to_tensor(input)
    shift = shape_arg(shift)
    axes = tuple(int(x) for x in shape_arg(axis))
    if len(shift) != len(axes):
        raise InvalidArgumentError(f"roll: shift and axis must have the same length, got "
                                   f"{len(shift)} and {len(axes)}.")
    return _roll(t, shift=shift, axis=axes)


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """Sums the rows of ``data`` that share a segment id; ids need not be sorted.

    >>> import tapeflow as tf
    >>> tf.math.unsorted_segment_sum(tf.constant([1.0, 2.0, 3.0]), [1, 0, 1], 2).numpy()
    array([2., 4.], dtype=float32)
    """
    d = to_tensor(data)
    ids = to_tensor(segment_ids)
    n = int(num_segments)
    k = ids._value.ndim
    if tuple(d._value.shape[:k]) != tuple(ids._value.shape):
        raise InvalidArgumentError(f"unsorted_segment_sum: segment_ids shape "
                                   f"{tuple(ids._value.shape)} must be a prefix of data shape "
                                   f"{tuple(d._value.shape)}.")
    return scatter_nd(a.expand_dims(ids, -1), d, (n,) + tuple(d._value.shape[k:]))


def segment_sum(data, segment_ids, name=None):
    """Sums the rows of ``data`` per sorted segment id.

    >>> import tapeflow as tf
    >>> tf.math.segment_sum(tf.constant([1, 2, 3]), [0, 0, 1]).numpy()
    array([3, 3], dtype=int32)
    """
    ids = to_tensor(segment_ids)
    n = int(ids._value.max()) + 1 if ids._value.size else 0
    return unsorted_segment_sum(data, ids, n)


def sequence_mask(lengths, maxlen=None, dtype=None, name=None):
    """mask[..., j] = j < lengths[...] (``tf.sequence_mask``).

    >>> import tapeflow as tf
    >>> tf.sequence_mask([1, 3], 4).numpy()
    array([[ True, False, False, False],
           [ True,  True,  True, False]])
    """
    from tapeflow.framework import dtypes as _dt
    from tapeflow.framework.tensor import Tensor

    lv = to_tensor(lengths)._value
    n = int(lv.max()) if maxlen is None and lv.size else int(maxlen or 0)
    mask = np.arange(n) < lv[..., None]
    if dtype is not None:
        mask = mask.astype(_dt.as_dtype(dtype)._np)
    return Tensor(mask)


def meshgrid(*args, **kwargs):
    """Coordinate grids of 1-D tensors (``indexing='xy'`` by default, or ``'ij'``).

    >>> import tapeflow as tf
    >>> [g.numpy().tolist() for g in tf.meshgrid([1, 2], [3, 4, 5])][0]
    [[1, 2], [1, 2], [1, 2]]
    """
    from tapeflow.ops.reduction_ops import broadcast_to

    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"meshgrid: unexpected keyword arguments {sorted(kwargs)}.")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    ts = [a.reshape(to_tensor(x), [-1]) for x in args]
    shape = [t._value.shape[0] for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        pos = i
        if indexing == "xy" and len(ts) >= 2 and i < 2:
            pos = 1 - i
        view = [1] * len(ts)
        view[pos] = -1
        out.append(broadcast_to(a.reshape(t, view), shape))
    return out


def unique(x, out_idx=None, name=None):
    """The unique elements of a 1-D tensor in order of first appearance, and for each element
    the index of its value in that list (a ``Unique(y, idx)`` pair).

    >>> import tapeflow as tf
    >>> y, idx = tf.unique([1, 1, 2, 4, 4, 4, 7, 8, 8])
    >>> y.numpy(), idx.numpy()
    (array([1, 2, 4, 7, 8], dtype=int32), array([0, 0, 1, 2, 2, 2, 3, 4, 4], dtype=int32))
    """
    import collections

    from tapeflow.framework import dtypes as _dt
    from tapeflow.framework.tensor import Tensor

    v = to_tensor(x)._value
    if v.ndim != 1:
        raise InvalidArgumentError(f"unique: x must be a vector, got shape {tuple(v.shape)}.")
    _, first, inverse = np.unique(v, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    dt = np.int32 if out_idx is None else _dt.as_dtype(out_idx)._np
    Unique = collections.namedtuple("Unique", ["y", "idx"])
    return Unique(Tensor(v[np.sort(first)]), Tensor(rank[inverse.reshape(-1)].astype(dt)))
