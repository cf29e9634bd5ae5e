"""BackupAndRestore resumes an interrupted fit exactly; ModelCheckpoint writes loadable models."""

import os

import numpy as np
import pytest

from tapeflow import keras
from tapeflow.keras.callbacks_backup import BackupAndRestore


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("interrupted")


class _Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_backup_and_restore_resumes_where_training_stopped(tmp_path):
    x, y = _data()
    reference = _model()
    start = reference.get_weights()
    reference.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)

    backup = str(tmp_path / "backup")
    model = _model()
    model.set_weights(start)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[BackupAndRestore(backup), _Interrupt(at_epoch=1)])
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "training_metadata.json"]

    fresh = _model()  # a new process would rebuild the model and optimizer from scratch
    epochs = _Epochs()
    fresh.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
              callbacks=[BackupAndRestore(backup), epochs])
    assert epochs.seen == [2, 3]
    for a, b in zip(fresh.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
    assert not os.path.exists(backup)  # deleted after a finished run


def test_backup_and_restore_arguments():
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("/tmp/b", save_freq=0)
    assert keras.callbacks.BackupAndRestore is BackupAndRestore


def test_model_checkpoint_saves_loadable_full_models(tmp_path):
    x, y = _data()
    model = _model()
    path = str(tmp_path / "ckpt_{epoch:02d}.keras")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[keras.callbacks.ModelCheckpoint(path)])
    assert sorted(os.listdir(tmp_path)) == ["ckpt_01.keras", "ckpt_02.keras"]
    loaded = keras.models.load_model(str(tmp_path / "ckpt_02.keras"))
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
