"""The compiled kernels of the ``tapeflow[jit]`` extra (``tapeflow/_backend/jit_kernels.py``)
against the NumPy paths they replace.

- The LSTM (``rnn_ops.lstm_sequence`` and ``keras.layers.LSTM``): outputs and all six gradients
  agree with the NumPy loops (float32 within the rational tanh's rounding, float64 to ~1e-12),
  with and without masks, below and above the two-thread split; the split gives the whole
  batch's numbers; float64 central differences through the compiled forward and backward.
- ``tanh_approx``: the float32 kernels' tanh is within 4e-7 of float64 tanh everywhere.
- Adam / RMSprop compiled steps: bit-identical to the NumPy fast steps (whole, split in two
  halves, with a variable that is not C-contiguous), and the options that keep the NumPy path
  (amsgrad, centered, momentum) still give the same numbers.
- The Embedding / gather gradient's compiled scatter: bit-identical to ``np.add.at``, raising
  IndexError on an out-of-range index.
- ``TAPEFLOW_JIT=0`` switches the kernels off; ``import tapeflow`` does not import Numba.

Numba is part of the ``test`` extra: the tests that need the kernels fail (never skip) when they
cannot be had.
"""

import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import blas, jit, worker
from tapeflow.ops import array_ops, rnn_ops

needs_two_cores = pytest.mark.skipif(worker._cores() < 2, reason="the split needs two cores")


@pytest.fixture
def kern(monkeypatch):
    """The kernels module (the test fails when it cannot be had); ``jit.enabled`` restored."""
    monkeypatch.setattr(jit, "enabled", True)
    k = jit.kernels()
    assert k is not None, jit.why_not()
    monkeypatch.setattr(worker, "enabled", worker.enabled)      # restored after the test
    return k


@pytest.fixture
def count(monkeypatch):
    """``count(obj, name)``: wraps ``obj.name`` to record each call; returns the list."""

    def wrap(obj, name, result=False):
        real = getattr(obj, name)
        calls = []

        def counting(*args, **kwargs):
            out = real(*args, **kwargs)
            calls.append(out if result else True)
            return out

        monkeypatch.setattr(obj, name, counting)
        return calls

    return wrap


@contextlib.contextmanager
def paths(compiled, split=False, pool=False):
    """The compiled kernels on / off; the worker's two-thread split on / off; the kernels'
    two-thread variants on Numba's pool (``jit.parallel_ok()``) on / off."""
    old = jit.enabled, worker.enabled, jit._parallel[0], jit.SplitChooser.fixed
    jit.enabled, worker.enabled, jit._parallel[0] = bool(compiled), bool(split), bool(pool)
    jit.SplitChooser.fixed = bool(pool)
    try:
        yield
    finally:
        jit.enabled, worker.enabled, jit._parallel[0], jit.SplitChooser.fixed = old


def _close(got, want, tol):
    """Max abs difference within ``tol`` relative to the reference's max abs."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-3)
    err = float(np.abs(got - want).max(initial=0.0))
    assert err <= tol * scale, (err, scale)


TOL = {"float32": 2e-6, "float64": 1e-12}

# ---------------------------------------------------------------- LSTM through the op
T, D, N = 6, 4, 5
NAMES = ("h", "c_last", "dx", "dh0", "dc0", "dkernel", "drecurrent_kernel", "dbias")


def _lstm_data(batch, dtype, masked, seed=0):
    rng = np.random.default_rng(seed + batch)
    arrays = [rng.standard_normal(s).astype(dtype) * sc for s, sc in
              [((batch, T, D), 1.0), ((batch, N), 0.5), ((batch, N), 0.5), ((D, 4 * N), 0.5),
               ((N, 4 * N), 0.5), ((4 * N,), 0.5)]]
    mask = None
    if masked:
        mask = (rng.random((batch, T)) > 0.3).astype(dtype)
        mask[-1, 0] = 0                     # the first step masked
        mask[-1, 1] = 1
        if batch > 1:
            mask[0] = 0                     # a row fully masked
        if batch > 2:
            mask[1, -1] = 0                 # the last step masked
            mask[1, 0] = 1
    return arrays, mask


def _lstm_run(arrays, mask, seq, seed=1):
    """Outputs and d(loss)/d(x, h0, c0, kernel, recurrent_kernel, bias) for a loss that uses
    the outputs and the last cell state."""
    rng = np.random.default_rng(seed)
    ts = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        h, c = rnn_ops.lstm_sequence(*ts, mask=None if mask is None else tf.constant(mask),
                                     return_sequences=seq)
        wh = rng.standard_normal(h.shape).astype(arrays[0].dtype)
        wc = rng.standard_normal(c.shape).astype(arrays[0].dtype)
        loss = tf.reduce_sum(h * wh) + tf.reduce_sum(c * wc)
    grads = tape.gradient(loss, ts)
    return [h.numpy(), c.numpy()] + [g.numpy() for g in grads]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seq", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("batch", [1, 3, 17, 40])
def test_lstm_op_compiled_matches_numpy(kern, count, dtype, seq, masked, batch):
    arrays, mask = _lstm_data(batch, dtype, masked)
    fwd = count(rnn_ops, "_lstm_forward_jit")
    bwd = count(rnn_ops, "_lstm_backward_jit")
    pairs = count(worker, "run_pair", result=True)
    with paths(compiled=False):
        want = _lstm_run(arrays, mask, seq)
    assert not fwd and not bwd
    with paths(compiled=True, split=True):
        got = _lstm_run(arrays, mask, seq)
    assert len(fwd) == 1 and len(bwd) == 1
    if batch >= rnn_ops._SPLIT_ROWS and worker._cores() >= 2:
        assert pairs == [True, True]        # forward and backward ran as two halves
    else:
        assert pairs == []
    for name, g, w in zip(NAMES, got, want):
        assert np.isfinite(g).all(), name
        _close(g, w, TOL[dtype])


def test_lstm_masked_row_keeps_state(kern):
    # a fully masked row repeats h0 and keeps c0; its state's gradient passes straight through
    arrays, mask = _lstm_data(3, "float64", True)
    with paths(compiled=True):
        h, c, dx, dh0, dc0 = _lstm_run(arrays, mask, True)[:5]
    np.testing.assert_array_equal(h[0], np.broadcast_to(arrays[1][0], (T, N)))
    np.testing.assert_array_equal(c[0], arrays[2][0])
    np.testing.assert_array_equal(dx[0], 0)
    # the first step of the last row is masked: its input gets no gradient
    np.testing.assert_array_equal(dx[-1, 0], 0)
    assert np.abs(dx[-1, 1]).max() > 0


@needs_two_cores
@pytest.mark.parametrize("seq", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("batch", [17, 40])
def test_lstm_split_matches_whole(kern, count, seq, batch):
    arrays, mask = _lstm_data(batch, "float64", True, seed=3)
    pairs = count(worker, "run_pair", result=True)
    with paths(compiled=True, split=False):
        whole = _lstm_run(arrays, mask, seq)
    assert pairs == []
    with paths(compiled=True, split=True):
        halves = _lstm_run(arrays, mask, seq)
    assert pairs == [True, True]
    for name, g, w in zip(NAMES, halves, whole):
        _close(g, w, 1e-13)
        if name in ("h", "c_last", "dx", "dh0", "dc0"):     # per-row values: not summed
            np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("seq", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("batch", [17, 40])
def test_lstm_pool_matches_worker_split(kern, count, seq, batch):
    # the same halves on Numba's pool (lstm_forward2 / lstm_backward2) as on the helper thread
    arrays, mask = _lstm_data(batch, "float64", True, seed=5)
    k = jit.kernels()
    fwd2, bwd2 = count(k, "lstm_forward2"), count(k, "lstm_backward2")
    with paths(compiled=True, split=True):
        helper = _lstm_run(arrays, mask, seq)
    assert not fwd2 and not bwd2
    with paths(compiled=True, pool=True):
        pool = _lstm_run(arrays, mask, seq)
    assert len(fwd2) == 1 and len(bwd2) == 1
    for name, g, w in zip(NAMES, pool, helper):
        np.testing.assert_array_equal(g, w, err_msg=name)   # same halves, same sums


def test_lstm_compiled_finite_differences(kern, count):
    rng = np.random.default_rng(7)
    b, t, d, n = 3, 4, 2, 3
    x, h0, c0 = (rng.standard_normal(s) for s in [(b, t, d), (b, n), (b, n)])
    w, u, bias = (rng.standard_normal(s) * 0.6 for s in [(d, 4 * n), (n, 4 * n), (4 * n,)])
    arrays = [x, h0, c0, w, u, bias]
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]], np.float64)
    wh, wc = rng.standard_normal((b, t, n)), rng.standard_normal((b, n))

    def loss(args):
        h, c = rnn_ops.lstm_sequence(*[tf.constant(a) for a in args], mask=tf.constant(mask))
        return float(np.sum(h.numpy() * wh) + np.sum(c.numpy() * wc))

    fwd = count(rnn_ops, "_lstm_forward_jit")
    with paths(compiled=True):
        ts = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            for tt in ts:
                tape.watch(tt)
            h, c = rnn_ops.lstm_sequence(*ts, mask=tf.constant(mask))
            total = tf.reduce_sum(h * wh) + tf.reduce_sum(c * wc)
        grads = [g.numpy() for g in tape.gradient(total, ts)]
        eps = 1e-6
        for name, a, g in zip(NAMES[2:], arrays, grads):
            num = np.empty_like(a)
            for i in np.ndindex(a.shape):
                old = a[i]
                a[i] = old + eps
                up = loss(arrays)
                a[i] = old - eps
                down = loss(arrays)
                a[i] = old
                num[i] = (up - down) / (2 * eps)
            np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-7, err_msg=name)
    assert len(fwd) > 100       # every evaluation went through the compiled forward


# ---------------------------------------------------------------- LSTM through Keras
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_keras_lstm_model_compiled_matches_numpy(kern, count, dtype):
    rng = np.random.default_rng(5)
    model = keras.Sequential([
        keras.Input((7,), dtype="int32"),
        keras.layers.Embedding(20, 4, mask_zero=True, dtype=dtype),
        keras.layers.LSTM(6, return_sequences=True, dtype=dtype),
        keras.layers.LSTM(5, dtype=dtype),
        keras.layers.Dense(2, dtype=dtype),
    ])
    for v in model.weights:
        v.assign(rng.standard_normal(v.shape).astype(dtype) * 0.5)
    tokens = rng.integers(1, 20, (19, 7)).astype(np.int32)
    tokens[0] = 0                   # a row fully padded
    tokens[1, :3] = 0               # leading padding
    tokens[2, -2:] = 0              # trailing padding
    y = rng.standard_normal((19, 2)).astype(dtype)

    def run():
        with tf.GradientTape() as tape:
            out = model(tf.constant(tokens))
            loss = tf.reduce_mean(tf.square(out - y))
        return [out.numpy()] + [g.numpy() for g in
                                tape.gradient(loss, model.trainable_weights)]

    fwd = count(rnn_ops, "_lstm_forward_jit")
    with paths(compiled=False):
        want = run()
    assert not fwd
    with paths(compiled=True, split=True):
        got = run()
    assert len(fwd) == 2
    assert len(got) == 1 + 1 + 3 + 3 + 2
    for g, w in zip(got, want):
        _close(g, w, 5 * TOL[dtype])


# ---------------------------------------------------------------- tanh
def test_tanh_approx_error(kern):
    grid = np.linspace(-12, 12, 2_000_001, dtype=np.float32)
    special = np.array([np.inf, -np.inf, 1e30, -1e30, np.finfo(np.float32).max,
                        -np.finfo(np.float32).max, 7.9, 7.91, -8.0, 20.0, 1e-30, -1e-30, 1e-6,
                        0.0, -0.0], np.float32)
    x = np.concatenate([grid, special])
    out = np.empty_like(x)
    kern.tanh_approx(x, out)
    assert out.dtype == np.float32
    err = np.abs(out.astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert err.max() < 4e-7, x[np.argmax(err)]
    assert np.abs(out).max() <= 1
    big = np.abs(x) >= 9
    np.testing.assert_allclose(out[big], np.sign(x[big]), rtol=0, atol=4e-7)
    # odd: tanh(-x) = -tanh(x) exactly; zeros keep their sign
    neg = np.empty_like(x)
    kern.tanh_approx(-x, neg)
    np.testing.assert_array_equal(neg, -out)
    z = out[-2:]
    assert z.tolist() == [0.0, 0.0] and not np.signbit(z[0]) and np.signbit(z[1])
    nan = np.empty(3, np.float32)
    kern.tanh_approx(np.array([np.nan, 1.0, -np.nan], np.float32), nan)
    assert np.isnan(nan[0]) and np.isnan(nan[2]) and abs(nan[1] - np.tanh(1.0)) < 4e-7


# ---------------------------------------------------------------- Adam, RMSprop
# > 1 << 14 parameters in all: a 2-d variable, a vector, a scalar and a small matrix
OPT_SHAPES = [(128, 130), (130,), (), (5, 3)]
OPT_CONFIGS = [
    ("Adam", {}, "adam_update"),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.5, "clipnorm": 1.0}, "adam_update"),
    ("AdamW", {"weight_decay": 0.1}, "adam_update"),
    ("RMSprop", {}, "rmsprop_update"),
    ("RMSprop", {"rho": 0.8, "learning_rate": 0.01}, "rmsprop_update"),
    ("SGD", {"learning_rate": 0.05}, "sgd_update"),
    # these keep the NumPy path
    ("SGD", {"momentum": 0.9}, None),
    ("Adam", {"amsgrad": True}, None),
    ("RMSprop", {"centered": True}, None),
    ("RMSprop", {"momentum": 0.9}, None),
    ("RMSprop", {"centered": True, "momentum": 0.5}, None),
]


def _opt_run(name, kwargs, dtype, steps=4, fortran=False, shapes=OPT_SHAPES, split=False):
    rng = np.random.default_rng(2)
    variables = [tf.Variable(rng.standard_normal(s).astype(dtype)) for s in shapes]
    if fortran:
        variables[0]._value = np.asfortranarray(variables[0]._value)
    grads = [[(rng.standard_normal(s) * (0.1 + k)).astype(dtype) for s in shapes]
             for k in range(steps)]
    opt = getattr(keras.optimizers, name)(**kwargs)
    if split:
        opt._SPLIT_MIN = 0
    for k in range(steps):
        opt.apply_gradients([(tf.constant(g), v) for g, v in zip(grads[k], variables)])
    return opt, [v.numpy() for v in variables], [v.numpy() for v in opt.variables], grads[-1]


def _assert_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y), np.abs(x - y).max()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "kwargs", "kernel"), OPT_CONFIGS,
                         ids=[f"{n}-{'-'.join(k) or 'default'}" for n, k, _ in OPT_CONFIGS])
def test_optimizer_compiled_bit_identical(kern, count, name, kwargs, kernel, dtype):
    calls = {k: count(kern, k) for k in ("adam_update", "rmsprop_update", "sgd_update")}
    with paths(compiled=False):
        _, want_v, want_s, _ = _opt_run(name, kwargs, dtype)
    assert not any(calls.values())
    with paths(compiled=True):
        opt, got_v, got_s, _ = _opt_run(name, kwargs, dtype)
    assert opt._flat and opt._flat["fast"]
    if kernel is None:
        assert not any(calls.values())
    else:
        assert len(calls[kernel]) == 4      # one call a step, every variable at once
    _assert_identical(got_v, want_v)
    _assert_identical(got_s, want_s)
    assert not np.array_equal(got_v[0], np.random.default_rng(2).standard_normal((128, 130))
                              .astype(dtype))         # the variables did change


def test_optimizer_below_jit_min_stays_numpy(kern, count):
    calls = count(kern, "adam_update")
    with paths(compiled=True):
        _opt_run("Adam", {}, "float32", shapes=[(10, 10), (10,)])
    assert not calls


@needs_two_cores
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "kernel"), [("Adam", "adam_update"),
                                              ("RMSprop", "rmsprop_update")])
def test_optimizer_compiled_split_bit_identical(kern, count, monkeypatch, name, kernel, dtype):
    monkeypatch.setitem(blas._state, "mode", 0)     # as in a loop that runs products on 2 threads
    calls = count(kern, kernel)
    pairs = count(worker, "run_pair", result=True)
    with paths(compiled=False, split=False):
        _, want_v, want_s, _ = _opt_run(name, {}, dtype, split=True)
    assert not pairs and not calls
    with paths(compiled=True, split=True):
        opt, got_v, got_s, _ = _opt_run(name, {}, dtype, split=True)
    assert pairs == [True] * 4
    halves = opt._flat["halves"]
    # the cut falls inside the first (2-d) variable: each half updates a 1-d piece of it
    assert not halves[0].pieces[-1][3] and not halves[1].pieces[0][3]
    assert len(calls) == 4 * 2          # one call per half and step
    _assert_identical(got_v, want_v)
    _assert_identical(got_s, want_s)


@pytest.mark.parametrize(("name", "kernel"), [("Adam", "adam_update"),
                                              ("RMSprop", "rmsprop_update")])
def test_optimizer_fortran_variable_uses_numpy(kern, count, name, kernel):
    calls = count(kern, kernel)
    with paths(compiled=False):
        _, want_v, want_s, _ = _opt_run(name, {}, "float32", fortran=True)
    with paths(compiled=True):
        opt, got_v, got_s, last = _opt_run(name, {}, "float32", fortran=True)
        assert opt._flat["whole"].flat_pieces(last) is None
        assert opt._trainable_variables[0]._value.flags.f_contiguous
    assert not calls
    _assert_identical(got_v, want_v)
    _assert_identical(got_s, want_s)
    # and the same numbers as the compiled step over C-ordered variables
    with paths(compiled=True):
        _, c_v, c_s, _ = _opt_run(name, {}, "float32")
    assert len(calls) == 4
    _assert_identical(got_v, c_v)
    _assert_identical(got_s, c_s)


# ---------------------------------------------------------------- gather / Embedding scatter
IDX = np.array([[3, 1, 3, 0, 9], [3, 3, 7, 1, 9]], np.int32)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gather_gradient_compiled_bit_identical(kern, count, dtype):
    rng = np.random.default_rng(4)
    params = rng.standard_normal((10, 6)).astype(dtype)
    w = rng.standard_normal(IDX.shape + (6,)).astype(dtype)

    def run():
        p = tf.constant(params)
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = tf.reduce_sum(tf.gather(p, tf.constant(IDX)) * w)
        return tape.gradient(loss, p).numpy()

    calls = count(kern, "scatter_add_rows")
    with paths(compiled=False):
        want = run()
    assert not calls
    with paths(compiled=True):
        got = run()
    assert len(calls) == 1
    assert np.array_equal(got, want)
    ref = np.zeros_like(params)
    np.add.at(ref, IDX.reshape(-1), w.reshape(-1, 6))
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_gradient_compiled_bit_identical(kern, count, dtype):
    rng = np.random.default_rng(6)
    layer = keras.layers.Embedding(12, 5, dtype=dtype)
    layer.build((None, 5))
    layer.embeddings.assign(rng.standard_normal((12, 5)).astype(dtype))
    w = rng.standard_normal(IDX.shape + (5,)).astype(dtype)

    def run():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(tf.constant(IDX))) * w)
        return tape.gradient(loss, layer.embeddings).numpy()

    calls = count(kern, "scatter_add_rows")
    with paths(compiled=False):
        want = run()
    with paths(compiled=True):
        got = run()
    assert len(calls) == 1
    assert np.array_equal(got, want)
    assert np.abs(got[3]).max() > 0 and np.array_equal(got[2], np.zeros(5, dtype))


def test_scatter_rows_direct(kern, count):
    calls = count(kern, "scatter_add_rows")
    rng = np.random.default_rng(8)
    with paths(compiled=True):
        # rows of a 3-d output, 2-d indices with repeats and negative ones (from the end)
        idx = np.array([[0, -1, 5, 2], [-6, 5, 5, 1]])
        dy = rng.standard_normal((2, 4, 2, 3))
        out = np.zeros((6, 2, 3))
        array_ops._scatter_rows(out, idx, dy)
        ref = np.zeros((6, 2, 3))
        np.add.at(ref, idx.reshape(-1), dy.reshape(8, 2, 3))
        assert np.array_equal(out, ref)
        assert np.array_equal(out[0], dy[0, 0] + dy[1, 0])     # -6 is row 0
        # out of range: IndexError naming the index
        for bad in (6, 100, -7):
            with pytest.raises(IndexError, match=rf"index {bad} is out of bounds.*size 6"):
                array_ops._scatter_rows(np.zeros((6, 3), np.float32),
                                        np.array([1, bad, 2]),
                                        np.ones((3, 3), np.float32))
    assert len(calls) == 4


# ---------------------------------------------------------------- switch and lazy import
def _python(code, **env):
    full = {k: v for k, v in os.environ.items() if k != jit.ENV}
    full.update(env)
    r = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_env_switch_off_in_subprocess():
    out = _python(
        "import sys\n"
        "import numpy as np\n"
        "import tapeflow as tf\n"
        "from tapeflow._backend import jit\n"
        "from tapeflow.ops import rnn_ops\n"
        "print(jit.kernels() is None)\n"
        "print(jit.why_not())\n"
        "h, c = rnn_ops.lstm_sequence(tf.ones([2, 3, 2]), tf.zeros([2, 4]), tf.zeros([2, 4]),\n"
        "                             tf.ones([2, 16]) * 0.1, tf.zeros([4, 16]), tf.zeros([16]))\n"
        "print(h.shape, 'numba' in sys.modules)\n",
        TAPEFLOW_JIT="0")
    lines = out.splitlines()
    assert lines[0] == "True"
    assert "TAPEFLOW_JIT" in lines[1]
    assert lines[2] == "(2, 3, 4) False"      # the NumPy path ran; Numba never loaded


def test_import_does_not_load_numba(kern):
    out = _python(
        "import sys\n"
        "import tapeflow\n"
        "from tapeflow import keras\n"
        "print('numba' in sys.modules)\n"
        "from tapeflow._backend import jit\n"
        "print(jit.kernels() is not None, repr(jit.why_not()), 'numba' in sys.modules)\n")
    assert out.splitlines() == ["False", "True '' True"]


# ---------------------------------------------------------------- C-ordered variables
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_variable_from_fortran_array_is_c_ordered(dtype):
    a = np.asfortranarray(np.random.default_rng(9).standard_normal((7, 5)).astype(dtype))
    assert not a.flags.c_contiguous
    v = tf.Variable(a)
    assert v._value.flags.c_contiguous and v.dtype == dtype
    assert np.array_equal(v.numpy(), a)
    a[0, 0] = 100           # a copy, not a view
    assert v.numpy()[0, 0] != 100
    # the Orthogonal initializer (a transposed result for wide matrices)
    layer = keras.layers.LSTM(5, dtype=dtype)
    layer.build((None, None, 3))
    for w in layer.weights:
        assert w._value.flags.c_contiguous, w.name


def test_scatter_rows_numpy_out_of_range():
    # the NumPy path checks as the compiled one does (a bad negative index is not wrapped)
    with paths(compiled=False):
        for bad in (6, -7):
            with pytest.raises(IndexError, match=rf"index {bad} is out of bounds"):
                array_ops._scatter_rows(np.zeros((6, 3)), np.array([1, bad]), np.ones((2, 3)))


def test_split_chooser_follows_the_faster_variant():
    # idle: the split is 2x faster; then the other core is taken (split 2x slower); then free
    chooser = jit.SplitChooser()
    picks = []

    def run(steps, split_time, whole_time):
        for _ in range(steps):
            s = chooser.split()
            picks.append(s)
            chooser.record(s, split_time if s else whole_time)

    run(60, 1.0, 2.0)
    assert picks[:5] == [True, False, True, False, True]      # the first calls alternate
    assert picks[-30:].count(True) >= 29                       # then the split (probes aside)
    picks.clear()
    run(300, 4.0, 2.0)
    assert picks[-100:].count(False) >= 98                     # it moved to one thread
    picks.clear()
    run(1200, 1.0, 2.0)
    assert picks[-100:].count(True) >= 98                      # and back once it pays again
    old = jit.SplitChooser.fixed
    try:
        jit.SplitChooser.fixed = False
        assert chooser.split() is False
    finally:
        jit.SplitChooser.fixed = old


@pytest.mark.parametrize("seq", [True, False], ids=["seq", "last"])
def test_lstm_pool_and_one_thread_halves_are_bit_identical(kern, seq):
    arrays, mask = _lstm_data(40, "float32", True, seed=8)
    out = []
    for fixed in (True, False):
        old = jit.SplitChooser.fixed
        try:
            with paths(compiled=True, pool=True):
                jit.SplitChooser.fixed = fixed
                out.append(_lstm_run(arrays, mask, seq))
        finally:
            jit.SplitChooser.fixed = old
    for name, a, b in zip(NAMES, *out):
        np.testing.assert_array_equal(a, b, err_msg=name)
