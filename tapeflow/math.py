"""``tf.math``: elementwise math, reductions and comparisons."""

from tapeflow.ops.array_ops import *  # noqa: F401,F403
from tapeflow.ops.index_ops import segment_sum, unsorted_segment_sum  # noqa: F401
from tapeflow.ops.linalg_ops import (
    matmul,  # noqa: F401
    tensordot,  # noqa: F401
)
from tapeflow.ops.math_ops import (  # noqa: F401
    abs,
    add,
    atan,
    ceil,
    cos,
    cosh,
    divide,
    divide_no_nan,
    equal,
    erf,
    exp,
    expm1,
    floor,
    floordiv,
    floormod,
    greater,
    greater_equal,
    is_finite,
    is_inf,
    is_nan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    pow,
    reciprocal,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    squared_difference,
    subtract,
    tan,
    tanh,
    truediv,
)
from tapeflow.ops.nn_ops import l2_normalize, log_sigmoid, log_softmax, softmax, softsign  # noqa: F401  # noqa: F401
from tapeflow.ops.reduction_ops import (  # noqa: F401
    argmax,
    argmin,
    count_nonzero,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_std,
    reduce_sum,
    reduce_variance,
)
from tapeflow.ops.scan_ops import add_n, cumprod, cumsum  # noqa: F401
from tapeflow.ops.sort_ops import top_k  # noqa: F401
