"""Op dispatch cost: microseconds per ``tf.add`` of two (32, 16) float32 tensors outside a tape,
inside a tape, and raw NumPy, side by side (medians); and the ``import tapeflow`` time (median of
5 fresh processes).

Run: ``python benchmarks/bench_ops.py``
"""

import statistics
import subprocess
import sys
import time

import numpy as np

import tapeflow as tf


def _median_us(fn, number=2000, repeat=7):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number * 1e6)
    return statistics.median(times)


def bench_add():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((32, 16)).astype(np.float32)
    b = rng.standard_normal((32, 16)).astype(np.float32)
    x, y = tf.constant(a), tf.constant(b)
    numpy_us = _median_us(lambda: np.add(a, b))
    eager_us = _median_us(lambda: tf.add(x, y))
    op_us = _median_us(lambda: x + y)
    w = tf.Variable(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        taped_us = _median_us(lambda: tf.add(x, y), number=500)
        tape.reset()
    del w
    return {"numpy": numpy_us, "tf.add": eager_us, "x + y": op_us, "tf.add (tape)": taped_us}


def bench_import(n=5):
    """Median over ``n`` fresh processes of (time inside ``import tapeflow``, whole process)."""
    inner, whole = [], []
    code = "import time; t=time.perf_counter(); import tapeflow; print(time.perf_counter()-t)"
    for _ in range(n):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        whole.append(time.perf_counter() - t0)
        inner.append(float(out.stdout.strip()))
    return statistics.median(inner), statistics.median(whole)


def main():
    r = bench_add()
    print("tf.add of two (32, 16) float32 tensors, microseconds per call (median of 7 runs)")
    print(f"{'raw NumPy':>16} {'outside a tape':>16} {'x + y':>10} {'inside a tape':>16} "
          f"{'ratio out/NumPy':>16}")
    print(f"{r['numpy']:16.2f} {r['tf.add']:16.2f} {r['x + y']:10.2f} {r['tf.add (tape)']:16.2f} "
          f"{r['tf.add'] / r['numpy']:16.2f}")
    inner, whole = bench_import()
    print(f"import tapeflow: median of 5 fresh processes: {inner * 1000:.0f} ms for the import, "
          f"{whole * 1000:.0f} ms for the whole `python -c 'import tapeflow'` process")

if __name__ == "__main__":
    main()
