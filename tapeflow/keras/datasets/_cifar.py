"""CIFAR's python-version archives: a ``.tar.gz`` of pickled batch dicts, read with the
restricted unpickler."""

import os

from tapeflow._backend import np
from tapeflow.keras.datasets._download import extract_tar, get_file
from tapeflow.keras.datasets._safe_pickle import load_pickle


def load_batch(fpath, label_key="labels"):
    """Reads one pickled CIFAR batch: ``(data (n, 3, 32, 32) uint8, labels list)``."""
    with open(fpath, "rb") as f:
        d = load_pickle(f, encoding="bytes")
    if not isinstance(d, dict):
        raise ValueError(f"{fpath} is not a CIFAR batch (expected a pickled dict).")
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise ValueError(f"{fpath} is not a CIFAR batch: it has no 'data' or '{label_key}' "
                         f"entry (keys: {sorted(d)}).")
    data = np.asarray(d["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{fpath}: 'data' must be uint8 rows of 3072 values, got "
                         f"{data.dtype} {data.shape}.")
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def batches_folder(path, archive, origin, file_hash, dirname, required):
    """The folder holding the extracted batches, downloading and extracting when needed.

    ``path`` may be None (the cache), a folder already holding the batches, or a copy of the
    ``.tar.gz`` archive.
    """
    if path is not None:
        path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        for folder in (path, os.path.join(path, dirname)):
            if os.path.isdir(folder) and all(
                    os.path.exists(os.path.join(folder, f)) for f in required):
                return folder
        if os.path.isdir(path):
            raise FileNotFoundError(f"{path} holds none of CIFAR's batch files {required}.")
        archive_path = get_file(path, origin=origin, file_hash=file_hash)
    else:
        archive_path = get_file(archive, origin=origin, file_hash=file_hash)
    root = os.path.dirname(archive_path)
    folder = os.path.join(root, dirname)
    if not all(os.path.exists(os.path.join(folder, f)) for f in required):
        extract_tar(archive_path, root)
    missing = [f for f in required if not os.path.exists(os.path.join(folder, f))]
    if missing:
        raise ValueError(f"{archive_path} did not contain {dirname}/{missing[0]}.")
    return folder
