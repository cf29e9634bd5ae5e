"""California housing prices: 20,640 census block groups with 8 features (StatLib)."""

from tapeflow._backend import np
from tapeflow.keras.datasets._common import ORIGIN_FOLDER
from tapeflow.keras.datasets._download import get_file
from tapeflow.keras.datasets._split import seeded_split

FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"  # SHA-256


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Loads the California housing data, downloading ``california_housing.npz`` on first use.

    Args:
        version: ``"large"`` (20,640 samples) or ``"small"`` (the first 600).
        path: file name in the cache folder, or your own copy of the file.
        test_split: fraction kept for the test set, in [0, 1).
        seed: seed of the shuffle before the split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``(n, 8)`` features (MedInc, HouseAge,
        AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude) and median house values
        in dollars.

    >>> from tapeflow.keras.datasets import california_housing
    >>> california_housing.load_data(version="medium")
    Traceback (most recent call last):
    ...
    ValueError: Argument `version` must be one of 'small', 'large'. Received: version=medium
    """
    if not (0 <= test_split < 1):
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         f"and 1 (exclusive of 1).")
    if version not in ("small", "large"):
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: "
                         f"version={version}")
    path = get_file(path, origin=ORIGIN_FOLDER + "california_housing.npz", file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return seeded_split(x, y, test_split, seed)
