"""keras.datasets word-sequence loaders against Keras 3.15: the expected sequences were recorded
by loading the same small files with Keras 3.15's ``imdb``/``reuters.load_data``."""

import hashlib

import numpy as np
import pytest

from tapeflow.keras.datasets import boston_housing, imdb, reuters

SEQS = [[23, 8, 26, 29, 14, 12], [7, 3, 13, 11, 21, 5], [5, 4, 27, 28, 10, 20, 7, 2, 7],
        [24, 29, 25, 25, 17, 1, 22, 14, 24, 18], [26, 17, 15, 8], [4],
        [2, 28, 2, 15, 12, 2, 28, 25, 19, 22, 15], [25, 1, 9, 13, 19, 9, 17, 4, 19, 22, 22],
        [3, 2, 14, 4], [24, 25], [4, 7, 27, 21, 7, 4, 16], [18, 19, 7, 1, 5, 15, 22, 22],
        [22, 15, 21, 2, 26, 24, 22], [27, 16, 13, 16, 1, 27, 6, 27, 9, 16]]


def _objects(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


def _write(tmp_path, monkeypatch, module, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    monkeypatch.setattr(module, "FILE_HASH", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    return str(path)


def _check(result, expected):
    (xt, yt), (xv, yv) = result
    for x, want in ((xt, expected[0]), (xv, expected[2])):
        assert x.dtype == object and all(type(s) is list for s in x)
        assert [list(map(int, s)) for s in x] == want
    assert yt.tolist() == expected[1] and yv.tolist() == expected[3]
    assert yt.dtype == np.int64 and yv.dtype == np.int64


def test_imdb_matches_keras(tmp_path, monkeypatch):
    path = _write(tmp_path, monkeypatch, imdb, "imdb.npz", x_train=_objects(SEQS[:8]),
                  y_train=np.array([0, 0, 0, 0, 1, 0, 0, 0]), x_test=_objects(SEQS[8:]),
                  y_test=np.array([0, 1, 1, 1, 1, 0]))
    _check(imdb.load_data(path=path, num_words=15, skip_top=3, maxlen=10, seed=1), [
        [[2, 10, 6, 2, 14, 2, 8], [2, 2, 11, 2, 2, 2, 2], [2, 2, 2, 2, 11], [2, 7]],
        [0, 0, 1, 0],
        [[2, 7, 10, 2, 2, 10, 7, 2], [2, 2, 2, 10, 4, 8, 2, 2, 2], [2, 2, 2],
         [2, 2, 2, 2, 5, 2, 2, 2], [2, 6, 5, 2, 7]],
        [1, 1, 1, 1, 0]])
    _check(imdb.load_data(path=path, num_words=15, oov_char=None, start_char=None,
                          index_from=0), [
        [[7, 3, 13, 11, 5], [1, 14], [2, 2, 12, 2], [8, 14, 12], [1, 9, 13, 9, 4],
         [5, 4, 10, 7, 2, 7], [8], [4]],
        [0, 0, 0, 0, 0, 0, 1, 0],
        [[4, 7, 7, 4], [7, 1, 5], [2], [], [3, 2, 14, 4], [13, 1, 6, 9]],
        [1, 1, 1, 1, 0, 0]])


def test_reuters_matches_keras(tmp_path, monkeypatch):
    path = _write(tmp_path, monkeypatch, reuters, "reuters.npz", x=_objects(SEQS),
                  y=np.array([39, 1, 17, 5, 32, 27, 39, 29, 6, 40, 9, 43, 29, 13]))
    _check(reuters.load_data(path=path, num_words=12, skip_top=2, maxlen=9, test_split=0.3,
                             seed=5), [
        [[2, 7], [2, 10, 6, 2, 2, 2, 8], [2, 7, 10, 2, 2, 10, 7, 2], [2, 2, 2, 2, 11],
         [2, 6, 5, 2, 7]],
        [27, 1, 9, 32, 6],
        [[2, 2, 2], [2, 2, 11, 2, 2, 2, 2], [2, 2, 2, 2, 5, 2, 2, 2]],
        [40, 39, 29]])


def test_test_split_error_uses_keras_message():
    with pytest.raises(ValueError, match=r"Invalid `test_split` argument: 1.0. It must be "
                                         r"between 0 and 1 \(exclusive of 1\)."):
        boston_housing.load_data(test_split=1.0)
