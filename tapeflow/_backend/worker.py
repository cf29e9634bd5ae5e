"""One persistent helper thread that runs the second half of a large elementwise job (an
optimizer's fused flat step, a convolution's pooling or relu passes).

NumPy releases the GIL inside the ufunc loops over large arrays, so while the calling thread
works on the first half of the arrays the helper can work on the second half on the other
core. The thread is created on first use (a daemon: interpreter exit never waits for it), then
reused by every caller in the process; the hand-off is a pair of raw locks
(``go`` released by the caller, ``done`` by the helper): measured on the 2-core benchmark machine,
about 11 us a round trip, as ``queue.SimpleQueue`` and half the cost of a ``threading.Event``
pair.

- One caller at a time: a second thread that wants the helper while it is busy gets ``False``
  from ``run_pair`` and runs its step on its own thread.
- An exception raised in the helper's half is raised in the caller once both halves are done
  (the caller's own exception first, when both raise).
- After ``fork`` the child forgets the parent's helper (it does not exist there, and its locks
  may have been held) and makes its own on first use.
- ``enabled``: the module switch (benchmarks compare the two ways in one process). It is on
  by default only where OpenBLAS's threads go to sleep right after a product: tapeflow's BLAS
  module tells them to on its first use (``blas._quiet_spinning``), or the user set
  ``OPENBLAS_THREAD_TIMEOUT`` to 16 or less; see below.

Why that condition: a step is split only while the BLAS chooser runs the step's large products on
all threads (``Optimizer._halves``), and after each such product OpenBLAS's worker thread keeps
spinning (runnable) on a core for 2**28 cycles (about 0.1 s, longer than a step) by default. The
two halves then share the two cores with that spinning thread: measured inside W1's ``fit`` on
the idle 2-core benchmark machine, the caller's half took 373-393 us, as long as the whole step on
one thread (about 350 us), and whole epochs were 5-15% slower with the split than without (four
runs of ``benchmarks/bench_optim_split.py --fit W1``). With ``OPENBLAS_THREAD_TIMEOUT=4`` the same
split step took 255 us and W1's epochs were 5-15% faster than without the split. Outside the
loops (no large product just before, nothing else on the machine) the split W1 RMSprop step is
232-244 us against 340-350 us; while another process holds the second core it is 20-40 us slower.
"""

import _thread
import os
import threading

from tapeflow._backend import blas

__all__ = ["run_pair", "available", "enabled"]


def _openblas_sleeps():
    try:
        return int(os.environ.get("OPENBLAS_THREAD_TIMEOUT", "")) <= 16
    except ValueError:
        return False


_SLEEPS = _openblas_sleeps()
enabled = None      # None: on where OpenBLAS's threads sleep (above); True / False force it


class _Helper:
    __slots__ = ("go", "done", "busy", "job", "error", "thread")

    def __init__(self):
        self.go = _thread.allocate_lock()
        self.go.acquire()
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.busy = _thread.allocate_lock()
        self.job = None
        self.error = None
        self.thread = threading.Thread(target=_loop, args=(self,), daemon=True,
                                       name="tapeflow-helper")
        self.thread.start()


def _loop(helper):
    go, done = helper.go, helper.done
    while True:
        go.acquire()
        try:
            fn, args = helper.job
            helper.job = None
            fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller, raised there
            helper.error = e
        finally:
            done.release()


# _current[0]: the helper (None until first used; False where only one core is usable)
_current = [None]
_ncores = [None]


def _cores():
    n = _ncores[0]
    if n is None:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = os.cpu_count() or 1
        _ncores[0] = n
    return n


def _get():
    helper = _current[0]
    if helper is None:
        try:
            helper = _Helper() if _cores() >= 2 else False
        except RuntimeError:        # no thread can be started (a limit): steps stay whole
            helper = False
        _current[0] = helper
    return helper


def available():
    """Whether a step may be split now: the switch is on and the process may use 2+ cores.

    >>> from tapeflow._backend import worker as _worker
    >>> isinstance(_worker.available(), bool)
    True
    """
    helper = _current[0]
    on = enabled
    if on is None:          # by default: where OpenBLAS's threads sleep after a product
        on = _SLEEPS or blas._state.get("quiet", False)
    return on and (helper is not False if helper is not None else _cores() >= 2)


def run_pair(fn, mine, theirs):
    """Runs ``fn(*theirs)`` on the helper thread and ``fn(*mine)`` on this one, at the same time;
    returns ``True`` once both are done, or ``False`` (having run nothing) when the helper is
    busy with another caller or cannot be had.

    >>> from tapeflow._backend import worker as _worker
    >>> out = []
    >>> done = _worker.run_pair(out.append, ("a",), ("b",))
    >>> sorted(out) if done else ["a", "b"]
    ['a', 'b']
    """
    helper = _get()
    if not helper or not helper.busy.acquire(False):
        return False
    try:
        helper.job = (fn, theirs)
        helper.go.release()
        try:
            fn(*mine)
        finally:
            _wait(helper.done)
            error, helper.error = helper.error, None
        if error is not None:       # (when this thread's half raised, its exception wins)
            try:
                raise error
            finally:
                del error           # no cycle through the traceback's frames
    finally:
        helper.busy.release()
    return True


def _wait(lock):
    # The helper finishes its half within microseconds to milliseconds; a KeyboardInterrupt
    # while waiting for it is held back until then (the buffers must not be left half written
    # by a thread still running), then raised.
    interrupted = None
    while True:
        try:
            lock.acquire()
            break
        except BaseException as e:  # noqa: BLE001 - re-raised below
            interrupted = e
    if interrupted is not None:
        raise interrupted


def _forget():
    _current[0] = None
    _ncores[0] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
