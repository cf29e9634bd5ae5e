"""Argument normalisation and config serialisation shared by the conv, pooling, normalization,
recurrent and attention layers."""

from tapeflow.keras import backend as K
from tapeflow.keras.layers.variables import _AUTOCAST


def normalize_tuple(value, n, name, allow_zero=False):
    """An int or an iterable of ``n`` ints as a tuple of ``n`` ints (Keras's conv_utils rule)."""
    if isinstance(value, int):
        out = (value,) * n
    else:
        try:
            out = tuple(int(v) for v in value)
        except TypeError:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                             f"Received {name}={value!r}") from None
        if len(out) != n:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                             f"Received {name}={value!r} (length {len(out)})")
    low = 0 if allow_zero else 1
    if any(v < low for v in out):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers >= {low}. "
                         f"Received {name}={value!r}")
    return out


def normalize_padding(value, allowed=("valid", "same")):
    p = str(value).lower()
    if p not in allowed:
        raise ValueError(f"The `padding` argument must be one of {list(allowed)}. Received: "
                         f"padding={value!r}")
    return p


# tf.nn's data_format strings by rank: (channels_last, channels_first)
NN_DATA_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def normalize_data_format(value):
    if value is None:
        return K.image_data_format()
    df = str(value).lower()
    if df not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of 'channels_first', "
                         f"'channels_last'. Received: data_format={value!r}")
    return df


def serialize(kind, obj):
    """Keras-style config entry for an initializer / regularizer / constraint / activation."""
    if obj is None:
        return None
    if kind == "activation":
        from tapeflow.keras import activations  # noqa: PLC0415

        return activations.serialize(obj)
    mod = _module(kind)
    return mod.serialize(obj)


def get(kind, identifier):
    if kind == "activation":
        from tapeflow.keras import activations  # noqa: PLC0415

        return activations.get(identifier)
    if identifier is None:
        return None
    return _module(kind).get(identifier)


def _module(kind):
    import importlib  # noqa: PLC0415

    return importlib.import_module(f"tapeflow.keras.{kind}s")


def base_config(layer):
    return {"name": layer.name, "trainable": layer.trainable,
            "dtype": K.serialize_dtype_policy(layer._dtype_policy)}


def set_kernel_bias_args(layer, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, kernel_constraint, bias_constraint):
    """Sets ``layer.kernel_initializer`` ... ``layer.bias_constraint`` from identifiers."""
    layer.kernel_initializer = get("initializer", kernel_initializer)
    layer.bias_initializer = get("initializer", bias_initializer)
    layer.kernel_regularizer = get("regularizer", kernel_regularizer)
    layer.bias_regularizer = get("regularizer", bias_regularizer)
    layer.kernel_constraint = get("constraint", kernel_constraint)
    layer.bias_constraint = get("constraint", bias_constraint)


def kernel_bias_config(layer):
    """The config entries of :func:`set_kernel_bias_args`'s attributes and the activity
    regularizer, in Keras's order."""
    return {
        "kernel_initializer": serialize("initializer", layer.kernel_initializer),
        "bias_initializer": serialize("initializer", layer.bias_initializer),
        "kernel_regularizer": serialize("regularizer", layer.kernel_regularizer),
        "bias_regularizer": serialize("regularizer", layer.bias_regularizer),
        "activity_regularizer": serialize("regularizer", layer.activity_regularizer),
        "kernel_constraint": serialize("constraint", layer.kernel_constraint),
        "bias_constraint": serialize("constraint", layer.bias_constraint),
    }


def build_child(child, shape):
    """Builds a sublayer under its own name scope so its weights get Keras's nested paths."""
    if child.built:
        return
    with K.name_scope(child.name):
        child.build(shape)
    child.built = True


def serialize_layer(layer):
    """A nested layer's full Keras 3 dict (module, class_name, config, registered_name and
    build_config), as Keras writes a wrapper's ``layer`` or an RNN's ``cell``."""
    from tapeflow.keras.saving import serialization_lib  # noqa: PLC0415

    return serialization_lib.serialize_keras_object(layer)


def deserialize_layer(spec):
    """The layer of a nested config written by :func:`serialize_layer`, by Keras 3, or in the
    short ``{"class_name", "config"}`` form (custom classes resolve through the registry)."""
    from tapeflow.keras.saving import serialization_lib  # noqa: PLC0415

    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or \
            not isinstance(spec.get("config"), dict):
        raise ValueError(f"Expected a serialized layer (a dict with 'class_name' and a "
                         f"'config' dict), received {spec!r:.200}.")
    return serialization_lib.deserialize_keras_object(spec)



def read(v):
    """A layer variable as its call should use it: read in the compute dtype inside the call of a
    mixed-precision layer (Keras 3 autocasting), else the variable itself."""
    if v is not None and _AUTOCAST and _AUTOCAST[-1] is not None:
        return v.value
    return v
