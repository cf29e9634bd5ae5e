"""The per-step fast paths of ``fit`` (issue 7) against the general paths they stand in for.

- ``GradientTape._backward_raw`` (the backward walk on raw arrays) against ``_backward`` (the walk
  on Tensors), bit for bit, over ops with and without raw gradients, broadcasting, casts,
  several outputs, gradients summed into one tensor and output gradients.
- the closed-form raw gradient of the fused MSE op against the chain of the three ops' raw
  gradients, bit for bit.
- ``Layer.__call__``'s plain path (one Tensor, a ``training`` flag): training inheritance, masks,
  autocast, input checks, ``add_loss``, name scopes.
- the cached ``weights`` / sub-layer walk: invalidated by every change that alters them.
- the shuffled batch gather (``ndarray.take``) and the single-output compiled loss.
"""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.keras import backend as K
from tapeflow.keras.data_adapter import EpochIterator
from tapeflow.ops import fused_ops

rng = np.random.default_rng(11)


def _f(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ raw backward walk
def _both_walks(fn, args, output_gradients=None):
    args = [tf.constant(a) for a in args]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(args)
        y = fn(*args)
    og = [output_gradients]
    wrapped = tape._backward([y], og)            # Tensors (raw gradients where registered)
    raw = tape._backward_raw([y], og)            # arrays
    return args, wrapped, raw, tape.gradient(y, args, output_gradients=output_gradients)


WALKS = {
    # broadcasting (unbroadcast sums), the same tensor used twice (summed gradients)
    "broadcast_and_reuse": (lambda x, b: tf.reduce_sum((x + b) * x + tf.tanh(b)),
                            [_f(3, 4), _f(4)]),
    "size_one_axes": (lambda x, b: tf.reduce_mean(x * b - b), [_f(3, 4), _f(3, 1)]),
    # ops without a raw gradient (op-based `grad` inside the raw walk)
    "no_raw_grad": (lambda x: tf.reduce_sum(tf.sin(x) * tf.reduce_max(x, axis=1,
                                                                      keepdims=True)),
                    [_f(3, 5)]),
    # several outputs, one of them unused (zeros for it)
    "split_one_used": (lambda x: tf.reduce_sum(tf.split(x, 2, axis=1)[0] ** 2), [_f(2, 6)]),
    "unstack_both": (lambda x: tf.reduce_sum(tf.unstack(x)[0] * tf.unstack(x)[1]), [_f(2, 3)]),
    # a cast in the middle (the gradient is cast back to float16)
    "cast": (lambda x: tf.reduce_sum(tf.cast(x, tf.float32) * 3.0), [_f(4, dtype=np.float16)]),
    "float64": (lambda x, y: tf.reduce_sum(tf.matmul(x, y)), [_f(3, 2, dtype=np.float64),
                                                              _f(2, 4, dtype=np.float64)]),
    "fused_dense": (lambda x, k, b: tf.reduce_mean(fused_ops.fused_dense(x, k, b, "relu")),
                    [_f(5, 3), _f(3, 4), _f(4)]),
    "mse": (lambda p, t: fused_ops.mse_mean(p, t), [_f(7, 3), _f(7, 3)]),
}


@pytest.mark.parametrize("name", sorted(WALKS))
def test_raw_walk_matches_the_tensor_walk(name):
    fn, args = WALKS[name]
    args, wrapped, raw, grads = _both_walks(fn, args)
    assert set(wrapped) == set(raw)
    for key, g in wrapped.items():
        assert isinstance(raw[key], np.ndarray)
        assert raw[key].dtype == g._value.dtype and raw[key].shape == g._value.shape
        np.testing.assert_array_equal(raw[key], g._value)
    for a, g in zip(args, grads):   # what `gradient` returns: Tensors of the raw walk
        assert type(g) is tf.Tensor
        np.testing.assert_array_equal(g.numpy(), wrapped[id(a)].numpy())


def test_raw_walk_with_output_gradients():
    fn = lambda x: x * x + 1.0   # noqa: E731
    og = tf.constant(np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32))
    args, wrapped, raw, grads = _both_walks(fn, [_f(2, 3)], output_gradients=og)
    np.testing.assert_array_equal(raw[id(args[0])], wrapped[id(args[0])].numpy())
    np.testing.assert_array_equal(grads[0].numpy(), 2 * args[0].numpy() * og.numpy())


def test_gradient_sources_unconnected_and_integer():
    x = tf.constant([1.0, 2.0])
    z = tf.constant([3.0])
    i = tf.constant([1, 2])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, z, i])
        y = tf.reduce_sum(x * x) + tf.cast(tf.reduce_sum(i), tf.float32)
    gx, gz, gi = tape.gradient(y, [x, z, i])
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert gz is None and gi is None
    gx, gz = tape.gradient(y, (x, z), unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(gz.numpy(), [0.0])
    assert tape.gradient(y, {"a": x})["a"].numpy().tolist() == [2.0, 4.0]


def test_nested_tapes_still_use_the_recorded_backward():
    x = tf.constant(3.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        dy = inner.gradient(y, x)
    assert float(dy) == 27.0 and float(outer.gradient(dy, x)) == 18.0


# ------------------------------------------------------------------ fused MSE gradient
@pytest.mark.parametrize("shape", [(6, 1), (7, 3), (3, 5, 7), (1, 1), (32, 1)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("dy", [1.0, 0.37, -3.0])
def test_mse_closed_form_raw_gradient_matches_the_chain(shape, dtype, dy):
    yp, yt = tf.constant(_f(*shape, dtype=dtype)), tf.constant(_f(*shape, dtype=dtype))
    with tf.GradientTape() as tape:
        tape.watch([yp, yt])
        fused_ops.mse_mean(yp, yt)
    (rec,) = tape._records
    for d in (np.asarray(dy, dtype=dtype), np.full((1,), dy, dtype=dtype)):
        closed = fused_ops._mse_raw_grad(rec, d)
        chain = fused_ops._mse_grad_chain(rec, d, raw=True)
        for a, b in zip(closed, chain):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    # a multi-element upstream gradient is left to the chain (which reports the misfit)
    with pytest.raises(ValueError):
        fused_ops._mse_raw_grad(rec, np.ones((2,), dtype=dtype))


# ------------------------------------------------------------------ Layer.__call__ plain path
class _Probe(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=None, mask=None):
        self.seen.append((training, None if mask is None else mask.numpy().tolist(),
                          K.current_path()))
        return x * 2.0


class _NoFlags(keras.layers.Layer):
    def call(self, x):
        return x + 1.0


def test_plain_call_training_flag():
    probe = _Probe(name="probe")
    x = tf.constant([[1.0, 2.0]])
    probe(x)
    probe(x, training=True)
    probe(x, training=False)
    assert [s[0] for s in probe.seen] == [None, True, False]
    assert probe.seen[0][2] == "probe"   # its name on the scope during `call`
    # inherited from the outer call, overridden by an explicit flag
    model = keras.Sequential([keras.Input((2,)), probe, _NoFlags()])
    n = len(probe.seen)   # (building the model called it on placeholders)
    model(x, training=True)
    model(x, training=False)
    assert [s[0] for s in probe.seen[n:]] == [True, False]
    assert _NoFlags()(x, training=True).numpy().tolist() == [[2.0, 3.0]]


def test_plain_call_masks_and_autocast():
    probe = _Probe()
    probe.supports_masking = True   # passes the input mask on
    x = tf.constant([[1.0, 0.0, 3.0]])
    masked = keras.layers.Masking(0.0)(tf.reshape(x, (1, 3, 1)))
    out = probe(masked)
    assert probe.seen[-1][1] == [[True, False, True]]
    assert out._keras_mask.numpy().tolist() == [[True, False, True]]
    out64 = probe(tf.constant([[1.0, 2.0]], dtype=tf.float64))   # autocast to float32
    assert out64.dtype == tf.float32
    assert keras.layers.Layer(autocast=False, dtype="float32").__call__ is not None


def test_plain_call_input_spec_error_and_add_loss():
    dense = keras.layers.Dense(2)
    dense(tf.ones((1, 3)))
    with pytest.raises(ValueError, match=r'layer "dense.*expected axis -1 of input shape to '
                                         r'have value 3, but received input with shape \(1, 4\)'):
        dense(tf.ones((1, 4)))

    class AddsLoss(keras.layers.Layer):
        def call(self, x):
            self.add_loss(tf.reduce_sum(x))
            return x
    layer = AddsLoss()
    layer(tf.ones((1, 2)))
    layer(tf.ones((1, 3)))
    assert [float(v) for v in layer.losses] == [3.0]   # the previous call's loss is gone


# ------------------------------------------------------------------ cached weights
def _ids(ws):
    return [id(w) for w in ws]


def _fresh_weights(layer):
    out, seen = [], set()
    for w in layer._trainable_variables + layer._non_trainable_variables:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    for sub in layer._layers:
        for w in _fresh_weights(sub):
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
    return out


def test_weights_memo_follows_every_change():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                              keras.layers.Dense(2)])
    assert _ids(model.weights) == _ids(_fresh_weights(model)) and len(model.weights) == 4
    model.add(keras.layers.Dense(1))                    # a new layer
    assert len(model.trainable_variables) == 6
    model.pop()                                         # removed again
    assert len(model.trainable_variables) == 4
    model.layers[0].trainable = False                   # a layer frozen
    assert _ids(model.trainable_variables) == _ids(model.layers[1].weights)
    assert len(model.non_trainable_variables) == 2
    model.layers[0].trainable = True
    model.layers[1].bias.trainable = False              # one variable frozen
    assert id(model.layers[1].bias) not in _ids(model.trainable_variables)
    model.layers[1].bias.trainable = True
    assert _ids(model.trainable_variables) == _ids(_fresh_weights(model))
    # the returned lists are copies: changing one changes nothing else
    model.weights.clear()
    assert len(model.weights) == 4


def test_weights_memo_in_a_subclassed_model():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = keras.layers.Dense(2)
            self.blocks = []

        def call(self, x):
            for b in self.blocks:
                x = b(x)
            return self.a(x)

    net = Net()
    net(tf.ones((1, 3)))
    assert len(net.weights) == 2
    net.blocks.append(keras.layers.Dense(3))   # a tracked list grows
    net(tf.ones((1, 3)))
    assert len(net.weights) == 4
    net.extra = tf.Variable(1.0)                # a variable attribute
    assert len(net.weights) == 5
    del net.extra
    assert len(net.weights) == 4
    w = net.a.add_weight(shape=(1,), name="late")   # a weight added after the build
    assert id(w) in _ids(net.weights)
    assert _ids(net.weights) == _ids(_fresh_weights(net))
    net.a = keras.layers.Dense(1)                   # a layer attribute replaced
    net(tf.ones((1, 3)))
    assert _ids(net.weights) == _ids(_fresh_weights(net))
    net.state = np.ones(3)                          # plain per-call state: weights unchanged
    assert _ids(net.weights) == _ids(_fresh_weights(net))
    net._layers = [net.a]                           # the internal list itself replaced
    assert _ids(net.weights) == _ids(_fresh_weights(net)) and len(net.weights) == 2


def test_a_layer_that_redefines_weights_is_asked_each_time():
    class Dynamic(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.pool = [tf.Variable(1.0)]

        @property
        def weights(self):
            return list(self.pool)

    dyn = Dynamic()
    outer = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    outer.dyn = dyn
    n = len(outer.weights)
    dyn.pool.append(tf.Variable(2.0))   # not a tracked change: only `weights` knows
    assert len(outer.weights) == n + 1


def test_metrics_follow_new_sublayers():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = model._memo_sublayers()
    model.add(keras.layers.Dense(1))
    assert len(model._memo_sublayers()) == len(before) + 1
    assert model.metrics_names == ["loss"]


# ------------------------------------------------------------------ batches and compiled loss
@pytest.mark.parametrize("layout", ["c", "f", "strided", "dict"])
def test_shuffled_batches_are_the_indexed_rows(layout):
    x = rng.standard_normal((10, 4, 3)).astype(np.float32)
    if layout == "f":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = rng.standard_normal((10, 8, 3)).astype(np.float32)[:, ::2]
    y = np.arange(10)
    data = {"a": x, "b": x[:, :1]} if layout == "dict" else x
    keras.utils.set_random_seed(3)
    it = EpochIterator(data, y, batch_size=4, shuffle=True)
    batches = [b for _, b in it.enumerate_epoch()]
    seen = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for bx, by in batches:
        rows = by.numpy()
        if layout == "dict":
            np.testing.assert_array_equal(bx["a"].numpy(), x[rows])
            np.testing.assert_array_equal(bx["b"].numpy(), x[:, :1][rows])
        else:
            np.testing.assert_array_equal(bx.numpy(), x[rows])
            assert bx.numpy().flags["C_CONTIGUOUS"]


def test_single_output_compiled_loss_matches_the_general_loop():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", loss_weights=0.5)
    yt, yp = tf.constant(_f(4, 2)), tf.constant(_f(4, 2))
    fast = model._compile_loss(yt, yp)
    general = model._compile_loss([yt], [yp])   # lists take the general loop
    assert float(fast) == float(general) == pytest.approx(
        0.5 * np.mean((yt.numpy() - yp.numpy()) ** 2))
    sw = tf.constant(np.array([1.0, 0.0, 1.0, 1.0], np.float32))
    assert float(model._compile_loss(yt, yp, sw)) == float(model._compile_loss([yt], [yp], sw))


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2), (0,), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_plain_loss_reduction_is_reduce_mean(shape, dtype):
    from tapeflow.keras.losses import reduce_weighted_values

    values = tf.constant((rng.standard_normal(shape) * 10).astype(dtype))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(values)
        fast = reduce_weighted_values(values)
        general = values if values.ndim == 0 or shape == (0,) else tf.reduce_mean(values)
    assert fast.dtype == general.dtype and fast.shape == general.shape
    np.testing.assert_array_equal(fast.numpy(), general.numpy())
    if dtype != np.int32 and shape not in ((0,), ()):
        np.testing.assert_array_equal(tape.gradient(fast, values).numpy(),
                                      tape.gradient(general, values).numpy())


def test_sequential_call_follows_added_and_popped_layers():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    x = tf.ones((1, 2))
    assert tuple(model(x).shape) == (1, 3)
    model.add(keras.layers.Dense(5))
    assert tuple(model(x).shape) == (1, 5)
    model.pop()
    assert tuple(model(x).shape) == (1, 3)
    model.layers[0].trainable = False   # (a flag change keeps the same layers)
    assert tuple(model(x, training=True).shape) == (1, 3)
