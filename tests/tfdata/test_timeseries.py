"""timeseries_dataset_from_array against the examples of Keras's docstring and tests."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow.data import timeseries_dataset_from_array


def test_docstring_example_1_strides_and_rate():
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2,
                                       sequence_stride=3, batch_size=None)
    seqs = [s.numpy().tolist() for s in ds]
    assert seqs[0] == list(range(0, 20, 2))
    assert seqs[1] == list(range(3, 23, 2))
    assert seqs[2] == list(range(6, 26, 2))
    assert seqs[-1] == list(range(78, 98, 2))
    assert len(seqs) == 27


def test_docstring_example_2_targets():
    data = np.arange(50, dtype=np.float64)
    ds = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    inputs, targets = next(iter(ds))
    assert inputs.dtype == tf.float64 and inputs.shape == (31, 10)
    np.testing.assert_array_equal(inputs[0].numpy(), data[:10])
    assert float(targets[0]) == data[10]


def test_batches_like_keras_test_basics():
    data = np.arange(100)
    ds = timeseries_dataset_from_array(data, data * 2, sequence_length=9, batch_size=5)
    batches = list(ds)
    assert len(batches) == 19
    for i, (x, y) in enumerate(batches):
        assert x.shape == ((5, 9) if i < 18 else (2, 9))
        np.testing.assert_array_equal(x[0].numpy(), np.arange(i * 5, i * 5 + 9))
        assert int(y[0]) == 2 * i * 5


def test_start_end_index():
    data = np.arange(100)
    ds = timeseries_dataset_from_array(data, data, sequence_length=5, start_index=10,
                                       end_index=30, batch_size=None)
    pairs = [(x.numpy().tolist(), int(y)) for x, y in ds]
    assert len(pairs) == 16
    assert pairs[0] == (list(range(10, 15)), 10) and pairs[-1] == (list(range(25, 30)), 25)


def test_shuffle_seeded():
    data = np.arange(100)
    make = lambda: timeseries_dataset_from_array(  # noqa: E731
        data, data, sequence_length=3, batch_size=8, shuffle=True, seed=2)
    a = [(x.numpy(), y.numpy()) for x, y in make()]
    b = [(x.numpy(), y.numpy()) for x, y in make()]
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    starts = np.concatenate([x[:, 0] for x, _ in a])
    assert sorted(starts.tolist()) == list(range(98)) and starts.tolist() != list(range(98))
    for x, y in a:  # each window still starts at its target
        np.testing.assert_array_equal(x[:, 0], y)
        np.testing.assert_array_equal(x[:, 2] - x[:, 0], 2)


def test_errors():
    with pytest.raises(ValueError, match="`sampling_rate` must be higher than 0"):
        timeseries_dataset_from_array(np.arange(10), None, 3, sampling_rate=0)
    with pytest.raises(ValueError, match="`start_index` must be lower than the length"):
        timeseries_dataset_from_array(np.arange(10), None, 3, start_index=10)
    with pytest.raises(ValueError, match="`end_index` must be higher than `start_index`"):
        timeseries_dataset_from_array(np.arange(10), None, 3, start_index=5, end_index=4)


def test_element_spec_matches_keras():
    # Recorded from Keras 3.15 / TF 2.21: batch and time dimensions are unknown.
    ts = timeseries_dataset_from_array
    data = np.arange(20).reshape(10, 2).astype("float32")
    ds = ts(data, np.arange(10), sequence_length=3, batch_size=4)
    assert repr(ds.element_spec) == (
        "(TensorSpec(shape=(None, None, 2), dtype=tf.float32, name=None), "
        "TensorSpec(shape=(None,), dtype=tf.int64, name=None))")
    ds = ts(np.zeros((10, 2)), np.arange(10), sequence_length=3, batch_size=None)
    assert repr(ds.element_spec) == (
        "(TensorSpec(shape=(None, 2), dtype=tf.float64, name=None), "
        "TensorSpec(shape=(), dtype=tf.int64, name=None))")
    assert int(ds.cardinality()) == 8
