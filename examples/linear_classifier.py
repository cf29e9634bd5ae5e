"""A linear classifier trained with GradientTape: the low-level TensorFlow API on its own.

Run it:  python examples/linear_classifier.py [--steps 40] [--learning-rate 0.1] [--seed 0]

Two Gaussian point clouds of 1,000 points each (class 0 around (-1, -1), class 1 around (1, 1))
are separated by a line. The model is a weight Variable ``w`` (2 x 1) and a bias Variable ``b``;
its score ``x @ w + b`` is fitted to the labels 0 / 1 by mean squared error with 40 full-batch
gradient-descent steps at learning rate 0.1. A point is classified as 1 when its score is above
0.5. The script prints the loss as it trains and the final accuracy (at least 0.95).
"""

import argparse

import numpy as np

import tapeflow as tf


def make_data(n_per_class=1000, seed=0):
    """Two Gaussian clouds of ``n_per_class`` points each, shuffled; labels are 0 and 1."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(loc=(-1.0, -1.0), scale=0.6, size=(n_per_class, 2))
    x1 = rng.normal(loc=(1.0, 1.0), scale=0.6, size=(n_per_class, 2))
    x = np.concatenate([x0, x1]).astype(np.float32)
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)]).astype(np.float32)
    order = rng.permutation(len(x))
    return x[order], y[order, None]


def train(steps=40, learning_rate=0.1, seed=0, verbose=True):
    """Fits ``w`` and ``b`` by gradient descent on the MSE; returns (w, b, accuracy, losses)."""
    x_np, y_np = make_data(seed=seed)
    x, y = tf.constant(x_np), tf.constant(y_np)
    w = tf.Variable(tf.random.stateless_uniform([2, 1], seed=[seed, 1], minval=-0.1, maxval=0.1),
                    name="w")
    b = tf.Variable(tf.zeros([1]), name="b")
    losses = []
    for step in range(steps):
        with tf.GradientTape() as tape:
            predictions = x @ w + b
            loss = tf.reduce_mean(tf.square(predictions - y))
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(learning_rate * dw)
        b.assign_sub(learning_rate * db)
        losses.append(float(loss))
        if verbose and (step % 10 == 0 or step == steps - 1):
            print(f"step {step:2d}  loss {float(loss):.4f}")
    predicted = tf.cast(x @ w + b > 0.5, tf.float32)
    accuracy = float(tf.reduce_mean(tf.cast(tf.equal(predicted, y), tf.float32)))
    return w, b, accuracy, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    w, b, accuracy, _ = train(args.steps, args.learning_rate, args.seed)
    print(f"w = {[round(float(v), 3) for v in w.numpy().ravel()]}, "
          f"b = {[round(float(v), 3) for v in b.numpy()]}")
    print(f"accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
