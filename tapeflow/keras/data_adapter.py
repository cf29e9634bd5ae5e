"""Turns what ``fit``/``evaluate``/``predict`` receive into batches: ``EpochIterator``.

Accepted: NumPy arrays, Tensors and lists/dicts of them (sliced into batches, shuffled per
epoch), Python generators / iterators (``(x, y[, sample_weight])`` per batch),
``tapeflow.data.Dataset`` and other re-iterable objects (iterated each epoch), and
``keras.utils.PyDataset``-style objects (``__len__`` + ``__getitem__``).
"""

import math
import warnings

from tapeflow._backend import np
from tapeflow.framework import nest
from tapeflow.framework.tensor import Tensor, _TensorLike, _wrap

__all__ = ["EpochIterator", "unpack_x_y_sample_weight", "pack_x_y_sample_weight",
           "train_validation_split"]


def unpack_x_y_sample_weight(data):
    """Splits a batch into ``(x, y, sample_weight)`` (only tuples are unpacked, as in Keras).

    >>> unpack_x_y_sample_weight((1, 2))
    (1, 2, None)
    """
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: {data}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The inverse of ``unpack_x_y_sample_weight``.

    >>> pack_x_y_sample_weight(1, 2)
    (1, 2)
    """
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def _is_array_like(x):
    return isinstance(x, (np.ndarray, np.generic, _TensorLike)) or (
        hasattr(x, "__array__") and hasattr(x, "shape") and not hasattr(x, "__next__"))


def _is_array_struct(x):
    if x is None:
        return True
    if _is_array_like(x):
        return True
    if isinstance(x, dict):
        return all(_is_array_struct(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return bool(x) and all(_is_array_like(v) or isinstance(v, (list, tuple, dict)) and
                               _is_array_struct(v) for v in x) or (
            bool(x) and all(isinstance(v, (int, float)) for v in nest.flatten(list(x))))
    return False


def _to_array(v):
    # float64 data becomes floatx() once here, not at every batch.
    arr = np.asarray(v._value) if isinstance(v, _TensorLike) else np.asarray(v)
    if arr.dtype == np.float64:
        from tapeflow.keras.backend import floatx

        if floatx() != "float64":
            arr = arr.astype(floatx())
    return arr


def _arrays(struct):
    if struct is None:
        return None
    if isinstance(struct, (list, tuple)) and struct and all(
            isinstance(v, (int, float)) for v in struct):
        return _to_array(struct)
    return nest.map_structure(_to_array, struct) if not _is_array_like(struct) else \
        _to_array(struct)


def check_cardinality(x, y, sample_weight):
    """Raises ValueError naming every size when x, y and sample_weight disagree."""
    sizes = {}
    for label, s in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        if s is not None:
            sizes[label] = [int(a.shape[0]) if a.ndim else 1 for a in nest.flatten(s)]
    flat = {n for v in sizes.values() for n in v}
    if len(flat) > 1:
        lines = "\n".join(f"'{k}' sizes: {', '.join(str(n) for n in v)}"
                          for k, v in sizes.items())
        raise ValueError(f"Data cardinality is ambiguous. Make sure all arrays contain the same "
                         f"number of samples.\n{lines}")
    return flat.pop() if flat else 0


def train_validation_split(arrays, validation_split):
    """Splits array structures: the last ``validation_split`` fraction is for validation.

    >>> import numpy as np
    >>> (a,), (b,) = train_validation_split((np.arange(10),), 0.2)
    >>> a.tolist(), b.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    flat = [a for a in nest.flatten(list(arrays)) if a is not None]
    if not all(_is_array_like(a) for a in flat):
        raise ValueError(f"`validation_split` is only supported for Tensors or NumPy arrays, "
                         f"found following types in the input: {[type(a) for a in flat]}")
    n = int(flat[0].shape[0])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to split "
                         f"it into a validation and training set as specified by "
                         f"`validation_split={validation_split}`. Either provide more data, or "
                         f"a different value for the `validation_split` argument.")

    def part(lo, hi):
        return tuple(None if a is None else nest.map_structure(
            lambda v: _to_array(v)[lo:hi], a) if not _is_array_like(a) else _to_array(a)[lo:hi]
            for a in arrays)
    return part(0, split_at), part(split_at, n)


class EpochIterator:
    """Yields the batches of one epoch at a time: ``for step, batch in it.enumerate_epoch()``.

    Args:
      x, y, sample_weight: the data (see the module docstring).
      batch_size: samples per batch for array data (default 32).
      steps_per_epoch: batches per epoch (default: one pass over the data).
      shuffle: shuffle array data each epoch (``"batch"`` shuffles the batch order only).
      class_weight: optional ``{class: weight}`` turned into sample weights.

    >>> import numpy as np
    >>> it = EpochIterator(np.zeros((5, 2)), np.zeros(5), batch_size=2, shuffle=False)
    >>> [b[0].shape[0] for _, b in it.enumerate_epoch()]
    [2, 2, 1]
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps_per_epoch=None,
                 shuffle=False, class_weight=None, seed=None):
        self.steps_per_epoch = steps_per_epoch
        self.shuffle = shuffle
        self._iterator = None
        self._exhausted = False
        self._kind = None
        self._class_weight = None
        if x is not None and _is_array_struct(x) and _is_array_struct(y) and \
                _is_array_struct(sample_weight) and not _is_generator(x):
            self._init_arrays(x, y, sample_weight, batch_size, class_weight)
        else:
            if hasattr(x, "element_spec") and y is not None:  # Keras 3.15's message
                raise ValueError("When providing `x` as a tf.data.Dataset, `y` should not be "
                                 "passed. Instead, the targets should be included as part of "
                                 "the tf.data.Dataset.")
            if y is not None or sample_weight is not None:
                raise ValueError(f"When providing `x` as a {type(x).__name__} (a generator or "
                                 f"dataset), `y` and `sample_weight` must not be given: the "
                                 f"batches must contain them. Received: y={type(y).__name__}, "
                                 f"sample_weight={type(sample_weight).__name__}")
            if x is None:
                raise ValueError("Unexpected value for `x`: None. Provide the data to use.")
            self._class_weight = class_weight  # applied batch by batch, as Keras does
            self._init_stream(x)

    # ------------------------------------------------------------------ arrays
    def _init_arrays(self, x, y, sample_weight, batch_size, class_weight):
        self._kind = "arrays"
        self.x, self.y, self.sw = _arrays(x), _arrays(y), _arrays(sample_weight)
        self.num_samples = check_cardinality(self.x, self.y, self.sw)
        if class_weight is not None:
            if self.sw is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same "
                                 "time.")
            self.sw = _class_weights_to_sample_weights(self.y, class_weight)
        self.batch_size = int(batch_size or 32)
        if self.batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer. Received: "
                             f"batch_size={batch_size}")
        n_batches = max(1, math.ceil(self.num_samples / self.batch_size))
        self.num_batches = n_batches if self.steps_per_epoch is None else self.steps_per_epoch
        self._cursor = 0
        self._perm = None

    def _array_batches(self):
        n, bs = self.num_samples, self.batch_size
        steps = self.num_batches
        starts = list(range(0, max(n, 1), bs))
        order = None
        if self.shuffle == "batch":
            np.random.shuffle(starts)
        elif self.shuffle:
            order = _shuffle_rng().permutation(n)
        for step in range(steps):
            if self.steps_per_epoch is not None:
                # Several epochs may share one pass over the data (steps_per_epoch < batches).
                if self._cursor >= len(starts):
                    self._cursor = 0
                start = starts[self._cursor]
                self._cursor += 1
            else:
                start = starts[step]
            idx = slice(start, min(start + bs, n)) if order is None else \
                order[start:start + bs]
            yield step, self._slice(idx)

    def _slice(self, idx):
        if type(idx) is slice:
            def take(a):
                return _wrap(a[idx])
        else:
            # A shuffled batch: ``ndarray.take`` gathers the same rows as ``a[idx]`` (a
            # C-contiguous copy either way) in a fifth of the time (issue 7).
            def take(a):
                return _wrap(a.take(idx, axis=0) if type(a) is np.ndarray else a[idx])
        x = nest.map_structure(take, self.x) if not isinstance(self.x, np.ndarray) else \
            take(self.x)
        if self.y is None:
            return (x,)
        y = take(self.y) if isinstance(self.y, np.ndarray) else nest.map_structure(take, self.y)
        if self.sw is None:
            return (x, y)
        sw = take(self.sw) if isinstance(self.sw, np.ndarray) else \
            nest.map_structure(take, self.sw)
        return (x, y, sw)

    # ----------------------------------------------------------------- streams
    def _init_stream(self, x):
        self.num_samples = None
        if _is_sequence(x):
            self._kind = "sequence"
            self._data = x
            self.num_batches = len(x) if self.steps_per_epoch is None else self.steps_per_epoch
            return
        self._data = x
        if iter(x) is x:   # a generator / iterator: consumed across epochs
            self._kind = "iterator"
            self._iterator = x
        else:              # re-iterable (a Dataset): a fresh pass each epoch
            self._kind = "iterable"
        n = None
        if self.steps_per_epoch is not None:
            n = self.steps_per_epoch
        elif hasattr(x, "__len__") and self._kind == "iterable":
            try:
                n = len(x)
            except TypeError:
                n = None
        self.num_batches = n

    def _stream_batches(self):
        if self._kind == "sequence":
            for step in range(self.num_batches):
                yield step, self._weighted(_as_batch(self._data[step % len(self._data)]))
            if hasattr(self._data, "on_epoch_end"):
                self._data.on_epoch_end()
            return
        if self._kind == "iterable" and (self._iterator is None or
                                         self.steps_per_epoch is None):
            self._iterator = iter(self._data)
        step = 0
        fresh = False   # True right after a restart, until the new pass yields a batch
        while self.steps_per_epoch is None or step < self.steps_per_epoch:
            try:
                batch = next(self._iterator)
            except StopIteration:
                if self._kind == "iterable" and self.steps_per_epoch is not None:
                    # As Keras: an epoch never runs past the end of a pass over the dataset;
                    # the pass ends the epoch early and the next epoch starts a new pass.
                    if step == 0 and not fresh:
                        self._iterator = iter(self._data)
                        fresh = True
                        continue
                    self._iterator = None
                    if step > 0:
                        warnings.warn("Your input ran out of data; interrupting training. Make "
                                      "sure that your dataset or generator can generate at least "
                                      "`steps_per_epoch * epochs` batches. You may need to use "
                                      "the `.repeat()` function when building your dataset.",
                                      stacklevel=2)
                        break
                if step == 0 or self.steps_per_epoch is not None:
                    self._exhausted = True
                    warnings.warn("Your input ran out of data; interrupting training. Make sure "
                                  "that your dataset or generator can generate at least "
                                  "`steps_per_epoch * epochs` batches.", stacklevel=2)
                break
            fresh = False
            yield step, self._weighted(_as_batch(batch))
            step += 1
        if self.num_batches is None:
            self.num_batches = step

    def _weighted(self, batch):
        """``(x, y)`` -> ``(x, y, sample_weight)`` from ``class_weight``, when one is given."""
        if self._class_weight is None:
            return batch
        if len(batch) == 3 and batch[2] is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        if len(batch) < 2 or batch[1] is None:
            raise ValueError("`class_weight` needs targets: the batches must be `(x, y)` "
                             "tuples.")
        y = batch[1]
        y = y._value if isinstance(y, _TensorLike) else y
        return (batch[0], batch[1], _wrap(_class_weights_to_sample_weights(y, self._class_weight)))

    def restart(self):
        """Makes the next epoch start from the beginning of the data (Keras restarts the
        validation data at each validation run)."""
        if self._kind == "iterable":
            self._iterator = None
        self._cursor = 0

    def enumerate_epoch(self):
        """Yields ``(step, batch)`` for one epoch; each batch is a tuple of Tensor structures."""
        if self._kind == "arrays":
            return self._array_batches()
        return self._stream_batches()

    @property
    def exhausted(self):
        return self._exhausted


def _is_generator(x):
    return hasattr(x, "__next__")


def _is_sequence(x):
    return (hasattr(x, "__getitem__") and hasattr(x, "__len__") and
            not isinstance(x, (list, tuple, dict, np.ndarray, _TensorLike, str)) and
            not hasattr(x, "element_spec"))


def _as_batch(batch):
    def conv(v):
        if type(v) is Tensor or v is None:
            return v
        if isinstance(v, _TensorLike):
            return _wrap(v._value)
        if isinstance(v, (np.ndarray, np.generic, int, float, bool)):
            return _wrap(_to_array(v))
        if isinstance(v, list) and v and isinstance(v[0], (int, float)):
            return _wrap(_to_array(v))
        return v
    if isinstance(batch, tuple):
        return tuple(nest.map_structure(conv, b) if b is not None else None for b in batch)
    return (nest.map_structure(conv, batch),)


def _shuffle_rng():
    from tapeflow.keras import _rng  # noqa: PLC0415

    return _rng.generator()


def _class_weights_to_sample_weights(y, class_weight):
    if not isinstance(y, np.ndarray):
        raise ValueError("`class_weight` is only supported for models with a single output.")
    labels = y.argmax(axis=-1) if (y.ndim > 1 and y.shape[-1] > 1) else \
        np.rint(y.reshape(y.shape[0], -1)[:, 0]).astype(np.int64)
    table = np.ones(int(max(max(class_weight), labels.max(initial=0))) + 1, dtype=np.float32)
    for k, w in class_weight.items():
        table[int(k)] = w
    return table[labels]
