"""``tf.data.experimental``: the constants and helpers that TF 2 code still imports from here.

>>> import tapeflow as tf
>>> int(tf.data.experimental.cardinality(tf.data.Dataset.range(4)))
4
"""

import enum

from tapeflow.data.dataset import (  # noqa
    AUTOTUNE,
    INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY,
    Dataset,
    _PassThroughDataset,
)
from tapeflow.framework.errors import FailedPreconditionError

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "AutoShardPolicy",
           "cardinality", "assert_cardinality"]


class AutoShardPolicy(enum.IntEnum):
    """How a distributed pipeline is sharded (accepted for compatibility)."""

    OFF = -1
    AUTO = 0
    FILE = 1
    DATA = 2
    HINT = 3


def cardinality(dataset):
    """``dataset.cardinality()``."""
    return dataset.cardinality()


class _AssertCardinalityDataset(_PassThroughDataset):
    def __init__(self, input_dataset, expected):
        super().__init__(input_dataset)
        self._expected = int(expected)

    def _card(self):
        return self._expected

    def _index_plan(self):
        return None

    def _elements(self):
        n = 0
        for e in self._input._elements():
            n += 1
            if 0 <= self._expected < n:
                raise FailedPreconditionError(
                    f"Input dataset was expected to contain {self._expected} elements but "
                    f"contained at least {n} elements.")
            yield e
        if n < self._expected:
            raise FailedPreconditionError(
                f"Input dataset was expected to contain {self._expected} elements but contained "
                f"only {n} elements.")


def assert_cardinality(expected_cardinality):
    """A transformation (for ``Dataset.apply``) declaring and checking the element count.

    >>> import tapeflow as tf
    >>> ds = tf.data.Dataset.range(5).filter(lambda x: x < 3)
    >>> len(ds.apply(tf.data.experimental.assert_cardinality(3)))
    3
    """
    def apply(dataset):
        if not isinstance(dataset, Dataset):
            raise TypeError(f"Expected a tf.data.Dataset, received: {dataset!r}")
        return _AssertCardinalityDataset(dataset, expected_cardinality)
    return apply
