"""``keras.config``: global settings (Keras 3's ``keras.config`` namespace).

Float type, epsilon and image layout live in ``keras.backend``; this module gathers them with
the switches Keras 3 keeps here: unsafe deserialization, interactive logging (progress bars and
summaries printed to stdout, or sent to the ``"keras"`` logger when disabled), the global dtype
policy, traceback filtering and the epoch/step caps.

>>> from tapeflow import keras
>>> keras.config.floatx(), keras.config.epsilon(), keras.config.image_data_format()
('float32', 1e-07, 'channels_last')
"""

from tapeflow.keras import backend as _K
from tapeflow.keras.backend import (  # noqa: F401  (re-exported, as in Keras)
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)

__all__ = [
    "backend", "set_backend", "floatx", "set_floatx", "epsilon", "set_epsilon",
    "image_data_format", "set_image_data_format", "enable_unsafe_deserialization",
    "enable_interactive_logging", "disable_interactive_logging",
    "is_interactive_logging_enabled", "dtype_policy", "set_dtype_policy",
    "enable_traceback_filtering", "disable_traceback_filtering",
    "is_traceback_filtering_enabled", "max_epochs", "set_max_epochs", "max_steps_per_epoch",
    "set_max_steps_per_epoch", "enable_flash_attention", "disable_flash_attention",
    "is_flash_attention_enabled", "is_nnx_enabled",
]

_STATE = {"interactive_logging": True, "traceback_filtering": True, "max_epochs": None,
          "max_steps_per_epoch": None, "flash_attention": None}


def backend():
    """The backend's name: ``"tensorflow"`` (tapeflow implements TensorFlow's API).

    >>> backend()
    'tensorflow'
    """
    return _K.backend()


def set_backend(backend):
    """Only ``"tensorflow"`` is available in tapeflow.

    >>> set_backend("tensorflow")
    >>> set_backend("jax")
    Traceback (most recent call last):
    ...
    ValueError: tapeflow implements only the 'tensorflow' backend. Received: backend='jax'
    """
    if backend != "tensorflow":
        raise ValueError(f"tapeflow implements only the 'tensorflow' backend. Received: "
                         f"backend={backend!r}")


def enable_unsafe_deserialization():
    """Lets loading functions rebuild Python lambdas (turns safe mode off globally).

    >>> from tapeflow.keras.saving import serialization_lib
    >>> enable_unsafe_deserialization(); serialization_lib.in_safe_mode()
    False
    >>> serialization_lib._UNSAFE_GLOBALLY[0] = False   # back to the default
    """
    from tapeflow.keras.saving import serialization_lib  # noqa: PLC0415

    serialization_lib.enable_unsafe_deserialization()


def enable_interactive_logging():
    """Progress bars and summaries are printed to stdout (the default).

    >>> enable_interactive_logging(); is_interactive_logging_enabled()
    True
    """
    _STATE["interactive_logging"] = True


def disable_interactive_logging():
    """Progress bars and summaries go to the ``"keras"`` logger (INFO) instead of stdout.

    >>> disable_interactive_logging(); is_interactive_logging_enabled()
    False
    >>> enable_interactive_logging()
    """
    _STATE["interactive_logging"] = False


def is_interactive_logging_enabled():
    """True unless ``disable_interactive_logging()`` was called.

    >>> is_interactive_logging_enabled()
    True
    """
    return _STATE["interactive_logging"]


def print_msg(message, line_break=True):
    """Writes ``message`` to stdout, or logs it when interactive logging is disabled.

    >>> print_msg("hello")
    hello
    """
    if _STATE["interactive_logging"]:
        import sys  # noqa: PLC0415

        sys.stdout.write(message + ("\n" if line_break else ""))
        sys.stdout.flush()
    else:
        import logging  # noqa: PLC0415

        logging.getLogger("keras").info(message)


def dtype_policy():
    """The global dtype policy (default: ``floatx()`` for variables and computations).

    >>> dtype_policy().name
    'float32'
    """
    return _K.get_dtype_policy(None)


def set_dtype_policy(policy):
    """Sets the global dtype policy used by layers created without ``dtype``.

    Args:
      policy: a policy name (``"mixed_float16"``, ``"float64"``) or a ``DTypePolicy``.

    >>> set_dtype_policy("mixed_float16"); dtype_policy().compute_dtype
    'float16'
    >>> set_dtype_policy(None); dtype_policy().name
    'float32'
    """
    if policy is None:
        _K._STATE["dtype_policy"] = None
        return
    if isinstance(policy, str):
        policy = _K.DTypePolicy(policy)
    if not isinstance(policy, _K.DTypePolicy):
        raise ValueError(f"Invalid `policy` argument. Expected the string name of a policy "
                         f"(such as 'mixed_float16') or a `DTypePolicy` instance. Received: "
                         f"policy={policy} (of type {type(policy)})")
    _K._STATE["dtype_policy"] = policy


def enable_traceback_filtering():
    """Accepted for Keras compatibility (tapeflow tracebacks are not filtered).

    >>> enable_traceback_filtering(); is_traceback_filtering_enabled()
    True
    """
    _STATE["traceback_filtering"] = True


def disable_traceback_filtering():
    """Accepted for Keras compatibility.

    >>> disable_traceback_filtering(); is_traceback_filtering_enabled()
    False
    >>> enable_traceback_filtering()
    """
    _STATE["traceback_filtering"] = False


def is_traceback_filtering_enabled():
    """The flag set by ``enable/disable_traceback_filtering``.

    >>> is_traceback_filtering_enabled()
    True
    """
    return _STATE["traceback_filtering"]


def _check_cap(value, name):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValueError(f"`{name}` must be None or a positive int. Received: {name}={value!r}")
    return value


def max_epochs():
    """The cap on the number of epochs of every ``fit`` (None: no cap).

    >>> max_epochs() is None
    True
    """
    return _STATE["max_epochs"]


def set_max_epochs(max_epochs):
    """Caps the epochs of every ``fit`` call (useful for quick test runs); None removes the cap.

    >>> set_max_epochs(2); max_epochs()
    2
    >>> set_max_epochs(None)
    """
    _STATE["max_epochs"] = _check_cap(max_epochs, "max_epochs")


def max_steps_per_epoch():
    """The cap on the steps of each epoch (None: no cap).

    >>> max_steps_per_epoch() is None
    True
    """
    return _STATE["max_steps_per_epoch"]


def set_max_steps_per_epoch(max_steps_per_epoch):
    """Caps the steps of each epoch of ``fit``/``evaluate``/``predict``; None removes the cap.

    >>> set_max_steps_per_epoch(5); max_steps_per_epoch()
    5
    >>> set_max_steps_per_epoch(None)
    """
    _STATE["max_steps_per_epoch"] = _check_cap(max_steps_per_epoch, "max_steps_per_epoch")


def enable_flash_attention():
    """Accepted for Keras compatibility (NumPy attention has one implementation).

    >>> enable_flash_attention(); is_flash_attention_enabled()
    True
    """
    _STATE["flash_attention"] = True


def disable_flash_attention():
    """Accepted for Keras compatibility.

    >>> disable_flash_attention(); is_flash_attention_enabled()
    False
    """
    _STATE["flash_attention"] = False


def is_flash_attention_enabled():
    """The flag set by ``enable/disable_flash_attention`` (None until one is called).

    >>> is_flash_attention_enabled() in (None, True, False)
    True
    """
    return _STATE["flash_attention"]


def is_nnx_enabled():
    """Always False (Flax NNX is a JAX feature).

    >>> is_nnx_enabled()
    False
    """
    return False
