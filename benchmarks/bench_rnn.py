"""Micro-benchmark of the fused LSTM / GRU kernels and the Embedding's gradient at W6's sizes.

Times ``rnn_ops._lstm_forward`` / ``_lstm_backward`` (batch 64, 100 steps, 32 features, 32 units,
float32, one BLAS thread as in ``fit``) and ``array_ops._scatter_rows`` (6400 ids into a 10000 x 32
table), in this process, then the GRU's forward / backward (old loop and new, alternately, both
``reset_after`` values), and prints medians and 10th percentiles in ms. The machine is noisy:
compare variants by running them alternately in one process.

Usage::

    python benchmarks/bench_rnn.py [--reps 30] [--batch 64] [--steps 100] [--units 32]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from tapeflow._backend import blas, memory  # noqa: E402
from tapeflow.ops import array_ops, rnn_ops  # noqa: E402


# ---------------------------------------------------------------- the GRU before issue 7
# A copy of the (batch, 3n)-layout GRU loop that the batch-last one replaced, timed
# alternately with it.
def _old_gru_forward(x, h0, w, u, b, mask, reset_after, cache):
    bsz, t_len, _ = x.shape
    n = u.shape[0]
    dt = x.dtype
    xt = rnn_ops._time_major(x)
    b_in = b[0] if reset_after else b
    xw = (xt.reshape(t_len * bsz, -1) @ w + b_in).reshape(t_len, bsz, 3 * n)
    m = rnn_ops._mask_tm(mask, dt)
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


def _old_gru_backward(dys, w, u, cache):
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
    live = rnn_ops._nonzero_steps(dyt)
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


def _stats(xs):
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1e3:6.2f} ms, p10 {xs[len(xs) // 10] * 1e3:6.2f} ms"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--units", type=int, default=32)
    args = ap.parse_args(argv)
    b, t, d, n = args.batch, args.steps, args.features, args.units
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = (rng.standard_normal((b, t, d)) * 0.05).astype(f32)
    h0, c0 = np.zeros((b, n), f32), np.zeros((b, n), f32)
    w = (rng.standard_normal((d, 4 * n)) * 0.2).astype(f32)
    u = (rng.standard_normal((n, 4 * n)) * 0.2).astype(f32)
    bias = np.zeros(4 * n, f32)
    no_mask = np.zeros((0,), f32)
    dh, dc = rng.standard_normal((b, n)).astype(f32), np.zeros((b, n), f32)
    ids = rng.integers(0, 10000, size=(b, t))
    dy = rng.standard_normal((b, t, d)).astype(f32)
    fwd, bwd, emb = [], [], []
    with blas.single_thread():
        for rep in range(args.reps + 3):
            cache = {}
            t0 = time.perf_counter()
            rnn_ops._lstm_forward(x, h0, c0, w, u, bias, no_mask, False, cache)
            t1 = time.perf_counter()
            rnn_ops._lstm_backward(dh, dc, cache)
            t2 = time.perf_counter()
            del cache
            out = np.zeros((10000, d), f32)
            array_ops._scatter_rows(out, ids, dy)
            t3 = time.perf_counter()
            if rep >= 3:                 # warm-up: first calls fill the workspace pool
                fwd.append(t1 - t0)
                bwd.append(t2 - t1)
                emb.append(t3 - t2)
    print(f"LSTM forward  (B={b}, T={t}, d={d}, n={n}): {_stats(fwd)}")
    print(f"LSTM backward (last output only):          {_stats(bwd)}")
    print(f"Embedding gradient (scatter-add):          {_stats(emb)}")
    _bench_gru(args, rng)


def _bench_gru(args, rng):
    """The GRU's forward and backward (every output's gradient), the old loop and the new one
    alternately, for both ``reset_after`` values, with glibc's thresholds raised as ``fit`` does
    (``memory.reuse_freed_memory``): without it the old loop's fresh arrays cost page faults
    that ``fit`` does not pay."""
    memory.reuse_freed_memory()
    b, t, d, n = args.batch, args.steps, args.features, args.units
    f32 = np.float32
    x = (rng.standard_normal((b, t, d)) * 0.05).astype(f32)
    h0 = np.zeros((b, n), f32)
    w = (rng.standard_normal((d, 3 * n)) * 0.2).astype(f32)
    u = (rng.standard_normal((n, 3 * n)) * 0.2).astype(f32)
    dys = rng.standard_normal((b, t, n)).astype(f32)
    no_mask = np.zeros((0,), f32)
    impls = {"old": (_old_gru_forward, _old_gru_backward),
             "new": (rnn_ops._gru_forward, rnn_ops._gru_backward)}
    for ra in (True, False):
        bias = (rng.standard_normal((2, 3 * n) if ra else (3 * n,)) * 0.1).astype(f32)
        times = {(name, part): [] for name in impls for part in ("fwd", "bwd")}
        with blas.single_thread():
            for rep in range(args.reps + 3):
                for name, (fwd, bwd) in impls.items():
                    cache = {}
                    t0 = time.perf_counter()
                    fwd(x, h0, w, u, bias, no_mask, ra, cache)
                    t1 = time.perf_counter()
                    bwd(dys, w, u, cache)
                    t2 = time.perf_counter()
                    del cache
                    if rep >= 3:
                        times[name, "fwd"].append(t1 - t0)
                        times[name, "bwd"].append(t2 - t1)
        for name in impls:
            for part in ("fwd", "bwd"):
                print(f"GRU reset_after={ra!s:5} {name} {part}: {_stats(times[name, part])}")


if __name__ == "__main__":
    main()
