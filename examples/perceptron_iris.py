"""The perceptron: a layer of threshold logic units trained with the perceptron learning rule.

Run it:  python examples/perceptron_iris.py [--plot boundary.png]

1. A single threshold logic unit (TLU) learns, example by example, to tell iris setosa from the
   other two species using the petal length and width: z = w . x + b, h = step(z), and after each
   mistake w <- w + eta * (y - h) * x.
2. ``Perceptron`` does the same as an estimator with scikit-learn's conventions and reaches 100%
   training accuracy: the two groups are linearly separable, and the perceptron convergence
   theorem says the rule then always finds a separating line.
3. With three species it uses one unit per class; versicolor and virginica overlap, so no set of
   lines separates them and the accuracy stays below 100%.
4. On XOR it fails: no straight line separates (0,1), (1,0) from (0,0), (1,1). That is the limit
   (Minsky and Papert, 1969) that hidden layers remove (see examples/xor_mlp.py).
"""

import argparse
import warnings

import numpy as np

from tapeflow.keras.datasets import iris
from tapeflow.neurons import TLU, ConvergenceWarning, Perceptron
from tapeflow.teach import xor


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default=None, help="write the decision boundary to this PNG")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    x_all, labels, class_names = iris.load_data()
    x = x_all[:, 2:4]                        # petal length, petal width (cm)
    y = (labels == 0).astype(int)            # 1 for setosa, 0 for the others

    # 1. one TLU, one example at a time, by hand
    unit = TLU(weights=[0.0, 0.0], bias=0.0)
    order = np.random.default_rng(args.seed).permutation(len(x))
    print("1. A threshold logic unit learning setosa vs the rest (first mistakes):")
    shown = 0
    for epoch in range(1, 11):
        mistakes = 0
        for i in order:
            err = unit.learn(x[i], y[i], eta=1.0)
            if err:
                mistakes += 1
                if shown < 4:
                    shown += 1
                    xi = np.round(x[i].astype(float), 2).tolist()
                    print(f"   epoch {epoch}: x={xi} y={y[i]} predicted {int(y[i] - err)}"
                          f" -> w={np.round(unit.weights, 2).tolist()}, b={unit.bias:.2f}")
        if mistakes == 0:
            break
    acc = float(np.mean(unit(x).numpy() == y))
    print(f"   after {epoch} epochs: {unit}, training accuracy {acc:.0%}")

    # 2. the estimator
    clf = Perceptron(random_state=args.seed).fit(x, y)
    setosa_acc = clf.score(x, y)
    print(f"2. Perceptron on petal length/width: accuracy {setosa_acc:.0%} after {clf.n_iter_} "
          f"epochs; mistakes per epoch {clf.errors_}")
    print(f"   coef_ = {clf.coef_.round(2).tolist()}, intercept_ = {clf.intercept_.round(2)}")

    # 3. three classes: one output unit per class
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        multi = Perceptron(random_state=args.seed, max_iter=100).fit(x_all, labels)
    multi_acc = multi.score(x_all, labels)
    print(f"3. Three species, 4 features: {multi.coef_.shape[0]} units, accuracy "
          f"{multi_acc:.0%} (versicolor and virginica are not linearly separable)")

    # 4. XOR
    xx, xy = xor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        xor_clf = Perceptron(random_state=args.seed, max_iter=100).fit(xx, xy)
    xor_acc = xor_clf.score(xx, xy)
    print(f"4. XOR: accuracy {xor_acc:.0%}, mistakes in the last epochs "
          f"{xor_clf.errors_[-5:]}: a single layer of TLUs cannot learn it")

    if args.plot:
        from tapeflow.plot import plot_decision_boundary

        plot_decision_boundary(clf, x, y, path=args.plot, class_names=["other", "setosa"],
                               feature_names=["petal length (cm)", "petal width (cm)"],
                               title=f"Perceptron: setosa vs {class_names[1]}/{class_names[2]}")
        print(f"wrote {args.plot}")
    return {"tlu_accuracy": acc, "setosa_accuracy": setosa_acc, "multiclass_accuracy": multi_acc,
            "xor_accuracy": xor_acc}


if __name__ == "__main__":
    main()
