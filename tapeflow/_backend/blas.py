"""The BLAS thread count for matrix products (issue 7).

NumPy's OpenBLAS splits every product above a tiny size over all cores. On a small machine that
often does not pay: waking a second thread and waiting for it costs more than it saves on the
products of a small-batch step, and when another process holds the other core each product waits
for a time slice while the finished thread spins. Two tools:

- ``single_thread()``: a block in which every BLAS call runs on one thread. ``fit`` and
  ``evaluate`` run their batches in one (measured on the 2-core benchmark machine: one thread
  is as fast or faster for the training steps of W1-W4 and W6 and never collapses, while two
  threads often run 2-10x slower, even at a load average of 1; ``benchmarks/RESULTS.md``).
- ``dot(a, b)``: outside such a block (``predict``, a hand-written training loop), products
  between OpenBLAS's own one-thread cut-off and ``SMALL`` multiply-adds run on one thread,
  larger ones on the library's default count (W2's products at batch 32: 627 us/step on one
  thread against 722 on two; W5's 1024 x 784 x 512 products: 265k samples/s on two threads
  against 145k on one at a load average of 1).

Both depend only on shapes and call sites, so results are reproducible run to run. The thread
count is switched through threadpoolctl (about 1.4 us); without it, or with a BLAS it does not
know, they do nothing.
"""

from tapeflow._backend import np

__all__ = ["dot", "single_thread", "SMALL"]

SMALL = 1 << 24  # multiply-adds; below this one thread is faster on a busy or small machine
# OpenBLAS itself runs products of at most 65536 * 4 multiply-adds on one thread.
_TINY = 65536 * 4

_state = {"libs": None, "default": None, "single": 0}


def _libs():
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - optional, lazy
    except ImportError:
        libs = []
    else:
        libs = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                if lib.internal_api == "openblas" and lib.num_threads > 1]
        # NumPy's own OpenBLAS runs np.dot; another library's copy (SciPy's) is left alone.
        libs = [lib for lib in libs if "numpy" in lib.filepath] or libs
    _state["libs"] = libs
    if libs:
        _state["default"] = [lib.num_threads for lib in libs]
    return libs


def dot(a, b):
    """``np.dot(a, b)`` for 2-D ``a`` and ``b``, on one BLAS thread when the product is small.

    The thread count is set back right after, so other code sees the library's default.

    >>> from tapeflow._backend import np, blas
    >>> blas.dot(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)).tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    macs = a.shape[0] * a.shape[1] * b.shape[-1]
    if macs <= _TINY or macs >= SMALL or _state["single"]:
        return np.dot(a, b)
    libs = _state["libs"]
    if libs is None:
        libs = _libs()
    if not libs:
        return np.dot(a, b)
    for lib in libs:
        lib.set_num_threads(1)
    try:
        return np.dot(a, b)
    finally:
        for lib, n in zip(libs, _state["default"]):
            lib.set_num_threads(n)


class single_thread:  # noqa: N801 - used like a function: ``with blas.single_thread():``
    """Runs every BLAS call inside the block on one thread, then restores the thread count.

    ``fit`` and ``evaluate`` run their batches inside it. A training step is a chain of
    products and small ops; a second BLAS thread saves at most half of each product, but when
    the second core is not free the product waits for it, and the finished thread spins after
    each product. Measured on the 2-core benchmark machine, fresh processes: W1 39-53k
    samples/s on one thread against 14-24k on two; W3 2.1-2.6k against 0.6-2.8k; in one
    process at a load average of 1, W1 2.7 ms per step against a median of 15 ms
    (``benchmarks/RESULTS.md``).

    >>> from tapeflow._backend import blas
    >>> with blas.single_thread():
    ...     pass
    """

    def __enter__(self):
        if _state["single"] == 0:
            libs = _state["libs"]
            if libs is None:
                libs = _libs()
            for lib in libs:
                lib.set_num_threads(1)
        _state["single"] += 1
        return self

    def __exit__(self, *exc):
        _state["single"] -= 1
        if _state["single"] == 0:
            for lib, n in zip(_state["libs"], _state["default"] or []):
                lib.set_num_threads(n)
        return False
