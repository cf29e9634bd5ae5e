"""Fashion-MNIST: 70,000 grayscale 28x28 images of 10 kinds of clothing (Zalando, MIT license)."""

import gzip
import os

from tapeflow._backend import np
from tapeflow.keras.datasets._common import ORIGIN_FOLDER
from tapeflow.keras.datasets._download import get_file

# SHA-256 of each file, as Keras records them.
FILE_HASHES = {
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def _read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data(path=None):
    """Loads Fashion-MNIST, downloading its four IDX ``.gz`` files on first use.

    Args:
        path: optional folder holding the four files (``train-labels-idx1-ubyte.gz``,
            ``train-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``,
            ``t10k-images-idx3-ubyte.gz``); by default ``~/.keras/datasets/fashion-mnist``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``uint8`` images ``(60000, 28, 28)`` and
        ``(10000, 28, 28)``, ``uint8`` labels 0..9.

    >>> from tapeflow.keras.datasets import fashion_mnist
    >>> fashion_mnist.CLASS_NAMES[9]
    'Ankle boot'
    """
    subdir = os.path.join("datasets", "fashion-mnist")
    paths = []
    for fname in FILE_HASHES:
        target = fname if path is None else os.path.join(os.path.abspath(
            os.path.expanduser(os.fspath(path))), fname)
        paths.append(get_file(target, origin=ORIGIN_FOLDER + fname,
                              file_hash=FILE_HASHES[fname], cache_subdir=subdir))
    y_train = _read_idx(paths[0], 8)
    x_train = _read_idx(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(paths[2], 8)
    x_test = _read_idx(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
