"""Audit of tf.data against TensorFlow 2.21: the expected values, specs, cardinalities and error
messages below were recorded by running the same pipelines in TF 2.21 (CPU)."""

import collections
import os

import numpy as np
import pytest

import tapeflow as tf
from tapeflow.framework.errors import (
    DataLossError,
    InvalidArgumentError,
    NotFoundError,
    UnknownError,
)

Dataset = tf.data.Dataset


def ints(ds):
    return [np.asarray(v).tolist() for v in ds.as_numpy_iterator()]


def card(ds):
    return int(ds.cardinality())


# ---- as_numpy_iterator types ------------------------------------------------------------------

def test_as_numpy_iterator_gives_bytes_for_strings_and_numpy_scalars():
    ds = Dataset.from_tensor_slices(([1, 2], [[1.0], [2.0]], ["a", "b"]))
    first = next(ds.as_numpy_iterator())
    # TF 2.21: (np.int32(1), array([1.], dtype=float32), b'a')
    assert type(first[0]) is np.int32 and first[0] == 1
    assert isinstance(first[1], np.ndarray) and first[1].dtype == np.float32
    assert type(first[2]) is bytes and first[2] == b"a"
    rows = list(Dataset.from_tensor_slices([["a", "b"]]).as_numpy_iterator())
    # TF 2.21: [array([b'a', b'b'], dtype=object)]
    assert rows[0].dtype == object and rows[0].tolist() == [b"a", b"b"]
    assert list(Dataset.from_tensors(([1, 2, 3], "A")).as_numpy_iterator())[0][1] == b"A"
    assert list(Dataset.from_tensor_slices([b"x"]).as_numpy_iterator()) == [b"x"]
    assert type(next(Dataset.range(2).as_numpy_iterator())) is np.int64
    assert type(next(Dataset.from_tensor_slices([True]).as_numpy_iterator())) is np.bool_


def test_generator_args_arrive_as_numpy_values():
    seen = []

    def gen(n, s):
        seen.append((type(n), type(s)))
        yield from range(int(n))
    ds = Dataset.from_generator(gen, output_signature=tf.TensorSpec((), tf.int64), args=(3, "x"))
    assert ints(ds) == [0, 1, 2]
    assert seen == [(np.int32, bytes)]  # TF 2.21: <class 'numpy.int32'><class 'bytes'>


# ---- counts: take / skip / repeat / filter / zip ------------------------------------------

def test_negative_counts_follow_tf():
    # TF 2.21 (range(4)): take(-2) -> all, cardinality -2; skip(-2) -> nothing; repeat(-2) ->
    # forever.
    assert ints(Dataset.range(4).take(-2)) == [0, 1, 2, 3]
    assert card(Dataset.range(4).take(-2)) == -2 and card(Dataset.range(4).take(-1)) == 4
    assert ints(Dataset.range(4).skip(-2)) == [] and card(Dataset.range(4).skip(-3)) == 0
    assert ints(Dataset.range(4).repeat(-2).take(9)) == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    assert card(Dataset.range(4).repeat(-3)) == -1


def test_cardinalities_match_tf():
    always = Dataset.range(3).filter(lambda x: True)
    # TF 2.21 values
    assert [card(Dataset.range(10).filter(lambda x: x > 2)),
            card(Dataset.range(0).filter(lambda x: x > 2))] == [-2, -2]
    assert [card(Dataset.zip((Dataset.range(3), Dataset.range(5)))),
            card(Dataset.zip((Dataset.range(3), Dataset.range(5).repeat()))),
            card(Dataset.zip((Dataset.range(3).repeat(), Dataset.range(5).repeat()))),
            card(Dataset.zip((always, Dataset.range(5).repeat()))),
            card(Dataset.zip((always, Dataset.range(5))))] == [3, 3, -1, -2, -2]
    assert card(Dataset.range(6).batch(4).unbatch()) == -2
    assert card(Dataset.range(6).batch(2, drop_remainder=True).unbatch()) == 6
    assert card(Dataset.range(6).batch(2, True).map(lambda x: x + 1).unbatch()) == 6
    assert card(Dataset.range(5).repeat().batch(2).unbatch()) == -1
    assert [card(Dataset.range(8).batch(3)), card(Dataset.range(8).batch(3, True)),
            card(Dataset.range(8).repeat().batch(3)), card(always.batch(3))] == [3, 2, -1, -2]
    assert [card(Dataset.range(3).repeat(4).take(10)),
            len(list(Dataset.range(3).repeat(4).take(10)))] == [10, 10]


# ---- zip -------------------------------------------------------------------------------------

def test_zip_structures_and_errors():
    assert ints(Dataset.zip(Dataset.range(2))) == [0, 1]  # one dataset: not a 1-tuple
    assert repr(Dataset.zip(Dataset.range(2)).element_spec) == (
        "TensorSpec(shape=(), dtype=tf.int64, name=None)")
    ds = Dataset.zip((Dataset.range(2), {"k": Dataset.from_tensor_slices([1.0, 2.0])}))
    assert repr(ds.element_spec) == ("(TensorSpec(shape=(), dtype=tf.int64, name=None), {'k': "
                                     "TensorSpec(shape=(), dtype=tf.float32, name=None)})")
    with pytest.raises(TypeError, match="Python `list` is not supported and you should use "
                                        "`tuple` instead"):
        Dataset.zip([Dataset.range(2), Dataset.range(2)])
    with pytest.raises(TypeError, match="but encountered object of type <class 'int'>"):
        Dataset.zip((Dataset.range(2), 3))
    with pytest.raises(InvalidArgumentError):
        Dataset.zip(())


# ---- unbatch / padded_batch -------------------------------------------------------------------

def test_unbatch_errors_at_construction_as_tf():
    with pytest.raises(ValueError, match="Cannot unbatch an input with scalar components."):
        Dataset.range(3).unbatch()
    with pytest.raises(ValueError, match="components have a matching leading dimension. "
                                         "Encountered both 2 and 3."):
        Dataset.from_tensors(([1, 2], [1, 2, 3])).unbatch()


def _ragged():
    return Dataset.range(1, 4).map(lambda x: tf.fill([x], x))


def test_padded_batch_padding_values_checked_as_tf():
    # TF 2.21: Python ints are int32, so they do not match an int64 component.
    with pytest.raises(TypeError, match=r"`padding_values` values type <dtype: 'int32'> does "
                                        r"not match type <dtype: 'int64'>"):
        _ragged().padded_batch(2, padding_values=-1)
    with pytest.raises(TypeError, match="does not match type <dtype: 'float32'>"):
        Dataset.from_tensors([1.0]).padded_batch(1, padded_shapes=[3], padding_values=0)
    with pytest.raises(ValueError, match=r"values should be scalars, but got \(2,\)"):
        Dataset.from_tensors([1]).padded_batch(1, padded_shapes=[3],
                                               padding_values=tf.constant([5, 5]))
    with pytest.raises(TypeError, match="padded_shapes"):
        Dataset.from_tensors(([1], [2])).padded_batch(1, padded_shapes=[3])
    out = ints(_ragged().padded_batch(2, padding_values=tf.constant(-1, tf.int64)))
    assert out == [[[1, -1], [2, 2]], [[3, 3, 3]]]
    out = ints(Dataset.from_tensors([1.0]).padded_batch(1, padded_shapes=[3], padding_values=2.0))
    assert out == [[[1.0, 2.0, 2.0]]]


def test_padded_batch_to_a_smaller_shape_is_data_loss():
    with pytest.raises(DataLossError, match="Attempted to pad to a smaller size than the input "
                                            "element"):
        list(_ragged().padded_batch(2, padded_shapes=[2]))


def test_padded_batch_strings_pad_with_empty_bytes():
    ds = Dataset.from_tensors(["a"]).concatenate(Dataset.from_tensors(["b", "c"]))
    assert ints(ds.padded_batch(2)) == [[[b"a", b""], [b"b", b"c"]]]


# ---- map / filter / reduce -----------------------------------------------------------------

def test_map_spec_leaves_the_batch_dimension_unknown():
    spec = Dataset.from_tensor_slices(np.zeros((5, 3), np.float32)).batch(2).map(
        lambda x: x * 2).element_spec
    assert repr(spec) == "TensorSpec(shape=(None, 3), dtype=tf.float32, name=None)"  # TF 2.21
    spec = Dataset.range(5).batch(2).map(lambda x: (x, tf.reduce_sum(x), tf.zeros([3])))
    assert repr(spec.element_spec) == (
        "(TensorSpec(shape=(None,), dtype=tf.int64, name=None), TensorSpec(shape=(), "
        "dtype=tf.int64, name=None), TensorSpec(shape=(3,), dtype=tf.float32, name=None))")
    assert repr(Dataset.range(5).batch(2, drop_remainder=True).map(lambda x: x).element_spec) == (
        "TensorSpec(shape=(2,), dtype=tf.int64, name=None)")


def test_map_returning_a_list_of_int64_tensors_keeps_int64():
    spec = Dataset.range(2).map(lambda x: ([x, x], x)).element_spec
    assert spec[0] == tf.TensorSpec((2,), tf.int64)  # TF 2.21 packs the list as int64


def test_map_and_parallel_calls_errors():
    with pytest.raises(ValueError, match=r"Argument `func` must be a callable. Received func=3 "
                                         r"\(of type <class 'int'>\)"):
        Dataset.range(3).filter(3)
    for bad in (0, -5):
        with pytest.raises(InvalidArgumentError, match="num_parallel_calls must be greater "
                                                       "than zero"):
            Dataset.range(3).map(lambda x: x, num_parallel_calls=bad)
    with pytest.raises(ValueError, match=r"must return a `tf.bool` scalar tensor, but its "
                                         r"return type is TensorSpec\(shape=\(2,\), "
                                         r"dtype=tf.bool"):
        list(Dataset.range(3).filter(lambda x: tf.constant([True, False])))


def test_reduce_checks_the_state_like_tf():
    assert int(Dataset.range(3).reduce(tf.constant([0], tf.int64),
                                       lambda s, x: tf.concat([s, [x]], 0)).shape[0]) == 4
    with pytest.raises(TypeError, match="The element types for the new state must match the "
                                        "initial state. Expected <dtype: 'int64'> but got "
                                        "<dtype: 'float32'>."):
        Dataset.range(3).reduce(np.int64(0), lambda s, x: tf.cast(s, tf.float32))
    with pytest.raises(InvalidArgumentError, match=r"\(initial_state=2, output=1\)"):
        Dataset.range(3).reduce((np.int64(0), np.int64(0)), lambda s, x: s[0] + x)
    total = Dataset.range(3).reduce({"s": np.int64(0)}, lambda st, x: {"s": st["s"] + x})
    assert int(total["s"]) == 3


# ---- shuffle / prefetch ------------------------------------------------------------------------

def test_shuffle_buffer_checks_and_unknown_cardinality_buffer():
    for bad in (0, -3, tf.data.AUTOTUNE):
        with pytest.raises(InvalidArgumentError, match="buffer_size must be greater than zero "
                                                       "or UNKNOWN_CARDINALITY"):
            Dataset.range(5).shuffle(bad)
    out = ints(Dataset.range(5).shuffle(tf.data.UNKNOWN_CARDINALITY, seed=1))
    assert sorted(out) == [0, 1, 2, 3, 4]
    with pytest.raises(InvalidArgumentError, match="buffer_size must be >= 0 or set "
                                                   "buffer_size to be -1 for auto-tuning"):
        Dataset.range(3).prefetch(-5)


def test_shuffle_reshuffle_semantics():
    ds = Dataset.range(10).shuffle(10, seed=3, reshuffle_each_iteration=False).repeat(2)
    a = ints(ds)
    assert a[:10] == a[10:] and sorted(a[:10]) == list(range(10))
    ds = Dataset.range(10).shuffle(10, seed=3).repeat(2)
    a = ints(ds)
    assert a[:10] != a[10:] and sorted(a[10:]) == list(range(10))
    # A buffer of 2: the first element is always 0 or 1.
    assert {int(next(iter(Dataset.range(10).shuffle(2, seed=s)))) for s in range(30)} == {0, 1}


# ---- from_generator --------------------------------------------------------------------------

def _gen():
    for i in range(3):
        yield i, [i] * i


def test_from_generator_structure_errors_match_tf():
    with pytest.raises(InvalidArgumentError, match=r"could not be converted to the expected "
                                                   r"type. The expected type was int32, but the "
                                                   r"yielded element was \(0, \[\]\)."):
        list(Dataset.from_generator(_gen, output_signature=tf.TensorSpec((), tf.int32)))
    with pytest.raises(InvalidArgumentError, match=r"The expected structure was \(tf.int32, "
                                                   r"tf.int32, tf.int32\), but the yielded "
                                                   r"element was \(0, \[\]\)."):
        list(Dataset.from_generator(_gen, output_signature=(tf.TensorSpec((), tf.int32),) * 3))
    sig = (tf.TensorSpec((), tf.int64), tf.TensorSpec((), tf.int64))
    with pytest.raises(InvalidArgumentError, match=r"yielded element was \[1, 2\]"):
        list(Dataset.from_generator(lambda: iter([[1, 2]]), output_signature=sig))
    with pytest.raises(InvalidArgumentError, match="The expected type was int32, but the "
                                                   "yielded element was None."):
        list(Dataset.from_generator(lambda: iter([None]),
                                    output_signature=tf.TensorSpec((), tf.int32)))
    with pytest.raises(InvalidArgumentError, match=r"an element of shape \(1,\) where an element "
                                                   r"of shape \(\) was expected"):
        list(Dataset.from_generator(lambda: iter([[1]]),
                                    output_signature=tf.TensorSpec((), tf.int32)))


def test_from_generator_signature_errors_match_tf():
    with pytest.raises(TypeError, match="provide either the `output_signature` argument or the "
                                        "`output_types` argument"):
        Dataset.from_generator(_gen)
    with pytest.raises(TypeError, match="The `output_types` argument can not be used together "
                                        "with the `output_signature` argument."):
        Dataset.from_generator(_gen, output_types=tf.int32,
                               output_signature=tf.TensorSpec((), tf.int32))
    with pytest.raises(TypeError, match="must contain objects that are subclass of "
                                        "`tf.TypeSpec`"):
        Dataset.from_generator(_gen, output_signature=(tf.int32, tf.int32))


def test_from_generator_exception_becomes_unknown_error():
    def gen():
        yield 1
        raise KeyError("boom")
    ds = Dataset.from_generator(gen, output_signature=tf.TensorSpec((), tf.int32))
    with pytest.raises(UnknownError, match="KeyError: 'boom'") as info:
        list(ds)
    assert isinstance(info.value.__cause__, KeyError)


# ---- cache, repr ------------------------------------------------------------------------------

def test_cache_file_in_missing_folder_is_not_found(tmp_path):
    ds = Dataset.range(3).cache(os.path.join(str(tmp_path), "missing", "c"))
    with pytest.raises(NotFoundError, match="No such file or directory"):
        list(ds)


def test_cache_file_strings_round_trip_as_bytes(tmp_path):
    ds = Dataset.from_tensor_slices(({"a": [1, 2]}, ["x", "yy"])).cache(str(tmp_path / "c"))
    first = list(ds.as_numpy_iterator())
    assert first == list(ds.as_numpy_iterator())
    assert [(int(d["a"]), s) for d, s in first] == [(1, b"x"), (2, b"yy")]


def test_reprs_use_tf_class_names():
    assert repr(Dataset.range(3).cache()) == (
        "<CacheDataset element_spec=TensorSpec(shape=(), dtype=tf.int64, name=None)>")
    assert repr(Dataset.range(3).enumerate()).startswith("<_ZipDataset element_spec=(")
    assert repr(Dataset.range(3).batch(2)) == (
        "<_BatchDataset element_spec=TensorSpec(shape=(None,), dtype=tf.int64, name=None)>")


def test_namedtuple_elements_round_trip():
    Point = collections.namedtuple("Point", ["x", "y"])
    ds = Dataset.range(2).map(lambda v: Point(v, v + 1))
    assert [tuple(int(t) for t in p) for p in ds] == [(0, 1), (1, 2)]
    assert isinstance(next(iter(ds)), Point)


def test_tensor_spec_subtype_value_type_and_errors():
    assert tf.TensorSpec([2]).is_subtype_of(tf.TensorSpec([None]))  # TF 2.21: True
    assert not tf.TensorSpec([None]).is_subtype_of(tf.TensorSpec([2]))
    assert not tf.TensorSpec([2]).is_subtype_of(tf.TensorSpec([2], tf.int32))
    assert tf.TensorSpec([2, 3]).is_subtype_of(tf.TensorSpec(None))
    assert tf.TensorSpec([1]).value_type is tf.Tensor
    with pytest.raises(ValueError, match=r"No TypeSpec is compatible with both "
                                         r"TensorSpec\(shape=\(2,\), dtype=tf.float32"):
        tf.TensorSpec([2]).most_specific_compatible_type(tf.TensorSpec([2], tf.int32))
    with pytest.raises(TypeError, match="to a shape"):
        tf.TensorSpec("abc")
    assert repr(tf.TensorSpec([2, 3]).most_specific_compatible_type(tf.TensorSpec([2, 4]))) == (
        "TensorSpec(shape=(2, None), dtype=tf.float32, name=None)")


def test_unbatch_of_an_empty_mapped_dataset_is_lazy():
    ds = Dataset.range(0).batch(2).map(lambda x: x * 2).unbatch()
    assert list(ds) == [] and card(ds) == -2  # TF 2.21: -2
    assert card(Dataset.range(0).flat_map(lambda x: Dataset.range(2))) == -2


def test_shuffle_buffer_distribution_matches_the_buffer_algorithm():
    # With a buffer of 2, element 0 leaves at position k with probability 2**-(k+1) (TF's
    # algorithm: fill the buffer, emit a uniformly random slot, refill it).
    positions = [ints(Dataset.range(6).shuffle(2, seed=s)).index(0) for s in range(400)]
    counts = np.bincount(positions, minlength=6)
    assert 160 <= counts[0] <= 240 and 70 <= counts[1] <= 130 and 25 <= counts[2] <= 75
