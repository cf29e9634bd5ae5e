"""The raw-array gradient forms (``tapeflow/ops/_raw_grads.py``, the fused Dense op) must give the
same numbers as the gradients written with tapeflow ops: bit for bit, on the same inputs.

The composite form is forced by an outer tape that records the backward pass."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow._backend import jit
from tapeflow.framework.registry import REGISTRY
from tapeflow.ops import conv_ops
from tapeflow.ops.fused_ops import fused_dense

rng = np.random.default_rng(7)


def _cotangent(y):
    return tf.constant(np.linspace(-1.0, 2.0, int(np.prod(y.shape))).reshape(y.shape).astype(
        y.numpy().dtype))


def _tape_grads(fn, args):
    with tf.GradientTape() as tape:
        tape.watch(args)
        y = fn(*args)
    return tape.gradient(y, args, output_gradients=_cotangent(y))


def _grads(fn, args, composite):
    args = [tf.constant(a) for a in args]
    if composite:
        with tf.GradientTape() as outer:   # a second recording tape: the composite path
            outer.watch(args)
            return _tape_grads(fn, args)
    return _tape_grads(fn, args)


def _f(*shape, dtype=np.float32, positive=False):
    a = rng.standard_normal(shape).astype(dtype)
    return np.abs(a) + 0.5 if positive else a


CASES = {
    "add": (lambda x, y: x + y, [_f(3, 4), _f(4)]),
    "sub": (lambda x, y: x - y, [_f(3, 4), _f(3, 1)]),
    "mul": (lambda x, y: x * y, [_f(3, 4), _f(4)]),
    "div": (lambda x, y: x / y, [_f(3, 4), _f(3, 4, positive=True)]),
    "neg": (lambda x: -x, [_f(5)]),
    "square": (lambda x: tf.square(x), [_f(2, 3)]),
    "sqdiff": (lambda x, y: tf.math.squared_difference(x, y), [_f(4, 1), _f(4, 1)]),
    "exp": (lambda x: tf.exp(x), [_f(6)]),
    "tanh": (lambda x: tf.tanh(x), [_f(6)]),
    "sigmoid": (lambda x: tf.sigmoid(x), [_f(6)]),
    "relu": (lambda x: tf.nn.relu(x), [_f(3, 5)]),
    "softmax": (lambda x: tf.nn.softmax(x), [_f(3, 5)]),
    "softmax_axis0": (lambda x: tf.nn.softmax(x, axis=0), [_f(3, 5)]),
    "sparse_xent": (lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.constant([0, 3, 1]), x), [_f(3, 4)]),
    "sum": (lambda x: tf.reduce_sum(x, axis=1), [_f(3, 4, 2)]),
    "sum_keep": (lambda x: tf.reduce_sum(x, axis=[0, 2], keepdims=True), [_f(3, 4, 2)]),
    "mean": (lambda x: tf.reduce_mean(x, axis=-1), [_f(3, 4)]),
    "mean_all": (lambda x: tf.reduce_mean(x), [_f(3, 4, dtype=np.float64)]),
    "reshape": (lambda x: tf.reshape(x, (2, 6)), [_f(3, 4)]),
    "broadcast_to": (lambda x: tf.broadcast_to(x, (3, 4)), [_f(1, 4)]),
    "cast": (lambda x: tf.cast(x, tf.float64), [_f(3)]),
    "matmul": (lambda x, y: tf.matmul(x, y), [_f(3, 4), _f(4, 2)]),
    "matmul_ta": (lambda x, y: tf.matmul(x, y, transpose_a=True), [_f(4, 3), _f(4, 2)]),
    "matmul_tb": (lambda x, y: tf.matmul(x, y, transpose_b=True), [_f(3, 4), _f(2, 4)]),
    "matmul_tab": (lambda x, y: tf.matmul(x, y, transpose_a=True, transpose_b=True),
                   [_f(2, 4, 3), _f(2, 2, 4)]),
    "dense_relu": (lambda x, k, b: fused_dense(x, k, b, "relu"), [_f(5, 3), _f(3, 4), _f(4)]),
    "dense_tanh_3d": (lambda x, k, b: fused_dense(x, k, b, "tanh"),
                      [_f(2, 5, 3), _f(3, 4), _f(4)]),
    "dense_linear_nobias": (lambda x, k: fused_dense(x, k), [_f(5, 3), _f(3, 4)]),
    "conv2d": (lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), [_f(2, 5, 6, 3), _f(3, 3, 3, 4)]),
    "conv2d_c1_bias_relu": (lambda x, w, b: conv_ops._conv_nd(x, w, 2, 1, "VALID", None, None,
                                                             "c", bias=b, relu=True),
                            [_f(2, 6, 5, 1), _f(3, 3, 1, 4), _f(4)]),
    "conv2d_bias_relu": (lambda x, w, b: conv_ops._conv_nd(x, w, 2, 2, "SAME", None, None, "c",
                                                          bias=b, relu=True),
                         [_f(2, 7, 6, 9), _f(3, 3, 9, 4), _f(4)]),
    "conv1d_bias": (lambda x, w, b: conv_ops._conv_nd(x, w, 1, 1, "VALID", None, None, "c",
                                                     bias=b, relu=False),
                    [_f(2, 7, 9, dtype=np.float64), _f(3, 9, 4, dtype=np.float64),
                     _f(4, dtype=np.float64)]),
    "max_pool": (lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), [_f(2, 5, 7, 3)]),
    "max_pool_overlap": (lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"), [_f(2, 5, 7, 3)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_raw_grad_matches_composite_bit_for_bit(name, monkeypatch):
    # the NumPy kernels (the compiled convolution's raw gradient is compared with the
    # composite one, to float rounding, in test_conv_jit.py)
    monkeypatch.setattr(jit, "enabled", False)
    fn, args = CASES[name]
    raw = _grads(fn, args, composite=False)
    ref = _grads(fn, args, composite=True)
    for r, c in zip(raw, ref):
        assert (r is None) == (c is None)
        if r is not None:
            assert r.dtype == c.dtype and r.shape == c.shape
            np.testing.assert_array_equal(r.numpy(), c.numpy())


def test_every_raw_grad_is_covered_by_a_case():
    covered = {"AddV2", "Sub", "Mul", "RealDiv", "Neg", "Square", "SquaredDifference", "Exp",
               "Tanh", "Sigmoid", "Relu", "Softmax", "SparseSoftmaxCrossEntropyWithLogits", "Sum",
               "Mean", "Reshape", "BroadcastTo", "Cast", "BatchMatMulV2", "_FusedDense",
               "ReadVariableOp", "Conv", "ConvBiasAct", "MaxPool"}
    have = {name for name, d in REGISTRY.items() if d.raw_grad is not None}
    assert have <= covered, f"raw gradients without a test case: {sorted(have - covered)}"


def test_raw_path_runs_only_without_a_recording_tape():
    calls = []
    opdef = REGISTRY["Tanh"]
    orig = opdef.raw_grad
    opdef.raw_grad = lambda op, dy: calls.append(1) or orig(op, dy)
    try:
        x = tf.constant([0.5])
        _grads(lambda v: tf.tanh(v), [x.numpy()], composite=True)
        assert calls == []
        _grads(lambda v: tf.tanh(v), [x.numpy()], composite=False)
        assert calls == [1]
    finally:
        opdef.raw_grad = orig


def test_variable_read_gradient_matches():
    v = tf.Variable([[1.0, -2.0], [0.5, 3.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.nn.relu(tf.matmul(v, v)))
    g = tape.gradient(y, v)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.nn.relu(tf.matmul(v, v)))
        g2 = tape.gradient(y, v)
    np.testing.assert_array_equal(g.numpy(), g2.numpy())
    del outer
