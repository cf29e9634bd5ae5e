"""Every golden ``ops`` case (TensorFlow 2.21 values): outputs, dtypes, gradients, 2nd order."""

import numpy as np
import pytest
from golden_utils import array, assert_close, cases, index, lookup, resolve_watched

import tapeflow as tf

OPS = cases("ops")


def _run(case, tensors):
    # arrays named in ``tensors`` become the watched tensors so gradients can flow to them
    args = [resolve_watched(a, case, tensors, constant=False) for a in case["args"]]
    kwargs = {k: resolve_watched(v, case, tensors, constant=False)
              for k, v in case["kwargs"].items()}
    if case["api"] == "getitem":
        x = args[0] if isinstance(args[0], tf.Tensor) else tf.constant(args[0])
        out = x[index(case["args"][1])]
    else:
        out = lookup(case["api"])(*args, **kwargs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _target(case, outs):
    cots = case["grads"]["cotangents"]
    return tf.add_n([tf.reduce_sum(o * array(case, c)) for o, c in zip(outs, cots)])


@pytest.mark.parametrize("case", OPS, ids=[c["id"] for c in OPS])
def test_values(case):
    outs = _run(case, {})
    assert len(outs) == len(case["outputs"])
    for name, got in zip(case["outputs"], outs):
        assert isinstance(got, tf.Tensor), f"{case['id']}: got {type(got).__name__}"
        want = array(case, name)
        assert got.dtype.as_numpy_dtype == want.dtype, f"{case['id']} {name} dtype"
        assert tuple(got.shape) == want.shape, f"{case['id']} {name} shape"
        assert_close(got, case, name)


GRAD_CASES = [c for c in OPS if c.get("grads")]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c["id"] for c in GRAD_CASES])
def test_grads(case):
    wrt = case["grads"]["wrt"]
    xs = {n: tf.constant(array(case, n)) for n in wrt}
    with tf.GradientTape() as tape:
        for t in xs.values():
            tape.watch(t)
        target = _target(case, _run(case, xs))
    got = tape.gradient(target, list(xs.values()),
                        unconnected_gradients=tf.UnconnectedGradients.ZERO)
    for (n, gname), g in zip(wrt.items(), got):
        assert g is not None, f"{case['id']}: no gradient for {n}"
        assert g.dtype == xs[n].dtype
        assert_close(g, case, gname)


GRAD2_CASES = [c for c in OPS if c.get("grads2")]


@pytest.mark.parametrize("case", GRAD2_CASES, ids=[c["id"] for c in GRAD2_CASES])
def test_grads2(case):
    wrt = case["grads2"]["wrt"]
    xs = {n: tf.constant(array(case, n)) for n in wrt}
    with tf.GradientTape() as outer:
        for t in xs.values():
            outer.watch(t)
        with tf.GradientTape() as inner:
            for t in xs.values():
                inner.watch(t)
            target = _target(case, _run(case, xs))
        g1 = inner.gradient(target, list(xs.values()))
        total = tf.add_n([tf.reduce_sum(g) for g in g1])
    got = outer.gradient(total, list(xs.values()))
    for (_, gname), g in zip(wrt.items(), got):
        assert_close(g, case, gname)


def test_every_case_is_collected():
    assert len(OPS) == 148
    assert np.all([c["category"] == "ops" for c in OPS])
