"""Wide & deep regression with the functional API: two inputs, one output.

Run it:  python examples/wide_and_deep.py [--epochs 30]

The "wide" input (5 raw features) goes straight to the output; the "deep" input (6 features)
goes through two hidden layers first; ``Concatenate`` joins them before the final ``Dense(1)``.
The data is synthetic (a fixed seed): the target mixes a linear function of the wide features
and a non-linear function of the deep ones, plus noise.
``TAPEFLOW_EXAMPLE_EPOCHS`` overrides the number of epochs.
"""

import argparse
import os

import numpy as np

from tapeflow import keras


def make_data(n=2000, seed=0):
    """Returns ``(x_wide, x_deep, y)``."""
    rng = np.random.default_rng(seed)
    x_wide = rng.standard_normal((n, 5)).astype("float32")
    x_deep = rng.standard_normal((n, 6)).astype("float32")
    y = (x_wide @ np.array([1.0, -2.0, 0.5, 0.0, 1.5], "float32")
         + np.sin(x_deep[:, 0] * 2) + x_deep[:, 1] * x_deep[:, 2]
         + 0.1 * rng.standard_normal(n).astype("float32"))
    return x_wide, x_deep, y.reshape(-1, 1).astype("float32")


def build_model():
    """Two ``keras.Input``s, a deep path, a concatenation, one regression output."""
    wide = keras.Input((5,), name="wide")
    deep = keras.Input((6,), name="deep")
    h = keras.layers.Dense(32, activation="relu")(deep)
    h = keras.layers.Dense(32, activation="relu")(h)
    joined = keras.layers.Concatenate()([wide, h])
    out = keras.layers.Dense(1, name="price")(joined)
    return keras.Model(inputs=[wide, deep], outputs=out, name="wide_and_deep")


def main(epochs=30, verbose=1, seed=0):
    """Trains on 80% of the data; returns ``(baseline_mse, test_mse)``."""
    epochs = int(os.environ.get("TAPEFLOW_EXAMPLE_EPOCHS", epochs))
    keras.utils.set_random_seed(seed)
    x_wide, x_deep, y = make_data(seed=seed)
    split = int(0.8 * len(y))
    train = ([x_wide[:split], x_deep[:split]], y[:split])
    test = ([x_wide[split:], x_deep[split:]], y[split:])
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse",
                  metrics=["mae"])
    if verbose:
        model.summary()
    model.fit(*train, batch_size=32, epochs=epochs, validation_split=0.1, verbose=verbose,
              callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)])
    test_mse, test_mae = model.evaluate(*test, verbose=0)
    baseline = float(np.mean((test[1] - train[1].mean()) ** 2))
    print(f"test mse: {test_mse:.4f} (predicting the mean: {baseline:.4f}), "
          f"test mae: {test_mae:.4f}")
    return baseline, test_mse


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args()
    main(epochs=args.epochs, verbose=args.verbose)
