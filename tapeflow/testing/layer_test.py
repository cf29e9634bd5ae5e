"""``run_layer_test``: the contract every layer must meet, checked in one call.

It checks the output shape and dtype (eager and symbolic), the weight counts, the losses, a
``get_config``/``from_config`` round trip that gives the same outputs with the same weights,
and one ``fit`` step that lowers the loss on a fixed seed.
"""

import json

import tapeflow as tf
from tapeflow._backend import np
from tapeflow.framework import nest

__all__ = ["run_layer_test"]


def _make_data(shape, dtype, rng):
    if isinstance(shape, dict):
        return {k: _make_data(v, dtype, rng) for k, v in shape.items()}
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return [_make_data(tuple(s), dtype, rng) for s in shape]
    dtype = dtype or "float32"
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 10, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) > 0.5
    return rng.standard_normal(shape).astype(dtype)


def _shape_of(out):
    return nest.map_structure(lambda t: tuple(t.shape), out)


def _symbolic_inputs(data, keras):
    def one(a):
        return keras.Input(batch_shape=(None,) + tuple(a.shape[1:]), dtype=str(a.dtype))
    if isinstance(data, dict):
        return {k: one(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [one(v) for v in data]
    return one(data)


def run_layer_test(layer_cls, init_kwargs, input_shape=None, input_dtype=None,
                   input_sparse=False, input_data=None, call_kwargs=None,
                   expected_output_shape=None, expected_output_dtype=None,
                   expected_output_sparse=False, expected_output=None,
                   expected_num_trainable_weights=None, expected_num_non_trainable_weights=None,
                   expected_num_non_trainable_variables=None, expected_num_seed_generators=None,
                   expected_num_losses=None, supports_masking=None, expected_mask_shape=None,
                   custom_objects=None, run_training_check=True, run_mixed_precision_check=False,
                   assert_built_after_instantiation=False, seed=1337, atol=1e-6, rtol=1e-6):
    """Checks a layer class against the Keras layer contract; raises AssertionError on failure.

    Args:
      layer_cls: the layer class.
      init_kwargs: constructor arguments.
      input_shape: the input shape (batch included), a list of shapes, or a dict of shapes;
        or give ``input_data`` instead.
      input_dtype: dtype of generated inputs (ints are drawn in [0, 10)).
      call_kwargs: extra call arguments (``training=True``, ...).
      expected_output_shape: the eager output shape (a tuple, or a structure of tuples).
      expected_output_dtype / expected_output: optional dtype and values of the output.
      expected_num_trainable_weights / expected_num_non_trainable_weights: weight counts.
      expected_num_losses: ``len(layer.losses)`` after the call.
      supports_masking: expected value of ``layer.supports_masking``.
      run_training_check: fit one step and check the loss goes down (when the layer has
        trainable weights and a float output).

    Returns:
      The layer instance that was tested.

    >>> from tapeflow import keras
    >>> _ = run_layer_test(keras.layers.Dense, {"units": 3}, input_shape=(2, 4),
    ...                    expected_output_shape=(2, 3), expected_num_trainable_weights=2,
    ...                    expected_num_non_trainable_weights=0)
    """
    from tapeflow import keras

    rng = np.random.default_rng(seed)
    call_kwargs = dict(call_kwargs or {})
    if input_data is None:
        if input_shape is None:
            raise ValueError("run_layer_test: give `input_shape` or `input_data`.")
        input_data = _make_data(input_shape, input_dtype, rng)
    keras.utils.set_random_seed(seed)
    layer = layer_cls(**init_kwargs)
    if assert_built_after_instantiation:
        assert layer.built, f"{layer_cls.__name__} should be built after instantiation"
    if supports_masking is not None:
        assert layer.supports_masking == supports_masking, (
            f"{layer_cls.__name__}.supports_masking is {layer.supports_masking}, expected "
            f"{supports_masking}")
    keras.utils.set_random_seed(seed)
    out = layer(input_data, **call_kwargs)
    _check_output(layer_cls, out, expected_output_shape, expected_output_dtype,
                  expected_output, atol, rtol)
    _check_counts(layer, expected_num_trainable_weights, expected_num_non_trainable_weights,
                  expected_num_non_trainable_variables, expected_num_losses)
    if expected_mask_shape is not None:
        mask = getattr(out, "_keras_mask", None)
        assert mask is not None, f"{layer_cls.__name__}: expected an output mask"
        assert tuple(mask.shape) == tuple(expected_mask_shape), (
            f"{layer_cls.__name__}: mask shape {tuple(mask.shape)} != {expected_mask_shape}")
    _check_symbolic(layer_cls, init_kwargs, input_data, call_kwargs, out, keras)
    _check_config_round_trip(layer, layer_cls, input_data, call_kwargs, out, custom_objects,
                             seed, atol, rtol, keras)
    if run_training_check:
        _check_training(layer_cls, init_kwargs, input_data, call_kwargs, seed, keras)
    return layer


def _check_output(layer_cls, out, shape, dtype, values, atol, rtol):
    name = layer_cls.__name__
    if shape is not None:
        got = _shape_of(out)
        want = nest.map_structure(tuple, shape) if not (
            isinstance(shape, tuple) and all(isinstance(d, int) or d is None for d in shape)) \
            else tuple(shape)
        assert got == want, f"{name}: output shape {got} != expected {want}"
    if dtype is not None:
        for t in nest.flatten(out):
            assert t.dtype.name == tf.as_dtype(dtype).name, (
                f"{name}: output dtype {t.dtype.name} != expected {dtype}")
    if values is not None:
        for t, v in zip(nest.flatten(out), nest.flatten(values)):
            np.testing.assert_allclose(np.asarray(t), np.asarray(v), atol=atol, rtol=rtol,
                                       err_msg=f"{name}: output values")


def _check_counts(layer, n_train, n_non_train, n_non_train_vars, n_losses):
    name = type(layer).__name__
    if n_train is not None:
        assert len(layer.trainable_weights) == n_train, (
            f"{name}: {len(layer.trainable_weights)} trainable weights, expected {n_train}")
    if n_non_train is not None:
        assert len(layer.non_trainable_weights) == n_non_train, (
            f"{name}: {len(layer.non_trainable_weights)} non-trainable weights, expected "
            f"{n_non_train}")
    if n_non_train_vars is not None:
        assert len(layer.non_trainable_variables) == n_non_train_vars
    if n_losses is not None:
        assert len(layer.losses) == n_losses, (
            f"{name}: {len(layer.losses)} losses, expected {n_losses}")


def _check_symbolic(layer_cls, init_kwargs, data, call_kwargs, eager_out, keras):
    layer = layer_cls(**init_kwargs)
    sym = layer(_symbolic_inputs(data, keras), **call_kwargs)
    for s, e in zip(nest.flatten(sym), nest.flatten(eager_out)):
        want = tuple(e.shape)
        assert len(s.shape) == len(want) and all(
            a is None or a == b for a, b in zip(s.shape[1:], want[1:])), (
            f"{layer_cls.__name__}: symbolic output shape {s.shape} does not match the eager "
            f"output shape {want}")


def _check_config_round_trip(layer, layer_cls, data, call_kwargs, out, custom_objects, seed,
                             atol, rtol, keras):
    name = layer_cls.__name__
    config = layer.get_config()
    json.dumps(config)   # a config must be JSON-serializable
    # Keras's SpatialDropout configs have no "trainable" (flagged by _CONFIG_HAS_TRAINABLE)
    keys = ("name", "trainable", "dtype") if getattr(layer_cls, "_CONFIG_HAS_TRAINABLE", True) \
        else ("name", "dtype")
    for key in keys:
        assert key in config, f"{name}.get_config() lacks the key {key!r}"
    from tapeflow.keras.saving.serialization_lib import SafeModeScope  # noqa: PLC0415

    # The layer under test is the caller's own object: a Lambda's bytecode may be rebuilt.
    with SafeModeScope(False), keras.saving.custom_object_scope(custom_objects or {}):
        clone = layer_cls.from_config(config)
    keras.utils.set_random_seed(seed)
    clone(data, **call_kwargs)
    # compared once built, as nested layers' configs carry their build_config (as in Keras)
    config2 = clone.get_config()
    assert json.dumps(config2, sort_keys=True, default=str) == json.dumps(
        config, sort_keys=True, default=str), f"{name}: from_config(get_config()) changes config"
    clone.set_weights(layer.get_weights())
    if call_kwargs.get("training"):
        return
    keras.utils.set_random_seed(seed)
    out2 = clone(data, **call_kwargs)
    for a, b in zip(nest.flatten(out), nest.flatten(out2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=rtol,
                                   err_msg=f"{name}: output changed after a config round trip")


def _check_training(layer_cls, init_kwargs, data, call_kwargs, seed, keras):
    keras.utils.set_random_seed(seed)
    layer = layer_cls(**init_kwargs)
    inputs = _symbolic_inputs(data, keras)
    kwargs = {k: v for k, v in call_kwargs.items() if k != "training"}
    outputs = layer(inputs, **kwargs)
    first = nest.flatten(outputs)[0]
    if not str(first.dtype).startswith("float"):
        return
    model = keras.Model(inputs, first)
    if not model.trainable_weights:
        return
    y_shape = (nest.flatten(data)[0].shape[0],) + tuple(first.shape[1:])
    y = np.random.default_rng(seed + 1).standard_normal(y_shape).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")

    def loss_now():
        keras.utils.set_random_seed(seed)
        return float(model.compute_loss(y=y, y_pred=model(data, training=True)))
    before = loss_now()
    keras.utils.set_random_seed(seed)
    n = nest.flatten(data)[0].shape[0]
    model.fit(data, y, batch_size=n, epochs=1, verbose=0, shuffle=False)
    after = loss_now()
    assert after < before, (f"{layer_cls.__name__}: one fit step did not lower the loss "
                            f"({before} -> {after})")
