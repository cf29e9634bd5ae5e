"""tf.data input pipelines: the vectorised batching of in-memory arrays against element-wise
batching, and the cost of a pipeline next to the arrays path of ``fit``.

Usage::

    python benchmarks/bench_data.py            # 60,000 x 784 float32 (MNIST-sized), batch 32
    python benchmarks/bench_data.py --quick

For each pipeline it prints the median time of one full pass (all batches), over 5 passes.
"element-wise" inserts an identity ``map`` before ``batch``, which disables the index-plan fast
path so that ``batch`` stacks elements one by one (what a naive implementation does).
"""

import argparse
import statistics
import time

import numpy as np

import tapeflow as tf


def _time(make, repeats):
    times = []
    for _ in range(repeats):
        ds = make()
        t0 = time.perf_counter()
        n = 0
        for _ in ds:
            n += 1
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 10000 if args.quick else 60000
    rng = np.random.default_rng(0)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    slices = tf.data.Dataset.from_tensor_slices
    cases = {
        "slices.batch(32)": lambda: slices((x, y)).batch(32),
        "slices.shuffle(n).batch(32)": lambda: slices((x, y)).shuffle(n, seed=0).batch(32),
        "slices.shuffle(1024).batch(32)": lambda: slices((x, y)).shuffle(1024, seed=0).batch(32),
        "... .prefetch(AUTOTUNE)": lambda: slices((x, y)).shuffle(n, seed=0).batch(32).prefetch(
            tf.data.AUTOTUNE),
        "element-wise: slices.map(id).batch(32)": lambda: slices((x, y)).map(
            lambda a, b: (a, b)).batch(32),
        "element-wise: .shuffle(n).map(id).batch(32)": lambda: slices((x, y)).shuffle(
            n, seed=0).map(lambda a, b: (a, b)).batch(32),
    }
    print(f"{n} x 784 float32, batch 32; median seconds per pass (5 passes)")
    results = {}
    for name, make in cases.items():
        sec, batches = _time(make, 3 if args.quick else 5)
        results[name] = sec
        print(f"  {name:45s} {sec * 1e3:9.1f} ms  ({batches} batches, "
              f"{batches / sec:,.0f} batches/s)")
    fast, slow = results["slices.shuffle(n).batch(32)"], results[
        "element-wise: .shuffle(n).map(id).batch(32)"]
    print(f"fast path speed-up on shuffled batches: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
