"""``TimeDistributed``: applies a layer to every time step (the batch and time axes are merged
into one batch axis, so the wrapped layer runs once, not once per step)."""

from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer
from tapeflow.keras.layers.recurrent import _build_child
from tapeflow.ops import array_ops as A

__all__ = ["TimeDistributed", "Wrapper"]


class Wrapper(Layer):
    """Base of layers that wrap another layer (``self.layer``)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer "
                             f"type. Please ensure wrapped layer is a valid Keras layer.")
        self.layer = layer

    def get_config(self):
        c = U.base_config(self)
        c["layer"] = {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}
        return c

    @classmethod
    def from_config(cls, config):
        from tapeflow.keras import layers  # noqa: PLC0415

        config = dict(config)
        spec = config.pop("layer")
        return cls(getattr(layers, spec["class_name"]).from_config(spec["config"]), **config)


class TimeDistributed(Wrapper):
    """Applies ``layer`` to each temporal slice of a (batch, time, ...) input.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.TimeDistributed(keras.layers.Dense(2))(np.ones((4, 3, 5))).shape
    TensorShape([4, 3, 2])
    """

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)

    def build(self, input_shape):
        _build_child(self.layer, (None,) + tuple(input_shape[2:]))

    def call(self, inputs, training=None, mask=None):
        shape = inputs.shape.as_list()
        b, t = shape[0], shape[1]
        flat = A.reshape(inputs, [b * t] + shape[2:])
        kw = {"training": training} if training is not None else {}
        y = self.layer(flat, **kw)
        ys = y.shape.as_list()
        return A.reshape(y, [b, t] + ys[1:])

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])
