"""The optimizers' fast flat steps (``_fast_step`` of RMSprop, Adam/AdamW and SGD: scratch
buffers kept across steps, no temporaries, the gradients' copy fused with their first uses) give
the same numbers, bit for bit, as the reference paths: the per-variable ``update_step`` through
``_delta`` and the generic flat path (concatenated gradients through ``_delta``), over several
steps, with every option that touches the update, in float32 and float64, on odd shapes."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.keras.optimizers.optimizer import _has_fast_step

SHAPES = {
    "mlp": [(7, 5), (5,), (5, 3), (3,)],
    "scalar-and-3d": [(), (4,), (2, 3, 2)],
    "empty": [(0, 3), (4,), (2, 0)],
    "one-large": [(150, 130)],          # above the fused-gather threshold by default
}

SCHEDULE = {"class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5}}

CONFIGS = [
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "rho": 0.8}),
    ("RMSprop", {"weight_decay": 0.05, "clipnorm": 0.3}),
    ("RMSprop", {"use_ema": True, "ema_overwrite_frequency": 2, "global_clipnorm": 0.5}),
    ("RMSprop", {"learning_rate": SCHEDULE, "clipvalue": 0.05}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True, "learning_rate": 0.01}),
    ("Adam", {"weight_decay": 0.1, "clipnorm": 0.2, "beta_1": 0.5}),
    ("Adam", {"use_ema": True, "learning_rate": SCHEDULE}),
    ("AdamW", {"amsgrad": True}),
    ("AdamW", {"weight_decay": 0.3, "global_clipnorm": 1.0}),
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"momentum": 0.5, "nesterov": True, "weight_decay": 0.02, "clipnorm": 0.5}),
    ("SGD", {"use_ema": True, "clipvalue": 0.1, "learning_rate": SCHEDULE}),
    # no fast step: the generic flat path (gathering into a kept buffer) against update_step
    ("Adagrad", {}), ("Adadelta", {"learning_rate": 1.0}), ("Adamax", {}), ("Nadam", {}),
    ("Lion", {"learning_rate": 0.01}),
]


def _make(name, kwargs, mode):
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = keras.optimizers.schedules.deserialize(kwargs["learning_rate"])
    cls = getattr(keras.optimizers, name)
    if mode == "generic":
        # overriding _delta turns the fast step off: the concatenate + _delta path
        base = cls
        cls = type(name, (base,), {"_delta": lambda self, *a: base._delta(self, *a)})
    opt = cls(**kwargs)
    if mode == "reference":
        opt._flat = False                               # per-variable update_step
    elif mode == "fused":
        opt._FUSE_MIN_PER_VAR = 0
    elif mode == "concat":
        opt._FUSE_MIN_PER_VAR = 1 << 40
    return opt


def _run(name, kwargs, mode, shapes, dtype, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    variables = [tf.Variable(rng.standard_normal(s).astype(dtype)) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) * (0.1 + k) for s in shapes]
             for k in range(steps)]
    opt = _make(name, kwargs, mode)
    for k in range(steps):
        opt.apply_gradients([(tf.constant(g), v) for g, v in zip(grads[k], variables)])
    return opt, [v.numpy() for v in variables], [v.numpy() for v in opt.variables]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(x, y)


# float16 on small shapes only: the clip norms' sums of squares overflow it on large ones
@pytest.mark.parametrize("shapes,dtype", [(k, d) for k in SHAPES for d in (np.float32, np.float64)]
                         + [("mlp", np.float16), ("scalar-and-3d", np.float16)],
                         ids=lambda v: v if isinstance(v, str) else np.dtype(v).name)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c[0]}-{'-'.join(c[1]) or 'plain'}")
def test_fast_step_matches_reference_paths_bit_for_bit(config, shapes, dtype):
    name, kwargs = config
    _, ref_vars, ref_slots = _run(name, kwargs, "reference", SHAPES[shapes], dtype)
    modes = ["generic", "fused", "concat"] if _has_fast_step(getattr(keras.optimizers, name)) \
        else ["default"]
    for mode in modes:
        opt, got_vars, got_slots = _run(name, kwargs, mode, SHAPES[shapes], dtype)
        assert opt._flat is not False and opt._flat["fast"] == (mode in ("fused", "concat"))
        _assert_same(got_vars, ref_vars)
        _assert_same(got_slots, ref_slots)


@pytest.mark.parametrize("name", ["RMSprop", "Adam", "AdamW", "SGD"])
def test_fast_step_is_on_for_the_builtins_and_off_when_delta_is_overridden(name):
    cls = getattr(keras.optimizers, name)
    assert _has_fast_step(cls)
    custom = type("Custom", (cls,), {"_delta": lambda self, *a: cls._delta(self, *a)})
    assert not _has_fast_step(custom)
    assert not _has_fast_step(type("Sub", (custom,), {}))
    assert _has_fast_step(type("Renamed", (cls,), {}))
    assert not _has_fast_step(keras.optimizers.Adagrad)


@pytest.mark.parametrize("config", [("RMSprop", {"momentum": 0.9}), ("Adam", {}),
                                    ("SGD", {}), ("SGD", {"momentum": 0.9, "nesterov": True})],
                         ids=lambda c: c[0] + "-" + "-".join(c[1]))
@pytest.mark.parametrize("mode", ["fused", "concat"])
def test_gradients_that_alias_state_or_are_strided(config, mode):
    # A gradient may be the variable's own array (a variable read outside a tape shares it), a
    # broadcast view with zero strides, or a transposed view: the fast step reads every
    # gradient before it writes a variable, as the reference path does.
    name, kwargs = config
    results = []
    for m in ("reference", mode):
        rng = np.random.default_rng(3)
        a = tf.Variable(rng.standard_normal((6, 4)).astype(np.float32))
        b = tf.Variable(rng.standard_normal((4, 6)).astype(np.float32))
        c = tf.Variable(rng.standard_normal((5,)).astype(np.float32))
        opt = _make(name, kwargs, m)
        base = rng.standard_normal((6, 4)).astype(np.float32)
        for _ in range(3):
            grads = [a._value, base.T, np.broadcast_to(np.float32(0.5), (5,))]
            opt.apply(grads, [a, b, c])
        results.append([v.numpy() for v in (a, b, c)] + [v.numpy() for v in opt.variables])
    _assert_same(results[1], results[0])


@pytest.mark.parametrize("name", ["RMSprop", "Adam", "SGD"])
def test_missing_gradients_and_mixed_dtypes_use_the_per_variable_path(name):
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    outs = []
    for mode in ("reference", "default"):
        v32 = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
        v64 = tf.Variable(np.arange(3, dtype=np.float64))
        opt = _make(name, kwargs, mode)
        for k in range(3):
            opt.apply_gradients([(tf.constant(np.full((2, 3), 0.1 * k + 0.2, np.float32)), v32),
                                 (tf.constant(np.full(3, -0.3, np.float64)), v64)])
        assert opt._flat is False
        outs.append([v32.numpy(), v64.numpy()])
    _assert_same(outs[1], outs[0])
    # a None gradient on a flat optimizer: that step runs per variable, later ones flat again
    outs = []
    for mode in ("reference", "fused"):
        vs = [tf.Variable(np.ones((3, 2), np.float32)), tf.Variable(np.ones(2, np.float32))]
        opt = _make(name, kwargs, mode)
        g = [tf.constant(np.full((3, 2), 0.5, np.float32)), tf.constant(np.full(2, 2.0,
                                                                                np.float32))]
        opt.apply_gradients(zip(g, vs))
        with pytest.warns(UserWarning, match="Gradients do not exist"):
            opt.apply_gradients(zip([g[0], None], vs))
        opt.apply_gradients(zip(g, vs))
        outs.append([v.numpy() for v in vs] + [v.numpy() for v in opt.variables])
    _assert_same(outs[1], outs[0])


@pytest.mark.parametrize("config", [("RMSprop", {"centered": True, "momentum": 0.9}),
                                    ("Adam", {"amsgrad": True}), ("SGD", {"momentum": 0.9})],
                         ids=lambda c: c[0])
def test_state_round_trip_and_replaced_slot_arrays(config):
    # Loading state writes into the flat buffers in place (the slot Variables stay views); a
    # slot whose array is replaced makes the buffers rebuild; either way the numbers continue
    # as an uninterrupted run.
    name, kwargs = config
    shapes = SHAPES["mlp"]
    rng = np.random.default_rng(7)
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(6)]

    def fresh():
        return [tf.Variable(x) for x in init], _make(name, kwargs, "fused")

    vs, opt = fresh()
    for g in grads:
        opt.apply(g, vs)
    expected = [v.numpy() for v in vs] + [v.numpy() for v in opt.variables]

    vs, opt = fresh()
    for g in grads[:3]:
        opt.apply(g, vs)
    store = {}
    opt.save_own_variables(store)
    weights = [v.numpy() for v in vs]
    vs2, opt2 = fresh()
    for v, w in zip(vs2, weights):
        v.assign(w)
    opt2.build(vs2)
    opt2.apply([np.zeros(s, np.float32) for s in shapes], vs2)   # flat buffers set up
    opt2.load_own_variables(store)
    slot = opt2.variables[-1]
    slot._value = slot._value.copy()                                # replaced, not assigned
    for g in grads[3:]:
        opt2.apply(g, vs2)
    _assert_same([v.numpy() for v in vs2] + [v.numpy() for v in opt2.variables], expected)
    assert opt2.variables[-1]._value.base is not None               # a view again


def test_fit_with_each_fast_optimizer_matches_the_reference_path():
    x = np.random.default_rng(1).standard_normal((64, 6)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    for name, kwargs in [("RMSprop", {}), ("Adam", {}), ("SGD", {"momentum": 0.9})]:
        weights = []
        for mode in ("reference", "default"):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "relu"),
                                      keras.layers.Dense(1, "sigmoid")])
            model.compile(_make(name, kwargs, mode), "binary_crossentropy")
            model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
            weights.append(model.get_weights())
        _assert_same(weights[1], weights[0])
