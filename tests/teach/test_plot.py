"""The pictures: valid non-empty PNGs of figsize * dpi pixels; derivatives from the tape."""

import struct
import zlib

import numpy as np
import pytest

from tapeflow import plot
from tapeflow._plot_cli import main as plot_main
from tapeflow.neurons import Perceptron
from tapeflow.teach import xor

pytest.importorskip("matplotlib")     # the optional extra; it is in tapeflow[test]


def _png_header(path):
    """(width, height) from the PNG signature and IHDR chunk, checking the chunk's CRC."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    ihdr = data[16:16 + 13]
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(b"IHDR" + ihdr), "IHDR CRC mismatch"
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND", "PNG is truncated (no IEND chunk)"
    width, height = struct.unpack(">II", ihdr[:8])
    return width, height, len(data)


def _check_png(path, size):
    width, height, nbytes = _png_header(path)
    assert (width, height) == size
    assert nbytes > 1000
    assert plot.png_size(path) == size
    image = pytest.importorskip("PIL.Image")       # Pillow comes with matplotlib
    with image.open(path) as im:
        im.verify()
    with image.open(path) as im:
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.shape == (size[1], size[0])
    assert pixels.std() > 5.0, "the picture is blank"


def test_activation_derivatives_come_from_gradient_tape():
    z = np.linspace(-4, 4, 17)
    y, dy = plot.activation_derivative("sigmoid", z)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(y, s, rtol=1e-6)
    np.testing.assert_allclose(dy, s * (1 - s), rtol=1e-5, atol=1e-7)
    y, dy = plot.activation_derivative("tanh", z)
    np.testing.assert_allclose(dy, 1 - np.tanh(z) ** 2, rtol=1e-5, atol=1e-6)
    # tanh(z) = 2 sigmoid(2z) - 1
    np.testing.assert_allclose(y, 2 / (1 + np.exp(-2 * z)) - 1, atol=1e-6)
    _, dy = plot.activation_derivative("relu", [-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(dy, [0, 0, 1, 1])
    y, dy = plot.activation_derivative("step", [-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(y, [0, 1, 1])
    np.testing.assert_array_equal(dy, [0, 0, 0])


def test_plot_activations_png(tmp_path):
    path = tmp_path / "activations.png"
    fig = plot.plot_activations(path=path, figsize=(8, 3), dpi=60)
    _check_png(path, (480, 180))
    left, right = fig.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == \
        ["step", "sigmoid", "tanh", "relu"]
    # the plotted sigmoid derivative peaks at 0.25 (at z = 0)
    sig_d = [ln for ln in right.get_lines() if ln.get_label() == "sigmoid'"][0]
    assert max(sig_d.get_ydata()) == pytest.approx(0.25, abs=1e-4)


def test_plot_decision_boundary_png(tmp_path):
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 1])
    clf = Perceptron(random_state=0).fit(x, y)
    path = tmp_path / "sub" / "boundary.png"          # missing folders are created
    plot.plot_decision_boundary(clf, x, y, path=path, resolution=50, figsize=(5, 4), dpi=50)
    _check_png(path, (250, 200))


def test_decision_boundary_regions_follow_the_model():
    # a function model: class 1 right of x1 = 0.5; the filled regions have both classes
    from tapeflow.plot import _predict_labels

    grid = np.array([[0.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(_predict_labels(lambda p: (p[:, 0] > 0.5).astype(int), grid),
                                  [0, 1])
    # one sigmoid probability per point -> threshold 0.5; one column per class -> argmax
    np.testing.assert_array_equal(_predict_labels(lambda p: p[:, :1] * 0.8, grid), [0, 1])
    np.testing.assert_array_equal(
        _predict_labels(lambda p: np.stack([1 - p[:, 0], p[:, 0]], 1), grid), [0, 1])


def test_plot_history_png(tmp_path):
    logs = {"loss": [0.9, 0.5, 0.4, 0.35], "val_loss": [1.0, 0.6, 0.55, 0.5],
            "accuracy": [0.5, 0.7, 0.8, 0.85], "val_accuracy": [0.4, 0.6, 0.7, 0.75]}
    path = tmp_path / "history.png"
    fig = plot.plot_history(logs, path=path, figsize=(7, 3), dpi=40)
    _check_png(path, (280, 120))
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].get_lines()) == 2      # training and validation


def test_plot_network_png(tmp_path):
    path = tmp_path / "network.png"
    fig = plot.plot_network([2, 4, 3, 1], path=path, figsize=(6, 4), dpi=50)
    _check_png(path, (300, 200))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Input layer\n2 inputs" in texts
    assert "Hidden layer 1\n4 units" in texts and "Hidden layer 2\n3 units" in texts
    assert "Output layer\n1 unit" in texts
    assert fig.axes[0].get_title() == "MLP 2-4-3-1: 31 parameters"
    # 2*4 + 4*3 + 3*1 connections drawn
    assert len(fig.axes[0].get_lines()) == 23


def test_plot_errors():
    with pytest.raises(ValueError, match=r"x must have shape \(n_samples, 2\), got \(4, 3\)"):
        plot.plot_decision_boundary(lambda p: p[:, 0], np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"x has 4 samples but y has 3"):
        plot.plot_decision_boundary(lambda p: p[:, 0], np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"no curve named \['acc'\] in the history; it has"):
        plot.plot_history({"loss": [1.0]}, metrics=["acc"])
    with pytest.raises(ValueError, match=r"expected a History or a non-empty dict"):
        plot.plot_history({})
    with pytest.raises(ValueError, match=r"at least 2 positive ints"):
        plot.plot_network([3])
    with pytest.raises(ValueError, match=r"figsize must be \(width, height\)"):
        plot.plot_network([2, 1], figsize=(0, 3))
    with pytest.raises(ValueError, match=r"not a PNG file"):
        plot.png_size(__file__)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'tapeflow\[plot\]'"):
        plot.plot_network([2, 1])


@pytest.mark.parametrize("argv, size", [
    (["activations", "--dpi", "40"], (440, 160)),
    (["network", "--sizes", "4,8,3", "--width", "5", "--height", "3", "--dpi", "40"], (200, 120)),
    (["boundary", "--dpi", "40"], (240, 200)),
    (["boundary", "--model", "mlp", "--epochs", "20", "--dpi", "40"], (240, 200)),
    (["history", "--epochs", "5", "--dpi", "40"], (400, 160)),
])
def test_cli_writes_each_picture(tmp_path, capsys, argv, size):
    out = tmp_path / "pic.png"
    assert plot_main(argv + ["--out", str(out)]) == 0
    _check_png(out, size)
    assert f"wrote {out} ({size[0]} x {size[1]} pixels)" in capsys.readouterr().out


def test_cli_rejects_unknown_picture(capsys):
    with pytest.raises(SystemExit):
        plot_main(["pie", "--out", "x.png"])
    assert "invalid choice: 'pie'" in capsys.readouterr().err


def test_perceptron_xor_boundary_cannot_be_right():
    x, y = xor()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Perceptron(random_state=0, max_iter=20).fit(x, y)
    fig = plot.plot_decision_boundary(clf, x, y, resolution=30, figsize=(3, 3), dpi=30)
    assert fig.axes[0].get_title() == "Perceptron"


def test_plots_of_a_keras_model_and_its_history(tmp_path):
    from tapeflow import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")], name="tiny")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = xor()
    history = model.fit(x, y.astype(np.float32), epochs=3, verbose=0,
                        validation_data=(x, y.astype(np.float32)))
    plot.plot_history(history, path=tmp_path / "h.png", figsize=(4, 3), dpi=50)
    _check_png(tmp_path / "h.png", (200, 150))
    fig = plot.plot_network(model, path=tmp_path / "n.png", figsize=(4, 3), dpi=50)
    _check_png(tmp_path / "n.png", (200, 150))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Hidden layer 1\n6 units\ntanh" in texts and "Output layer\n1 unit\nsigmoid" in texts
    assert fig.axes[0].get_title() == f"tiny: {model.count_params()} parameters"
    fig = plot.plot_decision_boundary(model, x, y, path=tmp_path / "b.png", resolution=40,
                                      figsize=(4, 3), dpi=50)
    _check_png(tmp_path / "b.png", (200, 150))


def test_activation_plot_labels_axes_and_draws_jumps_as_jumps():
    fig = plot.plot_activations(figsize=(6, 3), dpi=30)
    left, right = fig.axes
    assert left.get_ylabel() == "h = f(z)" and right.get_ylabel() == "f'(z) = dh/dz"
    assert left.get_xlabel().startswith("z") and right.get_xlabel().startswith("z")
    lines = {ln.get_label(): ln for ln in left.get_lines() + right.get_lines()}

    def values(name):
        x = np.asarray(lines[name].get_xdata(), dtype=np.float64)
        y = np.asarray(lines[name].get_ydata(), dtype=np.float64)
        return x, y

    # the step and ReLU' jumps at 0 are gaps (one NaN), not steep lines
    for name in ("step", "relu'"):
        x, y = values(name)
        gaps = np.flatnonzero(np.isnan(y))
        assert len(gaps) == 1 and abs(x[gaps[0]]) < 0.05, name
    x, y = values("step'")
    assert np.all(y[~np.isnan(y)] == 0.0)                 # no gradient flows through a step
    x, y = values("relu'")
    np.testing.assert_array_equal(np.unique(y[~np.isnan(y)]), [0.0, 1.0])
    assert np.all(y[x < -0.05] == 0) and np.all(y[x > 0.05] == 1)
    x, y = values("tanh'")
    assert y.max() == pytest.approx(1.0, abs=1e-6) and abs(x[np.argmax(y)]) < 1e-9
    x, y = values("sigmoid'")
    assert abs(x[np.argmax(y)]) < 1e-9
    x, y = values("sigmoid")                              # smooth curves have no gaps
    assert not np.isnan(y).any()


def test_history_puts_the_loss_first_and_labels_the_axes():
    # Keras 3's History lists "accuracy" before "loss"
    logs = {"accuracy": [0.5, 0.9], "loss": [0.7, 0.2], "val_accuracy": [0.4, 0.8],
            "val_loss": [0.8, 0.3]}
    fig = plot.plot_history(logs, figsize=(4, 2), dpi=20)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert [ax.get_xlabel() for ax in fig.axes] == ["epoch", "epoch"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == \
        ["training loss", "validation loss"]


def test_decision_boundary_legend_names_the_classes():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    fig = plot.plot_decision_boundary(lambda p: (p.sum(1) > 0.5).astype(int), x, [0, 1, 1, 1],
                                      resolution=10, figsize=(3, 3), dpi=20)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")


def test_plot_network_activations_for_a_list_of_sizes():
    fig = plot.plot_network([64, 128, 10], activations=["relu", "softmax"], figsize=(4, 3),
                            dpi=20)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Input layer\n64 inputs" in texts
    assert "Hidden layer 1\n128 units\nrelu" in texts
    assert "Output layer\n10 units\nsoftmax" in texts
    assert texts.count("\u22ee") == 3                 # every layer is wider than 8 units
    with pytest.raises(ValueError, match=r"one activation per layer after the input \(2 for "
                                         r"sizes \[64, 128, 10\]\), got \['relu'\]"):
        plot.plot_network([64, 128, 10], activations=["relu"])


def test_cli_network_defaults_to_the_demo_mlp_with_its_activations(tmp_path, monkeypatch):
    seen = {}
    real = plot.plot_network

    def spy(model, **kw):
        seen["model"], seen["activations"] = model, kw.get("activations")
        return real(model, **kw)

    monkeypatch.setattr(plot, "plot_network", spy)
    assert plot_main(["network", "--dpi", "20", "--out", str(tmp_path / "n.png")]) == 0
    assert seen == {"model": [64, 128, 10], "activations": ["relu", "softmax"]}
    assert plot_main(["network", "--sizes", "2,3,1", "--activations", "tanh,sigmoid", "--dpi",
                      "20", "--out", str(tmp_path / "m.png")]) == 0
    assert seen == {"model": [2, 3, 1], "activations": ["tanh", "sigmoid"]}
    with pytest.raises(SystemExit, match=r"--activations needs one name per layer"):
        plot_main(["network", "--sizes", "2,3,1", "--activations", "relu", "--out",
                   str(tmp_path / "x.png")])


@pytest.mark.parametrize("offset", [0, 5, -1])
def test_decision_regions_of_a_perceptron_match_its_labels(offset):
    # labels 0/1, 5/6 or -1/0 (and -1/1 below): each region is coloured like its class's points
    from tapeflow.keras.datasets import iris

    features, species, _ = iris.load_data()
    x = features[:, 2:4]
    y = (species == 0).astype(int) + offset
    for labels in (y, np.where(species == 0, 1, -1)):
        clf = Perceptron().fit(x, labels)
        fig = plot.plot_decision_boundary(clf, x, labels, resolution=40, figsize=(3, 3), dpi=20)
        ax = fig.axes[0]
        filled = ax.collections[0]
        # the filled regions' values are class indices 0 and 1, never a raw label
        levels = np.asarray(filled.levels)
        np.testing.assert_array_equal(levels, [-0.5, 0.5, 1.5])
        # ... and both regions are drawn (a label of -1 once fell outside the levels)
        assert [len(path.vertices) > 0 for path in filled.get_paths()] == [True, True]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == \
            [f"class {v}" for v in np.unique(labels)]
        # the region under each point has its class index (here: accuracy 1)
        from tapeflow.plot import _predict_labels

        idx = np.searchsorted(clf.classes_, _predict_labels(clf, x.astype(np.float32)))
        np.testing.assert_array_equal(idx, np.searchsorted(np.unique(labels), labels))


def test_steep_smooth_curves_are_not_broken_into_pieces():
    from tapeflow.plot import _break_jumps

    z = np.linspace(-5, 5, 401)
    for f in (np.exp(z), 3 * np.tanh(20 * z), np.maximum(0, z)):
        zz, vv = _break_jumps(z, f)
        assert not np.isnan(vv).any() and len(zz) == len(z)
    for f, at in ((np.where(z >= 0, 1.0, 0.0), 0.0), (np.where(z > 1, 1.0, 0.2), 1.0)):
        zz, vv = _break_jumps(z, f)
        gaps = np.flatnonzero(np.isnan(vv))
        assert len(gaps) == 1 and abs(zz[gaps[0]] - at) < 0.03
    fig = plot.plot_activations(["exponential", "selu"], figsize=(4, 2), dpi=20)
    left, right = fig.axes
    assert not np.isnan(np.asarray(left.get_lines()[0].get_ydata(), float)).any()
    # selu' jumps at 0 (from 1.0507 * 1.6733 to 1.0507)
    assert np.isnan(np.asarray(right.get_lines()[1].get_ydata(), float)).sum() == 1
