"""SpatialDropout1D/2D/3D: drop whole feature maps (one keep/drop draw per sample and channel)."""

from tapeflow._backend import np
from tapeflow.framework.tensor import _wrap
from tapeflow.keras import _rng
from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]


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

    def get_config(self):
        c = U.base_config(self)
        c.update({"rate": self.rate, "seed": self.seed})
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
