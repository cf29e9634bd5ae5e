"""``keras.backend``: global settings (float type, epsilon, image layout) and session state.

>>> from tapeflow.keras import backend
>>> backend.floatx(), backend.epsilon(), backend.image_data_format()
('float32', 1e-07, 'channels_last')
"""

import collections
import re

_STATE = {"floatx": "float32", "epsilon": 1e-7, "image_data_format": "channels_last"}
_UIDS = collections.defaultdict(int)
_NAME_SCOPE = []   # names of the layers whose build/call is running (variable paths)
_FLOAT_TYPES = ("float16", "bfloat16", "float32", "float64")


def floatx():
    """The default float type, ``"float32"`` unless ``set_floatx`` changed it.

    >>> floatx()
    'float32'
    """
    return _STATE["floatx"]


def set_floatx(value):
    """Sets the default float type (``"float16"``, ``"float32"`` or ``"float64"``).

    >>> set_floatx("float64"); floatx()
    'float64'
    >>> set_floatx("float32")
    """
    value = str(value)
    if value not in _FLOAT_TYPES:
        raise ValueError(f"Unknown `floatx` value: {value}. Expected one of {set(_FLOAT_TYPES)}")
    _STATE["floatx"] = value


def epsilon():
    """The fuzz factor used in numeric expressions (default 1e-7).

    >>> epsilon()
    1e-07
    """
    return _STATE["epsilon"]


def set_epsilon(value):
    """Sets the fuzz factor returned by ``epsilon()``.

    >>> set_epsilon(1e-5); epsilon()
    1e-05
    >>> set_epsilon(1e-7)
    """
    _STATE["epsilon"] = float(value)


def image_data_format():
    """The default image layout, ``"channels_last"`` or ``"channels_first"``.

    >>> image_data_format()
    'channels_last'
    """
    return _STATE["image_data_format"]


def set_image_data_format(data_format):
    """Sets the default image layout.

    >>> set_image_data_format("channels_last")
    """
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    _STATE["image_data_format"] = data_format


def backend():
    """The name of the backend: ``"tensorflow"`` (tapeflow implements TensorFlow's API).

    >>> backend()
    'tensorflow'
    """
    return "tensorflow"


def clear_session(free_memory=True):
    """Resets the automatic layer names (the next Dense is ``dense`` again).

    >>> from tapeflow import keras
    >>> clear_session()
    >>> keras.layers.Dense(1).name
    'dense'
    """
    _UIDS.clear()
    _NAME_SCOPE.clear()


def get_uid(prefix=""):
    """Returns 1, 2, 3, ... on successive calls with the same ``prefix`` (since clear_session).

    >>> clear_session(); get_uid("x"), get_uid("x")
    (1, 2)
    """
    _UIDS[prefix] += 1
    return _UIDS[prefix]


def to_snake_case(name):
    """``"Conv2DTranspose"`` -> ``"conv2d_transpose"``, as Keras names layers.

    >>> to_snake_case("BatchNormalization")
    'batch_normalization'
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def unique_object_name(prefix):
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ... (Keras's auto names).

    >>> clear_session(); unique_object_name("dense"), unique_object_name("dense")
    ('dense', 'dense_1')
    """
    uid = get_uid(prefix)
    return prefix if uid == 1 else f"{prefix}_{uid - 1}"


class name_scope:
    """Pushes ``name`` on the scope used for variable paths (``"model/dense/kernel"``).

    >>> with name_scope("outer"):
    ...     current_path()
    'outer'
    """

    def __init__(self, name, **kwargs):
        self.name = name

    def __enter__(self):
        _NAME_SCOPE.append(self.name)
        return self

    def __exit__(self, *exc):
        _NAME_SCOPE.pop()


def current_path():
    """The '/'-joined names of the open name scopes.

    >>> current_path()
    ''
    """
    return "/".join(_NAME_SCOPE)


class DTypePolicy:
    """A layer's dtype policy: the dtype of its variables and of its computations.

    >>> DTypePolicy("float32").compute_dtype
    'float32'
    >>> p = DTypePolicy("mixed_float16"); p.compute_dtype, p.variable_dtype
    ('float16', 'float32')
    """

    def __init__(self, name=None):
        if name in ("mixed_float16", "mixed_bfloat16"):
            self._name = name
            self._compute, self._variable = name[len("mixed_"):], "float32"
            return
        name = floatx() if name is None else standardize_dtype(name)
        self._name = self._compute = self._variable = name

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._compute

    @property
    def variable_dtype(self):
        return self._variable

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other._name == self._name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


def serialize_dtype_policy(policy):
    """The nested dict Keras 3 writes for a layer's ``dtype`` in ``get_config``.

    >>> serialize_dtype_policy(DTypePolicy("float32"))["config"]
    {'name': 'float32'}
    """
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": policy.name},
            "registered_name": None}


def get_dtype_policy(dtype):
    """A ``DTypePolicy`` from None, a dtype name, a tapeflow/NumPy dtype, a policy or its dict.

    >>> get_dtype_policy({"class_name": "DTypePolicy", "config": {"name": "float64"}}).name
    'float64'
    """
    if dtype is None:
        return _STATE.get("dtype_policy") or DTypePolicy()
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):
        cfg = dtype.get("config", dtype)
        return DTypePolicy(cfg.get("name"))
    return DTypePolicy(dtype)


def standardize_dtype(dtype):
    """The dtype's name as a string (``tf.float32`` -> ``"float32"``).

    >>> standardize_dtype("float")
    'float32'
    """
    if dtype is None:
        return floatx()
    if hasattr(dtype, "name") and not isinstance(dtype, str):
        dtype = dtype.name
    elif not isinstance(dtype, str):
        dtype = getattr(dtype, "__name__", str(dtype))
    aliases = {"float": "float32", "double": "float64", "int": "int32", "half": "float16"}
    dtype = aliases.get(dtype, dtype)
    from tapeflow.framework.dtypes import as_dtype  # noqa: PLC0415 - validate only

    try:
        return as_dtype(dtype).name
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"Invalid dtype: {dtype!r}. Expected a dtype name such as 'float32', "
                         f"'int32' or 'bool'.") from None


def is_float_dtype(dtype):
    """True for float dtypes.

    >>> is_float_dtype("float16"), is_float_dtype("int32")
    (True, False)
    """
    return standardize_dtype(dtype).startswith(("float", "bfloat"))
