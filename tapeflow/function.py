"""``tf.function``: accepted for compatibility; the decorated function runs eagerly.

tapeflow has no graphs, so a ``tf.function`` gives exactly the values and gradients of the plain
Python function. What it keeps from TensorFlow is the interface: decorator with or without
arguments, ``input_signature`` checking, ``python_function``, ``get_concrete_function`` and a
tracing counter (one "trace" per new input signature, as TensorFlow would retrace).
"""

import functools

from tapeflow._backend import np
from tapeflow.framework import nest
from tapeflow.framework.tensor import _TensorLike, convert_to_tensor
from tapeflow.framework.tensor_spec import TensorSpec

__all__ = ["function", "Function", "ConcreteFunction"]


def _signature_key(args, kwargs):
    def key(x):
        if isinstance(x, _TensorLike):
            return ("T", tuple(x._value.shape), x._value.dtype.str)
        try:
            hash(x)
            return ("P", x)
        except TypeError:
            return ("O", id(x))

    return tuple(key(x) for x in nest.flatten((args, sorted(kwargs.items())))) if args or \
        kwargs else ()


class ConcreteFunction:
    """The function specialised to one input signature (``get_concrete_function``'s result)."""

    def __init__(self, fn, structured_input_signature):
        self._fn = fn
        self.structured_input_signature = structured_input_signature

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    @property
    def inputs(self):
        return list(nest.flatten(self.structured_input_signature))


class Function:
    """A callable made by ``tf.function`` (it runs ``python_function`` eagerly)."""

    def __init__(self, python_function, input_signature=None, autograph=True, jit_compile=None,
                 reduce_retracing=False, name=None):
        self._python_function = python_function
        self._input_signature = None if input_signature is None else \
            [s if isinstance(s, TensorSpec) or isinstance(s, (list, tuple, dict)) else
             _bad_spec(s) for s in input_signature]
        self._jit_compile = jit_compile
        self._autograph = autograph
        self._reduce_retracing = reduce_retracing
        self._name = name or getattr(python_function, "__name__", "function")
        self._traces = set()
        functools.update_wrapper(self, python_function)

    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    @property
    def function_spec(self):
        return self._input_signature

    def experimental_get_tracing_count(self):
        """How many distinct input signatures have been seen (TensorFlow's retrace count)."""
        return len(self._traces)

    def _check_signature(self, args, kwargs):
        if kwargs:
            raise TypeError(f"{self._name}: a tf.function with an input_signature takes "
                            f"positional arguments only, got keywords {sorted(kwargs)}.")
        if len(args) != len(self._input_signature):
            raise TypeError(f"{self._name}: expected {len(self._input_signature)} positional "
                            f"arguments for input_signature {self._input_signature}, got "
                            f"{len(args)}.")
        return tuple(self._bind(s, a) for s, a in zip(self._input_signature, args))

    def _bind(self, spec, arg):
        # Walks the signature's structure; each TensorSpec converts and checks its argument.
        if isinstance(spec, TensorSpec):
            t = arg if isinstance(arg, _TensorLike) else convert_to_tensor(arg,
                                                                             dtype_hint=spec.dtype)
            if t.dtype != spec.dtype:
                raise TypeError(f"{self._name}: Binding inputs to tf.function failed: Can not "
                                f"cast {t!r} to {spec}.")
            if not spec.shape.is_compatible_with(t.shape):
                # TensorFlow raises TypeError ("Binding inputs to tf.function failed")
                raise TypeError(f"{self._name}: Binding inputs to tf.function failed: Can not "
                                f"cast an input of shape {t.shape} to {spec} (input_signature "
                                f"shape is not compatible).")
            return t
        if isinstance(spec, dict) and isinstance(arg, dict) and set(spec) == set(arg):
            return {k: self._bind(spec[k], arg[k]) for k in spec}
        if isinstance(spec, (list, tuple)) and isinstance(arg, (list, tuple)) and \
                len(spec) == len(arg):
            return type(arg)(self._bind(s, a) for s, a in zip(spec, arg))
        raise ValueError(f"{self._name}: Python inputs incompatible with input_signature: "
                         f"{arg!r} does not match {spec}.")

    def __call__(self, *args, **kwargs):
        if self._input_signature is not None:
            args = self._check_signature(args, kwargs)
        self._traces.add(_signature_key(args, kwargs))
        return _outputs_as_tensors(self._python_function(*args, **kwargs))

    def __get__(self, instance, owner):
        # Decorating a method: bind the instance, keep one Function per instance.
        if instance is None:
            return self
        bound = functools.partial(self.__call__, instance)
        functools.update_wrapper(bound, self._python_function)
        return bound

    def get_concrete_function(self, *args, **kwargs):
        """A ``ConcreteFunction`` for these arguments (Tensors or TensorSpecs) or for the
        ``input_signature``."""
        sig = args if args or kwargs else tuple(self._input_signature or ())
        spec = nest.map_structure(
            lambda x: x if isinstance(x, TensorSpec) else TensorSpec.from_tensor(x)
            if isinstance(x, _TensorLike) else x, (tuple(sig), dict(kwargs)))
        self._traces.add(_signature_key(args, kwargs))
        return ConcreteFunction(self.__call__ if self._input_signature is not None else
                                self._python_function, spec)

    def __repr__(self):
        return f"<tapeflow.function.Function {self._name}>"


def _as_tensor(x):
    # A traced function returns Tensors: Python numbers and arrays it returns become constants.
    if x is None or isinstance(x, _TensorLike) or not isinstance(
            x, (bool, int, float, np.ndarray, np.generic)):
        return x
    return convert_to_tensor(x)


def _outputs_as_tensors(out):
    if out is None or isinstance(out, _TensorLike):
        return out
    return nest.map_structure(_as_tensor, out)


def _bad_spec(s):
    raise TypeError(f"input_signature must be a list of tf.TensorSpec, got {s!r}.")


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_implements=None,
             experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None,
             experimental_follow_type_hints=None, name=None):
    """Makes a ``Function`` of ``func`` (``tf.function``), as a decorator with or without
    arguments. tapeflow runs it eagerly: same values and gradients as ``func``.

    Args:
      func: the Python function.
      input_signature: optional list of ``tf.TensorSpec``; calls are checked against it.
      autograph, jit_compile, reduce_retracing: accepted and recorded; they change nothing.
    Returns:
      A ``Function`` (or a decorator making one when ``func`` is None).

    >>> import tapeflow as tf
    >>> @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    ... def double(x):
    ...     return 2.0 * x
    >>> double(tf.constant([1.0, 2.0])).numpy()
    array([2., 4.], dtype=float32)
    >>> float(double.python_function(tf.constant(3.0)))
    6.0
    """
    def decorate(f):
        return Function(f, input_signature=input_signature, autograph=autograph,
                        jit_compile=jit_compile if experimental_compile is None else
                        experimental_compile,
                        reduce_retracing=reduce_retracing or bool(experimental_relax_shapes),
                        name=name)

    if func is None:
        return decorate
    if not callable(func):
        raise TypeError(f"tf.function: expected a callable, got {func!r}.")
    return decorate(func)
