"""An LSTM learns a task that needs word order; a bag-of-words model cannot.

Run it:  python examples/text_lstm.py [--epochs 12] [--seed 0]

Each "sentence" is a padded sequence of token ids (0 is padding). Two marker tokens, A (id 1)
and B (id 2), appear exactly once each at random positions among random filler tokens. The label
is 1 when A comes before B. Every sentence holds the same multiset of markers, so a model that
only sees which tokens occur (Embedding -> GlobalAveragePooling1D -> Dense) stays at chance,
while Embedding -> LSTM -> Dense reads the order and solves it.

``Embedding(mask_zero=True)`` marks the padding, and both the LSTM (masked steps keep their
state) and the pooling (mean over real tokens only) honour that mask.
"""

import argparse
import time

import numpy as np

from tapeflow import keras

VOCAB = 30
MAX_LEN = 16


def make_data(n, seed=0):
    """Token ids (n, MAX_LEN) right-padded with 0, and labels (n,) 1.0 when A precedes B."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, MAX_LEN), dtype=np.int32)
    y = np.zeros((n,), dtype=np.float32)
    for i in range(n):
        length = rng.integers(6, MAX_LEN + 1)
        seq = rng.integers(3, VOCAB, size=length)
        a, b = rng.choice(length, size=2, replace=False)
        seq[a], seq[b] = 1, 2
        x[i, :length] = seq
        y[i] = float(a < b)
    return x, y


def build(kind, seed=0):
    """``kind`` "lstm" (order-aware) or "bow" (bag of words)."""
    keras.utils.set_random_seed(seed)
    body = [keras.layers.LSTM(32)] if kind == "lstm" else \
        [keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(32, activation="relu")]
    model = keras.Sequential([keras.Input((MAX_LEN,), dtype="int32"),
                              keras.layers.Embedding(VOCAB, 16, mask_zero=True), *body,
                              keras.layers.Dense(1, activation="sigmoid")], name=kind)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x_train, y_train = make_data(args.train, args.seed)
    x_test, y_test = make_data(1000, args.seed + 1)
    results = {}
    for kind in ("bow", "lstm"):
        model = build(kind, args.seed)
        t0 = time.perf_counter()
        model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - t0
        _, acc = model.evaluate(x_test, y_test, verbose=0)
        results[kind] = acc
        print(f"{kind:>4}: test accuracy {acc:.3f} ({seconds:.1f} s)")
    return results


if __name__ == "__main__":
    main()
