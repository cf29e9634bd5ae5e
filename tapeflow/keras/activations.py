"""``keras.activations``: Keras 3's activation functions, written with tapeflow ops.

Every function takes a tensor (or anything convertible) and returns a Tensor; all are
differentiable under ``GradientTape``. ``get("relu")`` returns the function, ``serialize(fn)`` its
name. ``softmax`` and ``sigmoid`` remember their input on the output (``_keras_logits``) so that a
cross-entropy loss fed their output computes from the logits, stably, as Keras does.

Beyond Keras, ``step`` is the Heaviside step function (1 where x >= 0, else 0) of the threshold
logic unit and the perceptron. Its derivative is 0 everywhere (and undefined at 0), so nothing can
be learned through it with backpropagation: taking a gradient through it warns.

>>> from tapeflow import keras
>>> keras.activations.get("relu")([-1.0, 2.0]).numpy()
array([0., 2.], dtype=float32)
"""

import warnings

from tapeflow._backend import np
from tapeflow.framework.registry import op
from tapeflow.framework.tensor import convert_to_tensor
from tapeflow.ops import math_ops as m
from tapeflow.ops import nn_ops as nn

__all__ = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
    "sparse_plus", "squareplus", "step", "swish", "tanh", "tanh_shrink", "threshold", "get",
    "serialize", "deserialize",
]


def _t(x):
    return convert_to_tensor(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit with Keras's options.

    ``max(x, 0)`` by default; values below ``threshold`` become
    ``negative_slope * (x - threshold)``, and the output is capped at ``max_value``.

    Args:
      x: input tensor.
      negative_slope: slope for values below ``threshold``.
      max_value: the largest output value (None: no cap).
      threshold: values below it are damped or zeroed.

    >>> from tapeflow import keras
    >>> keras.activations.relu([-2.0, 1.0, 5.0], max_value=3.0).numpy()
    array([0., 1., 3.], dtype=float32)
    """
    x = _t(x)
    if negative_slope < 0:
        raise ValueError(f"relu: negative_slope must be non-negative, received "
                         f"negative_slope={negative_slope}.")
    if max_value is not None and max_value < 0:
        raise ValueError(f"relu: max_value must be non-negative, received max_value={max_value}.")
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return nn.relu(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return nn.leaky_relu(x, alpha=negative_slope)
    if threshold != 0.0:
        y = x * m.cast(m.greater(x, threshold), x.dtype)
    else:
        y = nn.relu(x)
    if max_value is not None:
        y = m.clip_by_value(y, 0.0, float(max_value))
    if negative_slope != 0.0:
        y = y - negative_slope * nn.relu(threshold - x)
    return y


def leaky_relu(x, negative_slope=0.2):
    """``x`` if x > 0 else ``negative_slope * x`` (Keras default slope 0.2).

    >>> from tapeflow import keras
    >>> keras.activations.leaky_relu([-1.0, 1.0]).numpy()
    array([-0.2,  1. ], dtype=float32)
    """
    return nn.leaky_relu(_t(x), alpha=negative_slope)


def relu6(x):
    """``min(max(x, 0), 6)``.

    >>> from tapeflow import keras
    >>> keras.activations.relu6([-1.0, 8.0]).numpy()
    array([0., 6.], dtype=float32)
    """
    return nn.relu6(_t(x))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``; the output remembers ``x`` as its logits.

    >>> from tapeflow import keras
    >>> keras.activations.softmax([[0.0, 0.0]]).numpy()
    array([[0.5, 0.5]], dtype=float32)
    """
    x = _t(x)
    if x.ndim < 1:
        raise ValueError(f"softmax: cannot apply softmax to a tensor of rank 0, received "
                         f"input with shape {tuple(x.shape)}.")
    out = nn.softmax(x, axis=axis)
    if axis in (-1, x.ndim - 1):  # cross-entropies reduce the last axis: only then reuse logits
        out._keras_logits = x
    return out


def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed stably.

    >>> from tapeflow import keras
    >>> keras.activations.log_softmax([0.0, 0.0]).numpy().round(4)
    array([-0.6931, -0.6931], dtype=float32)
    """
    return nn.log_softmax(_t(x), axis=axis)


def elu(x, alpha=1.0):
    """``x`` if x > 0 else ``alpha * (exp(x) - 1)``.

    >>> from tapeflow import keras
    >>> keras.activations.elu([0.0, 2.0]).numpy()
    array([0., 2.], dtype=float32)
    """
    x = _t(x)
    if alpha == 1.0:
        return nn.elu(x)
    return m.where(m.greater(x, 0.0), x, alpha * m.expm1(m.minimum(x, 0.0)))


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with alpha=1.67326324, scale=1.05070098.

    >>> from tapeflow import keras
    >>> keras.activations.selu([1.0]).numpy().round(4)
    array([1.0507], dtype=float32)
    """
    return nn.selu(_t(x))


def softplus(x):
    """``log(exp(x) + 1)``, computed stably.

    >>> from tapeflow import keras
    >>> keras.activations.softplus([0.0]).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    return m.softplus(_t(x))


def softsign(x):
    """``x / (abs(x) + 1)``.

    >>> from tapeflow import keras
    >>> keras.activations.softsign([1.0]).numpy()
    array([0.5], dtype=float32)
    """
    x = _t(x)
    return x / (m.abs(x) + 1.0)


def silu(x):
    """Swish / SiLU: ``x * sigmoid(x)``.

    >>> from tapeflow import keras
    >>> keras.activations.silu([0.0]).numpy()
    array([0.], dtype=float32)
    """
    x = _t(x)
    return x * m.sigmoid(x)


swish = silu


def gelu(x, approximate=False):
    """Gaussian error linear unit ``x * Phi(x)`` (tanh approximation when ``approximate``).

    >>> from tapeflow import keras
    >>> keras.activations.gelu([1.0]).numpy().round(4)
    array([0.8413], dtype=float32)
    """
    return nn.gelu(_t(x), approximate=approximate)


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: ``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``.

    >>> from tapeflow import keras
    >>> keras.activations.celu([1.0]).numpy()
    array([1.], dtype=float32)
    """
    x = _t(x)
    return nn.relu(x) + m.minimum(0.0, alpha * m.expm1(x / alpha))


def glu(x, axis=-1):
    """Gated linear unit: halves ``a, b`` of ``x`` along ``axis`` give ``a * sigmoid(b)``.

    >>> from tapeflow import keras
    >>> keras.activations.glu([[1.0, 0.0]]).numpy()
    array([[0.5]], dtype=float32)
    """
    from tapeflow.ops import array_ops as a

    x = _t(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: axis {axis} of the input must have an even size, received input "
                         f"with shape {tuple(x.shape)}.")
    x1, x2 = a.split(x, 2, axis=axis)
    return x1 * m.sigmoid(x2)


def tanh(x):
    """Hyperbolic tangent ``(exp(x) - exp(-x)) / (exp(x) + exp(-x))``.

    >>> from tapeflow import keras
    >>> keras.activations.tanh([0.0]).numpy()
    array([0.], dtype=float32)
    """
    return m.tanh(_t(x))


def tanh_shrink(x):
    """``x - tanh(x)``.

    >>> from tapeflow import keras
    >>> keras.activations.tanh_shrink([0.0]).numpy()
    array([0.], dtype=float32)
    """
    x = _t(x)
    return x - m.tanh(x)


def hard_tanh(x):
    """``clip(x, -1, 1)``.

    >>> from tapeflow import keras
    >>> keras.activations.hard_tanh([-3.0, 0.5]).numpy()
    array([-1. ,  0.5], dtype=float32)
    """
    return m.clip_by_value(_t(x), -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0.

    >>> from tapeflow import keras
    >>> keras.activations.hard_shrink([0.2, 1.0]).numpy()
    array([0., 1.], dtype=float32)
    """
    x = _t(x)
    return m.where(m.greater(m.abs(x), threshold), x, m.zeros_like(x))


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0.

    >>> from tapeflow import keras
    >>> keras.activations.soft_shrink([0.2, 1.0]).numpy()
    array([0. , 0.5], dtype=float32)
    """
    x = _t(x)
    return m.where(m.greater(x, threshold), x - threshold,
                   m.where(m.less(x, -threshold), x + threshold, m.zeros_like(x)))


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``.

    >>> from tapeflow import keras
    >>> keras.activations.threshold([0.2, 1.0], 0.5, -1.0).numpy()
    array([-1.,  1.], dtype=float32)
    """
    x = _t(x)
    return m.where(m.greater(x, threshold), x, m.zeros_like(x) + default_value)


def sigmoid(x):
    """``1 / (1 + exp(-x))``; the output remembers ``x`` as its logits.

    >>> from tapeflow import keras
    >>> keras.activations.sigmoid([0.0]).numpy()
    array([0.5], dtype=float32)
    """
    x = _t(x)
    out = m.sigmoid(x)
    out._keras_logits = x
    return out


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, computed stably.

    >>> from tapeflow import keras
    >>> keras.activations.log_sigmoid([0.0]).numpy().round(4)
    array([-0.6931], dtype=float32)
    """
    return m.negative(m.softplus(m.negative(_t(x))))


def exponential(x):
    """``exp(x)``.

    >>> from tapeflow import keras
    >>> keras.activations.exponential([0.0]).numpy()
    array([1.], dtype=float32)
    """
    return m.exp(_t(x))


def hard_sigmoid(x):
    """Keras 3's hard sigmoid ``relu6(x + 3) / 6`` (0 below -3, 1 above 3).

    >>> from tapeflow import keras
    >>> keras.activations.hard_sigmoid([-4.0, 0.0, 4.0]).numpy()
    array([0. , 0.5, 1. ], dtype=float32)
    """
    return nn.relu6(_t(x) + 3.0) * (1.0 / 6.0)


def hard_silu(x):
    """Hard SiLU / hard swish: ``x * relu6(x + 3) / 6``.

    >>> from tapeflow import keras
    >>> keras.activations.hard_silu([0.0, 4.0]).numpy()
    array([0., 4.], dtype=float32)
    """
    x = _t(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def sparse_plus(x):
    """0 below -1, ``(x + 1)**2 / 4`` on [-1, 1], ``x`` above 1.

    >>> from tapeflow import keras
    >>> keras.activations.sparse_plus([-2.0, 0.0, 2.0]).numpy()
    array([0.  , 0.25, 2.  ], dtype=float32)
    """
    x = _t(x)
    mid = m.square(x + 1.0) * 0.25
    return m.where(m.less_equal(x, -1.0), m.zeros_like(x),
                   m.where(m.greater_equal(x, 1.0), x, mid))


def squareplus(x, b=4):
    """``(x + sqrt(x**2 + b)) / 2``.

    >>> from tapeflow import keras
    >>> keras.activations.squareplus([0.0]).numpy()
    array([1.], dtype=float32)
    """
    x = _t(x)
    return (x + m.sqrt(m.square(x) + float(b))) * 0.5


def mish(x):
    """``x * tanh(softplus(x))``.

    >>> from tapeflow import keras
    >>> keras.activations.mish([0.0]).numpy()
    array([0.], dtype=float32)
    """
    x = _t(x)
    return x * m.tanh(m.softplus(x))


def linear(x):
    """The identity ``x`` (no activation).

    >>> from tapeflow import keras
    >>> keras.activations.linear([1.5]).numpy()
    array([1.5], dtype=float32)
    """
    return _t(x)


_STEP_WARNING = (
    "keras.activations.step: the step function has a zero derivative everywhere, so no "
    "gradient flows through it and backpropagation cannot train the weights before it. Train a "
    "step unit with the perceptron learning rule, or use a smooth activation such as 'sigmoid'.")


@op("HeavisideStep")
def _step(x):
    return (x >= 0).astype(x.dtype if x.dtype.kind == "f" else np.float32)


@_step.defgrad
def _step_grad(op, dy):
    # The true derivative is 0 (and undefined at 0): say so once per backward pass through it.
    warnings.warn(_STEP_WARNING, UserWarning, stacklevel=2)
    return (m.zeros_like(op.inputs[0]),)


def step(x):
    """Heaviside step: 1 where ``x >= 0`` (so ``step(0) = 1``), 0 elsewhere.

    The activation of a threshold logic unit. Its gradient is 0 everywhere; taking a gradient
    through it (training a ``Dense(..., activation="step")`` with ``fit``) warns with a
    ``UserWarning`` that no gradient flows.

    >>> from tapeflow import keras
    >>> keras.activations.step([-1.0, 0.0, 2.0]).numpy()
    array([0., 1., 1.], dtype=float32)
    """
    return _step(_t(x))


_FUNCTIONS = {
    "celu": celu, "elu": elu, "exponential": exponential, "gelu": gelu, "glu": glu,
    "hard_shrink": hard_shrink, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu,
    "hard_swish": hard_silu, "hard_tanh": hard_tanh, "leaky_relu": leaky_relu,
    "linear": linear, "log_sigmoid": log_sigmoid, "log_softmax": log_softmax, "mish": mish,
    "relu": relu, "relu6": relu6, "selu": selu, "sigmoid": sigmoid, "silu": silu,
    "soft_shrink": soft_shrink, "softmax": softmax, "softplus": softplus, "softsign": softsign,
    "sparse_plus": sparse_plus, "squareplus": squareplus, "step": step, "swish": silu,
    "tanh": tanh, "tanh_shrink": tanh_shrink, "threshold": threshold,
}
ALL_OBJECTS_DICT = _FUNCTIONS
_NAMES = {}
for _name, _fn in _FUNCTIONS.items():
    _NAMES.setdefault(_fn, _name)


def serialize(activation):
    """The name of a built-in activation (``"relu"``), or Keras 3's dict for a custom function
    (``{"module": "builtins", "class_name": "function", "config": <registered name>,
    "registered_name": "function"}``, the registered name being ``"Package>name"`` when it was
    registered with ``register_keras_serializable`` and its ``__name__`` otherwise).

    >>> from tapeflow import keras
    >>> keras.activations.serialize(keras.activations.swish)
    'silu'
    >>> def my_act(x):
    ...     return x
    >>> keras.activations.serialize(my_act)["config"]
    'my_act'
    """
    if activation is None:
        return "linear"
    if activation in _NAMES:
        return _NAMES[activation]
    if hasattr(activation, "get_config"):
        from tapeflow.keras._objects import serialize_object

        return serialize_object(activation, "keras.activations")
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize activation {activation!r}: it is neither a built-in "
                         f"activation nor a named function.")
    if name == "<lambda>":
        return name
    from tapeflow.keras.saving.serialization_lib import get_registered_name

    return {"module": "builtins", "class_name": "function",
            "config": get_registered_name(activation), "registered_name": "function"}


def deserialize(config, custom_objects=None):
    """The activation named by ``config`` (a name or a serialized ``function`` dict).

    >>> from tapeflow import keras
    >>> keras.activations.deserialize("tanh") is keras.activations.tanh
    True
    """
    table = dict(_FUNCTIONS)
    if custom_objects:
        table.update(custom_objects)
    if isinstance(config, dict):
        name = config.get("config") if config.get("class_name") == "function" else \
            config.get("class_name")
        if isinstance(name, dict):
            name = name.get("name")
        config = name
    if isinstance(config, str) and config not in table:  # registered or in a custom scope
        from tapeflow.keras.saving import serialization_lib as sl

        found = sl._custom_by_name(config, sl._custom_table())
        if found is not None:
            return found
    if not isinstance(config, str) or config not in table:
        raise ValueError(f"Could not interpret activation function identifier: {config!r}. "
                         f"Valid names are: {sorted(_FUNCTIONS)}.")
    return table[config]


def get(identifier):
    """Returns the activation function for ``identifier`` (a name, a dict, a callable or None).

    ``None`` gives ``linear``. An unknown name raises ValueError listing the valid names.

    >>> from tapeflow import keras
    >>> keras.activations.get(None) is keras.activations.linear
    True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}; "
                     f"expected a name (one of {sorted(_FUNCTIONS)}), a dict or a callable.")

