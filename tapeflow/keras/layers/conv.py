"""Convolution layers: Conv1D/2D/3D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D.

Weights and their order follow Keras 3: ``kernel`` (spatial..., in/groups, filters) then
``bias``; Conv2DTranspose's kernel is (kh, kw, filters, in); DepthwiseConv2D's ``kernel`` is
(kh, kw, in, depth_multiplier); SeparableConv2D has ``depthwise_kernel``, ``pointwise_kernel``,
``bias``. The math is ``tf.nn`` convolution (im2col + GEMM, see ``tapeflow/ops/conv_ops.py``).
"""

from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A
from tapeflow.ops import conv_ops as C
from tapeflow.ops import math_ops as M

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
           "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
           "SeparableConv2D", "Convolution1D", "Convolution2D", "Convolution3D"]


def _conv_out_len(length, k, padding, stride, dilation):
    if length is None:
        return None
    eff = (k - 1) * dilation + 1
    if padding in ("same", "causal"):
        out = length
    else:
        out = length - eff + 1
    return (out + stride - 1) // stride


def _deconv_out_len(length, k, padding, output_padding, stride, dilation):
    if length is None:
        return None
    eff = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(eff - stride, 0)
        return length * stride
    pad = eff // 2 if padding == "same" else 0
    return (length - 1) * stride + eff - 2 * pad + output_padding


def _check_depth_multiplier(value):
    m = int(value)
    if m <= 0:
        raise ValueError(f"Invalid value for argument `depth_multiplier`. Expected a "
                         f"strictly positive value. Received depth_multiplier={value}.")
    return m


def _depthwise_config(config, depth_multiplier):
    """A BaseConv config plus ``depth_multiplier``, its kernel_* entries renamed depthwise_*
    (DepthwiseConv and SeparableConv)."""
    config["depth_multiplier"] = depth_multiplier
    for old, new in (("kernel_initializer", "depthwise_initializer"),
                     ("kernel_regularizer", "depthwise_regularizer"),
                     ("kernel_constraint", "depthwise_constraint")):
        config[new] = config.pop(old)
    return config


def _add_bias(y, bias, channels_first, rank):
    if channels_first:
        return M.add(y, A.reshape(bias, [1, -1] + [1] * rank))
    return M.add(y, bias)


class BaseConv(Layer):
    """Shared N-d convolution layer (``rank`` spatial axes)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        r = self.rank
        self.filters = None if filters is None else int(filters)
        if self.filters is not None and self.filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={filters}.")
        self.groups = int(groups)
        if self.groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: "
                             f"groups={groups}.")
        if self.filters is not None and self.filters % self.groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number "
                             f"of groups. Received: groups={groups}, filters={filters}.")
        self.kernel_size = U.normalize_tuple(kernel_size, r, "kernel_size")
        self.strides = U.normalize_tuple(strides, r, "strides")
        self.dilation_rate = U.normalize_tuple(dilation_rate, r, "dilation_rate")
        allowed = ("valid", "same", "causal") if r == 1 else ("valid", "same")
        self.padding = U.normalize_padding(padding, allowed)
        self.data_format = U.normalize_data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = U.get("activation", activation)
        self.use_bias = bool(use_bias)
        U.set_kernel_bias_args(self, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(min_ndim=r + 2)

    @property
    def _channels_first(self):
        return self.data_format == "channels_first"

    def _channel_axis(self):
        return 1 if self._channels_first else -1

    def _fmt(self):
        """The tf.nn data_format string ("NHWC", "NCW", ...) for this rank and data_format."""
        return U.NN_DATA_FORMATS[self.rank][self._channels_first]

    def _add_kernel(self, name, shape):
        return self.add_weight(name=name, shape=shape, initializer=self.kernel_initializer,
                               regularizer=self.kernel_regularizer,
                               constraint=self.kernel_constraint)

    def _add_bias_weight(self, size):
        self.bias = self.add_weight(
            name="bias", shape=(size,), initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None

    def _bias_activation(self, y):
        if self.use_bias:
            y = _add_bias(y, U.read(self.bias), self._channels_first, self.rank)
        return self.activation(y) if self.activation is not None else y

    def _defined_channels(self, input_shape):
        c = input_shape[self._channel_axis()]
        if c is None:
            raise ValueError(f"The channel dimension of the inputs to {type(self).__name__} "
                             f"should be defined. Found input_shape={input_shape}.")
        return c

    def _spatial_dims(self, shape):
        return shape[2:] if self._channels_first else shape[1:-1]

    def _with_channels(self, batch, spatial, channels):
        """An output shape: ``batch``, the ``spatial`` sizes and ``channels`` in this layer's
        data format."""
        if self._channels_first:
            return (batch, channels) + spatial
        return (batch,) + spatial + (channels,)

    def _output_channels(self, input_shape):
        return self.filters

    def build(self, input_shape):
        c = self._defined_channels(input_shape)
        if c % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the "
                             f"number of groups. Received groups={self.groups}, but the input "
                             f"has {c} channels (full input shape is {input_shape}).")
        self.kernel = self._add_kernel("kernel",
                                       self.kernel_size + (c // self.groups, self.filters))
        self._add_bias_weight(self.filters)
        self.input_spec = InputSpec(min_ndim=self.rank + 2, axes={self._channel_axis(): c})

    def _tf_padding(self):
        if self.padding == "causal":
            k, d = self.kernel_size[0], self.dilation_rate[0]
            return [[0, 0], [(k - 1) * d, 0], [0, 0]]
        return self.padding.upper()

    def convolution_op(self, inputs, kernel):
        return C._conv_nd(inputs, kernel, self.rank, self.strides, self._tf_padding(),
                          self._fmt(), self.dilation_rate, type(self).__name__)

    def call(self, inputs):
        fused = self._fused_activation()
        if self.use_bias and fused is not None:
            # one recorded op for convolution + bias (+ relu), computed in place
            return C._conv_nd(inputs, U.read(self.kernel), self.rank, self.strides,
                              self._tf_padding(), self._fmt(), self.dilation_rate,
                              type(self).__name__, bias=U.read(self.bias), relu=fused)
        y = self.convolution_op(inputs, U.read(self.kernel))
        return self._bias_activation(y)

    def _fused_activation(self):
        """True for relu, False for linear, None for anything else (not fused)."""
        from tapeflow.keras import activations  # noqa: PLC0415

        if self.activation is None or self.activation is activations.linear:
            return False
        if self.activation is activations.relu:
            return True
        return None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        sp = self._spatial_dims(input_shape)
        out = tuple(_conv_out_len(s, k, self.padding, st, d) for s, k, st, d in
                    zip(sp, self.kernel_size, self.strides, self.dilation_rate, strict=True))
        return self._with_channels(input_shape[0], out, self._output_channels(input_shape))

    def get_config(self):
        config = U.base_config(self)
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "groups": self.groups,
            "activation": U.serialize("activation", self.activation),
            "use_bias": self.use_bias,
        })
        config.update(U.kernel_bias_config(self))
        return config


class Conv1D(BaseConv):
    """1-D convolution (temporal): padding "valid", "same" or "causal" (left padding only).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Conv1D(4, 3, padding="causal")(np.ones((2, 10, 3))).shape
    TensorShape([2, 10, 4])
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv2D(BaseConv):
    """2-D convolution over images (channels_last by default).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> layer = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    >>> layer(np.ones((2, 9, 9, 3))).shape, layer.kernel.shape
    (TensorShape([2, 5, 5, 8]), TensorShape([3, 3, 3, 8]))
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv3D(BaseConv):
    """3-D convolution over volumes.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Conv3D(2, 2)(np.ones((1, 4, 4, 4, 1))).shape
    TensorShape([1, 3, 3, 3, 2])
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D


class BaseConvTranspose(BaseConv):
    """Shared transposed convolution: kernel (spatial..., filters, in_channels)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)
        self.output_padding = None if output_padding is None else U.normalize_tuple(
            output_padding, self.rank, "output_padding", allow_zero=True)
        if self.output_padding is not None:
            for op_, st in zip(self.output_padding, self.strides, strict=True):
                if op_ >= st:
                    raise ValueError(f"Strides {self.strides} must be greater than output "
                                     f"padding {self.output_padding}.")

    def build(self, input_shape):
        c = self._defined_channels(input_shape)
        self.kernel = self._add_kernel("kernel", self.kernel_size + (self.filters, c))
        self._add_bias_weight(self.filters)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis(): c})

    def _out_spatial(self, sp):
        ops = self.output_padding or (None,) * self.rank
        return tuple(_deconv_out_len(s, k, self.padding, o, st, d) for s, k, o, st, d in
                     zip(sp, self.kernel_size, ops, self.strides, self.dilation_rate,
                         strict=True))

    def call(self, inputs):
        shape = tuple(inputs.shape)
        out = self._out_spatial(self._spatial_dims(shape))
        full = list(self._with_channels(shape[0], out, self.filters))
        y = C._conv_transpose_nd(inputs, U.read(self.kernel), full, self.rank, self.strides,
                                 self.padding.upper(), self._fmt(), self.dilation_rate,
                                 type(self).__name__)
        return self._bias_activation(y)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        out = self._out_spatial(self._spatial_dims(input_shape))
        return self._with_channels(input_shape[0], out, self.filters)

    def get_config(self):
        config = super().get_config()
        config.pop("groups")
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution; kernel (k, filters, in).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Conv1DTranspose(2, 3, strides=2, padding="same")(np.ones((1, 4, 3))).shape
    TensorShape([1, 8, 2])
    """

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution ("deconvolution"); kernel (kh, kw, filters, in).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same")(np.ones((1, 4, 4, 3))).shape
    TensorShape([1, 8, 8, 2])
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution; kernel (kd, kh, kw, filters, in).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Conv3DTranspose(2, 2, strides=2)(np.ones((1, 2, 2, 2, 1))).shape
    TensorShape([1, 4, 4, 4, 2])
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, output_padding=None, dilation_rate=(1, 1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        # Keras 3's positional order: data_format comes before output_padding here
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(BaseConv):
    """Depthwise 2-D convolution: kernel (kh, kw, in, depth_multiplier), one filter group per
    input channel; output channel ``c * depth_multiplier + m``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(np.ones((1, 5, 5, 3))).shape
    TensorShape([1, 3, 3, 6])
    """

    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        self.depth_multiplier = _check_depth_multiplier(depth_multiplier)

    def build(self, input_shape):
        c = input_shape[self._channel_axis()]
        self.kernel = self._add_kernel("kernel", self.kernel_size + (c, self.depth_multiplier))
        self._add_bias_weight(c * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis(): c})

    def call(self, inputs):
        fmt = self._fmt()
        y = C.depthwise_conv2d(inputs, U.read(self.kernel), self.strides,
                               self.padding.upper(), fmt, self.dilation_rate)
        return self._bias_activation(y)

    def _output_channels(self, input_shape):
        c = input_shape[self._channel_axis()]
        return None if c is None else c * self.depth_multiplier

    def get_config(self):
        config = super().get_config()
        for k in ("filters", "groups"):
            config.pop(k)
        _depthwise_config(config, self.depth_multiplier)
        return config


class SeparableConv2D(BaseConv):
    """Depthwise convolution then a 1x1 pointwise convolution; weights ``depthwise_kernel``
    (kh, kw, in, mult), ``pointwise_kernel`` (1, 1, in*mult, filters), ``bias``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.SeparableConv2D(4, 3, padding="same")(np.ones((1, 5, 5, 3))).shape
    TensorShape([1, 5, 5, 4])
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        self.depth_multiplier = _check_depth_multiplier(depth_multiplier)
        self.pointwise_initializer = U.get("initializer", pointwise_initializer)
        self.pointwise_regularizer = U.get("regularizer", pointwise_regularizer)
        self.pointwise_constraint = U.get("constraint", pointwise_constraint)

    def build(self, input_shape):
        c = input_shape[self._channel_axis()]
        self.depthwise_kernel = self._add_kernel("depthwise_kernel",
                                                 self.kernel_size + (c, self.depth_multiplier))
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel", shape=(1, 1, c * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self._add_bias_weight(self.filters)
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis(): c})

    def call(self, inputs):
        fmt = self._fmt()
        y = C.separable_conv2d(inputs, U.read(self.depthwise_kernel), U.read(self.pointwise_kernel),
                               self.strides, self.padding.upper(), fmt,
                               self.dilation_rate)
        return self._bias_activation(y)

    def get_config(self):
        config = super().get_config()
        config.pop("groups")
        _depthwise_config(config, self.depth_multiplier)
        config["pointwise_initializer"] = U.serialize("initializer", self.pointwise_initializer)
        config["pointwise_regularizer"] = U.serialize("regularizer", self.pointwise_regularizer)
        config["pointwise_constraint"] = U.serialize("constraint", self.pointwise_constraint)
        return config


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution: kernel (k, in, depth_multiplier), output channel
    ``c * depth_multiplier + m``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.DepthwiseConv1D(3, depth_multiplier=2)(np.ones((1, 6, 3))).shape
    TensorShape([1, 4, 6])
    """

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        U.normalize_padding(padding)  # Keras 3: no "causal" for depthwise/separable 1-D
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(ndim=3, axes={self._channel_axis(): input_shape[
            self._channel_axis()]})

    def call(self, inputs):
        k, c, mult = self.kernel.shape
        w = A.reshape(U.read(self.kernel), [k, 1, c * mult])
        y = C._conv_nd(inputs, w, 1, self.strides, self.padding.upper(),
                       self._fmt(), self.dilation_rate, "DepthwiseConv1D")
        return self._bias_activation(y)


class SeparableConv1D(SeparableConv2D):
    """Depthwise 1-D convolution then a pointwise (size 1) convolution; weights
    ``depthwise_kernel`` (k, in, mult), ``pointwise_kernel`` (1, in*mult, filters), ``bias``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.SeparableConv1D(4, 3, padding="same")(np.ones((1, 6, 3))).shape
    TensorShape([1, 6, 4])
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        U.normalize_padding(padding)  # Keras 3: no "causal" for depthwise/separable 1-D
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)

    def build(self, input_shape):
        c = input_shape[self._channel_axis()]
        m = self.depth_multiplier
        self.depthwise_kernel = self._add_kernel("depthwise_kernel", self.kernel_size + (c, m))
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel", shape=(1, c * m, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self._add_bias_weight(self.filters)
        self.input_spec = InputSpec(ndim=3, axes={self._channel_axis(): c})

    def call(self, inputs):
        k, c, m = self.depthwise_kernel.shape
        fmt = self._fmt()
        dw = A.reshape(U.read(self.depthwise_kernel), [k, 1, c * m])
        h = C._conv_nd(inputs, dw, 1, self.strides, self.padding.upper(), fmt,
                       self.dilation_rate, "SeparableConv1D")
        y = C._conv_nd(h, U.read(self.pointwise_kernel), 1, 1, "VALID", fmt, None,
                       "SeparableConv1D")
        return self._bias_activation(y)
