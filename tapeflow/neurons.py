"""The first artificial neurons: the threshold logic unit (TLU) and the perceptron.

A **threshold logic unit** computes a weighted sum of its inputs plus a bias, ``z = w·x + b``, and
fires (outputs 1) when ``z >= 0``: ``h = step(z)``. A **perceptron** is one fully connected layer of
TLUs, ``h = step(X W + b)``, trained with Rosenblatt's *perceptron learning rule*: after each
example, every unit that was wrong moves its weights towards the right answer,
``w <- w + eta0 * (y - h) * x``. The rule converges when the classes are linearly separable (iris
setosa against the rest) and never converges otherwise (XOR): that limit is why we stack layers
and use differentiable activations (see ``tapeflow.backprop``).

``Perceptron`` follows the conventions of scikit-learn's estimators (``fit``, ``partial_fit``,
``predict``, ``score``, ``coef_``, ``intercept_``, ``max_iter``, ``eta0``, ``tol``, ``shuffle``,
``random_state``) and has one output unit per class when there are more than two classes.

>>> import numpy as np
>>> from tapeflow.neurons import Perceptron
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
>>> clf = Perceptron(random_state=0).fit(X, [0, 0, 0, 1])    # logical AND is linearly separable
>>> clf.predict(X).tolist(), clf.score(X, [0, 0, 0, 1])
([0, 0, 0, 1], 1.0)
"""

import warnings

from tapeflow._backend import np
from tapeflow.framework.tensor import _TensorLike, convert_to_tensor

__all__ = ["step", "TLU", "Perceptron", "NotFittedError", "ConvergenceWarning"]


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator is used before ``fit`` (scikit-learn's ``NotFittedError``).

    >>> from tapeflow.neurons import NotFittedError, Perceptron
    >>> try:
    ...     Perceptron().predict([[1.0]])
    ... except NotFittedError as e:
    ...     print(str(e)[:45])
    Perceptron.decision_function: this Perceptron
    """


class ConvergenceWarning(UserWarning):
    """Warned when training stops at ``max_iter`` before the stopping rule was met.

    >>> import warnings
    >>> from tapeflow.neurons import ConvergenceWarning, Perceptron
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = Perceptron(max_iter=2, tol=None).fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0])
    >>> caught[0].category is ConvergenceWarning
    True
    """


def step(x):
    """The Heaviside step function: 1 where ``x >= 0``, else 0 (so ``step(0) == 1``).

    It is the activation of a threshold logic unit. Its derivative is 0 everywhere (undefined at
    0), so no gradient flows through it: backpropagation cannot train a layer of step units, which
    is why multilayer perceptrons use sigmoid, tanh or ReLU. ``keras.activations.step`` is the same
    function as a Keras activation (``Dense(3, activation="step")``).

    Args:
      x: a Tensor, array or Python number.
    Returns:
      A float Tensor of the shape of ``x`` (float32 unless ``x`` is already float) of 0s and 1s.

    >>> from tapeflow.neurons import step
    >>> step([-2.0, 0.0, 3.0]).numpy()
    array([0., 1., 1.], dtype=float32)
    """
    t = x if isinstance(x, _TensorLike) else convert_to_tensor(x)
    kind = t._value.dtype.kind
    dtype = t._value.dtype if kind in "fc" else np.float32
    return convert_to_tensor((t._value >= 0).astype(dtype))


def _as_2d(x, who, name="X"):
    a = np.asarray(x.numpy() if isinstance(x, _TensorLike) else x, dtype=np.float64)
    if a.ndim == 1:
        raise ValueError(f"{who}: expected {name} to be 2-D (n_samples, n_features), got a 1-D "
                         f"array of shape {a.shape}; reshape it with X.reshape(-1, 1) for one "
                         f"feature or X.reshape(1, -1) for one sample.")
    if a.ndim != 2:
        raise ValueError(f"{who}: expected {name} to be 2-D (n_samples, n_features), got shape "
                         f"{a.shape}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{who}: {name} contains NaN or infinity.")
    return a


def _as_labels(y, n, who):
    a = np.asarray(y.numpy() if isinstance(y, _TensorLike) else y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{who}: expected y to be 1-D (n_samples,) class labels, got shape "
                         f"{a.shape}.")
    if a.shape[0] != n:
        raise ValueError(f"{who}: X and y have different numbers of samples: X has {n}, y has "
                         f"{a.shape[0]}.")
    return a


def _sample_weight(sample_weight, n, who):
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight.numpy() if isinstance(sample_weight, _TensorLike)
                    else sample_weight, dtype=np.float64)
    if sw.ndim == 0:
        sw = np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(f"{who}: sample_weight must have shape ({n},), one weight per sample, "
                         f"got shape {sw.shape}.")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError(f"{who}: sample_weight must be finite and >= 0.")
    if not sw.sum() > 0:
        raise ValueError(f"{who}: sample_weight must not be all zeros.")
    return sw


class TLU:
    """A threshold logic unit: ``h = step(w·x + b)``, one artificial neuron.

    Args:
      weights: the input weights ``w``, one per input (array-like of shape ``(n_inputs,)``).
      bias: the bias ``b`` (the negative of the firing threshold).

    Attributes:
      weights: float64 NumPy array ``w`` (changed in place by ``learn``).
      bias: float ``b``.

    >>> from tapeflow.neurons import TLU
    >>> and_gate = TLU(weights=[1.0, 1.0], bias=-1.5)      # fires only when both inputs are 1
    >>> and_gate([[0, 0], [0, 1], [1, 0], [1, 1]]).numpy()
    array([0., 0., 0., 1.])
    >>> float(and_gate.net_input([1, 1]))
    0.5
    """

    def __init__(self, weights, bias=0.0):
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"TLU: expected weights to be a non-empty 1-D array (one weight per "
                             f"input), got shape {w.shape}.")
        self.weights = w.copy()
        self.bias = float(bias)

    @property
    def n_inputs(self):
        """The number of inputs the unit takes."""
        return self.weights.shape[0]

    def _inputs(self, x):
        a = np.asarray(x.numpy() if isinstance(x, _TensorLike) else x, dtype=np.float64)
        if a.shape[-1:] != (self.n_inputs,):
            raise ValueError(f"TLU: expected inputs whose last axis has {self.n_inputs} values "
                             f"(one per weight), got shape {a.shape}.")
        return a

    def net_input(self, x):
        """The weighted sum ``z = x·w + b`` (a float64 Tensor: one value per input row)."""
        return convert_to_tensor(self._inputs(x) @ self.weights + self.bias)

    def __call__(self, x):
        """The unit's output ``step(z)``: 1.0 where ``z >= 0``, else 0.0."""
        return step(self.net_input(x))

    def learn(self, x, y, eta=1.0):
        """Applies the perceptron learning rule for one example and returns the error ``y - h``.

        ``w <- w + eta * (y - h) * x`` and ``b <- b + eta * (y - h)``: nothing changes when the
        unit was right; when it was wrong its weights move towards ``x`` (or away from it).

        >>> from tapeflow.neurons import TLU
        >>> unit = TLU([0.0, 0.0], bias=0.0)
        >>> unit.learn([1.0, 2.0], y=0)          # fired (z=0) but should not have
        -1.0
        >>> unit.weights, unit.bias
        (array([-1., -2.]), -1.0)
        """
        xi = self._inputs(x)
        if xi.ndim != 1:
            raise ValueError(f"TLU.learn: expected one example of shape ({self.n_inputs},), got "
                             f"shape {xi.shape}.")
        h = 1.0 if float(xi @ self.weights + self.bias) >= 0 else 0.0
        err = float(y) - h
        if err:
            self.weights += eta * err * xi
            self.bias += eta * err
        return err

    def __repr__(self):
        return f"TLU(weights={np.round(self.weights, 6).tolist()}, bias={round(self.bias, 6)})"


class Perceptron:
    """A layer of threshold logic units trained with the perceptron learning rule.

    With two classes there is one unit (``coef_`` has shape ``(1, n_features)``) that fires for
    ``classes_[1]``; with ``k > 2`` classes there is one unit per class (``coef_`` has shape
    ``(k, n_features)``), each trained to fire for its class only (one-vs-rest), and ``predict``
    picks the class whose unit has the largest net input. Training visits the examples one at a
    time (in a new random order each epoch when ``shuffle``) and, for each unit that was wrong,
    applies ``w <- w + eta0 * (y - h) * x``.

    Training stops when an epoch makes no mistake (the data were separated), or, as in
    scikit-learn, when the epoch's perceptron loss ``sum(max(0, -s * z))`` (``s = +1`` for the
    target class, ``-1`` otherwise) has not improved by ``tol * n_samples`` for
    ``n_iter_no_change`` epochs, or after ``max_iter`` epochs (with a ``ConvergenceWarning``).

    Differences from scikit-learn's ``Perceptron``, both for the sake of the TLU it teaches: a
    unit fires when ``z >= 0`` (``step(0) == 1``), so a point exactly on the boundary is
    predicted ``classes_[1]`` (scikit-learn needs ``z > 0``); and an epoch without a mistake
    ends training at once, so ``n_iter_`` is often smaller.

    Args:
      eta0: the learning rate (a positive float).
      max_iter: the maximum number of epochs of ``fit``.
      tol: the stopping tolerance, or ``None`` to train until an epoch has no mistake or
        ``max_iter``.
      shuffle: visit the examples in a new random order each epoch.
      random_state: seed (int), ``None`` (a fresh random order each fit) or a
        ``numpy.random.Generator``, for the shuffling. The default 0 (as in scikit-learn) makes
        ``fit`` reproducible.
      fit_intercept: learn the biases ``intercept_`` (else they stay 0).
      n_iter_no_change: epochs without improvement before stopping.
      warm_start: let ``fit`` continue from the current weights.
      verbose: print the mistakes and loss of each epoch when > 0.

    In the notation ``h = step(X W + b)``, ``W`` is ``coef_.T`` (one column per unit) and ``b`` is
    ``intercept_``: scikit-learn stores one row of weights per unit.

    Attributes:
      coef_: the weights, float64 array ``(n_units, n_features)``.
      intercept_: the biases, float64 array ``(n_units,)``.
      classes_: the class labels, sorted.
      n_iter_: the number of epochs run by the last ``fit``.
      t_: the number of examples seen, plus one (scikit-learn's convention).
      n_features_in_: the number of features seen in ``fit``.
      errors_: the number of misclassified examples in each epoch (a learning curve).
      loss_curve_: the perceptron loss of each epoch.

    >>> import numpy as np
    >>> from tapeflow.neurons import Perceptron
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> xor = Perceptron(max_iter=50, random_state=0)
    >>> import warnings; warnings.simplefilter("ignore")
    >>> xor.fit(X, [0, 1, 1, 0]).score(X, [0, 1, 1, 0]) < 1.0    # XOR is not linearly separable
    True
    """

    def __init__(self, *, eta0=1.0, max_iter=1000, tol=1e-3, shuffle=True, random_state=0,
                 fit_intercept=True, n_iter_no_change=5, warm_start=False, verbose=0):
        self.eta0 = eta0
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.verbose = verbose

    # -- scikit-learn's parameter protocol -------------------------------------------------------
    _PARAMS = ("eta0", "max_iter", "tol", "shuffle", "random_state", "fit_intercept",
               "n_iter_no_change", "warm_start", "verbose")

    def get_params(self, deep=True):
        """The constructor arguments as a dict (scikit-learn's ``get_params``).

        >>> from tapeflow.neurons import Perceptron
        >>> Perceptron(eta0=0.5).get_params()["eta0"]
        0.5
        """
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params):
        """Sets constructor arguments and returns ``self`` (scikit-learn's ``set_params``).

        >>> from tapeflow.neurons import Perceptron
        >>> Perceptron().set_params(max_iter=5).max_iter
        5
        """
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ValueError(f"Perceptron.set_params: invalid parameter {k!r}; valid "
                                 f"parameters are {list(self._PARAMS)}.")
            setattr(self, k, v)
        return self

    def __repr__(self):
        default = Perceptron()
        args = [f"{k}={getattr(self, k)!r}" for k in self._PARAMS
                if getattr(self, k) != getattr(default, k)]
        return f"Perceptron({', '.join(args)})"

    # -- validation --------------------------------------------------------------------------------
    def _check_params(self, who):
        if isinstance(self.eta0, bool) or not isinstance(self.eta0, (int, float)) or \
                not self.eta0 > 0:
            raise ValueError(f"{who}: eta0 must be a positive number, got {self.eta0!r}.")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int) or \
                self.max_iter < 1:
            raise ValueError(f"{who}: max_iter must be an int >= 1, got {self.max_iter!r}.")
        if self.tol is not None and (isinstance(self.tol, bool) or
                                     not isinstance(self.tol, (int, float)) or self.tol < 0):
            raise ValueError(f"{who}: tol must be None or a float >= 0, got {self.tol!r}.")
        if isinstance(self.n_iter_no_change, bool) or \
                not isinstance(self.n_iter_no_change, int) or self.n_iter_no_change < 1:
            raise ValueError(f"{who}: n_iter_no_change must be an int >= 1, got "
                             f"{self.n_iter_no_change!r}.")

    def _check_fitted(self, who):
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"{who}: this Perceptron instance is not fitted yet; call "
                                 f"'fit' with appropriate arguments before using it.")

    def _rng(self):
        if getattr(self, "_rng_state", None) is None:
            rs = self.random_state
            self._rng_state = rs if isinstance(rs, np.random.Generator) else \
                np.random.default_rng(rs)
        return self._rng_state

    # -- training ----------------------------------------------------------------------------------
    def _init_weights(self, classes, n_features, coef_init=None, intercept_init=None):
        self.classes_ = classes
        self.n_features_in_ = n_features
        units = 1 if len(classes) == 2 else len(classes)
        self.coef_ = np.zeros((units, n_features))
        self.intercept_ = np.zeros(units)
        if coef_init is not None:
            c = np.asarray(coef_init, dtype=np.float64).reshape(units, -1)
            if c.shape != self.coef_.shape:
                raise ValueError(f"Perceptron.fit: coef_init has shape {c.shape}, expected "
                                 f"{self.coef_.shape}.")
            self.coef_[...] = c
        if intercept_init is not None:
            b = np.asarray(intercept_init, dtype=np.float64).reshape(-1)
            if b.shape != self.intercept_.shape:
                raise ValueError(f"Perceptron.fit: intercept_init has shape {b.shape}, expected "
                                 f"{self.intercept_.shape}.")
            self.intercept_[...] = b
        self.t_ = 1.0
        self.errors_ = []
        self.loss_curve_ = []

    def _targets(self, y):
        # one 0/1 target per unit: the unit of class c fires for class c only
        idx = np.searchsorted(self.classes_, y)
        bad = (idx >= len(self.classes_)) | (self.classes_[np.minimum(idx, len(self.classes_) - 1)]
                                             != y)
        if bad.any():
            raise ValueError(f"Perceptron: y contains labels {np.unique(y[bad]).tolist()} not in "
                             f"classes {self.classes_.tolist()}.")
        if len(self.classes_) == 2:
            return (idx == 1).astype(np.float64)[:, None]
        return np.eye(len(self.classes_))[idx]

    def _epoch(self, X, T, sw=None):
        """One pass of the perceptron learning rule; returns (mistakes, perceptron loss)."""
        order = self._rng().permutation(len(X)) if self.shuffle else np.arange(len(X))
        W, b, eta = self.coef_, self.intercept_, float(self.eta0)
        mistakes, loss = 0, 0.0
        for i in order:
            xi, ti = X[i], T[i]
            z = W @ xi + b
            err = ti - (z >= 0)                      # y - h, per unit: -1, 0 or +1
            wi = 1.0 if sw is None else sw[i]
            loss += wi * float(np.maximum(0.0, -(2.0 * ti - 1.0) * z).sum())
            if err.any():
                mistakes += 1
                step_i = eta * wi * err              # a sample weight scales its updates
                W += np.outer(step_i, xi)
                if self.fit_intercept:
                    b += step_i
        self.t_ += len(X)
        self.errors_.append(mistakes)
        self.loss_curve_.append(loss)
        return mistakes, loss

    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Trains the perceptron on ``X`` (n_samples, n_features) and labels ``y``; returns self.

        ``coef_init`` and ``intercept_init`` set the starting weights (default zeros);
        ``sample_weight`` (one non-negative number per example) scales each example's updates.

        >>> from tapeflow.neurons import Perceptron
        >>> clf = Perceptron(random_state=0).fit([[0.0], [1.0], [3.0], [4.0]], ["a", "a", "b", "b"])
        >>> clf.predict([[0.5], [3.5]]).tolist(), clf.n_iter_ >= 1
        (['a', 'b'], True)
        """
        self._check_params("Perceptron.fit")
        self._rng_state = None             # each fit shuffles from random_state again
        X = _as_2d(X, "Perceptron.fit")
        y = _as_labels(y, X.shape[0], "Perceptron.fit")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"Perceptron.fit: needs samples of at least 2 classes, got only "
                             f"class {classes.tolist()}.")
        if not (self.warm_start and hasattr(self, "coef_") and coef_init is None and
                len(self.classes_) == len(classes) and np.all(self.classes_ == classes) and
                self.n_features_in_ == X.shape[1]):
            self._init_weights(classes, X.shape[1], coef_init, intercept_init)
        T = self._targets(y)
        sw = _sample_weight(sample_weight, X.shape[0], "Perceptron.fit")
        best, stale, n = np.inf, 0, X.shape[0]
        for epoch in range(1, self.max_iter + 1):
            mistakes, loss = self._epoch(X, T, sw)
            if self.verbose:
                print(f"-- Epoch {epoch}: mistakes {mistakes}, loss {loss:.6g}")
            self.n_iter_ = epoch
            if mistakes == 0:
                break
            if self.tol is not None:
                stale = stale + 1 if loss > best - self.tol * n else 0
                best = min(best, loss)
                if stale >= self.n_iter_no_change:
                    break
        else:
            if self.max_iter > 1:
                warnings.warn(f"Perceptron: maximum number of iterations ({self.max_iter}) "
                              f"reached and the weights have not converged; increase max_iter.",
                              ConvergenceWarning, stacklevel=2)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Runs one epoch of the perceptron rule on ``X``, ``y``; returns self.

        ``classes`` (all the labels that can occur) is required on the first call;
        ``sample_weight`` scales each example's updates.

        >>> from tapeflow.neurons import Perceptron
        >>> clf = Perceptron(shuffle=False)
        >>> clf = clf.partial_fit([[1.0, 0.0]], [1], classes=[0, 1])
        >>> clf.coef_.tolist(), clf.intercept_.tolist()     # z = 0 fired: right, nothing learned
        ([[0.0, 0.0]], [0.0])
        >>> clf.partial_fit([[0.0, 1.0]], [0]).coef_.tolist()
        [[0.0, -1.0]]
        """
        self._check_params("Perceptron.partial_fit")
        X = _as_2d(X, "Perceptron.partial_fit")
        y = _as_labels(y, X.shape[0], "Perceptron.partial_fit")
        if not hasattr(self, "coef_"):
            if classes is None:
                raise ValueError("Perceptron.partial_fit: classes must be passed on the first "
                                 "call (all the labels that can occur).")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise ValueError(f"Perceptron.partial_fit: classes must hold at least 2 labels, "
                                 f"got {classes.tolist()}.")
            self._init_weights(classes, X.shape[1])
            self.n_iter_ = 0
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)),
                                                         self.classes_):
            raise ValueError(f"Perceptron.partial_fit: classes {np.asarray(classes).tolist()} "
                             f"differ from the classes of the first call "
                             f"{self.classes_.tolist()}.")
        self._check_features(X, "Perceptron.partial_fit")
        sw = _sample_weight(sample_weight, X.shape[0], "Perceptron.partial_fit")
        self._epoch(X, self._targets(y), sw)
        self.n_iter_ += 1
        return self

    # -- inference ---------------------------------------------------------------------------------
    def _check_features(self, X, who):
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{who}: X has {X.shape[1]} features, but this Perceptron was "
                             f"fitted with {self.n_features_in_} features.")

    def decision_function(self, X):
        """The net input ``z = X coef_^T + intercept_`` of each unit.

        Returns shape ``(n_samples,)`` for two classes, ``(n_samples, n_classes)`` otherwise.

        >>> from tapeflow.neurons import Perceptron
        >>> clf = Perceptron(shuffle=False).fit([[0.0], [2.0]], [0, 1])
        >>> clf.decision_function([[0.0], [2.0]]).tolist()     # w = 2, b = -1 after 3 epochs
        [-1.0, 3.0]
        """
        self._check_fitted("Perceptron.decision_function")
        X = _as_2d(X, "Perceptron.decision_function")
        self._check_features(X, "Perceptron.decision_function")
        z = X @ self.coef_.T + self.intercept_
        return z[:, 0] if z.shape[1] == 1 else z

    def predict(self, X):
        """The predicted class of each row of ``X``.

        Two classes: ``classes_[1]`` where the unit fires (``z >= 0``). More: the class whose unit
        has the largest net input.

        >>> from tapeflow.neurons import Perceptron
        >>> Perceptron().fit([[0.0], [2.0]], ["no", "yes"]).predict([[-1.0], [3.0]]).tolist()
        ['no', 'yes']
        """
        z = self.decision_function(X)
        idx = (z >= 0).astype(int) if z.ndim == 1 else np.argmax(z, axis=1)
        return self.classes_[idx]

    def score(self, X, y, sample_weight=None):
        """The accuracy (fraction of correct predictions) on ``X``, ``y``.

        With ``sample_weight``, the weighted fraction.

        >>> from tapeflow.neurons import Perceptron
        >>> clf = Perceptron().fit([[0.0], [2.0]], [0, 1])
        >>> clf.score([[0.0], [2.0], [-5.0]], [0, 1, 1])
        0.6666666666666666
        >>> clf.score([[0.0], [2.0], [-5.0]], [0, 1, 1], sample_weight=[1, 1, 2])
        0.5
        """
        pred = self.predict(X)
        y = _as_labels(y, pred.shape[0], "Perceptron.score")
        sw = _sample_weight(sample_weight, pred.shape[0], "Perceptron.score")
        correct = (pred == y).astype(np.float64)
        return float(np.mean(correct) if sw is None else np.average(correct, weights=sw))
