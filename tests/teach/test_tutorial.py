"""docs/tutorial.md: every python code block runs, in order, in one namespace."""

import os
import re

import pytest

TUTORIAL = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "tutorial.md")


def _blocks():
    with open(TUTORIAL, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_tutorial_has_the_ideas_in_order():
    with open(TUTORIAL, encoding="utf-8") as f:
        headings = [line[3:] for line in f if line.startswith("## ")]
    keys = ["threshold logic unit", "perceptron learning rule", "XOR", "Activation functions",
            "nonlinearity", "multilayer perceptron", "Backpropagation", "Training an MLP",
            "tapeflow demo"]
    assert len(headings) == len(keys)
    for heading, key in zip(headings, keys):
        assert key.lower() in heading.lower(), (heading, key)


def test_tutorial_code_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 15
    namespace = {"__name__": "tutorial"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"docs/tutorial.md block {i + 1}", "exec"), namespace)
        except Exception as e:  # name the failing block
            raise AssertionError(f"tutorial block {i + 1} failed: {e!r}\n{code}") from e
    out = capsys.readouterr().out
    assert "AND: [0. 0. 0. 1.]" in out
    assert "training accuracy: 1.0" in out
    assert "1. Forward pass" in out and "3. Backward pass" in out
    # the trace names the tutorial's layers and works one SGD update through
    assert "hidden h = relu(z)" in out and "output/kernel" in out
    assert "rule: update = -learning_rate * gradient (plain SGD)" in out
    assert "update = -0.5 * " in out
    assert "at z = 0: 0.25 1.0 0.0" in out           # sigmoid', tanh', relu' at 0
    for png in ["perceptron_boundary.png", "activations.png", "mlp.png", "xor_boundary.png",
                "history.png", "digits_mlp.png"]:
        with open(tmp_path / png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
    assert namespace["test_accuracy"] > 0.9


def test_tutorial_ends_with_the_demo_mlp():
    """The last section trains the model of `tapeflow demo`: same data, seed, settings, result."""
    from tapeflow.__main__ import demo

    code = _blocks()[-1]
    namespace = {}
    exec(compile("import numpy as np\nfrom tapeflow import keras\n"
                 "from tapeflow.plot import plot_network\n" +
                 code.replace('plot_network(digits_mlp, path="digits_mlp.png")', ""),
                 "docs/tutorial.md last block", "exec"), namespace)
    model = namespace["digits_mlp"]
    assert [layer.units for layer in model.layers] == [128, 10]
    assert namespace["test_accuracy"] == pytest.approx(demo(verbose=0), abs=1e-6)
