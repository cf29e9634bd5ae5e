"""Raw-array forms of the hottest gradients, used when no tape records the backward pass.

Every gradient in tapeflow is written with tapeflow ops beside its forward, so that an outer tape
can differentiate it again. When nothing records the backward pass (the usual single
``tape.gradient``, as in ``fit``), dispatching those ops costs more than the arithmetic for the
small tensors of a training step, so the tape calls ``opdef.raw_grad(op, *dy_arrays)`` instead
where one is registered (``GradientTape._backward``). Each function here computes the same
expression, in the same order, as the op's ``defgrad`` (``tests/perf/test_raw_grads.py`` checks
they agree bit for bit), so the numbers do not depend on which path ran.
"""

from tapeflow._backend import np
from tapeflow.framework import variable as _variable  # noqa: F401  (registers ReadVariableOp)
from tapeflow.framework.registry import REGISTRY


def _raw(name):
    def deco(fn):
        REGISTRY[name].raw_grad = fn
        return fn
    return deco


def _in(op, i):
    return op.inputs[i]._value


@_raw("ReadVariableOp")
def _identity_raw(op, dy):
    return (dy,)


@_raw("AddV2")
def _add_raw(op, dy):
    return (dy, dy)


@_raw("Sub")
def _sub_raw(op, dy):
    return (dy, np.negative(dy))


@_raw("Mul")
def _mul_raw(op, dy):
    return (dy * _in(op, 1), dy * _in(op, 0))


@_raw("RealDiv")
def _realdiv_raw(op, dy):
    x, y = _in(op, 0), _in(op, 1)
    return (dy / y, np.negative(dy) * x / (y * y))


@_raw("Neg")
def _neg_raw(op, dy):
    return (np.negative(dy),)


@_raw("Square")
def _square_raw(op, dy):
    return (dy * _scalar(2.0, dy) * _in(op, 0),)


@_raw("SquaredDifference")
def _squared_difference_raw(op, dy):
    g = dy * _scalar(2.0, dy) * (_in(op, 0) - _in(op, 1))
    return (g, np.negative(g))


@_raw("Exp")
def _exp_raw(op, dy):
    return (dy * op.outputs[0]._value,)


@_raw("Tanh")
def _tanh_raw(op, dy):
    y = op.outputs[0]._value
    return (dy * (_scalar(1.0, y) - y * y),)


@_raw("Sigmoid")
def _sigmoid_raw(op, dy):
    y = op.outputs[0]._value
    return (dy * y * (_scalar(1.0, y) - y),)


@_raw("Relu")
def _relu_raw(op, dy):
    return (dy * (op.outputs[0]._value > 0),)


@_raw("Softmax")
def _softmax_raw(op, dy):
    y = op.outputs[0]._value
    axis = op.attrs["axis"]
    return ((dy - np.sum(dy * y, axis=(axis % y.ndim,), keepdims=True)) * y,)


@_raw("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_xent_raw(op, dy):
    labels, logits = _in(op, 0), _in(op, 1)
    p = REGISTRY["Softmax"].forward(logits, axis=-1)
    onehot = np.zeros(logits.shape, dtype=logits.dtype)
    np.put_along_axis(onehot, labels[..., None].astype(np.intp), 1, axis=-1)
    return (None, dy[..., None] * (p - onehot))


def _kept(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


@_raw("Sum")
def _sum_raw(op, dy):
    # broadcast dy back over the summed axes (a plain copy: np.broadcast_to costs more)
    x = _in(op, 0)
    if not op.attrs["keepdims"]:
        dy = dy.reshape(_kept(x.shape, op.attrs["axes"]))
    out = np.empty(x.shape, dtype=dy.dtype)
    out[...] = dy
    return (out,)


@_raw("Mean")
def _mean_raw(op, dy):
    x = _in(op, 0)
    axes = op.attrs["axes"]
    n = 1
    for ax in axes:
        n *= x.shape[ax]
    if not op.attrs["keepdims"]:
        dy = dy.reshape(_kept(x.shape, axes))
    out = np.empty(x.shape, dtype=dy.dtype)
    np.true_divide(dy, _scalar(float(max(n, 1)), dy), out=out)  # divides while broadcasting
    return (out,)


@_raw("Reshape")
def _reshape_raw(op, dy):
    return (dy.reshape(_in(op, 0).shape),)


@_raw("BroadcastTo")
def _broadcast_to_raw(op, dy):
    return (dy,)


@_raw("Cast")
def _cast_raw(op, dy):
    src = _in(op, 0)
    if src.dtype.kind not in "fc":
        return (None,)
    return (REGISTRY["Cast"].forward(dy, dtype=src.dtype),)


@_raw("BatchMatMulV2")
def _matmul_raw(op, dy):
    a, b = _in(op, 0), _in(op, 1)
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    mm = REGISTRY["BatchMatMulV2"].forward
    if not ta and not tb:
        return (mm(dy, b, transpose_a=False, transpose_b=True),
                mm(a, dy, transpose_a=True, transpose_b=False))
    if not ta and tb:
        return (mm(dy, b, transpose_a=False, transpose_b=False),
                mm(dy, a, transpose_a=True, transpose_b=False))
    if ta and not tb:
        return (mm(b, dy, transpose_a=False, transpose_b=True),
                mm(a, dy, transpose_a=False, transpose_b=False))
    return (mm(b, dy, transpose_a=True, transpose_b=True),
            mm(dy, a, transpose_a=True, transpose_b=True))


def _scalar(v, like):
    # What ``tensor * python_float`` does in tapeflow: the scalar takes the tensor's dtype.
    return np.asarray(v, dtype=like.dtype)
