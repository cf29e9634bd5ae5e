"""The BLAS thread count for matrix products (issue 7).

NumPy's OpenBLAS splits every product above a tiny size over all cores. On a small machine that
pays only for large products, and only while the other cores are free: waking a second thread
and waiting for it costs more than it saves on the products of a small-batch step, and when
another process holds the other core each product waits for a time slice while the finished
thread spins. The policy here:

- ``single_thread()``: a block in which BLAS runs on one thread by default. ``fit`` and
  ``evaluate`` run their batches in one: every small product and every other NumPy call of a
  training step stays on the calling thread (measured on the 2-core benchmark machine: the
  small-batch steps of W2/W4/W6 are as fast or faster on one thread, and never collapse when the
  machine is busy; ``benchmarks/RESULTS.md``).
- ``dot(a, b)``: products between OpenBLAS's own one-thread cut-off and ``SMALL`` multiply-adds
  run on one thread; inside the Keras loops products of at least ``SMALL`` (W2's 32 x 784 x 300,
  W1's 128 x 784 x 512, a convolution's im2col GEMM, W5's batch of 1024) may use all threads,
  inside ``single_thread()`` too; outside them (a hand-written loop) products below ``LARGE``
  run on one thread and larger ones on the library's default count.
- ``StepThreads``: which count those large products get inside ``fit``/``evaluate``/``predict``
  is *measured*, a step at a time: the first steps alternate between one thread and the
  library's default count, later steps use whichever made whole steps faster (so the cost of a
  second thread that waits for a busy core, or spins after its product, is counted), each step
  updates that estimate, and the other count is tried again now and then (more rarely while it
  keeps losing), so a machine that becomes busy or idle is followed within a few steps. On an
  idle 2-core machine this makes W1's steps about 1.5x faster than one thread; when the other
  core is taken it stays on one thread instead of running 2-10x slower. Loops with no large
  product (W4's tiny model) stop measuring after their first step.
- ``tapeflow.config.threading.set_intra_op_parallelism_threads(n)`` fixes the count for large
  products (``n >= 1``; ``1`` keeps everything on one thread), ``0`` (the default) measures.
  ``tapeflow.config.experimental.enable_op_determinism()`` replaces the measurement by the fixed
  default count, because one and two OpenBLAS threads round differently in the last bits.

The thread count is switched through threadpoolctl (about 1.4 us); without it, or with a BLAS it
does not know, products run as NumPy runs them. "The default count" is the one in force when the
loop or product starts: inside a caller's ``threadpoolctl.threadpool_limits(1)`` block nothing
uses more threads, and the caller's count is what is restored afterwards.
"""

import time

from tapeflow._backend import np

__all__ = ["dot", "single_thread", "StepThreads", "SMALL", "LARGE", "set_big_threads",
           "get_big_threads", "two_threads_now"]

# multiply-adds: inside the Keras loops products of at least SMALL get the measured count (W2's
# 32 x 784 x 300 is 2**22.8); outside them products below LARGE run on one thread, which is
# faster on a busy or small machine, and larger ones on the library's default count.
SMALL = 1 << 22
LARGE = 1 << 24
# OpenBLAS itself runs products of at most 65536 * 4 multiply-adds on one thread.
_TINY = 65536 * 4
# libs: NumPy's OpenBLAS controllers (threadpoolctl); default: their thread counts at start;
# single: depth of single_thread() blocks; big: 0 = measure, n = fixed count for large products;
# mode: the count large products get in this step of a Keras loop (0 = the default count,
# 1 = one thread; None outside the loops);
# deterministic: op determinism on; bigs: large products made so far.
# outer: the counts in force when the outermost single_thread() block began (a caller's
# ``threadpoolctl.threadpool_limits`` included): restored at its end, and the most threads a
# product inside gets.
_state = {"libs": None, "default": None, "single": 0, "big": 0, "mode": None,
          "deterministic": False, "bigs": 0, "outer": None}


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
        _quiet_spinning(libs)
    return libs


def _alone():
    """Whether no other Python thread could be inside a BLAS call: stopping OpenBLAS's workers
    while another thread's product uses them is not safe, so the timeout is then left as it is
    (tapeflow's own helper thread only runs work handed to it by the caller)."""
    import threading  # noqa: PLC0415 - only on first use

    me = threading.current_thread()
    return all(t is me or t.name == "tapeflow-helper" for t in threading.enumerate())


def _quiet_spinning(libs):
    """Makes OpenBLAS's worker threads sleep right after each product instead of spinning.

    By default an OpenBLAS worker keeps spinning on a core for 2**28 cycles (about 0.1 s here)
    after every multi-threaded product, waiting for the next one. A training step makes a few
    large products and many small single-thread ops in between, so the spinning thread took the
    second core for the whole step: the small ops after it ran up to 2x slower (the "~20 us
    after a 2-thread GEMM" of the machine note), a helper thread had no core left, and even a
    step on one thread paid for the previous probe step's spin (W2: 40k samples/s by default,
    50-54k with ``OPENBLAS_THREAD_TIMEOUT=4`` in the environment, fresh processes, same load).
    That variable is read when OpenBLAS starts, which happened with ``import numpy``; so the
    same setting is applied now through OpenBLAS's own entry points: re-read the environment
    with the timeout set to its minimum (2**4 cycles), then stop the worker threads, which the
    next multi-threaded product starts again with the new timeout. Left alone when the user set
    ``OPENBLAS_THREAD_TIMEOUT`` or ``TAPEFLOW_OPENBLAS_TIMEOUT=0``, when other Python threads are
    running (one of them could be inside a product), or when the library lacks those entry
    points (another BLAS build): then nothing changes.
    """
    import os  # noqa: PLC0415 - only on first use

    env = os.environ
    if "OPENBLAS_THREAD_TIMEOUT" in env or env.get("TAPEFLOW_OPENBLAS_TIMEOUT", "1") == "0":
        return False
    if not _alone():
        return False
    done = False
    for lib in libs:
        dl = getattr(lib, "dynlib", None)
        read = getattr(dl, "openblas_read_env", None)
        stop = getattr(dl, "blas_thread_shutdown_", None)
        if read is None or stop is None:
            continue
        env["OPENBLAS_THREAD_TIMEOUT"] = "4"
        try:
            read()
        finally:
            del env["OPENBLAS_THREAD_TIMEOUT"]      # child processes see the user's environment
        stop()
        done = True
    _state["quiet"] = done
    return done


def _set(libs, n, base):
    # n threads (0: the caller's count ``base``), never more than the caller allows
    for lib, d in zip(libs, base, strict=True):
        lib.set_num_threads(min(n, d) if n else d)


def set_big_threads(n):
    """Thread count for products of at least ``SMALL`` multiply-adds: ``0`` measures it step by
    step in the Keras loops (the default), ``n >= 1`` fixes it
    (``tf.config.threading.set_intra_op_parallelism_threads``).

    >>> from tapeflow._backend import blas
    >>> blas.set_big_threads(1); blas.get_big_threads()
    1
    >>> blas.set_big_threads(0)
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"The thread count must be >= 0 (0: chosen by tapeflow), received {n}.")
    _state["big"] = n


def get_big_threads():
    """The value last given to ``set_big_threads`` (``0``: measured step by step).

    >>> from tapeflow._backend import blas
    >>> blas.get_big_threads()
    0
    """
    return _state["big"]


def two_threads_now():
    """Whether the large products (at least ``SMALL`` multiply-adds, through ``dot``) of the
    current step of a Keras loop run on more than one thread: the step's measured or fixed
    count is not one and the caller allows more than one. ``False`` outside the loops and
    where the thread count cannot be set. Kernels use it to pick the variant that suits the
    step (a larger product, work on a second thread) only while the other core is paying off.

    >>> from tapeflow._backend import blas
    >>> blas.two_threads_now()
    False
    """
    mode = _state["mode"]
    if mode is None or mode == 1:
        return False
    libs = _state["libs"]
    if libs is None:
        libs = _libs()
    if not libs:                # no controllable BLAS (or it runs on one thread)
        return False
    base = _state["outer"] if _state["single"] else [lib.get_num_threads() for lib in libs]
    return any((min(mode, d) if mode else d) > 1 for d in base)


class StepThreads:
    """Chooses, step by step, the thread count of the large products of a loop of similar steps
    (``fit``, ``evaluate``, ``predict``) from the measured time of whole steps.

    ``begin()`` before each step sets the count, ``end()`` after it records the step's time.
    Steps that make no large product switch the measuring off (nothing to choose).

    >>> from tapeflow._backend import blas
    >>> chooser = blas.StepThreads()
    >>> for _ in range(3):
    ...     chooser.begin()
    ...     chooser.end()
    >>> chooser.active
    False
    """

    _PROBES = 6          # first steps: alternate one thread / the default count
    _EVERY = 25          # then try the other count once every this many steps ...
    _MAX_EVERY = 400     # ... doubling the gap each time it loses again, up to this

    def __init__(self):
        self.active = True
        self.step = 0
        self.est = {0: None, 1: None}      # running step time per count
        self.choice = 1
        self.every = self._EVERY
        self.next_probe = self._PROBES + self._EVERY
        self.mode = 1
        self.t0 = 0.0
        self.bigs = 0

    def begin(self):
        if not self.active:
            return
        fixed = _state["big"] or (0 if _state["deterministic"] else None)
        if fixed is not None:
            _state["mode"] = fixed
            self.mode = None
            return
        s = self.step
        if s < self._PROBES:
            self.mode = s % 2              # 0, 1, 0, 1 ...: step 0 also pays the warm-up
        elif s == self.next_probe:
            self.mode = 1 - self.choice
        else:
            self.mode = self.choice
        _state["mode"] = self.mode
        self.bigs = _state["bigs"]
        self.t0 = time.perf_counter()

    def end(self):
        if not self.active:
            return
        if self.mode is None:
            _state["mode"] = None
            return
        dt = time.perf_counter() - self.t0
        _state["mode"] = None
        self.step += 1
        if _state["bigs"] == self.bigs:    # no large product in this step: nothing to choose
            self.active = False
            return
        if self.step == 1:
            return                          # the first step pays one-time costs
        old = self.est[self.mode]
        probe = self.step - 1 == self.next_probe
        # a probe replaces the other count's stale estimate; steps of the chosen count average
        self.est[self.mode] = dt if old is None or probe else 0.5 * (old + dt)
        if self.step < self._PROBES:
            return
        e0, e1 = self.est[0], self.est[1]
        best = 0 if (e0 is not None and e1 is not None and e0 < e1) else 1
        if probe:
            # the probe confirmed the choice: look again less often; it won: switch
            self.every = min(2 * self.every, self._MAX_EVERY) if best == self.choice \
                else self._EVERY
            self.next_probe = self.step + self.every
        elif self.step >= self._PROBES and self.next_probe < self.step:
            self.next_probe = self.step + self.every
        self.choice = best


def dot(a, b):
    """``np.dot(a, b)`` for 2-D ``a`` and ``b``, with the thread count chosen by size (above).

    The thread count is set back right after, so other code sees the count it had before.

    >>> from tapeflow._backend import np, blas
    >>> blas.dot(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)).tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    macs = a.shape[0] * a.shape[1] * b.shape[-1]
    if macs <= _TINY:
        return np.dot(a, b)
    libs = _state["libs"]
    if libs is None:
        libs = _libs()
    if not libs:
        return np.dot(a, b)
    mode = _state["mode"]
    if mode is None:                       # outside the Keras loops: by size alone
        if macs < SMALL:
            n = 1
        else:
            n = _state["big"] or (0 if macs >= LARGE else 1)
    elif macs >= SMALL:
        _state["bigs"] += 1
        n = _state["big"] or mode
    else:
        n = 1
    cur = 1 if _state["single"] else 0     # the count to restore afterwards
    if n == cur:
        return np.dot(a, b)
    # "all threads" is the count the caller runs with (a threadpool_limits block lowers it),
    # not the library's count at import (a fraction of a microsecond next to such a product)
    base = _state["outer"] if _state["single"] else [lib.get_num_threads() for lib in libs]
    _set(libs, n, base)
    try:
        return np.dot(a, b)
    finally:
        _set(libs, cur, base)


class single_thread:  # noqa: N801 - used like a function: ``with blas.single_thread():``
    """Runs BLAS on one thread inside the block (except ``dot``'s large products), then restores
    the thread count.

    ``fit`` and ``evaluate`` run their batches inside it. A training step is a chain of small
    products and small ops; a second BLAS thread saves at most half of each product, but when
    the second core is not free the product waits for it, and the finished thread spins after
    each product. Measured on the 2-core benchmark machine, fresh processes: W1 39-53k
    samples/s with every product on one thread against 14-24k with all on two at a load of 2-3;
    in one process at a load average of 1, W1 2.7 ms per step against a median of 15 ms
    (``benchmarks/RESULTS.md``). Products of at least ``SMALL`` multiply-adds made through
    ``dot`` still get the measured count (see the module's docstring).

    >>> from tapeflow._backend import blas
    >>> with blas.single_thread():
    ...     pass
    """

    def __enter__(self):
        if _state["single"] == 0:
            libs = _state["libs"]
            if libs is None:
                libs = _libs()
            _state["outer"] = [lib.get_num_threads() for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
        _state["single"] += 1
        return self

    def __exit__(self, *exc):
        _state["single"] -= 1
        if _state["single"] == 0:
            _state["mode"] = None       # a step that raised never reached StepThreads.end()
            # back to the counts found at the start (not the library's default: a caller's
            # threadpool_limits block stays in force)
            for lib, n in zip(_state["libs"], _state["outer"] or []):
                lib.set_num_threads(n)
        return False
