"""The fused LSTM and GRU kernels' fast loops (``tapeflow/ops/rnn_ops.py``: gate-major time-major
buffers, gates reordered internally, one GEMM per step, recycled workspaces, the LSTM's
last-output-only mode) and the Embedding's scatter-add gradient (``array_ops._scatter_rows``),
against reference paths.

The reference for the layer is the step-by-step loop of ordinary ops, which the recurrent layers
use under nested tapes; for the op, float64 central differences.
"""

import contextlib

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.ops import array_ops, rnn_ops

rng = np.random.default_rng(11)


def _lstm_layer(dtype, **kw):
    layer = keras.layers.LSTM(3, dtype=dtype, **kw)
    layer.build((None, None, 4))
    # non-trivial weights, bias included, so every gate matters
    for v in layer.weights:
        v.assign(rng.standard_normal(v.shape).astype(dtype) * 0.5)
    return layer


def _outer(nested):
    """A second recording tape makes the layers use the step-by-step loop of ordinary ops."""
    return tf.GradientTape() if nested else contextlib.nullcontext()


def _run(layer, x, mask, nested, initial_state=None):
    """Outputs and d(weighted sum of outputs)/d(x, weights); ``nested`` forces the
    step-by-step loop (the fused kernel is not used while two tapes record)."""
    xt = tf.constant(x)
    with _outer(nested), tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, mask=None if mask is None else tf.constant(mask),
                    initial_state=initial_state)
        outs = out if isinstance(out, list) else [out]
        cot = np.random.default_rng(5)
        loss = tf.add_n([tf.reduce_sum(o * cot.standard_normal(o.shape).astype(x.dtype))
                         for o in outs])
    grads = tape.gradient(loss, [xt] + layer.trainable_weights)
    return [o.numpy() for o in outs], [g.numpy() for g in grads]


MASK = np.array([[1, 1, 0, 1, 1, 1], [0, 1, 1, 0, 1, 0], [1, 1, 1, 1, 0, 0]], bool)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("kw", [{}, {"return_sequences": True}, {"go_backwards": True},
                                {"return_state": True},
                                {"return_sequences": True, "return_state": True,
                                 "go_backwards": True}],
                         ids=["last", "seq", "backwards", "state", "seq-state-backwards"])
def test_lstm_fused_matches_step_loop(dtype, masked, kw):
    layer = _lstm_layer(dtype, **kw)
    x = rng.standard_normal((3, 6, 4)).astype(dtype)
    mask = MASK if masked else None
    fo, fg = _run(layer, x, mask, nested=False)
    so, sg = _run(layer, x, mask, nested=True)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for a, b in zip(fo, so, strict=True):
        np.testing.assert_allclose(a, b, **tol)
    for a, b in zip(fg, sg, strict=True):
        np.testing.assert_allclose(a, b, **tol)


def test_lstm_fused_matches_step_loop_with_initial_state():
    layer = _lstm_layer("float64", return_sequences=True)
    x = rng.standard_normal((3, 6, 4))
    init = [tf.constant(rng.standard_normal((3, 3))) for _ in range(2)]
    for mask in (None, MASK):
        fo, fg = _run(layer, x, mask, nested=False, initial_state=init)
        so, sg = _run(layer, x, mask, nested=True, initial_state=init)
        for a, b in zip(fo + fg, so + sg, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _fd(f, arrays, eps=1e-6):
    out = []
    for a in arrays:
        num = np.zeros_like(a)
        for j in range(a.size):
            old = a.flat[j]
            a.flat[j] = old + eps
            up = f()
            a.flat[j] = old - eps
            dn = f()
            a.flat[j] = old
            num.flat[j] = (up - dn) / (2 * eps)
        out.append(num)
    return out


@pytest.mark.parametrize("seq", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_lstm_op_gradient_float64_finite_differences(seq, masked):
    b, t, d, n = 3, 5, 2, 3          # odd sizes: nothing lines up with the gate blocks
    arrays = [rng.standard_normal(s) for s in [(b, t, d), (b, n), (b, n), (d, 4 * n),
                                                (n, 4 * n), (4 * n,)]]
    mask = np.array([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 1]], float) if masked \
        else None
    c_out = rng.standard_normal((b, t, n) if seq else (b, n))
    c_c = rng.standard_normal((b, n))

    def loss_np():
        h, c = rnn_ops.lstm_sequence(*[tf.constant(a) for a in arrays],
                                     mask=None if mask is None else tf.constant(mask),
                                     return_sequences=seq)
        return float(np.sum(h.numpy() * c_out) + np.sum(c.numpy() * c_c))

    ts = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for v in ts:
            tape.watch(v)
        h, c = rnn_ops.lstm_sequence(*ts, mask=None if mask is None else tf.constant(mask),
                                     return_sequences=seq)
        loss = tf.reduce_sum(h * c_out) + tf.reduce_sum(c * c_c)
    grads = tape.gradient(loss, ts)
    for i, (g, num) in enumerate(zip(grads, _fd(loss_np, arrays), strict=True)):
        np.testing.assert_allclose(g.numpy(), num, rtol=1e-6, atol=1e-8, err_msg=f"arg {i}")


def test_last_only_mode_matches_the_sequence_mode():
    arrays = [tf.constant(rng.standard_normal(s).astype(np.float32))
              for s in [(4, 7, 5), (4, 3), (4, 3), (5, 12), (3, 12), (12,)]]
    with tf.GradientTape(persistent=True) as tape:
        for v in arrays:
            tape.watch(v)
        hs, c1 = rnn_ops.lstm_sequence(*arrays)
        h, c2 = rnn_ops.lstm_sequence(*arrays, return_sequences=False)
        l1 = tf.reduce_sum(hs[:, -1] * 3.0) + tf.reduce_sum(c1)
        l2 = tf.reduce_sum(h * 3.0) + tf.reduce_sum(c2)
    np.testing.assert_array_equal(h.numpy(), hs.numpy()[:, -1])
    np.testing.assert_array_equal(c1.numpy(), c2.numpy())
    for g1, g2 in zip(tape.gradient(l1, arrays), tape.gradient(l2, arrays), strict=True):
        np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-6, atol=1e-7)


def test_recycled_buffers_do_not_leak_between_calls():
    """Two sequences recorded before either backward (their saved buffers are live at once),
    a persistent tape asked twice, and a call with no tape (buffers recycled at once) in
    between: every gradient equals the one computed alone."""
    def make():
        return [tf.constant(rng.standard_normal(s).astype(np.float32))
                for s in [(2, 9, 3), (2, 4), (2, 4), (3, 16), (4, 16), (16,)]]

    def alone(arrs):
        with tf.GradientTape() as tape:
            for v in arrs:
                tape.watch(v)
            h, c = rnn_ops.lstm_sequence(*arrs, return_sequences=False)
            loss = tf.reduce_sum(h) + tf.reduce_sum(c)
        return [g.numpy() for g in tape.gradient(loss, arrs)]

    a1, a2 = make(), make()
    want1, want2 = alone(a1), alone(a2)
    with tf.GradientTape(persistent=True) as tape:
        for v in a1 + a2:
            tape.watch(v)
        h1, c1 = rnn_ops.lstm_sequence(*a1, return_sequences=False)
        h2, c2 = rnn_ops.lstm_sequence(*a2, return_sequences=False)
        l1 = tf.reduce_sum(h1) + tf.reduce_sum(c1)
        l2 = tf.reduce_sum(h2) + tf.reduce_sum(c2)
    rnn_ops.lstm_sequence(*make())                      # no tape: its buffers go back at once
    for _ in range(2):
        for got, want in ((tape.gradient(l2, a2), want2), (tape.gradient(l1, a1), want1)):
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g.numpy(), w)


@pytest.mark.parametrize("b,n", [(1, 3), (2, 1), (1, 1)])
def test_outputs_are_not_views_of_recycled_buffers(b, n):
    """With a batch or a width of 1 a transposed buffer is already contiguous: the outputs and
    the state gradients must still be copies, untouched by later calls."""
    def call(seed, seq):
        r = np.random.default_rng(seed)
        arrs = [tf.constant(r.standard_normal(s)) for s in [(b, 4, 2), (b, n), (b, n),
                                                            (2, 4 * n), (n, 4 * n), (4 * n,)]]
        with tf.GradientTape() as tape:
            for v in arrs:
                tape.watch(v)
            h, c = rnn_ops.lstm_sequence(*arrs, return_sequences=seq)
            loss = tf.reduce_sum(h) + tf.reduce_sum(c)
        return [h.numpy(), c.numpy()] + [g.numpy() for g in tape.gradient(loss, arrs)]

    for seq in (True, False):
        first = call(1, seq)
        kept = [a.copy() for a in first]
        call(2, seq)
        call(3, seq)
        for a, k in zip(first, kept, strict=True):
            np.testing.assert_array_equal(a, k)


def test_input_gradient_view_feeds_other_layers():
    """dx comes back as a transposed view: a Dense below the LSTM gets the right gradient."""
    dense = keras.layers.Dense(4, dtype="float64")
    lstm = _lstm_layer("float64")
    x = tf.constant(rng.standard_normal((3, 6, 2)))
    dense.build((None, None, 2))
    grads = []
    for nested in (False, True):
        with _outer(nested), tf.GradientTape() as tape:
            loss = tf.reduce_sum(lstm(dense(x)) ** 2)
        grads.append([g.numpy() for g in tape.gradient(loss, dense.trainable_weights)])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_embedding_lstm_fit_step_matches_step_loop():
    ids = rng.integers(0, 20, size=(5, 8))
    emb = keras.layers.Embedding(20, 4, dtype="float64")
    lstm = _lstm_layer("float64")
    emb.build((None, 8))
    res = []
    for nested in (False, True):
        with _outer(nested), tf.GradientTape() as tape:
            loss = tf.reduce_sum(lstm(emb(ids)) ** 2)
        res.append(tape.gradient(loss, emb.embeddings).numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- GRU
def _gru_layer(dtype, **kw):
    layer = keras.layers.GRU(3, dtype=dtype, **kw)
    layer.build((None, None, 4))
    for v in layer.weights:
        v.assign(rng.standard_normal(v.shape).astype(dtype) * 0.5)
    return layer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("kw", [{}, {"return_sequences": True}, {"go_backwards": True},
                                {"return_state": True}, {"use_bias": False},
                                {"return_sequences": True, "return_state": True,
                                 "go_backwards": True}],
                         ids=["last", "seq", "backwards", "state", "nobias",
                              "seq-state-backwards"])
def test_gru_fused_matches_step_loop(dtype, reset_after, masked, kw):
    layer = _gru_layer(dtype, reset_after=reset_after, **kw)
    x = rng.standard_normal((3, 6, 4)).astype(dtype)
    mask = MASK if masked else None
    fo, fg = _run(layer, x, mask, nested=False)
    so, sg = _run(layer, x, mask, nested=True)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for a, b in zip(fo + fg, so + sg, strict=True):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
def test_gru_fused_matches_step_loop_with_initial_state(reset_after):
    layer = _gru_layer("float64", return_sequences=True, reset_after=reset_after)
    x = rng.standard_normal((3, 6, 4))
    init = [tf.constant(rng.standard_normal((3, 3)))]
    for mask in (None, MASK):
        fo, fg = _run(layer, x, mask, nested=False, initial_state=init)
        so, sg = _run(layer, x, mask, nested=True, initial_state=init)
        for a, b in zip(fo + fg, so + sg, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gru_stateful_matches_step_loop():
    x = rng.standard_normal((3, 5, 4))
    res = []
    for nested in (False, True):
        layer = keras.layers.GRU(3, stateful=True, dtype="float64",
                                 kernel_initializer="ones", recurrent_initializer="ones")
        layer.build((3, None, 4))
        r = np.random.default_rng(3)
        for v in layer.weights:
            v.assign(r.standard_normal(v.shape) * 0.5)
        outs = []
        for _ in range(2):                     # the second call starts from the first's state
            with _outer(nested):
                outs.append(layer(tf.constant(x)).numpy())
        res.append(outs)
    for a, b in zip(*res, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_gru_op_gradient_float64_finite_differences(reset_after, masked):
    b, t, d, n = 3, 5, 2, 3
    bshape = (2, 3 * n) if reset_after else (3 * n,)
    arrays = [rng.standard_normal(s) for s in [(b, t, d), (b, n), (d, 3 * n), (n, 3 * n),
                                                bshape]]
    mask = np.array([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 1]], float) if masked \
        else None
    c_out = rng.standard_normal((b, t, n))

    def loss_np():
        h = rnn_ops.gru_sequence(*[tf.constant(a) for a in arrays],
                                 mask=None if mask is None else tf.constant(mask),
                                 reset_after=reset_after)
        return float(np.sum(h.numpy() * c_out))

    ts = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for v in ts:
            tape.watch(v)
        h = rnn_ops.gru_sequence(*ts, mask=None if mask is None else tf.constant(mask),
                                 reset_after=reset_after)
        loss = tf.reduce_sum(h * c_out)
    grads = tape.gradient(loss, ts)
    for i, (g, num) in enumerate(zip(grads, _fd(loss_np, arrays), strict=True)):
        np.testing.assert_allclose(g.numpy(), num, rtol=1e-6, atol=1e-8, err_msg=f"arg {i}")


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("b,n,t", [(1, 3, 4), (2, 1, 4), (1, 1, 1), (2, 3, 37)])
def test_gru_outputs_and_buffers_are_not_shared(reset_after, b, n, t):
    """Odd sizes (a batch or width of 1, one step, more steps than a chunk): outputs and
    gradients are unchanged by later calls that reuse the recycled buffers, and a persistent
    tape asked twice gives the same gradients."""
    bshape = (2, 3 * n) if reset_after else (3 * n,)

    def call(seed):
        r = np.random.default_rng(seed)
        arrs = [tf.constant(r.standard_normal(s).astype(np.float32))
                for s in [(b, t, 2), (b, n), (2, 3 * n), (n, 3 * n), bshape]]
        with tf.GradientTape(persistent=True) as tape:
            for v in arrs:
                tape.watch(v)
            h = rnn_ops.gru_sequence(*arrs, reset_after=reset_after)
            loss = tf.reduce_sum(h[:, -1] * 2.0) + tf.reduce_sum(h)
        g1 = [g.numpy() for g in tape.gradient(loss, arrs)]
        rnn_ops.gru_sequence(*arrs, reset_after=reset_after)       # no tape: buffers back
        g2 = [g.numpy() for g in tape.gradient(loss, arrs)]
        for x1, x2 in zip(g1, g2, strict=True):
            np.testing.assert_array_equal(x1, x2)
        return [h.numpy()] + g1

    first = call(1)
    kept = [a.copy() for a in first]
    call(2)
    call(3)
    for a, k in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, k)


# ---------------------------------------------------------------- the Embedding's gradient
def _ref_scatter(shape, idx, dy):
    out = np.zeros(shape, dy.dtype)
    np.add.at(out, idx.reshape(-1), dy.reshape((idx.size,) + shape[1:]))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
def test_scatter_rows_is_add_at_bit_for_bit(dtype, idx_dtype):
    idx = rng.integers(0, 7, size=(5, 9)).astype(idx_dtype)     # many repeated rows
    dy = rng.standard_normal((5, 9, 3)).astype(dtype)
    out = np.zeros((7, 3), dtype)
    array_ops._scatter_rows(out, idx, dy)
    np.testing.assert_array_equal(out, _ref_scatter((7, 3), idx, dy))


@pytest.mark.parametrize("shape,ishape", [((6,), (4,)), ((6,), ()), ((6, 2, 3), (3, 2)),
                                          ((1, 5), (8,))])
def test_scatter_rows_shapes(shape, ishape):
    idx = rng.integers(0, shape[0], size=ishape)
    dy = rng.standard_normal(ishape + shape[1:])
    out = np.zeros(shape)
    array_ops._scatter_rows(out, np.asarray(idx), dy)
    np.testing.assert_array_equal(out, _ref_scatter(shape, np.asarray(idx), dy))


def test_scatter_rows_transposed_view_and_negative_indices():
    idx = rng.integers(0, 5, size=(6, 4))
    base = rng.standard_normal((4, 3, 6))                 # (time, d, batch) memory order
    dy = base.transpose(2, 0, 1)                           # (batch, time, d) view, as the LSTM's
    assert array_ops._memory_order(dy) == (1, 2, 0)
    out = np.zeros((5, 3))
    array_ops._scatter_rows(out, idx, dy)
    np.testing.assert_allclose(out, _ref_scatter((5, 3), idx, np.ascontiguousarray(dy)),
                               rtol=1e-14, atol=1e-14)
    out2 = np.zeros((5, 3))
    array_ops._scatter_rows(out2, idx - 5, dy)             # NumPy-style negative indices
    np.testing.assert_allclose(out2, out, rtol=0, atol=0)
    strided = np.zeros((6, 4, 6))[:, :, ::2]               # not a transposed C array: copied
    assert array_ops._memory_order(strided) is None


def test_gather_gradient_through_the_tape():
    params = tf.Variable(rng.standard_normal((9, 4)))
    idx = tf.constant(rng.integers(0, 9, size=(3, 5)))
    with tf.GradientTape() as tape:
        y = tf.gather(params, idx)
        loss = tf.reduce_sum(y * y)
    g = tape.gradient(loss, params)
    g = tf.convert_to_tensor(g).numpy()
    want = _ref_scatter((9, 4), idx.numpy(), 2 * params.numpy()[idx.numpy()])
    np.testing.assert_array_equal(g, want)
    with tf.GradientTape() as tape:                        # axis 1: the general path
        loss = tf.reduce_sum(tf.gather(params, [0, 3, 3], axis=1))
    np.testing.assert_array_equal(tf.convert_to_tensor(tape.gradient(loss, params)).numpy(),
                                  np.tile([1.0, 0, 0, 2.0], (9, 1)))
