"""A multilayer perceptron learns XOR, which no perceptron can.

Run it:  python examples/xor_mlp.py [--epochs 200] [--seed 0] [--plot-dir pictures/]

XOR is 1 when exactly one of the two inputs is 1. No straight line separates those two points from
the other two, so a single layer of threshold units cannot learn it (examples/perceptron_iris.py).
One hidden layer of ReLU units can: the hidden layer maps the four points to a space where the
output unit (a sigmoid) can separate them with one line.

The script
1. traces the first backpropagation step (forward pass, loss, backward pass, gradient step),
2. trains the MLP with ``fit`` (binary cross-entropy, Adam, all 4 examples per mini-batch),
3. prints the predictions and what the hidden layer computes for each input,
4. with --plot-dir, writes the decision boundary, the training curves and the network diagram.
"""

import argparse
import os

import numpy as np

from tapeflow import keras
from tapeflow.backprop import trace
from tapeflow.teach import xor


def build_mlp(hidden_units=16, seed=0):
    """2 inputs -> ``hidden_units`` ReLU units -> 1 sigmoid unit (the probability of class 1)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(2,)),                                  # input layer
        keras.layers.Dense(hidden_units, activation="relu"),      # hidden layer
        keras.layers.Dense(1, activation="sigmoid"),              # output layer
    ], name="xor_mlp")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot-dir", default=None, help="write the pictures (PNG) here")
    parser.add_argument("--quiet", action="store_true", help="do not print the trace table")
    args = parser.parse_args(argv)

    x, y = xor()
    y_col = y.reshape(-1, 1).astype(np.float32)
    model = build_mlp(args.hidden, args.seed)

    first = trace(model, x, y_col)          # uses the compiled loss and optimizer; applies it
    if not args.quiet:
        print(first)
        print()

    history = model.fit(x, y_col, epochs=args.epochs, batch_size=4, verbose=0)
    prob = model.predict(x, verbose=0).ravel()
    pred = (prob > 0.5).astype(int)
    accuracy = float(np.mean(pred == y))
    hidden = model.layers[0](x).numpy()
    print("x1 x2 | target | P(y=1) | predicted | active hidden units")
    for xi, yi, pi, ci, hi in zip(x, y, prob, pred, hidden):
        print(f" {int(xi[0])}  {int(xi[1])} |   {yi}    | {pi:.3f}  |     {ci}     | "
              f"{int((hi > 0).sum())} of {len(hi)}")
    print(f"accuracy {accuracy:.0%}, loss {history.history['loss'][0]:.4f} -> "
          f"{history.history['loss'][-1]:.4f} in {args.epochs} epochs")

    if args.plot_dir:
        from tapeflow import plot

        os.makedirs(args.plot_dir, exist_ok=True)
        paths = [os.path.join(args.plot_dir, n) for n in
                 ("xor_boundary.png", "xor_history.png", "xor_network.png")]
        plot.plot_decision_boundary(model, x, y, path=paths[0], title="MLP on XOR")
        plot.plot_history(history, path=paths[1], title="MLP on XOR")
        plot.plot_network(model, path=paths[2])
        print("wrote", ", ".join(paths))
    return {"accuracy": accuracy, "history": history.history, "first_step": first}


if __name__ == "__main__":
    main()
