"""Python operators on symbolic ``KerasTensor``s (``x * 2.0``, ``a + b``, ``x[:, 0]``).

Each operator applied to a KerasTensor becomes a call of a small ``TensorOperator`` layer, so
the functional graph records it like any other layer and replays it on real tensors.
"""

import operator

from tapeflow.keras.layers.layer import Layer

__all__ = ["TensorOperator", "apply_operator"]

_OPS = {
    "add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
    "divide": operator.truediv, "floor_divide": operator.floordiv, "mod": operator.mod,
    "power": operator.pow, "matmul": operator.matmul, "negative": operator.neg,
    "absolute": operator.abs, "getitem": operator.getitem,
}


class TensorOperator(Layer):
    """Applies one Python operator: ``op(x, other)`` or, with ``reverse``, ``op(other, x)``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> x = keras.Input((3,))
    >>> y = x * 2.0 + 1.0
    >>> model = keras.Model(x, y)
    >>> model(np.array([[1.0, 2.0, 3.0]])).numpy()
    array([[3., 5., 7.]], dtype=float32)
    """

    def __init__(self, op="add", other=None, reverse=False, **kwargs):
        super().__init__(**kwargs)
        if op not in _OPS:
            raise ValueError(f"TensorOperator: unknown operator {op!r}; expected one of "
                             f"{sorted(_OPS)}.")
        self.op = op
        self.other = other
        self.reverse = bool(reverse)

    def call(self, inputs):
        fn = _OPS[self.op]
        if isinstance(inputs, list):      # both operands are tensors
            return fn(inputs[0], inputs[1])
        if self.op in ("negative", "absolute"):
            return fn(inputs)
        return fn(self.other, inputs) if self.reverse else fn(inputs, self.other)

    def get_config(self):
        config = super().get_config()
        other = self.other
        if isinstance(other, tuple):
            other = [_plain_index(k) for k in other]
        elif isinstance(other, slice):
            other = _plain_index(other)
        config.update({"op": self.op, "other": other, "reverse": self.reverse})
        return config


def _plain_index(k):
    if isinstance(k, slice):
        return {"slice": [k.start, k.stop, k.step]}
    if k is Ellipsis:
        return "..."
    return k


def apply_operator(op, x, other=None, reverse=False):
    """``op`` on a KerasTensor ``x`` (and ``other``: a value or another KerasTensor)."""
    from tapeflow.keras.layers.node import KerasTensor

    if isinstance(other, KerasTensor):
        pair = [other, x] if reverse else [x, other]
        return TensorOperator(op)(pair)
    return TensorOperator(op, other=other, reverse=reverse)(x)
