"""Test-wide fixtures."""

import sys

import pytest


@pytest.fixture(autouse=True)
def _restore_keras_globals():
    # A test that changes Keras's global dtype policy or floatx must not leak it into the next.
    yield
    cfg = sys.modules.get("tapeflow.keras.config")
    if cfg is not None:
        cfg.set_dtype_policy(None)
        cfg.set_floatx("float32")
