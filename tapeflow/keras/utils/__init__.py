"""``keras.utils``: one-hot labels, seeding, normalization and data helpers.

>>> from tapeflow import keras
>>> keras.utils.to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]])
"""

import random as _random

from tapeflow._backend import np
from tapeflow.keras.data_adapter import (  # noqa: F401
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)


def to_categorical(x, num_classes=None):
    """Converts integer class labels to one-hot rows (float64 as in Keras's NumPy path).

    Args:
      x: integer labels (any shape; a trailing axis of size 1 is dropped).
      num_classes: number of classes (default ``max(x) + 1``).

    >>> to_categorical([1, 0], 2)
    array([[0., 1.],
           [1., 0.]])
    """
    x = np.asarray(x._value if hasattr(x, "_value") else x)
    if x.dtype.kind == "f":
        if np.any(x != np.floor(x)):
            raise ValueError(f"to_categorical: labels must be integers, received non-integer "
                             f"values such as {x[x != np.floor(x)].ravel()[:3].tolist()}.")
    x = x.astype(np.int64)
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), received "
                         f"labels in [{int(x.min())}, {int(x.max())}].")
    out = np.zeros((x.size, num_classes))
    out[np.arange(x.size), x] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scales ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero).

    >>> normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    x = np.asarray(x._value if hasattr(x, "_value") else x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def set_random_seed(seed):
    """Seeds Python's ``random``, NumPy and tapeflow (initializers, dropout, shuffling).

    >>> set_random_seed(0)
    """
    if not isinstance(seed, int):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed} "
                         f"(of type {type(seed)})")
    _random.seed(seed)
    np.random.seed(seed)
    from tapeflow.keras import _rng  # noqa: PLC0415

    _rng.set_seed(seed)
    try:
        import tapeflow.random as _tfr  # noqa: PLC0415

        _tfr.set_seed(seed)
    except (ImportError, AttributeError):
        pass


class PyDataset:
    """Base class for batch-indexed datasets: implement ``__len__`` (batches per epoch) and
    ``__getitem__(index)`` returning ``(x, y)`` for batch ``index``.

    >>> class Ones(PyDataset):
    ...     def __len__(self):
    ...         return 2
    ...     def __getitem__(self, i):
    ...         return np.ones((4, 3)), np.ones((4, 1))
    >>> len(Ones())
    2
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def on_epoch_end(self):
        """Called at the end of every epoch."""

    @property
    def num_batches(self):
        return len(self)


Sequence = PyDataset


class Progbar:
    """A progress bar for custom training loops: ``update(current, values)``.

    Args:
      target: total number of steps (None if unknown).
      width: bar width in characters.
      verbose: 1 for a bar (one line per update when not in a terminal is avoided: only the
        final line is printed), 2 for the final line only, 0 for silence.
      stateful_metrics: names whose values are shown as given rather than averaged.
      unit_name: the unit shown in the speed (``"step"``).

    >>> bar = Progbar(2, verbose=2)
    >>> bar.update(1, [("loss", 1.0)])
    >>> bar.update(2, [("loss", 0.5)])   # doctest: +ELLIPSIS
    2/2 - ... - loss: 0.7500
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step"):
        import time

        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._values = {}
        self._order = []
        self._seen = 0
        self._start = time.time()
        self._last = 0.0
        self._shown = 0

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step ``current`` and records ``values`` (a list of (name, value))."""
        import sys
        import time

        for name, value in values or []:
            value = float(value._value if hasattr(value, "_value") else value)
            if name not in self._values:
                self._order.append(name)
            if name in self.stateful_metrics:
                self._values[name] = [value, 1]
            else:
                step = max(current - self._seen, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * step, count + step]
        self._seen = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if not self.verbose:
            return
        from tapeflow.keras import config  # noqa: PLC0415

        tty = (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
               and config.is_interactive_logging_enabled())
        now = time.time()
        if not finalize and (self.verbose != 1 or not tty or now - self._last < self.interval):
            return
        self._last = now
        line = self._line(current, now, finalize, color=tty)
        if not config.is_interactive_logging_enabled():
            config.print_msg(line)
            return
        if self.verbose == 1 and tty:
            pad = " " * max(0, self._shown - len(line))
            self._shown = 0 if finalize else len(line)
            sys.stdout.write("\r" + line + pad + ("\n" if finalize else ""))
        else:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def add(self, n, values=None):
        """Advances the bar by ``n`` steps."""
        self.update(self._seen + n, values)

    def _line(self, current, now, finalize, color=False):
        from tapeflow.keras.callbacks import _progress_line  # noqa: PLC0415

        elapsed = now - self._start
        values = [(name, total / max(count, 1)) for name, (total, count) in
                  ((n, self._values[n]) for n in self._order)]
        return _progress_line(current, self.target, elapsed, elapsed / max(current, 1), values,
                              self.verbose, finalize, color, width=self.width)


def __getattr__(name):
    if name == "get_file":
        from tapeflow.keras.datasets._download import get_file  # noqa: PLC0415

        return get_file
    if name == "timeseries_dataset_from_array":
        from tapeflow.data.timeseries import timeseries_dataset_from_array  # noqa: PLC0415

        return timeseries_dataset_from_array
    if name in ("serialize_keras_object", "deserialize_keras_object", "get_custom_objects",
                "custom_object_scope", "CustomObjectScope", "register_keras_serializable",
                "get_registered_name", "get_registered_object"):
        from tapeflow.keras import saving  # noqa: PLC0415

        return getattr(saving, name)
    raise AttributeError(f"module 'tapeflow.keras.utils' has no attribute {name!r}")
