"""Seeded train/test split shared by the loaders that ship as one array (Keras's boston_housing
recipe: a ``RandomState(seed)`` permutation, the first ``1 - test_split`` part for training)."""

from tapeflow._backend import np


def check_split(test_split, name="test_split"):
    """Raises ValueError unless ``0 <= test_split < 1``."""
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not (
            0 <= test_split < 1):
        raise ValueError(f"Invalid `{name}` argument: {test_split!r}. It must be between 0 and 1 "
                         f"(exclusive of 1).")  # Keras 3.15's message


def seeded_split(x, y, test_split, seed):
    """Shuffles ``x`` and ``y`` with ``RandomState(seed)`` and splits off the last part."""
    check_split(test_split)
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
