"""Fused recurrent kernels: a whole LSTM / GRU / SimpleRNN sequence as one recorded op.

GRU / SimpleRNN: the input projection ``x @ kernel + bias`` is one GEMM over every timestep; the
loop then does one recurrent GEMM and a handful of in-place ufuncs per step on time-major buffers.
LSTM (issue 7, W6): batch-last buffers, one GEMM per step that covers the input, the bias and the
recurrent term, reordered gates and recycled workspaces (see the LSTM section). The gradient is a
hand-written backward-through-time (``*SequenceGrad``) that reuses the forward's saved gates and
finishes with GEMMs over all timesteps for the weights. The tape therefore holds one record per
layer call instead of dozens per step.

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


# ---------------------------------------------------------------- workspace
# The LSTM's per-call buffers are megabytes each (W6: ~14 MB per batch). Freshly allocated, each
# page costs a page fault on first touch (glibc returns such blocks to the system on free), which
# on the benchmark VM cost more than the arithmetic (issue 7). Buffers that never leave this
# module (the forward's saved activations, the backward's temporaries) are therefore recycled:
# ``_take`` reuses a free buffer of the same size, ``_give`` returns one. Arrays handed to the
# caller (outputs, gradients) are always fresh.
_POOL = {}                  # nbytes -> free flat uint8 buffers
_POOL_MAX_BYTES = 128 << 20   # idle bytes kept at most (larger sequences allocate afresh)
_pool_bytes = [0]


def _take(shape, dt):
    size = 1
    for s in shape:
        size *= s
    nbytes = size * dt.itemsize
    free = _POOL.get(nbytes)
    if free:
        try:
            buf = free.pop()
            _pool_bytes[0] -= nbytes
        except IndexError:       # another thread took it first
            buf = np.empty(nbytes, np.uint8)
    else:
        buf = np.empty(nbytes, np.uint8)
    return buf.view(dt).reshape(shape)


def _give(*arrays):
    for a in arrays:
        buf = a.base if a.base is not None else a
        if buf.dtype != np.uint8 or buf.ndim != 1 or \
                _pool_bytes[0] + buf.nbytes > _POOL_MAX_BYTES:
            continue
        _pool_bytes[0] += buf.nbytes
        _POOL.setdefault(buf.nbytes, []).append(buf)


class _Saved(dict):
    """The forward's saved buffers: returned to the pool when the op's record (which holds this
    dict) is released, i.e. after the last backward (or at once when nothing records)."""

    def __del__(self):
        try:
            _give(*self.values())
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing to return them to
            pass


# ---------------------------------------------------------------- LSTM
# Internal layout (issue 7). Everything per step is a contiguous (rows, batch) block: with the
# batch as the last axis, a gate is a run of whole rows, so every per-step ufunc works on one
# contiguous buffer (a (batch, 4n) layout makes each gate a strided column slice, 2-4x slower
# per call at these sizes). The gates are reordered to (o, i, f, g): the three sigmoid gates are
# one block for the forward's activation, and the three gates whose gradient is ``dc * factor``
# (i, f, g) are one block for the backward. Keras's (i, f, c, o) column layout stays the public
# one: the weights are permuted once per call and the weight gradients back once.
#
# xh[t] = [x_t; 1; h_{t-1}] (k = d + 1 + n rows): the step's pre-activations are then one
# product [W; b; U]^T @ xh[t] (the input projection, the bias and the recurrent term in one GEMM,
# no separate add), and the weight gradients are sum_t xh[t] @ dz[t]^T (dW, db and dU at once).
# The backward's step product is only U @ dz[t] (the recurrence); dx and the weight gradients
# are batched products over chunks of steps.
_PERM = (3, 0, 1, 2)      # internal gate k is Keras gate _PERM[k]: (o, i, f, g) <- (i, f, c, o)
_UNPERM = (1, 2, 3, 0)


def _lstm_mask(mask, dtype):
    """(keep, drop, dropped): the mask as (time, 1, batch) float 1/0, its complement, and the
    complement as bools (for ``copyto``); None when there is no mask."""
    if mask is None or mask.size == 0:
        return None
    keep = np.ascontiguousarray(mask.T.astype(dtype))[:, None, :]
    drop = 1 - keep
    return keep, drop, drop != 0


def _gate_perm(a, n, order):
    return a.reshape(a.shape[:-1] + (4, n))[..., order, :].reshape(a.shape)


def _lstm_forward(x, h0, c0, w, u, b, mask, seq, cache):
    bsz, t_len, d = x.shape
    n = u.shape[0]
    dt = x.dtype
    k = d + 1 + n
    a = _gate_perm(np.concatenate([w, b.reshape(1, -1), u]).astype(dt, copy=False), n, _PERM)
    # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5: the 1/2 is folded into the sigmoid gates' weights,
    # so one tanh covers all four gates
    at = a.T.copy()
    at[:3 * n] *= 0.5
    saved = _Saved(xh=_take((t_len + 1, k, bsz), dt), z=_take((t_len, 4 * n, bsz), dt),
                   cs=_take((t_len + 1, n, bsz), dt), tcs=_take((t_len, n, bsz), dt),
                   fc=_take((t_len, n, bsz), dt), ig=_take((t_len, n, bsz), dt))
    xh, z, cs, tcs = saved["xh"], saved["z"], saved["cs"], saved["tcs"]
    fc, ig = saved["fc"], saved["ig"]
    xh[:t_len, :d] = x.transpose(1, 2, 0)
    xh[:, d] = 1
    xh[t_len, :d] = 0
    xh[0, d + 1:] = h0.T
    cs[0] = c0.T
    m = _lstm_mask(mask, dt)
    drop = [None] * t_len if m is None else m[2]
    # per-step views, made by iterating the arrays (cheaper than slicing in the loop body)
    steps = zip(z, z[:, :3 * n], z[:, :n], z[:, n:2 * n], z[:, 2 * n:3 * n], z[:, 3 * n:],
                xh[:t_len], xh[:t_len, d + 1:], xh[1:, d + 1:], cs[:-1], cs[1:], tcs, fc, ig,
                drop)
    for g, s, o, i, f, gg, xt, hp, h, cp, c, tc, fct, igt, dr in steps:
        np.matmul(at, xt, out=g)
        np.tanh(g, out=g)
        s *= 0.5
        s += 0.5
        np.multiply(f, cp, out=fct)
        np.multiply(i, gg, out=igt)
        np.add(fct, igt, out=c)
        if dr is not None:
            np.copyto(c, cp, where=dr)
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=h)
        if dr is not None:
            np.copyto(h, hp, where=dr)
    cache.update(saved=saved, a=a, m=m, seq=seq)
    # outputs are copies (never views of the recycled buffers, even where a transpose is
    # already contiguous, e.g. a batch of 1)
    c_last = cs[t_len].T.copy()
    if seq:
        return xh[1:, d + 1:].transpose(2, 0, 1).copy(), c_last
    return xh[t_len, d + 1:].T.copy(), c_last


_CHUNK = 16    # steps whose backward factors are computed together (kept in L2 cache)


def _lstm_factors(z, xh, fc, ig, tcs, t0, t1, fb):
    """The per-step factors of steps [t0, t1) that do not depend on the incoming gradient, into
    ``fb`` = [p; r; qi; qf; qg] per step: dc += dh p, dz_o = dh r, dz_{i,f,g} = dc q.

    sigmoid' = s (1 - s) and tanh' = 1 - t^2, written with the products the forward kept
    (h = o tc, fc = f c_prev, ig = i g) to save passes: p = o - h tc, r = h (1 - o),
    qi = ig (1 - i), qf = fc (1 - f), qg = i - ig g.
    """
    n = tcs.shape[1]
    zz, tc, h = z[t0:t1], tcs[t0:t1], xh[t0 + 1:t1 + 1, -n:]
    p, r, qi, qf, qg = (fb[:, j * n:(j + 1) * n] for j in range(5))
    np.multiply(h, tc, out=p)
    np.subtract(zz[:, :n], p, out=p)
    np.subtract(1, zz[:, :3 * n], out=fb[:, n:4 * n])      # 1 - (o, i, f), one block
    r *= h
    qi *= ig[t0:t1]
    qf *= fc[t0:t1]
    np.multiply(ig[t0:t1], zz[:, 3 * n:], out=qg)
    np.subtract(zz[:, n:2 * n], qg, out=qg)


def _lstm_backward(dys, dc_last, cache):
    saved, a, m = cache["saved"], cache["a"], cache["m"]
    xh, z, tcs = saved["xh"], saved["z"], saved["tcs"]
    t_len, n, bsz = tcs.shape
    k = xh.shape[1]
    d = k - 1 - n
    dt = z.dtype
    f_ = z[:, 2 * n:3 * n]
    a_x, a_h = a[:d], a[d + 1:]
    # The steps run in chunks: first the chunk's step-independent factors (a few vectorised
    # passes whose buffers stay in cache), then its steps (one small GEMM each: dh_{t-1} only),
    # then the GEMMs over the whole chunk for dx and the weight gradients, while its dz is in
    # cache.
    ch = max(1, min(_CHUNK, t_len))
    fb = _take((ch, 5 * n, bsz), dt)
    pr2, q3 = fb[:, :2 * n].reshape(ch, 2, n, bsz), fb[:, 2 * n:].reshape(ch, 3, n, bsz)
    # dz[t] = [dh p (scratch); dz_o; dz_i; dz_f; dz_g]: one multiply fills the first two blocks
    dz = _take((t_len, 5 * n, bsz), dt)
    dz2, dz3 = dz[:, :2 * n].reshape(t_len, 2, n, bsz), dz[:, 2 * n:].reshape(t_len, 3, n, bsz)
    dzg = dz[:, n:]
    dhs = _take((t_len + 1, n, bsz), dt)          # dhs[t]: the gradient reaching h_{t-1}
    gws = _take((ch, k, 4 * n), dt)
    gw = np.zeros((k, 4 * n), dt)
    # dx is handed out as a (batch, time, d) view of a time-major array (a transposing copy
    # costs 10x more; consumers such as the Embedding's gradient walk it in memory order)
    dx = np.empty((t_len, d, bsz), dt)
    dh = dhs[t_len]
    seq = cache["seq"]
    dyt = None
    if seq:
        dyt = _take((t_len, n, bsz), dt)
        np.copyto(dyt, dys.transpose(1, 2, 0))
        dh[...] = 0
    else:
        dh[...] = dys.T
    dc = np.array(dc_last.T, dtype=dt, order="C")
    keep_h = keep_c = None
    for t1 in range(t_len, 0, -ch):
        t0 = max(0, t1 - ch)
        c = t1 - t0
        _lstm_factors(z, xh, saved["fc"], saved["ig"], tcs, t0, t1, fb[:c])
        for t in range(t1 - 1, t0 - 1, -1):
            j = t - t0
            if seq:
                dh += dyt[t]
            if m is not None:
                # a masked step passes the state's gradient straight to the previous step
                keep_h, keep_c = dh * m[1][t], dc * m[1][t]
                dh *= m[0][t]
                dc *= m[0][t]
            np.multiply(dh, pr2[j], out=dz2[t])
            dc += dz[t, :n]
            np.multiply(dc, q3[j], out=dz3[t])
            dc *= f_[t]
            dh = dhs[t]
            np.matmul(a_h, dzg[t], out=dh)
            if m is not None:
                dh += keep_h
                dc += keep_c
        np.matmul(a_x, dzg[t0:t1], out=dx[t0:t1])
        np.matmul(xh[t0:t1], dzg[t0:t1].transpose(0, 2, 1), out=gws[:c])
        gw += gws[:c].sum(axis=0)
    gw = _gate_perm(gw, n, _UNPERM)                 # (k, 4n): [dW; db; dU]
    dh0, dc0 = dh.T.copy(), dc.T.copy()       # copies: dh is in a recycled buffer
    _give(fb, dz, dhs, gws, *(() if dyt is None else (dyt,)))
    return dx.transpose(2, 0, 1), dh0, dc0, gw[:d], gw[d + 1:], gw[d]


@op("LSTMSequence", n_outputs=2)
def _lstm_seq(x, h0, c0, w, u, b, mask, seq, cache):
    return _lstm_forward(x, h0, c0, w, u, b, mask, seq, cache)


@_lstm_seq.defgrad
def _lstm_seq_grad(op, dys, dc):
    grads = _lstm_seq_backprop(dys, dc, cache=op.attrs["cache"])
    return tuple(grads) + (None,)


@op("LSTMSequenceGrad", n_outputs=6)
def _lstm_seq_backprop(dys, dc, cache):
    return _lstm_backward(dys, dc, cache)


def lstm_sequence(x, h0, c0, kernel, recurrent_kernel, bias, mask=None,
                  return_sequences=True):
    """Runs a Keras-layout LSTM (tanh / sigmoid) over ``x`` (batch, time, features).

    Returns ``(hs, c_last)``: every step's hidden state (batch, time, units) and the last cell
    state; with ``return_sequences=False``, ``(h_last, c_last)`` (the backward then starts from
    the last step's gradient alone). One tape record for the whole sequence.

    >>> import tapeflow as tf
    >>> from tapeflow.ops.rnn_ops import lstm_sequence
    >>> hs, c = lstm_sequence(tf.ones([2, 5, 3]), tf.zeros([2, 4]), tf.zeros([2, 4]),
    ...                       tf.ones([3, 16]) * 0.1, tf.zeros([4, 16]), tf.zeros([16]))
    >>> hs.shape, c.shape
    (TensorShape([2, 5, 4]), TensorShape([2, 4]))
    >>> h, c = lstm_sequence(tf.ones([2, 5, 3]), tf.zeros([2, 4]), tf.zeros([2, 4]),
    ...                      tf.ones([3, 16]) * 0.1, tf.zeros([4, 16]), tf.zeros([16]),
    ...                      return_sequences=False)
    >>> h.shape
    TensorShape([2, 4])
    """
    m = _empty_mask(x) if mask is None else mask
    return _lstm_seq(x, h0, c0, kernel, recurrent_kernel, bias, m,
                     seq=bool(return_sequences), cache={})


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
