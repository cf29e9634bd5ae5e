"""Keras-style ``get``/``serialize``/``deserialize`` shared by activations, initializers, ...

Every serialized object is Keras 3's four-key dict ``{"module", "class_name", "config",
"registered_name"}`` (``registered_name`` is None for built-in classes).
"""

import re

__all__ = ["to_snake_case", "serialize_object", "deserialize_object", "get_object"]


def to_snake_case(name):
    """``"GlorotUniform"`` -> ``"glorot_uniform"`` (Keras's rule)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def _plain(v):
    # Configs must be JSON-friendly: NumPy scalars/arrays and tuples become Python values.
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        return v.tolist()
    if isinstance(v, tuple):
        return [_plain(a) for a in v]
    if isinstance(v, list):
        return [_plain(a) for a in v]
    if isinstance(v, dict):
        return {k: _plain(a) for k, a in v.items()}
    return v


def serialize_object(obj, module):
    """Keras's serialized form of ``obj`` (an object with ``get_config``)."""
    if obj is None:
        return None
    config = obj.get_config()
    nested = {}
    for k, v in config.items():
        nested[k] = v.serialize() if hasattr(v, "serialize") and not isinstance(v, type) else v
    return {"module": module, "class_name": type(obj).__name__, "config": _plain(nested),
            "registered_name": None}


def deserialize_object(config, objects, kind, custom_objects=None):
    """Builds an object from a serialized dict or a name using the ``objects`` table."""
    table = dict(objects)
    if custom_objects:
        table.update(custom_objects)
    if isinstance(config, str):
        class_name, inner = config, {}
    elif isinstance(config, dict):
        if "class_name" not in config:
            raise ValueError(f"Cannot deserialize {kind}: the config {config!r} has no "
                             f"'class_name' key.")
        class_name = config["class_name"]
        if config.get("registered_name") and config["registered_name"] in table:
            class_name = config["registered_name"]
        inner = config.get("config") or {}
    else:
        raise ValueError(f"Cannot deserialize {kind}: expected a string or a dict, received "
                         f"{config!r} of type {type(config).__name__}.")
    if class_name not in table:
        raise ValueError(f"Could not interpret {kind} identifier: {class_name!r}. Valid "
                         f"identifiers are: {sorted(table)}.")
    cls = table[class_name]
    if isinstance(cls, type):
        if hasattr(cls, "from_config"):
            return cls.from_config(dict(inner))
        return cls(**inner)
    return cls


def get_object(identifier, objects, kind, base=None):
    """Keras's ``get``: None, a name, a serialized dict, a class or an instance/callable."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize_object(identifier, objects, kind)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier) or (base is not None and isinstance(identifier, base)):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}.")
