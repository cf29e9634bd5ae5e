"""TensorFlow's error types (``tf.errors``).

``InvalidArgumentError`` also derives from ``ValueError`` so that code written against plain Python
exceptions still catches it; TensorFlow's own class derives from ``OpError`` only.
"""

__all__ = [
    "OpError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "OutOfRangeError",
    "UnimplementedError",
    "FailedPreconditionError",
    "ResourceExhaustedError",
    "InternalError",
    "UnknownError",
    "DataLossError",
]


class OpError(Exception):
    """Base class of the errors an op raises (``tf.errors.OpError``).

    >>> import tapeflow as tf
    >>> issubclass(tf.errors.InvalidArgumentError, tf.errors.OpError)
    True
    """

    def __init__(self, message="", node_def=None, op=None, error_code=None):
        super().__init__(message)
        self.message = message
        self.node_def = node_def
        self.op = op
        self.error_code = error_code


class InvalidArgumentError(OpError, ValueError):
    """An op received an argument with an invalid value, shape or dtype."""


class NotFoundError(OpError):
    """A requested entity (file, name) was not found."""


class AlreadyExistsError(OpError):
    """An entity that was to be created already exists."""


class OutOfRangeError(OpError):
    """An iterator or index ran past its valid range."""


class UnimplementedError(OpError):
    """The operation is not supported."""


class FailedPreconditionError(OpError):
    """The system is not in a state that allows the operation (e.g. an uninitialized variable)."""


class ResourceExhaustedError(OpError):
    """A resource (memory, quota) ran out."""


class InternalError(OpError):
    """An internal invariant was broken."""


class UnknownError(OpError):
    """An unknown error."""


class DataLossError(OpError):
    """Unrecoverable data loss or corruption (e.g. ``padded_batch`` asked to pad an element to a
    smaller size)."""
