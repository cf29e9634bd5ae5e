"""``Masking``: marks the time steps whose features all equal ``mask_value`` as padding."""

from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.layer import Layer
from tapeflow.keras.layers.node import KerasTensor
from tapeflow.ops import array_ops as A
from tapeflow.ops import math_ops as M
from tapeflow.ops import reduction_ops as R

__all__ = ["Masking"]


class Masking(Layer):
    """Zeroes the masked steps and attaches the mask (``any(x != mask_value, axis=-1)``) for the
    layers downstream (RNNs skip those steps).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
    >>> keras.layers.Masking()(x)._keras_mask.numpy()
    array([[ True, False,  True]])
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        if isinstance(inputs, KerasTensor):  # a symbolic input gets a symbolic mask
            return KerasTensor(inputs.shape[:-1], "bool")
        return R.reduce_any(M.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        keep = self.compute_mask(inputs)
        return inputs * A.expand_dims(M.cast(keep, inputs.dtype), -1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = U.base_config(self)
        c["mask_value"] = self.mask_value
        return c
