"""Random tensors with TensorFlow's seeding rules (``tf.random``).

``tf.random.set_seed(g)`` fixes the global seed. An op then draws from a stream fixed by the pair
(global seed, op seed): an explicit ``seed=`` names the stream (successive calls with the same op
seed continue it), and without one the op seed is a counter of the random ops run since
``set_seed``. So the same global seed and the same sequence of ops give the same numbers, as
TensorFlow promises. With neither seed the numbers are not reproducible.
"""

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.tensor import Tensor, _TensorLike
from tapeflow.ops._helpers import shape_arg, to_tensor

_DEFAULT_GLOBAL_SEED = 87654321


class _State:
    global_seed = None
    counter = 0
    streams = {}
    fresh = None


def set_seed(seed):
    """Sets the global random seed; the random ops that follow become reproducible.

    >>> import tapeflow as tf
    >>> tf.random.set_seed(1); a = tf.random.uniform([2])
    >>> tf.random.set_seed(1); b = tf.random.uniform([2])
    >>> bool(tf.reduce_all(a == b))
    True
    """
    _State.global_seed = None if seed is None else int(seed)
    _State.counter = 0
    _State.streams = {}


def get_global_seed():
    """The global seed set by ``set_seed`` (None if unset)."""
    return _State.global_seed


def _rng(seed=None):
    """The NumPy Generator an op with op seed ``seed`` draws from (see the module docstring)."""
    g = _State.global_seed
    if g is None and seed is None:
        if _State.fresh is None:
            _State.fresh = np.random.default_rng()
        return _State.fresh
    if g is None:
        g = _DEFAULT_GLOBAL_SEED
    if seed is None:
        _State.counter += 1
        return np.random.default_rng([g & 0xFFFFFFFF, 1, _State.counter])
    key = (g, int(seed))
    gen = _State.streams.get(key)
    if gen is None:
        gen = _State.streams[key] = np.random.default_rng([g & 0xFFFFFFFF, 0,
                                                            int(seed) & 0xFFFFFFFF])
    return gen


def _float_dtype(dtype, name):
    dt = _dt.as_dtype(dtype)
    if not dt.is_floating:
        raise ValueError(f"{name}: dtype must be a floating point type, got {dt.name}.")
    return dt


def _affine(z, scale, shift, dt):
    # mean/stddev may be tensors (gradients then flow to them); Python numbers stay in NumPy.
    if isinstance(scale, _TensorLike) or isinstance(shift, _TensorLike):
        return Tensor(z) * to_tensor(scale, dtype=dt) + to_tensor(shift, dtype=dt)
    return Tensor((z * np.asarray(scale, dt._np) + np.asarray(shift, dt._np)).astype(dt._np))


def normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    """Samples from a normal distribution (``tf.random.normal``).

    >>> import tapeflow as tf
    >>> tf.random.normal([2, 3], seed=1).shape
    TensorShape([2, 3])
    """
    dt = _float_dtype(dtype, "random.normal")
    z = _rng(seed).standard_normal(shape_arg(shape)).astype(dt._np)
    return _affine(z, stddev, mean, dt)


def _truncated(gen, shape):
    z = gen.standard_normal(shape)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return z


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    """Samples from a normal distribution with values beyond 2 stddevs redrawn.

    >>> import tapeflow as tf
    >>> bool(tf.reduce_all(tf.abs(tf.random.truncated_normal([100], seed=3)) <= 2.0))
    True
    """
    dt = _float_dtype(dtype, "random.truncated_normal")
    z = _truncated(_rng(seed), shape_arg(shape)).astype(dt._np)
    return _affine(z, stddev, mean, dt)


def _uniform(gen, shape, minval, maxval, dtype, name):
    dt = _dt.as_dtype(dtype)
    if dt.is_integer:
        if maxval is None:
            raise ValueError(f"{name}: Must specify maxval for integer dtype {dt.name}.")
        lo, hi = int(minval), int(maxval)
        if lo >= hi:
            raise InvalidArgumentError(f"{name}: Need minval < maxval: {lo} >= {hi}.")
        return Tensor(gen.integers(lo, hi, size=shape).astype(dt._np))
    if not dt.is_floating:
        raise ValueError(f"{name}: dtype must be a float or integer type, got {dt.name}.")
    maxval = 1.0 if maxval is None else maxval
    u = gen.random(shape).astype(dt._np)
    if isinstance(minval, _TensorLike) or isinstance(maxval, _TensorLike):
        lo = to_tensor(minval, dtype=dt)
        return Tensor(u) * (to_tensor(maxval, dtype=dt) - lo) + lo
    lo = np.asarray(minval, dt._np)
    return Tensor((u * (np.asarray(maxval, dt._np) - lo) + lo).astype(dt._np))


def uniform(shape, minval=0, maxval=None, dtype=_dt.float32, seed=None, name=None):
    """Samples uniformly from [minval, maxval) (maxval defaults to 1 for floats and must be given
    for integer dtypes).

    Raises:
      ValueError: for an integer dtype without ``maxval``.

    >>> import tapeflow as tf
    >>> x = tf.random.uniform([4], minval=0, maxval=10, dtype=tf.int32, seed=2)
    >>> x.dtype, bool(tf.reduce_all((x >= 0) & (x < 10)))
    (tf.int32, True)
    """
    return _uniform(_rng(seed), shape_arg(shape), minval, maxval, dtype, "random.uniform")


def shuffle(value, seed=None, name=None):
    """Randomly permutes ``value`` along its first dimension.

    >>> import tapeflow as tf
    >>> sorted(tf.random.shuffle(tf.range(4), seed=5).numpy().tolist())
    [0, 1, 2, 3]
    """
    t = to_tensor(value)
    if t._value.ndim == 0:
        raise InvalidArgumentError("random.shuffle: value must be at least rank 1, got a scalar.")
    perm = _rng(seed).permutation(t._value.shape[0])
    return Tensor(t._value[perm])


def _categorical(gen, logits, num_samples, dtype, name):
    lg = to_tensor(logits)
    if lg._value.ndim != 2:
        raise InvalidArgumentError(f"{name}: logits must be 2-D [batch_size, num_classes], got "
                                   f"shape {tuple(lg._value.shape)}.")
    x = lg._value.astype(np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    u = gen.random((x.shape[0], int(num_samples)))
    out = np.minimum((u[:, :, None] >= cdf[:, None, :]).sum(-1), x.shape[1] - 1)
    dt = _dt.int64 if dtype is None else _dt.as_dtype(dtype)
    return Tensor(out.astype(dt._np))


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """Draws ``num_samples`` class indices per row of unnormalised log-probabilities ``logits``.

    >>> import tapeflow as tf
    >>> tf.random.categorical(tf.math.log([[0.0, 1.0]]), 3, seed=1).numpy()
    array([[1, 1, 1]])
    """
    return _categorical(_rng(seed), logits, num_samples, dtype, "random.categorical")


# ---------------------------------------------------------------- stateless ops
def _stateless_rng(seed, name):
    s = np.asarray(seed._value if isinstance(seed, _TensorLike) else seed).reshape(-1)
    if s.shape != (2,):
        raise InvalidArgumentError(f"{name}: seed must be a shape [2] integer tensor, got "
                                   f"{seed!r}.")
    return np.random.default_rng([int(s[0]) & 0xFFFFFFFFFFFFFFFF, int(s[1]) & 0xFFFFFFFFFFFFFFFF])


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None, alg=None):
    """Normal samples that depend only on ``seed`` (a pair of ints).

    >>> import tapeflow as tf
    >>> a = tf.random.stateless_normal([3], seed=[1, 2])
    >>> bool(tf.reduce_all(a == tf.random.stateless_normal([3], seed=[1, 2])))
    True
    """
    dt = _float_dtype(dtype, "random.stateless_normal")
    z = _stateless_rng(seed, "stateless_normal").standard_normal(shape_arg(shape))
    return _affine(z.astype(dt._np), stddev, mean, dt)


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None,
                               alg=None):
    """Truncated normal samples that depend only on ``seed``.

    >>> import tapeflow as tf
    >>> tf.random.stateless_truncated_normal([2], seed=[0, 1]).shape
    TensorShape([2])
    """
    dt = _float_dtype(dtype, "random.stateless_truncated_normal")
    z = _truncated(_stateless_rng(seed, "stateless_truncated_normal"), shape_arg(shape))
    return _affine(z.astype(dt._np), stddev, mean, dt)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=_dt.float32, name=None,
                      alg=None):
    """Uniform samples that depend only on ``seed``.

    >>> import tapeflow as tf
    >>> tf.random.stateless_uniform([2], seed=[3, 4]).dtype
    tf.float32
    """
    return _uniform(_stateless_rng(seed, "stateless_uniform"), shape_arg(shape), minval, maxval,
                    dtype, "random.stateless_uniform")


def stateless_categorical(logits, num_samples, seed, dtype=None, name=None):
    """Categorical samples that depend only on ``seed``.

    >>> import tapeflow as tf
    >>> tf.random.stateless_categorical([[0.0, 0.0]], 4, seed=[1, 1]).shape
    TensorShape([1, 4])
    """
    return _categorical(_stateless_rng(seed, "stateless_categorical"), logits, num_samples,
                        dtype, "random.stateless_categorical")


class Generator:
    """A random number generator with its own state (``tf.random.Generator``).

    >>> import tapeflow as tf
    >>> g1, g2 = tf.random.Generator.from_seed(7), tf.random.Generator.from_seed(7)
    >>> bool(tf.reduce_all(g1.normal([3]) == g2.normal([3])))
    True
    """

    def __init__(self, copy_from=None, state=None, alg=None):
        if copy_from is not None:
            self._gen = np.random.default_rng()
            self._gen.bit_generator.state = copy_from._gen.bit_generator.state
        else:
            self._gen = np.random.default_rng(state)

    @classmethod
    def from_seed(cls, seed, alg=None):
        """A generator whose stream is fixed by ``seed``."""
        return cls(state=int(seed))

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        """A generator seeded from the operating system's entropy."""
        return cls()

    def reset_from_seed(self, seed):
        """Restarts the stream from ``seed``."""
        self._gen = np.random.default_rng(int(seed))

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None):
        dt = _float_dtype(dtype, "Generator.normal")
        return _affine(self._gen.standard_normal(shape_arg(shape)).astype(dt._np), stddev, mean,
                       dt)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None):
        dt = _float_dtype(dtype, "Generator.truncated_normal")
        return _affine(_truncated(self._gen, shape_arg(shape)).astype(dt._np), stddev, mean, dt)

    def uniform(self, shape, minval=0, maxval=None, dtype=_dt.float32, name=None):
        return _uniform(self._gen, shape_arg(shape), minval, maxval, dtype, "Generator.uniform")

    def categorical(self, logits, num_samples, dtype=None, name=None):
        return _categorical(self._gen, logits, num_samples, dtype, "Generator.categorical")

    def split(self, count=1):
        """``count`` new independent generators derived from this one."""
        return [Generator(state=int(self._gen.integers(2**63))) for _ in range(count)]


_GLOBAL_GENERATOR = []


def get_global_generator():
    """The global ``Generator`` (created on first use)."""
    if not _GLOBAL_GENERATOR:
        _GLOBAL_GENERATOR.append(Generator.from_non_deterministic_state())
    return _GLOBAL_GENERATOR[0]


def set_global_generator(generator):
    """Replaces the global ``Generator``."""
    _GLOBAL_GENERATOR[:] = [generator]
