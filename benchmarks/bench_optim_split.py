"""Split optimizer steps (issue 7): microseconds per ``optimizer.apply(grads)`` with the fused flat
step on one thread and split in two halves (the second on the helper thread), alternating in this
one process, medians, by optimizer and parameter count.

The split runs only where the BLAS chooser of a Keras loop puts large products on all threads;
here that is forced (``blas._state["mode"] = 0``) and the size threshold is lifted, to see where
the split pays on this machine (it pays only while the other core is free: run it a few times).

With ``--fit W1`` it times whole ``fit`` epochs instead: two copies of the workload's model
(same seed), one with the split allowed and one without, their epochs alternating, each with its
own BLAS chooser (so each chooser sees one consistent kind of step); it reports the median epoch
times, the share of steps whose chooser gave large products all threads (mode 0) and the share of
steps actually split.

Run: ``python benchmarks/bench_optim_split.py [--sizes 65536 262144] [--cases rmsprop adam]``
or ``python benchmarks/bench_optim_split.py --fit W1 --epochs 5 [--threads 2]`` (``--threads 2``
fixes all threads for large products, so every step of the model that allows it is split)
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import blas
from tapeflow._backend import worker as _worker

CASES = {
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "sgd-momentum": ("SGD", {"momentum": 0.9}),
    "sgd": ("SGD", {}),
}


def _setup(cls, kwargs, size):
    rng = np.random.default_rng(0)
    # two variables, the larger one cut by the split, as a Dense layer's kernel and bias
    shapes = [(size - 512,), (512,)]
    variables = [tf.Variable(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in shapes]
    opt = getattr(keras.optimizers, cls)(**kwargs)
    opt._SPLIT_MIN = 0
    opt.apply(grads, variables)
    return lambda: opt.apply(grads)


def fit(wid, epochs, threads):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _workloads_common import make_data  # noqa: PLC0415 - only for --fit
    from _workloads_tapeflow import BATCH, COMPILE, build  # noqa: PLC0415

    x, y = make_data(wid, 0)
    blas.set_big_threads(threads)
    models, stats = {}, {}
    for on in (False, True):
        keras.utils.set_random_seed(0)
        model = build(wid)
        model.compile(**COMPILE[wid]())
        opt = model.optimizer
        st = stats[on] = {"steps": 0, "mode0": 0, "split": 0, "times": []}

        def halves(arrays, real=opt._halves, st=st):
            h = real(arrays)
            st["steps"] += 1
            st["mode0"] += blas._state["mode"] not in (None, 1)
            st["split"] += h is not None
            return h

        opt._halves = halves
        models[on] = model
    print(f"{wid}: {models[True].optimizer.__class__.__name__}, "
          f"{models[True].count_params()} parameters; "
          f"load average {os.getloadavg()[0]:.2f}")
    for epoch in range(epochs + 1):            # the first epoch of each is a warm-up
        for on in (False, True):
            _worker.enabled = on
            t0 = time.perf_counter()
            models[on].fit(x, y, batch_size=BATCH[wid], epochs=1, verbose=0)
            dt = time.perf_counter() - t0
            if epoch:
                stats[on]["times"].append(dt)
    _worker.enabled = True
    blas.set_big_threads(0)
    for on in (False, True):
        st = stats[on]
        print(f"  split {'allowed' if on else 'off    '}: epoch median "
              f"{statistics.median(st['times']):.3f} s  "
              f"[{' '.join(f'{t:.3f}' for t in st['times'])}]  all-thread steps "
              f"{st['mode0'] / st['steps']:.0%}, split steps {st['split'] / st['steps']:.0%}")
    off, on = (statistics.median(stats[k]["times"]) for k in (False, True))
    print(f"  allowed/off: {on / off:.3f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fit", help="time fit epochs of this workload (W1, W2, W3, W6)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=0,
                   help="with --fit: fixed BLAS count for large products (0: measured)")
    p.add_argument("--sizes", nargs="+", type=int,
                   default=[32768, 65536, 131072, 262144, 524288, 1048576])
    p.add_argument("--cases", nargs="+", default=list(CASES))
    p.add_argument("--repeat", type=int, default=9)
    args = p.parse_args()
    if args.fit:
        fit(args.fit, args.epochs, args.threads)
        return
    blas._state["mode"] = 0
    print(f"load average {os.getloadavg()[0]:.2f}; us per step, median of {args.repeat}")
    print(f"{'case':14s}{'size':>9s}{'one':>9s}{'split':>9s}{'split/one':>11s}")
    try:
        for case in args.cases:
            cls, kwargs = CASES[case]
            for size in args.sizes:
                fn = _setup(cls, kwargs, size)
                n = max(20, int(2e7 // size))
                times = {False: [], True: []}
                for _ in range(args.repeat):
                    for on in (False, True):
                        _worker.enabled = on
                        fn()
                        t0 = time.perf_counter()
                        for _ in range(n):
                            fn()
                        times[on].append((time.perf_counter() - t0) / n * 1e6)
                one, two = statistics.median(times[False]), statistics.median(times[True])
                print(f"{case:14s}{size:9d}{one:9.1f}{two:9.1f}{two / one:11.2f}", flush=True)
    finally:
        _worker.enabled = True
        blas._state["mode"] = None


if __name__ == "__main__":
    main()
