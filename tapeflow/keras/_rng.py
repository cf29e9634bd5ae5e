"""The one global random generator behind Keras-level randomness (initializers, dropout, shuffle).

``keras.utils.set_random_seed(s)`` / ``tapeflow.random.set_seed(s)`` call :func:`set_seed`; code
that draws without an explicit seed calls :func:`generator`.

>>> from tapeflow.keras import _rng
>>> _rng.set_seed(1); a = _rng.generator().random()
>>> _rng.set_seed(1); a == _rng.generator().random()
True
>>> import tapeflow as tf
>>> tf.random.set_seed(3); b = _rng.generator().random()
>>> tf.random.set_seed(3); b == _rng.generator().random()
True
"""

from tapeflow._backend import np

__all__ = ["set_seed", "generator", "make_generator"]

_GEN = [np.random.default_rng()]
# The ``streams`` dict of tapeflow.random's state as last seen: ``tf.random.set_seed`` replaces
# it, which is how a call to it is noticed here (keras sits above the ops layer and reads it).
_SEEN = [None]


def set_seed(seed):
    """Reseeds the global generator (``None`` draws fresh entropy)."""
    _GEN[0] = np.random.default_rng(None if seed is None else int(seed))


def _follow_tf_seed():
    try:
        from tapeflow.ops.random_ops import _State
    except ImportError:  # pragma: no cover - the ops layer always has it
        return
    streams = _State.streams
    if streams is not _SEEN[0]:
        _SEEN[0] = streams
        if _State.global_seed is not None:
            set_seed(_State.global_seed)


def generator():
    """The global NumPy ``Generator`` (reseeded by ``tf.random.set_seed`` too)."""
    _follow_tf_seed()
    return _GEN[0]


def make_generator(seed=None):
    """A fresh generator for an int ``seed``, or the global one when ``seed`` is None."""
    if seed is None:
        return generator()
    return np.random.default_rng(int(seed))
