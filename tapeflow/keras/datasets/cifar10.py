"""CIFAR-10: 60,000 color 32x32 images in 10 classes (Krizhevsky, 2009)."""

import os

from tapeflow._backend import np
from tapeflow.keras.datasets._cifar import batches_folder, load_batch
from tapeflow.keras.datasets._common import channels_last

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # SHA-256
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def load_data(path=None):
    """Loads CIFAR-10, downloading ``cifar-10-python.tar.gz`` (163 MB) on first use.

    Args:
        path: optional copy of ``cifar-10-python.tar.gz``, or a folder holding its extracted
            ``cifar-10-batches-py``; by default the archive is kept in ``~/.keras/datasets``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``uint8`` images ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)`` (channels first if ``keras.backend.image_data_format()`` says so),
        ``uint8`` labels of shape ``(n, 1)`` with values 0..9.

    >>> from tapeflow.keras.datasets import cifar10
    >>> cifar10.CLASS_NAMES[0]
    'airplane'
    """
    folder = batches_folder(path, "cifar-10-python.tar.gz", ORIGIN, FILE_HASH,
                            "cifar-10-batches-py", _FILES)
    parts = [load_batch(os.path.join(folder, f)) for f in _FILES[:5]]
    x_train = np.concatenate([p[0] for p in parts]).astype(np.uint8, copy=False)
    y_train = np.concatenate([np.asarray(p[1]) for p in parts]).astype(np.uint8)
    x_test, y_test = load_batch(os.path.join(folder, "test_batch"))
    y_train = y_train.reshape(len(y_train), 1)
    y_test = np.reshape(y_test, (len(y_test), 1)).astype(np.uint8)
    if channels_last():
        x_train = x_train.transpose(0, 2, 3, 1)
        x_test = x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test.astype(np.uint8, copy=False), y_test)
