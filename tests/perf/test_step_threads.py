"""The thread count of large products in the Keras loops (``blas.StepThreads``) and the
``tf.config`` settings that fix it."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import blas, jit


@pytest.fixture(autouse=True)
def _restore():
    yield
    blas.set_big_threads(0)
    tf.config.experimental._disable_op_determinism()


class _Clock:
    """A fake ``time.perf_counter`` in which a step lasts ``cost[mode]``."""

    def __init__(self, monkeypatch, cost):
        self.now = 0.0
        self.cost = cost
        monkeypatch.setattr(blas.time, "perf_counter", lambda: self.now)

    def run(self, chooser, steps, big=True):
        modes = []
        for _ in range(steps):
            chooser.begin()
            modes.append(blas._state["mode"])
            if big:
                blas._state["bigs"] += 1
            self.now += self.cost.get(blas._state["mode"], 0.0)
            chooser.end()
        return modes


@pytest.mark.parametrize("fast", [0, 1])
def test_the_faster_count_wins_and_is_probed_rarely(monkeypatch, fast):
    clock = _Clock(monkeypatch, {fast: 1.0, 1 - fast: 3.0})
    chooser = blas.StepThreads()
    modes = clock.run(chooser, 1000)
    assert modes[:6] == [0, 1, 0, 1, 0, 1]          # the first steps alternate
    assert chooser.choice == fast
    slow_later = sum(m != fast for m in modes[6:])
    assert 1 <= slow_later <= 10                      # re-probed, with growing gaps
    assert blas._state["mode"] is None                # reset after each step


def test_a_machine_that_becomes_busy_is_followed(monkeypatch):
    clock = _Clock(monkeypatch, {0: 1.0, 1: 2.0})     # idle: two threads twice as fast
    chooser = blas.StepThreads()
    clock.run(chooser, 200)
    assert chooser.choice == 0
    clock.cost = {0: 10.0, 1: 2.0}                    # the other core is taken
    modes = clock.run(chooser, 20)
    assert chooser.choice == 1 and modes[-1] == 1 and modes.count(0) <= 3
    clock.cost = {0: 1.0, 1: 2.0}                     # idle again: found at a later probe
    modes = clock.run(chooser, 400)
    assert chooser.choice == 0 and modes[-1] == 0


def test_steps_without_large_products_stop_measuring(monkeypatch):
    clock = _Clock(monkeypatch, {0: 1.0, 1: 1.0})
    chooser = blas.StepThreads()
    clock.run(chooser, 3, big=False)
    assert chooser.active is False


@pytest.mark.parametrize("setting", ["fixed", "deterministic"])
def test_fixed_counts_are_not_measured(monkeypatch, setting):
    if setting == "fixed":
        tf.config.threading.set_intra_op_parallelism_threads(1)
        want = 1
    else:
        tf.config.experimental.enable_op_determinism()
        want = 0
    clock = _Clock(monkeypatch, {0: 1.0, 1: 5.0})
    modes = clock.run(blas.StepThreads(), 30)
    assert set(modes) == {want}


def _threads():
    import threadpoolctl

    info = threadpoolctl.threadpool_info()
    mine = [i for i in info if i["user_api"] == "blas" and "numpy" in i["filepath"]]
    return [i["num_threads"] for i in (mine or [i for i in info if i["user_api"] == "blas"])]


@pytest.mark.parametrize("setting", [1, 0])
def test_fit_gives_large_products_the_chosen_count(monkeypatch, setting):
    pytest.importorskip("threadpoolctl")
    if not blas._libs():
        pytest.skip("NumPy's BLAS is not an OpenBLAS that threadpoolctl can switch")
    default = _threads()
    tf.config.threading.set_intra_op_parallelism_threads(setting)
    # the NumPy path's products (a Dense-only model otherwise trains through the compiled
    # step of tapeflow/keras/_fused_mlp.py, which makes no product through blas.dot)
    monkeypatch.setattr(jit, "enabled", False)
    seen = {}
    orig = np.dot

    def spy(a, b, *rest):
        macs = a.shape[0] * a.shape[1] * b.shape[-1]
        if blas._state["single"] and macs > blas._TINY:      # inside fit's loop
            seen.setdefault(macs >= blas.SMALL, set()).add(tuple(_threads()))
        return orig(a, b, *rest)

    monkeypatch.setattr(blas.np, "dot", spy)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((256, 784), np.float32)
    model.fit(x, np.zeros((256, 10), np.float32), batch_size=128, epochs=1, verbose=0)
    assert seen[False] == {tuple(1 for _ in default)}      # small products: one thread
    if setting == 1:
        assert seen[True] == {tuple(1 for _ in default)}
    else:                                                  # measured: both counts are tried
        assert seen[True] == {tuple(default), tuple(1 for _ in default)}
    assert _threads() == default


def test_determinism_gives_identical_training():
    tf.config.experimental.enable_op_determinism()

    def train():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        x = rng.standard_normal((512, 784)).astype(np.float32)
        model.fit(x, rng.integers(0, 10, 512), batch_size=128, epochs=2, verbose=0)
        return model.get_weights()

    for a, b in zip(train(), train(), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_thread_settings_reject_bad_counts(bad):
    with pytest.raises(ValueError, match=r"`num_threads` must be an integer >= 0.*received"):
        tf.config.threading.set_intra_op_parallelism_threads(bad)
    with pytest.raises(ValueError, match=r"`num_threads`"):
        tf.config.threading.set_inter_op_parallelism_threads(bad)


def test_device_lists():
    assert tf.config.list_physical_devices("cpu")[0].device_type == "CPU"
    assert tf.config.list_logical_devices("GPU") == []
    with pytest.raises(TypeError, match="`device_type` must be a string"):
        tf.config.list_physical_devices(3)


def test_cpu_only_boilerplate():
    tf.config.set_visible_devices([], "GPU")                       # common in CPU scripts
    tf.config.experimental.set_visible_devices([], "GPU")
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    cpu = tf.config.list_physical_devices("CPU")[0]
    with pytest.raises(ValueError, match="Cannot set memory growth on non-GPU devices"):
        tf.config.experimental.set_memory_growth(cpu, True)
    with pytest.raises(ValueError, match="cannot hide it"):
        tf.config.set_visible_devices([], "CPU")
    with pytest.raises(ValueError, match="Unrecognized device: 'GPU:0'"):
        tf.config.set_visible_devices(["GPU:0"])


class _FakeDynlib:
    def __init__(self, log):
        self.log = log

    def openblas_read_env(self):
        import os

        self.log.append(("read", os.environ.get("OPENBLAS_THREAD_TIMEOUT")))

    def blas_thread_shutdown_(self):
        self.log.append(("stop",))


class _FakeLib:
    def __init__(self, log):
        self.dynlib = _FakeDynlib(log)


def test_openblas_workers_are_told_to_sleep_after_products(monkeypatch):
    monkeypatch.setattr(blas, "_alone", lambda: True)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.delenv("TAPEFLOW_OPENBLAS_TIMEOUT", raising=False)
    log = []
    assert blas._quiet_spinning([_FakeLib(log)]) is True
    assert log == [("read", "4"), ("stop",)]               # re-read with the timeout, restart
    import os

    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ       # child processes: user's env


@pytest.mark.parametrize("env", [("OPENBLAS_THREAD_TIMEOUT", "10"),
                                 ("TAPEFLOW_OPENBLAS_TIMEOUT", "0")])
def test_openblas_timeout_left_to_the_user(monkeypatch, env):
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.setenv(*env)
    log = []
    assert blas._quiet_spinning([_FakeLib(log)]) is False
    assert log == []


def test_other_blas_builds_are_left_alone(monkeypatch):
    monkeypatch.setattr(blas, "_alone", lambda: True)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.delenv("TAPEFLOW_OPENBLAS_TIMEOUT", raising=False)

    class Bare:
        dynlib = object()

    assert blas._quiet_spinning([Bare()]) is False


def test_openblas_left_alone_while_other_threads_run(monkeypatch):
    import threading

    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.delenv("TAPEFLOW_OPENBLAS_TIMEOUT", raising=False)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        log = []
        assert blas._alone() is False
        assert blas._quiet_spinning([_FakeLib(log)]) is False and log == []
    finally:
        stop.set()
        other.join()
