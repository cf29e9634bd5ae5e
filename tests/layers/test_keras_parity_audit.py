"""Keras 3.15 parity regressions for the layers beyond Dense (audit of issue 4).

Every constant below was recorded from TensorFlow 2.21 / Keras 3.15.1 running the same code with
the same deterministic weights (``_det``); none of them is computed by tapeflow.
"""

import warnings

import numpy as np
import pytest

import tapeflow as tf
from tapeflow import keras

L = keras.layers


def _det(shape, k=1.0):
    n = int(np.prod(shape))
    return (np.sin(np.arange(n) * 0.7 * k + 0.3) * 0.8).reshape(shape).astype("float32")


def _set_det(layer):
    layer.set_weights([_det(w.shape, i + 1) for i, w in enumerate(layer.get_weights())])


def _close(got, want, atol=2e-5):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want, dtype="float32"), rtol=1e-4,
                               atol=atol)


# ---- constants recorded from Keras 3.15.1 (TF 2.21 backend)
MHA_EMB_OUT = (
    [[[0.159864, -0.45123, -0.680557, -0.627736], [0.158609, -0.451528, -0.679413, -0.627011],
    [0.252735, -0.115643, -0.648246, -0.95127], [0.252735, -0.115643, -0.648246, -0.95127]],
    [[0.29905, 0.505293, -0.462937, -1.503081], [0.33487, 0.386701, -0.542994, -1.414352],
    [0.293222, 0.507722, -0.456202, -1.502998], [0.347974, 0.48151, -0.520732, -1.500858]]]
)
MHA_EMB_G_EMB = (
    [[-0.306424, -0.335874, 0.214571, 0.394554], [0.183133, 0.035369, 0.120186, -0.324695],
    [0.252336, 0.237597, -0.212204, -0.22387], [0.031136, 0.093836, 0.007257, -0.142032],
    [0.249863, 0.299066, -0.237902, -0.305757]]
)
MHA_EMB_G_QK = (
    [[[0.027228, -0.025626], [0.002813, -0.039304]], [[0.004914, -0.005546], [0.002578,
    -0.025377]], [[-0.019712, 0.017142], [0.001131, 0.000485]], [[-0.035067, 0.031768],
    [-0.000849, 0.02612]]]
)
MHA_AX_OUT = (
    [[[[0.667933, 0.568849, -0.808111, -1.695396], [0.683876, 0.611603, -0.808107, -1.738148],
    [0.090294, 0.35925, -0.308658, -1.299488]], [[-0.012891, 0.229658, -0.253814, -1.149438],
    [0.464583, 0.442969, -0.651718, -1.511178], [0.73895, 0.637845, -0.853392, -1.781283]]]]
)
MHA_AX_SCORES_SHAPE = (
    (1, 2, 2, 3, 2, 2)
)
MHA_AX_SCORES00 = (
    [[[[0.410209, 0.048423], [0.105312, 0.436055]], [[0.395144, 0.026483], [0.130441,
    0.447932]], [[0.223035, 0.122562], [0.409187, 0.245216]]], [[[0.166007, 0.285655],
    [0.378613, 0.169726]], [[0.362882, 0.104059], [0.158051, 0.375008]], [[0.417811, 0.023439],
    [0.093078, 0.465672]]]]
)
MHA_GATE_SHAPES = (
    [(4, 2, 2), (2, 2), (4, 2, 2), (2, 2), (4, 2, 2), (2, 2), (4, 2, 2), (2, 2), (2, 2, 2, 3),
    (2, 3)]
)
MHA_GATE_OUT = (
    [[[[-0.006692, 0.428494, 0.528886], [0.240804, -0.298191, -0.827003]], [[0.012556,
    0.448289, 0.549223], [0.261678, -0.276787, -0.805074]], [[0.014405, 0.450038, 0.550871],
    [0.263224, -0.275342, -0.803732]]], [[[-0.178772, 0.256236, 0.356498], [0.068336,
    -0.470692, -0.999486]], [[-0.209401, 0.224903, 0.324471], [0.035623, -0.504081,
    -1.033542]], [[-0.231523, 0.201568, 0.29993], [0.009882, -0.531013, -1.061659]]]]
)
MHA_SW_SCORES = (
    [[1.0, 0.0, 0.0, 0.0, 0.0], [0.51714, 0.48286, 0.0, 0.0, 0.0], [0.0, 0.465501, 0.534499,
    0.0, 0.0], [0.0, 0.0, 0.343972, 0.656028, 0.0], [0.0, 0.0, 0.0, 0.523166, 0.476834]]
)
LN_RMS_OUT = (
    [[[3.051483, 8.884323, 10.699166, 7.442768], [0.467659, -7.020341, -11.436185, -10.533177],
    [-4.540621, 3.852199, 10.701421, 12.663854]], [[4.259116, 12.325745, 14.757154, 10.207743],
    [0.637883, -9.52482, -15.435916, -14.145739], [-6.068137, 5.123639, 14.167521, 16.689798]]]
)
TD_BN_OUT = (
    [[[0.532272, 1.575007, 0.722545, -1.537392], [-0.067032, -0.014644, -0.800563, -0.223217]],
    [[0.222649, 0.87118, 0.44725, -0.458036], [0.267557, 0.76302, -0.195933, -1.47858]],
    [[-0.045673, -0.066192, -1.070002, -0.350644], [0.508724, 1.631619, 1.09629, -0.644275]]]
)
TD_BN_MOVING_MEAN = (
    [0.330777, 0.15892, -0.431252, -0.316979]
)
TD_BN_MOVING_VAR = (
    [0.344058, 0.325105, 0.03541, 0.154443]
)
SimpleRNN_EXPLICIT_MASK_INIT = (
    [[[0.0, 0.0], [-0.050126, -0.605504], [-0.157272, 0.860457], [-0.157272, 0.860457]],
    [[-0.184438, -0.856343], [-0.184438, -0.856343], [-0.184438, -0.856343], [0.039979,
    0.168859]]]
)
SimpleRNN_IMPLICIT_MASK_INIT = (
    [[[0.759049, 0.714779], [0.079357, -0.406473], [-0.120764, 0.846076], [0.725761,
    0.471307]], [[-0.184438, -0.856343], [-0.291053, 0.833689], [0.693882, 0.467281], [0.28368,
    -0.166257]]]
)
LSTM_EXPLICIT_MASK_INIT = (
    [[[0.0, 0.0], [0.165587, 0.180521], [-0.139467, -0.362942], [-0.139467, -0.362942]],
    [[0.025318, 0.026394], [0.025318, 0.026394], [0.025318, 0.026394], [0.212252, 0.019986]]]
)
LSTM_IMPLICIT_MASK_INIT = (
    [[[0.174096, -0.079723], [0.26908, -0.023735], [-0.073409, -0.387778], [0.137742,
    -0.2989]], [[0.025318, 0.026394], [-0.102129, -0.383273], [0.123711, -0.308697], [0.289223,
    -0.273855]]]
)
GRU_EXPLICIT_MASK_INIT = (
    [[[0.0, 0.0], [0.156021, 0.081104], [0.309962, -0.058523], [0.309962, -0.058523]],
    [[-0.552524, -0.345947], [-0.552524, -0.345947], [-0.552524, -0.345947], [-0.324956,
    -0.549069]]]
)
GRU_IMPLICIT_MASK_INIT = (
    [[[0.49086, 0.122226], [0.331624, -0.09968], [0.424525, -0.192304], [0.638432, -0.280719]],
    [[-0.552524, -0.345947], [-0.13649, -0.462856], [0.44619, -0.549583], [0.268361,
    -0.566786]]]
)
UNIT_OUT = (
    [[[0.197337, 0.016544, -0.228696], [0.416936, -0.561583, 0.647512]], [[-0.606954, 0.560111,
    -0.454704], [0.301755, -0.117256, -0.079504]]]
)


def test_mha_implicit_masks_from_embedding_values_and_gradients():
    # Keras replaces masked scores with -1e9 through `where`: a fully masked query row gets no
    # gradient through its scores (subtracting 1e9 would leak one)
    ids = np.array([[3, 1, 0, 0], [2, 0, 4, 1]])
    emb = L.Embedding(5, 4, mask_zero=True)
    emb.build((2, 4))
    _set_det(emb)
    mha = L.MultiHeadAttention(2, 2)
    e = emb(ids)
    mha(e, e)
    _set_det(mha)
    with tf.GradientTape() as t:
        e = emb(ids)
        y = mha(e, e)
        loss = tf.reduce_sum(y * _det(y.shape, 3))
    g = t.gradient(loss, [emb.embeddings, mha.trainable_weights[0]])
    _close(y, MHA_EMB_OUT)
    _close(tf.convert_to_tensor(g[0]), MHA_EMB_G_EMB, atol=1e-4)
    _close(g[1], MHA_EMB_G_QK, atol=1e-4)
    assert y._keras_mask.numpy().tolist() == (ids != 0).tolist()


def test_mha_explicit_query_mask_is_ignored_as_in_keras():
    # Keras 3.15 reads the query mask from the query tensor only (the argument is overwritten)
    q = _det((2, 3, 4), 2)
    mha = L.MultiHeadAttention(2, 2)
    plain = mha(q, q).numpy()
    qm = np.array([[True, False, False], [True, True, False]])
    np.testing.assert_array_equal(mha(q, q, query_mask=qm).numpy(), plain)
    vm = np.array([[True, True, False], [True, False, False]])
    assert not np.allclose(mha(q, q, value_mask=vm).numpy(), plain)


def test_mha_attention_axes_on_4d_inputs():
    q = _det((1, 2, 3, 4), 5)
    v = _det((1, 2, 2, 4), 6)
    mha = L.MultiHeadAttention(2, 2, attention_axes=(1, 2))
    mha(q, v)
    _set_det(mha)
    y, s = mha(q, v, return_attention_scores=True)
    _close(y, MHA_AX_OUT)
    assert tuple(s.shape) == MHA_AX_SCORES_SHAPE
    _close(s.numpy()[0, 0], MHA_AX_SCORES00)
    assert mha.get_config()["attention_axes"] == (1, 2)


def test_mha_use_gate_and_tuple_output_shape():
    q = _det((2, 3, 4), 7)
    mha = L.MultiHeadAttention(2, 2, use_gate=True, output_shape=(2, 3))
    mha(q, q)
    assert [tuple(w.shape) for w in mha.weights] == MHA_GATE_SHAPES
    assert [w.path.split("/", 1)[1] for w in mha.weights][4:6] == ["gate/kernel", "gate/bias"]
    _set_det(mha)
    _close(mha(q, q), MHA_GATE_OUT)
    cfg = mha.get_config()
    assert cfg["output_shape"] == (2, 3) and cfg["use_gate"] is True
    assert cfg["sliding_window"] is None
    assert L.MultiHeadAttention(2, 2, output_shape=6).get_config()["output_shape"] == (6,)


def test_mha_sliding_window_with_causal_mask():
    q = _det((1, 5, 3), 8)
    mha = L.MultiHeadAttention(1, 2, sliding_window=2)
    mha(q, q)
    _set_det(mha)
    _, s = mha(q, q, use_causal_mask=True, return_attention_scores=True)
    _close(s.numpy()[0, 0], MHA_SW_SCORES)


def test_mha_config_round_trip_and_errors():
    mha = L.MultiHeadAttention(2, 3, sliding_window=4, use_gate=True, attention_axes=-2)
    mha(np.ones((1, 5, 4), "float32"), np.ones((1, 5, 4), "float32"))
    cfg = mha.get_config()
    assert cfg["attention_axes"] == (1,)
    again = L.MultiHeadAttention.from_config(cfg)
    assert again.sliding_window == 4 and again.use_gate
    with pytest.raises(ValueError, match=r"`num_heads`.*Received: num_heads=0"):
        L.MultiHeadAttention(0, 3)
    with pytest.raises(ValueError, match=r"`key_dim`.*Received: key_dim=2.5"):
        L.MultiHeadAttention(2, 2.5)
    with pytest.raises(ValueError, match=r"`sliding_window` must be `None` or a positive"):
        L.MultiHeadAttention(2, 2, sliding_window=0)


def test_layer_normalization_rms_scaling_weights_values_and_config():
    x = _det((2, 3, 4), 9) * 3 + 1
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ln = L.LayerNormalization(rms_scaling=True, axis=(1, 2))
    assert any("rms_scaling=True" in str(m.message) for m in w)
    ln(x)
    assert [(v.name, tuple(v.shape)) for v in ln.weights] == [("gamma", (3, 4))]
    _set_det(ln)
    _close(ln(x), LN_RMS_OUT, atol=1e-4)
    assert ln.get_config()["axis"] == [1, 2]
    plain = L.LayerNormalization()
    plain(x)
    assert plain.get_config()["axis"] == [-1]


def test_time_distributed_batch_norm_training_runs_each_step():
    x = _det((3, 2, 4), 10) * 2
    td = L.TimeDistributed(L.BatchNormalization(momentum=0.5))
    td(x)
    _set_det(td.layer)
    y = td(x, training=True)
    _close(y, TD_BN_OUT, atol=1e-4)
    _close(td.layer.moving_mean, TD_BN_MOVING_MEAN)
    _close(td.layer.moving_variance, TD_BN_MOVING_VAR)


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_rnn_masks_with_initial_state(cls):
    want = globals()
    x = _det((2, 4, 3), 11)
    m = np.array([[0, 1, 1, 0], [1, 0, 0, 1]], bool)
    h0 = _det((2, 2), 12)
    layer = getattr(L, cls)(2, return_sequences=True)
    st = [h0] * (2 if cls == "LSTM" else 1)
    layer(x, initial_state=st)
    _set_det(layer)
    # explicit mask: masked steps repeat the previous output, which starts at zeros
    _close(layer(x, mask=m, initial_state=st), want[f"{cls}_EXPLICIT_MASK_INIT"])
    # a mask carried by the input is not applied when initial_state is given (Keras 3 fills
    # `mask` only for a single tensor argument)
    xt = tf.constant(x)
    xt._keras_mask = tf.constant(m)
    _close(layer(xt, initial_state=st), want[f"{cls}_IMPLICIT_MASK_INIT"])


def test_unit_normalization():
    _close(L.UnitNormalization(axis=[1, 2])(_det((2, 2, 3), 13)), UNIT_OUT)
    assert L.UnitNormalization(axis=(1, 2)).get_config()["axis"] == [1, 2]
    with pytest.raises(TypeError, match="Invalid value for `axis`"):
        L.UnitNormalization(axis="last")


def test_nested_layer_configs_use_keras_3_form():
    for wrapper, key in ((L.Bidirectional(L.LSTM(3)), "layer"),
                         (L.Bidirectional(L.GRU(2)), "backward_layer"),
                         (L.TimeDistributed(L.Dense(2)), "layer")):
        entry = wrapper.get_config()[key]
        assert entry["module"] == "keras.layers" and entry["registered_name"] is None
        again = type(wrapper).from_config(wrapper.get_config())
        assert type(again) is type(wrapper)
    assert "seed" not in L.SimpleRNN(3).get_config()
    assert "seed" in L.LSTM(3).get_config() and "seed" in L.GRU(3).get_config()


def test_argument_errors_match_keras():
    with pytest.raises(TypeError, match="pool_size"):
        L.AveragePooling2D()
    assert L.AveragePooling1D(2).pool_size == (2,)
    with pytest.raises(ValueError, match=r"`depth_multiplier`.*Received depth_multiplier=0"):
        L.SeparableConv2D(4, 3, depth_multiplier=0)
    with pytest.raises(ValueError, match=r"`depth_multiplier`.*Received depth_multiplier=-1"):
        L.DepthwiseConv2D(3, depth_multiplier=-1)
    with pytest.raises(ValueError, match=r"`TimeDistributed` layer with a `keras.layers.Layer` "
                                         r"instance. Received: 3"):
        L.TimeDistributed(3)
    with pytest.raises(ValueError, match=r"`Bidirectional` layer with a `keras.layers.Layer`"):
        L.Bidirectional(3)


def _call_on(layer, x, bn_training=True):
    """Calls ``layer`` on ``x`` as its kind expects (attention layers take x as query and value;
    BatchNormalization in training mode unless ``bn_training`` is False)."""
    if isinstance(layer, L.MultiHeadAttention):
        return layer(x, x)
    if isinstance(layer, L.Attention):
        return layer([x, x])
    if bn_training and isinstance(layer, L.BatchNormalization):
        return layer(x, training=True)
    return layer(x)


@pytest.mark.parametrize("make, shape", [
    (lambda: L.Conv2D(2, 3, activation="relu"), (2, 5, 5, 3)),
    (lambda: L.Conv2DTranspose(2, 3), (2, 4, 4, 3)),
    (lambda: L.DepthwiseConv2D(3), (2, 5, 5, 3)),
    (lambda: L.SeparableConv2D(2, 3), (2, 5, 5, 3)),
    (lambda: L.Conv1D(2, 3), (2, 5, 3)),
    (lambda: L.BatchNormalization(), (2, 5, 3)),
    (lambda: L.LayerNormalization(), (2, 5, 3)),
    (lambda: L.GroupNormalization(3), (2, 5, 3)),
    (lambda: L.MultiHeadAttention(2, 2), (2, 5, 3)),
    (lambda: L.Attention(use_scale=True, score_mode="concat"), (2, 5, 3)),
    (lambda: L.AdditiveAttention(), (2, 5, 3)),
])
def test_mixed_float16_policy_outputs_float16(make, shape):
    # Keras 3.15 gives float16 outputs for all of these under "mixed_float16"
    x = _det(shape, 2)
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = make()
    finally:
        keras.config.set_dtype_policy(None)
    y = _call_on(layer, x)
    assert y.dtype == tf.float16
    assert all(w.dtype == tf.float32 for w in layer.weights)
    ref = type(layer).from_config({**layer.get_config(), "dtype": "float32"})
    _call_on(ref, x, bn_training=False)  # builds
    ref.set_weights(layer.get_weights())
    want = _call_on(ref, x)
    np.testing.assert_allclose(y.numpy().astype("float32"), want.numpy(), rtol=2e-2, atol=2e-2)


def test_embedding_output_in_compute_dtype():
    emb = L.Embedding(5, 2, dtype="mixed_float16")
    assert emb(np.array([[1, 2]])).dtype == tf.float16
    assert emb.embeddings.dtype == tf.float32


def test_depthwise_and_separable_1d_reject_causal_padding():
    # Keras 3.15 accepts only "valid" / "same" for these
    with pytest.raises(ValueError, match="padding='causal'"):
        L.DepthwiseConv1D(3, padding="causal")
    with pytest.raises(ValueError, match="padding='causal'"):
        L.SeparableConv1D(2, 3, padding="causal")
    assert L.SeparableConv1D(2, 3, padding="same").padding == "same"


def test_symbolic_compute_mask():
    m = L.Embedding(9, 4, mask_zero=True).compute_mask(keras.Input((7,), dtype="int32"))
    assert m.shape == (None, 7) and m.dtype == "bool"
    m = L.Masking().compute_mask(keras.Input((7, 3)))
    assert m.shape == (None, 7) and m.dtype == "bool"


def test_positional_arguments_follow_keras_order():
    lstm = L.LSTM(3, "relu", "hard_sigmoid", False)
    assert lstm.activation.__name__ == "relu" and lstm.recurrent_activation.__name__ == \
        "hard_sigmoid"
    assert lstm.use_bias is False and lstm.return_sequences is False
    gru = L.GRU(3, "relu")
    assert gru.activation.__name__ == "relu" and gru.reset_after is True
    rnn = L.SimpleRNN(3, "relu", False)
    assert rnn.activation.__name__ == "relu" and rnn.use_bias is False
    conv = L.Conv3DTranspose(2, 2, 2, "valid", "channels_last", 1)
    assert conv.data_format == "channels_last" and conv.output_padding == (1, 1, 1)
    assert conv.strides == (2, 2, 2)
    with pytest.raises(TypeError):
        L.LayerNormalization(-1, 1e-3, True, True, False, "zeros", "ones", None, None, None,
                             None, None)
    bn = L.BatchNormalization(-1, 0.9, 1e-3, True, True, "zeros", "ones", "zeros", "ones",
                              None, None, None, None, False, None, 0.99, False)
    assert bn.momentum == 0.9 and bn.synchronized is False


def test_output_masks_of_attention_scores_and_bidirectional_lists():
    q = tf.constant(_det((2, 3, 4), 3))
    q._keras_mask = tf.constant([[True, True, False], [True, False, False]])
    out, scores = L.Attention()([q, q], return_attention_scores=True)
    assert out._keras_mask.numpy().tolist() == q._keras_mask.numpy().tolist()
    assert getattr(scores, "_keras_mask", None) is None   # Keras: only the output is masked
    fwd, bwd, h_f, h_b = L.Bidirectional(L.SimpleRNN(2, return_sequences=True,
                                                     return_state=True), merge_mode=None)(q)
    for t in (fwd, bwd):
        assert t._keras_mask.numpy().tolist() == q._keras_mask.numpy().tolist()
    assert getattr(h_f, "_keras_mask", None) is None and getattr(h_b, "_keras_mask", None) is None
