"""The ``.keras`` archive: a zip of ``metadata.json``, ``config.json`` and ``model.weights.h5``.

Writing goes through a temporary file in the target's folder and ``os.replace``, so an
interrupted save never loses the previous file. Reading never extracts to disk: the members are
read (with size checks) into memory and the HDF5 file is opened from bytes.

>>> import os, tempfile
>>> from tapeflow import keras
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
>>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> save_model(model, path)
>>> load_model(path).output_shape
(None, 2)
"""

import datetime
import io
import json
import os
import zipfile

from tapeflow.keras.saving import h5_store, safe_io
from tapeflow.keras.saving import serialization_lib as sl

__all__ = ["save_model", "load_model", "save_weights_only", "load_weights_only",
           "serialize_model", "model_from_config"]

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"


def _keras_version():
    try:
        from tapeflow import keras

        return keras.__version__
    except Exception:  # pragma: no cover - keras always importable here
        return "3.15.0"


def serialize_model(model):
    """The model's full config dict, as Keras writes it to ``config.json``.

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> serialize_model(m)["class_name"]
    'Sequential'
    """
    from tapeflow.keras.saving import model_config

    config = sl.serialize_keras_object(model)
    compile_config = model_config.get_compile_config(model)
    if compile_config:
        config["compile_config"] = sl.serialize_dict(compile_config)
    return config


def _weights_bytes(model, include_optimizer=True):
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        h5_store.save_weights_to_h5(model, f, include_optimizer=include_optimizer)
    return buf.getvalue()


def _check_overwrite(filepath, overwrite):
    if overwrite or not os.path.exists(filepath):
        return True
    try:
        answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n] ")
    except (EOFError, OSError):
        answer = "n"
    return answer.strip().lower() in ("y", "yes")


def save_model(model, filepath, overwrite=True, zipped=True):
    """Saves ``model`` as a Keras 3 ``.keras`` archive (config, metadata, weights, optimizer).

    Args:
      model: a tapeflow Keras model.
      filepath: the destination, ending in ``.keras``.
      overwrite: if False and the file exists, ask before replacing it.
      zipped: must be True (tapeflow writes only the zipped format).

    >>> import os, tempfile
    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> p = os.path.join(tempfile.mkdtemp(), "m.keras")
    >>> save_model(m, p); sorted(zipfile.ZipFile(p).namelist())
    ['config.json', 'metadata.json', 'model.weights.h5']
    """
    filepath = os.fspath(filepath)
    if not str(filepath).endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. Please add a `.keras` extension "
                         f"for the native Keras format. Received: filepath={filepath}")
    if not zipped:
        raise ValueError("save_model: tapeflow only writes the zipped `.keras` format "
                         "(zipped=True).")
    if not _check_overwrite(filepath, overwrite):
        return
    config = json.dumps(serialize_model(model))
    metadata = json.dumps({"keras_version": _keras_version(),
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    weights = _weights_bytes(model)

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA, metadata)
            zf.writestr(CONFIG, config)
            zf.writestr(WEIGHTS, weights)

    safe_io.atomic_write(filepath, write)


def model_from_config(config, custom_objects=None, compile=True, safe_mode=True,
                      label="config"):
    """Builds (and optionally compiles) a model from its full config dict, safely.

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="s")
    >>> model_from_config(serialize_model(m)).name
    's'
    """
    from tapeflow.keras.saving import model_config

    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"Cannot load '{label}': the config is not a serialized model (a dict "
                         "with 'class_name').")
    config = dict(config)
    compile_config = config.pop("compile_config", None) if compile else None
    config.pop("compile_config", None)
    sl.check_config_safety([config, compile_config], custom_objects, safe_mode, label=label)
    with sl.SafeModeScope(safe_mode), sl.CustomObjectScope(custom_objects or {}):
        try:
            model = sl.deserialize_keras_object(config, custom_objects=custom_objects,
                                                safe_mode=safe_mode)
        except ValueError as e:
            raise ValueError(f"Cannot load '{label}': {e}") from e
        except Exception as e:  # a malformed config reaching a constructor (TypeError, ...)
            raise ValueError(f"Cannot load '{label}': invalid model config "
                             f"({type(e).__name__}: {e}).") from e
        if not hasattr(model, "layers") or not hasattr(model, "predict"):
            raise ValueError(f"Cannot load '{label}': the config describes a "
                             f"{type(model).__name__}, not a model.")
        if compile and compile_config:
            try:
                model_config.compile_from_config(model, compile_config, custom_objects)
            except Exception as e:
                raise ValueError(f"Cannot load '{label}': invalid compile_config "
                                 f"({type(e).__name__}: {e}).") from e
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a ``.keras`` archive written by tapeflow or by Keras 3.

    Loading is safe by default: lambdas and classes/functions from modules that are not
    registered serializables are refused (``safe_mode=False`` opts in for trusted files), member
    sizes are checked before decompression, and nothing is written to disk.

    >>> import os, tempfile
    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> p = os.path.join(tempfile.mkdtemp(), "m.keras"); m.save(p)
    >>> load_model(p).count_params()
    8
    """
    label = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else "<file object>"
    if isinstance(filepath, (str, os.PathLike)) and not os.path.exists(filepath):
        raise ValueError(f"File not found: filepath={label}. Please ensure the file is an "
                         "accessible `.keras` zip file.")
    members = safe_io.read_archive(filepath, [CONFIG, WEIGHTS], optional=[METADATA])
    config = safe_io.loads_json(members[CONFIG], f"{label}:{CONFIG}")
    if METADATA in members:
        safe_io.loads_json(members[METADATA], f"{label}:{METADATA}")
    # Every weight comes from model.weights.h5: weights declared beyond its size (plus room for
    # compile metrics' state) are refused before they are allocated.
    budget = 2 * len(members[WEIGHTS]) + (64 << 20)
    with safe_io.WeightBudget(budget, label):
        model = model_from_config(config, custom_objects, compile, safe_mode, label=label)
    with safe_io.open_h5_bytes(members[WEIGHTS], f"{label}:{WEIGHTS}") as f:
        h5_store.load_weights_from_h5(model, f, label, load_optimizer=compile)
    return model


def save_weights_only(model, filepath, overwrite=True):
    """Writes ``model``'s weights (and optimizer state) to a ``.weights.h5`` file, atomically.

    >>> import os, tempfile
    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> save_weights_only(m, os.path.join(tempfile.mkdtemp(), "w.weights.h5"))
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError("The filename must end in `.weights.h5`. "
                         f"Received: filepath={filepath}")
    if not _check_overwrite(filepath, overwrite):
        return
    data = _weights_bytes(model)
    safe_io.atomic_write(filepath, lambda f: f.write(data))


def load_weights_only(model, filepath, skip_mismatch=False):
    """Loads weights (and optimizer state if present) from ``.weights.h5`` or ``.keras``.

    >>> import os, tempfile
    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> p = os.path.join(tempfile.mkdtemp(), "w.weights.h5"); save_weights_only(m, p)
    >>> load_weights_only(m, p)
    """
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        if not os.path.exists(filepath):
            raise ValueError(f"File not found: filepath={filepath}.")
        members = safe_io.read_archive(filepath, [WEIGHTS])
        with safe_io.open_h5_bytes(members[WEIGHTS], f"{filepath}:{WEIGHTS}") as f:
            h5_store.load_weights_from_h5(model, f, filepath, skip_mismatch=skip_mismatch)
        return
    if not filepath.endswith(".weights.h5"):
        raise ValueError("File format not supported: the filename must end in `.weights.h5` or "
                         f"`.keras`. Received: filepath={filepath}")
    if not getattr(model, "built", True):
        raise ValueError(f"Cannot load weights from '{filepath}' into model "
                         f"'{model.name}': the model is not built yet. Build it (call it on data "
                         "or give it an Input) before load_weights().")
    with safe_io.open_h5_path(filepath) as f:
        h5_store.load_weights_from_h5(model, f, filepath, skip_mismatch=skip_mismatch)
