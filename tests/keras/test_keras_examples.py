"""The Keras examples run as scripts (with few epochs, via TAPEFLOW_EXAMPLE_EPOCHS) and learn."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(script, epochs):
    env = dict(os.environ, TAPEFLOW_EXAMPLE_EPOCHS=str(epochs))
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), "--verbose", "0"],
                          capture_output=True, text=True, check=True, timeout=120, env=env,
                          cwd=ROOT).stdout


def test_mnist_mlp():
    out = _run("mnist_mlp.py", 2)
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.85, out


def test_wide_and_deep():
    out = _run("wide_and_deep.py", 5)
    mse, baseline = map(float, re.search(r"test mse: ([0-9.]+) \(predicting the mean: "
                                         r"([0-9.]+)\)", out).groups())
    assert mse < baseline / 4, out


def test_subclassed_model():
    out = _run("subclassed_model.py", 5)
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.85, out


@pytest.mark.parametrize("argv", [["-m", "tapeflow", "demo", "--verbose", "2"]])
def test_tapeflow_demo_reaches_095(argv):
    out = subprocess.run([sys.executable] + argv, capture_output=True, text=True, check=True,
                         timeout=120, cwd=ROOT).stdout
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95, out
    assert "Epoch 20/20" in out and "accuracy:" in out
