"""``Model.summary()``: Keras 3's table of layers, output shapes and parameter counts."""

from tapeflow._backend import np

__all__ = ["print_summary", "readable_memory_size"]


def readable_memory_size(size):
    """``1536`` -> ``"1.50 KB"`` (Keras's units, powers of 1024).

    >>> readable_memory_size(156)
    '156.00 B'
    """
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _count(weights):
    n = sum(int(np.prod(w._value.shape)) for w in weights)
    mem = sum(int(np.prod(w._value.shape)) * w._value.dtype.itemsize for w in weights)
    return n, mem


def _shape_str(layer):
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return "?"
    outs = nodes[-1].output_structure
    if hasattr(outs, "shape"):
        return str(tuple(outs.shape))
    flat = nodes[-1].outputs
    return str([tuple(t.shape) for t in flat]) if flat else "?"


def _connected(layer, model_layers):
    out = []
    for node in getattr(layer, "_inbound_nodes", []):
        for t in node.input_tensors:
            h = t._keras_history
            if h is not None and any(h.operation is m for m in model_layers):
                out.append(f"{h.operation.name}[{h.node_index}][{h.tensor_index}]")
    return out


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False):
    """Prints (or passes to ``print_fn``) the summary table of ``model``.

    >>> from tapeflow import keras
    >>> m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4)], name="s")
    >>> m.summary()  # doctest: +ELLIPSIS
    Model: "s"
    ...
     Total params: 24 (96.00 B)
    ...
    """
    from tapeflow.keras.models.sequential import Sequential  # noqa: PLC0415

    functional = getattr(model, "_functional", None) is not None and not isinstance(
        model, Sequential)
    if not model.built:
        raise ValueError(f"Model {model.name} has not yet been built. Build the model first by "
                         f"calling `build()` or by calling the model on a batch of data.")
    layers = model.layers
    if functional:
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        widths = [30, 25, 11, 26]
    else:
        headers = ["Layer (type)", "Output Shape", "Param #"]
        widths = [33, 24, 15]
    if line_length:
        scale = (line_length - len(widths) - 1) / sum(widths)
        widths = [max(8, int(w * scale)) for w in widths]
    rows = []
    for layer in layers:
        n = layer.count_params() if layer.built else 0
        row = [f"{layer.name} ({type(layer).__name__})", _shape_str(layer), f"{n:,}"]
        if functional:
            conn = _connected(layer, layers)
            row.append(conn[0] if conn else "-")
            rows.append((row, conn[1:]))
        else:
            rows.append((row, []))
    emit = print_fn or print
    lines = [f'Model: "{model.name}"']

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, sep):
        parts = []
        for i, (v, w) in enumerate(zip(values, widths)):
            v = v if len(v) <= w else v[:w - 1] + "…"
            parts.append(" " + (v.rjust(w) if i == 2 else v.ljust(w)) + " ")
        return sep + sep.join(parts) + sep

    lines.append(rule("┏", "┳", "┓", "━"))
    lines.append(cells(headers, "┃"))
    lines.append(rule("┡", "╇", "┩", "━"))
    for i, (row, extra) in enumerate(rows):
        lines.append(cells(row, "│"))
        for e in extra:
            lines.append(cells(["", "", ""] + [e] if functional else ["", "", ""], "│"))
        if i < len(rows) - 1:
            lines.append(rule("├", "┼", "┤", "─"))
    lines.append(rule("└", "┴", "┘", "─"))
    total, total_mem = _count(model.weights)
    train, train_mem = _count(model.trainable_weights)
    non, non_mem = _count(model.non_trainable_weights)
    lines.append(f" Total params: {total:,} ({readable_memory_size(total_mem)})")
    lines.append(f" Trainable params: {train:,} ({readable_memory_size(train_mem)})")
    lines.append(f" Non-trainable params: {non:,} ({readable_memory_size(non_mem)})")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "variables", None):
        opt_vars = [v for v in optimizer.variables if hasattr(v, "_value")]
        if opt_vars:
            n, mem = _count(opt_vars)
            lines.append(f" Optimizer params: {n:,} ({readable_memory_size(mem)})")
    for line in lines:
        emit(line)
