"""Hostile files found by the interop audit: a config declaring enormous layers, megabyte strings,
ZIP64 size lies, compressed HDF5 datasets declaring huge shapes, deep lists reaching the
constructors. Each is refused with a ValueError naming the file, in bounded memory."""

import io
import json
import os
import resource
import struct
import tracemalloc
import zipfile
import zlib

import h5py
import numpy as np
import pytest

from tapeflow import keras
from tapeflow.keras.saving import safe_io, saving_lib

HERE = os.path.join(os.path.dirname(__file__), "..", "data", "keras_files")


def _members():
    with zipfile.ZipFile(os.path.join(HERE, "nested_model.keras")) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return str(path)


def _layer(class_name, **config):
    return {"module": "keras.layers", "class_name": class_name, "registered_name": None,
            "config": config}


def _sequential(*layers, shape=(3,)):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "s", "layers": [
                _layer("InputLayer", batch_shape=[None, *shape], dtype="float32", name="in"),
                *layers]}}


def _with_config(tmp_path, config, name="hostile.keras"):
    members = _members()
    members["config.json"] = config if isinstance(config, str) else json.dumps(config)
    return _write(tmp_path / name, members)


def _maxrss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.parametrize("layer, shape", [
    (_layer("Dense", units=2**40, name="d"), (3,)),
    (_layer("Dense", units=2**26, name="d"), (3,)),  # 768 MiB: allocatable, still refused
    (_layer("Embedding", input_dim=2**33, output_dim=8, name="d"), (4,)),
    (_layer("Conv2D", filters=2**20, kernel_size=[1024, 1024], name="d"), (4, 4, 3)),
])
def test_config_declaring_enormous_weights_refused_before_allocating(tmp_path, layer, shape):
    # Every weight of a loaded model comes from model.weights.h5 (a few KiB here), so layers
    # declaring more are refused when they declare it, before the initializer runs.
    path = _with_config(tmp_path, _sequential(layer, shape=shape), "huge_layer.keras")
    before = _maxrss_kib()
    with pytest.raises(ValueError, match=r"huge_layer\.keras.*layer 'd' declares a weight of "
                                         r"shape .*refused before allocating"):
        keras.models.load_model(path)
    assert _maxrss_kib() - before < 64 * 1024


def test_weight_budget_is_only_active_while_loading():
    layer = keras.layers.Dense(4)
    layer.build((None, 3))  # no budget outside a load
    with safe_io.WeightBudget(40, "w.keras"):
        keras.layers.Dense(2).build((None, 3))  # 24 + 8 bytes: fits
        with pytest.raises(ValueError, match=r"declares a weight of shape \(3, 2\).*take 56 "
                                             r"bytes, more than the 40 bytes 'w\.keras'"):
            keras.layers.Dense(2).build((None, 3))
    keras.layers.Dense(200).build((None, 300))


def test_sequential_config_with_an_input_layer_is_built_like_keras():
    # Keras builds a Sequential whose first layer is an InputLayer (build_input_shape absent),
    # so its weights exist for load_weights to check.
    model = saving_lib.model_from_config(_sequential(_layer("Dense", units=2, name="d")))
    assert model.built and [tuple(w.shape) for w in model.weights] == [(3, 2), (2,)]


def test_megabyte_string_in_config_parsed_in_bounded_memory(tmp_path):
    # The depth check's string-skipping regex used ~140 bytes per character (700 MB for a
    # 5 MB layer name) before it was unrolled.
    text = json.dumps(_sequential(_layer("Dense", units=2, name="x" * (5 << 20))))
    tracemalloc.start()
    try:
        config = safe_io.loads_json(text.encode(), "c.json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert config["config"]["layers"][1]["config"]["name"] == "x" * (5 << 20)
    assert peak < 60 << 20
    path = _with_config(tmp_path, text, "long_name.keras")
    with pytest.raises(ValueError, match=r"long_name\.keras") as info:
        keras.models.load_model(path)
    assert len(str(info.value)) < 2000  # the name is cut in the message


def test_huge_numbers_and_non_finite_values_in_config(tmp_path):
    big = _with_config(tmp_path, '{"class_name": "Sequential", "config": {"name": ' +
                       "9" * 5000 + "}}", "bigint.keras")
    with pytest.raises(ValueError, match=r"bigint\.keras:config\.json.*invalid JSON"):
        keras.models.load_model(big)
    for literal in ("1e400", "NaN", "-5"):
        text = json.dumps(_sequential(_layer("Dense", units=2, name="d"))).replace(
            '"units": 2', f'"units": {literal}')
        path = _with_config(tmp_path, text, "units.keras")
        with pytest.raises(ValueError, match=r"units\.keras.*`units`"):
            keras.models.load_model(path)


def test_deep_list_reaching_a_constructor_is_a_value_error(tmp_path):
    units = 2
    for _ in range(190):  # under the JSON depth bound: reaches Dense(units=[[[...]]])
        units = [units]
    path = _with_config(tmp_path, _sequential(_layer("Dense", units=units, name="d")),
                        "deep_units.keras")
    with pytest.raises(ValueError, match=r"deep_units\.keras"):
        keras.models.load_model(path)


def _zip64_member(name, data, declared_size, declared_csize=None):
    """A one-member stored archive whose sizes live in ZIP64 extra fields (built by hand)."""
    name = name.encode()
    crc = zlib.crc32(data)
    csize = len(data) if declared_csize is None else declared_csize
    extra = struct.pack("<HHQQ", 1, 16, declared_size, csize)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                        0xFFFFFFFF, len(name), len(extra)) + name + extra
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, crc,
                          0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0) + \
        name + extra
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)
    return local + data + central + end


def test_zip64_size_lies(tmp_path):
    data = b'{"a": 1}' + b" " * 1000
    path = tmp_path / "z64.keras"
    path.write_bytes(_zip64_member("config.json", data, len(data)))
    assert safe_io.read_archive(str(path), ["config.json"]) == {"config.json": data}
    path.write_bytes(_zip64_member("config.json", data, 2**40))  # a declared terabyte
    with pytest.raises(ValueError, match=r"z64\.keras.*declares 1099511627776 bytes"):
        safe_io.read_archive(str(path), ["config.json"])
    path.write_bytes(_zip64_member("config.json", data, 3 << 30, 3 << 30))  # "stored", 3 GiB
    before = _maxrss_kib()
    with pytest.raises(ValueError, match=r"z64\.keras.*past the end of the 1168-byte archive"):
        safe_io.read_archive(str(path), ["config.json"])
    assert _maxrss_kib() - before < 64 * 1024
    path.write_bytes(_zip64_member("config.json", data, 10))  # fewer bytes than stored
    with pytest.raises(ValueError, match=r"z64\.keras.*corrupt or truncated.*CRC"):
        safe_io.read_archive(str(path), ["config.json"])


def test_compressed_h5_dataset_declaring_a_huge_shape(tmp_path):
    members = _members()
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        del f["layers/dense/vars/0"]
        # gzip-compressed, chunked, resizable: a few bytes on disk declaring 2**44 floats
        f.create_dataset("layers/dense/vars/0", shape=(2**22, 2**22), dtype="float32",
                         chunks=(64, 64), compression="gzip", maxshape=(None, None),
                         fillvalue=1.0)
    members["model.weights.h5"] = buf.getvalue()
    assert len(members["model.weights.h5"]) < 1 << 20
    path = _write(tmp_path / "gz.keras", members)
    before = _maxrss_kib()
    with pytest.raises(ValueError, match=r"(?s)gz\.keras.*layers/dense/vars.*"
                                         r"shape \(4194304, 4194304\).*expects \(4, 2\)"):
        keras.models.load_model(path)
    assert _maxrss_kib() - before < 64 * 1024


def test_h5_dataset_of_the_expected_shape_but_wrong_kind(tmp_path):
    members = _members()
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", data=np.array([[b"ab"] * 2] * 4))
    members["model.weights.h5"] = buf.getvalue()
    path = _write(tmp_path / "kind.keras", members)
    with pytest.raises(ValueError, match=r"kind\.keras.*expected a numeric dtype"):
        keras.models.load_model(path)


def test_paths_that_are_not_regular_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.keras"
    os.mkfifo(fifo)  # opening it for reading would wait forever for a writer
    with pytest.raises(ValueError, match=r"pipe\.keras.*not a regular file"):
        keras.models.load_model(str(fifo))
    weights = tmp_path / "pipe.weights.h5"
    os.mkfifo(weights)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"pipe\.weights\.h5.*not a regular file"):
        model.load_weights(str(weights))
    folder = tmp_path / "dir.keras"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"dir\.keras.*not a regular file"):
        keras.models.load_model(str(folder))
