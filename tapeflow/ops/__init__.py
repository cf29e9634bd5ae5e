"""The op families. Importing this package binds the Tensor operators to the public ops."""

from types import SimpleNamespace

from tapeflow.framework import tensor as _tensor
from tapeflow.ops import (  # noqa: F401  (registers their ops)
    array_ops,
    index_ops,
    linalg_ops,
    math_ops,
    nn_ops,
    reduction_ops,
    scan_ops,
    sort_ops,
)

_tensor._bind_ops(SimpleNamespace(
    add=math_ops.add, subtract=math_ops.subtract, multiply=math_ops.multiply,
    truediv=math_ops.truediv, floordiv=math_ops.floordiv, floormod=math_ops.floormod,
    pow=math_ops.pow, matmul=linalg_ops.matmul, negative=math_ops.negative, abs=math_ops.abs,
    logical_not=math_ops.tensor_invert, logical_and=math_ops.tensor_and,
    logical_or=math_ops.tensor_or, logical_xor=math_ops.tensor_xor, less=math_ops.less,
    less_equal=math_ops.less_equal, greater=math_ops.greater,
    greater_equal=math_ops.greater_equal, tensor_equals=math_ops.tensor_equals,
    tensor_not_equals=math_ops.tensor_not_equals, getitem=array_ops.getitem,
    reduce_sum=reduction_ops.reduce_sum, reshape=array_ops.reshape,
    zeros_like=math_ops.zeros_like, ones_like=math_ops.ones_like, cast=math_ops.cast,
    zeros=array_ops.zeros, stack=array_ops.stack,
))

from tapeflow.ops import _raw_grads  # noqa: E402, F401  (fast backward forms; issue 7)
