"""Restricted readers for the pickled data inside downloaded data set files.

CIFAR's batches are pickled dicts, and the IMDB/Reuters ``.npz`` files store ragged sequences as
pickled object arrays. A general unpickler would run whatever a tampered file asks for, so these
readers resolve only the few globals that rebuild NumPy arrays (and bytes written by protocol 2);
dicts, lists, tuples, bytes, str, int and float need no globals at all. Anything else is refused.
"""

import io
import pickle
import zipfile

from tapeflow._backend import np

__all__ = ["RestrictedUnpickler", "load_pickle", "load_npz"]


def _encode(text, encoding="latin1"):
    # Protocol 2 spells bytes as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("Refusing _codecs.encode with unexpected arguments.")
    return text.encode("latin1")


def _reconstruct(cls, shape, typecode):
    # An empty placeholder: the BUILD opcode that follows sets the real shape, dtype and data.
    if cls is not np.ndarray:
        raise pickle.UnpicklingError(f"Refusing to rebuild an array of class {cls!r}.")
    return np.ndarray((0,), np.uint8)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds only plain containers, scalars, bytes and NumPy arrays.

    Args:
        file: binary file to read.
        allow_object_arrays: whether arrays of dtype ``object`` (ragged sequences) are allowed.

    >>> import io, pickle, os
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps({"a": [1, 2]}))).load()
    {'a': [1, 2]}
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps(os.getcwd))).load()
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: Refusing to load `posix.getcwd` from a data set file: only plain \
containers and NumPy arrays are expected. The file may be corrupted or malicious.
    """

    def __init__(self, file, allow_object_arrays=False, **kwargs):
        super().__init__(file, **kwargs)
        self._allow_object = allow_object_arrays

    def _dtype(self, *args):
        dt = np.dtype(*args[:1])
        if dt.hasobject and not self._allow_object:
            raise pickle.UnpicklingError("Refusing an array of Python objects in this file.")
        return dt

    def _frombuffer(self, buf, dtype, shape, order):
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            raise pickle.UnpicklingError("Refusing an object array given as a raw buffer.")
        arr = np.frombuffer(buf, dtype=dtype)
        return arr.reshape(shape, order=order)

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _encode
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == (
                "_reconstruct"):
            return _reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return self._dtype
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return self._frombuffer
        raise pickle.UnpicklingError(
            f"Refusing to load `{module}.{name}` from a data set file: only plain containers and "
            f"NumPy arrays are expected. The file may be corrupted or malicious.")


def load_pickle(file, encoding="bytes", allow_object_arrays=False):
    """Reads one pickled object from an open binary file with ``RestrictedUnpickler``."""
    return RestrictedUnpickler(file, allow_object_arrays=allow_object_arrays,
                               encoding=encoding).load()


def _read_npy(raw):
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"Unsupported .npy format version {version}.")
    if not dtype.hasobject:
        fp.seek(0)
        return np.lib.format.read_array(fp, allow_pickle=False)
    arr = load_pickle(fp, encoding="latin1", allow_object_arrays=True)
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        raise ValueError("The pickled array does not match its .npy header.")
    return arr


def load_npz(path):
    """Reads every array of an ``.npz`` file into a dict; object arrays (ragged sequences) go
    through ``RestrictedUnpickler`` instead of ``np.load(allow_pickle=True)``.

    >>> import os, tempfile
    >>> from tapeflow._backend import np
    >>> path = os.path.join(tempfile.mkdtemp(), "seqs.npz")
    >>> x = np.empty(2, dtype=object); x[0], x[1] = [1, 2], [3]
    >>> np.savez(path, x=x, y=np.array([0, 1]))
    >>> d = load_npz(path)
    >>> d["x"].tolist(), d["y"].tolist()
    ([[1, 2], [3]], [0, 1])
    """
    out = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            if info.file_size > (1 << 32) and info.file_size > 100 * max(info.compress_size, 1):
                raise ValueError(f"Refusing {info.filename}: it expands to {info.file_size} "
                                 f"bytes from {info.compress_size} (a decompression bomb?).")
            out[info.filename[:-4]] = _read_npy(z.read(info))
    return out
