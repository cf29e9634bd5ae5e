"""Bounded reading and atomic writing (tapeflow.keras.saving.safe_io), on hand-built files."""

import io
import os
import stat
import zipfile

import h5py
import numpy as np
import pytest

from tapeflow.keras.saving import safe_io


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_read_archive_returns_members(tmp_path):
    p = _zip(tmp_path / "a.keras", {"config.json": "{}", "model.weights.h5": b"x"})
    out = safe_io.read_archive(str(p), ["config.json", "model.weights.h5"])
    assert out == {"config.json": b"{}", "model.weights.h5": b"x"}


@pytest.mark.parametrize("name", ["../evil.json", "/abs/evil.json", "a/../../evil.json",
                                  "..\\evil.json"])
def test_path_traversal_refused(tmp_path, name):
    p = _zip(tmp_path / "t.keras", {"config.json": "{}", name: "boom"})
    with pytest.raises(ValueError, match="path traversal"):
        safe_io.read_archive(str(p), ["config.json"])


def test_symlink_member_refused(tmp_path):
    p = tmp_path / "l.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("config.json", "{}")
        info = zipfile.ZipInfo("model.weights.h5")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        safe_io.read_archive(str(p), ["config.json"])


def test_zip_bomb_refused_before_inflating(tmp_path, monkeypatch):
    # 64 MiB of zeros deflates to ~64 KiB: ratio ~1000. Lower the bounds so the test stays small.
    p = _zip(tmp_path / "bomb.keras", {"config.json": "{}",
                                       "model.weights.h5": b"\0" * (64 << 20)},
             compression=zipfile.ZIP_DEFLATED)
    monkeypatch.setitem(safe_io.LIMITS, "max_ratio", 100)
    with pytest.raises(ValueError, match="zip bomb"):
        safe_io.read_archive(str(p), ["config.json", "model.weights.h5"])
    monkeypatch.setitem(safe_io.LIMITS, "max_ratio", 10**9)
    monkeypatch.setitem(safe_io.LIMITS, "max_member_bytes", 1 << 20)
    with pytest.raises(ValueError, match="over the limit"):
        safe_io.read_archive(str(p), ["config.json", "model.weights.h5"])


def test_declared_size_lie_is_caught(tmp_path):
    # The central directory declares 10 bytes for a 1002-byte member: reading stops at the
    # declaration (memory stays bounded by what is declared) and the CRC check then fails.
    p = _zip(tmp_path / "lie.keras", {"config.json": "{}" + " " * 1000})
    raw = bytearray(p.read_bytes())
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = (10).to_bytes(4, "little")  # uncompressed size field
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"lie\.keras.*'config.json' is corrupt"):
        safe_io.read_archive(str(p), ["config.json"])


def test_missing_member_and_not_a_zip(tmp_path):
    p = _zip(tmp_path / "m.keras", {"config.json": "{}"})
    with pytest.raises(ValueError, match="lacks"):
        safe_io.read_archive(str(p), ["config.json", "model.weights.h5"])
    q = tmp_path / "r.keras"
    q.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="not a valid .keras"):
        safe_io.read_archive(str(q), ["config.json"])


def test_json_depth_bounded_without_recursion():
    deep = "[" * 100000 + "]" * 100000
    with pytest.raises(ValueError, match="nested deeper than 200"):
        safe_io.loads_json(deep.encode(), "config.json")
    # brackets inside strings do not count
    assert safe_io.loads_json(b'{"a": "[[[[[[[[[[[["}', "c.json") == {"a": "[[[[[[[[[[[["}
    with pytest.raises(ValueError, match="invalid JSON"):
        safe_io.loads_json(b'{"a": ', "c.json")
    with pytest.raises(ValueError, match="not UTF-8"):
        safe_io.loads_json(b"\xff\xfe{", "c.json")


def test_h5_dataset_with_enormous_shape_fails_before_allocating():
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        # declares 2**40 float32 elements (4 TiB) but stores nothing (no chunk written)
        f.create_dataset("big", shape=(2**20, 2**20), dtype="float32", chunks=(1, 16))
    f = safe_io.open_h5_bytes(buf.getvalue(), "w.h5")
    with pytest.raises(ValueError, match=r"holds shape \(1048576, 1048576\) but the model "
                                         r"expects \(3, 2\)"):
        safe_io.read_dataset(f["big"], (3, 2), "layer 'dense'")
    with pytest.raises(ValueError, match="over the limit"):
        safe_io.read_dataset(f["big"], None, "layer 'dense'")


def test_h5_non_numeric_and_bad_bytes():
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("s", data=np.array([b"abc"]))
    f = safe_io.open_h5_bytes(buf.getvalue(), "w.h5")
    with pytest.raises(ValueError, match="numeric"):
        safe_io.read_dataset(f["s"], (1,), "x")
    with pytest.raises(ValueError, match="not a valid HDF5"):
        safe_io.open_h5_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "w.h5")


def test_atomic_write_keeps_previous_file_on_failure(tmp_path):
    p = tmp_path / "f.bin"
    safe_io.atomic_write(str(p), lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise RuntimeError("killed mid-way")

    with pytest.raises(RuntimeError, match="killed"):
        safe_io.atomic_write(str(p), broken)
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]  # the temporary file was removed
