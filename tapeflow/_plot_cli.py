"""``tapeflow plot <what> --out file.png``: the teaching pictures from the command line.

``what`` is one of:

- ``activations``: step, sigmoid, tanh and ReLU beside their GradientTape derivatives;
- ``boundary``: the decision boundary of a perceptron (``--model perceptron``, default on iris
  setosa vs the rest) or of an MLP (``--model mlp``, default on XOR) on 2-D data;
- ``history``: the training and validation curves (loss, accuracy) of an MLP trained on the
  circles data (the last quarter held out for validation);
- ``network``: the diagram of an MLP's layers and units (``--sizes 64,128,10``, with
  ``--activations relu,softmax``).

>>> import os, tempfile
>>> from tapeflow._plot_cli import main
>>> out = os.path.join(tempfile.mkdtemp(), "net.png")
>>> main(["network", "--sizes", "2,3,1", "--out", out, "--dpi", "20"])  # doctest: +ELLIPSIS
wrote ... (160 x 100 pixels)
0
"""

import argparse

from tapeflow._backend import np

_WHAT = ("activations", "boundary", "history", "network")
_DEFAULT_SIZE = {"activations": (11.0, 4.0), "boundary": (6.0, 5.0), "history": (10.0, 4.0),
                 "network": (8.0, 5.0)}


def _parser():
    p = argparse.ArgumentParser(
        prog="tapeflow plot", description="Write a teaching picture to a PNG file.")
    p.add_argument("what", choices=_WHAT, help="the picture to draw")
    p.add_argument("--out", required=True, help="the PNG file to write")
    p.add_argument("--width", type=float, default=None, help="width in inches")
    p.add_argument("--height", type=float, default=None, help="height in inches")
    p.add_argument("--dpi", type=float, default=100.0, help="pixels per inch (default 100)")
    p.add_argument("--functions", default="step,sigmoid,tanh,relu",
                   help="activations: comma-separated activation names")
    p.add_argument("--model", choices=("perceptron", "mlp"), default="perceptron",
                   help="boundary: the classifier to train")
    p.add_argument("--data", choices=("iris", "xor", "circles"), default=None,
                   help="boundary/history: the 2-D data set (default: iris for the perceptron, "
                        "xor for the MLP, circles for history)")
    p.add_argument("--epochs", type=int, default=None, help="boundary/history: MLP epochs")
    p.add_argument("--sizes", default="64,128,10",
                   help="network: comma-separated layer sizes, inputs first (default: the "
                        "digits MLP of `tapeflow demo`)")
    p.add_argument("--activations", default=None,
                   help="network: comma-separated activation of each layer after the input "
                        "(default: relu,softmax for the default sizes, else none shown)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    return p


def _data(name, seed):
    from tapeflow import teach  # noqa: PLC0415

    if name == "iris":
        from tapeflow.keras.datasets import iris  # noqa: PLC0415

        x, y, _ = iris.load_data()
        return x[:, 2:4], (y == 0).astype(np.int32), ("petal length (cm)", "petal width (cm)"), \
            ("other", "setosa")
    if name == "xor":
        x, y = teach.xor()
        return x, y, ("x1", "x2"), ("XOR = 0", "XOR = 1")
    x, y = teach.circles(200, noise=0.08, seed=seed)
    return x, y, ("x1", "x2"), ("outer", "inner")


def _train_mlp(x, y, epochs, seed, validation_split=0.0):
    from tapeflow import keras  # noqa: PLC0415

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y.astype(np.float32).reshape(-1, 1), epochs=epochs,
                        batch_size=min(len(x), 32), validation_split=validation_split,
                        verbose=0)
    return model, history


def main(argv=None):
    """Runs ``tapeflow plot`` with the arguments ``argv``; returns the exit status."""
    args = _parser().parse_args(argv)
    from tapeflow import plot  # noqa: PLC0415

    w, h = _DEFAULT_SIZE[args.what]
    figsize = (args.width or w, args.height or h)
    kw = {"path": args.out, "figsize": figsize, "dpi": args.dpi}
    if args.what == "activations":
        plot.plot_activations([f.strip() for f in args.functions.split(",") if f.strip()], **kw)
    elif args.what == "network":
        try:
            sizes = [int(s) for s in args.sizes.split(",")]
        except ValueError:
            raise SystemExit(f"tapeflow plot network: --sizes must be comma-separated ints, "
                             f"got {args.sizes!r}") from None
        acts = args.activations
        if acts is None and args.sizes == _parser().get_default("sizes"):
            acts = "relu,softmax"                  # the digits MLP of `tapeflow demo`
        if acts:
            acts = [a.strip() for a in acts.split(",")]
            if len(acts) != len(sizes) - 1:
                raise SystemExit(f"tapeflow plot network: --activations needs one name per "
                                 f"layer after the input ({len(sizes) - 1} for --sizes "
                                 f"{args.sizes}), got {args.activations!r}")
        plot.plot_network(sizes, activations=acts or None, **kw)
    elif args.what == "boundary":
        data = args.data or ("iris" if args.model == "perceptron" else "xor")
        x, y, features, classes = _data(data, args.seed)
        if args.model == "perceptron":
            from tapeflow.neurons import Perceptron  # noqa: PLC0415

            model = Perceptron(random_state=args.seed, max_iter=args.epochs or 1000).fit(x, y)
            title = f"Perceptron on {data}: accuracy {model.score(x, y):.2f}"
        else:
            model, hist = _train_mlp(x, y, args.epochs or 200, args.seed)
            title = f"MLP (16 ReLU units) on {data}: accuracy {hist.history['accuracy'][-1]:.2f}"
        plot.plot_decision_boundary(model, x, y, title=title, feature_names=features,
                                    class_names=classes, **kw)
    else:
        x, y, _, _ = _data(args.data or "circles", args.seed)
        _, hist = _train_mlp(x, y, args.epochs or 40, args.seed, validation_split=0.25)
        plot.plot_history(hist, title=f"MLP (16 ReLU units) on {args.data or 'circles'}: "
                                      f"training and validation (last 25%) curves", **kw)
    width, height = plot.png_size(args.out)
    print(f"wrote {args.out} ({width} x {height} pixels)")
    return 0
