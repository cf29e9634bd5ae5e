"""Neural-network ops: activations, softmax, the cross-entropies with logits, bias_add, dropout.

Softmax cross-entropy is one primitive (not log_softmax + multiply + sum) because its fused
gradient ``softmax - labels`` is both exact and the cheapest form.
"""

import math as _math

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import op
from tapeflow.ops import array_ops as a
from tapeflow.ops import math_ops as m
from tapeflow.ops import reduction_ops as r
from tapeflow.ops._helpers import binary_args, to_tensor


@op("Relu")
def relu(features):
    """max(features, 0) elementwise.

    >>> import tapeflow as tf
    >>> tf.nn.relu(tf.constant([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
    """
    return np.maximum(features, 0)


@relu.defgrad
def _relu_grad(op, dy):
    return (_relu_backprop(dy, op.outputs[0]),)


@op("ReluGrad")
def _relu_backprop(dy, y):
    return dy * (y > 0)


@_relu_backprop.defgrad
def _relu_backprop_grad(op, ddy):
    return (_relu_backprop(ddy, op.inputs[1]), None)


@op("Relu6")
def relu6(features):
    """min(max(features, 0), 6) elementwise.

    >>> import tapeflow as tf
    >>> tf.nn.relu6(tf.constant([-1.0, 7.0])).numpy()
    array([0., 6.], dtype=float32)
    """
    return np.minimum(np.maximum(features, 0), 6)


@relu6.defgrad
def _relu6_grad(op, dy):
    x = op.inputs[0]
    inside = m.logical_and(m.greater(x, 0.0), m.less(x, 6.0))
    return (m.where(inside, dy, m.zeros_like(dy)),)


@op("Elu")
def elu(features):
    """x if x > 0 else exp(x) - 1.

    >>> import tapeflow as tf
    >>> tf.nn.elu(tf.constant([0.0, 1.0])).numpy()
    array([0., 1.], dtype=float32)
    """
    return np.where(features > 0, features, np.expm1(np.minimum(features, 0)))


@elu.defgrad
def _elu_grad(op, dy):
    x, y = op.inputs[0], op.outputs[0]
    return (m.where(m.greater(x, 0.0), dy, dy * (y + 1.0)),)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features, name=None):
    """scale * elu(x) with TensorFlow's fixed alpha and scale.

    >>> import tapeflow as tf
    >>> tf.nn.selu(tf.constant([1.0])).numpy().round(4)
    array([1.0507], dtype=float32)
    """
    x = to_tensor(features)
    return _SELU_SCALE * m.where(m.greater(x, 0.0), x, _SELU_ALPHA * m.expm1(m.minimum(x, 0.0)))


def leaky_relu(features, alpha=0.2, name=None):
    """x if x > 0 else alpha * x (TensorFlow's default alpha is 0.2).

    >>> import tapeflow as tf
    >>> tf.nn.leaky_relu(tf.constant([-1.0, 1.0])).numpy()
    array([-0.2,  1. ], dtype=float32)
    """
    x = to_tensor(features)
    return m.where(m.greater(x, 0.0), x, x * alpha)


def gelu(features, approximate=False, name=None):
    """Gaussian error linear unit: x * Phi(x) (tanh approximation when ``approximate``).

    >>> import tapeflow as tf
    >>> tf.nn.gelu(tf.constant([1.0])).numpy().round(4)
    array([0.8413], dtype=float32)
    """
    x = to_tensor(features)
    if approximate:
        c = _math.sqrt(2.0 / _math.pi)
        return 0.5 * x * (1.0 + m.tanh(c * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + m.erf(x / _math.sqrt(2.0)))


def silu(features, beta=1.0, name=None):
    """x * sigmoid(beta * x) (also called swish).

    >>> import tapeflow as tf
    >>> tf.nn.silu(tf.constant([0.0])).numpy()
    array([0.], dtype=float32)
    """
    x = to_tensor(features)
    return x * m.sigmoid(x * beta if beta != 1.0 else x)


swish = silu


def _softmax_np(x, axis):
    # np.maximum.reduce / np.add.reduce are what np.max / np.sum run, without their
    # Python-level dispatch (about 1 us each per call; issue 7): identical results
    z = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    e = np.exp(z)
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


@op("Softmax")
def _softmax(logits, axis):
    return _softmax_np(logits, axis)


@_softmax.defgrad
def _softmax_grad(op, dy):
    y = op.outputs[0]
    axis = op.attrs["axis"]
    return ((dy - r.reduce_sum(dy * y, axis=axis, keepdims=True)) * y,)


@op("LogSoftmax")
def _log_softmax(logits, axis):
    z = logits - np.max(logits, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


@_log_softmax.defgrad
def _log_softmax_grad(op, dy):
    y = op.outputs[0]
    axis = op.attrs["axis"]
    return (dy - m.exp(y) * r.reduce_sum(dy, axis=axis, keepdims=True),)


def softmax(logits, axis=None, name=None):
    """exp(x) / sum(exp(x)) along ``axis`` (default last), stable for large logits.

    >>> import tapeflow as tf
    >>> tf.nn.softmax(tf.constant([0.0, 0.0])).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    x = to_tensor(logits)
    return _softmax(x, axis=-1 if axis is None else int(axis))


def log_softmax(logits, axis=None, name=None):
    """log(softmax(x)) along ``axis`` (default last), computed stably.

    >>> import tapeflow as tf
    >>> tf.nn.log_softmax(tf.constant([0.0, 0.0])).numpy().round(4)
    array([-0.6931, -0.6931], dtype=float32)
    """
    x = to_tensor(logits)
    return _log_softmax(x, axis=-1 if axis is None else int(axis))


@op("SoftmaxCrossEntropyWithLogits")
def _softmax_xent(labels, logits, axis):
    z = logits - np.max(logits, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return -np.sum(labels * (z - lse), axis=axis)


@_softmax_xent.defgrad
def _softmax_xent_grad(op, dy):
    labels, logits = op.inputs
    axis = op.attrs["axis"]
    dy = a.expand_dims(dy, axis)
    logp = _log_softmax(logits, axis=axis)
    return (dy * m.negative(logp), dy * (m.exp(logp) - labels))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Cross-entropy between ``labels`` (a distribution) and softmax(``logits``), per example.

    Raises:
      InvalidArgumentError: if the shapes of labels and logits differ.

    >>> import tapeflow as tf
    >>> tf.nn.softmax_cross_entropy_with_logits([[0.0, 1.0]], [[0.0, 0.0]]).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    logits = to_tensor(logits)
    _, labels = binary_args(logits, labels, "SoftmaxCrossEntropyWithLogits")
    if labels._value.shape != logits._value.shape:
        raise InvalidArgumentError(
            f"softmax_cross_entropy_with_logits: logits and labels must have the same shape, "
            f"got logits.shape={tuple(logits._value.shape)} and "
            f"labels.shape={tuple(labels._value.shape)}.")
    return _softmax_xent(labels, logits, axis=int(axis))


@op("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_xent(labels, logits):
    z = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)   # as in _softmax_np
    lse = np.log(np.add.reduce(np.exp(z), axis=-1))
    if z.ndim == 2:     # (batch, classes), the usual case: plain indexing is 3x cheaper
        picked = z[np.arange(z.shape[0]), labels]
    else:
        picked = np.take_along_axis(z, labels[..., None].astype(np.intp), axis=-1)[..., 0]
    return lse - picked


@_sparse_xent.defgrad
def _sparse_xent_grad(op, dy):
    labels, logits = op.inputs
    p = _softmax(logits, axis=-1)
    onehot = a.one_hot(labels, logits._value.shape[-1], dtype=logits.dtype)
    return (None, a.expand_dims(dy, -1) * (p - onehot))


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """Cross-entropy of integer class ``labels`` against softmax(``logits``), per example.

    Raises:
      InvalidArgumentError: if a label is outside [0, num_classes) or the shapes disagree.

    >>> import tapeflow as tf
    >>> tf.nn.sparse_softmax_cross_entropy_with_logits([1], [[0.0, 0.0]]).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    logits = to_tensor(logits)
    labels = to_tensor(labels)
    if labels._value.dtype.kind not in "iu":
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: labels must be "
                                   f"integers, got dtype {labels.dtype.name}.")
    if labels._value.shape != logits._value.shape[:-1]:
        raise InvalidArgumentError(
            f"sparse_softmax_cross_entropy_with_logits: labels shape "
            f"{tuple(labels._value.shape)} must equal logits shape without its last dimension "
            f"{tuple(logits._value.shape[:-1])} (logits.shape={tuple(logits._value.shape)}).")
    n = logits._value.shape[-1]
    lv = labels._value
    if lv.size and (lv.min() < 0 or lv.max() >= n):
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: received a label "
                                   f"value of {int(lv.max() if lv.max() >= n else lv.min())} "
                                   f"which is outside the valid range of [0, {n}).")
    return _sparse_xent(labels, logits)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-element binary cross-entropy of ``labels`` against sigmoid(``logits``), stably.

    >>> import tapeflow as tf
    >>> tf.nn.sigmoid_cross_entropy_with_logits([1.0], [0.0]).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    logits = to_tensor(logits)
    _, labels = binary_args(logits, labels, "SigmoidCrossEntropyWithLogits")
    if labels._value.shape != logits._value.shape:
        raise InvalidArgumentError(
            f"sigmoid_cross_entropy_with_logits: logits and labels must have the same shape, "
            f"got logits.shape={tuple(logits._value.shape)} and "
            f"labels.shape={tuple(labels._value.shape)}.")
    # max(x, 0) - x * z + log(1 + exp(-|x|)): no overflow for large |x|
    return m.relu_like(logits) - logits * labels + m.log1p(m.exp(m.negative(m.abs(logits))))


def bias_add(value, bias, data_format=None, name=None):
    """Adds a 1-D ``bias`` to the channel axis of ``value`` (last, or 1 for NC... formats).

    >>> import tapeflow as tf
    >>> tf.nn.bias_add(tf.zeros([2, 3]), tf.constant([1.0, 2.0, 3.0])).numpy()[0]
    array([1., 2., 3.], dtype=float32)
    """
    value, bias = binary_args(value, bias, "BiasAdd")
    if bias._value.ndim != 1:
        raise InvalidArgumentError(f"bias_add: bias must be 1-D, got shape "
                                   f"{tuple(bias._value.shape)}.")
    if data_format is not None and data_format.startswith("NC"):
        shape = (1, -1) + (1,) * (value._value.ndim - 2)
        return value + a.reshape(bias, shape)
    if value._value.shape[-1] != bias._value.shape[0]:
        raise InvalidArgumentError(f"bias_add: bias has {bias._value.shape[0]} elements but the "
                                   f"last dimension of value is {value._value.shape[-1]}.")
    return value + bias


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x**2, axis), epsilon)).

    >>> import tapeflow as tf
    >>> tf.nn.l2_normalize(tf.constant([3.0, 4.0])).numpy()
    array([0.6, 0.8], dtype=float32)
    """
    x = to_tensor(x)
    sq = r.reduce_sum(m.square(x), axis=axis if dim is None else dim, keepdims=True)
    return x * m.rsqrt(m.maximum(sq, epsilon))


def moments(x, axes, shift=None, keepdims=False, name=None):
    """Mean and (population) variance of ``x`` over ``axes``.

    >>> import tapeflow as tf
    >>> [float(t) for t in tf.nn.moments(tf.constant([1.0, 3.0]), axes=[0])]
    [2.0, 1.0]
    """
    x = to_tensor(x)
    mean = r.reduce_mean(x, axis=axes, keepdims=True)
    var = r.reduce_mean(m.squared_difference(x, m.stop_gradient(mean)), axis=axes,
                        keepdims=True)
    if not keepdims:
        mean = a.squeeze(mean, axis=axes)
        var = a.squeeze(var, axis=axes)
    return mean, var




def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zeroes elements with probability ``rate`` and scales the rest by 1 / (1 - rate).

    Args:
      x: a float tensor.
      rate: the probability of dropping each element, in [0, 1).
      noise_shape: the shape of the random keep/drop mask, broadcast against ``x``.
      seed: op seed (see ``tf.random.set_seed``).
    Raises:
      ValueError: if ``rate`` is outside [0, 1) or ``x`` is not floating point.

    >>> import tapeflow as tf
    >>> y = tf.nn.dropout(tf.ones([1000]), rate=0.5, seed=1)
    >>> sorted(set(y.numpy().tolist()))
    [0.0, 2.0]
    """
    from tapeflow.framework.tensor import Tensor
    from tapeflow.ops._helpers import shape_arg
    from tapeflow.ops.random_ops import _rng

    x = to_tensor(x)
    if x._value.dtype.kind != "f":
        raise ValueError(f"dropout: x has to be a floating point tensor since it's going to be "
                         f"scaled, got a {x.dtype.name} tensor instead.")
    if hasattr(rate, "_value"):
        rate = float(rate._value)
    if not (isinstance(rate, (int, float)) and 0 <= rate < 1):
        raise ValueError(f"dropout: rate must be a scalar tensor or a float in the range "
                         f"[0, 1), got {rate!r}.")
    shape = x._value.shape if noise_shape is None else tuple(
        d if d is not None and d != -1 else x._value.shape[i]
        for i, d in enumerate(shape_arg(noise_shape)))
    try:
        np.broadcast_shapes(shape, x._value.shape)
    except ValueError:
        raise InvalidArgumentError(f"dropout: noise_shape {shape} is not broadcastable to x's "
                                   f"shape {tuple(x._value.shape)}.") from None
    keep = _rng(seed).random(shape) >= rate
    scale = np.asarray(1.0 / (1.0 - rate), dtype=x._value.dtype)
    return x * Tensor(keep.astype(x._value.dtype) * scale)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2 (``tf.nn.l2_loss``).

    >>> import tapeflow as tf
    >>> float(tf.nn.l2_loss(tf.constant([1.0, 2.0])))
    2.5
    """
    t = to_tensor(t)
    return r.reduce_sum(m.square(t)) * 0.5


def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows of ``params`` at ``ids`` (``tf.nn.embedding_lookup``); the gradient is a scatter-add.

    >>> import tapeflow as tf
    >>> tf.nn.embedding_lookup(tf.constant([[1.0, 1.0], [2.0, 2.0]]), [1, 1, 0]).numpy()[:, 0]
    array([2., 2., 1.], dtype=float32)
    """
    out = a.gather(params, ids)
    if max_norm is not None:
        norm = m.sqrt(r.reduce_sum(m.square(out), axis=-1, keepdims=True))
        out = out * m.minimum(1.0, max_norm / m.maximum(norm, 1e-30))
    return out


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset (``tf.nn.batch_normalization``).

    >>> import tapeflow as tf
    >>> tf.nn.batch_normalization(tf.constant([1.0, 3.0]), 2.0, 1.0, None, None, 0.0).numpy()
    array([-1.,  1.], dtype=float32)
    """
    x = to_tensor(x)
    inv = m.rsqrt(to_tensor(variance, dtype=x.dtype) + variance_epsilon) if not \
        hasattr(variance, "_value") else m.rsqrt(variance + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    y = x * inv
    shift = -(to_tensor(mean, dtype=x.dtype) if not hasattr(mean, "_value") else mean) * inv
    if offset is not None:
        shift = shift + offset
    return y + shift


def softsign(features, name=None):
    """x / (1 + |x|).

    >>> import tapeflow as tf
    >>> tf.nn.softsign(tf.constant([1.0, -3.0])).numpy()
    array([ 0.5 , -0.75], dtype=float32)
    """
    x = to_tensor(features)
    return x / (m.abs(x) + 1.0)


def log_sigmoid(x, name=None):
    """log(sigmoid(x)) = -softplus(-x), without overflow.

    >>> import tapeflow as tf
    >>> round(float(tf.math.log_sigmoid(tf.constant(0.0))), 4)
    -0.6931
    """
    x = to_tensor(x)
    return m.negative(m.softplus(m.negative(x)))


def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """Sigmoid cross-entropy with the positive term weighted by ``pos_weight``.

    >>> import tapeflow as tf
    >>> loss = tf.nn.weighted_cross_entropy_with_logits([1.0], [0.0], pos_weight=2.0)
    >>> round(float(loss[0]), 4)
    1.3863
    """
    logits = to_tensor(logits)
    labels = to_tensor(labels, dtype=logits.dtype) if not hasattr(labels, "_value") else labels
    log_weight = (pos_weight - 1.0) * labels + 1.0
    # (1 - z) * x + l * (log(1 + exp(-|x|)) + max(-x, 0)), l = 1 + (q - 1) * z
    return (1.0 - labels) * logits + log_weight * (
        m.log1p(m.exp(m.negative(m.abs(logits)))) + m.relu_like(m.negative(logits)))


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None,
                         name=None):
    """Sum of the (weighted) per-example losses divided by the global batch size.

    >>> import tapeflow as tf
    >>> float(tf.nn.compute_average_loss(tf.constant([1.0, 3.0])))
    2.0
    """
    loss = to_tensor(per_example_loss)
    if sample_weight is not None:
        loss = loss * sample_weight
    n = loss._value.shape[0] if global_batch_size is None else global_batch_size
    return r.reduce_sum(loss) / float(n)


m._float_only(elu, _softmax, _log_softmax)
