"""Keras 3 configs of Sequential and Functional models, and their inverse.

``functional_get_config`` writes Keras's ``layers`` (each with ``name`` and ``inbound_nodes``
whose tensor arguments are ``__keras_tensor__`` dicts), ``input_layers`` and ``output_layers``;
``functional_from_config`` replays the recorded calls on symbolic tensors. ``sequential_*`` write
and read ``name``, ``trainable``, ``dtype``, ``layers`` (starting with the InputLayer) and
``build_input_shape``.

>>> from tapeflow import keras
>>> x = keras.Input((3,), name="x")
>>> model = keras.Model(x, keras.layers.Dense(2, name="d")(x))
>>> cfg = functional_get_config(model)
>>> cfg["input_layers"], cfg["output_layers"]
(['x', 0, 0], ['d', 0, 0])
"""

from tapeflow.framework import nest
from tapeflow.keras.saving import serialization_lib as sl

__all__ = ["is_functional", "is_sequential", "functional_get_config", "functional_from_config",
           "sequential_get_config", "sequential_from_config", "get_compile_config",
           "compile_from_config"]


def _models():
    from tapeflow.keras import models

    return models


def is_sequential(obj):
    """True for a ``keras.Sequential`` (or subclass).

    >>> from tapeflow import keras
    >>> is_sequential(keras.Sequential())
    True
    """
    return isinstance(obj, _models().Sequential)


def is_functional(obj):
    """True for a model built from symbolic inputs/outputs (``keras.Model(inputs, outputs)``).

    >>> from tapeflow import keras
    >>> is_functional(keras.Sequential())
    False
    """
    if is_sequential(obj) or not isinstance(obj, _models().Model):
        return False
    flag = getattr(obj, "_is_graph_network", None)
    if flag is not None:
        return bool(flag)
    return getattr(obj, "_graph", None) is not None or \
        bool(getattr(obj, "_functional", None)) and not is_sequential(obj)


def _node_key(layer, index):
    return (id(layer), index)


def _model_nodes(model):
    """The set of (layer, node index) keys that belong to ``model``'s graph."""
    keys = set()
    seen = set()
    stack = [t for t in nest.flatten(model.outputs)]
    while stack:
        t = stack.pop()
        history = t._keras_history
        if history is None:
            continue
        layer, node_index, _ = history
        key = _node_key(layer, node_index)
        if key in seen:
            continue
        seen.add(key)
        keys.add(key)
        node = layer._inbound_nodes[node_index]
        stack.extend(node.input_tensors)
    return keys


def _tensor_config(t, own_nodes, reindex):
    layer, node_index, tensor_index = t._keras_history
    new_index = reindex.get(_node_key(layer, node_index), node_index)
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": _dtype_name(t.dtype),
                       "keras_history": [layer.name, new_index, tensor_index]}}


def _dtype_name(dtype):
    return dtype if isinstance(dtype, str) else getattr(dtype, "name", str(dtype))


def _serialize_call_value(v, own_nodes, reindex):
    from tapeflow.keras.layers.node import KerasTensor

    if isinstance(v, KerasTensor):
        return _tensor_config(v, own_nodes, reindex)
    if isinstance(v, (list, tuple)):
        return [_serialize_call_value(a, own_nodes, reindex) for a in v]
    if isinstance(v, dict):
        return {k: _serialize_call_value(a, own_nodes, reindex) for k, a in v.items()}
    return sl.serialize_keras_object(v)


def _triples(structure, reindex):
    def one(t):
        layer, node_index, tensor_index = t._keras_history
        return [layer.name, reindex.get(_node_key(layer, node_index), node_index), tensor_index]

    if isinstance(structure, dict):
        return {k: one(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        if len(structure) == 1:  # Keras writes a single input/output as one triple
            return one(structure[0])
        return [one(t) for t in structure]
    return one(structure)


def _structure(model, which):
    # The inputs/outputs as the user gave them (a tensor, a list or a dict), when recorded.
    holders = [model, getattr(model, "_graph", None), getattr(model, "_functional", None)]
    for holder in holders:
        for attr in (f"_{which}_struct", f"{which}_struct", f"_{which}_structure"):
            value = getattr(holder, attr, None) if holder is not None else None
            if value is not None:
                return value
    return getattr(model, which)


def functional_get_config(model):
    """Keras's config of a functional model (``Model(inputs, outputs)``).

    >>> from tapeflow import keras
    >>> x = keras.Input((2,), name="i")
    >>> m = keras.Model(x, keras.layers.Dense(1, name="o")(x), name="m")
    >>> [layer["name"] for layer in functional_get_config(m)["layers"]]
    ['i', 'o']
    """
    own = _model_nodes(model)
    reindex = {}
    for layer in model.layers:
        kept = 0
        for i in range(len(layer._inbound_nodes)):
            if _node_key(layer, i) in own:
                reindex[_node_key(layer, i)] = kept
                kept += 1
    layers = []
    for layer in model.layers:
        nodes = []
        for i, node in enumerate(layer._inbound_nodes):
            if _node_key(layer, i) not in own or not node.input_tensors:
                continue
            nodes.append({
                "args": [_serialize_call_value(a, own, reindex) for a in node.call_args],
                "kwargs": {k: _serialize_call_value(v, own, reindex)
                           for k, v in node.call_kwargs.items()},
            })
        entry = sl.serialize_keras_object(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = nodes
        layers.append(entry)
    return {"name": model.name, "trainable": bool(model.trainable), "layers": layers,
            "input_layers": _triples(_structure(model, "inputs"), reindex),
            "output_layers": _triples(_structure(model, "outputs"), reindex)}


def _is_triple(v):
    return isinstance(v, (list, tuple)) and len(v) == 3 and isinstance(v[0], str) and \
        isinstance(v[1], int) and isinstance(v[2], int)


def functional_from_config(cls, config, custom_objects=None):
    """Rebuilds a functional model from ``functional_get_config``'s dict (Keras's format).

    >>> from tapeflow import keras
    >>> x = keras.Input((2,), name="i")
    >>> m = keras.Model(x, keras.layers.Dense(1, name="o")(x), name="m")
    >>> functional_from_config(keras.Model, functional_get_config(m)).name
    'm'
    """
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"Functional.from_config: expected a dict with a 'layers' list, "
                         f"received {str(config)[:200]}.")
    created = {}
    pending = []  # [layer, [node_data, ...]] in config order
    for layer_data in config["layers"]:
        if not isinstance(layer_data, dict) or "name" not in layer_data:
            raise ValueError(f"Functional.from_config: each layer entry must be a dict with a "
                             f"'name', received {str(layer_data)[:200]}.")
        layer = sl.deserialize_keras_object(layer_data, custom_objects=custom_objects)
        created[layer_data["name"]] = layer
        nodes = layer_data.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"Functional.from_config: 'inbound_nodes' of layer "
                             f"{layer_data['name']!r} must be a list.")
        pending.append([layer, list(nodes)])

    def tensor_from(data):
        name, node_index, tensor_index = data
        if name not in created:
            raise ValueError(f"Functional.from_config: a call refers to layer {name!r}, which is "
                             f"not in the config's layers.")
        nodes = created[name]._inbound_nodes
        if node_index >= len(nodes):
            raise IndexError(node_index)
        return nodes[node_index].outputs[tensor_index]

    def decode(v):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            return tensor_from(v["config"]["keras_history"])
        if isinstance(v, list):
            return [decode(a) for a in v]
        if isinstance(v, dict):
            if "class_name" in v and "config" in v:
                return sl.deserialize_keras_object(v, custom_objects=custom_objects)
            return {k: decode(a) for k, a in v.items()}
        return v

    while any(nodes for _, nodes in pending):
        progress = False
        for entry in pending:
            layer, nodes = entry
            while nodes:
                data = nodes[0]
                if isinstance(data, list):  # Keras 2 style [[name, node, tensor, kwargs], ...]
                    data = {"args": [[{"class_name": "__keras_tensor__",
                                       "config": {"keras_history": d[:3]}} for d in data]],
                            "kwargs": (data[0][3] if data and len(data[0]) > 3 else {})}
                    if len(data["args"][0]) == 1:
                        data["args"] = data["args"][0]
                try:
                    args = decode(data.get("args", []))
                    kwargs = decode(data.get("kwargs", {}))
                except IndexError:
                    break  # an input is produced by a call not replayed yet
                layer(*args, **kwargs)
                nodes.pop(0)
                progress = True
        if not progress:
            raise ValueError("Functional.from_config: the layers' inbound_nodes cannot be "
                             "resolved (a cycle or a reference to a missing call).")

    def structure(v):
        if _is_triple(v):
            return tensor_from(v)
        if isinstance(v, dict):
            return {k: structure(a) for k, a in v.items()}
        if isinstance(v, list):
            return [structure(a) for a in v]
        raise ValueError(f"Functional.from_config: bad input/output spec {v!r:.100}.")

    try:
        inputs = structure(config["input_layers"])
        outputs = structure(config["output_layers"])
    except IndexError as e:
        raise ValueError(f"Functional.from_config: input/output spec refers to a call that "
                         f"does not exist ({e}).") from e
    kwargs = {"name": config.get("name")}
    if "trainable" in config:
        kwargs["trainable"] = config["trainable"]
    model = cls(inputs=inputs, outputs=outputs, **kwargs)
    return model


def sequential_get_config(model):
    """Keras's config of a ``Sequential``: name, trainable, dtype, layers, build_input_shape.

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="s")
    >>> cfg = sequential_get_config(m)
    >>> [layer["class_name"] for layer in cfg["layers"]], cfg["build_input_shape"]
    (['InputLayer', 'Dense'], [None, 3])
    """
    from tapeflow.keras.backend import serialize_dtype_policy

    layers = list(getattr(model, "_layers", None) or model.layers)
    config = {"name": model.name, "trainable": bool(model.trainable)}
    policy = getattr(model, "dtype_policy", None)
    if policy is not None:
        config["dtype"] = serialize_dtype_policy(policy)
    config["layers"] = [sl.serialize_keras_object(layer) for layer in layers]
    first = layers[0] if layers else None
    if first is not None and type(first).__name__ == "InputLayer":
        shape = getattr(first, "batch_shape", None)
        if shape is not None:
            config["build_input_shape"] = list(shape)
    elif getattr(model, "built", False):
        shape = (model.get_build_config() or {}).get("input_shape") \
            if hasattr(model, "get_build_config") else None
        if shape is not None:
            config["build_input_shape"] = list(shape)
    return config


def sequential_from_config(cls, config, custom_objects=None):
    """Rebuilds a ``Sequential`` from ``sequential_get_config``'s dict.

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="s")
    >>> sequential_from_config(keras.Sequential, sequential_get_config(m)).output_shape
    (None, 2)
    """
    if isinstance(config, list):  # very old Keras: a bare list of layers
        config = {"layers": config}
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"Sequential.from_config: expected a dict with a 'layers' list, "
                         f"received {str(config)[:200]}.")
    kwargs = {}
    if config.get("name") is not None:
        kwargs["name"] = config["name"]
    model = cls(**kwargs)
    if "trainable" in config:
        model.trainable = config["trainable"]
    for layer_config in config["layers"]:
        model.add(sl.deserialize_keras_object(layer_config, custom_objects=custom_objects))
    shape = config.get("build_input_shape")
    first = (getattr(model, "_layers", None) or [None])[0]
    if not (isinstance(shape, (list, tuple)) and shape) and \
            type(first).__name__ == "InputLayer" and getattr(first, "batch_shape", None):
        shape = list(first.batch_shape)  # as Keras, a leading InputLayer builds the model
    if not model.built and isinstance(shape, (list, tuple)) and shape:
        model.build(tuple(shape))
    return model


def get_compile_config(model):
    """Keras's ``compile_config`` of a compiled model, or None.

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> m.compile(optimizer="sgd", loss="mse")
    >>> get_compile_config(m)["loss"]
    'mse'
    """
    if not getattr(model, "compiled", False):
        return None
    raw = model.get_compile_config() if hasattr(model, "get_compile_config") else None
    if raw is None:
        raw = getattr(model, "compile_config", None) or getattr(model, "_compile_config", None)
    if hasattr(raw, "serialize"):
        raw = raw.serialize()
    out = dict(raw) if isinstance(raw, dict) else {}
    opt = getattr(model, "optimizer", None)
    if opt is not None:  # the live optimizer, so its hyperparameters survive a string name
        out["optimizer"] = opt
    defaults = {"loss": None, "loss_weights": None, "metrics": None, "weighted_metrics": None,
                "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}
    for key, value in defaults.items():
        out.setdefault(key, value)
    if out.get("jit_compile") == "auto":
        out["jit_compile"] = False
    return {k: sl.serialize_keras_object(v) for k, v in out.items()}


def compile_from_config(model, config, custom_objects=None):
    """Compiles ``model`` from a ``compile_config`` (strings stay strings; dicts deserialize).

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> compile_from_config(m, {"optimizer": "sgd", "loss": "mse"})
    >>> type(m.optimizer).__name__
    'SGD'
    """
    if not isinstance(config, dict):
        raise ValueError(f"compile_config must be a dict, received {type(config).__name__}.")

    table = sl._custom_table(custom_objects)

    def des(v):
        if isinstance(v, dict) and "class_name" in v:
            return sl.deserialize_keras_object(v, custom_objects=custom_objects)
        if isinstance(v, list):
            return [des(a) for a in v]
        if isinstance(v, dict):
            return {k: des(a) for k, a in v.items()}
        if isinstance(v, str) and table:  # a user loss/metric given by name
            found = sl._custom_by_name(v, table)
            return v if found is None else found
        return v

    kwargs = {}
    for key in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics",
                "run_eagerly", "steps_per_execution", "jit_compile"):
        if key in config:
            kwargs[key] = des(config[key])
    model.compile(**kwargs)
