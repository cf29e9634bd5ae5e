"""``keras.initializers``: how layers fill their weights, under Keras 3's names and configs.

An initializer is called as ``init(shape, dtype=None)`` and returns a Tensor (dtype float32 by
default). With ``seed=<int>`` every call draws the same values; without one, values come from the
global generator that ``keras.utils.set_random_seed`` / ``tapeflow.random.set_seed`` seed.

>>> from tapeflow import keras
>>> init = keras.initializers.get("glorot_uniform")
>>> w = init((4, 3))
>>> w.shape, bool(abs(w.numpy()).max() <= (6 / 7) ** 0.5)
(TensorShape([4, 3]), True)
"""

import math

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.tensor import Tensor
from tapeflow.keras import _rng
from tapeflow.keras._objects import deserialize_object, get_object, serialize_object, to_snake_case

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
    "LecunUniform", "LecunNormal", "Orthogonal", "Identity", "get", "serialize", "deserialize",
]

# std of a standard normal truncated to [-2, 2], used to keep the requested std after truncation
_TRUNC_STD = 0.87962566103423978


def _dtype(dtype):
    d = _dt.as_dtype("float32" if dtype is None else dtype)
    if not (d.is_floating or d.is_integer):
        raise ValueError(f"Initializer: expected a numeric dtype, received dtype={d.name}.")
    return d.as_numpy_dtype


def _shape(shape):
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise ValueError(f"Initializer: shape must be a tuple of ints, received "
                         f"shape={shape!r}.") from None


def _seed_arg(seed, cls):
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{cls}: seed must be an int or None, received seed={seed!r}.")
    return None if seed is None else int(seed)


def _out(arr, dtype):
    return Tensor(np.asarray(arr, dtype=dtype))


def compute_fans(shape):
    """``(fan_in, fan_out)`` as Keras computes them (conv kernels: ``(..., in, out)``).

    >>> from tapeflow.keras.initializers import compute_fans
    >>> compute_fans((3, 3, 8, 16))
    (72, 144)
    """
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(gen, shape, mean, stddev):
    # Redraw the values beyond two standard deviations (TensorFlow's truncated_normal).
    z = gen.standard_normal(shape)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return z * stddev + mean


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config``.

    >>> from tapeflow import keras
    >>> class Twos(keras.initializers.Initializer):
    ...     def __call__(self, shape, dtype=None):
    ...         return keras.initializers.Constant(2.0)(shape, dtype)
    >>> Twos()((2,)).numpy()
    array([2., 2.], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype).")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros.

    >>> from tapeflow import keras
    >>> keras.initializers.Zeros()((2,)).numpy()
    array([0., 0.], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        return _out(np.zeros(_shape(shape)), _dtype(dtype))


class Ones(Initializer):
    """All ones.

    >>> from tapeflow import keras
    >>> keras.initializers.Ones()((2,)).numpy()
    array([1., 1.], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        return _out(np.ones(_shape(shape)), _dtype(dtype))


class Constant(Initializer):
    """Every value equal to ``value`` (a scalar, or an array broadcastable to the shape).

    >>> from tapeflow import keras
    >>> keras.initializers.Constant(0.25)((2,)).numpy()
    array([0.25, 0.25], dtype=float32)
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        v = np.asarray(self.value._value if hasattr(self.value, "_value") else self.value)
        shape = _shape(shape)
        try:
            arr = np.broadcast_to(v, shape)
        except ValueError:
            raise ValueError(f"Constant: value of shape {v.shape} cannot fill a weight of shape "
                             f"{shape}.") from None
        return _out(arr, _dtype(dtype))

    def get_config(self):
        v = self.value
        if hasattr(v, "numpy"):
            v = v.numpy()
        return {"value": v.tolist() if hasattr(v, "tolist") else v}


class _MeanStddev(Initializer):
    # RandomNormal and TruncatedNormal: the same arguments, checks and config.
    _kind = "Initializer"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        if stddev < 0:
            raise ValueError(f"{self._kind}: stddev must be non-negative, received "
                             f"stddev={stddev}.")
        self.mean, self.stddev, self.seed = mean, stddev, _seed_arg(seed, self._kind)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomNormal(_MeanStddev):
    """Normal draws with ``mean`` and ``stddev``.

    >>> from tapeflow import keras
    >>> keras.initializers.RandomNormal(seed=1)((100,)).shape
    TensorShape([100])
    """

    _kind = "RandomNormal"

    def __call__(self, shape, dtype=None):
        gen = _rng.make_generator(self.seed)
        return _out(gen.normal(self.mean, self.stddev, _shape(shape)), _dtype(dtype))


class RandomUniform(Initializer):
    """Uniform draws in ``[minval, maxval)``.

    >>> from tapeflow import keras
    >>> w = keras.initializers.RandomUniform(0.0, 1.0, seed=1)((100,)).numpy()
    >>> bool(w.min() >= 0.0 and w.max() < 1.0)
    True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        if maxval < minval:
            raise ValueError(f"RandomUniform: maxval must be >= minval, received minval={minval}, "
                             f"maxval={maxval}.")
        self.minval, self.maxval, self.seed = minval, maxval, _seed_arg(seed, "RandomUniform")

    def __call__(self, shape, dtype=None):
        gen = _rng.make_generator(self.seed)
        shape = _shape(shape)
        d = _dtype(dtype)
        if np.dtype(d).kind in "iu":
            return _out(gen.integers(self.minval, self.maxval, shape), d)
        return _out(gen.uniform(self.minval, self.maxval, shape), d)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(_MeanStddev):
    """Normal draws with ``mean`` and ``stddev``, redrawn beyond 2 stddev of the mean.

    >>> from tapeflow import keras
    >>> w = keras.initializers.TruncatedNormal(stddev=1.0, seed=1)((1000,)).numpy()
    >>> bool(abs(w).max() <= 2.0)
    True
    """

    _kind = "TruncatedNormal"

    def __call__(self, shape, dtype=None):
        gen = _rng.make_generator(self.seed)
        return _out(_truncated_normal(gen, _shape(shape), self.mean, self.stddev), _dtype(dtype))


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n``, n = fan_in, fan_out or their average (``mode``).

    ``distribution`` is ``"truncated_normal"`` (std corrected for the truncation),
    ``"untruncated_normal"`` or ``"uniform"`` (in ``[-sqrt(3 scale / n), sqrt(3 scale / n)]``).

    >>> from tapeflow import keras
    >>> init = keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", seed=0)
    >>> init((64, 32)).shape
    TensorShape([64, 32])
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        # input_axes/output_axes (Keras 3.15) would pick the fan axes; only None is supported.
        name = type(self).__name__
        if not isinstance(scale, (int, float)) or scale <= 0.0:
            raise ValueError(f"{name}: Argument `scale` must be positive float. Received: "
                             f"scale={scale}")
        if mode not in self._MODES:
            raise ValueError(f"{name}: Invalid value for argument `mode`. Expected one of "
                             f"{set(self._MODES)}. Received: mode={mode}")
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"{name}: Invalid value for argument `distribution`. Expected one of "
                             f"{set(self._DISTRIBUTIONS)}. Received: distribution={distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.seed = _seed_arg(seed, name)
        if input_axes is not None or output_axes is not None:
            raise NotImplementedError(f"{name}: input_axes/output_axes are not supported; "
                                      f"received input_axes={input_axes}, "
                                      f"output_axes={output_axes}.")
        self.input_axes = self.output_axes = None

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        gen = _rng.make_generator(self.seed)
        if self.distribution == "truncated_normal":
            arr = _truncated_normal(gen, shape, 0.0, math.sqrt(scale) / _TRUNC_STD)
        elif self.distribution == "untruncated_normal":
            arr = gen.normal(0.0, math.sqrt(scale), shape)
        else:
            limit = math.sqrt(3.0 * scale)
            arr = gen.uniform(-limit, limit, shape)
        return _out(arr, _dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, "input_axes": None, "output_axes": None}


class _Preset(VarianceScaling):
    # Glorot/He/Lecun: VarianceScaling with fixed arguments and a config of just the seed.
    _ARGS = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(*self._ARGS, seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": None, "output_axes": None}


class GlorotUniform(_Preset):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    >>> from tapeflow import keras
    >>> w = keras.initializers.GlorotUniform(seed=0)((256, 128)).numpy()
    >>> bool(abs(w).max() <= 0.125)
    True
    """

    _ARGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(2 / (fan_in + fan_out))``.

    >>> from tapeflow import keras
    >>> keras.initializers.GlorotNormal(seed=0)((3, 2)).shape
    TensorShape([3, 2])
    """

    _ARGS = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``.

    >>> from tapeflow import keras
    >>> keras.initializers.HeUniform(seed=0)((3, 2)).shape
    TensorShape([3, 2])
    """

    _ARGS = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(2 / fan_in)``.

    >>> from tapeflow import keras
    >>> keras.initializers.HeNormal(seed=0)((3, 2)).shape
    TensorShape([3, 2])
    """

    _ARGS = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``.

    >>> from tapeflow import keras
    >>> keras.initializers.LecunUniform(seed=0)((3, 2)).shape
    TensorShape([3, 2])
    """

    _ARGS = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(1 / fan_in)``.

    >>> from tapeflow import keras
    >>> keras.initializers.LecunNormal(seed=0)((3, 2)).shape
    TensorShape([3, 2])
    """

    _ARGS = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (shape flattened to ``(prod(shape[:-1]), n)``).

    >>> from tapeflow import keras
    >>> q = keras.initializers.Orthogonal(seed=0)((3, 3)).numpy()
    >>> bool(abs(q @ q.T - q.T @ q).max() < 1e-5)
    True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, _seed_arg(seed, "Orthogonal")

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the initializer can only be used for shapes of rank "
                             f"2 or more. Received: shape={shape} of rank {len(shape)}.")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = _rng.make_generator(self.seed).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _out(self.gain * q.reshape(shape), _dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only).

    >>> from tapeflow import keras
    >>> keras.initializers.Identity()((2, 2)).numpy()
    array([[1., 0.],
           [0., 1.]], dtype=float32)
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return _out(self.gain * np.eye(*shape), _dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


_CLASSES = [Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
            GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
            Orthogonal, Identity]
ALL_OBJECTS_DICT = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(c.__name__): c for c in _CLASSES})
ALL_OBJECTS_DICT.update({"IdentityInitializer": Identity, "normal": RandomNormal, "one": Ones,
                         "uniform": RandomUniform, "zero": Zeros})
# Keras also exports lower-case aliases of the classes (keras.initializers.glorot_uniform, ...).
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, identity = VarianceScaling, Orthogonal, Identity
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, \
    HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal


def serialize(initializer):
    """Keras's dict for ``initializer``: module, class_name, config, registered_name.

    >>> from tapeflow import keras
    >>> keras.initializers.serialize(keras.initializers.Zeros())["class_name"]
    'Zeros'
    """
    return serialize_object(initializer, "keras.initializers")


def deserialize(config, custom_objects=None):
    """Builds an initializer from :func:`serialize`'s dict (or a name).

    >>> from tapeflow import keras
    >>> keras.initializers.deserialize({"class_name": "Constant", "config": {"value": 2.0}})
    Constant(value=2.0)
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "initializer", custom_objects)


def get(identifier):
    """An initializer from a name (``"he_normal"``), a config dict, a class, an instance/callable.

    >>> from tapeflow import keras
    >>> keras.initializers.get("zeros")
    Zeros()
    """
    return get_object(identifier, ALL_OBJECTS_DICT, "initializer", Initializer)

