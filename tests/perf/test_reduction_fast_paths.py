"""``Sum`` and ``Mean`` skip NumPy's Python-level dispatch (``np.add.reduce``, then an in-place
divide); they must return exactly what ``np.sum`` / ``np.mean`` return."""

import numpy as np
import pytest

import tapeflow as tf

rng = np.random.default_rng(5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32])
@pytest.mark.parametrize("shape,axis", [((7, 5), 1), ((33, 5), 0), ((3, 4, 5), (0, 2)),
                                        ((1000, 3), None), ((6,), 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_sum_and_mean_equal_numpy(dtype, shape, axis, keepdims):
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    t = tf.constant(x)
    np_axis = axis if axis is None or isinstance(axis, int) else tuple(axis)
    got_sum = tf.reduce_sum(t, axis=axis, keepdims=keepdims).numpy()
    want_sum = np.sum(x, axis=np_axis, keepdims=keepdims).astype(dtype)
    np.testing.assert_array_equal(got_sum, want_sum)
    if np.issubdtype(dtype, np.floating):
        got = tf.reduce_mean(t, axis=axis, keepdims=keepdims).numpy()
        want = np.mean(x, axis=np_axis, keepdims=keepdims)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_mean_of_empty_axis_is_nan_like_tensorflow():
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        out = tf.reduce_mean(tf.zeros((0, 3)), axis=0).numpy()
    assert np.isnan(out).all() and out.shape == (3,)
