"""``fit``/``evaluate``/``predict`` on a tf.data.Dataset."""

import json
import os
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
    # this process's own high-water mark: ru_maxrss also counts the parent's resident size
    # at the exec that started this process (pytest's, hundreds of MB late in a run)
    try:
        with open("/proc/self/status") as f:
            peak_mb = next(int(line.split()[1]) for line in f
                           if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": peak_mb, "rows": produced[0],
                      "gb": produced[0] * WIDTH * 4 / 2**30,
                      "loss": history.history["loss"]}))
""")


def test_fit_streams_a_2gb_generator_in_bounded_memory():
    # About 5 s on one core: the 2 GB are produced, batched and consumed once. The NumPy
    # kernels: this bounds what the input pipeline holds, and on a machine whose Numba cache is
    # still empty the compiled kernels' one-time compilation alone peaks at ~300 MB.
    env = dict(os.environ, TAPEFLOW_JIT="0")
    out = subprocess.run([sys.executable, "-c", _STREAM], capture_output=True, text=True,
                         timeout=300, env=env)
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


def _xy20():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(20, 3)).astype("float32"),
            rng.normal(size=(20, 1)).astype("float32"))


def test_steps_beyond_one_pass_stop_at_the_end_of_the_pass_as_keras():
    x, y = _xy20()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)   # 4 batches: 6, 6, 6, 2
    gen = tf.data.Dataset.from_generator(lambda: zip(x, y), output_signature=(
        tf.TensorSpec((3,), tf.float32), tf.TensorSpec((1,), tf.float32))).batch(6)
    for data in (ds, gen):   # known and unknown cardinality behave alike
        model = _linear_model()
        with pytest.warns(UserWarning, match="ran out of data"):
            history = model.fit(data, epochs=3, steps_per_epoch=3, verbose=0)
        # Recorded with Keras 3.15: epoch 2 is the last (2-row) batch alone.
        np.testing.assert_allclose(history.history["loss"], [1.3596, 2.1152, 1.1316], atol=2e-4)
        model = _linear_model()
        with pytest.warns(UserWarning, match="ran out of data"):
            loss = model.evaluate(data, steps=10, verbose=0)[0]
        assert abs(loss - 1.4722) < 2e-4   # Keras 3.15: the 4 batches, once
    model = _linear_model()
    with pytest.warns(UserWarning, match="ran out of data"):
        assert model.predict(tf.data.Dataset.from_tensor_slices(x).batch(6), steps=10,
                             verbose=0).shape == (20, 1)


def test_validation_arrays_restart_each_epoch_with_validation_steps():
    x, y = _xy20()
    model = _linear_model()
    history = model.fit(x, y, batch_size=6, shuffle=False, epochs=2,
                        validation_data=(x[:7], y[:7]), validation_steps=2,
                        validation_batch_size=3, verbose=0)
    np.testing.assert_allclose(history.history["val_loss"], [0.736, 0.7097], atol=2e-4)


def test_class_weight_with_a_dataset_as_keras():
    x, _ = _xy20()
    y = (np.arange(20) % 3).astype("int64")
    weights = {0: 1.0, 1: 2.0, 2: 0.5}

    def model():
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
        m.layers[0].set_weights([np.arange(9, dtype="float32").reshape(3, 3) / 10,
                                 np.zeros(3, "float32")])
        m.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m
    a = model()
    history = a.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(6), class_weight=weights,
                    epochs=2, verbose=0)
    # Recorded with Keras 3.15 / TF 2.21.
    np.testing.assert_allclose(history.history["loss"], [1.3155, 1.1795], atol=2e-4)
    np.testing.assert_allclose(a.get_weights()[0][0], [-0.1622, 0.2875, 0.1747], atol=2e-4)
    b = model()
    b.fit(x, y, batch_size=6, shuffle=False, class_weight=weights, epochs=2, verbose=0)
    np.testing.assert_allclose(a.get_weights()[0], b.get_weights()[0], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="You cannot `class_weight` and `sample_weight` at the "
                                         "same time."):
        model().fit(tf.data.Dataset.from_tensor_slices((x, y, np.ones(20, "float32"))).batch(6),
                    class_weight=weights, verbose=0)
