"""Matrix products: matmul (batched, with transposes) and its gradients."""

from tapeflow._backend import np
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import op
from tapeflow.ops._helpers import binary_args


def _t(a):
    return np.swapaxes(a, -1, -2)


@op("BatchMatMulV2")
def _matmul(a, b, transpose_a, transpose_b):
    if transpose_a:
        a = _t(a)
    if transpose_b:
        b = _t(b)
    return np.matmul(a, b)


@_matmul.defgrad
def _matmul_grad(op, dy):
    a, b = op.inputs
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    # The four transpose cases, each written as one matmul so no transpose op is recorded.
    if not ta and not tb:
        da = _matmul(dy, b, transpose_a=False, transpose_b=True)
        db = _matmul(a, dy, transpose_a=True, transpose_b=False)
    elif not ta and tb:
        da = _matmul(dy, b, transpose_a=False, transpose_b=False)
        db = _matmul(dy, a, transpose_a=True, transpose_b=False)
    elif ta and not tb:
        da = _matmul(b, dy, transpose_a=False, transpose_b=True)
        db = _matmul(a, dy, transpose_a=False, transpose_b=False)
    else:
        da = _matmul(b, dy, transpose_a=True, transpose_b=True)
        db = _matmul(dy, a, transpose_a=True, transpose_b=True)
    return (da, db)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """Matrix product ``a @ b`` over the last two axes, broadcasting leading (batch) axes.

    Raises:
      InvalidArgumentError: when the inner dimensions differ or an operand has rank < 2.

    >>> import tapeflow as tf
    >>> tf.linalg.matmul(tf.ones([2, 3]), tf.ones([3, 4])).shape
    TensorShape([2, 4])
    """
    a, b = binary_args(a, b, "MatMul")
    ta = bool(transpose_a or adjoint_a)
    tb = bool(transpose_b or adjoint_b)
    sa, sb = a._value.shape, b._value.shape
    if len(sa) < 2 or len(sb) < 2:
        raise InvalidArgumentError(
            f"matmul: both operands must have rank >= 2, but got a.shape={tuple(sa)} and "
            f"b.shape={tuple(sb)}.")
    ka = sa[-2] if ta else sa[-1]
    kb = sb[-1] if tb else sb[-2]
    if ka != kb:
        raise InvalidArgumentError(
            f"matmul: inner dimensions must match, but got a.shape={tuple(sa)} "
            f"(transpose_a={ta}) and b.shape={tuple(sb)} (transpose_b={tb}): {ka} != {kb}.")
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise InvalidArgumentError(f"matmul: batch dimensions {tuple(sa[:-2])} and "
                                   f"{tuple(sb[:-2])} cannot be broadcast.") from None
    return _matmul(a, b, transpose_a=ta, transpose_b=tb)


# ---------------------------------------------------------------- einsum
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation, shapes):
    """Returns (input subscripts, output subscript) with '...' spelled out as capital letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise InvalidArgumentError(f"einsum: equation {equation!r} names {len(ins)} operands but "
                                   f"{len(shapes)} were given.")
    n_ell = 0
    for sub, shape in zip(ins, shapes):
        if "..." in sub:
            n_ell = max(n_ell, len(shape) - (len(sub) - 3))
    ell = _LETTERS[:n_ell]
    spelled = []
    for sub, shape in zip(ins, shapes):
        if "..." in sub:
            k = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", ell[n_ell - k:])
        if len(sub) != len(shape):
            raise InvalidArgumentError(f"einsum: subscript {sub!r} has {len(sub)} labels for an "
                                       f"operand of rank {len(shape)} (shape {tuple(shape)}).")
        spelled.append(sub)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {}
        for s in spelled:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c.islower()))
    return spelled, out


@op("Einsum")
def _einsum(*xs, equation):
    return np.einsum(equation, *xs, optimize=len(xs) > 2)


@_einsum.defgrad
def _einsum_grad(op, dy):
    ins, out = op.attrs["equation"].split("->")
    ins = ins.split(",")
    grads = []
    for k, sub in enumerate(ins):
        others = [(s, t) for j, (s, t) in enumerate(zip(ins, op.inputs)) if j != k]
        avail = set(out).union(*[set(s) for s, _ in others])
        # Labels of this operand that appear nowhere else were summed away: restore them
        # by broadcasting. Repeated labels (diagonals) are not supported by this gradient.
        kept = "".join(c for c in sub if c in avail)
        eq = ",".join([out] + [s for s, _ in others]) + "->" + kept
        g = _einsum(dy, *[t for _, t in others], equation=eq)
        if kept != sub:
            from tapeflow.ops.array_ops import reshape
            from tapeflow.ops.reduction_ops import broadcast_to

            shape = op.inputs[k]._value.shape
            g = reshape(g, tuple(d if c in avail else 1 for c, d in zip(sub, shape)))
            g = broadcast_to(g, shape)
        grads.append(g)
    return tuple(grads)


def einsum(equation, *inputs, **kwargs):
    """Tensor contraction in Einstein summation notation (``tf.einsum``).

    Raises:
      InvalidArgumentError: if the equation does not match the operands' ranks or sizes.

    >>> import tapeflow as tf
    >>> tf.einsum("ij,jk->ik", tf.ones([2, 3]), tf.ones([3, 2])).numpy()
    array([[3., 3.],
           [3., 3.]], dtype=float32)
    """
    from tapeflow.ops._helpers import to_tensor

    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string, got {type(equation).__name__}.")
    xs = [to_tensor(x) for x in inputs]
    for i, x in enumerate(xs[1:], 1):
        if x._value.dtype != xs[0]._value.dtype:
            raise InvalidArgumentError(f"einsum: input #{i} has dtype {x.dtype.name} but input "
                                       f"#0 has dtype {xs[0].dtype.name}.")
    ins, out = _parse_einsum(equation, [x._value.shape for x in xs])
    sizes = {}
    for sub, x in zip(ins, xs):
        if len(set(sub)) != len(sub):
            raise InvalidArgumentError(f"einsum: repeated label in {sub!r} (diagonals) is not "
                                       f"supported.")
        for c, d in zip(sub, x._value.shape):
            if sizes.setdefault(c, d) != d:
                if sizes[c] == 1 and c.isupper():
                    sizes[c] = d
                elif not (d == 1 and c.isupper()):
                    raise InvalidArgumentError(
                        f"einsum: label {c!r} has size {sizes[c]} and {d} in equation "
                        f"{equation!r} (shapes {[tuple(t._value.shape) for t in xs]}).")
    for c in out:
        if c not in sizes:
            raise InvalidArgumentError(f"einsum: output label {c!r} of {equation!r} is not in "
                                       f"any input.")
    from tapeflow.ops.reduction_ops import broadcast_to

    # Broadcast size-1 ellipsis dimensions explicitly so the gradient's labels stay consistent.
    xs = [broadcast_to(x, tuple(sizes[c] for c in sub)) if any(
        sizes[c] != d for c, d in zip(sub, x._value.shape)) else x for sub, x in zip(ins, xs)]
    return _einsum(*xs, equation=",".join(ins) + "->" + out)


# ---------------------------------------------------------------- tensordot / norm
def tensordot(a, b, axes, name=None):
    """Sums the products of ``a`` and ``b`` over the given axes (``tf.tensordot``).

    ``axes`` is an int N (the last N axes of ``a`` with the first N of ``b``) or a pair of
    axis lists.

    >>> import tapeflow as tf
    >>> tf.tensordot(tf.ones([2, 3]), tf.ones([3, 4]), axes=1).shape
    TensorShape([2, 4])
    """
    from tapeflow.ops.array_ops import reshape, transpose

    a, b = binary_args(a, b, "Tensordot")
    sa, sb = a._value.shape, b._value.shape
    if isinstance(axes, (int, np.integer)) or (hasattr(axes, "_value") and
                                               axes._value.ndim == 0):
        n = int(axes)
        if n < 0 or n > min(len(sa), len(sb)):
            raise ValueError(f"tensordot: axes must be in [0, {min(len(sa), len(sb))}], got {n}.")
        ax_a, ax_b = list(range(len(sa) - n, len(sa))), list(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = [int(ax_a)] if isinstance(ax_a, (int, np.integer)) else [int(x) for x in ax_a]
        ax_b = [int(ax_b)] if isinstance(ax_b, (int, np.integer)) else [int(x) for x in ax_b]
        ax_a = [x % len(sa) for x in ax_a]
        ax_b = [x % len(sb) for x in ax_b]
    if len(ax_a) != len(ax_b) or any(sa[i] != sb[j] for i, j in zip(ax_a, ax_b)):
        raise InvalidArgumentError(f"tensordot: cannot contract axes {ax_a} of a (shape "
                                   f"{tuple(sa)}) with axes {ax_b} of b (shape {tuple(sb)}).")
    free_a = [i for i in range(len(sa)) if i not in ax_a]
    free_b = [i for i in range(len(sb)) if i not in ax_b]
    k = int(np.prod([sa[i] for i in ax_a]))
    at = reshape(transpose(a, free_a + ax_a), (-1 if free_a else 1, k))
    bt = reshape(transpose(b, ax_b + free_b), (k, -1 if free_b else 1))
    out = _matmul(at, bt, transpose_a=False, transpose_b=False)
    return reshape(out, tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b))


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002
    """Vector or matrix norm (``tf.norm``, ``tf.linalg.norm``).

    ``ord``: 'euclidean' (2), 1, np.inf or any p > 0 for vectors; 'fro', 'euclidean', 1, np.inf
    for matrices (``axis`` a pair). ``axis=None`` treats the tensor as one vector.

    >>> import tapeflow as tf
    >>> float(tf.norm(tf.constant([3.0, 4.0])))
    5.0
    """
    from tapeflow.ops import math_ops as m
    from tapeflow.ops import reduction_ops as r
    from tapeflow.ops._helpers import to_tensor

    x = to_tensor(tensor)
    keep = bool(keepdims)
    if axis is not None and not isinstance(axis, (int, np.integer)) and len(axis) == 2:
        ax = tuple(int(i) % x._value.ndim for i in axis)
        if ax[0] == ax[1]:
            raise ValueError(f"norm: the two axes must differ, got {axis}.")
        if ord in ("fro", "euclidean"):
            return m.sqrt(r.reduce_sum(m.square(x), axis=ax, keepdims=keep))
        if ord == 1:
            s = r.reduce_sum(m.abs(x), axis=ax[0], keepdims=True)
            out = r.reduce_max(s, axis=ax[1], keepdims=True)
        elif ord == np.inf:
            s = r.reduce_sum(m.abs(x), axis=ax[1], keepdims=True)
            out = r.reduce_max(s, axis=ax[0], keepdims=True)
        else:
            raise ValueError(f"norm: ord must be 'fro', 'euclidean', 1 or np.inf for a matrix "
                             f"norm, got {ord!r}.")
        if keep:
            return out
        from tapeflow.ops.array_ops import squeeze

        return squeeze(out, axis=list(ax))
    if axis is not None and not isinstance(axis, (int, np.integer)):
        if len(axis) != 1:
            raise ValueError(f"norm: axis must be None, an int or a pair of ints, got {axis}.")
        axis = int(axis[0])
    if ord in ("euclidean", 2, 2.0) or (ord == "fro" and axis is None):
        return m.sqrt(r.reduce_sum(m.square(x), axis=axis, keepdims=keep))
    if ord == 1:
        return r.reduce_sum(m.abs(x), axis=axis, keepdims=keep)
    if ord == np.inf:
        return r.reduce_max(m.abs(x), axis=axis, keepdims=keep)
    if isinstance(ord, (int, float)) and not isinstance(ord, bool) and ord > 0:
        p = float(ord)
        return m.pow(r.reduce_sum(m.pow(m.abs(x), p), axis=axis, keepdims=keep), 1.0 / p)
    raise ValueError(f"norm: ord must be a positive number, 'euclidean', 'fro' or np.inf, got "
                     f"{ord!r}.")


def matvec(a, b, transpose_a=False, adjoint_a=False, name=None):
    """Matrix-vector product over the last axes (``tf.linalg.matvec``).

    >>> import tapeflow as tf
    >>> tf.linalg.matvec(tf.eye(2), tf.constant([1.0, 2.0])).numpy()
    array([1., 2.], dtype=float32)
    """
    from tapeflow.ops.array_ops import expand_dims, squeeze

    return squeeze(matmul(a, expand_dims(b, -1), transpose_a=transpose_a or adjoint_a), -1)


def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """Swaps the last two axes (``tf.linalg.matrix_transpose``).

    >>> import tapeflow as tf
    >>> tf.linalg.matrix_transpose(tf.zeros([2, 3, 4])).shape
    TensorShape([2, 4, 3])
    """
    from tapeflow.ops._helpers import to_tensor
    from tapeflow.ops.array_ops import transpose

    x = to_tensor(a)
    nd = x._value.ndim
    if nd < 2:
        raise ValueError(f"matrix_transpose: a must have rank >= 2, got shape "
                         f"{tuple(x._value.shape)}.")
    return transpose(x, list(range(nd - 2)) + [nd - 1, nd - 2])


def diag_part(input, name="diag_part", k=0):  # noqa: A002 - TensorFlow's argument name
    """The main diagonal of the innermost matrices (``tf.linalg.diag_part``).

    >>> import tapeflow as tf
    >>> tf.linalg.diag_part(tf.constant([[1, 2], [3, 4]])).numpy()
    array([1, 4], dtype=int32)
    """
    from tapeflow.ops._helpers import to_tensor

    x = to_tensor(input)
    n = min(x._value.shape[-2:])
    idx = np.arange(n)
    return x[..., idx, idx] if n else x[..., :0, 0]


def trace(x, name=None):
    """Sum of the main diagonal of the innermost matrices (``tf.linalg.trace``).

    >>> import tapeflow as tf
    >>> int(tf.linalg.trace(tf.constant([[1, 2], [3, 4]])))
    5
    """
    from tapeflow.ops.reduction_ops import reduce_sum

    return reduce_sum(diag_part(x), axis=-1)


def diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0, align=None):
    """Matrices with ``diagonal`` on their main diagonal (``tf.linalg.diag``).

    >>> import tapeflow as tf
    >>> tf.linalg.diag(tf.constant([1.0, 2.0])).numpy()
    array([[1., 0.],
           [0., 2.]], dtype=float32)
    """
    from tapeflow.ops._helpers import to_tensor
    from tapeflow.ops.array_ops import expand_dims

    d = to_tensor(diagonal)
    n = d._value.shape[-1]
    eye = np.eye(n, dtype=d._value.dtype)
    from tapeflow.framework.tensor import Tensor

    return expand_dims(d, -1) * Tensor(eye)


def band_part(input, num_lower, num_upper, name=None):  # noqa: A002
    """Keeps ``num_lower`` sub- and ``num_upper`` super-diagonals (-1 keeps all) and zeroes the
    rest (``tf.linalg.band_part``).

    >>> import tapeflow as tf
    >>> tf.linalg.band_part(tf.ones([3, 3]), 0, -1).numpy()
    array([[1., 1., 1.],
           [0., 1., 1.],
           [0., 0., 1.]], dtype=float32)
    """
    from tapeflow.framework.tensor import Tensor
    from tapeflow.ops._helpers import to_tensor

    x = to_tensor(input)
    rows, cols = x._value.shape[-2:]
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    keep = np.ones((rows, cols), dtype=bool)
    if int(num_lower) >= 0:
        keep &= (i - j) <= int(num_lower)
    if int(num_upper) >= 0:
        keep &= (j - i) <= int(num_upper)
    return x * Tensor(keep.astype(x._value.dtype))


# ---------------------------------------------------------------- inverse, determinant, solve
def _square_float(x, op_name):
    from tapeflow.ops._helpers import to_tensor

    x = to_tensor(x)
    v = x._value
    if v.ndim < 2 or v.shape[-1] != v.shape[-2]:
        raise InvalidArgumentError(f"{op_name}: Input must be a (batch of) square matrix, got "
                                   f"shape {tuple(v.shape)}.")
    if v.dtype.kind != "f":
        raise InvalidArgumentError(f"{op_name}: expected a floating-point matrix, got dtype "
                                   f"{x.dtype.name}.")
    return x


@op("MatrixInverse")
def _inv(a, adjoint):
    try:
        out = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("MatrixInverse: Input is not invertible.") from None
    return _t(out) if adjoint else out


@_inv.defgrad
def _inv_grad(op, dy):
    ainv = op.outputs[0]
    # d(A^-1) = -A^-1 dA A^-1  =>  dA = -A^-T dy A^-T (for the adjoint output, transpose dy)
    if op.attrs["adjoint"]:  # Y = A^-T: dA = -Y dy^T Y
        return (-_matmul(ainv, _matmul(dy, ainv, transpose_a=True, transpose_b=False),
                         transpose_a=False, transpose_b=False),)
    return (-_matmul(ainv, _matmul(dy, ainv, transpose_a=False, transpose_b=True),
                     transpose_a=True, transpose_b=False),)


def inv(input, adjoint=False, name=None):  # noqa: A002 - TensorFlow's argument name
    """Inverse of each square matrix in ``input`` (``tf.linalg.inv``).

    >>> import tapeflow as tf
    >>> tf.linalg.inv(tf.constant([[2.0, 0.0], [0.0, 4.0]])).numpy()
    array([[0.5 , 0.  ],
           [0.  , 0.25]], dtype=float32)
    """
    return _inv(_square_float(input, "MatrixInverse"), adjoint=bool(adjoint))


@op("LogMatrixDeterminant", n_outputs=2)
def _slogdet(a):
    sign, logabs = np.linalg.slogdet(a)
    return sign.astype(a.dtype), logabs.astype(a.dtype)


@_slogdet.defgrad
def _slogdet_grad(op, dsign, dlog):
    a = op.inputs[0]
    from tapeflow.ops.array_ops import expand_dims

    # d log|det A| / dA = A^-T
    g = expand_dims(expand_dims(dlog, -1), -1)
    return (g * matrix_transpose(inv(a)),)


def slogdet(input, name=None):  # noqa: A002
    """Sign and log of the absolute determinant of each square matrix (``tf.linalg.slogdet``).

    >>> import tapeflow as tf
    >>> sign, logdet = tf.linalg.slogdet(tf.constant([[-2.0, 0.0], [0.0, 3.0]]))
    >>> float(sign), round(float(logdet), 4)
    (-1.0, 1.7918)
    """
    sign, logabs = _slogdet(_square_float(input, "LogMatrixDeterminant"))
    return sign, logabs


def logdet(matrix, name=None):
    """Log-determinant of each Hermitian positive-definite matrix (``tf.linalg.logdet``).

    >>> import tapeflow as tf
    >>> round(float(tf.linalg.logdet(tf.constant([[2.0, 0.0], [0.0, 3.0]]))), 4)
    1.7918
    """
    return slogdet(matrix)[1]


def det(input, name=None):  # noqa: A002
    """Determinant of each square matrix in ``input`` (``tf.linalg.det``).

    >>> import tapeflow as tf
    >>> float(tf.linalg.det(tf.constant([[1.0, 2.0], [3.0, 4.0]])))
    -2.0
    """
    from tapeflow.ops.math_ops import exp

    sign, logabs = slogdet(input)
    return sign * exp(logabs)


@op("MatrixSolve")
def _solve(a, b, adjoint):
    if adjoint:
        a = _t(a)
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("MatrixSolve: Input matrix is not invertible.") from None


@_solve.defgrad
def _solve_grad(op, dy):
    a, _ = op.inputs
    x = op.outputs[0]
    adjoint = op.attrs["adjoint"]
    db = _solve(a, dy, adjoint=not adjoint)
    da = -_matmul(db, x, transpose_a=False, transpose_b=True)
    if adjoint:
        da = matrix_transpose(da)
    return (da, db)


def solve(matrix, rhs, adjoint=False, name=None):
    """Solves ``matrix @ x = rhs`` for ``x``, batched (``tf.linalg.solve``).

    >>> import tapeflow as tf
    >>> tf.linalg.solve(tf.constant([[2.0, 0.0], [0.0, 4.0]]), tf.constant([[2.0], [2.0]])).numpy()
    array([[1. ],
           [0.5]], dtype=float32)
    """
    a = _square_float(matrix, "MatrixSolve")
    a, b = binary_args(a, rhs, "MatrixSolve")
    if b._value.ndim < 2 or b._value.shape[-2] != a._value.shape[-1]:
        raise InvalidArgumentError(f"MatrixSolve: rhs must have shape [..., {a._value.shape[-1]}, "
                                   f"K] to match matrix of shape {tuple(a._value.shape)}, got "
                                   f"{tuple(b._value.shape)}.")
    return _solve(a, b, adjoint=bool(adjoint))


def adjoint(matrix, name=None):
    """Conjugate transpose of the innermost matrices (``tf.linalg.adjoint``); for real
    matrices, the transpose.

    >>> import tapeflow as tf
    >>> tf.linalg.adjoint(tf.zeros([2, 3])).shape
    TensorShape([3, 2])
    """
    return matrix_transpose(matrix)
