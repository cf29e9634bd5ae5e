"""``tf.linalg``: matrix products and norms."""

from tapeflow.ops.array_ops import eye  # noqa: F401
from tapeflow.ops.clip_ops import global_norm  # noqa: F401
from tapeflow.ops.linalg_ops import (  # noqa: F401  # noqa: F401
    adjoint,
    band_part,
    det,
    diag,
    diag_part,
    einsum,
    inv,
    logdet,
    matmul,  # noqa: F401
    matrix_transpose,
    matvec,
    norm,
    slogdet,
    solve,
    tensordot,
    trace,
)
from tapeflow.ops.nn_ops import l2_normalize  # noqa: F401
