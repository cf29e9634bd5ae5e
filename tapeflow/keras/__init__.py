"""``tapeflow.keras``: Keras 3 (layers, models, training) on tapeflow.

Submodules load on first use, so ``import tapeflow.keras`` stays fast and a submodule that fails
to import breaks only the code that uses it.

>>> from tapeflow import keras
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
>>> model.output_shape
(None, 2)
"""

import importlib as _importlib

__version__ = "3.15.0"

_SUBMODULES = (
    "activations", "backend", "callbacks", "constraints", "datasets", "initializers", "layers",
    "losses", "metrics", "models", "optimizers", "regularizers", "saving", "utils", "ops",
    "random", "applications", "preprocessing", "mixed_precision", "distribution", "config",
)
# Top-level names and the module that defines each (``keras.Model`` is ``keras.models.Model``).
_NAMES = {
    "Model": "tapeflow.keras.models",
    "Sequential": "tapeflow.keras.models",
    "Input": "tapeflow.keras.layers",
    "InputSpec": "tapeflow.keras.layers",
    "Layer": "tapeflow.keras.layers",
    "KerasTensor": "tapeflow.keras.layers",
    "Variable": "tapeflow.keras.layers",
    "Operation": "tapeflow.keras.layers",
    "Loss": "tapeflow.keras.losses",
    "Metric": "tapeflow.keras.metrics",
    "Optimizer": "tapeflow.keras.optimizers",
    "Initializer": "tapeflow.keras.initializers",
    "Regularizer": "tapeflow.keras.regularizers",
    "Constraint": "tapeflow.keras.constraints",
    "DTypePolicy": "tapeflow.keras.backend",
    "name_scope": "tapeflow.keras.backend",
}


def __getattr__(name):
    if name in _SUBMODULES:
        try:
            mod = _importlib.import_module(f"tapeflow.keras.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"tapeflow.keras.{name}":
                raise   # a real import error inside the submodule
            raise AttributeError(f"tapeflow.keras.{name} is not implemented in tapeflow") \
                from None
        globals()[name] = mod
        return mod
    if name in _NAMES:
        value = getattr(_importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tapeflow.keras' has no attribute {name!r}")


def __dir__():
    import pkgutil

    present = {m.name for m in pkgutil.iter_modules(__path__)}
    return sorted(set(globals()) | (set(_SUBMODULES) & present) | set(_NAMES))
