"""``keras.layers``: the Layer base class, Input, and every built-in layer.

The core and merge layers are imported here; the other layer families (convolution, pooling,
normalization, recurrent, attention, embedding, ...) live in sibling modules and are found on
first use, so a family that fails to import never breaks ``keras.layers.Dense``.

>>> from tapeflow import keras
>>> keras.layers.Dense(2).name.startswith("dense")
True
"""

import importlib as _importlib
import pkgutil as _pkgutil

from tapeflow.keras.layers.core import (  # noqa: F401
    Activation,
    ActivityRegularization,
    Dense,
    Dropout,
    Flatten,
    GaussianNoise,
    Identity,
    Lambda,
    Normalization,
    Permute,
    RepeatVector,
    Rescaling,
    Reshape,
)
from tapeflow.keras.layers.input_layer import Input, InputLayer  # noqa: F401
from tapeflow.keras.layers.input_spec import InputSpec  # noqa: F401
from tapeflow.keras.layers.layer import KerasVariable, Layer  # noqa: F401
from tapeflow.keras.layers.merge import (  # noqa: F401
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from tapeflow.keras.layers.node import KerasTensor, Node  # noqa: F401

Variable = KerasVariable
Operation = Layer
_CORE = {"core", "input_layer", "input_spec", "layer", "merge", "node"}


def __getattr__(name):
    # Other layer families: import each sibling module until one defines ``name``.
    if name.startswith("__"):
        raise AttributeError(name)
    for info in _pkgutil.iter_modules(__path__):
        if info.name in _CORE or info.name.startswith("_"):
            continue
        try:
            mod = _importlib.import_module(f"{__name__}.{info.name}")
        except ImportError:
            continue
        value = getattr(mod, name, None)
        exported = name in mod.__all__ if hasattr(mod, "__all__") else (
            isinstance(value, type) and value.__module__ == mod.__name__)
        if exported and not name.startswith("_"):
            globals()[name] = value
            return value
    raise AttributeError(f"module 'tapeflow.keras.layers' has no attribute {name!r}")
