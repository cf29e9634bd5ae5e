"""``tf.Module``: a named container whose attributes' Variables and sub-Modules are collected."""

import re

from tapeflow.framework.variable import Variable

__all__ = ["Module"]


def _snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class Module:
    """Base class for TF2-style models built from Variables (``tf.Module``).

    Variables and Modules assigned as attributes (directly, or inside lists, tuples and dicts)
    are found by ``variables``, ``trainable_variables`` and ``submodules``, in attribute-name
    order, as TensorFlow does.

    >>> import tapeflow as tf
    >>> class Dense(tf.Module):
    ...     def __init__(self, n_in, n_out, name=None):
    ...         super().__init__(name=name)
    ...         self.w = tf.Variable(tf.ones([n_in, n_out]), name="w")
    ...         self.b = tf.Variable(tf.zeros([n_out]), name="b", trainable=False)
    ...     def __call__(self, x):
    ...         return x @ self.w + self.b
    >>> d = Dense(2, 3)
    >>> d.name, [v.name for v in d.trainable_variables], len(d.variables)
    ('dense', ['w:0'], 2)
    """

    def __init__(self, name=None):
        if name is None:
            name = _snake(type(self).__name__)
        elif not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.\-]*", name):
            raise ValueError(f"Module: `name` must be a valid Python identifier-like string, "
                             f"got {name!r}.")
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def name_scope(self):
        from tapeflow.ops.misc_ops import name_scope

        return name_scope(self._name)

    def _flatten(self, predicate):
        # As TensorFlow's _flatten_module: this module's own leaves first (attributes in name
        # order), then each sub-module found along the way, recursively.
        out, seen, visited = [], set(), set()

        def flatten_module(mod):
            visited.add(id(mod))
            subs = []

            def walk(obj):
                if isinstance(obj, Module):
                    if id(obj) not in visited:
                        subs.append(obj)
                elif isinstance(obj, (list, tuple)):
                    for item in obj:
                        walk(item)
                elif isinstance(obj, dict):
                    for key in sorted(obj, key=str):
                        walk(obj[key])
                elif isinstance(obj, Variable) and predicate(obj) and id(obj) not in seen:
                    seen.add(id(obj))
                    out.append(obj)

            for key in sorted(vars(mod)):
                walk(vars(mod)[key])
            for sub in subs:
                if id(sub) not in visited:
                    flatten_module(sub)

        flatten_module(self)
        return tuple(out)

    @property
    def variables(self):
        """Every Variable of this module and its sub-modules."""
        return self._flatten(lambda v: True)

    @property
    def trainable_variables(self):
        """The trainable Variables of this module and its sub-modules."""
        return self._flatten(lambda v: v.trainable)

    @property
    def non_trainable_variables(self):
        return self._flatten(lambda v: not v.trainable)

    @property
    def submodules(self):
        """Every Module reachable from this one's attributes (breadth first)."""
        out, seen, queue = [], {id(self)}, [self]
        while queue:
            mod = queue.pop(0)
            found = []

            def walk(obj, found=found):
                if isinstance(obj, Module):
                    if id(obj) not in seen:
                        seen.add(id(obj))
                        found.append(obj)
                elif isinstance(obj, (list, tuple)):
                    for item in obj:
                        walk(item)
                elif isinstance(obj, dict):
                    for key in sorted(obj, key=str):
                        walk(obj[key])

            for key in sorted(vars(mod)):
                walk(vars(mod)[key])
            out.extend(found)
            queue.extend(found)
        return tuple(out)

    @classmethod
    def with_name_scope(cls, method):
        """Decorator that runs ``method`` inside the module's name scope (a no-op in eager)."""
        return method

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} object named {self._name!r}>"
