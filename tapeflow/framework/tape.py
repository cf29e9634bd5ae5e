"""``GradientTape``: records ops on watched tensors and runs them backwards.

The tape is a list of ``OpRecord``s in execution order, so the backward pass is a reverse walk with
no graph search. Gradient functions use tapeflow ops; an outer tape that watches the same tensors
records them, which gives higher-order gradients from nested tapes.
"""

import enum
import functools
import inspect

from tapeflow._backend import np
from tapeflow.framework import nest
from tapeflow.framework import registry as _reg
from tapeflow.framework import tensor as _tensor
from tapeflow.framework import variable as _var
from tapeflow.framework.tensor import Tensor, _TensorLike

__all__ = ["GradientTape", "UnconnectedGradients", "custom_gradient", "unbroadcast"]


class UnconnectedGradients(enum.Enum):
    """What ``GradientTape.gradient`` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


def unbroadcast(g, shape):
    """Sums ``g`` over the axes that broadcasting added or stretched so it has ``shape``."""
    gshape = g._value.shape
    if gshape == shape:
        return g
    ops = _tensor._ops
    lead = len(gshape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and
                                gshape[lead + i] != 1]
    if axes:
        g = ops.reduce_sum(g, axis=axes, keepdims=False)
    if g._value.shape != shape:
        g = ops.reshape(g, shape)
    return g


def _unbroadcast_raw(g, shape):
    # ``unbroadcast`` on an array: the same Sum forward over the same axes, then the reshape.
    gshape = g.shape
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and
                                      gshape[lead + i] != 1)
    if axes:
        g = _reg.REGISTRY["Sum"].forward(g, axes=axes, keepdims=False)
        if type(g) is not np.ndarray:
            g = np.asarray(g)
    if g.shape != shape:
        g = g.reshape(shape)
    return g


def _add_arrays(a, b):
    # ``a + b`` as the AddV2 op computes it (the tape adds gradients of one shape and dtype)
    out = _reg.REGISTRY["AddV2"].forward(a, b)
    return out if type(out) is np.ndarray else np.asarray(out)


class GradientTape:
    """Records operations for automatic differentiation (``tf.GradientTape``).

    Args:
      persistent: allow more than one ``gradient`` call on this tape.
      watch_accessed_variables: watch trainable variables read inside the block automatically.

    >>> import tapeflow as tf
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as outer:
    ...     outer.watch(x)
    ...     with tf.GradientTape() as inner:
    ...         inner.watch(x)
    ...         y = x * x * x
    ...     dy = inner.gradient(y, x)
    >>> float(dy), float(outer.gradient(dy, x))
    (27.0, 18.0)
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._records = []
        self._watched = {}
        self._recording = False
        self._used = False
        self._accessed = {}

    def __enter__(self):
        self._recording = True
        _reg._TAPES.append(self)
        return self

    def __exit__(self, *exc):
        self._recording = False
        if self in _reg._TAPES:
            _reg._TAPES.remove(self)
        return False

    def watch(self, tensor):
        """Ensures ``tensor`` (or each tensor in a nested structure) is traced by this tape."""
        for t in nest.flatten(tensor):
            if not isinstance(t, _TensorLike):
                raise ValueError(f"GradientTape.watch: expected a Tensor or Variable, got "
                                 f"{type(t).__name__}.")
            if _reg.watchable(t):
                self._watched[id(t)] = t
                if isinstance(t, _var.Variable):
                    self._accessed[id(t)] = t

    def _variable_accessed(self, v):
        key = id(v)
        if self._watch_accessed and v._trainable and v._value.dtype.kind in "fc":
            self._watched[key] = v
            self._accessed[key] = v
        elif key in self._watched:
            self._accessed[key] = v

    def watched_variables(self):
        """The variables this tape has watched, in the order first accessed."""
        return tuple(self._accessed.values())

    def stop_recording(self):
        """A context manager that pauses recording on this tape."""
        return _Paused(self)

    def reset(self):
        """Forgets everything recorded so far (the tape stays active inside its block)."""
        self._records = []
        self._watched = {}
        self._accessed = {}

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """Returns d(sum of target) / d(source) for each source, in the structure of ``sources``.

        Args:
          target: a Tensor or nested structure of Tensors; non-scalar targets are summed.
          sources: a Tensor/Variable or nested structure (list, dict) of them.
          output_gradients: upstream gradients for the targets (default: ones).
          unconnected_gradients: ``UnconnectedGradients.NONE`` (return None) or ``ZERO``.
        Raises:
          RuntimeError: on a second call to a non-persistent tape.
        """
        self._check_usable()
        if target is None:
            raise TypeError("GradientTape.gradient: argument `target` should be a list or nested "
                            "structure of Tensors or Variables to be differentiated, but "
                            "received None.")
        # A flat list/tuple of tensors (what training loops pass) needs no nest walk.
        flat_list = type(sources) in (list, tuple)
        if flat_list:
            for s in sources:   # (a loop: cheaper than all() over a generator)
                if not isinstance(s, _TensorLike):
                    flat_list = False
                    break
        flat_sources = list(sources) if flat_list else nest.flatten(sources)
        flat_targets = [target] if isinstance(target, _TensorLike) else nest.flatten(target)
        flat_og = [None] * len(flat_targets) if output_gradients is None else \
            nest.flatten(output_gradients)
        if len(flat_og) != len(flat_targets):
            raise ValueError(f"GradientTape.gradient: got {len(flat_og)} output_gradients for "
                             f"{len(flat_targets)} targets.")
        if not flat_list:   # (a flat list was checked above)
            for s in flat_sources:
                if not isinstance(s, _TensorLike):
                    raise ValueError(f"GradientTape.gradient: sources must be Tensors or "
                                     f"Variables, got {type(s).__name__}.")
        for t in _reg._TAPES:
            if t._recording and t is not self:
                grads = self._backward(flat_targets, flat_og)
                break
        else:
            # No tape records the backward pass: walk it on raw arrays and wrap only the
            # sources' gradients (issue 7: per-step overhead).
            grads = self._backward_raw(flat_targets, flat_og)
        self._finish()
        unconnected = unconnected_gradients if unconnected_gradients is \
            UnconnectedGradients.NONE else UnconnectedGradients(unconnected_gradients)
        out = []
        ops = _tensor._ops
        for s in flat_sources:
            g = grads.get(id(s))
            if g is not None:
                if s._value.dtype.kind not in "fc":   # only float sources get gradients
                    g = None
                elif type(g) is not Tensor:
                    t = Tensor.__new__(Tensor)
                    t._value = g   # (an ndarray: `_wrap` without its check)
                    g = t
            if g is None and unconnected is UnconnectedGradients.ZERO:
                g = ops.zeros_like(s)
            out.append(g)
        if flat_list:
            return out if type(sources) is list else tuple(out)
        return nest.pack_sequence_as(sources, out)

    def _backward(self, targets, output_grads):
        ops = _tensor._ops
        grads = {}
        for t, og in zip(targets, output_grads):
            if not isinstance(t, _TensorLike) or not _reg.watchable(t):
                continue
            if og is None:
                g = ops.ones_like(t)
            else:
                g = _tensor.convert_to_tensor(og, dtype=t.dtype)
                if g._value.shape != t._value.shape:
                    _check_output_gradient_shape(g, t)
            prev = grads.get(id(t))
            grads[id(t)] = g if prev is None else prev + g
        was_recording = self._recording
        self._recording = False
        # With no tape recording the backward pass, ops may use their raw-array gradients.
        raw = not any(t._recording for t in _reg._TAPES)
        wrap = _tensor._wrap
        try:
            for rec in reversed(self._records):
                outs = rec.outputs
                if len(outs) == 1:  # the common case, without building lists
                    d = grads.get(id(outs[0]))
                    if d is None:
                        continue
                    dys = (d,)
                else:
                    dys = [grads.get(id(o)) for o in outs]
                    if all(d is None for d in dys):
                        continue
                    dys = [ops.zeros_like(o) if d is None else d for o, d in zip(outs, dys)]
                raw_grad = rec.opdef.raw_grad if raw else None
                if raw_grad is not None:
                    in_grads = [None if g is None else wrap(g)
                                for g in raw_grad(rec, *[d._value for d in dys])]
                else:
                    in_grads = rec.opdef.grad(rec, *dys)
                if len(in_grads) != len(rec.inputs):
                    raise AssertionError(f"gradient of {rec.opdef.name} returned "
                                         f"{len(in_grads)} values for {len(rec.inputs)} inputs")
                for inp, g in zip(rec.inputs, in_grads):
                    if g is None:
                        continue
                    iv = inp._value
                    if iv.dtype.kind not in "fc":
                        continue
                    if type(g) is not Tensor:
                        g = _tensor.convert_to_tensor(g)
                    if g._value.shape != iv.shape:
                        g = unbroadcast(g, iv.shape)
                    if g._value.dtype != iv.dtype:
                        g = ops.cast(g, inp.dtype)
                    key = id(inp)
                    prev = grads.get(key)
                    grads[key] = g if prev is None else prev + g
        finally:
            self._recording = was_recording
        return grads

    def _backward_raw(self, targets, output_grads):
        """``_backward`` for when no tape records the backward pass, on raw arrays.

        Returns ``{id(tensor): ndarray}``. Every op with a ``raw_grad`` runs it on arrays; the
        others get their ``dys`` wrapped as Tensors. The numbers are ``_backward``'s: the same
        gradient functions, and the same forwards for the sums, casts and additions the tape
        does itself (``Sum``, ``Cast``, ``AddV2``), in the same order.
        """
        grads = {}
        for t, og in zip(targets, output_grads):
            if not isinstance(t, _TensorLike) or not _reg.watchable(t):
                continue
            tv = t._value
            if og is None:
                g = np.ones(tv.shape, dtype=tv.dtype)   # ``ones_like``'s array
            else:
                g = _tensor.convert_to_tensor(og, dtype=t.dtype)
                if g._value.shape != tv.shape:
                    _check_output_gradient_shape(g, t)
                g = g._value
            prev = grads.get(id(t))
            grads[id(t)] = g if prev is None else _add_arrays(prev, g)
        was_recording = self._recording
        self._recording = False
        wrap = _tensor._wrap
        ndarray = np.ndarray
        try:
            for rec in reversed(self._records):
                outs = rec.outputs
                if len(outs) == 1:  # the common case, without building lists
                    d = grads.get(id(outs[0]))
                    if d is None:
                        continue
                    dys = (d,)
                else:
                    dys = [grads.get(id(o)) for o in outs]
                    if all(d is None for d in dys):
                        continue
                    # ``zeros_like``'s array for the outputs nothing flowed into
                    dys = [np.zeros(o._value.shape, dtype=o._value.dtype) if d is None else d
                           for o, d in zip(outs, dys)]
                opdef = rec.opdef
                raw_grad = opdef.raw_grad
                if raw_grad is not None:
                    in_grads = raw_grad(rec, *dys)
                else:
                    in_grads = opdef.grad(rec, *[wrap(d) for d in dys])
                if len(in_grads) != len(rec.inputs):
                    raise AssertionError(f"gradient of {opdef.name} returned "
                                         f"{len(in_grads)} values for {len(rec.inputs)} inputs")
                for inp, g in zip(rec.inputs, in_grads):
                    if g is None:
                        continue
                    iv = inp._value
                    idt = iv.dtype
                    if idt.kind not in "fc":
                        continue
                    if type(g) is not ndarray:   # converted as ``_backward`` converts it
                        if raw_grad is not None:
                            g = np.asarray(g)     # ``_wrap``'s conversion
                        elif type(g) is Tensor:
                            g = g._value
                        else:                     # a Python value, a Variable: a Tensor first
                            g = _tensor.convert_to_tensor(g)._value
                    if g.shape != iv.shape:
                        g = _unbroadcast_raw(g, iv.shape)
                    gdt = g.dtype
                    if gdt is not idt and gdt != idt:   # (`is`: the usual case, cheaply)
                        g = _reg.REGISTRY["Cast"].forward(g, dtype=idt)
                    key = id(inp)
                    prev = grads.get(key)
                    grads[key] = g if prev is None else _add_arrays(prev, g)
        finally:
            self._recording = was_recording
        return grads

    def _check_usable(self):
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set "
                               "of gradients (or jacobians)")

    def _finish(self):
        if not self._persistent:
            self._used = True
            self._records = []

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """Returns d target[i...] / d source[j...] with shape target.shape + source.shape.

        A source that ``target`` does not depend on gives None (or zeros with
        ``unconnected_gradients=ZERO``).

        >>> import tapeflow as tf
        >>> x = tf.constant([1.0, 2.0])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        >>> tape.jacobian(y, x).numpy()
        array([[2., 0.],
               [0., 4.]], dtype=float32)
        """
        self._check_usable()
        ops = _tensor._ops
        flat_sources = nest.flatten(sources)
        target = _tensor.convert_to_tensor(target)
        tshape = tuple(target._value.shape)
        n = int(target._value.size)
        rows = [[] for _ in flat_sources]
        connected = [False] * len(flat_sources)
        for i in range(n):
            onehot = np.zeros(n, dtype=target._value.dtype)
            onehot[i] = 1
            grads = self._backward([target], [Tensor(onehot.reshape(tshape))])
            for k, s in enumerate(flat_sources):
                g = grads.get(id(s)) if _reg.watchable(s) else None
                connected[k] = connected[k] or g is not None
                rows[k].append(g)
        self._finish()
        zero = UnconnectedGradients(unconnected_gradients) is UnconnectedGradients.ZERO
        out = []
        for k, s in enumerate(flat_sources):
            shape = tshape + tuple(s._value.shape)
            if not connected[k] and not zero:
                out.append(None)
                continue
            if n == 0:
                out.append(ops.zeros(shape, dtype=s.dtype))
                continue
            filled = [ops.zeros_like(s) if g is None else g for g in rows[k]]
            out.append(ops.reshape(ops.stack(filled), shape))
        return nest.pack_sequence_as(sources, out)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example jacobian: result[b, i..., j...] = d target[b, i...] / d source[b, j...].

        Assumes, as TensorFlow does, that example b of ``target`` depends only on example b of
        ``source``, so one backward pass per non-batch target element suffices.

        >>> import tapeflow as tf
        >>> x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        >>> tape.batch_jacobian(y, x).shape
        TensorShape([2, 2, 2])
        """
        self._check_usable()
        ops = _tensor._ops
        target = _tensor.convert_to_tensor(target)
        tshape = tuple(target._value.shape)
        sshape = tuple(source._value.shape)
        if not tshape or not sshape or tshape[0] != sshape[0]:
            raise ValueError(f"batch_jacobian: target and source need the same first (batch) "
                             f"dimension, got shapes {tshape} and {sshape}.")
        b = tshape[0]
        m = int(_prod(tshape[1:]))
        rows = []
        connected = False
        for j in range(m):
            og = np.zeros((b, m), dtype=target._value.dtype)
            og[:, j] = 1
            grads = self._backward([target], [Tensor(og.reshape(tshape))])
            g = grads.get(id(source)) if _reg.watchable(source) else None
            connected = connected or g is not None
            rows.append(g)
        self._finish()
        UnconnectedGradients(unconnected_gradients)  # validates the argument
        # As TensorFlow: an unconnected source gives zeros here (not None), whatever
        # ``unconnected_gradients`` says (TF keeps this for backward compatibility).
        out_shape = (b,) + tshape[1:] + sshape[1:]
        if m == 0:
            return ops.zeros(out_shape, dtype=source.dtype)
        filled = [ops.zeros_like(source) if g is None else g for g in rows]
        per = ops.stack(filled, axis=1)  # (b, m, *source_dims)
        return ops.reshape(per, out_shape)


def _check_output_gradient_shape(g, t):
    from tapeflow._backend import np
    from tapeflow.framework.errors import InvalidArgumentError

    try:
        np.broadcast_shapes(g._value.shape, t._value.shape)
    except ValueError:
        raise InvalidArgumentError(
            f"GradientTape.gradient: output_gradients entry has shape {tuple(g._value.shape)} but "
            f"its target has shape {tuple(t._value.shape)}; Incompatible shapes: they must be "
            f"equal or broadcastable.") from None


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


class _Paused:
    def __init__(self, tape):
        self._tape = tape

    def __enter__(self):
        if not any(t is self._tape for t in _reg._TAPES):
            raise RuntimeError("Trying to stop recording a tape which is not recording (use "
                               "stop_recording() inside the tape's `with` block).")
        self._was = self._tape._recording
        self._tape._recording = False

    def __exit__(self, *exc):
        self._tape._recording = self._was
        return False


class _CustomOpDef(_reg.OpDef):
    __slots__ = ("variables",)


def custom_gradient(f=None):
    """Decorates ``f(*x) -> (y, grad_fn)`` so that tapes use ``grad_fn`` as its gradient.

    ``grad_fn(*dy)`` returns one gradient per input; if it takes a ``variables`` keyword it is
    called with the trainable variables ``f`` read and returns ``(input_grads, variable_grads)``.

    >>> import tapeflow as tf
    >>> @tf.custom_gradient
    ... def clip_grad_identity(x):
    ...     def grad(dy):
    ...         return tf.clip_by_value(dy, -1.0, 1.0)
    ...     return tf.identity(x), grad
    >>> x = tf.constant(2.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = clip_grad_identity(x) * 10.0
    >>> float(tape.gradient(y, x))
    1.0
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        inputs = [a if isinstance(a, _TensorLike) else _tensor.convert_to_tensor(a)
                  if _is_tensorish(a) else a for a in args]
        tensor_inputs = [a for a in inputs if isinstance(a, _TensorLike)]
        paused = [t for t in _reg._TAPES if t._recording]
        accessed = []
        _var._ACCESS_WATCHERS.append(accessed)
        for t in paused:
            t._recording = False
        try:
            y, grad_fn = f(*inputs, **kwargs)
        finally:
            for t in paused:
                t._recording = True
            _var._ACCESS_WATCHERS.remove(accessed)
        flat_y = nest.flatten(y)
        outs = tuple(Tensor(_tensor.convert_to_tensor(o)._value) for o in flat_y)
        params = inspect.signature(grad_fn).parameters
        wants_vars = "variables" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        variables = []
        seen = set()
        for v in accessed:
            if v._trainable and id(v) not in seen:
                seen.add(id(v))
                variables.append(v)
        if variables and not wants_vars:
            raise TypeError(
                f"@tf.custom_gradient grad_fn must accept keyword argument 'variables', since "
                f"function {getattr(f, '__name__', 'f')!r} uses variables: "
                f"{[v.name for v in variables]}; define grad_fn(*dys, variables=None) returning "
                f"(input_grads, variable_grads).")
        rec_inputs = tuple(tensor_inputs) + tuple(variables)
        n_in = len(tensor_inputs)

        def grad(op, *dys):
            dy_arg = dys if len(dys) > 1 else dys[0]
            if variables:  # as TensorFlow: grad_fn gets ``variables`` only when f used some
                in_grads, var_grads = grad_fn(*nest.flatten(dy_arg), variables=variables)
                in_grads = list(nest.flatten(in_grads) if isinstance(in_grads, (list, tuple))
                                else [in_grads])
                return tuple(in_grads[:n_in]) + tuple(var_grads)
            res = grad_fn(*dys)
            res = list(res) if isinstance(res, (list, tuple)) else [res]
            return tuple(res[:n_in])

        opdef = _CustomOpDef(f"CustomGradient[{getattr(f, '__name__', 'f')}]", None,
                             len(outs))
        opdef.grad = grad
        if _reg._TAPES:
            for v in variables:
                for t in _reg._TAPES:
                    if t._recording:
                        t._variable_accessed(v)
            _reg.record(opdef, rec_inputs, outs, {})
        return nest.pack_sequence_as(y, list(outs))

    return wrapped


def _is_tensorish(a):
    from tapeflow._backend import np

    return isinstance(a, (float, int, list, np.ndarray, np.generic)) and not isinstance(a, bool)
