"""keras.utils and keras.backend helpers."""

import numpy as np
import pytest

from tapeflow import keras


def test_to_categorical():
    out = keras.utils.to_categorical(np.array([[2], [0]]), num_classes=3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])
    assert keras.utils.to_categorical([1, 3]).shape == (2, 4)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        keras.utils.to_categorical([0, 2], num_classes=2)


def test_normalize():
    out = keras.utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(np.array([[1.0, 1.0]]), order=1),
                               [[0.5, 0.5]])


def test_set_random_seed_makes_initialization_and_dropout_reproducible():
    outs = []
    for _ in range(2):
        keras.utils.set_random_seed(42)
        layer = keras.layers.Dense(3)
        layer.build((None, 2))
        drop = keras.layers.Dropout(0.5)(np.ones((4, 4), "float32"), training=True)
        outs.append((layer.kernel.numpy(), drop.numpy()))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    with pytest.raises(ValueError, match="Expected `seed` argument to be an integer"):
        keras.utils.set_random_seed("1")


def test_backend_settings_and_clear_session():
    assert keras.backend.floatx() == "float32" and keras.backend.epsilon() == 1e-7
    with pytest.raises(ValueError, match="Unknown `floatx` value"):
        keras.backend.set_floatx("int8")
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"
    assert keras.layers.Dense(1).name == "dense_1"
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"


def test_progbar(capsys):
    bar = keras.utils.Progbar(4, verbose=2)
    for i in range(4):
        bar.update(i + 1, [("loss", float(i))])
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "4/4" in out and "loss: 1.5000" in out


def test_unpack_and_pack_x_y_sample_weight():
    assert keras.utils.unpack_x_y_sample_weight((1, 2, 3)) == (1, 2, 3)
    assert keras.utils.unpack_x_y_sample_weight([1, 2]) == ([1, 2], None, None)
    assert keras.utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
