"""Fused LSTM / GRU / SimpleRNN sequence ops: naive step-by-step references and float64 FD."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow.ops import rnn_ops

R = np.random.default_rng(7)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _ref_lstm(x, h, c, w, u, b, mask):
    n = u.shape[0]
    hs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ w + h @ u + b
        i, f, g, o = _sig(z[:, :n]), _sig(z[:, n:2 * n]), np.tanh(z[:, 2 * n:3 * n]), \
            _sig(z[:, 3 * n:])
        c2 = f * c + i * g
        h2 = o * np.tanh(c2)
        m = mask[:, t:t + 1]
        h, c = m * h2 + (1 - m) * h, m * c2 + (1 - m) * c
        hs.append(h)
    return np.stack(hs, 1), c


def _ref_gru(x, h, w, u, b, mask, reset_after):
    n = u.shape[0]
    hs = []
    for t in range(x.shape[1]):
        if reset_after:
            xz = x[:, t] @ w + b[0]
            rz = h @ u + b[1]
            z = _sig(xz[:, :n] + rz[:, :n])
            r = _sig(xz[:, n:2 * n] + rz[:, n:2 * n])
            hh = np.tanh(xz[:, 2 * n:] + r * rz[:, 2 * n:])
        else:
            xz = x[:, t] @ w + b
            z = _sig(xz[:, :n] + h @ u[:, :n])
            r = _sig(xz[:, n:2 * n] + h @ u[:, n:2 * n])
            hh = np.tanh(xz[:, 2 * n:] + (r * h) @ u[:, 2 * n:])
        h2 = z * h + (1 - z) * hh
        m = mask[:, t:t + 1]
        h = m * h2 + (1 - m) * h
        hs.append(h)
    return np.stack(hs, 1)


def _ref_rnn(x, h, w, u, b, mask):
    hs = []
    for t in range(x.shape[1]):
        h2 = np.tanh(x[:, t] @ w + h @ u + b)
        m = mask[:, t:t + 1]
        h = m * h2 + (1 - m) * h
        hs.append(h)
    return np.stack(hs, 1)


def _fd(f, arrays, cots, eps=1e-6):
    out = []
    for a in arrays:
        num = np.zeros_like(a)
        for j in range(a.size):
            old = a.flat[j]
            a.flat[j] = old + eps
            up = sum(np.sum(o * c) for o, c in zip(f(*arrays), cots, strict=True))
            a.flat[j] = old - eps
            dn = sum(np.sum(o * c) for o, c in zip(f(*arrays), cots, strict=True))
            a.flat[j] = old
            num.flat[j] = (up - dn) / (2 * eps)
        out.append(num)
    return out


def _check(fused, ref, arrays, mask):
    ts = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        outs = fused(*ts, tf.constant(mask))
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        cots = [R.standard_normal(o.shape) for o in outs]
        target = tf.add(*[tf.reduce_sum(o * c) for o, c in zip(outs, cots, strict=True)]) \
            if len(outs) == 2 else tf.reduce_sum(outs[0] * cots[0])
    grads = tape.gradient(target, ts)
    want = ref(*arrays, mask)
    want = want if isinstance(want, tuple) else (want,)
    for o, w in zip(outs, want, strict=True):
        np.testing.assert_allclose(o.numpy(), w, rtol=1e-10, atol=1e-12)
    nums = _fd(lambda *a: (lambda r: r if isinstance(r, tuple) else (r,))(ref(*a, mask)),
               arrays, cots)
    for i, (g, nm) in enumerate(zip(grads, nums, strict=True)):
        np.testing.assert_allclose(g.numpy(), nm, rtol=1e-6, atol=1e-7, err_msg=f"arg {i}")


MASKS = {"none": np.ones((2, 4)), "masked": np.array([[1, 1, 0, 1], [0, 1, 1, 0]], float)}


@pytest.mark.parametrize("mask", MASKS, ids=list(MASKS))
def test_lstm_sequence(mask):
    d, n = 3, 2
    arrays = [R.standard_normal(s) for s in [(2, 4, d), (2, n), (2, n), (d, 4 * n),
                                              (n, 4 * n), (4 * n,)]]
    _check(lambda *a: rnn_ops.lstm_sequence(*a[:6], mask=a[6]), _ref_lstm, arrays, MASKS[mask])


@pytest.mark.parametrize("mask", MASKS, ids=list(MASKS))
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_sequence(mask, reset_after):
    d, n = 3, 2
    bshape = (2, 3 * n) if reset_after else (3 * n,)
    arrays = [R.standard_normal(s) for s in [(2, 4, d), (2, n), (d, 3 * n), (n, 3 * n), bshape]]
    _check(lambda *a: rnn_ops.gru_sequence(*a[:5], mask=a[5], reset_after=reset_after),
           lambda *a: _ref_gru(*a, reset_after), arrays, MASKS[mask])


@pytest.mark.parametrize("mask", MASKS, ids=list(MASKS))
def test_simple_rnn_sequence(mask):
    d, n = 3, 2
    arrays = [R.standard_normal(s) for s in [(2, 4, d), (2, n), (d, n), (n, n), (n,)]]
    _check(lambda *a: rnn_ops.simple_rnn_sequence(*a[:5], mask=a[5]), _ref_rnn, arrays,
           MASKS[mask])


def test_one_record_per_sequence():
    x = tf.constant(R.standard_normal((2, 30, 3)).astype("float32"))
    w = tf.Variable(R.standard_normal((3, 8)).astype("float32"))
    with tf.GradientTape() as tape:
        hs, _ = rnn_ops.lstm_sequence(x, tf.zeros([2, 2]), tf.zeros([2, 2]), w,
                                      tf.zeros([2, 8]), tf.zeros([8]))
        total = tf.reduce_sum(hs)
    names = [r.name for r in tape._records]
    assert names.count("LSTMSequence") == 1
    assert len([n for n in names if n not in ("ReadVariableOp", "Identity", "Sum")]) == 1
    assert tape.gradient(total, w).shape == (3, 8)
