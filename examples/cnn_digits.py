"""A small convolutional network classifies the 8x8 handwritten digits (>= 0.97 test accuracy).

Run it:  python examples/cnn_digits.py [--epochs 30] [--seed 0]

The digits set (1,797 images of 8x8 pixels, 16 grey levels; 1,437 to train and 360 to test) is
bundled with tapeflow. The network is the classic convolution -> pooling -> convolution stack:

    8x8x1 -> Conv2D(32, 3, same, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, same, relu)
          -> Flatten -> Dropout(0.3) -> Dense(10, softmax)

A convolution shares its 3x3 filters over every position of the image, so it learns strokes once
and finds them anywhere; pooling halves the resolution and keeps the strongest response.
"""

import argparse
import time

import numpy as np

from tapeflow import keras


def load_digits():
    """(x_train, y_train), (x_test, y_test) with images scaled to [0, 1] and a channel axis."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = (x_train.astype(np.float32) / 16.0)[..., None]
    x_test = (x_test.astype(np.float32) / 16.0)[..., None]
    return (x_train, y_train.astype(np.int32)), (x_test, y_test.astype(np.int32))


def build_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ], name="cnn_digits")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load_digits()
    model = build_cnn(args.seed)
    t0 = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"trained {args.epochs} epochs in {seconds:.1f} s; test loss {loss:.4f}, "
          f"test accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
