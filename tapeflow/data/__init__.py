"""``tf.data``: input pipelines (``tf.data.Dataset``) for Python iteration and ``fit``.

>>> import tapeflow as tf
>>> ds = tf.data.Dataset.from_tensor_slices(([1.0, 2.0, 3.0], [0, 1, 0])).shuffle(3, seed=0)
>>> ds = ds.batch(2).prefetch(tf.data.AUTOTUNE)
>>> [tuple(x.shape) for x, y in ds]
[(2,), (1,)]
"""

from tapeflow.data import experimental  # noqa: F401
from tapeflow.data.dataset import (  # noqa: F401
    AUTOTUNE,
    INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY,
    Dataset,
    Iterator,
    Options,
    TextLineDataset,
)
from tapeflow.data.timeseries import timeseries_dataset_from_array  # noqa: F401

