"""Every layer of tests/layers through the shared ``run_layer_test`` (shapes, weights, config
round trip, symbolic call, one fit step), plus masks, errors and the fused-vs-loop RNN paths."""

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras
from tapeflow.testing.layer_test import run_layer_test

L = keras.layers

CASES = [
    (L.Conv1D, dict(filters=4, kernel_size=3, padding="causal"), (2, 7, 3), (2, 7, 4), 2, 0),
    (L.Conv1D, dict(filters=4, kernel_size=3, strides=2, groups=1), (2, 7, 3), (2, 3, 4), 2, 0),
    (L.Conv2D, dict(filters=4, kernel_size=3, padding="same", activation="relu"), (2, 5, 5, 3),
     (2, 5, 5, 4), 2, 0),
    (L.Conv2D, dict(filters=4, kernel_size=(3, 2), strides=(2, 1), use_bias=False),
     (2, 7, 5, 3), (2, 3, 4, 4), 1, 0),
    (L.Conv2D, dict(filters=4, kernel_size=3, groups=2), (2, 5, 5, 4), (2, 3, 3, 4), 2, 0),
    (L.Conv2D, dict(filters=4, kernel_size=3, data_format="channels_first"), (2, 3, 5, 5),
     (2, 4, 3, 3), 2, 0),
    (L.Conv2D, dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (2, 6, 6, 1),
     (2, 6, 6, 2), 2, 0),
    (L.Conv3D, dict(filters=2, kernel_size=2), (1, 3, 4, 4, 2), (1, 2, 3, 3, 2), 2, 0),
    (L.Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2, padding="same"),
     (2, 3, 3, 4), (2, 6, 6, 2), 2, 0),
    (L.Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2, output_padding=1),
     (2, 3, 3, 4), (2, 8, 8, 2), 2, 0),
    (L.Conv1DTranspose, dict(filters=2, kernel_size=3, strides=2), (2, 4, 3), (2, 9, 2), 2, 0),
    (L.DepthwiseConv2D, dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 5, 5, 3),
     (2, 5, 5, 6), 2, 0),
    (L.SeparableConv2D, dict(filters=4, kernel_size=3, depth_multiplier=2), (2, 5, 5, 3),
     (2, 3, 3, 4), 3, 0),
    (L.MaxPooling1D, dict(pool_size=2), (2, 5, 3), (2, 2, 3), 0, 0),
    (L.MaxPooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 5, 5, 3), (2, 3, 3, 3),
     0, 0),
    (L.MaxPooling3D, dict(pool_size=2), (1, 4, 4, 4, 2), (1, 2, 2, 2, 2), 0, 0),
    (L.AveragePooling1D, dict(pool_size=3, strides=1, padding="same"), (2, 5, 3), (2, 5, 3),
     0, 0),
    (L.AveragePooling2D, dict(pool_size=2, data_format="channels_first"), (2, 3, 4, 4),
     (2, 3, 2, 2), 0, 0),
    (L.AveragePooling3D, dict(pool_size=2), (1, 4, 4, 4, 2), (1, 2, 2, 2, 2), 0, 0),
    (L.GlobalAveragePooling1D, dict(), (2, 5, 3), (2, 3), 0, 0),
    (L.GlobalAveragePooling2D, dict(keepdims=True), (2, 4, 4, 3), (2, 1, 1, 3), 0, 0),
    (L.GlobalMaxPooling1D, dict(), (2, 5, 3), (2, 3), 0, 0),
    (L.GlobalMaxPooling2D, dict(data_format="channels_first"), (2, 3, 4, 4), (2, 3), 0, 0),
    (L.ZeroPadding2D, dict(padding=((1, 0), (2, 1))), (2, 3, 3, 2), (2, 4, 6, 2), 0, 0),
    (L.Cropping2D, dict(cropping=((1, 0), (1, 1))), (2, 4, 4, 2), (2, 3, 2, 2), 0, 0),
    (L.UpSampling2D, dict(size=2, interpolation="bilinear"), (2, 3, 3, 2), (2, 6, 6, 2), 0, 0),
    (L.BatchNormalization, dict(momentum=0.9), (4, 3, 5), (4, 3, 5), 2, 2),
    (L.LayerNormalization, dict(axis=[1, 2]), (4, 3, 5), (4, 3, 5), 2, 0),
    (L.GroupNormalization, dict(groups=2), (4, 3, 6), (4, 3, 6), 2, 0),
    (L.SpatialDropout1D, dict(rate=0.5), (2, 4, 3), (2, 4, 3), 0, 0),
    (L.SpatialDropout2D, dict(rate=0.5), (2, 4, 4, 3), (2, 4, 4, 3), 0, 0),
    (L.SimpleRNN, dict(units=3, return_sequences=True), (2, 4, 5), (2, 4, 3), 3, 0),
    (L.LSTM, dict(units=3), (2, 4, 5), (2, 3), 3, 0),
    (L.LSTM, dict(units=3, go_backwards=True, return_sequences=True, dropout=0.2),
     (2, 4, 5), (2, 4, 3), 3, 0),
    (L.GRU, dict(units=3, reset_after=False), (2, 4, 5), (2, 3), 3, 0),
    (L.GRU, dict(units=3, activation="relu", recurrent_dropout=0.1), (2, 4, 5), (2, 3), 3, 0),
    (L.RNN, dict(cell=L.LSTMCell(3)), (2, 4, 5), (2, 3), 3, 0),
    (L.Bidirectional, dict(layer=L.GRU(3), merge_mode="sum"), (2, 4, 5), (2, 3), 6, 0),
    (L.TimeDistributed, dict(layer=L.Dense(2)), (2, 4, 5), (2, 4, 2), 2, 0),
    (L.TimeDistributed, dict(layer=L.Conv2D(2, 3)), (2, 3, 5, 5, 1), (2, 3, 3, 3, 2), 2, 0),
    (L.Conv3DTranspose, dict(filters=2, kernel_size=2, strides=2), (1, 2, 2, 2, 3),
     (1, 4, 4, 4, 2), 2, 0),
    (L.GlobalAveragePooling3D, dict(), (2, 2, 3, 2, 4), (2, 4), 0, 0),
    (L.GlobalMaxPooling3D, dict(keepdims=True), (2, 2, 3, 2, 4), (2, 1, 1, 1, 4), 0, 0),
    (L.SpatialDropout3D, dict(rate=0.3), (2, 2, 2, 2, 3), (2, 2, 2, 2, 3), 0, 0),
    (L.ZeroPadding1D, dict(padding=(1, 2)), (2, 4, 3), (2, 7, 3), 0, 0),
    (L.Cropping1D, dict(cropping=(1, 2)), (2, 6, 3), (2, 3, 3), 0, 0),
    (L.UpSampling1D, dict(size=3), (2, 2, 3), (2, 6, 3), 0, 0),
    (L.UpSampling2D, dict(size=(2, 3)), (2, 2, 2, 1), (2, 4, 6, 1), 0, 0),
    (L.RNN, dict(cell=[L.LSTMCell(3), L.GRUCell(2)], return_sequences=True), (2, 4, 5),
     (2, 4, 2), 6, 0),
    (L.LSTM, dict(units=2, activation="relu", recurrent_activation="hard_sigmoid"), (2, 4, 5),
     (2, 2), 3, 0),
    (L.DepthwiseConv1D, dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 6, 3),
     (2, 6, 6), 2, 0),
    (L.SeparableConv1D, dict(filters=4, kernel_size=3, strides=2), (2, 7, 3), (2, 3, 4), 3, 0),
    (L.ZeroPadding3D, dict(padding=(1, 0, 2)), (1, 2, 2, 2, 3), (1, 4, 2, 6, 3), 0, 0),
    (L.Cropping3D, dict(cropping=((1, 0), (0, 1), (1, 1))), (1, 3, 3, 4, 2), (1, 2, 2, 2, 2),
     0, 0),
    (L.UpSampling3D, dict(size=(1, 2, 2)), (1, 2, 2, 2, 3), (1, 2, 4, 4, 3), 0, 0),
    (L.Masking, dict(mask_value=0.0), (2, 4, 3), (2, 4, 3), 0, 0),
    (L.GaussianDropout, dict(rate=0.3), (2, 4, 3), (2, 4, 3), 0, 0),
    (L.AlphaDropout, dict(rate=0.3), (2, 4, 3), (2, 4, 3), 0, 0),
]


@pytest.mark.parametrize("cls,kw,shape,out,n_train,n_non", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_layer_contract(cls, kw, shape, out, n_train, n_non):
    run_layer_test(cls, kw, input_shape=shape, expected_output_shape=out,
                   expected_num_trainable_weights=n_train,
                   expected_num_non_trainable_weights=n_non)


def test_embedding_contract_and_mask():
    run_layer_test(L.Embedding, dict(input_dim=10, output_dim=4, mask_zero=True),
                   input_shape=(2, 5), input_dtype="int32", expected_output_shape=(2, 5, 4),
                   expected_num_trainable_weights=1, run_training_check=False)
    ids = np.array([[3, 4, 0, 0], [1, 0, 0, 0]], dtype=np.int32)
    y = L.Embedding(10, 4, mask_zero=True)(ids)
    np.testing.assert_array_equal(y._keras_mask.numpy(), ids != 0)


def test_attention_contracts():
    run_layer_test(L.AdditiveAttention, dict(), input_shape=[(2, 3, 4), (2, 5, 4)],
                   expected_output_shape=(2, 3, 4), expected_num_trainable_weights=1)
    run_layer_test(L.Attention, dict(use_scale=True), input_shape=[(2, 3, 4), (2, 5, 4)],
                   expected_output_shape=(2, 3, 4), expected_num_trainable_weights=1)
    # MultiHeadAttention takes (query, value) as two positional arguments
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, output_shape=6)
    q = np.random.default_rng(0).standard_normal((2, 3, 4)).astype("float32")
    v = np.random.default_rng(1).standard_normal((2, 5, 4)).astype("float32")
    out, scores = mha(q, v, return_attention_scores=True)
    assert out.shape == (2, 3, 6) and scores.shape == (2, 2, 3, 5)
    assert len(mha.trainable_weights) == 8
    assert [tuple(w.shape) for w in mha.weights[-2:]] == [(2, 2, 6), (6,)]
    clone = L.MultiHeadAttention.from_config(mha.get_config())
    clone(q, v)
    clone.set_weights(mha.get_weights())
    np.testing.assert_allclose(clone(q, v).numpy(), out.numpy(), rtol=1e-6)
    np.testing.assert_allclose(scores.numpy().sum(-1), 1.0, rtol=1e-5)
    # a value mask removes the masked keys from every query's softmax
    vm = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    _, s2 = mha(q, v, value_mask=vm, return_attention_scores=True)
    assert np.all(s2.numpy()[0, :, :, 2:] < 1e-6)


def test_masked_rnn_keeps_state_and_matches_loop():
    # the fused kernel and the generic cell loop agree, masks included
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)
    for cls in (L.SimpleRNN, L.LSTM, L.GRU):
        fused = cls(5, return_sequences=True)
        ys = fused(x, mask=mask).numpy()
        loop = L.RNN(type(fused.cell)(5), return_sequences=True)
        loop(x)
        loop.set_weights(fused.get_weights())
        np.testing.assert_allclose(loop(x, mask=mask).numpy(), ys, rtol=1e-5, atol=1e-6)
        # masked steps repeat the previous output; the first sample stops changing after step 3
        np.testing.assert_array_equal(ys[0, 3], ys[0, 2])
        np.testing.assert_array_equal(ys[2, 1], ys[2, 0])


def test_masked_mean_pooling_and_lstm_through_embedding():
    ids = np.array([[5, 6, 0, 0]], dtype=np.int32)
    emb = L.Embedding(10, 3, mask_zero=True)
    h = emb(ids)
    pooled = L.GlobalAveragePooling1D()(h).numpy()
    np.testing.assert_allclose(pooled, h.numpy()[:, :2].mean(axis=1), rtol=1e-6)
    lstm = L.LSTM(2)
    last = lstm(h).numpy()
    lstm2 = L.LSTM(2)
    lstm2(h[:, :2])
    lstm2.set_weights(lstm.get_weights())
    np.testing.assert_allclose(last, lstm2(h[:, :2]).numpy(), rtol=1e-6)


def test_batchnorm_inference_uses_moving_stats():
    bn = L.BatchNormalization()
    x = np.random.default_rng(1).standard_normal((8, 3)).astype("float32") * 3 + 2
    bn(x, training=True)
    mm = bn.moving_mean.numpy()
    np.testing.assert_allclose(mm, 0.01 * x.mean(0), rtol=1e-5)
    y = bn(x, training=False).numpy()
    want = (x - mm) / np.sqrt(bn.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm)


def test_rnn_weight_layout_and_state():
    keras.backend.clear_session()
    lstm = L.LSTM(4, return_state=True, return_sequences=True)
    out, h, c = lstm(np.ones((2, 5, 3), "float32"),
                     initial_state=[tf.zeros([2, 4]), tf.ones([2, 4])])
    assert [w.path for w in lstm.weights] == ["lstm/lstm_cell/kernel",
                                              "lstm/lstm_cell/recurrent_kernel",
                                              "lstm/lstm_cell/bias"]
    assert lstm.cell.kernel.shape == (3, 16) and out.shape == (2, 5, 4)
    np.testing.assert_allclose(out.numpy()[:, -1], h.numpy())
    b = lstm.cell.bias.numpy()
    np.testing.assert_array_equal(b, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])  # forget bias
    gru = L.GRU(2)
    gru(np.ones((1, 3, 2), "float32"))
    assert gru.cell.bias.shape == (2, 6)


def test_errors():
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="divisible by the number of groups"):
        L.Conv2D(3, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="merge mode"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="list of inputs"):
        L.Attention()(np.ones((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="interpolation"):
        L.UpSampling2D(interpolation="cubic")
    with pytest.raises(ValueError, match="number of channels"):
        L.GroupNormalization(groups=4)(np.ones((2, 6), "float32"))


def test_second_order_through_lstm_uses_differentiable_loop():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.standard_normal((2, 3, 2)))
    layer = L.LSTM(2, dtype="float64")
    layer(x)

    def grad_x(xv):
        with tf.GradientTape() as t:
            t.watch(xv)
            y = tf.reduce_sum(layer(xv) ** 2)
        return t.gradient(y, xv)

    with tf.GradientTape() as outer:
        outer.watch(x)
        s = tf.reduce_sum(grad_x(x))
    got = outer.gradient(s, x)
    assert got is not None
    xv = x.numpy()
    num = np.zeros_like(xv)
    for j in range(xv.size):
        e = np.zeros_like(xv)
        e.reshape(-1)[j] = 1e-6
        up = float(tf.reduce_sum(grad_x(tf.constant(xv + e))))
        dn = float(tf.reduce_sum(grad_x(tf.constant(xv - e))))
        num.reshape(-1)[j] = (up - dn) / 2e-6
    np.testing.assert_allclose(got.numpy(), num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls,kw", [
    (L.Conv2D, dict(filters=3, kernel_size=3, strides=2, padding="same")),
    (L.Conv2DTranspose, dict(filters=3, kernel_size=3, strides=2, padding="same")),
    (L.DepthwiseConv2D, dict(kernel_size=3, depth_multiplier=2)),
    (L.SeparableConv2D, dict(filters=3, kernel_size=3, padding="same")),
    (L.MaxPooling2D, dict(pool_size=3, strides=2, padding="same")),
    (L.AveragePooling2D, dict(pool_size=3, strides=2, padding="same")),
    (L.UpSampling2D, dict(size=2, interpolation="bilinear")),
    (L.ZeroPadding2D, dict(padding=(1, 2))),
    (L.Cropping2D, dict(cropping=((1, 0), (0, 1)))),
])
def test_channels_first_matches_channels_last(cls, kw):
    x = np.random.default_rng(5).standard_normal((2, 6, 5, 4)).astype("float32")
    last = cls(**kw)
    y_last = last(x).numpy()
    first = cls(data_format="channels_first", **kw)
    first(np.transpose(x, (0, 3, 1, 2)))
    first.set_weights(last.get_weights())
    y_first = first(np.transpose(x, (0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(np.transpose(y_first, (0, 2, 3, 1)), y_last, rtol=1e-5,
                               atol=1e-6)


def test_depthwise_conv1d_matches_2d():
    x = np.random.default_rng(2).standard_normal((2, 7, 3)).astype("float32")
    d1 = L.DepthwiseConv1D(3, depth_multiplier=2)
    y1 = d1(x).numpy()
    d2 = L.DepthwiseConv2D((3, 1), depth_multiplier=2)
    d2(x[:, :, None, :])
    k, b = d1.get_weights()
    d2.set_weights([k[:, None], b])
    np.testing.assert_allclose(d2(x[:, :, None, :]).numpy()[:, :, 0], y1, rtol=1e-5, atol=1e-6)


def test_masking_feeds_lstm():
    x = np.random.default_rng(4).standard_normal((2, 5, 3)).astype("float32")
    x[0, 3:] = 0.0
    model = keras.Sequential([keras.Input((5, 3)), L.Masking(), L.LSTM(2)])
    got = model(x).numpy()
    lstm = model.layers[-1]
    np.testing.assert_allclose(got[0], lstm(x[:1, :3]).numpy()[0], rtol=1e-5, atol=1e-6)


def test_batchnorm_masked_statistics():
    x = np.random.default_rng(6).standard_normal((2, 4, 3)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    bn = L.BatchNormalization(momentum=0.0)
    bn(x, mask=mask, training=True)
    real = x[mask]
    np.testing.assert_allclose(bn.moving_mean.numpy(), real.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), real.var(0), rtol=1e-5, atol=1e-6)
