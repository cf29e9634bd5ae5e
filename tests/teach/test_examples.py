"""The teaching examples run and show what they claim (issue 6, must-show 1 and 2)."""

import os
import runpy
import warnings

import numpy as np
import pytest

from tapeflow import keras
from tapeflow.neurons import ConvergenceWarning, Perceptron
from tapeflow.teach import xor

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _example(name):
    return runpy.run_path(os.path.join(EXAMPLES, name), run_name="example")


def test_perceptron_iris_example(tmp_path, capsys):
    out = _example("perceptron_iris.py")["main"](["--plot", str(tmp_path / "b.png")])
    assert out["tlu_accuracy"] == 1.0 and out["setosa_accuracy"] == 1.0
    assert out["xor_accuracy"] <= 0.75
    assert 0.5 < out["multiclass_accuracy"] < 1.0
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    assert "cannot learn it" in capsys.readouterr().out


def test_mlp_learns_xor_where_the_perceptron_fails():
    x, y = xor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert Perceptron(random_state=0, max_iter=200).fit(x, y).score(x, y) < 1.0
    build = _example("xor_mlp.py")["build_mlp"]
    for seed in range(3):           # robust: not one lucky seed
        model = build(16, seed)
        model.fit(x, y.reshape(-1, 1).astype(np.float32), epochs=200, batch_size=4, verbose=0)
        pred = (model.predict(x, verbose=0).ravel() > 0.5).astype(int)
        assert pred.tolist() == [0, 1, 1, 0], seed


def test_xor_mlp_example(tmp_path, capsys):
    out = _example("xor_mlp.py")["main"](["--epochs", "200", "--plot-dir", str(tmp_path)])
    assert out["accuracy"] == 1.0
    assert out["history"]["loss"][-1] < 0.1
    assert "1. Forward pass" in capsys.readouterr().out
    for name in ("xor_boundary.png", "xor_history.png", "xor_network.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_why_nonlinearity_example(capsys):
    out = _example("why_nonlinearity.py")["main"](["--epochs", "150"])
    # the stack without activation equals one Dense layer, before and after training
    assert out["max_abs_diff_before"] < 1e-5
    assert out["max_abs_diff_trained_xor"] < 1e-4
    assert out["max_abs_diff_trained_circles"] < 1e-4
    # ... so it cannot learn XOR or circles, which the ReLU MLP learns
    assert out["xor"]["linear"] <= 0.75 and out["xor"]["relu"] == 1.0
    assert out["circles"]["linear"] < 0.75 and out["circles"]["relu"] >= 0.95
    assert "collapse into one" in capsys.readouterr().out


def test_linear_stack_kernel_is_the_product_of_kernels():
    ns = _example("why_nonlinearity.py")
    model = ns["make_stack"](None, hidden=(4, 3), seed=1)
    (w1, b1), (w2, b2), (w3, b3) = [layer.get_weights() for layer in model.layers]
    kernel, bias = ns["collapse"](model)
    np.testing.assert_allclose(kernel, w1 @ w2 @ w3, rtol=1e-6)
    np.testing.assert_allclose(bias, (b1 @ w2 + b2) @ w3 + b3, rtol=1e-6, atol=1e-7)
    x = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    z = x @ kernel + bias
    np.testing.assert_allclose(model.predict(x, verbose=0), 1 / (1 + np.exp(-z)), rtol=1e-5)


def test_step_dense_layer_warns_when_trained():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="step"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = xor()
    with pytest.warns(UserWarning, match=r"no gradient flows"):
        model.fit(x, y.astype(np.float32), epochs=1, verbose=0)
