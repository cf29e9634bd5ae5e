"""examples/linear_classifier.py runs as a script and reaches at least 0.95 accuracy."""

import pathlib
import re
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "linear_classifier.py"


def test_script_reaches_accuracy():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    accuracy = float(re.search(r"accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95, out
    assert out.count("loss") == 5  # steps 0, 10, 20, 30 and 39 of the 40


def test_training_lowers_the_loss_and_matches_least_squares():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import linear_classifier as lc
    finally:
        sys.path.pop(0)
    w, b, accuracy, losses = lc.train(verbose=False)
    assert len(losses) == 40 and losses[-1] < losses[0] / 5
    assert accuracy >= 0.95
    # 40 steps of gradient descent land close to the closed-form least-squares fit
    x, y = lc.make_data()
    a = np.hstack([x, np.ones((len(x), 1))])
    coef = np.linalg.lstsq(a, y, rcond=None)[0].ravel()
    np.testing.assert_allclose(np.r_[w.numpy().ravel(), b.numpy()], coef, atol=0.02)
