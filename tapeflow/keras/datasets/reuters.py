"""Reuters newswires (11,228) labeled over 46 topics, as word-index lists."""

import json

from tapeflow._backend import np
from tapeflow.keras.datasets import _common as c
from tapeflow.keras.datasets._download import get_file
from tapeflow.keras.datasets._safe_pickle import load_npz
from tapeflow.keras.datasets._split import check_split
from tapeflow.keras.datasets.imdb import _object_array

FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # SHA-256
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # MD5, as Keras records it
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """Loads the Reuters newswires, downloading ``reuters.npz`` on first use.

    The arguments are those of ``imdb.load_data`` plus ``test_split``, the fraction of the
    shuffled newswires kept for the test set.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: object arrays of word-index lists and int
        topic labels 0..45.

    >>> from tapeflow.keras.datasets import reuters
    >>> reuters.get_label_names()[:3]
    ('cocoa', 'grain', 'veg-oil')
    """
    check_split(test_split)
    path = get_file(path, origin=c.ORIGIN_FOLDER + "reuters.npz", file_hash=FILE_HASH)
    f = load_npz(path)
    xs, labels = f["x"], f["y"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    xs = c.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = c.remove_long(maxlen, xs, labels)
    xs = c.limit_vocabulary(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    return ((_object_array(xs[:idx]), np.array(labels[:idx])),
            (_object_array(xs[idx:]), np.array(labels[idx:])))


def get_word_index(path="reuters_word_index.json"):
    """The dict mapping each word to its frequency rank (indices in the data are shifted by 3).

    >>> from tapeflow.keras.datasets import reuters
    >>> callable(reuters.get_word_index)
    True
    """
    path = get_file(path, origin=c.ORIGIN_FOLDER + "reuters_word_index.json",
                    file_hash=WORD_INDEX_HASH)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, indexed by label."""
    return LABEL_NAMES
