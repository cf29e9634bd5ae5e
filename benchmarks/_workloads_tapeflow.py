"""W1-W6 through the Keras API, the way a user runs them: ``compile`` + ``fit(verbose=0)``.

The same model code runs tapeflow (``from tapeflow import keras``) and, imported by
``_workloads_keras.py`` with ``BENCH_KERAS=keras``, Keras 3 on TensorFlow.
Run by ``bench.py``; prints one JSON line per workload.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _workloads_common import Timer, main, make_data  # noqa: E402

FRAMEWORK = os.environ.get("BENCH_KERAS", "tapeflow")
if FRAMEWORK == "keras":
    import keras  # noqa: E402
    from keras import layers  # noqa: E402
else:
    from tapeflow import keras  # noqa: E402
    from tapeflow.keras import layers  # noqa: E402


def build(wid):
    if wid in ("W1", "W5"):
        return keras.Sequential([keras.Input((784,)), layers.Dense(512, activation="relu"),
                                 layers.Dense(10, activation="softmax")])
    if wid == "W2":
        return keras.Sequential([keras.Input((784,)), layers.Dense(300, activation="relu"),
                                 layers.Dense(100, activation="relu"),
                                 layers.Dense(10, activation="softmax")])
    if wid == "W3":
        return keras.Sequential([keras.Input((28, 28, 1)),
                                 layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                                 layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                                 layers.Flatten(), layers.Dense(10, activation="softmax")])
    if wid == "W4":
        return keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"),
                                 layers.Dense(1)])
    return keras.Sequential([keras.Input((100,), dtype="int32"), layers.Embedding(10000, 32),
                             layers.LSTM(32), layers.Dense(1, activation="sigmoid")])


COMPILE = {
    "W1": lambda: dict(optimizer=keras.optimizers.RMSprop(),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "W2": lambda: dict(optimizer=keras.optimizers.SGD(0.01),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "W3": lambda: dict(optimizer=keras.optimizers.Adam(),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "W4": lambda: dict(optimizer=keras.optimizers.SGD(0.01), loss="mse"),
    "W6": lambda: dict(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy",
                       metrics=["accuracy"]),
}
BATCH = {"W1": 128, "W2": 32, "W3": 128, "W4": 32, "W5": 1024, "W6": 64}


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self, timer):
        super().__init__()
        self.timer = timer

    def on_epoch_begin(self, epoch, logs=None):
        self.timer.begin()

    def on_epoch_end(self, epoch, logs=None):
        self.timer.end()


def run_one(wid, epochs, seed):
    keras.utils.set_random_seed(seed)
    x, y = make_data(wid, seed)
    model = build(wid)
    timer = Timer()
    if wid == "W5":
        for _ in range(epochs + 1):
            timer.begin()
            model.predict(x, batch_size=BATCH[wid], verbose=0)
            timer.end()
        return timer.times[1:], _threads(model, "predict")
    model.compile(**COMPILE[wid]())
    hist = model.fit(x, y, batch_size=BATCH[wid], epochs=epochs + 1, verbose=0,
                     callbacks=[_EpochTimer(timer)])
    return timer.times[1:], {"final_loss": float(hist.history["loss"][-1]),
                             **_threads(model, "fit")}


def _threads(model, loop):
    """Which BLAS thread count tapeflow's loop chose for its large products (1 or all)."""
    chooser = model.__dict__.get("_blas_step_threads", {}).get(loop)
    if chooser is None:
        return {}
    if not chooser.active:
        return {"blas_threads": "1 (no large products)"}
    return {"blas_threads": "1" if chooser.choice == 1 else "all"}


if __name__ == "__main__":
    main(run_one, FRAMEWORK)
