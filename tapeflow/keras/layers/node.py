"""Symbolic tensors and call nodes of the functional API (``KerasTensor``, ``Node``).

Calling a layer on ``KerasTensor``s records a ``Node`` on the layer (``layer._inbound_nodes``):
the call's arguments (with their KerasTensors) and its output KerasTensors, each of which keeps
``_keras_history = (layer, node_index, tensor_index)``. ``Model(inputs, outputs)`` walks these
nodes back from its outputs; the saving code writes them as Keras's ``inbound_nodes``.
"""

import collections

from tapeflow.framework import nest

KerasHistory = collections.namedtuple("KerasHistory", ["operation", "node_index", "tensor_index"])


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown dims), a dtype and the call that made it.

    >>> from tapeflow import keras
    >>> x = keras.Input((3,))
    >>> x.shape, x.dtype
    ((None, 3), 'float32')
    """

    def __init__(self, shape, dtype="float32", sparse=False, name=None, record_history=True):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.sparse = bool(sparse)
        self.name = name
        self._keras_history = None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
                f"name={self.name}>")

    def __hash__(self):
        return id(self)

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a Python bool.")

    def _op(self, op, other=None, reverse=False):
        from tapeflow.keras.layers.tensor_ops import apply_operator

        return apply_operator(op, self, other, reverse)

    def __add__(self, other):
        return self._op("add", other)

    def __radd__(self, other):
        return self._op("add", other, reverse=True)

    def __sub__(self, other):
        return self._op("subtract", other)

    def __rsub__(self, other):
        return self._op("subtract", other, reverse=True)

    def __mul__(self, other):
        return self._op("multiply", other)

    def __rmul__(self, other):
        return self._op("multiply", other, reverse=True)

    def __truediv__(self, other):
        return self._op("divide", other)

    def __rtruediv__(self, other):
        return self._op("divide", other, reverse=True)

    def __floordiv__(self, other):
        return self._op("floor_divide", other)

    def __mod__(self, other):
        return self._op("mod", other)

    def __pow__(self, other):
        return self._op("power", other)

    def __rpow__(self, other):
        return self._op("power", other, reverse=True)

    def __matmul__(self, other):
        return self._op("matmul", other)

    def __rmatmul__(self, other):
        return self._op("matmul", other, reverse=True)

    def __neg__(self):
        return self._op("negative")

    def __abs__(self):
        return self._op("absolute")

    def __getitem__(self, key):
        return self._op("getitem", key)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"A symbolic KerasTensor {self!r} cannot be converted to a NumPy array: "
                        f"it has no value. Call the model on real data instead.")


def is_keras_tensor(x):
    """True for a symbolic ``KerasTensor``.

    >>> from tapeflow import keras
    >>> is_keras_tensor(keras.Input((2,))), is_keras_tensor(1.0)
    (True, False)
    """
    return isinstance(x, KerasTensor)


def any_symbolic(args, kwargs):
    """True if a KerasTensor appears anywhere in ``args`` / ``kwargs``."""
    for x in (*args, *kwargs.values()):
        if isinstance(x, KerasTensor):
            return True
        if isinstance(x, (list, tuple, dict)) and any(
                isinstance(v, KerasTensor) for v in nest.flatten(x)):
            return True
    return False


class SymbolicArguments:
    """The positional and keyword arguments of a symbolic call, and the KerasTensors among them."""

    def __init__(self, *args, **kwargs):
        self.args = tuple(args)
        self.kwargs = kwargs
        self.keras_tensors = [x for x in nest.flatten([list(self.args), dict(kwargs)])
                              if isinstance(x, KerasTensor)]

    def fill_in(self, values):
        """The arguments with each KerasTensor replaced by ``values[id(tensor)]``."""
        def sub(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x
        args = [nest.map_structure(sub, a) if nest.is_nested(a) else sub(a) for a in self.args]
        kwargs = {k: nest.map_structure(sub, v) if nest.is_nested(v) else sub(v)
                  for k, v in self.kwargs.items()}
        return args, kwargs


class Node:
    """One call of ``operation`` on symbolic inputs (Keras's ``Node``).

    Attributes:
      operation: the layer that was called.
      arguments: ``SymbolicArguments`` (``args``, ``kwargs``, ``keras_tensors``).
      outputs: the flat list of output KerasTensors.
      output_structure: the outputs as the layer returned them (a tensor, list or dict).

    >>> from tapeflow import keras
    >>> x = keras.Input((3,))
    >>> layer = keras.layers.Dense(2)
    >>> y = layer(x)
    >>> node = layer._inbound_nodes[0]
    >>> node.input_tensors[0] is x, node.outputs[0] is y
    (True, True)
    """

    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        self.operation = operation
        self.arguments = SymbolicArguments(*call_args, **(call_kwargs or {}))
        self.output_structure = outputs
        self.outputs = [] if outputs is None else nest.flatten(outputs)
        operation._inbound_nodes.append(self)
        node_index = len(operation._inbound_nodes) - 1
        for i, t in enumerate(self.outputs):
            t._keras_history = KerasHistory(operation, node_index, i)
        for t in self.arguments.keras_tensors:
            if t._keras_history is not None:
                t._keras_history.operation._outbound_nodes.append(self)

    @property
    def layer(self):
        return self.operation

    @property
    def call_args(self):
        return self.arguments.args

    @property
    def call_kwargs(self):
        return self.arguments.kwargs

    @property
    def input_tensors(self):
        return self.arguments.keras_tensors

    @property
    def output_tensors(self):
        return self.outputs

    @property
    def is_input(self):
        return not self.arguments.keras_tensors

    @property
    def parent_nodes(self):
        parents = []
        for t in self.arguments.keras_tensors:
            h = t._keras_history
            if h is not None:
                node = h.operation._inbound_nodes[h.node_index]
                if node not in parents:
                    parents.append(node)
        return parents

    def __repr__(self):
        return f"<Node operation={self.operation.name}, outputs={len(self.outputs)}>"
