"""Reads the golden reference cases (TensorFlow 2.21 / Keras 3.15 values) in tests/golden/.

The format is described in tests/golden/README.md. Tests select cases by category and api and
resolve their arguments here, so no test hard-codes a shape or a value.
"""

import json
import pathlib

import numpy as np

import tapeflow

GOLDEN = pathlib.Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
_NPZ = {}


def npz(category):
    if category not in _NPZ:
        _NPZ[category] = np.load(GOLDEN / MANIFEST["categories"][category]["file"])
    return _NPZ[category]


def cases(category, api_prefix=None):
    """The cases of ``category`` (optionally only those whose api starts with ``api_prefix``)."""
    return [c for c in MANIFEST["cases"] if c["category"] == category and
            (api_prefix is None or c["api"].startswith(api_prefix))]


def lookup(api):
    root, *parts = api.split(".")
    obj = tapeflow if root == "tf" else tapeflow.keras
    for p in parts:
        obj = getattr(obj, p)
    return obj


def array(case, name):
    return npz(case["category"])[f"{case['id']}/{name}"]


def resolve(v, case):
    if isinstance(v, dict) and set(v) == {"array"}:
        return array(case, v["array"])
    if isinstance(v, dict) and set(v) == {"layer"}:
        spec = v["layer"]
        return lookup(spec["api"])(*[resolve(a, case) for a in spec.get("args", [])],
                                   **{k: resolve(a, case) for k, a in
                                      spec.get("kwargs", {}).items()})
    if isinstance(v, dict) and set(v) == {"schedule"}:
        spec = v["schedule"]
        return lookup(spec["api"])(**spec["kwargs"])
    if isinstance(v, list):
        return [resolve(a, case) for a in v]
    return v


def resolve_watched(v, case, tensors, constant=True):
    """Like :func:`resolve` for arrays and lists, but an array named in ``tensors`` becomes that
    (watched) tensor, so gradients can flow to it; other arrays become ``tf.constant``s (raw
    arrays with ``constant=False``)."""
    if isinstance(v, dict) and set(v) == {"array"}:
        name = v["array"]
        if name in tensors:
            return tensors[name]
        return tapeflow.constant(array(case, name)) if constant else array(case, name)
    if isinstance(v, list):
        return [resolve_watched(a, case, tensors, constant) for a in v]
    return v


def resolve_kwargs(d, case):
    return {k: resolve(v, case) for k, v in d.items()}


def index(spec):
    return tuple(None if i is None else Ellipsis if i == "..." else
                 slice(*i["slice"]) if isinstance(i, dict) else i for i in spec)


def assert_close(got, case, name, rtol=None, atol=None):
    want = array(case, name)
    got = np.asarray(got)
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=f"{case['id']} {name}")
    else:
        np.testing.assert_allclose(got, want, rtol=case["rtol"] if rtol is None else rtol,
                                   atol=case["atol"] if atol is None else atol,
                                   err_msg=f"{case['id']} {name}")
