"""The functions models delegate to (``model.save``, ``load_weights``, ``to_json``, configs).

>>> import os, tempfile
>>> from tapeflow import keras
>>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
>>> p = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> save_model(m, p)
>>> load_model(p).output_shape
(None, 2)
"""

import json

from tapeflow.keras.saving import model_config, safe_io, saving_lib
from tapeflow.keras.saving.model_config import (  # noqa: F401
    functional_from_config,
    functional_get_config,
    sequential_from_config,
    sequential_get_config,
)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_to_json",
           "model_from_json", "functional_get_config", "functional_from_config",
           "sequential_get_config", "sequential_from_config"]


def save_model(model, filepath, overwrite=True, **kwargs):
    """Saves ``model`` to a ``.keras`` file (Keras 3's format); see ``saving_lib.save_model``.

    >>> from tapeflow import keras
    >>> save_model(keras.Sequential(), "model.h5")
    Traceback (most recent call last):
    ...
    ValueError: Invalid filepath extension for saving. ...
    """
    zipped = kwargs.pop("zipped", True)
    if kwargs:
        raise ValueError(f"save_model: unexpected arguments {sorted(kwargs)}.")
    saving_lib.save_model(model, filepath, overwrite=overwrite, zipped=zipped)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by ``model.save`` (tapeflow or Keras 3).

    Args:
      filepath: a ``.keras`` file.
      custom_objects: dict of user classes/functions by name.
      compile: whether to compile the model (and restore the optimizer state) from the file.
      safe_mode: refuse lambdas and modules outside the registered serializables.

    >>> load_model("missing.keras")
    Traceback (most recent call last):
    ...
    ValueError: File not found: filepath=missing.keras. ...
    """
    import os

    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else None
    if path is not None and (path.endswith(".h5") or path.endswith(".hdf5")) and \
            os.path.exists(path):
        raise ValueError(f"Cannot load '{path}': legacy HDF5 full-model files are not supported; "
                         "save the model as `.keras` (model.save('m.keras')). Weights files "
                         "ending in `.weights.h5` load with model.load_weights().")
    return saving_lib.load_model(filepath, custom_objects=custom_objects, compile=compile,
                                 safe_mode=safe_mode)


def save_weights(model, filepath, overwrite=True):
    """Saves the model's weights to a ``.weights.h5`` file.

    >>> from tapeflow import keras
    >>> save_weights(keras.Sequential(), "w.h5")
    Traceback (most recent call last):
    ...
    ValueError: The filename must end in `.weights.h5`. Received: filepath=w.h5
    """
    saving_lib.save_weights_only(model, filepath, overwrite=overwrite)


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Loads weights from a ``.weights.h5`` or ``.keras`` file into ``model``.

    >>> from tapeflow import keras
    >>> load_weights(keras.Sequential(), "w.txt")
    Traceback (most recent call last):
    ...
    ValueError: File format not supported: ...
    """
    saving_lib.load_weights_only(model, filepath, skip_mismatch=skip_mismatch)


def model_to_json(model, **kwargs):
    """The model's config as a JSON string (``model.to_json()``).

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> json.loads(model_to_json(m))["class_name"]
    'Sequential'
    """
    return json.dumps(saving_lib.serialize_model(model), **kwargs)


def model_from_json(json_string, custom_objects=None):
    """Builds a model from ``model.to_json()`` output (weights are freshly initialized).

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model_from_json(model_to_json(m)).output_shape
    (None, 2)
    """
    config = safe_io.loads_json(json_string, "json_string")
    return saving_lib.model_from_config(config, custom_objects=custom_objects, compile=False,
                                        label="json_string")


def compile_from_config(model, config, custom_objects=None):
    """Compiles ``model`` from a Keras ``compile_config`` dict (see ``model_config``).

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> compile_from_config(m, {"optimizer": "adam", "loss": "mse"}); type(m.optimizer).__name__
    'Adam'
    """
    model_config.compile_from_config(model, config, custom_objects)
