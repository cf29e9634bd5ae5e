"""TensorFlow's tensor initializers (``tf.zeros_initializer`` and friends): callables that
make a tensor of a given shape and dtype."""

from tapeflow.framework import dtypes as _dt
from tapeflow.ops import array_ops as _a
from tapeflow.ops import random_ops as _rnd

__all__ = ["zeros_initializer", "ones_initializer", "constant_initializer",
           "random_uniform_initializer", "random_normal_initializer"]


class _Initializer:
    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class zeros_initializer(_Initializer):  # noqa: N801 - TensorFlow's name
    """Makes tensors of zeros.

    >>> import tapeflow as tf
    >>> tf.zeros_initializer()([2]).numpy()
    array([0., 0.], dtype=float32)
    """

    def __call__(self, shape, dtype=_dt.float32, **kwargs):
        return _a.zeros(shape, dtype=dtype)


class ones_initializer(_Initializer):  # noqa: N801
    """Makes tensors of ones.

    >>> import tapeflow as tf
    >>> tf.ones_initializer()([2], tf.int32).numpy()
    array([1, 1], dtype=int32)
    """

    def __call__(self, shape, dtype=_dt.float32, **kwargs):
        return _a.ones(shape, dtype=dtype)


class constant_initializer(_Initializer):  # noqa: N801
    """Makes tensors filled with ``value`` (a scalar, or a list reshaped to the shape).

    >>> import tapeflow as tf
    >>> tf.constant_initializer([1.0, 2.0])([2, 1]).numpy()
    array([[1.],
           [2.]], dtype=float32)
    """

    def __init__(self, value=0):
        self.value = value

    def __call__(self, shape, dtype=None, **kwargs):
        from tapeflow.framework.tensor import constant

        return constant(self.value, dtype=dtype, shape=shape)  # dtype None: from the value

    def get_config(self):
        return {"value": self.value}


class random_uniform_initializer(_Initializer):  # noqa: N801
    """Makes tensors drawn uniformly from [minval, maxval).

    >>> import tapeflow as tf
    >>> tf.random_uniform_initializer(0.0, 1.0, seed=1)([3]).shape
    TensorShape([3])
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=_dt.float32, **kwargs):
        return _rnd.uniform(shape, self.minval, self.maxval, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class random_normal_initializer(_Initializer):  # noqa: N801
    """Makes tensors drawn from a normal distribution.

    >>> import tapeflow as tf
    >>> tf.random_normal_initializer(stddev=0.1, seed=1)([2, 2]).dtype
    tf.float32
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=_dt.float32, **kwargs):
        return _rnd.normal(shape, self.mean, self.stddev, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}
