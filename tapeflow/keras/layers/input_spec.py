"""``InputSpec``: what a layer accepts, and the one check that names what did not fit."""

from tapeflow.framework import nest
from tapeflow.framework.tensor import Tensor


class InputSpec:
    """Describes the rank, dtype and axis sizes a layer accepts (``keras.layers.InputSpec``).

    Args:
      dtype: expected dtype name, or None.
      shape: expected full shape (None entries match anything), or None.
      ndim: expected rank; min_ndim / max_ndim: bounds on the rank.
      axes: ``{axis: size}`` that must hold (e.g. ``{-1: 4}`` for a Dense built on 4 features).
      allow_last_axis_squeeze, name, optional: as in Keras.

    >>> spec = InputSpec(min_ndim=2, axes={-1: 4})
    >>> spec.axes
    {-1: 4}
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim is not None else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed "
                                 f"value: {max_dim}")

    def __repr__(self):
        spec = [f"dtype={self.dtype}" if self.dtype else "",
                f"shape={self.shape}" if self.shape else "",
                f"ndim={self.ndim}" if self.ndim is not None else "",
                f"max_ndim={self.max_ndim}" if self.max_ndim is not None else "",
                f"min_ndim={self.min_ndim}" if self.min_ndim is not None else "",
                f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(x for x in spec if x)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _shape_of(x):
    value = getattr(x, "_value", None)
    if value is not None and hasattr(value, "shape"):   # a Tensor: skip building a TensorShape
        return tuple(value.shape)
    shape = x.shape
    if hasattr(shape, "as_list"):
        return tuple(shape.as_list())
    return tuple(shape)


def _dtype_of(x):
    dt = x.dtype
    return dt if isinstance(dt, str) else getattr(dt, "name", str(dt))


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raises ValueError naming the layer, the rule and the received shape when inputs misfit.

    >>> import numpy as np
    >>> assert_input_compatibility(InputSpec(axes={-1: 4}), np.zeros((2, 5)), "dense")
    Traceback (most recent call last):
    ...
    ValueError: Input 0 of layer "dense" is incompatible with the layer: expected axis -1 of \
input shape to have value 4, but received input with shape (2, 5)
    """
    if not input_spec:
        return
    # the common case; a Tensor is tested by type first, since `hasattr(t, "shape")` would build
    # a TensorShape (issue 7: per-call overhead)
    if isinstance(input_spec, InputSpec) and (type(inputs) is Tensor or hasattr(inputs, "shape")):
        _check_one(input_spec, inputs, 0, layer_name)
        return
    specs = nest.flatten(input_spec)
    flat = nest.flatten(inputs)
    if len(flat) != len(specs) and not (len(specs) == 1 and len(flat) >= 1):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received '
                         f"{len(flat)} input tensors. Inputs received: {inputs}")
    if len(specs) == 1 and len(flat) > 1:
        specs = specs * len(flat)
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or x is None or not hasattr(x, "shape"):
            continue
        _check_one(spec, x, index, layer_name)


def _head(index, layer_name):
    return f'Input {index} of layer "{layer_name}" is incompatible with the layer:'


def _check_one(spec, x, index, layer_name):
    # (the message head is built only for an error: this runs on every layer call)
    shape = _shape_of(x)
    ndim = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{_head(index, layer_name)} expected ndim={spec.ndim}, found "
                         f"ndim={ndim}. Full shape received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{_head(index, layer_name)} expected max_ndim={spec.max_ndim}, found "
                         f"ndim={ndim}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{_head(index, layer_name)} expected min_ndim={spec.min_ndim}, found "
                         f"ndim={ndim}. Full shape received: {shape}")
    if spec.dtype is not None and _dtype_of(x) != spec.dtype:
        raise ValueError(f"{_head(index, layer_name)} expected dtype={spec.dtype}, found "
                         f"dtype={_dtype_of(x)}")
    for axis, value in spec.axes.items():
        if value is None:
            continue
        if not -ndim <= axis < ndim or shape[axis] not in (value, None):
            raise ValueError(f"{_head(index, layer_name)} expected axis {axis} of input shape "
                             f"to have value {value}, but received input with shape {shape}")
    if spec.shape is not None:
        if len(spec.shape) != ndim or any(s is not None and d is not None and s != d
                                          for s, d in zip(spec.shape, shape)):
            raise ValueError(f"{_head(index, layer_name)} expected shape={spec.shape}, found "
                             f"shape={shape}")
