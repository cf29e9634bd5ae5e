"""The Numba kernels (imported only through ``tapeflow._backend.jit.kernels()``, which binds the
BLAS symbols they call first).

Layout: batch-major, as the Keras layers hand the arrays over: ``(batch, time, features)``, the
LSTM's gates in Keras's column order ``i, f, c, o`` (``4 * units`` columns). Each kernel works
on a range of batch rows ``[r0, r1)``: the rows of a recurrence are independent, so two threads
can run the two halves of a batch at once (the kernels release the GIL).

Per step the recurrent product is one ``cblas_?gemm`` call writing straight into the step's
rows of the larger arrays (the leading dimension skips the other time steps), and the gate
arithmetic is one compiled pass per row: no temporaries, no per-op call overhead.
"""

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

__all__ = ["lstm_coef", "lstm_forward", "lstm_backward", "tanh_approx", "adam_update",
           "rmsprop_update", "scatter_add_rows", "gemm_check", "sgd_update", "mlp_rows",
           "mlp_grads", "mlp_step2", "parallel_probe", "lstm_forward2", "lstm_backward2",
           "conv_rows", "conv_fwd2", "conv_bp_rows", "conv_bp2", "pool_rows", "pool_fwd2",
           "pool_bp_rows", "pool_bp2", "project_rows"]

# error_model="numpy": a float division by zero gives inf instead of raising, which is what lets
# LLVM vectorise loops that divide (Python's model adds a branch per division).
# fastmath "contract": fused multiply-adds allowed; no reassociation, NaNs and infs kept.
_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})

_I64 = types.int64
_ADDR = types.intp       # a data pointer passed as an integer (the same register in the ABI)


def _gemm_sig(f):
    return types.void(types.int32, types.int32, types.int32, _I64, _I64, _I64, f, _ADDR, _I64,
                      _ADDR, _I64, f, _ADDR, _I64)


# bound to NumPy's OpenBLAS by jit._load() (llvmlite.binding.add_symbol) before any compile
_sgemm = types.ExternalFunction("tapeflow_cblas_sgemm", _gemm_sig(types.float32))
_dgemm = types.ExternalFunction("tapeflow_cblas_dgemm", _gemm_sig(types.float64))
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """C (m x n, row-major, leading dimension ldc) = op(A) @ op(B) + beta * C, by address."""


@overload(_gemm, jit_options=dict(error_model="numpy"))
def _gemm_ov(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
    if beta == types.float32:
        def gemm32(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
            _sgemm(_ROW_MAJOR, trans_a, trans_b, m, n, k, np.float32(1.0), a, lda, b, ldb,
                   beta, c, ldc)
        return gemm32

    def gemm64(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
        _dgemm(_ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc)
    return gemm64


def _like(arr, v):
    """``v`` as a scalar of ``arr``'s dtype (Numba would promote float32 with a Python float
    to float64)."""


@overload(_like, inline="always")
def _like_ov(arr, v):
    if arr.dtype == types.float32:
        return lambda arr, v: np.float32(v)
    return lambda arr, v: np.float64(v)


# tanh for float32 as a rational function (odd degree 13 over even degree 6 in x, clamped where
# tanh rounds to +-1 in float32): plain arithmetic that vectorises, where a libm call per element
# would not. The coefficients are the minimax fit TensorFlow's CPU kernels use (Eigen's
# generic fast tanh). Measured against float64 tanh: max abs error 2.7e-7 (np.tanh in float32:
# 6e-8); 0.10 ns an element against NumPy's 0.16 on the benchmark machine.
_TANH_CLAMP = 7.90531110763549805
_TANH_P = (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
           5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
           -2.76076847742355e-16)
_TANH_Q = (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
           1.19825839466702e-06)


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def _tanh32(x):
    x = min(max(x, np.float32(-_TANH_CLAMP)), np.float32(_TANH_CLAMP))
    x2 = x * x
    p = np.float32(_TANH_P[6])
    p = p * x2 + np.float32(_TANH_P[5])
    p = p * x2 + np.float32(_TANH_P[4])
    p = p * x2 + np.float32(_TANH_P[3])
    p = p * x2 + np.float32(_TANH_P[2])
    p = p * x2 + np.float32(_TANH_P[1])
    p = p * x2 + np.float32(_TANH_P[0])
    q = np.float32(_TANH_Q[3])
    q = q * x2 + np.float32(_TANH_Q[2])
    q = q * x2 + np.float32(_TANH_Q[1])
    q = q * x2 + np.float32(_TANH_Q[0])
    return x * p / q


def _tanh(x):
    """tanh: the rational approximation in float32, libm's in float64 (gradient checks)."""


@overload(_tanh, inline="always")
def _tanh_ov(x):
    if x == types.float32:
        return lambda x: _tanh32(x)
    return lambda x: math.tanh(x)


@njit(**_OPTS)
def tanh_approx(x, out):
    """The float32 kernels' tanh over a 1-D array (tests measure its error)."""
    for i in range(x.shape[0]):
        out[i] = _tanh(x[i])


def lstm_coef(bias):
    """``coef`` for ``lstm_forward``: rows (pre, mul, add, bias) such that each activated gate
    is ``mul * tanh(pre * (z + bias)) + add``: sigmoid(v) = 0.5 tanh(v / 2) + 0.5 for the
    i, f, o gates, tanh for the candidate c (one rational function, no exp).

    >>> import numpy as np
    >>> lstm_coef(np.zeros(8, np.float32))[:3, :].tolist()[0]
    [0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5]
    """
    g4 = bias.shape[0]
    n = g4 // 4
    coef = np.empty((4, g4), bias.dtype)
    coef[:3] = 0.5
    coef[:2, 2 * n:3 * n] = 1
    coef[2, 2 * n:3 * n] = 0
    coef[3] = bias
    return coef


@njit(**_OPTS)
def lstm_forward(xw, coef, u, h0, c0, keep, r0, r1, hs, hp, cp, tcs, c_last, hbuf, cbuf):
    """Rows [r0, r1) of an LSTM sequence (Keras's tanh / sigmoid cell).

    In: ``xw`` (B, T, 4n) the input projection ``x @ kernel`` (overwritten with the activated
    gates, which the backward reads), ``coef`` (4, 4n) from ``lstm_coef`` (the bias and the
    gates' activations), ``u`` the recurrent kernel (n, 4n),
    ``h0``, ``c0`` (B, n), ``keep`` (B, T) the mask as 1/0 or a (B, 0) array for none.
    Out: ``hs`` (B, T, n) the hidden states, ``hp`` and ``cp`` (B, T, n) the states each step
    started from, ``tcs`` (B, T, n) tanh of each step's cell state, ``c_last`` (B, n).
    ``hbuf``, ``cbuf``: (r1 - r0, n) scratch, the running states of these rows.
    """
    t_len, g4 = xw.shape[1], xw.shape[2]
    n = g4 // 4
    rows = r1 - r0
    pre, mul, add, bias = coef[0], coef[1], coef[2], coef[3]
    one = _like(xw, 1.0)
    zero = _like(xw, 0.0)
    masked = keep.shape[1] > 0
    item = xw.itemsize
    for r in range(rows):
        for j in range(n):
            hbuf[r, j] = h0[r0 + r, j]
            cbuf[r, j] = c0[r0 + r, j]
    for t in range(t_len):
        # the step's pre-activations, in place: xw[r0:r1, t] += h_{t-1} @ U (ldc skips the
        # other steps of each row)
        _gemm(_NO_TRANS, _NO_TRANS, rows, g4, n, hbuf.ctypes.data, n, u.ctypes.data, g4, one,
              xw.ctypes.data + (r0 * t_len + t) * g4 * item, t_len * g4)
        for r in range(rows):
            b = r0 + r
            z = xw[b, t]
            # one loop over the whole row, the gates told apart by coefficients: three loops
            # of n (32 on W6) run 4x slower, too short for the vectorised loop body (64 floats
            # an iteration with AVX-512), so mostly in its scalar remainder
            for g in range(g4):
                z[g] = mul[g] * _tanh(pre[g] * (z[g] + bias[g])) + add[g]
            hrow = hbuf[r]
            crow = cbuf[r]
            if masked and keep[b, t] == 0:
                # a masked step keeps the state (and repeats the previous output)
                for j in range(n):
                    hp[b, t, j] = hrow[j]
                    cp[b, t, j] = crow[j]
                    hs[b, t, j] = hrow[j]
                    tcs[b, t, j] = zero
                continue
            for j in range(n):
                hp[b, t, j] = hrow[j]
                c_prev = crow[j]
                cp[b, t, j] = c_prev
                c = z[n + j] * c_prev + z[j] * z[2 * n + j]
                tc = _tanh(c)
                tcs[b, t, j] = tc
                h = z[3 * n + j] * tc
                crow[j] = c
                hrow[j] = h
                hs[b, t, j] = h
    for r in range(rows):
        for j in range(n):
            c_last[r0 + r, j] = cbuf[r, j]


@njit(**_OPTS)
def lstm_backward(dy, seq, dh_last, dc_last, x, w, hp, gates, cp, tcs, u, keep, r0, r1, dz, dx,
                  dh0, dc0, gw, gu, gb, dhbuf, dcbuf):
    """Backward through time for rows [r0, r1) of ``lstm_forward`` (``x`` (B, T, d) its input,
    ``w`` (d, 4n) its kernel).

    ``dy`` (B, T, n): the outputs' gradient when ``seq`` (every step returned), else unused and
    ``dh_last`` (B, n) is the last output's; ``dc_last`` (B, n): the last cell state's.
    Out: these rows of ``dx`` (B, T, d), ``dh0``, ``dc0`` (B, n) and ``dz`` (B, T, 4n) (the
    pre-activations' gradient); these rows' share of the weight gradients added to ``gw``
    (d, 4n), ``gu`` (n, 4n) and ``gb`` (4n,). ``dhbuf``, ``dcbuf``: scratch.

    After the loop, ``dx`` and the weight gradients are three products over these rows' every
    step (``x[r0:r1]`` is one contiguous block, batch-major): when two threads run the two
    halves, each makes its own on one core. One two-thread product over the whole batch uses
    the two cores worse for these long thin shapes (K = batch * time; measured on W6: 0.38 ms
    against 0.48 on one thread for ``x^T @ dz``).
    """
    t_len, g4 = gates.shape[1], gates.shape[2]
    n = g4 // 4
    d = x.shape[2]
    rows = r1 - r0
    one = _like(gates, 1.0)
    zero = _like(gates, 0.0)
    masked = keep.shape[1] > 0
    item = dz.itemsize
    for r in range(rows):
        for j in range(n):
            dhbuf[r, j] = zero if seq else dh_last[r0 + r, j]
            dcbuf[r, j] = dc_last[r0 + r, j]
    for t in range(t_len - 1, -1, -1):
        for r in range(rows):
            b = r0 + r
            dhr = dhbuf[r]
            dcr = dcbuf[r]
            zt = dz[b, t]
            gt = gates[b, t]
            if seq:
                for j in range(n):
                    dhr[j] += dy[b, t, j]
            if masked and keep[b, t] == 0:
                # the state's gradient passes to the previous step unchanged (the product
                # below adds this row's zero dz to it)
                for g in range(g4):
                    zt[g] = zero
                continue
            for j in range(n):
                dh = dhr[j]
                i = gt[j]
                f = gt[n + j]
                g = gt[2 * n + j]
                o = gt[3 * n + j]
                tc = tcs[b, t, j]
                dc = dcr[j] + dh * o * (one - tc * tc)
                zt[j] = dc * g * i * (one - i)
                zt[n + j] = dc * cp[b, t, j] * f * (one - f)
                zt[2 * n + j] = dc * i * (one - g * g)
                zt[3 * n + j] = dh * tc * o * (one - o)
                dcr[j] = dc * f
                dhr[j] = zero
            for g in range(g4):
                gb[g] += zt[g]
        # dh_{t-1} = dz[r0:r1, t] @ U^T (added to the masked rows' pass-through)
        _gemm(_NO_TRANS, _TRANS, rows, n, g4, dz.ctypes.data + (r0 * t_len + t) * g4 * item,
              t_len * g4, u.ctypes.data, g4, one, dhbuf.ctypes.data, n)
    for r in range(rows):
        for j in range(n):
            dh0[r0 + r, j] = dhbuf[r, j]
            dc0[r0 + r, j] = dcbuf[r, j]
    k = rows * t_len
    dzr = dz.ctypes.data + r0 * t_len * g4 * item
    # dx = dz @ W^T, gw += x^T @ dz, gu += h_prev^T @ dz over these rows' steps
    _gemm(_NO_TRANS, _TRANS, k, d, g4, dzr, g4, w.ctypes.data, g4, zero,
          dx.ctypes.data + r0 * t_len * d * item, d)
    _gemm(_TRANS, _NO_TRANS, d, g4, k, x.ctypes.data + r0 * t_len * d * item, d, dzr, g4, one,
          gw.ctypes.data, g4)
    _gemm(_TRANS, _NO_TRANS, n, g4, k, hp.ctypes.data + r0 * t_len * n * item, n, dzr, g4, one,
          gu.ctypes.data, g4)


# ---------------------------------------------------------------- optimizers, scatter
# Exact IEEE arithmetic here (no fastmath): each kernel does its NumPy twin's operations in the
# same order, so the numbers are the same bit for bit (tests compare the two); the gain is one
# pass over memory instead of one per NumPy call (W6's Adam: ~9 passes over 330k parameters).
_EXACT = dict(cache=True, nogil=True, error_model="numpy")


# The optimizers' kernels take tuples of flat arrays (one per variable piece): one call a step
# instead of one per variable (W2: six, ~1.5 us each).
@njit(**_EXACT)
def adam_update(w, g, m, v, alpha, c1, c2, eps):
    """Adam on tuples of flat arrays: m += (g - m) c1; v += (g^2 - v) c2;
    w -= m alpha / (sqrt(v) + eps) (``c1 = 1 - beta_1``, ``c2 = 1 - beta_2``, ``alpha`` the
    bias-corrected learning rate)."""
    for k in range(len(w)):
        wk, gk, mk, vk = w[k], g[k], m[k], v[k]
        for i in range(wk.shape[0]):
            gi = gk[i]
            mi = mk[i] + (gi - mk[i]) * c1
            vi = vk[i] + (gi * gi - vk[i]) * c2
            mk[i] = mi
            vk[i] = vi
            wk[i] = wk[i] - (mi * alpha) / (np.sqrt(vi) + eps)


@njit(**_EXACT)
def rmsprop_update(w, g, vel, lr, rho, c, eps):
    """RMSprop (not centered, no momentum) on tuples of flat arrays: vel = vel rho + g^2 c;
    w -= g lr / sqrt(vel + eps) (``c = 1 - rho``)."""
    for k in range(len(w)):
        wk, gk, vk = w[k], g[k], vel[k]
        for i in range(wk.shape[0]):
            gi = gk[i]
            vi = vk[i] * rho + (gi * gi) * c
            vk[i] = vi
            wk[i] = wk[i] - (gi * lr) / np.sqrt(vi + eps)


@njit(**_EXACT)
def scatter_add_rows(out, idx, dy):
    """``out[idx[j]] += dy[j]`` row by row in ``dy``'s order (``np.add.at``'s sums, bit for
    bit); a negative index counts from the end. Returns -1, or the position of the first index
    out of range (nothing from it on is added)."""
    rows, cols = out.shape
    for j in range(idx.shape[0]):
        i = idx[j]
        if i < 0:
            i += rows
        if i < 0 or i >= rows:
            return j
        for c in range(cols):
            out[i, c] += dy[j, c]
    return -1


@njit(**_EXACT)
def gemm_check(a, b, c):
    """c = a @ b^T through the bound ``cblas_?gemm`` (``jit.kernels()`` checks the binding on
    a tiny product before any kernel is used)."""
    _gemm(_NO_TRANS, _TRANS, a.shape[0], b.shape[0], a.shape[1], a.ctypes.data, a.shape[1],
          b.ctypes.data, b.shape[1], _like(a, 0.0), c.ctypes.data, c.shape[1])


@njit(**_EXACT)
def sgd_update(w, g, lr):
    """Plain SGD on tuples of flat arrays: w -= g lr (NumPy's ``multiply`` then
    ``subtract``)."""
    for k in range(len(w)):
        wk, gk = w[k], g[k]
        for i in range(wk.shape[0]):
            wk[i] = wk[i] - gk[i] * lr


# ---------------------------------------------------------------- a Dense chain's step
# tapeflow/keras/_fused_mlp.py: a Sequential of Dense layers trained with a cross-entropy or a
# squared error runs its forward, loss and backward as these two kernels (the optimizer and the
# metrics stay the model's own). Activation codes: 0 linear, 1 relu, 2 softmax (last layer).
# Loss codes: 0 sparse categorical cross-entropy on the last layer's pre-softmax values (Keras
# takes a softmax output's logits too), 1 mean squared error.
_LINEAR, _RELU, _SOFTMAX = 0, 1, 2


@njit(**_OPTS)
def mlp_rows(x, ws, bs, acts, outs, dzs, labels, targets, loss_kind, scale, logits, r0, r1,
             stats):
    """Rows [r0, r1): the forward (``outs[l]`` each layer's output; the last one is what the
    model returns), the loss (summed into ``stats[0]``; ``stats[1] = 1`` and an early return
    for a label out of range) and the gradient of each layer's pre-activation (``dzs[l]``).
    The rows are independent, so two threads run two halves. ``scale``: the loss's 1 / batch;
    ``logits``: (B, classes) receives a softmax output's input (for metrics that read the
    logits, as the general path's ``_keras_logits``), or (0, 0) for none.
    """
    n_layers = len(ws)
    item = x.itemsize
    rows = r1 - r0
    zero = _like(x, 0.0)
    one = _like(x, 1.0)
    total = 0.0
    for li in range(n_layers):
        w = ws[li]
        din, dout = w.shape[0], w.shape[1]
        a_in = x if li == 0 else outs[li - 1]
        out = outs[li]
        _gemm(_NO_TRANS, _NO_TRANS, rows, dout, din, a_in.ctypes.data + r0 * din * item, din,
              w.ctypes.data, dout, zero, out.ctypes.data + r0 * dout * item, dout)
        b = bs[li]
        has_b = b.shape[0] > 0
        act = acts[li]
        last = li == n_layers - 1
        for r in range(r0, r1):
            row = out[r]
            if has_b:
                for j in range(dout):
                    row[j] += b[j]
            if act == _RELU:
                for j in range(dout):
                    v = row[j]
                    row[j] = zero if v < zero else v     # NaN stays NaN, as np.maximum
            if not last:
                continue
            dz = dzs[li][r]
            if loss_kind == 0:
                y = labels[r]
                if y < 0 or y >= dout:
                    stats[1] = 1.0
                    return
                m = row[0]
                for j in range(1, dout):
                    if row[j] > m:
                        m = row[j]
                s = zero
                for j in range(dout):
                    e = np.exp(row[j] - m)
                    dz[j] = e
                    s += e
                lse = m + np.log(s)
                total += lse - row[y]
                keep = act == _SOFTMAX and logits.shape[0] > 0
                for j in range(dout):
                    p = dz[j] / s
                    dz[j] = p
                    if act == _SOFTMAX:
                        if keep:
                            logits[r, j] = row[j]
                        row[j] = p
                dz[y] -= one                        # softmax - one-hot, then the mean's 1/B
                for j in range(dout):
                    dz[j] *= scale
            else:
                t = targets[r]
                acc = 0.0
                for j in range(dout):
                    diff = row[j] - t[j]
                    acc += diff * diff
                    dz[j] = (diff + diff) / dout * scale
                total += acc / dout
    stats[0] += total
    for li in range(n_layers - 1, 0, -1):
        w = ws[li]
        din, dout = w.shape[0], w.shape[1]
        dprev = dzs[li - 1]
        # the previous layer's output gradient: dz @ W^T, then its activation's derivative
        _gemm(_NO_TRANS, _TRANS, rows, din, dout, dzs[li].ctypes.data + r0 * dout * item, dout,
              w.ctypes.data, dout, zero, dprev.ctypes.data + r0 * din * item, din)
        if acts[li - 1] == _RELU:
            prev = outs[li - 1]
            for r in range(r0, r1):
                d = dprev[r]
                o = prev[r]
                for j in range(din):
                    d[j] *= one if o[j] > zero else zero     # TF: dy * (y > 0)


@njit(**_OPTS)
def mlp_grads(x, ws, outs, dzs, gws, gbs, part, parts):
    """Part ``part`` of ``parts`` of the weight gradients after ``mlp_rows``: columns of each
    layer's ``gws[l] = a_{l-1}^T @ dzs[l]`` over the whole batch and the bias gradients
    ``gbs[l]`` (summed row by row, as NumPy's sum over axis 0; a (0,) array: no bias)."""
    bsz = x.shape[0]
    item = x.itemsize
    zero = _like(x, 0.0)
    for li in range(len(ws)):
        din, dout = ws[li].shape[0], ws[li].shape[1]
        c0 = dout * part // parts
        c1 = dout * (part + 1) // parts
        if c1 <= c0:
            continue
        a_in = x if li == 0 else outs[li - 1]
        dz = dzs[li]
        _gemm(_TRANS, _NO_TRANS, din, c1 - c0, bsz, a_in.ctypes.data, din,
              dz.ctypes.data + c0 * item, dout, zero, gws[li].ctypes.data + c0 * item, dout)
        gb = gbs[li]
        if gb.shape[0] > 0:
            for c in range(c0, c1):
                gb[c] = zero
            for r in range(bsz):
                row = dz[r]
                for c in range(c0, c1):
                    gb[c] += row[c]


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def mlp_step2(x, ws, bs, acts, outs, dzs, labels, targets, loss_kind, scale, logits, stats, gws,
              gbs):
    """``mlp_rows`` on the two halves of the batch, then ``mlp_grads`` on the two halves of the
    columns, each pair on two threads of Numba's pool (``stats``: (2, 2), one row per half).

    Numba's OpenMP pool starts a parallel loop in ~1 us (its threads poll for a while after
    each), where waking a sleeping Python thread costs 10-60 us on the benchmark VM, as much as
    a half of W2's products: only this makes the split pay on small batches."""
    bsz = x.shape[0]
    for p in prange(2):
        mlp_rows(x, ws, bs, acts, outs, dzs, labels, targets, loss_kind, scale, logits,
                 bsz * p // 2, bsz * (p + 1) // 2, stats[p])
    if stats[0, 1] != 0 or stats[1, 1] != 0:
        return
    for p in prange(2):
        mlp_grads(x, ws, outs, dzs, gws, gbs, p, 2)


@njit(parallel=True, cache=True, nogil=True)
def parallel_probe(a):
    """Starts Numba's thread pool (``jit.parallel_ok`` then asks which one it got)."""
    for p in prange(2):
        a[p] += 1.0


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def lstm_forward2(x, w, xw, coef, u, h0, c0, keep, hs, hp, cp, tcs, c_last, hbuf, cbuf):
    """``lstm_forward`` on the two halves of the batch on two threads of Numba's pool (see
    ``mlp_step2``), each first making its rows' input projection ``xw = x @ w`` (``x``
    (B, T, d)); ``hbuf``, ``cbuf``: (B, n) scratch."""
    bsz = x.shape[0]
    for p in prange(2):
        r0 = bsz * p // 2
        r1 = bsz * (p + 1) // 2
        project_rows(x, w, xw, r0, r1)
        lstm_forward(xw, coef, u, h0, c0, keep, r0, r1, hs, hp, cp, tcs, c_last, hbuf[r0:r1],
                     cbuf[r0:r1])


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def lstm_backward2(dy, seq, dh_last, dc_last, x, w, hp, gates, cp, tcs, u, keep, dz, dx, dh0,
                   dc0, gw, gu, gb, dhbuf, dcbuf):
    """``lstm_backward`` on the two halves of the batch on two threads; ``gw``, ``gu``, ``gb``
    hold one zeroed accumulator per half (leading axis 2), summed by the caller."""
    bsz = gates.shape[0]
    for p in prange(2):
        r0 = bsz * p // 2
        r1 = bsz * (p + 1) // 2
        lstm_backward(dy, seq, dh_last, dc_last, x, w, hp, gates, cp, tcs, u, keep, r0, r1, dz,
                      dx, dh0, dc0, gw[p], gu[p], gb[p], dhbuf[r0:r1], dcbuf[r0:r1])


# ---------------------------------------------------------------- convolution and pooling
# 2-D, channels-last, groups 1, no dilation (tapeflow/ops/conv_ops.py pads first). Each kernel
# works on images [n0, n1): its rows of the im2col matrix (M = N * OH * OW rows of
# KH * KW * C, the layout of conv_ops._im2col), one product, the bias and relu in one pass.
# The parallel variants run the two halves of the batch on Numba's pool, each half's products
# on one core (the same work as one two-thread product, without its hand-offs, and with the
# im2col and col2im passes split too).
@njit(**_OPTS)
def conv_rows(xp, w2, b, has_b, relu, kh, kw, sh, sw, cols, out, n0, n1):
    """Images [n0, n1) of a convolution: ``cols`` rows (kept for the gradient), ``out``."""
    hgt, wid, c = xp.shape[1], xp.shape[2], xp.shape[3]
    oh, ow, o_ = out.shape[1], out.shape[2], out.shape[3]
    run = kw * c
    kk = kh * run
    flat = xp.reshape(-1)
    for n in range(n0, n1):
        for oy in range(oh):
            for ox in range(ow):
                row = cols[(n * oh + oy) * ow + ox]
                for dy in range(kh):
                    base = ((n * hgt + oy * sh + dy) * wid + ox * sw) * c
                    for j in range(run):       # a kernel row: kw * c contiguous elements
                        row[dy * run + j] = flat[base + j]
    r0 = n0 * oh * ow
    r1 = n1 * oh * ow
    item = xp.itemsize
    zero = _like(xp, 0.0)
    _gemm(_NO_TRANS, _NO_TRANS, r1 - r0, o_, kk, cols.ctypes.data + r0 * kk * item, kk,
          w2.ctypes.data, o_, zero, out.ctypes.data + r0 * o_ * item, o_)
    if has_b or relu:
        o2 = out.reshape(-1, o_)
        for r in range(r0, r1):
            row = o2[r]
            if has_b:
                for j in range(o_):
                    row[j] += b[j]
            if relu:
                for j in range(o_):
                    v = row[j]
                    row[j] = zero if v < zero else v


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def conv_fwd2(xp, w2, b, has_b, relu, kh, kw, sh, sw, cols, out):
    """``conv_rows`` on the two halves of the batch on two threads."""
    nb = xp.shape[0]
    for p in prange(2):
        conv_rows(xp, w2, b, has_b, relu, kh, kw, sh, sw, cols, out, nb * p // 2,
                  nb * (p + 1) // 2)


@njit(**_OPTS)
def conv_bp_rows(dy, y, relu, cols, w2, kh, kw, sh, sw, dz, dcols, dxp, need_dx, gw, gb, n0,
                 n1):
    """Images [n0, n1) of a convolution's gradient: ``dz = dy * (y > 0)`` (relu) or ``dy``,
    these rows' share of the filter and bias gradients added to ``gw`` (K, O) and ``gb``, and
    with ``need_dx`` the padded input's gradient ``dxp`` (these images zeroed, then col2im)."""
    oh, ow, o_ = dy.shape[1], dy.shape[2], dy.shape[3]
    hgt, wid, c = dxp.shape[1], dxp.shape[2], dxp.shape[3]
    run = kw * c
    kk = kh * run
    r0 = n0 * oh * ow
    r1 = n1 * oh * ow
    item = dy.itemsize
    one = _like(dy, 1.0)
    zero = _like(dy, 0.0)
    dy2 = dy.reshape(-1, o_)
    y2 = y.reshape(-1, o_)
    for r in range(r0, r1):
        src = dy2[r]
        dst = dz[r]
        if relu:
            yr = y2[r]
            for j in range(o_):
                dst[j] = src[j] * (one if yr[j] > zero else zero)    # TF: dy * (y > 0)
        else:
            for j in range(o_):
                dst[j] = src[j]
        for j in range(o_):
            gb[j] += dst[j]
    _gemm(_TRANS, _NO_TRANS, kk, o_, r1 - r0, cols.ctypes.data + r0 * kk * item, kk,
          dz.ctypes.data + r0 * o_ * item, o_, one, gw.ctypes.data, o_)
    if not need_dx:
        return
    _gemm(_NO_TRANS, _TRANS, r1 - r0, kk, o_, dz.ctypes.data + r0 * o_ * item, o_,
          w2.ctypes.data, o_, zero, dcols.ctypes.data + r0 * kk * item, kk)
    flat = dxp.reshape(-1)
    per = hgt * wid * c
    for i in range(n0 * per, n1 * per):
        flat[i] = zero
    for n in range(n0, n1):
        for oy in range(oh):
            for ox in range(ow):
                row = dcols[(n * oh + oy) * ow + ox]
                for dy_ in range(kh):
                    base = ((n * hgt + oy * sh + dy_) * wid + ox * sw) * c
                    for j in range(run):
                        flat[base + j] += row[dy_ * run + j]


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def conv_bp2(dy, y, relu, cols, w2, kh, kw, sh, sw, dz, dcols, dxp, need_dx, gw, gb):
    """``conv_bp_rows`` on the two halves of the batch on two threads (``gw``, ``gb``: one
    zeroed accumulator per half, leading axis 2)."""
    nb = dy.shape[0]
    for p in prange(2):
        conv_bp_rows(dy, y, relu, cols, w2, kh, kw, sh, sw, dz, dcols, dxp, need_dx, gw[p],
                     gb[p], nb * p // 2, nb * (p + 1) // 2)


_NO_HIT = 255


@njit(**_OPTS)
def pool_rows(x, kh, kw, y, arg, n0, n1):
    """Images [n0, n1) of a max pooling whose windows tile ``x`` (stride = window, no padding):
    ``y`` the maxima (NaN where a window has one, as a running ``np.maximum``), ``arg`` the
    offset of each window's first maximum (row-major), 255 for a NaN window (no gradient)."""
    oh, ow, c = y.shape[1], y.shape[2], y.shape[3]
    for n in range(n0, n1):
        for oy in range(oh):
            for ox in range(ow):
                yr = y[n, oy, ox]
                ar = arg[n, oy, ox]
                first = x[n, oy * kh, ox * kw]
                for ch in range(c):
                    yr[ch] = first[ch]
                    ar[ch] = 0
                for t in range(1, kh * kw):
                    src = x[n, oy * kh + t // kw, ox * kw + t % kw]
                    for ch in range(c):
                        v = src[ch]
                        m = yr[ch]
                        if v > m or (v != v and m == m):
                            yr[ch] = v
                            ar[ch] = t
                for ch in range(c):
                    if yr[ch] != yr[ch]:
                        ar[ch] = _NO_HIT


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def pool_fwd2(x, kh, kw, y, arg):
    """``pool_rows`` on the two halves of the batch on two threads."""
    nb = x.shape[0]
    for p in prange(2):
        pool_rows(x, kh, kw, y, arg, nb * p // 2, nb * (p + 1) // 2)


@njit(**_OPTS)
def pool_bp_rows(dy, arg, kh, kw, dx, n0, n1):
    """Images [n0, n1) of the tiled max pooling's gradient: each window's first maximum gets
    ``dy``, every other element ``dy * 0`` (as NumPy's masked product: NaN for an infinite
    ``dy``), elements no window covers 0."""
    oh, ow, c = dy.shape[1], dy.shape[2], dy.shape[3]
    hgt, wid = dx.shape[1], dx.shape[2]
    one = _like(dy, 1.0)
    zero = _like(dy, 0.0)
    for n in range(n0, n1):
        for yy in range(hgt):
            for xx in range(wid):
                if yy >= oh * kh or xx >= ow * kw:
                    for ch in range(c):
                        dx[n, yy, xx, ch] = zero
        for oy in range(oh):
            for ox in range(ow):
                g = dy[n, oy, ox]
                ar = arg[n, oy, ox]
                for t in range(kh * kw):
                    dst = dx[n, oy * kh + t // kw, ox * kw + t % kw]
                    for ch in range(c):
                        dst[ch] = g[ch] * (one if ar[ch] == t else zero)


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def pool_bp2(dy, arg, kh, kw, dx):
    """``pool_bp_rows`` on the two halves of the batch on two threads."""
    nb = dy.shape[0]
    for p in prange(2):
        pool_bp_rows(dy, arg, kh, kw, dx, nb * p // 2, nb * (p + 1) // 2)


@njit(**_OPTS)
def project_rows(x, w, xw, r0, r1):
    """``xw[r0:r1] = x[r0:r1] @ w`` for (B, T, d) ``x``: the product ``lstm_forward2`` makes for
    each half (the same call, so the one-thread order gives the same bits)."""
    t_len, d = x.shape[1], x.shape[2]
    g4 = w.shape[1]
    item = x.itemsize
    _gemm(_NO_TRANS, _NO_TRANS, (r1 - r0) * t_len, g4, d, x.ctypes.data + r0 * t_len * d * item,
          d, w.ctypes.data, g4, _like(x, 0.0), xw.ctypes.data + r0 * t_len * g4 * item, g4)
