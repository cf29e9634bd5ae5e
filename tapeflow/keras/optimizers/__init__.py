"""``keras.optimizers``: SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Lion, Ftrl.

``get("adam")`` (any case), a config dict or an instance gives an optimizer; ``serialize`` /
``deserialize`` use Keras's ``{"module", "class_name", "config", "registered_name"}`` dict.

>>> from tapeflow import keras
>>> keras.optimizers.get("rmsprop").get_config()["rho"]
0.9
"""

from tapeflow.keras.optimizers import schedules  # noqa: F401
from tapeflow.keras.optimizers.adadelta import Adadelta
from tapeflow.keras.optimizers.adagrad import Adagrad
from tapeflow.keras.optimizers.adam import Adam
from tapeflow.keras.optimizers.adamax import Adamax
from tapeflow.keras.optimizers.adamw import AdamW
from tapeflow.keras.optimizers.ftrl import Ftrl
from tapeflow.keras.optimizers.lion import Lion
from tapeflow.keras.optimizers.nadam import Nadam
from tapeflow.keras.optimizers.optimizer import Optimizer
from tapeflow.keras.optimizers.rmsprop import RMSprop
from tapeflow.keras.optimizers.schedules import LearningRateSchedule  # noqa: F401
from tapeflow.keras.optimizers.sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax",
           "Nadam", "Lion", "Ftrl", "schedules", "get", "serialize", "deserialize"]

_CLASSES = [Optimizer, SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Lion, Ftrl]
ALL_OBJECTS_DICT = {c.__name__.lower(): c for c in _CLASSES}


def serialize(optimizer):
    """Keras's dict for ``optimizer`` (module ``keras.optimizers``).

    >>> from tapeflow import keras
    >>> keras.optimizers.serialize(keras.optimizers.SGD())["class_name"]
    'SGD'
    """
    if optimizer is None:
        return None
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """Builds an optimizer from :func:`serialize`'s dict (class names are case-insensitive).

    >>> from tapeflow import keras
    >>> keras.optimizers.deserialize({"class_name": "Adam", "config": {"learning_rate": 0.01}})
    <Adam name='adam' learning_rate=0.01>
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer config: {config!r}; expected a dict "
                         f"with 'class_name' and 'config'.")
    table = dict(ALL_OBJECTS_DICT)
    if custom_objects:
        table.update(custom_objects)
    name = config["class_name"]
    cls = table.get(name) or table.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {name!r}. Valid names are: "
                         f"{sorted(ALL_OBJECTS_DICT)}.")
    return cls.from_config(dict(config.get("config") or {}), custom_objects)


def get(identifier):
    """An optimizer from a name (``"adam"``), a config dict or an instance.

    >>> from tapeflow import keras
    >>> type(keras.optimizers.get("Adam")).__name__
    'Adam'
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, Optimizer):
        return identifier
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; expected a name "
                     f"(one of {sorted(ALL_OBJECTS_DICT)}), a config dict or an Optimizer.")
