"""The op table: float64 central-difference checks of every differentiable registered op
(second order for the core ones), registry completeness, and a test of the checker itself."""

import importlib
import pathlib
import pkgutil

import numpy as np
import pytest

import tapeflow as tf
import tapeflow.keras  # noqa: F401  (registers any ops the Keras layer defines)
import tapeflow.ops
from tapeflow.framework import registry
from tapeflow.testing.gradient_check import GradientCheckError, check_gradients
from tapeflow.testing.op_test import CASES, run_case

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Every op module registers its ops on import: load them all so the registry is complete.
for _m in pkgutil.iter_modules(tapeflow.ops.__path__):
    importlib.import_module(f"tapeflow.ops.{_m.name}")

# Differentiable ops registered by other modules and checked by finite differences there.
CHECKED_ELSEWHERE = {
    "Conv": "tests/layers/test_conv_ops.py",
    "ConvBackpropInput": "tests/layers/test_conv_ops.py",
    "ConvBackpropFilter": "tests/layers/test_conv_ops.py",
    "MaxPool": "tests/layers/test_conv_ops.py",
    "MaxPoolGrad": "tests/layers/test_conv_ops.py",
    "MaxPoolGradGrad": "tests/layers/test_conv_ops.py",
    "AvgPool": "tests/layers/test_conv_ops.py",
    "AvgPoolGrad": "tests/layers/test_conv_ops.py",
    "ConvBiasAct": "tests/layers/test_conv_ops.py",  # test_fused_conv_bias_act_fd
    # second order of the fused conv + bias + relu op, against finite differences
    "ConvBackpropFilterBias": "tests/perf/test_conv_fast.py",
    "ReadVariableOp": "tests/framework/test_tape.py",
    "HeavisideStep": "tests/keras/test_golden_activations.py",  # zero gradient, with a warning
    "_FusedDense": "tests/perf/test_fused_dense.py",  # finite differences and second order
}


def _rnn_ops():
    # The fused recurrent ops (helper module rnn_ops) are checked in tests/layers/test_rnn_ops.py.
    return {n for n, o in registry.REGISTRY.items()
            if o.forward.__module__ == "tapeflow.ops.rnn_ops"}


@pytest.mark.parametrize("case", list(CASES), ids=[c.name for c in CASES])
def test_op_case(case):
    names = run_case(case)
    assert names, f"{case.name} recorded no op"


def _covered():
    names = set()
    for case in CASES:
        names |= run_case(case)
    return names


def test_every_registered_op_has_a_gradient_or_is_marked():
    unmarked = sorted(n for n, o in registry.REGISTRY.items()
                      if o.grad is None and not registry.is_non_differentiable(n))
    assert not unmarked, f"ops with neither a gradient nor not_differentiable(): {unmarked}"


def test_every_differentiable_op_is_checked():
    covered = _covered()
    elsewhere = set(CHECKED_ELSEWHERE) | _rnn_ops()
    missing = sorted(n for n, o in registry.REGISTRY.items()
                     if o.grad is not None and o.forward.__module__.startswith("tapeflow.")
                     and n not in covered and n not in elsewhere)
    assert not missing, f"differentiable ops not in the op table nor checked elsewhere: {missing}"
    for path in set(CHECKED_ELSEWHERE.values()) | ({"tests/layers/test_rnn_ops.py"}
                                                   if _rnn_ops() else set()):
        assert (ROOT / path).exists(), f"{path} (named in CHECKED_ELSEWHERE) does not exist"


def test_second_order_covers_the_core_ops():
    core = {"AddV2", "Sub", "Mul", "RealDiv", "Pow", "BatchMatMulV2", "Sum", "Mean", "Exp", "Log",
            "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Relu", "Reshape", "Transpose"}
    second = set()
    for case in CASES:
        if case.order == 2:
            second |= run_case(case)
    assert core <= second, f"no second-order check for {sorted(core - second)}"


def test_checker_rejects_a_wrong_gradient():
    @registry.op("TestWrongSquare")
    def wrong_square(x):
        return x * x

    @wrong_square.defgrad
    def _wrong_grad(op, dy):
        return (dy * op.inputs[0],)  # missing the factor 2

    try:
        with pytest.raises(GradientCheckError, match="TestWrongSquare: gradient of input 0"):
            check_gradients(wrong_square, [np.array([0.5, -1.0, 2.0])],
                            name="TestWrongSquare")
    finally:
        del registry.REGISTRY["TestWrongSquare"]


def test_checker_rejects_a_wrong_second_order_gradient():
    @registry.op("TestWrongTanh")
    def wrong_tanh(x):
        return np.tanh(x)

    @wrong_tanh.defgrad
    def _grad(op, dy):
        # right value, but written with stop_gradient so the 2nd derivative is lost
        return (dy * tf.stop_gradient(1.0 - tf.square(op.outputs[0])),)

    try:
        check_gradients(wrong_tanh, [np.array([0.3, -0.7])], order=1)
        with pytest.raises(GradientCheckError, match="second-order"):
            check_gradients(wrong_tanh, [np.array([0.3, -0.7])], order=2)
    finally:
        del registry.REGISTRY["TestWrongTanh"]


def test_checker_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        check_gradients(tf.square, [np.array([1.0], dtype=np.float32)])
