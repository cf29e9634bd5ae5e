"""Optimizer step cost: microseconds per ``optimizer.apply(grads)`` on the trainable variables of
the workloads W1-W6 (``shared/ANCHORS.md``), float32, medians.

With ``--old DIR`` it also times a snapshot of an older ``tapeflow/keras/optimizers`` package,
alternating old and new in this one process (the machine is noisy: compare only figures from one
run). Make the snapshot with::

    mkdir -p /tmp/oldopt && cp -r tapeflow/keras/optimizers /tmp/oldopt/tf_old_optimizers
    sed -i 's/tapeflow\\.keras\\.optimizers/tf_old_optimizers/g' /tmp/oldopt/tf_old_optimizers/*.py

Run: ``python benchmarks/bench_optim.py [--old /tmp/oldopt] [--cases W1-rmsprop W6-adam]``
"""

import argparse
import importlib
import statistics
import sys
import time

import numpy as np

import tapeflow as tf
from tapeflow import keras

# The trainable variables' shapes of each workload's model.
SHAPES = {
    "W1": [(784, 512), (512,), (512, 10), (10,)],
    "W2": [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)],
    "W3": [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,)],
    "W4": [(8, 16), (16,), (16, 1), (1,)],
    "W6": [(10000, 32), (32, 128), (32, 128), (128,), (32, 1), (1,)],
}
CASES = {
    "W1-rmsprop": ("W1", "RMSprop", {}),
    "W1-rmsprop-mom-centered": ("W1", "RMSprop", {"momentum": 0.9, "centered": True}),
    "W2-sgd": ("W2", "SGD", {"learning_rate": 0.01}),
    "W2-sgd-momentum": ("W2", "SGD", {"learning_rate": 0.01, "momentum": 0.9}),
    "W2-sgd-nesterov": ("W2", "SGD", {"learning_rate": 0.01, "momentum": 0.9,
                                      "nesterov": True}),
    "W3-adam": ("W3", "Adam", {}),
    "W4-sgd": ("W4", "SGD", {"learning_rate": 0.01}),
    "W6-adam": ("W6", "Adam", {}),
    "W6-adam-amsgrad": ("W6", "Adam", {"amsgrad": True}),
    "W1-adamw": ("W1", "AdamW", {}),
    "W1-nadam": ("W1", "Nadam", {}),
}


def _setup(module, wid, cls, kwargs, seed=0):
    rng = np.random.default_rng(seed)
    variables = [tf.Variable(rng.standard_normal(s).astype(np.float32)) for s in SHAPES[wid]]
    grads = [tf.constant(rng.standard_normal(s).astype(np.float32) * 1e-2)
             for s in SHAPES[wid]]
    opt = getattr(module, cls)(**kwargs)
    opt.apply(grads, variables)                    # build, and the first step
    return lambda: opt.apply(grads)


def _time_us(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", help="directory holding a tf_old_optimizers snapshot")
    p.add_argument("--cases", nargs="+", default=list(CASES))
    p.add_argument("--repeat", type=int, default=9)
    p.add_argument("--number", type=int, default=0, help="steps per timing (default: by size)")
    args = p.parse_args()
    modules = {"new": keras.optimizers}
    if args.old:
        sys.path.insert(0, args.old)
        modules = {"old": importlib.import_module("tf_old_optimizers"), **modules}
    print(f"{'case':28s}" + "".join(f"{k:>10s}" for k in modules) +
          ("   new/old" if args.old else "") + "   (us per step, median)")
    for case in args.cases:
        wid, cls, kwargs = CASES[case]
        steps = {k: _setup(m, wid, cls, kwargs) for k, m in modules.items()}
        n = args.number or (2000 if wid == "W4" else 200)
        times = {k: [] for k in modules}
        for _ in range(args.repeat):                 # alternate the variants
            for k, fn in steps.items():
                times[k].append(_time_us(fn, n))
        med = {k: statistics.median(v) for k, v in times.items()}
        line = f"{case:28s}" + "".join(f"{med[k]:10.1f}" for k in modules)
        if args.old:
            line += f"{med['new'] / med['old']:10.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
