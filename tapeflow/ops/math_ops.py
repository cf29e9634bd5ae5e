"""Elementwise math: arithmetic, powers, exponentials, trigonometry, comparisons, logic, cast.

Each op is a forward on raw arrays registered under its TensorFlow name, with its gradient right
below it written in tapeflow ops (so nested tapes differentiate it again).
"""

import math as _math

from tapeflow._backend import np
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.errors import InvalidArgumentError
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
                try:
                    out = forward(xv, yv)
                except ValueError as e:
                    _check_broadcast(e, tf_name, x, y)
                    raise
                r = _new_tensor(Tensor)
                r._value = out if type(out) is _ndarray else np.asarray(out)
                return r
        x, y = binary_args(x, y, tf_name)
        try:
            return opfn(x, y)
        except ValueError as e:
            _check_broadcast(e, tf_name, x, y)
            raise

    public.__name__ = opfn.__name__.lstrip("_")
    return public


def _check_broadcast(err, tf_name, *args):
    """Re-raises NumPy's broadcasting ValueError in TensorFlow's type and words."""
    shapes = [a._value.shape for a in args]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        text = " vs. ".join("[" + ",".join(str(d) for d in sh) + "]" for sh in shapes)
        raise InvalidArgumentError(
            f"{tf_name}: Incompatible shapes: {text}; the shapes must be equal or broadcastable "
            f"(each dimension equal, or 1 in one of them).") from err


def _float_only(*fns):
    # TensorFlow registers these kernels for float types only; NumPy would silently promote an
    # integer input to float64 (or, for some, compute in integers), so refuse it by name.
    for fn in fns:
        opdef = fn.opdef
        forward = opdef.forward

        def checked(x, *args, _forward=forward, _name=opdef.name, **kwargs):
            if x.dtype.kind not in "fc":
                raise InvalidArgumentError(
                    f"{_name}: expected a floating-point tensor (float16, float32 or float64), "
                    f"got dtype {_dt.from_numpy(x.dtype).name}; cast it first, e.g. "
                    f"tf.cast(x, tf.float32).")
            return _forward(x, *args, **kwargs)

        checked.__name__ = forward.__name__
        checked.__doc__ = forward.__doc__
        opdef.forward = checked


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


def _check_int_zero(x, y, name):
    if x.dtype.kind in "iu" and not np.all(y):
        raise InvalidArgumentError(f"{name}: Integer division by zero: the divisor has a zero "
                                   f"element (dtype {_dt.from_numpy(x.dtype).name}).")


@op("FloorDiv")
def _floordiv(x, y):
    _check_int_zero(x, y, "FloorDiv")
    with np.errstate(divide="ignore", invalid="ignore"):  # float x // 0 is inf/nan, as in TF
        return np.floor_divide(x, y)


@op("FloorMod")
def _floormod(x, y):
    _check_int_zero(x, y, "FloorMod")
    with np.errstate(divide="ignore", invalid="ignore"):  # float x % 0 is nan, as in TF
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
    try:
        return _realdiv(x, y)
    except ValueError as e:
        _check_broadcast(e, "RealDiv", x, y)
        raise


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
    try:
        return _pow(x, y)
    except ValueError as e:
        _check_broadcast(e, "Pow", x, y)
        raise InvalidArgumentError(f"Pow: {e}") from e


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


def _zero_where_dy_zero(dy, g):
    # TensorFlow's SqrtGrad/RsqrtGrad/ReciprocalGrad kernels give 0 where the upstream gradient
    # is 0, even at x = 0 (so ``where(x > 0, sqrt(x), ...)`` has no NaN gradient).
    zero = dy == 0
    if not np.any(zero._value):
        return g
    return where(zero, zeros_like(g), g)


@sqrt.defgrad
def _sqrt_grad(op, dy):
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_zero_where_dy_zero(dy, dy * 0.5 / op.outputs[0]),)


@op("Rsqrt")
def rsqrt(x):
    """Returns 1 / sqrt(x) elementwise.

    >>> import tapeflow as tf
    >>> tf.math.rsqrt(tf.constant([4.0])).numpy()
    array([0.5], dtype=float32)
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # rsqrt(0) is inf, as in TF
        return 1.0 / np.sqrt(x)


@rsqrt.defgrad
def _rsqrt_grad(op, dy):
    y = op.outputs[0]
    with np.errstate(invalid="ignore", over="ignore"):
        return (_zero_where_dy_zero(dy, dy * -0.5 * y * y * y),)


@op("Reciprocal")
def reciprocal(x):
    """Returns 1 / x elementwise.

    >>> import tapeflow as tf
    >>> tf.math.reciprocal(tf.constant([2.0])).numpy()
    array([0.5], dtype=float32)
    """
    with np.errstate(divide="ignore"):  # 1 / 0 is inf, as in TF
        return np.reciprocal(x)


@reciprocal.defgrad
def _reciprocal_grad(op, dy):
    y = op.outputs[0]
    with np.errstate(invalid="ignore", over="ignore"):
        return (_zero_where_dy_zero(dy, negative(dy) * y * y),)


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
        try:
            return fwd(x, y)
        except ValueError as e:
            _check_broadcast(e, tf_name, x, y)
            raise

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


def _bitwise(np_fn, tf_name, doc):
    @op(tf_name)
    def fwd(x, y):
        return np_fn(x, y)

    def public(x, y, name=None):
        x, y = binary_args(x, y, tf_name)
        if x._value.dtype.kind not in "iu":
            raise InvalidArgumentError(f"{tf_name}: expected integer tensors, got dtype "
                                       f"{x.dtype.name}.")
        try:
            return fwd(x, y)
        except ValueError as e:
            _check_broadcast(e, tf_name, x, y)
            raise

    public.__doc__ = doc
    public.__name__ = tf_name
    return public


bitwise_and = _bitwise(np.bitwise_and, "BitwiseAnd", """Elementwise bitwise AND of integers.

    >>> import tapeflow as tf
    >>> tf.bitwise.bitwise_and(tf.constant([3, 5]), 1).numpy()
    array([1, 1], dtype=int32)
    """)
bitwise_or = _bitwise(np.bitwise_or, "BitwiseOr", """Elementwise bitwise OR of integers.

    >>> import tapeflow as tf
    >>> tf.bitwise.bitwise_or(tf.constant([4, 5]), 1).numpy()
    array([5, 5], dtype=int32)
    """)
bitwise_xor = _bitwise(np.bitwise_xor, "BitwiseXor", """Elementwise bitwise XOR of integers.

    >>> import tapeflow as tf
    >>> tf.bitwise.bitwise_xor(tf.constant([3, 5]), 1).numpy()
    array([2, 4], dtype=int32)
    """)
left_shift = _bitwise(np.left_shift, "LeftShift", """Elementwise ``x << y`` of integers.

    >>> import tapeflow as tf
    >>> tf.bitwise.left_shift(tf.constant([1, 3]), 2).numpy()
    array([ 4, 12], dtype=int32)
    """)
right_shift = _bitwise(np.right_shift, "RightShift", """Elementwise ``x >> y`` of integers.

    >>> import tapeflow as tf
    >>> tf.bitwise.right_shift(tf.constant([4, 12]), 2).numpy()
    array([1, 3], dtype=int32)
    """)


@op("Invert")
def invert(x):
    """Elementwise bitwise NOT of integers (``~x``).

    >>> import tapeflow as tf
    >>> tf.bitwise.invert(tf.constant([3, 0])).numpy()
    array([-4, -1], dtype=int32)
    """
    if x.dtype.kind not in "iu":
        raise InvalidArgumentError(f"Invert: expected an integer tensor, got dtype "
                                   f"{_dt.from_numpy(x.dtype).name}.")
    return np.invert(x)


def _is_bool(t):
    v = getattr(t, "_value", None)
    return v.dtype.kind == "b" if v is not None else isinstance(t, bool)


def tensor_and(x, y):
    """``x & y``: logical AND for bool tensors, bitwise AND for integer ones (as TensorFlow)."""
    return logical_and(x, y) if _is_bool(x) or _is_bool(y) else bitwise_and(x, y)


def tensor_or(x, y):
    """``x | y``: logical OR for bool tensors, bitwise OR for integer ones."""
    return logical_or(x, y) if _is_bool(x) or _is_bool(y) else bitwise_or(x, y)


def tensor_xor(x, y):
    """``x ^ y``: logical XOR for bool tensors, bitwise XOR for integer ones."""
    return logical_xor(x, y) if _is_bool(x) or _is_bool(y) else bitwise_xor(x, y)


def tensor_invert(x):
    """``~x``: logical NOT for bool tensors, bitwise NOT for integer ones."""
    return logical_not(x) if _is_bool(x) else invert(x)


def _shapes_mismatch(err, x, y):
    # ``==`` gives a plain False when the shapes cannot broadcast (TensorFlow's
    # incompatible_shape_error=False); a dtype mismatch still raises, as in TensorFlow.
    if not isinstance(err, InvalidArgumentError) or "Incompatible shapes" in str(err):
        return True
    return False


def tensor_equals(x, y):
    """``x == y`` for tensors: elementwise, or False when the shapes cannot broadcast."""
    try:
        return equal(x, y)
    except (ValueError, TypeError) as e:
        if _shapes_mismatch(e, x, y):
            return False
        raise


def tensor_not_equals(x, y):
    try:
        return not_equal(x, y)
    except (ValueError, TypeError) as e:
        if _shapes_mismatch(e, x, y):
            return True
        raise


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
    try:
        return _select(condition, x, y)
    except ValueError as e:
        _check_broadcast(e, "SelectV2", condition, x, y)
        raise


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
    try:
        return _clip(t, lo, hi)
    except ValueError as e:
        _check_broadcast(e, "ClipByValue", t, lo, hi)
        raise


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


@sign.defgrad
def _sign_grad(op, dy):
    # TensorFlow's gradient of Sign is zeros (not None), so sources through it are connected.
    return (zeros_like(op.inputs[0]),)


_float_only(sqrt, rsqrt, exp, expm1, log, log1p, sin, cos, tan, atan, sinh, cosh, tanh,
            sigmoid, softplus, erf, floor, ceil, is_nan, is_inf, is_finite)

not_differentiable("BitwiseAnd", "BitwiseOr", "BitwiseXor", "LeftShift", "RightShift", "Invert")
not_differentiable("FloorDiv", "Floor", "Ceil", "Round", "IsNan", "IsInf", "IsFinite",
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


# ---------------------------------------------------------------- inverse trig, safe products
@op("Asin")
def asin(x):
    """Returns the inverse sine of x elementwise (``tf.math.asin``).

    >>> import tapeflow as tf
    >>> tf.math.asin(tf.constant([0.0, 1.0])).numpy().round(4)
    array([0.    , 1.5708], dtype=float32)
    """
    with np.errstate(invalid="ignore"):
        return np.arcsin(x)


@asin.defgrad
def _asin_grad(op, dy):
    x = op.inputs[0]
    return (dy * rsqrt(1.0 - x * x),)


@op("Acos")
def acos(x):
    """Returns the inverse cosine of x elementwise (``tf.math.acos``).

    >>> import tapeflow as tf
    >>> tf.math.acos(tf.constant([1.0, 0.0])).numpy().round(4)
    array([0.    , 1.5708], dtype=float32)
    """
    with np.errstate(invalid="ignore"):
        return np.arccos(x)


@acos.defgrad
def _acos_grad(op, dy):
    x = op.inputs[0]
    return (negative(dy) * rsqrt(1.0 - x * x),)


@op("Asinh")
def asinh(x):
    """Returns the inverse hyperbolic sine of x elementwise (``tf.math.asinh``).

    >>> import tapeflow as tf
    >>> tf.math.asinh(tf.constant([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.8814], dtype=float32)
    """
    return np.arcsinh(x)


@asinh.defgrad
def _asinh_grad(op, dy):
    x = op.inputs[0]
    return (dy * rsqrt(x * x + 1.0),)


@op("Acosh")
def acosh(x):
    """Returns the inverse hyperbolic cosine of x elementwise (``tf.math.acosh``).

    >>> import tapeflow as tf
    >>> tf.math.acosh(tf.constant([1.0, 2.0])).numpy().round(4)
    array([0.   , 1.317], dtype=float32)
    """
    with np.errstate(invalid="ignore"):
        return np.arccosh(x)


@acosh.defgrad
def _acosh_grad(op, dy):
    x = op.inputs[0]
    return (dy * rsqrt(x * x - 1.0),)


@op("Atanh")
def atanh(x):
    """Returns the inverse hyperbolic tangent of x elementwise (``tf.math.atanh``).

    >>> import tapeflow as tf
    >>> tf.math.atanh(tf.constant([0.0, 0.5])).numpy().round(4)
    array([0.    , 0.5493], dtype=float32)
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.arctanh(x)


@atanh.defgrad
def _atanh_grad(op, dy):
    x = op.inputs[0]
    return (dy / (1.0 - x * x),)


@op("Atan2")
def _atan2(y, x):
    return np.arctan2(y, x)


@_atan2.defgrad
def _atan2_grad(op, dz):
    y, x = op.inputs
    scale = dz / (x * x + y * y)
    return (scale * x, negative(scale) * y)


def atan2(y, x, name=None):
    """Returns the angle of the point (x, y), elementwise, in [-pi, pi] (``tf.math.atan2``).

    >>> import tapeflow as tf
    >>> tf.math.atan2(tf.constant([1.0, -1.0]), tf.constant([0.0, 0.0])).numpy().round(4)
    array([ 1.5708, -1.5708], dtype=float32)
    """
    y, x = binary_args(y, x, "Atan2")
    try:
        return _atan2(y, x)
    except ValueError as e:
        _check_broadcast(e, "Atan2", y, x)
        raise


def erfc(x, name=None):
    """Returns 1 - erf(x) elementwise (``tf.math.erfc``).

    >>> import tapeflow as tf
    >>> tf.math.erfc(tf.constant([0.0])).numpy()
    array([1.], dtype=float32)
    """
    return 1.0 - erf(x)


def xlogy(x, y, name=None):
    """Returns x * log(y), and 0 where x is 0 (``tf.math.xlogy``).

    >>> import tapeflow as tf
    >>> tf.math.xlogy(tf.constant([0.0, 2.0]), tf.constant([0.0, 1.0])).numpy()
    array([0., 0.], dtype=float32)
    """
    x, y = binary_args(x, y, "Xlogy")
    zero = x == 0
    safe_y = where(zero, ones_like(y), y)
    return where(zero, zeros_like(x * safe_y), x * log(safe_y))


def xdivy(x, y, name=None):
    """Returns x / y, and 0 where x is 0 (``tf.math.xdivy``).

    >>> import tapeflow as tf
    >>> tf.math.xdivy(tf.constant([0.0, 2.0]), tf.constant([0.0, 4.0])).numpy()
    array([0. , 0.5], dtype=float32)
    """
    x, y = binary_args(x, y, "Xdivy")
    zero = x == 0
    safe_y = where(zero, ones_like(y), y)
    return where(zero, zeros_like(x * safe_y), x / safe_y)


def multiply_no_nan(x, y, name=None):
    """Returns x * y, and 0 where y is 0 even if x is inf or NaN (``tf.math.multiply_no_nan``).

    >>> import tapeflow as tf
    >>> tf.math.multiply_no_nan(tf.constant([float("inf"), 2.0]), tf.constant([0.0, 3.0])).numpy()
    array([0., 6.], dtype=float32)
    """
    x, y = binary_args(x, y, "MulNoNan")
    zero = y == 0
    safe_x = where(zero, zeros_like(x), x)
    return where(zero, zeros_like(safe_x * y), safe_x * y)


def realdiv(x, y, name=None):
    """Returns x / y for float tensors (``tf.realdiv``).

    >>> import tapeflow as tf
    >>> tf.realdiv(tf.constant([3.0]), 2.0).numpy()
    array([1.5], dtype=float32)
    """
    x, y = binary_args(x, y, "RealDiv")
    try:
        return _realdiv(x, y)
    except ValueError as e:
        _check_broadcast(e, "RealDiv", x, y)
        raise


def scalar_mul(scalar, x, name=None):
    """Multiplies ``x`` by a scalar (``tf.math.scalar_mul``).

    >>> import tapeflow as tf
    >>> tf.math.scalar_mul(2.0, tf.constant([1.0, 2.0])).numpy()
    array([2., 4.], dtype=float32)
    """
    if np.ndim(getattr(scalar, "_value", scalar)) != 0:
        raise ValueError(f"scalar_mul: `scalar` must be a scalar, got shape "
                         f"{np.shape(getattr(scalar, '_value', scalar))}.")
    return multiply(scalar, x)


def saturate_cast(value, dtype, name=None):
    """Casts ``value`` to ``dtype``, clipping to the dtype's range first (``tf.saturate_cast``).

    >>> import tapeflow as tf
    >>> tf.saturate_cast(tf.constant([-1.0, 300.0]), tf.uint8).numpy()
    array([  0, 255], dtype=uint8)
    """
    x = to_tensor(value)
    target = _dt.as_dtype(dtype)
    if target._np.kind in "iu" or (target._np.kind == "f" and
                                   target._np.itemsize < x._value.dtype.itemsize):
        info = np.iinfo(target._np) if target._np.kind in "iu" else np.finfo(target._np)
        lo, hi = info.min, info.max
        if x._value.dtype.kind in "iu":
            src = np.iinfo(x._value.dtype)
            lo, hi = max(lo, src.min), min(hi, src.max)
        x = clip_by_value(x, x._value.dtype.type(lo), x._value.dtype.type(hi))
    return cast(x, target)


_float_only(asin, acos, asinh, acosh, atanh, _atan2)
