"""The bundled handwritten digits (8x8 images, values 0-16), the offline data set of tapeflow.

The data is the test part of UCI's "Optical Recognition of Handwritten Digits" (Alpaydin and
Kaynak, 1998, CC BY 4.0): 1,797 images, shipped inside the package so that demos, examples and
tests need no network.
"""

import os

from tapeflow.keras.datasets._split import seeded_split

_PATH = os.path.join(os.path.dirname(__file__), "_data", "digits.npz")


def load_data(test_split=0.2, seed=113):
    """Loads the bundled 8x8 digits, split into train and test sets with a seeded shuffle.

    Args:
        test_split: fraction of the 1,797 images kept for the test set, in [0, 1).
        seed: seed of the shuffle before the split (the same seed gives the same split).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images ``uint8`` of shape ``(n, 8, 8)`` with
        values 0..16 and labels ``uint8`` of shape ``(n,)`` with values 0..9.

    >>> from tapeflow.keras.datasets import digits
    >>> (x_train, y_train), (x_test, y_test) = digits.load_data()
    >>> x_train.shape, y_train.shape, x_test.shape, x_train.dtype.name
    ((1437, 8, 8), (1437,), (360, 8, 8), 'uint8')
    """
    from tapeflow._backend import np

    with np.load(_PATH) as f:
        images, labels = f["images"], f["labels"]
    return seeded_split(images, labels, test_split, seed)
