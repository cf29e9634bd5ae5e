"""The ``tapeflow`` command: ``tapeflow demo`` (or ``python -m tapeflow demo``).

The demo trains a small MLP on the bundled 8x8 handwritten digits with a progress bar and
prints the test accuracy (about 0.97, in a few seconds on a laptop CPU).
"""

import argparse
import sys
import time

__all__ = ["main", "demo"]


def demo(epochs=20, batch_size=32, verbose=1, seed=0):
    """Trains ``64 -> Dense(128, relu) -> Dense(10, softmax)`` with Adam on the digits data
    set; returns the test accuracy.

    >>> acc = demo(epochs=1, verbose=0)
    >>> 0.0 <= acc <= 1.0
    True
    """
    from tapeflow import keras

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.reshape(len(x_train), 64).astype("float32") / 16.0
    x_test = x_test.reshape(len(x_test), 64).astype("float32") / 16.0
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="digits_mlp")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if verbose:
        print(f"tapeflow demo: {len(x_train)} training and {len(x_test)} test images of "
              f"handwritten digits (8x8)")
        model.summary()
    start = time.time()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=verbose,
              validation_split=0.0)
    seconds = time.time() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if verbose:
        print(f"Test accuracy: {accuracy:.4f} (trained in {seconds:.1f} s)")
    return accuracy


def main(argv=None):
    """Entry point of the ``tapeflow`` console script (``demo`` and ``plot``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "plot":
        from tapeflow._plot_cli import main as plot_main  # noqa: PLC0415 - needs matplotlib

        return plot_main(argv[1:])
    parser = argparse.ArgumentParser(prog="tapeflow", description="tapeflow command line")
    sub = parser.add_subparsers(dest="command")
    p_demo = sub.add_parser("demo", help="train an MLP on the bundled handwritten digits")
    sub.add_parser("plot", help="draw a teaching picture to a PNG (see: tapeflow plot --help)")
    p_demo.add_argument("--epochs", type=int, default=20)
    p_demo.add_argument("--batch-size", type=int, default=32)
    p_demo.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 0 if args.command is None and argv is not None else 2 if args.command else 0
    accuracy = demo(epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    return 0 if accuracy >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
