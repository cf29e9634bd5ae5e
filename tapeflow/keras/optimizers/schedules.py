"""``keras.optimizers.schedules``: learning rates as a function of the step.

A schedule is called with the step (an int, or the optimizer's ``iterations``) and returns a
float32 scalar Tensor; pass one as an optimizer's ``learning_rate``: step k uses
``schedule(k)``.

>>> from tapeflow import keras
>>> s = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
>>> [round(float(s(k)), 4) for k in range(3)]
[0.1, 0.0707, 0.05]
"""

import math

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor, _TensorLike

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts",
           "serialize", "deserialize"]

_f32 = np.float32


def _step(step):
    if isinstance(step, _TensorLike):
        step = step._value
    return _f32(step)


def _out(x):
    return Tensor(np.asarray(x, dtype=np.float32))


def _check_steps(value, name, cls):
    if value is None or value <= 0:
        raise ValueError(f"{cls}: argument `{name}` must be > 0. Received: {name}={value}")


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config``.

    >>> from tapeflow import keras
    >>> class Half(keras.optimizers.schedules.LearningRateSchedule):
    ...     def __call__(self, step):
    ...         return 0.5 ** float(step)
    ...     def get_config(self):
    ...         return {}
    >>> Half()(2)
    0.25
    """

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments and config, and the
    progress ``step / decay_steps`` (floored when ``staircase``)."""

    _kind = "LearningRateSchedule"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_steps(decay_steps, "decay_steps", self._kind)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step):
        p = _step(step) / _f32(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if
    ``staircase``).

    >>> from tapeflow import keras
    >>> s = keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5, staircase=True)
    >>> float(s(19))
    0.5
    """

    _kind = "ExponentialDecay"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        p = self._progress(step)
        return _out(_f32(self.initial_learning_rate) * np.power(_f32(self.decay_rate), p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``.

    >>> from tapeflow import keras
    >>> s = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    >>> [float(s(k)) for k in (10, 11, 25)]
    [1.0, 0.5, 0.10000000149011612]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        s = _step(step)
        i = int(np.searchsorted(np.asarray(self.boundaries, dtype=np.float64), float(s),
                                side="left"))
        return _out(self.values[i])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate`` over
    ``decay_steps`` (repeated with ``cycle``).

    >>> from tapeflow import keras
    >>> s = keras.optimizers.schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0)
    >>> float(s(5)), float(s(50))
    (0.5, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_steps(decay_steps, "decay_steps", "PolynomialDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        s = _step(step)
        steps = _f32(self.decay_steps)
        if self.cycle:
            mult = _f32(1.0) if s == 0 else np.ceil(s / steps)
            steps = steps * mult
        else:
            s = min(s, steps)
        p = s / steps
        init, end = _f32(self.initial_learning_rate), _f32(self.end_learning_rate)
        return _out((init - end) * np.power(_f32(1) - p, _f32(self.power)) + end)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored if
    ``staircase``).

    >>> from tapeflow import keras
    >>> float(keras.optimizers.schedules.InverseTimeDecay(1.0, 1, 1.0)(3))
    0.25
    """

    _kind = "InverseTimeDecay"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        p = self._progress(step)
        return _out(_f32(self.initial_learning_rate) / (_f32(1) + _f32(self.decay_rate) * p))


class CosineDecay(LearningRateSchedule):
    """Cosine decay to ``alpha * initial`` over ``decay_steps``, after an optional linear warmup
    from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``.

    >>> from tapeflow import keras
    >>> s = keras.optimizers.schedules.CosineDecay(1.0, 10)
    >>> float(s(0)), round(float(s(5)), 4), float(s(10))
    (1.0, 0.5, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_steps(decay_steps, "decay_steps", "CosineDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, s, steps, from_lr):
        cos = _f32(0.5) * (_f32(1) + np.cos(_f32(math.pi) * (s / steps)))
        return from_lr * ((_f32(1) - _f32(self.alpha)) * cos + _f32(self.alpha))

    def __call__(self, step):
        s = _step(step)
        steps = _f32(self.decay_steps)
        init = _f32(self.initial_learning_rate)
        if self.warmup_target is None:
            return _out(self._decay(min(s, steps), steps, init))
        target = _f32(self.warmup_target)
        warm = _f32(self.warmup_steps)
        s = min(s, steps + warm)
        if s < warm:
            return _out((target - init) * (s / warm) + init)
        return _out(self._decay(s - warm, steps, target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods grow by ``t_mul``, peaks by ``m_mul``.

    >>> from tapeflow import keras
    >>> s = keras.optimizers.schedules.CosineDecayRestarts(1.0, 10)
    >>> float(s(0)), float(s(10))
    (1.0, 1.0)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_steps(first_decay_steps, "first_decay_steps", "CosineDecayRestarts")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        frac = float(_step(step)) / float(self.first_decay_steps)
        t_mul, m_mul = float(self.t_mul), float(self.m_mul)
        if t_mul == 1.0:
            i = math.floor(frac)
            frac -= i
        else:
            i = math.floor(math.log(1.0 - frac * (1.0 - t_mul)) / math.log(t_mul))
            sum_r = (1.0 - t_mul ** i) / (1.0 - t_mul)
            frac = (frac - sum_r) / t_mul ** i
        cos = 0.5 * m_mul ** i * (1.0 + math.cos(math.pi * frac))
        return _out(self.initial_learning_rate * ((1 - self.alpha) * cos + self.alpha))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


_CLASSES = [LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
            InverseTimeDecay, CosineDecay, CosineDecayRestarts]
ALL_OBJECTS_DICT = {c.__name__: c for c in _CLASSES}


def serialize(schedule):
    """Keras's dict for a schedule (module ``keras.optimizers.schedules``).

    >>> from tapeflow import keras
    >>> keras.optimizers.schedules.serialize(
    ...     keras.optimizers.schedules.InverseTimeDecay(0.1, 5, 0.5))["class_name"]
    'InverseTimeDecay'
    """
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """Rebuilds a schedule from :func:`serialize`'s dict.

    >>> from tapeflow import keras
    >>> keras.optimizers.schedules.deserialize({"class_name": "CosineDecay",
    ...     "config": {"initial_learning_rate": 0.1, "decay_steps": 10}}).decay_steps
    10
    """
    table = dict(ALL_OBJECTS_DICT)
    if custom_objects:
        table.update(custom_objects)
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in table:
        raise ValueError(f"Could not interpret learning rate schedule: {config!r}. Valid class "
                         f"names are: {sorted(ALL_OBJECTS_DICT)}.")
    return table[name].from_config(dict(config.get("config") or {}))
