"""``tf.linalg``: matrix products and norms."""

from tapeflow.ops.array_ops import eye  # noqa: F401
from tapeflow.ops.linalg_ops import matmul  # noqa: F401
from tapeflow.ops.nn_ops import l2_normalize  # noqa: F401
