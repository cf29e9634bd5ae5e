"""Download, cache and verify data set files, as ``keras.utils.get_file`` does for the loaders.

Files live in ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``). A file is used from the
cache when its checksum matches; a corrupt or partial file in the cache is reported, removed and
downloaded again. Without network the download fails within seconds with an error naming the file
to fetch and where to place it. A ``path`` the user gives (absolute, or relative to the cache
folder) is used as is when it exists.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import warnings

__all__ = ["get_file", "cache_dir", "file_hash", "DownloadError"]

TIMEOUT = 10.0  # seconds: connecting or a stalled read fails after this, not minutes


class DownloadError(OSError):
    """A data set file could not be downloaded (no network, server error)."""


def cache_dir():
    """The Keras cache folder: ``$KERAS_HOME`` or ``~/.keras``.

    >>> import os
    >>> os.path.basename(cache_dir()) in (".keras", os.path.basename(
    ...     os.environ.get("KERAS_HOME", ".keras")))
    True
    """
    home = os.environ.get("KERAS_HOME")
    return os.path.expanduser(home) if home else os.path.join(os.path.expanduser("~"), ".keras")


def file_hash(path, algorithm="auto", chunk_size=1 << 20):
    """The hex digest of a file: SHA-256, or MD5 when ``algorithm="md5"`` (``"auto"`` picks by the
    length of the expected hash, as Keras does).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> file_hash(f.name)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.md5() if algorithm == "md5" else hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def _algorithm(expected):
    return "sha256" if len(expected) == 64 else "md5"


def _default_fetch(url, dest, timeout=TIMEOUT):
    """Writes the body at ``url`` into the open binary file ``dest``."""
    import urllib.request  # noqa: PLC0415 - costs ~30 ms (http, ssl, email): only when needed

    request = urllib.request.Request(url, headers={"User-Agent": "tapeflow"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        shutil.copyfileobj(response, dest, length=1 << 20)


# The function that downloads ``url`` into an open file; tests replace it.
fetch = _default_fetch


def _datadir(cache_subdir):
    base = cache_dir()
    datadir = os.path.join(base, cache_subdir)
    try:
        os.makedirs(datadir, exist_ok=True)
        if not os.access(datadir, os.W_OK):
            raise PermissionError(datadir)
    except OSError:
        datadir = os.path.join(tempfile.gettempdir(), ".keras", cache_subdir)
        os.makedirs(datadir, exist_ok=True)
    return datadir


def _verify(fpath, expected):
    if expected is None:
        return True
    return file_hash(fpath, _algorithm(expected)) == expected.lower()


def _corrupt_message(fpath, expected, origin):
    return (f"Incomplete or corrupted file detected: the {_algorithm(expected)} hash of {fpath} "
            f"does not match the expected value {expected}.")


def get_file(fname, origin, file_hash=None, cache_subdir="datasets"):
    """Returns the local path of ``fname``, downloading it from ``origin`` when needed.

    Args:
        fname: file name in the cache folder, or a path of the user's own (absolute, or
            starting with ``~``).
        origin: URL of the file.
        file_hash: expected SHA-256 (64 hex digits) or MD5 (32) of the file, or None.
        cache_subdir: folder under the cache folder.

    Raises:
        DownloadError: the file is missing and could not be downloaded; the message says which
            file to place where.
        ValueError: the file (downloaded, or the user's own) does not match ``file_hash``.
    """
    datadir = _datadir(cache_subdir)
    fpath = os.path.join(datadir, os.path.expanduser(os.fspath(fname)))
    in_cache = os.path.abspath(fpath).startswith(os.path.abspath(datadir) + os.sep)
    if os.path.exists(fpath):
        if _verify(fpath, file_hash):
            return fpath
        if not in_cache:
            raise ValueError(_corrupt_message(fpath, file_hash, origin) + f" Replace it with the "
                             f"file from {origin}.")
        warnings.warn(_corrupt_message(fpath, file_hash, origin) + " The file was removed from "
                      "the cache and will be downloaded again.", stacklevel=3)
        os.remove(fpath)
    _download(origin, fpath, file_hash)
    return fpath


def _download(origin, fpath, expected):
    folder = os.path.dirname(fpath) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as dest:
            try:
                fetch(origin, dest)
            except Exception as e:  # URLError, timeouts, HTTP errors, truncated bodies
                reason = getattr(e, "reason", e)
                raise DownloadError(
                    f"Could not download {origin} ({reason}). If this machine has no network "
                    f"access, download that file elsewhere and place it at {fpath} (or pass its "
                    f"location as the loader's `path` argument).") from None
        if not _verify(tmp, expected):
            raise ValueError(_corrupt_message(origin, expected, origin) + " The partial or "
                             "corrupt download was removed; try again.")
        os.replace(tmp, fpath)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _safe_members(tar, dest):
    root = os.path.realpath(dest)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(dest, member.name))
        if not (member.isfile() or member.isdir()):
            raise ValueError(f"Refusing to extract {member.name!r}: only regular files and "
                             f"folders are expected in a data set archive.")
        if target != root and not target.startswith(root + os.sep):
            raise ValueError(f"Refusing to extract {member.name!r}: it points outside {dest}.")
        yield member


def extract_tar(archive, dest):
    """Extracts a (gzipped) tar archive into ``dest``, accepting only files and folders inside it;
    extraction goes to a temporary folder first so an interrupted one leaves nothing behind."""
    os.makedirs(dest, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = list(_safe_members(tar, tmp))
            for m in members:
                if m.isdir():
                    os.makedirs(os.path.join(tmp, m.name), exist_ok=True)
                    continue
                out = os.path.join(tmp, m.name)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with tar.extractfile(m) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
        for name in os.listdir(tmp):
            target = os.path.join(dest, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            os.replace(os.path.join(tmp, name), target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
