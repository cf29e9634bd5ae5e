"""Recurrent layers: SimpleRNN, LSTM, GRU (and their cells), the generic RNN, Bidirectional.

As in Keras 3 each recurrent layer owns a ``cell`` sublayer that holds ``kernel``,
``recurrent_kernel`` and ``bias`` (paths ``lstm/lstm_cell/kernel``, ...). With the default
activations (tanh / sigmoid) and no recurrent dropout, SimpleRNN/LSTM/GRU run the whole sequence
as one fused op (``tapeflow/ops/rnn_ops.py``: input projection for all steps in one GEMM, one
recurrent GEMM per step, hand-written backward-through-time). Otherwise, and for custom cells,
the generic ``RNN`` loop calls ``cell.call`` step by step with ordinary ops (which also supports
second-order gradients: under nested tapes the fused kernel is not used).

Masks: a Keras mask (batch, steps) makes masked steps keep the previous state and output.
"""

from tapeflow._backend import np
from tapeflow.framework import nest
from tapeflow.framework.tensor import Tensor, _wrap
from tapeflow.keras import _rng
from tapeflow.keras.layers import _layer_utils as U
from tapeflow.keras.layers.input_spec import InputSpec
from tapeflow.keras.layers.layer import Layer
from tapeflow.ops import array_ops as A
from tapeflow.ops import linalg_ops as L
from tapeflow.ops import math_ops as M
from tapeflow.ops import rnn_ops

__all__ = ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "SimpleRNN", "LSTM", "GRU",
           "Bidirectional", "StackedRNNCells"]


def _dropout_mask(gen, shape, rate, dtype):
    keep = gen.random(shape) >= rate
    return _wrap((keep / (1.0 - rate)).astype(dtype))


class _CellBase(Layer):
    """Shared cell arguments: initializers, regularizers, constraints, dropout."""

    _n_gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units}.")
        self.units = int(units)
        self.activation = U.get("activation", activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = U.get("initializer", kernel_initializer)
        self.recurrent_initializer = U.get("initializer", recurrent_initializer)
        self.bias_initializer = U.get("initializer", bias_initializer)
        self.kernel_regularizer = U.get("regularizer", kernel_regularizer)
        self.recurrent_regularizer = U.get("regularizer", recurrent_regularizer)
        self.bias_regularizer = U.get("regularizer", bias_regularizer)
        self.kernel_constraint = U.get("constraint", kernel_constraint)
        self.recurrent_constraint = U.get("constraint", recurrent_constraint)
        self.bias_constraint = U.get("constraint", bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self._gen = _rng.make_generator(seed)
        self._dp_mask = None
        self._rec_dp_mask = None

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self._n_gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        d = input_shape[-1]
        g = self._n_gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(d, g),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, g),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(name="bias", shape=self._bias_shape(),
                                    initializer=self._bias_initializer(),
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def get_initial_state(self, batch_size=None):
        return [A.zeros([batch_size, s], dtype=self.compute_dtype)
                for s in nest.flatten(self.state_size)]

    def _prepare_dropout(self, inputs_shape, training, dtype):
        """Draws this sequence's dropout masks (one per sequence, as Keras)."""
        b, d = inputs_shape[0], inputs_shape[-1]
        self._dp_mask = _dropout_mask(self._gen, (b, d), self.dropout, dtype) \
            if training and 0 < self.dropout < 1 else None
        self._rec_dp_mask = _dropout_mask(self._gen, (b, self.units), self.recurrent_dropout,
                                          dtype) \
            if training and 0 < self.recurrent_dropout < 1 else None

    def _dropped(self, inputs, h_prev):
        """A step's input and previous output times this sequence's dropout masks (if any)."""
        x = inputs * self._dp_mask if self._dp_mask is not None else inputs
        hp = h_prev * self._rec_dp_mask if self._rec_dp_mask is not None else h_prev
        return x, hp

    def get_config(self):
        c = U.base_config(self)
        c.update({
            "units": self.units, "activation": U.serialize("activation", self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": U.serialize("initializer", self.kernel_initializer),
            "recurrent_initializer": U.serialize("initializer", self.recurrent_initializer),
            "bias_initializer": U.serialize("initializer", self.bias_initializer),
            "kernel_regularizer": U.serialize("regularizer", self.kernel_regularizer),
            "recurrent_regularizer": U.serialize("regularizer", self.recurrent_regularizer),
            "bias_regularizer": U.serialize("regularizer", self.bias_regularizer),
            "kernel_constraint": U.serialize("constraint", self.kernel_constraint),
            "recurrent_constraint": U.serialize("constraint", self.recurrent_constraint),
            "bias_constraint": U.serialize("constraint", self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return c


class SimpleRNNCell(_CellBase):
    """One step of ``h = activation(x W + h U + b)``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> cell = keras.layers.SimpleRNNCell(4)
    >>> h, states = cell(np.ones((2, 3)), [np.zeros((2, 4))])
    >>> h.shape
    TensorShape([2, 4])
    """

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, hp = self._dropped(inputs, h_prev)
        z = L.matmul(x, self.kernel)
        if self.use_bias:
            z = z + self.bias
        h = self.activation(z + L.matmul(hp, self.recurrent_kernel))
        return h, [h]


class LSTMCell(_CellBase):
    """One LSTM step; kernel columns are the gates i, f, c, o.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> cell = keras.layers.LSTMCell(4)
    >>> h, (h2, c) = cell(np.ones((2, 3)), [np.zeros((2, 4)), np.zeros((2, 4))])
    >>> h.shape, c.shape
    (TensorShape([2, 4]), TensorShape([2, 4]))
    """

    _n_gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)
        self.recurrent_activation = U.get("activation", recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, n = self.bias_initializer, self.units

        def forget_bias_init(shape, dtype=None):
            parts = [np.asarray(init((n,), dtype=dtype)), np.ones((n,), dtype=dtype),
                     np.asarray(init((2 * n,), dtype=dtype))]
            return np.concatenate(parts).astype(dtype)
        return forget_bias_init

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        n = self.units
        x, hp = self._dropped(inputs, h_prev)
        z = L.matmul(x, self.kernel) + L.matmul(hp, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        i = self.recurrent_activation(z[:, :n])
        f = self.recurrent_activation(z[:, n:2 * n])
        c = f * c_prev + i * self.activation(z[:, 2 * n:3 * n])
        o = self.recurrent_activation(z[:, 3 * n:])
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        c = super().get_config()
        c["recurrent_activation"] = U.serialize("activation", self.recurrent_activation)
        c["unit_forget_bias"] = self.unit_forget_bias
        return c


class GRUCell(_CellBase):
    """One GRU step; gates z, r, h. ``reset_after=True`` (default) applies the reset gate after
    the recurrent matmul and has a bias of shape (2, 3 * units).

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> cell = keras.layers.GRUCell(4)
    >>> h, _ = cell(np.ones((2, 3)), [np.zeros((2, 4))])
    >>> h.shape, tuple(cell.bias.shape)
    (TensorShape([2, 4]), (2, 12))
    """

    _n_gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)
        self.recurrent_activation = U.get("activation", recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        n = self.units
        x, hp = self._dropped(inputs, h_prev)
        xw = L.matmul(x, self.kernel)
        if self.reset_after:
            if self.use_bias:
                xw = xw + self.bias[0]
            rec = L.matmul(hp, self.recurrent_kernel)
            if self.use_bias:
                rec = rec + self.bias[1]
            z = self.recurrent_activation(xw[:, :n] + rec[:, :n])
            r = self.recurrent_activation(xw[:, n:2 * n] + rec[:, n:2 * n])
            hh = self.activation(xw[:, 2 * n:] + r * rec[:, 2 * n:])
        else:
            if self.use_bias:
                xw = xw + self.bias
            u = self.recurrent_kernel
            z = self.recurrent_activation(xw[:, :n] + L.matmul(hp, u[:, :n]))
            r = self.recurrent_activation(xw[:, n:2 * n] + L.matmul(hp, u[:, n:2 * n]))
            hh = self.activation(xw[:, 2 * n:] + L.matmul(r * hp, u[:, 2 * n:]))
        h = z * h_prev + (1.0 - z) * hh
        return h, [h]

    def get_config(self):
        c = super().get_config()
        c["recurrent_activation"] = U.serialize("activation", self.recurrent_activation)
        c["reset_after"] = self.reset_after
        return c


class StackedRNNCells(Layer):
    """Several cells run as one: the output of each is the input of the next.

    >>> from tapeflow import keras
    >>> keras.layers.StackedRNNCells([keras.layers.LSTMCell(3), keras.layers.GRUCell(2)]).state_size
    [3, 3, 2]
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = list(cells)

    @property
    def state_size(self):
        return [s for c in self.cells for s in nest.flatten(c.state_size)]

    @property
    def output_size(self):
        return self.cells[-1].output_size

    def build(self, input_shape):
        shape = tuple(input_shape)
        for c in self.cells:
            U.build_child(c, shape)
            shape = shape[:-1] + (c.output_size,)

    def get_initial_state(self, batch_size=None):
        return [s for c in self.cells for s in c.get_initial_state(batch_size)]

    def _prepare_dropout(self, shape, training, dtype):
        for c in self.cells:
            if hasattr(c, "_prepare_dropout"):
                c._prepare_dropout(shape, training, dtype)
            shape = tuple(shape[:-1]) + (c.output_size,)

    def call(self, inputs, states, training=False):
        new_states = []
        i = 0
        x = inputs
        for c in self.cells:
            k = len(nest.flatten(c.state_size))
            x, s = c(x, list(states[i:i + k]), training=training)
            new_states += list(s)
            i += k
        return x, new_states

    def get_config(self):
        c = U.base_config(self)
        c["cells"] = [U.serialize_layer(x) for x in self.cells]
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cells = [U.deserialize_layer(c) for c in config.pop("cells")]
        return cls(cells, **config)


class RNN(Layer):
    """Runs ``cell`` over the time axis of a (batch, steps, features) input.

    Args:
      cell: an RNN cell (``call(x_t, states) -> (output, new_states)``, ``state_size``) or a
        list of cells (stacked).
      return_sequences: return every step's output (batch, steps, units), else the last one.
      return_state: also return the final states.
      go_backwards: process the sequence in reverse (the outputs stay in processing order).
      stateful: carry the final states of a batch over as the next batch's initial states.
      zero_output_for_mask: masked steps output zeros instead of the previous output.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.RNN(keras.layers.SimpleRNNCell(4), return_sequences=True)(
    ...     np.ones((2, 5, 3))).shape
    TensorShape([2, 5, 4])
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
            raise ValueError(f"Argument `cell` should have a `call` method and a `state_size` "
                             f"attribute. Received: cell={cell!r}")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)
        self._states = None

    def build(self, input_shape):
        U.build_child(self.cell, (input_shape[0],) + tuple(input_shape[2:]))

    @property
    def states(self):
        return self._states

    def reset_states(self):
        self._states = None

    reset_state = reset_states

    def _initial_state(self, inputs, initial_state):
        batch = inputs.shape[0]
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
                else [initial_state]
            n = len(nest.flatten(self.cell.state_size))
            if len(states) != n:
                raise ValueError(f"Layer {self.name} expects {n} initial state(s), but it "
                                 f"received {len(states)} initial state(s).")
            return [s if isinstance(s, Tensor) else _wrap(np.asarray(s, dtype=np.float32))
                    for s in states]
        if self.stateful and self._states is not None:
            return [_wrap(s) for s in self._states]
        if hasattr(self.cell, "get_initial_state"):
            return list(self.cell.get_initial_state(batch_size=batch))
        return [A.zeros([batch, s], dtype=inputs.dtype)
                for s in nest.flatten(self.cell.state_size)]

    def _fused(self, training):
        return None

    def _call_kwargs(self, inputs, kwargs):
        return _keras_mask_rule(self, inputs, kwargs)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        if mask is not None and not isinstance(mask, Tensor):
            mask = _wrap(np.asarray(mask))
        if self.go_backwards:
            x = x[:, ::-1]
            mask = mask[:, ::-1] if mask is not None else None
        states = self._initial_state(x, initial_state)
        if hasattr(self.cell, "_prepare_dropout"):
            self.cell._prepare_dropout(tuple(x.shape), training, x.dtype.as_numpy_dtype)
        fused = self._fused(training)
        if fused is not None:
            outputs, last, states = fused(x, states, mask)
            if mask is not None and initial_state is not None:
                # as Keras: a masked step repeats the previous *output*, which starts at zeros
                # (not at the initial state), so leading masked steps output zeros
                seen = np.maximum.accumulate(np.asarray(mask.numpy(), bool), axis=1)
                if not seen.all():
                    keep = np.broadcast_to(seen[..., None], tuple(outputs.shape))
                    outputs = M.where(_wrap(keep), outputs, M.zeros_like(outputs))
                    last = outputs[:, -1]
        else:
            outputs, last, states = self._loop(x, states, mask, training)
        if self.stateful:
            self._states = [s.numpy() for s in states]
        if self.zero_output_for_mask and mask is not None and self.return_sequences:
            outputs = outputs * A.expand_dims(M.cast(mask, outputs.dtype), -1)
        out = outputs if self.return_sequences else last
        if self.return_state:
            return [out] + list(states)
        return out

    def _loop(self, x, states, mask, training):
        steps = x.shape[1]
        outs = []
        prev_out = None
        mf = None if mask is None else A.expand_dims(M.cast(mask, x.dtype), -1)
        for t in range(steps):
            out, new_states = self.cell(x[:, t], states, training=training)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) \
                else [new_states]
            if mf is not None:
                m = mf[:, t]
                new_states = [m * n + (1.0 - m) * s for n, s in zip(new_states, states,
                                                                     strict=True)]
                keep = prev_out if prev_out is not None and not self.zero_output_for_mask \
                    else M.zeros_like(out)
                out = m * out + (1.0 - m) * keep
            states = new_states
            prev_out = out
            outs.append(out)
        return A.stack(outs, axis=1), outs[-1], states

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, list) else previous_mask
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(nest.flatten(self.cell.state_size))
        return out_mask

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        units = self.cell.output_size
        out = input_shape[:2] + (units,) if self.return_sequences else (input_shape[0], units)
        if self.return_state:
            return [out] + [(input_shape[0], s) for s in nest.flatten(self.cell.state_size)]
        return out

    def get_config(self):
        c = U.base_config(self)
        c.update({"return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards,
                  "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask})
        if type(self) is RNN:
            c["cell"] = U.serialize_layer(self.cell)
        return c

    @classmethod
    def from_config(cls, config):
        if cls is not RNN:
            return cls(**config)
        config = dict(config)
        cell = U.deserialize_layer(config.pop("cell"))
        return cls(cell, **config)


_CELL_KEYS = ("activation", "use_bias", "kernel_initializer", "recurrent_initializer",
              "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
              "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
              "dropout", "recurrent_dropout", "seed")


class _FusedRNN(RNN):
    """SimpleRNN / LSTM / GRU: an RNN over their own cell with a fused whole-sequence kernel."""

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn_cell"
    _extra = ()

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, activity_regularizer=None, **kwargs):
        cell_kwargs = {k: kwargs.pop(k) for k in _CELL_KEYS + self._extra if k in kwargs}
        kwargs.pop("use_cudnn", None)
        kwargs.pop("implementation", None)
        cell = self._cell_class(units, name=self._cell_name, dtype=kwargs.get("dtype"),
                                trainable=kwargs.get("trainable", True), **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def __getattr__(self, name):
        # units, activation, kernel, ... are the cell's (Keras exposes them on the layer too)
        if name.startswith("_") or name == "cell" or "cell" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["cell"], name)

    def _default_acts(self):
        from tapeflow.keras import activations  # noqa: PLC0415

        c = self.cell
        ok = c.activation is activations.tanh
        if hasattr(c, "recurrent_activation"):
            ok = ok and c.recurrent_activation is activations.sigmoid
        return ok

    def _fused(self, training):
        c = self.cell
        if not self._default_acts() or c._rec_dp_mask is not None or _nested_tapes():
            return None
        return self._run_fused

    def _inputs_bias(self, x):
        c = self.cell
        if c._dp_mask is not None:
            x = x * A.expand_dims(c._dp_mask, 1)
        bias = c.bias if c.use_bias else A.zeros(c._bias_shape(), dtype=x.dtype)
        return x, bias

    def get_config(self):
        c = super().get_config()
        cc = self.cell.get_config()
        for k in ("name", "trainable", "dtype"):
            cc.pop(k, None)
        c.update(cc)
        c["activity_regularizer"] = U.serialize("regularizer", self.activity_regularizer)
        return c


def _nested_tapes():
    """True when two tapes record at once (higher-order gradients): the fused kernels' backward
    is not differentiable, so the step-by-step loop of ordinary ops is used instead."""
    from tapeflow.framework import registry  # noqa: PLC0415

    return sum(1 for t in registry._TAPES if t._recording) > 1


def _float_mask(mask, dtype):
    return None if mask is None else M.cast(mask, dtype)


class SimpleRNN(_FusedRNN):
    """Fully-connected RNN: ``h_t = tanh(x_t W + h_{t-1} U + b)``.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.SimpleRNN(4)(np.ones((2, 5, 3))).shape
    TensorShape([2, 4])
    """

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, seed=None, **kwargs):
        # Keras 3's positional order (units, activation, use_bias, ...)
        super().__init__(
            units, return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, activation=activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)

    def _run_fused(self, x, states, mask):
        c = self.cell
        x, bias = self._inputs_bias(x)
        hs = rnn_ops.simple_rnn_sequence(x, states[0], c.kernel, c.recurrent_kernel, bias,
                                         _float_mask(mask, x.dtype))
        last = hs[:, -1]
        return hs, last, [last]

    def get_config(self):
        c = super().get_config()
        c.pop("seed", None)  # Keras 3.15's SimpleRNN.get_config has no seed (its cell does)
        return c


class LSTM(_FusedRNN):
    """Long short-term memory layer (Hochreiter 1997); Keras 3 arguments and weight layout.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> out, h, c = keras.layers.LSTM(4, return_state=True)(np.ones((2, 5, 3)))
    >>> out.shape, c.shape
    (TensorShape([2, 4]), TensorShape([2, 4]))
    """

    _cell_class = LSTMCell
    _cell_name = "lstm_cell"
    _extra = ("recurrent_activation", "unit_forget_bias")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        # Keras 3's positional order (units, activation, recurrent_activation, use_bias, ...)
        super().__init__(
            units, return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            use_cudnn=use_cudnn, **kwargs)

    def _run_fused(self, x, states, mask):
        c = self.cell
        x, bias = self._inputs_bias(x)
        if not self.return_sequences and mask is None:
            # only the last output is used (``call`` reads the sequence only for these two
            # cases): the op then returns h_last and its backward starts from that gradient
            # alone, without a (batch, time, units) gradient of zeros to scan
            last, c_last = rnn_ops.lstm_sequence(x, states[0], states[1], c.kernel,
                                                 c.recurrent_kernel, bias,
                                                 return_sequences=False)
            return None, last, [last, c_last]
        hs, c_last = rnn_ops.lstm_sequence(x, states[0], states[1], c.kernel,
                                           c.recurrent_kernel, bias, _float_mask(mask, x.dtype))
        last = hs[:, -1]
        return hs, last, [last, c_last]


class GRU(_FusedRNN):
    """Gated recurrent unit (Cho 2014); ``reset_after=True`` by default, as Keras 3.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.GRU(4, return_sequences=True)(np.ones((2, 5, 3))).shape
    TensorShape([2, 5, 4])
    """

    _cell_class = GRUCell
    _cell_name = "gru_cell"
    _extra = ("recurrent_activation", "reset_after")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        # Keras 3's positional order (units, activation, recurrent_activation, use_bias, ...)
        super().__init__(
            units, return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, reset_after=reset_after,
            use_cudnn=use_cudnn, **kwargs)

    def _run_fused(self, x, states, mask):
        c = self.cell
        x, bias = self._inputs_bias(x)
        hs = rnn_ops.gru_sequence(x, states[0], c.kernel, c.recurrent_kernel, bias,
                                  _float_mask(mask, x.dtype), reset_after=c.reset_after)
        last = hs[:, -1]
        return hs, last, [last]


class Bidirectional(Layer):
    """Runs ``layer`` forwards and a copy of it backwards and merges the two outputs.

    Args:
      layer: an RNN layer (its copy with ``go_backwards`` flipped is the backward layer).
      merge_mode: "concat" (default), "sum", "mul", "ave" or None (a list of both outputs).
      backward_layer: optional explicit backward layer.

    >>> import numpy as np
    >>> from tapeflow import keras
    >>> keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(
    ...     np.ones((2, 5, 4))).shape
    TensorShape([2, 5, 6])
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        super().__init__(**kwargs)
        if merge_mode not in ("sum", "mul", "ave", "concat", None):
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should "
                             f"be one of {{'sum', 'mul', 'ave', 'concat', None}}")
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `Bidirectional` layer with a "
                             f"`keras.layers.Layer` instance. Received: {layer}")
        cfg = layer.get_config()
        cfg["name"] = "forward_" + _strip(layer.name, "forward_")
        self.forward_layer = type(layer).from_config(cfg)
        if backward_layer is None:
            cfg = layer.get_config()
            cfg["go_backwards"] = not cfg.get("go_backwards", False)
            cfg["name"] = "backward_" + _strip(layer.name, "backward_")
            backward_layer = type(layer).from_config(cfg)
        self.backward_layer = backward_layer
        for sub_layer in (self.forward_layer, self.backward_layer):
            # as Keras: masked steps give zeros when the sequences are returned
            if getattr(sub_layer, "zero_output_for_mask", None) is not None:
                sub_layer.zero_output_for_mask = bool(getattr(sub_layer, "return_sequences",
                                                              False))
        self.merge_mode = merge_mode
        self.return_sequences = getattr(layer, "return_sequences", False)
        self.return_state = getattr(layer, "return_state", False)
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, input_shape):
        U.build_child(self.forward_layer, input_shape)
        U.build_child(self.backward_layer, input_shape)

    def _call_kwargs(self, inputs, kwargs):
        return _keras_mask_rule(self, inputs, kwargs)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        fs = bs = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fs, bs = initial_state[:half], initial_state[half:]
        kw = {"mask": mask, "training": training}
        y = self.forward_layer(sequences, initial_state=fs, **kw)
        y_rev = self.backward_layer(sequences, initial_state=bs, **kw)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        if self.merge_mode == "concat":
            out = A.concat([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) * 0.5
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:
            out = [y, y_rev]
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, list) else previous_mask
        out = mask if self.return_sequences else None
        if self.merge_mode is None:  # two outputs, each with the mask (Keras 3)
            out = [out, out]
        if self.return_state:
            n = len(nest.flatten(self.forward_layer.cell.state_size)) * 2
            return (out if isinstance(out, list) else [out]) + [None] * n
        return out

    def get_config(self):
        c = U.base_config(self)
        c["merge_mode"] = self.merge_mode
        c["layer"] = U.serialize_layer(self.forward_layer)
        c["backward_layer"] = U.serialize_layer(self.backward_layer)
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = U.deserialize_layer(config.pop("layer"))
        back = config.pop("backward_layer", None)
        if back is not None:
            back = U.deserialize_layer(back)
        return cls(layer, backward_layer=back, **config)


def _keras_mask_rule(layer, inputs, kwargs):
    # Keras 3 fills `mask` from the input's mask only when the input is the call's single tensor
    # argument: with a tensor `initial_state` too, an implicit mask is not applied (the output
    # still carries it). An explicit `mask=` always applies.
    skip = kwargs.get("mask") is None and kwargs.get("initial_state") is not None
    kwargs, training, previous_mask = Layer._call_kwargs(layer, inputs, kwargs)
    if skip and "mask" in kwargs:
        kwargs["mask"] = None
    return kwargs, training, previous_mask


def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name
