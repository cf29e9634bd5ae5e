"""Spatial reshaping layers: ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D."""

from tapeflow._backend import np
from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A
from tapeflow.ops import linalg_ops as L

__all__ = ["ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
           "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D"]


def _pairs(value, n, name):
    """int -> ((v, v),)*n; (a, b) -> ((a, a), (b, b)) for n == 2; or n explicit pairs."""
    if isinstance(value, int):
        return ((value, value),) * n
    value = list(value)
    if n == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (tuple(value),)
    if len(value) != n:
        raise ValueError(f"`{name}` should have {n} elements. Received: {name}={value!r}.")
    out = []
    for v in value:
        pr = U.normalize_tuple(v, 2, name, allow_zero=True)
        out.append(pr)
    return tuple(out)


def _spatial_offset(channels_first):
    """Index of the first spatial axis."""
    return 2 if channels_first else 1


def _pad_spatial(inputs, pairs, channels_first):
    """Zero-pads the spatial axes by the (before, after) ``pairs``."""
    sp = [list(p) for p in pairs]
    p = [[0, 0], [0, 0]] + sp if channels_first else [[0, 0]] + sp + [[0, 0]]
    return A.pad(inputs, p)


def _crop_spatial(inputs, pairs, channels_first):
    """Drops ``a`` leading and ``b`` trailing entries of each spatial axis, (a, b) in ``pairs``."""
    shape = inputs.shape.as_list()
    off = _spatial_offset(channels_first)
    key = [slice(None)] * len(shape)
    for i, (a, b) in enumerate(pairs):
        key[off + i] = slice(a, shape[off + i] - b)
    return inputs[tuple(key)]


def _repeat_spatial(x, sizes, channels_first):
    """Repeats each entry of spatial axis i ``sizes[i]`` times (nearest-neighbour upsampling)."""
    off = _spatial_offset(channels_first)
    for i, s in enumerate(sizes):
        x = A.gather(x, np.repeat(np.arange(x.shape[off + i]), s), axis=off + i)
    return x


def _spatial_output_shape(input_shape, channels_first, fn, per_axis):
    """``input_shape`` with each known spatial size d replaced by ``fn(d, per_axis[i])``."""
    s = list(input_shape)
    off = _spatial_offset(channels_first)
    for i, v in enumerate(per_axis):
        if s[off + i] is not None:
            s[off + i] = fn(s[off + i], v)
    return tuple(s)


class ZeroPadding1D(Layer):
    """Pads the time axis with zeros: ``padding`` int or (left, right).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.ZeroPadding1D(2)(np.ones((1, 3, 1))).shape
    TensorShape([1, 7, 1])
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 1, "padding")[0]
        self.data_format = U.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return _pad_spatial(inputs, [self.padding], self.data_format == "channels_first")

    def get_config(self):
        c = U.base_config(self)
        c.update({"padding": self.padding, "data_format": self.data_format})
        return c


class ZeroPadding2D(Layer):
    """Pads rows and columns with zeros: ``padding`` int, (h, w) or ((top, bottom), (left,
    right)).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.ZeroPadding2D(((1, 0), (2, 1)))(np.ones((1, 3, 3, 2))).shape
    TensorShape([1, 4, 6, 2])
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 2, "padding")
        self.data_format = U.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return _pad_spatial(inputs, self.padding, self.data_format == "channels_first")

    def compute_output_shape(self, input_shape):
        return _spatial_output_shape(input_shape, self.data_format == "channels_first",
                                     lambda d, p: d + p[0] + p[1], self.padding)

    def get_config(self):
        c = U.base_config(self)
        c.update({"padding": self.padding, "data_format": self.data_format})
        return c


class Cropping1D(Layer):
    """Crops the time axis: ``cropping`` int or (start, end).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Cropping1D((1, 2))(np.ones((1, 6, 1))).shape
    TensorShape([1, 3, 1])
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 1, "cropping")[0]
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return _crop_spatial(inputs, [self.cropping], False)

    def get_config(self):
        c = U.base_config(self)
        c["cropping"] = self.cropping
        return c


class Cropping2D(Layer):
    """Crops rows and columns: ``cropping`` int, (h, w) or ((top, bottom), (left, right)).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Cropping2D(((1, 0), (1, 1)))(np.ones((1, 4, 4, 2))).shape
    TensorShape([1, 3, 2, 2])
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 2, "cropping")
        self.data_format = U.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        cf = self.data_format == "channels_first"
        if not cf:
            (t, b), (lf, r) = self.cropping
            if t + b >= inputs.shape[1] or lf + r >= inputs.shape[2]:
                raise ValueError(f"Cropping {self.cropping} is too large for input of shape "
                                 f"{tuple(inputs.shape)}.")
        return _crop_spatial(inputs, self.cropping, cf)

    def compute_output_shape(self, input_shape):
        return _spatial_output_shape(input_shape, self.data_format == "channels_first",
                                     lambda d, p: d - (p[0] + p[1]), self.cropping)

    def get_config(self):
        c = U.base_config(self)
        c.update({"cropping": self.cropping, "data_format": self.data_format})
        return c


def _bilinear_matrix(n_in, scale, dtype):
    """(n_out, n_in) interpolation matrix of tf.image.resize bilinear (half-pixel centres)."""
    n_out = n_in * scale
    src = (np.arange(n_out) + 0.5) / scale - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    mat = np.zeros((n_out, n_in), dtype=np.float64)
    mat[np.arange(n_out), lo] += 1 - frac
    mat[np.arange(n_out), hi] += frac
    return mat.astype(dtype)


class UpSampling1D(Layer):
    """Repeats each time step ``size`` times.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.UpSampling1D(2)(np.arange(2.0).reshape(1, 2, 1))[0, :, 0].numpy()
    array([0., 0., 1., 1.], dtype=float32)
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return _repeat_spatial(inputs, [self.size], False)

    def get_config(self):
        c = U.base_config(self)
        c["size"] = self.size
        return c


class UpSampling2D(Layer):
    """Upsamples rows and columns by ``size``: "nearest" repeats, "bilinear" interpolates as
    ``tf.image.resize`` (half-pixel centres).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.UpSampling2D(2)(np.ones((1, 2, 3, 1))).shape
    TensorShape([1, 4, 6, 1])
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = U.normalize_tuple(size, 2, "size")
        self.data_format = U.normalize_data_format(data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"`interpolation` argument should be one of: 'nearest', "
                             f"'bilinear'. Received: interpolation={interpolation!r}.")
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        cf = self.data_format == "channels_first"
        x = A.transpose(inputs, [0, 2, 3, 1]) if cf else inputs
        h, w = x.shape[1], x.shape[2]
        if self.interpolation == "nearest":
            x = _repeat_spatial(x, self.size, False)
        else:
            dt = x.dtype.as_numpy_dtype
            mh = _bilinear_matrix(h, self.size[0], dt)
            mw = _bilinear_matrix(w, self.size[1], dt)
            n, c = x.shape[0], x.shape[3]
            # rows: (H_out, H) @ (H, N*W*C)
            t = A.reshape(A.transpose(x, [1, 0, 2, 3]), [h, -1])
            t = A.reshape(L.matmul(mh, t), [h * self.size[0], n, w, c])
            t = A.reshape(A.transpose(t, [2, 1, 0, 3]), [w, -1])
            t = A.reshape(L.matmul(mw, t), [w * self.size[1], n, h * self.size[0], c])
            x = A.transpose(t, [1, 2, 0, 3])
        return A.transpose(x, [0, 3, 1, 2]) if cf else x

    def compute_output_shape(self, input_shape):
        return _spatial_output_shape(input_shape, self.data_format == "channels_first",
                                     lambda d, k: d * k, self.size)

    def get_config(self):
        c = U.base_config(self)
        c.update({"size": self.size, "data_format": self.data_format,
                  "interpolation": self.interpolation})
        return c


class ZeroPadding3D(Layer):
    """Pads the three spatial axes with zeros: ``padding`` int, 3 ints or 3 (before, after)
    pairs.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.ZeroPadding3D(1)(np.ones((1, 2, 2, 2, 1))).shape
    TensorShape([1, 4, 4, 4, 1])
    """

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 3, "padding")
        self.data_format = U.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        return _pad_spatial(inputs, self.padding, self.data_format == "channels_first")

    def get_config(self):
        c = U.base_config(self)
        c.update({"padding": self.padding, "data_format": self.data_format})
        return c


class Cropping3D(Layer):
    """Crops the three spatial axes: ``cropping`` int, 3 ints or 3 (before, after) pairs.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Cropping3D(1)(np.ones((1, 4, 4, 4, 1))).shape
    TensorShape([1, 2, 2, 2, 1])
    """

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 3, "cropping")
        self.data_format = U.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        return _crop_spatial(inputs, self.cropping, self.data_format == "channels_first")

    def get_config(self):
        c = U.base_config(self)
        c.update({"cropping": self.cropping, "data_format": self.data_format})
        return c


class UpSampling3D(Layer):
    """Repeats each voxel ``size`` times along the three spatial axes.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.UpSampling3D(2)(np.ones((1, 1, 2, 3, 1))).shape
    TensorShape([1, 2, 4, 6, 1])
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = U.normalize_tuple(size, 3, "size")
        self.data_format = U.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        return _repeat_spatial(inputs, self.size, self.data_format == "channels_first")

    def get_config(self):
        c = U.base_config(self)
        c.update({"size": self.size, "data_format": self.data_format})
        return c
