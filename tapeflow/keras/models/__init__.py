"""``keras.models``: Model, Sequential, and loading saved models.

>>> from tapeflow import keras
>>> keras.models.Sequential is keras.Sequential
True
"""

from tapeflow.keras.models.model import Model  # noqa: F401
from tapeflow.keras.models.sequential import Sequential  # noqa: F401

Functional = Model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved with ``model.save`` (a Keras 3 ``.keras`` archive)."""
    from tapeflow.keras.saving import load_model as _load  # noqa: PLC0415

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None):
    """Builds a model (without weights) from ``model.to_json()``'s output."""
    from tapeflow.keras.saving.saving_api import model_from_json as _from_json  # noqa: PLC0415

    return _from_json(json_string, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialized weights."""
    config = model.get_config()
    return type(model).from_config(config)
