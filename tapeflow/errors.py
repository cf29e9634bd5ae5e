"""``tf.errors``: TensorFlow's exception types."""

from tapeflow.framework.errors import *  # noqa: F401,F403
