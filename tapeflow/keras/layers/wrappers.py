"""``TimeDistributed``: applies a layer to every time step (the batch and time axes are merged
into one batch axis, so the wrapped layer runs once, not once per step)."""

from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A

__all__ = ["TimeDistributed", "Wrapper"]


class Wrapper(Layer):
    """Base of layers that wrap another layer (``self.layer``)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `{type(self).__name__}` layer with a "
                             f"`keras.layers.Layer` instance. Received: {layer}")
        self.layer = layer

    def get_config(self):
        c = U.base_config(self)
        c["layer"] = U.serialize_layer(self.layer)
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(U.deserialize_layer(config.pop("layer")), **config)


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
        U.build_child(self.layer, (input_shape[0],) + tuple(input_shape[2:]))

    def call(self, inputs, training=None, mask=None):
        shape = inputs.shape.as_list()
        b, t = shape[0], shape[1]
        kw = {"training": training} if training is not None else {}
        if mask is not None and _has_arg(self.layer, "mask"):
            kw["mask"] = mask
        if training and self.layer.non_trainable_weights:
            # Keras runs the layer once per time step: a layer with state updated in training
            # (BatchNormalization's batch statistics, moving averages) sees each step alone.
            steps = []
            for i in range(t):
                step_kw = dict(kw)
                if "mask" in step_kw:
                    step_kw["mask"] = step_kw["mask"][:, i]
                steps.append(self.layer(inputs[:, i], **step_kw))
            return A.stack(steps, axis=1)
        flat = A.reshape(inputs, [b * t] + shape[2:])
        if "mask" in kw:
            m = kw["mask"]
            kw["mask"] = A.reshape(m, [b * t] + m.shape.as_list()[2:])
        y = self.layer(flat, **kw)
        ys = y.shape.as_list()
        return A.reshape(y, [b, t] + ys[1:])

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])


def _has_arg(layer, name):
    import inspect  # noqa: PLC0415

    try:
        return name in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False
