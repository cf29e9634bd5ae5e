"""The one Trainer: ``compile``, ``fit``, ``evaluate``, ``predict`` and their steps.

``fit`` is a single loop: ``EpochIterator`` -> ``CallbackList`` -> ``train_step`` -> logs, with
validation merged as ``val_*``. ``train_step`` is the GradientTape pattern::

    with GradientTape() as tape:
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
"""

import contextlib
import warnings

from tapeflow._backend import blas, memory, np
from tapeflow.framework import nest
from tapeflow.framework import registry as _reg
from tapeflow.framework.tape import GradientTape
from tapeflow.framework.tensor import Tensor, _TensorLike
from tapeflow.keras.data_adapter import (
    EpochIterator,
    train_validation_split,
    unpack_x_y_sample_weight,
)

__all__ = ["Trainer"]


class _LossTracker:
    """The running mean of the loss (a tiny ``keras.metrics.Mean``), weighted by batch size."""

    def __init__(self, name="loss"):
        self.name = name
        self._total = 0.0
        self._count = 0.0

    def update_state(self, values, sample_weight=None):
        if sample_weight is None:
            w = 1.0
        elif type(sample_weight) is int:   # the batch size train_step passes: skip np.ndim
            w = float(sample_weight)
        else:
            w = float(np.asarray(sample_weight).sum()) if np.ndim(sample_weight) \
                else float(sample_weight)
        v = values._value if isinstance(values, _TensorLike) else np.asarray(values)
        self._total += (float(v) if v.ndim == 0 else float(np.mean(v))) * w
        self._count += w

    def result(self):
        return np.float32(self._total / self._count) if self._count else np.float32(0.0)

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0

    @property
    def variables(self):
        return []


class _CompileLoss:
    """The compiled loss(es): one per output (lists or dicts), weighted, plus per-output
    loss trackers for models with several outputs."""

    def __init__(self, loss, loss_weights, model):
        self._user_loss = loss
        self._user_weights = loss_weights
        self._model = model
        self._built = False
        self.metrics = []

    def _build(self, y_true, y_pred):
        from tapeflow.keras import losses as losses_mod  # noqa: PLC0415

        names = self._model._output_names_for(y_pred)
        flat_pred = _flat_outputs(y_pred, names)
        n = len(flat_pred)
        loss = self._user_loss
        if isinstance(loss, dict) and not isinstance(y_pred, dict) and n > 1 and \
                set(loss) != set(names):
            raise ValueError(f"Expected keys {names} in loss dict, but found "
                             f"loss.keys()={list(loss)}")   # Keras 3.15's message
        if isinstance(loss, dict):
            unknown = [k for k in loss if k not in names]
            if unknown:
                raise ValueError(f"In the dict argument `loss`, key(s) {unknown} do not "
                                 f"correspond to any model output. Received: loss={loss}; "
                                 f"the model's outputs are {names}")
            per = [loss.get(k) for k in names]
        elif isinstance(loss, (list, tuple)):
            if len(loss) != n:
                raise ValueError(f"For a model with {n} outputs, when providing the `loss` "
                                 f"argument as a list, it should have as many entries as the "
                                 f"model has outputs. Received: loss={loss} of length "
                                 f"{len(loss)}")
            per = list(loss)
        else:
            per = [loss] * n
        weights = self._user_weights
        if weights is None:
            w = [1.0] * n
        elif isinstance(weights, dict):
            w = [float(weights.get(k, 1.0)) for k in names]
        else:
            w = [float(v) for v in (weights if isinstance(weights, (list, tuple)) else [weights])]
            if len(w) != n:
                raise ValueError(f"`loss_weights` must have one entry per output ({n}). "
                                 f"Received: loss_weights={weights}")
        self._fns = [None if fn is None else _as_loss_object(losses_mod, fn) for fn in per]
        self._weights = w
        self._names = names
        # Keras: one "<output>_loss" tracker per output that has a loss, when several do.
        active = [i for i, fn in enumerate(self._fns) if fn is not None]
        self._trackers = {i: _LossTracker(f"{names[i]}_loss") for i in active} \
            if len(active) > 1 else {}
        self.metrics = list(self._trackers.values())
        self._built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        if not self._built:
            self._build(y_true, y_pred)
        if sample_weight is None and type(y_pred) is Tensor and type(y_true) is Tensor and \
                len(self._fns) == 1:
            # One output and one target Tensor: the loop below, without building its lists
            # (no per-output tracker exists for a single loss).
            fn = self._fns[0]
            if fn is None:
                return None
            value = fn(y_true, y_pred, sample_weight=None)
            w = self._weights[0]
            return value if w == 1.0 else value * w
        names = self._names
        preds = _flat_outputs(y_pred, names)
        trues = _flat_targets(y_true, names, len(preds))
        sws = _flat_targets(sample_weight, names, len(preds)) if sample_weight is not None \
            else [None] * len(preds)
        total = None
        for i, (fn, w, yt, yp, sw) in enumerate(zip(self._fns, self._weights, trues, preds, sws)):
            if fn is None or yt is None:
                continue
            value = fn(yt, yp, sample_weight=sw)
            if self._trackers:
                self._trackers[i].update_state(value, sample_weight=_batch_size(yp))
            value = value if w == 1.0 else value * w
            total = value if total is None else total + value
        return total


def _as_loss_object(losses_mod, fn):
    obj = losses_mod.get(fn)
    if isinstance(obj, losses_mod.Loss):
        return obj
    return losses_mod.LossFunctionWrapper(obj, name=getattr(obj, "__name__", "loss"))


class _CompileMetrics:
    """The compiled metrics of every output; ``result()`` is a dict (flattened in the logs)."""

    name = "compile_metrics"

    def __init__(self, metrics, weighted_metrics, model):
        self._user = metrics
        self._user_weighted = weighted_metrics
        self._model = model
        self._built = False
        self._per_output = []

    def _build(self, y_true, y_pred):
        names = self._model._output_names_for(y_pred)
        preds = _flat_outputs(y_pred, names)
        trues = _flat_targets(y_true, names, len(preds))
        n = len(preds)
        plain = self._spread(self._user, names, n, "metrics")
        weighted = self._spread(self._user_weighted, names, n, "weighted_metrics")
        user_loss = self._model.loss
        self._per_output = []
        for i in range(n):
            loss_id = _loss_id_for_output(user_loss, names, i)
            ms = [(_resolve_metric(m, trues[i], preds[i], loss_id), False) for m in plain[i]]
            taken = {m.name for m, _ in ms}
            for w in weighted[i]:
                metric = _resolve_metric(w, trues[i], preds[i], loss_id)
                if metric.name in taken:   # Keras: "weighted_mae" beside a plain "mae"
                    metric.name = f"weighted_{metric.name}"
                ms.append((metric, True))
            if n > 1:
                for m, _ in ms:
                    m.name = f"{names[i]}_{m.name}"
            self._per_output.append(ms)
        seen = set()
        for m in self.metrics:   # Keras: a repeated name gets _1, _2 ("auc", "auc_1")
            base, k = m.name, 0
            while m.name in seen:
                k += 1
                m.name = f"{base}_{k}"
            seen.add(m.name)
        self._built = True

    @staticmethod
    def _spread(metrics, names, n, arg="metrics"):
        # Keras 3: one output takes a list (or dict) of metrics; several outputs take a dict
        # keyed by output name or a list with one entry (a metric or a list) per output.
        def as_list(v):
            return [] if v is None else list(v) if isinstance(v, (list, tuple)) else [v]

        if not metrics:
            return [[] for _ in range(n)]
        if isinstance(metrics, dict):
            unknown = [k for k in metrics if k not in names]
            if unknown and n > 1:
                raise ValueError(f"Invalid `{arg}`: the key(s) {unknown} of the dict do not "
                                 f"match the model's output names {names}. Received: "
                                 f"{arg}={metrics}")
            if n == 1:
                return [[m for v in metrics.values() for m in as_list(v)]]
            return [as_list(metrics.get(k)) for k in names]
        if n == 1:
            return [as_list(metrics)]
        if isinstance(metrics, (list, tuple)) and len(metrics) == n:
            return [as_list(m) for m in metrics]
        raise ValueError(f"Invalid `{arg}`. For a model with {n} outputs, `{arg}` should be a "
                         f"dict keyed by the output names {names} or a list with one entry (a "
                         f"metric or a list of metrics) per output. Received: {arg}={metrics}")

    @property
    def metrics(self):
        return [m for ms in self._per_output for m, _ in ms]

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self._built:
            self._build(y_true, y_pred)
        names = self._model._output_names_for(y_pred)
        preds = _flat_outputs(y_pred, names)
        trues = _flat_targets(y_true, names, len(preds))
        sws = _flat_targets(sample_weight, names, len(preds)) if sample_weight is not None \
            else [None] * len(preds)
        for ms, yt, yp, sw in zip(self._per_output, trues, preds, sws):
            if yt is None:
                continue
            for m, weighted in ms:
                if weighted and sw is not None:
                    m.update_state(yt, yp, sample_weight=sw)
                else:
                    m.update_state(yt, yp)

    def result(self):
        return {m.name: m.result() for m in self.metrics}

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()


def _loss_id_for_output(loss, names, i):
    if isinstance(loss, dict):
        return loss.get(names[i])
    if isinstance(loss, (list, tuple)):
        return loss[i] if i < len(loss) else None
    return loss


def _resolve_metric(identifier, y_true, y_pred, loss_id):
    from tapeflow.keras import metrics as metrics_mod  # noqa: PLC0415

    if not isinstance(identifier, str) or identifier.lower() not in (
            "accuracy", "acc", "crossentropy", "ce"):
        metric = metrics_mod.get(identifier)
        if not hasattr(metric, "update_state"):   # a plain function: average it per sample
            metric = metrics_mod.MeanMetricWrapper(metric, name=getattr(metric, "__name__",
                                                                        "metric"))
        if isinstance(identifier, str):
            metric.name = identifier   # Keras logs a string metric under the given string
        return metric
    kind = _target_kind(y_true, y_pred, loss_id)
    if identifier.lower() in ("accuracy", "acc"):
        cls = {"binary": metrics_mod.BinaryAccuracy,
               "sparse": metrics_mod.SparseCategoricalAccuracy,
               "categorical": metrics_mod.CategoricalAccuracy}[kind]
    else:
        cls = {"binary": metrics_mod.BinaryCrossentropy,
               "sparse": metrics_mod.SparseCategoricalCrossentropy,
               "categorical": metrics_mod.CategoricalCrossentropy}[kind]
    return cls(name=identifier)


def _target_kind(y_true, y_pred, loss_id):
    # Keras 3 decides from the shapes alone (not from the loss): one output unit is binary,
    # labels of lower rank (or a last axis of 1 against several units) are sparse, else
    # categorical; so binary_crossentropy on 3 sigmoid units gets CategoricalAccuracy.
    pshape = tuple(y_pred.shape)
    tshape = tuple(np.shape(y_true)) if not isinstance(y_true, _TensorLike) else \
        tuple(y_true.shape)
    if pshape and pshape[-1] == 1:
        return "binary"
    if len(tshape) < len(pshape) or (len(tshape) == len(pshape) and tshape and
                                          tshape[-1] == 1 and pshape[-1] != 1):
        return "sparse"
    return "categorical"


def _flat_outputs(y_pred, names):
    if isinstance(y_pred, dict):
        return [y_pred[k] for k in names]
    if isinstance(y_pred, (list, tuple)):
        return list(y_pred)
    return [y_pred]


def _flat_targets(y, names, n):
    if y is None:
        return [None] * n
    if isinstance(y, dict):
        return [y.get(k) for k in names]
    if n > 1 and isinstance(y, (list, tuple)):
        if len(y) != n:
            raise ValueError(f"The model has {n} outputs, but the targets have {len(y)} "
                             f"entries.")
        return list(y)
    if n > 1:
        return [y] * n
    if isinstance(y, (list, tuple)) and len(y) == 1:
        return [y[0]]
    return [y]


_FUSED_MLP = [None]    # the module once imported; False: switched off (tests, benchmarks)


def _fused_mlp():
    mod = _FUSED_MLP[0]
    if mod is None:
        from tapeflow.keras import _fused_mlp as mod  # noqa: PLC0415 - first step only

        _FUSED_MLP[0] = mod
    return mod


def _batch_size(x):
    if type(x) is Tensor:  # the common case, without building a TensorShape (issue 7)
        shape = x._value.shape
        return int(shape[0]) if shape else 1
    for t in nest.flatten(x):
        if hasattr(t, "shape") and len(t.shape):
            return int(t.shape[0])
    return 1


def _pythonify(logs):
    # Python floats, nested dicts (compile_metrics) flattened, keys sorted (as Keras 3 does).
    out = {}
    for k, v in sorted(logs.items()):
        if isinstance(v, dict):
            out.update(_pythonify(v))
        else:
            out[k] = _float(v)
    return out


def _float(v):
    if isinstance(v, _TensorLike):
        v = v._value
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


@contextlib.contextmanager
def _no_tape():
    # predict and evaluate never record: pause any tape the caller has open.
    tapes = [t for t in _reg.active_tapes() if t._recording]
    with contextlib.ExitStack() as stack:
        for t in tapes:
            stack.enter_context(t.stop_recording())
        yield


class Trainer:
    """Mixed into ``Model``: compile/fit/evaluate/predict, one implementation."""

    def __init__(self):
        d = self.__dict__
        d["compiled"] = False
        d["optimizer"] = None
        d["loss"] = None
        d["_compile_loss"] = None
        d["_compile_metrics"] = None
        d["_loss_tracker"] = None
        d["stop_training"] = False
        d["history"] = None
        d["_run_eagerly"] = False
        d["_jit_compile"] = None
        d["steps_per_execution"] = 1
        d["compile_config"] = None

    # --------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures training: the optimizer, the loss(es) and the metrics.

        Args:
          optimizer: an optimizer name (``"adam"``) or instance.
          loss: a loss name, function or ``Loss``; a list or dict for several outputs.
          loss_weights: optional per-output weights of the losses.
          metrics / weighted_metrics: metric names or objects (a list, or a list/dict per
            output); ``"accuracy"`` picks binary, sparse or categorical accuracy from the loss
            and the shapes.
          run_eagerly, steps_per_execution, jit_compile: accepted for compatibility (tapeflow
            always runs eagerly).

        >>> from tapeflow import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        >>> model.compiled
        True
        """
        from tapeflow.keras import optimizers  # noqa: PLC0415

        d = self.__dict__
        d["optimizer"] = optimizers.get(optimizer)
        d["loss"] = loss
        d["_loss_weights"] = loss_weights
        d["_compile_loss"] = _CompileLoss(loss, loss_weights, self) if loss is not None else None
        d["_compile_metrics"] = _CompileMetrics(metrics, weighted_metrics, self) \
            if (metrics or weighted_metrics) else None
        d["_loss_tracker"] = _LossTracker("loss")
        d["_run_eagerly"] = bool(run_eagerly)
        d["_jit_compile"] = jit_compile
        d["steps_per_execution"] = steps_per_execution
        d["compile_config"] = {"optimizer": optimizer, "loss": loss,
                               "loss_weights": loss_weights, "metrics": metrics,
                               "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
                               "steps_per_execution": steps_per_execution,
                               "jit_compile": jit_compile}
        d["compiled"] = True

    @property
    def run_eagerly(self):
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value):
        self.__dict__["_run_eagerly"] = bool(value)

    @property
    def jit_compile(self):
        return self._jit_compile

    @jit_compile.setter
    def jit_compile(self, value):
        self.__dict__["_jit_compile"] = value

    def get_compile_config(self):
        return self.compile_config

    def compile_from_config(self, config):
        self.compile(**config)

    def _assert_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")  # Keras 3

    def _output_names_for(self, y_pred):
        if isinstance(y_pred, dict):
            return list(y_pred)
        names = list(self.output_names) if getattr(self, "output_names", None) else []
        n = len(y_pred) if isinstance(y_pred, (list, tuple)) else 1
        if len(names) != n:
            names = ["output"] if n == 1 else [f"output_{i + 1}" for i in range(n)]
        return names

    # --------------------------------------------------------------- metrics
    @property
    def metrics(self):
        """The loss tracker, the compiled metrics and the metrics of the layers."""
        out = []
        if self.compiled:
            out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
            if self._compile_loss is not None:
                out.extend(self._compile_loss.metrics)
        out.extend(self._metrics)
        for layer in self._memo_sublayers():   # (cached while no layer changes: read every step)
            out.extend(getattr(layer, "_metrics", []))
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        """The current value of every metric, as a flat dict."""
        out = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    # ----------------------------------------------------------------- steps
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss: compiled losses (weighted per output) plus ``self.losses``."""
        total = None
        if self._compile_loss is not None and y is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        for extra in self.losses:
            total = extra if total is None else total + extra
        if total is None:
            if self._compile_loss is None:
                raise ValueError("No loss to compute. Provide a `loss` argument in "
                                 "`compile()`.")
            raise ValueError("No targets `y` were given, so no loss can be computed. Pass "
                             "`y` to fit/evaluate, or yield `(x, y)` batches.")
        return total

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """The compiled loss plus ``regularization_losses`` (the tf.keras 2 spelling;
        ``compute_loss`` is the Keras 3 one)."""
        total = None
        if self._compile_loss is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        for extra in regularization_losses or []:
            total = extra if total is None else total + extra
        return total

    @property
    def compiled_metrics(self):
        """The compiled metrics as one object with ``update_state(y, y_pred)`` (tf.keras 2)."""
        if self._compile_metrics is None:
            self.__dict__["_compile_metrics"] = _CompileMetrics(None, None, self)
        return self._compile_metrics

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics and returns every metric's current value."""
        if self._compile_metrics is not None and y is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _trainable_vars(self):
        return self.trainable_variables

    def train_step(self, data):
        """One optimization step on a batch; returns the metrics' values."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        if sample_weight is None and _FUSED_MLP[0] is not False:
            # a Dense-only Sequential: forward, loss and backward compiled (_fused_mlp.py)
            variables = self.trainable_variables
            fused = _fused_mlp().train_step_arrays(self, x, y, variables)
            if fused is not None:
                loss, y_pred, grads = fused
                self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
                self.optimizer.apply_gradients(zip(grads, variables))
                return self.compute_metrics(x, y, y_pred, sample_weight=None)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            # Keras 3: the gradient of the scaled loss; the optimizer divides it back
            scaled = loss if getattr(self.optimizer, "loss_scale_factor", None) is None \
                else self.optimizer.scale_loss(loss)
        variables = self.trainable_variables   # after the call: a lazy model builds in it
        self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        if variables:
            grads = tape.gradient(scaled, variables)
            self.optimizer.apply_gradients(zip(grads, variables))
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        """Computes the loss and metrics on a batch without updating the weights."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 training=False)
        self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """The model's outputs on a batch (inference mode)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains the model for ``epochs`` epochs; returns a ``History``.

        ``history.history`` maps ``loss``, each metric and their ``val_`` versions to one
        value per epoch.

        Raises:
          ValueError: if ``compile()`` was not called (Keras 3 raises ValueError).
          ValueError: when x and y hold different numbers of samples (both are named).

        >>> import numpy as np
        >>> from tapeflow import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0)
        >>> sorted(history.history), len(history.history["loss"])
        (['loss'], 2)
        """
        from tapeflow.keras import callbacks as cbks  # noqa: PLC0415

        self._assert_compiled()
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = train_validation_split(
                (x, y, sample_weight), validation_split)
        from tapeflow.keras import config as _config  # noqa: PLC0415  (keras.config caps)

        if _config.max_epochs():
            epochs = min(epochs, _config.max_epochs())
        if _config.max_steps_per_epoch():
            steps_per_epoch = min(steps_per_epoch or _config.max_steps_per_epoch(),
                                  _config.max_steps_per_epoch())
        train = EpochIterator(x, y, sample_weight, batch_size=batch_size,
                              steps_per_epoch=steps_per_epoch, shuffle=shuffle,
                              class_weight=class_weight)
        val = None
        if validation_data is not None:
            val = self._validation_iterator(validation_data, validation_batch_size or batch_size,
                                            validation_steps)
        verbose = _verbose(verbose)
        callbacks = cbks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                      model=self, verbose=verbose, epochs=epochs,
                                      steps=train.num_batches)
        self.stop_training = False
        callbacks.on_train_begin()
        # A callback (BackupAndRestore) may resume an interrupted run at a later epoch.
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs = {}
            # small products on one BLAS thread; large ones on the count measured fastest
            threads = self._step_threads("fit")
            with blas.single_thread():
                for step, batch in train.enumerate_epoch():
                    callbacks.on_train_batch_begin(step)
                    threads.begin()
                    logs = self.train_step(batch)
                    threads.end()
                    callbacks.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
            if train.exhausted and not logs:
                break
            epoch_logs = _pythonify(logs if logs else self.get_metrics_result())
            if val is not None and _should_validate(epoch, validation_freq):
                val.restart()  # as Keras: each validation run starts from the beginning
                val_logs = self._evaluate_loop(val, callbacks)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                epoch_logs = dict(sorted(epoch_logs.items()))   # Keras 3's order
            callbacks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training or train.exhausted:
                break
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None and epochs > 0:   # Keras: EMA weights go into the model
            finalize(self.trainable_weights)
        callbacks.on_train_end(logs=epoch_logs)
        return self.history

    def _step_threads(self, loop):
        """The BLAS thread chooser of this model's ``loop`` (kept across calls, so each epoch or
        ``predict`` call goes on from what the previous ones measured)."""
        choosers = self.__dict__.get("_blas_step_threads")
        if choosers is None:
            memory.reuse_freed_memory()   # batch-sized buffers reused, not re-mapped (issue 7)
            choosers = {}
            object.__setattr__(self, "_blas_step_threads", choosers)   # not a tracked attribute
        threads = choosers.get(loop)
        if threads is None:
            threads = choosers[loop] = blas.StepThreads()
        return threads

    def _validation_iterator(self, data, batch_size, steps):
        if isinstance(data, tuple) and len(data) in (2, 3) and not _is_stream(data):
            vx, vy, vsw = unpack_x_y_sample_weight(data)
            return EpochIterator(vx, vy, vsw, batch_size=batch_size, steps_per_epoch=steps,
                                 shuffle=False)
        return EpochIterator(data, batch_size=batch_size, steps_per_epoch=steps, shuffle=False)

    # -------------------------------------------------------------- evaluate
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """The loss and metrics on ``x``/``y``: a scalar (loss only), a list in
        ``metrics_names`` order, or a dict with ``return_dict=True``.

        >>> import numpy as np
        >>> from tapeflow import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> isinstance(model.evaluate(np.ones((4, 2)), np.ones((4, 1)), verbose=0), float)
        True
        """
        from tapeflow.keras import callbacks as cbks  # noqa: PLC0415

        self._assert_compiled()
        it = EpochIterator(x, y, sample_weight, batch_size=batch_size, steps_per_epoch=steps,
                           shuffle=False)
        verbose = _verbose(verbose)
        if not isinstance(callbacks, cbks.CallbackList):
            callbacks = cbks.CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                          verbose=verbose, epochs=1, steps=it.num_batches)
        logs = self._evaluate_loop(it, callbacks)
        if return_dict:
            return logs
        return _flatten_in_order(logs, self)

    def _evaluate_loop(self, iterator, callbacks):
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        threads = self._step_threads("evaluate")   # as in fit (issue 7)
        with _no_tape(), blas.single_thread():
            for step, batch in iterator.enumerate_epoch():
                callbacks.on_test_batch_begin(step)
                threads.begin()
                logs = self.test_step(batch)
                threads.end()
                callbacks.on_test_batch_end(step, logs)
        logs = _pythonify(logs if logs else self.get_metrics_result())
        callbacks.on_test_end(logs)
        return logs

    # --------------------------------------------------------------- predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for ``x`` as NumPy arrays (concatenated over batches).

        >>> import numpy as np
        >>> from tapeflow import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
        >>> model.predict(np.ones((5, 2)), verbose=0).shape
        (5, 3)
        """
        from tapeflow.keras import callbacks as cbks  # noqa: PLC0415

        if batch_size is None and _is_arrays(x):
            batch_size = 1024   # no tape, so big batches are cheap and much faster
        it = EpochIterator(x, batch_size=batch_size, steps_per_epoch=steps, shuffle=False)
        verbose = _verbose(verbose)
        if not isinstance(callbacks, cbks.CallbackList):
            callbacks = cbks.CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                          verbose=verbose, epochs=1, steps=it.num_batches)
        callbacks.on_predict_begin()
        outputs = []
        threads = self._step_threads("predict")   # as in fit (issue 7)
        with _no_tape(), blas.single_thread():
            for step, batch in it.enumerate_epoch():
                callbacks.on_predict_batch_begin(step)
                threads.begin()
                out = self.predict_step(batch)
                threads.end()
                outputs.append(nest.map_structure(_numpy, out))
                callbacks.on_predict_batch_end(step, {"outputs": out})
        callbacks.on_predict_end()
        if not outputs:
            raise ValueError("Unexpected result of `predict_function` (Empty batch_outputs). "
                             "Please use `Model.compile(..., run_eagerly=True)`, or "
                             "`tf.config.run_functions_eagerly(True)` for more information of "
                             "where went wrong, or file a issue/bug to `tf.keras`.")
        first = outputs[0]
        if isinstance(first, np.ndarray):
            return np.concatenate(outputs, axis=0)
        flat = [nest.flatten(o) for o in outputs]
        merged = [np.concatenate([f[i] for f in flat], axis=0) for i in range(len(flat[0]))]
        return nest.pack_sequence_as(first, merged)

    # --------------------------------------------------------- on_batch APIs
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; returns the loss (and metrics) of that batch."""
        self._assert_compiled()
        self.reset_metrics()
        it = EpochIterator(x, y, sample_weight, batch_size=_num_samples(x) or None,
                           shuffle=False, class_weight=class_weight)
        _, batch = next(iter(it.enumerate_epoch()))
        logs = _pythonify(self.train_step(batch))
        return logs if return_dict else _flatten_in_order(logs, self)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on one batch, without training."""
        self._assert_compiled()
        self.reset_metrics()
        it = EpochIterator(x, y, sample_weight, batch_size=_num_samples(x) or None,
                           shuffle=False)
        _, batch = next(iter(it.enumerate_epoch()))
        with _no_tape():
            logs = _pythonify(self.test_step(batch))
        return logs if return_dict else _flatten_in_order(logs, self)

    def predict_on_batch(self, x):
        """The model's outputs on one batch, as NumPy arrays."""
        it = EpochIterator(x, batch_size=_num_samples(x) or None, shuffle=False)
        _, batch = next(iter(it.enumerate_epoch()))
        with _no_tape():
            out = self.predict_step(batch)
        return nest.map_structure(_numpy, out)


def _numpy(t):
    return t._value if isinstance(t, _TensorLike) else np.asarray(t)


def _num_samples(x):
    for t in nest.flatten(x) if not isinstance(x, np.ndarray) else [x]:
        if hasattr(t, "shape") and len(t.shape):
            return int(t.shape[0])
    return None


def _is_arrays(x):
    return isinstance(x, (np.ndarray, Tensor)) or (
        isinstance(x, (list, tuple, dict)) and all(isinstance(v, (np.ndarray, Tensor))
                                                   for v in nest.flatten(x)))


def _is_stream(data):
    return any(hasattr(d, "__next__") for d in data)


def _verbose(verbose):
    if verbose == "auto":
        return 1
    return int(verbose)


def _should_validate(epoch, freq):
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return epoch + 1 in freq


def _flatten_in_order(logs, model):
    # Keras's order: the metrics in `model.metrics` order, then any other log in key order.
    # With several outputs Keras looks the compiled metrics up by their unprefixed names,
    # which miss the "<output>_" keys, so they come last in key order (recorded from 3.15).
    names = []
    for m in model.metrics:
        if isinstance(m, _CompileMetrics):
            if len(m._per_output) <= 1:
                names.extend(x.name for x in m.metrics)
        else:
            names.append(m.name)
    results = [logs[n] for n in names if n in logs]
    results += [logs[k] for k in sorted(logs) if k not in names]
    return results[0] if len(results) == 1 else results
