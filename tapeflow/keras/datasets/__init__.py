"""Keras's ready-made data sets (``keras.datasets.mnist.load_data()`` and the others), plus the
bundled offline sets ``digits`` and ``iris``.

The downloaded sets are cached in ``~/.keras/datasets`` (or ``$KERAS_HOME/datasets``) and
checked against their known SHA-256/MD5 before use.

>>> from tapeflow.keras import datasets
>>> (x_train, y_train), _ = datasets.digits.load_data()
>>> int(x_train.max())
16
"""

from tapeflow.keras.datasets import (  # noqa: F401
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    imdb,
    iris,
    mnist,
    reuters,
)
