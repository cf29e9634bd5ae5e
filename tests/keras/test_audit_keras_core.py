"""Audit of the Keras core against Keras 3.15 (issue 3): summary layout, callbacks protocol,
multi-output compile arguments, safe-mode Lambda loading, build recording, auto names and
``keras.config``. Expected strings were recorded from Keras 3.15.1 (COLUMNS=80) and pasted in."""

import io
import logging
import os
import re
import sys
import warnings

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras

L = keras.layers

# Recorded from Keras 3.15.1: model.summary(print_fn=...) with COLUMNS=80 (one call each).
KERAS_SUMMARIES = {
    'seq': (
        'Model: "s"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩\n'
        '│ d1 (Dense)                      │ (None, 4)              │            24 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ drop (Dropout)                  │ (None, 4)              │             0 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ d2 (Dense)                      │ (None, 1)              │             5 │\n'
        '└─────────────────────────────────┴────────────────────────┴───────────────┘\n'
        ' Total params: 29 (116.00 B)\n'
        ' Trainable params: 29 (116.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    ),
    'seq_ll70': (
        'Model: "s"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)                 ┃ Output Shape          ┃     Param # ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━┩\n'
        '│ d1 (Dense)                   │ (None, 4)             │          24 │\n'
        '├──────────────────────────────┼───────────────────────┼─────────────┤\n'
        '│ drop (Dropout)               │ (None, 4)             │           0 │\n'
        '├──────────────────────────────┼───────────────────────┼─────────────┤\n'
        '│ d2 (Dense)                   │ (None, 1)             │           5 │\n'
        '└──────────────────────────────┴───────────────────────┴─────────────┘\n'
        ' Total params: 29 (116.00 B)\n'
        ' Trainable params: 29 (116.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    ),
    'multi': (
        'Model: "mm"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩\n'
        '│ a (InputLayer)      │ (None, 3)         │          0 │ -                 │\n'
        '├─────────────────────┼───────────────────┼────────────┼───────────────────┤\n'
        '│ b (InputLayer)      │ (None, 2)         │          0 │ -                 │\n'
        '├─────────────────────┼───────────────────┼────────────┼───────────────────┤\n'
        '│ concatenate         │ (None, 5)         │          0 │ a[0][0], b[0][0]  │\n'
        '│ (Concatenate)       │                   │            │                   │\n'
        '├─────────────────────┼───────────────────┼────────────┼───────────────────┤\n'
        '│ a_very_long_dense_… │ (None, 4)         │         24 │ concatenate[0][0] │\n'
        '│ (Dense)             │                   │            │                   │\n'
        '├─────────────────────┼───────────────────┼────────────┼───────────────────┤\n'
        '│ out1 (Dense)        │ (None, 1)         │          5 │ a_very_long_dens… │\n'
        '├─────────────────────┼───────────────────┼────────────┼───────────────────┤\n'
        '│ out2 (Dense)        │ (None, 2)         │         10 │ a_very_long_dens… │\n'
        '└─────────────────────┴───────────────────┴────────────┴───────────────────┘\n'
        ' Total params: 39 (156.00 B)\n'
        ' Trainable params: 39 (156.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    ),
    'trainable': (
        'Model: "t"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┓\n'
        '┃ Layer (type)                ┃ Output Shape          ┃    Param # ┃ Trai… ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━┩\n'
        '│ bn (BatchNormalization)     │ (None, 4)             │         16 │   Y   │\n'
        '├─────────────────────────────┼───────────────────────┼────────────┼───────┤\n'
        '│ frozen (Dense)              │ (None, 2)             │         10 │   N   │\n'
        '├─────────────────────────────┼───────────────────────┼────────────┼───────┤\n'
        '│ flat (Flatten)              │ (None, 2)             │          0 │   -   │\n'
        '└─────────────────────────────┴───────────────────────┴────────────┴───────┘\n'
        ' Total params: 26 (104.00 B)\n'
        ' Trainable params: 8 (32.00 B)\n'
        ' Non-trainable params: 18 (72.00 B)\n'
    ),
    'unbuilt': (
        'Model: "u"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩\n'
        '│ u1 (Dense)                      │ ?                      │   0 (unbuilt) │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ u2 (Dense)                      │ ?                      │   0 (unbuilt) │\n'
        '└─────────────────────────────────┴────────────────────────┴───────────────┘\n'
        ' Total params: 0 (0.00 B)\n'
        ' Trainable params: 0 (0.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    ),
    'fitted': (
        'Model: "s"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩\n'
        '│ d1 (Dense)                      │ (None, 4)              │            24 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ drop (Dropout)                  │ (None, 4)              │             0 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ d2 (Dense)                      │ (None, 1)              │             5 │\n'
        '└─────────────────────────────────┴────────────────────────┴───────────────┘\n'
        ' Total params: 89 (360.00 B)\n'
        ' Trainable params: 29 (116.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
        ' Optimizer params: 60 (244.00 B)\n'
    ),
    'shared': (
        'Model: "sh"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩\n'
        '│ x (InputLayer)      │ (None, 3)         │          0 │ -                 │\n'
        '├─────────────────────┼───────────────────┼────────────┼───────────────────┤\n'
        '│ shared (Dense)      │ (None, 3)         │         12 │ x[0][0],          │\n'
        '│                     │                   │            │ shared[0][0]      │\n'
        '└─────────────────────┴───────────────────┴────────────┴───────────────────┘\n'
        ' Total params: 12 (48.00 B)\n'
        ' Trainable params: 12 (48.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    ),
    'chain3d': (
        'Model: "c3"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩\n'
        '│ x (InputLayer)                  │ (None, 6)              │             0 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ r (Reshape)                     │ (None, 2, 3)           │             0 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ dd (Dense)                      │ (None, 2, 2)           │             8 │\n'
        '└─────────────────────────────────┴────────────────────────┴───────────────┘\n'
        ' Total params: 8 (32.00 B)\n'
        ' Trainable params: 8 (32.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    ),
    'sub': (
        'Model: "sub"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩\n'
        '│ s1 (Dense)                      │ (2, 3)                 │            15 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ s2 (Dense)                      │ (2, 1)                 │             4 │\n'
        '└─────────────────────────────────┴────────────────────────┴───────────────┘\n'
        ' Total params: 19 (76.00 B)\n'
        ' Trainable params: 19 (76.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    ),
}


def _summaries():
    out = {}

    def cap(key, m, **kw):
        got = []
        m.summary(print_fn=lambda t, line_break=False: got.append(t), **kw)
        assert len(got) == 1, "Keras 3 passes the whole table to print_fn in one call"
        out[key] = got[0]

    s = keras.Sequential([keras.Input((5,)), L.Dense(4, name="d1"), L.Dropout(0.1, name="drop"),
                          L.Dense(1, name="d2")], name="s")
    cap("seq", s)
    cap("seq_ll70", s, line_length=70)
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    c = L.Concatenate(name="concatenate")([a, b])
    d = L.Dense(4, name="a_very_long_dense_layer_name_that_is_long")(c)
    cap("multi", keras.Model([a, b], [L.Dense(1, name="out1")(d), L.Dense(2, name="out2")(d)],
                             name="mm"))
    cap("trainable", keras.Sequential([keras.Input((4,)), L.BatchNormalization(name="bn"),
                                       L.Dense(2, trainable=False, name="frozen"),
                                       L.Flatten(name="flat")], name="t"), show_trainable=True)
    cap("unbuilt", keras.Sequential([L.Dense(4, name="u1"), L.Dense(1, name="u2")], name="u"))
    s.compile(keras.optimizers.Adam(), "mse")
    s.fit(np.zeros((4, 5)), np.zeros((4, 1)), verbose=0)
    cap("fitted", s)
    x = keras.Input((3,), name="x")
    sh = L.Dense(3, name="shared")
    cap("shared", keras.Model(x, sh(sh(x)), name="sh"))
    x = keras.Input((6,), name="x")
    y = L.Reshape((2, 3), name="r")(x)
    cap("chain3d", keras.Model(x, [y, L.Dense(2, name="dd")(y)], name="c3"))

    class Sub(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.d1 = L.Dense(3, name="s1")
            self.d2 = L.Dense(1, name="s2")

        def call(self, x):
            return self.d2(self.d1(x))

    sb = Sub()
    sb(np.zeros((2, 4), "float32"))
    cap("sub", sb)
    return out


def test_summary_tables_match_keras_3_15(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    got = _summaries()
    for key, want in KERAS_SUMMARIES.items():
        assert got[key] == want, f"summary {key!r} differs from Keras:\n{got[key]}\n{want}"


def test_summary_honours_terminal_width_and_disabled_interactive_logging(monkeypatch, caplog,
                                                                          capsys):
    m = keras.Sequential([keras.Input((5,)), L.Dense(4, name="d1")], name="w")
    monkeypatch.setenv("COLUMNS", "200")
    m.summary()
    top = capsys.readouterr().out.splitlines()[1]
    assert len(top) == 88   # Keras's default width when the terminal is wide enough
    keras.config.disable_interactive_logging()
    try:
        with caplog.at_level(logging.INFO, logger="keras"):
            m.summary()
    finally:
        keras.config.enable_interactive_logging()
    assert capsys.readouterr().out == ""
    assert 'Model: "w"' in caplog.text and "Total params: 24" in caplog.text


# --------------------------------------------------------------------------- callbacks
class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs):          # positional, as Keras calls it
        self.events.append(("train_begin", logs))

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_batch_end(self, batch, **kwargs):   # Keras passes logs=... by keyword
        self.events.append(("batch_end", batch, sorted(kwargs["logs"])))

    def on_predict_batch_end(self, batch, logs=None):
        self.events.append(("predict_batch_end", batch, sorted(logs)))

    def on_predict_end(self, logs):
        self.events.append(("predict_end", logs))


def _mlp():
    m = keras.Sequential([keras.Input((3,)), L.Dense(1, kernel_initializer="ones")])
    m.compile(keras.optimizers.SGD(0.1), "mse", metrics=["mae"])
    return m


def test_callback_hooks_get_logs_as_keras_passes_them():
    x, y = np.ones((20, 3), "float32"), np.ones((20, 1), "float32")
    m, rec = _mlp(), _Recorder()
    m.fit(x, y, batch_size=10, epochs=1, verbose=0, validation_data=(x, y), callbacks=[rec])
    m.predict(x, batch_size=10, verbose=0, callbacks=[rec])
    # Recorded from Keras 3.15: {} (not None) for the begin hooks, running logs per batch.
    assert rec.events[0] == ("train_begin", {})
    assert rec.events[1] == ("batch_end", 0, ["loss", "mae"])
    assert ("epoch_end", 0, ["loss", "mae", "val_loss", "val_mae"]) in rec.events
    assert ("predict_batch_end", 0, ["outputs"]) in rec.events
    assert rec.events[-1] == ("predict_end", {})


def _series_fit(callback, epochs=9):
    series = [1.0, 0.8, 0.85, 0.9, 0.79, 0.95, 0.96, 0.97, 0.98]

    def setter(epoch, logs):
        logs["val_loss"] = series[epoch]

    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    m = _mlp()
    return m, m.fit(x, y, epochs=epochs, verbose=0, validation_data=(x, y),
                    callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=setter), callback])


@pytest.mark.parametrize("kwargs, epochs_run, stopped, best, best_epoch", [
    # (epochs run, stopped_epoch, best, best_epoch) recorded from Keras 3.15
    (dict(patience=2), 4, 3, 0.8, 1),
    (dict(patience=1, min_delta=0.05), 3, 2, 0.8, 1),
    (dict(patience=2, baseline=0.5), 3, 2, 0.8, 1),
    (dict(patience=2, start_from_epoch=3), 7, 6, 0.79, 4),
    (dict(mode="max", patience=1), 2, 1, 1.0, 0),
])
def test_early_stopping_semantics_match_keras(kwargs, epochs_run, stopped, best, best_epoch):
    es = keras.callbacks.EarlyStopping(**kwargs)
    _, h = _series_fit(es)
    assert len(h.history["loss"]) == epochs_run
    assert (es.stopped_epoch, es.best, es.best_epoch) == (stopped, pytest.approx(best),
                                                          best_epoch)


def test_early_stopping_auto_mode_needs_a_known_direction():
    m = _mlp()
    es = keras.callbacks.EarlyStopping(monitor="nope")
    with pytest.raises(ValueError, match="monitor=nope.*Pass `mode='max'`"):
        m.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0, callbacks=[es])
    es = keras.callbacks.EarlyStopping(monitor="mae")   # a metric with a direction: fine
    m.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0, callbacks=[es])
    assert es.mode == "min"


def test_reduce_lr_on_plateau_matches_keras(capsys):
    rl = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.02,
                                           verbose=1)
    _, h = _series_fit(rl)
    # Recorded from Keras 3.15.
    assert [round(v, 4) for v in h.history["learning_rate"]] == [
        0.1, 0.1, 0.1, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02]
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.05" in capsys.readouterr().out


def test_model_checkpoint_messages_and_files_match_keras(tmp_path, capsys):
    path = os.path.join(tmp_path, "w{epoch:02d}-{val_loss:.2f}.weights.h5")
    ck = keras.callbacks.ModelCheckpoint(path, save_best_only=True, save_weights_only=True,
                                         verbose=1)
    _series_fit(ck, epochs=6)
    assert sorted(os.listdir(tmp_path)) == ["w01-1.00.weights.h5", "w02-0.80.weights.h5",
                                            "w05-0.79.weights.h5"]
    out = capsys.readouterr().out
    # Message formats recorded from Keras 3.15.
    assert "Epoch 1: val_loss improved from None to 1.00000, saving model to " in out
    assert "Epoch 2: val_loss improved from 1.00000 to 0.80000, saving model to " in out
    assert "Epoch 3: val_loss did not improve from 0.80000" in out
    assert "Epoch 5: finished saving model to " in out


# ------------------------------------------------------------------ multi-output compile
def _two_outputs():
    inp = keras.Input((4,), name="inp")
    h = L.Dense(5)(inp)
    return keras.Model(inp, [L.Dense(1, name="out1")(h),
                             L.Dense(3, activation="softmax", name="out2")(h)])


@pytest.mark.parametrize("metrics, keys", [
    # History keys recorded from Keras 3.15.
    (["mae", "mse"], ["loss", "out1_loss", "out1_mae", "out2_loss", "out2_mse"]),
    (["mae", ["mse", "mae"]],
     ["loss", "out1_loss", "out1_mae", "out2_loss", "out2_mae", "out2_mse"]),
    ({"out2": "accuracy"}, ["loss", "out1_loss", "out2_accuracy", "out2_loss"]),
    ([None, ["accuracy"]], ["loss", "out1_loss", "out2_accuracy", "out2_loss"]),
])
def test_multi_output_metric_names(metrics, keys):
    x = np.random.rand(16, 4).astype("float32")
    y = [np.random.rand(16, 1).astype("float32"),
         keras.utils.to_categorical(np.random.randint(0, 3, 16), 3)]
    m = _two_outputs()
    m.compile("adam", ["mse", "categorical_crossentropy"], metrics=metrics)
    assert sorted(m.fit(x, y, verbose=0).history) == keys
    assert sorted(m.evaluate(x, y, verbose=0, return_dict=True)) == keys


@pytest.mark.parametrize("metrics", [["mae"], ["mae", "mse", "mae"], {"outx": "mae"}])
def test_multi_output_metrics_of_the_wrong_structure_raise(metrics):
    m = _two_outputs()
    m.compile("adam", ["mse", "mse"], metrics=metrics)
    with pytest.raises(ValueError, match="Invalid `metrics`.*out1"):
        m.fit(np.ones((4, 4)), [np.ones((4, 1)), np.ones((4, 3))], verbose=0)


# ------------------------------------------------------------ Lambda, build, names, config
def test_lambda_from_config_refuses_unsafe_functions():
    ok = {"module": "builtins", "class_name": "function", "config": "relu",
          "registered_name": "function"}   # how Keras 3.15 writes Lambda(tf.nn.relu)
    layer = L.Lambda.from_config({"name": "l", "function": ok})
    np.testing.assert_allclose(layer(tf.constant([-1.0, 2.0])).numpy(), [0.0, 2.0])
    with pytest.raises(ValueError, match="could not find the function 'exec'"):
        L.Lambda.from_config({"name": "l", "function": dict(ok, config="exec")})
    with pytest.raises(ValueError, match="refusing to import the function 'system' from "
                                         "module 'os' in safe mode"):
        L.Lambda.from_config({"name": "l", "function": dict(ok, module="os", config="system")})
    named = L.Lambda(tf.nn.relu).get_config()["function"]
    assert named["class_name"] == "function" and named["config"] == "relu"


def test_lambda_from_config_after_enable_unsafe_deserialization():
    from tapeflow.keras.saving import serialization_lib

    config = L.Lambda(lambda t: t * 4.0).get_config()
    keras.config.enable_unsafe_deserialization()
    try:
        clone = L.Lambda.from_config(config)
    finally:
        serialization_lib._UNSAFE_GLOBALLY[0] = False
    np.testing.assert_allclose(clone(tf.constant([1.0])).numpy(), [4.0])


def test_direct_build_records_the_build_config():
    d = L.Dense(3)
    d.build((None, 4))
    assert d.built and d.get_build_config() == {"input_shape": [None, 4]}
    c = L.Concatenate()
    c.build([(None, 3), (None, 2)])
    assert c.get_build_config() == {"input_shape": [[None, 3], [None, 2]]}
    mha = L.MultiHeadAttention(2, 4)
    mha.build((None, 3, 8), (None, 5, 8))
    assert mha.get_build_config() == {"shapes_dict": {"query_shape": [None, 3, 8],
                                                      "value_shape": [None, 5, 8]}}

    class Custom(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2))

        def call(self, x):
            return x @ self.w

    layer = Custom()
    layer.build(tf.TensorShape([None, 7]))
    assert layer.built and layer.get_build_config() == {"input_shape": [None, 7]}
    clone = Custom.from_config(layer.get_config())
    clone.build_from_config(layer.get_build_config())
    assert clone.w.shape == (7, 2)


def test_optimizer_auto_names_are_unique_like_keras():
    keras.backend.clear_session()
    # Recorded from Keras 3.15: adam adam_1 / sgd sgd_1 / rm_sprop; a given name is kept.
    assert [keras.optimizers.Adam().name, keras.optimizers.Adam().name] == ["adam", "adam_1"]
    assert [keras.optimizers.SGD().name, keras.optimizers.SGD().name] == ["sgd", "sgd_1"]
    assert keras.optimizers.RMSprop().name == "rm_sprop"
    assert keras.optimizers.Adam(name="X y").name == "X y"
    keras.backend.clear_session()
    assert keras.optimizers.Adam().name == "adam"
    # Metrics are not made unique in Keras 3.15 (mean, mean).
    assert keras.metrics.Mean().name == keras.metrics.Mean().name == "mean"


def test_keras_config_namespace():
    cfg = keras.config
    for name in ["backend", "floatx", "set_floatx", "epsilon", "set_epsilon",
                 "image_data_format", "set_image_data_format", "enable_unsafe_deserialization",
                 "disable_interactive_logging", "enable_interactive_logging",
                 "is_interactive_logging_enabled", "dtype_policy", "set_dtype_policy",
                 "max_epochs", "set_max_epochs", "max_steps_per_epoch",
                 "set_max_steps_per_epoch", "disable_traceback_filtering"]:
        assert callable(getattr(cfg, name)), name
    assert cfg.backend() == "tensorflow"
    cfg.set_floatx("float64")
    try:
        assert L.Dense(1)(np.ones((1, 2))).dtype == tf.float64
    finally:
        cfg.set_floatx("float32")
    cfg.set_dtype_policy("mixed_float16")
    try:
        assert L.Dense(1).dtype_policy.name == "mixed_float16"
    finally:
        cfg.set_dtype_policy(None)
    assert L.Dense(1).dtype_policy.name == "float32"
    with pytest.raises(ValueError, match="Invalid `policy` argument.*Received: policy=3"):
        cfg.set_dtype_policy(3)
    with pytest.raises(ValueError, match="max_epochs.*positive int.*Received: max_epochs=0"):
        cfg.set_max_epochs(0)


def test_max_epochs_and_steps_caps_fit():
    m = _mlp()
    keras.config.set_max_epochs(2)
    keras.config.set_max_steps_per_epoch(3)
    try:
        h = m.fit(np.ones((320, 3)), np.ones((320, 1)), epochs=5, verbose=0)
    finally:
        keras.config.set_max_epochs(None)
        keras.config.set_max_steps_per_epoch(None)
    assert len(h.history["loss"]) == 2 and h.params["steps"] == 3


def test_progress_bar_goes_to_the_logger_when_interactive_logging_is_off(caplog, capsys):
    m = _mlp()
    keras.config.disable_interactive_logging()
    try:
        with caplog.at_level(logging.INFO, logger="keras"):
            m.fit(np.ones((64, 3)), np.ones((64, 1)), epochs=2, verbose=1)
    finally:
        keras.config.enable_interactive_logging()
    assert capsys.readouterr().out == ""
    assert "Epoch 2/2" in caplog.text and "2/2 ━━━━━━━━━━━━━━━━━━━━" in caplog.text


@pytest.mark.parametrize("loss, y, units, want", [
    # Recorded from Keras 3.15: "accuracy" is resolved from the shapes alone.
    ("binary_crossentropy", (np.arange(30).reshape(10, 3) % 2).astype("float32"), 3,
     "CategoricalAccuracy"),
    ("sparse_categorical_crossentropy", np.arange(10).reshape(10, 1) % 3, 3,
     "SparseCategoricalAccuracy"),
    ("sparse_categorical_crossentropy", np.arange(10) % 3, 3, "SparseCategoricalAccuracy"),
    ("mse", np.linspace(0, 1, 10).astype("float32"), 1, "BinaryAccuracy"),
    ("categorical_crossentropy", np.eye(3, dtype="float32")[np.arange(10) % 3], 3,
     "CategoricalAccuracy"),
])
def test_accuracy_resolves_from_shapes_like_keras(loss, y, units, want):
    m = keras.Sequential([keras.Input((4,)), L.Dense(units, activation="sigmoid")])
    m.compile("sgd", loss, metrics=["accuracy"])
    h = m.fit(np.ones((10, 4), "float32"), y, verbose=0)
    compiled = [mm for mm in m.metrics if hasattr(mm, "metrics")][0]
    assert [type(q).__name__ for q in compiled.metrics] == [want]
    assert sorted(h.history) == ["accuracy", "loss"]


def _weighted_case_model():
    m = keras.Sequential([
        keras.Input((4,)), L.Dense(3, kernel_initializer="ones", bias_initializer="zeros"),
        L.Dense(2, activation="softmax", kernel_initializer=keras.initializers.Constant(0.1))])
    m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
              metrics=["accuracy"], weighted_metrics=["accuracy"])
    return m


def test_history_with_sample_and_class_weights_matches_keras():
    rng = np.random.RandomState(0)
    x = rng.rand(30, 4).astype("float32")
    y = (rng.rand(30) > .5).astype("int32")
    sw = rng.rand(30).astype("float32")
    fit = dict(batch_size=8, epochs=2, verbose=0, shuffle=False)
    # Recorded from Keras 3.15.1 (same data, initializers and SGD(0.1)).
    want = {
        "split": {"accuracy": [0.5, 0.58333], "loss": [0.70424, 0.69115],
                  "val_accuracy": [0.83333, 0.83333], "val_loss": [0.56132, 0.55778],
                  "val_weighted_accuracy": [0.83333, 0.83333],
                  "weighted_accuracy": [0.5, 0.58333]},
        "sw": {"accuracy": [0.56667, 0.63333], "loss": [0.30794, 0.28923],
               "weighted_accuracy": [0.61317, 0.69321]},
        "cw": {"accuracy": [0.56667, 0.63333], "loss": [1.19332, 1.02947],
               "weighted_accuracy": [0.66176, 0.83824]},
        "val_sw": {"accuracy": [0.56667, 0.63333], "loss": [0.67565, 0.67846],
                   "val_accuracy": [0.6, 0.6], "val_loss": [0.29472, 0.29496],
                   "val_weighted_accuracy": [0.66032, 0.66032],
                   "weighted_accuracy": [0.56667, 0.63333]},
    }
    got = {
        "split": _weighted_case_model().fit(x, y, validation_split=0.2, **fit),
        "sw": _weighted_case_model().fit(x, y, sample_weight=sw, **fit),
        "cw": _weighted_case_model().fit(x, y, class_weight={0: 1.0, 1: 3.0}, **fit),
        "val_sw": _weighted_case_model().fit(x, y, validation_data=(x[:10], y[:10], sw[:10]),
                                             **fit),
    }
    for key, hist in want.items():
        assert sorted(got[key].history) == sorted(hist), key
        for k, v in hist.items():
            np.testing.assert_allclose(got[key].history[k], v, atol=3e-5, err_msg=f"{key} {k}")
    m = _weighted_case_model()
    np.testing.assert_allclose(m.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)[
        "weighted_accuracy"], 0.30679, atol=3e-5)
    with pytest.raises(ValueError, match="class_weight` and `sample_weight"):
        m.fit(x, y, sample_weight=sw, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_weighted_metric_is_renamed_only_on_a_name_clash():
    # Recorded from Keras 3.15.
    x, y = np.ones((10, 4), "float32"), np.ones((10, 1), "float32")
    for metrics, weighted, keys in [
            (None, ["mae"], ["loss", "mae"]),
            (["mae"], ["mae"], ["loss", "mae", "weighted_mae"]),
            (["mae"], ["mse", keras.metrics.MeanAbsoluteError()],
             ["loss", "mae", "mean_absolute_error", "mse"])]:
        m = keras.Sequential([keras.Input((4,)), L.Dense(1)])
        m.compile("sgd", "mse", metrics=metrics, weighted_metrics=weighted)
        assert sorted(m.fit(x, y, verbose=0, sample_weight=np.ones(10)).history) == keys


# ------------------------------------------------------------------------- progress bar
_STEP = r"\d+(s|ms|us)/step"


def test_verbose_1_prints_one_line_per_epoch_in_a_log(capsys):
    m = _mlp()
    m.fit(np.ones((64, 3)), np.ones((64, 1)), batch_size=8, epochs=2, verbose=1,
          validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    # Not a terminal: no "\r" rewrites, no colours, only the final line of each epoch.
    assert len(lines) == 4 and lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(r"6/6 ━{20} \d+s " + _STEP + r" - loss: \S+ - mae: \S+ - "
                        r"val_loss: \S+ - val_mae: \S+", lines[1]), lines[1]
    m.evaluate(np.ones((64, 3)), np.ones((64, 1)), verbose=1)
    assert re.fullmatch(r"2/2 ━{20} \d+s " + _STEP + r" - loss: \S+ - mae: \S+\n",
                        capsys.readouterr().out)


def test_verbose_2_line_format(capsys):
    m = _mlp()
    m.fit(np.ones((20, 3)), np.ones((20, 1)), batch_size=8, epochs=1, verbose=2)
    # Keras 3.15: "3/3 - 0s - 5ms/step - loss: ... - mae: ..."
    assert re.fullmatch(r"3/3 - \d+s - " + _STEP + r" - loss: \S+ - mae: \S+\n",
                        capsys.readouterr().out)


def test_verbose_1_in_a_terminal_rewrites_the_line_in_keras_colours(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    monkeypatch.setattr(sys, "stdout", out)
    m = _mlp()
    m.fit(np.ones((16, 3)), np.ones((16, 1)), batch_size=8, epochs=1, verbose=1)
    text = out.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    final = text.rstrip("\n").split("\r")[-1].rstrip()
    assert re.fullmatch(r"\x1b\[1m2/2\x1b\[0m \x1b\[32m━{20}\x1b\[0m\x1b\[37m\x1b\[0m "
                        r"\x1b\[1m\d+s\x1b\[0m " + _STEP + r" - loss: \S+ - mae: \S+", final)


def test_progress_value_formats_match_keras():
    from tapeflow.keras.callbacks import _fmt_eta, _fmt_step, _fmt_value

    # Keras 3.15's Progbar: 4 decimals above 1e-3, else scientific (0 included).
    assert [_fmt_value(v) for v in (0.5, 0.0, 12345.678, 0.001)] == [
        "0.5000", "0.0000e+00", "12345.6780", "1.0000e-03"]
    assert [_fmt_eta(e) for e in (59.9, 61, 3700)] == ["59s", "1:01", "1:01:40"]
    assert [_fmt_step(t) for t in (0, 2.2, 0.02, 2e-5)] == [
        " 0s/step", " 2s/step", " 20ms/step", " 20us/step"]


def test_sequential_add_input_then_layers_builds_the_graph():
    s = keras.Sequential()
    s.add(keras.Input((3,)))
    s.add(L.Dense(2))
    assert s.built and s.output_shape == (None, 2)   # Keras 3.15: (None, 2)
    assert s.predict(np.ones((4, 3), "float32"), verbose=0).shape == (4, 2)


def test_use_ema_fit_and_swap_ema_weights_match_keras():
    rng = np.random.RandomState(0)
    x, y = rng.rand(16, 3).astype("float32"), rng.rand(16, 1).astype("float32")

    def fit(callbacks):
        m = keras.Sequential([keras.Input((3,)), L.Dense(1, kernel_initializer="ones")])
        m.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9), "mse")
        h = m.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False,
                  validation_data=(x, y), callbacks=callbacks)
        return m, h.history["val_loss"]

    # Recorded from Keras 3.15.1; fit ends with the EMA weights in the model.
    kernel = [0.75339, 0.70808, 0.67073]
    m, val = fit([])
    np.testing.assert_allclose(val, [0.18565, 0.14047], atol=2e-5)
    np.testing.assert_allclose(m.get_weights()[0].ravel(), kernel, atol=2e-5)
    for cb in (keras.callbacks.SwapEMAWeights(), keras.callbacks.SwapEMAWeights(True)):
        m, val = fit([cb])
        np.testing.assert_allclose(val, [0.5311, 0.32695], atol=2e-5)
        np.testing.assert_allclose(m.get_weights()[0].ravel(), kernel, atol=2e-5)
    plain = keras.Sequential([keras.Input((3,)), L.Dense(1)])
    plain.compile("sgd", "mse")
    with pytest.raises(ValueError, match="SwapEMAWeights must be used when `use_ema=True`"):
        plain.fit(x, y, verbose=0, validation_data=(x, y),
                  callbacks=[keras.callbacks.SwapEMAWeights()])


def test_terminate_on_nan_raise_error():
    m = _mlp()
    with np.errstate(all="ignore"), pytest.raises(RuntimeError,
                                                   match="NaN or Inf loss encountered at batch 0"):
        m.fit(np.full((4, 3), np.inf, "float32"), np.ones((4, 1)), verbose=0,
              callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])


def test_layer_input_dtype_and_metrics_variables():
    assert L.Dense(2, dtype="mixed_float16").input_dtype == "float16"   # as Keras 3.15
    assert L.Dense(2).input_dtype == "float32"
    m = _mlp()
    m.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    names = [v.name.split(":")[0] for v in m.metrics_variables]
    assert names.count("total") == 1 and names.count("count") == 1   # the MAE metric's state


@pytest.mark.parametrize("metrics, keys", [
    # History keys recorded from Keras 3.15: repeated metric names get _1, _2.
    (lambda: [keras.metrics.AUC(), keras.metrics.AUC()], ["auc", "auc_1", "loss"]),
    (lambda: [keras.metrics.MeanSquaredError(), "mse"], ["loss", "mean_squared_error", "mse"]),
    (lambda: ["mae", "mean_absolute_error", keras.metrics.mean_absolute_error],
     ["loss", "mae", "mean_absolute_error", "mean_absolute_error_1"]),
    (lambda: [keras.metrics.BinaryAccuracy(), "binary_accuracy", "acc"],
     ["acc", "binary_accuracy", "binary_accuracy_1", "loss"]),
])
def test_repeated_metric_names_are_made_unique(metrics, keys):
    x = np.linspace(0, 1, 40).reshape(10, 4).astype("float32")
    y = (np.arange(10) % 2).reshape(10, 1).astype("float32")
    m = keras.Sequential([keras.Input((4,)), L.Dense(1, activation="sigmoid")])
    m.compile("sgd", "binary_crossentropy", metrics=metrics())
    assert sorted(m.fit(x, y, verbose=0).history) == keys


def _two_linear_outputs():
    i = keras.Input((4,))
    return keras.Model(i, [L.Dense(1, name="o1", kernel_initializer="ones")(i),
                           L.Dense(2, name="o2", kernel_initializer="ones")(i)])


@pytest.mark.parametrize("loss, weights, want", [
    # First-epoch history recorded from Keras 3.15.1 (SGD(0.0): the weights do not move).
    ("mse", None, {"loss": 7.77712, "o1_loss": 2.38856, "o2_loss": 5.38856}),
    (["mse", "mae"], [1.0, 0.5], {"loss": 3.38856, "o1_loss": 2.38856, "o2_loss": 2.0}),
    ({"o1": "mse", "o2": "mae"}, {"o1": 2.0, "o2": 0.0},
     {"loss": 4.77712, "o1_loss": 2.38856, "o2_loss": 2.0}),
    ([None, "mse"], None, {"loss": 5.38856}),   # one active loss: no per-output tracker
])
def test_per_output_losses_match_keras(loss, weights, want):
    x = np.linspace(0, 1, 40).reshape(10, 4).astype("float32")
    y = [np.ones((10, 1), "float32"), np.zeros((10, 2), "float32")]
    m = _two_linear_outputs()
    m.compile(keras.optimizers.SGD(0.0), loss, loss_weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # [None, "mse"]: o1 gets no gradient
        h = m.fit(x, y, verbose=0, shuffle=False)
    assert sorted(h.history) == sorted(want)
    for k, v in want.items():
        np.testing.assert_allclose(h.history[k][0], v, rtol=1e-5)


def test_partial_loss_dict_for_list_outputs_raises_like_keras():
    m = _two_linear_outputs()
    m.compile("sgd", {"o1": "mse"})
    with pytest.raises(ValueError, match=re.escape(
            "Expected keys ['o1', 'o2'] in loss dict, but found loss.keys()=['o1']")):
        m.fit(np.ones((4, 4)), [np.ones((4, 1)), np.ones((4, 2))], verbose=0)


def test_summary_layer_range(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    s = keras.Sequential([keras.Input((5,)), L.Dense(4, name="d1"), L.Dropout(0.1, name="drop"),
                          L.Dense(1, name="d2")], name="s")
    got = []
    s.summary(layer_range=["drop", "d2"], print_fn=got.append)
    rows = [line for line in got[0].splitlines() if line.startswith("│")]
    # Keras 3.15: only the rows from "drop" to "d2"; the totals stay the whole model's.
    assert [r.split()[1] for r in rows] == ["drop", "d2"]
    assert " Total params: 29 (116.00 B)" in got[0]
    with pytest.raises(ValueError, match="Passed layer_names do not match"):
        s.summary(layer_range=["zz", "d2"])


def test_summary_expand_nested(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    inner = keras.Sequential([keras.Input((5,)), L.Dense(4, name="d1"), L.Dense(2, name="d2")],
                             name="inner")
    outer = keras.Sequential([keras.Input((5,)), inner, L.Dense(1, name="d3")], name="outer")
    got = []
    outer.summary(expand_nested=True, print_fn=got.append)
    want = (   # recorded from Keras 3.15.1
        'Model: "outer"\n'
        '┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓\n'
        '┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃\n'
        '┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩\n'
        '│ inner (Sequential)              │ (None, 2)              │            34 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│    └ d1 (Dense)                 │ (None, 4)              │            24 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│    └ d2 (Dense)                 │ (None, 2)              │            10 │\n'
        '├─────────────────────────────────┼────────────────────────┼───────────────┤\n'
        '│ d3 (Dense)                      │ (None, 1)              │             3 │\n'
        '└─────────────────────────────────┴────────────────────────┴───────────────┘\n'
        ' Total params: 37 (148.00 B)\n'
        ' Trainable params: 37 (148.00 B)\n'
        ' Non-trainable params: 0 (0.00 B)\n'
    )
    assert got[0] == want


def test_evaluate_list_order_matches_keras():
    x = np.linspace(0, 1, 40).reshape(10, 4).astype("float32")
    y = np.ones((10, 1), "float32")
    m = keras.Sequential([keras.Input((4,)), L.Dense(1, kernel_initializer="ones")])
    m.compile("sgd", "mse", metrics=["mse", "mae", keras.metrics.RootMeanSquaredError()])
    # Recorded from Keras 3.15.1: loss, then the metrics in compile order.
    np.testing.assert_allclose(m.evaluate(x, y, verbose=0), [2.38856, 2.38856, 1.26154, 1.5455],
                               atol=2e-5)
    i = keras.Input((4,))
    mm = keras.Model(i, [L.Dense(1, name="b", kernel_initializer="ones")(i),
                         L.Dense(1, name="a", kernel_initializer="zeros")(i)])
    mm.compile("sgd", ["mse", "mae"], metrics=[["mae"], ["mse"]])
    # Several outputs: loss, the per-output losses in output order, then the metric keys in
    # sorted order (a_mse, b_mae), as Keras 3.15 returns them.
    np.testing.assert_allclose(mm.evaluate(x, [y, y], verbose=0),
                               [3.38856, 2.38856, 1.0, 1.0, 1.26154], atol=2e-5)


def test_direct_build_of_a_layer_without_its_own_build_is_recorded():
    d = L.Dropout(0.1)
    d.build((None, 3))
    assert d.built and d.get_build_config() == {"input_shape": [None, 3]}   # Keras 3.15
