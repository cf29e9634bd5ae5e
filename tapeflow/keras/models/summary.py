"""``Model.summary()``: Keras 3's table of layers, output shapes and parameter counts.

The table is laid out as Keras 3 lays it out with ``rich``: column widths from ``positions`` and
``line_length`` (88 columns, or 108 with a "Connected to" column, capped by the terminal width
minus 4), words wrapped inside a cell and a word too long for it cut with "…".
"""

import re
import shutil

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
    weights = [w for w in weights if hasattr(w, "_value")]
    n = sum(int(np.prod(w._value.shape)) for w in weights)
    mem = sum(int(np.prod(w._value.shape)) * w._value.dtype.itemsize for w in weights)
    return n, mem


def _fmt_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _fmt_struct(value):
    # Keras: each shape as "(None, 4)", a structure printed as its str() without quotes.
    if isinstance(value, (list, tuple)) and all(d is None or isinstance(d, int) for d in value):
        return _fmt_shape(value)
    if isinstance(value, dict):
        return {k: _fmt_struct(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_fmt_struct(v) for v in value]
    if hasattr(value, "shape"):
        return _fmt_shape(tuple(value.shape))
    return "?"


def _shape_str(layer):
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        out = _fmt_struct(nodes[-1].output_structure)
    else:
        shapes = getattr(layer, "_build_shapes", None)
        if not shapes:
            return "?"
        try:
            out = _fmt_struct(layer.compute_output_shape(**shapes))
        except Exception:  # noqa: BLE001 - a layer that cannot infer its shape shows "?"
            return "?"
    if isinstance(out, list) and len(out) == 1:
        return out[0]
    return out if isinstance(out, str) else str(out).replace("'", "")


def _sequential_like(model, functional):
    # Keras's rule: a graph is drawn without "Connected to" when every depth holds one node
    # with at most one input tensor and no layer is called twice.
    if not functional:
        return True, None
    nodes = []
    for depth_nodes in model._functional.nodes_by_depth.values():
        if len(depth_nodes) > 1 or (depth_nodes and len(depth_nodes[0].input_tensors) > 1):
            return False, [n for v in model._functional.nodes_by_depth.values() for n in v]
        nodes += depth_nodes
    for layer in model._functional.layers:
        if sum(any(n is m for m in nodes) for n in layer._inbound_nodes) > 1:
            return False, nodes
    return True, nodes


def _connections(layer, relevant):
    out = []
    for node in getattr(layer, "_inbound_nodes", []):
        if relevant and not any(node is n for n in relevant):
            continue
        for t in node.input_tensors:
            h = t._keras_history
            out.append(f"{h.operation.name}[{h.node_index}][{h.tensor_index}]")
    return ", ".join(out) or "-"


def _ratio_reduce(total, values):
    # rich's even reduction of column widths (rounding half to even, as rich does).
    result, remaining, ratio = [], total, len(values)
    for v in values:
        cut = min(v, round(remaining / ratio))
        result.append(v - cut)
        remaining -= cut
        ratio -= 1
    return result


def _column_widths(line_length, positions, ncols):
    widths, current = [], 0
    for pos in positions:
        w = int(pos * line_length) - current
        widths.append(w)
        current += w
    cells = [w + 2 for w in widths]                 # one space of padding on each side
    inner = line_length - (ncols + 1)              # minus the vertical borders
    if sum(cells) > inner:
        cells = _ratio_reduce(sum(cells) - inner, cells)
    return [max(c - 2, 1) for c in cells]


def _wrap(text, width):
    # Word wrap as rich does; a line still too long ends in "…".
    lines, line = [], ""
    for word in re.findall(r"\s*\S+\s*", text) or [""]:
        if line and len(line) + len(word.rstrip()) > width:
            lines.append(line)
            line = word
        else:
            line += word
    lines.append(line)
    out = []
    for ln in lines:
        ln = ln.rstrip()
        out.append(ln if len(ln) <= width else ln[:width - 1] + "…")
    return out


def _align(text, width, how):
    if how == "right":
        return text.rjust(width)
    if how == "center":
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)
    return text.ljust(width)


def _layer_range(layers, layer_range):
    # Keras: the span from the first layer matching layer_range[0] (a regex) to the last one
    # matching layer_range[1], both included.
    if layer_range is None:
        return 0, len(layers)
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range={layer_range}")
    if not all(isinstance(n, str) for n in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: "
                         f"{layer_range}")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(f"Passed layer_names do not match the layer names in the model. "
                         f"Received: {layer_range}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False,
                  layer_range=None, expand_nested=False):
    """Prints (or passes to ``print_fn``, in one call) the summary table of ``model``.

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
    layers = model._functional.layers if functional else model.layers
    sequential_like, relevant = _sequential_like(model, functional)
    if sequential_like:
        default_length = 88
        positions = list(positions or [0.45, 0.80, 1.0])
        headers = ["Layer (type)", "Output Shape", "Param #"]
        align = ["left", "left", "right"]
    else:
        default_length = 108
        positions = list(positions or [0.3, 0.56, 0.74, 1.0])
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        align = ["left", "left", "right", "left"]
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        headers.append("Trainable")
        align.append("center")
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    widths = _column_widths(line_length, positions, len(headers))

    start, stop = _layer_range(layers, layer_range)
    rows = []

    def add_rows(layer, level):
        prefix = "   " * level + "└ " if level else ""
        if not getattr(layer, "built", True):
            params = "0 (unbuilt)"
        else:
            params = f"{layer.count_params():,}"
        row = [f"{prefix}{layer.name} ({type(layer).__name__})", _shape_str(layer), params]
        if not sequential_like:
            row.append(_connections(layer, relevant))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows.append(row)
        if expand_nested and getattr(layer, "layers", None):   # a nested model's layers
            for sub in layer.layers:
                add_rows(sub, level + 1)

    for layer in layers[start:stop]:
        add_rows(layer, 0)

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, sep):
        wrapped = [_wrap(v, w) for v, w in zip(values, widths)]
        height = max(len(c) for c in wrapped)
        out = []
        for i in range(height):
            parts = [" " + _align(c[i] if i < len(c) else "", w, a) + " "
                     for c, w, a in zip(wrapped, widths, align)]
            out.append(sep + sep.join(parts) + sep)
        return out

    lines = [f'Model: "{model.name}"', rule("┏", "┳", "┓", "━")]
    lines += cells(headers, "┃")
    lines.append(rule("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        lines += cells(row, "│")
        if i < len(rows) - 1:
            lines.append(rule("├", "┼", "┤", "─"))
    lines.append(rule("└", "┴", "┘", "─"))
    train, train_mem = _count(model.trainable_weights)
    non, non_mem = _count(model.non_trainable_weights)
    opt_n = opt_mem = 0
    optimizer = getattr(model, "optimizer", None)
    opt_vars = getattr(optimizer, "variables", None) if optimizer is not None else None
    opt_built = bool(getattr(optimizer, "built", bool(opt_vars))) and opt_vars is not None
    if opt_built:
        opt_n, opt_mem = _count(opt_vars)
    total, total_mem = train + non + opt_n, train_mem + non_mem + opt_mem
    lines.append(f" Total params: {total:,} ({readable_memory_size(total_mem)})")
    lines.append(f" Trainable params: {train:,} ({readable_memory_size(train_mem)})")
    lines.append(f" Non-trainable params: {non:,} ({readable_memory_size(non_mem)})")
    if opt_built:
        lines.append(f" Optimizer params: {opt_n:,} ({readable_memory_size(opt_mem)})")
    text = "\n".join(lines) + "\n"
    if print_fn is None:
        from tapeflow.keras import config  # noqa: PLC0415

        config.print_msg(text, line_break=False)
        return
    try:
        print_fn(text, line_break=False)
    except TypeError:
        print_fn(text)
