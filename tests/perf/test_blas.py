"""``tapeflow._backend.blas.dot``: the product of ``np.dot`` whatever thread count it picks, and the
BLAS thread count left as it was found."""

import numpy as np
import pytest

from tapeflow._backend import blas

threadpoolctl = pytest.importorskip("threadpoolctl")  # a declared dependency; absent = np.dot


def _threads():
    # NumPy's BLAS (the one np.dot uses; SciPy may load its own copy, which blas leaves alone)
    info = threadpoolctl.threadpool_info()
    mine = [i for i in info if i["user_api"] == "blas" and "numpy" in i["filepath"]]
    return [i["num_threads"] for i in (mine or [i for i in info if i["user_api"] == "blas"])]


@pytest.mark.parametrize("shape", [(4, 3, 2), (64, 128, 64), (32, 784, 300), (300, 32, 784)])
def test_dot_matches_numpy_and_restores_threads(shape):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    before = _threads()
    got = blas.dot(a, b)
    assert _threads() == before
    assert got.shape == (m, n) and got.dtype == np.float32
    np.testing.assert_allclose(got, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4,
                               atol=1e-3)


def test_small_products_run_on_one_thread(monkeypatch):
    seen = []
    orig = np.dot

    def spy(a, b):
        seen.append(_threads())
        return orig(a, b)

    monkeypatch.setattr(blas.np, "dot", spy)
    a = np.ones((32, 784), np.float32)
    b = np.ones((784, 300), np.float32)
    blas.dot(a, b)  # 7.5 M multiply-adds: between OpenBLAS's own cut-off and blas.SMALL
    if blas._state["libs"]:
        assert all(t == 1 for t in seen[-1])
    big = np.ones((1024, 784), np.float32)
    blas.dot(big, np.ones((784, 512), np.float32))
    assert seen[-1] == _threads()


def test_single_thread_block_nests_and_restores():
    before = _threads()
    with blas.single_thread():
        inside = _threads()
        with blas.single_thread():
            assert _threads() == inside
            got = blas.dot(np.ones((32, 784), np.float32), np.ones((784, 300), np.float32))
            assert _threads() == inside
        assert _threads() == inside
    assert _threads() == before
    if blas._state["libs"]:
        assert all(t == 1 for t in inside)
    assert float(got[0, 0]) == 784.0


def test_fit_restores_the_thread_count():
    from tapeflow import keras

    before = _threads()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3), np.float32), np.ones((8, 2), np.float32), epochs=1, verbose=0)
    assert _threads() == before
