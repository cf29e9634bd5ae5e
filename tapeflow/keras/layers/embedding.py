"""``Embedding``: integer ids to dense vectors (``embeddings`` of shape (input_dim, output_dim)).

With ``mask_zero=True`` id 0 is padding: ``compute_mask`` gives ``ids != 0`` and the mask flows
to the layers that consume it (RNNs, GlobalAveragePooling1D).
"""

from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.layer import Layer
from tapeflow.keras.layers.node import KerasTensor
from tapeflow.ops import array_ops as A
from tapeflow.ops import math_ops as M

__all__ = ["Embedding"]


class Embedding(Layer):
    """Looks up rows of ``embeddings`` (default init uniform in [-0.05, 0.05]).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> emb = keras.layers.Embedding(10, 4, mask_zero=True)
    >>> y = emb(np.array([[1, 2, 0]]))
    >>> y.shape, emb.compute_mask(np.array([[1, 2, 0]])).numpy()
    (TensorShape([1, 3, 4]), array([[ True,  True, False]]))
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        input_length = kwargs.pop("input_length", None)
        del input_length
        if quantization_config is not None:
            raise ValueError(f"Embedding: quantization is not supported by tapeflow; expected "
                             f"quantization_config=None, received {quantization_config!r}.")
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        if self.input_dim <= 0 or self.output_dim <= 0:
            raise ValueError(f"Both `input_dim` and `output_dim` should be positive, Received "
                             f"input_dim = {input_dim} and output_dim = {output_dim}")
        self.embeddings_initializer = U.get("initializer", embeddings_initializer)
        self.embeddings_regularizer = U.get("regularizer", embeddings_regularizer)
        self.embeddings_constraint = U.get("constraint", embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.autocast = False
        self._initial_weights = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer, regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint)

    def call(self, inputs):
        ids = inputs
        if ids.dtype.name not in ("int32", "int64"):
            ids = M.cast(ids, "int32")
        out = A.gather(self.embeddings, ids)
        if out.dtype.name != self.compute_dtype:  # as Keras: the output in the compute dtype
            out = M.cast(out, self.compute_dtype)
        return out

    def compute_mask(self, inputs, previous_mask=None):
        if not self.mask_zero:
            return None
        if isinstance(inputs, KerasTensor):  # a symbolic input gets a symbolic mask
            return KerasTensor(inputs.shape, "bool")
        return M.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        c = U.base_config(self)
        c.update({
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": U.serialize("initializer", self.embeddings_initializer),
            "embeddings_regularizer": U.serialize("regularizer", self.embeddings_regularizer),
            "activity_regularizer": U.serialize("regularizer", self.activity_regularizer),
            "embeddings_constraint": U.serialize("constraint", self.embeddings_constraint),
            "mask_zero": self.mask_zero, "quantization_config": None,
        })
        return c
