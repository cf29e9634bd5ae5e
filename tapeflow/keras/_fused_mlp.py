"""A multilayer perceptron's training step as two compiled kernels (the ``jit`` extra).

For a ``Sequential`` of ``Dense`` layers (after an optional ``Flatten``) compiled with a
sparse categorical cross-entropy or a mean squared error, ``Trainer.train_step`` hands the
forward pass, the loss and the backward pass to ``jit_kernels.mlp_rows`` and ``mlp_grads``
instead of recording ops on a tape: the same arithmetic (one BLAS product per layer and
direction, the activations and the loss's gradient in the same loops), without the ~20 Python
calls per layer of the general path, and the batch's rows split over two threads. The
optimizer, the loss tracker and the metrics are the model's own, called as in the general
step, so every optimizer, learning-rate schedule, gradient clipping and metric works as before.

What it covers (anything else takes the general path, step by step): a model that is exactly
``keras.Sequential``, every layer exactly ``Dense`` (hidden activations linear or relu; the last
linear, relu or softmax) or a leading ``Flatten``, no regularizers, every layer trainable, one
float dtype throughout, no sample or class weights, and the loss ``sparse_categorical_
crossentropy`` (softmax output, or ``from_logits=True`` on a linear one; no ``ignore_class``) or
``mean_squared_error`` (linear output), reduced over the batch. A label out of range goes to the
general path too, which raises TensorFlow's error.

The numbers are the general path's up to float rounding (the products' row split and the loss's
float64 sum change the last bits; tests compare the two): ``TAPEFLOW_JIT=0`` (or no Numba)
restores the general path everywhere. Measured on the 2-core benchmark machine (issue 7):
W2 (784-300-100-10, batch 32, SGD) 0.55 -> 0.3 ms a step; W1 (784-512-10, batch 128, RMSprop)
1.6 -> 1.1 ms.
"""

from tapeflow._backend import blas, jit, np
from tapeflow.framework.tensor import Tensor

__all__ = ["train_step_arrays"]

_LINEAR, _RELU, _SOFTMAX = 0, 1, 2
# Steps of at least this many multiply-adds split their rows over two threads (W2: 8.5M; W4's
# 4.6k stay on one: even Numba's ~1-us hand-off would be a fifth of the step)
_SPLIT_MACS = 1 << 20


class _Plan:
    __slots__ = ("dense", "acts", "loss_kind", "dtype", "flatten", "din", "dout",
                 "variables", "macs", "bufs", "empty", "chooser")


def _activation_codes():
    from tapeflow.keras import activations  # noqa: PLC0415 - Keras side, lazily

    return {activations.linear: _LINEAR, activations.relu: _RELU,
            activations.softmax: _SOFTMAX}


def _loss_kind(model, last_act):
    from tapeflow.keras import losses  # noqa: PLC0415

    cl = model._compile_loss
    if cl is None or not cl._built or len(cl._fns) != 1 or cl._weights != [1.0]:
        return None
    fn = cl._fns[0]
    if not isinstance(fn, losses.LossFunctionWrapper) or fn.reduction != "sum_over_batch_size" \
            or fn.dtype is not None:
        return None
    kw = dict(fn._fn_kwargs)
    if fn.fn is losses.sparse_categorical_crossentropy:
        from_logits = kw.pop("from_logits", False)
        if kw.pop("ignore_class", None) is not None or kw.pop("axis", -1) != -1 or kw:
            return None
        if (last_act == _SOFTMAX and not from_logits) or (last_act == _LINEAR and from_logits):
            return 0
        return None
    if fn.fn is losses.mean_squared_error and not kw and last_act == _LINEAR:
        return 1
    return None


def _make_plan(model, variables):
    from tapeflow.keras.layers.core import Dense, Flatten  # noqa: PLC0415
    from tapeflow.keras.models.sequential import Sequential  # noqa: PLC0415

    if type(model) is not Sequential or not model.built:
        return None
    layers = model.layers
    flatten = bool(layers) and type(layers[0]) is Flatten
    if flatten:
        if layers[0].data_format != "channels_last":
            return None
        layers = layers[1:]
    if not layers or any(type(layer) is not Dense for layer in layers):
        return None
    codes = _activation_codes()
    acts, expected = [], []
    dtype = layers[0].kernel._value.dtype
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        return None
    for i, layer in enumerate(layers):
        act = codes.get(layer.activation)
        last = i == len(layers) - 1
        if act is None or (act == _SOFTMAX and not last) or not layer.trainable or \
                layer.kernel_regularizer is not None or layer.bias_regularizer is not None or \
                layer.activity_regularizer is not None:
            return None
        for v in (layer.kernel, layer.bias):
            if v is not None:
                if v._value.dtype != dtype:
                    return None
                expected.append(v)
        if getattr(layer, "compute_dtype", dtype) != dtype.name:
            return None
        acts.append(act)
    if len(variables) != len(expected) or any(a is not b for a, b in zip(variables, expected)):
        return None
    if model.losses:
        return None
    kind = _loss_kind(model, acts[-1])
    if kind is None:
        return None
    plan = _Plan()
    plan.dense, plan.acts, plan.loss_kind, plan.dtype = layers, np.array(acts, np.int64), kind, \
        dtype
    plan.flatten = flatten
    plan.din = layers[0].kernel._value.shape[0]
    plan.dout = layers[-1].kernel._value.shape[1]
    plan.variables = variables
    plan.macs = sum(layer.kernel._value.size for layer in layers)
    plan.bufs = {}
    plan.empty = np.empty(0, dtype)
    plan.chooser = jit.SplitChooser()       # two threads or one, measured (see there)
    return plan


def _signature(model):
    # what a plan depends on besides the variables: each layer's activation, regularizers and
    # trainable flag (any of which may be set between two steps), and the optimizer's loss scale
    return ([(layer, getattr(layer, "activation", None), getattr(layer, "kernel_regularizer", None),
              getattr(layer, "bias_regularizer", None), layer.activity_regularizer,
              layer.trainable) for layer in model._layers],
            getattr(model.optimizer, "loss_scale_factor", None))


def _plan(model, variables):
    # re-planned when the compiled loss, a layer's settings above or the trainable variables
    # change, and once the first step has built the model and the compiled loss
    memo = model.__dict__.get("_fused_mlp_memo")
    key = (model.built, getattr(model._compile_loss, "_built", None))
    sig = _signature(model)
    if memo is not None and memo[0] is model._compile_loss and memo[1] == key and \
            memo[2] == sig:
        seen, plan = memo[3], memo[4]
        if len(seen) == len(variables) and all(a is b for a, b in zip(seen, variables)):
            return plan
    plan = _make_plan(model, variables) if sig[1] is None else None
    model.__dict__["_fused_mlp_memo"] = (model._compile_loss, key, sig, list(variables), plan)
    return plan


def _buffers(plan, bsz):
    bufs = plan.bufs.get(bsz)
    if bufs is None:
        if len(plan.bufs) > 4:          # (a few batch sizes: the last batch of an epoch)
            plan.bufs.clear()
        shapes = [(bsz, layer.kernel._value.shape[1]) for layer in plan.dense]
        bufs = plan.bufs[bsz] = (tuple(np.empty(s, plan.dtype) for s in shapes),
                                 tuple(np.empty(s, plan.dtype) for s in shapes))
    return bufs


def train_step_arrays(model, x, y, variables):
    """``(loss, y_pred, grads)`` of a training step through the compiled kernels, or None when
    the model, the batch or the machine does not allow it (the caller takes the general path).
    Nothing is changed before the result is complete."""
    if type(x) is not Tensor or y is None or not variables:
        return None
    plan = _plan(model, variables)
    if plan is None:
        return None
    k = jit.kernels()
    if k is None:
        return None
    xv = x._value
    if xv.dtype != plan.dtype or xv.ndim < 2:
        return None
    bsz = xv.shape[0]
    if plan.flatten:
        xv = xv.reshape(bsz, -1)
    if xv.ndim != 2 or xv.shape[1] != plan.din or bsz == 0:
        return None
    xv = np.ascontiguousarray(xv)
    yv = y._value if isinstance(y, Tensor) else np.asarray(y)
    empty = plan.empty
    if plan.loss_kind == 0:
        if yv.ndim == 2 and yv.shape[1] == 1:
            yv = yv[:, 0]
        if yv.shape != (bsz,) or yv.dtype.kind not in "iuf":
            return None
        labels = np.ascontiguousarray(yv, dtype=np.int64)
        targets = empty.reshape(0, 0)
    else:
        if yv.shape == (bsz,) and plan.dout == 1:
            yv = yv.reshape(bsz, 1)
        if yv.shape != (bsz, plan.dout) or yv.dtype.kind not in "iuf":
            return None
        targets = np.ascontiguousarray(yv, dtype=plan.dtype)
        labels = np.empty(0, np.int64)
    ws = tuple(layer.kernel._value for layer in plan.dense)
    if not all(w.flags.c_contiguous for w in ws):
        return None
    bs = tuple(empty if layer.bias is None else layer.bias._value for layer in plan.dense)
    outs, dzs = _buffers(plan, bsz)
    scale = plan.dtype.type(1.0 / bsz)
    stats = np.zeros((2, 2))
    gws = tuple(np.empty_like(w) for w in ws)
    gbs = tuple(empty if layer.bias is None else np.empty_like(b)
                for b, layer in zip(bs, plan.dense))
    softmax = plan.acts[-1] == _SOFTMAX
    logits = np.empty((bsz, plan.dout), plan.dtype) if softmax else empty.reshape(0, 0)
    common = (xv, ws, bs, plan.acts, outs, dzs, labels, targets, plan.loss_kind, scale, logits)
    choice = jit.choose(bsz >= 16 and plan.macs * bsz >= _SPLIT_MACS, chooser=plan.chooser)
    with blas.single_thread():
        if choice.split:
            k.mlp_step2(*common, stats, gws, gbs)
        elif choice.two:       # the same halves one after the other: the same bits as the split
            half = bsz // 2
            k.mlp_rows(*common, 0, half, stats[0])
            k.mlp_rows(*common, half, bsz, stats[1])
            if not (stats[0, 1] or stats[1, 1]):
                k.mlp_grads(xv, ws, outs, dzs, gws, gbs, 0, 2)
                k.mlp_grads(xv, ws, outs, dzs, gws, gbs, 1, 2)
        else:
            k.mlp_rows(*common, 0, bsz, stats[0])
            if not stats[0, 1]:
                k.mlp_grads(xv, ws, outs, dzs, gws, gbs, 0, 1)
    choice.done()
    if stats[0, 1] or stats[1, 1]:      # a label out of range: the general path raises
        return None
    loss = Tensor(np.asarray((stats[0, 0] + stats[1, 0]) / bsz, dtype=plan.dtype))
    y_pred = Tensor(outs[-1].copy())
    if softmax:     # as ``activations.softmax`` does: metrics may read the logits
        y_pred._keras_logits = Tensor(logits)
    grads = []
    for layer, gw, gb in zip(plan.dense, gws, gbs):
        grads.append(gw)
        if layer.bias is not None:
            grads.append(gb)
    return loss, y_pred, grads
