"""Keras 3's object serialization: ``serialize_keras_object`` / ``deserialize_keras_object``.

A serialized object is Keras's dict ``{"module", "class_name", "config", "registered_name"}``
(plus ``build_config``/``compile_config`` for layers and models). Built-in classes are found by
class name in the ``tapeflow.keras`` namespace matching the Keras module (``keras.layers`` ->
``tapeflow.keras.layers``), imported lazily; user classes come from ``custom_objects``, a
``custom_object_scope`` or ``register_keras_serializable``. Nothing else is ever imported in safe
mode, and Python code (lambdas) is never loaded in safe mode.

>>> from tapeflow import keras
>>> cfg = serialize_keras_object(keras.initializers.Zeros())
>>> cfg["module"], cfg["class_name"]
('keras.initializers', 'Zeros')
>>> type(deserialize_keras_object(cfg)).__name__
'Zeros'
"""

import base64
import importlib
import inspect
import threading
import types

__all__ = [
    "register_keras_serializable", "get_registered_name", "get_registered_object",
    "custom_object_scope", "CustomObjectScope", "get_custom_objects", "serialize_keras_object",
    "deserialize_keras_object", "SafeModeScope", "in_safe_mode", "enable_unsafe_deserialization",
    "check_config_safety",
]

# Objects registered with ``register_keras_serializable``: "Package>Name" -> object, and back.
_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_STATE = threading.local()

# Keras module (public or keras.src.*) -> tapeflow modules searched for the class name.
_NAMESPACES = {
    "layers": ("tapeflow.keras.layers",),
    "models": ("tapeflow.keras.models",),
    "initializers": ("tapeflow.keras.initializers",),
    "optimizers": ("tapeflow.keras.optimizers", "tapeflow.keras.optimizers.schedules"),
    "losses": ("tapeflow.keras.losses",),
    "metrics": ("tapeflow.keras.metrics",),
    "regularizers": ("tapeflow.keras.regularizers",),
    "constraints": ("tapeflow.keras.constraints",),
    "activations": ("tapeflow.keras.activations",),
    "dtype_policies": ("tapeflow.keras.backend",),
    "backend": ("tapeflow.keras.backend",),
}
_ALL_NAMESPACES = ("tapeflow.keras.layers", "tapeflow.keras.models", "tapeflow.keras.initializers",
                   "tapeflow.keras.optimizers", "tapeflow.keras.optimizers.schedules",
                   "tapeflow.keras.losses", "tapeflow.keras.metrics",
                   "tapeflow.keras.regularizers", "tapeflow.keras.constraints",
                   "tapeflow.keras.activations", "tapeflow.keras.backend")
# Special Keras class names that are plain data, never code.
_DATA_CLASSES = {"__keras_tensor__", "__tuple__", "__numpy__", "__tensor__", "__bytes__",
                 "__typespec__", "__ellipsis__", "__slice__"}
_OPT_IN = ("Pass `safe_mode=False` to the loading function only if you trust the source of "
           "this file; to load your own classes or functions, pass them in `custom_objects` or "
           "register them with `keras.saving.register_keras_serializable()`.")


# ----------------------------------------------------------------------------- registration
def register_keras_serializable(package="Custom", name=None):
    """Registers a class or function so that ``deserialize_keras_object`` can find it by name.

    The registered name is ``"<package>><name>"`` (``name`` defaults to the class name).

    >>> from tapeflow import keras
    >>> @keras.saving.register_keras_serializable(package="Doc")
    ... class Twice(keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2 * x
    >>> keras.saving.get_registered_name(Twice)
    'Doc>Twice'
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: `package` must be a string without '>', "
                         f"received {package!r}.")

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"register_keras_serializable: cannot register {arg.__name__}: the "
                             "class must implement `get_config()`.")
        _GLOBAL_CUSTOM_OBJECTS[registered] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered
        return arg

    return decorator


def get_registered_name(obj):
    """The name ``obj`` is registered under, or its ``__name__`` when it is not registered.

    >>> get_registered_name(len)
    'len'
    """
    try:
        if obj in _GLOBAL_CUSTOM_NAMES:
            return _GLOBAL_CUSTOM_NAMES[obj]
    except TypeError:  # unhashable
        pass
    return getattr(obj, "__name__", type(obj).__name__)


def _scope_stack():
    if not hasattr(_STATE, "scopes"):
        _STATE.scopes = []
    return _STATE.scopes


def get_custom_objects():
    """The dict of objects registered globally (``register_keras_serializable``).

    >>> isinstance(get_custom_objects(), dict)
    True
    """
    return _GLOBAL_CUSTOM_OBJECTS


def _custom_table(custom_objects=None):
    table = dict(_GLOBAL_CUSTOM_OBJECTS)
    for scope in _scope_stack():
        table.update(scope)
    if custom_objects:
        table.update(custom_objects)
    return table


def get_registered_object(name, custom_objects=None, module_objects=None):
    """Looks ``name`` up in ``custom_objects``, the active scopes, the registry, then
    ``module_objects``; returns None if it is nowhere.

    >>> get_registered_object("f", custom_objects={"f": abs}) is abs
    True
    """
    table = _custom_table(custom_objects)
    if name in table:
        return table[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


class CustomObjectScope:
    """Context manager making ``custom_objects`` visible to deserialization inside it.

    >>> with CustomObjectScope({"double": abs}):
    ...     get_registered_object("double") is abs
    True
    """

    def __init__(self, custom_objects):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"custom_object_scope: expected a dict, received "
                            f"{type(custom_objects).__name__}.")
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope_stack().pop()


def custom_object_scope(custom_objects):
    """Returns a ``CustomObjectScope`` (Keras's ``keras.saving.custom_object_scope``).

    >>> with custom_object_scope({"g": abs}):
    ...     get_registered_object("g") is abs
    True
    """
    return CustomObjectScope(custom_objects)


# ----------------------------------------------------------------------------- safe mode
class SafeModeScope:
    """Sets safe mode (True: refuse code and unknown modules) for the code inside it.

    >>> with SafeModeScope(False):
    ...     in_safe_mode()
    False
    """

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self._previous = getattr(_STATE, "safe_mode", None)
        _STATE.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc):
        _STATE.safe_mode = self._previous


_UNSAFE_GLOBALLY = [False]


def enable_unsafe_deserialization():
    """Turns safe mode off globally (Keras's ``keras.config.enable_unsafe_deserialization``).

    >>> enable_unsafe_deserialization(); in_safe_mode()
    False
    >>> _UNSAFE_GLOBALLY[0] = False  # back to the default for the other examples
    """
    _UNSAFE_GLOBALLY[0] = True


def in_safe_mode():
    """True unless a ``SafeModeScope(False)`` is active or unsafe mode was enabled globally.

    >>> in_safe_mode()
    True
    """
    mode = getattr(_STATE, "safe_mode", None)
    if mode is not None:
        return bool(mode)
    return not _UNSAFE_GLOBALLY[0]


# ----------------------------------------------------------------------------- serialization
def _public_module(obj_cls):
    mod = getattr(obj_cls, "__module__", "") or ""
    if not mod.startswith("tapeflow.keras"):
        return mod
    parts = mod.split(".")
    sub = parts[2] if len(parts) > 2 else ""
    if sub == "optimizers" and "schedules" in parts:
        return "keras.optimizers.schedules"
    if sub in ("backend", "models", ""):
        return "keras"
    if sub.startswith("_"):
        return "keras"
    return f"keras.{sub}"


def _is_builtin(obj_cls):
    return (getattr(obj_cls, "__module__", "") or "").startswith("tapeflow.")


def serialize_dict(config):
    """Serializes every value of a config dict (objects become their serialized dicts).

    >>> serialize_dict({"a": (1, 2)})
    {'a': [1, 2]}
    """
    return {k: serialize_keras_object(v) for k, v in config.items()}


def _func_dump(fn):
    import marshal

    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    closure = None
    if fn.__closure__:
        closure = [serialize_keras_object(c.cell_contents) for c in fn.__closure__]
    defaults = [serialize_keras_object(d) for d in fn.__defaults__] if fn.__defaults__ else None
    return code, defaults, closure


def serialize_keras_object(obj):
    """Keras's JSON-ready form of ``obj`` (a layer, model, optimizer, function, array, ...).

    >>> serialize_keras_object((1, 2.0, "a"))
    [1, 2.0, 'a']
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return serialize_dict(obj)
    from tapeflow.framework.dtypes import DType
    from tapeflow.framework.tensor import Tensor, TensorShape

    if isinstance(obj, DType):
        return obj.name
    if isinstance(obj, TensorShape):
        return None if obj.rank is None else list(obj.as_list())
    if isinstance(obj, Tensor):
        return {"class_name": "__tensor__",
                "config": {"value": obj.numpy().tolist(), "dtype": obj.dtype.name}}
    if type(obj).__module__ == "numpy":
        if getattr(obj, "ndim", 0) == 0 and hasattr(obj, "item"):
            return obj.item()
        if hasattr(obj, "tolist") and hasattr(obj, "dtype"):
            return {"class_name": "__numpy__",
                    "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
        if hasattr(obj, "name"):  # a NumPy dtype
            return str(obj.name)
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        return {"class_name": "__lambda__", "config": {"value": _func_dump(obj)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        registered = _GLOBAL_CUSTOM_NAMES.get(obj)
        return {"module": _public_module(obj), "class_name": "function",
                "config": obj.__name__,
                "registered_name": registered or (None if _is_builtin(obj) else obj.__name__)}
    if inspect.isclass(obj):
        return {"module": _public_module(obj), "class_name": obj.__name__, "config": None,
                "registered_name": _GLOBAL_CUSTOM_NAMES.get(obj)}
    if not hasattr(obj, "get_config"):
        raise TypeError(f"serialize_keras_object: cannot serialize {obj!r} of type "
                        f"{type(obj).__name__}: it has no get_config().")
    cls = type(obj)
    module, class_name = _public_module(cls), cls.__name__
    if _is_builtin(cls):
        registered = None
        if _is_functional_model(obj):
            module, class_name, registered = "keras.src.models.functional", "Functional", \
                "Functional"
    else:
        registered = get_registered_name(cls)
    inner = obj.get_config()
    inner = serialize_dict(inner) if isinstance(inner, dict) else serialize_keras_object(inner)
    out = {"module": module, "class_name": class_name, "config": inner,
           "registered_name": registered}
    if registered == "Functional" and _is_builtin(cls):
        out["build_config"] = {"input_shape": None}  # a functional model builds from its graph
    elif hasattr(obj, "get_build_config") and not _builds_at_init(obj):
        build = obj.get_build_config()
        if build is not None:
            out["build_config"] = serialize_dict(build)
    if callable(getattr(obj, "compile", None)) and hasattr(obj, "layers"):
        from tapeflow.keras.saving import model_config

        compile_config = model_config.get_compile_config(obj)
        out["compile_config"] = serialize_dict(compile_config) if compile_config else {}
    return out


def _builds_at_init(obj):
    # Keras marks layers without their own build() as built at construction, so their
    # configs carry no build_config (Dropout, Flatten, Activation...). Models keep theirs.
    from tapeflow.keras.layers import Layer

    build = getattr(type(obj), "build", None)
    return isinstance(obj, Layer) and not hasattr(obj, "compile") and build is Layer.build


def _is_functional_model(obj):
    return type(obj).__name__ in ("Model", "Functional") and _is_builtin(type(obj)) and \
        getattr(obj, "_is_graph_network", None) is not False and _has_graph(obj)


def _has_graph(model):
    from tapeflow.keras.saving import model_config

    return model_config.is_functional(model)


# ----------------------------------------------------------------------------- resolution
def _builtin_lookup(module, class_name):
    """A tapeflow built-in for a Keras module/class name, or None."""
    module = module or ""
    parts = module.split(".")
    if parts[:2] == ["keras", "src"]:
        parts = ["keras"] + parts[2:]
    candidates = []
    if len(parts) >= 2 and parts[1] in _NAMESPACES:
        candidates.extend(_NAMESPACES[parts[1]])
    if class_name in ("Functional", "Sequential", "Model"):
        candidates.insert(0, "tapeflow.keras.models")
    if class_name == "DTypePolicy":
        candidates.insert(0, "tapeflow.keras.backend")
    candidates.extend(n for n in _ALL_NAMESPACES if n not in candidates)
    for modname in candidates:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        obj = getattr(mod, class_name, None)
        if class_name == "Functional" and obj is None:
            obj = getattr(mod, "Model", None)
        if obj is not None and _is_builtin(obj if inspect.isclass(obj) or callable(obj)
                                           else type(obj)):
            return obj
    return None


def _unsafe_error(what, why):
    return ValueError(f"Refusing to deserialize {what}: {why}. Loading it could run arbitrary "
                      f"code, so it is blocked in safe mode (the default). {_OPT_IN}")


def _resolve(config, custom_objects=None, safe_mode=None):
    """The class or function a serialized dict names."""
    safe_mode = in_safe_mode() if safe_mode is None else safe_mode
    module = config.get("module")
    class_name = config.get("class_name")
    registered = config.get("registered_name")
    if not isinstance(class_name, str):
        raise ValueError(f"Cannot deserialize {config!r:.200}: 'class_name' must be a string.")
    if module is not None and not isinstance(module, str):
        raise ValueError(f"Cannot deserialize {class_name!r}: 'module' must be a string, "
                         f"received {module!r:.100}.")
    table = _custom_table(custom_objects)
    name = config.get("config") if class_name == "function" else class_name
    for key in (registered, name, class_name):
        if isinstance(key, str) and key in table:
            return table[key]
    if module is None or module == "keras" or module.startswith("keras."):
        obj = _builtin_lookup(module, name if isinstance(name, str) else class_name)
        if obj is not None:
            return obj
        raise ValueError(f"Could not locate {'function' if class_name == 'function' else 'class'}"
                         f" {name!r} (module {module!r}, registered_name {registered!r}): it is "
                         "not a tapeflow built-in and not in custom_objects. Pass it in "
                         "`custom_objects` or register it with "
                         "`keras.saving.register_keras_serializable()`.")
    what = f"{'function' if class_name == 'function' else 'class'} {name!r} of module {module!r}"
    if safe_mode:
        raise _unsafe_error(what, "it is not a registered serializable (neither a tapeflow/Keras "
                            "built-in nor in custom_objects)")
    try:
        mod = importlib.import_module(module)
        return getattr(mod, name)
    except (ImportError, AttributeError, TypeError) as e:
        raise ValueError(f"Could not locate {what}: {e}.") from e


def check_config_safety(config, custom_objects=None, safe_mode=None, label="config"):
    """Walks a config (iteratively) and raises ValueError on code or unknown modules.

    In safe mode, a ``__lambda__`` entry (Python bytecode, as Keras stores ``Lambda`` layers) or an
    entry naming a module outside Keras/tapeflow that is not a registered or custom object is
    refused before anything is built.

    >>> check_config_safety({"module": "os", "class_name": "function", "config": "system"})
    Traceback (most recent call last):
    ...
    ValueError: Refusing to deserialize function 'system' of module 'os': it is not ...
    """
    safe_mode = in_safe_mode() if safe_mode is None else safe_mode
    if not safe_mode:
        return
    table = _custom_table(custom_objects)
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        stack.extend(item.values())
        class_name = item.get("class_name")
        if class_name == "__lambda__" or item.get("function_type") == "lambda":
            raise _unsafe_error(f"a lambda in {label}", "it holds Python bytecode (Keras stores a "
                                "`Lambda` layer's function as base64-encoded code)")
        module = item.get("module")
        if not isinstance(class_name, str) or class_name in _DATA_CLASSES:
            continue
        if module is None or (isinstance(module, str) and
                              (module == "keras" or module.startswith("keras."))):
            continue
        name = item.get("config") if class_name == "function" else class_name
        registered = item.get("registered_name")
        if any(isinstance(k, str) and k in table for k in (registered, name, class_name)):
            continue
        kind = "function" if class_name == "function" else "class"
        raise _unsafe_error(f"{kind} {name!r:.100} of module {module!r:.100}",
                            "it is not a registered serializable (neither a tapeflow/Keras "
                            "built-in nor in custom_objects)")


_CUSTOM_KEYS = ("activation", "initializer", "regularizer", "constraint", "function", "loss")


def _custom_by_name(name, table):
    if name in table:
        return table[name]
    matches = [v for k, v in table.items() if k.rsplit(">", 1)[-1] == name]
    return matches[0] if len(matches) == 1 else None


def _substitute_custom(inner, custom_objects):
    """Replaces names/dicts of user objects in a layer config by the objects themselves.

    Built-in ``get`` helpers (activations, initializers, ...) only know built-ins; a config entry
    such as ``"activation": "my_act"`` (or a serialized custom initializer) is resolved here
    from custom_objects, the active scopes and the registry, as Keras does globally.
    """
    table = _custom_table(custom_objects)
    if not table:
        return inner
    out = dict(inner)
    for key, value in inner.items():
        if not any(key.endswith(k) for k in _CUSTOM_KEYS):
            continue
        if isinstance(value, str):
            found = _custom_by_name(value, table)
            if found is not None:
                out[key] = found
        elif isinstance(value, dict) and isinstance(value.get("class_name"), str):
            names = [value.get("registered_name"), value["class_name"]]
            if value["class_name"] == "function":
                names.append(value.get("config"))
            if any(isinstance(n, str) and _custom_by_name(n, table) is not None for n in names):
                out[key] = deserialize_keras_object(value, custom_objects)
    return out


def _func_load(value):
    import marshal

    code, defaults, closure = value
    raw = base64.b64decode(code.encode("ascii") if isinstance(code, str) else code)
    try:
        code_obj = marshal.loads(raw)
    except (ValueError, EOFError, TypeError) as e:
        raise ValueError(f"Cannot load the lambda's bytecode: {e} (it was probably saved by "
                         "another Python version).") from e
    if closure is not None:
        closure = tuple(types.CellType(deserialize_keras_object(c)) for c in closure)
    defaults = tuple(deserialize_keras_object(d) for d in defaults) if defaults else None
    return types.FunctionType(code_obj, globals(), code_obj.co_name, defaults, closure)


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """Rebuilds an object from its ``serialize_keras_object`` form.

    Args:
      config: the serialized dict (or a plain value, returned as is).
      custom_objects: dict of user classes/functions by name.
      safe_mode: refuse lambdas and modules that are not registered serializables.

    >>> from tapeflow import keras
    >>> opt = deserialize_keras_object({"module": "keras.optimizers", "class_name": "SGD",
    ...     "config": {"learning_rate": 0.5}, "registered_name": None})
    >>> type(opt).__name__, float(opt.learning_rate)
    ('SGD', 0.5)
    """
    safe_mode = in_safe_mode() if getattr(_STATE, "safe_mode", None) is not None else safe_mode
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(c, custom_objects, safe_mode) for c in config]
    if not isinstance(config, dict):
        raise ValueError(f"deserialize_keras_object: cannot deserialize {config!r:.200} of type "
                         f"{type(config).__name__}.")
    class_name = config.get("class_name")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode)
                for k, v in config.items()}
    inner = config["config"]
    if class_name == "__tuple__":
        return tuple(deserialize_keras_object(v, custom_objects, safe_mode)
                     for v in inner["value"])
    if class_name in ("__numpy__", "__tensor__"):
        from tapeflow._backend import np

        value = np.array(inner["value"], dtype=inner.get("dtype"))
        if class_name == "__tensor__":
            from tapeflow.framework.tensor import constant

            return constant(value)
        return value
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__keras_tensor__":
        return config
    if class_name == "__lambda__":
        if safe_mode:
            raise _unsafe_error("a lambda", "it holds Python bytecode")
        value = inner["value"] if "value" in inner else (inner["code"], inner.get("defaults"),
                                                           inner.get("closure"))
        return _func_load(value)
    with SafeModeScope(safe_mode), CustomObjectScope(custom_objects or {}):
        obj = _resolve(config, custom_objects, safe_mode)
        if class_name == "function" or not inspect.isclass(obj):
            return obj
        if not isinstance(inner, dict):
            raise ValueError(f"Cannot deserialize {class_name!r}: its 'config' must be a dict, "
                             f"received {type(inner).__name__}.")
        if safe_mode:  # nested entries reach constructors that may load code: check first
            check_config_safety(inner, custom_objects, True, label=f"{class_name!r} config")
        inner = _substitute_custom(inner, custom_objects)
        if hasattr(obj, "from_config"):
            instance = obj.from_config(inner)
        else:
            instance = obj(**inner)
        build_config = config.get("build_config")
        if build_config and hasattr(instance, "build_from_config") and \
                not getattr(instance, "built", False):
            instance.build_from_config(build_config)
        return instance
