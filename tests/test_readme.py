"""The README's Python examples run as written (in order, in one namespace, in a temp folder)."""

import pathlib
import re

README = pathlib.Path(__file__).parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"),
                        flags=re.S | re.M)
    assert len(blocks) >= 3
    ns = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"README.md block {i}", "exec"), ns)
    out = capsys.readouterr().out
    assert "tf.Tensor(6.0, shape=(), dtype=float32)" in out
    assert (tmp_path / "digits.keras").exists() and (tmp_path / "digits.weights.h5").exists()
    from tapeflow import keras

    saved = keras.models.load_model(tmp_path / "digits.keras")   # the taste's trained MLP
    loss, accuracy = saved.evaluate(ns["x_test"] / 16.0, ns["y_test"], verbose=0)
    assert accuracy > 0.9
