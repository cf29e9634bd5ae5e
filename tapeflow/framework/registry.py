"""The op registry: one ``OpDef`` per TensorFlow op name holding forward and gradient.

``@op("Name")`` turns a forward function on raw arrays into a callable on Tensors that wraps the
result and records it on every active tape watching an input. The gradient is attached with
``@fn.defgrad`` right below the forward, and is written with tapeflow ops so that nested tapes can
differentiate it again.
"""

import functools

from tapeflow._backend import np
from tapeflow.framework import tensor as _tensor
from tapeflow.framework.tensor import Tensor, _TensorLike, _wrap

__all__ = ["OpDef", "op", "not_differentiable", "REGISTRY", "active_tapes", "OpRecord"]

REGISTRY = {}
# The tapes currently inside their ``with`` block, innermost last. Ops check this list first:
# when it is empty nothing is recorded and dispatch costs a type check and a wrap.
_TAPES = []
_NON_DIFFERENTIABLE = set()
_ndarray = np.ndarray


def active_tapes():
    return list(_TAPES)


class OpDef:
    """A registered op: its TensorFlow name, forward function and gradient function."""

    __slots__ = ("name", "forward", "grad", "raw_grad", "n_outputs", "__weakref__")

    def __init__(self, name, forward, n_outputs=1):
        self.name = name
        self.forward = forward
        self.grad = None
        # Optional fast form of ``grad`` on raw arrays: ``raw_grad(op, *dy_arrays)`` returns one
        # array (or None) per input, with the same numbers as ``grad``. The tape uses it only
        # when no tape records the backward pass (no higher-order gradient is being taken).
        self.raw_grad = None
        self.n_outputs = n_outputs

    @property
    def differentiable(self):
        return self.grad is not None

    def __repr__(self):
        return f"OpDef({self.name!r})"


class OpRecord:
    """One recorded op application: what a gradient function receives as ``op``."""

    __slots__ = ("opdef", "inputs", "outputs", "attrs")

    def __init__(self, opdef, inputs, outputs, attrs):
        self.opdef = opdef
        self.inputs = inputs
        self.outputs = outputs
        self.attrs = attrs

    @property
    def name(self):
        return self.opdef.name


def _to_tensor(x):
    if type(x) is Tensor:
        return x
    return _tensor.convert_to_tensor(x)


def execute(opdef, inputs, attrs):
    """Runs ``opdef`` on Tensors ``inputs`` and records it on the tapes that watch an input."""
    out = opdef.forward(*[t._value for t in inputs], **attrs)
    if opdef.n_outputs == 1:
        if type(out) is _ndarray:
            result = Tensor.__new__(Tensor)
            result._value = out
        else:
            result = _wrap(out)
        outs = (result,)
    else:
        outs = tuple(_wrap(o) for o in out)
        result = list(outs)
    if _TAPES and opdef.grad is not None:
        record(opdef, inputs, outs, attrs)
    return result


def record(opdef, inputs, outputs, attrs):
    rec = None
    for tape in _TAPES:
        if not tape._recording:
            continue
        watched = tape._watched
        for t in inputs:
            if id(t) in watched:
                break
        else:
            continue
        if rec is None:
            rec = OpRecord(opdef, tuple(inputs), outputs, attrs)
        tape._records.append(rec)
        for o in outputs:
            if o._value.dtype.kind in "fc":
                watched[id(o)] = o


def op(name, n_outputs=1):
    """Registers ``forward`` (a function of raw arrays) as the op ``name``.

    The returned function takes Tensors (anything convertible) positionally and the op's attributes
    as keywords; ``name=`` is accepted and ignored, as in eager TensorFlow. Attach the gradient
    with ``@fn.defgrad``: it receives the ``OpRecord`` and one upstream gradient per output, and
    returns one gradient (or ``None``) per input.

    >>> from tapeflow.framework.registry import op
    >>> @op("DocTimesTwo")
    ... def times_two(x):
    ...     return x * 2
    >>> @times_two.defgrad
    ... def _times_two_grad(op, dy):
    ...     return (dy * 2.0,)
    >>> times_two([1.0, 2.0]).numpy()
    array([2., 4.], dtype=float32)
    """
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is already registered")

    def decorator(forward):
        opdef = OpDef(name, forward, n_outputs)
        REGISTRY[name] = opdef

        @functools.wraps(forward)
        def call(*inputs, name=None, **attrs):
            return execute(opdef, [x if type(x) is Tensor else _to_tensor(x) for x in inputs],
                           attrs)

        def defgrad(grad_fn):
            opdef.grad = grad_fn
            return grad_fn

        def defrawgrad(grad_fn):
            opdef.raw_grad = grad_fn
            return grad_fn

        call.opdef = opdef
        call.defgrad = defgrad
        call.defrawgrad = defrawgrad
        return call

    return decorator


def not_differentiable(*names):
    """Declares ops that have no gradient (TensorFlow's ``ops.NotDifferentiable``)."""
    for n in names:
        _NON_DIFFERENTIABLE.add(n)


def is_non_differentiable(name):
    return name in _NON_DIFFERENTIABLE


def watchable(x):
    """True if gradients can flow into ``x`` (a float Tensor or Variable)."""
    return isinstance(x, _TensorLike) and x._value.dtype.kind in "fc"
