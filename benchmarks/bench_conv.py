"""Micro-benchmark of the convolution and pooling kernels on W3's shapes (issue 7).

Times, in one process and alternating, each fast path of ``tapeflow/ops/conv_ops.py`` against
the general path it replaces for these shapes (both still in the module), with large products
on one BLAS thread unless ``--threads 2`` (``blas.set_big_threads``; ``0``: by size, as outside
the Keras loops):

- conv1 forward (28x28x1 -> 26x26x32, + bias + relu): transposed im2col with the bias as a ones
  row, against the window-view im2col, a GEMM and a bias pass;
- conv1 / conv2 filter + bias gradient: the cached im2col matrix (bias row or a GEMV) against a
  GEMM plus a column sum; for conv1 also with the relu backprop fused into the GEMM's chunks
  (the raw gradient of a first convolution) against a full-size relu backprop first;
- conv2 forward (13x13x32 -> 11x11x64): the same lowering (row-major im2col, GEMM through
  ``blas.dot``, bias pass): a control line, whose two figures should agree;
- max pooling 2x2 gradient (26 -> 13, 11 -> 5): the tiled view against the strided window
  offsets.

Usage::

    python benchmarks/bench_conv.py [--reps 21] [--threads 1]

Prints the median and minimum of each variant in ms. Numbers on a shared machine move by 2x
between runs; compare the two variants of one line, not lines of different runs.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from tapeflow._backend import blas  # noqa: E402
from tapeflow.ops import conv_ops as C  # noqa: E402

P2 = ((0, 0), (0, 0))
S1 = (1, 1)


def _bench(variants, reps):
    names = list(variants)
    times = {n: [] for n in names}
    for n in names:
        variants[n]()
    for r in range(reps):
        for n in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            variants[n]()
            times[n].append(time.perf_counter() - t0)
    return {n: (1e3 * float(np.median(t)), 1e3 * min(t)) for n, t in times.items()}


def _general_conv(x, w, b, cache=None):
    # the previous lowering: 6-D window view copied by reshape, GEMM, bias pass, relu pass
    cols = C._windows(x, w.shape[:2], S1, S1).reshape(-1, 9 * x.shape[-1])
    if cache is not None:
        cache["cols"] = ("R", cols)
    y = np.dot(cols, w.reshape(-1, w.shape[-1]))
    y += b
    np.maximum(y, 0, out=y)
    return y


def _fast_conv(x, w, b, cache=None):
    y = C._conv_fwd(x, w, S1, S1, P2, 1, cache, bias=b)
    np.maximum(y, 0, out=y)
    return y


def _general_filter_bias(x, dz, w, cols):
    return (np.dot(cols[1].T, dz.reshape(-1, w.shape[-1])),
            np.add.reduce(dz.reshape(-1, w.shape[-1]), axis=0))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS threads for large products: 1 (default), 2, or 0 (by size)")
    args = ap.parse_args(argv)
    blas.set_big_threads(args.threads)
    rng = np.random.default_rng(0)
    f = np.float32
    x1 = rng.standard_normal((128, 28, 28, 1)).astype(f)
    w1 = (rng.standard_normal((3, 3, 1, 32)) * 0.3).astype(f)
    b1 = rng.standard_normal(32).astype(f)
    x2 = np.maximum(rng.standard_normal((128, 13, 13, 32)), 0).astype(f)
    w2 = (rng.standard_normal((3, 3, 32, 64)) * 0.1).astype(f)
    b2 = rng.standard_normal(64).astype(f)
    dz1 = rng.standard_normal((128, 26, 26, 32)).astype(f)
    dz2 = rng.standard_normal((128, 11, 11, 64)).astype(f)
    y1, y2 = np.maximum(dz1, 0), np.maximum(dz2, 0)
    g1, g2, f1, f2 = {}, {}, {}, {}
    _general_conv(x1, w1, b1, g1)
    _general_conv(x2, w2, b2, g2)
    _fast_conv(x1, w1, b1, f1)
    _fast_conv(x2, w2, b2, f2)
    p1 = C._max_pool_fwd(y1, (2, 2), (2, 2), P2)
    p2 = C._max_pool_fwd(y2, (2, 2), (2, 2), P2)
    dp1 = rng.standard_normal(p1.shape).astype(f)
    dp2 = rng.standard_normal(p2.shape).astype(f)
    cases = {
        "conv1 forward + bias + relu": (lambda: _general_conv(x1, w1, b1),
                                        lambda: _fast_conv(x1, w1, b1)),
        "conv2 forward + bias + relu": (lambda: _general_conv(x2, w2, b2),
                                        lambda: _fast_conv(x2, w2, b2)),
        "conv1 relu + filter + bias grad": (
            lambda: _general_filter_bias(x1, dz1 * (y1 > 0), w1, g1["cols"]),
            lambda: C._conv_bp_filter(x1, dz1, w1.shape, S1, S1, P2, 1, f1["cols"], bias=True,
                                      relu_y=y1.reshape(-1, 32))),
        "conv1 filter + bias grad": (
            lambda: _general_filter_bias(x1, dz1, w1, g1["cols"]),
            lambda: C._conv_bp_filter(x1, dz1, w1.shape, S1, S1, P2, 1, f1["cols"], bias=True)),
        "conv2 filter + bias grad": (
            lambda: _general_filter_bias(x2, dz2, w2, g2["cols"]),
            lambda: C._conv_bp_filter(x2, dz2, w2.shape, S1, S1, P2, 1, f2["cols"], bias=True)),
        "max pool 26->13 gradient": (
            lambda: C._max_pool_bp_general(y1, p1, dp1, (2, 2), (2, 2), P2),
            lambda: C._max_pool_bp_tiled(y1, p1, dp1, (2, 2))),
        "max pool 11->5 gradient": (
            lambda: C._max_pool_bp_general(y2, p2, dp2, (2, 2), (2, 2), P2),
            lambda: C._max_pool_bp_tiled(y2, p2, dp2, (2, 2))),
    }
    print(f"{'kernel (W3 shapes, batch 128)':32s} {'general ms':>18s} {'fast ms':>18s}  "
          f"(median / min of {args.reps})")
    with blas.single_thread():
        for name, (general, fast) in cases.items():
            r = _bench({"general": general, "fast": fast}, args.reps)
            print(f"{name:32s} {r['general'][0]:9.2f} /{r['general'][1]:6.2f}  "
                  f"{r['fast'][0]:9.2f} /{r['fast'][1]:6.2f}")


if __name__ == "__main__":
    main()
