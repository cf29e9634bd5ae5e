"""Elementwise math: arithmetic, powers, exponentials, trigonometry, comparisons, logic, cast.

Each op is a forward on raw arrays registered under its TensorFlow name, with its gradient right
below it written in tapeflow ops (so nested tapes differentiate it again).
"""

import math as _math

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.registry import _TAPES, not_differentiable, op
from tapeflow.framework.tensor import Tensor
from tapeflow.ops._helpers import binary_args, to_tensor

_ndarray = np.ndarray
_new_tensor = Tensor.__new__


def _binary_op(opfn, tf_name):
    forward = opfn.opdef.forward

    def public(x, y, name=None):
        # Fast path (no tape active, two tensors of one dtype): call the forward directly and
        # wrap, skipping argument conversion and the registry; same numbers as ``opfn``.
        if not _TAPES and type(x) is Tensor and type(y) is Tensor:
            xv = x._value
            yv = y._value
            if xv.dtype is yv.dtype:
                out = forward(xv, yv)
                r = _new_tensor(Tensor)
                r._value = out if type(out) is _ndarray else np.asarray(out)
                return r
        x, y = binary_args(x, y, tf_name)
        return opfn(x, y)

    public.__name__ = opfn.__name__.lstrip("_")
    return public


# ---------------------------------------------------------------- arithmetic
@op("AddV2")
def _add(x, y):
    return x + y


@_add.defgrad
def _add_grad(op, dy):
    return (dy, dy)


@op("Sub")
def _sub(x, y):
    return x - y


@_sub.defgrad
def _sub_grad(op, dy):
    return (dy, negative(dy))


@op("Mul")
def _mul(x, y):
    return x * y


@_mul.defgrad
def _mul_grad(op, dy):
    x, y = op.inputs
    return (dy * y, dy * x)


@op("RealDiv")
def _realdiv(x, y):
    return x / y


@_realdiv.defgrad
def _realdiv_grad(op, dy):
    x, y = op.inputs
    return (dy / y, negative(dy) * x / (y * y))


@op("FloorDiv")
def _floordiv(x, y):
    return np.floor_divide(x, y)


@op("FloorMod")
def _floormod(x, y):
    return np.mod(x, y)


@_floormod.defgrad
def _floormod_grad(op, dy):
    x, y = op.inputs
    return (dy, negative(dy) * floor(x / y))


@op("Pow")
def _pow(x, y):
    return np.power(x, y)


@_pow.defgrad
def _pow_grad(op, dy):
    x, y = op.inputs
    (z,) = op.outputs
    dx = dy * y * _pow(x, y - 1.0 if x._value.dtype.kind in "fc" else y - 1)
    if y._value.dtype.kind not in "fc":
        return (dx, None)
    safe_log = where(x > 0, log(where(x > 0, x, ones_like(x))), zeros_like(x))
    return (dx, dy * z * safe_log)


@op("Maximum")
def _maximum(x, y):
    return np.maximum(x, y)


@_maximum.defgrad
def _maximum_grad(op, dy):
    x, y = op.inputs
    mask = greater_equal(x, y)
    zero = zeros_like(dy)
    return (where(mask, dy, zero), where(mask, zero, dy))


@op("Minimum")
def _minimum(x, y):
    return np.minimum(x, y)


@_minimum.defgrad
def _minimum_grad(op, dy):
    x, y = op.inputs
    mask = less_equal(x, y)
    zero = zeros_like(dy)
    return (where(mask, dy, zero), where(mask, zero, dy))


@op("SquaredDifference")
def _squared_difference(x, y):
    d = x - y
    return d * d


@_squared_difference.defgrad
def _squared_difference_grad(op, dy):
    x, y = op.inputs
    g = dy * 2.0 * (x - y)
    return (g, negative(g))


add = _binary_op(_add, "AddV2")
subtract = _binary_op(_sub, "Sub")
multiply = _binary_op(_mul, "Mul")
floordiv = _binary_op(_floordiv, "FloorDiv")
floormod = _binary_op(_floormod, "FloorMod")
maximum = _binary_op(_maximum, "Maximum")
minimum = _binary_op(_minimum, "Minimum")
squared_difference = _binary_op(_squared_difference, "SquaredDifference")
mod = floormod
floor_div = floordiv

add.__doc__ = """Returns x + y elementwise, with broadcasting.

    >>> import tapeflow as tf
    >>> tf.add(tf.constant([1.0, 2.0]), 1.0).numpy()
    array([2., 3.], dtype=float32)
    """
subtract.__doc__ = """Returns x - y elementwise, with broadcasting.

    >>> import tapeflow as tf
    >>> tf.subtract(1.0, tf.constant([1.0, 2.0])).numpy()
    array([ 0., -1.], dtype=float32)
    """
multiply.__doc__ = """Returns x * y elementwise, with broadcasting.

    >>> import tapeflow as tf
    >>> tf.multiply(tf.constant([1.0, 2.0]), 3.0).numpy()
    array([3., 6.], dtype=float32)
    """
maximum.__doc__ = """Returns max(x, y) elementwise; the gradient goes to the larger operand.

    >>> import tapeflow as tf
    >>> tf.maximum(tf.constant([1.0, 5.0]), 2.0).numpy()
    array([2., 5.], dtype=float32)
    """
minimum.__doc__ = """Returns min(x, y) elementwise; the gradient goes to the smaller operand.

    >>> import tapeflow as tf
    >>> tf.minimum(tf.constant([1.0, 5.0]), 2.0).numpy()
    array([1., 2.], dtype=float32)
    """


def _int_div_dtype(dt):
    return np.float32 if dt.itemsize <= 2 else np.float64


def truediv(x, y, name=None):
    """Returns x / y; integer operands are first converted to float (float64 for int32/int64).

    >>> import tapeflow as tf
    >>> tf.math.truediv(tf.constant([3, 4]), tf.constant([2, 2])).numpy()
    array([1.5, 2. ])
    """
    x, y = binary_args(x, y, "RealDiv")
    if x._value.dtype.kind in "iub":
        ft = _int_div_dtype(x._value.dtype)
        x, y = cast(x, ft), cast(y, ft)
    return _realdiv(x, y)


def divide(x, y, name=None):
    """Returns x / y elementwise (``tf.math.divide``), as Python 3's true division.

    >>> import tapeflow as tf
    >>> tf.divide(tf.constant([1.0, 3.0]), 2.0).numpy()
    array([0.5, 1.5], dtype=float32)
    """
    return truediv(x, y)


def divide_no_nan(x, y, name=None):
    """Returns x / y, or 0 where y is 0.

    >>> import tapeflow as tf
    >>> tf.math.divide_no_nan(tf.constant([1.0, 1.0]), tf.constant([0.0, 2.0])).numpy()
    array([0. , 0.5], dtype=float32)
    """
    x, y = binary_args(x, y, "DivNoNan")
    zero = y == 0
    safe = where(zero, ones_like(y), y)
    return where(zero, zeros_like(x * safe), x / safe)


def pow(x, y, name=None):  # noqa: A001 - TensorFlow's name
    """Returns x ** y elementwise.

    >>> import tapeflow as tf
    >>> tf.pow(tf.constant([2.0, 3.0]), 2.0).numpy()
    array([4., 9.], dtype=float32)
    """
    x, y = binary_args(x, y, "Pow")
    return _pow(x, y)


# ---------------------------------------------------------------- unary
@op("Neg")
def _neg(x):
    return np.negative(x)


@_neg.defgrad
def _neg_grad(op, dy):
    return (_neg(dy),)


def negative(x, name=None):
    """Returns -x elementwise.

    >>> import tapeflow as tf
    >>> tf.negative(tf.constant([1.0, -2.0])).numpy()
    array([-1.,  2.], dtype=float32)
    """
    return _neg(x)


@op("Abs")
def abs(x):  # noqa: A001 - TensorFlow's name
    """Returns |x| elementwise.

    >>> import tapeflow as tf
    >>> tf.abs(tf.constant([-1.5, 2.0])).numpy()
    array([1.5, 2. ], dtype=float32)
    """
    return np.abs(x)


@abs.defgrad
def _abs_grad(op, dy):
    return (dy * sign(op.inputs[0]),)


@op("Sign")
def sign(x):
    """Returns -1, 0 or 1 by the sign of x.

    >>> import tapeflow as tf
    >>> tf.sign(tf.constant([-2.0, 0.0, 3.0])).numpy()
    array([-1.,  0.,  1.], dtype=float32)
    """
    return np.sign(x)


@op("Square")
def square(x):
    """Returns x * x elementwise.

    >>> import tapeflow as tf
    >>> tf.square(tf.constant([2.0, -3.0])).numpy()
    array([4., 9.], dtype=float32)
    """
    return np.square(x)


@square.defgrad
def _square_grad(op, dy):
    return (dy * 2.0 * op.inputs[0],)


@op("Sqrt")
def sqrt(x):
    """Returns the square root of x elementwise.

    >>> import tapeflow as tf
    >>> tf.sqrt(tf.constant([4.0, 9.0])).numpy()
    array([2., 3.], dtype=float32)
    """
    return np.sqrt(x)


@sqrt.defgrad
def _sqrt_grad(op, dy):
    return (dy * 0.5 / op.outputs[0],)


@op("Rsqrt")
def rsqrt(x):
    """Returns 1 / sqrt(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.math.rsqrt(tf.constant([4.0])).numpy()
    array([0.5], dtype=float32)
    """
    return 1.0 / np.sqrt(x)


@rsqrt.defgrad
def _rsqrt_grad(op, dy):
    y = op.outputs[0]
    return (dy * -0.5 * y * y * y,)


@op("Reciprocal")
def reciprocal(x):
    """Returns 1 / x elementwise.

    >>> import tapeflow as tf
    >>> tf.math.reciprocal(tf.constant([2.0])).numpy()
    array([0.5], dtype=float32)
    """
    return np.reciprocal(x)


@reciprocal.defgrad
def _reciprocal_grad(op, dy):
    y = op.outputs[0]
    return (negative(dy) * y * y,)


@op("Exp")
def exp(x):
    """Returns e ** x elementwise.

    >>> import tapeflow as tf
    >>> tf.exp(tf.constant([0.0])).numpy()
    array([1.], dtype=float32)
    """
    return np.exp(x)


@exp.defgrad
def _exp_grad(op, dy):
    return (dy * op.outputs[0],)


@op("Expm1")
def expm1(x):
    """Returns e ** x - 1 elementwise, accurately near 0.

    >>> import tapeflow as tf
    >>> tf.math.expm1(tf.constant([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return np.expm1(x)


@expm1.defgrad
def _expm1_grad(op, dy):
    return (dy * exp(op.inputs[0]),)


@op("Log")
def log(x):
    """Returns the natural logarithm of x elementwise.

    >>> import tapeflow as tf
    >>> tf.math.log(tf.constant([1.0])).numpy()
    array([0.], dtype=float32)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


@log.defgrad
def _log_grad(op, dy):
    return (dy / op.inputs[0],)


@op("Log1p")
def log1p(x):
    """Returns log(1 + x) elementwise, accurately near 0.

    >>> import tapeflow as tf
    >>> tf.math.log1p(tf.constant([0.0])).numpy()
    array([0.], dtype=float32)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log1p(x)


@log1p.defgrad
def _log1p_grad(op, dy):
    return (dy / (op.inputs[0] + 1.0),)


@op("Sin")
def sin(x):
    """Returns sin(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.sin(tf.constant([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return np.sin(x)


@sin.defgrad
def _sin_grad(op, dy):
    return (dy * cos(op.inputs[0]),)


@op("Cos")
def cos(x):
    """Returns cos(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.cos(tf.constant([0.0])).numpy()
    array([1.], dtype=float32)
    """
    return np.cos(x)


@cos.defgrad
def _cos_grad(op, dy):
    return (negative(dy) * sin(op.inputs[0]),)


@op("Tan")
def tan(x):
    """Returns tan(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.tan(tf.constant([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return np.tan(x)


@tan.defgrad
def _tan_grad(op, dy):
    c = cos(op.inputs[0])
    return (dy / (c * c),)


@op("Atan")
def atan(x):
    """Returns arctan(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.atan(tf.constant([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return np.arctan(x)


@atan.defgrad
def _atan_grad(op, dy):
    x = op.inputs[0]
    return (dy / (1.0 + x * x),)


@op("Sinh")
def sinh(x):
    """Returns sinh(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.sinh(tf.constant([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return np.sinh(x)


@sinh.defgrad
def _sinh_grad(op, dy):
    return (dy * cosh(op.inputs[0]),)


@op("Cosh")
def cosh(x):
    """Returns cosh(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.cosh(tf.constant([0.0])).numpy()
    array([1.], dtype=float32)
    """
    return np.cosh(x)


@cosh.defgrad
def _cosh_grad(op, dy):
    return (dy * sinh(op.inputs[0]),)


@op("Tanh")
def tanh(x):
    """Returns the hyperbolic tangent of x elementwise.

    >>> import tapeflow as tf
    >>> tf.math.tanh(tf.constant([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.7616], dtype=float32)
    """
    return np.tanh(x)


@tanh.defgrad
def _tanh_grad(op, dy):
    y = op.outputs[0]
    return (dy * (1.0 - y * y),)


def _sigmoid_np(x):
    # exp of a negative argument only, so large |x| neither overflows nor loses precision
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


@op("Sigmoid")
def sigmoid(x):
    """Returns 1 / (1 + exp(-x)) elementwise, without overflow for large |x|.

    >>> import tapeflow as tf
    >>> tf.math.sigmoid(tf.constant([0.0])).numpy()
    array([0.5], dtype=float32)
    """
    return _sigmoid_np(x)


@sigmoid.defgrad
def _sigmoid_grad(op, dy):
    y = op.outputs[0]
    return (dy * y * (1.0 - y),)


@op("Softplus")
def softplus(x):
    """Returns log(1 + exp(x)) elementwise, computed stably.

    >>> import tapeflow as tf
    >>> tf.math.softplus(tf.constant([0.0])).numpy().round(4)
    array([0.6931], dtype=float32)
    """
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


@softplus.defgrad
def _softplus_grad(op, dy):
    return (dy * sigmoid(op.inputs[0]),)


_erf_vec = np.vectorize(_math.erf, otypes=[np.float64])


@op("Erf")
def erf(x):
    """Returns the Gauss error function of x elementwise.

    >>> import tapeflow as tf
    >>> tf.math.erf(tf.constant([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.8427], dtype=float32)
    """
    return _erf_np(x)


_ERF_IMPL = []  # the erf to use, found on first call (scipy's if installed: much faster)


def _erf_np(x):
    if not _ERF_IMPL:
        try:
            from scipy.special import erf as _scipy_erf  # noqa: PLC0415 - optional, not at import

            _ERF_IMPL.append(_scipy_erf)
        except ImportError:
            _ERF_IMPL.append(_erf_vec)
    return _ERF_IMPL[0](x).astype(x.dtype, copy=False)


@erf.defgrad
def _erf_grad(op, dy):
    x = op.inputs[0]
    return (dy * (2.0 / _math.sqrt(_math.pi)) * exp(negative(x * x)),)


@op("Floor")
def floor(x):
    """Returns the largest integer not greater than x, elementwise.

    >>> import tapeflow as tf
    >>> tf.floor(tf.constant([1.5, -1.5])).numpy()
    array([ 1., -2.], dtype=float32)
    """
    return np.floor(x)


@op("Ceil")
def ceil(x):
    """Returns the smallest integer not less than x, elementwise.

    >>> import tapeflow as tf
    >>> tf.math.ceil(tf.constant([1.5])).numpy()
    array([2.], dtype=float32)
    """
    return np.ceil(x)


@op("Round")
def round(x):  # noqa: A001 - TensorFlow's name
    """Rounds half to even, elementwise (banker's rounding, as TensorFlow).

    >>> import tapeflow as tf
    >>> tf.round(tf.constant([0.5, 1.5, 2.4])).numpy()
    array([0., 2., 2.], dtype=float32)
    """
    return np.round(x)


@op("IsNan")
def is_nan(x):
    """True where x is NaN.

    >>> import tapeflow as tf
    >>> tf.math.is_nan(tf.constant([1.0, float("nan")])).numpy()
    array([False,  True])
    """
    return np.isnan(x)


@op("IsInf")
def is_inf(x):
    """True where x is +-inf.

    >>> import tapeflow as tf
    >>> tf.math.is_inf(tf.constant([1.0, float("inf")])).numpy()
    array([False,  True])
    """
    return np.isinf(x)


@op("IsFinite")
def is_finite(x):
    """True where x is finite.

    >>> import tapeflow as tf
    >>> tf.math.is_finite(tf.constant([1.0, float("inf")])).numpy()
    array([ True, False])
    """
    return np.isfinite(x)


# ---------------------------------------------------------------- comparisons and logic
def _compare(np_fn, tf_name, doc):
    @op(tf_name)
    def fwd(x, y):
        return np_fn(x, y)

    def public(x, y, name=None):
        x, y = binary_args(x, y, tf_name)
        return fwd(x, y)

    public.__doc__ = doc
    return public


equal = _compare(np.equal, "Equal", """True where x == y (with broadcasting).

    >>> import tapeflow as tf
    >>> tf.equal(tf.constant([1, 2]), 2).numpy()
    array([False,  True])
    """)
not_equal = _compare(np.not_equal, "NotEqual", """True where x != y.

    >>> import tapeflow as tf
    >>> tf.not_equal(tf.constant([1, 2]), 2).numpy()
    array([ True, False])
    """)
less = _compare(np.less, "Less", """True where x < y.

    >>> import tapeflow as tf
    >>> tf.less(tf.constant([1, 2]), 2).numpy()
    array([ True, False])
    """)
less_equal = _compare(np.less_equal, "LessEqual", """True where x <= y.

    >>> import tapeflow as tf
    >>> tf.less_equal(tf.constant([1, 3]), 2).numpy()
    array([ True, False])
    """)
greater = _compare(np.greater, "Greater", """True where x > y.

    >>> import tapeflow as tf
    >>> tf.greater(tf.constant([1, 3]), 2).numpy()
    array([False,  True])
    """)
greater_equal = _compare(np.greater_equal, "GreaterEqual", """True where x >= y.

    >>> import tapeflow as tf
    >>> tf.greater_equal(tf.constant([1, 2]), 2).numpy()
    array([False,  True])
    """)
logical_and = _compare(np.logical_and, "LogicalAnd", """Elementwise AND of two bool tensors.

    >>> import tapeflow as tf
    >>> tf.logical_and(tf.constant([True, True]), tf.constant([True, False])).numpy()
    array([ True, False])
    """)
logical_or = _compare(np.logical_or, "LogicalOr", """Elementwise OR of two bool tensors.

    >>> import tapeflow as tf
    >>> tf.logical_or(tf.constant([True, False]), tf.constant([False, False])).numpy()
    array([ True, False])
    """)
logical_xor = _compare(np.logical_xor, "LogicalXor", """Elementwise XOR of two bool tensors.

    >>> import tapeflow as tf
    >>> tf.math.logical_xor(tf.constant([True, True]), tf.constant([True, False])).numpy()
    array([False,  True])
    """)


@op("LogicalNot")
def logical_not(x):
    """Elementwise NOT of a bool tensor.

    >>> import tapeflow as tf
    >>> tf.logical_not(tf.constant([True, False])).numpy()
    array([False,  True])
    """
    return np.logical_not(x)


def tensor_equals(x, y):
    """``x == y`` for tensors: elementwise, or False when the shapes cannot broadcast."""
    try:
        return equal(x, y)
    except (ValueError, TypeError):
        return False


def tensor_not_equals(x, y):
    try:
        return not_equal(x, y)
    except (ValueError, TypeError):
        return True


# ---------------------------------------------------------------- select, cast, clip
@op("SelectV2")
def _select(cond, x, y):
    return np.where(cond, x, y)


@_select.defgrad
def _select_grad(op, dy):
    cond = op.inputs[0]
    zero = zeros_like(dy)
    return (None, _select(cond, dy, zero), _select(cond, zero, dy))


@op("Where")
def _where_indices(cond):
    return np.argwhere(cond).astype(np.int64)


def where(condition, x=None, y=None, name=None):
    """Picks from x where ``condition`` is true and from y elsewhere, with broadcasting.

    With only ``condition``, returns the int64 coordinates of its true elements.

    >>> import tapeflow as tf
    >>> tf.where(tf.constant([True, False]), 1.0, 0.0).numpy()
    array([1., 0.], dtype=float32)
    >>> tf.where(tf.constant([False, True])).numpy()
    array([[1]])
    """
    condition = to_tensor(condition)
    if x is None and y is None:
        return _where_indices(condition)
    if x is None or y is None:
        raise ValueError("where: x and y must both be given, or both be None.")
    if condition._value.dtype != np.bool_:
        condition = cast(condition, "bool")
    x, y = binary_args(x, y, "SelectV2")
    return _select(condition, x, y)


@op("Cast")
def _cast(x, dtype):
    if x.dtype.kind in "fc" and np.dtype(dtype).kind in "iu":
        # TensorFlow truncates toward zero; NumPy's astype does too, but NaN/inf are UB there.
        return np.trunc(x).astype(dtype)
    return x.astype(dtype)


@_cast.defgrad
def _cast_grad(op, dy):
    src = op.inputs[0]
    if src._value.dtype.kind not in "fc":
        return (None,)
    return (_cast(dy, dtype=src._value.dtype),)


def cast(x, dtype, name=None):
    """Casts x to ``dtype``; float to int truncates toward zero.

    >>> import tapeflow as tf
    >>> tf.cast(tf.constant([1.7, -1.7]), tf.int32).numpy()
    array([ 1, -1], dtype=int32)
    """
    x = to_tensor(x)
    dt = _dt.as_dtype(dtype)._np
    if x._value.dtype == dt:
        return x
    return _cast(x, dtype=dt)


@op("ClipByValue")
def _clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


@_clip.defgrad
def _clip_grad(op, dy):
    x, lo, hi = op.inputs
    inside = logical_and(greater_equal(x, lo), less_equal(x, hi))
    return (where(inside, dy, zeros_like(dy)), None, None)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clips t elementwise to [clip_value_min, clip_value_max]; the gradient is 0 outside.

    >>> import tapeflow as tf
    >>> tf.clip_by_value(tf.constant([-2.0, 0.5, 3.0]), -1.0, 1.0).numpy()
    array([-1. ,  0.5,  1. ], dtype=float32)
    """
    t = to_tensor(t)
    _, lo = binary_args(t, clip_value_min, "ClipByValue")
    _, hi = binary_args(t, clip_value_max, "ClipByValue")
    return _clip(t, lo, hi)


def zeros_like(x, dtype=None, name=None):
    """A tensor of zeros with x's shape (and dtype unless given).

    >>> import tapeflow as tf
    >>> tf.zeros_like(tf.constant([1, 2])).numpy()
    array([0, 0], dtype=int32)
    """
    v = x._value if hasattr(x, "_value") else np.asarray(to_tensor(x)._value)
    dt = v.dtype if dtype is None else _dt.as_dtype(dtype)._np
    return Tensor(np.zeros(v.shape, dtype=dt))


def ones_like(x, dtype=None, name=None):
    """A tensor of ones with x's shape (and dtype unless given).

    >>> import tapeflow as tf
    >>> tf.ones_like(tf.constant([1.0, 2.0])).numpy()
    array([1., 1.], dtype=float32)
    """
    v = x._value if hasattr(x, "_value") else np.asarray(to_tensor(x)._value)
    dt = v.dtype if dtype is None else _dt.as_dtype(dtype)._np
    return Tensor(np.ones(v.shape, dtype=dt))


not_differentiable("FloorDiv", "Sign", "Floor", "Ceil", "Round", "IsNan", "IsInf", "IsFinite",
                   "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual",
                   "LogicalAnd", "LogicalOr", "LogicalXor", "LogicalNot", "Where")


@op("StopGradient")
def stop_gradient(input):  # noqa: A002 - TensorFlow argument name
    """Returns ``input`` unchanged, but no gradient flows through it.

    >>> import tapeflow as tf
    >>> x = tf.constant(2.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * tf.stop_gradient(x)
    >>> float(tape.gradient(y, x))
    2.0
    """
    return input


stop_gradient_value = stop_gradient
not_differentiable("StopGradient")


def relu_like(x):
    """max(x, 0) for internal composite formulas (the public one is ``tf.nn.relu``)."""
    from tapeflow.ops.nn_ops import relu

    return relu(x)
