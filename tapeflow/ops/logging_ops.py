"""``tf.print``: prints tensors with TensorFlow's summarised formatting."""

import sys

from tapeflow._backend import np
from tapeflow.framework.tensor import _TensorLike


def _fmt_scalar(v):
    if isinstance(v, (np.bool_, bool)):
        return "1" if v else "0"
    if isinstance(v, (np.floating, float)):
        return "%g" % v
    return str(v)


def _fmt_array(a, summarize, depth=0):
    if a.ndim == 0:
        return _fmt_scalar(a[()])
    n = a.shape[0]
    if 0 <= summarize and 2 * summarize < n:
        parts = [_fmt_array(a[i], summarize, depth + 1) for i in range(summarize)] + ["..."] + \
            [_fmt_array(a[i], summarize, depth + 1) for i in range(n - summarize, n)]
    else:
        parts = [_fmt_array(a[i], summarize, depth + 1) for i in range(n)]
    sep = " " if a.ndim == 1 else "\n" + " " * (depth + 1)
    return "[" + sep.join(parts) + "]"


def format_value(x, summarize=3):
    """The text ``tf.print`` shows for ``x`` (a tensor, structure of tensors or Python object)."""
    if isinstance(x, _TensorLike):
        return _fmt_array(np.asarray(x._value), summarize)
    if isinstance(x, np.ndarray):
        return _fmt_array(x, summarize)
    if isinstance(x, dict):
        return "{" + ", ".join(f"{_nested(k, summarize)}: {_nested(v, summarize)}"
                               for k, v in x.items()) + "}"
    if isinstance(x, list):
        return "[" + ", ".join(_nested(v, summarize) for v in x) + "]"
    if isinstance(x, tuple):
        inner = ", ".join(_nested(v, summarize) for v in x)
        return "(" + inner + ("," if len(x) == 1 else "") + ")"
    return str(x)


def _nested(x, summarize):
    if isinstance(x, str):
        return repr(x)
    return format_value(x, summarize)


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """Prints ``inputs`` (``tf.print``): tensors show the first and last ``summarize`` entries of
    each dimension (all of them when ``summarize=-1``).

    Args:
      *inputs: tensors, structures of tensors, or printable Python objects.
      output_stream: a file object, or one of "stdout", "stderr" and "log://..."; TensorFlow's
        default is ``sys.stderr``.
      summarize: entries shown at each end of every dimension (None means 3, -1 all).
      sep: text between inputs.
      end: text after the last input.

    >>> import sys
    >>> import tapeflow as tf
    >>> tf.print("tensors:", tf.range(10), {2: tf.range(3) * 2}, output_stream=sys.stdout)
    tensors: [0 1 2 ... 7 8 9] {2: [0 2 4]}
    >>> tf.print(tf.constant([[1.5, 2.0], [1 / 3, 1e6]]), output_stream=sys.stdout)
    [[1.5 2]
     [0.333333 1e+06]]
    """
    summarize = 3 if summarize is None else int(summarize)
    text = sep.join(format_value(x, summarize) for x in inputs) + end
    stream = output_stream
    if stream is None or stream == "stderr":
        stream = sys.stderr
    elif stream == "stdout":
        stream = sys.stdout
    elif isinstance(stream, str):
        if stream.startswith("file://"):
            with open(stream[len("file://"):], "a") as f:
                f.write(text)
            return None
        stream = sys.stderr  # logging levels ("log(info)", ...) go to stderr, as absl does
    elif isinstance(stream, int):  # a logging level such as logging.INFO
        stream = sys.stderr
    stream.write(text)
    return None
