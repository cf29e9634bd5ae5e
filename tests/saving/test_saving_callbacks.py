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


def test_backup_counts_batches_like_keras(tmp_path):
    # Keras counts the batches run between two calls (steps_per_execution > 1 skips indices)
    # and saves once save_freq of them have run.
    cb = BackupAndRestore(str(tmp_path / "b"), save_freq=3, delete_checkpoint=False)
    cb.set_model(_model())
    path = tmp_path / "b" / "latest.weights.h5"
    cb.on_train_batch_end(0)       # 1 batch
    assert not path.exists()
    cb.on_train_batch_end(2)       # batches 1 and 2 ran too: 3, save
    assert path.exists()
    path.unlink()
    cb.on_train_batch_end(0)       # a new epoch: 1 batch
    cb.on_train_batch_end(1)       # 2
    assert not path.exists()
    cb.on_train_batch_end(3)       # 4: save
    assert path.exists()


def test_backup_double_checkpoint_recovers_from_a_corrupt_latest_file(tmp_path):
    x, y = _data()
    backup = tmp_path / "backup"
    model = _model()
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[BackupAndRestore(str(backup), double_checkpoint=True),
                             _Interrupt(at_epoch=2)])
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "latest.weights.h5.bkp",
                                          "training_metadata.json",
                                          "training_metadata.json.bkp"]
    (backup / "latest.weights.h5").write_bytes(b"garbage, not HDF5")  # killed mid-write
    epochs = _Epochs()
    _model().fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                 callbacks=[BackupAndRestore(str(backup), double_checkpoint=True), epochs])
    assert epochs.seen == [2, 3]  # restored from the previous backup (after epoch index 1)
    # without a previous backup the corrupt file is an error naming it
    model = _model()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "latest.weights.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"latest\.weights\.h5.*not a valid HDF5"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndRestore(str(bad))])
