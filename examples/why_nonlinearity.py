"""Why neural networks need nonlinear activations: without them, depth collapses.

Run it:  python examples/why_nonlinearity.py [--epochs 200]

1. A stack of Dense layers without activation computes
       ((x W1 + b1) W2 + b2) W3 + b3 = x (W1 W2 W3) + ((b1 W2 + b2) W3 + b3),
   which is ONE Dense layer whose kernel is the product of the kernels. The script builds that
   single layer from the stack's weights and checks that both give the same outputs (to float
   tolerance), before and after training.
2. So the stack can only draw a straight decision boundary. Trained on XOR and on two concentric
   circles, it stays near chance, while the same stack with ReLU activations learns both.
"""

import argparse

import numpy as np

from tapeflow import keras
from tapeflow.teach import circles, xor


def make_stack(activation, hidden=(16, 16), seed=0):
    """Dense(16) -> Dense(16) -> Dense(1, sigmoid) with ``activation`` on the hidden layers."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape=(2,))]
    layers += [keras.layers.Dense(n, activation=activation) for n in hidden]
    layers.append(keras.layers.Dense(1, activation="sigmoid"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def collapse(model):
    """The kernel and bias of the single Dense layer equal to the model's linear layers.

    Composes ``x -> x W + b`` layer after layer: ``W = W1 W2 ...``, ``b = (b1 W2 + b2) ...``.
    Only the layers before the output's sigmoid are composed (the sigmoid is applied after).
    """
    kernel, bias = None, None
    for layer in model.layers:
        w, b = layer.get_weights()
        kernel = w if kernel is None else kernel @ w
        bias = b if bias is None else bias @ w + b
    return kernel, bias


def single_layer_like(model):
    """A one-layer model (Dense(1, sigmoid)) with the collapsed kernel and bias of ``model``."""
    kernel, bias = collapse(model)
    one = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    one.set_weights([kernel, bias])
    return one


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    probe = np.random.default_rng(args.seed).normal(size=(64, 2)).astype(np.float32)
    linear = make_stack(activation=None, seed=args.seed)
    one = single_layer_like(linear)
    gap_before = float(np.max(np.abs(linear.predict(probe, verbose=0) -
                                     one.predict(probe, verbose=0))))
    kernel, _ = collapse(linear)
    print("1. Three Dense layers without activation (2 -> 16 -> 16 -> 1) collapse into one:")
    print(f"   kernel W1 W2 W3 has shape {kernel.shape}; largest output difference between the "
          f"stack and the single layer: {gap_before:.2e}")

    results = {"max_abs_diff_before": gap_before}
    problems = {"xor": xor(), "circles": circles(200, noise=0.05, seed=args.seed)}
    for number, (name, (x, y)) in enumerate(problems.items(), start=2):
        y_col = y.reshape(-1, 1).astype(np.float32)
        accs = {}
        for activation in (None, "relu"):
            model = make_stack(activation, seed=args.seed)
            model.fit(x, y_col, epochs=args.epochs, batch_size=len(x), verbose=0)
            pred = (model.predict(x, verbose=0).ravel() > 0.5).astype(int)
            accs[activation or "linear"] = float(np.mean(pred == y))
            if activation is None:
                trained_gap = float(np.max(np.abs(
                    model.predict(x, verbose=0) - single_layer_like(model).predict(x, verbose=0))))
                results[f"max_abs_diff_trained_{name}"] = trained_gap
        results[name] = accs
        print(f"{number}. Trained on {name}: accuracy without activation {accs['linear']:.0%} "
              f"(a straight line), "
              f"with ReLU {accs['relu']:.0%}; trained linear stack vs one layer: "
              f"{trained_gap:.2e}")
    return results


if __name__ == "__main__":
    main()
