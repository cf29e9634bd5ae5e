"""An MLP classifies handwritten digits: 784 -> Dense(512, relu) -> Dense(10, softmax), RMSprop.

Run it:  python examples/mnist_mlp.py [--epochs 10] [--batch-size 32]

Data: MNIST when a local copy of ``mnist.npz`` exists (``$TAPEFLOW_MNIST``, or
``~/.keras/datasets/mnist.npz``); nothing is downloaded. Otherwise the bundled 8x8 digits
(``keras.datasets.digits``) are used, each image upsampled 3x (24x24) and zero-padded by 2 pixels
to 28x28, so the model is exactly the same 784-input network.
``TAPEFLOW_EXAMPLE_EPOCHS`` overrides the number of epochs (the tests use it to run quickly).
"""

import argparse
import os

import numpy as np

from tapeflow import keras


def _local_mnist():
    candidates = [os.environ.get("TAPEFLOW_MNIST"),
                  os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")),
                               "datasets", "mnist.npz")]
    for path in candidates:
        if path and os.path.exists(path):
            return path
    return None


def load_data():
    """Returns ``(x_train, y_train), (x_test, y_test), source`` with images as (n, 784) floats
    in [0, 1]."""
    path = _local_mnist()
    if path is not None:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path)
        scale, source = 255.0, "MNIST"
    else:
        (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
        # 8x8 -> 24x24 by repeating each pixel 3x3, then pad 2 on each side -> 28x28.
        def up(x):
            return np.pad(np.kron(x, np.ones((1, 3, 3), x.dtype)), ((0, 0), (2, 2), (2, 2)))
        x_train, x_test = up(x_train), up(x_test)
        scale, source = 16.0, "digits (8x8 upsampled to 28x28)"
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / scale
    x_test = x_test.reshape(len(x_test), 784).astype("float32") / scale
    return (x_train, y_train), (x_test, y_test), source


def build_model():
    """The classic Keras MNIST MLP."""
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_mlp")


def main(epochs=10, batch_size=32, verbose=1, seed=0):
    """Trains and evaluates; returns the test accuracy."""
    epochs = int(os.environ.get("TAPEFLOW_EXAMPLE_EPOCHS", epochs))
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test), source = load_data()
    model = build_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    if verbose:
        print(f"data: {source}, {len(x_train)} training / {len(x_test)} test images")
        model.summary()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=verbose,
              validation_split=0.1)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss: {loss:.4f} - test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args()
    main(epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
