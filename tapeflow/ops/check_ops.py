"""Runtime assertions (``tf.debugging``): each raises ``InvalidArgumentError`` with TensorFlow's
kind of message when the condition does not hold, and returns None otherwise."""

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.tensor import _TensorLike
from tapeflow.ops._helpers import to_tensor


def _val(x):
    return np.asarray(x._value if isinstance(x, _TensorLike) else to_tensor(x)._value)


def _prefix(message):
    return f"{message}\n" if message else ""


def _binary_assert(x, y, cond, symbol, message, summarize):
    xv, yv = _val(x), _val(y)
    if isinstance(x, _TensorLike) and isinstance(y, _TensorLike) and \
            x._value.dtype != y._value.dtype:
        raise InvalidArgumentError(f"{_prefix(message)}x and y must have the same dtype, got "
                                   f"{x.dtype.name} and {y.dtype.name}.")
    try:
        ok = cond(xv, yv)
    except ValueError:
        raise InvalidArgumentError(f"{_prefix(message)}Incompatible shapes: {list(xv.shape)} vs. "
                                   f"{list(yv.shape)}") from None
    if np.all(ok):
        return None
    n = 3 if summarize is None else int(summarize)
    bx, by = np.broadcast_arrays(xv, yv)
    bad = np.argwhere(~np.broadcast_to(ok, bx.shape))
    shown = bad[:n]
    idx = tuple(shown.T)
    raise InvalidArgumentError(
        f"{_prefix(message)}Condition x {symbol} y did not hold.\n"
        f"Indices of first {len(shown)} different values:\n{shown}\n"
        f"Corresponding x values:\n{bx[idx]}\nCorresponding y values:\n{by[idx]}\n"
        f"First {min(n, xv.size)} elements of x:\n{xv.reshape(-1)[:n]}\n"
        f"First {min(n, yv.size)} elements of y:\n{yv.reshape(-1)[:n]}")


def assert_equal(x, y, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x == y elementwise (with broadcasting).

    >>> import tapeflow as tf
    >>> tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 2]))
    >>> try:
    ...     tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]))
    ... except tf.errors.InvalidArgumentError as e:
    ...     print(str(e).splitlines()[0])
    Condition x == y did not hold.
    """
    return _binary_assert(x, y, np.equal, "==", message, summarize)


def assert_none_equal(x, y, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x != y everywhere.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_none_equal(tf.constant([1]), tf.constant([2]))
    """
    return _binary_assert(x, y, np.not_equal, "!=", message, summarize)


def assert_less(x, y, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x < y elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_less(tf.constant([1.0]), tf.constant([2.0]))
    """
    return _binary_assert(x, y, np.less, "<", message, summarize)


def assert_less_equal(x, y, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x <= y elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_less_equal(tf.constant([2.0]), tf.constant([2.0]))
    """
    return _binary_assert(x, y, np.less_equal, "<=", message, summarize)


def assert_greater(x, y, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x > y elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_greater(tf.constant([3.0]), tf.constant([2.0]))
    """
    return _binary_assert(x, y, np.greater, ">", message, summarize)


def assert_greater_equal(x, y, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x >= y elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_greater_equal(tf.constant([2.0]), tf.constant([2.0]))
    """
    return _binary_assert(x, y, np.greater_equal, ">=", message, summarize)


def _unary_assert(x, cond, what, message, summarize):
    xv = _val(x)
    ok = cond(xv)
    if np.all(ok):
        return None
    n = 3 if summarize is None else int(summarize)
    raise InvalidArgumentError(f"{_prefix(message)}Condition x {what} did not hold element-wise:"
                               f"\nx (shape={xv.shape}) = \n{xv.reshape(-1)[:n]}")


def assert_positive(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x > 0 elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_positive(tf.constant([1.0]))
    """
    return _unary_assert(x, lambda v: v > 0, "> 0", message, summarize)


def assert_non_negative(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x >= 0 elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_non_negative(tf.constant([0.0]))
    """
    return _unary_assert(x, lambda v: v >= 0, ">= 0", message, summarize)


def assert_negative(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x < 0 elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_negative(tf.constant([-1.0]))
    """
    return _unary_assert(x, lambda v: v < 0, "< 0", message, summarize)


def assert_near(x, y, rtol=None, atol=None, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless |x - y| <= atol + rtol * |y| elementwise (default
    tolerances: 10 * machine epsilon of the dtype).

    >>> import tapeflow as tf
    >>> tf.debugging.assert_near(tf.constant([1.0]), tf.constant([1.0 + 1e-7]))
    """
    xv, yv = _val(x), _val(y)
    eps = np.finfo(xv.dtype).eps if xv.dtype.kind == "f" else 0
    rtol = 10 * eps if rtol is None else float(rtol)
    atol = 10 * eps if atol is None else float(atol)
    diff = np.abs(xv.astype(np.float64) - yv.astype(np.float64))
    ok = diff <= atol + rtol * np.abs(yv.astype(np.float64))
    if np.all(ok):
        return None
    n = 3 if summarize is None else int(summarize)
    raise InvalidArgumentError(
        f"{_prefix(message)}x and y not equal to tolerance rtol = {rtol:g}, atol = {atol:g}\n"
        f"x (shape={xv.shape}) = \n{xv.reshape(-1)[:n]}\n"
        f"y (shape={yv.shape}) = \n{yv.reshape(-1)[:n]}\n"
        f"largest absolute difference: {diff.max():g}")


def assert_rank(x, rank, message=None, name=None):
    """Raises InvalidArgumentError (a ValueError, as TensorFlow's static check) unless ``x`` has
    rank ``rank``.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_rank(tf.zeros([2, 3]), 2)
    """
    xv = _val(x)
    r = int(_val(rank))
    if xv.ndim != r:
        raise InvalidArgumentError(f"{_prefix(message)}Tensor must have rank {r}. Received rank "
                                   f"{xv.ndim}, shape {tuple(xv.shape)}")


def assert_rank_at_least(x, rank, message=None, name=None):
    """Raises InvalidArgumentError unless ``x`` has rank >= ``rank``.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_rank_at_least(tf.zeros([2, 3]), 1)
    """
    xv = _val(x)
    r = int(_val(rank))
    if xv.ndim < r:
        raise InvalidArgumentError(f"{_prefix(message)}Tensor must have rank at least {r}. "
                                   f"Received rank {xv.ndim}, shape {tuple(xv.shape)}")


def assert_rank_in(x, ranks, message=None, name=None):
    """Raises InvalidArgumentError unless the rank of ``x`` is one of ``ranks``.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_rank_in(tf.zeros([2, 3]), [1, 2])
    """
    xv = _val(x)
    allowed = [int(_val(r)) for r in ranks]
    if xv.ndim not in allowed:
        raise InvalidArgumentError(f"{_prefix(message)}Tensor must have rank in {allowed}. "
                                   f"Received rank {xv.ndim}, shape {tuple(xv.shape)}")


def assert_non_positive(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless x <= 0 elementwise.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_non_positive(tf.constant([0.0, -1.0]))
    """
    return _unary_assert(x, lambda v: v <= 0, "<= 0", message, summarize)


def assert_integer(x, message=None, name=None):
    """Raises TypeError unless ``x`` has an integer dtype.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_integer(tf.constant([1, 2]))
    """
    t = to_tensor(x)
    if t._value.dtype.kind not in "iu":
        raise TypeError(f"{_prefix(message)}Expected integer type, got tensor of dtype "
                        f"{t.dtype.name}.")


def assert_scalar(tensor, message=None, name=None):
    """Raises InvalidArgumentError unless ``tensor`` is a scalar.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_scalar(tf.constant(1.0))
    """
    xv = _val(tensor)
    if xv.ndim != 0:
        raise InvalidArgumentError(f"{_prefix(message)}Expected scalar shape, saw shape: "
                                   f"{tuple(xv.shape)}.")


def assert_type(tensor, tf_type, message=None, name=None):
    """Raises TypeError unless ``tensor`` has dtype ``tf_type``.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_type(tf.constant(1.0), tf.float32)
    """
    from tapeflow.framework.dtypes import as_dtype

    t = to_tensor(tensor)
    if t.dtype != as_dtype(tf_type):
        raise TypeError(f"{_prefix(message)}tensor must be of type {as_dtype(tf_type).name}, "
                        f"got {t.dtype.name}.")


def assert_shapes(shapes, data=None, summarize=None, message=None, name=None):
    """Checks the shapes of several tensors against specs whose symbolic dims must agree.

    ``shapes`` is a list (or dict) of ``(tensor, spec)``; a spec is a list of ints, names ('N')
    or None (any size), with an optional leading '...' or '*'.

    Raises:
      InvalidArgumentError: when a rank or a dimension does not match.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", "D")), (tf.zeros([2]), ("N",))])
    """
    items = list(shapes.items()) if isinstance(shapes, dict) else list(shapes)
    sizes = {}
    for i, (t, spec) in enumerate(items):
        shape = tuple(_val(t).shape)
        spec = list(spec) if not isinstance(spec, str) else [spec]
        ellipsis = bool(spec) and spec[0] in ("...", "*")
        if ellipsis:
            spec = spec[1:]
        if (not ellipsis and len(shape) != len(spec)) or len(shape) < len(spec):
            raise InvalidArgumentError(
                f"{_prefix(message)}Specified by tensor #{i} dimension: Tensor has rank "
                f"{len(shape)} (shape {shape}) but the spec {tuple(spec)} requires rank "
                f"{'at least ' if ellipsis else ''}{len(spec)}.")
        dims = shape[len(shape) - len(spec):]
        for j, (d, s) in enumerate(zip(dims, spec)):
            if s is None or s == ".":
                continue
            if isinstance(s, str):
                want = sizes.setdefault(s, d)
                if want != d:
                    raise InvalidArgumentError(
                        f"{_prefix(message)}Tensor #{i} dimension {j} must have size {want} "
                        f"(dimension '{s}'), received size {d}; shape {shape}.")
            elif int(s) != d:
                raise InvalidArgumentError(f"{_prefix(message)}Tensor #{i} dimension {j} must "
                                           f"have size {int(s)}, received size {d}; shape "
                                           f"{shape}.")


def check_numerics(tensor, message, name=None):
    """Returns ``tensor`` unchanged, or raises InvalidArgumentError if it holds NaN or Inf.

    >>> import tapeflow as tf
    >>> try:
    ...     tf.debugging.check_numerics(tf.constant([1.0, float("nan")]), "bad loss")
    ... except tf.errors.InvalidArgumentError as e:
    ...     print(e)
    bad loss : Tensor had NaN values
    """
    t = to_tensor(tensor)
    v = t._value
    if v.dtype.kind in "fc" and not np.all(np.isfinite(v)):
        kind = "NaN" if np.isnan(v).any() else "Inf"
        raise InvalidArgumentError(f"{message} : Tensor had {kind} values")
    return t


def assert_all_finite(t, msg, name=None, x=None, message=None):
    """``check_numerics`` under its other name.

    >>> import tapeflow as tf
    >>> tf.debugging.assert_all_finite(tf.constant([1.0]), "ok").numpy()
    array([1.], dtype=float32)
    """
    return check_numerics(t if x is None else x, msg if message is None else message)


def is_numeric_tensor(tensor):
    """True for a tensor of a numeric (int, float, complex) dtype.

    >>> import tapeflow as tf
    >>> tf.debugging.is_numeric_tensor(tf.constant(1.0))
    True
    """
    return isinstance(tensor, _TensorLike) and tensor._value.dtype.kind in "iufc"


