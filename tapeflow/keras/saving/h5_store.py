"""Keras 3's weights layout in HDF5: one group per trackable object, its variables in ``vars``.

The walk matches Keras's ``saving_lib._save_state``: the root object writes ``vars``; a
Sequential/Functional model then writes its ``layers`` (each under the snake_case class name made
unique with ``_1``, ``_2`` in walk order), then the remaining public attributes holding layers or
an optimizer, sorted by name (``optimizer``, an RNN's ``cell``, a subclassed model's ``dense1``).
Every object writes its own variables as datasets ``0``, ``1``, ... in creation order.

>>> import h5py, io
>>> from tapeflow import keras
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
>>> f = h5py.File(io.BytesIO(), "w")
>>> save_weights_to_h5(model, f)
>>> sorted(n for n in _names(f))
['layers', 'layers/dense', 'layers/dense/vars', 'layers/dense/vars/0', 'layers/dense/vars/1', \
'vars']
"""

import warnings

from tapeflow._backend import np
from tapeflow.keras._objects import to_snake_case
from tapeflow.keras.saving import safe_io

__all__ = ["save_weights_to_h5", "load_weights_from_h5", "weight_paths"]

_ATTR_NAMES = ("cell", "forward_layer", "backward_layer", "layer")
_SKIP = {"layers", "input", "output", "inputs", "outputs", "compile_config"}
# tapeflow's bookkeeping attributes (graph structure, not state of their own)
_PRIVATE_SKIP = {"_layers", "_inbound_nodes", "_outbound_nodes", "_functional", "_graph",
                 "_operations", "_keras_history", "_self_unconditional_dependency_names"}


def _names(h5file):
    out = []
    h5file.visit(out.append)
    return out


def _layer_cls():
    from tapeflow.keras.layers import Layer

    return Layer


def _optimizer_cls():
    try:
        from tapeflow.keras.optimizers import Optimizer
    except ImportError:  # optimizers not available: no optimizer state to save
        return ()
    return Optimizer


def _metric_cls():
    try:
        from tapeflow.keras.metrics import Metric
    except ImportError:  # metrics not available: nothing of theirs to save
        return ()
    return Metric


def _is_trackable(obj):
    return isinstance(obj, (_layer_cls(), _optimizer_cls(), _metric_cls()))


def _is_attr_saveable(obj):
    # Keras saves layers and metrics held in attributes (a subclassed model's own metrics).
    return isinstance(obj, (_layer_cls(), _metric_cls()))


def _is_sequential(obj):
    from tapeflow.keras.saving import model_config

    return model_config.is_sequential(obj)


def _is_functional(obj):
    from tapeflow.keras.saving import model_config

    return model_config.is_functional(obj)


def _is_model(obj):
    from tapeflow.keras import models

    return isinstance(obj, models.Model)


def _children(obj):
    """(attribute, child or container) pairs in Keras's walk order."""
    graph = _is_sequential(obj) or _is_functional(obj)
    if graph:
        yield "layers", list(obj.layers)
    names = {k for k in vars(obj) if not k.startswith("_") and k not in _SKIP}
    if not graph and _is_model(obj):
        # a subclassed model: Keras meets its ``layers`` property among the public attributes
        # (so ``self.output_layer`` is saved as ``layers/dense``, after ``self.block``)
        names.add("layers")
    names.update(a for a in _ATTR_NAMES if hasattr(type(obj), a) and a not in vars(obj))
    names.update(_own_properties(type(obj)))
    # Keras walks dir(obj) with private attributes last (less those every Layer has), so a
    # custom layer's ``self._dense`` is saved under ``_dense`` unless reached before. tapeflow's
    # own classes keep their state in public attributes and properties, as Keras's do.
    private = [] if type(obj).__module__.startswith("tapeflow.") else sorted(
        k for k in vars(obj) if k.startswith("_") and not k.startswith("__")
        and k not in _PRIVATE_SKIP and k not in _base_private())
    for attr in sorted(names) + private:
        try:
            value = getattr(obj, attr)
        except Exception:  # a property that cannot be computed holds no state
            continue
        if attr == "layers" and not graph:
            yield attr, list(value)
        elif _is_attr_saveable(value) or (attr == "optimizer" and _is_trackable(value)):
            yield attr, value
        elif isinstance(value, (list, tuple, dict)):
            items = list(value.values()) if isinstance(value, dict) else list(value)
            if any(_is_attr_saveable(v) for v in items):
                yield attr, items


def _own_properties(cls):
    """Public properties a layer class adds to the base classes (Keras walks ``dir(obj)``, so
    ``MultiHeadAttention.query_dense`` is saved under ``query_dense``)."""
    base = _base_names()
    return [n for n in dir(cls) if not n.startswith("_") and n not in base and n not in _SKIP
            and isinstance(getattr(cls, n, None), property)]


_BASE_NAMES = []
_BASE_PRIVATE = []


def _base_private():
    """The private attributes a plain Layer, Sequential and Model instance have."""
    if not _BASE_PRIVATE:
        from tapeflow.keras import models

        names = set(vars(_layer_cls()()))
        for cls in (models.Sequential, models.Model):
            try:
                names |= set(vars(cls()))
            except Exception:  # a model class that needs arguments: its Layer part suffices
                pass
        _BASE_PRIVATE.append(names)
    return _BASE_PRIVATE[0]


def _base_names():
    if not _BASE_NAMES:
        from tapeflow.keras import models

        _BASE_NAMES.append(set(dir(_layer_cls())) | set(dir(models.Model)) |
                           set(dir(models.Sequential)))
    return _BASE_NAMES[0]


def _class_key(item):
    """Keras's group name for an object in a list: its class name in snake_case (a functional
    model is a ``Functional`` in Keras, whatever class built it)."""
    if type(item).__name__ == "Model" and _is_functional(item) and \
            type(item).__module__.startswith("tapeflow."):
        return "functional"
    return to_snake_case(type(item).__name__)


def _join(a, b):
    return f"{a}/{b}" if a else b


def _walk(obj, path, visited, visit):
    """Calls ``visit(obj, path)`` for each trackable object once, in Keras's order."""
    if id(obj) in visited:
        return
    visited.add(id(obj))
    visit(obj, path)
    for attr, child in _children(obj):
        if isinstance(child, list):
            used = {}
            for item in child:
                if not _is_trackable(item):
                    continue
                key = _class_key(item)
                if key in used:
                    used[key] += 1
                    key = f"{key}_{used[key]}"
                else:
                    used[key] = 0
                _walk(item, _join(_join(path, attr), key), visited, visit)
        else:
            _walk(child, _join(path, attr), visited, visit)


def _own_arrays(obj):
    """The object's own variables as ``{"0": array, ...}`` (Keras's ``save_own_variables``)."""
    store = {}
    if hasattr(obj, "save_own_variables"):
        obj.save_own_variables(store)
    elif isinstance(obj, _metric_cls()):
        for i, v in enumerate(obj.variables):
            store[str(i)] = v.numpy()
    return store


def _assign_own(obj, arrays):
    if hasattr(obj, "load_own_variables"):
        obj.load_own_variables(arrays)
    else:
        for i, v in enumerate(obj.variables):
            v.assign(arrays[str(i)])


def weight_paths(model, include_optimizer=True):
    """``{group path: [shape, ...]}`` that saving ``model`` writes (for checks and tests).

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> weight_paths(m)
    {'vars': [], 'layers/dense/vars': [(3, 2), (2,)]}
    """
    out = {}

    def visit(obj, path):
        if not include_optimizer and path == "optimizer":
            return
        out[_join(path, "vars")] = [tuple(np.shape(v)) for _, v in _sorted(_own_arrays(obj))]

    _walk(model, "", set(), visit)
    return out


def _sorted(store):
    return sorted(store.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 1 << 30)


def save_weights_to_h5(model, h5file, include_optimizer=True):
    """Writes every variable of ``model`` (and its optimizer) into an open, writable h5py File.

    >>> import h5py, io
    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> save_weights_to_h5(m, h5py.File(io.BytesIO(), "w"))
    """
    check_weights_reached(model, "save")

    def visit(obj, path):
        if path == "optimizer" and (not include_optimizer or not _is_optimizer_built(obj)):
            return
        group = h5file.require_group(_join(path, "vars"))
        group.attrs["name"] = str(getattr(obj, "name", "") or "")
        for key, value in _sorted(_own_arrays(obj)):
            arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
            group.create_dataset(str(key), data=arr)

    _walk(model, "", set(), visit)


def check_weights_reached(model, action="save"):
    """Raises ValueError if some of ``model.weights`` belong to no object the Keras walk reaches.

    Such a weight would be silently left out of a file (or left at its initial value by a
    load), so saving and loading refuse instead, naming the weights.

    >>> from tapeflow import keras
    >>> check_weights_reached(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    """
    reached = set()

    def visit(obj, path):
        for v in (list(getattr(obj, "_trainable_variables", None) or []) +
                  list(getattr(obj, "_non_trainable_variables", None) or [])):
            reached.add(id(v))

    _walk(model, "", set(), visit)
    try:
        weights = list(model.weights)
    except Exception:  # an unbuilt model: nothing to miss
        return
    missed = [getattr(w, "path", None) or getattr(w, "name", "?") for w in weights
              if id(w) not in reached]
    if missed:
        raise ValueError(f"Cannot {action} model '{getattr(model, 'name', '?')}': the weights "
                         f"{missed[:8]} belong to no layer that Keras's file layout reaches "
                         "(layers must be held in attributes, lists or dicts of the model or "
                         "of its layers).")


def _is_optimizer_built(opt):
    return bool(getattr(opt, "built", True)) or len(getattr(opt, "variables", ())) > 0


def _hard_get(root, path, label):
    """``root[path]`` following only hard links (None if absent).

    External and soft links could make HDF5 open other files on this machine; weights files
    never need them, so they are refused.
    """
    import h5py

    node = root
    for part in path.split("/"):
        if not isinstance(node, h5py.Group):
            return None
        link = node.get(part, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"Refusing to load '{label}': '{path}' is an HDF5 "
                             f"{type(link).__name__} (links to other files or paths are not "
                             "allowed in weights files).")
        node = node[part]
    return node


def load_weights_from_h5(model, h5file, label, load_optimizer=True, skip_mismatch=False):
    """Loads every variable of ``model`` (and its optimizer) from an open h5py File.

    Each dataset's declared shape is checked against the variable before it is read. A missing
    group, a different number of variables or a shape mismatch raises a ValueError naming
    ``label`` (the file), the layer's path and name, and the mismatch.

    >>> import h5py, io
    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> save_weights_to_h5(m, f)
    >>> load_weights_from_h5(m, f, "memory")
    """
    check_weights_reached(model, f"load '{label}' into")
    pending = []  # everything is read and checked first: a failed load changes nothing
    try:
        _walk(model, "", set(), _loader(model, h5file, label, load_optimizer, skip_mismatch,
                                        pending))
    except ValueError:
        raise
    except Exception as e:  # h5py raises KeyError/OSError/... on corrupt structures
        raise ValueError(f"Cannot load '{label}': the weights file is corrupt "
                         f"({type(e).__name__}: {e}).") from e
    for obj, arrays, who in pending:
        try:
            _assign_own(obj, arrays)
        except ValueError:
            raise
        except Exception as e:
            raise ValueError(f"Cannot load {who}: {type(e).__name__}: {e}") from e


def _loader(model, h5file, label, load_optimizer, skip_mismatch, pending):
    import h5py

    opt = getattr(model, "optimizer", None) if "optimizer" in model.__dict__ else None
    opt_group = _hard_get(h5file, "optimizer/vars", label)
    if opt is not None and load_optimizer and opt_group is not None:
        saved = len(opt_group)
        if saved > len(opt.variables) and hasattr(opt, "build"):
            opt.build(model.trainable_variables)  # slots exist only once built

    def visit(obj, path):
        try:
            load_one(obj, path)
        except ValueError as e:
            if not skip_mismatch or "corrupt" in str(e):
                raise
            warnings.warn(f"Skipping loading weights of {type(obj).__name__} "
                          f"'{getattr(obj, 'name', '?')}' (skip_mismatch=True): {e}")

    def load_one(obj, path):
        if path == "optimizer":
            if not load_optimizer or opt_group is None:
                return
            saved, own = len(opt_group), len(_own_arrays(obj))
            if saved != own:
                warnings.warn(f"Skipping variable loading for optimizer '{obj.name}' from "
                              f"'{label}', because it has {own} variables whereas the saved "
                              f"optimizer has {saved} variables.")
                return
        expected = _own_arrays(obj)
        vars_path = _join(path, "vars")
        name = str(getattr(obj, "name", "?"))[:100]  # a hostile name could be megabytes
        who = f"'{label}': {type(obj).__name__} '{name}' (at '{vars_path}')"
        try:
            group = _hard_get(h5file, vars_path, label)
        except Exception as e:
            raise ValueError(f"Cannot load {who}: unreadable group ({e}).") from e
        if group is None:
            if expected:
                raise ValueError(f"Cannot load {who}: the file has no weights for it (a weight "
                                 f"is missing; expected {len(expected)} variables).")
            return
        if not isinstance(group, h5py.Group):
            raise ValueError(f"Cannot load {who}: expected an HDF5 group.")
        keys = list(group.keys())
        if sorted(keys) != sorted(str(k) for k in expected):
            raise ValueError(f"Cannot load {who}: the file holds {len(keys)} variables "
                             f"({sorted(keys)[:8]}) but the layer has {len(expected)}.")
        arrays = {}
        for key, value in _sorted(expected):
            where = f"Cannot load {who}, variable {key}"
            arr = safe_io.read_dataset(_hard_get(group, str(key), label), np.shape(value), where)
            arrays[key] = arr.astype(np.asarray(value).dtype, copy=False)
        if arrays:
            pending.append((obj, arrays, who))

    return visit
