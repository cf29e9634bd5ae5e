"""SpatialDropout1D/2D/3D: drop whole feature maps (one keep/drop draw per sample and channel)."""

from tapeflow._backend import np
from tapeflow.framework.tensor import _wrap
from tapeflow.keras import _rng
from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
           "AlphaDropout"]


class _SpatialDropout(Layer):
    rank = 1

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.data_format = U.normalize_data_format(data_format)
        self._gen = _rng.make_generator(seed)
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape.as_list()
        if self.data_format == "channels_first":
            noise = [shape[0], shape[1]] + [1] * self.rank
        else:
            noise = [shape[0]] + [1] * self.rank + [shape[-1]]
        dt = inputs.dtype.as_numpy_dtype
        if self.rate >= 1:
            return inputs * _wrap(np.zeros(noise, dtype=dt))
        keep = self._gen.random(noise) >= self.rate
        return inputs * _wrap(keep.astype(dt) * np.asarray(1.0 / (1.0 - self.rate), dtype=dt))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    _CONFIG_HAS_TRAINABLE = False  # as Keras 3's BaseSpatialDropout.get_config

    def get_config(self):
        # Keras 3's BaseSpatialDropout takes no `trainable` and writes the dtype as a string.
        c = {"rate": self.rate, "seed": self.seed, "name": self.name,
             "dtype": self._dtype_policy.name if hasattr(self._dtype_policy, "name")
             else self.dtype}
        if self.rank > 1:
            c["data_format"] = self.data_format
        return c


class SpatialDropout1D(_SpatialDropout):
    """Drops entire channels of a (batch, steps, channels) input in training.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> y = keras.layers.SpatialDropout1D(0.5, seed=1)(np.ones((4, 3, 8)), training=True)
    >>> bool(((y.numpy() == 0).all(axis=1) | (y.numpy() == 2).all(axis=1)).all())
    True
    """

    rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, None, seed, name=name, dtype=dtype, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops entire feature maps of an image batch in training.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.SpatialDropout2D(0.5)(np.ones((2, 4, 4, 3)), training=False).shape
    TensorShape([2, 4, 4, 3])
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops entire feature volumes in training.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.SpatialDropout3D(0.5)(np.ones((1, 2, 2, 2, 3))).shape
    TensorShape([1, 2, 2, 2, 3])
    """

    rank = 3


def _check_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"Invalid value received for argument `rate`. Expected a float value "
                         f"between 0 and 1. Received: rate={rate!r}")
    return float(rate)


class GaussianDropout(Layer):
    """Multiplies the inputs by noise ``N(1, rate / (1 - rate))`` in training.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GaussianDropout(0.3)(np.ones((2, 3)), training=False).numpy()
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(rate)
        self.seed = seed
        self._gen = _rng.make_generator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or not 0 < self.rate < 1:
            return inputs
        std = (self.rate / (1.0 - self.rate)) ** 0.5
        noise = self._gen.normal(1.0, std, tuple(inputs.shape))
        return inputs * _wrap(noise.astype(inputs.dtype.as_numpy_dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = U.base_config(self)
        c.update({"rate": self.rate, "seed": self.seed})
        return c


class AlphaDropout(Layer):
    """Dropout that keeps the mean and variance of SELU activations (Klambauer et al. 2017).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> y = keras.layers.AlphaDropout(0.2, seed=0)(np.zeros((1000, 50)), training=True)
    >>> bool(abs(float(y.numpy().mean())) < 0.05)
    True
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._gen = _rng.make_generator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or not 0 < self.rate < 1:
            return inputs
        alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
        shape = tuple(inputs.shape)
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape,
                                                                 strict=True))
        dt = inputs.dtype.as_numpy_dtype
        kept = (self._gen.random(shape) >= self.rate).astype(dt)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        x = inputs * _wrap(kept) + _wrap((alpha_p * (1 - kept)).astype(dt))
        return x * a + b

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = U.base_config(self)
        c.update({"rate": self.rate, "seed": self.seed,
                  "noise_shape": None if self.noise_shape is None else list(self.noise_shape)})
        return c
