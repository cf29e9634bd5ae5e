"""The layer examples run end to end and reach their stated accuracy."""

import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cnn_digits_reaches_097():
    acc = _load("cnn_digits").main(["--epochs", "30"])
    assert acc >= 0.97


def test_text_lstm_learns_order_bag_of_words_cannot():
    res = _load("text_lstm").main(["--epochs", "12"])
    assert res["lstm"] >= 0.9
    assert res["bow"] <= 0.65
