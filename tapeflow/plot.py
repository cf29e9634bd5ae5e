"""Pictures for learning: activation functions, decision boundaries, training curves, networks.

Each function draws one figure, writes it to ``path`` as a PNG when ``path`` is given (exactly
``figsize * dpi`` pixels) and returns the matplotlib ``Figure`` (which a notebook displays).
matplotlib is an optional extra (``pip install 'tapeflow[plot]'``) imported only when a picture
is drawn; the figures are made without ``pyplot``, so no global plotting state changes.

- ``plot_activations``: step, sigmoid, tanh, ReLU (or any activations) beside their derivatives,
  the derivatives computed by ``GradientTape`` rather than written by hand.
- ``plot_decision_boundary``: the regions a classifier (a ``Perceptron``, a Keras model, a
  function) assigns to each class over 2-D data, with the data on top.
- ``plot_history``: loss and metric curves from ``model.fit``'s ``History``.
- ``plot_network``: the units and connections of an MLP (input, hidden and output layers).

>>> import os, tempfile
>>> from tapeflow import plot
>>> path = os.path.join(tempfile.mkdtemp(), "act.png")
>>> fig = plot.plot_activations(path=path, figsize=(6, 3), dpi=50)
>>> plot.png_size(path)
(300, 150)
"""

import os
import warnings

from tapeflow._backend import np

__all__ = ["plot_activations", "plot_decision_boundary", "plot_history", "plot_network",
           "activation_derivative", "png_size"]

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


def _figure(figsize, dpi):
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 - optional extra, loaded on use
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("tapeflow.plot needs matplotlib, an optional extra of tapeflow: install "
                          "it with  pip install 'tapeflow[plot]'  (or pip install matplotlib)."
                          ) from e
    _check_size(figsize, dpi)
    return Figure(figsize=figsize, dpi=dpi)


def _check_size(figsize, dpi):
    ok = isinstance(figsize, (tuple, list)) and len(figsize) == 2 and \
        all(isinstance(v, (int, float)) and v > 0 for v in figsize)
    if not ok:
        raise ValueError(f"figsize must be (width, height) in inches, both > 0, got {figsize!r}.")
    if not isinstance(dpi, (int, float)) or dpi <= 0:
        raise ValueError(f"dpi must be a positive number, got {dpi!r}.")


def _save(fig, path):
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, format="png", dpi=fig.dpi)
    return fig


def png_size(path):
    """Returns ``(width, height)`` in pixels of the PNG file ``path``, read from its header.

    Raises ``ValueError`` if the file is not a PNG.

    >>> import os, tempfile
    >>> from tapeflow import plot
    >>> p = os.path.join(tempfile.mkdtemp(), "net.png")
    >>> _ = plot.plot_network([2, 3, 1], path=p, figsize=(4, 3), dpi=25)
    >>> plot.png_size(p)
    (100, 75)
    """
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"png_size: {path!r} is not a PNG file (bad signature or header).")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


# -- activation functions -----------------------------------------------------------------------

def _resolve_activation(a):
    if callable(a):
        return getattr(a, "__name__", type(a).__name__), a
    if not isinstance(a, str):
        raise ValueError(f"plot_activations: each activation must be a name or a callable, got "
                         f"{a!r}.")
    from tapeflow.keras import activations  # noqa: PLC0415 - keras loads on first use

    return a, activations.get(a)


def activation_derivative(activation, x):
    """Returns ``(f(x), f'(x))`` as NumPy arrays, the derivative computed by ``GradientTape``.

    ``activation`` is a name known to ``keras.activations.get`` ("sigmoid", "tanh", "relu",
    "step", ...) or a function of a Tensor. It must act elementwise, so that the gradient of
    ``sum(f(x))`` is ``f'(x)``. Unconnected gradients (the step function) count as 0.

    >>> from tapeflow.plot import activation_derivative
    >>> y, dy = activation_derivative("sigmoid", [0.0])
    >>> float(y[0]), float(dy[0])
    (0.5, 0.25)
    """
    import tapeflow as tf  # noqa: PLC0415 - tapeflow imports this module lazily

    _, fn = _resolve_activation(activation)
    xt = tf.constant(np.asarray(x, dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # the step function warns that no gradient flows
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = fn(xt)
        dy = tape.gradient(y, xt, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return np.asarray(y), np.asarray(dy)


def plot_activations(activations=("step", "sigmoid", "tanh", "relu"), path=None,
                     x_range=(-5.0, 5.0), num=401, figsize=(11, 4), dpi=100):
    """Draws activation functions (left) beside their derivatives (right).

    The derivatives come from ``GradientTape`` (``activation_derivative``), so the picture shows
    what backpropagation actually uses: 0 everywhere for the step function (nothing to learn
    from), at most 0.25 for the sigmoid, at most 1 for tanh, 0 or 1 for ReLU.

    Args:
      activations: names (``keras.activations``) or functions of a Tensor.
      path: where to write the PNG (``None``: do not write).
      x_range: the interval of ``z`` to draw.
      num: the number of points.
      figsize: the size in inches; the PNG is ``figsize * dpi`` pixels.
      dpi: pixels per inch.
    Returns:
      The matplotlib ``Figure``.

    >>> from tapeflow.plot import plot_activations
    >>> fig = plot_activations(["sigmoid", "tanh"], figsize=(4, 2), dpi=20)
    >>> [ax.get_title() for ax in fig.axes]
    ['Activation functions', 'Derivatives (GradientTape)']
    """
    if isinstance(activations, str) or callable(activations):
        activations = [activations]
    if not activations:
        raise ValueError("plot_activations: activations must name at least one function.")
    lo, hi = x_range
    if not lo < hi:
        raise ValueError(f"plot_activations: x_range must be (low, high) with low < high, got "
                         f"{x_range!r}.")
    fig = _figure(figsize, dpi)
    ax_f, ax_d = fig.subplots(1, 2)
    z = np.linspace(lo, hi, int(num))
    for i, a in enumerate(activations):
        name, _ = _resolve_activation(a)
        y, dy = activation_derivative(a, z)
        c = _COLORS[i % len(_COLORS)]
        # the step function (and its derivative, 0 everywhere) lies on top of ReLU's flat part:
        # dash it and draw it above the others so both stay visible
        style = "--" if name == "step" or i >= len(_COLORS) else "-"
        order = 3 if name == "step" else 2
        ax_f.plot(*_break_jumps(z, y), style, color=c, label=name, linewidth=2, zorder=order)
        ax_d.plot(*_break_jumps(z, dy), style, color=c, label=f"{name}'", linewidth=2,
                  zorder=order)
    for ax, title, ylabel in ((ax_f, "Activation functions", "h = f(z)"),
                              (ax_d, "Derivatives (GradientTape)", "f'(z) = dh/dz")):
        ax.set_title(title)
        ax.axhline(0, color="gray", linewidth=0.6)
        ax.axvline(0, color="gray", linewidth=0.6)
        ax.set_xlabel("z (the unit's weighted sum)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
    ax_f.set_ylim(-1.25, 1.6)
    ax_d.set_ylim(-0.2, 1.3)
    fig.tight_layout()
    return _save(fig, path)


def _break_jumps(z, v):
    """Inserts a gap (NaN) where ``v`` jumps, so a step is drawn as a jump, not a steep line."""
    v = np.asarray(v, dtype=np.float64)
    d = np.abs(np.diff(v))
    if d.size < 3:
        return z, v
    # a jump: a difference between neighbours far larger than the differences on either side
    # (a steep but continuous curve such as exp has neighbouring differences of the same size)
    side = np.maximum(np.concatenate([[0.0], d[:-1]]), np.concatenate([d[1:], [0.0]]))
    jumps = np.flatnonzero((d > 0.1) & (d > 10.0 * side))
    if not jumps.size:
        return z, v
    mid = (z[jumps] + z[jumps + 1]) / 2
    return np.insert(z, jumps + 1, mid), np.insert(v, jumps + 1, np.nan)


# -- decision boundaries ------------------------------------------------------------------------

def _predict_labels(model, points):
    """Class index per point for a Perceptron, a Keras model or a plain function."""
    if hasattr(model, "predict"):
        try:
            out = model.predict(points, verbose=0)
        except TypeError:
            out = model.predict(points)
    elif callable(model):
        out = model(points)
    else:
        raise ValueError(f"plot_decision_boundary: model must have a predict method or be "
                         f"callable, got {type(model).__name__}.")
    out = np.asarray(out)
    if out.ndim == 2 and out.shape[1] > 1:
        return np.argmax(out, axis=1)          # one probability (or score) per class
    out = out.reshape(len(points))
    if out.dtype.kind == "f" and not np.all(out == np.round(out)):
        return (out >= 0.5).astype(int)        # one sigmoid probability per point
    return out


def plot_decision_boundary(model, x, y, path=None, resolution=200, margin=0.5, title=None,
                           feature_names=("x1", "x2"), class_names=None, figsize=(6, 5),
                           dpi=100):
    """Colours the plane by the class ``model`` predicts and draws the data ``x``, ``y`` on top.

    Args:
      model: a classifier: anything with ``predict`` (a ``Perceptron``, a Keras model whose output
        is one sigmoid probability or one score per class) or a function of a ``(n, 2)`` array.
        A model with ``classes_`` (a ``Perceptron``) predicts label values; otherwise integer
        predictions are class indices into the sorted labels of ``y``.
      x: the 2-D data, shape ``(n, 2)``.
      y: the labels, shape ``(n,)`` (class indices, or any labels for a ``Perceptron``).
      path: where to write the PNG (``None``: do not write).
      resolution: grid points per axis.
      margin: extra space around the data, in data units.
      title: the figure title (default: the model's class name).
      feature_names: the axis labels.
      class_names: names for the legend (default: "class <label>").
      figsize, dpi: the size in inches and pixels per inch.
    Returns:
      The matplotlib ``Figure``.

    >>> import numpy as np
    >>> from tapeflow.neurons import Perceptron
    >>> from tapeflow.plot import plot_decision_boundary
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> clf = Perceptron(random_state=0).fit(X, [0, 1, 1, 1])             # logical OR
    >>> fig = plot_decision_boundary(clf, X, [0, 1, 1, 1], resolution=20, figsize=(3, 3), dpi=20)
    >>> fig.axes[0].get_title()
    'Perceptron'
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: x must have shape (n_samples, 2), got "
                         f"{x.shape}.")
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"plot_decision_boundary: x has {x.shape[0]} samples but y has "
                         f"{y.shape[0]}.")
    labels, y_idx = np.unique(y, return_inverse=True)
    lo = x.min(axis=0) - margin
    hi = x.max(axis=0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(np.float32)
    pred = _predict_labels(model, grid)
    if pred.dtype.kind not in "iub" or hasattr(model, "classes_"):
        # the model predicts label values (a Perceptron: any labels, e.g. -1/1 or strings), not
        # class indices: colour each region as the data points of that label
        labels = np.union1d(labels, np.unique(pred))
        y_idx = np.searchsorted(labels, y)
        pred = np.searchsorted(labels, pred)
    pred = pred.astype(int).reshape(g0.shape)
    n = max(len(labels), int(pred.max()) + 1)
    fig = _figure(figsize, dpi)
    ax = fig.subplots()
    from matplotlib.colors import ListedColormap  # noqa: PLC0415 - optional extra

    cmap = ListedColormap([_COLORS[i % len(_COLORS)] for i in range(n)])
    ax.contourf(g0, g1, pred, levels=np.arange(n + 1) - 0.5, cmap=cmap, alpha=0.25)
    if n > 1:
        ax.contour(g0, g1, pred, levels=np.arange(1, n) - 0.5, colors="k", linewidths=1)
    names = class_names if class_names is not None else [f"class {v}" for v in labels]
    for i in range(len(labels)):
        sel = y_idx == i
        ax.scatter(x[sel, 0], x[sel, 1], s=25, color=_COLORS[i % len(_COLORS)],
                   edgecolors="k", linewidths=0.5, label=str(names[i]))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_title(title if title is not None else type(model).__name__)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


# -- training curves ------------------------------------------------------------------------------

def plot_history(history, path=None, metrics=None, title="Training curves", figsize=(10, 4),
                 dpi=100):
    """Draws the per-epoch curves of a ``History`` (what ``model.fit`` returns).

    Each metric gets one panel holding its training curve and, if recorded, its ``val_`` curve.

    Args:
      history: a ``keras.callbacks.History`` or its ``history`` dict (name -> list per epoch).
      path: where to write the PNG (``None``: do not write).
      metrics: the names to draw (default: the loss, then every other name without the
        ``val_`` prefix).
      title: the figure title.
      figsize, dpi: the size in inches and pixels per inch.
    Returns:
      The matplotlib ``Figure``.

    >>> from tapeflow.plot import plot_history
    >>> logs = {"accuracy": [0.5, 0.8, 0.9], "loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]}
    >>> fig = plot_history(logs, figsize=(4, 2), dpi=20)
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(f"plot_history: expected a History or a non-empty dict of per-epoch "
                         f"lists, got {type(history).__name__}.")
    if metrics is None:
        metrics = [k for k in logs if not k.startswith("val_")] or list(logs)
        metrics.sort(key=lambda k: k != "loss")    # the loss first, then the metrics in order
    elif isinstance(metrics, str):
        metrics = [metrics]
    missing = [m for m in metrics if m not in logs]
    if missing:
        raise ValueError(f"plot_history: no curve named {missing} in the history; it has "
                         f"{sorted(logs)}.")
    fig = _figure(figsize, dpi)
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, name in zip(axes, metrics):
        values = np.asarray(logs[name], dtype=np.float64)
        epochs = np.arange(1, len(values) + 1)
        marks = len(values) <= 30          # markers only while the epochs stay distinguishable
        ax.plot(epochs, values, "o-" if marks else "-", color=_COLORS[0],
                label=f"training {name}", markersize=3)
        if f"val_{name}" in logs:
            val = np.asarray(logs[f"val_{name}"], dtype=np.float64)
            ax.plot(np.arange(1, len(val) + 1), val, "s--" if marks else "--", color=_COLORS[1],
                    label=f"validation {name}", markersize=3)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


# -- network diagram ------------------------------------------------------------------------------

def _activation_name(layer):
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    name = getattr(act, "__name__", None) or type(act).__name__
    return None if name == "linear" else name


def _network_layers(model):
    """[(label, units, activation name)] for a list of sizes or a Keras model of Dense layers."""
    if isinstance(model, (list, tuple)):
        sizes = list(model)
        if len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(f"plot_network: a list of layer sizes needs at least 2 positive "
                             f"ints (input, ..., output), got {model!r}.")
        return [(None, s, None) for s in sizes]
    layers = [lyr for lyr in getattr(model, "layers", []) if hasattr(lyr, "units")]
    if not layers:
        raise ValueError(f"plot_network: expected a list of layer sizes or a model of Dense "
                         f"layers, got {type(model).__name__} with no layer that has units.")
    first = layers[0]
    kernel = getattr(first, "kernel", None)
    n_in = None
    if kernel is not None:
        n_in = int(kernel.shape[0])
    else:
        shape = getattr(model, "input_shape", None)
        if isinstance(shape, tuple) and shape and isinstance(shape[-1], int):
            n_in = shape[-1]
    if n_in is None:
        raise ValueError("plot_network: the model is not built, so its number of inputs is "
                         "unknown; build it (call it on data, or start it with keras.Input).")
    out = [(None, n_in, None)]
    for lyr in layers:
        out.append((getattr(lyr, "name", None), int(lyr.units), _activation_name(lyr)))
    return out


def plot_network(model, path=None, max_units=8, title=None, figsize=(8, 5), dpi=100,
                 activations=None):
    """Draws a multilayer perceptron: the input layer, the hidden layers and the output layer.

    Each unit is a circle and each weight a line between two units. Layers wider than
    ``max_units`` show their first and last units with a "⋮" between.

    Args:
      model: a Keras model made of Dense layers (built), or a list of layer sizes such as
        ``[2, 4, 1]`` (inputs, hidden units..., outputs).
      path: where to write the PNG (``None``: do not write).
      max_units: the most units drawn per layer.
      title: the figure title (default: the model's name and parameter count).
      figsize, dpi: the size in inches and pixels per inch.
      activations: for a list of sizes, the activation name of each layer after the input
        (``["relu", "softmax"]`` for ``[64, 128, 10]``), written under the layer; a model's
        layers name their own.
    Returns:
      The matplotlib ``Figure``.

    >>> from tapeflow.plot import plot_network
    >>> fig = plot_network([2, 4, 4, 1], figsize=(4, 3), dpi=20,
    ...                    activations=["relu", "relu", "sigmoid"])
    >>> fig.axes[0].get_title()
    'MLP 2-4-4-1: 37 parameters'
    """
    spec = _network_layers(model)
    if activations is not None:
        if not isinstance(model, (list, tuple)):
            raise ValueError("plot_network: activations= is for a list of layer sizes; a "
                             "model's layers name their own activations.")
        if isinstance(activations, str):
            activations = [activations]
        activations = list(activations)
        if len(activations) != len(spec) - 1:
            raise ValueError(f"plot_network: expected one activation per layer after the input "
                             f"({len(spec) - 1} for sizes {list(model)}), got {activations!r}.")
        spec = [spec[0]] + [(lbl, n, None if a in (None, "", "linear") else str(a))
                            for (lbl, n, _), a in zip(spec[1:], activations)]
    if not isinstance(max_units, int) or max_units < 2:
        raise ValueError(f"plot_network: max_units must be an int >= 2, got {max_units!r}.")
    sizes = [s for _, s, _ in spec]
    params = model.count_params() if hasattr(model, "count_params") else \
        sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    fig = _figure(figsize, dpi)
    ax = fig.subplots()
    ax.set_axis_off()
    n_layers = len(spec)
    tallest = min(max(sizes), max_units)
    positions = []
    for i, (_, n, _) in enumerate(spec):
        shown = list(range(n)) if n <= max_units else \
            list(range(max_units // 2)) + [None] + list(range(n - (max_units - 1) // 2, n))
        ys = np.linspace(0, 1, len(shown)) if len(shown) > 1 else np.array([0.5])
        scale = (len(shown) - 1) / max(tallest, 2)
        ys = 0.5 + (ys - 0.5) * min(1.0, scale * 1.1 + 0.1) if len(shown) > 1 else ys
        positions.append([(float(i), float(yv), u) for yv, u in zip(ys, shown)])
    for left, right in zip(positions[:-1], positions[1:]):
        for x0, y0, u0 in left:
            for x1, y1, u1 in right:
                if u0 is not None and u1 is not None:
                    ax.plot([x0, x1], [y0, y1], color="gray", linewidth=0.5, alpha=0.6,
                            zorder=1)
    # marker area in points^2: units shrink as layers get taller, and stay circles at any aspect
    area = (0.55 * figsize[1] * 72 / (tallest + 1)) ** 2
    for i, layer in enumerate(positions):
        color = _COLORS[2] if i == 0 else _COLORS[1] if i == n_layers - 1 else _COLORS[0]
        units = [(x0, y0) for x0, y0, u in layer if u is not None]
        ax.scatter([p[0] for p in units], [p[1] for p in units], s=area, color=color,
                   edgecolors="k", zorder=2)
        for x0, y0, u in layer:
            if u is None:
                ax.text(x0, y0, "\u22ee", ha="center", va="center", fontsize=14)
    for i, (_, n, act) in enumerate(spec):
        kind = "Input layer" if i == 0 else "Output layer" if i == n_layers - 1 else \
            f"Hidden layer {i}"
        lines = [kind, f"{n} unit{'s' if n != 1 else ''}" if i else f"{n} input"
                 f"{'s' if n != 1 else ''}"]
        if act:
            lines.append(act)
        ax.text(i, -0.12, "\n".join(lines), ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.5, n_layers - 0.5)
    ax.set_ylim(-0.45, 1.1)
    ax.set_aspect("auto")
    if title is None:
        label = getattr(model, "name", None) if not isinstance(model, (list, tuple)) else None
        title = f"{label or 'MLP ' + '-'.join(map(str, sizes))}: {params} parameters"
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
