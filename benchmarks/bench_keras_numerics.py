"""The fast paths of keras.optimizers and keras.losses, against their plain equivalents.

* optimizers: one ``apply_gradients`` over a small MLP's variables with the fused path (all slots
  of a kind in one flat buffer) and with the one-variable-at-a-time path;
* cross-entropy on a softmax output: the fused logits path (one SparseSoftmaxCrossEntropy op)
  against the clipped-probability path, forward and backward.

    python benchmarks/bench_keras_numerics.py [--repeat 2000]
"""

import argparse
import time

import numpy as np

import tapeflow as tf
from tapeflow import keras


def _time(fn, repeat):
    fn()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t) / repeat)
    return best * 1e6


def bench_optimizers(repeat):
    rng = np.random.default_rng(0)
    shapes = [(64, 64), (64,), (64, 10), (10,)]
    for name in ("SGD", "Adam", "RMSprop", "Nadam"):
        times = []
        for fused in (True, False):
            vs = [tf.Variable(rng.normal(size=s).astype(np.float32)) for s in shapes]
            gs = [tf.constant(rng.normal(size=s).astype(np.float32)) for s in shapes]
            opt = getattr(keras.optimizers, name)(momentum=0.9) if name == "SGD" else \
                getattr(keras.optimizers, name)()
            if not fused:
                opt._flat = False
            times.append(_time(lambda o=opt, g=gs, v=vs: o.apply_gradients(zip(g, v)), repeat))
        print(f"{name:8s} apply_gradients: fused {times[0]:7.1f} us   per-variable "
              f"{times[1]:7.1f} us   ({times[1] / times[0]:.2f}x)")


def bench_crossentropy(repeat):
    rng = np.random.default_rng(0)
    z = tf.constant(rng.normal(size=(32, 10)).astype(np.float32))
    y = rng.integers(0, 10, 32).astype(np.int32)
    loss = keras.losses.SparseCategoricalCrossentropy()

    def step(fused):
        with tf.GradientTape() as tape:
            tape.watch(z)
            p = keras.activations.softmax(z)
            if not fused:
                p = tf.identity(p)          # drops the remembered logits: clipped path
            out = loss(y, p)
        return tape.gradient(out, z)

    a, b = _time(lambda: step(True), repeat), _time(lambda: step(False), repeat)
    print(f"sparse CE on softmax (32x10), fwd+bwd: fused {a:7.1f} us   clipped {b:7.1f} us   "
          f"({b / a:.2f}x)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=2000)
    args = p.parse_args(argv)
    bench_optimizers(args.repeat)
    bench_crossentropy(args.repeat)


if __name__ == "__main__":
    main()
