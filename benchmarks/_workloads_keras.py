"""W1-W6 in Keras 3 on TensorFlow: ``_workloads_tapeflow.py``'s model code with ``import keras``.

Run by ``bench.py`` with the peers' interpreter; prints one JSON line per workload.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["BENCH_KERAS"] = "keras"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _workloads_tapeflow as workloads  # noqa: E402

if __name__ == "__main__":
    workloads.main(workloads.run_one, "keras")
