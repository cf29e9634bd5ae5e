"""Element structures of ``tf.data``: tuples, dicts and namedtuples of arrays.

Inside a pipeline an element is such a structure of backend arrays; it becomes a structure of
Tensors only where user code sees it (iteration, ``map``/``filter`` functions). As in TensorFlow, a
Python list given as data is one tensor, not a structure; dicts flatten in sorted-key order.
"""

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.tensor import Tensor, TensorShape, _TensorLike, _wrap, convert_to_tensor
from tapeflow.framework.tensor_spec import TensorSpec

_ndarray = np.ndarray


def is_namedtuple(s):
    return isinstance(s, tuple) and hasattr(s, "_fields")


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def map_leaves(fn, s):
    """Applies ``fn`` to every leaf of the structure ``s`` (tuple, dict, namedtuple)."""
    t = type(s)
    if t is tuple:
        return tuple(map_leaves(fn, x) for x in s)
    if isinstance(s, dict):
        return t((k, map_leaves(fn, v)) for k, v in s.items()) if t is not dict else {
            k: map_leaves(fn, v) for k, v in s.items()}
    if is_namedtuple(s):
        return t(*(map_leaves(fn, x) for x in s))
    return fn(s)


def flatten(s):
    """The leaves of ``s`` as a list (dicts in sorted-key order)."""
    out = []
    _flatten_into(s, out)
    return out


def _flatten_into(s, out):
    if isinstance(s, tuple):
        for x in s:
            _flatten_into(x, out)
    elif isinstance(s, dict):
        for k in _sorted_keys(s):
            _flatten_into(s[k], out)
    else:
        out.append(s)


def pack(template, flat):
    """Rebuilds ``template``'s structure with the leaves ``flat`` (the inverse of ``flatten``)."""
    it = iter(flat)
    return _pack(template, it)


def _pack(s, it):
    if type(s) is tuple:
        return tuple(_pack(x, it) for x in s)
    if is_namedtuple(s):
        return type(s)(*(_pack(x, it) for x in s))
    if isinstance(s, dict):
        vals = {k: _pack(s[k], it) for k in _sorted_keys(s)}
        return {k: vals[k] for k in s} if type(s) is dict else type(s)((k, vals[k]) for k in s)
    return next(it)


def same_structure(a, b):
    """True when ``a`` and ``b`` nest the same tuples/dicts (leaves are not compared)."""
    if isinstance(a, tuple) != isinstance(b, tuple) or isinstance(a, dict) != isinstance(b, dict):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_structure(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return set(a) == set(b) and all(same_structure(a[k], b[k]) for k in a)
    return True


def is_tensorlike(x):
    return isinstance(x, _TensorLike)


def to_array(x, dtype=None):
    """A leaf given by the user (Tensor, Variable, array, Python value) as a backend array."""
    if type(x) is Tensor:
        return x._value
    if isinstance(x, _TensorLike):
        return x.read_value()._value
    if isinstance(x, _ndarray) and dtype is None:
        return x
    return convert_to_tensor(x, dtype=dtype)._value


def normalize(value):
    """User data -> an element structure of arrays (lists become tensors, as in TensorFlow)."""
    if isinstance(value, (tuple, dict)):
        return map_leaves(to_array, value)
    return to_array(value)


def normalize_returned(value):
    """A ``map`` function's return value -> an element structure (a top-level list is a tuple)."""
    if isinstance(value, list):
        value = tuple(value)
    return normalize(value)


def to_tensors(element):
    """An element structure of arrays -> the same structure of Tensors."""
    if type(element) is _ndarray:
        return _wrap(element)
    return map_leaves(_wrap, element)


def _numpy_leaf(a):
    a = np.asarray(a)
    if a.dtype.kind in "USO":  # strings come out as bytes, as TensorFlow gives them
        if a.ndim == 0:
            v = a[()]
            return v.encode("utf-8") if isinstance(v, str) else bytes(v)
        out = np.empty(a.shape, dtype=object)
        out.ravel()[:] = [v.encode("utf-8") if isinstance(v, str) else bytes(v)
                          for v in a.ravel().tolist()]
        return out
    return a[()] if a.ndim == 0 else a


def to_numpy(element):
    """An element structure of arrays -> NumPy values (rank-0 as NumPy scalars, strings as
    ``bytes``, string arrays as object arrays of ``bytes``)."""
    if type(element) is _ndarray:
        return _numpy_leaf(element)
    return map_leaves(_numpy_leaf, element)


def spec_of_array(a):
    return TensorSpec(a.shape, _dt.from_numpy(a.dtype))


def spec_of(element):
    """The ``TensorSpec`` structure describing ``element``."""
    return map_leaves(spec_of_array, element)


def call(fn, element):
    """Calls a user function on an element the way ``tf.data`` does: a tuple's parts are passed
    as separate arguments, anything else (a dict, a namedtuple, one tensor) as one argument."""
    t = to_tensors(element)
    if type(t) is tuple:
        return fn(*t)
    return fn(t)


def spec_with_batch(spec, batch_dim):
    return map_leaves(lambda s: TensorSpec(TensorShape([batch_dim]).concatenate(s.shape),
                                           s.dtype), spec)


def spec_without_batch(spec):
    def drop(s):
        if s.shape.rank == 0:
            raise ValueError("Cannot unbatch an input with scalar components.")
        return TensorSpec(None if s.shape.rank is None else s.shape[1:], s.dtype)
    out = map_leaves(drop, spec)
    known = {s.shape[0] for s in flatten(spec) if s.shape.rank and s.shape[0] is not None}
    if len(known) > 1:
        a, b = sorted(known)[:2]
        raise ValueError(f"`unbatch()` is only supported for datasets of elements whose "
                         f"components have a matching leading dimension. Encountered both "
                         f"{a} and {b}.")
    return out


def spec_union(a, b):
    """The most specific spec structure compatible with both ``a`` and ``b``."""
    fa, fb = flatten(a), flatten(b)
    if not same_structure(a, b) or len(fa) != len(fb):
        raise TypeError(f"Incompatible dataset elements: {a} vs. {b}.")
    out = []
    for x, y in zip(fa, fb, strict=True):
        if x.dtype != y.dtype:
            raise TypeError(f"Incompatible dataset elements: {a} vs. {b}.")
        out.append(x.most_specific_compatible_type(y))
    return pack(a, out)


def check_scalar_bool(value, what):
    arr = value if isinstance(value, bool) else to_array(value)
    if isinstance(arr, bool):
        return arr
    if arr.ndim != 0 or arr.dtype != np.bool_:
        raise ValueError(
            f"Invalid `{what}`. `{what}` must return a `tf.bool` scalar tensor, but its return "
            f"type is {spec_of_array(arr)}.")
    return bool(arr)
