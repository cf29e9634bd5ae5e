"""W3 (CNN) and W6 (LSTM) of shared/ANCHORS.md through tapeflow's ``compile`` + ``fit``.

The models, data and timing are ``_workloads_tapeflow.py``'s (synthetic seeded data, one warm-up
epoch, then timed epochs); this script prints the median samples/s of each, for a quick look at
the convolution, pooling and LSTM kernels without running the peers.

    python benchmarks/bench_layers.py [--epochs 3] [--blas-threads N] [W3 W6]

``--blas-threads`` sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before NumPy is imported: on a
loaded 2-core machine OpenBLAS's spinning worker threads can slow these step-by-step kernels
several times over (see the report in RESULTS.md).
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="*", default=["W3", "W6"])
    p.add_argument("--epochs", type=int, default=3, help="timed epochs after the warm-up")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--blas-threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.blas_threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)
    from _workloads_common import WORKLOADS  # noqa: PLC0415 - after the thread setting
    from _workloads_tapeflow import run_one  # noqa: PLC0415

    for wid in args.workloads:
        secs, extra = run_one(wid, args.epochs, args.seed)
        n = WORKLOADS[wid][2]
        rates = [n / s for s in secs]
        print(f"{wid} {WORKLOADS[wid][0]}: median {statistics.median(rates):,.0f} samples/s "
              f"(epochs: {', '.join(f'{r:,.0f}' for r in rates)}; "
              f"final loss {extra.get('final_loss', float('nan')):.4f})", flush=True)


if __name__ == "__main__":
    main()
