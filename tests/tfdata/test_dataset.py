"""tf.data.Dataset against the results TensorFlow's documentation gives for each method.

The expected lists below are the outputs printed in the docstrings of
``tensorflow/python/data/ops/dataset_ops.py`` (TF 2.x) for the same pipelines.
"""

import collections
import threading
import time

import numpy as np
import pytest

import tapeflow as tf
from tapeflow.framework.errors import InvalidArgumentError, OutOfRangeError

Dataset = tf.data.Dataset


def py(ds):
    """The elements as plain Python values (lists, tuples, dicts of ints/floats/bytes)."""
    def conv(v):
        if isinstance(v, tuple):
            return tuple(conv(x) for x in v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return np.asarray(v).tolist()
    return [conv(e) for e in ds.as_numpy_iterator()]


# ---- sources ------------------------------------------------------------------------------

def test_from_tensor_slices_list_tuple_dict():
    assert py(Dataset.from_tensor_slices([1, 2, 3])) == [1, 2, 3]
    assert py(Dataset.from_tensor_slices(([1, 2], [3, 4], [5, 6]))) == [(1, 3, 5), (2, 4, 6)]
    assert py(Dataset.from_tensor_slices({"a": [1, 2], "b": [3, 4]})) == [
        {"a": 1, "b": 3}, {"a": 2, "b": 4}]
    features = tf.constant([[1, 3], [2, 1], [3, 3]])
    labels = tf.constant([0, 1, 0])
    assert py(Dataset.from_tensor_slices((features, labels))) == [
        ([1, 3], 0), ([2, 1], 1), ([3, 3], 0)]


def test_from_tensor_slices_nested_and_namedtuple():
    Point = collections.namedtuple("Point", ["x", "y"])
    ds = Dataset.from_tensor_slices({"a": ([1, 2], [3, 4]), "b": [5, 6]})
    assert py(ds) == [{"a": (1, 3), "b": 5}, {"a": (2, 4), "b": 6}]
    ds = Dataset.from_tensor_slices(Point(np.arange(2.0), np.arange(2)))
    first = next(iter(ds))
    assert isinstance(first, Point) and first.x.dtype == tf.float64 and first.y.dtype == tf.int64


def test_elements_are_tensors_and_dtypes_follow_tf():
    x = next(iter(Dataset.from_tensor_slices([1.5, 2.5])))
    assert isinstance(x, tf.Tensor) and x.shape == () and x.dtype == tf.float32
    x = next(iter(Dataset.from_tensor_slices(np.zeros((3, 2), np.float64))))
    assert x.dtype == tf.float64 and x.shape == (2,)


def test_from_tensor_slices_errors():
    with pytest.raises(ValueError, match="Dimensions 3 and 2 are not compatible"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(2)))
    with pytest.raises(ValueError, match="rank >= 1"):
        Dataset.from_tensor_slices(3)


def test_from_tensors_and_element_spec():
    ds = Dataset.from_tensors(([1, 2, 3], "A"))
    assert len(ds) == 1
    (a, b), = list(ds.as_numpy_iterator())
    assert a.tolist() == [1, 2, 3]
    assert Dataset.from_tensor_slices([1, 2, 3]).element_spec == tf.TensorSpec(
        shape=(), dtype=tf.int32)
    assert repr(Dataset.from_tensor_slices([1, 2, 3]).element_spec) == (
        "TensorSpec(shape=(), dtype=tf.int32, name=None)")


def test_range():
    assert py(Dataset.range(5)) == [0, 1, 2, 3, 4]
    assert py(Dataset.range(2, 5)) == [2, 3, 4]
    assert py(Dataset.range(1, 5, 2)) == [1, 3]
    assert py(Dataset.range(1, 5, -2)) == []
    assert py(Dataset.range(5, 1)) == []
    assert py(Dataset.range(5, 1, -2)) == [5, 3]
    assert py(Dataset.range(2, 5, output_type=tf.int32)) == [2, 3, 4]
    assert Dataset.range(3).element_spec.dtype == tf.int64
    assert next(iter(Dataset.range(2, 5, output_type=tf.int32))).dtype == tf.int32


def test_from_generator():
    def gen():
        yield 1
        yield 2
    ds = Dataset.from_generator(gen, output_signature=tf.TensorSpec(shape=(), dtype=tf.int32))
    assert py(ds.take(3)) == [1, 2]
    assert py(ds) == [1, 2]  # the generator is called again for every iteration
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY


def test_from_generator_args_and_old_signature():
    def gen(stop):
        for i in range(int(stop)):
            yield i, [float(i)] * 2
    ds = Dataset.from_generator(gen, output_types=(tf.int64, tf.float32),
                                output_shapes=((), (2,)), args=(3,))
    assert py(ds) == [(0, [0.0, 0.0]), (1, [1.0, 1.0]), (2, [2.0, 2.0])]
    assert ds.element_spec == (tf.TensorSpec((), tf.int64), tf.TensorSpec((2,), tf.float32))


def test_from_generator_checks_elements():
    sig = tf.TensorSpec(shape=(2,), dtype=tf.float32)
    ds = Dataset.from_generator(lambda: iter([[1.0, 2.0], [1.0, 2.0, 3.0]]),
                                output_signature=sig)
    it = iter(ds)
    assert next(it).numpy().tolist() == [1.0, 2.0]
    with pytest.raises(InvalidArgumentError, match=r"shape \(3,\) where an element of shape "
                                                   r"\(2,\) was expected"):
        next(it)
    ds = Dataset.from_generator(lambda: iter([1]), output_signature=(sig, sig))
    with pytest.raises(InvalidArgumentError, match="did not match the expected structure"):
        list(ds)
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator([1, 2], output_signature=sig)
    with pytest.raises(TypeError, match="output_signature"):
        Dataset.from_generator(lambda: iter([1]))


# ---- batching ------------------------------------------------------------------------------

def test_batch():
    assert py(Dataset.range(8).batch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert py(Dataset.range(8).batch(3, drop_remainder=True)) == [[0, 1, 2], [3, 4, 5]]
    assert Dataset.range(8).batch(3).element_spec.shape == (None,)
    assert Dataset.range(8).batch(3, drop_remainder=True).element_spec.shape == (3,)
    assert len(Dataset.range(8).batch(3)) == 3
    assert len(Dataset.range(8).batch(3, drop_remainder=True)) == 2
    with pytest.raises(InvalidArgumentError, match="Batch size must be greater than zero"):
        Dataset.range(3).batch(0)


def test_batch_fast_path_matches_generic_path():
    x = np.arange(50, dtype=np.float32).reshape(25, 2)
    y = np.arange(25)
    fast = Dataset.from_tensor_slices((x, y)).repeat(2).skip(3).take(40).batch(7)
    slow = Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a, b)).repeat(2).skip(3)
    slow = slow.take(40).batch(7)
    got, want = py(fast), py(slow)
    assert len(got) == 6 and got == want
    assert got[0][1] == [3, 4, 5, 6, 7, 8, 9] and got[3][1] == [24, 0, 1, 2, 3, 4, 5]


def test_batch_generic_shape_mismatch():
    ds = Dataset.range(1, 4).map(lambda x: tf.fill([x], x)).batch(2)
    with pytest.raises(InvalidArgumentError, match="different shapes in component 0"):
        list(ds)


def test_batch_across_repeat_epochs():
    ds = Dataset.from_tensor_slices([1, 2, 3]).repeat(2).batch(4)
    assert py(ds) == [[1, 2, 3, 1], [2, 3]]


def test_padded_batch_documented_examples():
    a = Dataset.range(1, 5, output_type=tf.int32).map(lambda x: tf.fill([x], x))
    assert py(a.padded_batch(2)) == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]]]
    assert py(a.padded_batch(2, padded_shapes=5)) == [
        [[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]], [[3, 3, 3, 0, 0], [4, 4, 4, 4, 0]]]
    assert py(a.padded_batch(2, padded_shapes=5, padding_values=-1)) == [
        [[1, -1, -1, -1, -1], [2, 2, -1, -1, -1]], [[3, 3, 3, -1, -1], [4, 4, 4, 4, -1]]]
    elements = [([1, 2, 3], [10]), ([4, 5], [11, 12])]
    ds = Dataset.from_generator(lambda: iter(elements), (tf.int32, tf.int32))
    assert py(ds.padded_batch(2, padded_shapes=([4], [None]), padding_values=(-1, 100))) == [
        ([[1, 2, 3, -1], [4, 5, -1, -1]], [[10, 100], [11, 12]])]
    with pytest.raises(ValueError, match="component 0 has unknown rank"):
        ds.padded_batch(2)
    e = Dataset.zip((a, a)).padded_batch(2, padded_shapes=([None], [5]))
    assert py(e)[0] == ([[1, 0], [2, 2]], [[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]])
    assert a.padded_batch(2).element_spec.shape.as_list() == [None, None]
    with pytest.raises(ValueError, match="not compatible"):
        Dataset.from_tensor_slices(np.zeros((4, 3))).padded_batch(2, padded_shapes=[2])


def test_unbatch():
    assert py(Dataset.range(5).batch(2).unbatch()) == [0, 1, 2, 3, 4]
    ds = Dataset.from_tensor_slices(([[1, 2], [3, 4]], [[5, 6], [7, 8]])).unbatch()
    assert py(ds) == [(1, 5), (2, 6), (3, 7), (4, 8)]
    assert ds.element_spec[0].shape == ()


# ---- element-wise transformations ----------------------------------------------------------

def test_map():
    assert py(Dataset.range(1, 6).map(lambda x: x + 1)) == [2, 3, 4, 5, 6]
    ds = Dataset.from_tensor_slices(([1, 2, 3], [10, 20, 30]))
    assert py(ds.map(lambda x, y: x)) == [1, 2, 3]  # tuple parts are separate arguments
    assert py(ds.map(lambda x, y: (y, x))) == [(10, 1), (20, 2), (30, 3)]
    assert py(ds.map(lambda x, y: [x, y])) == [(1, 10), (2, 20), (3, 30)]  # list -> tuple
    d = Dataset.from_tensor_slices({"a": [1, 2], "b": [3, 4]})
    assert py(d.map(lambda e: e["a"] * e["b"])) == [3, 8]  # a dict is one argument
    assert d.map(lambda e: {"c": e["a"]}).element_spec == {"c": tf.TensorSpec((), tf.int32)}


def test_map_parallel_keeps_order():
    def slow(x):
        # numpy work heavy enough (> 0.2 ms) for the thread pool to be used
        return tf.reduce_sum(tf.fill([200, 200], tf.cast(x, tf.float32)))
    got = py(Dataset.range(40).map(slow, num_parallel_calls=tf.data.AUTOTUNE))
    assert got == [40000.0 * i for i in range(40)]
    got = py(Dataset.range(40).map(lambda x: x * 2, num_parallel_calls=4))
    assert got == [2 * i for i in range(40)]


def test_map_errors_propagate():
    ds = Dataset.range(3).map(lambda x: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        list(ds)
    # TF 2.21: ValueError("Argument `func` must be a callable. Received func=3 ...")
    with pytest.raises(ValueError, match="Argument `func` must be a callable"):
        Dataset.range(3).map(3)


def test_filter():
    ds = Dataset.from_tensor_slices([1, 2, 3])
    assert py(ds.filter(lambda x: x < 3)) == [1, 2]
    assert py(ds.filter(lambda x: tf.equal(x, 1))) == [1]
    # TF 2.21's message (a ValueError; TF raises it when tracing the predicate)
    with pytest.raises(ValueError, match=r"`predicate` must return a `tf.bool` scalar tensor, "
                       r"but its return type is TensorSpec\(shape=\(\), dtype=tf.int32"):
        list(ds.filter(lambda x: x))


def test_flat_map_and_interleave():
    ds = Dataset.from_tensor_slices([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert py(ds.flat_map(Dataset.from_tensor_slices)) == list(range(1, 10))
    ds = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6),
                                        cycle_length=2, block_length=4)
    assert py(ds) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4,
                      5, 5, 5, 5, 5, 5]


def test_enumerate_zip_concatenate():
    ds = Dataset.from_tensor_slices([1, 2, 3]).enumerate(start=5)
    assert py(ds) == [(5, 1), (6, 2), (7, 3)]
    assert py(Dataset.from_tensor_slices([(7, 8), (9, 10)]).enumerate()) == [
        (0, [7, 8]), (1, [9, 10])]
    a, b = Dataset.range(1, 4), Dataset.range(4, 7)
    c, d = Dataset.range(7, 13).batch(2), Dataset.range(13, 15)
    assert py(Dataset.zip((a, b))) == [(1, 4), (2, 5), (3, 6)]
    assert py(Dataset.zip(b, a)) == [(4, 1), (5, 2), (6, 3)]
    assert py(Dataset.zip((a, b, c))) == [(1, 4, [7, 8]), (2, 5, [9, 10]), (3, 6, [11, 12])]
    assert py(Dataset.zip((a, d))) == [(1, 13), (2, 14)]
    assert py(Dataset.zip({"p": a, "q": d})) == [{"p": 1, "q": 13}, {"p": 2, "q": 14}]
    assert len(Dataset.zip((a, d))) == 2
    a, b = Dataset.range(1, 4), Dataset.range(4, 8)
    assert py(a.concatenate(b)) == [1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(TypeError, match="Incompatible"):
        a.concatenate(Dataset.zip((a, b)))


def test_reduce_scan_take_while_single_element():
    assert int(Dataset.range(5).reduce(np.int64(0), lambda x, _: x + 1)) == 5
    assert int(Dataset.range(5).reduce(np.int64(0), lambda x, y: x + y)) == 10
    assert py(Dataset.range(5).take_while(lambda x: x < 3)) == [0, 1, 2]
    assert int(Dataset.from_tensors(4).get_single_element()) == 4
    with pytest.raises(InvalidArgumentError, match="more than one element"):
        Dataset.range(2).get_single_element()


# ---- shuffle -------------------------------------------------------------------------------

def _orders(ds, epochs=2):
    return [py(ds) for _ in range(epochs)]


@pytest.mark.parametrize("buffer", [1, 3, 10, 1000])
def test_shuffle_is_a_permutation_with_buffer_bounds(buffer):
    n = 50
    for ds in (Dataset.range(n), Dataset.from_tensor_slices(np.arange(n))):
        order = py(ds.shuffle(buffer, seed=7))
        assert sorted(order) == list(range(n))
        # TF's buffer: output position p is one of the first p + buffer inputs.
        assert all(v < p + buffer for p, v in enumerate(order))
    if buffer == 1:
        assert order == list(range(n))


def test_shuffle_seeded_reproducible_and_reshuffled():
    ds = Dataset.range(20).shuffle(20, seed=3)
    e1, e2 = _orders(ds)
    assert e1 != e2 and sorted(e1) == sorted(e2)
    assert _orders(Dataset.range(20).shuffle(20, seed=3)) == [e1, e2]  # same seed, same epochs
    assert py(Dataset.range(20).shuffle(20, seed=4)) != e1
    f1, f2 = _orders(Dataset.range(20).shuffle(20, seed=3, reshuffle_each_iteration=False))
    assert f1 == f2


def test_shuffle_global_seed():
    from tapeflow.keras import _rng
    _rng.set_seed(11)
    a = py(Dataset.range(30).shuffle(30))
    _rng.set_seed(11)
    b = py(Dataset.range(30).shuffle(30))
    assert a == b


@pytest.mark.parametrize("buffer", [4, 25, 100])
def test_shuffle_fast_path_equals_element_path(buffer):
    x = np.arange(60).reshape(30, 2)
    fast = Dataset.from_tensor_slices(x).shuffle(buffer, seed=5).batch(4)
    slow = Dataset.from_tensor_slices(x).map(lambda r: r).shuffle(buffer, seed=5).batch(4)
    assert _orders(fast) == _orders(slow)


def test_shuffle_then_repeat_reshuffles_each_epoch():
    got = py(Dataset.range(10).shuffle(10, seed=1).repeat(2))
    assert sorted(got[:10]) == sorted(got[10:]) == list(range(10))
    assert got[:10] != got[10:]


def test_shuffle_errors():
    with pytest.raises(InvalidArgumentError, match="buffer_size"):
        Dataset.range(3).shuffle(0)


# ---- counting ------------------------------------------------------------------------------

def test_repeat_take_skip_shard():
    assert py(Dataset.from_tensor_slices([1, 2, 3]).repeat(3)) == [1, 2, 3] * 3
    assert py(Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert py(Dataset.from_tensor_slices(np.arange(3)).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert py(Dataset.range(10).take(3)) == [0, 1, 2]
    assert py(Dataset.range(10).take(-1)) == list(range(10))
    assert py(Dataset.range(10).skip(7)) == [7, 8, 9]
    assert py(Dataset.range(10).skip(-1)) == []
    assert py(Dataset.range(10).shard(num_shards=3, index=0)) == [0, 3, 6, 9]
    assert py(Dataset.range(10).shard(num_shards=3, index=1)) == [1, 4, 7]
    assert py(Dataset.from_tensor_slices(np.arange(10)).repeat(2).shard(3, 2)) == [
        2, 5, 8, 1, 4, 7]
    assert py(Dataset.range(0).repeat()) == []
    with pytest.raises(InvalidArgumentError, match="num_shards"):
        Dataset.range(3).shard(2, 2)


def test_cardinality_and_len():
    ds = Dataset.range(42)
    assert int(ds.cardinality()) == 42 and ds.cardinality().dtype == tf.int64
    assert int(ds.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY == -1
    assert int(ds.filter(lambda x: True).cardinality()) == tf.data.UNKNOWN_CARDINALITY == -2
    assert len(ds.repeat(2).batch(5)) == 17
    assert len(ds.repeat().take(5)) == 5 and len(ds.skip(40)) == 2 and len(ds.skip(50)) == 0
    assert len(ds.shard(5, 1)) == 9 and len(ds.shard(5, 3)) == 8
    assert len(Dataset.from_tensor_slices(np.zeros((7, 2))).shuffle(3).batch(2)) == 4
    assert int(tf.data.experimental.cardinality(ds.map(lambda x: x))) == 42
    with pytest.raises(TypeError, match="The dataset is infinite"):
        len(ds.repeat())
    with pytest.raises(TypeError, match="The dataset length is unknown"):
        len(ds.filter(lambda x: True))
    assert bool(Dataset.range(0)) is True


# ---- prefetch, cache, iteration --------------------------------------------------------------

def test_prefetch():
    assert py(Dataset.range(3).prefetch(2)) == [0, 1, 2]
    assert py(Dataset.range(100).map(lambda x: x * 2).prefetch(1)) == list(range(0, 200, 2))
    # an error in the background thread reaches the consumer
    bad = Dataset.range(3).map(lambda x: 1 // 0).prefetch(2)
    with pytest.raises(ZeroDivisionError):
        list(bad)
    # abandoning an iterator part-way stops its producer thread
    it = iter(Dataset.range(10**9).prefetch(3))
    assert int(next(it)) == 0
    del it


def test_cache_memory():
    calls = []

    def f(x):
        calls.append(int(x))
        return x ** 2
    ds = Dataset.range(5).map(f).cache()
    assert py(ds) == [0, 1, 4, 9, 16] and py(ds) == [0, 1, 4, 9, 16]
    assert calls == [0, 1, 2, 3, 4]


def test_cache_file(tmp_path):
    calls = []

    def f(x):
        calls.append(1)
        return {"sq": x ** 2, "pair": (x, tf.cast(x, tf.float32) / 2)}
    prefix = str(tmp_path / "cache")
    first = py(Dataset.range(600).map(f).cache(prefix))
    assert len(calls) == 600
    second = py(Dataset.range(600).map(f).cache(prefix))  # a new pipeline reads the files
    assert len(calls) == 600 and first == second
    assert first[3] == {"sq": 9, "pair": (3, 1.5)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cache.0.npz", "cache.1.npz", "cache.2.npz", "cache.index.json"]
    # an interrupted first pass leaves no files, so nothing partial is read back
    prefix2 = str(tmp_path / "partial")
    it = iter(Dataset.range(600).cache(prefix2))
    for _ in range(300):  # past the first shard of 256 elements
        next(it)
    del it
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("partial")]
    assert py(Dataset.range(5).cache(prefix2)) == [0, 1, 2, 3, 4]


def test_iterator_protocol():
    it = iter(Dataset.range(2))
    assert int(it.get_next()) == 0 and int(next(it)) == 1
    with pytest.raises(OutOfRangeError):
        it.get_next()
    with pytest.raises(StopIteration):
        next(it)
    assert it.element_spec == tf.TensorSpec((), tf.int64)


def test_as_numpy_iterator_and_repr():
    got = list(Dataset.from_tensor_slices({"a": ([1, 2], [3, 4]), "b": [5, 6]})
               .as_numpy_iterator())
    assert got[0]["a"] == (1, 3) and isinstance(got[0]["b"], np.int32)
    assert repr(Dataset.range(3).batch(2)) == (
        "<_BatchDataset element_spec=TensorSpec(shape=(None,), dtype=tf.int64, name=None)>")


def test_list_files_and_text_lines(tmp_path):
    for name in ("b.txt", "a.txt", "c.csv"):
        (tmp_path / name).write_text(f"{name}-1\n{name}-2\n")
    files = Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False)
    assert [f.decode().rsplit("/", 1)[1] for f in py(files)] == ["a.txt", "b.txt"]
    lines = files.interleave(tf.data.TextLineDataset, cycle_length=2)
    assert py(lines) == [b"a.txt-1", b"b.txt-1", b"a.txt-2", b"b.txt-2"]
    with pytest.raises(InvalidArgumentError, match="match at least one file"):
        Dataset.list_files(str(tmp_path / "*.none"))


def test_options_and_apply():
    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = Dataset.range(4).with_options(opts)
    assert ds.options().experimental_distribute.auto_shard_policy == (
        tf.data.experimental.AutoShardPolicy.OFF)
    assert py(ds.apply(lambda d: d.take(2))) == [0, 1]
    ds = Dataset.range(5).filter(lambda x: x < 3).apply(
        tf.data.experimental.assert_cardinality(3))
    assert len(ds) == 3 and py(ds) == [0, 1, 2]


def test_sample_and_choose_from_datasets():
    datasets = [Dataset.from_tensors(v).repeat() for v in ("foo", "bar", "baz")]
    choice = Dataset.range(3).repeat(3)
    got = list(Dataset.choose_from_datasets(datasets, choice).as_numpy_iterator())
    assert got == [b"foo", b"bar", b"baz"] * 3  # strings come out as bytes, as in TF
    with pytest.raises(TypeError, match="tf.int64"):
        Dataset.choose_from_datasets(datasets, Dataset.range(3, output_type=tf.int32))
    with pytest.raises(InvalidArgumentError, match="out of range"):
        list(Dataset.choose_from_datasets(datasets, Dataset.range(5)))
    short = [Dataset.range(2), Dataset.range(10, 15)]
    assert py(Dataset.choose_from_datasets(short, Dataset.from_tensor_slices(
        np.array([0, 0, 0, 1], np.int64)))) == [0, 1]
    assert py(Dataset.choose_from_datasets(short, Dataset.from_tensor_slices(
        np.array([0, 0, 0, 1], np.int64)), stop_on_empty_dataset=False)) == [0, 1, 10]
    a, b = Dataset.range(0, 50), Dataset.range(100, 150)
    mixed = py(Dataset.sample_from_datasets([a, b], weights=[0.5, 0.5], seed=3))
    assert sorted(mixed) == list(range(50)) + list(range(100, 150))
    assert [v for v in mixed if v < 100] == list(range(50))  # each input keeps its order
    assert mixed[:50] != list(range(50))
    assert mixed == py(Dataset.sample_from_datasets([a, b], weights=[0.5, 0.5], seed=3))
    only_b = py(Dataset.sample_from_datasets([a, b], weights=[0.0, 1.0], seed=3))
    assert only_b == list(range(100, 150))
    stop = py(Dataset.sample_from_datasets([Dataset.range(3), Dataset.range(10, 100)],
                                           seed=0, stop_on_empty_dataset=True))
    assert len([v for v in stop if v < 3]) == 3 and len(stop) < 93


def test_unique():
    ds = Dataset.from_tensor_slices([1, 37, 2, 37, 2, 1])
    assert py(ds.unique()) == [1, 37, 2]
    assert py(Dataset.from_tensor_slices(["a", "b", "a"]).unique()) == [b"a", b"b"]
    with pytest.raises(TypeError, match="unique"):
        Dataset.from_tensor_slices([1.0]).unique()


def test_prefetch_runs_ahead_on_a_thread_within_its_buffer():
    produced, threads = [], set()

    def gen():
        for i in range(100):
            threads.add(threading.current_thread().name)
            produced.append(i)
            yield i
    ds = Dataset.from_generator(gen, output_signature=tf.TensorSpec((), tf.int64)).prefetch(3)
    it = iter(ds)
    assert int(next(it)) == 0
    deadline = time.time() + 2
    while len(produced) < 5 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    # consumed 1, queue holds 3, the producer holds 1 more waiting for space
    assert len(produced) == 5
    assert threads == {"tapeflow-prefetch"}
    assert [int(v) for v in it] == list(range(1, 100))


def test_element_spec_inference_has_no_side_effects(tmp_path):
    ds = Dataset.range(10).shuffle(10, seed=5).map(lambda x: x * 2)
    first = py(ds)
    ds2 = Dataset.range(10).shuffle(10, seed=5).map(lambda x: x * 2)
    assert ds2.element_spec == tf.TensorSpec((), tf.int64)
    assert py(ds2) == first  # the peek did not use up the first epoch's order
    cached = Dataset.range(300).cache(str(tmp_path / "c")).map(lambda x: x + 1)
    assert cached.element_spec.dtype == tf.int64
    assert list(tmp_path.iterdir()) == []
