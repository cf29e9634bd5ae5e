"""``tf.nest``: work with nested structures of tensors."""

from tapeflow.framework.nest import *  # noqa: F401,F403
