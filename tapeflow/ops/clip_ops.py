"""Norm-based clipping: ``clip_by_norm``, ``clip_by_global_norm``, ``global_norm``."""

from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.ops import math_ops as m
from tapeflow.ops import reduction_ops as r
from tapeflow.ops._helpers import to_tensor


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """Rescales ``t`` so that its L2 norm over ``axes`` is at most ``clip_norm``.

    >>> import tapeflow as tf
    >>> tf.clip_by_norm(tf.constant([3.0, 4.0]), 1.0).numpy()
    array([0.6, 0.8], dtype=float32)
    """
    t = to_tensor(t)
    if t._value.dtype.kind != "f":
        raise InvalidArgumentError(f"clip_by_norm: t must be a float tensor, got "
                                   f"{t.dtype.name}.")
    l2sum = r.reduce_sum(m.square(t), axis=axes, keepdims=True)
    pos = m.greater(l2sum, 0.0)
    safe = m.where(pos, l2sum, m.ones_like(l2sum))
    norm = m.where(pos, m.sqrt(safe), l2sum)
    c = to_tensor(clip_norm, dtype=t.dtype) if not hasattr(clip_norm, "_value") else clip_norm
    return t * c / m.maximum(norm, c)


def global_norm(t_list, name=None):
    """sqrt(sum of squared L2 norms) of the tensors in ``t_list`` (None entries are skipped).

    >>> import tapeflow as tf
    >>> float(tf.linalg.global_norm([tf.constant([3.0]), tf.constant([4.0])]))
    5.0
    """
    ts = [to_tensor(x) for x in t_list if x is not None]
    if not ts:
        raise ValueError("global_norm: t_list has no tensors.")
    total = r.reduce_sum(m.square(ts[0]))
    for x in ts[1:]:
        total = total + r.reduce_sum(m.square(x))
    return m.sqrt(total)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scales every tensor by clip_norm / max(global_norm, clip_norm); returns (list, norm).

    >>> import tapeflow as tf
    >>> clipped, norm = tf.clip_by_global_norm([tf.constant([3.0]), tf.constant([4.0])], 1.0)
    >>> [round(float(c[0]), 3) for c in clipped], float(norm)
    ([0.6, 0.8], 5.0)
    """
    if not isinstance(t_list, (list, tuple)):
        raise TypeError(f"clip_by_global_norm: t_list must be a list, got "
                        f"{type(t_list).__name__}.")
    norm = global_norm(t_list) if use_norm is None else to_tensor(use_norm)
    c = to_tensor(clip_norm, dtype=norm.dtype) if not hasattr(clip_norm, "_value") else clip_norm
    scale = c / m.maximum(norm, c)
    out = [None if x is None else to_tensor(x) * m.cast(scale, to_tensor(x).dtype)
           for x in t_list]
    return out, norm
