"""The functional graph behind ``keras.Model(inputs, outputs)``, held by composition.

``FunctionalGraph`` walks the ``Node``s recorded on the layers from the outputs back to the
inputs, orders them as Keras does (by decreasing depth, then discovery order) and replays the
calls on real tensors.
"""

from tapeflow.framework import nest
from tapeflow.framework.tensor import Tensor
from tapeflow.keras.layers.node import KerasTensor

__all__ = ["FunctionalGraph"]


class FunctionalGraph:
    """The nodes, layers and inputs/outputs of a functional model.

    >>> from tapeflow import keras
    >>> x = keras.Input((3,), name="x")
    >>> y = keras.layers.Dense(2)(x)
    >>> g = FunctionalGraph(x, y)
    >>> [type(layer).__name__ for layer in g.layers]
    ['InputLayer', 'Dense']
    """

    def __init__(self, inputs, outputs):
        self.inputs_struct = _as_struct(inputs)
        self.outputs_struct = _as_struct(outputs)
        self.inputs = nest.flatten(self.inputs_struct)
        self.outputs = nest.flatten(self.outputs_struct)
        for kind, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            for t in tensors:
                if not isinstance(t, KerasTensor) or t._keras_history is None:
                    raise ValueError(f"All `{kind}` values must be KerasTensors returned by "
                                     f"`keras.Input` or by calling a layer on one. Received: "
                                     f"{kind}={t!r} (of type {type(t).__name__})")
        for t in self.inputs:
            if not t._keras_history.operation._inbound_nodes[0].is_input:
                raise ValueError(f"Model inputs must come from `keras.Input`. Received "
                                 f"{t!r}, produced by layer "
                                 f"'{t._keras_history.operation.name}'.")
        self.nodes_by_depth, self.layers = _map_graph(self.inputs, self.outputs)
        self._exec = [n for d in sorted(self.nodes_by_depth, reverse=True)
                      for n in self.nodes_by_depth[d] if not n.is_input]

    @property
    def input_layers(self):
        return [t._keras_history.operation for t in self.inputs]

    @property
    def output_layers(self):
        return [t._keras_history.operation for t in self.outputs]

    def run(self, inputs):
        """Replays the graph on real tensors ``inputs`` (same structure as the model inputs, a
        list in input order, or a dict keyed by input name)."""
        flat = self._flatten_inputs(inputs)
        values = {}
        for kt, x in zip(self.inputs, flat):
            values[id(kt)] = _conform(x, kt)
        for node in self._exec:
            args, kwargs = node.arguments.fill_in(values)
            out = node.operation(*args, **kwargs)
            outs = node.outputs
            if len(outs) == 1:
                values[id(outs[0])] = out if not isinstance(out, (list, tuple)) or \
                    not isinstance(node.output_structure, (list, tuple)) else out[0]
            else:
                for kt, o in zip(outs, nest.flatten(out)):
                    values[id(kt)] = o
        return nest.map_structure(lambda kt: values[id(kt)], self.outputs_struct)

    def _flatten_inputs(self, inputs):
        n = len(self.inputs)
        if isinstance(inputs, dict):
            if isinstance(self.inputs_struct, dict):
                missing = [k for k in self.inputs_struct if k not in inputs]
                if not missing:
                    return nest.flatten({k: inputs[k] for k in self.inputs_struct})
            names = [t.name for t in self.inputs]
            if all(name in inputs for name in names):
                return [inputs[name] for name in names]
            raise ValueError(f"The model expects inputs named {names}, but received a dict "
                             f"with keys {sorted(inputs)}.")
        flat = [inputs] if n == 1 and not isinstance(inputs, (list, tuple)) else \
            nest.flatten(inputs)
        if len(flat) != n:
            if n == 1 and isinstance(inputs, (list, tuple)):
                return [inputs]
            raise ValueError(f"The model expects {n} input(s), but it received {len(flat)} "
                             f"input tensors.")
        return flat


def _as_struct(x):
    if isinstance(x, tuple):
        return list(x)
    return x


def _conform(x, kt):
    # Keras adjusts inputs to the declared Input: dtype, and a trailing axis of size 1.
    if type(x) is not Tensor:
        return x
    want = kt.dtype
    if x.dtype.name != want and want is not None:
        from tapeflow.ops.math_ops import cast  # noqa: PLC0415

        x = cast(x, want)
    if x.ndim == len(kt.shape) - 1 and kt.shape[-1] == 1:
        from tapeflow.ops.array_ops import expand_dims  # noqa: PLC0415

        x = expand_dims(x, -1)
    elif x.ndim == len(kt.shape) + 1 and x.shape[-1] == 1:
        from tapeflow.ops.array_ops import squeeze  # noqa: PLC0415

        x = squeeze(x, -1)
    return x


def _map_graph(inputs, outputs):
    finished, in_progress = set(), set()
    ordered, op_index = [], {}

    def visit(tensor):
        op, node_index, _ = tensor._keras_history
        node = op._inbound_nodes[node_index]
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor} from operation '{op.name}' is part of a cycle.")
        op_index.setdefault(id(op), (len(op_index), op))
        in_progress.add(id(node))
        if not node.is_input and not any(t is tensor for t in inputs):
            for t in node.input_tensors:
                visit(t)
        in_progress.discard(id(node))
        finished.add(id(node))
        ordered.append(node)

    for t in outputs:
        visit(t)
    node_depth, op_depth = {}, {}
    for node in reversed(ordered):
        depth = max(node_depth.setdefault(id(node), 0), op_depth.get(id(node.operation), 0))
        op_depth[id(node.operation)] = depth
        node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:
        op = t._keras_history.operation
        if id(op) not in op_depth:
            op_depth[id(op)] = 0
            op_index[id(op)] = (-1, op)
            node = op._inbound_nodes[0]
            node_depth[id(node)] = 0
            ordered.append(node)
    nodes_by_depth = {}
    for node in ordered:
        nodes_by_depth.setdefault(node_depth[id(node)], []).append(node)
    _check_connected(nodes_by_depth, inputs)
    layers_by_depth = {}
    for op_id, depth in op_depth.items():
        layers_by_depth.setdefault(depth, []).append(op_index[op_id])
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers.extend(op for _, op in sorted(layers_by_depth[depth], key=lambda p: p[0]))
    return nodes_by_depth, layers


def _check_connected(nodes_by_depth, inputs):
    computable = {id(t) for t in inputs}
    done = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input:
                if not any(id(t) in computable for t in node.outputs):
                    t = node.outputs[0]
                    raise ValueError(
                        f"Graph disconnected: cannot find parent for tensor {t} at layer "
                        f"'{node.operation.name}'. The following previous layers were accessed "
                        f"without issue: {done}")
                continue
            for t in node.input_tensors:
                if id(t) not in computable:
                    raise ValueError(
                        f"Graph disconnected: cannot find parent for tensor {t} at layer "
                        f"'{node.operation.name}'. The following previous layers were accessed "
                        f"without issue: {done}")
            computable.update(id(t) for t in node.outputs)
            done.append(node.operation.name)
