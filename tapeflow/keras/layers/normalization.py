"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization.

BatchNormalization in training normalises with the batch mean and the biased batch variance and
updates ``moving_mean`` / ``moving_variance`` in place (``moving = moving * momentum + batch *
(1 - momentum)``); at inference it uses the moving statistics. Weight order: gamma, beta,
moving_mean, moving_variance (Keras 3).
"""

from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A
from tapeflow.ops import math_ops as M
from tapeflow.ops import nn_ops as N
from tapeflow.ops import reduction_ops as R

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization",
           "UnitNormalization"]


def _norm_axes(axis, ndim, name):
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of range for an input of rank {ndim}.")
        out.append(a % ndim)
    return sorted(set(out))


def _half(x):
    return x.dtype.name in ("float16", "bfloat16")


def _bshape(ndim, axes, shape):
    return [shape[i] if i in axes else 1 for i in range(ndim)]


def _masked_moments(x, mask, axes):
    """Mean and biased variance over ``axes`` counting only the unmasked positions (the mask
    covers the leading axes of ``x`` and broadcasts over the rest)."""
    m = M.cast(mask, x.dtype)
    while m.shape.rank < x.shape.rank:
        m = A.expand_dims(m, -1)
    m = m * M.ones_like(x)
    count = R.reduce_sum(m, axis=axes, keepdims=True)
    mean = R.reduce_sum(x * m, axis=axes, keepdims=True) / count
    var = R.reduce_sum((x - mean) ** 2 * m, axis=axes, keepdims=True) / count
    return mean, var


class _ScaleShift(Layer):
    """What BatchNormalization, LayerNormalization and GroupNormalization share: the optional
    ``gamma`` (scale) and ``beta`` (center) weights, their initializers / regularizers /
    constraints and config entries, and ``(x - mean) * rsqrt(var + eps) * gamma + beta``."""

    def _init_scale_shift(self, beta_initializer, gamma_initializer, beta_regularizer,
                          gamma_regularizer, beta_constraint, gamma_constraint):
        self.beta_initializer = U.get("initializer", beta_initializer)
        self.gamma_initializer = U.get("initializer", gamma_initializer)
        self.beta_regularizer = U.get("regularizer", beta_regularizer)
        self.gamma_regularizer = U.get("regularizer", gamma_regularizer)
        self.beta_constraint = U.get("constraint", beta_constraint)
        self.gamma_constraint = U.get("constraint", gamma_constraint)
        self.supports_masking = True

    def _build_scale_shift(self, shape, with_gamma, with_beta):
        self.gamma = self.add_weight(name="gamma", shape=shape,
                                     initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if with_gamma else None
        self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if with_beta else None

    def _shift(self, y, bshape):
        return y + A.reshape(self.beta, bshape) if self.center else y

    def _normalize(self, inputs, mean, var, bshape):
        inv = M.rsqrt(var + self.epsilon)
        if self.scale:
            inv = inv * A.reshape(self.gamma, bshape)
        return self._shift((inputs - mean) * inv, bshape)

    def _scale_shift_config(self):
        return {
            "beta_initializer": U.serialize("initializer", self.beta_initializer),
            "gamma_initializer": U.serialize("initializer", self.gamma_initializer),
            "beta_regularizer": U.serialize("regularizer", self.beta_regularizer),
            "gamma_regularizer": U.serialize("regularizer", self.gamma_regularizer),
            "beta_constraint": U.serialize("constraint", self.beta_constraint),
            "gamma_constraint": U.serialize("constraint", self.gamma_constraint),
        }


class BatchNormalization(_ScaleShift):
    """Normalises each feature (``axis``) with batch statistics in training and moving
    statistics at inference.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> bn = keras.layers.BatchNormalization()
    >>> y = bn(np.array([[1.0], [3.0]]), training=True)
    >>> y.numpy().round(2), bn.moving_mean.numpy().round(3)
    (array([[-1.],
           [ 1.]], dtype=float32), array([0.02], dtype=float32))
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if renorm:
            # Batch renormalization (Ioffe 2017) is not implemented; Keras files save renorm=False.
            raise ValueError("BatchNormalization: renorm=True is not supported by tapeflow; "
                             "expected renorm=False.")
        self.renorm = False
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = synchronized
        self._init_scale_shift(beta_initializer, gamma_initializer, beta_regularizer,
                               gamma_regularizer, beta_constraint, gamma_constraint)
        self.moving_mean_initializer = U.get("initializer", moving_mean_initializer)
        self.moving_variance_initializer = U.get("initializer", moving_variance_initializer)

    def build(self, input_shape):
        ndim = len(input_shape)
        ax = _norm_axes(self.axis, ndim, "BatchNormalization")[0]
        dim = input_shape[ax]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension "
                             f"but the layer received an input with shape {input_shape}.")
        shape = (dim,)
        self._build_scale_shift(shape, self.scale, self.center)
        self.moving_mean = self.add_weight(name="moving_mean", shape=shape,
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=shape,
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: dim})

    def call(self, inputs, training=None, mask=None):
        if _half(inputs):  # as Keras: statistics in float32, output in the compute dtype
            return M.cast(self.call(M.cast(inputs, "float32"), training, mask), inputs.dtype)
        ndim = inputs.shape.rank
        ax = self.axis % ndim
        reduce_axes = [i for i in range(ndim) if i != ax]
        bshape = _bshape(ndim, [ax], inputs.shape.as_list())
        if training and self.trainable:
            if mask is None:
                mean, var = N.moments(inputs, axes=reduce_axes, keepdims=True)
            else:
                mean, var = _masked_moments(inputs, mask, reduce_axes)
            self._update_moving(mean, var)
        else:
            mean = A.reshape(self.moving_mean, bshape)
            var = A.reshape(self.moving_variance, bshape)
        return self._normalize(inputs, mean, var, bshape)

    def _update_moving(self, mean, var):
        m = self.momentum
        mm = mean.numpy().reshape(-1)
        vv = var.numpy().reshape(-1)
        mv = self.moving_mean._value
        vv_ = self.moving_variance._value
        self.moving_mean.assign(mv * m + mm.astype(mv.dtype) * (1 - m))
        self.moving_variance.assign(vv_ * m + vv.astype(vv_.dtype) * (1 - m))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = U.base_config(self)
        c.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": U.serialize("initializer", self.beta_initializer),
            "gamma_initializer": U.serialize("initializer", self.gamma_initializer),
            "moving_mean_initializer": U.serialize("initializer", self.moving_mean_initializer),
            "moving_variance_initializer": U.serialize("initializer",
                                                       self.moving_variance_initializer),
            "beta_regularizer": U.serialize("regularizer", self.beta_regularizer),
            "gamma_regularizer": U.serialize("regularizer", self.gamma_regularizer),
            "beta_constraint": U.serialize("constraint", self.beta_constraint),
            "gamma_constraint": U.serialize("constraint", self.gamma_constraint),
            "synchronized": self.synchronized, "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum,
        })
        return c


class LayerNormalization(_ScaleShift):
    """Normalises each sample over ``axis`` (default the last), then scales and shifts.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.LayerNormalization()(np.array([[1.0, 3.0]])).numpy().round(2)
    array([[-1.,  1.]], dtype=float32)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)  # keyword only, as Keras 3.15
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        if self.rms_scaling:
            import warnings  # noqa: PLC0415

            warnings.warn("You passed `rms_scaling=True`, which is deprecated. This argument "
                          "incorrectly scales the input by the variance, not the root mean "
                          "square. To correctly use RMS Normalization, please use "
                          "`keras.layers.RMSNormalization` instead.", stacklevel=2)
        self._init_scale_shift(beta_initializer, gamma_initializer, beta_regularizer,
                               gamma_regularizer, beta_constraint, gamma_constraint)

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = _norm_axes(self.axis, ndim, "LayerNormalization")
        shape = tuple(input_shape[i] for i in axes)
        # as Keras: the config's axis becomes a sorted list once built
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        # rms_scaling always has a gamma and never a beta (Keras 3)
        self._build_scale_shift(shape, self.scale or self.rms_scaling,
                                self.center and not self.rms_scaling)

    def call(self, inputs):
        if _half(inputs):  # as Keras: computed in float32, output in the compute dtype
            return M.cast(self.call(M.cast(inputs, "float32")), inputs.dtype)
        ndim = inputs.shape.rank
        axes = _norm_axes(self.axis, ndim, "LayerNormalization")
        bshape = _bshape(ndim, axes, inputs.shape.as_list())
        if self.rms_scaling:
            # Keras 3.15 (deprecated option): x / sqrt(variance + eps), not the root mean square
            _, var = N.moments(inputs, axes=axes, keepdims=True)
            y = inputs * M.rsqrt(var + self.epsilon)
            return y * A.reshape(self.gamma, bshape)
        mean, var = N.moments(inputs, axes=axes, keepdims=True)
        return self._normalize(inputs, mean, var, bshape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = U.base_config(self)
        c.update({
            "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
            "scale": self.scale, "rms_scaling": self.rms_scaling,
        })
        c.update(self._scale_shift_config())
        return c


class GroupNormalization(_ScaleShift):
    """Splits the channels (``axis``) into ``groups`` and normalises each group per sample.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GroupNormalization(groups=2)(np.ones((2, 3, 4))).shape
    TensorShape([2, 3, 4])
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self._init_scale_shift(beta_initializer, gamma_initializer, beta_regularizer,
                               gamma_regularizer, beta_constraint, gamma_constraint)

    def build(self, input_shape):
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined "
                             f"dimension but the layer received an input with shape "
                             f"{input_shape}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number "
                             f"of channels ({dim}).")
        if dim % self.groups:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the "
                             f"number of channels ({dim}).")
        self._build_scale_shift((dim,), self.scale, self.center)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})

    def call(self, inputs):
        if _half(inputs):  # as Keras: computed in float32, output in the compute dtype
            return M.cast(self.call(M.cast(inputs, "float32")), inputs.dtype)
        shape = inputs.shape.as_list()
        ndim = len(shape)
        ax = self.axis % ndim
        c = shape[ax]
        gshape = shape[:ax] + [self.groups, c // self.groups] + shape[ax + 1:]
        x = A.reshape(inputs, gshape)
        axes = [i for i in range(1, ndim + 1) if i != ax]
        mean, var = N.moments(x, axes=axes, keepdims=True)
        y = A.reshape((x - mean) * M.rsqrt(var + self.epsilon), shape)
        bshape = _bshape(ndim, [ax], shape)
        if self.scale:
            y = y * A.reshape(self.gamma, bshape)
        return self._shift(y, bshape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = U.base_config(self)
        c.update({
            "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
        })
        c.update(self._scale_shift_config())
        return c


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis`` (an int or a list of ints; default -1):
    ``x / max(||x||, 1e-12)``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.UnitNormalization()(np.array([[3.0, 4.0]])).numpy()
    array([[0.6, 0.8]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Invalid value for `axis` argument: expected an int or a "
                            f"list/tuple of ints. Received: axis={axis}")
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        axes = _norm_axes(self.axis, inputs.shape.rank, "UnitNormalization")
        sq = R.reduce_sum(inputs * inputs, axis=axes, keepdims=True)
        return inputs * M.rsqrt(M.maximum(sq, 1e-24))

    def compute_output_shape(self, input_shape):
        _norm_axes(self.axis, len(input_shape), "UnitNormalization")
        return tuple(input_shape)

    def get_config(self):
        c = U.base_config(self)
        c["axis"] = self.axis
        return c
