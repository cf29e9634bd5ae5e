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
  offsets;
- conv2 input gradient: one GEMM per kernel offset (the "general" column, the one-thread choice)
  against one large GEMM + col2im (the "fast" column, chosen when a Keras step's large products
  run on two threads): run with ``--threads 1`` and ``--threads 2``.

``--split``: the memory-bound kernels whole against by halves of the batch (the second half on
the helper thread), as inside a Keras step whose large products run on two threads (forced
here). ``--fit N``: W3 itself, ``model.fit`` epochs alternating in this process between the
two-thread variants of ``conv_ops`` (both module switches off; the one-GEMM input gradient; the
kernels by halves, the default; both); prints the median epoch time of each and how many steps
ran their large products on two threads (the loop's measured choice, or ``--threads 2`` to force
it: on a busy machine it stays on one thread, and the variants are off). The halves pay only
while OpenBLAS's idle worker does not spin after a product (``blas`` sees to it).

Usage::

    python benchmarks/bench_conv.py [--reps 21] [--threads 1] [--split] [--fit 5]

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


def _helper():
    # the helper thread's module (its ``enabled`` switch is forced on for the halves here)
    return C._worker


def _split_cases(rng):
    f = np.float32
    x1 = rng.standard_normal((128, 28, 28, 1)).astype(f)
    x2 = np.maximum(rng.standard_normal((128, 13, 13, 32)), 0).astype(f)
    y1 = np.maximum(rng.standard_normal((128, 26, 26, 32)), 0).astype(f)
    y2 = np.maximum(rng.standard_normal((128, 11, 11, 64)), 0).astype(f)
    b2 = rng.standard_normal(64).astype(f)
    dz2 = rng.standard_normal(y2.shape).astype(f)
    dcols = rng.standard_normal((128, 11, 11, 3, 3, 32)).astype(f)
    pool = C.REGISTRY["MaxPool"].forward
    hits1, hits2 = {}, {}
    p1 = pool(y1, ksize=(2, 2), strides=(2, 2), pads=P2, cache=hits1)
    p2 = pool(y2, ksize=(2, 2), strides=(2, 2), pads=P2, cache=hits2)
    dp1 = rng.standard_normal(p1.shape).astype(f)
    dp2 = rng.standard_normal(p2.shape).astype(f)
    return {
        "conv1 transposed im2col": lambda: C._im2col_t(x1, (3, 3), S1, S1, (26, 26), True),
        "conv2 im2col copy": lambda: C._im2col(x2, (3, 3), S1, S1, (11, 11)),
        "conv1 relu pass": lambda: C._bias_relu(y1, None, True),
        "conv2 bias + relu pass": lambda: C._bias_relu(y2, b2, True),
        "max pool 26->13 fwd + masks": lambda: pool(y1, ksize=(2, 2), strides=(2, 2), pads=P2,
                                                    cache={}),
        "max pool 11->5 fwd + masks": lambda: pool(y2, ksize=(2, 2), strides=(2, 2), pads=P2,
                                                   cache={}),
        "max pool 26->13 gradient": lambda: C._max_pool_bp_hits(y1.shape, dp1, hits1["hits"],
                                                                (2, 2)),
        "max pool 11->5 gradient": lambda: C._max_pool_bp_hits(y2.shape, dp2, hits2["hits"],
                                                               (2, 2)),
        "conv2 relu backprop": lambda: C._relu_bp(dz2, y2),
        "conv2 col2im": lambda: C._col2im(dcols, (128, 13, 13, 32), S1, S1),
    }


def _flagged(flags, reps, fn):
    """Runs ``fn`` under each module-flag setting of ``flags`` (name -> dict), alternating."""
    names = list(flags)
    times = {n: [] for n in names}
    saved = C.split_kernels, C.one_gemm_on_two_threads
    enabled = _helper().enabled

    def under(n):
        for k, v in flags[n].items():
            setattr(C, k, v)
        _helper().enabled = C.split_kernels
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    try:
        for n in names:
            under(n)
        for r in range(reps):
            for n in names if r % 2 == 0 else names[::-1]:
                times[n].append(under(n))
    finally:
        C.split_kernels, C.one_gemm_on_two_threads = saved
        _helper().enabled = enabled
    return {n: 1e3 * float(np.median(t)) for n, t in times.items()}


def _split_main(reps):
    print(f"load average {os.getloadavg()[0]:.2f}; a two-thread step forced; ms, median of {reps}")
    print(f"{'kernel (W3 shapes, batch 128)':32s} {'whole':>9s} {'halves':>9s}")
    flags = {"whole": {"split_kernels": False}, "halves": {"split_kernels": True}}
    with blas.single_thread():
        blas._state["mode"] = 0
        try:
            for name, fn in _split_cases(np.random.default_rng(0)).items():
                r = _flagged(flags, reps, fn)
                print(f"{name:32s} {r['whole']:9.3f} {r['halves']:9.3f}", flush=True)
        finally:
            blas._state["mode"] = None


def _fit_main(rounds):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _workloads_common import make_data  # noqa: PLC0415 - only this mode builds a model
    from _workloads_tapeflow import COMPILE, build  # noqa: PLC0415

    from tapeflow import keras  # noqa: PLC0415

    keras.utils.set_random_seed(0)
    x, y = make_data("W3", 0)
    model = build("W3")
    model.compile(**COMPILE["W3"]())
    two = [0, 0]
    begin = blas.StepThreads.begin

    def counting_begin(self):
        begin(self)
        two[0] += blas.two_threads_now()
        two[1] += 1

    blas.StepThreads.begin = counting_begin
    flags = {
        "whole": {"split_kernels": False, "one_gemm_on_two_threads": False},
        "one GEMM": {"split_kernels": False, "one_gemm_on_two_threads": True},
        "halves": {"split_kernels": True, "one_gemm_on_two_threads": False},
        "one GEMM + halves": {"split_kernels": True, "one_gemm_on_two_threads": True},
    }
    counts = {n: [0, 0] for n in flags}
    saved = C.split_kernels, C.one_gemm_on_two_threads
    enabled = _helper().enabled
    try:
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)          # warm-up
        times = {n: [] for n in flags}
        for r in range(rounds):
            for n in flags if r % 2 == 0 else list(flags)[::-1]:
                for k, v in flags[n].items():
                    setattr(C, k, v)
                _helper().enabled = C.split_kernels
                two[:] = [0, 0]
                t0 = time.perf_counter()
                model.fit(x, y, batch_size=128, epochs=1, verbose=0)
                times[n].append(time.perf_counter() - t0)
                counts[n][0] += two[0]
                counts[n][1] += two[1]
    finally:
        blas.StepThreads.begin = begin
        C.split_kernels, C.one_gemm_on_two_threads = saved
        _helper().enabled = enabled
    print(f"W3 fit, load average {os.getloadavg()[0]:.2f}, big threads "
          f"{blas.get_big_threads() or 'measured'}, OPENBLAS_THREAD_TIMEOUT "
          f"{os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}; median of {rounds} epochs each")
    for n, t in times.items():
        med = float(np.median(t))
        print(f"{n:20s} {med:7.3f} s  {len(x) / med:8.0f} samples/s  "
              f"two-thread steps {counts[n][0]}/{counts[n][1]}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS threads for large products: 1 (the kernel table's default), 2, "
                         "or 0 (by size; measured step by step in --fit, its default)")
    ap.add_argument("--split", action="store_true",
                    help="the memory-bound kernels whole against by halves (two threads)")
    ap.add_argument("--fit", type=int, default=0, metavar="N",
                    help="N rounds of W3 fit epochs alternating the variants")
    args = ap.parse_args(argv)
    if args.split:
        return _split_main(args.reps)
    if args.fit:
        blas.set_big_threads(args.threads or 0)
        try:
            return _fit_main(args.fit)
        finally:
            blas.set_big_threads(0)
    blas.set_big_threads(1 if args.threads is None else args.threads)
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
        "conv2 input grad: offsets/1 GEMM": (
            lambda: C._conv_bp_input(dz2, w2, x2.shape, S1, S1, P2, 1, per_offset=True),
            lambda: C._conv_bp_input(dz2, w2, x2.shape, S1, S1, P2, 1, per_offset=False)),
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
