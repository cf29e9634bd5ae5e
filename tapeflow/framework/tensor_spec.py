"""``tf.TensorSpec``: the shape and dtype a tensor is expected to have (``Dataset.element_spec``,
``from_generator``'s ``output_signature``)."""

from tapeflow.framework import dtypes as _dt
from tapeflow.framework.tensor import TensorShape, _TensorLike

__all__ = ["TensorSpec"]


class TensorSpec:
    """Describes a tensor by its shape (dimensions may be ``None``), dtype and optional name.

    >>> import tapeflow as tf
    >>> spec = tf.TensorSpec(shape=(None, 2), dtype=tf.float32)
    >>> spec
    TensorSpec(shape=(None, 2), dtype=tf.float32, name=None)
    >>> spec.is_compatible_with(tf.constant([[1.0, 2.0]]))
    True
    >>> spec.is_compatible_with(tf.constant([1]))
    False
    """

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype=_dt.float32, name=None):
        try:
            self._shape = TensorShape(shape)
        except (TypeError, ValueError):
            raise TypeError(f"Failed to convert '{shape!r}' to a shape: a shape should either be "
                            f"a single dimension (e.g. 10), or an iterable of dimensions (e.g. "
                            f"[1, 10, None]).") from None
        self._dtype = _dt.as_dtype(dtype)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"TensorSpec: `name` must be a string or None, received: {name!r}")
        self._name = name

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def name(self):
        return self._name

    @property
    def value_type(self):
        """The Python type of the values this spec describes (``tf.Tensor``)."""
        from tapeflow.framework.tensor import Tensor  # noqa: PLC0415

        return Tensor

    @classmethod
    def from_tensor(cls, tensor, name=None):
        """The spec of ``tensor`` (its exact shape and dtype).

        >>> import tapeflow as tf
        >>> tf.TensorSpec.from_tensor(tf.constant([1, 2]))
        TensorSpec(shape=(2,), dtype=tf.int32, name=None)
        """
        if isinstance(tensor, TensorSpec):
            return cls(tensor.shape, tensor.dtype, name if name is not None else tensor.name)
        if not isinstance(tensor, _TensorLike):
            from tapeflow.framework.tensor import convert_to_tensor  # noqa: PLC0415

            tensor = convert_to_tensor(tensor)
        return cls(tensor.shape, tensor.dtype, name)

    @classmethod
    def from_spec(cls, spec, name=None):
        return cls(spec.shape, spec.dtype, name if name is not None else spec.name)

    def is_compatible_with(self, spec_or_tensor):
        """True when ``spec_or_tensor`` has this dtype and a compatible shape."""
        other = spec_or_tensor
        if not isinstance(other, (TensorSpec, _TensorLike)):
            try:
                other = TensorSpec.from_tensor(other)
            except (TypeError, ValueError):
                return False
        return other.dtype == self._dtype and self._shape.is_compatible_with(other.shape)

    def is_subtype_of(self, other):
        """True when every tensor of this spec also satisfies ``other`` (same dtype; each of
        ``other``'s dimensions is None or equal).

        >>> import tapeflow as tf
        >>> tf.TensorSpec([2]).is_subtype_of(tf.TensorSpec([None]))
        True
        """
        if not isinstance(other, TensorSpec) or other.dtype != self._dtype:
            return False
        a, b = self._shape, other.shape
        if b.rank is None:
            return True
        if a.rank != b.rank:
            return False
        return all(y is None or x == y for x, y in zip(a.dims, b.dims, strict=True))

    def most_specific_compatible_type(self, other):
        """The spec both ``self`` and ``other`` satisfy (differing dimensions become ``None``)."""
        if other.dtype != self._dtype:
            raise ValueError(f"No TypeSpec is compatible with both {self} and {other}")
        a, b = self._shape, other.shape
        if a.rank is None or b.rank is None or a.rank != b.rank:
            return TensorSpec(None, self._dtype)
        dims = [x if x == y else None for x, y in zip(a.dims, b.dims, strict=True)]
        return TensorSpec(dims, self._dtype)

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self._shape == other._shape
                and self._dtype == other._dtype and self._name == other._name)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self._shape, self._dtype.name, self._name))

    def __repr__(self):
        name = None if self._name is None else repr(self._name)
        return f"TensorSpec(shape={self._shape}, dtype=tf.{self._dtype.name}, name={name})"
