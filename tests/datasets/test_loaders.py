"""keras.datasets loaders on small files written in each data set's real format.

Downloads go through a fake ``fetch`` (or a local HTTP server on 127.0.0.1); each test points
KERAS_HOME at a temporary folder and the loader's known hash at the hash of the small file.
"""

import gzip
import hashlib
import http.server
import io
import os
import pickle
import socket
import tarfile
import threading
import time
import warnings

import numpy as np
import pytest

from tapeflow.keras.datasets import (
    _download,
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from tapeflow.keras.datasets._safe_pickle import load_npz, load_pickle


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def obj_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A fake network: ``server.files[url] = bytes``; records the URLs fetched."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    class Fake:
        files = {}
        calls = []

        def fetch(self, url, dest):
            self.calls.append(url)
            if url not in self.files:
                raise OSError("network is unreachable")
            dest.write(self.files[url])

    fake = Fake()
    fake.files, fake.calls = {}, []
    monkeypatch.setattr(_download, "fetch", fake.fetch)
    return fake


def cache(tmp_path, *parts):
    return tmp_path.joinpath("keras_home", "datasets", *parts)


# ---- mnist and the cache behaviour --------------------------------------------------------------

def mnist_file():
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "y_train": np.arange(5, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "y_test": np.array([7, 8], np.uint8)}
    return arrays, npz_bytes(**arrays)


URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def test_mnist_download_cache_and_parse(server, tmp_path, monkeypatch):
    arrays, data = mnist_file()
    server.files[URL + "mnist.npz"] = data
    monkeypatch.setattr(mnist, "FILE_HASH", sha256(data))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert x_train.dtype == np.uint8 and y_test.tolist() == [7, 8] and x_test.shape == (2, 28, 28)
    assert server.calls == [URL + "mnist.npz"]
    assert cache(tmp_path, "mnist.npz").read_bytes() == data
    mnist.load_data()  # from the cache: no new download
    assert len(server.calls) == 1


def test_corrupt_cached_file_is_reported_removed_and_downloaded_again(server, tmp_path,
                                                                       monkeypatch):
    arrays, data = mnist_file()
    server.files[URL + "mnist.npz"] = data
    monkeypatch.setattr(mnist, "FILE_HASH", sha256(data))
    target = cache(tmp_path, "mnist.npz")
    target.parent.mkdir(parents=True)
    target.write_bytes(data[: len(data) // 2])  # a partial earlier download
    with pytest.warns(UserWarning, match="corrupted file detected.*removed from the cache"):
        (x_train, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert target.read_bytes() == data and len(server.calls) == 1


def test_corrupt_download_is_detected_and_not_kept(server, tmp_path, monkeypatch):
    _, data = mnist_file()
    server.files[URL + "mnist.npz"] = data[:-10]  # truncated in transit
    monkeypatch.setattr(mnist, "FILE_HASH", sha256(data))
    with pytest.raises(ValueError, match=r"Incomplete or corrupted file.*sha256.*removed"):
        mnist.load_data()
    assert os.listdir(cache(tmp_path)) == []


def test_offline_error_names_file_and_place(server, tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(_download.DownloadError) as info:
        mnist.load_data()
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert URL + "mnist.npz" in msg and str(cache(tmp_path, "mnist.npz")) in msg
    assert "no network" in msg and "`path`" in msg


def test_local_path_is_used_and_checked(server, tmp_path, monkeypatch):
    arrays, data = mnist_file()
    own = tmp_path / "own" / "my_mnist.npz"
    own.parent.mkdir()
    own.write_bytes(data)
    monkeypatch.setattr(mnist, "FILE_HASH", sha256(data))
    (x_train, _), _ = mnist.load_data(path=str(own))
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert server.calls == []
    own.write_bytes(data[:100])
    with pytest.raises(ValueError, match="does not match the expected value"):
        mnist.load_data(path=str(own))
    assert own.exists()  # the user's own file is never deleted


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


def test_real_fetch_from_local_server_and_refused_connection(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _Handler.payload = b"hello data"
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/f.bin"
        path = _download.get_file("f.bin", url, file_hash=sha256(b"hello data"))
        assert open(path, "rb").read() == b"hello data"
        with pytest.raises(ValueError, match="corrupted"):
            _download.get_file("g.bin", url, file_hash=sha256(b"other"))
        assert not os.path.exists(os.path.join(os.path.dirname(path), "g.bin"))
    finally:
        srv.shutdown()
        srv.server_close()
    with socket.socket() as s:  # a port with nothing listening: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(_download.DownloadError, match="place it at"):
        _download.get_file("h.bin", f"http://127.0.0.1:{port}/h.bin")


def test_md5_hashes_are_recognised(server, tmp_path, monkeypatch):
    data = b'{"the": 1, "movie": 2}'
    server.files[URL + "imdb_word_index.json"] = data
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", hashlib.md5(data).hexdigest())
    assert imdb.get_word_index() == {"the": 1, "movie": 2}


# ---- fashion mnist: gzipped IDX files ---------------------------------------------------------

def idx(data, dims, label):
    header = (b"\x00\x00\x08" + bytes([len(dims)]) +
              b"".join(int(d).to_bytes(4, "big") for d in dims))
    return gzip.compress(header + data.tobytes())


def test_fashion_mnist(server, tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x_tr = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    x_te = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    files = {"train-labels-idx1-ubyte.gz": idx(np.array([1, 2, 3], np.uint8), [3], True),
             "train-images-idx3-ubyte.gz": idx(x_tr, [3, 28, 28], False),
             "t10k-labels-idx1-ubyte.gz": idx(np.array([9, 0], np.uint8), [2], True),
             "t10k-images-idx3-ubyte.gz": idx(x_te, [2, 28, 28], False)}
    for name, data in files.items():
        server.files[URL + name] = data
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", {k: sha256(v) for k, v in files.items()})
    (a, b), (c, d) = fashion_mnist.load_data()
    np.testing.assert_array_equal(a, x_tr)
    np.testing.assert_array_equal(c, x_te)
    assert b.tolist() == [1, 2, 3] and d.tolist() == [9, 0] and a.dtype == np.uint8
    assert sorted(os.listdir(cache(tmp_path, "fashion-mnist"))) == sorted(files)


# ---- CIFAR: tar.gz of pickled batch dicts -----------------------------------------------------

def cifar_batch(n, label_keys, seed):
    rng = np.random.default_rng(seed)
    d = {b"batch_label": b"training batch", b"data": rng.integers(0, 256, (n, 3072),
                                                                   dtype=np.uint8),
         b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    for key in label_keys:
        d[key.encode()] = [int(v) for v in rng.integers(0, 10, n)]
    return d


def tar_gz(folder, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, obj in members.items():
            data = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cifar10(server, tmp_path, monkeypatch):
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {name: cifar_batch(2, ["labels"], i) for i, name in enumerate(names)}
    archive = tar_gz("cifar-10-batches-py", batches)
    server.files[cifar10.ORIGIN] = archive
    monkeypatch.setattr(cifar10, "FILE_HASH", sha256(archive))
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8 and y_test.dtype == np.uint8
    raw = batches["data_batch_2"][b"data"][1]
    np.testing.assert_array_equal(x_train[3], raw.reshape(3, 32, 32).transpose(1, 2, 0))
    assert y_test[:, 0].tolist() == batches["test_batch"][b"labels"]
    assert cache(tmp_path, "cifar-10-batches-py", "test_batch").exists()
    cifar10.load_data()  # extracted batches are reused
    assert len(server.calls) == 1
    # a local copy of the archive, or the extracted folder, given as path
    own = tmp_path / "cifar-10-python.tar.gz"
    own.write_bytes(archive)
    assert cifar10.load_data(path=str(own))[0][0].shape == (10, 32, 32, 3)
    folder = cache(tmp_path, "cifar-10-batches-py")
    assert cifar10.load_data(path=str(folder))[1][0].shape == (2, 32, 32, 3)


def test_cifar100_label_modes(server, tmp_path, monkeypatch):
    batches = {"train": cifar_batch(4, ["fine_labels", "coarse_labels"], 0),
               "test": cifar_batch(2, ["fine_labels", "coarse_labels"], 1)}
    archive = tar_gz("cifar-100-python", batches)
    server.files[cifar100.ORIGIN] = archive
    monkeypatch.setattr(cifar100, "FILE_HASH", sha256(archive))
    (x, y_fine), _ = cifar100.load_data()
    (_, y_coarse), _ = cifar100.load_data(label_mode="coarse")
    assert x.shape == (4, 32, 32, 3) and y_fine.shape == (4, 1)
    assert y_fine[:, 0].tolist() == batches["train"][b"fine_labels"]
    assert y_coarse[:, 0].tolist() == batches["train"][b"coarse_labels"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(server, tmp_path, monkeypatch):
    batch = cifar_batch(1, ["labels"], 0)
    batch[b"labels"] = _Evil()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    archive = tar_gz("cifar-10-batches-py", {n: batch for n in names})
    server.files[cifar10.ORIGIN] = archive
    monkeypatch.setattr(cifar10, "FILE_HASH", sha256(archive))
    with pytest.raises(pickle.UnpicklingError, match="Refusing to load `(posix|os).system`"):
        cifar10.load_data()
    # object arrays are refused in CIFAR batches, allowed (lists of ints only) in npz sequences
    with pytest.raises(pickle.UnpicklingError, match="objects"):
        load_pickle(io.BytesIO(pickle.dumps(obj_array([[1]]), protocol=2)))
    path = tmp_path / "evil.npz"
    np.savez(path, x=obj_array([[1, 2], _Evil()]))
    with pytest.raises(pickle.UnpicklingError, match="Refusing"):
        load_npz(path)


def test_tar_outside_paths_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "a.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="points outside"):
        _download.extract_tar(str(tmp_path / "a.tar.gz"), str(tmp_path / "out"))
    assert not (tmp_path / "escape.txt").exists()


# ---- IMDB and Reuters: npz of ragged object arrays --------------------------------------------

def _keras_reference(xs, start_char=1, index_from=3, num_words=None, skip_top=0, oov_char=2):
    xs = [[start_char] + [w + index_from for w in x] for x in xs]
    if not num_words:
        num_words = max(max(x) for x in xs)
    return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]


def test_imdb(server, tmp_path, monkeypatch):
    x_train = [[1, 5, 2], [3, 3], [7, 1, 1, 1], [2]]
    x_test = [[4, 4, 4, 4, 4], [1]]
    data = npz_bytes(x_train=obj_array(x_train), y_train=np.array([1, 0, 1, 0]),
                     x_test=obj_array(x_test), y_test=np.array([0, 1]))
    server.files[URL + "imdb.npz"] = data
    monkeypatch.setattr(imdb, "FILE_HASH", sha256(data))
    (xt, yt), (xs, ys) = imdb.load_data()
    assert xt.dtype == object and len(xt) == 4 and len(xs) == 2
    perm = np.arange(4)
    rng = np.random.RandomState(113)
    rng.shuffle(perm)
    perm_test = np.arange(2)
    rng.shuffle(perm_test)
    ref = _keras_reference([x_train[i] for i in perm] + [x_test[i] for i in perm_test])
    assert list(xt) == ref[:4] and list(xs) == ref[4:]
    assert yt.tolist() == [[1, 0, 1, 0][i] for i in perm]
    # num_words / skip_top / oov and maxlen
    (xt, _), _ = imdb.load_data(num_words=6, skip_top=4)
    assert all(w == 2 or 4 <= w < 6 for x in xt for w in x)
    (xt, yt), (xs, _) = imdb.load_data(maxlen=4)
    assert all(len(x) < 4 for x in list(xt) + list(xs)) and len(xt) == len(yt) == 2
    with pytest.raises(ValueError, match="no sequence was kept"):
        imdb.load_data(maxlen=1)
    (xt, _), _ = imdb.load_data(start_char=None, index_from=0, oov_char=None, num_words=4)
    assert sorted(map(tuple, xt)) == sorted([(1, 2), (3, 3), (1, 1, 1), (2,)])


def test_reuters(server, tmp_path, monkeypatch):
    xs = [[i, i + 1] for i in range(10)]
    data = npz_bytes(x=obj_array(xs), y=np.arange(10) % 3)
    server.files[URL + "reuters.npz"] = data
    monkeypatch.setattr(reuters, "FILE_HASH", sha256(data))
    (xt, yt), (xv, yv) = reuters.load_data(test_split=0.3)
    assert len(xt) == 7 and len(xv) == 3 and xt.dtype == object
    perm = np.arange(10)
    np.random.RandomState(113).shuffle(perm)
    assert list(xt) + list(xv) == _keras_reference([xs[i] for i in perm])
    assert yt.tolist() + yv.tolist() == [(i % 3) for i in perm]
    assert len(reuters.get_label_names()) == 46


# ---- housing: npz of float arrays -------------------------------------------------------------

def test_boston_and_california(server, tmp_path, monkeypatch):
    x = np.arange(20 * 13, dtype=np.float64).reshape(20, 13)
    y = np.arange(20, dtype=np.float64)
    data = npz_bytes(x=x, y=y)
    server.files[URL + "boston_housing.npz"] = data
    monkeypatch.setattr(boston_housing, "FILE_HASH", sha256(data))
    (xt, yt), (xv, yv) = boston_housing.load_data()
    perm = np.arange(20)
    np.random.RandomState(113).shuffle(perm)
    np.testing.assert_array_equal(xt, x[perm[:16]])
    np.testing.assert_array_equal(yv, y[perm[16:]])

    x = np.random.default_rng(0).random((700, 8))
    y = np.arange(700, dtype=np.float32) * 1000
    data = npz_bytes(x=x, y=y)
    server.files[URL + "california_housing.npz"] = data
    monkeypatch.setattr(california_housing, "FILE_HASH", sha256(data))
    (xt, yt), (xv, yv) = california_housing.load_data(version="small", test_split=0.25, seed=1)
    assert xt.shape == (450, 8) and xv.shape == (150, 8) and yt.max() < 600_000
    (xt, _), (xv, _) = california_housing.load_data()
    assert len(xt) == 560 and len(xv) == 140
    with pytest.raises(ValueError, match="Invalid `test_split`"):
        california_housing.load_data(test_split=1)


def test_no_warnings_on_clean_load(server, tmp_path, monkeypatch):
    _, data = mnist_file()
    server.files[URL + "mnist.npz"] = data
    monkeypatch.setattr(mnist, "FILE_HASH", sha256(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mnist.load_data()
