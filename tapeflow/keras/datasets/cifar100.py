"""CIFAR-100: 60,000 color 32x32 images in 100 fine classes grouped in 20 coarse ones."""

import os

from tapeflow._backend import np
from tapeflow.keras.datasets._cifar import batches_folder, load_batch
from tapeflow.keras.datasets._common import channels_last

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # SHA-256


def load_data(label_mode="fine", path=None):
    """Loads CIFAR-100, downloading ``cifar-100-python.tar.gz`` (161 MB) on first use.

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).
        path: optional copy of ``cifar-100-python.tar.gz``, or a folder holding its extracted
            ``cifar-100-python``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``uint8`` images ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)``, integer labels of shape ``(n, 1)`` (as Keras returns them).

    >>> from tapeflow.keras.datasets import cifar100
    >>> cifar100.load_data(label_mode="medium")
    Traceback (most recent call last):
    ...
    ValueError: `label_mode` must be one of `"fine"`, `"coarse"`. Received: label_mode=medium.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'`label_mode` must be one of `"fine"`, `"coarse"`. Received: '
                         f"label_mode={label_mode}.")
    folder = batches_folder(path, "cifar-100-python.tar.gz", ORIGIN, FILE_HASH,
                            "cifar-100-python", ("train", "test"))
    key = label_mode + "_labels"
    x_train, y_train = load_batch(os.path.join(folder, "train"), label_key=key)
    x_test, y_test = load_batch(os.path.join(folder, "test"), label_key=key)
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    if channels_last():
        x_train = x_train.transpose(0, 2, 3, 1)
        x_test = x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)
