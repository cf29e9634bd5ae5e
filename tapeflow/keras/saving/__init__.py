"""``keras.saving``: Keras 3's ``.keras`` format, weights files and object serialization.

>>> from tapeflow import keras
>>> keras.saving.serialize_keras_object(keras.initializers.Ones())["class_name"]
'Ones'
"""

from tapeflow.keras.saving.saving_api import (  # noqa: F401
    load_model,
    load_weights,
    save_model,
    save_weights,
)
from tapeflow.keras.saving.serialization_lib import (  # noqa: F401
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)

__all__ = ["load_model", "save_model", "load_weights", "save_weights",
           "register_keras_serializable", "serialize_keras_object",
           "deserialize_keras_object", "get_registered_object", "get_registered_name",
           "custom_object_scope", "CustomObjectScope", "get_custom_objects"]
