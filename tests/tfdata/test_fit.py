"""``fit``/``evaluate``/``predict`` on a tf.data.Dataset."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.keras import _rng


def _model():
    _rng.set_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(50, 4)).astype("float32"), rng.integers(0, 3, 50)


def test_fit_on_dataset_equals_fit_on_arrays():
    x, y = _data()
    a = _model()
    a.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    b = _model()
    b.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=2, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    assert b.evaluate(ds, verbose=0) == a.evaluate(x, y, batch_size=8, verbose=0)
    np.testing.assert_array_equal(b.predict(tf.data.Dataset.from_tensor_slices(x).batch(8),
                                            verbose=0), a.predict(x, batch_size=8, verbose=0))


def test_fit_on_generator_dataset_with_map_and_prefetch():
    x, y = _data()

    def gen():
        yield from zip(x, y)
    ds = tf.data.Dataset.from_generator(gen, output_signature=(
        tf.TensorSpec((4,), tf.float32), tf.TensorSpec((), tf.int64)))
    ds = ds.map(lambda a, b: (a * 1.0, b), num_parallel_calls=2).batch(8).prefetch(2)
    a = _model()
    a.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    b = _model()
    b.fit(ds, epochs=1, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


# The 2 GB stream: 8,192 rows of 65,536 float32 (256 KiB each), batches of 64 (16 MiB).
_STREAM = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    import tapeflow as tf
    from tapeflow import keras

    WIDTH, ROWS, BATCH = 65536, 8192, 64
    produced = [0]

    def rows():
        for i in range(ROWS):
            produced[0] += 1
            yield np.full(WIDTH, (i % 7) / 7.0, np.float32), np.float32(i % 7)

    ds = tf.data.Dataset.from_generator(rows, output_signature=(
        tf.TensorSpec((WIDTH,), tf.float32), tf.TensorSpec((), tf.float32)))
    ds = ds.batch(BATCH).prefetch(2)
    model = keras.Sequential([keras.Input((WIDTH,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1e-6), loss="mse")
    history = model.fit(ds, epochs=1, verbose=0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": peak_mb, "rows": produced[0],
                      "gb": produced[0] * WIDTH * 4 / 2**30,
                      "loss": history.history["loss"]}))
""")


def test_fit_streams_a_2gb_generator_in_bounded_memory():
    # About 5 s on one core: the 2 GB are produced, batched and consumed once.
    out = subprocess.run([sys.executable, "-c", _STREAM], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rows"] == 8192 and result["gb"] == 2.0
    assert len(result["loss"]) == 1 and np.isfinite(result["loss"][0])
    assert result["peak_mb"] < 500, result


def _linear_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.layers[0].set_weights([np.arange(3, dtype="float32").reshape(3, 1) / 10,
                                 np.zeros(1, "float32")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    return model


def test_validation_dataset_restarts_each_epoch_with_validation_steps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    y = rng.normal(size=(20, 1)).astype("float32")
    model = _linear_model()
    val = tf.data.Dataset.from_tensor_slices((x[:7], y[:7])).batch(3).repeat()
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(6), epochs=2,
                        validation_data=val, validation_steps=2, verbose=0)
    # Recorded with Keras 3.15 / TF 2.21 on the same data and initial weights.
    np.testing.assert_allclose(history.history["loss"], [1.4352, 1.1219], atol=2e-4)
    np.testing.assert_allclose(history.history["val_loss"], [0.736, 0.7097], atol=2e-4)
    np.testing.assert_allclose(history.history["val_mae"], [0.7614, 0.7278], atol=2e-4)
    np.testing.assert_allclose(model.get_weights()[0].ravel(), [0.29628, -0.15995, -0.38538],
                               atol=1e-5)


def test_dataset_with_y_is_refused_with_keras_message():
    x, y = _data()
    with pytest.raises(ValueError, match="When providing `x` as a tf.data.Dataset, `y` should "
                                         "not be passed"):
        _model().fit(tf.data.Dataset.from_tensor_slices(x).batch(8), y, verbose=0)
