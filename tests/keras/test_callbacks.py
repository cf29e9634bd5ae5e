"""Callbacks: hook order, History, EarlyStopping, ModelCheckpoint, schedulers, CSV, NaN."""

import csv

import numpy as np
import pytest

from tapeflow import keras

cb = keras.callbacks


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def _model(lr=0.01):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def _data(n=16):
    x = np.random.default_rng(0).standard_normal((n, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_every_hook_is_called_in_order():
    events = []

    class Recorder(cb.Callback):
        pass

    rec = Recorder()
    for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                 "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
                 "on_test_batch_begin", "on_test_batch_end", "on_predict_begin",
                 "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"):
        setattr(Recorder, hook, (lambda h: lambda self, *a, **k: events.append(h))(hook))
    x, y = _data(8)
    model = _model()
    model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), verbose=0, callbacks=[rec])
    assert events == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin",
                      "on_train_batch_end", "on_train_batch_begin", "on_train_batch_end",
                      "on_test_begin", "on_test_batch_begin", "on_test_batch_end",
                      "on_test_batch_begin", "on_test_batch_end", "on_test_end",
                      "on_epoch_end", "on_train_end"]
    events.clear()
    model.predict(x, verbose=0, callbacks=[rec])
    assert events == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                      "on_predict_end"]
    assert rec.model is model and rec.params["epochs"] == 1


def test_on_batch_end_alias_and_callback_type_check():
    seen = []

    class Old(cb.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    x, y = _data(8)
    _model().fit(x, y, batch_size=4, verbose=0, callbacks=[Old()])
    assert seen == [0, 1]
    with pytest.raises(TypeError, match="must be instances of `keras.callbacks.Callback`"):
        _model().fit(x, y, verbose=0, callbacks=[print])


def test_early_stopping_patience_and_restore_best_weights():
    x, y = _data()
    model = _model(lr=0.0)   # no progress: stops after `patience` epochs without improvement
    es = cb.EarlyStopping(monitor="loss", patience=2, min_delta=1e-3)
    h = model.fit(x, y, epochs=20, verbose=0, callbacks=[es])
    assert len(h.history["loss"]) == 3 and es.stopped_epoch == 2

    model = _model(lr=0.05)
    losses = iter([3.0, 1.0, 2.0, 2.5, 2.7, 0.5])
    weights = []

    class Fake(cb.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = next(losses)
            weights.append(self.model.get_weights())

    es = cb.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    h = model.fit(x, y, epochs=6, verbose=0, callbacks=[Fake(), es])
    assert es.best_epoch == 1 and es.stopped_epoch == 3
    for a, b in zip(model.get_weights(), weights[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_modes_baseline_and_start_epoch():
    assert cb.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert cb.EarlyStopping(monitor="val_loss").mode == "min"
    x, y = _data()
    es = cb.EarlyStopping(monitor="loss", baseline=-1.0, patience=1, min_delta=1e-3)
    h = _model(lr=0.0).fit(x, y, epochs=10, verbose=0, callbacks=[es])
    assert len(h.history["loss"]) == 2   # never beats the baseline
    es = cb.EarlyStopping(monitor="loss", patience=0, start_from_epoch=3, min_delta=1e-3)
    h = _model(lr=0.0).fit(x, y, epochs=10, verbose=0, callbacks=[es])
    assert len(h.history["loss"]) == 5


def test_model_checkpoint_weights_and_best_only(tmp_path):
    x, y = _data()
    model = _model()
    path = str(tmp_path / "w-{epoch:02d}.weights.h5")
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[cb.ModelCheckpoint(path, save_weights_only=True, monitor="loss")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-01.weights.h5", "w-02.weights.h5"]
    fresh = _model()
    fresh.load_weights(str(tmp_path / "w-02.weights.h5"))
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b)
    best = str(tmp_path / "best.keras")
    ck = cb.ModelCheckpoint(best, monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y), callbacks=[ck])
    assert (tmp_path / "best.keras").exists() and ck.best is not None
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        cb.ModelCheckpoint(str(tmp_path / "x.h5"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        cb.ModelCheckpoint(str(tmp_path / "x.h5"))


def test_learning_rate_scheduler_and_reduce_on_plateau():
    x, y = _data()
    model = _model(lr=0.1)
    sched = cb.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    h = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.05, 0.1 / 3], rtol=1e-6)
    model = _model(lr=0.0)
    model.optimizer.learning_rate = 0.0
    plateau = cb.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=0.0)
    model.optimizer.learning_rate = 0.4
    losses = iter([1.0, 1.0, 1.0, 1.0])

    class Flat(cb.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = next(losses)

    model.fit(x, y, epochs=4, verbose=0, callbacks=[Flat(), plateau])
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="factor >= 1.0"):
        cb.ReduceLROnPlateau(factor=1.5)


def test_csv_logger(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    _model().fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
                 callbacks=[cb.CSVLogger(str(path))])
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]


def test_terminate_on_nan_and_lambda_callback():
    x, y = _data()
    y[0] = np.nan
    model = _model()
    ends = []
    lam = cb.LambdaCallback(on_train_end=lambda logs: ends.append(True))
    h = model.fit(x, y, epochs=5, batch_size=4, verbose=0,
                  callbacks=[cb.TerminateOnNaN(), lam])
    assert len(h.history["loss"]) == 1 and ends == [True]
    with pytest.raises(ValueError, match="unknown hook"):
        cb.LambdaCallback(on_everything=print)


def test_history_is_returned_and_attached():
    x, y = _data()
    model = _model()
    hist = model.fit(x, y, epochs=2, verbose=0)
    assert isinstance(hist, cb.History) and model.history is hist
    assert hist.params["epochs"] == 2 and hist.params["steps"] == 1
