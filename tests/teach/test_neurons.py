"""TLU and Perceptron: the perceptron learning rule, scikit-learn conventions, errors."""

import warnings

import numpy as np
import pytest

import tapeflow as tf
from tapeflow.keras.datasets import iris
from tapeflow.neurons import TLU, ConvergenceWarning, NotFittedError, Perceptron, step
from tapeflow.teach import circles, xor


def _setosa():
    x, y, _ = iris.load_data()
    return x[:, 2:4], (y == 0).astype(int)     # petal length, petal width; setosa vs the rest


def test_step_heaviside_values_and_dtype():
    out = step(tf.constant([-1.5, -0.0, 0.0, 1e-7, 3.0]))
    np.testing.assert_array_equal(out.numpy(), [0.0, 1.0, 1.0, 1.0, 1.0])
    assert out.dtype == tf.float32
    assert step(np.array([-1.0, 2.0])).dtype == tf.float64
    assert step([-1, 0, 2]).dtype == tf.float32      # ints become float32 0/1


def test_tlu_logic_gates():
    x = [[0, 0], [0, 1], [1, 0], [1, 1]]
    np.testing.assert_array_equal(TLU([1, 1], -1.5)(x).numpy(), [0, 0, 0, 1])     # AND
    np.testing.assert_array_equal(TLU([1, 1], -0.5)(x).numpy(), [0, 1, 1, 1])     # OR
    np.testing.assert_array_equal(TLU([-1], 0.5)([[0], [1]]).numpy(), [1, 0])     # NOT
    np.testing.assert_allclose(TLU([2.0, -1.0], 0.5).net_input([[1.0, 3.0]]).numpy(), [-0.5])


def test_tlu_learn_is_the_perceptron_rule():
    unit = TLU([0.5, -0.5], bias=0.0)
    # z = 0.5*1 - 0.5*0 = 0.5 >= 0 fires; target 0: err = -1, w -= eta*x, b -= eta
    assert unit.learn([1.0, 0.0], 0, eta=0.1) == -1.0
    np.testing.assert_allclose(unit.weights, [0.4, -0.5])
    assert unit.bias == pytest.approx(-0.1)
    # right answer: nothing changes
    assert unit.learn([1.0, 0.0], 1 if unit([1.0, 0.0]).numpy() else 0) == 0.0
    np.testing.assert_allclose(unit.weights, [0.4, -0.5])


def test_tlu_errors():
    with pytest.raises(ValueError, match=r"TLU: expected weights to be a non-empty 1-D"):
        TLU([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"last axis has 2 values .* got shape \(3,\)"):
        TLU([1.0, 2.0])([1.0, 2.0, 3.0])


def test_perceptron_separates_setosa_on_petals_for_every_seed():
    x, y = _setosa()
    for seed in range(10):
        clf = Perceptron(random_state=seed).fit(x, y)
        assert clf.score(x, y) == 1.0, seed
        assert clf.errors_[-1] == 0                   # the last epoch made no mistake
    assert clf.coef_.shape == (1, 2) and clf.intercept_.shape == (1,)
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    # class 1 is setosa: its flowers are on the side of the line where the unit fires (z >= 0)
    z = clf.decision_function(x)
    assert np.all(z[y == 1] >= 0) and np.all(z[y == 0] < 0)


def test_perceptron_fails_on_xor():
    x, y = xor()
    for seed in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = Perceptron(random_state=seed, max_iter=100).fit(x, y)
        assert clf.score(x, y) <= 0.75        # a line gets at most 3 of the 4 XOR points right
        assert min(clf.errors_) > 0           # never an epoch without mistakes


def test_perceptron_fails_on_circles():
    x, y = circles(100, noise=0.05, seed=1)
    clf = Perceptron(random_state=0).fit(x, y)
    assert clf.score(x, y) < 0.8


def test_perceptron_max_iter_warns_convergence():
    x, y = xor()
    with pytest.warns(ConvergenceWarning, match=r"maximum number of iterations \(7\)"):
        clf = Perceptron(max_iter=7, tol=None, random_state=0).fit(x, y)
    assert clf.n_iter_ == 7 and len(clf.errors_) == 7
    assert clf.t_ == 7 * 4 + 1


def test_perceptron_multiclass_one_unit_per_class():
    x, y, names = iris.load_data()
    labels = np.array(names)[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = Perceptron(random_state=0, max_iter=50).fit(x, labels)
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    pred = clf.predict(x)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    z = clf.decision_function(x)
    assert z.shape == (150, 3)
    np.testing.assert_array_equal(pred, clf.classes_[np.argmax(z, axis=1)])
    assert np.all(pred[y == 0] == "setosa")        # setosa's unit alone separates it


def test_perceptron_rule_by_hand_without_shuffle():
    # two epochs worked by hand: w = b = 0, eta0 = 0.5, examples in order
    x = np.array([[2.0, 1.0], [-1.0, -1.0]])
    y = np.array([0, 1])
    clf = Perceptron(eta0=0.5, shuffle=False, max_iter=2, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    # epoch 1: x0 z=0 fires, target 0 -> w = -0.5*[2,1] = [-1,-0.5], b = -0.5
    #          x1 z = 1 + 0.5 - 0.5 = 1 fires, target 1 -> no change
    # epoch 2: x0 z = -2 - 0.5 - 0.5 = -3 -> right; x1 right -> no mistakes, stops
    np.testing.assert_allclose(clf.coef_, [[-1.0, -0.5]])
    np.testing.assert_allclose(clf.intercept_, [-0.5])
    assert clf.errors_ == [1, 0] and clf.n_iter_ == 2


def test_fit_is_reproducible_with_random_state():
    x, y, _ = iris.load_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = Perceptron(random_state=7, max_iter=20)
        a = clf.fit(x, y).coef_.copy()
        b = clf.fit(x, y).coef_.copy()
        c = Perceptron(random_state=8, max_iter=20).fit(x, y).coef_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_partial_fit_matches_fit_epochs():
    x, y = _setosa()
    a = Perceptron(shuffle=False, max_iter=3, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(x, y)
    b = Perceptron(shuffle=False)
    for _ in range(a.n_iter_):
        b.partial_fit(x, y, classes=[0, 1])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


def test_fit_intercept_false_and_warm_start():
    x, y = _setosa()
    clf = Perceptron(fit_intercept=False, random_state=0).fit(x, y)
    np.testing.assert_array_equal(clf.intercept_, [0.0])
    warm = Perceptron(warm_start=True, random_state=0, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(x, y)
        first = warm.coef_.copy()
        warm.fit(x, y)
    assert warm.t_ > 1 + len(x)          # continued, did not restart
    assert not np.array_equal(first, np.zeros_like(first))


def test_perceptron_accepts_tensors_and_sklearn_params():
    x, y = _setosa()
    clf = Perceptron(random_state=3).fit(tf.constant(x), tf.constant(y))
    assert clf.score(tf.constant(x), y) == 1.0
    assert clf.n_features_in_ == 2
    assert clf.get_params()["random_state"] == 3
    assert clf.set_params(eta0=0.1).eta0 == 0.1
    assert repr(clf) == "Perceptron(eta0=0.1, random_state=3)"


@pytest.mark.parametrize("kwargs, match", [
    ({"eta0": 0.0}, r"eta0 must be a positive number, got 0.0"),
    ({"max_iter": 0}, r"max_iter must be an int >= 1, got 0"),
    ({"tol": -1.0}, r"tol must be None or a float >= 0, got -1.0"),
    ({"n_iter_no_change": 0}, r"n_iter_no_change must be an int >= 1"),
])
def test_perceptron_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Perceptron(**kwargs).fit([[0.0], [1.0]], [0, 1])


def test_perceptron_bad_inputs():
    clf = Perceptron()
    with pytest.raises(NotFittedError, match=r"not fitted yet"):
        clf.predict([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"to be 2-D .* got a 1-D array of shape \(3,\)"):
        clf.fit([1.0, 2.0, 3.0], [0, 1, 0])
    with pytest.raises(ValueError, match=r"different numbers of samples: X has 2, y has 3"):
        clf.fit([[1.0], [2.0]], [0, 1, 0])
    with pytest.raises(ValueError, match=r"at least 2 classes, got only class \[1\]"):
        clf.fit([[1.0], [2.0]], [1, 1])
    with pytest.raises(ValueError, match=r"classes must be passed on the first call"):
        clf.partial_fit([[1.0], [2.0]], [0, 1])
    clf.fit([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    with pytest.raises(ValueError, match=r"X has 3 features, but this Perceptron was fitted w"):
        clf.predict([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"labels \[7\] not in classes \[0, 1\]"):
        clf.partial_fit([[1.0, 1.0]], [7])
    with pytest.raises(ValueError, match=r"invalid parameter 'alpha'"):
        clf.set_params(alpha=1.0)


def test_defaults_and_attributes_follow_scikit_learn():
    # scikit-learn 1.9's Perceptron().get_params(), recorded (these names and values)
    sk_defaults = {"eta0": 1.0, "fit_intercept": True, "max_iter": 1000, "n_iter_no_change": 5,
                   "random_state": 0, "shuffle": True, "tol": 0.001, "verbose": 0,
                   "warm_start": False}
    params = Perceptron().get_params()
    assert {k: params[k] for k in sk_defaults} == sk_defaults
    assert repr(Perceptron()) == "Perceptron()"
    # the default random_state=0 makes fit reproducible, as in scikit-learn
    x, y, _ = iris.load_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = Perceptron(max_iter=20).fit(x, y).coef_
        b = Perceptron(max_iter=20).fit(x, y).coef_
    np.testing.assert_array_equal(a, b)
    # binary labels may be any two values: one unit, fires for classes_[1]; shapes as sklearn's
    petals, setosa = _setosa()
    for labels, classes in [(setosa, [0, 1]), (np.where(setosa == 1, 1, -1), [-1, 1]),
                            (np.where(setosa == 1, "s", "o"), ["o", "s"])]:
        clf = Perceptron().fit(petals, labels)
        assert clf.classes_.tolist() == classes
        assert clf.coef_.shape == (1, 2) and clf.intercept_.shape == (1,)
        assert clf.coef_.dtype == np.float64 and isinstance(clf.n_iter_, int)
        assert clf.t_ == clf.n_iter_ * len(petals) + 1
        assert clf.decision_function(petals[:3]).shape == (3,)
        assert clf.predict(petals[:1]).tolist() == [classes[1]]     # the first row is setosa
        assert clf.score(petals, labels) == 1.0
    clf3 = Perceptron(max_iter=5, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf3.fit(x, y)
    assert clf3.coef_.shape == (3, 4) and clf3.intercept_.shape == (3,)
    assert clf3.decision_function(x[:2]).shape == (2, 3)


def test_a_point_on_the_boundary_fires_like_step_of_zero():
    # w = 2, b = -1 (see decision_function's docstring): z(0.5) == 0 exactly
    clf = Perceptron(shuffle=False).fit([[0.0], [2.0]], [0, 1])
    assert clf.decision_function([[0.5]]).tolist() == [0.0]
    assert clf.predict([[0.5]]).tolist() == [1]         # step(0) == 1 (scikit-learn gives 0)


def test_sample_weight_scales_the_updates_and_the_score():
    # one epoch in order: (x=[1], t=0) fires at z=0 -> w -= 3 * eta * x, b -= 3 * eta
    clf = Perceptron(shuffle=False, max_iter=1, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit([[1.0]], [0], classes=[0, 1], sample_weight=[3.0])
    assert clf.coef_.tolist() == [[-3.0]] and clf.intercept_.tolist() == [-3.0]
    petals, setosa = _setosa()
    ones = Perceptron().fit(petals, setosa)
    same = Perceptron().fit(petals, setosa, sample_weight=np.ones(len(petals)))
    np.testing.assert_array_equal(ones.coef_, same.coef_)
    assert same.score(petals, 1 - setosa, sample_weight=np.ones(len(petals))) == 0.0
    assert ones.score([[1.4, 0.2], [5.0, 2.0]], [1, 1], sample_weight=[3, 1]) == 0.75
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(150,\), one weight "
                                         r"per sample, got shape \(3,\)"):
        Perceptron().fit(petals, setosa, sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"sample_weight must be finite and >= 0"):
        Perceptron().fit(petals, setosa, sample_weight=-np.ones(len(petals)))
