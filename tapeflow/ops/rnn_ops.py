"""Fused recurrent kernels: a whole LSTM / GRU / SimpleRNN sequence as one recorded op.

SimpleRNN: the input projection ``x @ kernel + bias`` is one GEMM over every timestep; the loop
then does one recurrent GEMM and a handful of in-place ufuncs per step on time-major buffers.
LSTM and GRU (issue 7, W6): batch-last buffers, one GEMM per step that covers the input, the bias
and the recurrent term, recycled workspaces (see the LSTM and GRU sections). The gradient is a
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

from tapeflow._backend import blas, jit, np, worker
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
    if bsz and t_len and x.dtype in _JIT_DTYPES:
        k = jit.kernels()
        if k is not None:
            return _lstm_forward_jit(k, x, h0, c0, w, u, b, mask, seq, cache)
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
    if "jit" in cache:
        return _lstm_backward_jit(dys, dc_last, cache)
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


# ---------------------------------------------------------------- LSTM, compiled
# With the ``jit`` extra (Numba) the whole sequence is two compiled loops, batch-major (see
# tapeflow/_backend/jit_kernels.py): forward ~4x and backward ~3x faster than the NumPy loops
# above on W6 (issue 7). Products over every step at once stay here, on NumPy's BLAS: the input
# projection before the loop, and dx and the weight gradients after it.
_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_SPLIT_ROWS = 16    # batches of at least this many rows run as two halves on two threads


def _c(a, dt):
    return np.ascontiguousarray(a, dtype=dt)


def _by_rows(fn, bsz, args):
    """Runs ``fn(*args(r0, r1))`` over the batch's rows: as two halves at once on the helper
    thread and this one where that is available (the kernels release the GIL), else whole.
    BLAS stays on one thread inside (each half's step products are small). (Where Numba's
    OpenMP pool is usable, ``jit.parallel_ok()``, the kernels' two-thread variants run instead:
    the same halves, started in ~1 us instead of the helper thread's 10-60.)"""
    with blas.single_thread():
        if bsz >= _SPLIT_ROWS and worker.available():
            half = bsz // 2
            if worker.run_pair(fn, args(0, half), args(half, bsz)):
                return
        fn(*args(0, bsz))


def _lstm_forward_jit(k, x, h0, c0, w, u, b, mask, seq, cache):
    bsz, t_len, d = x.shape
    dt = x.dtype
    n = u.shape[0]
    x2 = _c(x, dt).reshape(bsz * t_len, d)
    w, u, b = _c(w, dt), _c(u, dt), _c(b, dt).reshape(-1)
    h0, c0 = _c(h0, dt), _c(c0, dt)
    keep = np.empty((bsz, 0), dt) if mask is None or mask.size == 0 else _c(mask, dt)
    hs, hp, cp, tcs = (np.empty((bsz, t_len, n), dt) for _ in range(4))
    c_last = np.empty((bsz, n), dt)
    coef = k.lstm_coef(b)
    choice = jit.choose(bsz >= _SPLIT_ROWS, key=("lstm_forward", x.shape, n, dt))
    if choice.two:
        # each half: its rows' projection (x @ kernel), then its loop; on two threads of the
        # pool, or one after the other (the same bits)
        gates = np.empty((bsz, t_len, 4 * n), dt)           # becomes the activated gates
        x3 = x2.reshape(bsz, t_len, d)
        hbuf, cbuf = np.empty((bsz, n), dt), np.empty((bsz, n), dt)
        with blas.single_thread():
            if choice.split:
                k.lstm_forward2(x3, w, gates, coef, u, h0, c0, keep, hs, hp, cp, tcs, c_last,
                                hbuf, cbuf)
            else:
                for r0, r1 in ((0, bsz // 2), (bsz // 2, bsz)):
                    k.project_rows(x3, w, gates, r0, r1)
                    k.lstm_forward(gates, coef, u, h0, c0, keep, r0, r1, hs, hp, cp, tcs,
                                   c_last, hbuf[r0:r1], cbuf[r0:r1])
    else:
        gates = blas.dot(x2, w).reshape(bsz, t_len, 4 * n)

        def args(r0, r1):
            return (gates, coef, u, h0, c0, keep, r0, r1, hs, hp, cp, tcs, c_last,
                    np.empty((r1 - r0, n), dt), np.empty((r1 - r0, n), dt))

        _by_rows(k.lstm_forward, bsz, args)
    choice.done()
    cache.update(jit=k, x2=x2, w=w, u=u, gates=gates, hp=hp, cp=cp, tcs=tcs, keep=keep,
                 seq=seq)
    return (hs if seq else hs[:, -1].copy()), c_last


def _lstm_backward_jit(dys, dc_last, cache):
    k, gates, hp, x2, w = cache["jit"], cache["gates"], cache["hp"], cache["x2"], cache["w"]
    bsz, t_len, g4 = gates.shape
    n = g4 // 4
    dt = gates.dtype
    seq = cache["seq"]
    if seq:
        dy, dh_last = _c(dys, dt), np.empty((0, n), dt)
    else:
        dy, dh_last = np.empty((0, 0, 0), dt), _c(dys, dt)
    dc_last = _c(dc_last, dt)
    dz = np.empty_like(gates)
    dh0, dc0 = np.empty((bsz, n), dt), np.empty((bsz, n), dt)
    d = x2.shape[1]
    x3 = x2.reshape(bsz, t_len, d)
    dx = np.empty_like(x3)
    # the weight gradients: one accumulator per half (each thread adds its rows' share)
    grads = []

    def args(r0, r1):
        g = (np.zeros((d, g4), dt), np.zeros((n, g4), dt), np.zeros(g4, dt))
        grads.append(g)
        return (dy, seq, dh_last, dc_last, x3, w, hp, gates, cache["cp"], cache["tcs"],
                cache["u"], cache["keep"], r0, r1, dz, dx, dh0, dc0, *g,
                np.empty((r1 - r0, n), dt), np.empty((r1 - r0, n), dt))

    choice = jit.choose(bsz >= _SPLIT_ROWS, key=("lstm_backward", gates.shape, d, dt))
    if choice.two:
        g = (np.zeros((2, d, g4), dt), np.zeros((2, n, g4), dt), np.zeros((2, g4), dt))
        bp = (dy, seq, dh_last, dc_last, x3, w, hp, gates, cache["cp"], cache["tcs"],
              cache["u"], cache["keep"])
        dhbuf, dcbuf = np.empty((bsz, n), dt), np.empty((bsz, n), dt)
        with blas.single_thread():
            if choice.split:
                k.lstm_backward2(*bp, dz, dx, dh0, dc0, *g, dhbuf, dcbuf)
            else:       # the same halves one after the other: the same bits as the split
                for p, (r0, r1) in enumerate(((0, bsz // 2), (bsz // 2, bsz))):
                    k.lstm_backward(*bp, r0, r1, dz, dx, dh0, dc0, g[0][p], g[1][p], g[2][p],
                                    dhbuf[r0:r1], dcbuf[r0:r1])
        grads.extend(zip(*g))
    else:
        _by_rows(k.lstm_backward, bsz, args)
    choice.done()
    gw, gu, gb = grads[0]
    for more in grads[1:]:       # the other half's share (an unused one is all zeros)
        gw += more[0]
        gu += more[1]
        gb += more[2]
    return dx, dh0, dc0, gw, gu, gb


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
# Same internal layout as the LSTM's (issue 7): batch-last, time-major buffers, so each gate is a
# contiguous run of rows. xh[t] = [x_t; 1; h_{t-1}] and one product per step gives the step's
# pre-activations from a combined matrix A (k, G) whose column blocks are:
#   reset_after=True  (G = 4n): [z; r; xp; rh], xp = W_h x + b_in_h, rh = U_h h + b_rec_h (the
#     zero blocks of A, U in the xp rows and W in the rh rows, cost less than a second call);
#   reset_after=False (G = 3n): [z; r; xp] (no U in the xp rows); the candidate's recurrent
#     term U_h^T (r h) is a second, small product per step.
# The z and r biases are summed (b_in + b_rec) into one row. The backward walks the steps with
# the gradient-independent factors precomputed in chunks and finishes each chunk with batched
# GEMMs for dx and the weight gradients (read back out of A's blocks).
def _gru_matrix(w, u, b, reset_after, dt):
    d, n = w.shape[0], u.shape[0]
    k = d + 1 + n
    if reset_after:
        a = np.zeros((k, 4 * n), dt)
        a[:d, :3 * n] = w
        a[d, :2 * n] = b[0, :2 * n] + b[1, :2 * n]
        a[d, 2 * n:3 * n] = b[0, 2 * n:]
        a[d, 3 * n:] = b[1, 2 * n:]
        a[d + 1:, :2 * n] = u[:, :2 * n]
        a[d + 1:, 3 * n:] = u[:, 2 * n:]
    else:
        a = np.zeros((k, 3 * n), dt)
        a[:d] = w
        a[d] = b
        a[d + 1:, :2 * n] = u[:, :2 * n]
    return a


def _gru_forward(x, h0, w, u, b, mask, reset_after, cache):
    bsz, t_len, d = x.shape
    n = u.shape[0]
    dt = x.dtype
    k = d + 1 + n
    a = _gru_matrix(w, u, b, reset_after, dt)
    gn = a.shape[1]
    # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5: the 1/2 is folded into the z and r rows
    at = a.T.copy()
    at[:2 * n] *= 0.5
    saved = _Saved(xh=_take((t_len + 1, k, bsz), dt), g=_take((t_len, gn, bsz), dt),
                   hh=_take((t_len, n, bsz), dt))
    if not reset_after:
        saved["rhs"] = _take((t_len, n, bsz), dt)
    xh, g, hh = saved["xh"], saved["g"], saved["hh"]
    xh[:t_len, :d] = x.transpose(1, 2, 0)
    xh[:, d] = 1
    xh[t_len, :d] = 0
    xh[0, d + 1:] = h0.T
    m = _lstm_mask(mask, dt)
    drop = [None] * t_len if m is None else m[2]
    hps, hs = xh[:t_len, d + 1:], xh[1:, d + 1:]
    if reset_after:
        steps = zip(g, g[:, :2 * n], g[:, :n], g[:, n:2 * n], g[:, 2 * n:3 * n], g[:, 3 * n:],
                    xh[:t_len], hps, hs, hh, drop)
        for gt, s, zt, rt, xp, rh, xt, hp, h, c, dr in steps:
            np.matmul(at, xt, out=gt)
            np.tanh(s, out=s)
            s *= 0.5
            s += 0.5
            np.multiply(rt, rh, out=c)
            c += xp
            np.tanh(c, out=c)
            np.subtract(hp, c, out=h)
            h *= zt
            h += c
            if dr is not None:
                np.copyto(h, hp, where=dr)
    else:
        uh_t = np.ascontiguousarray(u[:, 2 * n:].T, dtype=dt)
        steps = zip(g, g[:, :2 * n], g[:, :n], g[:, n:2 * n], g[:, 2 * n:], saved["rhs"],
                    xh[:t_len], hps, hs, hh, drop)
        for gt, s, zt, rt, xp, rh, xt, hp, h, c, dr in steps:
            np.matmul(at, xt, out=gt)
            np.tanh(s, out=s)
            s *= 0.5
            s += 0.5
            np.multiply(rt, hp, out=rh)
            np.matmul(uh_t, rh, out=c)
            c += xp
            np.tanh(c, out=c)
            np.subtract(hp, c, out=h)
            h *= zt
            h += c
            if dr is not None:
                np.copyto(h, hp, where=dr)
    cache.update(saved=saved, a=a, m=m, reset_after=reset_after)
    return hs.transpose(2, 0, 1).copy()          # a copy: never a view of a recycled buffer


def _gru_factors(g, xh, hh, t0, t1, fb, reset_after):
    """The gradient-independent factors of steps [t0, t1) into ``fb``.

    reset_after=True, fb = [pz; pr; pc; pq; z]: with dh the gradient reaching h_t,
    dz = dh pz, dr = dh pr, d xp = dh pc, d rh = dh pq and the direct term dh z.
    reset_after=False, fb = [pz; qr; pc; z; r]: dz = dh pz, d xp = dh pc, dr = d(rh) qr.
    pz = (h_prev - c) z (1 - z), pc = (1 - z)(1 - c^2), pq = pc r, pr = pq rh (1 - r),
    qr = h_prev r (1 - r).
    """
    n = hh.shape[1]
    zz, rr, c, hp = g[t0:t1, :n], g[t0:t1, n:2 * n], hh[t0:t1], xh[t0:t1, -n:]
    b0, b1, b2, b3, b4 = (fb[:, j * n:(j + 1) * n] for j in range(5))
    np.subtract(hp, c, out=b0)
    b0 *= zz
    np.subtract(1, zz, out=b2)
    b0 *= b2                                      # pz
    np.multiply(c, c, out=b1)
    np.subtract(1, b1, out=b1)
    b2 *= b1                                      # pc
    if reset_after:
        np.multiply(b2, rr, out=b3)               # pq
        np.subtract(1, rr, out=b1)
        b1 *= b3
        b1 *= g[t0:t1, 3 * n:]                    # pr
        np.copyto(b4, zz)
    else:
        np.subtract(1, rr, out=b1)
        b1 *= rr
        b1 *= hp                                  # qr
        np.copyto(b3, zz)
        np.copyto(b4, rr)


def _gru_backward(dys, w, u, cache):
    saved, a, m, ra = cache["saved"], cache["a"], cache["m"], cache["reset_after"]
    xh, g, hh = saved["xh"], saved["g"], saved["hh"]
    t_len, n, bsz = hh.shape
    k, gn = a.shape
    d = k - 1 - n
    dt = hh.dtype
    a_x, a_h = a[:d], a[d + 1:]
    a_x3 = a_x[:, :3 * n]         # the rh block of W's rows is zero: dx needs only z, r, xp
    ch = max(1, min(_CHUNK, t_len))
    fb = _take((ch, 5 * n, bsz), dt)
    dg = _take((t_len, 5 * n if ra else 3 * n, bsz), dt)
    dgv = dg[:, :gn]
    dhs = _take((t_len + 1, n, bsz), dt)          # dhs[t]: the gradient reaching h_{t-1}
    gws = _take((ch, k, gn), dt)
    gw = np.zeros((k, gn), dt)
    dx = np.empty((t_len, d, bsz), dt)            # handed out as a (batch, time, d) view
    dyt = _take((t_len, n, bsz), dt)
    np.copyto(dyt, dys.transpose(1, 2, 0))
    live = _nonzero_steps(dyt)
    dh = dhs[t_len]
    dh[...] = 0
    if ra:
        fb5, dg5 = fb.reshape(ch, 5, n, bsz), dg.reshape(t_len, 5, n, bsz)
    else:
        fb5, dg3 = fb.reshape(ch, 5, n, bsz), dg.reshape(t_len, 3, n, bsz)
        uh = np.ascontiguousarray(u[:, 2 * n:], dtype=dt)
        uzr = np.ascontiguousarray(a_h[:, :2 * n])
        drh, tmp = _take((n, bsz), dt), _take((n, bsz), dt)
        rhs = saved["rhs"]
        duh = np.zeros((n, n), dt)
        gwh = _take((ch, n, n), dt)
    keep = None
    for t1 in range(t_len, 0, -ch):
        t0 = max(0, t1 - ch)
        c = t1 - t0
        _gru_factors(g, xh, hh, t0, t1, fb[:c], ra)
        for t in range(t1 - 1, t0 - 1, -1):
            j = t - t0
            if t in live:
                dh += dyt[t]
            if m is not None:
                # a masked step passes the state's gradient straight to the previous step
                keep = dh * m[1][t]
                dh *= m[0][t]
            dn = dhs[t]
            if ra:
                np.multiply(dh, fb5[j], out=dg5[t])
                np.matmul(a_h, dgv[t], out=dn)
                dn += dg[t, 4 * n:]
            else:
                np.multiply(dh, fb5[j, 0:3:2], out=dg3[t, 0::2])      # dz, d xp
                np.matmul(uh, dg[t, 2 * n:], out=drh)                  # d (r h_prev)
                np.multiply(drh, fb5[j, 1], out=dg[t, n:2 * n])        # dr
                np.matmul(uzr, dg[t, :2 * n], out=dn)
                np.multiply(dh, fb5[j, 3], out=tmp)
                dn += tmp
                drh *= fb5[j, 4]
                dn += drh
            dh = dn
            if m is not None:
                dh += keep
        np.matmul(a_x3, dgv[t0:t1, :3 * n], out=dx[t0:t1])
        np.matmul(xh[t0:t1], dgv[t0:t1].transpose(0, 2, 1), out=gws[:c])
        gw += gws[:c].sum(axis=0)
        if not ra:
            np.matmul(rhs[t0:t1], dg[t0:t1, 2 * n:].transpose(0, 2, 1), out=gwh[:c])
            duh += gwh[:c].sum(axis=0)
    dh0 = dh.T.copy()                             # a copy: dh is in a recycled buffer
    _give(fb, dg, dhs, gws, dyt)
    dw = gw[:d, :3 * n].copy()
    if ra:
        du = np.concatenate([gw[d + 1:, :2 * n], gw[d + 1:, 3 * n:]], axis=1)
        db = np.stack([gw[d, :3 * n], np.concatenate([gw[d, :2 * n], gw[d, 3 * n:]])])
    else:
        _give(drh, tmp, gwh)
        du = np.concatenate([gw[d + 1:, :2 * n], duh], axis=1)
        db = gw[d].copy()
    return dx.transpose(2, 0, 1), dh0, dw, du, db


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
