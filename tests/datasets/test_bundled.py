import numpy as np
import pytest

from tapeflow.keras.datasets import digits, iris


def test_digits_split_shapes_and_values():
    (x_tr, y_tr), (x_te, y_te) = digits.load_data()
    assert x_tr.shape == (1437, 8, 8) and x_te.shape == (360, 8, 8)
    assert y_tr.shape == (1437,) and y_te.shape == (360,)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.uint8
    assert x_tr.max() == 16 and x_tr.min() == 0
    assert set(np.unique(y_tr)) == set(range(10))


def test_digits_split_is_seeded_partition():
    a = digits.load_data(seed=1)
    b = digits.load_data(seed=1)
    c = digits.load_data(seed=2)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(a[0][0], c[0][0])
    with np.load(digits._PATH) as f:
        images = f["images"]
    # train + test together are a permutation of the whole file
    allx = np.concatenate([a[0][0], a[1][0]]).reshape(len(images), -1)
    key = lambda m: np.sort(m.view(np.dtype((np.void, 64))).ravel())  # noqa: E731
    assert np.array_equal(key(np.ascontiguousarray(allx)),
                          key(np.ascontiguousarray(images.reshape(len(images), -1))))


def test_digits_test_split_argument():
    (x_tr, _), (x_te, _) = digits.load_data(test_split=0.5)
    assert len(x_tr) == 898 and len(x_te) == 899
    (x_tr, _), (x_te, _) = digits.load_data(test_split=0.0)
    assert len(x_tr) == 1797 and len(x_te) == 0
    with pytest.raises(ValueError, match="Invalid `test_split` argument: 1.5"):
        digits.load_data(test_split=1.5)


def test_iris():
    x, y, names = iris.load_data()
    assert x.shape == (150, 4) and x.dtype == np.float32
    assert y.dtype == np.int32 and list(np.bincount(y)) == [50, 50, 50]
    assert names == ["setosa", "versicolor", "virginica"]
    np.testing.assert_allclose(x[0], [5.1, 3.5, 1.4, 0.2])
    assert y[0] == 0 and y[-1] == 2
