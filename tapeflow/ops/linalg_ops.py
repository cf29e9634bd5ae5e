"""Matrix products: matmul (batched, with transposes) and its gradients."""

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import op
from tapeflow.ops._helpers import binary_args


def _t(a):
    return np.swapaxes(a, -1, -2)


@op("BatchMatMulV2")
def _matmul(a, b, transpose_a, transpose_b):
    if transpose_a:
        a = _t(a)
    if transpose_b:
        b = _t(b)
    return np.matmul(a, b)


@_matmul.defgrad
def _matmul_grad(op, dy):
    a, b = op.inputs
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    # The four transpose cases, each written as one matmul so no transpose op is recorded.
    if not ta and not tb:
        da = _matmul(dy, b, transpose_a=False, transpose_b=True)
        db = _matmul(a, dy, transpose_a=True, transpose_b=False)
    elif not ta and tb:
        da = _matmul(dy, b, transpose_a=False, transpose_b=False)
        db = _matmul(dy, a, transpose_a=True, transpose_b=False)
    elif ta and not tb:
        da = _matmul(b, dy, transpose_a=False, transpose_b=True)
        db = _matmul(a, dy, transpose_a=False, transpose_b=False)
    else:
        da = _matmul(b, dy, transpose_a=True, transpose_b=True)
        db = _matmul(dy, a, transpose_a=True, transpose_b=True)
    return (da, db)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """Matrix product ``a @ b`` over the last two axes, broadcasting leading (batch) axes.

    Raises:
      InvalidArgumentError: when the inner dimensions differ or an operand has rank < 2.

    >>> import tapeflow as tf
    >>> tf.linalg.matmul(tf.ones([2, 3]), tf.ones([3, 4])).shape
    TensorShape([2, 4])
    """
    a, b = binary_args(a, b, "MatMul")
    ta = bool(transpose_a or adjoint_a)
    tb = bool(transpose_b or adjoint_b)
    sa, sb = a._value.shape, b._value.shape
    if len(sa) < 2 or len(sb) < 2:
        raise InvalidArgumentError(
            f"matmul: both operands must have rank >= 2, but got a.shape={tuple(sa)} and "
            f"b.shape={tuple(sb)}.")
    ka = sa[-2] if ta else sa[-1]
    kb = sb[-1] if tb else sb[-2]
    if ka != kb:
        raise InvalidArgumentError(
            f"matmul: inner dimensions must match, but got a.shape={tuple(sa)} "
            f"(transpose_a={ta}) and b.shape={tuple(sb)} (transpose_b={tb}): {ka} != {kb}.")
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise InvalidArgumentError(f"matmul: batch dimensions {tuple(sa[:-2])} and "
                                   f"{tuple(sb[:-2])} cannot be broadcast.") from None
    return _matmul(a, b, transpose_a=ta, transpose_b=tb)
