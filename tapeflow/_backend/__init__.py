"""The one switch point between tapeflow and its array library.

Every other module reaches NumPy through this package (``from tapeflow._backend import np``) or asks
``get_xp(*arrays)`` for the module that owns a given array, so that a library with NumPy's interface
(CuPy) can be added here without touching the ops.
"""

import numpy as np

__all__ = ["np", "get_xp", "to_numpy", "is_array"]

_ndarray = np.ndarray


def get_xp(*arrays):
    """Returns the array module that owns ``arrays`` (NumPy unless a CuPy array is among them)."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy  # noqa: PLC0415 - optional backend, imported only when its arrays appear

            return cupy
    return np


def to_numpy(a):
    """Returns ``a`` as a NumPy array (copies device arrays to the host)."""
    if isinstance(a, _ndarray):
        return a
    if hasattr(a, "get") and type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)


def is_array(a):
    """True for an array of the backend (NumPy ndarray or NumPy scalar)."""
    return isinstance(a, (_ndarray, np.generic))
