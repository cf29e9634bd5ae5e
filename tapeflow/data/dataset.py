"""``tf.data.Dataset``: input pipelines as chains of lazy Python iterators over NumPy arrays.

Each transformation is a small subclass of ``Dataset`` that knows its input, how to iterate
(``_elements``), its cardinality (``_card``) and its element spec (``_compute_spec``). Inside the
pipeline an element is a structure (tuple, dict, namedtuple) of arrays; user code sees Tensors.

Fast path: a dataset built from in-memory arrays by ``from_tensor_slices`` followed by any of
``shuffle``, ``take``, ``skip``, ``repeat``, ``shard``, ``cache``, ``prefetch`` is described by an
*index plan* (the source arrays plus a stream of index chunks), so that ``batch`` slices or gathers
whole batches with one NumPy call per component instead of stacking element by element.
"""

import collections
import glob as _glob
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tapeflow._backend import np
from tapeflow.data import _structure as st
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.errors import (
    DataLossError,
    InvalidArgumentError,
    NotFoundError,
    OpError,
    OutOfRangeError,
    UnknownError,
)
from tapeflow.framework.tensor import TensorShape, _wrap
from tapeflow.framework.tensor_spec import TensorSpec

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Options",
           "TextLineDataset", "Iterator"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2
INFINITE, UNKNOWN = INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
_END = object()
_CHUNK = 1024  # index chunk length produced by the shuffle fast path


def _check_count(value, name, minimum=-1):
    v = st.to_array(value)
    if v.ndim != 0 or v.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must be a scalar integer, received: {value!r}")
    v = int(v)
    if v < minimum:
        raise InvalidArgumentError(f"`{name}` must be >= {minimum}, received: {v}")
    return v


def _check_callable(func):
    if not callable(func):
        raise ValueError(f"Argument `func` must be a callable. Received func={func!r} (of type "
                         f"{type(func)})")


def _parallelism(num_parallel_calls):
    if num_parallel_calls is None:
        return 1
    n = _check_count(num_parallel_calls, "num_parallel_calls", minimum=-(2**62))
    if n == AUTOTUNE:
        return max(1, min(os.cpu_count() or 1, 8))
    if n <= 0:
        raise InvalidArgumentError(f"num_parallel_calls must be greater than zero (or "
                                   f"tf.data.AUTOTUNE), received: {n}")
    return n


def _draw_seed(seed):
    """The base seed of a random transformation: ``seed``, else one drawn from the global
    generator (so ``keras.utils.set_random_seed`` makes pipelines reproducible)."""
    if seed is not None:
        return _check_count(seed, "seed", minimum=0)
    from tapeflow.keras import _rng  # noqa: PLC0415 - keras loads on demand

    return int(_rng.generator().integers(0, 2**62))


_PEEKING = [0]  # > 0 while an element_spec is inferred from a first element


def _peek_first(gen_factory):
    """The first element of ``gen_factory()`` (or ``_END``), computed without side effects on
    the pipeline's state: shuffles do not advance their epoch and file caches write nothing."""
    _PEEKING[0] += 1
    gen = gen_factory()
    try:
        return next(gen, _END)
    finally:
        gen.close()
        _PEEKING[0] -= 1


class Options:
    """``tf.data.Options``: accepted and stored; tapeflow needs none of them to run.

    >>> import tapeflow as tf
    >>> options = tf.data.Options()
    >>> options.experimental_distribute.auto_shard_policy = (
    ...     tf.data.experimental.AutoShardPolicy.DATA)
    >>> int(tf.data.Dataset.range(3).with_options(options).cardinality())
    3
    """

    def __init__(self):
        for group in ("experimental_distribute", "experimental_optimization", "threading",
                      "autotune"):
            object.__setattr__(self, group, _OptionGroup())
        self.deterministic = None
        self.experimental_deterministic = None

    def merge(self, options):
        merged = Options()
        merged.__dict__.update(self.__dict__)
        merged.__dict__.update({k: v for k, v in options.__dict__.items() if v is not None})
        return merged


class _OptionGroup:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return None


class Dataset:
    """A sequence of elements, each a Tensor or a tuple/dict of Tensors (``tf.data.Dataset``).

    Build one with a source (``from_tensor_slices``, ``from_tensors``, ``from_generator``,
    ``range``, ``zip``) and chain transformations; iterate it in Python or pass it to ``fit``.

    >>> import tapeflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices([1, 2, 3, 4, 5]).map(lambda x: x * 2).batch(2)
    >>> [b.numpy().tolist() for b in ds]
    [[2, 4], [6, 8], [10]]
    """

    _spec_cache = None
    _options = None

    # -- what subclasses define -------------------------------------------------------------
    def _elements(self):
        """A generator of the element structures (arrays)."""
        raise NotImplementedError

    def _card(self):
        return UNKNOWN

    def _compute_spec(self):
        raise NotImplementedError

    def _index_plan(self):
        """``(template, flat_arrays, chunks)`` when elements are rows of in-memory arrays selected
        by the index chunks (``range`` or int arrays) that ``chunks()`` yields; else None."""
        return None

    def _inputs(self):
        return []

    # -- public properties ----------------------------------------------------------------
    @property
    def element_spec(self):
        """The ``tf.TensorSpec`` structure of one element.

        >>> import tapeflow as tf
        >>> tf.data.Dataset.from_tensor_slices(([1, 2], [[1.0], [2.0]])).element_spec
        (TensorSpec(shape=(), dtype=tf.int32, name=None), TensorSpec(shape=(1,), \
dtype=tf.float32, name=None))
        """
        if self._spec_cache is None:
            self._spec_cache = self._compute_spec()
        return self._spec_cache

    def cardinality(self):
        """The number of elements as an int64 scalar Tensor; ``tf.data.INFINITE_CARDINALITY``
        (-1) for an infinite dataset and ``tf.data.UNKNOWN_CARDINALITY`` (-2) when unknown.

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.range(10)
        >>> int(ds.cardinality()), int(ds.repeat().cardinality()), int(ds.filter(
        ...     lambda x: x > 3).cardinality())
        (10, -1, -2)
        """
        return _wrap(np.array(self._card(), dtype=np.int64))

    def __len__(self):
        n = self._card()
        if n == INFINITE:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self):
        return True

    def __iter__(self):
        return Iterator(self)

    def __repr__(self):
        name = getattr(type(self), "_TF_NAME", type(self).__name__)  # TensorFlow's class name
        return f"<{name} element_spec={self.element_spec}>"

    def as_numpy_iterator(self):
        """Iterates the elements as NumPy values (rank-0 tensors become NumPy scalars).

        >>> import tapeflow as tf
        >>> it = tf.data.Dataset.from_tensor_slices({"a": [1, 2]}).as_numpy_iterator()
        >>> e = next(it)
        >>> type(e), type(e["a"]).__name__, int(e["a"])
        (<class 'dict'>, 'int32', 1)
        """
        return (st.to_numpy(e) for e in self._elements())

    def options(self):
        """The ``tf.data.Options`` set on this pipeline."""
        for ds in [self, *self._inputs()]:
            if ds._options is not None:
                return ds._options
        return Options()

    def with_options(self, options, name=None):
        """Returns this dataset with ``options`` attached (they do not change the elements)."""
        ds = _PassThroughDataset(self)
        ds._options = self.options().merge(options)
        return ds

    def apply(self, transformation_func):
        """Returns ``transformation_func(self)``.

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(5).apply(lambda ds: ds.skip(3))]
        [3, 4]
        """
        out = transformation_func(self)
        if not isinstance(out, Dataset):
            raise TypeError(f"`transformation_func` must return a Dataset, received: {out!r}")
        return out

    def get_single_element(self, name=None):
        """The only element of a one-element dataset.

        >>> import tapeflow as tf
        >>> int(tf.data.Dataset.from_tensors(7).get_single_element())
        7
        """
        it = self._elements()
        first = next(it, _END)
        if first is _END:
            raise InvalidArgumentError("Dataset was empty.")
        if next(it, _END) is not _END:
            raise InvalidArgumentError("Dataset had more than one element.")
        return st.to_tensors(first)

    def reduce(self, initial_state, reduce_func, name=None):
        """Folds the elements into a state: ``state = reduce_func(state, element)``.

        >>> import tapeflow as tf
        >>> int(tf.data.Dataset.range(5).reduce(tf.constant(0, tf.int64), lambda s, x: s + x))
        10
        """
        _check_callable(reduce_func)
        init = st.normalize(initial_state)
        flat_init = st.flatten(init)
        state = st.to_tensors(init)
        for e in self._elements():
            new = st.normalize_returned(reduce_func(state, st.to_tensors(e)))
            flat_new = st.flatten(new)
            if len(flat_new) != len(flat_init) or not st.same_structure(init, new):
                raise InvalidArgumentError(
                    f"The number of components of the initial state and the reduce function "
                    f"output does not match. (initial_state={len(flat_init)}, "
                    f"output={len(flat_new)}).")
            for a, b in zip(flat_init, flat_new, strict=True):
                if a.dtype != b.dtype and not (a.dtype.kind in "USO" and b.dtype.kind in "USO"):
                    raise TypeError(f"The element types for the new state must match the "
                                    f"initial state. Expected {_dt.from_numpy(a.dtype)} but got "
                                    f"{_dt.from_numpy(b.dtype)}.")
            state = st.to_tensors(new)
        return state

    # -- sources ------------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """Slices ``tensors`` along their first dimension: element ``i`` is ``tensors[i]``
        (applied to every component of a tuple/dict, which must share that dimension).

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.from_tensor_slices(({"a": [1, 2]}, [[3, 4], [5, 6]]))
        >>> [(d["a"].numpy().item(), y.numpy().tolist()) for d, y in ds]
        [(1, [3, 4]), (2, [5, 6])]
        """
        return _TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of exactly one element, ``tensors``.

        >>> import tapeflow as tf
        >>> [t.numpy().tolist() for t in tf.data.Dataset.from_tensors([1, 2, 3])]
        [[1, 2, 3]]
        """
        return _TensorDataset(tensors)

    @staticmethod
    def range(*args, output_type=_dt.int64, name=None):
        """``range(stop)``, ``range(start, stop[, step])`` as int64 scalars.

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(1, 8, 3)]
        [1, 4, 7]
        """
        return _RangeDataset(*args, output_type=output_type)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None):
        """Streams the elements a Python generator yields, checked against ``output_signature``.

        ``generator`` is a callable returning an iterator; it is called again at each iteration
        over the dataset, and elements are produced one at a time (nothing is materialised).

        >>> import tapeflow as tf
        >>> def gen():
        ...     for i in range(3):
        ...         yield i, [i] * i
        >>> ds = tf.data.Dataset.from_generator(gen, output_signature=(
        ...     tf.TensorSpec(shape=(), dtype=tf.int32),
        ...     tf.TensorSpec(shape=(None,), dtype=tf.int32)))
        >>> [y.numpy().tolist() for _, y in ds]
        [[], [1], [2, 2]]
        """
        return _GeneratorDataset(generator, output_types, output_shapes, args, output_signature)

    @staticmethod
    def zip(*datasets, name=None):
        """Zips datasets into a dataset of tuples (or of the given nested structure); stops at the
        shortest.

        >>> import tapeflow as tf
        >>> a, b = tf.data.Dataset.range(1, 4), tf.data.Dataset.range(4, 7)
        >>> [(int(x), int(y)) for x, y in tf.data.Dataset.zip(a, b)]
        [(1, 4), (2, 5), (3, 6)]
        """
        if len(datasets) == 1:
            datasets = datasets[0]
        return _ZipDataset(datasets)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None, name=None):
        """The file names matching ``file_pattern`` (a glob or a list of globs), as strings;
        shuffled unless ``shuffle=False``."""
        patterns = [file_pattern] if isinstance(file_pattern, (str, bytes)) else list(file_pattern)
        files = sorted({f for p in patterns for f in _glob.glob(os.fsdecode(p))})
        if not files:
            raise InvalidArgumentError(f"Expected 'file_pattern' to match at least one file, "
                                       f"but none matched: {file_pattern!r}")
        ds = _TensorSliceDataset(np.array([os.fsencode(f) for f in files]))
        if shuffle is None or shuffle:
            ds = ds.shuffle(len(files), seed=seed)
        return ds

    @staticmethod
    def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False,
                             rerandomize_each_iteration=None):
        """Draws each element from one of ``datasets`` picked at random with ``weights``
        (uniform by default). An exhausted dataset stops the result when
        ``stop_on_empty_dataset``, else it is left out of the draw from then on.

        >>> import tapeflow as tf
        >>> a, b = tf.data.Dataset.range(0, 3), tf.data.Dataset.range(10, 13)
        >>> sorted(int(v) for v in tf.data.Dataset.sample_from_datasets([a, b], seed=1))
        [0, 1, 2, 10, 11, 12]
        """
        return _SampleDataset(list(datasets), weights, seed, stop_on_empty_dataset)

    @staticmethod
    def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=True):
        """Takes each element from ``datasets[c]`` for the successive ``c`` of
        ``choice_dataset`` (int64 scalars).

        >>> import tapeflow as tf
        >>> ds = [tf.data.Dataset.from_tensors(v).repeat() for v in (1, 2, 3)]
        >>> choice = tf.data.Dataset.range(3).repeat(2)
        >>> list(map(int, tf.data.Dataset.choose_from_datasets(ds, choice)))
        [1, 2, 3, 1, 2, 3]
        """
        return _ChooseDataset(list(datasets), choice_dataset, stop_on_empty_dataset)

    # -- transformations ----------------------------------------------------------------------
    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Stacks ``batch_size`` consecutive elements into one (the last batch may be smaller
        unless ``drop_remainder``).

        >>> import tapeflow as tf
        >>> [b.numpy().tolist() for b in tf.data.Dataset.range(8).batch(3, drop_remainder=True)]
        [[0, 1, 2], [3, 4, 5]]
        """
        return _BatchDataset(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None,
                     drop_remainder=False, name=None):
        """Like ``batch`` for elements of different shapes: each component is padded (with
        ``padding_values``, default 0) to ``padded_shapes`` or to the longest in the batch.

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.range(1, 4).map(lambda x: tf.fill([x], x))
        >>> [b.numpy().tolist() for b in ds.padded_batch(2)]
        [[[1, 0], [2, 2]], [[3, 3, 3]]]
        """
        return _PaddedBatchDataset(self, batch_size, padded_shapes, padding_values,
                                   drop_remainder)

    def unbatch(self, name=None):
        """Splits each element along its first dimension (the inverse of ``batch``).

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.from_tensors([[1, 2], [3, 4]]).unbatch()
        >>> [t.numpy().tolist() for t in ds]
        [[1, 2], [3, 4]]
        """
        return _UnbatchDataset(self)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """Applies ``map_func`` to each element (a tuple is passed as separate arguments).

        With ``num_parallel_calls`` (an int or ``tf.data.AUTOTUNE``) calls run on a thread pool
        when one call is slow enough for threads to pay; the order of elements is kept.

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.from_tensor_slices(([1, 2], [3, 4])).map(lambda x, y: x + y)
        >>> [int(v) for v in ds]
        [4, 6]
        """
        _check_callable(map_func)
        return _MapDataset(self, map_func, _parallelism(num_parallel_calls))

    def filter(self, predicate, name=None):
        """Keeps the elements for which ``predicate`` returns a scalar boolean True.

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(6).filter(lambda x: x % 2 == 0)]
        [0, 2, 4]
        """
        _check_callable(predicate)
        return _FilterDataset(self, predicate)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Shuffles with a buffer of ``buffer_size`` elements, as TensorFlow does: the buffer is
        filled first, then each output is a uniformly random buffer element, replaced by the next
        input. ``seed`` makes the order reproducible; by default every iteration (epoch)
        reshuffles.

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.range(5).shuffle(5, seed=1)
        >>> sorted(ds.as_numpy_iterator()) == list(range(5))
        True
        """
        return _ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def repeat(self, count=None, name=None):
        """Repeats the dataset ``count`` times (forever when ``count`` is None or -1).

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(2).repeat(2)]
        [0, 1, 0, 1]
        """
        count = -1 if count is None else _check_count(count, "count", minimum=-(2**63))
        return _RepeatDataset(self, max(count, -1))

    def take(self, count, name=None):
        """The first ``count`` elements (all of them when ``count`` is -1).

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(10).take(2)]
        [0, 1]
        """
        return _TakeDataset(self, _check_count(count, "count", minimum=-(2**63)))

    def skip(self, count, name=None):
        """All but the first ``count`` elements (-1 skips everything).

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(4).skip(2)]
        [2, 3]
        """
        return _SkipDataset(self, max(_check_count(count, "count", minimum=-(2**63)), -1))

    def shard(self, num_shards, index, name=None):
        """Every ``num_shards``-th element starting at ``index``.

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(7).shard(3, 1)]
        [1, 4]
        """
        num_shards = _check_count(num_shards, "num_shards", minimum=1)
        index = _check_count(index, "index", minimum=0)
        if index >= num_shards:
            raise InvalidArgumentError(f"`index` must be < `num_shards` ({num_shards}), "
                                       f"received: {index}")
        return _ShardDataset(self, num_shards, index)

    def prefetch(self, buffer_size, name=None):
        """Produces elements ahead on a background thread, at most ``buffer_size`` in advance
        (``tf.data.AUTOTUNE`` picks a small buffer).

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(3).prefetch(tf.data.AUTOTUNE)]
        [0, 1, 2]
        """
        buffer_size = _check_count(buffer_size, "buffer_size", minimum=-(2**62))
        if buffer_size < -1:
            raise InvalidArgumentError(f"buffer_size must be >= 0 or set buffer_size to be -1 "
                                       f"for auto-tuning, received: {buffer_size}")
        return _PrefetchDataset(self, 2 if buffer_size == AUTOTUNE else buffer_size)

    def cache(self, filename="", name=None):
        """Keeps the elements of the first complete iteration, in memory or (with ``filename``)
        in ``filename``-prefixed ``.npz`` files that later runs read back instead of recomputing.

        >>> import tapeflow as tf
        >>> calls = []
        >>> ds = tf.data.Dataset.range(3).map(lambda x: (calls.append(1), x)[1]).cache()
        >>> _ = list(ds), list(ds)
        >>> len(calls)
        3
        """
        if filename:
            return _FileCacheDataset(self, os.fspath(filename))
        return _CacheDataset(self)

    def enumerate(self, start=0, name=None):
        """Pairs each element with its int64 position, counting from ``start``.

        >>> import tapeflow as tf
        >>> [(int(i), int(x)) for i, x in tf.data.Dataset.range(5, 7).enumerate()]
        [(0, 5), (1, 6)]
        """
        return _EnumerateDataset(self, _check_count(start, "start", minimum=-(2**62)))

    def concatenate(self, dataset, name=None):
        """The elements of this dataset followed by those of ``dataset``.

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(2).concatenate(tf.data.Dataset.range(5, 6))]
        [0, 1, 5]
        """
        return _ConcatenateDataset(self, dataset)

    def flat_map(self, map_func, name=None):
        """Maps each element to a dataset and chains those datasets.

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.from_tensor_slices([[1, 2], [3, 4]])
        >>> [int(v) for v in ds.flat_map(tf.data.Dataset.from_tensor_slices)]
        [1, 2, 3, 4]
        """
        return _FlatMapDataset(self, map_func)

    def interleave(self, map_func, cycle_length=None, block_length=None, num_parallel_calls=None,
                   deterministic=None, name=None):
        """Maps each element to a dataset and takes ``block_length`` elements in turn from
        ``cycle_length`` of them at once.

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.range(1, 4).interleave(
        ...     lambda x: tf.data.Dataset.from_tensors(x).repeat(2), cycle_length=2)
        >>> list(map(int, ds))
        [1, 2, 1, 2, 3, 3]
        """
        cycle = AUTOTUNE if cycle_length is None else _check_count(cycle_length, "cycle_length")
        if cycle == AUTOTUNE:
            cycle = max(1, os.cpu_count() or 1)
        block = 1 if block_length is None else _check_count(block_length, "block_length", 1)
        if cycle < 1:
            raise InvalidArgumentError(f"`cycle_length` must be > 0, received: {cycle}")
        return _InterleaveDataset(self, map_func, cycle, block)

    def unique(self, name=None):
        """The elements not seen before, in order of first appearance (scalar elements only).

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.from_tensor_slices([1, 37, 2, 37, 2, 1])
        >>> list(map(int, ds.unique()))
        [1, 37, 2]
        """
        return _UniqueDataset(self)

    def take_while(self, predicate, name=None):
        """The elements up to the first for which ``predicate`` is False.

        >>> import tapeflow as tf
        >>> [int(v) for v in tf.data.Dataset.range(9).take_while(lambda x: x < 3)]
        [0, 1, 2]
        """
        return _TakeWhileDataset(self, predicate)

    def scan(self, initial_state, scan_func, name=None):
        """Like ``map`` with a state: ``new_state, out = scan_func(state, element)``.

        >>> import tapeflow as tf
        >>> ds = tf.data.Dataset.range(4).scan(tf.constant(0, tf.int64),
        ...                                    lambda s, x: (s + x, s + x))
        >>> [int(v) for v in ds]
        [0, 1, 3, 6]
        """
        return _ScanDataset(self, initial_state, scan_func)


class Iterator:
    """An iterator over a ``Dataset`` (``iter(dataset)``); ``get_next`` raises
    ``tf.errors.OutOfRangeError`` at the end where ``next`` raises ``StopIteration``.

    >>> import tapeflow as tf
    >>> it = iter(tf.data.Dataset.range(1))
    >>> int(it.get_next())
    0
    """

    def __init__(self, dataset):
        self._dataset = dataset
        self._gen = dataset._elements()

    @property
    def element_spec(self):
        return self._dataset.element_spec

    def __iter__(self):
        return self

    def __next__(self):
        return st.to_tensors(next(self._gen))

    def get_next(self):
        try:
            return self.__next__()
        except StopIteration:
            raise OutOfRangeError("End of sequence") from None

    def get_next_as_optional(self):
        raise NotImplementedError("get_next_as_optional is not supported; use get_next.")


# ---- sources ------------------------------------------------------------------------------

def _rows(plan):
    template, flat, chunks = plan
    single = not isinstance(template, (tuple, dict))
    for c in chunks():
        for i in c:
            if single:
                yield flat[0][i]
            else:
                yield st.pack(template, [a[i] for a in flat])


class _TensorSliceDataset(Dataset):
    def __init__(self, tensors):
        self._data = st.normalize(tensors)
        flat = st.flatten(self._data)
        if not flat:
            raise ValueError("`from_tensor_slices` needs at least one tensor.")
        n = None
        for a in flat:
            if a.ndim == 0:
                raise ValueError("Unbatching a tensor is only supported for rank >= 1, but "
                                 f"received a tensor of shape {list(a.shape)}.")
            if n is not None and a.shape[0] != n:
                raise ValueError(f"Dimensions {n} and {a.shape[0]} are not compatible: all "
                                 f"components must have the same size in their first dimension.")
            n = a.shape[0]
        self._flat, self._n = flat, n

    def _index_plan(self):
        n = self._n
        return self._data, self._flat, lambda: iter((range(n),))

    def _elements(self):
        return _rows(self._index_plan())

    def _card(self):
        return self._n

    def _compute_spec(self):
        return st.map_leaves(lambda a: TensorSpec(a.shape[1:], _dt.from_numpy(a.dtype)),
                             self._data)


class _TensorDataset(Dataset):
    def __init__(self, tensors):
        self._data = st.normalize(tensors)

    def _elements(self):
        yield self._data

    def _card(self):
        return 1

    def _compute_spec(self):
        return st.spec_of(self._data)


class _RangeDataset(Dataset):
    def __init__(self, *args, output_type=_dt.int64):
        if not 1 <= len(args) <= 3:
            raise TypeError(f"range() takes 1 to 3 arguments (start, stop, step), "
                            f"received: {len(args)}")
        args = [_check_count(a, "range argument", minimum=-(2**63)) for a in args]
        if len(args) == 1:
            args = [0, args[0]]
        start, stop, step = (args + [1])[:3]
        if step == 0:
            raise InvalidArgumentError("step must be a non-zero integer.")
        self._range = range(start, stop, step)
        self._dtype = _dt.as_dtype(output_type)

    def _elements(self):
        np_type = self._dtype.as_numpy_dtype
        for i in self._range:
            yield np.array(i, dtype=np_type)

    def _card(self):
        return len(self._range)

    def _compute_spec(self):
        return TensorSpec([], self._dtype)


def _signature(output_types, output_shapes, output_signature):
    if output_signature is not None:
        if output_types is not None:
            raise TypeError("The `output_types` argument can not be used together with the "
                            "`output_signature` argument.")
        if output_shapes is not None:
            raise TypeError("The `output_shapes` argument can not be used together with the "
                            "`output_signature` argument.")
        for s in st.flatten(st.map_leaves(lambda x: x, _tuplify(output_signature))):
            if not isinstance(s, TensorSpec):
                raise TypeError(f"`output_signature` must contain objects that are subclass of "
                                f"`tf.TypeSpec` but found {type(s)} which is not.")
        return _tuplify(output_signature)
    if output_types is None:
        raise TypeError("To specify the output signature you need to provide either the "
                        "`output_signature` argument or the `output_types` argument.")
    types = _tuplify(output_types)
    if output_shapes is None:
        return st.map_leaves(lambda t: TensorSpec(None, t), types)
    shapes = _tuplify_shapes(output_shapes, types)
    flat_t, flat_s = st.flatten(types), st.flatten(shapes)
    return st.pack(types, [TensorSpec(s, t) for t, s in zip(flat_t, flat_s, strict=True)])


def _tuplify(s):
    if isinstance(s, list):
        return tuple(_tuplify(x) for x in s)
    if type(s) is tuple:
        return tuple(_tuplify(x) for x in s)
    if isinstance(s, dict):
        return {k: _tuplify(v) for k, v in s.items()}
    return s


def _tuplify_shapes(shapes, types):
    # Shapes are lists of ints, so follow the structure of ``types`` rather than guessing.
    if isinstance(types, tuple):
        return tuple(_tuplify_shapes(s, t) for s, t in zip(shapes, types, strict=True))
    if isinstance(types, dict):
        return {k: _tuplify_shapes(shapes[k], types[k]) for k in types}
    return TensorShape(shapes)


class _DTypeName:
    """Prints as ``tf.int32`` inside the structure an error message shows."""

    def __init__(self, dtype):
        self._dtype = dtype

    def __repr__(self):
        return f"tf.{self._dtype.name}"


class _GeneratorDataset(Dataset):
    def __init__(self, generator, output_types, output_shapes, args, output_signature):
        if not callable(generator):
            raise TypeError(f"`generator` must be a Python callable, received: {generator!r}")
        self._gen = generator
        # As in TensorFlow, ``args`` become tensors and reach the generator as NumPy values
        # (NumPy scalars, arrays, ``bytes`` for strings).
        self._args = () if args is None else tuple(
            st.to_numpy(st.to_array(a)) for a in args)
        self._signature = _signature(output_types, output_shapes, output_signature)
        self._flat_specs = st.flatten(self._signature)

    def _convert(self, value):
        sig = self._signature
        if not isinstance(sig, (tuple, dict)) and isinstance(value, (tuple, dict)):
            raise InvalidArgumentError(
                f"`generator` yielded an element that could not be converted to the expected "
                f"type. The expected type was {sig.dtype.name}, but the yielded element was "
                f"{value!r}.")
        if isinstance(sig, (tuple, dict)) and (
                not st.same_structure(sig, value if isinstance(value, (tuple, dict)) else 0)
                or len(st.flatten(value)) != len(self._flat_specs)):
            expected = st.map_leaves(lambda sp: _DTypeName(sp.dtype), sig)
            raise InvalidArgumentError(
                f"`generator` yielded an element that did not match the expected structure. The "
                f"expected structure was {expected}, but the yielded element was {value!r}.")
        out = []
        for v, spec in zip(st.flatten(value), self._flat_specs, strict=True):
            want = spec.dtype.as_numpy_dtype
            try:
                if st.is_tensorlike(v):
                    v = st.to_array(v)
                # As TensorFlow's py_func does: np.asarray with the expected dtype.
                arr = np.asarray(v) if spec.dtype == _dt.string else np.asarray(v, dtype=want)
                if v is None or arr.dtype.kind == "O" and spec.dtype != _dt.string:
                    raise TypeError
            except (TypeError, ValueError, OverflowError):
                raise InvalidArgumentError(
                    f"`generator` yielded an element that could not be converted to the "
                    f"expected type. The expected type was {spec.dtype.name}, but the yielded "
                    f"element was {v!r}.") from None
            if not spec.shape.is_compatible_with(arr.shape):
                raise InvalidArgumentError(
                    f"`generator` yielded an element of shape {TensorShape(arr.shape)} where an "
                    f"element of shape {spec.shape} was expected.")
            out.append(arr)
        return st.pack(sig, out)

    def _elements(self):
        it = iter(self._gen(*self._args))
        try:
            while True:
                try:
                    value = next(it)
                except StopIteration:
                    return
                except Exception as e:  # noqa: BLE001 - TensorFlow reports it as UnknownError
                    if isinstance(e, (OpError, GeneratorExit)):
                        raise
                    raise UnknownError(f"{type(e).__name__}: {e}") from e
                yield self._convert(value)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def _compute_spec(self):
        return self._signature


# ---- transformations ----------------------------------------------------------------------

class _UnaryDataset(Dataset):
    def __init__(self, input_dataset):
        if not isinstance(input_dataset, Dataset):
            raise TypeError(f"Expected a tf.data.Dataset, received: {input_dataset!r}")
        self._input = input_dataset

    def _inputs(self):
        return [self._input, *self._input._inputs()]

    def _card(self):
        return self._input._card()

    def _compute_spec(self):
        return self._input.element_spec

    def _elements(self):
        plan = self._index_plan()
        if plan is not None:
            return _rows(plan)
        return self._generic_elements()

    def _generic_elements(self):
        raise NotImplementedError


class _PassThroughDataset(_UnaryDataset):
    def _index_plan(self):
        return self._input._index_plan()

    def _generic_elements(self):
        return self._input._elements()


def _gather(template, flat, pieces):
    if len(pieces) == 1 and isinstance(pieces[0], range):
        p = pieces[0]
        sl = slice(p.start, p.stop, p.step)
        cols = [a[sl] for a in flat]
    else:
        idx = np.concatenate([np.arange(p.start, p.stop, p.step) if isinstance(p, range) else p
                              for p in pieces]) if len(pieces) > 1 else pieces[0]
        cols = [np.take(a, idx, axis=0) for a in flat]
    if not isinstance(template, (tuple, dict)):
        return cols[0]
    return st.pack(template, cols)


def _stack(elements, what="batch"):
    flats = [st.flatten(e) for e in elements]
    cols = []
    for j in range(len(flats[0])):
        parts = [f[j] for f in flats]
        shape0 = np.shape(parts[0])
        for k, p in enumerate(parts):
            if np.shape(p) != shape0:
                raise InvalidArgumentError(
                    f"Cannot {what} tensors with different shapes in component {j}. First element "
                    f"had shape {list(shape0)} and element {k} had shape {list(np.shape(p))}.")
        cols.append(np.stack(parts))
    return st.pack(elements[0], cols)


class _BatchDataset(_UnaryDataset):
    def __init__(self, input_dataset, batch_size, drop_remainder):
        super().__init__(input_dataset)
        self._bs = _check_count(batch_size, "batch_size", minimum=-(2**62))
        if self._bs <= 0:
            raise InvalidArgumentError(f"Batch size must be greater than zero, received: "
                                       f"{self._bs}")
        self._drop = bool(drop_remainder)

    def _card(self):
        n = self._input._card()
        if n < 0:
            return n
        return n // self._bs if self._drop else -(-n // self._bs)

    def _compute_spec(self):
        return st.spec_with_batch(self._input.element_spec, self._bs if self._drop else None)

    def _elements(self):
        plan = self._input._index_plan()
        if plan is not None:
            return self._from_plan(plan)
        return self._generic_elements()

    def _from_plan(self, plan):
        template, flat, chunks = plan
        bs, pieces, have = self._bs, [], 0
        for c in chunks():
            while len(c):
                p, c = c[:bs - have], c[bs - have:]
                pieces.append(p)
                have += len(p)
                if have == bs:
                    yield _gather(template, flat, pieces)
                    pieces, have = [], 0
        if have and not self._drop:
            yield _gather(template, flat, pieces)

    def _generic_elements(self):
        buf = []
        for e in self._input._elements():
            buf.append(e)
            if len(buf) == self._bs:
                yield _stack(buf)
                buf = []
        if buf and not self._drop:
            yield _stack(buf)


class _PaddedBatchDataset(_BatchDataset):
    def __init__(self, input_dataset, batch_size, padded_shapes, padding_values, drop_remainder):
        super().__init__(input_dataset, batch_size, drop_remainder)
        spec = input_dataset.element_spec
        flat_spec = st.flatten(spec)
        if padded_shapes is None:
            shapes = [s.shape for s in flat_spec]
            for i, s in enumerate(shapes):
                if s.rank is None:
                    raise ValueError(f"You must provide `padded_shapes` argument because "
                                     f"component {i} has unknown rank.")
            shapes = [TensorShape([None] * s.rank) for s in shapes]
        else:
            shapes = [TensorShape([None if d in (-1, None) else int(d) for d in s])
                      for s in _flat_shapes(padded_shapes, spec)]
        for s, sp in zip(shapes, flat_spec, strict=True):
            if sp.shape.rank is not None and (sp.shape.rank != len(s) or any(
                    a is not None and b is not None and b < a
                    for a, b in zip(sp.shape, s, strict=True))):
                raise ValueError(f"The padded shape {s} is not compatible with the shape "
                                 f"{sp.shape} of the corresponding input component.")
        self._shapes = shapes
        if padding_values is None:
            self._pads = [b"" if sp.dtype == _dt.string else 0 for sp in flat_spec]
        else:
            pv = _tuplify(padding_values)
            if isinstance(pv, (tuple, dict)):
                if not st.same_structure(spec, pv):
                    raise TypeError(f"Invalid `padding_values`: its structure {padding_values!r} "
                                    f"does not match the element structure {spec}.")
                pads = st.flatten(pv)
            else:
                pads = [pv] * len(flat_spec)
            self._pads = [self._check_pad(p, sp) for p, sp in zip(pads, flat_spec, strict=True)]
        self._template = spec

    @staticmethod
    def _check_pad(value, spec):
        arr = st.to_array(value)
        if arr.ndim != 0:
            raise ValueError(f"Invalid `padding_values`. `padding_values` values should be "
                             f"scalars, but got {tuple(arr.shape)}.")
        got = _dt.from_numpy(arr.dtype)
        if got != spec.dtype:  # as in TensorFlow, Python values take their default dtype
            raise TypeError(f"Invalid `padding_values`. `padding_values` values type {got} does "
                            f"not match type {spec.dtype} of the corresponding input component.")
        return arr

    def _compute_spec(self):
        flat = [TensorSpec(TensorShape([self._bs if self._drop else None]).concatenate(s),
                           sp.dtype)
                for s, sp in zip(self._shapes, st.flatten(self._input.element_spec), strict=True)]
        return st.pack(self._input.element_spec, flat)

    def _elements(self):
        return self._generic_elements()

    def _pad(self, elements):
        flats = [st.flatten(e) for e in elements]
        cols = []
        for j, (shape, pad) in enumerate(zip(self._shapes, self._pads, strict=True)):
            parts = [f[j] for f in flats]
            target = [max(np.shape(p)[k] for p in parts) if d is None else d
                      for k, d in enumerate(shape)]
            dtype = parts[0].dtype
            out = np.full([len(parts)] + target, pad, dtype=dtype)
            for i, p in enumerate(parts):
                if any(a > b for a, b in zip(p.shape, target, strict=True)):
                    raise DataLossError(
                        f"Attempted to pad to a smaller size than the input element: component "
                        f"{j} has shape {list(p.shape)}, padded shape is {target}.")
                out[(i,) + tuple(slice(0, d) for d in p.shape)] = p
            cols.append(out)
        return st.pack(elements[0], cols)

    def _generic_elements(self):
        buf = []
        for e in self._input._elements():
            buf.append(e)
            if len(buf) == self._bs:
                yield self._pad(buf)
                buf = []
        if buf and not self._drop:
            yield self._pad(buf)


def _flat_shapes(padded_shapes, spec):
    if (isinstance(spec, tuple) and not (isinstance(padded_shapes, (tuple, list))
                                         and len(padded_shapes) == len(spec))) or (
            isinstance(spec, dict) and not (isinstance(padded_shapes, dict)
                                            and set(padded_shapes) == set(spec))):
        raise TypeError(f"Invalid `padded_shapes`: its structure {padded_shapes!r} does not "
                        f"match the element structure {spec}.")
    if isinstance(spec, tuple):
        return [s for ps, sp in zip(padded_shapes, spec, strict=True)
                for s in _flat_shapes(ps, sp)]
    if isinstance(spec, dict):
        return [s for k in sorted(spec) for s in _flat_shapes(padded_shapes[k], spec[k])]
    if st.is_tensorlike(padded_shapes) or isinstance(padded_shapes, np.ndarray):
        padded_shapes = st.to_array(padded_shapes).tolist()
    shape = TensorShape(padded_shapes)
    if shape.rank is None:
        raise ValueError("padded_batch: every padded shape must have a known rank.")
    return [shape.as_list()]


class _UnbatchDataset(_UnaryDataset):
    def __init__(self, input_dataset):
        super().__init__(input_dataset)
        try:
            spec = input_dataset.element_spec
        except ValueError:  # not inferable yet (a map over an empty dataset): checked later
            return
        self._spec_cache = st.spec_without_batch(spec)  # raises now, as TensorFlow does

    def _card(self):
        n = self._input._card()
        if n == INFINITE:
            return n
        try:
            dims = {s.shape[0] for s in st.flatten(self._input.element_spec) if s.shape.rank}
        except ValueError:
            return UNKNOWN
        if n >= 0 and len(dims) == 1 and None not in dims:
            return n * dims.pop()
        return UNKNOWN

    def _compute_spec(self):
        return st.spec_without_batch(self._input.element_spec)

    def _elements(self):
        for e in self._input._elements():
            flat = st.flatten(e)
            n = flat[0].shape[0] if flat[0].ndim else None
            if n is None or any(a.ndim == 0 or a.shape[0] != n for a in flat):
                raise InvalidArgumentError(
                    f"Input element must have a non-scalar value in each component, all with "
                    f"the same first dimension; received shapes "
                    f"{[list(a.shape) for a in flat]}.")
            if not isinstance(e, (tuple, dict)):
                yield from flat[0]
                continue
            for i in range(n):
                yield st.pack(e, [a[i] for a in flat])


class _MapDataset(_UnaryDataset):
    # A call must take this long (seconds) for the thread pool to be used.
    _PARALLEL_THRESHOLD = 2e-4

    def __init__(self, input_dataset, fn, parallelism=1, raw=False, spec=None):
        super().__init__(input_dataset)
        self._fn, self._parallel, self._raw = fn, parallelism, raw
        self._spec_cache = spec

    def _apply(self, e):
        if self._raw:
            return self._fn(e)
        return st.normalize_returned(st.call(self._fn, e))

    def _compute_spec(self):
        # Without tracing, the spec is read off the first element. Where the input has an
        # unknown leading (batch) dimension, output dimensions of that first size are taken
        # to be that batch dimension and left unknown, as TensorFlow's traced spec has them.
        first_in = _peek_first(self._input._elements)
        if first_in is _END:
            raise ValueError("Cannot infer the element_spec of a map over an empty dataset.")
        spec = st.spec_of(self._apply(first_in))
        batch = {a.shape[0] for a, sp in zip(st.flatten(first_in),
                                              st.flatten(self._input.element_spec), strict=True)
                 if sp.shape.rank and sp.shape[0] is None and a.ndim}
        if len(batch) != 1:
            return spec
        b = batch.pop()
        return st.map_leaves(lambda sp: TensorSpec([None] + sp.shape.as_list()[1:], sp.dtype)
                             if sp.shape.rank and sp.shape[0] == b else sp, spec)

    def _elements(self):
        it = self._input._elements()
        if self._parallel <= 1:
            apply = self._apply
            for e in it:
                yield apply(e)
            return
        first = next(it, _END)
        if first is _END:
            return
        t0 = time.perf_counter()
        out = self._apply(first)
        slow = time.perf_counter() - t0 > self._PARALLEL_THRESHOLD
        yield out
        if not slow:
            for e in it:
                yield self._apply(e)
            return
        yield from self._parallel_apply(it)

    def _parallel_apply(self, it):
        pool = ThreadPoolExecutor(max_workers=self._parallel)
        window = collections.deque()
        try:
            for e in it:
                window.append(pool.submit(self._apply, e))
                if len(window) >= 2 * self._parallel:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class _FilterDataset(_UnaryDataset):
    def __init__(self, input_dataset, predicate):
        super().__init__(input_dataset)
        self._pred = predicate

    def _card(self):
        return UNKNOWN

    def _elements(self):
        for e in self._input._elements():
            if st.check_scalar_bool(st.call(self._pred, e), "predicate"):
                yield e


class _TakeWhileDataset(_FilterDataset):
    def _elements(self):
        for e in self._input._elements():
            if not st.check_scalar_bool(st.call(self._pred, e), "predicate"):
                return
            yield e


class _ScanDataset(_UnaryDataset):
    def __init__(self, input_dataset, initial_state, fn):
        super().__init__(input_dataset)
        self._init, self._fn = st.normalize(initial_state), fn

    def _compute_spec(self):
        first = _peek_first(self._elements)
        if first is _END:
            raise ValueError("Cannot infer the element_spec of a scan over an empty dataset.")
        return st.spec_of(first)

    def _elements(self):
        state = st.to_tensors(self._init)
        for e in self._input._elements():
            out = self._fn(state, st.to_tensors(e))  # the element as one argument
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise TypeError("`scan_func` must return a pair (new_state, output_element).")
            state = st.to_tensors(st.normalize_returned(out[0]))
            yield st.normalize_returned(out[1])


class _RepeatDataset(_UnaryDataset):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = count

    def _card(self):
        n = self._input._card()
        if self._count == -1:
            return 0 if n == 0 else INFINITE
        if n < 0:
            return n if self._count != 0 else 0
        return n * self._count

    def _index_plan(self):
        plan = self._input._index_plan()
        if plan is None:
            return None
        template, flat, chunks = plan

        def repeated():
            epoch = 0
            while self._count == -1 or epoch < self._count:
                empty = True
                for c in chunks():
                    empty = empty and len(c) == 0
                    yield c
                if empty:
                    return
                epoch += 1
        return template, flat, repeated

    def _generic_elements(self):
        epoch = 0
        while self._count == -1 or epoch < self._count:
            empty = True
            for e in self._input._elements():
                empty = False
                yield e
            if empty:
                return
            epoch += 1


class _TakeDataset(_UnaryDataset):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._raw_count = count  # TensorFlow: any negative count takes everything
        self._count = max(count, -1)

    def _card(self):
        n = self._input._card()
        if self._raw_count < -1:
            return UNKNOWN
        if self._count == -1:
            return n
        if n == INFINITE:
            return self._count
        if n == UNKNOWN:
            return UNKNOWN
        return min(n, self._count)

    def _index_plan(self):
        plan = self._input._index_plan()
        if plan is None:
            return None
        template, flat, chunks = plan
        count = self._count

        def taken():
            left = count
            for c in chunks():
                if left == -1:
                    yield c
                    continue
                if left <= 0:
                    return
                c = c[:left]
                left -= len(c)
                yield c
        return template, flat, taken

    def _generic_elements(self):
        if self._count == -1:
            yield from self._input._elements()
            return
        if self._count == 0:
            return
        for i, e in enumerate(self._input._elements(), 1):
            yield e
            if i >= self._count:
                return


class _SkipDataset(_UnaryDataset):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = count

    def _card(self):
        n = self._input._card()
        if n < 0:
            return n
        return 0 if self._count == -1 else max(0, n - self._count)

    def _index_plan(self):
        plan = self._input._index_plan()
        if plan is None:
            return None
        template, flat, chunks = plan
        count = self._count

        def skipped():
            left = count
            for c in chunks():
                if left == -1:
                    continue
                if left > 0:
                    k = min(left, len(c))
                    c, left = c[k:], left - k
                if len(c):
                    yield c
        return template, flat, skipped

    def _generic_elements(self):
        if self._count == -1:
            for _ in self._input._elements():
                pass
            return
        for i, e in enumerate(self._input._elements()):
            if i >= self._count:
                yield e


class _ShardDataset(_UnaryDataset):
    def __init__(self, input_dataset, num_shards, index):
        super().__init__(input_dataset)
        self._k, self._index = num_shards, index

    def _card(self):
        n = self._input._card()
        if n < 0:
            return n
        return n // self._k + (1 if n % self._k > self._index else 0)

    def _index_plan(self):
        plan = self._input._index_plan()
        if plan is None:
            return None
        template, flat, chunks = plan
        k, index = self._k, self._index

        def sharded():
            pos = 0
            for c in chunks():
                first = (index - pos) % k
                pos += len(c)
                c = c[first::k]
                if len(c):
                    yield c
        return template, flat, sharded

    def _generic_elements(self):
        for i, e in enumerate(self._input._elements()):
            if i % self._k == self._index:
                yield e


class _ShuffleDataset(_UnaryDataset):
    def __init__(self, input_dataset, buffer_size, seed, reshuffle_each_iteration):
        super().__init__(input_dataset)
        self._buffer = _check_count(buffer_size, "buffer_size", minimum=-(2**62))
        if self._buffer == UNKNOWN:  # TensorFlow: a buffer as large as the dataset
            self._buffer = 2**62
        if self._buffer <= 0:
            raise InvalidArgumentError(f"buffer_size must be greater than zero or "
                                       f"UNKNOWN_CARDINALITY, received: {self._buffer}")
        self._seed = _draw_seed(seed)
        self._reshuffle = bool(reshuffle_each_iteration)
        self._epoch = 0
        self._lock = threading.Lock()

    def _rng(self):
        with self._lock:
            epoch = self._epoch
            if self._reshuffle and not _PEEKING[0]:
                self._epoch += 1
        return np.random.default_rng([self._seed, epoch])

    def _index_plan(self):
        plan = self._input._index_plan()
        if plan is None:
            return None
        template, flat, chunks = plan
        n = self._input._card()

        def shuffled():
            rng = self._rng()
            if 0 <= n <= self._buffer:  # the buffer holds everything: a uniform permutation
                parts = [np.arange(c.start, c.stop, c.step) if isinstance(c, range) else c
                         for c in chunks()]
                if parts:
                    yield rng.permutation(np.concatenate(parts))
                return
            out = []
            for i in _buffer_shuffle((i for c in chunks() for i in c), self._buffer, rng):
                out.append(i)
                if len(out) == _CHUNK:
                    yield np.array(out, dtype=np.int64)
                    out = []
            if out:
                yield np.array(out, dtype=np.int64)
        return template, flat, shuffled

    def _generic_elements(self):
        return _buffer_shuffle(self._input._elements(), self._buffer, self._rng())


def _buffer_shuffle(items, size, rng):
    """TensorFlow's shuffle: fill a buffer of ``size``, then emit a random slot and refill it."""
    buf = []
    it = iter(items)
    for x in it:
        buf.append(x)
        if len(buf) == size:
            break
    draws, k = None, _CHUNK  # random slots, drawn in blocks (and only once needed)
    for x in it:
        if k == _CHUNK:
            draws, k = rng.integers(0, size, _CHUNK), 0
        j = draws[k]
        k += 1
        yield buf[j]
        buf[j] = x
    for j in rng.permutation(len(buf)):
        yield buf[j]


class _PrefetchDataset(_UnaryDataset):
    def __init__(self, input_dataset, buffer_size):
        super().__init__(input_dataset)
        self._size = buffer_size

    def _index_plan(self):
        return self._input._index_plan()

    def _elements(self):
        if self._size == 0 or self._cheap(self._input):
            return self._input._elements()
        return _background(self._input._elements(), self._size)

    @staticmethod
    def _cheap(ds):
        # Rows or batches sliced from in-memory arrays cost less than a thread hand-off
        # (about 25 us), so they are produced in the consumer's thread.
        if type(ds) is _BatchDataset:
            ds = ds._input
        return ds._index_plan() is not None


def _background(gen, size):
    """Runs ``gen`` on a daemon thread, at most ``size`` elements ahead of the consumer."""
    q = queue.Queue(maxsize=size)
    stop = threading.Event()
    done = object()

    def produce():
        try:
            for e in gen:
                while not stop.is_set():
                    try:
                        q.put((e, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            else:
                q.put((done, None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            q.put((done, exc))
        finally:
            gen.close()

    thread = threading.Thread(target=produce, daemon=True, name="tapeflow-prefetch")
    thread.start()
    try:
        while True:
            e, exc = q.get()
            if e is done:
                if exc is not None:
                    raise exc
                return
            yield e
    finally:
        stop.set()


class _CacheDataset(_UnaryDataset):
    _TF_NAME = "CacheDataset"
    def __init__(self, input_dataset):
        super().__init__(input_dataset)
        self._cached = None

    def _index_plan(self):
        # Rows of in-memory arrays are already cached; keep the fast path.
        return self._input._index_plan()

    def _generic_elements(self):
        if self._cached is not None:
            yield from self._cached
            return
        seen = []
        for e in self._input._elements():
            seen.append(e)
            yield e
        self._cached = seen


def _describe(s):
    """A JSON description of an element structure (leaves are null)."""
    if isinstance(s, tuple):
        return {"tuple": [_describe(x) for x in s]}
    if isinstance(s, dict):
        return {"dict": [[k, _describe(s[k])] for k in s]}
    return None


def _rebuild(d):
    if d is None:
        return 0
    if "tuple" in d:
        return tuple(_rebuild(x) for x in d["tuple"])
    return {k: _rebuild(v) for k, v in d["dict"]}


class _FileCacheDataset(_UnaryDataset):
    """Caches elements in ``<filename>.<k>.npz`` shards of ``_SHARD`` elements each, indexed by
    ``<filename>.index.json`` written last (so a partial cache is never read back)."""

    _SHARD = 256
    _TF_NAME = "CacheDataset"

    def __init__(self, input_dataset, filename):
        super().__init__(input_dataset)
        self._filename = filename

    def _index_file(self):
        return self._filename + ".index.json"

    def _elements(self):
        import json  # noqa: PLC0415

        index = self._index_file()
        if os.path.exists(index):
            with open(index, encoding="utf-8") as f:
                meta = json.load(f)
            return self._read(meta, _rebuild(meta["structure"]))
        if _PEEKING[0]:
            return self._input._elements()
        return self._write(json)

    def _read(self, meta, template):
        for k in range(meta["shards"]):
            with np.load(f"{self._filename}.{k}.npz", allow_pickle=False) as z:
                n = int(z["n"])
                leaves = meta["leaves"]
                for i in range(n):
                    yield st.pack(template, [z[f"e{i}_{j}"] for j in range(leaves)])

    def _write(self, json):
        shards, buf, structure, leaves = 0, {}, None, 0
        n = 0
        tmp_files = []
        try:
            for e in self._input._elements():
                if structure is None:
                    structure, leaves = _describe(e), len(st.flatten(e))
                for j, a in enumerate(st.flatten(e)):
                    buf[f"e{n}_{j}"] = np.asarray(a)
                n += 1
                yield e
                if n == self._SHARD:
                    tmp_files.append(self._flush(shards, buf, n))
                    shards, buf, n = shards + 1, {}, 0
            if n:
                tmp_files.append(self._flush(shards, buf, n))
                shards += 1
        except BaseException:  # an abandoned or failed first pass leaves no files behind
            for tmp in tmp_files:
                if os.path.exists(tmp):
                    os.remove(tmp)
            raise
        for k, tmp in enumerate(tmp_files):
            os.replace(tmp, f"{self._filename}.{k}.npz")
        with open(self._index_file() + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"shards": shards, "leaves": leaves, "structure": structure}, f)
        os.replace(self._index_file() + ".tmp", self._index_file())

    def _flush(self, k, buf, n):
        tmp = f"{self._filename}.{k}.tmp.npz"
        for a in buf.values():
            if a.dtype.kind == "O":
                raise InvalidArgumentError("cache(filename) can store numeric and byte-string "
                                           "tensors only.")
        try:
            np.savez(tmp, n=np.array(n), **buf)
        except FileNotFoundError:
            raise NotFoundError(f"{tmp}; No such file or directory: the folder of the cache "
                                f"file {self._filename!r} does not exist.") from None
        return tmp


class _EnumerateDataset(_UnaryDataset):
    _TF_NAME = "_ZipDataset"  # TensorFlow builds enumerate as zip(range, dataset)
    def __init__(self, input_dataset, start):
        super().__init__(input_dataset)
        self._start = start

    def _compute_spec(self):
        return (TensorSpec([], _dt.int64), self._input.element_spec)

    def _elements(self):
        for i, e in enumerate(self._input._elements(), self._start):
            yield np.array(i, dtype=np.int64), e


def _check_zip_input(s):
    if isinstance(s, Dataset):
        return
    if isinstance(s, list):
        raise TypeError("Invalid input to `zip`. Inputs are expected to be (nested) structures "
                        "of `tf.data.Dataset` objects. Python `list` is not supported and you "
                        "should use `tuple` instead.")
    if isinstance(s, tuple):
        for x in s:
            _check_zip_input(x)
    elif isinstance(s, dict):
        for x in s.values():
            _check_zip_input(x)
    else:
        raise TypeError(f"Invalid input to `zip`. Inputs are expected to be (nested) structures "
                        f"of `tf.data.Dataset` objects but encountered object of type "
                        f"{type(s)}.")


class _ZipDataset(Dataset):
    def __init__(self, datasets):
        _check_zip_input(datasets)
        flat = [datasets] if isinstance(datasets, Dataset) else st.flatten(datasets)
        if not flat:
            raise InvalidArgumentError("`zip` needs at least one dataset, received an empty "
                                       "structure.")
        self._structure, self._flat = datasets, flat

    def _inputs(self):
        return list(self._flat)

    def _card(self):
        cards = [d._card() for d in self._flat]
        if UNKNOWN in cards:  # as in TensorFlow, an unknown input makes the zip unknown
            return UNKNOWN
        finite = [c for c in cards if c >= 0]
        return min(finite) if finite else INFINITE

    def _compute_spec(self):
        if isinstance(self._structure, Dataset):
            return self._structure.element_spec
        return st.pack(self._structure, [d.element_spec for d in self._flat])

    def _elements(self):
        its = [d._elements() for d in self._flat]
        single = isinstance(self._structure, Dataset)
        while True:
            parts = []
            for it in its:
                e = next(it, _END)
                if e is _END:
                    return
                parts.append(e)
            yield parts[0] if single else st.pack(self._structure, parts)


class _ConcatenateDataset(Dataset):
    def __init__(self, first, second):
        if not isinstance(second, Dataset):
            raise TypeError(f"concatenate expects a Dataset, received: {second!r}")
        self._a, self._b = first, second
        st.spec_union(first.element_spec, second.element_spec)  # raises when incompatible

    def _inputs(self):
        return [self._a, self._b]

    def _card(self):
        a, b = self._a._card(), self._b._card()
        if INFINITE in (a, b):
            return INFINITE
        if UNKNOWN in (a, b):
            return UNKNOWN
        return a + b

    def _compute_spec(self):
        return st.spec_union(self._a.element_spec, self._b.element_spec)

    def _elements(self):
        yield from self._a._elements()
        yield from self._b._elements()


def _as_dataset(fn, e):
    ds = st.call(fn, e)
    if not isinstance(ds, Dataset):
        raise TypeError(f"The function passed to flat_map/interleave must return a Dataset, "
                        f"received: {ds!r}")
    return ds


class _FlatMapDataset(_UnaryDataset):
    def __init__(self, input_dataset, fn):
        super().__init__(input_dataset)
        self._fn = fn

    def _card(self):
        return UNKNOWN  # as in TensorFlow, even over an empty input

    def _compute_spec(self):
        e = _peek_first(self._input._elements)
        if e is _END:
            raise ValueError("Cannot infer the element_spec of a flat_map over an empty dataset.")
        return _as_dataset(self._fn, e).element_spec

    def _elements(self):
        for e in self._input._elements():
            yield from _as_dataset(self._fn, e)._elements()


class _InterleaveDataset(_FlatMapDataset):
    def __init__(self, input_dataset, fn, cycle, block):
        super().__init__(input_dataset, fn)
        self._cycle, self._block = cycle, block

    def _elements(self):
        source = self._input._elements()
        slots = [None] * self._cycle
        exhausted = False
        while True:
            active = False
            for s in range(self._cycle):
                if slots[s] is None and not exhausted:
                    e = next(source, _END)
                    if e is _END:
                        exhausted = True
                    else:
                        slots[s] = _as_dataset(self._fn, e)._elements()
                if slots[s] is None:
                    continue
                active = True
                for _ in range(self._block):
                    x = next(slots[s], _END)
                    if x is _END:
                        slots[s] = None
                        break
                    yield x
            if not active and exhausted:
                return


class TextLineDataset(Dataset):
    """The lines of one or more text files, as byte strings without the line ending.

    >>> import os, tempfile
    >>> import tapeflow as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("one\\ntwo\\n")
    >>> [bytes(t.numpy()) for t in tf.data.TextLineDataset(path)]
    [b'one', b'two']
    """

    def __init__(self, filenames, compression_type=None, buffer_size=None, num_parallel_reads=None,
                 name=None):
        if compression_type not in (None, "", "GZIP"):
            raise ValueError(f"`compression_type` must be None, '' or 'GZIP', received: "
                             f"{compression_type!r}")
        if st.is_tensorlike(filenames) or isinstance(filenames, np.ndarray):
            filenames = st.to_array(filenames).reshape(-1).tolist()
        elif isinstance(filenames, (str, bytes, os.PathLike)):
            filenames = [filenames]
        self._files = [os.fsdecode(f) for f in filenames]
        self._gzip = compression_type == "GZIP"

    def _compute_spec(self):
        return TensorSpec([], _dt.string)

    def _elements(self):
        import gzip  # noqa: PLC0415

        for name in self._files:
            opener = gzip.open if self._gzip else open
            with opener(name, "rb") as f:
                for line in f:
                    yield np.array(line.rstrip(b"\r\n"))


class _UniqueDataset(_UnaryDataset):
    def __init__(self, input_dataset):
        super().__init__(input_dataset)
        spec = input_dataset.element_spec
        if not isinstance(spec, TensorSpec) or spec.dtype not in (
                _dt.int32, _dt.int64, _dt.string):
            raise TypeError(f"unique() supports only datasets of int32, int64 or string "
                            f"elements, received: {spec}")

    def _card(self):
        return UNKNOWN if self._input._card() != 0 else 0

    def _elements(self):
        seen = set()
        for e in self._input._elements():
            key = np.asarray(e).item()
            if key not in seen:
                seen.add(key)
                yield e


class _SampleDataset(Dataset):
    def __init__(self, datasets, weights, seed, stop_on_empty):
        if not datasets or not all(isinstance(d, Dataset) for d in datasets):
            raise TypeError("`datasets` must be a non-empty list of Datasets.")
        w = np.full(len(datasets), 1.0 / len(datasets)) if weights is None else np.asarray(
            st.to_array(weights) if st.is_tensorlike(weights) else weights, dtype=np.float64)
        if w.shape != (len(datasets),) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError(f"`weights` must be {len(datasets)} non-negative numbers with a "
                             f"positive sum, received: {weights!r}")
        self._datasets, self._weights = datasets, w / w.sum()
        self._seed, self._stop = _draw_seed(seed), bool(stop_on_empty)
        self._epoch = 0
        st.spec_union(datasets[0].element_spec, datasets[0].element_spec)

    def _inputs(self):
        return list(self._datasets)

    def _compute_spec(self):
        spec = self._datasets[0].element_spec
        for d in self._datasets[1:]:
            spec = st.spec_union(spec, d.element_spec)
        return spec

    def _elements(self):
        rng = np.random.default_rng([self._seed, self._epoch])
        self._epoch += 1
        its = [d._elements() for d in self._datasets]
        w = self._weights.copy()
        while w.sum() > 0:
            i = rng.choice(len(its), p=w / w.sum())
            e = next(its[i], _END)
            if e is _END:
                if self._stop:
                    return
                w[i] = 0.0
                continue
            yield e


class _ChooseDataset(Dataset):
    def __init__(self, datasets, choice_dataset, stop_on_empty):
        if not datasets or not all(isinstance(d, Dataset) for d in datasets):
            raise TypeError("`datasets` must be a non-empty list of Datasets.")
        spec = choice_dataset.element_spec
        if not isinstance(spec, TensorSpec) or spec.dtype != _dt.int64 or spec.shape.rank != 0:
            raise TypeError(f"`choice_dataset` must be a dataset of scalar tf.int64 tensors, "
                            f"received: {spec}")
        self._datasets, self._choice, self._stop = datasets, choice_dataset, stop_on_empty

    def _inputs(self):
        return [*self._datasets, self._choice]

    def _compute_spec(self):
        spec = self._datasets[0].element_spec
        for d in self._datasets[1:]:
            spec = st.spec_union(spec, d.element_spec)
        return spec

    def _elements(self):
        its = [d._elements() for d in self._datasets]
        for c in self._choice._elements():
            c = int(c)
            if not 0 <= c < len(its):
                raise InvalidArgumentError(f"Selected index {c} is out of range for "
                                           f"{len(its)} datasets.")
            e = next(its[c], _END)
            if e is _END:
                if self._stop:
                    return
                continue
            yield e
