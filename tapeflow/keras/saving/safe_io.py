"""Bounded, defensive reading of model files and atomic writing (no pickle anywhere).

Every reader here checks what a file *declares* before it reads or inflates anything, and turns
every failure of the zip, JSON or HDF5 layers into a ``ValueError`` that names the file.

>>> from tapeflow.keras.saving import safe_io
>>> safe_io.loads_json(b'{"a": [1, 2]}', "config.json")
{'a': [1, 2]}
"""

import io
import json
import os
import re
import stat
import tempfile
import threading
import zipfile

__all__ = ["LIMITS", "atomic_write", "read_archive", "loads_json", "open_h5_bytes", "read_dataset",
           "WeightBudget", "charge_weight"]

# Bounds for untrusted files. Tests and users may lower or raise them (a dict, read at call time).
LIMITS = {
    "max_members": 64,               # entries in a .keras zip
    "max_member_bytes": 4 << 30,     # uncompressed size of one member
    "max_total_bytes": 8 << 30,      # uncompressed size of all members read
    "max_ratio": 1000,               # uncompressed / compressed, for members over 1 MiB
    "max_json_bytes": 64 << 20,      # config.json / metadata.json
    "max_json_depth": 200,           # nesting of [ and {
    "max_dataset_bytes": 4 << 30,    # one HDF5 dataset
}

# Unrolled form: a repeated alternation made the regex engine keep ~140 bytes of state per
# character of a long string (700 MB for a 5 MB layer name); this one runs in constant memory.
_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET_RE = re.compile(r"[\[\]{}]")


def atomic_write(filepath, write_fn):
    """Writes a file through a temporary file in the same folder, then renames it into place.

    If ``write_fn`` raises (or the process dies) the previous content of ``filepath`` is untouched
    and the temporary file is removed.

    Args:
      filepath: the destination path.
      write_fn: called with a binary file object open for writing.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> atomic_write(p, lambda f: f.write(b"abc"))
    >>> open(p, "rb").read()
    b'abc'
    """
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(filepath) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, filepath)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def _check_member_name(name, filepath):
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or ".." in parts or "\\" in name or ":" in name
            or "\x00" in name):
        raise ValueError(f"Refusing to load '{filepath}': archive member {name!r} has an absolute "
                         "path or a '..' component (path traversal).")


def _check_regular_file(filepath):
    """Refuses a path that is not a regular file (a FIFO would block, /dev/zero never ends)."""
    if isinstance(filepath, (str, os.PathLike)):
        try:
            mode = os.stat(filepath).st_mode
        except FileNotFoundError:
            raise
        except OSError as e:
            raise ValueError(f"Cannot load '{os.fspath(filepath)}': {e}.") from e
        if not stat.S_ISREG(mode):
            raise ValueError(f"Refusing to load '{os.fspath(filepath)}': it is not a regular "
                             "file (a device, a pipe or a folder).")


def read_archive(filepath, wanted, optional=()):
    """Reads the members ``wanted`` (and ``optional`` if present) of a zip file, with checks.

    Refuses members with absolute paths, ``..`` or links, and any member whose declared size,
    total size or compression ratio exceeds :data:`LIMITS`, before decompressing it. CRC errors,
    truncation and non-zip input raise ``ValueError`` naming the file.

    Returns:
      A dict ``{name: bytes}``.

    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("config.json", "{}")
    >>> read_archive(buf, ["config.json"])
    {'config.json': b'{}'}
    """
    label = filepath if isinstance(filepath, (str, os.PathLike)) else "<file object>"
    _check_regular_file(filepath)
    try:
        zf = zipfile.ZipFile(filepath, "r")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            OverflowError, IndexError, KeyError, UnicodeDecodeError) as e:
        raise ValueError(f"Cannot load '{label}': not a valid .keras (zip) archive "
                         f"({type(e).__name__}: {e}).") from e
    with zf:
        infos = zf.infolist()
        if len(infos) > LIMITS["max_members"]:
            raise ValueError(f"Refusing to load '{label}': the archive has {len(infos)} members, "
                             f"more than the limit of {LIMITS['max_members']}.")
        by_name = {}
        for info in infos:
            _check_member_name(info.filename, label)
            mode = (info.external_attr >> 16) & 0o177777
            if stat.S_ISLNK(mode):
                raise ValueError(f"Refusing to load '{label}': archive member {info.filename!r} "
                                 "is a symbolic link.")
            if info.filename in by_name:
                raise ValueError(f"Refusing to load '{label}': archive member {info.filename!r} "
                                 "appears twice.")
            by_name[info.filename] = info
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise ValueError(f"Cannot load '{label}': the archive lacks {missing} (found "
                             f"{sorted(by_name)[:10]}); a .keras file holds config.json, "
                             "metadata.json and model.weights.h5.")
        names = list(wanted) + [n for n in optional if n in by_name]
        try:
            zf.fp.seek(0, os.SEEK_END)
            archive_size = zf.fp.tell()
        except (OSError, AttributeError, ValueError):
            archive_size = None
        total = 0
        for n in names:
            info = by_name[n]
            size, csize = info.file_size, info.compress_size
            total += size
            if size > LIMITS["max_member_bytes"]:
                raise ValueError(f"Refusing to load '{label}': member {n!r} declares {size} bytes "
                                 f"uncompressed, over the limit of {LIMITS['max_member_bytes']}.")
            if total > LIMITS["max_total_bytes"]:
                raise ValueError(f"Refusing to load '{label}': members declare {total} bytes "
                                 f"uncompressed, over the limit of {LIMITS['max_total_bytes']}.")
            if archive_size is not None and info.header_offset + csize > archive_size:
                raise ValueError(f"Cannot load '{label}': member {n!r} declares {csize} "
                                 f"compressed bytes at offset {info.header_offset}, past the end "
                                 f"of the {archive_size}-byte archive (truncated or corrupt).")
            if size > (1 << 20) and size > LIMITS["max_ratio"] * max(csize, 1):
                raise ValueError(f"Refusing to load '{label}': member {n!r} would inflate "
                                 f"{csize} bytes to {size} (ratio over {LIMITS['max_ratio']}; "
                                 "a zip bomb?).")
        out = {}
        for n in names:
            try:
                # ZipExtFile never returns more than the declared file_size and checks the CRC.
                with zf.open(by_name[n]) as f:
                    data = f.read(by_name[n].file_size + 1)
            except Exception as e:  # zlib.error, BadZipFile (CRC), EOFError, NotImplementedError...
                raise ValueError(f"Cannot load '{label}': member {n!r} is corrupt or truncated "
                                 f"({type(e).__name__}: {e}).") from e
            if len(data) != by_name[n].file_size:
                raise ValueError(f"Cannot load '{label}': member {n!r} has {len(data)} bytes but "
                                 f"declares {by_name[n].file_size}.")
            out[n] = data
        return out


def check_json_depth(text, label, max_depth=None):
    """Raises ValueError if ``text`` nests ``[``/``{`` deeper than ``max_depth`` (no recursion).

    >>> check_json_depth('[[1]]', "x.json", max_depth=1)
    Traceback (most recent call last):
    ...
    ValueError: Refusing to load 'x.json': JSON nested deeper than 1 levels.
    """
    max_depth = LIMITS["max_json_depth"] if max_depth is None else max_depth
    depth = 0
    for ch in _BRACKET_RE.findall(_STRING_RE.sub("", text)):
        depth += 1 if ch in "[{" else -1
        if depth > max_depth:
            raise ValueError(f"Refusing to load '{label}': JSON nested deeper than "
                             f"{max_depth} levels.")


def loads_json(data, label):
    """Parses JSON bytes/str with a size bound and a depth bound checked before parsing.

    >>> loads_json("[1, 2]", "a.json")
    [1, 2]
    """
    if len(data) > LIMITS["max_json_bytes"]:
        raise ValueError(f"Refusing to load '{label}': {len(data)} bytes of JSON, over the limit "
                         f"of {LIMITS['max_json_bytes']}.")
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else str(data)
    except UnicodeDecodeError as e:
        raise ValueError(f"Cannot load '{label}': not UTF-8 text ({e}).") from e
    check_json_depth(text, label)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"Cannot load '{label}': invalid JSON ({e}).") from e


def open_h5_bytes(data, label):
    """Opens HDF5 bytes read-only from memory (nothing touches the disk).

    >>> import h5py, io
    >>> buf = io.BytesIO()
    >>> with h5py.File(buf, "w") as f:
    ...     _ = f.create_dataset("x", data=[1.0, 2.0])
    >>> open_h5_bytes(buf.getvalue(), "w.h5")["x"].shape
    (2,)
    """
    import h5py

    try:
        return h5py.File(io.BytesIO(data), "r")
    except Exception as e:
        raise ValueError(f"Cannot load '{label}': the weights are not a valid HDF5 file "
                         f"({type(e).__name__}: {e}).") from e


def open_h5_path(filepath):
    """Opens an HDF5 file on disk read-only, turning failures into ValueError naming the file.

    >>> open_h5_path("/nonexistent/w.weights.h5")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No such file: '/nonexistent/w.weights.h5'
    """
    import h5py

    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such file: '{filepath}'")
    _check_regular_file(filepath)
    try:
        return h5py.File(filepath, "r")
    except Exception as e:
        raise ValueError(f"Cannot load '{filepath}': not a valid HDF5 weights file "
                         f"({type(e).__name__}: {e}).") from e


def read_dataset(ds, expected_shape, where):
    """Reads one HDF5 dataset after checking its kind, dtype, declared shape and size.

    The declared shape is compared with ``expected_shape`` before anything is read, so a dataset
    declaring an enormous shape fails without allocating it.

    >>> import h5py, io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> read_dataset(f.create_dataset("x", data=[1.0, 2.0]), (2,), "layer 'd' variable 0")
    array([1., 2.])
    """
    import h5py

    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: expected an HDF5 dataset, found {type(ds).__name__}.")
    try:
        shape, dtype = tuple(ds.shape or ()), ds.dtype
    except Exception as e:
        raise ValueError(f"{where}: unreadable dataset ({type(e).__name__}: {e}).") from e
    if ds.external or ds.is_virtual:
        raise ValueError(f"{where}: the dataset stores its data in other files (external or "
                         "virtual storage), which weights files never need; refused.")
    if dtype.kind not in "biuf":
        raise ValueError(f"{where}: dataset has dtype {dtype}, expected a numeric dtype.")
    if expected_shape is not None and tuple(expected_shape) != shape:
        raise ValueError(f"{where}: the file holds shape {shape} but the model expects "
                         f"{tuple(expected_shape)}.")
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= int(d)
    if nbytes > LIMITS["max_dataset_bytes"]:
        raise ValueError(f"{where}: dataset declares shape {shape} ({nbytes} bytes), over the "
                         f"limit of {LIMITS['max_dataset_bytes']} bytes.")
    try:
        return ds[()]
    except Exception as e:
        raise ValueError(f"{where}: cannot read the dataset ({type(e).__name__}: {e}).") from e


_BUDGETS = threading.local()


class WeightBudget:
    """Bounds the bytes of layer weights created while a model file is being loaded.

    Every weight of a loaded model must come from the file, so a config whose layers declare
    more weight bytes than the file holds (``Dense(units=2**40)``, an ``Embedding`` of 2**33
    rows) is refused when the first oversized weight is declared, before it is allocated or
    initialized. ``Layer.add_weight`` calls :func:`charge_weight`; outside a budget it is a no-op.

    >>> with WeightBudget(100, "m.keras"):
    ...     charge_weight((5, 5), "float32", "dense")
    ...     charge_weight((5, 5), "float32", "dense_1")
    Traceback (most recent call last):
    ...
    ValueError: layer 'dense_1' declares a weight of shape (5, 5) (float32): the model's ...
    """

    def __init__(self, limit, label):
        self.limit, self.label, self.used = int(limit), label, 0

    def __enter__(self):
        if not hasattr(_BUDGETS, "stack"):
            _BUDGETS.stack = []
        _BUDGETS.stack.append(self)
        return self

    def __exit__(self, *exc):
        _BUDGETS.stack.pop()


def charge_weight(shape, dtype, who):
    """Counts a weight about to be created against the active :class:`WeightBudget`, if any.

    >>> charge_weight((2**40, 2**40), "float32", "dense")  # no budget active: nothing happens
    """
    stack = getattr(_BUDGETS, "stack", None)
    if not stack:
        return
    budget = stack[-1]
    try:
        from tapeflow._backend import np

        itemsize = np.dtype(str(dtype)).itemsize
    except TypeError:
        itemsize = 8
    nbytes = itemsize
    for d in shape:
        nbytes *= max(int(d), 0)
    budget.used += nbytes
    if budget.used > budget.limit:
        raise ValueError(f"layer '{who}' declares a weight of shape {tuple(shape)} ({dtype}): "
                         f"the model's weights would take {budget.used} bytes, more than the "
                         f"{budget.limit} bytes '{budget.label}' can provide (refused before "
                         "allocating).")
