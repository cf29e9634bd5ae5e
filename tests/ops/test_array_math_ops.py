"""Values of the ops beyond the golden set, against NumPy references."""

import numpy as np
import pytest

import tapeflow as tf

R = np.random.default_rng(0)


def test_sort_argsort_top_k():
    a = np.array([[3.0, 1.0, 2.0, 1.0], [0.0, -1.0, 5.0, 5.0]], dtype=np.float32)
    x = tf.constant(a)
    np.testing.assert_array_equal(tf.sort(x).numpy(), np.sort(a, axis=-1))
    np.testing.assert_array_equal(tf.sort(x, axis=0, direction="DESCENDING").numpy(),
                                  -np.sort(-a, axis=0))
    idx = tf.argsort(x)
    assert idx.dtype == tf.int32
    np.testing.assert_array_equal(idx.numpy(), np.argsort(a, axis=-1, kind="stable"))
    # ties: the lower index comes first in both directions, as TensorFlow
    np.testing.assert_array_equal(tf.argsort(x, direction="DESCENDING").numpy(),
                                  [[0, 2, 1, 3], [2, 3, 0, 1]])
    r = tf.math.top_k(x, k=2)
    np.testing.assert_array_equal(r.values.numpy(), [[3.0, 2.0], [5.0, 5.0]])
    np.testing.assert_array_equal(r.indices.numpy(), [[0, 2], [2, 3]])
    values, indices = tf.nn.top_k(x, 1)
    assert values.shape == (2, 1) and indices.dtype == tf.int32
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least k=5"):
        tf.math.top_k(x, k=5)
    with pytest.raises(ValueError, match="direction"):
        tf.sort(x, direction="UP")


def test_gather_nd_scatter_nd():
    a = np.arange(24).reshape(2, 3, 4).astype(np.float32)
    x = tf.constant(a)
    np.testing.assert_array_equal(tf.gather_nd(x, [[0, 1], [1, 2]]).numpy(), a[[0, 1], [1, 2]])
    np.testing.assert_array_equal(tf.gather_nd(x, [[1, 2, 3]]).numpy(), [a[1, 2, 3]])
    np.testing.assert_array_equal(tf.gather_nd(x, [[1], [0]], batch_dims=1).numpy(),
                                  np.stack([a[0, 1], a[1, 0]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[3, 0\] does not"):
        tf.gather_nd(x, [[0, 0], [3, 0]])
    s = tf.scatter_nd([[0], [2], [0]], tf.constant([1.0, 2.0, 3.0]), [4])
    np.testing.assert_array_equal(s.numpy(), [4.0, 0.0, 2.0, 0.0])
    u = tf.tensor_scatter_nd_update(tf.ones([2, 2]), [[0, 1]], [9.0])
    np.testing.assert_array_equal(u.numpy(), [[1.0, 9.0], [1.0, 1.0]])
    np.testing.assert_array_equal(
        tf.tensor_scatter_nd_add(tf.ones([3]), [[1], [1]], [2.0, 3.0]).numpy(), [1, 6, 1])


def test_boolean_mask_reverse_roll():
    a = np.arange(12).reshape(3, 4)
    x = tf.constant(a)
    m = np.array([True, False, True])
    np.testing.assert_array_equal(tf.boolean_mask(x, m).numpy(), a[m])
    m2 = a % 3 == 0
    np.testing.assert_array_equal(tf.boolean_mask(x, m2).numpy(), a[m2])
    np.testing.assert_array_equal(tf.boolean_mask(x, [True, False, False, True], axis=1).numpy(),
                                  a[:, [0, 3]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not match"):
        tf.boolean_mask(x, [True, False])
    np.testing.assert_array_equal(tf.reverse(x, [0]).numpy(), a[::-1])
    np.testing.assert_array_equal(tf.roll(x, shift=2, axis=1).numpy(), np.roll(a, 2, axis=1))


def test_cumsum_cumprod():
    a = R.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    x = tf.constant(a)
    np.testing.assert_allclose(tf.math.cumsum(x, axis=1).numpy(), np.cumsum(a, 1), rtol=1e-6)
    np.testing.assert_allclose(tf.cumsum(x, axis=0, reverse=True).numpy(),
                               np.cumsum(a[::-1], 0)[::-1], rtol=1e-6)
    ex = tf.math.cumsum(x, axis=1, exclusive=True).numpy()
    np.testing.assert_allclose(ex[:, 1:], np.cumsum(a, 1)[:, :-1], rtol=1e-6)
    np.testing.assert_array_equal(ex[:, 0], 0)
    np.testing.assert_allclose(tf.math.cumprod(x, axis=1, exclusive=True).numpy()[:, 1:],
                               np.cumprod(a, 1)[:, :-1], rtol=1e-6)


def test_einsum_tensordot_norm():
    a = R.standard_normal((2, 3, 4)).astype(np.float32)
    b = R.standard_normal((2, 4, 5)).astype(np.float32)
    for eq, ops in [("bij,bjk->bik", (a, b)), ("bij->bji", (a,)), ("bij->", (a,)),
                    ("...ij,...jk->...ik", (a, b)), ("bij,bjk", (a, b)), ("ijk->j", (a,))]:
        got = tf.einsum(eq, *[tf.constant(o) for o in ops])
        np.testing.assert_allclose(got.numpy(), np.einsum(eq, *ops), rtol=1e-5, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="label 'j'"):
        tf.einsum("ij,jk->ik", tf.ones([2, 3]), tf.ones([4, 2]))
    np.testing.assert_allclose(tf.tensordot(a, b[0], axes=1).numpy(),
                               np.tensordot(a, b[0], axes=1), rtol=1e-5)
    np.testing.assert_allclose(tf.tensordot(a, a, axes=[[0, 1, 2], [0, 1, 2]]).numpy(),
                               np.sum(a * a), rtol=1e-5)
    m = a[0]
    np.testing.assert_allclose(tf.norm(m).numpy(), np.linalg.norm(m), rtol=1e-6)
    np.testing.assert_allclose(tf.linalg.norm(m, ord=1, axis=[0, 1]).numpy(),
                               np.linalg.norm(m, 1), rtol=1e-6)
    np.testing.assert_allclose(tf.norm(m, ord=np.inf, axis=[-2, -1]).numpy(),
                               np.linalg.norm(m, np.inf), rtol=1e-6)
    np.testing.assert_allclose(tf.norm(m, ord=3, axis=1).numpy(),
                               np.sum(np.abs(m) ** 3, 1) ** (1 / 3), rtol=1e-5)


def test_add_n_clip_by_norm_and_pad_modes():
    xs = [tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]), tf.constant([5.0, 6.0])]
    np.testing.assert_array_equal(tf.add_n(xs).numpy(), [9.0, 12.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="shape"):
        tf.add_n([tf.ones([2]), tf.ones([3])])
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant([3.0, 4.0]), 10.0).numpy(), [3, 4])
    clipped, n = tf.clip_by_global_norm([tf.constant([6.0]), tf.constant([8.0])], 5.0)
    assert float(n) == 10.0
    np.testing.assert_allclose([float(c[0]) for c in clipped], [3.0, 4.0])
    a = np.arange(6).reshape(2, 3)
    for mode in ("REFLECT", "SYMMETRIC"):
        np.testing.assert_array_equal(
            tf.pad(tf.constant(a), [[1, 1], [2, 2]], mode=mode).numpy(),
            np.pad(a, [[1, 1], [2, 2]], mode=mode.lower()))
    with pytest.raises(tf.errors.InvalidArgumentError, match="REFLECT"):
        tf.pad(tf.constant(a), [[2, 0], [0, 0]], mode="REFLECT")


def test_aliases_are_exported():
    assert tf.reduce_sum is tf.math.reduce_sum
    assert tf.norm is tf.linalg.norm
    assert tf.einsum is tf.linalg.einsum
    assert tf.math.top_k is tf.nn.top_k
    assert tf.cumsum is tf.math.cumsum
    assert tf.add_n is tf.math.add_n
    for name in ["reduce_std", "reduce_variance", "reduce_any", "reduce_all", "reduce_logsumexp",
                 "argmax", "argmin", "cast", "reshape", "transpose", "concat", "stack", "unstack",
                 "split", "squeeze", "expand_dims", "tile", "pad", "gather", "gather_nd",
                 "boolean_mask", "where", "one_hot", "clip_by_value", "cumsum", "sort",
                 "argsort", "einsum", "tensordot", "norm", "print", "function", "shape", "rank",
                 "size", "stop_gradient", "identity"]:
        assert callable(getattr(tf, name)), name
    for name in ["relu", "relu6", "elu", "selu", "gelu", "silu", "leaky_relu", "softmax",
                 "log_softmax", "dropout", "bias_add", "moments", "l2_normalize",
                 "softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits",
                 "sparse_softmax_cross_entropy_with_logits"]:
        assert callable(getattr(tf.nn, name)), name
    for name in ["exp", "log", "log1p", "sqrt", "rsqrt", "square", "abs", "sign", "floor", "ceil",
                 "round", "sin", "cos", "tanh", "sigmoid", "softplus", "erf", "maximum",
                 "minimum", "pow", "equal", "less", "logical_and", "logical_or", "logical_not",
                 "top_k", "l2_normalize", "reduce_std"]:
        assert callable(getattr(tf.math, name)), name


def test_dropout():
    x = tf.ones([2000])
    tf.random.set_seed(3)
    y = tf.nn.dropout(x, rate=0.25)
    vals = set(np.unique(y.numpy()).tolist())
    assert vals == {0.0, np.float32(1 / 0.75)}
    kept = float(tf.reduce_mean(tf.cast(y > 0, tf.float32)))
    assert 0.7 < kept < 0.8
    tf.random.set_seed(3)
    np.testing.assert_array_equal(tf.nn.dropout(x, rate=0.25).numpy(), y.numpy())
    z = tf.nn.dropout(tf.ones([4, 5]), rate=0.5, noise_shape=[4, 1], seed=1).numpy()
    assert all(len(set(row.tolist())) == 1 for row in z)  # one draw per row
    with pytest.raises(ValueError, match="rate"):
        tf.nn.dropout(x, rate=1.0)
    with pytest.raises(ValueError, match="floating point"):
        tf.nn.dropout(tf.constant([1, 2]), rate=0.5)


def test_segment_mask_meshgrid_unique():
    d = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    got = tf.math.unsorted_segment_sum(tf.constant(d), [1, 0, 1, 3], 4).numpy()
    np.testing.assert_array_equal(got, [d[1], d[0] + d[2], np.zeros(3), d[3]])
    np.testing.assert_array_equal(tf.math.segment_sum(tf.constant(d), [0, 0, 1, 1]).numpy(),
                                  [d[0] + d[1], d[2] + d[3]])
    np.testing.assert_array_equal(tf.sequence_mask([0, 2], 3, dtype=tf.float32).numpy(),
                                  [[0, 0, 0], [1, 1, 0]])
    for indexing in ("xy", "ij"):
        got = tf.meshgrid(tf.constant([1, 2]), tf.constant([3, 4, 5]), indexing=indexing)
        want = np.meshgrid([1, 2], [3, 4, 5], indexing=indexing)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w)
    y, idx = tf.unique(tf.constant([5, 3, 5, 1, 3]))
    assert y.numpy().tolist() == [5, 3, 1] and idx.numpy().tolist() == [0, 1, 0, 2, 1]


def test_linalg_helpers_and_nn_extras():
    a = np.arange(9.0, dtype=np.float32).reshape(3, 3)
    x = tf.constant(a)
    assert float(tf.linalg.trace(x)) == np.trace(a)
    np.testing.assert_array_equal(tf.linalg.diag_part(x).numpy(), np.diag(a))
    np.testing.assert_array_equal(tf.linalg.diag(tf.constant([1.0, 2.0])).numpy(),
                                  np.diag([1.0, 2.0]))
    np.testing.assert_array_equal(tf.linalg.band_part(x, 1, 0).numpy(),
                                  np.tril(a) - np.tril(a, -2))
    np.testing.assert_array_equal(tf.linalg.matrix_transpose(x).numpy(), a.T)
    np.testing.assert_allclose(tf.nn.l2_loss(x).numpy(), np.sum(a * a) / 2)
    np.testing.assert_allclose(tf.math.log_sigmoid(tf.constant([-100.0, 0.0])).numpy(),
                               [-100.0, np.log(0.5)], rtol=1e-6)
    bn = tf.nn.batch_normalization(x, 4.0, 4.0, 1.0, 2.0, 0.0).numpy()
    np.testing.assert_allclose(bn, (a - 4.0) / 2.0 * 2.0 + 1.0, rtol=1e-6)
    emb = tf.nn.embedding_lookup(x, tf.constant([[2, 0]]))
    np.testing.assert_array_equal(emb.numpy(), a[[[2, 0]]])
    z, lg = np.array([0.0, 1.0], np.float32), np.array([0.5, -2.0], np.float32)
    want = (1 - z) * lg + (1 + 2 * z) * np.log1p(np.exp(-lg))
    np.testing.assert_allclose(tf.nn.weighted_cross_entropy_with_logits(z, lg, 3.0).numpy(), want,
                               rtol=1e-6)
