"""``tf.nn``: activations, softmax, cross-entropies and neural-network building blocks."""

from tapeflow.ops.math_ops import sigmoid, softplus, tanh  # noqa: F401
from tapeflow.ops.nn_ops import (  # noqa: F401
    bias_add, elu, gelu, l2_normalize, leaky_relu, log_softmax, moments, relu, relu6, selu,
    sigmoid_cross_entropy_with_logits, silu, softmax, softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits, swish,
)
