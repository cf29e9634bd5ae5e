"""Boston housing prices (506 areas, 13 attributes, StatLib). Keras warns that the "B" attribute
raises an ethical problem; prefer ``california_housing`` except to discuss that problem."""

from tapeflow._backend import np
from tapeflow.keras.datasets._common import ORIGIN_FOLDER
from tapeflow.keras.datasets._download import get_file
from tapeflow.keras.datasets._split import check_split, seeded_split

FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"  # SHA-256


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Loads the Boston housing data, downloading ``boston_housing.npz`` on first use.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``(n, 13)`` float attributes and median
        prices in k$, split after a ``RandomState(seed)`` shuffle.

    >>> from tapeflow.keras.datasets import boston_housing
    >>> boston_housing.load_data(test_split=1.0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid `test_split` argument: 1.0. It must be between 0 and 1 (exclusive of 1).
    """
    check_split(test_split)
    path = get_file(path, origin=ORIGIN_FOLDER + "boston_housing.npz", file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return seeded_split(x, y, test_split, seed)
