"""Pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the global poolings.

``GlobalAveragePooling1D`` honours a Keras mask (the mean over the unmasked steps only).
"""

from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A
from tapeflow.ops import conv_ops as C
from tapeflow.ops import math_ops as M
from tapeflow.ops import reduction_ops as R

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
           "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
           "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D",
           "GlobalMaxPool1D", "GlobalMaxPool2D"]


class BasePooling(Layer):
    """Shared N-d pooling layer; ``strides`` default to ``pool_size``."""

    rank = 2
    kind = "MAX"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = U.normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else U.normalize_tuple(
            strides, self.rank, "strides")
        self.padding = U.normalize_padding(padding)
        self.data_format = U.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        cf = self.data_format == "channels_first"
        return C._pool_nd(inputs, self.pool_size, self.strides, self.padding.upper(),
                          U.NN_DATA_FORMATS[self.rank][cf], self.rank, self.kind,
                          type(self).__name__)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        cf = self.data_format == "channels_first"
        sp = input_shape[2:] if cf else input_shape[1:-1]
        out = []
        for s, k, st in zip(sp, self.pool_size, self.strides, strict=True):
            if s is None:
                out.append(None)
            elif self.padding == "same":
                out.append((s + st - 1) // st)
            else:
                out.append((s - k) // st + 1)
        if cf:
            return (input_shape[0], input_shape[1]) + tuple(out)
        return (input_shape[0],) + tuple(out) + (input_shape[-1],)

    def get_config(self):
        config = U.base_config(self)
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


def _pool_class(name, rank, kind, default_pool, doc):
    if default_pool is None:  # Keras 3: AveragePooling*D has no default pool_size
        def __init__(self, pool_size, strides=None, padding="valid", data_format=None,
                     name=None, **kwargs):
            BasePooling.__init__(self, pool_size, strides, padding, data_format, name, **kwargs)
    else:
        def __init__(self, pool_size=default_pool, strides=None, padding="valid",
                     data_format=None, name=None, **kwargs):
            BasePooling.__init__(self, pool_size, strides, padding, data_format, name, **kwargs)

    __init__.__qualname__ = f"{name}.__init__"
    return type(name, (BasePooling,), {"rank": rank, "kind": kind, "__init__": __init__,
                                       "__doc__": doc, "__module__": __name__})


MaxPooling1D = _pool_class("MaxPooling1D", 1, "MAX", 2, """Max pooling over time.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.MaxPooling1D()(np.arange(5.0).reshape(1, 5, 1))[0, :, 0].numpy()
    array([1., 3.], dtype=float32)
    """)
MaxPooling2D = _pool_class("MaxPooling2D", 2, "MAX", (2, 2), """Max pooling over images.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.MaxPooling2D()(np.ones((2, 5, 5, 3))).shape
    TensorShape([2, 2, 2, 3])
    """)
MaxPooling3D = _pool_class("MaxPooling3D", 3, "MAX", (2, 2, 2), """Max pooling over volumes.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.MaxPooling3D()(np.ones((1, 4, 4, 4, 2))).shape
    TensorShape([1, 2, 2, 2, 2])
    """)
AveragePooling1D = _pool_class("AveragePooling1D", 1, "AVG", None, """Average pooling over time.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.AveragePooling1D(2)(np.arange(4.0).reshape(1, 4, 1))[0, :, 0].numpy()
    array([0.5, 2.5], dtype=float32)
    """)
AveragePooling2D = _pool_class("AveragePooling2D", 2, "AVG", None, """Average pooling over
    images; with padding "same" each window averages only its real elements.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.AveragePooling2D(3, 2, "same")(np.ones((1, 5, 5, 1))).shape
    TensorShape([1, 3, 3, 1])
    """)
AveragePooling3D = _pool_class("AveragePooling3D", 3, "AVG", None, """Average pooling
    over volumes.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.AveragePooling3D(2)(np.ones((1, 4, 4, 4, 2))).shape
    TensorShape([1, 2, 2, 2, 2])
    """)
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D


class BaseGlobalPooling(Layer):
    """Shared global pooling over every spatial axis."""

    rank = 2
    kind = "AVG"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = U.normalize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _axes(self):
        if self.data_format == "channels_first":
            return list(range(2, self.rank + 2))
        return list(range(1, self.rank + 1))

    def call(self, inputs):
        fn = R.reduce_mean if self.kind == "AVG" else R.reduce_max
        return fn(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        config = U.base_config(self)
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over time; a Keras mask (batch, steps) restricts the mean to unmasked steps.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> x = np.array([[[1.0], [3.0], [100.0]]])
    >>> keras.layers.GlobalAveragePooling1D()(x, mask=np.array([[1, 1, 0]], bool)).numpy()
    array([[2.]], dtype=float32)
    """

    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        cf = self.data_format == "channels_first"
        step_axis = 2 if cf else 1
        m = A.expand_dims(M.cast(mask, inputs.dtype), 1 if cf else 2)  # over the channels
        total = R.reduce_sum(inputs * m, axis=step_axis, keepdims=self.keepdims)
        count = R.reduce_sum(m, axis=step_axis, keepdims=self.keepdims)
        return M.divide(total, count)

    def compute_mask(self, inputs, previous_mask):
        return None


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GlobalAveragePooling2D()(np.ones((2, 4, 4, 3))).shape
    TensorShape([2, 3])
    """

    rank = 2


class GlobalAveragePooling3D(BaseGlobalPooling):
    """Mean over the three spatial axes.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GlobalAveragePooling3D()(np.ones((2, 2, 2, 2, 3))).shape
    TensorShape([2, 3])
    """

    rank = 3


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over time.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GlobalMaxPooling1D()(np.arange(3.0).reshape(1, 3, 1)).numpy()
    array([[2.]], dtype=float32)
    """

    rank = 1
    kind = "MAX"


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GlobalMaxPooling2D(keepdims=True)(np.ones((2, 4, 4, 3))).shape
    TensorShape([2, 1, 1, 3])
    """

    rank = 2
    kind = "MAX"


class GlobalMaxPooling3D(BaseGlobalPooling):
    """Max over the three spatial axes.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GlobalMaxPooling3D()(np.ones((2, 2, 2, 2, 3))).shape
    TensorShape([2, 3])
    """

    rank = 3
    kind = "MAX"


GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
