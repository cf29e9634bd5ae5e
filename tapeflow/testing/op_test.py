"""The op table: one ``OpCase`` per differentiable behaviour, checked by finite differences.

Each case is a float64 function of Tensors with inputs drawn away from kinks (so central
differences are valid). ``run_case`` checks the tape's gradients against central differences
(second order too when ``order=2``) and returns the names of the registered ops the case
recorded, which is how the registry completeness test knows that every differentiable op is
covered.
"""

import dataclasses
import typing

from tapeflow._backend import np
from tapeflow.framework import registry as _reg
from tapeflow.testing.gradient_check import check_gradients

__all__ = ["OpCase", "CASES", "run_case", "recorded_ops"]


@dataclasses.dataclass
class OpCase:
    """One row of the table: ``fn(*inputs())`` differentiated w.r.t. its float inputs."""

    name: str
    fn: typing.Callable
    inputs: typing.Callable  # rng -> list of arrays
    order: int = 1
    eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-6


def _u(*shape, lo=-2.0, hi=2.0):
    return lambda r: r.uniform(lo, hi, shape)


def _away(*shape, lo=0.2, hi=2.0):
    # |x| in [lo, hi] with random signs: away from the kink at 0
    return lambda r: r.uniform(lo, hi, shape) * r.choice([-1.0, 1.0], shape)


def _well_conditioned(*shape):
    # a random square matrix plus 3 I: far from singular, so inverse/solve/det are smooth
    n = shape[-1]
    return lambda r: r.uniform(-1.0, 1.0, shape) + 3.0 * np.eye(n)


def _ins(*makers):
    return lambda r: [m(r) for m in makers]


def _tf():
    import tapeflow as tf  # noqa: PLC0415 - the table is built lazily, after tapeflow imports

    return tf


def _cases():
    tf = _tf()
    C = OpCase
    pos = _u(3, 4, lo=0.5, hi=2.0)
    x34 = _u(3, 4)
    cases = [
        # ---- elementwise unary
        C("abs", tf.abs, _ins(_away(3, 4))),
        C("sign_times_x", lambda x: tf.sign(x) * x, _ins(_away(3, 4))),  # Sign's grad is 0
        C("asin", tf.math.asin, _ins(_u(3, 4, lo=-0.8, hi=0.8)), order=2),
        C("acos", tf.math.acos, _ins(_u(3, 4, lo=-0.8, hi=0.8)), order=2),
        C("asinh", tf.math.asinh, _ins(x34), order=2),
        C("acosh", tf.math.acosh, _ins(_u(3, 4, lo=1.2, hi=3.0)), order=2),
        C("atanh", tf.math.atanh, _ins(_u(3, 4, lo=-0.8, hi=0.8)), order=2),
        C("atan2", tf.math.atan2, _ins(_away(3, 4), _away(3, 4))),
        C("erfc", tf.math.erfc, _ins(x34)),
        C("xlogy", tf.math.xlogy, _ins(x34, pos)),
        C("xdivy", tf.math.xdivy, _ins(x34, _away(3, 4, lo=0.5))),
        C("multiply_no_nan", tf.math.multiply_no_nan, _ins(x34, _away(3, 4))),
        C("linalg_inv", tf.linalg.inv, _ins(_well_conditioned(2, 3, 3)), order=2),
        C("linalg_inv_adjoint", lambda a: tf.linalg.inv(a, adjoint=True),
          _ins(_well_conditioned(3, 3))),
        C("linalg_det", tf.linalg.det, _ins(_well_conditioned(2, 3, 3)), order=2),
        C("linalg_slogdet", lambda a: tf.linalg.slogdet(a)[1], _ins(_well_conditioned(3, 3))),
        C("linalg_solve", tf.linalg.solve, _ins(_well_conditioned(2, 3, 3), _u(2, 3, 2)),
          order=2),
        C("linalg_solve_adjoint", lambda a, b: tf.linalg.solve(a, b, adjoint=True),
          _ins(_well_conditioned(3, 3), _u(3, 2))),
        C("negative", tf.negative, _ins(x34), order=2),
        C("square", tf.square, _ins(x34), order=2),
        C("sqrt", tf.sqrt, _ins(pos), order=2),
        C("rsqrt", tf.math.rsqrt, _ins(pos), order=2),
        C("reciprocal", tf.math.reciprocal, _ins(_away(3, 4, lo=0.5)), order=2),
        C("exp", tf.exp, _ins(x34), order=2),
        C("expm1", tf.math.expm1, _ins(x34), order=2),
        C("log", tf.math.log, _ins(pos), order=2),
        C("log1p", tf.math.log1p, _ins(_u(3, 4, lo=-0.5, hi=2.0)), order=2),
        C("sin", tf.sin, _ins(x34), order=2),
        C("cos", tf.cos, _ins(x34), order=2),
        C("tan", tf.tan, _ins(_u(3, 4, lo=-1.0, hi=1.0)), order=2),
        C("atan", tf.math.atan, _ins(x34), order=2),
        C("sinh", tf.math.sinh, _ins(x34), order=2),
        C("cosh", tf.math.cosh, _ins(x34), order=2),
        C("tanh", tf.tanh, _ins(x34), order=2),
        C("sigmoid", tf.sigmoid, _ins(x34), order=2),
        C("softplus", tf.math.softplus, _ins(x34), order=2),
        C("erf", tf.math.erf, _ins(x34), order=2),
        C("relu", tf.nn.relu, _ins(_away(3, 4)), order=2),
        C("relu6", tf.nn.relu6, _ins(lambda r: r.choice([-1.0, 1.0, 3.0, 7.0], (3, 4)) +
                                     r.uniform(-0.4, 0.4, (3, 4)))),
        C("elu", tf.nn.elu, _ins(_away(3, 4)), order=2),
        C("selu", tf.nn.selu, _ins(_away(3, 4))),
        C("gelu", tf.nn.gelu, _ins(x34), order=2),
        C("gelu_tanh", lambda x: tf.nn.gelu(x, approximate=True), _ins(x34)),
        C("silu", tf.nn.silu, _ins(x34), order=2),
        C("leaky_relu", lambda x: tf.nn.leaky_relu(x, alpha=0.1), _ins(_away(3, 4))),
        C("cast_roundtrip", lambda x: tf.cast(tf.cast(x, tf.float32), tf.float64) * 1.0,
          _ins(x34), eps=1e-2, rtol=1e-4, atol=1e-4),
        C("clip_by_value", lambda x: tf.clip_by_value(x, -0.5, 0.5),
          _ins(lambda r: r.choice([-1.0, 0.0, 1.0], (3, 4)) + r.uniform(-0.3, 0.3, (3, 4)))),
        C("identity", tf.identity, _ins(x34)),
        # ---- elementwise binary, with broadcasting
        C("add", tf.add, _ins(_u(3, 1), _u(1, 4)), order=2),
        C("subtract", tf.subtract, _ins(_u(3, 4), _u(4)), order=2),
        C("multiply", tf.multiply, _ins(_u(2, 3, 1), _u(3, 4)), order=2),
        C("divide", tf.divide, _ins(_u(3, 4), _away(1, 4, lo=0.5)), order=2),
        C("pow", tf.pow, _ins(pos, _u(3, 4, lo=-1.5, hi=2.5)), order=2),
        C("pow_scalar", lambda x: tf.pow(x, 3.0), _ins(x34), order=2),
        C("maximum", tf.maximum, _ins(_u(3, 4), lambda r: r.uniform(-2, 2, (3, 4)) + 0.05)),
        C("minimum", tf.minimum, _ins(_u(3, 4), lambda r: r.uniform(-2, 2, (4,)) + 0.05)),
        C("squared_difference", tf.math.squared_difference, _ins(_u(3, 4), _u(4)), order=2),
        C("floormod", lambda x: tf.math.floormod(x, 1.7),
          _ins(lambda r: r.uniform(0.1, 1.6, (3, 4)) + 1.7 * r.integers(-2, 2, (3, 4)))),
        C("where", lambda x, y: tf.where(x > 0, x, y), _ins(_away(3, 4), _u(3, 4)), order=2),
        C("add_n", lambda a, b, c: tf.add_n([a, b, c]), _ins(x34, x34, x34), order=2),
        # ---- reductions
        C("reduce_sum", lambda x: tf.reduce_sum(x, axis=1), _ins(_u(2, 3, 4)), order=2),
        C("reduce_mean", lambda x: tf.reduce_mean(x, axis=[0, 2], keepdims=True),
          _ins(_u(2, 3, 4)), order=2),
        C("reduce_max", lambda x: tf.reduce_max(x, axis=-1), _ins(_u(3, 4))),
        C("reduce_min", lambda x: tf.reduce_min(x, axis=0), _ins(_u(3, 4))),
        C("reduce_prod_with_zeros", lambda x: tf.reduce_prod(x, axis=[0, 2]),
          _ins(lambda r: r.uniform(0.5, 2.0, (2, 3, 2)) * (r.uniform(size=(2, 3, 2)) > 0.3))),
        C("reduce_prod", lambda x: tf.reduce_prod(x, axis=1), _ins(_away(3, 4, lo=0.5)),
          order=2),
        C("reduce_logsumexp", lambda x: tf.reduce_logsumexp(x, axis=1), _ins(x34), order=2),
        C("reduce_std", lambda x: tf.math.reduce_std(x, axis=0), _ins(x34), order=2),
        C("moments", lambda x: list(tf.nn.moments(x, axes=[0])), _ins(x34)),
        C("broadcast_to", lambda x: tf.broadcast_to(x, [2, 3, 4]), _ins(_u(3, 1))),
        C("cumsum", lambda x: tf.math.cumsum(x, axis=1, exclusive=True), _ins(x34), order=2),
        C("cumsum_reverse", lambda x: tf.math.cumsum(x, axis=0, reverse=True), _ins(x34)),
        C("cumprod", lambda x: tf.math.cumprod(x, axis=1), _ins(_away(3, 4, lo=0.5)), order=2),
        # ---- linear algebra
        C("matmul", tf.matmul, _ins(_u(2, 3), _u(3, 4)), order=2),
        C("matmul_ta", lambda a, b: tf.matmul(a, b, transpose_a=True), _ins(_u(3, 2), _u(3, 4))),
        C("matmul_tb", lambda a, b: tf.matmul(a, b, transpose_b=True), _ins(_u(2, 3), _u(4, 3))),
        C("matmul_tab", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
          _ins(_u(2, 3, 2), _u(4, 3)), order=2),
        C("matmul_batch", tf.matmul, _ins(_u(2, 1, 2, 3), _u(3, 3, 2))),
        C("einsum", lambda a, b: tf.einsum("bij,bkj->bik", a, b), _ins(_u(2, 3, 2), _u(2, 4, 2)),
          order=2),
        C("einsum_sumout", lambda a, b: tf.einsum("ij,k->i", a, b), _ins(_u(2, 3), _u(4))),
        C("tensordot", lambda a, b: tf.tensordot(a, b, axes=[[1, 2], [0, 1]]),
          _ins(_u(2, 3, 4), _u(3, 4, 2))),
        C("norm", lambda x: tf.norm(x, axis=1), _ins(_away(3, 4)), order=2),
        C("norm_ord1", lambda x: tf.norm(x, ord=1), _ins(_away(3, 4))),
        C("l2_normalize", lambda x: tf.nn.l2_normalize(x, axis=-1), _ins(x34), order=2),
        # ---- nn
        C("softmax", tf.nn.softmax, _ins(x34), order=2),
        C("log_softmax", lambda x: tf.nn.log_softmax(x, axis=0), _ins(x34), order=2),
        C("softmax_xent",
          lambda lab, lg: tf.nn.softmax_cross_entropy_with_logits(labels=lab, logits=lg),
          _ins(lambda r: r.dirichlet(np.ones(4), 3), x34), order=2),
        C("sparse_softmax_xent",
          lambda lab, lg: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=lg),
          _ins(lambda r: r.integers(0, 4, (3,)).astype(np.int32), x34), order=2),
        C("sigmoid_xent",
          lambda lab, lg: tf.nn.sigmoid_cross_entropy_with_logits(labels=lab, logits=lg),
          _ins(lambda r: r.uniform(0, 1, (3, 4)), _away(3, 4)), order=2),
        C("bias_add", tf.nn.bias_add, _ins(_u(2, 3, 4), _u(4))),
        C("dropout", lambda x: _seeded_dropout(tf, x), _ins(x34)),
        # the fused Dense op (tapeflow/ops/fused_ops.py): raw-array first-order path and, under
        # an outer tape, the composite path that gives second order
        C("fused_dense_tanh", lambda x, k, b: _fused_dense()(x, k, b, activation="tanh"),
          _ins(_u(2, 3), _u(3, 4), _u(4)), order=2),
        C("fused_dense_relu", lambda x, k, b: _fused_dense()(x, k, b, activation="relu"),
          _ins(_u(2, 3, lo=0.2, hi=1.0), _u(3, 4, lo=0.2, hi=1.0),
               lambda r: r.choice([-2.0, 2.0], 4))),
        C("fused_dense_linear_3d", lambda x, k: _fused_dense()(x, k), _ins(_u(2, 2, 3), _u(3, 4)),
          order=2),
        # ---- shape and indexing
        C("reshape", lambda x: tf.reshape(x, [4, -1]), _ins(_u(2, 6)), order=2),
        C("transpose", lambda x: tf.transpose(x, perm=[2, 0, 1]), _ins(_u(2, 3, 4)), order=2),
        C("expand_squeeze", lambda x: tf.squeeze(tf.expand_dims(x, 1), axis=1), _ins(x34)),
        C("concat", lambda a, b: tf.concat([a, b], axis=1), _ins(_u(2, 3), _u(2, 2)), order=2),
        C("stack", lambda a, b: tf.stack([a, b], axis=1), _ins(_u(2, 3), _u(2, 3)), order=2),
        C("unstack", lambda x: tf.unstack(x, axis=1), _ins(x34)),
        C("split", lambda x: tf.split(x, [1, 3], axis=1), _ins(x34), order=2),
        C("tile", lambda x: tf.tile(x, [2, 3]), _ins(_u(2, 2)), order=2),
        C("pad", lambda x: tf.pad(x, [[1, 0], [0, 2]]), _ins(_u(2, 3)), order=2),
        C("pad_reflect", lambda x: tf.pad(x, [[1, 1], [2, 0]], mode="REFLECT"), _ins(_u(3, 4))),
        C("gather", lambda x: tf.gather(x, [2, 0, 2], axis=1), _ins(x34), order=2),
        C("gather_batch_dims", lambda x, i: tf.gather(x, i, axis=1, batch_dims=1),
          _ins(x34, lambda r: r.integers(0, 4, (3, 2)).astype(np.int32))),
        C("gather_nd", lambda x: tf.gather_nd(x, [[0, 1], [2, 3], [0, 1]]), _ins(x34), order=2),
        C("scatter_nd", lambda u: tf.scatter_nd([[1], [3], [1]], u, [5, 2]), _ins(_u(3, 2)),
          order=2),
        C("boolean_mask", lambda x: tf.boolean_mask(x, [True, False, True]), _ins(x34)),
        C("getitem", lambda x: x[1:, ::-2, None], _ins(_u(3, 4, 2)), order=2),
        C("getitem_index_array", lambda x: x[tf.constant([0, 2, 0])], _ins(x34), order=2),
        C("reverse", lambda x: tf.reverse(x, axis=[0, 1]), _ins(x34), order=2),
        C("roll", lambda x: tf.roll(x, shift=[1, -1], axis=[0, 1]), _ins(x34), order=2),
        C("sort", lambda x: tf.sort(x, axis=0, direction="DESCENDING"), _ins(x34), order=2),
        C("top_k", lambda x: tf.math.top_k(x, k=2).values, _ins(x34)),
        C("unsorted_segment_sum", lambda x: tf.math.unsorted_segment_sum(x, [2, 0, 2], 4),
          _ins(x34), order=2),
        C("embedding_lookup", lambda p: tf.nn.embedding_lookup(p, [[1, 0], [1, 1]]), _ins(x34)),
        C("batch_normalization",
          lambda x, mu, var, b, g: tf.nn.batch_normalization(x, mu, var, b, g, 1e-3),
          _ins(x34, _u(4), _u(4, lo=0.5, hi=2.0), _u(4), _u(4)), order=2),
        C("trace_diag_band", lambda x: tf.linalg.trace(tf.linalg.band_part(x, 1, 0)) *
          tf.linalg.diag(tf.linalg.diag_part(x)), _ins(_u(3, 3))),
        C("matrix_transpose", tf.linalg.matrix_transpose, _ins(_u(2, 3, 4))),
        C("log_sigmoid", tf.math.log_sigmoid, _ins(x34), order=2),
        C("softsign", tf.nn.softsign, _ins(_away(3, 4))),
        C("weighted_xent", lambda z, x: tf.nn.weighted_cross_entropy_with_logits(z, x, 3.0),
          _ins(lambda r: r.uniform(0, 1, (3, 4)), _away(3, 4))),
        C("l2_loss", tf.nn.l2_loss, _ins(x34), order=2),
        C("one_hot_matmul", lambda x: tf.matmul(tf.one_hot([0, 2], 3, dtype=tf.float64), x),
          _ins(_u(3, 2))),
    ]
    return cases


def _fused_dense():
    from tapeflow.ops.fused_ops import fused_dense  # noqa: PLC0415

    return fused_dense


def _seeded_dropout(tf, x):
    # the same mask at every evaluation, so finite differences see one function
    tf.random.set_seed(0)
    return tf.nn.dropout(x, rate=0.5, seed=1)


class _LazyCases:
    def __init__(self):
        self._cases = None

    def _get(self):
        if self._cases is None:
            self._cases = _cases()
        return self._cases

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())

    def __getitem__(self, i):
        return self._get()[i]


CASES = _LazyCases()


def recorded_ops(fn, *args, **kwargs):
    """Runs ``fn`` and returns (its result, the names of the registered ops recorded meanwhile)."""
    names = set()
    original = _reg.record

    def spy(opdef, inputs, outputs, attrs):
        names.add(opdef.name)
        return original(opdef, inputs, outputs, attrs)

    _reg.record = spy
    try:
        result = fn(*args, **kwargs)
    finally:
        _reg.record = original
    return result, names


def run_case(case, seed=0):
    """Checks ``case`` by finite differences; returns the registered op names it exercised.

    >>> from tapeflow.testing.op_test import CASES, run_case
    >>> sorted(run_case([c for c in CASES if c.name == "tanh"][0]))
    ['BroadcastTo', 'Mul', 'Reshape', 'Sub', 'Sum', 'Tanh']
    """
    rng = np.random.default_rng(seed)
    arrays = case.inputs(rng)
    _, names = recorded_ops(check_gradients, case.fn, arrays, order=case.order, eps=case.eps,
                            rtol=case.rtol, atol=case.atol, seed=seed, name=case.name)
    return names
