"""Attention layers: dot-product ``Attention`` (Luong) and ``MultiHeadAttention``.

Masks: padding masks (a Keras mask on the value, or ``value_mask`` / ``attention_mask``) and
``use_causal_mask`` add -1e9 to the masked scores before the softmax, as Keras does.
"""

import math

from tapeflow._backend import np
from tapeflow.framework.tensor import Tensor, _wrap
from tapeflow.keras import _rng
from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A
from tapeflow.ops import linalg_ops as L
from tapeflow.ops import math_ops as M
from tapeflow.ops import nn_ops as N
from tapeflow.ops import reduction_ops as R

__all__ = ["Attention", "AdditiveAttention", "MultiHeadAttention"]

_NEG = 1e9


def _as_tensor(x):
    if x is None or isinstance(x, Tensor):
        return x
    return _wrap(np.asarray(x))


def _causal(tq, tv):
    return _wrap(np.tril(np.ones((tq, tv), dtype=bool)))


def _masked_softmax(scores, keep):
    """softmax(scores + (1 - keep) * -1e9) over the last axis (``keep`` bool, broadcastable)."""
    if keep is not None:
        scores = scores - M.cast(M.logical_not(keep), scores.dtype) * _NEG
    return N.softmax(scores, axis=-1)


def _apply_dropout(weights, rate, gen, training):
    if not training or rate <= 0:
        return weights
    dt = weights.dtype.as_numpy_dtype
    keep = gen.random(tuple(weights.shape)) >= rate
    return weights * _wrap((keep / (1.0 - rate)).astype(dt))


class Attention(Layer):
    """Dot-product attention: ``softmax(query @ key^T) @ value`` (key defaults to value).

    Args:
      use_scale: learn a scalar ``scale`` multiplying the scores.
      score_mode: "dot" or "concat" (``concat_score_weight * sum(tanh(q + k))``).
      dropout: dropout rate on the attention weights (training only).

    Call with ``[query, value]`` or ``[query, value, key]``; ``mask=[query_mask, value_mask]``,
    ``use_causal_mask``, ``return_attention_scores``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Attention()([np.ones((2, 3, 4)), np.ones((2, 5, 4))]).shape
    TensorShape([2, 3, 4])
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self._gen = _rng.make_generator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones") \
            if self.use_scale else None
        self.concat_score_weight = self.add_weight(
            name="concat_score_weight", shape=(), initializer="ones") \
            if self.score_mode == "concat" else None

    def _scores(self, q, k):
        if self.score_mode == "dot":
            s = L.matmul(q, k, transpose_b=True)
            return s * U.read(self.scale) if self.scale is not None else s
        qe = A.expand_dims(q, -2)
        ke = A.expand_dims(k, -3)
        t = qe + ke
        if self.scale is not None:
            t = t * U.read(self.scale)
        return U.read(self.concat_score_weight) * R.reduce_sum(M.tanh(t), axis=-1)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"{type(self).__name__} layer must be called on a list of inputs, "
                             f"namely [query, value] or [query, value, key]. Received: "
                             f"inputs={inputs}.")
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) == 3 else v
        q_mask = v_mask = None
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{type(self).__name__} layer mask must be a list, namely "
                                 f"[query_mask, value_mask]. Received: mask={mask}.")
            q_mask, v_mask = _as_tensor(mask[0]), _as_tensor(mask[1])
        scores = self._scores(q, k)
        keep = None
        if v_mask is not None:
            keep = A.expand_dims(M.cast(v_mask, "bool"), -2)
        if use_causal_mask:
            c = _causal(scores.shape[-2], scores.shape[-1])
            keep = c if keep is None else M.logical_and(keep, c)
        weights = _masked_softmax(scores, keep)
        weights_d = _apply_dropout(weights, self.dropout, self._gen, training)
        out = L.matmul(weights_d, v)
        if q_mask is not None:
            out = out * A.expand_dims(M.cast(q_mask, out.dtype), -1)
        self.__dict__["_scores_out"] = bool(return_attention_scores)
        if return_attention_scores:
            return out, weights
        return out

    def compute_mask(self, inputs, previous_mask):
        if previous_mask is None:
            return None
        m = previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask
        # as Keras: the query mask goes on the output only, not on the attention scores
        return [_as_tensor(m), None] if self.__dict__.get("_scores_out") else _as_tensor(m)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def get_config(self):
        c = U.base_config(self)
        c.update({"use_scale": self.use_scale, "score_mode": self.score_mode,
                  "dropout": self.dropout, "seed": self.seed})
        return c


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: ``scores = sum(scale * tanh(q + k), axis=-1)`` with a
    learned per-feature ``scale`` (shape (dim,)) when ``use_scale``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.AdditiveAttention()([np.ones((2, 3, 4)), np.ones((2, 5, 4))]).shape
    TensorShape([2, 3, 4])
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        dim = input_shape[0][-1]
        self.scale = self.add_weight(name="scale", shape=(dim,),
                                     initializer="glorot_uniform") if self.use_scale else None
        self.concat_score_weight = None

    def _scores(self, q, k):
        t = M.tanh(A.expand_dims(q, -2) + A.expand_dims(k, -3))
        if self.scale is not None:
            t = t * U.read(self.scale)
        return R.reduce_sum(t, axis=-1)

    def get_config(self):
        c = U.base_config(self)
        c.update({"use_scale": self.use_scale, "dropout": self.dropout, "seed": self.seed})
        return c


class _Projection(Layer):
    """The EinsumDense sublayers of MultiHeadAttention: kernel ``kernel_shape``, bias
    ``bias_shape``; contracts the last ``n_in`` input axes with the kernel's first ``n_in``."""

    def __init__(self, kernel_shape, bias_shape, n_in, use_bias, kernel_initializer,
                 bias_initializer, kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_shape = tuple(kernel_shape)
        self.bias_shape = tuple(bias_shape)
        self.n_in = n_in
        self.use_bias = use_bias
        self._inits = (kernel_initializer, bias_initializer)
        self._regs = (kernel_regularizer, bias_regularizer)
        self._cons = (kernel_constraint, bias_constraint)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_shape,
                                      initializer=self._inits[0], regularizer=self._regs[0],
                                      constraint=self._cons[0])
        self.bias = self.add_weight(name="bias", shape=self.bias_shape,
                                    initializer=self._inits[1], regularizer=self._regs[1],
                                    constraint=self._cons[1]) if self.use_bias else None

    def call(self, x):
        lead = x.shape.as_list()[:x.shape.rank - self.n_in]
        k_in = int(np.prod(self.kernel_shape[:self.n_in]))
        w = A.reshape(U.read(self.kernel), [k_in, -1])
        y = L.matmul(A.reshape(x, [-1, k_in]), w)
        if self.use_bias:
            y = y + A.reshape(U.read(self.bias), [-1])
        return A.reshape(y, lead + list(self.kernel_shape[self.n_in:]))


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017) with Keras 3's weights: ``query``, ``key``,
    ``value`` projections (kernel (dim, heads, key_dim), bias (heads, key_dim)) and
    ``attention_output`` (kernel (heads, value_dim, out), bias (out,)).

    Call ``layer(query, value, key=None, attention_mask=None, use_causal_mask=False,
    return_attention_scores=False, training=None)``; Keras masks on query/value are honoured.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    >>> mha(np.ones((2, 4, 6)), np.ones((2, 5, 6))).shape
    TensorShape([2, 4, 6])
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        for arg, val in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val <= 0:
                raise ValueError(f"Received an invalid value for argument `{arg}`, expected a "
                                 f"positive integer. Received: {arg}={val}")
        if value_dim is not None and (isinstance(value_dim, bool) or not isinstance(
                value_dim, (int, np.integer)) or value_dim <= 0):
            raise ValueError(f"Received an invalid value for argument `value_dim`, expected a "
                             f"positive integer or `None`. Received: value_dim={value_dim}")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (int(output_shape),)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except TypeError:
                raise ValueError(f"Invalid `output_shape`: {output_shape}. When specified, the "
                                 f"`output_shape` should be of type tuple, list, or int.") \
                    from None
        self._output_shape = output_shape or None
        if isinstance(attention_axes, (int, np.integer)):
            attention_axes = (int(attention_axes),)
        elif attention_axes and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"`attention_axes` must be an int, list, or tuple."
                             f"Received: attention_axes={attention_axes}")
        self.attention_axes = attention_axes
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(
                sliding_window, (int, np.integer)) or sliding_window <= 0):
            raise ValueError(f"`sliding_window` must be `None` or a positive integer. "
                             f"Received: sliding_window={sliding_window}")
        self.sliding_window = sliding_window
        self.flash_attention = flash_attention
        U.set_kernel_bias_args(self, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer, kernel_constraint, bias_constraint)
        self.seed = seed
        self._gen = _rng.make_generator(seed)
        self.supports_masking = True

    def _proj(self, name, kshape, bshape, n_in):
        return _Projection(kshape, bshape, n_in, self.use_bias, self.kernel_initializer,
                           self.bias_initializer, self.kernel_regularizer,
                           self.bias_regularizer, self.kernel_constraint,
                           self.bias_constraint, name=name, dtype=self._dtype_policy)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must "
                             f"be equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self._output_shape or (query_shape[-1],)
        self._query_dense = self._proj("query", (query_shape[-1], h, kd), (h, kd), 1)
        U.build_child(self._query_dense, query_shape)
        self._key_dense = self._proj("key", (key_shape[-1], h, kd), (h, kd), 1)
        U.build_child(self._key_dense, key_shape)
        if self.use_gate:
            self._gate_dense = self._proj("gate", (query_shape[-1], h, vd), (h, vd), 1)
            U.build_child(self._gate_dense, query_shape)
        self._value_dense = self._proj("value", (value_shape[-1], h, vd), (h, vd), 1)
        U.build_child(self._value_dense, value_shape)
        self._output_dense = self._proj("attention_output", (h, vd) + tuple(out), tuple(out), 2)
        U.build_child(self._output_dense, tuple(query_shape[:-1]) + (h, vd))
        rank = len(query_shape) + 1                                      # projected rank
        if self.attention_axes is None:
            self.attention_axes = tuple(range(1, rank - 2))
        else:
            self.attention_axes = tuple(a if a >= 0 else (rank - 1) + a
                                        for a in self.attention_axes)
        if any(not 1 <= a <= rank - 3 for a in self.attention_axes):
            raise ValueError(f"Invalid `attention_axes` {self.attention_axes} for a query of "
                             f"rank {len(query_shape)}: each axis must be a non-batch, "
                             f"non-feature axis of the query.")

    @property
    def query_dense(self):
        return self._query_dense

    @property
    def key_dense(self):
        return self._key_dense

    @property
    def value_dense(self):
        return self._value_dense

    @property
    def output_dense(self):
        return self._output_dense

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        key = value if key is None else key
        # Keras 3.15 takes the query mask from the query tensor only (an explicit ``query_mask``
        # argument is overwritten by it); value/key masks come from the argument or the tensor.
        query_mask = getattr(query, "_keras_mask", None)
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key_mask is None and key is not value:
            key_mask = getattr(key, "_keras_mask", None)
        gate = M.sigmoid(self._gate_dense(query)) if self.use_gate else None
        q = self._query_dense(query)                                     # (B, T..., h, kd)
        k = self._key_dense(key)
        v = self._value_dense(value)
        rank = q.shape.rank
        att = tuple(self.attention_axes)
        free = tuple(a for a in range(1, rank - 2) if a not in att)
        perm = (0,) + free + (rank - 2,) + att + (rank - 1,)
        qt, kt, vt = (A.transpose(t, list(perm)) for t in (q, k, v))
        lead = qt.shape.as_list()[:1 + len(free) + 1]                  # (B, F..., h)
        tq_dims = [q.shape[a] for a in att]
        tk_dims = [k.shape[a] for a in att]
        tq, tk = int(np.prod(tq_dims)), int(np.prod(tk_dims))
        qf = A.reshape(qt, lead + [tq, self.key_dim])
        kf = A.reshape(kt, lead + [tk, self.key_dim])
        vf = A.reshape(vt, lead + [tk, self.value_dim])
        qf = qf * (1.0 / math.sqrt(float(self.key_dim)))
        scores = L.matmul(qf, kf, transpose_b=True)                    # (B, F..., h, Tq, Tk)
        keep = self._compute_keep(query_mask, value_mask, key_mask, attention_mask,
                                  use_causal_mask, tq, tk, tq_dims + tk_dims, lead)
        if keep is not None:
            # Keras replaces masked scores by -1e9 (``where``: no gradient through them)
            scores = M.where(keep, scores, A.fill(scores.shape.as_list(),
                                                  M.cast(-_NEG, scores.dtype)))
        weights = N.softmax(scores, axis=-1)
        wd = _apply_dropout(weights, self.dropout, self._gen, training)
        o = A.reshape(L.matmul(wd, vf), lead + tq_dims + [self.value_dim])
        inv = [perm.index(i) for i in range(rank)]
        o = A.transpose(o, inv)                                          # (B, T..., h, vd)
        if gate is not None:
            o = o * gate
        out = self._output_dense(o)
        self.__dict__["_scores_out"] = bool(return_attention_scores)
        if return_attention_scores:
            return out, A.reshape(weights, lead + tq_dims + tk_dims)
        return out

    def compute_mask(self, inputs, previous_mask):
        m = getattr(inputs, "_keras_mask", None)
        return [m, None] if m is not None and self.__dict__.get("_scores_out") else m

    def _compute_keep(self, q_mask, v_mask, k_mask, attention_mask, causal, tq, tk, full,
                      lead):
        keep = None

        def both(a, b):
            return b if a is None else M.logical_and(a, b)
        n_att = len(self.attention_axes)
        if q_mask is not None:
            qm = M.cast(_as_tensor(q_mask), "bool")
            keep = both(keep, A.reshape(qm, qm.shape.as_list() + [1] * n_att))
        for m in (v_mask, k_mask):
            if m is not None:
                m = M.cast(_as_tensor(m), "bool")
                keep = both(keep, A.reshape(m, m.shape.as_list()[:1] + [1] * n_att
                                            + m.shape.as_list()[1:]))
        if causal or self.sliding_window is not None:
            i = np.arange(tq)[:, None]
            j = np.arange(tk)[None, :]
            band = np.ones((tq, tk), bool)
            if causal:
                band &= j <= i
            if self.sliding_window is not None:
                band &= np.abs(i - j) < self.sliding_window
            keep = both(keep, _wrap(band.reshape(full)))
        if attention_mask is not None:
            keep = both(keep, M.cast(_as_tensor(attention_mask), "bool"))
        if keep is None:
            return None
        # (B, Tq..., Tk...) -> (B, 1 (free axes), 1 (heads), Tq, Tk)
        if keep.shape.rank < 1 + 2 * n_att:
            keep = A.reshape(keep, [1] * (1 + 2 * n_att - keep.shape.rank)
                             + keep.shape.as_list())
        b = keep.shape[0]
        keep = R.broadcast_to(keep, [b] + list(full))
        return A.reshape(keep, [b] + [1] * (len(lead) - 1) + [tq, tk])

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if self._output_shape is None:
            return tuple(query_shape)
        out = self._output_shape
        return tuple(query_shape[:-1]) + ((out,) if isinstance(out, int) else tuple(out))

    def get_config(self):
        c = U.base_config(self)
        c.update({
            "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
            "dropout": self.dropout, "use_bias": self.use_bias, "use_gate": self.use_gate,
            "output_shape": self._output_shape, "attention_axes": self.attention_axes,
            "sliding_window": self.sliding_window,
        })
        c.update(U.kernel_bias_config(self))
        c["seed"] = self.seed
        return c
