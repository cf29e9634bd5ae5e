"""serialize/deserialize_keras_object, the registry, custom objects and safe mode."""

import base64
import marshal

import numpy as np
import pytest

from tapeflow import keras
from tapeflow.keras.saving import serialization_lib as sl


def test_builtin_layer_round_trip_keeps_config_and_build():
    layer = keras.layers.Dense(3, activation="relu", name="d")
    layer(np.ones((2, 4), "float32"))
    cfg = sl.serialize_keras_object(layer)
    assert set(cfg) == {"module", "class_name", "config", "registered_name", "build_config"}
    assert (cfg["module"], cfg["class_name"], cfg["registered_name"]) == \
        ("keras.layers", "Dense", None)
    assert cfg["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert cfg["build_config"] == {"input_shape": [2, 4]}
    again = sl.deserialize_keras_object(cfg)
    assert again.built and again.get_config() == layer.get_config()


def test_keras_src_module_names_resolve():
    cfg = {"module": "keras.src.layers.core.dense", "class_name": "Dense",
           "config": {"units": 2}, "registered_name": None}
    assert type(sl.deserialize_keras_object(cfg)).__name__ == "Dense"


def test_plain_values_tuples_and_arrays():
    assert sl.serialize_keras_object((1, (2, 3))) == [1, [2, 3]]
    arr = sl.serialize_keras_object(np.arange(3, dtype="float32"))
    assert arr["class_name"] == "__numpy__"
    back = sl.deserialize_keras_object(arr)
    assert back.dtype == np.float32 and back.tolist() == [0.0, 1.0, 2.0]
    assert sl.deserialize_keras_object({"class_name": "__tuple__",
                                        "config": {"value": [1, 2]}}) == (1, 2)


def test_register_keras_serializable_and_lookup():
    @sl.register_keras_serializable(package="TestPkg")
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    cfg = sl.serialize_keras_object(Scale(3.0, name="s"))
    assert cfg["registered_name"] == "TestPkg>Scale"
    assert cfg["module"] == __name__
    obj = sl.deserialize_keras_object(cfg)
    assert isinstance(obj, Scale) and obj.factor == 3.0
    assert sl.get_registered_object("TestPkg>Scale") is Scale
    assert sl.get_registered_name(Scale) == "TestPkg>Scale"


def test_register_requires_get_config_and_valid_package():
    with pytest.raises(ValueError, match="must implement `get_config\\(\\)`"):
        sl.register_keras_serializable()(type("NoConfig", (), {}))
    with pytest.raises(ValueError, match="without '>'"):
        sl.register_keras_serializable(package="a>b")


class Unregistered(keras.layers.Layer):
    def call(self, x):
        return x


def test_custom_objects_and_scope_and_refusal_without_them():
    cfg = sl.serialize_keras_object(Unregistered(name="u"))
    assert cfg["registered_name"] == "Unregistered"
    with pytest.raises(ValueError, match="not a registered serializable.*safe_mode=False"):
        sl.deserialize_keras_object(cfg)
    assert isinstance(sl.deserialize_keras_object(
        cfg, custom_objects={"Unregistered": Unregistered}), Unregistered)
    with sl.custom_object_scope({"Unregistered": Unregistered}):
        assert isinstance(sl.deserialize_keras_object(cfg), Unregistered)
    with pytest.raises(TypeError, match="expected a dict"):
        sl.custom_object_scope([Unregistered])


def test_unknown_keras_class_has_clear_error():
    with pytest.raises(ValueError, match="Could not locate class 'NoSuchLayer'"):
        sl.deserialize_keras_object({"module": "keras.layers", "class_name": "NoSuchLayer",
                                     "config": {}, "registered_name": None})


def test_module_outside_registry_refused_in_safe_mode(tmp_path):
    marker = tmp_path / "marker"
    cfg = {"module": "subprocess", "class_name": "Popen",
           "config": {"args": ["touch", str(marker)]}, "registered_name": None}
    with pytest.raises(ValueError, match="Refusing to deserialize class 'Popen' of module "
                                         "'subprocess'.*safe_mode=False"):
        sl.deserialize_keras_object(cfg)
    fn = {"module": "os", "class_name": "function", "config": "system",
          "registered_name": None}
    with pytest.raises(ValueError, match="function 'system' of module 'os'"):
        sl.deserialize_keras_object(fn)
    with pytest.raises(ValueError, match="function 'system' of module 'os'"):
        sl.check_config_safety({"layers": [{"config": {"activation": fn}}]})
    assert not marker.exists()
    # opting in resolves the function (it is not called)
    import os
    assert sl.deserialize_keras_object(fn, safe_mode=False) is os.system


def _lambda_config(marker):
    def payload(x):
        open(marker, "w").close()
        return x
    code = base64.b64encode(marshal.dumps(payload.__code__)).decode()
    return {"class_name": "__lambda__", "config": {"code": code, "defaults": None,
                                                   "closure": None}}


def test_lambda_bytecode_refused_in_safe_mode(tmp_path):
    marker = str(tmp_path / "marker")
    fn = _lambda_config(marker)
    with pytest.raises(ValueError, match="lambda.*Python bytecode.*safe_mode=False"):
        sl.check_config_safety({"layers": [{"class_name": "Lambda",
                                            "config": {"function": fn}}]})
    with pytest.raises(ValueError, match="bytecode"):
        sl.deserialize_keras_object({"class_name": "__lambda__",
                                     "config": {"value": [fn["config"]["code"], None, None]}})
    assert not (tmp_path / "marker").exists()


def test_lambda_round_trip_when_trusted():
    cfg = sl.serialize_keras_object(lambda x: x * 3)
    assert cfg["class_name"] == "__lambda__"
    fn = sl.deserialize_keras_object(cfg, safe_mode=False)
    assert fn(2) == 6


def test_safe_mode_scope_and_global_switch():
    assert sl.in_safe_mode()
    with sl.SafeModeScope(False):
        assert not sl.in_safe_mode()
    assert sl.in_safe_mode()


def test_optimizer_and_initializer_round_trip():
    opt = keras.optimizers.Adam(learning_rate=0.01, beta_1=0.8)
    cfg = sl.serialize_keras_object(opt)
    assert (cfg["module"], cfg["class_name"]) == ("keras.optimizers", "Adam")
    back = sl.deserialize_keras_object(cfg)
    assert back.get_config() == opt.get_config()
    init = keras.initializers.RandomNormal(stddev=0.5, seed=3)
    assert sl.deserialize_keras_object(sl.serialize_keras_object(init)).get_config() == \
        init.get_config()


def my_activation(x):
    return x * 0.5


@sl.register_keras_serializable(package="Acts")
def registered_activation(x):
    return x * 3.0


def test_custom_activation_function_through_custom_objects_and_registry():
    x = np.ones((1, 2), "float32")
    for fn, kwargs in ((my_activation, {"custom_objects": {"my_activation": my_activation}}),
                       (registered_activation, {})):
        layer = keras.layers.Dense(2, activation=fn, kernel_initializer="ones", name="d")
        cfg = sl.serialize_keras_object(layer)
        again = sl.deserialize_keras_object(cfg, **kwargs)
        assert again.activation is fn
        np.testing.assert_allclose(np.asarray(again(x)), np.asarray(layer(x)))


def test_direct_deserialization_of_lambda_layer_is_checked(tmp_path):
    marker = tmp_path / "marker"
    layer = keras.layers.Lambda(lambda x: x + 1.0, name="lam")
    cfg = sl.serialize_keras_object(layer)
    with pytest.raises(ValueError, match="lambda.*bytecode"):
        sl.deserialize_keras_object(cfg)
    evil = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "e", "function": {"module": "os", "class_name": "function",
                                                 "config": "system", "registered_name": None}}}
    with pytest.raises(ValueError, match="function 'system' of module 'os'"):
        sl.deserialize_keras_object(evil)
    assert not marker.exists()
    assert sl.deserialize_keras_object(cfg, safe_mode=False)(np.ones(2, "float32")).numpy() \
        .tolist() == [2.0, 2.0]
