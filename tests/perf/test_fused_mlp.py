"""The compiled training step of Dense-only models (``tapeflow/keras/_fused_mlp.py``) against the
general (tape) step it replaces.

- ``fit`` through the fused step gives the general step's history and weights (float64 to
  ~1e-10, float32 to ~1e-5; accuracies exactly): sparse cross-entropy on a softmax output or on
  logits, mean squared error with 2-D and 1-D targets, layers without bias, a leading Flatten,
  float and (N, 1) labels, last partial batches (down to one sample), the serial kernels and the
  two-thread ones (which one ran is counted), a model above the split threshold.
- The gradients ``train_step_arrays`` returns match float64 central finite differences of the
  general loss, and the tape's gradients.
- Models and configurations outside the fused step's scope take the general path (nothing
  compiled runs, ``train_step_arrays`` returns None) and give its numbers bit for bit; a swapped
  activation is re-planned.
- A label out of range raises the general path's error and leaves weights and optimizer alone;
  NaN inputs give NaN losses as the general path does; ``evaluate`` / ``predict`` after a fused
  fit; a forked child runs the serial kernels.

Numba is part of the ``test`` extra: these tests fail (never skip) when the kernels cannot be had.
"""

import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import jit
from tapeflow.framework import errors
from tapeflow.keras import _fused_mlp, trainer

SEED = 1234
# (history, weights) tolerances relative to the reference's largest magnitude. The history is
# float32 (the loss tracker's dtype) whatever the model's dtype.
TOL = {"float32": (1e-5, 1e-5), "float64": (1e-6, 1e-10)}


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture
def kern(monkeypatch):
    """The kernels module (the test fails when it cannot be had); the path switches, the
    two-thread memo and floatx restored after the test."""
    monkeypatch.setattr(jit, "enabled", True)
    k = jit.kernels()
    assert k is not None, jit.why_not()
    old = trainer._FUSED_MLP[0], jit._parallel[0], keras.backend.floatx(), \
        jit.SplitChooser.fixed
    yield k
    trainer._FUSED_MLP[0], jit._parallel[0] = old[0], old[1]
    jit.SplitChooser.fixed = old[3]
    keras.backend.set_floatx(old[2])


class _Counting:
    """The kernels module with ``mlp_rows`` / ``mlp_step2`` counted (the batch size of each
    call). A proxy, not patched module attributes: ``mlp_step2`` calls the module's global
    ``mlp_rows`` and Numba resolves it when it compiles a new signature."""

    def __init__(self, k, rec):
        self._k, self._rec = k, rec

    def __getattr__(self, name):
        return getattr(self._k, name)

    def mlp_rows(self, *args):
        self._rec.rows.append(args[0].shape[0])
        return self._k.mlp_rows(*args)

    def mlp_step2(self, *args):
        self._rec.step2.append(args[0].shape[0])
        return self._k.mlp_step2(*args)


@pytest.fixture
def spy(kern, monkeypatch):
    """Records every call of the fused kernels (the batch size) and whether each
    ``train_step_arrays`` call took the fused step."""
    rec = types.SimpleNamespace(rows=[], step2=[], steps=[])
    proxy = _Counting(kern, rec)
    real_kernels = jit.kernels
    monkeypatch.setattr(jit, "kernels", lambda: proxy if real_kernels() is not None else None)
    real_step = _fused_mlp.train_step_arrays

    def step(*args):
        out = real_step(*args)
        rec.steps.append(out is not None)
        return out

    monkeypatch.setattr(_fused_mlp, "train_step_arrays", step)

    def reset():
        rec.rows.clear()
        rec.step2.clear()
        rec.steps.clear()

    rec.reset = reset
    return rec


def _model(din, layers, loss, optimizer="sgd", metrics=(), flatten=False, cls=None):
    """A compiled Sequential: ``layers`` as (units, activation) or (units, activation, kwargs)."""
    seq = [keras.Input((din,) if isinstance(din, int) else din)]
    if flatten:
        seq.append(keras.layers.Flatten())
    for spec in layers:
        units, act, kw = (*spec, {})[:3]
        seq.append(keras.layers.Dense(units, act, **kw))
    model = (cls or keras.Sequential)(seq)
    opt = keras.optimizers.get(optimizer) if isinstance(optimizer, str) else optimizer()
    model.compile(optimizer=opt, loss=loss, metrics=list(metrics))
    return model


def _fit(make, x, y, fused, epochs=2, batch_size=16, **kw):
    """``make()`` under the fixed seed, fitted without shuffling through the fused step
    (``fused``) or the general one."""
    trainer._FUSED_MLP[0] = None if fused else False
    try:
        keras.utils.set_random_seed(SEED)
        model = make()
        hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0,
                         **kw)
    finally:
        trainer._FUSED_MLP[0] = None
    return model, hist.history


def _close(got, want, tol, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-3)
    err = float(np.abs(got - want).max(initial=0.0))
    assert err <= tol * scale, (what, err, scale)


def _same_history(got, want, tol):
    assert sorted(got) == sorted(want)
    for key in want:
        if "accuracy" in key:
            assert got[key] == want[key], key        # the same counts: the same floats
        else:
            _close(got[key], want[key], tol, key)


def _steps(n, batch_size, epochs):
    return epochs * -(-n // batch_size)


def _compare(spy, make, x, y, dtype="float32", epochs=2, batch_size=16, **kw):
    """General then fused fit of ``make()``; asserts that every step but the first (which builds
    the compiled loss) ran the kernels, and that the two agree. Returns both models."""
    spy.reset()
    gm, gh = _fit(make, x, y, False, epochs, batch_size, **kw)
    assert not spy.steps and not spy.rows and not spy.step2      # the switch holds
    fm, fh = _fit(make, x, y, True, epochs, batch_size, **kw)
    n = _steps(len(x), batch_size, epochs)
    assert spy.steps == [False] + [True] * (n - 1)
    assert len(spy.rows) + len(spy.step2) == n - 1
    htol, wtol = TOL[dtype]
    _same_history(fh, gh, htol)
    gw, fw = gm.get_weights(), fm.get_weights()
    assert len(gw) == len(fw)
    for i, (a, b) in enumerate(zip(fw, gw)):
        assert a.dtype == dtype
        _close(a, b, wtol, f"weight {i}")
    return gm, fm


def _data(n, din, classes=3, seed=0, targets=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + ((din,) if isinstance(din, int) else tuple(din)))
    if targets is None:
        y = rng.integers(0, classes, n)
    else:
        y = rng.standard_normal((n,) + targets)
    return x, y


def _set_floatx(dtype):
    keras.backend.set_floatx(dtype)   # (the kern fixture restores it) fit hands floatx batches


DTYPES = ["float32", "float64"]
SCE = "sparse_categorical_crossentropy"


# ---------------------------------------------------------------- fused == general
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_sparse_ce_sgd(spy, dtype):
    _set_floatx(dtype)
    x, y = _data(50, 20)
    _compare(spy, lambda: _model(20, [(16, "relu"), (8, "relu"), (3, "softmax")], SCE,
                                 lambda: keras.optimizers.SGD(0.1), ["accuracy"]),
             x, y, dtype, epochs=3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_sparse_ce_adam(spy, dtype):
    _set_floatx(dtype)
    x, y = _data(48, 12, classes=4)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    _compare(spy, lambda: _model(12, [(10, "relu"), (4, None)], loss,
                                 lambda: keras.optimizers.Adam(0.01), ["accuracy"]),
             x, y, dtype, epochs=3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["mse", "mean_squared_error", "object"])
def test_mse_2d_targets_rmsprop(spy, dtype, loss):
    _set_floatx(dtype)
    x, y = _data(40, 6, targets=(2,))
    loss = keras.losses.MeanSquaredError() if loss == "object" else loss
    _compare(spy, lambda: _model(6, [(8, "relu"), (5, "linear"), (2, None)], loss,
                                 lambda: keras.optimizers.RMSprop(0.01), ["mae"]),
             x, y, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_1d_targets_one_unit(spy, dtype):
    _set_floatx(dtype)
    x, y = _data(40, 5, targets=())
    assert y.shape == (40,)
    _compare(spy, lambda: _model(5, [(7, "relu"), (1, None)], "mse",
                                 lambda: keras.optimizers.SGD(0.05, momentum=0.9)),
             x, y, dtype)


def test_mse_integer_targets(spy):
    x, _ = _data(32, 5)
    y = np.random.default_rng(3).integers(-2, 3, (32, 2))
    _compare(spy, lambda: _model(5, [(6, "relu"), (2, None)], "mse"), x, y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["all", "first", "last"])
def test_dense_without_bias(spy, dtype, which):
    _set_floatx(dtype)
    x, y = _data(40, 9)
    nb = {"use_bias": False}
    first, last = (nb if which in ("all", "first") else {}), (nb if which != "first" else {})
    gm, _ = _compare(spy, lambda: _model(9, [(8, "relu", first), (3, "softmax", last)], SCE,
                                         metrics=["accuracy"]), x, y, dtype)
    assert len(gm.get_weights()) == 4 - (which == "all") * 2 - (which != "all")


@pytest.mark.parametrize("dtype", DTYPES)
def test_leading_flatten(spy, dtype):
    _set_floatx(dtype)
    x, y = _data(40, (4, 5))
    _compare(spy, lambda: _model((4, 5), [(6, "relu"), (3, "softmax")], SCE,
                                 metrics=["accuracy"], flatten=True), x, y, dtype)


@pytest.mark.parametrize("labels", ["float", "column", "float_column", "uint8"])
def test_label_forms(spy, labels):
    x, y = _data(40, 7)
    y = {"float": y.astype("float32"), "column": y[:, None],
         "float_column": y[:, None].astype("float64"), "uint8": y.astype("uint8")}[labels]
    _compare(spy, lambda: _model(7, [(6, "relu"), (3, "softmax")], SCE, metrics=["accuracy"]),
             x, y)


@pytest.mark.parametrize("n,batch_size", [(50, 16), (49, 16), (33, 32), (5, 1), (30, 30)])
def test_partial_last_batches(spy, n, batch_size):
    x, y = _data(n, 6)
    _compare(spy, lambda: _model(6, [(5, "relu"), (3, "softmax")], SCE,
                                 lambda: keras.optimizers.Adam(0.01), ["accuracy"]),
             x, y, batch_size=batch_size, epochs=3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "two_threads"])
def test_big_model_serial_and_split(spy, dtype, parallel):
    # 256-128-10: 34k multiply-adds a row; a batch of 64 (and the last one of 32) is above the
    # split threshold, the last batch of 8 below the variant's 16-row minimum
    _set_floatx(dtype)
    macs = 256 * 128 + 128 * 10
    assert macs * 32 >= _fused_mlp._SPLIT_MACS > macs * 8
    x, y = _data(136, 256, classes=10)
    jit._parallel[0] = jit.SplitChooser.fixed = parallel
    _compare(spy, lambda: _model(256, [(128, "relu"), (10, "softmax")], SCE,
                                 lambda: keras.optimizers.SGD(0.05), ["accuracy"]),
             x, y, dtype, batch_size=64)
    # epoch 1: the first step is the general one, then 64, 8; epoch 2: 64, 64, 8
    if parallel:
        assert spy.step2 == [64, 64, 64] and spy.rows == [8, 8]
    else:
        assert spy.step2 == [] and spy.rows == [64, 8, 64, 64, 8]


@pytest.mark.parametrize("kind", ["softmax", "logits", "mse", "mse1", "nobias_flatten"])
def test_split_forced_on_small_models(spy, monkeypatch, kind):
    # the two-thread variant on every batch of >= 16 rows: odd halves (17 rows), one output
    # column (the column split gives one thread nothing), no bias
    monkeypatch.setattr(_fused_mlp, "_SPLIT_MACS", 0)
    jit._parallel[0] = jit.SplitChooser.fixed = True
    _set_floatx("float64")
    din, flatten = ((3, 4), True) if kind == "nobias_flatten" else (8, False)
    x, y = _data(50, din)
    loss, out, metrics = SCE, (3, "softmax"), ["accuracy"]
    if kind == "logits":
        loss, out = keras.losses.SparseCategoricalCrossentropy(from_logits=True), (3, None)
    elif kind in ("mse", "mse1"):
        units = 2 if kind == "mse" else 1
        loss, out, metrics = "mse", (units, None), []
        y = _data(50, 8, targets=(units,) if units > 1 else ())[1]
    kw = {"use_bias": False} if kind == "nobias_flatten" else {}
    _compare(spy, lambda: _model(din, [(6, "relu", kw), (5, "relu", kw), (*out, kw)], loss,
                                 lambda: keras.optimizers.Adam(0.01), metrics, flatten),
             x, y, "float64", batch_size=17)
    assert spy.step2 == [17, 16, 17, 17, 16] and spy.rows == []   # (the first: general)


def test_metrics_accuracy_exact(spy):
    x, y = _data(96, 10, classes=4, seed=5)
    # (a fresh metric object per model: one shared by two fits is another test)
    _, fm = _compare(spy, lambda: _model(10, [(12, "relu"), (4, "softmax")], SCE,
                                         lambda: keras.optimizers.SGD(0.2),
                                         ["accuracy",
                                          keras.metrics.SparseTopKCategoricalAccuracy(k=2)]),
                     x, y, epochs=3)
    assert set(fm.history.history) == {"loss", "accuracy", "sparse_top_k_categorical_accuracy"}


def test_evaluate_and_predict_after_fused_fit(spy):
    x, y = _data(40, 7)
    xt, yt = _data(21, 7, seed=9)
    gm, fm = _compare(spy, lambda: _model(7, [(9, "relu"), (3, "softmax")], SCE,
                                          metrics=["accuracy"]), x, y)
    spy.reset()
    g_eval = gm.evaluate(xt, yt, batch_size=8, verbose=0, return_dict=True)
    f_eval = fm.evaluate(xt, yt, batch_size=8, verbose=0, return_dict=True)
    _same_history({k: [v] for k, v in f_eval.items()}, {k: [v] for k, v in g_eval.items()},
                  1e-5)
    _close(fm.predict(xt, batch_size=8, verbose=0), gm.predict(xt, batch_size=8, verbose=0),
           1e-5)
    assert not spy.steps and not spy.rows          # evaluate / predict never train


def test_jit_switched_off_takes_general_path(spy, monkeypatch):
    x, y = _data(32, 4)
    model = _model(4, [(3, "softmax")], SCE)
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert spy.steps[1:] == [True] * 3
    spy.reset()
    monkeypatch.setattr(jit, "enabled", False)
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert spy.steps == [False] * 4 and not spy.rows


# ---------------------------------------------------------------- gradients
def _fd_model(kind):
    loss, out = SCE, (3, "softmax")
    if kind == "logits":
        loss, out = keras.losses.SparseCategoricalCrossentropy(from_logits=True), (3, None)
    elif kind == "mse":
        loss, out = "mse", (2, None)
    kw = {"use_bias": False} if kind == "mse" else {}
    return _model(5, [(4, "relu"), (4, "relu", kw), out], loss)


@pytest.mark.parametrize("kind", ["softmax", "logits", "mse"])
@pytest.mark.parametrize("split", [False, True], ids=["serial", "two_threads"])
def test_grads_match_finite_differences(kern, monkeypatch, kind, split):
    _set_floatx("float64")
    jit._parallel[0] = jit.SplitChooser.fixed = split
    monkeypatch.setattr(_fused_mlp, "_SPLIT_MACS", 0 if split else 1 << 60)
    keras.utils.set_random_seed(SEED)
    model = _fd_model(kind)
    x, y = _data(17, 5, seed=2, targets=(2,) if kind == "mse" else None)
    xt, yt = tf.constant(x), tf.constant(y)
    # random biases too (zero ones leave exact zeros, ReLU's kink, after a dead row), and no
    # hidden pre-activation within reach of the differences' step
    rng = np.random.default_rng(7)
    model.set_weights([rng.standard_normal(w.shape) * 0.7 for w in model.get_weights()])
    h = x
    for layer in model.layers[:-1]:
        z = h @ layer.kernel.numpy() + (0 if layer.bias is None else layer.bias.numpy())
        assert np.abs(z).min() > 1e-5        # (a step moves them by ~3e-6 at most)
        h = np.maximum(z, 0)
    model.evaluate(x, y, verbose=0)                 # builds the compiled loss
    variables = model.trainable_variables
    before = [v.numpy() for v in variables]
    out = _fused_mlp.train_step_arrays(model, xt, yt, variables)
    assert out is not None
    loss, y_pred, grads = out
    for v, b in zip(variables, before):             # nothing changed
        assert np.array_equal(v.numpy(), b)

    def general_loss():
        return model.compute_loss(x=xt, y=yt, y_pred=model(xt, training=True))

    with tf.GradientTape() as tape:
        want = general_loss()
    tape_grads = tape.gradient(want, variables)
    assert loss.dtype == tf.float64 and loss.shape == ()
    _close(loss.numpy(), want.numpy(), 1e-13)
    _close(y_pred.numpy(), model(xt).numpy(), 1e-13)
    assert len(grads) == len(variables)
    h = 1e-6
    for v, g, tg in zip(variables, grads, tape_grads):
        assert isinstance(g, np.ndarray) and g.shape == tuple(v.shape) and g.dtype == np.float64
        _close(g, tg.numpy(), 1e-12, v.name)
        base = v.numpy()
        fd = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            for sign in (1, -1):
                w = base.copy()
                w[idx] += sign * h
                v.assign(w)
                fd[idx] += sign * float(general_loss().numpy()) / (2 * h)
        v.assign(base)
        _close(g, fd, 1e-6, v.name)
        assert np.abs(g).max() > 1e-4                # not a trivially zero gradient


# ---------------------------------------------------------------- outside the fused step
def _seq(layers, loss=SCE, din=6, **kw):
    return lambda: _model(din, layers, loss, **kw)


class _MySequential(keras.Sequential):
    pass


def _functional():
    inp = keras.Input((6,))
    h = keras.layers.Dense(5, "relu")(inp)
    model = keras.Model(inp, keras.layers.Dense(3, "softmax")(h))
    model.compile(optimizer="sgd", loss=SCE)
    return model


def _frozen_first():
    model = _model(6, [(5, "relu"), (3, "softmax")], SCE)
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss=SCE)
    return model


def _mixed_dtypes():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, "relu", dtype="float64"),
                              keras.layers.Dense(3, "softmax")])
    model.compile(optimizer="sgd", loss=SCE)
    return model


def _flatten_channels_first():
    model = keras.Sequential([keras.Input((2, 3)),
                              keras.layers.Flatten(data_format="channels_first"),
                              keras.layers.Dense(3, "softmax")])
    model.compile(optimizer="sgd", loss=SCE)
    return model


def _dropout():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, "relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(3, "softmax")])
    model.compile(optimizer="sgd", loss=SCE)
    return model


_L2 = {"kernel_regularizer": keras.regularizers.L2(0.1)}
UNFUSED = {
    "dropout": _dropout,
    "kernel_regularizer": _seq([(5, "relu", _L2), (3, "softmax")]),
    "bias_regularizer": _seq([(5, "relu"), (3, "softmax", {"bias_regularizer": "l2"})]),
    "activity_regularizer": _seq([(5, "relu", {"activity_regularizer": "l1"}), (3, "softmax")]),
    "tanh_hidden": _seq([(5, "tanh"), (3, "softmax")]),
    "sigmoid_hidden": _seq([(5, "sigmoid"), (3, "softmax")]),
    "softmax_hidden": _seq([(5, "softmax"), (3, "softmax")]),
    "relu_last_sce": _seq([(5, "relu"), (3, "relu")]),
    "linear_last_probabilities": _seq([(5, "relu"), (3, None)]),
    "from_logits_softmax": _seq(
        [(5, "relu"), (3, "softmax")],
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    "ignore_class": _seq([(5, "relu"), (3, "softmax")],
                         keras.losses.SparseCategoricalCrossentropy(ignore_class=2)),
    "reduction_sum": _seq([(5, "relu"), (3, "softmax")],
                          keras.losses.SparseCategoricalCrossentropy(reduction="sum")),
    "categorical_ce": _seq([(5, "relu"), (3, "softmax")], "categorical_crossentropy"),
    "mse_softmax_out": _seq([(5, "relu"), (3, "softmax")], "mse"),
    "mse_relu_out": _seq([(5, "relu"), (3, "relu")], "mse"),
    "mae": _seq([(5, "relu"), (3, None)], "mae"),
    "subclassed_sequential": _seq([(5, "relu"), (3, "softmax")], cls=_MySequential),
    "functional": _functional,
    "non_trainable_layer": _frozen_first,
    "mixed_dtypes": _mixed_dtypes,
    "flatten_channels_first": _flatten_channels_first,
}


def _targets(case, y):
    if case == "categorical_ce":
        return np.eye(3)[y]
    if case.startswith("mse") or case == "mae":
        return np.random.default_rng(4).standard_normal((len(y), 3))
    return y


@pytest.mark.filterwarnings("ignore:.*from_logits=True.*:UserWarning")
@pytest.mark.parametrize("case", list(UNFUSED))
def test_unfused_models_take_general_path(spy, case):
    make = UNFUSED[case]
    x, y = _data(40, (2, 3) if case == "flatten_channels_first" else 6)
    y = _targets(case, y)
    spy.reset()
    gm, gh = _fit(make, x, y, False)
    fm, fh = _fit(make, x, y, True)
    assert len(spy.steps) == _steps(40, 16, 2) and not any(spy.steps)
    assert not spy.rows and not spy.step2
    assert fh == gh
    for a, b in zip(fm.get_weights(), gm.get_weights()):
        assert np.array_equal(a, b)
    # asked directly, on the built model and compiled loss: still None
    xt = tf.constant(x[:8].astype("float32"))
    yt = tf.constant(y[:8])
    assert _fused_mlp.train_step_arrays(fm, xt, yt, fm.trainable_variables) is None


def test_sample_weight_takes_general_path(spy):
    x, y = _data(40, 6)
    sw = np.random.default_rng(1).random(40)
    make = _seq([(5, "relu"), (3, "softmax")], metrics=["accuracy"])
    spy.reset()
    gm, gh = _fit(make, x, y, False, sample_weight=sw)
    fm, fh = _fit(make, x, y, True, sample_weight=sw)
    assert not spy.steps and not spy.rows and not spy.step2   # never even asked
    assert fh == gh
    for a, b in zip(fm.get_weights(), gm.get_weights()):
        assert np.array_equal(a, b)


def test_float_dtype_mismatched_input_takes_general_path(spy):
    # float64 layers under floatx float32: fit hands float32 batches, the layers cast them
    model = keras.Sequential([keras.Input((4,), dtype="float64"),
                              keras.layers.Dense(3, "softmax", dtype="float64")])
    model.compile(optimizer="sgd", loss=SCE)
    x, y = _data(32, 4)
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert spy.steps == [False] * 4 and not spy.rows


def _swap_run(fused, act):
    """Two epochs, the hidden activation swapped for ``act``, two more epochs."""
    x, y = _data(40, 6)
    model, h1 = _fit(lambda: _model(6, [(5, "relu"), (3, "softmax")], SCE,
                                    lambda: keras.optimizers.SGD(0.1)), x, y, fused)
    model.layers[0].activation = keras.activations.get(act)
    trainer._FUSED_MLP[0] = None if fused else False
    try:
        h2 = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    finally:
        trainer._FUSED_MLP[0] = None
    return model, h1, h2


@pytest.mark.parametrize("act", ["tanh", "linear"])
def test_swapped_activation_is_replanned(spy, act):
    gm, g1, g2 = _swap_run(False, act)
    spy.reset()
    fm, f1, f2 = _swap_run(True, act)
    # first fit: the first step general, then fused; after the swap: tanh is not fusable,
    # linear is (a new plan with the new activation)
    first = [False] + [True] * 5
    assert spy.steps == first + ([False] * 6 if act == "tanh" else [True] * 6)
    _same_history(f1, g1, 1e-5)
    _same_history(f2, g2, 1e-5)
    for a, b in zip(fm.get_weights(), gm.get_weights()):
        _close(a, b, 1e-5)


# ---------------------------------------------------------------- errors and NaN
@pytest.mark.parametrize("bad", [5, 3, -1])
@pytest.mark.parametrize("split", [False, True], ids=["serial", "two_threads"])
def test_label_out_of_range_raises_like_general(spy, monkeypatch, bad, split):
    monkeypatch.setattr(_fused_mlp, "_SPLIT_MACS", 0 if split else 1 << 60)
    jit._parallel[0] = jit.SplitChooser.fixed = split
    x, y = _data(48, 6)
    y_bad = y.copy()
    y_bad[13] = bad                  # in the first batch, in its second half
    raised = []
    for fused in (False, True):
        model, _ = _fit(lambda: _model(6, [(5, "relu"), (3, "softmax")], SCE,
                                       lambda: keras.optimizers.Adam(0.01)), x, y, fused)
        spy.reset()
        weights = model.get_weights()
        iters = int(model.optimizer.iterations.numpy())
        trainer._FUSED_MLP[0] = None if fused else False
        try:
            with pytest.raises(errors.InvalidArgumentError) as info:
                model.fit(x, y_bad, epochs=1, batch_size=16, shuffle=False, verbose=0)
        finally:
            trainer._FUSED_MLP[0] = None
        raised.append((type(info.value), str(info.value)))
        assert f"label value of {bad}" in str(info.value)
        # the compiled step saw the bad label and handed over: nothing was updated
        assert spy.steps == ([False] if fused else [])
        assert len(spy.rows) + len(spy.step2) == (1 if fused else 0)
        assert (len(spy.step2) == 1) == (fused and split)
        assert int(model.optimizer.iterations.numpy()) == iters
        for a, b in zip(model.get_weights(), weights):
            assert np.array_equal(a, b)
    assert raised[0] == raised[1]


@pytest.mark.parametrize("kind", ["softmax", "mse"])
def test_nan_input_gives_nan_loss_like_general(spy, kind):
    x, y = _data(48, 6)
    x[20, 2] = np.nan                # second batch of the first epoch
    loss, out = (SCE, (3, "softmax")) if kind == "softmax" else ("mse", (2, None))
    if kind == "mse":
        y = _data(48, 6, targets=(2,))[1]
    metrics = ["accuracy"] if kind == "softmax" else []
    make = _seq([(5, "relu"), out], loss, metrics=metrics)
    spy.reset()
    gm, gh = _fit(make, x, y, False)
    fm, fh = _fit(make, x, y, True)
    assert spy.steps == [False] + [True] * 5
    assert np.isnan(gh["loss"]).all() and np.isnan(fh["loss"]).all()
    if metrics:
        assert fh["accuracy"] == gh["accuracy"]
    for a, b in zip(fm.get_weights(), gm.get_weights()):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        _close(np.nan_to_num(a), np.nan_to_num(b), 1e-5)


# ---------------------------------------------------------------- fork
_FORK_SCRIPT = r"""
import os, sys
import numpy as np
from tapeflow import keras
from tapeflow._backend import jit
from tapeflow.keras import _fused_mlp

assert jit.kernels() is not None, jit.why_not()
k = jit.kernels()
calls = {"rows": 0, "step2": 0}


class Counting:                  # (a proxy: mlp_step2 calls the module's own mlp_rows)
    def __getattr__(self, name):
        return getattr(k, name)

    def mlp_rows(self, *a):
        calls["rows"] += 1
        return k.mlp_rows(*a)

    def mlp_step2(self, *a):
        calls["step2"] += 1
        return k.mlp_step2(*a)


proxy = Counting()
jit.kernels = lambda: proxy
jit._parallel[0] = jit.SplitChooser.fixed = True   # the pool starts in the parent
rng = np.random.default_rng(0)
x = rng.standard_normal((192, 256)).astype("float32")
y = rng.integers(0, 10, 192)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(128, "relu"),
                          keras.layers.Dense(10, "softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
assert calls == {"rows": 0, "step2": 2}, calls
before = model.get_weights()
pid = os.fork()
if pid == 0:
    code = 0
    try:
        if jit.parallel_ok() is not False:
            code = 3
        else:
            calls["rows"] = calls["step2"] = 0
            h = model.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
            if calls != {"rows": 3, "step2": 0}:
                code = 4
            elif not np.isfinite(h.history["loss"][0]):
                code = 5
            elif np.array_equal(model.get_weights()[0], before[0]):
                code = 6
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 7
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
print("parent", jit.parallel_ok())
"""


def test_forked_child_runs_serial_kernels(kern):
    # (the kernels on in the child's process even where this one runs with TAPEFLOW_JIT=0)
    env = {k: v for k, v in os.environ.items()
           if k not in ("TAPEFLOW_JIT", "TAPEFLOW_JIT_THREADS")}
    r = subprocess.run([sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    # child codes: 3 parallel_ok() stayed True, 4 the wrong kernels ran, 5 a NaN loss,
    # 6 nothing trained, 7 an exception (its traceback is in stderr)
    assert r.stdout.splitlines() == ["child 0", "parent True"], (r.stdout, r.stderr)


# ---------------------------------------------------------------- misc
def test_warnings_free_fused_fit(spy):
    x, y = _data(32, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = _model(4, [(3, "relu"), (3, "softmax")], SCE)
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert spy.steps == [False, True, True, True]


def test_logits_metric_after_fused_step(spy):
    # a metric that reads a softmax output's logits sees them after a fused step too
    x, y = _data(32, 20)

    def make():
        m = _model(20, [(16, "relu"), (3, "softmax")], SCE, lambda: keras.optimizers.SGD(0.0),
                   ["sparse_categorical_crossentropy"])
        m.set_weights([w * 10.0 for w in m.get_weights()])
        return m

    _, gh = _fit(make, x, y, False, epochs=3, batch_size=32)
    _, fh = _fit(make, x, y, True, epochs=3, batch_size=32)
    assert spy.steps == [False, True, True]
    np.testing.assert_allclose(fh["sparse_categorical_crossentropy"],
                               gh["sparse_categorical_crossentropy"], rtol=1e-5)


def test_activity_regularizer_set_after_fused_step(spy):
    # a regularizer set between two fits is seen: the plan is made again (general path)
    x, y = _data(32, 20)
    hist = []
    for fused in (False, True):
        model, _ = _fit(lambda: _model(20, [(16, "relu"), (3, "softmax")], SCE), x, y, fused,
                        batch_size=32)
        model.layers[0].activity_regularizer = keras.regularizers.L2(1.0)
        trainer._FUSED_MLP[0] = None if fused else False
        try:
            hist.append(model.fit(x, y, epochs=2, batch_size=32, shuffle=False,
                                  verbose=0).history["loss"])
        finally:
            trainer._FUSED_MLP[0] = None
    np.testing.assert_allclose(hist[1], hist[0], rtol=1e-5)


def test_activation_swapped_back_is_fused_again(spy):
    # relu -> tanh (general path) -> relu: the fused step comes back
    x, y = _data(32, 20)
    model, _ = _fit(lambda: _model(20, [(16, "relu"), (3, "softmax")], SCE), x, y, True,
                    batch_size=32)
    layer = model.layers[0]
    relu = layer.activation
    layer.activation = keras.activations.tanh
    model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    layer.activation = relu
    spy.steps.clear()
    model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert spy.steps == [True]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
def test_loss_scale_factor_leaves_the_update_unchanged(spy, fused):
    # Keras 3: the gradient of the scaled loss, divided back by the optimizer
    x, y = _data(32, 20)
    weights = []
    for factor in (None, 128.0):
        model, _ = _fit(lambda f=factor: _model(
            20, [(16, "relu"), (3, "softmax")], SCE,
            lambda: keras.optimizers.SGD(0.1, loss_scale_factor=f)), x, y, fused, batch_size=8)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_split_and_one_thread_halves_are_bit_identical(kern):
    # the chooser may run the halves on two threads or one after the other: the same numbers
    x, y = _data(64, 256)
    runs = []
    for fixed in (True, False):
        jit._parallel[0] = True
        jit.SplitChooser.fixed = fixed
        model, hist = _fit(lambda: _model(256, [(128, "relu"), (10, "softmax")], SCE), x, y,
                           True, batch_size=64, epochs=2)
        runs.append((hist["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
