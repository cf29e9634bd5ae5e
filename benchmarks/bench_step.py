"""Where one training step of ``fit`` spends its time (issue 7: per-step overhead).

Runs the phases of ``Trainer.train_step`` one by one on the batches of a real epoch (the forward
pass inside the tape, the loss, ``trainable_variables``, the loss tracker, the gradient, the
optimizer, the metrics) and prints the median time of each, plus the whole ``fit`` step, in
microseconds. CPU time by default (the benchmark machine is shared; ``--wall`` for wall time);
reading the CPU clock costs ~0.3 us, which each phase includes.

    python benchmarks/bench_step.py                 # W4 (8-16-1 MLP, batch 32)
    python benchmarks/bench_step.py --workload W2   # W2 at batch 32
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _workloads_common import make_data  # noqa: E402
from _workloads_tapeflow import BATCH, COMPILE, build  # noqa: E402

from tapeflow import keras  # noqa: E402
from tapeflow._backend import blas  # noqa: E402
from tapeflow.framework.tape import GradientTape  # noqa: E402
from tapeflow.keras import trainer as _trainer  # noqa: E402
from tapeflow.keras.data_adapter import EpochIterator, unpack_x_y_sample_weight  # noqa: E402

PHASES = ("forward", "loss", "trainable_variables", "loss tracker", "gradient", "optimizer",
          "metrics")


def _phased_step(model, data, clock, acc):
    # Trainer.train_step, with a clock reading between its phases
    t0 = clock()
    x, y, sw = unpack_x_y_sample_weight(data)
    with GradientTape() as tape:
        y_pred = model(x, training=True)
        t1 = clock()
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, training=True)
        t2 = clock()
    variables = model.trainable_variables
    t3 = clock()
    model._loss_tracker.update_state(loss, sample_weight=_trainer._batch_size(x))
    t4 = clock()
    grads = tape.gradient(loss, variables)
    t5 = clock()
    model.optimizer.apply_gradients(zip(grads, variables))
    t6 = clock()
    model.compute_metrics(x, y, y_pred, sample_weight=sw)
    t7 = clock()
    for name, a, b in zip(PHASES, (t0, t1, t2, t3, t4, t5, t6), (t1, t2, t3, t4, t5, t6, t7)):
        acc[name].append(b - a)


class _EpochClock(keras.callbacks.Callback):
    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(self.clock() - self.t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="W4", choices=["W1", "W2", "W3", "W4", "W6"])
    p.add_argument("--samples", type=int, default=2000, help="samples per epoch")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    args = p.parse_args(argv)
    clock = time.perf_counter if args.wall else time.process_time
    keras.utils.set_random_seed(0)
    x, y = make_data(args.workload, 0)
    x, y = x[:args.samples], y[:args.samples]
    batch = BATCH[args.workload]
    model = build(args.workload)
    model.compile(**COMPILE[args.workload]())
    cb = _EpochClock(clock)
    model.fit(x, y, batch_size=batch, epochs=args.epochs + 1, verbose=0, callbacks=[cb])
    steps = -(-len(x) // batch)
    acc = {name: [] for name in PHASES}
    it = EpochIterator(x, y, batch_size=batch, shuffle=True)
    with blas.single_thread():   # as fit runs its steps
        for _ in range(args.epochs):
            for _, data in it.enumerate_epoch():
                _phased_step(model, data, clock, acc)
    unit = "wall" if args.wall else "CPU"
    print(f"{args.workload}, batch {batch}: median {unit} us per step")
    total = 0.0
    for name in PHASES:
        us = statistics.median(acc[name]) * 1e6
        total += us
        print(f"  {name:20s} {us:8.1f}")
    print(f"  {'sum of the phases':20s} {total:8.1f}")
    print(f"  {'fit (whole step)':20s} {statistics.median(cb.times[1:]) * 1e6 / steps:8.1f}")


if __name__ == "__main__":
    main()
