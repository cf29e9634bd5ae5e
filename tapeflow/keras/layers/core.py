"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Permute, RepeatVector, Identity,
Lambda, Rescaling, GaussianNoise, ActivityRegularization and Normalization."""

import base64
import marshal
import types

import tapeflow as tf
from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor, _wrap
from tapeflow.keras import _rng
from tapeflow.keras import backend as K
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Reshape", "Permute", "RepeatVector",
           "Identity", "Lambda", "Rescaling", "GaussianNoise", "ActivityRegularization",
           "Normalization"]


def _activations():
    from tapeflow.keras import activations  # noqa: PLC0415 - sibling module, loaded lazily

    return activations


def _serialize(module, obj):
    if obj is None:
        return None
    import importlib  # noqa: PLC0415

    return importlib.import_module(f"tapeflow.keras.{module}").serialize(obj)


def _get(module, identifier):
    if identifier is None:
        return None
    import importlib  # noqa: PLC0415

    return importlib.import_module(f"tapeflow.keras.{module}").get(identifier)


_FUSED_OPS = []


def _fused():
    # imported once, then cached: an import statement per Dense call costs ~0.5 us (issue 7)
    if not _FUSED_OPS:
        from tapeflow.ops import fused_ops  # noqa: PLC0415

        _FUSED_OPS.append(fused_ops)
    return _FUSED_OPS[0]


_FUSED_ACTIVATIONS = {}


def _fused_activation(fn):
    # "linear", "relu" or "tanh" when ``fn`` is that Keras activation, else None.
    if not _FUSED_ACTIVATIONS:
        acts = _activations()
        _FUSED_ACTIVATIONS.update({acts.linear: "linear", acts.relu: "relu", acts.tanh: "tanh"})
    return _FUSED_ACTIVATIONS.get(fn)


def _positive_int(value, arg, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Received an invalid value for `{arg}` of {layer}, expected a positive "
                         f"integer. Received: {arg}={value!r}")
    return int(value)


class Dense(Layer):
    """A densely connected layer: ``activation(inputs @ kernel + bias)`` on the last axis.

    Args:
      units: the output size (positive int).
      activation: activation name or function (default none: linear).
      use_bias: whether to add a bias vector.
      kernel_initializer, bias_initializer: default ``"glorot_uniform"`` / ``"zeros"``.
      kernel_regularizer, bias_regularizer, activity_regularizer: optional regularizers.
      kernel_constraint, bias_constraint: optional constraints.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> layer = keras.layers.Dense(3, activation="relu")
    >>> layer(tf.ones((2, 4))).shape
    TensorShape([2, 3])
    >>> [tuple(w.shape) for w in layer.weights]
    [(4, 3), (3,)]
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = _positive_int(units, "units", "Dense")
        self.activation = _activations().get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _get("initializers", kernel_initializer)
        self.bias_initializer = _get("initializers", bias_initializer)
        self.kernel_regularizer = _get("regularizers", kernel_regularizer)
        self.bias_regularizer = _get("regularizers", bias_regularizer)
        self.kernel_constraint = _get("constraints", kernel_constraint)
        self.bias_constraint = _get("constraints", bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True
        self._linear = self.activation is _activations().linear

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"The last dimension of the inputs to a Dense layer should be "
                             f"defined. Found None. Full input shape received: {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs, training=None):
        if type(inputs) is Tensor and inputs._value.dtype == self.kernel._value.dtype:
            # matmul + bias (+ relu/tanh) as one recorded op (tapeflow/ops/fused_ops.py); a
            # softmax/sigmoid is applied after it so the loss can find the logits.
            fused = _fused_activation(self.activation)
            y = _fused().fused_dense(inputs, self.kernel, self.bias, fused or "linear")
            return y if fused is not None else self.activation(y)
        kernel = self.kernel.value
        if inputs.ndim == 2:
            y = tf.matmul(inputs, kernel)
        else:
            lead = inputs.shape[:-1].as_list()
            y = tf.reshape(tf.matmul(tf.reshape(inputs, (-1, inputs.shape[-1])), kernel),
                           lead + [self.units])
        if self.bias is not None:
            y = y + self.bias.value
        return y if self._linear else self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": _serialize("activations", self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _serialize("initializers", self.kernel_initializer),
            "bias_initializer": _serialize("initializers", self.bias_initializer),
            "kernel_regularizer": _serialize("regularizers", self.kernel_regularizer),
            "bias_regularizer": _serialize("regularizers", self.bias_regularizer),
            "kernel_constraint": _serialize("constraints", self.kernel_constraint),
            "bias_constraint": _serialize("constraints", self.bias_constraint),
            "quantization_config": None,
        })
        return config


class Activation(Layer):
    """Applies an activation function to its input.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Activation("relu")(tf.constant([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.activation = _activations().get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["activation"] = _serialize("activations", self.activation)
        return config


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to 0 during training and scales the rest by
    ``1 / (1 - rate)``; the identity at inference.

    Args:
      rate: the fraction to drop, in [0, 1].
      noise_shape: optional shape of the binary mask (broadcast over the inputs; None entries
        take the input's size).
      seed: optional int seed.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Dropout(0.5)(tf.ones((1, 4)), training=False).numpy()
    array([[1., 1., 1., 1.]], dtype=float32)
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._gen = _rng.make_generator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape.as_list()
        if self.noise_shape is not None:
            shape = [s if n is None else n for s, n in zip(shape, self.noise_shape)]
        keep = self._gen.random(shape) >= self.rate
        scale = keep.astype(inputs.dtype.as_numpy_dtype) * np.asarray(
            1.0 / (1.0 - self.rate), dtype=inputs.dtype.as_numpy_dtype) if self.rate < 1 else \
            np.zeros(shape, dtype=inputs.dtype.as_numpy_dtype)
        return inputs * _wrap(scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed,
                       "noise_shape": None if self.noise_shape is None else
                       list(self.noise_shape)})
        return config


class Flatten(Layer):
    """Flattens every axis but the batch axis.

    Args:
      data_format: ``"channels_last"`` (default) or ``"channels_first"`` (channels are moved
        last before flattening, so the order matches channels_last weights).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Flatten()(tf.ones((2, 3, 4))).shape
    TensorShape([2, 12])
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            perm = [0] + list(range(2, inputs.ndim)) + [1]
            inputs = tf.transpose(inputs, perm)
        return tf.reshape(inputs, (-1 if inputs.shape[0] is None else inputs.shape[0], -1)) \
            if inputs.ndim != 1 else tf.reshape(inputs, (-1, 1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        n = None if any(d is None for d in rest) else int(np.prod(rest)) if rest else 1
        return (input_shape[0], n)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


def _data_format(value):
    value = K.image_data_format() if value is None else str(value).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(f"The `data_format` argument must be one of 'channels_first', "
                         f"'channels_last'. Received: data_format={value!r}")
    return value


class Reshape(Layer):
    """Reshapes the inputs to ``(batch,) + target_shape`` (one entry may be -1).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Reshape((3, 4))(tf.ones((2, 12))).shape
    TensorShape([2, 3, 4])
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        if sum(1 for d in target_shape if d == -1) > 1:
            raise ValueError(f"There must be at most one unknown dimension (-1) in "
                             f"`target_shape`. Received: target_shape={target_shape}")
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs):
        return tf.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        shape = list(self.target_shape)
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            rest = input_shape[1:]
            shape[shape.index(-1)] = None if any(d is None for d in rest) else \
                int(np.prod(rest)) // known
        return (input_shape[0],) + tuple(shape)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class Permute(Layer):
    """Permutes the non-batch axes; ``dims`` are 1-based (``(2, 1)`` swaps the two axes).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Permute((2, 1))(tf.ones((2, 3, 4))).shape
    TensorShape([2, 4, 3])
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set "
                             f"of indices in `dims` must be consecutive and start from 1. "
                             f"Received dims={self.dims}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return tf.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = list(self.dims)
        return config


class RepeatVector(Layer):
    """Repeats a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.RepeatVector(3)(tf.ones((2, 4))).shape
    TensorShape([2, 3, 4])
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int(n, "n", "RepeatVector")
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return tf.tile(tf.expand_dims(inputs, 1), (1, self.n, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


class Identity(Layer):
    """Returns its input unchanged (masks pass through).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Identity()(tf.constant([1.0])).numpy()
    array([1.], dtype=float32)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Lambda(Layer):
    """Wraps an arbitrary function of the inputs as a layer.

    Args:
      function: called as ``function(inputs, **arguments)``.
      output_shape: optional output shape (or a function of the input shape).
      mask: optional output mask, or a function ``(inputs, mask) -> mask``.
      arguments: optional keyword arguments for ``function``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Lambda(lambda x: x * 2.0)(tf.constant([1.0])).numpy()
    array([2.], dtype=float32)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable. Received: {function!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self.mask = mask
        self.supports_masking = mask is not None

    def call(self, inputs, mask=None, training=None):
        return self.function(inputs, **self.arguments)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            raise NotImplementedError("Lambda: pass `output_shape` to infer shapes.")
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (input_shape[0],) + tuple(self._output_shape)

    def get_config(self):
        config = super().get_config()
        config["function"] = _serialize_function(self.function)
        config["arguments"] = self.arguments
        if self._output_shape is not None:
            config["output_shape"] = (_serialize_function(self._output_shape)
                                      if callable(self._output_shape)
                                      else list(self._output_shape))
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """Rebuilds the layer; a Python lambda (bytecode) is refused in safe mode.

        Safe mode is on unless ``safe_mode=False`` is passed, a ``SafeModeScope(False)`` is
        active or ``keras.config.enable_unsafe_deserialization()`` was called (as in Keras).

        >>> from tapeflow import keras
        >>> config = keras.layers.Lambda(lambda x: x + 1.0).get_config()
        >>> keras.layers.Lambda.from_config(config)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Requested the deserialization of a `Lambda` layer whose `function` is ...
        >>> keras.layers.Lambda.from_config(config, safe_mode=False).function(1.0)
        2.0
        """
        from tapeflow.keras.saving import serialization_lib  # noqa: PLC0415

        if safe_mode is None:
            safe_mode = serialization_lib.in_safe_mode()
        config = dict(config)
        for key in ("function", "output_shape", "mask"):
            value = config.get(key)
            if not isinstance(value, dict):
                continue
            if value.get("class_name") == "__lambda__" and safe_mode:
                raise ValueError(
                    f"Requested the deserialization of a `Lambda` layer whose `{key}` is a "
                    "Python lambda. This carries a potential risk of arbitrary code execution "
                    "and thus it is disallowed by default. If you trust the source of the "
                    "artifact, you can override this error by passing `safe_mode=False` to the "
                    "loading function, or calling "
                    "`keras.config.enable_unsafe_deserialization()`.")
            config[key] = _deserialize_function(value, custom_objects, safe_mode)
        return cls(**config)


def _serialize_function(fn):
    if getattr(fn, "__name__", "<lambda>") != "<lambda>":   # a named function: by name
        return {"module": fn.__module__, "class_name": "function", "config": fn.__name__,
                "registered_name": fn.__name__}
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    closure = None if fn.__closure__ is None else [c.cell_contents for c in fn.__closure__]
    return {"class_name": "__lambda__", "config": {"code": code, "defaults": fn.__defaults__,
                                                  "closure": closure}}


def _deserialize_function(config, custom_objects=None, safe_mode=True):
    if callable(config):
        return config
    if config.get("class_name") == "__lambda__":
        inner = config["config"]
        code = marshal.loads(base64.b64decode(inner["code"]))
        closure = inner.get("closure")
        cells = None if closure is None else tuple(types.CellType(c) for c in closure)
        defaults = inner.get("defaults")
        return types.FunctionType(code, {"tf": tf, "np": np}, code.co_name,
                                  None if defaults is None else tuple(defaults), cells)
    name = config["config"]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    import importlib  # noqa: PLC0415

    from tapeflow.keras import activations  # noqa: PLC0415
    from tapeflow.keras.saving import serialization_lib  # noqa: PLC0415

    found = serialization_lib.get_registered_object(name, custom_objects)
    if found is not None:
        return found
    module = config.get("module") or "builtins"
    trusted = module.split(".")[0] in ("tapeflow", "keras", "builtins", "tensorflow")
    if safe_mode and not trusted:
        raise ValueError(f"Lambda: refusing to import the function {name!r} from module "
                         f"{module!r} in safe mode (it is not a tapeflow/Keras function). Pass "
                         "it in `custom_objects`, or `safe_mode=False` if you trust the source.")
    if trusted and module != "builtins":
        module = module.replace("tensorflow", "tapeflow", 1).replace("keras", "tapeflow.keras", 1) \
            if not module.startswith("tapeflow") else module
    try:   # never Python's builtins (eval, exec, open): those names go to activations
        if module != "builtins" and (trusted or not safe_mode):
            return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pass
    try:   # Keras writes module "builtins" for functions such as tf.nn.relu
        return activations.get(name)
    except ValueError:
        raise ValueError(f"Lambda: could not find the function {name!r} (module "
                         f"{config.get('module')!r}). Pass it in `custom_objects`.") from None


class Rescaling(Layer):
    """Computes ``inputs * scale + offset`` (e.g. ``scale=1/255`` for pixel values).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Rescaling(0.5, offset=1.0)(tf.constant([2.0])).numpy()
    array([2.], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        dtype = self.compute_dtype
        if inputs.dtype.name != dtype:
            inputs = tf.cast(inputs, dtype)
        scale = np.asarray(self.scale, dtype=dtype)
        offset = np.asarray(self.offset, dtype=dtype)
        return inputs * _wrap(scale) + _wrap(offset)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"scale": _plain(self.scale), "offset": _plain(self.offset)})
        return config


def _plain(v):
    return v.tolist() if hasattr(v, "tolist") else v


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` during training.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.GaussianNoise(0.1)(tf.ones((1, 2))).numpy()
    array([[1., 1.]], dtype=float32)
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= stddev:
            raise ValueError(f"Invalid value received for argument `stddev`. Expected a float "
                             f"value >= 0. Received: stddev={stddev!r}")
        self.stddev = float(stddev)
        self.seed = seed
        self._gen = _rng.make_generator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        noise = self._gen.normal(0.0, self.stddev, inputs.shape.as_list())
        return inputs + _wrap(noise.astype(inputs.dtype.as_numpy_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config


class ActivityRegularization(Layer):
    """Identity layer that adds ``l1 * sum|x| + l2 * sum x^2`` (per sample) to ``losses``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> layer = keras.layers.ActivityRegularization(l1=0.1)
    >>> _ = layer(tf.constant([[1.0, -2.0]]))
    >>> round(float(layer.losses[0]), 4)
    0.3
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        from tapeflow.keras import regularizers  # noqa: PLC0415

        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.supports_masking = True
        self.l1 = l1
        self.l2 = l2

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1, "l2": self.l2})
        return config


class Normalization(Layer):
    """Standardizes features: ``(x - mean) / sqrt(variance)``, with statistics given or learned
    by ``adapt(data)``.

    Args:
      axis: the axis (or axes) that keep separate statistics (default -1: one mean and
        variance per feature); None means one statistic over everything.
      mean, variance: optional fixed statistics (then ``adapt`` is not needed).
      invert: apply the inverse transform ``x * sqrt(variance) + mean``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> layer = keras.layers.Normalization()
    >>> layer.adapt(np.array([[0.0], [2.0]]))
    >>> layer(np.array([[2.0]])).numpy()
    array([[1.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        self.axis = tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"When setting values directly, both `mean` and `variance` must "
                             f"be set. Received: mean={mean} and variance={variance}")
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True

    def build(self, input_shape):
        ndim = len(input_shape)
        self._keep = tuple(a % ndim for a in self.axis)
        if any(input_shape[a] is None for a in self._keep):
            raise ValueError(f"All `axis` values to be kept must have a known shape. "
                             f"Received axis={self.axis}, inputs.shape={input_shape}")
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep else 1
                                      for d in range(ndim))
        stat_shape = tuple(input_shape[d] for d in self._keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stat_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stat_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64",
                                         initializer="zeros", trainable=False)
        self.built = True

    @property
    def mean(self):
        return self._stat("mean")

    @property
    def variance(self):
        return self._stat("variance")

    def _stat(self, which):
        if self.input_mean is not None:
            value = self.input_mean if which == "mean" else self.input_variance
            arr = np.asarray(value, dtype=self.compute_dtype)
            if self.built and arr.size > 1:
                arr = arr.reshape(self._broadcast_shape)
            elif self.built:
                arr = np.broadcast_to(arr, self._broadcast_shape)
            return _wrap(np.array(arr))
        if not self.built:
            return None
        v = self.adapt_mean if which == "mean" else self.adapt_variance
        return _wrap(v.numpy().reshape(self._broadcast_shape))

    def adapt(self, data, batch_size=None, steps=None):
        """Computes the mean and population variance of ``data`` over every axis but ``axis``.

        ``data`` is an array, a Tensor or an iterable of batches (a ``tf.data.Dataset``).
        """
        arr = _collect_adapt_data(data, steps)
        if not self.built:
            self.build(tuple(arr.shape))
            self.__dict__["_build_shapes"] = {"input_shape": tuple(arr.shape)}
        if self.input_mean is not None:
            return
        reduce_axes = tuple(d for d in range(arr.ndim) if d not in self._keep)
        x = arr.astype(np.float64)
        mean = x.mean(axis=reduce_axes)
        var = x.var(axis=reduce_axes)
        self.adapt_mean.assign(mean.reshape(self.adapt_mean.shape.as_list()))
        self.adapt_variance.assign(var.reshape(self.adapt_variance.shape.as_list()))
        self.count.assign(np.asarray(int(np.prod([arr.shape[d] for d in reduce_axes])),
                                     dtype=np.int64))

    def call(self, inputs):
        dtype = self.compute_dtype
        if inputs.dtype.name != dtype:
            inputs = tf.cast(inputs, dtype)
        mean, var = self.mean, self.variance
        std = _wrap(np.maximum(np.sqrt(var._value), np.asarray(K.epsilon(), dtype=dtype)))
        if self.invert:
            return inputs * std + mean
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"axis": list(self.axis), "invert": self.invert,
                       "mean": _plain(np.asarray(self.input_mean))
                       if self.input_mean is not None else None,
                       "variance": _plain(np.asarray(self.input_variance))
                       if self.input_variance is not None else None})
        return config

    def load_own_variables(self, store):
        super().load_own_variables(store)


def _collect_adapt_data(data, steps):
    if isinstance(data, (np.ndarray, np.generic, list, tuple, int, float)):
        return np.asarray(data)
    if isinstance(data, Tensor) or hasattr(data, "numpy") and not hasattr(data, "__iter__"):
        return np.asarray(data)
    if hasattr(data, "_value"):
        return np.asarray(data._value)
    batches = []
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            break
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        batches.append(np.asarray(batch))
    if not batches:
        raise ValueError("Normalization.adapt: `data` yielded no batches.")
    return np.concatenate(batches, axis=0)
