"""MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28 pixels."""

from tapeflow._backend import np
from tapeflow.keras.datasets._common import ORIGIN_FOLDER
from tapeflow.keras.datasets._download import get_file

FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # SHA-256


def load_data(path="mnist.npz"):
    """Loads MNIST, downloading ``mnist.npz`` into the cache folder on first use.

    Args:
        path: file name in ``~/.keras/datasets`` (or ``$KERAS_HOME/datasets``), or the path of
            a copy of ``mnist.npz`` of your own.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``uint8`` images of shape ``(60000, 28, 28)``
        and ``(10000, 28, 28)`` with values 0..255, and ``uint8`` labels 0..9.

    >>> from tapeflow.keras.datasets import mnist
    >>> callable(mnist.load_data)
    True
    """
    path = get_file(path, origin=ORIGIN_FOLDER + "mnist.npz", file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
