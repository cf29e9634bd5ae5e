"""Fisher's iris data (150 flowers, 4 measurements in cm, 3 species), bundled with tapeflow."""

import os

from tapeflow._backend import np

_PATH = os.path.join(os.path.dirname(__file__), "_data", "iris.csv")

CLASS_NAMES = ("setosa", "versicolor", "virginica")
FEATURE_NAMES = ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")


def load_data():
    """Loads the bundled iris data in the file's row order.

    Returns:
        ``(x, y, class_names)``: features ``float32`` of shape ``(150, 4)`` (sepal length, sepal
        width, petal length, petal width, in cm), labels ``int32`` of shape ``(150,)`` with values
        0..2, and the species names indexed by label.

    >>> from tapeflow.keras.datasets import iris
    >>> x, y, class_names = iris.load_data()
    >>> x.shape, x.dtype.name, y.dtype.name, class_names[int(y[-1])]
    ((150, 4), 'float32', 'int32', 'virginica')
    """
    with open(_PATH, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    if tuple(header[:4]) != FEATURE_NAMES:
        raise ValueError(f"Unexpected iris.csv header: {header}")
    x = np.array([[float(v) for v in r[:4]] for r in rows], dtype=np.float32)
    index = {name: i for i, name in enumerate(CLASS_NAMES)}
    y = np.array([index[r[4]] for r in rows], dtype=np.int32)
    return x, y, list(CLASS_NAMES)
