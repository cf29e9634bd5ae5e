"""tapeflow: TensorFlow 2's tensor API and Keras 3 on NumPy.

``import tapeflow as tf`` gives TensorFlow's eager API (tensors, Variables, ops, GradientTape);
``from tapeflow import keras`` gives Keras 3. ``keras`` and ``data`` load on first use so that
``import tapeflow`` stays fast.

>>> import tapeflow as tf
>>> x = tf.Variable(3.0)
>>> with tf.GradientTape() as tape:
...     y = x * x
>>> float(tape.gradient(y, x))
6.0
"""

import importlib as _importlib

from tapeflow import dtypes, errors, linalg, math, nest, nn  # noqa: F401
from tapeflow import ops as _ops  # noqa: F401  (binds the Tensor operators)
from tapeflow.framework.dtypes import (  # noqa: F401
    DType,
    as_dtype,
    bool,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from tapeflow.framework.module import Module  # noqa: F401
from tapeflow.framework.tape import GradientTape, UnconnectedGradients, custom_gradient  # noqa
from tapeflow.framework.tensor import (  # noqa
    Tensor,
    TensorShape,
    constant,
    convert_to_tensor,
    is_tensor,  # noqa: F401
)
from tapeflow.framework.tensor_spec import TensorSpec  # noqa: F401
from tapeflow.framework.variable import Variable  # noqa: F401
from tapeflow.function import function  # noqa: F401
from tapeflow.ops.array_ops import (  # noqa: F401
    concat,
    expand_dims,
    eye,
    fill,
    gather,
    identity,
    linspace,
    one_hot,
    ones,
    pad,
    range,
    rank,
    reshape,
    shape,
    size,
    split,
    squeeze,
    stack,
    tile,
    transpose,
    unstack,
    zeros,
)
from tapeflow.ops.check_ops import (  # noqa: F401
    assert_equal,
    assert_greater,
    assert_less,
    assert_rank,
)
from tapeflow.ops.clip_ops import clip_by_global_norm, clip_by_norm  # noqa: F401
from tapeflow.ops.index_ops import (  # noqa: F401
    boolean_mask,
    gather_nd,
    meshgrid,
    reverse,
    roll,
    scatter_nd,
    sequence_mask,
    tensor_scatter_nd_add,
    tensor_scatter_nd_update,
    unique,
)
from tapeflow.ops.init_ops import (  # noqa: F401
    constant_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    zeros_initializer,
)
from tapeflow.ops.linalg_ops import (  # noqa: F401
    einsum,
    matmul,  # noqa: F401
    norm,
    tensordot,
)
from tapeflow.ops.logging_ops import print_ as print  # noqa: E402,F401,A001
from tapeflow.ops.math_ops import (  # noqa: F401
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cast,
    clip_by_value,
    cos,
    cosh,
    divide,
    equal,
    exp,
    floor,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    ones_like,
    pow,
    realdiv,
    round,
    saturate_cast,
    scalar_mul,
    sigmoid,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    stop_gradient,
    subtract,
    tan,
    tanh,
    truediv,
    where,
    zeros_like,
)
from tapeflow.ops.misc_ops import (  # noqa: F401
    control_dependencies,
    device,
    ensure_shape,
    executing_eagerly,
    get_static_value,
    identity_n,
    init_scope,
    name_scope,
    no_gradient,
    repeat,
    searchsorted,
    shape_n,
    slice,
)
from tapeflow.ops.reduction_ops import (  # noqa: F401
    argmax,
    argmin,
    broadcast_to,
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
from tapeflow.ops.scan_ops import add_n, cumsum  # noqa: F401
from tapeflow.ops.sort_ops import argsort, sort  # noqa: F401

__version__ = "0.1.0"
newaxis = None

_LAZY = {"keras": "tapeflow.keras", "data": "tapeflow.data", "random": "tapeflow.random",
         "config": "tapeflow.config",
         "bitwise": "tapeflow.bitwise",
         "debugging": "tapeflow.debugging", "teach": "tapeflow.teach"}


def __getattr__(name):
    # keras and data are imported on first use: they are most of the package and most scripts
    # that only need tensors should not pay for them at import.
    if name in _LAZY:
        mod = _importlib.import_module(_LAZY[name])
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'tapeflow' has no attribute {name!r}")
