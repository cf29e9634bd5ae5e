"""Fused recurrent kernels: a whole LSTM / GRU / SimpleRNN sequence as one recorded op.

The input projection ``x @ kernel + bias`` is one GEMM over every timestep; the loop then does one
recurrent GEMM and a handful of in-place ufuncs per step on time-major buffers. The gradient is a
hand-written backward-through-time (``*SequenceGrad``) that reuses the forward's saved gates and
finishes with one GEMM per weight over all timesteps. The tape therefore holds one record per layer
call instead of dozens per step.

The backward op is itself not differentiable: second-order gradients through these fused kernels
are not available (the Keras layers fall back to a step-by-step loop of ordinary ops when they
are, e.g. for non-default activations).

Masks: ``mask`` is a float (batch, time) array of 1/0; at a masked step the state (and so the
output) keeps its previous value, as Keras does.

Gate layouts follow Keras: LSTM kernel columns ``i, f, c, o``; GRU ``z, r, h`` with, for
``reset_after=True``, a bias of shape (2, 3*units) (input bias, recurrent bias).
"""

from tapeflow._backend import np
from tapeflow.framework.registry import not_differentiable, op

__all__ = ["lstm_sequence", "gru_sequence", "simple_rnn_sequence"]


def _time_major(x):
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def _nonzero_steps(dyt):
    """The time steps whose incoming output gradient is not all zero (a layer that returns only
    the last output gets zeros everywhere else: those adds are skipped)."""
    return set(np.flatnonzero(np.any(dyt != 0, axis=(1, 2))).tolist())


def _mask_tm(mask, dtype):
    if mask is None or mask.size == 0:
        return None
    return np.ascontiguousarray(mask.T.astype(dtype))[..., None]     # (T, B, 1)


# ---------------------------------------------------------------- LSTM
def _lstm_forward(x, h0, c0, w, u, b, mask, cache):
    bsz, t_len, _ = x.shape
    n = u.shape[0]
    dt = x.dtype
    # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5: one tanh over all four gates per step
    scale = np.full(4 * n, 0.5, dtype=dt)
    scale[2 * n:3 * n] = 1.0
    off = np.where(scale == 0.5, 0.5, 0.0).astype(dt)
    xt = _time_major(x)
    xw = (xt.reshape(t_len * bsz, -1) @ (w * scale) + b * scale).reshape(t_len, bsz, 4 * n)
    us = u * scale
    m = _mask_tm(mask, dt)
    gates = xw                                          # overwritten in place with activations
    hs = np.empty((t_len + 1, bsz, n), dt)
    cs = np.empty((t_len + 1, bsz, n), dt)
    tcs = np.empty((t_len, bsz, n), dt)
    hs[0] = h0
    cs[0] = c0
    tmp = np.empty((bsz, 4 * n), dt)
    ig = np.empty((bsz, n), dt)
    for t in range(t_len):
        g = gates[t]
        np.matmul(hs[t], us, out=tmp)
        g += tmp
        np.tanh(g, out=g)
        g *= scale
        g += off
        c = cs[t + 1]
        np.multiply(g[:, n:2 * n], cs[t], out=c)
        np.multiply(g[:, :n], g[:, 2 * n:3 * n], out=ig)
        c += ig
        if m is not None:
            np.copyto(c, cs[t], where=m[t] == 0)
        np.tanh(c, out=tcs[t])
        np.multiply(g[:, 3 * n:], tcs[t], out=hs[t + 1])
        if m is not None:
            np.copyto(hs[t + 1], hs[t], where=m[t] == 0)
    cache.update(xt=xt, gates=gates, hs=hs, cs=cs, tcs=tcs, m=m)
    return np.ascontiguousarray(hs[1:].transpose(1, 0, 2)), cs[t_len].copy()


def _lstm_backward(dys, dc_last, w, u, cache):
    xt, gates, hs, cs, tcs, m = (cache[k] for k in ("xt", "gates", "hs", "cs", "tcs", "m"))
    t_len, bsz, n = tcs.shape
    dt = gates.dtype
    g4 = gates.reshape(t_len, bsz, 4, n)
    i_, f_, c_, o_ = g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3]
    # every per-step factor that does not depend on the incoming gradient, for all steps at once
    q = np.empty((t_len, bsz, 3, n), dt)
    np.multiply(c_, i_ * (1 - i_), out=q[:, :, 0])
    np.multiply(cs[:-1], f_ * (1 - f_), out=q[:, :, 1])
    np.multiply(i_, 1 - c_ * c_, out=q[:, :, 2])
    p = o_ * (1 - tcs * tcs)
    r = tcs * o_ * (1 - o_)
    f = np.ascontiguousarray(f_)
    dz = np.empty((t_len, bsz, 4 * n), dt)
    dz4 = dz.reshape(t_len, bsz, 4, n)
    dyt = dys.transpose(1, 0, 2)
    live = _nonzero_steps(dyt)
    dh = np.zeros((bsz, n), dt)
    dc = np.array(dc_last, dtype=dt, copy=True)
    ut = np.ascontiguousarray(u.T)
    tmp = np.empty((bsz, n), dt)
    for t in range(t_len - 1, -1, -1):
        if t in live:
            dh += dyt[t]
        if m is not None:
            keep_h, keep_c = dh * (1 - m[t]), dc * (1 - m[t])
            dh *= m[t]
            dc *= m[t]
        np.multiply(dh, p[t], out=tmp)
        dc += tmp
        np.multiply(dc[:, None, :], q[t], out=dz4[t, :, :3])
        np.multiply(dh, r[t], out=dz4[t, :, 3])
        dc *= f[t]
        np.matmul(dz[t], ut, out=dh)
        if m is not None:
            dh += keep_h
            dc += keep_c
    dzf = dz.reshape(t_len * bsz, 4 * n)
    dx = (dzf @ w.T).reshape(t_len, bsz, -1).transpose(1, 0, 2)
    dw = xt.reshape(t_len * bsz, -1).T @ dzf
    du = hs[:-1].reshape(t_len * bsz, n).T @ dzf
    db = dzf.sum(axis=0)
    return np.ascontiguousarray(dx), dh, dc, dw, du, db


@op("LSTMSequence", n_outputs=2)
def _lstm_seq(x, h0, c0, w, u, b, mask, cache):
    return _lstm_forward(x, h0, c0, w, u, b, mask, cache)


@_lstm_seq.defgrad
def _lstm_seq_grad(op, dys, dc):
    x, h0, c0, w, u, b, mask = op.inputs
    grads = _lstm_seq_backprop(dys, dc, w, u, cache=op.attrs["cache"])
    return tuple(grads) + (None,)


@op("LSTMSequenceGrad", n_outputs=6)
def _lstm_seq_backprop(dys, dc, w, u, cache):
    return _lstm_backward(dys, dc, w, u, cache)


def lstm_sequence(x, h0, c0, kernel, recurrent_kernel, bias, mask=None):
    """Runs a Keras-layout LSTM (tanh / sigmoid) over ``x`` (batch, time, features).

    Returns ``(hs, c_last)``: every step's hidden state (batch, time, units) and the last cell
    state. One tape record for the whole sequence.

    >>> import tapeflow as tf
    >>> from tapeflow.ops.rnn_ops import lstm_sequence
    >>> hs, c = lstm_sequence(tf.ones([2, 5, 3]), tf.zeros([2, 4]), tf.zeros([2, 4]),
    ...                       tf.ones([3, 16]) * 0.1, tf.zeros([4, 16]), tf.zeros([16]))
    >>> hs.shape, c.shape
    (TensorShape([2, 5, 4]), TensorShape([2, 4]))
    """
    m = _empty_mask(x) if mask is None else mask
    return _lstm_seq(x, h0, c0, kernel, recurrent_kernel, bias, m, cache={})


def _empty_mask(x):
    from tapeflow.framework.tensor import constant
    return constant(np.zeros((0,), dtype=np.float32))


# ---------------------------------------------------------------- GRU
def _gru_forward(x, h0, w, u, b, mask, reset_after, cache):
    bsz, t_len, _ = x.shape
    n = u.shape[0]
    dt = x.dtype
    xt = _time_major(x)
    b_in = b[0] if reset_after else b
    xw = (xt.reshape(t_len * bsz, -1) @ w + b_in).reshape(t_len, bsz, 3 * n)
    m = _mask_tm(mask, dt)
    hs = np.empty((t_len + 1, bsz, n), dt)
    hs[0] = h0
    zr = np.empty((t_len, bsz, 2 * n), dt)
    hh = np.empty((t_len, bsz, n), dt)
    rh = np.empty((t_len, bsz, n), dt)           # recurrent candidate term (reset_after)
    uzr, uh = np.ascontiguousarray(u[:, :2 * n]), np.ascontiguousarray(u[:, 2 * n:])
    for t in range(t_len):
        hp = hs[t]
        if reset_after:
            rec = hp @ u + b[1]
            s = zr[t]
            np.add(xw[t, :, :2 * n], rec[:, :2 * n], out=s)
            s *= 0.5
            np.tanh(s, out=s)
            s *= 0.5
            s += 0.5
            rh[t] = rec[:, 2 * n:]
            cand = hh[t]
            np.multiply(s[:, n:], rh[t], out=cand)
            cand += xw[t, :, 2 * n:]
        else:
            s = zr[t]
            np.matmul(hp, uzr, out=s)
            s += xw[t, :, :2 * n]
            s *= 0.5
            np.tanh(s, out=s)
            s *= 0.5
            s += 0.5
            cand = hh[t]
            np.matmul(s[:, n:] * hp, uh, out=cand)
            cand += xw[t, :, 2 * n:]
        np.tanh(cand, out=cand)
        h = hs[t + 1]
        np.subtract(hp, cand, out=h)
        h *= s[:, :n]
        h += cand
        if m is not None:
            np.copyto(h, hp, where=m[t] == 0)
    cache.update(xt=xt, hs=hs, zr=zr, hh=hh, rh=rh, m=m, reset_after=reset_after)
    return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))


def _gru_backward(dys, w, u, cache):
    xt, hs, zr, hh, rh, m, ra = (cache[k] for k in ("xt", "hs", "zr", "hh", "rh", "m",
                                                   "reset_after"))
    t_len, bsz, n = hh.shape
    dt = hh.dtype
    z, r = zr[:, :, :n], zr[:, :, n:]
    hp = hs[:-1]
    a1 = (1 - z) * (1 - hh * hh)                     # d pre_h / d h
    a2 = (hp - hh) * z * (1 - z)                      # d pre_z / d h
    dx_all = np.empty((t_len, bsz, 3 * n), dt)
    drec = np.empty((t_len, bsz, 3 * n), dt)          # grads of h @ U (+ b_r) parts
    dyt = dys.transpose(1, 0, 2)
    live = _nonzero_steps(dyt)
    dh = np.zeros((bsz, n), dt)
    zc = np.ascontiguousarray(z)
    if ra:
        k = np.empty((t_len, bsz, 3, n), dt)
        k[:, :, 0] = a2
        k[:, :, 1] = a1 * rh * r * (1 - r)
        k[:, :, 2] = a1
        ut = np.ascontiguousarray(u.T)
    else:
        k = np.empty((t_len, bsz, 2, n), dt)
        k[:, :, 0] = a2
        k[:, :, 1] = a1
        uzr_t = np.ascontiguousarray(u[:, :2 * n].T)
        uh_t = np.ascontiguousarray(u[:, 2 * n:].T)
        rr = r * (1 - r)
    rc = np.ascontiguousarray(r)
    dx4 = dx_all.reshape(t_len, bsz, 3, n)
    for t in range(t_len - 1, -1, -1):
        if t in live:
            dh += dyt[t]
        if m is not None:
            keep = dh * (1 - m[t])
            dh *= m[t]
        if ra:
            np.multiply(dh[:, None, :], k[t], out=dx4[t])
            d = drec[t]
            d[:, :2 * n] = dx_all[t, :, :2 * n]
            np.multiply(dx_all[t, :, 2 * n:], rc[t], out=d[:, 2 * n:])
            new = dh * zc[t]
            new += d @ ut
        else:
            np.multiply(dh[:, None, :], k[t], out=dx4[t, :, 0::2])     # z and h parts
            dpre_h = dx_all[t, :, 2 * n:]
            d_rh = dpre_h @ uh_t                                         # grad of (r * h_prev)
            np.multiply(d_rh * hp[t], rr[t], out=dx_all[t, :, n:2 * n])
            drec[t, :, :2 * n] = dx_all[t, :, :2 * n]
            drec[t, :, 2 * n:] = dpre_h
            new = dh * zc[t]
            new += d_rh * rc[t]
            new += dx_all[t, :, :2 * n] @ uzr_t
        dh = new
        if m is not None:
            dh += keep
    dxf = dx_all.reshape(t_len * bsz, 3 * n)
    dx = (dxf @ w.T).reshape(t_len, bsz, -1).transpose(1, 0, 2)
    dw = xt.reshape(t_len * bsz, -1).T @ dxf
    drf = drec.reshape(t_len * bsz, 3 * n)
    if ra:
        du = hp.reshape(t_len * bsz, n).T @ drf
        db = np.stack([dxf.sum(axis=0), drf.sum(axis=0)])
    else:
        du = np.empty_like(u)
        du[:, :2 * n] = hp.reshape(t_len * bsz, n).T @ drf[:, :2 * n]
        du[:, 2 * n:] = (r * hp).reshape(t_len * bsz, n).T @ drf[:, 2 * n:]
        db = dxf.sum(axis=0)
    return np.ascontiguousarray(dx), dh, dw, du, db


@op("GRUSequence")
def _gru_seq(x, h0, w, u, b, mask, reset_after, cache):
    return _gru_forward(x, h0, w, u, b, mask, reset_after, cache)


@_gru_seq.defgrad
def _gru_seq_grad(op, dys):
    x, h0, w, u, b, mask = op.inputs
    return tuple(_gru_seq_backprop(dys, w, u, cache=op.attrs["cache"])) + (None,)


@op("GRUSequenceGrad", n_outputs=5)
def _gru_seq_backprop(dys, w, u, cache):
    return _gru_backward(dys, w, u, cache)


def gru_sequence(x, h0, kernel, recurrent_kernel, bias, mask=None, reset_after=True):
    """Runs a Keras-layout GRU (tanh / sigmoid, gates z, r, h) over ``x`` (batch, time, feat).

    Returns every step's hidden state (batch, time, units) as one recorded op.

    >>> import tapeflow as tf
    >>> from tapeflow.ops.rnn_ops import gru_sequence
    >>> gru_sequence(tf.ones([2, 5, 3]), tf.zeros([2, 4]), tf.ones([3, 12]) * 0.1,
    ...              tf.zeros([4, 12]), tf.zeros([2, 12])).shape
    TensorShape([2, 5, 4])
    """
    m = _empty_mask(x) if mask is None else mask
    return _gru_seq(x, h0, kernel, recurrent_kernel, bias, m, reset_after=bool(reset_after),
                    cache={})


# ---------------------------------------------------------------- SimpleRNN (tanh)
def _rnn_forward(x, h0, w, u, b, mask, cache):
    bsz, t_len, _ = x.shape
    n = u.shape[0]
    dt = x.dtype
    xt = _time_major(x)
    xw = (xt.reshape(t_len * bsz, -1) @ w + b).reshape(t_len, bsz, n)
    m = _mask_tm(mask, dt)
    hs = np.empty((t_len + 1, bsz, n), dt)
    hs[0] = h0
    for t in range(t_len):
        h = hs[t + 1]
        np.matmul(hs[t], u, out=h)
        h += xw[t]
        np.tanh(h, out=h)
        if m is not None:
            np.copyto(h, hs[t], where=m[t] == 0)
    cache.update(xt=xt, hs=hs, m=m)
    return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))


def _rnn_backward(dys, w, u, cache):
    xt, hs, m = cache["xt"], cache["hs"], cache["m"]
    t_len, bsz, n = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    dt = hs.dtype
    der = 1 - hs[1:] * hs[1:]
    dz = np.empty((t_len, bsz, n), dt)
    dyt = dys.transpose(1, 0, 2)
    dh = np.zeros((bsz, n), dt)
    ut = np.ascontiguousarray(u.T)
    live = _nonzero_steps(dyt)
    for t in range(t_len - 1, -1, -1):
        if t in live:
            dh += dyt[t]
        if m is not None:
            keep = dh * (1 - m[t])
            dh *= m[t]
        np.multiply(dh, der[t], out=dz[t])
        dh = dz[t] @ ut
        if m is not None:
            dh += keep
    dzf = dz.reshape(t_len * bsz, n)
    dx = (dzf @ w.T).reshape(t_len, bsz, -1).transpose(1, 0, 2)
    dw = xt.reshape(t_len * bsz, -1).T @ dzf
    du = hs[:-1].reshape(t_len * bsz, n).T @ dzf
    return np.ascontiguousarray(dx), dh, dw, du, dzf.sum(axis=0)


@op("SimpleRNNSequence")
def _rnn_seq(x, h0, w, u, b, mask, cache):
    return _rnn_forward(x, h0, w, u, b, mask, cache)


@_rnn_seq.defgrad
def _rnn_seq_grad(op, dys):
    x, h0, w, u, b, mask = op.inputs
    return tuple(_rnn_seq_backprop(dys, w, u, cache=op.attrs["cache"])) + (None,)


@op("SimpleRNNSequenceGrad", n_outputs=5)
def _rnn_seq_backprop(dys, w, u, cache):
    return _rnn_backward(dys, w, u, cache)


def simple_rnn_sequence(x, h0, kernel, recurrent_kernel, bias, mask=None):
    """Runs a tanh SimpleRNN over ``x`` (batch, time, features): every step's hidden state.

    >>> import tapeflow as tf
    >>> from tapeflow.ops.rnn_ops import simple_rnn_sequence
    >>> simple_rnn_sequence(tf.ones([2, 5, 3]), tf.zeros([2, 4]), tf.ones([3, 4]) * 0.1,
    ...                     tf.zeros([4, 4]), tf.zeros([4])).shape
    TensorShape([2, 5, 4])
    """
    m = _empty_mask(x) if mask is None else mask
    return _rnn_seq(x, h0, kernel, recurrent_kernel, bias, m, cache={})


not_differentiable("LSTMSequenceGrad", "GRUSequenceGrad", "SimpleRNNSequenceGrad")
