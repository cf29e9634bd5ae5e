"""``tapeflow._backend.memory``: glibc's thresholds raised once, by the Keras loops, unless the
user opted out or chose them already."""

import numpy as np
import pytest

from tapeflow import keras
from tapeflow._backend import memory


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(memory, "_state", {"done": False, "applied": False})
    calls = []

    def mallopt(param, value):
        calls.append((param, value))
        return 1

    class FakeLibc:
        pass

    libc = FakeLibc()
    libc.mallopt = mallopt
    monkeypatch.setattr(memory, "_libc", lambda: libc)
    monkeypatch.setattr(memory, "_glibc", lambda: True)
    for name in ("TAPEFLOW_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                 "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_fit_raises_the_thresholds_once(fresh):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3)), np.ones((8, 2)), epochs=2, verbose=0)
    model.predict(np.ones((4, 3)), verbose=0)
    assert fresh == [(-3, memory.MMAP_THRESHOLD), (-1, memory.TRIM_THRESHOLD)]
    assert memory.reuse_freed_memory() is True and len(fresh) == 2


@pytest.mark.parametrize("env", [("TAPEFLOW_MALLOC_TUNING", "0"),
                                 ("MALLOC_MMAP_THRESHOLD_", "1048576"),
                                 ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0")])
def test_opting_out_or_user_settings_leave_glibc_alone(fresh, monkeypatch, env):
    monkeypatch.setenv(*env)
    assert memory.reuse_freed_memory() is False
    assert fresh == []


def test_other_c_libraries_are_left_alone(fresh, monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: False)
    assert memory.reuse_freed_memory() is False
    assert fresh == []
