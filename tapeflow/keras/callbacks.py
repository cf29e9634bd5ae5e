"""``keras.callbacks``: hooks into ``fit``/``evaluate``/``predict``.

``Callback`` has every hook; ``CallbackList`` calls them in order. ``fit`` always adds a
``History`` (returned by ``fit``) and, unless ``verbose=0``, a ``ProgbarLogger``.
"""

import csv
import math
import os
import sys
import time
import warnings

from tapeflow._backend import np
from tapeflow.keras import config as _config

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger",
           "SwapEMAWeights",
           "TerminateOnNaN", "LambdaCallback", "RemoteMonitor",
           "TensorBoard"]


class Callback:
    """Base class: override any of the hooks below. ``self.model`` and ``self.params``
    (``epochs``, ``steps``, ``verbose``) are set before training starts.

    >>> class Count(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print("epoch", epoch, sorted(logs))
    >>> import numpy as np
    >>> from tapeflow import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0, callbacks=[Count()])
    epoch 0 ['loss']
    """

    def __init__(self):
        self.validation_data = None
        self._model = None
        self.params = {}

    @property
    def model(self):
        return self._model

    @model.setter
    def model(self, value):
        self._model = value

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    def on_batch_begin(self, batch, logs=None):
        """Called by ``on_train_batch_begin`` (backward compatibility)."""

    def on_batch_end(self, batch, logs=None):
        """Called by ``on_train_batch_end`` (backward compatibility)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch with the epoch's logs (and ``val_*``)."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each evaluation batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each evaluation batch."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each prediction batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each prediction batch."""

    def on_train_begin(self, logs=None):
        """Called when ``fit`` starts."""

    def on_train_end(self, logs=None):
        """Called when ``fit`` ends."""

    def on_test_begin(self, logs=None):
        """Called when evaluation starts."""

    def on_test_end(self, logs=None):
        """Called when evaluation ends."""

    def on_predict_begin(self, logs=None):
        """Called when prediction starts."""

    def on_predict_end(self, logs=None):
        """Called when prediction ends."""


_HOOKS = ("on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
          "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
          "on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
          "on_predict_end")


class CallbackList(Callback):
    """Calls a list of callbacks in order (adding History and ProgbarLogger when asked).

    Batch hooks that no callback overrides are skipped, so an idle list costs nothing per
    batch.

    >>> cbs = CallbackList([History()], add_progbar=False)
    >>> len(cbs.callbacks)
    1
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = list(callbacks) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"All callbacks must be instances of `keras.callbacks.Callback`."
                                f" Received: {cb!r} of type {type(cb).__name__}")
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        if add_history:
            history = next((c for c in self.callbacks if isinstance(c, History)), None)
            if history is None:
                history = History()
                self.callbacks.append(history)
            if model is not None:
                model.history = history
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)
        self._active = {h: [getattr(c, h) for c in self.callbacks if _overrides(c, h)]
                        for h in _HOOKS}

    def append(self, callback):
        self.callbacks.append(callback)
        self._active = {h: [getattr(c, h) for c in self.callbacks if _overrides(c, h)]
                        for h in _HOOKS}

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self._model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def _call(self, hook, *args):
        # As Keras: `{}` rather than None; batch hooks get `logs` by keyword, the others
        # positionally.
        *args, logs = args
        logs = {} if logs is None else logs
        if "batch" in hook:
            for fn in self._active[hook]:
                fn(*args, logs=logs)
        else:
            for fn in self._active[hook]:
                fn(*args, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        for fn in self._active["on_train_batch_begin"]:
            fn(batch, logs={} if logs is None else logs)

    def on_train_batch_end(self, batch, logs=None):
        for fn in self._active["on_train_batch_end"]:
            fn(batch, logs={} if logs is None else logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def __iter__(self):
        return iter(self.callbacks)


def _overrides(cb, hook):
    if hook in getattr(cb, "_lambda_hooks", ()):   # LambdaCallback sets hooks on the instance
        return True
    fn = getattr(type(cb), hook, None)
    if fn is None:
        return False
    if fn is not getattr(Callback, hook):
        return True
    # The train-batch hooks forward to on_batch_*: active if those are overridden.
    alias = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}
    if hook in alias:
        return getattr(type(cb), alias[hook]) is not getattr(Callback, alias[hook])
    return False


def _float_logs(logs):
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v._value if hasattr(v, "_value") else v)
        except (TypeError, ValueError):
            out[k] = v
    return out


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is one value per epoch.

    >>> h = History()
    >>> h.on_train_begin(); h.on_epoch_end(0, {"loss": 1.0})
    >>> h.history, h.epoch
    ({'loss': [1.0]}, [0])
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class ProgbarLogger(Callback):
    """Prints progress: ``verbose=1`` a bar with ETA and running metrics (rewritten in place
    in a terminal or notebook; only the final line of each epoch when output is not a
    terminal, so log files are not flooded), ``verbose=2`` one line per epoch.

    >>> ProgbarLogger().verbose
    1
    """

    def __init__(self, count_mode=None, stateful_metrics=None):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self._steps = None
        self._seen = 0
        self._start = 0.0
        self._last_draw = 0.0
        self._in_fit = False
        self._stream = None

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self._steps = params.get("steps")

    def _out(self):
        return self._stream or sys.stdout

    def _interactive(self):
        if not _config.is_interactive_logging_enabled():
            return False
        out = self._out()
        return (hasattr(out, "isatty") and out.isatty()) or "ipykernel" in sys.modules

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            self._write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def _reset(self):
        self._seen = 0
        self._start = time.time()
        self._last_draw = 0.0

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch + 1, logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._reset()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch + 1, logs)

    def on_predict_begin(self, logs=None):
        self._reset()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch + 1, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _update(self, seen, logs):
        self._seen = seen
        if self.verbose != 1 or not self._interactive():
            return
        now = time.time()
        if now - self._last_draw < 0.05 and (self._steps is None or seen < self._steps):
            return
        self._last_draw = now
        self._write("\r" + self._pad(self._line(seen, logs, final=False)))

    def _finish(self, logs):
        if self._steps is None and self._seen:
            self._steps = self._seen   # Keras: an unknown length is known after one pass
        if not self.verbose:
            return
        line = self._line(self._seen, logs, final=True)
        if self.verbose == 1 and self._interactive():
            self._write("\r" + self._pad(line) + "\n")
            self._shown = 0
        else:
            self._write(line + "\n")

    def _line(self, seen, logs, final):
        elapsed = time.time() - self._start
        values = [(k, v) for k, v in _float_logs(logs).items() if isinstance(v, float)]
        return _progress_line(seen, self._steps, elapsed, elapsed / max(seen, 1), values,
                              self.verbose, final, color=self._interactive())

    def _pad(self, line):
        # Blank what is left of a longer previous line when a line is rewritten in place.
        shown = getattr(self, "_shown", 0)
        self._shown = len(line)
        return line + " " * max(0, shown - len(line))

    def _write(self, text):
        if not _config.is_interactive_logging_enabled() and self._stream is None:
            _config.print_msg(text.rstrip("\n"))   # to the "keras" logger
            return
        out = self._out()
        out.write(text)
        out.flush()


def _progress_line(current, target, elapsed, per_step, values, verbose, finalize, color,
                   width=20):
    """One progress line in Keras 3's format (``values``: (name, float) pairs).

    >>> _progress_line(2, 2, 0.4, 0.2, [("loss", 0.5), ("acc", 0.0)], 2, True, False)
    '2/2 - 0s - 200ms/step - loss: 0.5000 - acc: 0.0000e+00'
    >>> _progress_line(1, 4, 0.1, 0.1, [("loss", 0.5)], 1, False, False)
    '1/4 ━━━━━                0s 100ms/step - loss: 0.5000'
    """
    if verbose == 2:
        target = target or current
        line = f"{current:>{len(str(target))}}/{target} - {elapsed:.0f}s -{_fmt_step(per_step)}"
    else:
        def bold(text):
            return f"\x1b[1m{text}\x1b[0m" if color else text

        if target:
            line = bold(f"{current:>{len(str(target))}}/{target}") + " "
            done = min(width, int(width * current / target))
            if color:
                line += (f"\x1b[32m{'━' * done}\x1b[0m" if done else "") + \
                    f"\x1b[37m{'━' * (width - done)}\x1b[0m"
            else:
                line += "━" * done + " " * (width - done)
        else:
            line = f"{current:7d}/Unknown"
        when = _fmt_eta(per_step * (target - current)) if target and not finalize else \
            f"{elapsed:.0f}s"
        line += " " + bold(when) + _fmt_step(per_step)
    for k, v in values:
        line += f" - {k}: {_fmt_value(v)}"
    return line


def _fmt_eta(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


def _fmt_step(per_step, unit="step"):
    if per_step >= 1 or per_step == 0:
        return f" {per_step:.0f}s/{unit}"
    if per_step >= 1e-3:
        return f" {per_step * 1e3:.0f}ms/{unit}"
    return f" {per_step * 1e6:.0f}us/{unit}"


def _fmt_value(v):
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


class _Monitor(Callback):
    """Shared logic of callbacks that watch one logged quantity (min/max/auto mode)."""

    def _set_mode(self, mode, monitor):
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode {mode} is unknown, fallback to auto "
                          f"mode.", stacklevel=3)
            mode = "auto"
        self._auto = mode == "auto"
        if mode == "auto":   # a first guess from the name; refined from the metric at first use
            mode = "max" if ("acc" in monitor or monitor.endswith("auc") or
                             monitor.startswith("fmeasure")) and "loss" not in monitor else "min"
        self.mode = mode
        return mode

    def _resolve_auto_mode(self):
        # Keras 3 asks the monitored metric which way is better (its `_direction`); a name
        # that is neither a loss nor a metric with a direction is an error.
        self._auto = False
        name = self.monitor.removeprefix("val_")
        found = name == "loss" or name.endswith("_loss")
        if found:
            self.mode = "min"
        for m in getattr(self.model, "metrics", None) or []:
            for sub in getattr(m, "metrics", [m]):
                if getattr(sub, "name", None) == name and getattr(sub, "_direction", None):
                    self.mode = "max" if sub._direction == "up" else "min"
                    found = True
        if not found and self.model is not None:
            raise ValueError(
                f"{type(self).__name__} callback received monitor={self.monitor}, but Keras "
                "isn't able to automatically determine whether that metric should be "
                "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                "highest metric value, or pass `mode='min'` in order to use the lowest value.")

    def _check_mode(self):
        # Called at each epoch end, before the monitored value is read (as Keras does).
        if getattr(self, "_auto", False):
            self._resolve_auto_mode()

    def _improved(self, current, reference, min_delta):
        self._check_mode()
        if reference is None:
            return True
        if self.mode == "min":
            return current < reference - min_delta
        return current > reference + min_delta

    def _get(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: monitored metric '{self.monitor}' is not "
                          f"available. Available metrics are: {','.join(sorted(logs or {}))}",
                          stacklevel=3)
            return None
        return float(value)


class EarlyStopping(_Monitor):
    """Stops training when ``monitor`` has stopped improving for ``patience`` epochs.

    Args:
      monitor: the logged quantity (default ``"val_loss"``).
      min_delta: smallest change that counts as an improvement.
      patience: epochs without improvement before stopping.
      verbose: print a message when stopping.
      mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name).
      baseline: a value to beat; training stops if it is not beaten within ``patience``.
      restore_best_weights: restore the weights of the best epoch when stopping.
      start_from_epoch: epochs to wait before monitoring.

    >>> cb = EarlyStopping(monitor="loss", patience=2)
    >>> cb.mode
    'min'
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._set_mode(mode, monitor)
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        self._check_mode()
        current = self._get(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current, self.best, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline, self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _config.print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _config.print_msg(f"Restoring model weights from the end of the best epoch: "
                                  f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        return self._get(logs)


class ModelCheckpoint(_Monitor):
    """Saves the model (or its weights) after each epoch, or only when ``monitor`` improves.

    Args:
      filepath: where to save; may contain ``{epoch}`` and log names (``{val_loss:.2f}``).
        Must end in ``.keras`` (full model) or ``.weights.h5`` (``save_weights_only=True``).
      monitor, mode: the quantity that decides "best".
      save_best_only: only save when ``monitor`` improves.
      save_weights_only: call ``save_weights`` instead of ``save``.
      save_freq: ``"epoch"`` or a number of batches.
      initial_value_threshold: a value the first save must beat.

    >>> ModelCheckpoint("m.keras").save_best_only
    False
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._set_mode(mode, monitor)
        self.best = initial_value_threshold
        self._batches = 0
        self._epoch = 0
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(f"When using `save_weights_only=True` in `ModelCheckpoint`, the "
                             f"filepath provided must end in `.weights.h5` (Keras weights "
                             f"format). Received: filepath={self.filepath}")
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError(f"The filepath provided must end in `.keras` (Keras model format)."
                             f" Received: filepath={self.filepath}")
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                             f"'epoch' or integer values")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if isinstance(self.save_freq, int):
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch, _float_logs(logs), batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _save(self, epoch, logs, batch=None):
        logs = dict(logs or {})
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, "
                              f"skipping.", stacklevel=2)
                return
            if not self._improved(float(current), self.best, 0):
                if self.verbose > 0:
                    _config.print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve "
                                      f"from {self.best:.5f}")
                return
            if self.verbose > 0:
                best = "None" if self.best is None else f"{self.best:.5f}"
                _config.print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} "
                                  f"to {float(current):.5f}, saving model to {path}")
            self.best = float(current)
        elif self.verbose > 0:
            _config.print_msg(f"\nEpoch {epoch + 1}: saving model to {path}")
        dirname = os.path.dirname(path)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
        if self.verbose > 0:
            _config.print_msg(f"\nEpoch {epoch + 1}: finished saving model to {path}")

    def _file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to
    ``schedule(epoch, lr)``.

    >>> cb = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    >>> cb.verbose
    0
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        if not hasattr(opt, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = _get_lr(opt)
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:
            new_lr = self.schedule(epoch)
        new_lr = float(new_lr.numpy() if hasattr(new_lr, "numpy") else new_lr)
        if not isinstance(new_lr, float) or math.isnan(new_lr):
            raise ValueError(f'The output of the "schedule" function should be a float. Got: '
                             f"{new_lr}")
        _set_lr(opt, new_lr)
        if self.verbose > 0:
            _config.print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning "
                              f"rate to {new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model.optimizer)


def _get_lr(opt):
    lr = opt.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)


def _set_lr(opt, value):
    lr = getattr(opt, "learning_rate", None)
    if hasattr(lr, "assign"):
        lr.assign(value)
    else:
        opt.learning_rate = value


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (not below ``min_lr``).

    >>> ReduceLROnPlateau(factor=0.5).factor
    0.5
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             f"factor={factor}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._set_mode(mode, monitor)
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _get_lr(self.model.optimizer)
        self._check_mode()
        current = self._get(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current, self.best, self.min_delta):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = _get_lr(self.model.optimizer)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    _set_lr(self.model.optimizer, new)
                    if self.verbose > 0:
                        _config.print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                                          f"learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file (``epoch`` first, then the sorted keys).

    >>> CSVLogger("log.csv").separator
    ','
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self._file = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._append_header = not (self.append and exists)
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa
        self._writer = None
        self._keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = _float_logs(logs)
        if self._keys is None:
            self._keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys,
                                          delimiter=self.separator)
            if self._append_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: logs.get(k, "NA") for k in self._keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch loss is NaN or infinite.

    >>> TerminateOnNaN().model is None
    True
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None:
            value = float(loss._value if hasattr(loss, "_value") else loss)
            if math.isnan(value) or math.isinf(value):
                if self.raise_error:   # Keras 3.15: fail at once, skipping on_train_end
                    raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss "
                                       f"value: {value}. Terminating training immediately.")
                _config.print_msg(f"Batch {batch}: Invalid loss, terminating training")
                self.model.stop_training = True


class SwapEMAWeights(Callback):
    """Evaluates (and predicts) with the optimizer's moving-average weights
    (``use_ema=True``), swapping them into the model for the duration.

    Args:
      swap_on_epoch: also swap at each epoch end, so that callbacks that follow (such as
        ModelCheckpoint) see the EMA weights.

    >>> SwapEMAWeights(swap_on_epoch=True).swap_on_epoch
    True
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizer(self):
        opt = self.model.optimizer
        opt = getattr(opt, "inner_optimizer", opt)
        if not getattr(opt, "use_ema", False) or not hasattr(
                opt, "_model_variables_moving_average"):
            raise ValueError(f"SwapEMAWeights must be used when `use_ema=True` is set on the "
                             f"optimizer. Received: use_ema={getattr(opt, 'use_ema', None)}")
        return opt

    def _swap(self):
        opt = self._optimizer()
        for var, avg in zip(opt._trainable_variables, opt._model_variables_moving_average):
            tmp = np.array(var._value, copy=True)
            var._value[...] = avg._value
            avg._value[...] = tmp

    def _finalize(self):
        opt = self._optimizer()
        for var, avg in zip(opt._trainable_variables, opt._model_variables_moving_average):
            avg._value[...] = var._value

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True
            # fit ends by copying the averages into the model: make them the EMA values
            if epoch == self.params.get("epochs", 0) - 1:
                self._finalize()

    def _begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True

    def _end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    on_test_begin = on_predict_begin = _begin
    on_test_end = on_predict_end = _end


class LambdaCallback(Callback):
    """A callback built from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    >>> cb = LambdaCallback(on_train_begin=lambda logs: print("start"))
    >>> cb.on_train_begin({})
    start
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(kwargs)
        hooks.update({"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                      "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                      "on_train_batch_begin": on_train_batch_begin,
                      "on_train_batch_end": on_train_batch_end})
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; expected one of "
                                 f"{list(_HOOKS)}.")
            if fn is not None:
                setattr(self, name, fn)
        self._lambda_hooks = {k for k, v in hooks.items() if v is not None}


class RemoteMonitor(Callback):
    """Accepted for compatibility; tapeflow does not post logs to a server."""

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data",
                 headers=None, send_as_json=False):
        super().__init__()
        self.root = root


class TensorBoard(Callback):
    """Accepted for compatibility; writes nothing (tapeflow has no TensorBoard writer)."""

    def __init__(self, log_dir="logs", **kwargs):
        super().__init__()
        self.log_dir = log_dir


def __getattr__(name):
    # BackupAndRestore lives in its own module, which imports this one: load it on first use.
    if name == "BackupAndRestore":
        from tapeflow.keras.callbacks_backup import BackupAndRestore

        return BackupAndRestore
    raise AttributeError(f"module 'tapeflow.keras.callbacks' has no attribute {name!r}")
