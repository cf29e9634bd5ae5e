"""The Trainer: compile resolution, fit/evaluate/predict on every input kind, logs, weights."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def _mlp(out_units=3, activation="softmax", n_in=4):
    return keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(out_units, activation=activation)])


def _data(n=32, n_in=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_in)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5)
    return x, np.minimum(y, classes - 1)


@pytest.mark.parametrize("loss,y_kind,out_units,activation,expected", [
    ("sparse_categorical_crossentropy", "sparse", 3, "softmax", "SparseCategoricalAccuracy"),
    ("categorical_crossentropy", "onehot", 3, "softmax", "CategoricalAccuracy"),
    ("binary_crossentropy", "binary", 1, "sigmoid", "BinaryAccuracy"),
])
def test_accuracy_is_resolved_from_loss_and_shapes(loss, y_kind, out_units, activation,
                                                   expected):
    x, y = _data()
    if y_kind == "onehot":
        y = keras.utils.to_categorical(y, 3)
    elif y_kind == "binary":
        y = (y > 0).astype("float32").reshape(-1, 1)
    model = _mlp(out_units, activation)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    h = model.fit(x, y, epochs=2, verbose=0)
    assert sorted(h.history) == ["accuracy", "loss"]
    metric = model._compile_metrics.metrics[0]
    assert type(metric).__name__ == expected and metric.name == "accuracy"
    assert model.metrics_names == ["loss", "compile_metrics"]


def test_fit_lowers_the_loss_and_history_has_keras_keys():
    x, y = _data(200)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    h = model.fit(x, y, epochs=5, batch_size=16, validation_split=0.2, verbose=0)
    assert sorted(h.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.epoch == [0, 1, 2, 3, 4] and model.history is h


def test_validation_split_uses_the_last_samples_before_shuffling():
    x = np.arange(10, dtype="float32").reshape(10, 1)
    seen = []

    class Spy(keras.layers.Layer):
        def call(self, inputs, training=None):
            if not training:
                seen.extend(np.asarray(inputs).ravel().tolist())
            return inputs

    model = keras.Sequential([keras.Input((1,)), Spy(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    seen.clear()   # drop the zero batch used to infer shapes when the model was built
    model.fit(x, x, validation_split=0.3, epochs=1, verbose=0, shuffle=True)
    assert sorted(seen) == [7.0, 8.0, 9.0]


def test_evaluate_return_forms_and_predict():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, verbose=0)
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert d == {"loss": pytest.approx(loss), "accuracy": pytest.approx(acc)}
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(p, model(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, batch_size=5, verbose=0), p, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), p, rtol=1e-6)
    only_loss = _mlp()
    only_loss.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(only_loss.evaluate(x, y, verbose=0), float)
    assert isinstance(only_loss.test_on_batch(x, y), float)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]


def test_predict_does_not_record_on_an_open_tape():
    x, _ = _data()
    model = _mlp()
    with tf.GradientTape() as tape:
        model.predict(x, verbose=0)
    assert tape._records == []


def test_generators_datasets_and_steps_per_epoch():
    x, y = _data(40)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    def gen():
        while True:
            for i in range(0, 40, 10):
                yield x[i:i + 10], y[i:i + 10]
    steps = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))
    model.fit(gen(), steps_per_epoch=3, epochs=2, verbose=0, callbacks=[cb])
    assert steps == [0, 1, 2, 0, 1, 2]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    h = model.fit(ds, epochs=2, verbose=0, validation_data=ds)
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert model.predict(ds, verbose=0).shape == (40, 3)
    finite = ((x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10))
    assert len(model.evaluate(finite, verbose=0)) == 2


def test_pydataset_input():
    x, y = _data(24)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]

    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    h = model.fit(Batches(), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2


def test_multi_output_losses_weights_and_metrics_by_name():
    a = keras.Input((4,), name="features")
    h = keras.layers.Dense(8, activation="relu")(a)
    reg = keras.layers.Dense(1, name="reg")(h)
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(h)
    model = keras.Model(a, [reg, cls])
    x, y = _data()
    yr = x[:, :1] * 2
    model.compile(optimizer="adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 2.0},
                  metrics={"cls": ["accuracy"], "reg": ["mae"]})
    hist = model.fit(x, {"reg": yr, "cls": y}, epochs=2, verbose=0)
    assert sorted(hist.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    # the total loss is the weighted sum of the per-output losses (same batch)
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"],
                  loss_weights=[0.5, 2.0])
    logs = model.test_on_batch(x, [yr, y], return_dict=True)
    assert logs["loss"] == pytest.approx(0.5 * logs["reg_loss"] + 2.0 * logs["cls_loss"],
                                         rel=1e-5)


def test_sample_weight_and_class_weight():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    w = np.zeros(len(y), "float32")
    assert model.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(0.0)
    base = model.evaluate(x, y, verbose=0)
    double = model.evaluate(x, y, sample_weight=np.full(len(y), 2.0), verbose=0)
    assert double == pytest.approx(2 * base, rel=1e-5)
    before = model.get_weights()
    model.fit(x, y, class_weight={0: 0.0, 1: 0.0, 2: 0.0}, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_allclose(a, b)


def test_custom_train_step_is_honoured():
    calls = []

    class Custom(keras.Model):
        def train_step(self, data):
            calls.append(1)
            return super().train_step(data)

    a = keras.Input((4,))
    model = Custom(a, keras.layers.Dense(1)(a))
    model.compile(optimizer="sgd", loss="mse")
    x, _ = _data(16)
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0)
    assert len(calls) == 8


def test_initial_epoch_and_validation_freq():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    h = model.fit(x, y, epochs=4, initial_epoch=1, validation_data=(x, y), validation_freq=2,
                  verbose=0)
    assert h.epoch == [1, 2, 3]
    assert len(h.history["loss"]) == 3 and len(h.history["val_loss"]) == 2


def test_regularization_losses_join_the_total_loss():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(
        1, kernel_initializer="ones", kernel_regularizer=keras.regularizers.L2(1.0),
        use_bias=False)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((4, 2), "float32")
    assert model.evaluate(x, np.zeros((4, 1)), verbose=0) == pytest.approx(2.0)


def test_fit_shuffles_but_is_reproducible_with_a_seed():
    x, y = _data(64)
    results = []
    for _ in range(2):
        keras.backend.clear_session()
        keras.utils.set_random_seed(3)
        model = _mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        results.append(model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"])
    assert results[0] == results[1]


def test_progress_bar_output_modes(capsys):
    x, y = _data(40)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    # stdout is not a terminal here: one final line per epoch, no carriage-return flood
    assert out.count("\r") == 0
    assert out.count("Epoch ") == 2 and out.count("5/5") == 2
    assert "loss:" in out and "accuracy:" in out
    model.fit(x, y, epochs=2, batch_size=8, verbose=2)
    out = capsys.readouterr().out
    assert out.count("5/5 - ") == 2
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, verbose=1)
    assert "2/2" in capsys.readouterr().out   # evaluate batches by 32 by default


def test_tf_keras_2_custom_train_step_spelling():
    class Custom(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            for m in self.metrics:
                if m.name == "loss":
                    m.update_state(loss)
            return {m.name: m.result() for m in self.metrics}

    a = keras.Input((4,))
    model = Custom(a, keras.layers.Dense(3, activation="softmax")(a))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = _data(64)
    h = model.fit(x, y, epochs=3, verbose=0)
    assert sorted(h.history) == ["accuracy", "loss"]
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_dataset_restarts_for_steps_per_epoch_and_generators_run_out():
    x, y = _data(8)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    # Keras 3.15: an epoch stops (with a warning) at the end of a pass over the dataset, and
    # the next epoch starts a new pass; all 3 epochs run.
    with pytest.warns(UserWarning, match="ran out of data; interrupting training"):
        h = model.fit(ds, epochs=3, steps_per_epoch=3, verbose=0)   # 2 batches per pass
    assert len(h.history["loss"]) == 3
    gen = ((x[i:i + 4], y[i:i + 4]) for i in (0, 4))
    with pytest.warns(UserWarning, match="ran out of data"):
        h = model.fit(gen, epochs=3, verbose=0)
    assert len(h.history["loss"]) == 1
