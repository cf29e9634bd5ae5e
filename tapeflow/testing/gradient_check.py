"""Central finite-difference checks of tape gradients (first and second order, float64).

``check_gradients(f, arrays)`` compares the tape's gradient of ``sum(f(*xs) * cot)`` (a fixed
random cotangent) with central differences; ``order=2`` also differentiates the directional
derivative ``sum_i <grad_i, v_i>`` with nested tapes and compares that with central differences
of the (analytic) first-order gradient.
"""

from tapeflow._backend import np
from tapeflow.framework.tape import GradientTape
from tapeflow.framework.tensor import Tensor, _TensorLike
from tapeflow.ops.reduction_ops import reduce_sum

__all__ = ["GradientCheckError", "check_gradients", "numerical_gradient", "tape_gradient"]


class GradientCheckError(AssertionError):
    """The tape's gradient differs from the finite-difference estimate."""


def _outputs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _cotangents(f, arrays, rng):
    ys = _outputs(f(*[Tensor(a.copy()) for a in arrays]))
    return [rng.standard_normal(np.shape(y._value)) if y._value.dtype.kind == "f" else None
            for y in ys]


def _loss(ys, cots):
    total = None
    for y, c in zip(_outputs(ys), cots):
        if c is None:
            continue
        s = reduce_sum(y * Tensor(c.astype(y._value.dtype)))
        total = s if total is None else total + s
    return total


def tape_gradient(f, arrays, cots):
    """d sum(f(*xs) * cots) / d xs by GradientTape (zeros where unconnected)."""
    xs = [Tensor(a.copy()) for a in arrays]
    with GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        loss = _loss(f(*xs), cots)
    grads = tape.gradient(loss, xs)
    return [np.zeros_like(a) if g is None else np.asarray(g._value) for a, g in zip(arrays, grads)]


def numerical_gradient(scalar_fn, arrays, eps=1e-6):
    """Central differences of ``scalar_fn(list of arrays) -> float`` w.r.t. every element."""
    out = []
    for i, a in enumerate(arrays):
        g = np.zeros(a.shape, dtype=np.float64)
        flat = g.reshape(-1)
        for j in range(a.size):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[i].reshape(-1)[j] += eps
            minus[i].reshape(-1)[j] -= eps
            flat[j] = (scalar_fn(plus) - scalar_fn(minus)) / (2 * eps)
        out.append(g)
    return out


def _compare(name, what, got, want, rtol, atol):
    for i, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            raise GradientCheckError(f"{name}: {what} of input {i} has shape {g.shape}, "
                                     f"expected {w.shape}.")
        if not np.allclose(g, w, rtol=rtol, atol=atol):
            err = np.max(np.abs(g - w))
            raise GradientCheckError(f"{name}: {what} of input {i} differs from central "
                                     f"differences by up to {err:.3g}\ntape:\n{g}\n"
                                     f"numeric:\n{w}")


def check_gradients(f, arrays, order=1, eps=1e-6, rtol=1e-5, atol=1e-6, seed=0, name="f",
                    wrt=None):
    """Checks the tape gradients of ``f`` at ``arrays`` against central differences.

    Args:
      f: a function of Tensors returning a Tensor or a list of Tensors.
      arrays: the float64 NumPy arrays to evaluate at (non-float arrays are passed through and
        not differentiated).
      order: 1, or 2 to also check second-order gradients through nested tapes.
      wrt: indices of the arguments to differentiate (default: every float array).
    Raises:
      GradientCheckError: when a gradient is wrong.

    >>> import numpy as np
    >>> import tapeflow as tf
    >>> from tapeflow.testing.gradient_check import check_gradients
    >>> check_gradients(tf.math.tanh, [np.array([0.1, -0.3])], order=2)
    """
    arrays = [np.asarray(a) for a in arrays]
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    for i in wrt:
        if arrays[i].dtype != np.float64:
            raise TypeError(f"check_gradients: input {i} must be float64, got {arrays[i].dtype}.")
    rng = np.random.default_rng(seed)
    cots = _cotangents(f, arrays, rng)

    def g_of(*xs_w):
        full = list(arrays)
        for i, x in zip(wrt, xs_w):
            full[i] = x
        return f(*full)

    def as_tensors(xs):
        return [x if isinstance(x, _TensorLike) else Tensor(np.asarray(x).copy()) for x in xs]

    def f_t(*xs):
        return g_of(*as_tensors(xs))

    base = [arrays[i] for i in wrt]

    def loss_value(xs):
        ys = f_t(*xs)
        return float(sum(np.sum(np.asarray(y._value, np.float64) * c)
                         for y, c in zip(_outputs(ys), cots) if c is not None))

    got = tape_gradient(f_t, base, cots)
    want = numerical_gradient(loss_value, base, eps)
    _compare(name, "gradient", got, want, rtol, atol)
    if order < 2:
        return None
    vs = [rng.standard_normal(a.shape) for a in base]

    def directional(xs):
        return _directional(f_t, [Tensor(np.asarray(x).copy()) for x in xs], cots, vs)

    ts = [Tensor(a.copy()) for a in base]
    with GradientTape() as outer:
        for t in ts:
            outer.watch(t)
        d = _directional(f_t, ts, cots, vs)
    if d is None:
        return None
    g2 = outer.gradient(d, ts)
    got2 = [np.zeros_like(a) if g is None else np.asarray(g._value) for a, g in zip(base, g2)]

    def d_value(xs):
        r = directional(xs)
        return 0.0 if r is None else float(r._value)

    want2 = numerical_gradient(d_value, base, eps)
    _compare(name, "second-order gradient", got2, want2, rtol * 10, atol * 10)
    return None


def _directional(f_t, ts, cots, vs):
    # sum_i <d loss / d x_i, v_i>, built with tapeflow ops so an outer tape can differentiate it.
    with GradientTape() as inner:
        for t in ts:
            inner.watch(t)
        loss = _loss(f_t(*ts), cots)
    grads = inner.gradient(loss, ts)
    total = None
    for g, v in zip(grads, vs):
        if g is None:
            continue
        s = reduce_sum(g * Tensor(v))
        total = s if total is None else total + s
    return total
