"""Merge layers: they take a list of tensors (Concatenate, Add, Subtract, Multiply, Average,
Maximum, Minimum, Dot)."""

import tapeflow as tf
from tapeflow.keras.layers.layer import Layer

__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot",
           "concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum", "dot"]


class _Merge(Layer):
    """Base of the element-wise merges: checks the list and broadcasts compatible shapes."""

    _min_inputs = 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or (
                inputs and all(d is None or isinstance(d, int) for d in inputs)):
            raise ValueError(f"A merge layer ({type(self).__name__}) should be called on a list "
                             f"of inputs. Received: inputs={inputs} (not a list of tensors)")
        if len(inputs) < self._min_inputs:
            raise ValueError(f"A merge layer ({type(self).__name__}) should be called on a list "
                             f"of at least {self._min_inputs} inputs. Got {len(inputs)} inputs.")

    def build(self, input_shape):
        self._check_inputs(input_shape)
        shapes = [tuple(s) for s in input_shape]
        out = list(shapes[0][1:])
        for s in shapes[1:]:
            out = _broadcast_merge(out, list(s[1:]), type(self).__name__, shapes)
        self.built = True

    def call(self, inputs):
        self._check_inputs(inputs)
        return self._merge(list(inputs))

    def compute_output_shape(self, input_shape):
        out = list(input_shape[0][1:])
        for s in input_shape[1:]:
            out = _broadcast_merge(out, list(s[1:]), type(self).__name__, input_shape)
        batch = [s[0] for s in input_shape if s[0] is not None]
        return (batch[0] if batch else None,) + tuple(out)

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        masks = [m for m in mask if m is not None]
        out = masks[0]
        for m in masks[1:]:
            out = tf.logical_and(out, m)
        return out


def _broadcast_merge(a, b, name, shapes):
    if len(a) < len(b):
        a, b = b, a
    b = [1] * (len(a) - len(b)) + b
    out = []
    for da, db in zip(a, b):
        if da is None or db is None:
            out.append(None)
        elif da == 1 or db == 1 or da == db:
            out.append(max(da, db))
        else:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {shapes} "
                             f"({name} needs inputs of the same or broadcastable shapes).")
    return out


class Add(_Merge):
    """Element-wise sum of a list of tensors.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Add()([tf.ones((1, 2)), tf.ones((1, 2))]).numpy()
    array([[2., 2.]], dtype=float32)
    """

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """Difference of exactly two tensors, ``inputs[0] - inputs[1]``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Subtract()([tf.ones((1, 2)), tf.ones((1, 2))]).numpy()
    array([[0., 0.]], dtype=float32)
    """

    def _check_inputs(self, inputs):
        super()._check_inputs(inputs)
        if len(inputs) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: inputs={inputs}")

    def _merge(self, xs):
        return xs[0] - xs[1]


class Multiply(_Merge):
    """Element-wise product of a list of tensors.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Multiply()([tf.fill((1, 2), 2.0), tf.fill((1, 2), 3.0)]).numpy()
    array([[6., 6.]], dtype=float32)
    """

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(_Merge):
    """Element-wise mean of a list of tensors.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Average()([tf.fill((1, 2), 2.0), tf.fill((1, 2), 4.0)]).numpy()
    array([[3., 3.]], dtype=float32)
    """

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / float(len(xs))


class Maximum(_Merge):
    """Element-wise maximum of a list of tensors.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Maximum()([tf.constant([[1.0, 5.0]]), tf.constant([[3.0, 2.0]])]).numpy()
    array([[3., 5.]], dtype=float32)
    """

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = tf.maximum(out, x)
        return out


class Minimum(_Merge):
    """Element-wise minimum of a list of tensors.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Minimum()([tf.constant([[1.0, 5.0]]), tf.constant([[3.0, 2.0]])]).numpy()
    array([[1., 2.]], dtype=float32)
    """

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = tf.minimum(out, x)
        return out


class Concatenate(_Merge):
    """Concatenates a list of tensors along ``axis`` (default -1).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Concatenate()([tf.ones((2, 3)), tf.ones((2, 1))]).shape
    TensorShape([2, 4])
    """

    _min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.compute_output_shape(input_shape)
        self.built = True

    def _merge(self, xs):
        return tf.concat(xs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = [list(s) for s in input_shape]
        rank = len(shapes[0])
        axis = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            if len(s) != rank or any(a is not None and b is not None and a != b
                                     for i, (a, b) in enumerate(zip(out, s)) if i != axis):
                raise ValueError(f"A `Concatenate` layer requires inputs with matching shapes "
                                 f"except for the concatenation axis. Received: input_shape="
                                 f"{[tuple(x) for x in input_shape]}")
            out[axis] = None if out[axis] is None or s[axis] is None else out[axis] + s[axis]
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        full = [tf.ones(x.shape.as_list()[:-1], dtype="bool") if m is None else m
                for x, m in zip(inputs, mask)]
        if self.axis in (-1, len(inputs[0].shape) - 1):
            return full[0] if len(full) == 1 else tf.reduce_all(tf.stack(full, 0), axis=0)
        return tf.concat(full, axis=self.axis)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class Dot(_Merge):
    """Dot product of two tensors along ``axes`` (per sample), optionally L2-normalized
    (cosine similarity).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> keras.layers.Dot(axes=1)([tf.ones((2, 3)), tf.ones((2, 3))]).numpy()
    array([[3.],
           [3.]], dtype=float32)
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)) or len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: list/tuple should be of "
                                 f"length 2, received: axes={axes}")
            axes = [int(a) for a in axes]
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = False

    def _check_inputs(self, inputs):
        super()._check_inputs(inputs)
        if len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"inputs={inputs}")

    def _axes(self, ra, rb):
        axes = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        return [axes[0] % ra, axes[1] % rb]

    def build(self, input_shape):
        self._check_inputs(input_shape)
        a, b = input_shape
        ax = self._axes(len(a), len(b))
        if a[ax[0]] is not None and b[ax[1]] is not None and a[ax[0]] != b[ax[1]]:
            raise ValueError(f"Incompatible input shapes: axis values {a[ax[0]]} (at axis "
                             f"{ax[0]}) != {b[ax[1]]} (at axis {ax[1]}). Full input shapes: "
                             f"{tuple(a)}, {tuple(b)}")
        self.built = True

    def _merge(self, xs):
        a, b = xs
        ax = self._axes(a.ndim, b.ndim)
        if self.normalize:
            a = tf.nn.l2_normalize(a, axis=ax[0])
            b = tf.nn.l2_normalize(b, axis=ax[1])
        # Move the contracted axis last in a and second-to-last in b, then batch-matmul.
        pa = [0] + [d for d in range(1, a.ndim) if d != ax[0]] + [ax[0]]
        pb = [0, ax[1]] + [d for d in range(1, b.ndim) if d != ax[1]]
        at = tf.transpose(a, pa)
        bt = tf.transpose(b, pb)
        a_rest, b_rest = at.shape.as_list()[1:-1], bt.shape.as_list()[2:]
        a2 = tf.reshape(at, (at.shape[0], -1, at.shape[-1]))
        b2 = tf.reshape(bt, (bt.shape[0], bt.shape[1], -1))
        out = tf.matmul(a2, b2)
        shape = [out.shape[0]] + a_rest + b_rest
        if len(shape) == 1:
            shape.append(1)
        return tf.reshape(out, shape)

    def compute_output_shape(self, input_shape):
        a, b = [list(s) for s in input_shape]
        ax = self._axes(len(a), len(b))
        out = a[:ax[0]] + a[ax[0] + 1:] + b[1:ax[1]] + b[ax[1] + 1:]
        return tuple(out) if len(out) > 1 else (out[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


def _functional(cls, inputs, **kwargs):
    return cls(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of ``Concatenate``."""
    return _functional(Concatenate, inputs, axis=axis, **kwargs)


def add(inputs, **kwargs):
    """Functional form of ``Add``."""
    return _functional(Add, inputs, **kwargs)


def subtract(inputs, **kwargs):
    """Functional form of ``Subtract``."""
    return _functional(Subtract, inputs, **kwargs)


def multiply(inputs, **kwargs):
    """Functional form of ``Multiply``."""
    return _functional(Multiply, inputs, **kwargs)


def average(inputs, **kwargs):
    """Functional form of ``Average``."""
    return _functional(Average, inputs, **kwargs)


def maximum(inputs, **kwargs):
    """Functional form of ``Maximum``."""
    return _functional(Maximum, inputs, **kwargs)


def minimum(inputs, **kwargs):
    """Functional form of ``Minimum``."""
    return _functional(Minimum, inputs, **kwargs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """Functional form of ``Dot``."""
    return _functional(Dot, inputs, axes=axes, normalize=normalize, **kwargs)
