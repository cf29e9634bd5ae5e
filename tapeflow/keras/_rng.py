"""The one global random generator behind Keras-level randomness (initializers, dropout, shuffle).

``keras.utils.set_random_seed(s)`` / ``tapeflow.random.set_seed(s)`` call :func:`set_seed`; code
that draws without an explicit seed calls :func:`generator`.

>>> from tapeflow.keras import _rng
>>> _rng.set_seed(1); a = _rng.generator().random()
>>> _rng.set_seed(1); a == _rng.generator().random()
True
"""

from tapeflow._backend import np

__all__ = ["set_seed", "generator", "make_generator"]

_GEN = [np.random.default_rng()]


def set_seed(seed):
    """Reseeds the global generator (``None`` draws fresh entropy)."""
    _GEN[0] = np.random.default_rng(None if seed is None else int(seed))


def generator():
    """The global NumPy ``Generator``."""
    return _GEN[0]


def make_generator(seed=None):
    """A fresh generator for an int ``seed``, or the global one when ``seed`` is None."""
    if seed is None:
        return _GEN[0]
    return np.random.default_rng(int(seed))
