"""IMDB movie reviews (25,000 train, 25,000 test) labeled by sentiment, as word-index lists."""

import json

from tapeflow._backend import np
from tapeflow.keras.datasets import _common as c
from tapeflow.keras.datasets._download import get_file
from tapeflow.keras.datasets._safe_pickle import load_npz

FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # SHA-256
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # MD5, as Keras records it


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3, **kwargs):
    """Loads the IMDB reviews, downloading ``imdb.npz`` on first use.

    Words are indexed by frequency (3 is the 3rd most frequent word, shifted by ``index_from``);
    0 is padding, ``start_char`` marks the start and ``oov_char`` replaces the words cut by
    ``num_words`` or ``skip_top``.

    Args:
        path: file name in the cache folder, or your own copy of ``imdb.npz``.
        num_words: keep the ``num_words`` most frequent words (others become ``oov_char``).
        skip_top: also replace the ``skip_top`` most frequent words.
        maxlen: drop the reviews of ``maxlen`` words or more.
        seed: seed of the shuffle of each split.
        start_char, oov_char, index_from: see above.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: object arrays of word-index lists and int
        label arrays (1 positive, 0 negative).

    >>> from tapeflow.keras.datasets import imdb
    >>> imdb.load_data(bad=1)
    Traceback (most recent call last):
    ...
    TypeError: load_data() got unrecognized keyword arguments: ['bad']
    """
    c.check_no_kwargs(kwargs, "load_data")
    path = get_file(path, origin=c.ORIGIN_FOLDER + "imdb.npz", file_hash=FILE_HASH)
    f = load_npz(path)
    x_train, labels_train = f["x_train"], f["y_train"]
    x_test, labels_test = f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]

    x_train = c.shift(x_train, start_char, index_from)
    x_test = c.shift(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = c.remove_long(maxlen, x_train, labels_train)
        x_test, labels_test = c.remove_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                             f"sequence was kept. Increase maxlen.")
    xs = c.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return ((_object_array(xs[:idx]), labels[:idx]), (_object_array(xs[idx:]), labels[idx:]))


def _object_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


def get_word_index(path="imdb_word_index.json"):
    """The dict mapping each word to its frequency rank (add ``index_from`` to match
    ``load_data``'s indices).

    >>> from tapeflow.keras.datasets import imdb
    >>> callable(imdb.get_word_index)
    True
    """
    path = get_file(path, origin=c.ORIGIN_FOLDER + "imdb_word_index.json",
                    file_hash=WORD_INDEX_HASH)
    with open(path, encoding="utf-8") as f:
        return json.load(f)
