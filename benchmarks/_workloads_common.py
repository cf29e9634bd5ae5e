"""What every framework's workload process shares: the W1-W6 definitions, data and JSON output.

The workloads follow ``shared/ANCHORS.md``: float32 synthetic data with the real shapes, seeded, one
warm-up epoch (or pass), then timed epochs. Only NumPy is imported here, so the peers' interpreter
(TensorFlow/Keras, PyTorch) can import this module too.
"""

import argparse
import json
import math
import resource
import sys
import time

import numpy as np

# id -> (description, batch size, samples, unit)
WORKLOADS = {
    "W1": ("mlp 784-512relu-10softmax, RMSprop, sparse CE, accuracy", 128, 60_000, "samples/s"),
    "W2": ("mlp-deep 784-300-100-10, SGD 0.01, sparse CE, accuracy", 32, 55_000, "samples/s"),
    "W3": ("cnn conv32-pool-conv64-pool-dense10, Adam, sparse CE, accuracy", 128, 10_000,
           "samples/s"),
    "W4": ("tiny 8-16relu-1, SGD 0.01, MSE", 32, 2_000, "us/step"),
    "W5": ("predict with the W1 model, batch_size=1024", 1024, 10_000, "samples/s"),
    "W6": ("lstm Embedding(10000,32)-LSTM(32)-Dense(1,sigmoid), Adam, binary CE, accuracy", 64,
           5_000, "samples/s"),
}
HIGHER_IS_BETTER = {"samples/s": True, "us/step": False}


def make_data(wid, seed=0):
    """Returns ``(x, y)`` NumPy arrays for workload ``wid`` (y is None for W5)."""
    rng = np.random.default_rng(seed)
    n = WORKLOADS[wid][2]
    if wid in ("W1", "W2", "W5"):
        x = rng.random((n, 784), dtype=np.float32)
        y = None if wid == "W5" else rng.integers(0, 10, size=(n,)).astype(np.int32)
        return x, y
    if wid == "W3":
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        return x, rng.integers(0, 10, size=(n,)).astype(np.int32)
    if wid == "W4":
        x = rng.standard_normal((n, 8), dtype=np.float32)
        w = rng.standard_normal((8, 1), dtype=np.float32)
        return x, (x @ w + 0.1 * rng.standard_normal((n, 1), dtype=np.float32)).astype(np.float32)
    if wid == "W6":
        x = rng.integers(0, 10_000, size=(n, 100)).astype(np.int32)
        return x, rng.integers(0, 2, size=(n,)).astype(np.float32)
    raise ValueError(f"unknown workload {wid!r}; expected one of {sorted(WORKLOADS)}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Run one framework's workloads and print JSON lines.")
    p.add_argument("workloads", nargs="+", help="workload ids, e.g. W1 W4")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (passes for W5)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def steps_per_epoch(wid):
    _, batch, n, _ = WORKLOADS[wid]
    return math.ceil(n / batch)


def report(framework, wid, epoch_seconds, **extra):
    """Prints one JSON line with the per-epoch figures in the workload's unit."""
    _, batch, n, unit = WORKLOADS[wid]
    if unit == "us/step":
        values = [s * 1e6 / steps_per_epoch(wid) for s in epoch_seconds]
    else:
        values = [n / s for s in epoch_seconds]
    rec = {"framework": framework, "workload": wid, "unit": unit, "values": values,
           "epoch_s": epoch_seconds,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    rec.update(extra)
    print(json.dumps(rec), flush=True)


class Timer:
    """Collects wall-clock durations of epochs (``begin()`` / ``end()``)."""

    def __init__(self):
        self.times = []
        self._t0 = None

    def begin(self):
        self._t0 = time.perf_counter()

    def end(self):
        self.times.append(time.perf_counter() - self._t0)


def main(run_one, framework, argv=None):
    args = parse_args(argv)
    for wid in args.workloads:
        if wid not in WORKLOADS:
            sys.exit(f"unknown workload {wid!r}; expected one of {sorted(WORKLOADS)}")
    for wid in args.workloads:
        secs, extra = run_one(wid, args.epochs, args.seed)
        report(framework, wid, secs, **extra)


def installed_size(dist_name, _seen=None):
    """Bytes on disk of distribution ``dist_name`` and its (non-extra) dependencies.

    Files come from each distribution's RECORD; an editable install (no package files in RECORD)
    is measured by walking its top-level package folders. Returns ``(bytes, [names])``.
    """
    import importlib.metadata as md
    import os
    import re

    seen = set() if _seen is None else _seen
    key = re.sub(r"[-_.]+", "-", dist_name).lower()
    if key in seen:
        return 0, []
    seen.add(key)
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        return 0, []
    total = 0
    counted_pkg = False
    for f in dist.files or []:
        p = f.locate()
        if os.path.isfile(p):
            total += os.path.getsize(p)
            counted_pkg = counted_pkg or str(f).endswith(".py")
    if not counted_pkg:  # editable install: measure the package folders themselves
        top = (dist.read_text("top_level.txt") or dist_name).split()
        for name in top:
            try:
                spec = __import__("importlib.util").util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            if spec is None or not spec.submodule_search_locations:
                continue
            for root in spec.submodule_search_locations:
                for dirpath, _, files in os.walk(root):
                    total += sum(os.path.getsize(os.path.join(dirpath, fn)) for fn in files)
    names = [dist.metadata["Name"]]
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)", req)
        if m:
            sub, subnames = installed_size(m.group(1), seen)
            total += sub
            names += subnames
    return total, names
