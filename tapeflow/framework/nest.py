"""``tf.nest``: flatten and rebuild nested lists, tuples, namedtuples and dicts.

Dicts flatten in sorted-key order, as TensorFlow does, so that two structures with the same keys
line up element by element.
"""

__all__ = ["flatten", "pack_sequence_as", "map_structure", "is_nested", "assert_same_structure"]


def is_nested(x):
    """True for a list, tuple or dict (the containers ``tf.nest`` walks into).

    >>> is_nested([1, 2]), is_nested(3)
    (True, False)
    """
    return isinstance(x, (list, tuple, dict))


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def flatten(structure, expand_composites=False):
    """Returns the leaves of ``structure`` as a flat list.

    >>> flatten({"b": [1, 2], "a": 3})
    [3, 1, 2]
    """
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(s, out):
    if isinstance(s, dict):
        for k in _sorted_keys(s):
            _flatten_into(s[k], out)
    elif isinstance(s, (list, tuple)):
        for v in s:
            _flatten_into(v, out)
    else:
        out.append(s)


def pack_sequence_as(structure, flat_sequence, expand_composites=False):
    """Rebuilds ``structure``'s shape with the leaves taken from ``flat_sequence`` in order.

    >>> pack_sequence_as({"b": [0, 0], "a": 0}, [3, 1, 2])
    {'b': [1, 2], 'a': 3}
    """
    flat = list(flat_sequence)
    result, used = _pack(structure, flat, 0)
    if used != len(flat):
        raise ValueError(
            f"pack_sequence_as: structure has {used} leaves but flat_sequence has {len(flat)}.")
    return result


def _pack(s, flat, i):
    if isinstance(s, dict):
        vals = {}
        for k in _sorted_keys(s):
            vals[k], i = _pack(s[k], flat, i)
        return type(s)((k, vals[k]) for k in s) if type(s) is not dict else {
            k: vals[k] for k in s}, i
    if isinstance(s, (list, tuple)):
        items = []
        for v in s:
            item, i = _pack(v, flat, i)
            items.append(item)
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return type(s)(*items), i
        return type(s)(items), i
    if i >= len(flat):
        raise ValueError("pack_sequence_as: flat_sequence has fewer leaves than structure.")
    return flat[i], i + 1


def map_structure(func, *structures, **kwargs):
    """Applies ``func`` leaf-wise over structures of the same shape.

    >>> map_structure(lambda a, b: a + b, [1, (2, 3)], [10, (20, 30)])
    [11, (22, 33)]
    """
    if not structures:
        raise ValueError("map_structure needs at least one structure.")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*xs) for xs in zip(*flats)])


def assert_same_structure(nest1, nest2, check_types=True, expand_composites=False):
    """Raises ValueError when two structures do not have the same nesting.

    >>> assert_same_structure([1, 2], [3, 4])
    """
    if is_nested(nest1) != is_nested(nest2):
        raise ValueError(f"The two structures don't have the same nested structure: "
                         f"{nest1!r} and {nest2!r}.")
    if isinstance(nest1, dict):
        if not isinstance(nest2, dict) or set(nest1) != set(nest2):
            raise ValueError(f"The two structures don't have the same keys: {nest1!r}, {nest2!r}.")
        for k in nest1:
            assert_same_structure(nest1[k], nest2[k], check_types)
    elif isinstance(nest1, (list, tuple)):
        if len(nest1) != len(nest2):
            raise ValueError(f"The two structures don't have the same length: "
                             f"{len(nest1)} and {len(nest2)}.")
        for a, b in zip(nest1, nest2):
            assert_same_structure(a, b, check_types)
