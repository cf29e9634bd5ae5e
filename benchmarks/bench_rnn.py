"""Micro-benchmark of the fused LSTM kernel and the Embedding's gradient at W6's sizes (issue 7).

Times ``rnn_ops._lstm_forward`` / ``_lstm_backward`` (batch 64, 100 steps, 32 features, 32 units,
float32, one BLAS thread as in ``fit``) and ``array_ops._scatter_rows`` (6400 ids into a 10000 x 32
table), in this process, and prints medians and 10th percentiles in ms. The machine is noisy:
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

from tapeflow._backend import blas  # noqa: E402
from tapeflow.ops import array_ops, rnn_ops  # noqa: E402


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


if __name__ == "__main__":
    main()
