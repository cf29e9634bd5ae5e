"""A subclassed ``keras.Model`` with a custom ``train_step`` ("customize what happens in fit").

Run it:  python examples/subclassed_model.py [--epochs 20]

``ResidualMLP`` defines its layers in ``__init__`` and its forward pass in ``call`` (a residual
block with dropout). ``train_step`` is overridden with the GradientTape pattern and its own loss
tracker, and ``fit`` honours it, with callbacks and validation as usual. The task is a
two-moons-like binary classification on synthetic data (fixed seed).
``TAPEFLOW_EXAMPLE_EPOCHS`` overrides the number of epochs.
"""

import argparse
import os

import numpy as np

import tapeflow as tf
from tapeflow import keras


class ResidualMLP(keras.Model):
    """Dense -> (Dense + skip) -> Dropout -> Dense(1, sigmoid)."""

    def __init__(self, units=32, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dropout_rate = dropout
        self.inp = keras.layers.Dense(units, activation="relu")
        self.block = keras.layers.Dense(units, activation="relu")
        self.dropout = keras.layers.Dropout(dropout)
        self.head = keras.layers.Dense(1, activation="sigmoid")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc = keras.metrics.BinaryAccuracy(name="accuracy")

    def call(self, x, training=False):
        h = self.inp(x)
        h = h + self.block(h)
        return self.head(self.dropout(h, training=training))

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.acc.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.compute_loss(y=y, y_pred=y_pred))
        self.acc.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {"units": self.units, "dropout": self.dropout_rate, "name": self.name}


def make_moons(n=1000, seed=0):
    """Two interleaved half circles with noise: ``(x, y)``."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label[:, None] == 0, np.c_[np.cos(t), np.sin(t)],
                 np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    x = x + 0.1 * rng.standard_normal((n, 2))
    return x.astype("float32"), label.reshape(-1, 1).astype("float32")


def main(epochs=20, verbose=1, seed=0):
    """Trains and evaluates; returns the test accuracy."""
    epochs = int(os.environ.get("TAPEFLOW_EXAMPLE_EPOCHS", epochs))
    keras.utils.set_random_seed(seed)
    x, y = make_moons(seed=seed)
    model = ResidualMLP()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="binary_crossentropy")
    model.fit(x[:800], y[:800], batch_size=32, epochs=epochs, verbose=verbose,
              validation_data=(x[800:900], y[800:900]))
    results = model.evaluate(x[900:], y[900:], verbose=0, return_dict=True)
    print(f"test loss: {results['loss']:.4f} - test accuracy: {results['accuracy']:.4f}")
    return results["accuracy"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args()
    main(epochs=args.epochs, verbose=args.verbose)
