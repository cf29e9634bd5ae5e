"""Matrix products with the BLAS thread count chosen by size (issue 7).

NumPy's OpenBLAS splits every product above a tiny size over all cores. On a small machine that
does not pay for the products of a small-batch training step: waking a second thread and waiting
for it costs more than it saves, and when another process holds the other core the product waits
for a time slice (measured on the 2-core benchmark machine, W2 at batch 32: 627 us/step on one
thread against 722 us/step on two; ``benchmarks/RESULTS.md``). Large products (W1's 128 x 784 x 512,
prediction at batch 1024, convolution lowered to GEMM) gain from both cores.

``dot(a, b)`` therefore runs products of fewer than ``SMALL`` multiply-adds on one BLAS thread and
larger ones on the library's default count. The choice depends only on the shapes, so results are
reproducible run to run. The thread count is switched through threadpoolctl (about 1.4 us each
way, only for the products in between); without threadpoolctl, or with a BLAS it does not know,
``dot`` is ``np.dot``.
"""

from tapeflow._backend import np

__all__ = ["dot", "SMALL"]

SMALL = 1 << 24  # multiply-adds; below this one thread is faster on a busy or small machine
# OpenBLAS itself runs products of at most 65536 * 4 multiply-adds on one thread.
_TINY = 65536 * 4

_state = {"libs": None, "default": None}


def _libs():
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - optional, lazy
    except ImportError:
        libs = []
    else:
        libs = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                if lib.internal_api == "openblas" and lib.num_threads > 1]
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
    if macs <= _TINY or macs >= SMALL:
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
