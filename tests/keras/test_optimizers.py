"""keras.optimizers beyond the goldens: variable layout, state, validation, schedules, configs."""

import math
import warnings

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras

O = keras.optimizers
S = keras.optimizers.schedules
ALL = [O.SGD, O.RMSprop, O.Adam, O.AdamW, O.Adagrad, O.Adadelta, O.Adamax, O.Nadam, O.Lion,
       O.Ftrl]


def _vars():
    return [tf.Variable(np.ones((3, 2), np.float32), name="kernel"),
            tf.Variable(np.zeros(2, np.float32), name="bias")]


def _grads():
    return [tf.constant(np.full((3, 2), 0.5, np.float32)),
            tf.constant(np.array([1.0, -1.0], np.float32))]


# (optimizer, kwargs, slot shapes after [iterations, learning_rate]) as Keras 3.15 lays them out
LAYOUTS = [
    (O.SGD, {}, []),
    (O.SGD, {"momentum": 0.9}, [(3, 2), (2,)]),
    (O.Adam, {}, [(3, 2), (3, 2), (2,), (2,)]),                      # m0 v0 m1 v1
    (O.Adam, {"amsgrad": True}, [(3, 2), (3, 2), (2,), (2,), (3, 2), (2,)]),
    (O.RMSprop, {"momentum": 0.5, "centered": True},
     [(3, 2), (2,), (3, 2), (2,), (3, 2), (2,)]),                    # velocities, moms, avgs
    (O.Adagrad, {}, [(3, 2), (2,)]),
    (O.Adadelta, {}, [(3, 2), (3, 2), (2,), (2,)]),
    (O.Adamax, {}, [(3, 2), (3, 2), (2,), (2,)]),
    (O.Nadam, {}, [(3, 2), (3, 2), (2,), (2,), ()]),                 # ... then u_product
    (O.Lion, {}, [(3, 2), (2,)]),
    (O.Ftrl, {}, [(3, 2), (3, 2), (2,), (2,)]),
]


@pytest.mark.parametrize("cls,kwargs,slots", LAYOUTS,
                         ids=[f"{c.__name__}{k}" for c, k, _ in LAYOUTS])
def test_variables_follow_keras_order(cls, kwargs, slots):
    opt = cls(**kwargs)
    variables = _vars()
    opt.apply_gradients(zip(_grads(), variables))
    v = opt.variables
    assert v[0].dtype == tf.int64 and int(v[0]) == 1
    assert v[1].dtype == tf.float32 and v[1].shape == ()
    assert [tuple(x.shape) for x in v[2:]] == slots


@pytest.mark.parametrize("cls", ALL)
def test_updates_in_place_and_descend(cls):
    # minimise sum((w - 3)^2): every optimizer moves w towards 3 without replacing its array
    w = tf.Variable(np.zeros(4, np.float32))
    buf = w._value
    opt = cls(learning_rate=0.1) if cls is not O.Adadelta else cls(learning_rate=5.0)
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w - 3.0))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
    assert w._value is buf
    assert float(tf.reduce_sum(tf.square(w - 3.0))) < 36.0 * 0.9
    assert int(opt.iterations) == 30


@pytest.mark.parametrize("cls", ALL)
def test_save_and_load_own_variables(cls):
    a, b = cls(), cls()
    va, vb = _vars(), _vars()
    for _ in range(2):
        a.apply_gradients(zip(_grads(), va))
    b.build(vb)
    for x, y in zip(va, vb):
        y.assign(x)
    store = {}
    a.save_own_variables(store)
    b.load_own_variables(store)
    for x, y in zip(a.variables, b.variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    a.apply_gradients(zip(_grads(), va))
    b.apply_gradients(zip(_grads(), vb))
    for x, y in zip(va, vb):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-6)


def test_load_with_wrong_count_warns():
    opt = O.Adam()
    with pytest.warns(UserWarning, match="has 2 variables whereas the saved optimizer has 3"):
        opt.load_own_variables({"0": 1, "1": 2, "2": 3})


def test_learning_rate_is_assignable():
    opt = O.SGD(learning_rate=0.1)
    w = tf.Variable([1.0])
    opt.learning_rate = 0.5
    opt.apply_gradients([(tf.constant([1.0]), w)])
    np.testing.assert_allclose(w.numpy(), [0.5])
    opt.learning_rate.assign(0.25)
    assert float(opt.learning_rate) == 0.25
    sched = O.SGD(learning_rate=S.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        sched.learning_rate = 0.1
    assert len(sched.variables) == 1       # no learning-rate variable with a schedule


def test_schedule_step_k_uses_lr_k():
    sched = S.PiecewiseConstantDecay([0, 1], [1.0, 0.5, 0.25])
    opt = O.SGD(learning_rate=sched)
    w = tf.Variable([0.0])
    got = []
    for _ in range(3):
        before = float(w.numpy()[0])
        opt.apply_gradients([(tf.constant([1.0]), w)])
        got.append(before - float(w.numpy()[0]))
    np.testing.assert_allclose(got, [1.0, 0.5, 0.25])


def test_validation_errors_name_the_argument():
    with pytest.raises(ValueError, match="learning_rate.*-0.1"):
        O.Adam(learning_rate=-0.1)
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue`"):
        O.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="momentum"):
        O.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="beta_1"):
        O.Adam(beta_1=1.5)
    with pytest.raises(ValueError, match="beta_1"):
        O.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        O.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        O.Ftrl(initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match="decay_steps"):
        S.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="length of boundaries"):
        S.PiecewiseConstantDecay([1, 2], [1.0])
    with pytest.raises(TypeError, match="unexpected keyword"):
        O.Adam(betaa=0.5)


def test_none_gradients_are_skipped_with_warning():
    opt = O.SGD(0.1)
    a, b = tf.Variable([1.0]), tf.Variable([1.0], name="unused")
    with pytest.warns(UserWarning, match="Gradients do not exist for variables.*unused"):
        opt.apply_gradients([(tf.constant([1.0]), a), (None, b)])
    assert b.numpy()[0] == 1.0 and a.numpy()[0] == pytest.approx(0.9)
    assert int(opt.iterations) == 1


def test_unknown_variable_and_shape_errors():
    opt = O.Adam()
    a, b = tf.Variable([1.0]), tf.Variable([2.0])
    opt.apply_gradients([(tf.constant([1.0]), a)])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients([(tf.constant([1.0]), b)])
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(1,\)"):
        opt.apply_gradients([(tf.constant([1.0, 2.0]), a)])


def test_constraint_applied_after_update():
    w = tf.Variable([1.0, -1.0], constraint=keras.constraints.NonNeg())
    O.SGD(1.0).apply_gradients([(tf.constant([2.0, 0.5]), w)])
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0])


def test_clipping_and_weight_decay_exclusion():
    w = tf.Variable([0.0, 0.0])
    O.SGD(1.0, clipnorm=1.0).apply_gradients([(tf.constant([3.0, 4.0]), w)])
    np.testing.assert_allclose(w.numpy(), [-0.6, -0.8], rtol=1e-6)
    a, b = tf.Variable([1.0], name="kernel"), tf.Variable([1.0], name="bias")
    opt = O.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply_gradients([(tf.constant([0.0]), a), (tf.constant([0.0]), b)])
    assert a.numpy()[0] == pytest.approx(0.95) and b.numpy()[0] == 1.0


def test_ema_and_gradient_accumulation():
    w = tf.Variable([0.0])
    opt = O.SGD(1.0, use_ema=True, ema_momentum=0.5)
    for _ in range(2):
        opt.apply_gradients([(tf.constant([-1.0]), w)])
    avg = opt.variables[2]
    assert w.numpy()[0] == 2.0 and avg.numpy()[0] == pytest.approx(1.5)
    opt.finalize_variable_values([w])
    assert w.numpy()[0] == pytest.approx(1.5)
    w = tf.Variable([0.0])
    opt = O.SGD(1.0, gradient_accumulation_steps=2)
    opt.apply_gradients([(tf.constant([1.0]), w)])
    assert w.numpy()[0] == 0.0
    opt.apply_gradients([(tf.constant([3.0]), w)])
    assert w.numpy()[0] == -2.0 and int(opt.iterations) == 2


@pytest.mark.parametrize("cls", ALL)
def test_config_round_trip(cls):
    opt = cls(learning_rate=0.05, clipnorm=2.0)
    s = O.serialize(opt)
    assert s["module"] == "keras.optimizers" and s["class_name"] == cls.__name__
    again = O.deserialize(s)
    assert type(again) is cls and again.get_config() == opt.get_config()


def test_schedule_config_round_trip_and_names():
    opt = O.Adam(learning_rate=S.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=10))
    conf = O.serialize(opt)["config"]["learning_rate"]
    assert conf["module"] == "keras.optimizers.schedules" and conf["class_name"] == "CosineDecay"
    again = O.deserialize(O.serialize(opt))
    assert again._learning_rate.get_config() == opt._learning_rate.get_config()
    for name in ["adam", "Adam", "ADAM", "sgd", "rmsprop", "adamw", "nadam", "ftrl", "lion"]:
        assert isinstance(O.get(name), O.Optimizer)
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier.*'adam'"):
        O.get("adamm")
    assert O.get(None) is None
    keras.backend.clear_session()
    assert O.Adam().name == "adam" and O.RMSprop().name == "rm_sprop"
    # Keras 3.15: default names are unique per session, a given name is kept as is.
    assert O.Adam().name == "adam_1" and O.Adam(name="my opt").name == "my opt"


def test_schedule_values():
    np.testing.assert_allclose(
        [float(S.PolynomialDecay(1.0, 10, end_learning_rate=0.1, power=2.0)(k))
         for k in (0, 5, 10, 20)], [1.0, 0.1 + 0.9 * 0.25, 0.1, 0.1], rtol=1e-6)
    cyc = S.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    assert float(cyc(15)) == pytest.approx(0.25)
    assert float(S.InverseTimeDecay(1.0, 2, 1.0, staircase=True)(3)) == pytest.approx(0.5)
    cd = S.CosineDecay(0.0, 10, alpha=0.1, warmup_target=1.0, warmup_steps=5)
    np.testing.assert_allclose([float(cd(k)) for k in (0, 5, 10, 15, 30)],
                               [0.0, 1.0, 0.55, 0.1, 0.1], rtol=1e-6, atol=1e-7)
    r = S.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    assert float(r(10)) == pytest.approx(0.5)
    assert float(r(20)) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def test_minimize_with_callable_loss():
    w = tf.Variable(2.0)
    opt = O.SGD(0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.minimize(lambda: w * w, [w])
    assert float(w) == pytest.approx(1.0)


@pytest.mark.parametrize("cls,kwargs", [(O.SGD, {"momentum": 0.9, "nesterov": True}),
                                        (O.SGD, {}), (O.Adam, {"amsgrad": True}), (O.AdamW, {}),
                                        (O.RMSprop, {"momentum": 0.5, "centered": True}),
                                        (O.Adagrad, {}), (O.Adadelta, {}), (O.Adamax, {}),
                                        (O.Nadam, {}), (O.Lion, {}), (O.Ftrl, {})])
def test_fused_path_equals_per_variable_path(cls, kwargs):
    fused, plain = cls(learning_rate=0.05, **kwargs), cls(learning_rate=0.05, **kwargs)
    plain._flat = False                      # force the one-variable-at-a-time path
    va, vb = _vars(), _vars()
    for _ in range(4):
        grads = [tf.constant(RNG_G.normal(size=v.shape).astype(np.float32)) for v in va]
        fused.apply_gradients(zip(grads, va))
        plain.apply_gradients(zip(grads, vb))
    for x, y in zip(va + fused.variables, vb + plain.variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert isinstance(fused._flat, dict) == (cls is not O.Ftrl)
    # a slot array replaced from outside (e.g. by a loader) is picked up again
    if fused._slot_attrs:
        slot = getattr(fused, fused._slot_attrs[0])[0]
        slot._value = slot._value.copy()
        fused.apply_gradients(zip(_grads(), va))
        plain.apply_gradients(zip(_grads(), vb))
        np.testing.assert_array_equal(va[0].numpy(), vb[0].numpy())


RNG_G = np.random.default_rng(5)
