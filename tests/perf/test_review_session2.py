"""Adversarial review of session 2's speed changes (issue 7): each fast path against the general
path it stands in for, on the cases a TensorFlow/Keras user relies on.

- ``GradientTape._backward_raw`` (raw-array walk) against ``_backward`` (the op walk, forced by
  patching the raw walk out): persistent tapes asked twice, unwatched variables, output gradients,
  nested targets, unconnected sources, ``stop_gradient``, ``custom_gradient``, jacobians,
  float16 and complex sources, ``tf.function``, higher-order gradients.
- ``Layer.__call__``'s plain path against the general one (forced by patching the plain path
  out): training flags, keyword-only ``training``/``mask``, masks from an Embedding into an LSTM,
  a subclass overriding ``__call__``, mixed precision, activity regularizers, ``add_loss``, input
  checks (message text included).
- the cached ``weights`` / sub-layer walk against a fresh walk, after every kind of change.
- the LSTM's recycled buffers (results of one call held across later calls) and the fused kernel
  against the step-by-step loop; the Embedding's scatter gradient against ``np.add.at``.
- ``blas.single_thread``/``StepThreads``: the thread state after exceptions, nested loops and
  inside a caller's ``threadpool_limits`` block.
"""

import copy

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow._backend import blas
from tapeflow.framework.tape import GradientTape
from tapeflow.keras import backend as K
from tapeflow.keras.layers import layer as layer_mod
from tapeflow.keras.layers import recurrent

rng = np.random.default_rng(2026)
L = keras.layers


def _f(*shape, dtype="float32"):
    return rng.standard_normal(shape).astype(dtype)


def _np(v):
    if v is None:
        return None
    if isinstance(v, dict):
        return {k: _np(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_np(u) for u in v)
    return tf.convert_to_tensor(v).numpy()


def _assert_same(a, b):
    if a is None or b is None:
        assert a is None and b is None
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _assert_same(u, v)
    elif isinstance(a, (bool, int, str)):
        assert a == b
    else:
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def op_walk(monkeypatch):
    """Makes every ``gradient`` call take the op walk (the reference for the raw one)."""
    def use_op_walk():
        monkeypatch.setattr(GradientTape, "_backward_raw", GradientTape._backward)
    return use_op_walk


# ------------------------------------------------------------------ the raw backward walk
def _persistent_twice():
    x, v = tf.constant(_f(3)), tf.Variable(_f(3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.reduce_sum(x * v * v)
        z = tf.tanh(x) * 2.0
    first = _np(tape.gradient(y, [x, v]))
    kept = copy.deepcopy(first)
    second = _np(tape.gradient(y, [x, v]))
    tape.gradient(z, x)
    _assert_same(first, kept)   # an earlier result is not changed by later calls
    return [first, second, _np(tape.gradient([y, z], {"a": x, "b": (v,)}))]


def _unwatched_variables():
    x, v, w = tf.constant(_f(3)), tf.Variable(_f(3)), tf.Variable(_f(3))
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(w)
        y = tf.reduce_sum(v * x * w)
    return [_np(tape.gradient(y, [v, w])), [id(u) for u in tape.watched_variables()] ==
            [id(w)]]


def _output_gradients_nested_targets():
    x = tf.constant(_f(2, 3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = x * 3.0, tf.reduce_sum(x ** 2, axis=1)
    og = [tf.constant(_f(2, 3)), None, tf.constant(_f(2))]
    return [_np(tape.gradient([a, a, b], x, output_gradients=og)),       # a target used twice
            _np(tape.gradient({"p": a, "q": [b, (a,)]}, [x])),
            _np(tape.gradient(x, x)), _np(tape.gradient(a, x, output_gradients=_f(2, 3)))]


def _unconnected_and_integer_sources():
    x, unused, i = tf.constant(_f(3)), tf.constant(_f(2)), tf.constant([1, 2, 3])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, unused, i])
        y = tf.reduce_sum(x * tf.cast(i, tf.float32))
    return [_np(tape.gradient(y, [x, unused, i])),
            _np(tape.gradient(y, (x, unused, i), unconnected_gradients="zero")),
            _np(tape.gradient(y, {"u": unused},
                              unconnected_gradients=tf.UnconnectedGradients.ZERO))]


def _stop_and_custom_gradient():
    @tf.custom_gradient
    def clip_grad(a):
        def grad(dy):
            return tf.clip_by_value(dy, -0.5, 0.5)
        return tf.identity(a), grad

    x, v = tf.constant(_f(4)), tf.Variable(_f(4))
    with tf.GradientTape() as tape:
        tape.watch(x)
        r1, r2 = v * 2.0, v + 1.0        # the variable read twice
        y = tf.reduce_sum(tf.stop_gradient(x) * x + clip_grad(x * 3.0) * r1 * r2)
    return _np(tape.gradient(y, [x, v]))


def _jacobians():
    x = tf.constant(_f(3, 2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.sin(x) * x
    return [_np(tape.jacobian(y, x)), _np(tape.batch_jacobian(y, x))]


def _float16_and_complex():
    h = tf.constant(_f(4, dtype="float16"))
    c = tf.constant((_f(3) + 1j * _f(3)).astype(np.complex64))
    with tf.GradientTape() as tape:
        tape.watch([h, c])
        y = tf.reduce_sum(tf.cast(h, tf.float32) * 3.0) + \
            tf.cast(tf.reduce_sum(h * h), tf.float32)
        z = tf.reduce_sum(c * c)
    return _np(tape.gradient([y, z], [h, c]))


def _in_tf_function():
    @tf.function
    def step(a):
        with tf.GradientTape() as tape:
            tape.watch(a)
            y = tf.reduce_sum(a ** 3)
        return tape.gradient(y, a)
    return _np(step(tf.constant(_f(3))))


def _gather_gradients():
    p = tf.Variable(_f(5, 3, 2))
    with tf.GradientTape(persistent=True) as tape:
        a = tf.gather(p, [[0, 4], [4, 4]])
        b = tf.gather(p, [[2, 0, 2]] * 5, axis=1, batch_dims=1)
        c = tf.gather(tf.transpose(p, [1, 0, 2]), [1, 1, 3], axis=1)
        y = tf.reduce_sum(a * a) + tf.reduce_sum(b * 3.0) + tf.reduce_sum(tf.sin(c))
    return [_np(tape.gradient(y, p)), _np(tape.gradient(tf.gather(p, 3), p))]


TAPE_CASES = {f.__name__.lstrip("_"): f for f in (
    _persistent_twice, _unwatched_variables, _output_gradients_nested_targets,
    _unconnected_and_integer_sources, _stop_and_custom_gradient, _jacobians,
    _float16_and_complex, _in_tf_function, _gather_gradients)}


@pytest.mark.parametrize("name", sorted(TAPE_CASES))
def test_raw_walk_matches_the_op_walk(name, op_walk):
    state = rng.bit_generator.state
    raw = TAPE_CASES[name]()
    rng.bit_generator.state = state    # the same inputs for the reference
    op_walk()
    ref = TAPE_CASES[name]()
    _assert_same(raw, ref)


def test_nested_tapes_second_order():
    """The inner gradient runs while the outer tape records: it must be the op walk (recorded),
    and the result is the analytic second derivative."""
    x = tf.constant(_f(4, dtype="float64"))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.sin(x) * x)
        g = inner.gradient(y, x)
    xv = x.numpy()
    np.testing.assert_allclose(g.numpy(), np.cos(xv) * xv + np.sin(xv), rtol=1e-12)
    np.testing.assert_allclose(outer.gradient(g, x).numpy(),
                               2 * np.cos(xv) - xv * np.sin(xv), rtol=1e-12)
    # a paused outer tape does not record: the gradient is then a constant to it
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(x ** 3)
        with outer.stop_recording():
            g = inner.gradient(y, x)
    assert outer.gradient(g, x) is None


def test_raw_gradients_of_two_sources_are_independent_tensors():
    # y = a + b hands the same upstream array to both sources; the results must each be a
    # plain, usable Tensor (an optimizer may update with one and not the other)
    a, b = tf.Variable([1.0, 2.0]), tf.Variable([3.0, 4.0])
    with tf.GradientTape() as tape:
        y = a + b
    ga, gb = tape.gradient(y, [a, b])
    assert type(ga) is tf.Tensor and type(gb) is tf.Tensor and ga is not gb
    a.assign_sub(ga)
    np.testing.assert_array_equal(gb.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(a.numpy(), [0.0, 1.0])


# ------------------------------------------------------------------ Layer.__call__ plain path
@pytest.fixture
def general_call(monkeypatch):
    """Makes ``Layer.__call__`` skip its plain path (the reference for it)."""
    def use_general_path():
        monkeypatch.setattr(layer_mod, "_BASE_CALL_KWARGS", object())
    return use_general_path


class _KwOnly(L.Layer):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = []
        self.supports_masking = True

    def call(self, x, *, training=None, mask=None):
        self.seen.append((training, None if mask is None else mask.numpy().tolist(),
                          K.current_path()))
        return x * 2.0


class _Outer(L.Layer):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.inner = _KwOnly(name="inner")

    def call(self, x, training=None):
        return self.inner(x)


class _OwnCall(L.Layer):
    def __call__(self, x, **kw):
        self.flags = kw
        return super().__call__(x, **kw) + 1.0

    def call(self, x, training=None):
        return x * (3.0 if training else 2.0)


class _HalfMask(L.Layer):
    """Overrides ``compute_mask``: its output mask is set by the plain path too."""

    def call(self, x):
        return x + 1.0

    def compute_mask(self, inputs, previous_mask=None):
        return tf.constant([True, False])


class _AddsLoss(L.Layer):
    def call(self, x):
        self.add_loss(tf.reduce_mean(x) * 0.5)
        return x


def _call_scenarios():
    keras.utils.set_random_seed(7)
    r = np.random.default_rng(7)
    out = {}
    x = tf.constant(r.standard_normal((2, 4)).astype(np.float32))
    outer = _Outer(name="outer")
    for flag in (None, True, False):
        kw = {} if flag is None else {"training": flag}
        out[f"outer_{flag}"] = _np(outer(x, **kw))
    out["outer_seen"] = outer.inner.seen
    own = _OwnCall()
    out["own"] = [_np(own(x, training=True)), own.flags, _np(own(x))]
    half = _HalfMask()(x)
    out["own_mask"] = _np(half._keras_mask)
    kw_only = _KwOnly()
    kw_only(half)
    out["own_mask_seen"] = kw_only.seen[-1][:2]
    # masks: Embedding(mask_zero) -> keyword-only mask layer -> LSTM (all-zero row included)
    emb, kw_only = L.Embedding(10, 4, mask_zero=True), _KwOnly()
    lstm = L.LSTM(3, return_sequences=True)
    ids = tf.constant([[1, 2, 0, 0], [0, 0, 0, 0], [3, 4, 5, 6]])
    with tf.GradientTape() as tape:
        h = kw_only(emb(ids), training=True)
        seq = lstm(h)
        loss = tf.reduce_sum(seq ** 2)
    out["mask_seen"] = [s[:2] for s in kw_only.seen]
    out["mask"] = [_np(h._keras_mask), _np(seq._keras_mask), _np(seq)]
    out["mask_grads"] = _np(tape.gradient(loss, emb.trainable_weights + lstm.trainable_weights))
    # activity regularizer and add_loss, in a model and alone
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, activity_regularizer="l2"),
                              _AddsLoss(), L.Dropout(0.5, seed=1)])
    out["model"] = [_np(model(x, training=True)), _np(model.losses), _np(model(x)),
                    _np(model.losses)]
    # mixed precision: inputs cast to float16, variables float32
    keras.config.set_dtype_policy("mixed_float16")
    try:
        dense = L.Dense(2)
        y = dense(x)
        out["mixed"] = [_np(y), str(dense.kernel.dtype)]
    finally:
        keras.config.set_dtype_policy("float32")
    out["float64_in"] = _np(L.Dense(2)(tf.constant(r.standard_normal((2, 3)))))
    # input checks, message text included
    errors = []
    for layer, bad in ((L.Dense(2), tf.ones((2, 5))), (L.Conv2D(2, 3), tf.ones((2, 4, 4))),
                       (L.LSTM(2), tf.ones((2, 4)))):
        if isinstance(layer, L.Dense):
            layer(tf.ones((2, 3)))
        with pytest.raises(ValueError) as err:
            layer(bad)
        errors.append(str(err.value).replace(layer.name, "<name>"))
    out["errors"] = errors
    return out


def test_plain_call_matches_the_general_path(general_call):
    K.clear_session()
    fast = _call_scenarios()
    K.clear_session()
    general_call()
    ref = _call_scenarios()
    assert fast.keys() == ref.keys()
    for key in fast:
        a, b = fast[key], ref[key]
        if key in ("outer_seen", "mask_seen", "errors", "own_mask_seen"):
            assert a == b, key
        elif key == "own":
            _assert_same([a[0], a[2]], [b[0], b[2]])
            assert a[1] == b[1] == {"training": True}
        elif key == "mixed":
            _assert_same(a[0], b[0])
            assert a[1] == b[1] == "<dtype: 'float32'>"
        else:
            _assert_same(a, b)
    assert [s[0] for s in fast["outer_seen"]] == [None, True, False]   # inherited flags
    assert fast["own_mask_seen"] == (None, [True, False])
    assert fast["mixed"][0].dtype == np.float16
    assert fast["errors"][0] == ('Input 0 of layer "<name>" is incompatible with the layer: '
                                 'expected axis -1 of input shape to have value 3, but received '
                                 'input with shape (2, 5)')


# ------------------------------------------------------------------ cached weights / walks
from test_step_overhead import _fresh_weights  # noqa: E402 - the uncached walk, shared


def _fresh_sublayers(layer):
    out, seen = [], set()

    def walk(layers):
        for sub in layers:
            if id(sub) not in seen:
                seen.add(id(sub))
                out.append(sub)
                walk(sub._layers)
    walk(layer._layers)
    return out


def _check(*layers):
    for layer in layers:
        ws = _fresh_weights(layer)
        assert [id(w) for w in layer.weights] == [id(w) for w in ws]
        want_t = [] if not layer.trainable else [w for w in ws if w.trainable]
        assert [id(w) for w in layer.trainable_weights] == [id(w) for w in want_t]
        assert [id(w) for w in layer.non_trainable_weights] == \
            [id(w) for w in ws if not any(w is t for t in want_t)]
        assert [id(s) for s in layer._memo_sublayers()] == \
            [id(s) for s in _fresh_sublayers(layer)]


class _Lazy(L.Layer):
    """Creates its sub-layers inside ``call`` and keeps them in a list, a dict and a tuple."""

    def call(self, x):
        if not hasattr(self, "blocks"):
            self.blocks = [L.Dense(4)]
            self.named = {"a": L.Dense(4)}
            self.pair = (L.Dense(4),)
        for b in list(self.blocks) + list(getattr(self, "named", {}).values()) + \
                list(self.pair):
            x = b(x)
        return x


def test_weights_cache_follows_structure_changes():
    x = tf.constant(_f(2, 4))
    lazy = _Lazy()
    model = keras.Sequential([keras.Input((4,)), lazy, L.Dense(2)])
    _check(model, lazy)
    lazy.blocks.append(L.Dense(4))                       # a tracked list grows
    lazy.named["b"] = L.Dense(4)                         # a tracked dict grows
    model(x)
    _check(model, lazy)
    assert len(model.weights) == 2 * 6
    w = lazy.add_weight(shape=(3,), name="late")         # a variable added after build
    _check(model, lazy)
    assert any(v is w for v in model.trainable_weights)
    lazy.named["b"].trainable = False                    # a nested layer frozen
    _check(model, lazy)
    lazy.blocks[0].kernel.trainable = False              # one variable frozen
    _check(model, lazy)
    del lazy.named                                       # an attribute removed
    _check(model, lazy)
    model.layers.append(L.Dense(7))                      # a copy, as in Keras: no change
    _check(model, lazy)
    assert len(model.layers) == 2
    model.pop()
    model.add(L.Dense(5))
    model(x)
    _check(model, lazy)
    lazy.trainable = False
    _check(model, lazy)
    lazy.trainable = True
    _check(model, lazy)


def test_weights_cache_shared_layers_copies_and_loading(tmp_path):
    x = tf.constant(_f(2, 3))
    shared = L.Dense(4)
    inp = keras.Input((3,))
    functional = keras.Model(inp, L.Dense(1)(shared(inp)))
    seq = keras.Sequential([keras.Input((3,)), shared, L.Dense(2)])
    _check(functional, seq)
    shared.trainable = False                             # seen by both models
    _check(functional, seq)
    assert len(functional.trainable_weights) == 2 and len(seq.trainable_weights) == 2
    shared.trainable = True
    clone = keras.models.clone_model(seq)
    twin = copy.deepcopy(seq)
    _check(clone, twin, seq)
    assert not any(a is b for a, b in zip(twin.weights, seq.weights))
    twin.add(L.Dense(1))
    twin(x)
    _check(twin, seq)
    assert len(seq.weights) == 4 and len(twin.weights) == 6
    path = str(tmp_path / "w.weights.h5")
    seq.save_weights(path)
    before = [id(w) for w in clone.weights]
    clone.load_weights(path)
    _check(clone)
    assert [id(w) for w in clone.weights] == before
    for a, b in zip(clone.weights, seq.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_freezing_after_fit_takes_effect_and_recompiling_too():
    """Keras 3 (docs, "Transfer learning": "if you change any trainable value, make sure to call
    compile() again") expects a recompile; with the TF backend, Keras 3.15 keeps training a layer
    frozen after ``fit`` until then (its traced train function holds the old variable list).
    tapeflow reads ``trainable_variables`` every step (the cache must follow the flag), so the
    freeze takes effect at once, and after a recompile as in Keras."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((3,))
    d1, d2 = L.Dense(4), L.Dense(1)
    model = keras.Model(inp, d2(d1(inp)))
    model.compile("adam", "mse")
    x = _f(16, 3)
    y = x.sum(1, keepdims=True)
    model.fit(x, y, batch_size=4, verbose=0)
    d1.trainable = False
    k1, k2 = d1.kernel.numpy().copy(), d2.kernel.numpy().copy()
    model.fit(x, y, batch_size=4, verbose=0)
    np.testing.assert_array_equal(d1.kernel.numpy(), k1)
    assert not np.array_equal(d2.kernel.numpy(), k2)
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=4, verbose=0)
    np.testing.assert_array_equal(d1.kernel.numpy(), k1)
    d1.trainable = True
    d2.kernel.trainable = False
    k2 = d2.kernel.numpy().copy()
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=4, verbose=0)
    np.testing.assert_array_equal(d2.kernel.numpy(), k2)
    assert not np.array_equal(d1.kernel.numpy(), k1)


# ------------------------------------------------------------------ LSTM buffers, Embedding
@pytest.fixture
def step_loop(monkeypatch):
    def use_step_loop():
        monkeypatch.setattr(recurrent._FusedRNN, "_fused", lambda self, training: None)
    return use_step_loop


def _lstm_scenarios(dtype):
    """Every result (outputs, states, gradients) of several LSTM uses, computed in an order that
    would expose a result aliasing a recycled buffer: later calls run before the comparison."""
    keras.utils.set_random_seed(3)
    r = np.random.default_rng(4)

    def arr(*s):
        return tf.constant(r.standard_normal(s).astype(dtype))

    results = []
    # two LSTMs in one model, an all-masked row, a batch of 1 and a long sequence (> a chunk)
    for ids_shape in ((3, 37), (1, 5)):
        ids = r.integers(0, 9, size=ids_shape)
        ids[0, -3:] = 0
        if ids_shape[0] > 1:
            ids[1] = 0
        emb = L.Embedding(9, 4, mask_zero=True, dtype=dtype)
        l1 = L.LSTM(5, return_sequences=True, dtype=dtype)
        l2 = L.LSTM(3, return_state=True, dtype=dtype)
        with tf.GradientTape(persistent=True) as tape:
            h = l1(emb(tf.constant(ids)))
            out, hs, cs = l2(h)
            loss = tf.reduce_sum(out ** 2) + tf.reduce_sum(cs) + tf.reduce_sum(h * 0.5)
        weights = emb.trainable_weights + l1.trainable_weights + l2.trainable_weights
        results += [h, out, hs, cs] + tape.gradient(loss, weights)
        results += tape.gradient(loss, weights)          # a persistent tape asked twice
    # the same LSTM twice in one tape; go_backwards; Bidirectional
    lay = L.LSTM(4, return_sequences=True, go_backwards=True, dtype=dtype)
    bi = L.Bidirectional(L.LSTM(2, return_sequences=True, dtype=dtype))
    x = arr(2, 19, 4)
    with tf.GradientTape() as tape:
        tape.watch(x)
        a = lay(x)
        b = lay(a * 2.0)
        c = bi(b)
        loss = tf.reduce_sum(a) + tf.reduce_sum(b ** 2) + tf.reduce_sum(c ** 2)
    results += [a, b, c] + tape.gradient(loss, [x] + lay.trainable_weights +
                                         bi.trainable_weights)
    # stateful: the state carried across calls
    st = L.LSTM(3, stateful=True, dtype=dtype)
    results += [st(arr(2, 6, 3)), st(arr(2, 6, 3))]
    return [np.array(_np(t), copy=True) for t in results], [_np(t) for t in results]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_results_survive_later_calls_and_match_the_step_loop(dtype, step_loop):
    copies, held = _lstm_scenarios(dtype)
    _lstm_scenarios(dtype)               # more calls reuse the recycled buffers
    for c, h in zip(copies, held, strict=True):
        np.testing.assert_array_equal(c, h)
    step_loop()
    ref, _ = _lstm_scenarios(dtype)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)
    for got, want in zip(copies, ref, strict=True):
        np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("ishape,axis,batch_dims", [((4,), 0, 0), ((), 0, 0), ((3, 5), 0, 0),
                                                    ((0,), 0, 0), ((3,), 1, 0),
                                                    ((6, 3), 1, 1)])
@pytest.mark.parametrize("layout", ["c", "transposed"])
def test_gather_gradient_against_add_at(ishape, axis, batch_dims, layout):
    base = _f(6, 4, 2, dtype="float64")
    params = base if layout == "c" else np.ascontiguousarray(base.transpose(1, 0, 2)).transpose(
        1, 0, 2)                                        # the same values, not C-ordered
    idx = rng.integers(0, params.shape[axis], size=ishape)
    p = tf.constant(params)
    with tf.GradientTape() as tape:
        tape.watch(p)
        y = tf.gather(p, tf.constant(idx, dtype=tf.int64), axis=axis, batch_dims=batch_dims)
        cot = rng.standard_normal(y.shape)
        loss = tf.reduce_sum(y * cot)
    got = _np(tape.gradient(loss, p))
    want = np.zeros(params.shape)
    if batch_dims:
        for i in range(params.shape[0]):
            np.add.at(want[i], idx[i], cot[i])
    else:
        moved = np.moveaxis(want, axis, 0)
        np.add.at(moved, idx.reshape(-1), np.moveaxis(
            cot, axis, 0).reshape((idx.size,) + moved.shape[1:]) if axis else
            cot.reshape((idx.size,) + moved.shape[1:]))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_gather_rejects_out_of_range_ids_before_any_gradient():
    p = tf.Variable(_f(5, 2))
    for bad in ([5, 0], [-1, 0]):
        with tf.GradientTape() as tape, pytest.raises(tf.errors.InvalidArgumentError):
            tf.gather(p, bad)
        del tape


# ------------------------------------------------------------------ BLAS threads
def _blas_threads():
    return [lib.get_num_threads() for lib in blas._state["libs"] or []]


@pytest.fixture
def openblas():
    pytest.importorskip("threadpoolctl")
    if not blas._libs():
        pytest.skip("NumPy's BLAS is not an OpenBLAS that threadpoolctl can switch")


def _small_model():
    model = keras.Sequential([keras.Input((784,)), L.Dense(256), L.Dense(1)])
    model.compile("sgd", "mse")
    return model


def test_threads_restored_after_exceptions_and_nested_loops(openblas):
    default = _blas_threads()
    x, y = np.full((256, 784), 0.01, np.float32), np.full((256, 1), 0.01, np.float32)

    class Nested(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.predict(x[:128], verbose=0, batch_size=128)
            self.model.evaluate(x[:128], y[:128], verbose=0, batch_size=128)

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                raise KeyboardInterrupt

    class Boom(L.Layer):
        def call(self, t, training=None):
            if training:
                raise RuntimeError("boom")
            return t

    model = _small_model()
    model.fit(x, y, batch_size=128, verbose=0, callbacks=[Nested()])
    assert blas._state["single"] == 0 and blas._state["mode"] is None
    assert _blas_threads() == default
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=64, verbose=0, callbacks=[Interrupt()])
    assert blas._state["single"] == 0 and blas._state["mode"] is None
    assert _blas_threads() == default
    broken = keras.Sequential([keras.Input((784,)), L.Dense(256), Boom()])
    broken.compile("sgd", "mse")
    with pytest.raises(RuntimeError, match="boom"):
        broken.fit(x, np.ones((256, 256), np.float32), batch_size=128, verbose=0)
    assert blas._state["single"] == 0 and blas._state["mode"] is None
    assert _blas_threads() == default
    model.fit(x, y, batch_size=128, verbose=0)            # and training goes on normally
    assert _blas_threads() == default


def test_a_callers_thread_limit_is_kept(openblas):
    """Inside ``threadpoolctl.threadpool_limits(1)`` the Keras loops and large products used to
    set NumPy's BLAS back to its count at import when they finished, so the caller's code after
    ``fit``/``predict`` ran on every core against its own limit."""
    import threadpoolctl  # noqa: PLC0415 - optional

    default = _blas_threads()
    model = _small_model()
    x, y = np.full((256, 784), 0.01, np.float32), np.full((256, 1), 0.01, np.float32)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        model.fit(x, y, batch_size=128, verbose=0)
        assert _blas_threads() == [1] * len(default)
        model.predict(np.ones((1024, 784), np.float32), batch_size=1024, verbose=0)
        model.evaluate(x, y, verbose=0)
        assert _blas_threads() == [1] * len(default)
        blas.dot(np.ones((4096, 784), np.float32), np.ones((784, 256), np.float32))
        assert _blas_threads() == [1] * len(default)
    assert _blas_threads() == default
