"""Backpropagation made visible: one training step of a model, traced layer by layer.

``trace(model, x, y)`` runs the step that ``fit`` runs on one mini-batch and keeps every number:

1. **forward pass**: the batch goes through the layers one at a time; each layer's output (its
   *activations*) is recorded, and for layers with a kernel and an activation, the weighted sums
   ``z = h W + b`` before the activation;
2. **loss**: the loss of the predictions against the targets (plus any regularization losses);
3. **backward pass**: ``GradientTape`` applies the chain rule from the output layer back to the
   input layer, giving the gradient of the loss with respect to each layer's output (the error
   signal that flows backwards) and to each weight;
4. **gradient step**: the optimizer turns each gradient into an update of its weight
   (``w <- w - learning_rate * gradient`` for plain SGD).

The numbers are the ones ``GradientTape`` and the optimizer compute, not a re-implementation:
the recorded gradients are ``tape.gradient(loss, model.trainable_variables)`` and the recorded
weights after the step are those ``optimizer.apply_gradients`` wrote.

>>> import numpy as np
>>> from tapeflow import keras
>>> from tapeflow.backprop import trace
>>> keras.utils.set_random_seed(0)
>>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="relu"),
...                           keras.layers.Dense(1, activation="sigmoid")])
>>> t = trace(model, np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0], [1.0]]),
...           loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.1))
>>> [(layer.class_name, layer.activation, layer.output.shape) for layer in t.layers]
[('Dense', 'relu', (2, 3)), ('Dense', 'sigmoid', (2, 1))]
>>> [(w.name, w.gradient.shape) for w in t.weights]
[('kernel', (2, 3)), ('bias', (3,)), ('kernel', (3, 1)), ('bias', (1,))]
>>> bool(np.allclose(t.weights[0].update, -0.1 * t.weights[0].gradient))
True
"""

from tapeflow._backend import np

__all__ = ["trace", "BackpropTrace", "LayerTrace", "WeightTrace"]


def _np(t):
    return None if t is None else np.array(t.numpy() if hasattr(t, "numpy") else t)


def _norm(a):
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64)))) if a is not None else 0.0


class WeightTrace:
    """One trainable weight through the step.

    Attributes:
      name: the weight's name ("kernel", "bias").
      path: the variable's path (\"<model>/<layer>/<weight>\" in Keras 3).
      label: "<layer>/<weight>", as the tables show it.
      before: its value before the step (NumPy array).
      gradient: d loss / d weight from ``GradientTape`` (NumPy array; zeros if not connected).
      grad_norm: the L2 norm of ``gradient``.
      after: its value after the optimizer's step (equal to ``before`` if the step was not
        applied: see ``trace(apply=...)``).
      update: ``after - before``, what the optimizer added.
      update_norm: the L2 norm of ``update``.
    """

    __slots__ = ("name", "path", "label", "before", "gradient", "grad_norm", "after", "update",
                 "update_norm", "variable")

    def __init__(self, variable, before, gradient):
        self.variable = variable
        self.name = _short_name(variable)
        self.path = getattr(variable, "path", None) or self.name
        self.label = self.path          # "<layer>/<weight>" once its layer is known
        self.before = before
        self.gradient = gradient
        self.grad_norm = _norm(gradient)
        self.after = before
        self.update = np.zeros_like(before)
        self.update_norm = 0.0

    def _set_after(self, after):
        self.after = after
        self.update = after - self.before
        self.update_norm = _norm(self.update)

    def __repr__(self):
        return (f"WeightTrace({self.path!r}, shape={self.before.shape}, "
                f"grad_norm={self.grad_norm:.4g}, update_norm={self.update_norm:.4g})")


class LayerTrace:
    """One layer through the step.

    Attributes:
      name: the layer's name.
      class_name: the layer's class ("Dense").
      activation: the name of its activation function, or ``None``.
      pre_activation: ``z = h W + b`` before the activation (NumPy array) for layers with a
        kernel and an activation, else ``None``.
      output: the layer's activations in the forward pass (NumPy array).
      output_grad: d loss / d output, the error signal of the backward pass (NumPy array), or
        ``None`` when the loss does not read the output itself: a cross-entropy loss on a
        softmax or sigmoid output reads the logits ``z`` (more accurate), see below.
      pre_activation_grad: d loss / d z for a softmax or sigmoid output whose logits the loss
        reads (for softmax with categorical cross-entropy it is ``(y_pred - y) / batch_size``),
        else ``None``.
      weights: the ``WeightTrace`` of each of its trainable weights.
    """

    __slots__ = ("name", "class_name", "activation", "pre_activation", "output", "output_grad",
                 "pre_activation_grad", "weights", "layer")

    def __init__(self, layer, output, pre_activation=None):
        self.layer = layer
        self.name = getattr(layer, "name", type(layer).__name__)
        self.class_name = type(layer).__name__
        act = getattr(layer, "activation", None)
        self.activation = getattr(act, "__name__", None) if act is not None else None
        self.pre_activation = pre_activation
        self.output = output
        self.output_grad = None
        self.pre_activation_grad = None
        self.weights = []

    def __repr__(self):
        return (f"LayerTrace({self.name!r}, {self.class_name}, output shape="
                f"{tuple(self.output.shape)}, weights={len(self.weights)})")


class BackpropTrace:
    """The record of one training step; ``print(trace)`` shows it as tables.

    Attributes:
      x, y: the mini-batch (NumPy arrays).
      layers: the ``LayerTrace`` of each layer, input to output.
      y_pred: the model's output (NumPy array).
      loss: the total loss (float): ``data_loss + regularization_loss``.
      data_loss: the loss of ``y_pred`` against ``y``.
      regularization_loss: the sum of the model's extra losses (0 without regularizers).
      weights: the ``WeightTrace`` of every trainable weight, in
        ``model.trainable_variables`` order.
      gradients: the gradients as NumPy arrays, in the same order.
      learning_rate: the optimizer's learning rate at this step (float).
      loss_name, optimizer_name: what computed the loss and the step.
      plain_sgd: whether the optimizer is SGD without momentum or weight decay, whose update is
        exactly ``-learning_rate * gradient``.
      applied: whether the step was applied to the model.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> from tapeflow.backprop import trace
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> t = trace(model, np.ones((3, 2)), np.zeros((3, 1)), loss="mse", optimizer="sgd")
    >>> print(t.table().splitlines()[0])
    Backpropagation trace: one mini-batch of 3 examples, loss mse, optimizer SGD
    >>> [g.shape for g in t.gradients], t.applied
    ([(2, 1), (1,)], True)
    """

    def __init__(self):
        self.x = self.y = self.y_pred = None
        self.layers = []
        self.weights = []
        self.loss = self.data_loss = self.regularization_loss = 0.0
        self.learning_rate = None
        self.loss_name = self.optimizer_name = ""
        self.applied = True
        self.plain_sgd = False

    @property
    def gradients(self):
        return [w.gradient for w in self.weights]

    @property
    def updates(self):
        return [w.update for w in self.weights]

    def table(self):
        """The trace as text tables: forward pass, loss, backward pass, gradient step."""
        def stats(a):
            return f"{float(np.mean(a)):>10.4f} {float(np.std(a)):>9.4f}"

        n = len(self.x) if self.x is not None and np.ndim(self.x) else 1
        lines = [f"Backpropagation trace: one mini-batch of {n} example{'s' * (n != 1)}, "
                 f"loss {self.loss_name}, optimizer {self.optimizer_name}", ""]
        lines.append("1. Forward pass (input layer -> output layer)")
        head = f"   {'layer':<24}{'activation':<12}{'output shape':<16}{'mean':>10} {'std':>9}"
        lines += [head, "   " + "-" * (len(head) - 3)]
        lines.append(f"   {'input':<24}{'':<12}{str(tuple(np.shape(self.x))):<16}"
                     f"{stats(self.x)}")
        for lt in self.layers:
            label = f"{lt.name} ({lt.class_name})"
            if lt.pre_activation is not None:
                lines.append(f"   {label + ' z':<24}{'':<12}"
                             f"{str(tuple(lt.pre_activation.shape)):<16}"
                             f"{stats(lt.pre_activation)}")
                label = f"{lt.name} h = {lt.activation}(z)"
            lines.append(f"   {label:<24}{(lt.activation or ''):<12}"
                         f"{str(tuple(lt.output.shape)):<16}{stats(lt.output)}")
        lines += ["", "2. Loss"]
        lines.append(f"   {self.loss_name} = {self.data_loss:.6f}")
        if self.regularization_loss:
            lines.append(f"   regularization = {self.regularization_loss:.6f}")
        lines.append(f"   total loss = {self.loss:.6f}")
        lines += ["", "3. Backward pass (output layer -> input layer, chain rule)"]
        head = f"   {'gradient of the loss w.r.t.':<30}{'shape':<14}{'norm':>12}{'max |g|':>12}"
        lines += [head, "   " + "-" * (len(head) - 3)]
        for lt in reversed(self.layers):
            rows = [(f"{lt.name} output", lt.output_grad)]
            if lt.pre_activation_grad is not None:
                rows.append((f"{lt.name} z (logits)", lt.pre_activation_grad))
            rows += [(w.label, w.gradient) for w in reversed(lt.weights)]
            for label, g in rows:
                if g is None:
                    lines.append(f"   {label:<30}(the loss reads z, the logits, directly)")
                    continue
                mx = float(np.max(np.abs(g))) if g.size else 0.0
                lines.append(f"   {label:<30}{str(tuple(g.shape)):<14}{_norm(g):>12.6f}"
                             f"{mx:>12.6f}")
        lines += ["", "4. Gradient step" + ("" if self.applied else " (computed, not applied)")]
        if self.learning_rate is not None:
            lines.append(f"   learning rate = {self.learning_rate:.6g}")
        if self.plain_sgd:
            lines.append("   rule: update = -learning_rate * gradient (plain SGD);  "
                         "w after = w before + update")
        else:
            lines.append(f"   rule: w after = w before + update, where {self.optimizer_name} "
                         f"computes the update from the gradient")
            lines.append("         and its own state (momentum, moment estimates, ...), not just "
                         "-learning_rate * gradient")
        head = f"   {'weight':<30}{'shape':<12}{'|gradient|':>12}{'|update|':>12}" \
               f"{'|w| before':>12}{'|w| after':>12}"
        lines += [head, "   " + "-" * (len(head) - 3)]
        for w in self.weights:
            lines.append(f"   {w.label:<30}{str(tuple(w.before.shape)):<12}{w.grad_norm:>12.6f}"
                         f"{w.update_norm:>12.6f}{_norm(w.before):>12.6f}{_norm(w.after):>12.6f}")
        first = next((w for w in self.weights if w.before.size), None)
        if first is not None:
            # one number worked through: the entry of the first weight with the largest gradient
            idx = np.unravel_index(int(np.argmax(np.abs(first.gradient))), first.before.shape)
            b, g = float(first.before[idx]), float(first.gradient[idx])
            u, a = float(first.update[idx]), float(first.after[idx])
            where = f"{first.label}[{', '.join(str(int(i)) for i in idx)}]" if idx else \
                first.label
            lines += ["", f"   e.g. {where} (its largest gradient): w before = {b:.6g}, "
                          f"gradient = {g:.6g},"]
            if self.plain_sgd and self.learning_rate is not None:
                gs = f"({g:.6g})" if g < 0 else f"{g:.6g}"
                lines.append(f"        update = -{self.learning_rate:.6g} * {gs} = {u:.6g}, "
                             f"w after = {a:.6g}")
            else:
                lines.append(f"        update = {u:.6g}, w after = {a:.6g}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        return (f"BackpropTrace(layers={[lt.name for lt in self.layers]}, loss={self.loss:.6g}, "
                f"applied={self.applied})")


def _short_name(v):
    name = getattr(v, "name", "") or ""
    name = name.split(":")[0]
    return name.rsplit("/", 1)[-1]


def _resolve_loss(model, loss):
    from tapeflow import keras  # noqa: PLC0415 - keras loads on first use

    if loss is None:
        loss = getattr(model, "loss", None)
        if loss is None:
            raise ValueError("backprop.trace: no loss given and the model is not compiled with "
                             "one; pass loss= (a name such as 'mse' or a keras.losses.Loss) or "
                             "call model.compile(loss=...) first.")
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError(f"backprop.trace: traces models with one output and one loss, got "
                         f"loss={loss!r}.")
    fn = keras.losses.get(loss)
    name = loss if isinstance(loss, str) else getattr(fn, "name", None) or \
        getattr(fn, "__name__", type(fn).__name__)
    if not isinstance(fn, keras.losses.Loss):
        # a loss function gives one value per example; compile wraps it the same way, so the
        # trace averages over the batch exactly as fit does
        fn = keras.losses.LossFunctionWrapper(fn, name=getattr(fn, "__name__", "loss"))
    return fn, name


def _resolve_optimizer(model, optimizer):
    from tapeflow import keras  # noqa: PLC0415 - keras loads on first use

    if optimizer is None:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            raise ValueError("backprop.trace: no optimizer given and the model is not compiled "
                             "with one; pass optimizer= (a name such as 'sgd' or a "
                             "keras.optimizers.Optimizer) or call model.compile first.")
    return keras.optimizers.get(optimizer)


def _layer_chain(model):
    layers = getattr(model, "layers", None)
    if not layers:
        raise ValueError(f"backprop.trace: expected a Keras model with layers (a Sequential "
                         f"model), got {type(model).__name__}.")
    out = []
    for layer in layers:
        if type(layer).__name__ == "InputLayer":
            continue
        out.append(layer)
    return out


def _is_sequential_chain(model):
    # a functional model whose layers form a simple chain can be traced the same way
    return type(model).__name__ == "Sequential" or all(
        len(getattr(layer, "_inbound_nodes", [None])) <= 1 for layer in _layer_chain(model))


def _pre_activation(layer, h):
    """z = h W + b of a layer with a kernel and a (non-linear) activation, else None."""
    import tapeflow as tf  # noqa: PLC0415

    kernel = getattr(layer, "kernel", None)
    act = getattr(layer, "activation", None)
    if kernel is None or act is None or getattr(act, "__name__", "") == "linear" or \
            len(getattr(kernel, "shape", ())) != 2:
        return None
    z = tf.matmul(h, kernel)
    bias = getattr(layer, "bias", None)
    if bias is not None:
        z = z + bias
    return _np(z)


def trace(model, x, y, loss=None, optimizer=None, apply=True, sample_weight=None):
    """Runs one training step of ``model`` on the mini-batch ``x, y`` and records every number.

    This is ``train_step`` (forward pass, loss, ``GradientTape`` backward pass,
    ``optimizer.apply_gradients``) with the layers called one at a time so each layer's output can
    be recorded, and its gradient taken.

    Args:
      model: a Keras model whose layers form a chain (a ``Sequential`` model). It is built on
        ``x`` if needed.
      x: the inputs of one mini-batch.
      y: the targets.
      loss: a loss name or object (default: the loss passed to ``model.compile``).
      optimizer: an optimizer name or object (default: ``model.optimizer``).
      apply: apply the step to the model's weights (as ``train_on_batch`` does). With
        ``apply=False`` the update is computed and recorded, then the weights and the optimizer's
        state are put back, so the model is unchanged.
      sample_weight: optional per-example weights for the loss.
    Returns:
      A ``BackpropTrace``; ``print`` it for the tables.
    Raises:
      ValueError: for a model that is not a chain of layers, or with no loss or optimizer.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> from tapeflow.backprop import trace
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.set_weights([np.array([[2.0]]), np.array([0.5])])
    >>> t = trace(model, np.array([[1.0]]), np.array([[3.0]]), loss="mse", optimizer="sgd")
    >>> t.y_pred.tolist(), t.loss, t.weights[0].gradient.tolist()  # (2*1+0.5-3)^2, 2*(-0.5)*1
    ([[2.5]], 0.25, [[-1.0]])
    >>> model.get_weights()[0].tolist()                              # 2 - 0.01 * (-1)
    [[2.009999990463257]]
    """
    import tapeflow as tf  # noqa: PLC0415

    loss_fn, loss_name = _resolve_loss(model, loss)
    opt = _resolve_optimizer(model, optimizer)
    layers = _layer_chain(model)
    if not _is_sequential_chain(model):
        raise ValueError("backprop.trace: the model's layers do not form a chain (a layer is "
                         "used more than once or the graph branches); trace a Sequential model.")
    x_t = tf.convert_to_tensor(x)
    if x_t.dtype.is_floating or x_t.dtype.is_integer:
        # layers cast float inputs to their dtype; do it once here so every layer sees the same
        x_t = tf.cast(x_t, getattr(model, "compute_dtype", None) or "float32")
    y_t = tf.convert_to_tensor(y)
    if not getattr(model, "built", True):
        model(x_t)
    variables = list(model.trainable_variables)
    rec = BackpropTrace()
    rec.x, rec.y = _np(x_t), _np(y_t)
    rec.loss_name = loss_name
    rec.optimizer_name = type(opt).__name__
    before = [_np(v) for v in variables]

    with tf.GradientTape() as tape:
        h = x_t
        outputs, logits = [], []
        for layer in layers:
            with tape.stop_recording():
                z = _pre_activation(layer, h)
            h = layer(h, training=True)
            outputs.append(h)
            # softmax/sigmoid outputs keep their input z; a cross-entropy loss reads z directly
            zt = getattr(h, "_keras_logits", None)
            logits.append(zt)
            rec.layers.append(LayerTrace(layer, _np(h), _np(zt) if zt is not None else z))
        y_pred = h
        data_loss = loss_fn(y_t, y_pred, sample_weight=sample_weight)
        extra = list(getattr(model, "losses", []) or [])
        total = data_loss
        for e in extra:
            total = total + e
    with_logits = [zt for zt in logits if zt is not None]
    grads = tape.gradient(total, variables + outputs + with_logits)
    n_v, n_o = len(variables), len(outputs)
    var_grads, out_grads = grads[:n_v], grads[n_v:n_v + n_o]
    logit_grads = iter(grads[n_v + n_o:])

    rec.y_pred = _np(y_pred)
    rec.data_loss = float(_np(data_loss))
    rec.loss = float(_np(total))
    rec.regularization_loss = rec.loss - rec.data_loss if extra else 0.0
    by_id = {}
    for v, b, g in zip(variables, before, var_grads):
        w = WeightTrace(v, b, np.zeros_like(b) if g is None else _np(g))
        rec.weights.append(w)
        by_id[id(v)] = w
    for lt, g, zt in zip(rec.layers, out_grads, logits):
        lt.output_grad = _np(g)
        if zt is not None:
            lt.pre_activation_grad = _np(next(logit_grads))
        lt.weights = [by_id[id(v)] for v in getattr(lt.layer, "trainable_variables", [])
                      if id(v) in by_id]
        for w in lt.weights:
            w.label = f"{lt.name}/{w.name}"

    pairs = [(g, v) for g, v in zip(var_grads, variables) if g is not None]
    if pairs and not getattr(opt, "built", True):
        opt.build(variables)
    saved_opt = [(v, _np(v)) for v in getattr(opt, "variables", [])] if not apply else []
    lr = getattr(opt, "learning_rate", None)
    try:
        rec.learning_rate = float(_np(lr)) if lr is not None and not callable(lr) else None
    except (TypeError, ValueError):
        rec.learning_rate = None
    rec.plain_sgd = type(opt).__name__ == "SGD" and not float(getattr(opt, "momentum", 0) or 0) \
        and not getattr(opt, "weight_decay", None) and getattr(opt, "clipnorm", None) is None \
        and getattr(opt, "clipvalue", None) is None \
        and getattr(opt, "global_clipnorm", None) is None
    if pairs:
        opt.apply_gradients(pairs)
    for w in rec.weights:
        w._set_after(_np(w.variable))
    rec.applied = apply
    if not apply:
        for w in rec.weights:
            w.variable.assign(w.before)
        for v, value in saved_opt:
            v.assign(value)
    return rec
