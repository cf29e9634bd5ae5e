"""Compiled kernels through Numba: the optional ``tapeflow[jit]`` extra (issue 7).

A recurrent layer's step is a tiny matrix product and a dozen small elementwise passes; in NumPy
each pass is a call of a few microseconds, so an LSTM over 100 steps spends most of its time in
call overhead, not arithmetic; a small MLP's step is likewise mostly the Python around its
products. With Numba installed (``pip install tapeflow[jit]``) these run as compiled loops:
the LSTM's whole sequence (per step one BLAS product, the same OpenBLAS that NumPy uses, called
directly, and one fused pass over the gates), a Dense-only model's training step
(``tapeflow/keras/_fused_mlp.py``), 2-D convolutions and tiled max pooling, the Adam / RMSprop /
SGD updates and the Embedding's gradient; see ``tapeflow/_backend/jit_kernels.py``. Without
Numba, or with ``TAPEFLOW_JIT=0`` in the environment, the NumPy kernels run; both give the same
results within float rounding (the optimizers' bit for bit; the compiled float32 tanh is a
rational approximation accurate to 3e-7, the one TensorFlow's CPU kernels use; float64 uses
the exact one).

Numba stays out of ``import tapeflow`` (it takes 0.2 s to import): it is loaded the first time a
kernel is wanted. Compiled code is cached on disk (``__pycache__``, or Numba's user cache
directory where the package is read-only), so only the first run on a machine compiles (about
a second per kernel and dtype, as each is first used).

Why not Numba's own ``np.dot``: it calls BLAS through SciPy, a 100 MB dependency. The kernels
call OpenBLAS's ``cblas_?gemm`` directly, found in NumPy's bundled OpenBLAS through
threadpoolctl (a dependency already). Where that library or its 64-bit-integer interface is not
there (another BLAS build), the compiled kernels are not used.

>>> from tapeflow._backend import jit
>>> jit.kernels() is None or hasattr(jit.kernels(), "lstm_forward")
True
"""

import ctypes
import os
import time

__all__ = ["kernels", "enabled", "ENV", "SplitChooser", "choose"]

ENV = "TAPEFLOW_JIT"
# the module switch: None follows the environment; True / False force it (tests compare paths)
enabled = None

# _state[0]: None until first asked, then the kernels module or False (not available)
_state = [None]
_reason = [""]

# OpenBLAS's CBLAS gemm with 64-bit integers, under the names NumPy's wheels export it
_GEMM_NAMES = {"s": ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
               "d": ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}


def _switch_on():
    if enabled is not None:
        return bool(enabled)
    return os.environ.get(ENV, "1") != "0"


def _gemm_addresses():
    """{'s': address, 'd': address} of NumPy's OpenBLAS ILP64 ``cblas_?gemm``, or None."""
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - lazy
    except ImportError:
        return None
    libs = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
            if lib.internal_api == "openblas"]
    libs = [lib for lib in libs if "numpy" in lib.filepath] or libs
    for lib in libs:
        dl = getattr(lib, "dynlib", None)
        found = {}
        for kind, names in _GEMM_NAMES.items():
            for name in names:
                fn = getattr(dl, name, None) if dl is not None else None
                if fn is not None:
                    found[kind] = ctypes.cast(fn, ctypes.c_void_p).value
                    break
        if len(found) == 2:
            return found
    return None


def _load():
    try:
        import llvmlite.binding as llb  # noqa: PLC0415 - optional extra, lazy
        import numba  # noqa: F401, PLC0415
    except ImportError:
        _reason[0] = "numba is not installed (pip install tapeflow[jit])"
        return False
    addresses = _gemm_addresses()
    if addresses is None:
        _reason[0] = "NumPy's BLAS has no OpenBLAS cblas_?gemm64_"
        return False
    # the kernels call these names; binding them before the kernels compile (or load from
    # Numba's cache) keeps the compiled code independent of the library's symbol names
    llb.add_symbol("tapeflow_cblas_sgemm", addresses["s"])
    llb.add_symbol("tapeflow_cblas_dgemm", addresses["d"])
    try:
        from tapeflow._backend import jit_kernels  # noqa: PLC0415 - compiles lazily per dtype

        _check(jit_kernels)
    except Exception as e:  # noqa: BLE001 - any failure: the NumPy kernels run instead
        _reason[0] = f"the compiled kernels failed their check: {type(e).__name__}: {e}"
        return False
    return jit_kernels


def _check(k):
    """A tiny product in each dtype through the bound gemm, against NumPy's: a library whose
    ``cblas_?gemm64_`` does not take what the kernels pass would show here, not in a model."""
    import numpy as np  # noqa: PLC0415 - (tapeflow._backend imports it already)

    for dt in (np.float32, np.float64):
        a = np.arange(6, dtype=dt).reshape(2, 3)
        b = np.arange(12, dtype=dt).reshape(4, 3) - 5
        c = np.full((2, 4), np.nan, dt)
        k.gemm_check(a, b, c)
        if not np.array_equal(c, a @ b.T):
            raise ArithmeticError(f"gemm check gave {c.tolist()}, expected {(a @ b.T).tolist()}")


def kernels():
    """The compiled kernels module, or ``None`` where they are not available or switched off
    (``TAPEFLOW_JIT=0``); ``why_not()`` says which."""
    if not _switch_on():
        return None
    k = _state[0]
    if k is None:
        k = _state[0] = _load()
    return k or None


_parallel = [None]


def parallel_ok():
    """Whether the kernels' two-thread variants should run: Numba's thread pool is OpenMP or
    TBB (its fallback pool, "workqueue", wakes its threads through the OS for each loop: 60+ us,
    more than it saves) and this process is not a fork of one that started the pool (OpenMP
    does not survive ``fork``). Decided on first use; ``TAPEFLOW_JIT_THREADS=0`` turns it off.

    >>> from tapeflow._backend import jit
    >>> jit.parallel_ok() in (True, False)
    True
    """
    ok = _parallel[0]
    if ok is None:
        ok = _parallel[0] = _probe_parallel()
    return ok


def _probe_parallel():
    if os.environ.get("TAPEFLOW_JIT_THREADS", "1") == "0" or kernels() is None:
        return False
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    if n < 2:
        return False
    import numba  # noqa: PLC0415 - loaded with the kernels
    import numpy as np  # noqa: PLC0415

    try:
        kernels().parallel_probe(np.zeros(2))
        return numba.threading_layer() in ("omp", "tbb")
    except Exception:  # noqa: BLE001 - no usable pool: one thread
        return False


class SplitChooser:
    """Chooses, by measurement, whether a compiled step runs as two halves on Numba's pool or
    whole on this thread: the two-thread variant is ~1.8x faster on an idle 2-core machine but
    2x slower than one thread while another process holds the second core (W2 in such phases:
    45k samples/s split, 59k on one thread), as ``blas.StepThreads`` found for BLAS's threads.

    ``split()`` says which to run now; ``record(split, seconds)`` takes the time it took. The
    first calls alternate (the very first pays compilation and is not counted), then the faster
    runs, and the other is tried again at growing intervals (16 calls, doubling while it keeps
    losing, up to 512). (A 10% margin to switch and intervals up to 1024 were tried: in fresh
    processes on the noisy benchmark machine they kept a collapsed split longer, W1 57-60k
    against 92k at worst without them.)

    >>> from tapeflow._backend.jit import SplitChooser
    >>> c = SplitChooser()
    >>> for t in (9.0, 1.0, 2.0, 1.0, 2.0, 1.0):
    ...     s = c.split()
    ...     c.record(s, t if s else 2 * t)
    >>> c.split()
    True
    """

    __slots__ = ("calls", "est", "choice", "every", "next_probe")

    fixed = None        # True / False: always that (tests, benchmarks comparing the two)
    _PROBES = 5
    _EVERY = 16
    _MAX_EVERY = 512

    def __init__(self):
        self.calls = 0
        self.est = [None, None]          # [whole, split] running times
        self.choice = True
        self.every = self._EVERY
        self.next_probe = self._PROBES + self._EVERY

    def split(self):
        if SplitChooser.fixed is not None:
            return SplitChooser.fixed
        n = self.calls
        if n < self._PROBES:
            return n % 2 == 0
        if n == self.next_probe:
            return not self.choice
        return self.choice

    def record(self, split, seconds):
        n = self.calls
        self.calls = n + 1
        if n == 0:
            return                              # compilation, first touch of the buffers
        i = int(split)
        old = self.est[i]
        probe = n == self.next_probe
        self.est[i] = seconds if old is None or probe else 0.5 * (old + seconds)
        if n + 1 < self._PROBES:
            return
        whole, two = self.est
        best = two is not None and (whole is None or two <= whole)
        if probe:
            self.every = min(2 * self.every, self._MAX_EVERY) if best == self.choice \
                else self._EVERY
            self.next_probe = n + self.every
        elif self.next_probe <= n:
            self.next_probe = n + self.every
        self.choice = best


_CHOOSERS = {}


def _chooser(key):
    """The ``SplitChooser`` of a kernel and shape (``key``), kept for the process."""
    c = _CHOOSERS.get(key)
    if c is None:
        if len(_CHOOSERS) > 256:        # (many shapes: start again rather than grow)
            _CHOOSERS.clear()
        c = _CHOOSERS[key] = SplitChooser()
    return c


class Choice:
    """One call's choice (``choose``): ``two`` whether its two-thread variants may run at all,
    ``split`` whether the halves run on the pool now (else one after the other, when ``two``);
    ``done()`` after the call records its time."""

    __slots__ = ("two", "split", "_chooser", "_t0")

    def done(self):
        if self._chooser is not None:
            self._chooser.record(self.split, time.perf_counter() - self._t0)


def choose(eligible, key=None, chooser=None):
    """The ``Choice`` for a kernel call that could split its batch (``eligible``: large enough),
    measured by the ``SplitChooser`` of ``key`` (or the one given); its clock starts now.

    >>> from tapeflow._backend import jit
    >>> c = jit.choose(False, key="example")
    >>> c.two, c.split
    (False, False)
    >>> c.done()
    """
    c = Choice()
    c.two = bool(eligible) and parallel_ok()
    c._chooser = (chooser or _chooser(key)) if c.two else None
    c.split = c.two and c._chooser.split()
    c._t0 = time.perf_counter()
    return c


def _after_fork():
    _parallel[0] = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def why_not():
    """Why ``kernels()`` is ``None`` (an empty string when it is not).

    >>> from tapeflow._backend import jit
    >>> isinstance(jit.why_not(), str)
    True
    """
    if not _switch_on():
        return f"switched off ({ENV}=0 or jit.enabled = False)"
    return "" if kernels() is not None else _reason[0]
