"""``keras.Input`` and ``keras.layers.InputLayer``: the entry points of a functional graph."""

from tapeflow.keras import backend as K
from tapeflow.keras.layers.layer import Layer
from tapeflow.keras.layers.node import KerasTensor, Node

__all__ = ["InputLayer", "Input"]


class InputLayer(Layer):
    """The layer behind ``keras.Input``: it has no weights and outputs one ``KerasTensor``.

    Args:
      shape: the shape without the batch axis, e.g. ``(28, 28)``.
      batch_size: optional fixed batch size.
      dtype: the input's dtype (default ``floatx()``).
      sparse, ragged: accepted; tapeflow inputs are dense.
      batch_shape: the full shape including the batch axis (instead of ``shape``).
      input_tensor: an existing KerasTensor to use as the output.
      optional: whether the input may be None.
      name: the layer's name (default ``input_layer``, made unique).

    >>> layer = InputLayer(shape=(3,))
    >>> layer.output.shape, layer.get_config()["batch_shape"]
    ((None, 3), [None, 3])
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, ragged=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, **kwargs)
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if input_tensor is not None:
            if not isinstance(input_tensor, KerasTensor):
                raise ValueError(f"Argument `input_tensor` must be a KerasTensor. Received "
                                 f"invalid type: input_tensor={input_tensor} (of type "
                                 f"{type(input_tensor)})")
            batch_shape = input_tensor.shape
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        if shape is not None:
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self._batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self._dtype = K.standardize_dtype(dtype)
        self.sparse = bool(sparse)
        self.ragged = bool(ragged)
        self.optional = bool(optional)
        self.built = True
        tensor = input_tensor or KerasTensor(self._batch_shape, dtype=self._dtype,
                                             sparse=self.sparse, name=self.name)
        Node(self, (), {}, tensor)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def dtype(self):
        return self._dtype

    def call(self):
        return None

    def get_config(self):
        return {"batch_shape": list(self._batch_shape), "dtype": self._dtype,
                "sparse": self.sparse, "ragged": self.ragged, "name": self.name,
                "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False, ragged=None):
    """A symbolic input of a functional model: a ``KerasTensor`` with ``None`` batch size.

    >>> from tapeflow import keras
    >>> x = keras.Input(shape=(28, 28), name="image")
    >>> x.shape, x.dtype, x.name
    ((None, 28, 28), 'float32', 'image')
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, input_tensor=tensor,
                       optional=optional, ragged=ragged)
    return layer.output
