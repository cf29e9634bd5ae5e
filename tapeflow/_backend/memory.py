"""Keeping freed batch-sized buffers in the process instead of returning them to the system.

glibc's allocator serves blocks above its mmap threshold (128 KiB at start, raised dynamically up
to 32 MiB) with fresh ``mmap`` calls and unmaps them when they are freed, and trims free memory at
the top of the heap. A training step allocates and frees the same large arrays every batch (a
convolution's im2col matrix of 15,488 x 288 floats is 17 MiB; the LSTM's gate slabs, the
activations of a batch), so each batch paid thousands of first-touch page faults for memory it
had just given back: 4,364 per W6 step, measured with ``getrusage`` during ``fit``. Raising the
mmap threshold to 64 MiB and the trim threshold to 256 MiB (``mallopt``) lets those blocks be
reused from the heap; W3 ran about 1.4x faster with it (``benchmarks/RESULTS.md``). Arrays larger
than 64 MiB (a data set) are still mapped and returned to the system when freed, and at most
256 MiB of freed memory stays with the process.

The Keras loops (``fit``, ``evaluate``, ``predict``) call ``reuse_freed_memory()`` once per process;
it does nothing outside glibc, or when the environment sets ``TAPEFLOW_MALLOC_TUNING=0`` (or the
user already chose glibc's thresholds through ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``
or ``GLIBC_TUNABLES``).
"""

import ctypes
import os

__all__ = ["reuse_freed_memory"]

MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD = -1   # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_state = {"done": False, "applied": False}


def _glibc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):
        return False


def _libc():
    return ctypes.CDLL(None)     # the C library the process already runs on


def reuse_freed_memory():
    """Raises glibc's mmap and trim thresholds once per process; ``True`` if they were set.

    >>> from tapeflow._backend import memory
    >>> memory.reuse_freed_memory() in (True, False)
    True
    """
    if _state["done"]:
        return _state["applied"]
    _state["done"] = True
    env = os.environ
    if env.get("TAPEFLOW_MALLOC_TUNING", "1") == "0" or "MALLOC_MMAP_THRESHOLD_" in env \
            or "MALLOC_TRIM_THRESHOLD_" in env or "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        return False
    if not _glibc():
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _state["applied"] = ok
    return ok
