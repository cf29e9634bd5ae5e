"""Reductions over axes: sum, mean, max, min, prod, any, all, arg-max/min, logsumexp, moments."""

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.registry import not_differentiable, op
from tapeflow.ops import array_ops as _array_ops
from tapeflow.ops import math_ops as m
from tapeflow.ops._helpers import norm_axis, shape_arg, to_tensor


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


@op("BroadcastTo")
def _broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


@_broadcast_to.defgrad
def _broadcast_to_grad(op, dy):
    return (dy,)  # the tape's unbroadcast sums dy back to the input's shape


def broadcast_to(input, shape, name=None):  # noqa: A002 - TensorFlow's argument name
    """Broadcasts ``input`` to ``shape``.

    >>> import tapeflow as tf
    >>> tf.broadcast_to(tf.constant([1.0, 2.0]), [2, 2]).numpy()
    array([[1., 2.],
           [1., 2.]], dtype=float32)
    """
    x = to_tensor(input)
    shape = shape_arg(shape)
    try:
        np.broadcast_shapes(x._value.shape, shape)
    except ValueError:
        from tapeflow.framework.errors import InvalidArgumentError

        raise InvalidArgumentError(f"broadcast_to: cannot broadcast a tensor of shape "
                                   f"{x._value.shape} to shape {shape}.") from None
    return _broadcast_to(x, shape=shape)


def _expand_grad(dy, x, axes, keepdims):
    # Put the reduced axes back as size-1 dims, then broadcast to the input's shape.
    if not keepdims:
        dy = m_reshape(dy, _kept_shape(x._value.shape, axes))
    return _broadcast_to(dy, shape=x._value.shape)


def m_reshape(x, shape):
    return _array_ops.reshape(x, shape)


@op("Sum")
def _sum(x, axes, keepdims):
    # np.add.reduce is what np.sum runs, without its Python-level dispatch (issue 7)
    return np.add.reduce(x, axis=axes, keepdims=keepdims)


@_sum.defgrad
def _sum_grad(op, dy):
    return (_expand_grad(dy, op.inputs[0], op.attrs["axes"], op.attrs["keepdims"]),)


@op("Mean")
def _mean(x, axes, keepdims):
    n = 1
    for ax in axes:
        n *= x.shape[ax]
    if n == 0 or x.dtype not in _F32_F64:
        return np.mean(x, axis=axes, keepdims=keepdims)
    # np.mean's own steps (sum, then divide by the count in place) without its dispatch cost
    s = np.add.reduce(x, axis=axes, keepdims=keepdims)
    if type(s) is np.ndarray:
        if n < 1 << 24:  # n exact in float32: dividing in the array's dtype rounds the same
            return np.true_divide(s, n, out=s)
        return np.true_divide(s, np.intp(n), out=s, casting="unsafe")
    return s.dtype.type(s / np.intp(n))


_F32_F64 = (np.dtype(np.float32), np.dtype(np.float64))


@_mean.defgrad
def _mean_grad(op, dy):
    x = op.inputs[0]
    axes = op.attrs["axes"]
    n = 1
    for a in axes:
        n *= x._value.shape[a]
    return (_expand_grad(dy, x, axes, op.attrs["keepdims"]) / float(max(n, 1)),)


def _minmax_grad(op, dy):
    x = op.inputs[0]
    axes, keepdims = op.attrs["axes"], op.attrs["keepdims"]
    y = _expand_grad(op.outputs[0], x, axes, keepdims)
    mask = m.cast(m.equal(x, y), x.dtype)
    count = _sum(mask, axes=axes, keepdims=True)
    return (_expand_grad(dy, x, axes, keepdims) * mask / count,)


def _identity(x, lowest):
    # The value TensorFlow gives a reduction over zero elements: -inf/+inf for floats, the
    # dtype's lowest/highest for integers.
    if x.dtype.kind == "f":
        return -np.inf if lowest else np.inf
    if x.dtype.kind == "b":
        return not lowest
    info = np.iinfo(x.dtype)
    return info.min if lowest else info.max


@op("Max")
def _max(x, axes, keepdims):
    if x.size == 0:
        return np.max(x, axis=axes, keepdims=keepdims, initial=_identity(x, True))
    return np.max(x, axis=axes, keepdims=keepdims)


_max.defgrad(_minmax_grad)


@op("Min")
def _min(x, axes, keepdims):
    if x.size == 0:
        return np.min(x, axis=axes, keepdims=keepdims, initial=_identity(x, False))
    return np.min(x, axis=axes, keepdims=keepdims)


_min.defgrad(_minmax_grad)


@op("Prod")
def _prod(x, axes, keepdims):
    return np.prod(x, axis=axes, keepdims=keepdims)


@_prod.defgrad
def _prod_grad(op, dy):
    x = op.inputs[0]
    axes, keepdims = op.attrs["axes"], op.attrs["keepdims"]
    # d prod / d x_i = prod of the others; with no zero in x that is prod / x_i.
    if np.all(x._value != 0):
        y = _expand_grad(op.outputs[0], x, axes, keepdims)
        return (_expand_grad(dy, x, axes, keepdims) * y / x,)
    return (_expand_grad(dy, x, axes, keepdims) * _prod_of_others(x, axes),)


def _prod_of_others(x, axes):
    # With zeros in x: the product of the other reduced elements, as an exclusive cumulative
    # product from the left times one from the right over the flattened reduced axes
    # (TensorFlow's formula), written in ops so that it can be differentiated again.
    from tapeflow.ops import array_ops as a
    from tapeflow.ops.scan_ops import cumprod

    nd = x._value.ndim
    keep = [i for i in range(nd) if i not in axes]
    perm = keep + list(axes)
    xt = a.transpose(x, perm)
    tshape = list(xt._value.shape)
    flat = a.reshape(xt, tshape[:len(keep)] + [-1])
    left = cumprod(flat, axis=-1, exclusive=True)
    right = cumprod(flat, axis=-1, exclusive=True, reverse=True)
    others = a.reshape(left * right, tshape)
    inverse = [perm.index(i) for i in range(nd)]
    return a.transpose(others, inverse)


def _reducer(opfn, doc, int_ok=True):
    def public(input_tensor, axis=None, keepdims=False, name=None):
        x = to_tensor(input_tensor)
        axes = norm_axis(axis, x._value.ndim, opfn.__name__.lstrip("_"))
        return opfn(x, axes=axes, keepdims=bool(keepdims))

    public.__doc__ = doc
    return public


reduce_sum = _reducer(_sum, """Sums ``input_tensor`` over ``axis`` (all axes when None).

    >>> import tapeflow as tf
    >>> tf.reduce_sum(tf.constant([[1.0, 2.0], [3.0, 4.0]]), axis=1).numpy()
    array([3., 7.], dtype=float32)
    """)
reduce_max = _reducer(_max, """Maximum over ``axis``; the gradient goes to the maximal elements.

    >>> import tapeflow as tf
    >>> tf.reduce_max(tf.constant([[1.0, 5.0], [3.0, 4.0]]), axis=0).numpy()
    array([3., 5.], dtype=float32)
    """)
reduce_min = _reducer(_min, """Minimum over ``axis``.

    >>> import tapeflow as tf
    >>> float(tf.reduce_min(tf.constant([[1.0, 5.0], [3.0, 4.0]])))
    1.0
    """)
reduce_prod = _reducer(_prod, """Product over ``axis``.

    >>> import tapeflow as tf
    >>> float(tf.reduce_prod(tf.constant([2.0, 3.0])))
    6.0
    """)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean over ``axis``; integer tensors give an integer (truncated) mean, as in TensorFlow.

    >>> import tapeflow as tf
    >>> tf.reduce_mean(tf.constant([[1.0, 2.0], [3.0, 4.0]]), axis=0).numpy()
    array([2., 3.], dtype=float32)
    """
    x = to_tensor(input_tensor)
    axes = norm_axis(axis, x._value.ndim, "reduce_mean")
    if x._value.dtype.kind in "iu":
        s = np.sum(x._value, axis=axes, keepdims=keepdims)
        n = max(1, int(np.prod([x._value.shape[a] for a in axes])))
        return to_tensor(np.asarray(np.trunc(s / n).astype(x._value.dtype)))
    return _mean(x, axes=axes, keepdims=bool(keepdims))


@op("Any")
def _any(x, axes, keepdims):
    return np.any(x, axis=axes, keepdims=keepdims)


@op("All")
def _all(x, axes, keepdims):
    return np.all(x, axis=axes, keepdims=keepdims)


reduce_any = _reducer(_any, """Logical OR over ``axis``.

    >>> import tapeflow as tf
    >>> bool(tf.reduce_any(tf.constant([True, False])))
    True
    """)
reduce_all = _reducer(_all, """Logical AND over ``axis``.

    >>> import tapeflow as tf
    >>> bool(tf.reduce_all(tf.constant([True, False])))
    False
    """)


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    >>> import tapeflow as tf
    >>> round(float(tf.reduce_logsumexp(tf.constant([0.0, 0.0]))), 4)
    0.6931
    """
    x = to_tensor(input_tensor)
    axes = norm_axis(axis, x._value.ndim, "reduce_logsumexp")
    mx = _max(x, axes=axes, keepdims=True)
    mx = m.stop_gradient_value(mx)
    mx = m.where(m.is_finite(mx), mx, m.zeros_like(mx))
    s = m.log(_sum(m.exp(x - mx), axes=axes, keepdims=True)) + mx
    if not keepdims:
        s = m_reshape(s, tuple(d for i, d in enumerate(x._value.shape) if i not in axes))
    return s


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """Population variance over ``axis``.

    >>> import tapeflow as tf
    >>> float(tf.math.reduce_variance(tf.constant([1.0, 3.0])))
    1.0
    """
    x = to_tensor(input_tensor)
    if x._value.dtype.kind not in "fc":
        raise TypeError(f"reduce_variance/reduce_std: input must be either real or complex, "
                        f"received integer or bool type {x.dtype.name}; cast it to a float "
                        f"dtype first.")
    mean = reduce_mean(x, axis=axis, keepdims=True)
    return reduce_mean(m.square(x - mean), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """Population standard deviation over ``axis``.

    >>> import tapeflow as tf
    >>> float(tf.math.reduce_std(tf.constant([1.0, 3.0])))
    1.0
    """
    return m.sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def count_nonzero(input, axis=None, keepdims=False, dtype=_dt.int64, name=None):  # noqa: A002
    """Counts the non-zero elements over ``axis``.

    >>> import tapeflow as tf
    >>> int(tf.math.count_nonzero(tf.constant([0.0, 1.0, 2.0])))
    2
    """
    x = to_tensor(input)
    axes = norm_axis(axis, x._value.ndim)
    return to_tensor(np.asarray(np.count_nonzero(x._value, axis=axes, keepdims=keepdims),
                                dtype=_dt.as_dtype(dtype)._np))


@op("ArgMax")
def _argmax(x, axis, out):
    return np.argmax(x, axis=axis).astype(out)


@op("ArgMin")
def _argmin(x, axis, out):
    return np.argmin(x, axis=axis).astype(out)


def argmax(input, axis=None, output_type=_dt.int64, name=None):  # noqa: A002
    """Index of the largest value along ``axis`` (default 0), as int64 by default.

    >>> import tapeflow as tf
    >>> tf.math.argmax(tf.constant([[1, 5], [3, 4]]), axis=1).numpy()
    array([1, 1])
    """
    x = to_tensor(input)
    ax = norm_axis(0 if axis is None else axis, x._value.ndim, "argmax")[0]
    return _argmax(x, axis=ax, out=_dt.as_dtype(output_type)._np)


def argmin(input, axis=None, output_type=_dt.int64, name=None):  # noqa: A002
    """Index of the smallest value along ``axis`` (default 0), as int64 by default.

    >>> import tapeflow as tf
    >>> tf.math.argmin(tf.constant([[1, 5], [3, 4]]), axis=1).numpy()
    array([0, 0])
    """
    x = to_tensor(input)
    ax = norm_axis(0 if axis is None else axis, x._value.ndim, "argmin")[0]
    return _argmin(x, axis=ax, out=_dt.as_dtype(output_type)._np)


not_differentiable("Any", "All", "ArgMax", "ArgMin")
