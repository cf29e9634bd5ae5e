"""Fused ops for the hot paths of training: a Dense layer's matmul + bias + activation as one op.

``fused_dense(x, kernel, bias, activation)`` gives the same numbers as ``activation(x @ kernel +
bias)`` written with the separate ops, but records one op on the tape instead of three or four,
reads variables without copying them, and computes its forward in place on one output buffer.

Its gradient has two forms. When nothing records the backward pass (the usual ``tape.gradient``
with no outer tape watching), the tape calls the raw-array form: one buffer for the activation's
derivative, two GEMMs and a column sum. When an outer tape is recording (nested tapes, for
second-order gradients), the tape calls the form written with tapeflow ops, which the outer tape
can differentiate again.

Softmax and sigmoid are not fused: Keras's cross-entropies take the logits a softmax/sigmoid output
remembers, so a Dense layer with those activations uses the fused linear part and then the
activation op.
"""

from tapeflow._backend import blas, np
from tapeflow.framework import registry as _reg
from tapeflow.framework import variable as _var
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import op
from tapeflow.framework.tensor import Tensor, convert_to_tensor
from tapeflow.ops import array_ops as a
from tapeflow.ops import linalg_ops as la
from tapeflow.ops import nn_ops as nn
from tapeflow.ops import reduction_ops as r

__all__ = ["fused_dense", "mse_mean", "FUSED_ACTIVATIONS"]

# The activations the fused op applies itself (by Keras name).
FUSED_ACTIVATIONS = ("linear", "relu", "tanh")


def _apply(y, activation):
    if activation == "relu":
        np.maximum(y, 0, out=y)
    elif activation == "tanh":
        np.tanh(y, out=y)
    return y


@op("_FusedDense")
def _fused_dense(x, kernel, *bias, activation, need_dx=True):
    if x.ndim == 2:
        y = blas.dot(x, kernel)
    else:  # one GEMM over the flattened leading axes
        y = blas.dot(x.reshape(-1, x.shape[-1]), kernel).reshape(x.shape[:-1] + kernel.shape[1:])
    if bias:
        y += bias[0]
    return _apply(y, activation)


@_fused_dense.defrawgrad
def _fused_dense_raw_grad(op, g):
    # Raw arrays: the activation's derivative in one buffer, two GEMMs and a column sum.
    x, kernel = op.inputs[0]._value, op.inputs[1]._value
    y = op.outputs[0]._value
    act = op.attrs["activation"]
    if act == "relu":
        g = g * (y > 0)
    elif act == "tanh":
        g = g * (1 - y * y)
    units = kernel.shape[-1]
    g2 = g.reshape(-1, units)
    x2 = x.reshape(-1, kernel.shape[0])
    # the input's gradient (a GEMM as large as the kernel's) only when a tape watches it
    dx = blas.dot(g2, kernel.T).reshape(x.shape) if op.attrs["need_dx"] else None
    dk = blas.dot(x2.T, g2)
    if len(op.inputs) == 3:
        return dx, dk, np.add.reduce(g2, axis=0)
    return dx, dk


@_fused_dense.defgrad
def _fused_dense_grad(op, dy):
    # The same gradient with tapeflow ops, so an outer tape records it (second order).
    x, kernel = op.inputs[0], op.inputs[1]
    y = op.outputs[0]
    act = op.attrs["activation"]
    if act == "relu":
        dy = nn._relu_backprop(dy, y)
    elif act == "tanh":
        dy = dy * (1.0 - y * y)
    k = kernel._value.shape[0]
    units = kernel._value.shape[-1]
    g2 = a.reshape(dy, (-1, units))
    dx = a.reshape(la._matmul(g2, kernel, transpose_a=False, transpose_b=True),
                   x._value.shape) if op.attrs["need_dx"] else None
    dk = la._matmul(a.reshape(x, (-1, k)), g2, transpose_a=True, transpose_b=False)
    if len(op.inputs) == 3:
        return dx, dk, r.reduce_sum(g2, axis=0)
    return dx, dk


def _watched(x):
    # Does a recording tape watch x? If none does, no gradient for x can be asked for (a tape
    # only differentiates through tensors it watched when they were used).
    key = id(x)
    for tape in _reg._TAPES:
        if tape._recording and key in tape._watched:
            return True
    return False


def _operand(v):
    # Variables go in as themselves (no copy, no ReadVariableOp record); the tapes that watch
    # them route the gradient to the variable directly.
    if type(v) is Tensor:
        return v
    if isinstance(v, _var.Variable):
        for watcher in _var._ACCESS_WATCHERS:
            watcher.append(v)
        for tape in _reg._TAPES:
            if tape._recording:
                tape._variable_accessed(v)
        return v
    return convert_to_tensor(v)


def fused_dense(x, kernel, bias=None, activation="linear"):
    """``activation(x @ kernel + bias)`` as one op (what ``keras.layers.Dense`` computes).

    Args:
      x: a float Tensor of shape ``(..., in)``.
      kernel: a Variable or Tensor of shape ``(in, units)`` and ``x``'s dtype.
      bias: ``None`` or a Variable or Tensor of shape ``(units,)``.
      activation: one of ``"linear"``, ``"relu"``, ``"tanh"``.
    Returns:
      A Tensor of shape ``(..., units)``.
    Raises:
      InvalidArgumentError: when the shapes or dtypes do not fit.

    >>> import tapeflow as tf
    >>> from tapeflow.ops.fused_ops import fused_dense
    >>> fused_dense(tf.ones([2, 3]), tf.ones([3, 4]), tf.constant([0.0, 1.0, -9.0, 0.0]),
    ...             activation="relu").numpy()
    array([[3., 4., 0., 3.],
           [3., 4., 0., 3.]], dtype=float32)
    """
    if activation not in FUSED_ACTIVATIONS:
        raise InvalidArgumentError(f"fused_dense: activation must be one of "
                                   f"{FUSED_ACTIVATIONS}, got {activation!r}.")
    x = _operand(x)
    kernel = _operand(kernel)
    xs, ks = x._value.shape, kernel._value.shape
    if len(ks) != 2 or len(xs) < 1 or xs[-1] != ks[0]:
        raise InvalidArgumentError(f"fused_dense: x.shape={tuple(xs)} does not fit "
                                   f"kernel.shape={tuple(ks)}; expected x of shape (..., {ks[0]})"
                                   if len(ks) == 2 else
                                   f"fused_dense: kernel must have rank 2, got {tuple(ks)}.")
    if x._value.dtype != kernel._value.dtype:
        raise InvalidArgumentError(f"fused_dense: x has dtype {x._value.dtype.name} but kernel "
                                   f"has dtype {kernel._value.dtype.name}.")
    attrs = {"activation": activation, "need_dx": _watched(x)}
    if bias is None:
        return _reg.execute(_fused_dense.opdef, [x, kernel], attrs)
    bias = _operand(bias)
    if bias._value.shape != (ks[1],) or bias._value.dtype != x._value.dtype:
        raise InvalidArgumentError(f"fused_dense: bias must have shape ({ks[1]},) and dtype "
                                   f"{x._value.dtype.name}, got {tuple(bias._value.shape)} "
                                   f"{bias._value.dtype.name}.")
    return _reg.execute(_fused_dense.opdef, [x, kernel, bias], attrs)



# ---------------------------------------------------------------------------------------------
# Keras's mean squared error, reduced over the batch, as one recorded op (issue 7)
#
# ``mean(mean(squared_difference(y_pred, y_true), axis=-1))`` is three ops; for a small model
# their dispatch and tape records cost more than the arithmetic. ``mse_mean`` runs the same three
# forwards (the registered NumPy functions, in the same order) and records ONE op, whose gradient
# runs the three registered gradients in turn (raw-array forms when no tape records the backward
# pass, op-based forms otherwise, so nested tapes still give second order): the same numbers as
# the three separate ops, forward and backward.

# Not in the registry (it has no forward of its own): it exists only as tape records.
_mse_opdef = _reg.OpDef("_MeanSquaredErrorMean", None)


def _mse_chain(op):
    # The records of Mean (batch), Mean (last axis) and SquaredDifference, in backward order,
    # made from what the forward kept (only when a backward pass needs them).
    y_pred, y_true = op.inputs
    sd, m1, axes1, axes2 = op.attrs["parts"]
    sd, m1 = _tensor_of(sd), _tensor_of(m1)
    mean_def = _reg.REGISTRY["Mean"]
    return (_reg.OpRecord(mean_def, (m1,), op.outputs, {"axes": axes2, "keepdims": False}),
            _reg.OpRecord(mean_def, (sd,), (m1,), {"axes": axes1, "keepdims": False}),
            _reg.OpRecord(_reg.REGISTRY["SquaredDifference"], (y_pred, y_true), (sd,), {}))


def _mse_grad_chain(op, dy, raw):
    for rec in _mse_chain(op):
        fn = rec.opdef.raw_grad if raw else rec.opdef.grad
        grads = fn(rec, dy)
        dy = grads[0]
        if raw and type(dy) is not np.ndarray:   # the tape wraps a NumPy scalar the same way
            dy = np.asarray(dy)
    return grads


def _mse_raw_grad(op, dy):
    # The three raw gradients above in closed form. The two Means spread dy evenly, so every
    # element of the upstream gradient of SquaredDifference is one value c = (dy / n2 / n1) * 2,
    # and its gradient c * (y_pred - y_true) is computed here with the same float operations in
    # the same order, on one element instead of a whole array: the same bits (tested).
    if dy.size != 1:
        return _mse_grad_chain(op, dy, raw=True)
    yp, yt = op.inputs[0]._value, op.inputs[1]._value
    n1 = yp.shape[-1]
    n2 = yp.size // n1
    c = dy.reshape(1)
    c = np.true_divide(c, np.asarray(float(max(n2, 1)), dtype=c.dtype))   # Mean over the batch
    c = np.true_divide(c, np.asarray(float(max(n1, 1)), dtype=c.dtype))   # Mean over the last axis
    g = c * np.asarray(2.0, dtype=c.dtype) * (yp - yt)                     # SquaredDifference
    return (g, np.negative(g))


_mse_opdef.grad = lambda op, dy: _mse_grad_chain(op, dy, raw=False)
_mse_opdef.raw_grad = _mse_raw_grad


def _tensor_of(value):
    t = Tensor.__new__(Tensor)
    t._value = value if type(value) is np.ndarray else np.asarray(value)
    return t


def mse_mean(y_pred, y_true):
    """``reduce_mean(reduce_mean(squared_difference(y_pred, y_true), axis=-1))`` as one op.

    What ``keras.losses.mean_squared_error`` reduced with ``"sum_over_batch_size"`` computes,
    with the same numbers, for float Tensors of one shape, rank >= 2 and no zero-size axis.

    >>> import tapeflow as tf
    >>> from tapeflow.ops.fused_ops import mse_mean
    >>> float(mse_mean(tf.constant([[1.0, 3.0], [0.0, 0.0]]), tf.constant([[1.0, 1.0],
    ...                                                                  [0.0, 2.0]])))
    2.0
    """
    yp, yt = y_pred._value, y_true._value
    if yp.shape != yt.shape or yp.dtype != yt.dtype or yp.ndim < 2 or yp.size == 0:
        raise InvalidArgumentError(f"mse_mean: expected two float Tensors of one shape, rank "
                                   f">= 2 and no empty axis, got {tuple(yp.shape)} "
                                   f"{yp.dtype.name} and {tuple(yt.shape)} {yt.dtype.name}.")
    sq_def, mean_def = _reg.REGISTRY["SquaredDifference"], _reg.REGISTRY["Mean"]
    sd = sq_def.forward(yp, yt)   # the intermediate arrays become Tensors only for a backward
    axes1 = (yp.ndim - 1,)
    m1 = mean_def.forward(sd, axes=axes1, keepdims=False)
    axes2 = tuple(range(m1.ndim))
    out = _tensor_of(mean_def.forward(m1, axes=axes2, keepdims=False))
    if _reg._TAPES:
        _reg.record(_mse_opdef, (y_pred, y_true), (out,), {"parts": (sd, m1, axes1, axes2)})
    return out
