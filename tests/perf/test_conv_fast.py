"""The fast paths of ``tapeflow/ops/conv_ops.py`` (issue 7, W3) against the general ones.

- im2col: the transposed (K*C, M) matrix built by slice copies (few input channels, with the bias
  folded in as a ones row) and the row-major matrix, against a float64 direct convolution; the
  filter/bias gradient from the cached matrix against a rebuilt one.
- max pooling whose windows tile the input (stride == window, no padding, odd tails dropped):
  the first-maximum gradient on the reshape view, bit for bit against the general strided-slice
  kernel, with ties, NaN, -inf, odd sizes, 1-D/3-D and float64.
- the first convolution's raw gradient (relu backprop fused into the filter GEMM's chunks) bit
  for bit against the composite gradient.
- the fused conv + bias + relu op: forward and gradients against the separate ops, and second
  order through nested tapes against float64 finite differences.
"""

import itertools

import numpy as np
import pytest

import tapeflow as tf
from tapeflow._backend import jit
from tapeflow.ops import conv_ops as C

rng = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def _numpy_kernels(monkeypatch):
    # these tests check the NumPy kernels' layouts, splits and bits; the compiled ones
    # (tapeflow[jit]) are compared with them in test_conv_jit.py
    monkeypatch.setattr(jit, "enabled", False)


def _direct_conv(x, w, strides, dilations, pads):
    """float64 channels-last convolution by explicit loops over the kernel offsets."""
    x = np.pad(x.astype(np.float64), [(0, 0)] + list(pads) + [(0, 0)])
    n = x.ndim - 2
    ks = w.shape[:n]
    out = [(s - (k - 1) * d - 1) // st + 1 for s, k, st, d in
           zip(x.shape[1:-1], ks, strides, dilations, strict=True)]
    y = np.zeros([x.shape[0]] + out + [w.shape[-1]])
    for idx in itertools.product(*[range(k) for k in ks]):
        sl = (slice(None),) + tuple(slice(i * d, i * d + st * (o - 1) + 1, st) for i, d, st, o
                                    in zip(idx, dilations, strides, out, strict=True))
        y += x[sl] @ w[idx].astype(np.float64)
    return y


CONV_CASES = [
    # (x shape, kernel size, strides, dilations, pads) with C = 1, 2, 3 (transposed im2col) and
    # 4, 5, 8 (row-major im2col)
    ((3, 9, 8, 1), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((2, 9, 8, 1), (3, 2), (2, 1), (1, 1), ((1, 1), (0, 1))),
    ((2, 11, 10, 2), (3, 3), (1, 1), (2, 2), ((2, 2), (2, 2))),
    ((2, 7, 7, 3), (2, 3), (2, 3), (1, 1), ((0, 1), (1, 1))),
    ((2, 8, 9, 5), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((2, 8, 9, 8), (3, 2), (2, 2), (1, 1), ((1, 0), (0, 1))),
    ((2, 9, 9, 8), (2, 3), (1, 1), (1, 2), ((0, 0), (0, 0))),
    ((2, 11, 4), (3,), (1,), (1,), ((0, 0),)),
    ((2, 11, 1), (4,), (2,), (1,), ((1, 2),)),
    ((2, 5, 6, 5, 2), (2, 3, 2), (1, 2, 1), (1, 1, 1), ((0, 0), (1, 1), (0, 1))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_forward_and_filter_gradient_match_direct_float64(case, dtype):
    shape, ks, st, dl, pads = CONV_CASES[case]
    c = shape[-1]
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(ks + (c, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    ref = _direct_conv(x, w, st, dl, pads)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for bias in (None, b):
        cache = {}
        y = C._conv_fwd(x, w, st, dl, pads, 1, cache, bias=bias)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ref + (0 if bias is None else b), **tol)
        assert cache["cols"][0] == ("T" if c < C._T_MAX_C else "R")
        # filter (+ bias) gradient: cached matrix == rebuilt matrix == float64 reference
        dy = rng.standard_normal(y.shape).astype(dtype)
        xp = np.pad(x.astype(np.float64), [(0, 0)] + list(pads) + [(0, 0)])
        dw_ref = np.zeros(w.shape)
        for idx in itertools.product(*[range(k) for k in ks]):
            sl = (slice(None),) + tuple(slice(i * d, i * d + s * (o - 1) + 1, s) for i, d, s, o
                                        in zip(idx, dl, st, y.shape[1:-1], strict=True))
            dw_ref[idx] = np.tensordot(xp[sl], dy.astype(np.float64),
                                       axes=(list(range(len(ks) + 1)),) * 2)
        got = C._conv_bp_filter(x, dy, w.shape, st, dl, pads, 1, cache["cols"],
                                bias=bias is not None)
        again = C._conv_bp_filter(x, dy, w.shape, st, dl, pads, 1, None, bias=bias is not None)
        if bias is None:
            got, again = (got, None), (again, None)
        np.testing.assert_allclose(got[0], dw_ref, **tol)
        np.testing.assert_allclose(again[0], dw_ref, **tol)
        if bias is not None:
            db_ref = dy.astype(np.float64).reshape(-1, 4).sum(0)
            np.testing.assert_allclose(got[1], db_ref, **tol)
            np.testing.assert_allclose(again[1], db_ref, **tol)
            assert got[1].dtype == dtype


def _conv_bias_relu_composite(x, w, b, strides, padding):
    return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, strides, padding), b))


@pytest.mark.parametrize("c,strides,padding", [(1, 1, "VALID"), (3, 2, "SAME"), (8, 1, "SAME"),
                                               (32, 1, "VALID")])
def test_fused_conv_bias_relu_matches_separate_ops(c, strides, padding):
    x = tf.constant(rng.standard_normal((3, 9, 8, c)).astype(np.float32))
    w = tf.Variable(rng.standard_normal((3, 3, c, 5)).astype(np.float32) * 0.5)
    b = tf.Variable(rng.standard_normal(5).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = C._conv_nd(x, w, 2, strides, padding, None, None, "c", bias=b, relu=True)
        ref = _conv_bias_relu_composite(x, w, b, strides, padding)
        s, sr = tf.reduce_sum(y * y), tf.reduce_sum(ref * ref)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    for g, gr in zip(tape.gradient(s, [x, w, b]), tape.gradient(sr, [x, w, b]), strict=True):
        np.testing.assert_allclose(g.numpy(), gr.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("c", [1, 6])
def test_fused_conv_bias_relu_second_order_matches_finite_differences(c):
    # d/dw of ||d loss / dx||^2 through nested tapes (the composite gradient with the
    # two-output filter+bias op), against float64 central differences
    x0 = rng.standard_normal((2, 6, 5, c))
    w0 = rng.standard_normal((3, 2, c, 3)) * 0.5
    b0 = rng.standard_normal(3) + 0.5

    def inner(w, b, x):
        with tf.GradientTape() as t2:
            t2.watch(x)
            y = C._conv_nd(x, w, 2, 1, "SAME", None, None, "c", bias=b, relu=True)
            loss = tf.reduce_sum(y * y * y)
        gx = t2.gradient(loss, x)
        return tf.reduce_sum(gx * gx)

    w = tf.constant(w0)
    b = tf.constant(b0)
    x = tf.constant(x0)
    with tf.GradientTape() as t1:
        t1.watch([w, b])
        val = inner(w, b, x)
    gw, gb = t1.gradient(val, [w, b])
    eps = 1e-6
    for arr, got in ((w0, gw.numpy()), (b0, gb.numpy())):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            orig = arr[i]
            arr[i] = orig + eps
            hi = float(inner(tf.constant(w0), tf.constant(b0), x))
            arr[i] = orig - eps
            lo = float(inner(tf.constant(w0), tf.constant(b0), x))
            arr[i] = orig
            num[i] = (hi - lo) / (2 * eps)
        np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- max pooling, tiled windows
def _general_fwd(x, ksize, strides, pads):
    xp = C._pad_input(x, pads, -np.inf)
    out_sp = C._pool_out_sp(x.shape, ksize, strides, pads)
    y = None
    for sl in C._offset_slices(ksize, strides, out_sp):
        y = xp[sl].copy() if y is None else np.maximum(y, xp[sl])
    return y


def _pool_inputs(shape, dtype):
    yield rng.standard_normal(shape).astype(dtype)
    yield np.maximum(rng.standard_normal(shape), 0).astype(dtype)       # relu output: 0 ties
    yield rng.integers(-2, 2, shape).astype(dtype)                       # many ties
    yield np.zeros(shape, dtype)                                         # every window tied
    a = rng.standard_normal(shape).astype(dtype)
    a.flat[::7] = np.nan
    a.flat[3::11] = -np.inf
    a.flat[5::13] = np.inf
    yield a


POOL_CASES = [
    ((2, 26, 26, 3), (2, 2)),      # W3's first pool
    ((2, 11, 11, 4), (2, 2)),      # W3's second pool: 11 is odd, the last row/col is dropped
    ((3, 13, 7, 2), (2, 2)),
    ((2, 9, 10, 3), (3, 3)),
    ((2, 8, 9, 3), (2, 1)),
    ((2, 7, 5, 1), (1, 1)),
    ((2, 11, 3), (2,)),
    ((2, 7, 3), (3,)),
    ((2, 5, 6, 7, 2), (2, 2, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_tiled_max_pool_matches_general_bit_for_bit(case, dtype):
    shape, ks = POOL_CASES[case]
    pads = ((0, 0),) * len(ks)
    assert C._tiled(ks, ks, pads)
    for x in _pool_inputs(shape, dtype):
        y = C._max_pool_fwd(x, ks, ks, pads)
        ref = _general_fwd(x, ks, ks, pads)
        assert y.dtype == dtype and y.shape == ref.shape
        np.testing.assert_array_equal(y, ref)
        assert not np.shares_memory(y, x)
        dy = rng.standard_normal(y.shape).astype(dtype)
        got = C._max_pool_bp(x, y, dy, ks, ks, pads)
        want = C._max_pool_bp_general(x, y, dy, ks, ks, pads)
        assert got.dtype == dtype and got.shape == x.shape
        np.testing.assert_array_equal(got, want)


def test_tiled_max_pool_gradient_goes_to_the_first_maximum():
    x = np.array([[1, 3, 3, 0], [3, 2, 0, 0], [5, 5, 7, 7], [5, 5, 7, 7]], np.float32)
    x = x.reshape(1, 4, 4, 1)
    y = C._max_pool_fwd(x, (2, 2), (2, 2), ((0, 0), (0, 0)))
    dx = C._max_pool_bp(x, y, np.ones_like(y), (2, 2), (2, 2), ((0, 0), (0, 0)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 1, 1, 0], [0, 0, 0, 0],
                                                   [1, 0, 1, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_max_pool_gradient_raw_and_composite_paths_agree(fmt):
    x = tf.constant(rng.integers(-3, 3, (2, 3, 7, 9)).astype(np.float32))
    y_shape = tf.nn.max_pool2d(x, 2, 2, "VALID", data_format=fmt).shape
    wgt = tf.constant(rng.standard_normal(y_shape).astype(np.float32))

    def run():
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.reduce_sum(tf.nn.max_pool2d(x, 2, 2, "VALID", data_format=fmt) * wgt)
        return tape.gradient(s, x).numpy()

    raw = run()
    with tf.GradientTape() as outer:   # records the backward pass: the composite gradient
        outer.watch(x)
        composite = run()
    np.testing.assert_array_equal(raw, composite)
    assert np.count_nonzero(raw) == int(np.prod(y_shape))   # one slot per window


@pytest.mark.parametrize("shape", [(3, 9, 8, 1), (2, 100, 70, 2), (2, 9, 8, 6)])
def test_first_conv_fused_relu_filter_gradient_raw_equals_composite(shape):
    # the input is not watched: the raw gradient fuses the relu backprop into the filter/bias
    # GEMM over chunks (more than one chunk for the 100x70 case); the composite path (an outer
    # tape recording the backward pass) must give the same bits
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    w = tf.Variable(rng.standard_normal((3, 3, shape[-1], 5)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(5).astype(np.float32))
    wgt = None

    def run():
        nonlocal wgt
        with tf.GradientTape() as tape:
            y = C._conv_nd(x, w, 2, 1, "VALID", None, None, "c", bias=b, relu=True)
            if wgt is None:
                wgt = tf.constant(rng.standard_normal(y.shape).astype(np.float32))
            s = tf.reduce_sum(y * wgt)
        return [g.numpy() for g in tape.gradient(s, [w, b])]

    raw = run()
    with tf.GradientTape() as outer:
        outer.watch([w, b])
        composite = run()
    for r, c in zip(raw, composite, strict=True):
        np.testing.assert_array_equal(r, c)
    # and both match float64
    y64 = _direct_conv(x.numpy(), w.numpy(), (1, 1), (1, 1), ((0, 0), (0, 0))) + b.numpy()
    dz = wgt.numpy().astype(np.float64) * (y64 > 0)
    np.testing.assert_allclose(raw[1], dz.reshape(-1, 5).sum(0), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("case", [0, 1, 2, 6, 8])
def test_max_pool_masks_from_the_forward_give_the_general_gradient(case):
    # a recording tape: the forward keeps the first-maximum masks and the raw gradient uses them
    shape, ks = POOL_CASES[case]
    pads = ((0, 0),) * len(ks)
    for xa in _pool_inputs(shape, np.float32):
        x = tf.constant(xa)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.max_pool(x, list(ks), list(ks), "VALID")
        dy = rng.standard_normal(y.shape).astype(np.float32)
        got = tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()
        want = C._max_pool_bp_general(xa, y.numpy(), dy, ks, ks, pads)
        np.testing.assert_array_equal(got, want)


def test_max_pool_keeps_no_masks_when_nothing_is_watched():
    x = tf.constant(rng.standard_normal((2, 4, 4, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    assert not tape._records     # nothing recorded, so no masks were built either
    assert y.shape == (2, 2, 2, 3)


# ---------------------------------------------------------------- input gradient: two variants
def _direct_input_grad(dy, w, x_shape, strides, dilations, pads):
    """float64 adjoint of ``_direct_conv`` with respect to its input."""
    n = dy.ndim - 2
    xp_shape = (x_shape[0],) + tuple(s + lo + hi for s, (lo, hi) in
                                     zip(x_shape[1:-1], pads, strict=True)) + (x_shape[-1],)
    dxp = np.zeros(xp_shape)
    dy64 = dy.astype(np.float64)
    for idx in itertools.product(*[range(k) for k in w.shape[:n]]):
        sl = (slice(None),) + tuple(slice(i * d, i * d + st * (o - 1) + 1, st) for i, d, st, o
                                    in zip(idx, dilations, strides, dy.shape[1:-1], strict=True))
        dxp[sl] += dy64 @ w[idx].astype(np.float64).T
    crop = (slice(None),) + tuple(slice(lo, xp_shape[i + 1] - hi)
                                  for i, (lo, hi) in enumerate(pads))
    return dxp[crop]


INPUT_GRAD_CASES = [
    # (x shape, kernel size, strides, dilations, pads); C >= 8 (both variants apply) and C < 8
    ((3, 13, 13, 32), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),      # W3's second conv
    ((2, 9, 8, 8), (3, 2), (2, 2), (1, 1), ((1, 0), (0, 1))),
    ((2, 10, 9, 9), (2, 3), (1, 1), (2, 1), ((1, 1), (2, 2))),
    ((2, 7, 8, 12), (3, 3), (3, 2), (1, 1), ((0, 1), (1, 0))),
    ((2, 11, 16), (3,), (2,), (1,), ((1, 1),)),
    ((2, 5, 6, 5, 8), (2, 3, 2), (1, 2, 1), (1, 1, 1), ((0, 0), (1, 1), (0, 1))),
    ((2, 9, 8, 3), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(INPUT_GRAD_CASES)))
def test_input_gradient_variants_match_each_other_and_float64(case, dtype):
    # one GEMM per kernel offset (one thread) and one GEMM + col2im (two threads): both forced
    shape, ks, st, dl, pads = INPUT_GRAD_CASES[case]
    w = rng.standard_normal(ks + (shape[-1], 6)).astype(dtype)
    out_sp = [(s + lo + hi - (k - 1) * d - 1) // t + 1 for s, (lo, hi), k, d, t in
              zip(shape[1:-1], pads, ks, dl, st, strict=True)]
    dy = rng.standard_normal([shape[0]] + out_sp + [6]).astype(dtype)
    ref = _direct_input_grad(dy, w, shape, st, dl, pads)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for per_offset in (True, False, None):
        got = C._conv_bp_input(dy, w, shape, st, dl, pads, 1, per_offset=per_offset)
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_allclose(got, ref, **tol)


@pytest.fixture
def step_mode():
    """Sets ``blas._state["mode"]`` as a Keras step would (inside ``single_thread``)."""
    from tapeflow._backend import blas

    def set_mode(mode):
        blas._state["mode"] = mode

    with blas.single_thread():
        try:
            yield set_mode
        finally:
            blas._state["mode"] = None


def test_two_threads_now_follows_the_step_count(step_mode):
    from tapeflow._backend import blas

    libs = blas._state["libs"]
    multi = bool(libs) and max(blas._state["outer"]) > 1
    step_mode(None)
    assert blas.two_threads_now() is False          # outside the Keras loops
    step_mode(1)
    assert blas.two_threads_now() is False          # this step measured faster on one thread
    step_mode(0)
    assert blas.two_threads_now() is multi          # the default count: more than one thread
    step_mode(2)
    assert blas.two_threads_now() is multi


def test_input_gradient_variant_follows_the_thread_count(step_mode, monkeypatch):
    from tapeflow._backend import blas

    big = (15488, 64, 9, 32)                   # W3's second convolution: 285M multiply-adds
    small = (100, 8, 9, 8)                     # below blas.SMALL: never worth a second thread
    monkeypatch.setattr(C, "one_gemm_on_two_threads", True)
    monkeypatch.setattr(blas, "two_threads_now", lambda: False)
    assert C._per_offset_input_grad(*big) and C._per_offset_input_grad(*small)
    monkeypatch.setattr(blas, "two_threads_now", lambda: True)
    assert not C._per_offset_input_grad(*big)
    assert C._per_offset_input_grad(*small)
    assert not C._per_offset_input_grad(15488, 64, 9, 4)      # C < 8: always GEMM + col2im
    monkeypatch.setattr(C, "one_gemm_on_two_threads", False)
    assert C._per_offset_input_grad(*big)
    monkeypatch.undo()
    monkeypatch.setattr(C, "one_gemm_on_two_threads", True)
    # and through the real accessor, inside a step
    step_mode(1)
    assert C._per_offset_input_grad(*big)
    step_mode(0)
    assert C._per_offset_input_grad(*big) is not blas.two_threads_now()


# ---------------------------------------------------------------- kernels by halves of the batch
@pytest.fixture
def halves(monkeypatch):
    """Forces the batch split of the memory-bound kernels (as in a Keras step whose large
    products run on two threads, at any size) and records each hand-off to the helper."""
    from tapeflow._backend import blas

    monkeypatch.setattr(C._worker, "enabled", True)        # whatever OpenBLAS's spin setting
    if not C._worker.available():
        pytest.skip("no helper thread here (one usable core)")
    monkeypatch.setattr(blas, "two_threads_now", lambda: True)
    monkeypatch.setattr(C, "_SPLIT_MIN", 0)
    calls = []
    real = C._worker.run_pair

    def counting(fn, mine, theirs):
        done = real(fn, mine, theirs)
        calls.append((mine, theirs, done))
        return done

    monkeypatch.setattr(C._worker, "run_pair", counting)
    return calls


def _whole_and_split(calls, fn, monkeypatch):
    """``fn()`` with the split off, then on: both results (the second must have split)."""
    calls.clear()
    monkeypatch.setattr(C, "split_kernels", False)
    whole = fn()
    assert not calls
    monkeypatch.setattr(C, "split_kernels", True)
    split = fn()
    assert calls and all(done for *_, done in calls)
    calls.clear()
    return whole, split


def _same_bits(a, b):
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    for u, v in zip(a, b, strict=True):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


def test_split_is_off_outside_a_two_thread_step(monkeypatch):
    # the real accessor: no Keras step runs here, so no kernel hands work to the helper
    calls = []
    monkeypatch.setattr(C, "_SPLIT_MIN", 0)
    monkeypatch.setattr(C._worker, "enabled", True)
    monkeypatch.setattr(C._worker, "run_pair", lambda *a: calls.append(a))
    x = rng.standard_normal((4, 9, 8, 8)).astype(np.float32)
    C._conv_fwd(x, rng.standard_normal((3, 3, 8, 4)).astype(np.float32), (1, 1), (1, 1),
                ((0, 0), (0, 0)), 1, {}, bias=np.ones(4, np.float32), relu=True)
    C._max_pool_fwd(x, (2, 2), (2, 2), ((0, 0), (0, 0)))
    assert not calls
    # nor inside a two-thread step while the helper is disabled (OpenBLAS's threads spin)
    from tapeflow._backend import blas

    monkeypatch.setattr(blas, "two_threads_now", lambda: True)
    monkeypatch.setattr(C._worker, "enabled", False)
    C._max_pool_fwd(x, (2, 2), (2, 2), ((0, 0), (0, 0)))
    C._relu_bp(x, x)
    assert not calls


@pytest.mark.parametrize("batch", [1, 2, 5])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_split_conv_forward_and_gradients_are_bit_identical(case, batch, halves, monkeypatch):
    # im2col (both layouts), bias + relu pass, col2im, relu backprop: whole against halves
    shape, ks, st, dl, pads = CONV_CASES[case]
    shape = (batch,) + shape[1:]
    c = shape[-1]
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(ks + (c, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)

    def fwd():
        out = []
        for bias, relu in ((None, False), (b, False), (b, True), (None, True)):
            cache = {}
            out.append(C._conv_fwd(x, w, st, dl, pads, 1, cache, bias=bias, relu=relu))
            out.append(cache["cols"][1])
        return tuple(out)

    if batch == 1:          # one sample: nothing to split, and the same numbers
        monkeypatch.setattr(C, "split_kernels", False)
        whole = fwd()
        monkeypatch.setattr(C, "split_kernels", True)
        _same_bits(whole, fwd())
        assert not halves
        return
    _same_bits(*_whole_and_split(halves, fwd, monkeypatch))
    y = C._conv_fwd(x, w, st, dl, pads, 1, None, bias=b, relu=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _same_bits(*_whole_and_split(halves, lambda: C._relu_bp(dy, y), monkeypatch))
    np.testing.assert_array_equal(C._relu_bp(dy, y), dy * (y > 0))
    _same_bits(*_whole_and_split(
        halves, lambda: C._conv_bp_input(dy, w, shape, st, dl, pads, 1, per_offset=False),
        monkeypatch))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_split_max_pool_is_bit_identical(case, dtype, halves, monkeypatch):
    shape, ks = POOL_CASES[case]
    shape = (3,) + shape[1:]                # an odd batch: halves of 1 and 2 samples
    pads = ((0, 0),) * len(ks)
    for x in _pool_inputs(shape, dtype):
        def run(x=x):
            y = C._max_pool_fwd(x, ks, ks, pads)
            cache = {}
            y2 = C.REGISTRY["MaxPool"].forward(x, ksize=ks, strides=ks, pads=pads, cache=cache)
            dy = np.linspace(-1, 1, y.size).astype(dtype).reshape(y.shape)
            return (y, y2, cache["hits"], C._tiled_hits(x, y, ks),
                    C._max_pool_bp_hits(x.shape, dy, cache["hits"], ks),
                    C._max_pool_bp(x, y, dy, ks, ks, pads))
        whole, split = _whole_and_split(halves, run, monkeypatch)
        _same_bits(whole, split)
        dy = np.linspace(-1, 1, whole[0].size).astype(dtype).reshape(whole[0].shape)
        np.testing.assert_array_equal(split[0], _general_fwd(x, ks, ks, pads))
        np.testing.assert_array_equal(split[5], C._max_pool_bp_general(x, whole[0], dy, ks, ks,
                                                                       pads))


def test_split_general_max_pool_forward_is_bit_identical(halves, monkeypatch):
    # overlapping windows with SAME padding: the running maximum by halves
    x = rng.standard_normal((3, 9, 10, 4)).astype(np.float32)
    pads = ((1, 1), (0, 1))
    _same_bits(*_whole_and_split(halves, lambda: C._max_pool_fwd(x, (3, 2), (2, 2), pads),
                                 monkeypatch))


def test_split_training_step_gradients_are_bit_identical(halves, monkeypatch):
    # W3's layer chain on a small batch, raw-array gradients (no outer tape): every kernel above
    # in one step, whole against halves
    x = tf.constant(rng.standard_normal((5, 14, 14, 1)).astype(np.float32))
    w1 = tf.Variable(rng.standard_normal((3, 3, 1, 8)).astype(np.float32) * 0.5)
    b1 = tf.Variable(rng.standard_normal(8).astype(np.float32) * 0.1)
    w2 = tf.Variable(rng.standard_normal((3, 3, 8, 16)).astype(np.float32) * 0.2)
    b2 = tf.Variable(rng.standard_normal(16).astype(np.float32) * 0.1)
    wgt = tf.constant(rng.standard_normal((5, 2, 2, 16)).astype(np.float32))

    def step():
        with tf.GradientTape() as tape:
            h = C._conv_nd(x, w1, 2, 1, "VALID", None, None, "c", bias=b1, relu=True)
            h = tf.nn.max_pool2d(h, 2, 2, "VALID")
            h = C._conv_nd(h, w2, 2, 1, "VALID", None, None, "c", bias=b2, relu=True)
            h = tf.nn.max_pool2d(h, 2, 2, "VALID")
            s = tf.reduce_sum(h * wgt)
        return tuple(g.numpy() for g in tape.gradient(s, [w1, b1, w2, b2]))

    for one_gemm in (True, False):
        monkeypatch.setattr(C, "one_gemm_on_two_threads", one_gemm)
        _same_bits(*_whole_and_split(halves, step, monkeypatch))


def test_split_fit_gives_the_same_weights(halves, monkeypatch):
    # Keras layers through fit (ConvBiasAct, MaxPool with masks, raw gradients): whole against
    # halves, bit for bit after a few steps
    from tapeflow import keras

    x = rng.random((24, 12, 12, 2)).astype(np.float32)
    y = rng.integers(0, 3, 24).astype(np.int32)

    def train():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([
            keras.Input((12, 12, 2)), keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(2), keras.layers.Conv2D(8, 3, activation="relu",
                                                              padding="same"),
            keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return tuple(np.asarray(v) for v in model.get_weights())

    _same_bits(*_whole_and_split(halves, train, monkeypatch))
