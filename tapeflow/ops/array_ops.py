"""Shape and indexing ops: reshape, transpose, concat, stack, split, tile, pad, gather, slicing,
and the tensor factories (zeros, ones, fill, eye, range, one_hot)."""

import builtins

from tapeflow._backend import jit, np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import _TAPES, not_differentiable, op
from tapeflow.framework.tensor import Tensor, _TensorLike, _wrap
from tapeflow.ops import math_ops as m
from tapeflow.ops._helpers import norm_axis, shape_arg, to_tensor


# ---------------------------------------------------------------- reshape / transpose
@op("Reshape")
def _reshape(x, shape):
    return x.reshape(shape)


@_reshape.defgrad
def _reshape_grad(op, dy):
    return (_reshape(dy, shape=op.inputs[0]._value.shape),)


def reshape(tensor, shape, name=None):
    """Returns ``tensor`` with a new shape (one dimension may be -1).

    Raises:
      InvalidArgumentError: if the element counts differ.

    >>> import tapeflow as tf
    >>> tf.reshape(tf.range(6), [2, -1]).numpy()
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int32)
    """
    x = to_tensor(tensor)
    shape = shape_arg(shape)
    if x._value.shape == shape:
        # same shape: record an op only under a tape, so gradients still see a new output
        return _reshape(x, shape=shape) if _TAPES else x
    size = x._value.size
    known = 1
    for d in shape:
        if d != -1:
            known *= d
    if shape.count(-1) > 1 or (-1 not in shape and known != size) or (
            -1 in shape and (known == 0 or size % known)):
        raise InvalidArgumentError(
            f"reshape: cannot reshape a tensor with {size} elements (shape "
            f"{tuple(x._value.shape)}) to shape {list(shape)}.")
    return _reshape(x, shape=shape)


@op("Transpose")
def _transpose(x, perm):
    return np.transpose(x, perm)


@_transpose.defgrad
def _transpose_grad(op, dy):
    return (_transpose(dy, perm=tuple(np.argsort(op.attrs["perm"]))),)


def transpose(a, perm=None, conjugate=False, name=None):
    """Permutes the axes of ``a`` (reverses them when ``perm`` is None).

    >>> import tapeflow as tf
    >>> tf.transpose(tf.zeros([2, 3, 4]), perm=[2, 0, 1]).shape
    TensorShape([4, 2, 3])
    """
    x = to_tensor(a)
    nd = x._value.ndim
    perm = tuple(reversed(range(nd))) if perm is None else tuple(int(p) % max(nd, 1)
                                                                 for p in shape_arg(perm))
    if sorted(perm) != list(range(nd)):
        raise InvalidArgumentError(f"transpose: perm={list(perm)} is not a permutation of the "
                                   f"{nd} axes of a tensor of shape {tuple(x._value.shape)}.")
    return _transpose(x, perm=perm)


def expand_dims(input, axis, name=None):  # noqa: A002
    """Inserts a size-1 dimension at ``axis``.

    >>> import tapeflow as tf
    >>> tf.expand_dims(tf.constant([1, 2]), 0).shape
    TensorShape([1, 2])
    """
    x = to_tensor(input)
    nd = x._value.ndim
    axis = int(axis)
    if not -nd - 1 <= axis <= nd:
        raise InvalidArgumentError(f"expand_dims: axis {axis} is out of range for a tensor of "
                                   f"rank {nd}; expected an axis in [{-nd - 1}, {nd}].")
    if axis < 0:
        axis += nd + 1
    shape = x._value.shape[:axis] + (1,) + x._value.shape[axis:]
    return _reshape(x, shape=shape)


def squeeze(input, axis=None, name=None):  # noqa: A002
    """Removes size-1 dimensions (only those in ``axis`` when given).

    >>> import tapeflow as tf
    >>> tf.squeeze(tf.zeros([1, 2, 1])).shape
    TensorShape([2])
    """
    x = to_tensor(input)
    shape = x._value.shape
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = norm_axis(axis, len(shape), "squeeze")
        for a in axes:
            if shape[a] != 1:
                raise InvalidArgumentError(f"squeeze: cannot squeeze axis {a} of a tensor of "
                                           f"shape {tuple(shape)}: its size is {shape[a]}, "
                                           f"expected 1.")
    return _reshape(x, shape=tuple(d for i, d in enumerate(shape) if i not in axes))


# ---------------------------------------------------------------- concat / stack / split
@op("ConcatV2")
def _concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


@_concat.defgrad
def _concat_grad(op, dy):
    axis = op.attrs["axis"]
    sizes = [t._value.shape[axis] for t in op.inputs]
    return tuple(_split(dy, sizes=tuple(sizes), axis=axis, n=len(sizes)))


def concat(values, axis, name=None):
    """Joins tensors along an existing ``axis``.

    >>> import tapeflow as tf
    >>> tf.concat([tf.zeros([1, 2]), tf.ones([1, 2])], axis=0).shape
    TensorShape([2, 2])
    """
    xs = [to_tensor(v) for v in values]
    if not xs:
        raise ValueError("concat: values must hold at least one tensor.")
    nd = xs[0]._value.ndim
    axis = norm_axis(axis, nd, "concat")[0]
    for i, t in enumerate(xs):
        if t._value.dtype != xs[0]._value.dtype:
            raise InvalidArgumentError(f"concat: all values must have the same dtype, but "
                                       f"values[0] is {xs[0].dtype.name} and values[{i}] is "
                                       f"{t.dtype.name}.")
        s0, si = xs[0]._value.shape, t._value.shape
        if len(si) != nd or any(a != b for k, (a, b) in enumerate(zip(s0, si)) if k != axis):
            raise InvalidArgumentError(
                f"concat: dimensions of inputs should match except on axis {axis}: shape of "
                f"values[0] = {list(s0)} does not match shape of values[{i}] = {list(si)}.")
    if len(xs) == 1:
        return xs[0]
    return _concat(*xs, axis=axis)


def _split_fwd(x, sizes, axis, n):
    idx = np.cumsum(sizes)[:-1]
    return np.split(x, idx, axis=axis)


_split_raw = op("SplitV", n_outputs=-1)(_split_fwd)


def _split(x, sizes, axis, n):
    _split_raw.opdef.n_outputs = n  # output count depends on the attrs
    return _split_raw(x, sizes=sizes, axis=axis, n=n)


@_split_raw.defgrad
def _split_grad(op, *dys):
    return (_concat(*dys, axis=op.attrs["axis"]),)


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """Splits ``value`` along ``axis`` into equal parts or parts of the given sizes.

    >>> import tapeflow as tf
    >>> [t.shape for t in tf.split(tf.zeros([4, 6]), [1, 5], axis=1)]
    [TensorShape([4, 1]), TensorShape([4, 5])]
    """
    x = to_tensor(value)
    axis = norm_axis(axis, x._value.ndim, "split")[0]
    dim = x._value.shape[axis]
    if isinstance(num_or_size_splits, (int, np.integer)) or (
            isinstance(num_or_size_splits, _TensorLike) and num_or_size_splits.ndim == 0):
        k = int(num_or_size_splits)
        if k <= 0 or dim % k:
            raise InvalidArgumentError(f"split: dimension {axis} of size {dim} cannot be split "
                                       f"into {k} equal parts.")
        sizes = [dim // k] * k
    else:
        sizes = [int(s) for s in shape_arg(num_or_size_splits)]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
        if sum(sizes) != dim:
            raise InvalidArgumentError(f"split: size_splits {sizes} must sum to dimension "
                                       f"{axis} of size {dim}.")
    return _split(x, sizes=tuple(sizes), axis=axis, n=len(sizes))


@op("Pack")
def _stack(*xs, axis):
    return np.stack(xs, axis=axis)


@_stack.defgrad
def _stack_grad(op, dy):
    return tuple(unstack(dy, axis=op.attrs["axis"]))


def stack(values, axis=0, name=None):
    """Stacks tensors of one shape along a new ``axis``.

    >>> import tapeflow as tf
    >>> tf.stack([tf.constant([1, 2]), tf.constant([3, 4])], axis=1).numpy()
    array([[1, 3],
           [2, 4]], dtype=int32)
    """
    xs = [to_tensor(v) for v in values]
    if not xs:
        raise ValueError("stack: values must hold at least one tensor.")
    s0 = xs[0]._value.shape
    for i, t in enumerate(xs):
        if t._value.shape != s0:
            raise InvalidArgumentError(f"stack: shapes of all inputs must match: values[0].shape "
                                       f"= {list(s0)} != values[{i}].shape = "
                                       f"{list(t._value.shape)}.")
        if t._value.dtype != xs[0]._value.dtype:
            raise InvalidArgumentError(f"stack: all values must have the same dtype, but "
                                       f"values[0] is {xs[0].dtype.name} and values[{i}] is "
                                       f"{t.dtype.name}.")
    axis = norm_axis(axis, len(s0) + 1, "stack")[0]
    return _stack(*xs, axis=axis)


def unstack(value, num=None, axis=0, name=None):
    """Splits ``value`` into a list of tensors along ``axis``, removing that axis.

    >>> import tapeflow as tf
    >>> [t.numpy() for t in tf.unstack(tf.constant([[1, 2], [3, 4]]))]
    [array([1, 2], dtype=int32), array([3, 4], dtype=int32)]
    """
    x = to_tensor(value)
    axis = norm_axis(axis, x._value.ndim, "unstack")[0]
    n = x._value.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but the tensor has {n} elements on axis {axis}.")
    parts = _split(x, sizes=(1,) * n, axis=axis, n=n) if n else []
    shape = x._value.shape[:axis] + x._value.shape[axis + 1:]
    return [_reshape(p, shape=shape) for p in parts]


# ---------------------------------------------------------------- tile / pad
@op("Tile")
def _tile(x, multiples):
    return np.tile(x, multiples)


@_tile.defgrad
def _tile_grad(op, dy):
    x = op.inputs[0]
    mult = op.attrs["multiples"]
    split_shape = []
    for k, d in zip(mult, x._value.shape):
        split_shape += [k, d]
    g = reshape(dy, split_shape)
    from tapeflow.ops.reduction_ops import reduce_sum

    return (reduce_sum(g, axis=list(range(0, 2 * len(mult), 2))),)


def tile(input, multiples, name=None):  # noqa: A002
    """Repeats ``input`` ``multiples[i]`` times along axis i.

    >>> import tapeflow as tf
    >>> tf.tile(tf.constant([[1, 2]]), [2, 2]).numpy()
    array([[1, 2, 1, 2],
           [1, 2, 1, 2]], dtype=int32)
    """
    x = to_tensor(input)
    mult = shape_arg(multiples)
    if len(mult) != x._value.ndim:
        raise InvalidArgumentError(f"tile: multiples has {len(mult)} entries but the input has "
                                   f"rank {x._value.ndim}; expected one per axis.")
    return _tile(x, multiples=mult)


@op("PadV2")
def _pad(x, paddings, mode, constant_values):
    if mode == "CONSTANT":
        return np.pad(x, paddings, mode="constant", constant_values=constant_values)
    return np.pad(x, paddings, mode="reflect" if mode == "REFLECT" else "symmetric")


@_pad.defgrad
def _pad_grad(op, dy):
    x = op.inputs[0]
    pads = op.attrs["paddings"]
    # only CONSTANT mode records PadV2 (see ``pad``)
    idx = tuple(slice(lo, lo + d) for (lo, _), d in zip(pads, x._value.shape))
    return (_getitem(dy, key=idx),)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pads ``tensor`` with ``paddings[i] = [before, after]`` elements on axis i.

    >>> import tapeflow as tf
    >>> tf.pad(tf.constant([[1, 2]]), [[0, 0], [1, 1]]).numpy()
    array([[0, 1, 2, 0]], dtype=int32)
    """
    x = to_tensor(tensor)
    p = np.asarray(paddings._value if isinstance(paddings, _TensorLike) else paddings,
                   dtype=np.int64)
    if p.shape != (x._value.ndim, 2):
        raise InvalidArgumentError(f"pad: paddings must have shape [{x._value.ndim}, 2] for a "
                                   f"tensor of rank {x._value.ndim}, got {list(p.shape)}.")
    mode = mode.upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}.")
    if mode == "CONSTANT":
        return _pad(x, paddings=tuple(map(tuple, p.tolist())), mode=mode,
                    constant_values=constant_values)
    # REFLECT / SYMMETRIC: a gather of mirrored indices on each padded axis, so the gradient
    # (a scatter-add back onto the mirrored positions) comes from GatherV2.
    np_mode = "reflect" if mode == "REFLECT" else "symmetric"
    for axis, (lo, hi) in enumerate(p.tolist()):
        if not lo and not hi:
            continue
        n = x._value.shape[axis]
        limit = n - 1 if mode == "REFLECT" else n
        if lo > limit or hi > limit or lo < 0 or hi < 0:
            raise InvalidArgumentError(
                f"pad: paddings must be no greater than the dimension size for {mode} mode "
                f"(less than it for REFLECT): got [{lo}, {hi}] for dimension {axis} of size {n}.")
        idx = np.pad(np.arange(n), (lo, hi), mode=np_mode)
        x = gather(x, idx, axis=axis)
    return x


# ---------------------------------------------------------------- gather / slicing
@op("GatherV2")
def _gather(params, indices, axis, batch_dims):
    if batch_dims == 0:
        return np.take(params, indices, axis=axis)
    # batch_dims > 0: gather independently per leading batch index
    lead = params.shape[:batch_dims]
    out = [np.take(params[idx], indices[idx], axis=axis - batch_dims)
           for idx in np.ndindex(*lead)]
    return np.stack(out).reshape(lead + out[0].shape) if out else np.zeros((0,), params.dtype)


@_gather.defgrad
def _gather_grad(op, dy):
    params, indices = op.inputs
    return (_gather_scatter(dy, indices, axis=op.attrs["axis"],
                            batch_dims=op.attrs["batch_dims"], shape=params._value.shape), None)


@op("GatherGrad")
def _gather_scatter(dy, indices, axis, batch_dims, shape):
    out = np.zeros(shape, dtype=dy.dtype)
    if batch_dims == 0 and axis == 0 and indices.size and dy.size:
        _scatter_rows(out, indices, dy)
        return out
    if batch_dims == 0:
        moved = np.moveaxis(out, axis, 0)
        idx = indices.reshape(-1)
        d = np.moveaxis(dy.reshape(shape[:axis] + (idx.size,) + shape[axis + 1:]), axis, 0)
        np.add.at(moved, idx, d)
        return out
    for b in np.ndindex(*shape[:batch_dims]):
        sub = np.moveaxis(out[b], axis - batch_dims, 0)
        idx = indices[b].reshape(-1)
        sshape = shape[batch_dims:]
        a = axis - batch_dims
        d = np.moveaxis(dy[b].reshape(sshape[:a] + (idx.size,) + sshape[a + 1:]), a, 0)
        np.add.at(sub, idx, d)
    return out


_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _scatter_rows(out, indices, dy):
    """``out[indices[j]] += dy[j]`` (rows of ``out``, ``dy`` shaped ``indices.shape +
    out.shape[1:]``) for the gradient of a gather along axis 0 (an Embedding's).

    ``np.add.at`` over rows runs its slow general loop (W6: 1.4 ms for 6400 rows of 32); on a
    flat output with flat element indices it takes NumPy's fast 1-D path (~6x faster). The
    additions happen in the order of ``dy``'s memory, one element at a time, as the row-wise
    ``add.at`` does in index order: for a C-ordered ``dy`` the sums are the same bit for bit;
    for a transposed view (the LSTM's input gradient) only the order of repeated rows' terms
    differs, which saves copying ``dy``.
    """
    idx = indices.astype(np.intp, copy=False)
    if dy.flags.c_contiguous and out.flags.c_contiguous and dy.dtype == out.dtype \
            and out.dtype in _JIT_DTYPES and out.ndim >= 1 and out.size and idx.size:
        k = jit.kernels()
        if k is not None:       # the same additions in the same order, compiled
            bad = k.scatter_add_rows(out.reshape(out.shape[0], -1), idx.reshape(-1),
                                     dy.reshape(idx.size, -1))
            if bad >= 0:
                raise IndexError(f"index {int(idx.reshape(-1)[bad])} is out of bounds for "
                                 f"axis 0 with size {out.shape[0]}")
            return
    rows = out.shape[0]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -rows or hi >= rows:      # (the compiled path's check and message)
            bad = lo if lo < -rows else hi
            raise IndexError(f"index {bad} is out of bounds for axis 0 with size {rows}")
    if idx.size and lo < 0:  # NumPy-style negative indices (the public gather rejects them)
        idx = idx % out.shape[0]
    row = out[0].size
    # flat element index of every element of dy: idx * row + position within the row
    base = (idx * row).reshape(idx.shape + (1,) * (out.ndim - 1))
    cols = np.arange(row, dtype=np.intp).reshape((1,) * idx.ndim + out.shape[1:])
    order = _memory_order(dy)
    if order is not None:   # walk dy in memory order (no copy); lin is built in that order
        dy, base, cols = dy.transpose(order), base.transpose(order), cols.transpose(order)
    lin = np.add(base, cols, order="C")     # (in the transposed order when there is one)
    np.add.at(out.reshape(-1), lin.reshape(-1), dy.reshape(-1))


def _memory_order(a):
    """The axis order in which ``a``'s elements lie contiguously in memory when ``a`` is a
    transposed view of a C-contiguous array (None when it is C-contiguous or not such a view)."""
    if a.flags.c_contiguous or a.ndim < 2:
        return None
    order = tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))
    return order if a.transpose(order).flags.c_contiguous else None


@_gather_scatter.defgrad
def _gather_scatter_grad(op, ddy):
    indices = op.inputs[1]
    return (_gather(ddy, indices, axis=op.attrs["axis"], batch_dims=op.attrs["batch_dims"]),
            None)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Gathers slices of ``params`` along ``axis`` at ``indices``.

    Raises:
      InvalidArgumentError: for an index outside [0, params.shape[axis]).

    >>> import tapeflow as tf
    >>> tf.gather(tf.constant([10, 20, 30]), [2, 0]).numpy()
    array([30, 10], dtype=int32)
    """
    p = to_tensor(params)
    idx = to_tensor(indices)
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be integers, got dtype {idx.dtype.name}.")
    axis = norm_axis(batch_dims if axis is None else axis, p._value.ndim, "gather")[0]
    n = p._value.shape[axis]
    if idx._value.size and (idx._value.min() < 0 or idx._value.max() >= n):
        bad = idx._value[(idx._value < 0) | (idx._value >= n)].reshape(-1)[0]
        raise InvalidArgumentError(f"gather: indices contains {int(bad)}, which is not in "
                                   f"[0, {n}) (axis {axis} of params with shape "
                                   f"{tuple(p._value.shape)}).")
    return _gather(p, idx, axis=axis, batch_dims=int(batch_dims) % max(idx._value.ndim, 1)
                   if batch_dims else 0)


@op("StridedSlice")
def _getitem(x, key):
    return x[key]


@_getitem.defgrad
def _getitem_grad(op, dy):
    return (_getitem_scatter(dy, key=op.attrs["key"], shape=op.inputs[0]._value.shape),)


@op("StridedSliceGrad")
def _getitem_scatter(dy, key, shape):
    out = np.zeros(shape, dtype=dy.dtype)
    if _has_array_index(key):
        np.add.at(out, key, dy)
    else:
        out[key] = dy
    return out


@_getitem_scatter.defgrad
def _getitem_scatter_grad(op, ddy):
    return (_getitem(ddy, key=op.attrs["key"]),)


def _has_array_index(key):
    return any(isinstance(k, np.ndarray) for k in (key if isinstance(key, tuple) else (key,)))


def _norm_key(key):
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if isinstance(k, _TensorLike):
            v = k._value
            k = int(v) if v.ndim == 0 and v.dtype.kind in "iu" else (
                builtins.bool(v) if v.ndim == 0 else v)
        elif isinstance(k, slice):
            k = slice(*(int(s) if isinstance(s, _TensorLike) else s
                        for s in (k.start, k.stop, k.step)))
        elif isinstance(k, list):
            k = np.asarray(k)
        elif not (k is None or k is Ellipsis or isinstance(k, (int, np.integer, np.ndarray))):
            raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) "
                            f"and scalar tf.int32/tf.int64 tensors are valid indices, got {k!r}")
        out.append(k)
    return tuple(out)


def getitem(x, key):
    """``tensor[key]``: ints, slices (with strides), ``...``, ``None``/``tf.newaxis``, and bool or
    int index arrays."""
    x = to_tensor(x)
    key = _norm_key(key)
    shape = x._value.shape
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise InvalidArgumentError("Multiple ellipses in slice spec not allowed.")
    for k in key:
        if isinstance(k, builtins.slice) and k.step == 0:
            raise InvalidArgumentError(f"strides must be non-zero, got the slice {k}.")
    dim = 0
    for k in key:
        if k is None or k is Ellipsis:
            if k is Ellipsis:
                dim = len(shape) - sum(1 for q in key if q is not None and q is not Ellipsis)
            continue
        if isinstance(k, (int, np.integer)):
            if dim >= len(shape) or not -shape[dim] <= k < shape[dim]:
                raise InvalidArgumentError(
                    f"slice index {k} of dimension {dim} out of bounds: the tensor has shape "
                    f"{tuple(shape)}.")
        dim += 1
    if dim > len(shape):
        raise InvalidArgumentError(f"index {key} has {dim} entries for a tensor of rank "
                                   f"{len(shape)}.")
    return _getitem(x, key=key)


# ---------------------------------------------------------------- one_hot and factories
@op("OneHot")
def _one_hot(indices, depth, on_value, off_value, axis, dtype):
    eye = indices[..., None] == np.arange(depth)
    out = np.where(eye, np.asarray(on_value, dtype), np.asarray(off_value, dtype)).astype(dtype)
    if axis != -1 and axis != indices.ndim:
        out = np.moveaxis(out, -1, axis)
    return out


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot encodes ``indices``; an index outside [0, depth) gives all ``off_value``.

    >>> import tapeflow as tf
    >>> tf.one_hot([0, 2, -1], 3).numpy()
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 0., 0.]], dtype=float32)
    """
    idx = to_tensor(indices)
    if dtype is None:
        # as TensorFlow: the dtype of on_value, else of off_value, else float32
        dt = np.float32
        for v in (off_value, on_value):
            if v is not None:
                dt = to_tensor(v)._value.dtype
    else:
        dt = _dt.as_dtype(dtype)._np
    on = 1 if on_value is None else np.asarray(on_value)
    off = 0 if off_value is None else np.asarray(off_value)
    ax = -1 if axis is None else int(axis)
    return _one_hot(idx, depth=int(depth), on_value=on, off_value=off, axis=ax, dtype=dt)


def _factory_dtype(dtype):
    return _dt.as_dtype(dtype)._np


def _dims(shape, op_name):
    dims = shape_arg(shape)
    for d in dims:
        if d < 0:
            raise InvalidArgumentError(f"{op_name}: Dimension {d} must be >= 0, got shape "
                                       f"{list(dims)}.")
    return dims


def zeros(shape, dtype=_dt.float32, name=None, layout=None):
    """A tensor of zeros.

    >>> import tapeflow as tf
    >>> tf.zeros([2]).numpy()
    array([0., 0.], dtype=float32)
    """
    return Tensor(np.zeros(_dims(shape, "zeros"), dtype=_factory_dtype(dtype)))


def ones(shape, dtype=_dt.float32, name=None, layout=None):
    """A tensor of ones.

    >>> import tapeflow as tf
    >>> tf.ones([2], dtype=tf.int32).numpy()
    array([1, 1], dtype=int32)
    """
    return Tensor(np.ones(_dims(shape, "ones"), dtype=_factory_dtype(dtype)))


def fill(dims, value, name=None, layout=None):
    """A tensor of shape ``dims`` filled with ``value`` (dtype from ``value``).

    >>> import tapeflow as tf
    >>> tf.fill([2], 7).numpy()
    array([7, 7], dtype=int32)
    """
    v = to_tensor(value)
    return Tensor(np.full(_dims(dims, "fill"), v._value, dtype=v._value.dtype))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=_dt.float32, name=None):
    """An identity matrix (optionally batched).

    >>> import tapeflow as tf
    >>> tf.eye(2).numpy()
    array([[1., 0.],
           [0., 1.]], dtype=float32)
    """
    e = np.eye(int(num_rows), None if num_columns is None else int(num_columns),
               dtype=_factory_dtype(dtype))
    if batch_shape is not None:
        e = np.broadcast_to(e, tuple(batch_shape) + e.shape).copy()
    return Tensor(e)


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001
    """Numbers from ``start`` up to (not including) ``limit`` by ``delta`` (``tf.range``).

    >>> import tapeflow as tf
    >>> tf.range(3).numpy(), tf.range(0.0, 1.0, 0.5).numpy()
    (array([0, 1, 2], dtype=int32), array([0. , 0.5], dtype=float32))
    """
    if limit is None:
        start, limit = 0, start
    args = (start, limit, delta)
    vals = [v._value.item() if isinstance(v, _TensorLike) else v for v in args]
    if dtype is None:
        # TensorFlow picks the widest of the arguments' dtypes (int32 < int64 < float32 < float64)
        order = [np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.float32),
                 np.dtype(np.float64)]
        dts = [v._value.dtype if isinstance(v, _TensorLike) else
               np.dtype(np.float32 if isinstance(v, float) else np.int32) for v in args]
        dt = max(dts, key=lambda d: order.index(d) if d in order else 0)
    else:
        dt = _factory_dtype(dtype)
    start, limit, delta = vals
    if delta == 0:
        raise InvalidArgumentError(f"range: Requires delta != 0: {delta}")
    if delta > 0 and start > limit:
        raise InvalidArgumentError(f"range: Requires start <= limit when delta > 0: "
                                   f"{start}/{limit}")
    if delta < 0 and start < limit:
        raise InvalidArgumentError(f"range: Requires start >= limit when delta < 0: "
                                   f"{start}/{limit}")
    return Tensor(np.arange(start, limit, delta).astype(dt))


def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive.

    >>> import tapeflow as tf
    >>> tf.linspace(0.0, 1.0, 3).numpy()
    array([0. , 0.5, 1. ], dtype=float32)
    """
    s = to_tensor(start)
    # integer endpoints give float64, as in TensorFlow
    dt = s._value.dtype if s._value.dtype.kind == "f" else np.float64
    return Tensor(np.linspace(s._value, np.asarray(stop, dtype=dt), int(num), axis=axis)
                  .astype(dt))


def identity(input, name=None):  # noqa: A002
    """Returns a tensor with the same value as ``input`` (gradient passes through).

    >>> import tapeflow as tf
    >>> tf.identity(tf.constant([1, 2])).numpy()
    array([1, 2], dtype=int32)
    """
    from tapeflow.framework.variable import _identity

    return _identity(to_tensor(input))


def shape(input, out_type=_dt.int32, name=None):  # noqa: A002
    """The shape of ``input`` as a 1-D int32 tensor.

    >>> import tapeflow as tf
    >>> tf.shape(tf.zeros([2, 3])).numpy()
    array([2, 3], dtype=int32)
    """
    v = input._value if isinstance(input, _TensorLike) else to_tensor(input)._value
    return Tensor(np.asarray(v.shape, dtype=_factory_dtype(out_type)))


def rank(input, name=None):  # noqa: A002
    """The number of dimensions of ``input`` as a scalar int32 tensor.

    >>> import tapeflow as tf
    >>> int(tf.rank(tf.zeros([2, 3])))
    2
    """
    v = input._value if isinstance(input, _TensorLike) else to_tensor(input)._value
    return Tensor(np.asarray(v.ndim, dtype=np.int32))


def size(input, out_type=_dt.int32, name=None):  # noqa: A002
    """The number of elements of ``input`` as a scalar tensor.

    >>> import tapeflow as tf
    >>> int(tf.size(tf.zeros([2, 3])))
    6
    """
    v = input._value if isinstance(input, _TensorLike) else to_tensor(input)._value
    return Tensor(np.asarray(v.size, dtype=_factory_dtype(out_type)))


not_differentiable("OneHot")
_ = (_wrap, m)
