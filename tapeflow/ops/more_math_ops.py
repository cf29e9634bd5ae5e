"""Less common ``tf.math`` / ``tf.nn`` functions, built from recorded ops (so they need no
gradient of their own) or, for integer-valued results, computed directly."""

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.tensor import Tensor
from tapeflow.ops import array_ops as _a
from tapeflow.ops import math_ops as _m
from tapeflow.ops import reduction_ops as _r
from tapeflow.ops._helpers import norm_axis, to_tensor

__all__ = ["reduce_euclidean_norm", "in_top_k", "crelu", "polyval", "bincount",
           "confusion_matrix", "normalize_moments"]


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x ** 2)) over ``axis`` (``tf.math.reduce_euclidean_norm``); integer inputs give
    an integer (truncated) result, as in TensorFlow.

    >>> import tapeflow as tf
    >>> tf.math.reduce_euclidean_norm(tf.constant([[3.0, 4.0]]), axis=1).numpy()
    array([5.], dtype=float32)
    """
    x = to_tensor(input_tensor)
    v = x._value
    if v.dtype.kind in "iu":
        axes = norm_axis(axis, v.ndim, "reduce_euclidean_norm")
        s = np.sum(v.astype(np.float64) ** 2, axis=axes, keepdims=bool(keepdims))
        return Tensor(np.asarray(np.sqrt(s)).astype(v.dtype))
    return _m.sqrt(_r.reduce_sum(_m.square(x), axis=axis, keepdims=keepdims))


def in_top_k(targets, predictions, k, name=None):
    """True where ``predictions[i, targets[i]]`` is among the ``k`` largest of row i (ties at the
    boundary count as in, non-finite predictions as out) (``tf.math.in_top_k``).

    >>> import tapeflow as tf
    >>> tf.math.in_top_k(targets=[2, 0], predictions=[[0.1, 0.3, 0.6], [0.5, 0.4, 0.1]], k=1)
    ... # doctest: +ELLIPSIS
    <tf.Tensor: shape=(2,), dtype=bool, numpy=array([ True,  True])>
    """
    p = to_tensor(predictions)._value
    t = to_tensor(targets)._value
    if p.ndim != 2 or t.ndim != 1 or t.shape[0] != p.shape[0]:
        raise InvalidArgumentError(f"in_top_k: predictions must be [batch, classes] and targets "
                                   f"[batch], got shapes {tuple(p.shape)} and {tuple(t.shape)}.")
    if t.dtype.kind not in "iu":
        raise InvalidArgumentError(f"in_top_k: targets must be integers, got dtype "
                                   f"{_dt.from_numpy(t.dtype).name}.")
    valid = (t >= 0) & (t < p.shape[1])
    tv = p[np.arange(p.shape[0]), np.clip(t, 0, p.shape[1] - 1)]
    above = np.sum(p > tv[:, None], axis=1)
    return Tensor(valid & np.isfinite(tv) & (above < int(k)))


def crelu(features, axis=-1, name=None):
    """Concatenates relu(x) and relu(-x) along ``axis`` (``tf.nn.crelu``).

    >>> import tapeflow as tf
    >>> tf.nn.crelu(tf.constant([[-1.0, 2.0]])).numpy()
    array([[0., 2., 1., 0.]], dtype=float32)
    """
    from tapeflow.ops.nn_ops import relu

    x = to_tensor(features)
    return _a.concat([relu(x), relu(_m.negative(x))], axis=axis)


def polyval(coeffs, x, name=None):
    """Evaluates the polynomial ``coeffs[0] * x**(n-1) + ... + coeffs[n-1]`` (``tf.math.polyval``).

    >>> import tapeflow as tf
    >>> float(tf.math.polyval([1.0, 2.0, 3.0], 2.0))
    11.0
    """
    if not isinstance(coeffs, (list, tuple)):
        raise ValueError(f"polyval: `coeffs` must be a list of tensors or numbers, got "
                         f"{type(coeffs).__name__}.")
    x = to_tensor(x)
    if not coeffs:
        return _m.zeros_like(x)
    out = _m.add(_m.zeros_like(x), coeffs[0])
    for c in coeffs[1:]:
        out = _m.add(_m.multiply(out, x), c)
    return out


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=_dt.int32, name=None,
             axis=None, binary_output=False):
    """Counts (or sums ``weights`` of) each non-negative integer in ``arr`` (``tf.math.bincount``).

    >>> import tapeflow as tf
    >>> tf.math.bincount([1, 1, 3]).numpy()
    array([0, 2, 0, 1], dtype=int32)
    """
    a = to_tensor(arr)._value.reshape(-1)
    if a.dtype.kind not in "iu":
        raise InvalidArgumentError(f"bincount: arr must be integers, got dtype "
                                   f"{_dt.from_numpy(a.dtype).name}.")
    if a.size and a.min() < 0:
        raise InvalidArgumentError(f"bincount: arr must be non-negative, got {int(a.min())}.")
    n = int(a.max()) + 1 if a.size else 0
    if minlength is not None:
        n = max(n, int(minlength))
    if maxlength is not None:
        n = min(n, int(maxlength))
    keep = a < n
    if weights is not None:
        w = to_tensor(weights)._value.reshape(-1)
        out = np.bincount(a[keep], weights=w[keep].astype(np.float64), minlength=n)[:n]
        return Tensor(out.astype(w.dtype))
    out = np.bincount(a[keep], minlength=n)[:n]
    if binary_output:
        out = out > 0
    return Tensor(out.astype(_dt.as_dtype(dtype)._np))


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=_dt.int32,
                     name=None):
    """The ``[num_classes, num_classes]`` matrix counting (label, prediction) pairs
    (``tf.math.confusion_matrix``).

    >>> import tapeflow as tf
    >>> tf.math.confusion_matrix([0, 1, 2], [0, 2, 2]).numpy()
    array([[1, 0, 0],
           [0, 0, 1],
           [0, 0, 1]], dtype=int32)
    """
    lab = to_tensor(labels)._value.reshape(-1).astype(np.int64)
    pred = to_tensor(predictions)._value.reshape(-1).astype(np.int64)
    if lab.shape != pred.shape:
        raise InvalidArgumentError(f"confusion_matrix: labels and predictions must have the same "
                                   f"size, got {lab.size} and {pred.size}.")
    if (lab.size and lab.min() < 0) or (pred.size and pred.min() < 0):
        raise InvalidArgumentError("confusion_matrix: labels and predictions must be "
                                   "non-negative.")
    n = int(num_classes) if num_classes is not None else \
        int(max(lab.max(initial=-1), pred.max(initial=-1)) + 1)
    if lab.size and (lab.max() >= n or pred.max() >= n):
        raise InvalidArgumentError(f"confusion_matrix: labels and predictions must be < "
                                   f"num_classes={n}.")
    w = np.ones(lab.shape) if weights is None else to_tensor(weights)._value.reshape(-1)
    out = np.zeros((n, n), dtype=np.float64)
    np.add.at(out, (lab, pred), w)
    return Tensor(out.astype(_dt.as_dtype(dtype)._np))


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """Mean and variance from sufficient statistics (``tf.nn.normalize_moments``).

    >>> import tapeflow as tf
    >>> m, v = tf.nn.normalize_moments(2.0, tf.constant([4.0]), tf.constant([10.0]), None)
    >>> m.numpy(), v.numpy()
    (array([2.], dtype=float32), array([1.], dtype=float32))
    """
    mean_ss = to_tensor(mean_ss)
    divisor = _m.reciprocal(to_tensor(counts, dtype=mean_ss.dtype))
    shifted_mean = mean_ss * divisor
    mean = shifted_mean if shift is None else shifted_mean + shift
    variance = to_tensor(variance_ss) * divisor - _m.square(shifted_mean)
    return mean, variance
