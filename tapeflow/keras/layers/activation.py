"""The activation layers: ReLU, LeakyReLU, PReLU, ELU and Softmax (Keras 3's names and configs)."""

from tapeflow.keras import activations as _act
from tapeflow.keras import constraints, initializers, regularizers
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A
from tapeflow.ops import math_ops as M
from tapeflow.ops import nn_ops as N
from tapeflow.ops import reduction_ops as R

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]


class _Elementwise(Layer):
    """An activation layer: same output shape as its input, masks pass through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return input_shape


class ReLU(_Elementwise):
    """Rectified linear unit layer: ``min(max_value, x)`` above ``threshold``,
    ``negative_slope * (x - threshold)`` below it.

    Args:
      max_value: the largest output (None: no cap); must be >= 0.
      negative_slope: the slope below ``threshold``; must be >= 0.
      threshold: where the unit switches from the slope to the identity.

    >>> from tapeflow import keras
    >>> keras.layers.ReLU(max_value=6.0)([-1.0, 3.0, 9.0]).numpy()
    array([0., 3., 6.], dtype=float32)
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("max_value", max_value), ("negative_slope", negative_slope),
                            ("threshold", threshold)):
            if value is not None and value < 0:
                raise ValueError(f"{name} of a ReLU layer cannot be a negative value. "
                                 f"Received: {name}={value}")
        if negative_slope is None or threshold is None:
            raise ValueError(f"ReLU: negative_slope and threshold must be numbers, received "
                             f"negative_slope={negative_slope}, threshold={threshold}.")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        return _act.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                         threshold=self.threshold)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class LeakyReLU(_Elementwise):
    """``x`` for x >= 0, ``negative_slope * x`` below (Keras's default slope is 0.3).

    >>> from tapeflow import keras
    >>> keras.layers.LeakyReLU()([-1.0, 2.0]).numpy()
    array([-0.3,  2. ], dtype=float32)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # the Keras 2 spelling
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"The negative_slope value of a Leaky ReLU layer cannot be None "
                             f"or negative, Expected a float. Received: "
                             f"negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return _act.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class ELU(_Elementwise):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below.

    >>> from tapeflow import keras
    >>> keras.layers.ELU()([0.0, 2.0]).numpy()
    array([0., 2.], dtype=float32)
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return _act.elu(inputs, alpha=self.alpha)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class PReLU(_Elementwise):
    """Parametric ReLU: ``max(x, 0) + alpha * min(x, 0)`` with a learned ``alpha`` per unit
    (shared over ``shared_axes``).

    Args:
      alpha_initializer: initializer of ``alpha`` (default zeros: starts as a ReLU).
      alpha_regularizer: optional regularizer of ``alpha``.
      alpha_constraint: optional constraint of ``alpha``.
      shared_axes: axes (1-based, batch excluded) along which ``alpha`` is shared.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> layer = keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.5))
    >>> layer(np.array([[-2.0, 2.0]])).numpy()
    array([[-1.,  2.]], dtype=float32)
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis <= len(shape):
                raise ValueError(f"PReLU: shared_axes holds {axis}, outside [1, {len(shape)}] "
                                 f"for inputs of shape {tuple(input_shape)}.")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU: every non-shared input dimension must be known, "
                             f"received input shape {tuple(input_shape)}.")
        self.alpha = self.add_weight(shape=tuple(shape), name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)

    def call(self, inputs):
        return N.relu(inputs) - self.alpha * N.relu(M.negative(inputs))

    def get_config(self):
        config = super().get_config()
        config.update({
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        })
        return config


class Softmax(_Elementwise):
    """Softmax over ``axis`` (an int or a tuple of axes); masked positions get probability 0.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Softmax()(np.array([[0.0, 0.0, 5.0]]),
    ...                        mask=np.array([[True, True, False]])).numpy()
    array([[0.5, 0.5, 0. ]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        if mask is not None:
            # As Keras: a large negative logit where the mask is off, so exp() gives 0 there.
            keep = M.cast(mask, inputs.dtype)
            while keep.shape.rank < inputs.shape.rank:
                keep = A.expand_dims(keep, -1)
            inputs = inputs + (1.0 - keep) * -1e9
        if isinstance(self.axis, (list, tuple)):
            return M.exp(inputs - R.reduce_logsumexp(inputs, axis=list(self.axis),
                                                     keepdims=True))
        return N.softmax(inputs, axis=self.axis)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
