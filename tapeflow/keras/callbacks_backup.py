"""``keras.callbacks.BackupAndRestore``: resume an interrupted ``fit`` where it stopped.

At the end of every epoch (or every ``save_freq`` batches) the callback writes the model's weights
and optimizer state to ``<backup_dir>/latest.weights.h5`` (atomically) and the epoch reached to
``<backup_dir>/training_metadata.json``. When ``fit`` starts again with the same callback, it
restores both and training continues from the next epoch. The backup is deleted when training
finishes (``delete_checkpoint=True``).

>>> import tempfile
>>> import numpy as np
>>> from tapeflow import keras
>>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
>>> model.compile(optimizer="sgd", loss="mse")
>>> cb = BackupAndRestore(tempfile.mkdtemp())
>>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0, callbacks=[cb])
"""

import json
import os
import shutil

from tapeflow.keras.callbacks import Callback
from tapeflow.keras.saving import safe_io

__all__ = ["BackupAndRestore"]


class BackupAndRestore(Callback):
    """Backs up the model and optimizer state during ``fit`` and restores it on restart.

    Args:
      backup_dir: the folder for the backup files (created if needed).
      save_freq: ``"epoch"``, an integer number of batches, or False (never save).
      double_checkpoint: also keep the previous backup as ``<name>.prev`` (used if the latest
        backup cannot be read).
      delete_checkpoint: delete the backup when training ends normally.

    >>> BackupAndRestore("/tmp/x", save_freq="often")
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `save_freq`. Received: save_freq=often. \
Expected either 'epoch' or an integer value.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed to BackupAndRestore.")
        if save_freq != "epoch" and save_freq is not False and \
                (not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. "
                             f"Received: save_freq={save_freq}. "
                             "Expected either 'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"

    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built "
                             "before you call `fit()`. Model is unbuilt. You can build it by "
                             "calling it on some data or by using an `Input` layer.")
        try:
            self._load(self._weights_path, self._training_metadata_path)
        except (OSError, ValueError):
            if not os.path.exists(self._prev_weights_path):
                raise
            # As Keras: the latest backup is unreadable (killed while writing?), so the previous
            # one is copied back in its place and loaded.
            self._restore_copy(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_training_metadata_path):
                self._restore_copy(self._prev_training_metadata_path,
                                   self._training_metadata_path)
            elif os.path.exists(self._training_metadata_path):
                os.remove(self._training_metadata_path)
            self._load(self._weights_path, self._training_metadata_path)

    @staticmethod
    def _restore_copy(src, dst):
        with open(src, "rb") as f:
            data = f.read()
        safe_io.atomic_write(dst, lambda out: out.write(data))

    def _load(self, weights_path, metadata_path):
        if os.path.exists(weights_path):
            self.model.load_weights(weights_path)
        if os.path.exists(metadata_path):
            with open(metadata_path, "rb") as f:
                meta = safe_io.loads_json(f.read(1 << 20), metadata_path)
            epoch = meta.get("epoch") if isinstance(meta, dict) else None
            if not isinstance(epoch, int) or epoch < 0:
                raise ValueError(f"Cannot restore from '{metadata_path}': 'epoch' must be a "
                                 f"non-negative integer, found {epoch!r}.")
            self._current_epoch = epoch
            self.model._initial_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq in ("epoch", False):
            self._last_batch_seen = batch
            return
        # As Keras: count the batches run since the last call (several per call with
        # steps_per_execution > 1; a smaller index means a new epoch started).
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def _save(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._weights_path):
            shutil.copyfile(self._weights_path, self._prev_weights_path)
            if os.path.exists(self._training_metadata_path):
                shutil.copyfile(self._training_metadata_path, self._prev_training_metadata_path)
        self.model.save_weights(self._weights_path, overwrite=True)
        meta = json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen})
        safe_io.atomic_write(self._training_metadata_path, lambda f: f.write(meta.encode()))

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            for path in (self._weights_path, self._training_metadata_path,
                         self._prev_weights_path, self._prev_training_metadata_path):
                if os.path.exists(path):
                    os.remove(path)
            try:
                os.rmdir(self.backup_dir)
            except OSError:  # the folder holds other files: leave it
                pass
