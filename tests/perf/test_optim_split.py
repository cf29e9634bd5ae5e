"""The optimizers' fast flat steps split in two halves (the second on the helper thread of
``tapeflow._backend.worker``) give the same numbers, bit for bit, as the same steps on
one thread and as the per-variable reference path, and the helper thread neither deadlocks nor
leaks: its exceptions reach the caller, a fork after it exists and interpreter exit don't hang.

A step is split only inside a Keras loop whose BLAS chooser puts large products on all threads
(``blas._state["mode"]`` not 1) and from ``_SPLIT_MIN`` parameters; the tests force both."""

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import blas
from tapeflow._backend import worker as _worker

needs_two_cores = pytest.mark.skipif(_worker._cores() < 2, reason="the split needs two cores")


@pytest.fixture(autouse=True)
def _split_enabled(monkeypatch):
    # on by default only with OPENBLAS_THREAD_TIMEOUT set low (see _worker); the tests want it
    monkeypatch.setattr(_worker, "enabled", True)

SHAPES = {
    # the cut (half the size, rounded down to 64 bytes) falls inside the first variable
    "odd-mlp": [(37, 29), (29,), (29, 3), (3,)],
    # ... on a boundary between variables (float32: 64 + 64 elements, cut at 64)
    "boundary": [(8, 8), (64,)],
    # ... inside a 3-d variable, after a scalar and an empty variable
    "scalar-empty-3d": [(), (0, 3), (5, 7, 9), (2,)],
    # smaller than two 64-byte blocks: the cut would be 0, the step stays whole
    "tiny": [(3,), (2, 2)],
    "one-large": [(150, 130)],          # above the fused-gather threshold by default
}

CONFIGS = [
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "rho": 0.8}),
    ("RMSprop", {"weight_decay": 0.05, "clipnorm": 0.3}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True, "learning_rate": 0.01}),
    ("Adam", {"use_ema": True, "clipvalue": 0.05}),
    ("AdamW", {"weight_decay": 0.3, "global_clipnorm": 1.0}),
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"momentum": 0.5, "nesterov": True, "weight_decay": 0.02}),
]


@pytest.fixture
def split_mode(monkeypatch):
    """Steps run as in a Keras loop whose chooser picked all threads; counts the split steps."""
    monkeypatch.setitem(blas._state, "mode", 0)
    calls = []
    real = _worker.run_pair

    def counting(fn, mine, theirs):
        done = real(fn, mine, theirs)
        calls.append(done)
        return done

    monkeypatch.setattr(_worker, "run_pair", counting)
    return calls


def _run(name, kwargs, shapes, dtype, mode, fuse=None, steps=4, seed=0):
    rng = np.random.default_rng(seed)
    variables = [tf.Variable(rng.standard_normal(s).astype(dtype)) for s in shapes]
    grads = [[(rng.standard_normal(s) * (0.1 + k)).astype(dtype) for s in shapes]
             for k in range(steps)]
    opt = getattr(keras.optimizers, name)(**kwargs)
    if mode == "reference":
        opt._flat = False                       # the per-variable update_step
    elif mode == "one":
        opt._SPLIT_MIN = 1 << 60                # the fused flat step on one thread
    else:
        opt._SPLIT_MIN = 0
    if fuse is not None:
        opt._FUSE_MIN_PER_VAR = 0 if fuse else 1 << 40
    for k in range(steps):
        opt.apply_gradients([(tf.constant(g), v) for g, v in zip(grads[k], variables)])
    return opt, [v.numpy() for v in variables] + [v.numpy() for v in opt.variables]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(x, y)


@needs_two_cores
# float16 with the clip norms on the large shape: their sums of squares overflow (inf and nan
# everywhere, in every path alike)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shapes", list(SHAPES))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c[0]}-{'-'.join(c[1]) or 'plain'}")
def test_split_step_matches_one_thread_and_reference_bit_for_bit(config, shapes, dtype,
                                                                  split_mode):
    name, kwargs = config
    _, ref = _run(name, kwargs, SHAPES[shapes], dtype, "reference")
    _, one = _run(name, kwargs, SHAPES[shapes], dtype, "one")
    assert not any(split_mode)
    for fuse in (True, False):
        del split_mode[:]
        opt, got = _run(name, kwargs, SHAPES[shapes], dtype, "split", fuse=fuse)
        _assert_same(got, one)
        _assert_same(got, ref)
        halves = opt._flat["halves"]
        if shapes == "tiny":
            assert halves is False and not split_mode       # nothing to cut: one thread
        else:
            assert split_mode and all(split_mode)
            cut = halves[0].hi
            assert 0 < cut < opt._flat["size"] and (cut * np.dtype(dtype).itemsize) % 64 == 0
            for buf in opt._flat["bufs"] + [b for b, _ in opt._flat["scratch"]]:
                assert buf.__array_interface__["data"][0] % 64 == 0


@needs_two_cores
def test_split_only_in_all_thread_steps_of_large_models(monkeypatch, split_mode):
    shapes = SHAPES["odd-mlp"]
    for mode, threshold, split in [(0, 0, True), (2, 0, True), (1, 0, False), (None, 0, False),
                                   (0, 10 ** 6, False)]:
        monkeypatch.setitem(blas._state, "mode", mode)
        monkeypatch.setattr(keras.optimizers.Optimizer, "_SPLIT_MIN", threshold)
        del split_mode[:]
        opt = keras.optimizers.Adam()
        vs = [tf.Variable(np.ones(s, np.float32)) for s in shapes]
        opt.apply([np.ones(s, np.float32) for s in shapes], vs)
        assert bool(split_mode) == split, (mode, threshold)
    monkeypatch.setitem(blas._state, "mode", 0)
    monkeypatch.setattr(_worker, "enabled", False)
    del split_mode[:]
    opt.apply([np.ones(s, np.float32) for s in shapes], vs)
    assert not split_mode
    monkeypatch.setattr(_worker, "enabled", True)
    # plain SGD (two passes a step) needs twice SGD's threshold; with momentum, the threshold
    size = sum(int(np.prod(s)) for s in shapes)
    monkeypatch.setattr(keras.optimizers.SGD, "_SPLIT_MIN", size)
    for momentum, split in [(0.0, False), (0.9, True)]:
        del split_mode[:]
        opt = keras.optimizers.SGD(momentum=momentum)
        opt.apply([np.ones(s, np.float32) for s in shapes], vs)
        assert bool(split_mode) == split, momentum


@needs_two_cores
@pytest.mark.parametrize("config", [("RMSprop", {"momentum": 0.9}), ("Adam", {}), ("SGD", {}),
                                    ("SGD", {"momentum": 0.9, "nesterov": True})],
                         ids=lambda c: c[0] + "-" + "-".join(c[1]))
def test_aliased_or_strided_arrays_keep_the_step_whole(config, split_mode):
    # A gradient that is a variable's own array (or a view of another variable's), or a cut
    # variable that is not C-ordered: the two threads could read what the other writes, so such
    # a step runs whole on this thread, as the one-thread fast step (which reads every gradient
    # before it writes a variable; the per-variable path, which updates a variable before it
    # reads the next gradient, differs when one variable's gradient is another's array).
    name, kwargs = config

    def run(grads_of, mode, fortran=False):
        rng = np.random.default_rng(3)
        a = tf.Variable(rng.standard_normal((40, 30)).astype(np.float32))
        b = tf.Variable(rng.standard_normal((30, 40)).astype(np.float32))
        c = tf.Variable(rng.standard_normal((50,)).astype(np.float32))
        if fortran:                         # b is cut by the split (at 1216 of 2450)
            b._value = np.asfortranarray(b._value)
        opt = getattr(keras.optimizers, name)(**kwargs)
        opt._SPLIT_MIN = 0 if mode == "split" else 1 << 60
        base = rng.standard_normal((40, 30)).astype(np.float32)
        for _ in range(3):
            opt.apply(grads_of(a, b, c, base), [a, b, c])
        return [v.numpy() for v in (a, b, c)] + [v.numpy() for v in opt.variables]

    cases = {
        "own": (lambda a, b, c, base: [a._value, base.T, np.full(50, 0.5, np.float32)], False),
        "other": (lambda a, b, c, base: [base, a._value.T, c._value[::-1]], False),
        "fortran": (lambda a, b, c, base: [base, base.T, np.ones(50, np.float32)], True),
    }
    for key, (grads_of, fortran) in cases.items():
        ref = run(grads_of, "one", fortran)
        del split_mode[:]
        got = run(grads_of, "split", fortran)
        _assert_same(got, ref)
        assert not split_mode, key
    # the same without aliasing is split
    del split_mode[:]
    got = run(lambda a, b, c, base: [base, base.T.copy(), np.ones(50, np.float32)], "split")
    assert split_mode and all(split_mode)


@needs_two_cores
def test_fit_splits_when_its_large_products_use_all_threads():
    x = np.random.default_rng(1).standard_normal((96, 40)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.int64)
    for name, kwargs in [("RMSprop", {}), ("Adam", {"amsgrad": True}),
                         ("SGD", {"momentum": 0.9})]:
        weights = []
        for mode in ("reference", "split"):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((40,)), keras.layers.Dense(33, "relu"),
                                      keras.layers.Dense(2, "softmax")])
            opt = getattr(keras.optimizers, name)(**kwargs)
            if mode == "reference":
                opt._flat = False
            else:
                opt._SPLIT_MIN = 0
            model.compile(opt, "sparse_categorical_crossentropy")
            calls = []

            def halves(arrays, real=opt._halves, calls=calls):
                calls.append(real(arrays))
                return calls[-1]

            opt._halves = halves
            blas.set_big_threads(2)         # a fixed count above 1: every step may split
            try:
                model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
            finally:
                blas.set_big_threads(0)
            if mode == "split":
                assert calls and all(h is not None for h in calls)
            weights.append(model.get_weights())
        _assert_same(weights[1], weights[0])


def test_on_by_default_only_where_openblas_threads_sleep_soon(monkeypatch):
    for value, on in [(None, False), ("4", True), ("16", True), ("28", False), ("x", False)]:
        if value is None:
            monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
        else:
            monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", value)
        assert _worker._openblas_sleeps() is on, value


@needs_two_cores
def test_helper_exceptions_reach_the_caller_and_the_helper_stays_usable():
    def half(tag, raise_it):
        if raise_it:
            raise ValueError(tag)

    with pytest.raises(ValueError, match="theirs"):
        _worker.run_pair(half, ("mine", False), ("theirs", True))
    # both raise: the caller's own exception wins, the helper's is not kept for a later call
    with pytest.raises(ValueError, match="mine"):
        _worker.run_pair(half, ("mine", True), ("theirs", True))
    assert _worker.run_pair(half, ("mine", False), ("theirs", False)) is True
    out = []
    assert _worker.run_pair(lambda k: out.append((k, threading.get_ident())), (0,), (1,))
    (_, me), (_, helper) = sorted(out)
    assert me == threading.get_ident() and helper != me


@needs_two_cores
def test_busy_helper_refuses_a_second_caller():
    inner = []

    def half():
        # while this pair runs, another pair (from any thread, the helper's own too) gets False
        # and runs nothing, rather than waiting for the helper
        inner.append(_worker.run_pair(inner.append, ("x",), ("y",)))

    assert _worker.run_pair(half, (), ()) is True
    assert inner == [False, False]


@needs_two_cores
def test_one_helper_thread_for_every_optimizer():
    shapes = SHAPES["odd-mlp"]
    before = None
    blas._state["mode"] = 0
    try:
        for k in range(6):
            opt = [keras.optimizers.RMSprop, keras.optimizers.Adam, keras.optimizers.SGD][k % 3](
                momentum=0.9) if k % 3 != 1 else keras.optimizers.Adam()
            opt._SPLIT_MIN = 0
            vs = [tf.Variable(np.ones(s, np.float32)) for s in shapes]
            opt.apply([np.ones(s, np.float32) for s in shapes], vs)
            names = [t.name for t in threading.enumerate()]
            if before is None:
                before = threading.active_count()
            assert threading.active_count() == before
            assert names.count("tapeflow-helper") == 1
    finally:
        blas._state["mode"] = None


_CHILD = textwrap.dedent("""
    import multiprocessing, os, sys
    import numpy as np
    import tapeflow as tf
    from tapeflow import keras
    from tapeflow._backend import blas
    from tapeflow._backend import worker as _worker

    _worker.enabled = True

    def step():
        blas._state["mode"] = 0
        opt = keras.optimizers.Adam()
        opt._SPLIT_MIN = 0
        vs = [tf.Variable(np.ones((37, 29), np.float32)), tf.Variable(np.ones(3, np.float32))]
        opt.apply([np.ones((37, 29), np.float32), np.ones(3, np.float32)], vs)
        return float(vs[0].numpy().sum())

    def child(q):
        q.put((step(), _worker.run_pair(lambda: None, (), ())))

    if __name__ == "__main__":
        first = step()                      # the helper exists (and was used) before the fork
        assert _worker._current[0]
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start()
        got = q.get(timeout=60)
        p.join(60)
        assert p.exitcode == 0 and got == (first, True), (p.exitcode, got, first)
        pid = os.fork()
        if pid == 0:
            ok = step() == first and _worker.run_pair(lambda: None, (), ())
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the helper stays blocked on its lock: exit must not wait for it
        print("exiting")
""")


@needs_two_cores
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_fork_after_the_helper_exists_and_exit_do_not_hang(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "exiting"
