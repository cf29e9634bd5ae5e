"""``keras.layers.Layer``: the base of every layer and model.

A layer is four methods: ``__init__`` (config only), ``build(input_shape)`` (``add_weight``),
``call(inputs, training=None, mask=None)`` (the math) and ``get_config``. ``__call__`` converts
the inputs, checks the ``InputSpec``, builds on first use, runs ``call`` (passing ``training`` and
``mask`` only to a ``call`` that takes them), propagates Keras masks and collects activity
regularization losses. Called on symbolic ``KerasTensor``s it records a ``Node`` instead.

Variables and layers assigned as attributes, or held in lists and dicts assigned as attributes,
are tracked in assignment order, as Keras tracks them.
"""

import functools
import inspect

from tapeflow._backend import np
from tapeflow.framework import nest
from tapeflow.framework.tensor import Tensor, _TensorLike, _wrap
from tapeflow.framework.variable import Variable
from tapeflow.keras import backend as K
from tapeflow.keras.layers import node as _node
from tapeflow.keras.layers.input_spec import assert_input_compatibility
from tapeflow.keras.layers.variables import (  # noqa: F401  (KerasVariable is re-exported)
    _AUTOCAST,
    _N_REGULARIZED,
    KerasVariable,
    _cast,
    _np_dtype,
    _TrackedDict,
    _TrackedList,
)

__all__ = ["Layer", "KerasVariable"]

_CALL_STACK = []        # training value of every layer call in progress (inherited by inner calls)
_SYMBOLIC = [0]         # > 0 while output shapes are being inferred: add_loss is ignored there
_LOSS_HOLDERS = []      # layers whose _losses are non-empty: cleared when an outer call starts
_SIGNATURES = {}        # class -> (call takes training, call takes mask, call param names)
_NAME_SCOPE = K._NAME_SCOPE
# Bumped by every change to a layer's sub-layers or variables (tracking, ``del``, the models'
# own layer lists): ``weights`` and the sub-layer walk the trainer makes every step are cached
# under it (issue 7: per-step overhead).
_VERSION = [0]
_STRUCTURE = frozenset(("_layers", "_trainable_variables", "_non_trainable_variables"))


# Attributes the base class manages itself; they are never wrapped or scanned by the tracker.
_INTERNAL = frozenset((
    "_layers", "_trainable_variables", "_non_trainable_variables", "_losses", "_inbound_nodes",
    "_outbound_nodes", "_auto_config", "_tracking_ready", "_build_shapes", "_input_spec",
    "_supports_masking", "_trainable", "_dtype_policy", "_name", "_call_signature",
    "_input_shape_arg", "_metrics", "_seed_generators",
))
_ALLOWED_KWARGS = ("input_shape", "batch_input_shape", "batch_size", "input_dim", "weights",
                   "input_dtype")


class Layer:
    """The base class of layers: weights, build-on-first-call, ``training`` and masks.

    Args:
      trainable: whether the layer's weights are updated by training.
      name: the layer's name (default: the class name in snake case, made unique).
      dtype: the dtype of the weights and computations (a name, dtype or ``DTypePolicy``).
      activity_regularizer: optional regularizer applied to the outputs (added to ``losses``).
      autocast: whether float inputs are cast to the layer's dtype.
      input_shape: shape of the input without the batch axis (for the first layer of a
        ``Sequential``).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> class Scale(keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, x):
    ...         return x * self.w
    >>> keras.backend.clear_session()
    >>> layer = Scale()
    >>> layer(tf.constant([[1.0, 2.0]])).numpy()
    array([[1., 2.]], dtype=float32)
    >>> [w.path for w in layer.weights]
    ['scale/variable']
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_records_build", False):
            cls.build = _recording_build(build)

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        d = obj.__dict__
        d["_tracking_ready"] = True   # attributes set before super().__init__() are tracked too
        d["_layers"] = []
        d["_trainable_variables"] = []
        d["_non_trainable_variables"] = []
        d["_losses"] = []
        d["_inbound_nodes"] = []
        d["_outbound_nodes"] = []
        d["_metrics"] = []
        d["_seed_generators"] = []
        d["_build_shapes"] = None
        d["_input_spec"] = None
        d["_weights_memo"] = None     # (_VERSION, weights) when no sub-layer redefines weights
        d["_sublayers_memo"] = None   # (_VERSION, _flatten_layers(include_self=False))
        d["built"] = False
        d["_auto_config"] = _capture_init_args(cls, args, kwargs)
        return obj

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True,
                 name=None, **kwargs):
        unknown = set(kwargs) - set(_ALLOWED_KWARGS)
        if unknown:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                             f"{ {k: kwargs[k] for k in sorted(unknown)} }")
        d = self.__dict__
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Layer name must be a string, received name={name!r} of type "
                            f"{type(name).__name__}.")
        d["_name"] = name or K.unique_object_name(K.to_snake_case(type(self).__name__))
        d["_dtype_policy"] = K.get_dtype_policy(dtype)
        d["_trainable"] = bool(trainable)
        d["autocast"] = bool(autocast)
        d["_supports_masking"] = type(self).compute_mask is not Layer.compute_mask
        d["_input_shape_arg"] = _input_shape_from_kwargs(kwargs)
        d["_initial_weights"] = kwargs.get("weights")
        self.activity_regularizer = _get_regularizer(activity_regularizer)

    # ----------------------------------------------------------------- tracking
    def __setattr__(self, name, value):
        if name in _STRUCTURE:   # (internal names are not tracked: `self._layers = [...]`)
            _VERSION[0] += 1
        if name not in _INTERNAL and self.__dict__.get("_tracking_ready", False):
            value = self._track_value(value, wrap=True)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        _VERSION[0] += 1
        value = self.__dict__.get(name)
        if isinstance(value, Layer) and any(v is value for v in self._layers):
            self._layers[:] = [v for v in self._layers if v is not value]
        elif isinstance(value, Variable):
            for lst in (self._trainable_variables, self._non_trainable_variables):
                lst[:] = [v for v in lst if v is not value]
        object.__delattr__(self, name)

    def _track_value(self, value, wrap=False):
        # (a value of another kind changes no layer or variable list: the caches stay valid,
        # so a layer may keep per-call state in attributes without invalidating them)
        if isinstance(value, Layer):
            _VERSION[0] += 1
            if value is not self and not any(v is value for v in self._layers):
                self._layers.append(value)
        elif isinstance(value, Variable):
            self._track_variable(value)
        elif type(value) in (list, _TrackedList, tuple):
            _VERSION[0] += 1
            for v in value:
                self._track_value(v)
            if wrap and type(value) is list:
                value = _TrackedList(value, self)
        elif type(value) in (dict, _TrackedDict):
            _VERSION[0] += 1
            for v in value.values():
                self._track_value(v)
            if wrap and type(value) is dict:
                value = _TrackedDict(value, self)
        return value

    def _track_variable(self, v):
        _VERSION[0] += 1
        lst = self._trainable_variables if v.trainable else self._non_trainable_variables
        if not any(x is v for x in self._trainable_variables + self._non_trainable_variables):
            lst.append(v)

    def _flatten_layers(self, include_self=True, recursive=True):
        # pre-order, depth first, each layer once (models call this every step: no list copies)
        out = []
        _walk_layers([self] if include_self else self._layers, out, set(), recursive)
        return out

    def _memo_sublayers(self):
        """``_flatten_layers(include_self=False)``, cached until a layer changes (read-only)."""
        cache = self.__dict__.get("_sublayers_memo")
        if cache is not None and cache[0] == _VERSION[0]:
            return cache[1]
        out = self._flatten_layers(include_self=False)
        self.__dict__["_sublayers_memo"] = (_VERSION[0], out)
        return out

    # --------------------------------------------------------------- properties
    @property
    def name(self):
        return self._name

    @property
    def path(self):
        return self._name

    @property
    def dtype_policy(self):
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self.__dict__["_dtype_policy"] = K.get_dtype_policy(value)

    @property
    def dtype(self):
        """The dtype of the layer's weights, as a string (``"float32"``)."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self):
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self._dtype_policy.variable_dtype

    @property
    def input_dtype(self):
        """The dtype float inputs are converted to (the compute dtype, as in Keras 3)."""
        return self._dtype_policy.compute_dtype

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        _VERSION[0] += 1
        value = bool(value)
        self.__dict__["_trainable"] = value
        for v in self._trainable_variables:
            v.trainable = value
        for layer in self._layers:
            layer.trainable = value

    @property
    def input_spec(self):
        return self._input_spec

    @input_spec.setter
    def input_spec(self, value):
        self.__dict__["_input_spec"] = value

    @property
    def supports_masking(self):
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["_supports_masking"] = bool(value)

    @property
    def weights(self):
        """Every weight of the layer and its sub-layers: own trainable, own non-trainable, then
        each sub-layer's, without duplicates."""
        return list(self._memo_weights())

    def _memo_weights(self):
        # ``weights``, cached until a layer changes (read-only: callers get copies)
        cache = self.__dict__.get("_weights_memo")
        if cache is not None and cache[0] == _VERSION[0]:
            return cache[1]
        out = []
        if _collect_weights(self, out, set()):
            self.__dict__["_weights_memo"] = (_VERSION[0], out)
        return out

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        # (each variable's own flag is read every time: ``v.trainable = False`` is seen)
        return [w for w in self._memo_weights() if w.trainable]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def losses(self):
        """Losses added by ``add_loss`` during the last call (this layer and sub-layers), then
        the weight regularization penalties."""
        out = []
        if _LOSS_HOLDERS:   # else no layer holds add_loss values
            for layer in self._flatten_layers():
                out.extend(layer._losses)
        if not _N_REGULARIZED[0]:
            return out
        for w in self.trainable_weights:
            reg = getattr(w, "regularizer", None)
            if reg is not None:
                out.append(reg(w))
        return out

    @property
    def metrics(self):
        return list(self._metrics)

    @property
    def metrics_variables(self):
        """The variables of the layer's metrics (their running totals and counts)."""
        out = []
        for m in self.metrics:
            if hasattr(m, "variables"):
                out.extend(m.variables)
            else:   # a container of metrics (the compiled metrics)
                out.extend(v for sub in getattr(m, "metrics", []) for v in sub.variables)
        return out

    @property
    def input(self):
        """The input KerasTensor(s) of the layer's first symbolic call."""
        return self._node_attr("input")

    @property
    def output(self):
        """The output KerasTensor(s) of the layer's first symbolic call."""
        return self._node_attr("output")

    def _node_attr(self, which):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called and thus has no "
                                 f"defined {which}.")
        node = self._inbound_nodes[0]
        if which == "output":
            return node.output_structure
        ts = node.input_tensors
        return ts[0] if len(ts) == 1 else ts

    # ------------------------------------------------------------------ weights
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None):
        """Creates a weight (a ``KerasVariable``) owned by this layer.

        Args:
          shape: the weight's shape (default scalar).
          initializer: a name (``"zeros"``), an ``Initializer`` or a callable
            ``(shape, dtype)``; default ``"glorot_uniform"`` for floats, ``"zeros"`` otherwise.
          dtype: default the layer's variable dtype.
          trainable: whether training updates it.
          regularizer / constraint: optional, by name or object.
          name: the weight's name (its path is ``"<layer>/<name>"``).

        >>> from tapeflow import keras
        >>> layer = keras.layers.Layer()
        >>> w = layer.add_weight(shape=(2,), initializer="zeros", name="w")
        >>> w.numpy(), [v.name for v in layer.weights]
        (array([0., 0.], dtype=float32), ['w'])
        """
        if isinstance(shape, str) and name is None:   # tf.keras order: add_weight(name, shape)
            shape, name = None, shape
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = K.standardize_dtype(dtype or self.variable_dtype)
        from tapeflow.keras.saving.safe_io import charge_weight  # noqa: PLC0415

        charge_weight(shape, dtype, self.name)  # bounded while a model file loads
        value = _get_initializer(initializer, dtype)(shape, dtype=dtype)
        name = name or "variable"
        scope = K.current_path()
        if not scope or scope.split("/")[-1] != self.name:
            scope = f"{scope}/{self.name}" if scope else self.name
        v = KerasVariable(value, trainable=trainable, name=name, dtype=dtype,
                          constraint=_get_constraint(constraint),
                          regularizer=_get_regularizer(regularizer), path=f"{scope}/{name}")
        self._track_variable(v)
        if not self.trainable:
            v.trainable = False
        return v

    def add_variable(self, shape, initializer, dtype=None, trainable=True, autocast=True,
                     regularizer=None, constraint=None, name=None):
        """Alias of ``add_weight`` (Keras 3)."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype,
                               trainable=trainable, regularizer=regularizer,
                               constraint=constraint, name=name)

    def get_weights(self):
        """The weights' values as NumPy arrays, in the order of ``weights``."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Sets the weights from NumPy arrays, in the order of ``weights``.

        Raises:
          ValueError: naming the layer when the count or a shape does not match.
        """
        params = self.weights
        if len(params) != len(weights):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a "
                             f"weight list of length {len(weights)}, but the layer was expecting "
                             f"{len(params)} weights.")
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(p._value.shape) != tuple(w.shape):
                raise ValueError(f"Layer {self.name} weight shape {tuple(p._value.shape)} is not "
                                 f"compatible with provided weight shape {tuple(w.shape)} "
                                 f"(weight '{p.path}').")
            p.assign(w.astype(p._value.dtype, copy=False))

    def count_params(self):
        """The number of scalars in the layer's weights.

        Raises:
          ValueError: if the layer is not built yet.
        """
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but "
                             f"the layer isn't built. You can build it manually via: "
                             f"`layer.build(input_shape)`.")
        return int(sum(int(np.prod(w._value.shape)) for w in self.weights))

    def save_own_variables(self, store):
        """Writes this layer's own variables to ``store`` as ``{"0": array, "1": ...}``."""
        for i, v in enumerate(self._trainable_variables + self._non_trainable_variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store):
        """Reads this layer's own variables from ``store`` (see ``save_own_variables``)."""
        own = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) != len(own):
            raise ValueError(f"Layer '{self.name}' expected {len(own)} variables, but received "
                             f"{len(store.keys())} variables during loading. Expected: "
                             f"{[v.name for v in own]}")
        for i, v in enumerate(own):
            v.assign(np.asarray(store[str(i)]))

    # ------------------------------------------------------------------ losses
    def add_loss(self, loss):
        """Adds a scalar loss (a Tensor) to ``losses``; the trainer adds it to the total."""
        if _SYMBOLIC[0]:
            return
        for x in nest.flatten(loss):
            if not self._losses:
                _LOSS_HOLDERS.append(self)
            self._losses.append(x if isinstance(x, _TensorLike) else _wrap(
                np.asarray(x, dtype=np.float32)))

    # ---------------------------------------------------------- build and call
    def build(self, input_shape):
        """Creates the weights; called once, by ``__call__``, with the input shape."""
        self.built = True

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call()` "
                                  f"method implemented.")

    def compute_output_shape(self, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} should implement "
                                  f"`def compute_output_shape(self, input_shape)`.")

    def compute_mask(self, inputs, previous_mask):
        """The mask of the outputs (default: the input mask if ``supports_masking``)."""
        if not self.supports_masking:
            return None
        return previous_mask

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and type(args[0]) is Tensor and (not kwargs or (
                len(kwargs) == 1 and type(kwargs.get("training")) is bool)):
            # The common eager call (one Tensor, at most a `training` flag: what fit and a
            # model make per step) is not symbolic, and converting it is at most the autocast
            # below (``_convert_inputs``'s rule), so skip both general walks (issue 7).
            first = args[0]
            dt = first._value.dtype
            if dt.kind == "f" and self.autocast:
                target = self._dtype_policy.compute_dtype
                if target is not None and dt != _np_dtype(target):
                    first = _cast(first, target)
                    args = (first,)
            if type(self)._call_kwargs is _BASE_CALL_KWARGS:
                return self._plain_call(first, kwargs)
        else:
            if _node.any_symbolic(args, kwargs):
                return self._symbolic_call(args, kwargs)
            args, kwargs = self._convert_inputs(args, kwargs)
        inputs = args[0] if args else next(iter(kwargs.values()), None)
        assert_input_compatibility(self._input_spec, inputs, self.name)
        if not self.built:
            self._maybe_build(args, kwargs)
        if not _CALL_STACK and _LOSS_HOLDERS:
            _clear_losses()   # an outer call starts: the previous call's add_loss values go
        kwargs, training, previous_mask = self._call_kwargs(inputs, kwargs)
        outputs = self._call_in_scope(args, kwargs, training)
        # (the base compute_mask passes the input mask on: with none, there is nothing to set)
        if self._supports_masking and (previous_mask is not None or
                                       type(self).compute_mask is not Layer.compute_mask):
            self._set_output_mask(inputs, outputs, previous_mask)
        if self.activity_regularizer is not None and not _SYMBOLIC[0]:
            self._add_activity_loss(outputs)
        return outputs

    def _plain_call(self, inputs, kwargs):
        # ``__call__``'s steps for one (converted) Tensor and at most a bool `training`, with
        # ``_call_kwargs`` and ``_call_in_scope`` written out: the same checks, scopes and
        # results, minus the calls and dict lookups (issue 7: per-step overhead).
        spec = self._input_spec
        if spec:
            assert_input_compatibility(spec, inputs, self.name)
        if not self.built:
            self._maybe_build((inputs,), kwargs)
        if not _CALL_STACK and _LOSS_HOLDERS:
            _clear_losses()   # an outer call starts: the previous call's add_loss values go
        cls = type(self)
        sig = _SIGNATURES.get(cls) or _signature(cls)
        has_training = sig[0]
        has_mask = sig[1]
        training = kwargs.get("training") if kwargs else None
        if training is None:
            training = _CALL_STACK[-1] if _CALL_STACK else None
            if has_training and training is not None:
                kwargs["training"] = training
        elif not has_training:
            del kwargs["training"]
        previous_mask = getattr(inputs, "_keras_mask", None)
        if has_mask and previous_mask is not None:
            kwargs["mask"] = previous_mask
        policy = self._dtype_policy
        autocast = policy._compute != policy._variable and self.autocast
        pushed = autocast or bool(_AUTOCAST)
        if pushed:
            _AUTOCAST.append(policy._compute if autocast else None)
        _CALL_STACK.append(training)
        _NAME_SCOPE.append(self._name)
        try:
            outputs = self.call(inputs, **kwargs) if kwargs else self.call(inputs)
        finally:
            _NAME_SCOPE.pop()
            _CALL_STACK.pop()
            if pushed:
                _AUTOCAST.pop()
        if self._supports_masking and (previous_mask is not None or
                                       cls.compute_mask is not Layer.compute_mask):
            self._set_output_mask(inputs, outputs, previous_mask)
        if self.activity_regularizer is not None and not _SYMBOLIC[0]:
            self._add_activity_loss(outputs)
        return outputs

    def _call_in_scope(self, args, kwargs, training):
        # `call` with this layer's name on the variable-path scope, its `training` value
        # visible to inner calls and, for a mixed-precision policy, variables read in the
        # compute dtype.
        policy = self._dtype_policy
        autocast = policy._compute != policy._variable and self.autocast
        pushed = autocast or bool(_AUTOCAST)
        if pushed:
            _AUTOCAST.append(policy._compute if autocast else None)
        _CALL_STACK.append(training)
        K._NAME_SCOPE.append(self._name)
        try:
            return self.call(*args, **kwargs)
        finally:
            K._NAME_SCOPE.pop()
            _CALL_STACK.pop()
            if pushed:
                _AUTOCAST.pop()

    def _convert_inputs(self, args, kwargs):
        # Arrays and Python numbers in the first argument become Tensors; float inputs take the
        # layer's compute dtype (Keras 3 autocasting).
        if not args:
            if not kwargs:
                return args, kwargs
            # Inputs given by keyword only (``layer(query=q, value=v)``): convert the first.
            key = next(iter(kwargs))
            converted, rest = self._convert_inputs((kwargs[key],), {
                k: v for k, v in kwargs.items() if k != key})
            return (), {key: converted[0], **rest}
        first = args[0]
        target = self._dtype_policy.compute_dtype if self.autocast else None
        if type(first) is Tensor:
            dt = first._value.dtype
            if target is not None and dt.kind == "f" and dt != _np_dtype(target):
                first = _cast(first, target)
        elif isinstance(first, (list, tuple, dict)):
            first = nest.map_structure(lambda x: _to_input(x, target), first)
        else:
            first = _to_input(first, target)
        if len(args) > 1 or kwargs:
            # Other arguments: arrays become Tensors and float Tensors are cast; Python values
            # (flags, sizes) are left alone.
            def conv(x):
                return _to_input(x, target) if isinstance(x, (np.ndarray, Tensor)) else x
            args = (first,) + tuple(nest.map_structure(conv, a) for a in args[1:])
            kwargs = {k: v if k in ("training", "mask") else nest.map_structure(conv, v)
                      for k, v in kwargs.items()}
            return args, kwargs
        return (first,), kwargs

    def _call_kwargs(self, inputs, kwargs):
        has_training, has_mask, _ = _signature(type(self))
        training = kwargs.get("training")
        if training is None:
            training = _CALL_STACK[-1] if _CALL_STACK else None
            if has_training and training is not None:
                kwargs["training"] = training
            elif not has_training:
                kwargs.pop("training", None)
        elif not has_training:
            kwargs.pop("training")
        previous_mask = kwargs.get("mask")
        if previous_mask is None:
            previous_mask = _collect_mask(inputs)
            if has_mask and previous_mask is not None:
                kwargs["mask"] = previous_mask
            elif not has_mask:
                kwargs.pop("mask", None)
        elif not has_mask:
            kwargs.pop("mask")
        return kwargs, training, previous_mask

    def _set_output_mask(self, inputs, outputs, previous_mask):
        mask = self.compute_mask(inputs, previous_mask)
        if mask is None:
            return
        outs = nest.flatten(outputs)
        masks = nest.flatten(mask) if isinstance(mask, (list, tuple)) else [mask] * len(outs)
        for o, m in zip(outs, masks):
            if type(o) is Tensor:
                o._keras_mask = m

    def _add_activity_loss(self, outputs):
        for o in nest.flatten(outputs):
            if isinstance(o, _TensorLike):
                batch = o.shape[0] if o.ndim else 1
                self.add_loss(self.activity_regularizer(o) / float(batch or 1))

    def _maybe_build(self, args, kwargs):
        shapes = _build_shapes(type(self), args, kwargs)
        self.__dict__["_build_shapes"] = shapes
        if type(self).build is not Layer.build:
            with K.name_scope(self._name):
                if len(shapes) == 1:
                    self.build(next(iter(shapes.values())))
                else:
                    self.build(**shapes)
        self.built = True
        if getattr(self, "_initial_weights", None) is not None:
            self.set_weights(self._initial_weights)
            self.__dict__["_initial_weights"] = None

    # ----------------------------------------------------------------- symbolic
    def _symbolic_call(self, args, kwargs):
        inputs = args[0] if args else next(iter(kwargs.values()), None)
        assert_input_compatibility(self._input_spec, inputs, self.name)
        if not self.built:
            self._maybe_build(args, kwargs)
        outputs = self.compute_output_spec(*args, **kwargs)
        _node.Node(self, args, kwargs, outputs)
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        """The output KerasTensor(s) for symbolic inputs: ``call`` runs on a small zero batch
        (twice when non-batch dims are unknown, to tell which output dims follow them)."""
        flat = [x for x in nest.flatten([list(args), dict(kwargs)])
                if isinstance(x, _node.KerasTensor)]
        batch_unknown = any(x.shape and x.shape[0] is None for x in flat)
        other_unknown = any(d is None for x in flat for d in x.shape[1:])
        try:
            out_a = self._run_on_placeholders(args, kwargs, 2, 8)
            out_b = self._run_on_placeholders(args, kwargs, 2, 9) if other_unknown else out_a
        except Exception:
            if type(self).compute_output_shape is Layer.compute_output_shape:
                raise
            return self._spec_from_output_shape(args, kwargs, flat)

        def to_spec(a, b):
            if not isinstance(a, _TensorLike):
                return a
            shape = [None if da != db else da for da, db in
                     zip(a._value.shape, b._value.shape)]
            if batch_unknown and shape:
                shape[0] = None
            return _node.KerasTensor(shape, dtype=a.dtype.name)
        if isinstance(out_a, (list, tuple, dict)):
            return nest.map_structure(to_spec, out_a, out_b)
        return to_spec(out_a, out_b)

    def _run_on_placeholders(self, args, kwargs, batch, other):
        def fill(x):
            if not isinstance(x, _node.KerasTensor):
                return x
            shape = [batch if (d is None and i == 0) else other if d is None else d
                     for i, d in enumerate(x.shape)]
            return _wrap(np.zeros(shape, dtype=K.standardize_dtype(x.dtype)))
        a = [nest.map_structure(fill, v) if nest.is_nested(v) else fill(v) for v in args]
        kw = {k: nest.map_structure(fill, v) if nest.is_nested(v) else fill(v)
              for k, v in kwargs.items()}
        _SYMBOLIC[0] += 1
        try:
            with np.errstate(all="ignore"):
                return self.__call__(*a, **kw)
        finally:
            _SYMBOLIC[0] -= 1

    def _spec_from_output_shape(self, args, kwargs, flat):
        shapes = [x.shape for x in flat]
        out = self.compute_output_shape(shapes[0] if len(shapes) == 1 else shapes)
        dtype = self.compute_dtype

        def is_shape(s):
            return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, int)
                                                        for d in s)
        if is_shape(out):
            return _node.KerasTensor(out, dtype=dtype)
        return [_node.KerasTensor(s, dtype=dtype) for s in out]

    # ------------------------------------------------------------------- config
    def get_config(self):
        """The layer's constructor arguments (Keras's keys: name, trainable, dtype, ...)."""
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": K.serialize_dtype_policy(self._dtype_policy)}
        auto = {k: v for k, v in (self._auto_config or {}).items()
                if k not in ("name", "trainable", "dtype") and _jsonable(v)}
        if type(self).get_config is Layer.get_config:
            config.update(auto)
        return config

    @classmethod
    def from_config(cls, config):
        """Creates a layer from ``get_config()``'s output."""
        return cls(**config)

    def get_build_config(self):
        """``{"input_shape": [...]}`` of the first build, or None if not built."""
        if self._build_shapes:
            shapes = {k.replace("_shape", "") if k != "input_shape" else k: _plain_shape(v)
                      for k, v in self._build_shapes.items()}
            if len(shapes) == 1:
                return {"input_shape": next(iter(shapes.values()))}
            return {"shapes_dict": {f"{k}_shape" if not k.endswith("_shape") else k: v
                                    for k, v in shapes.items()}}
        return None

    def build_from_config(self, config):
        """Builds the layer from ``get_build_config()``'s output."""
        if not config:
            return
        if "input_shape" in config:
            shapes = {"input_shape": _tuple_shape(config["input_shape"])}
        else:
            shapes = {k: _tuple_shape(v) for k, v in config["shapes_dict"].items()}
        if type(self).build is not Layer.build:
            with K.name_scope(self._name):
                if len(shapes) == 1:
                    self.build(next(iter(shapes.values())))
                else:
                    self.build(**shapes)
        self.__dict__["_build_shapes"] = shapes
        self.built = True

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# ---------------------------------------------------------------------- helpers
_BASE_CALL_KWARGS = Layer._call_kwargs
_BASE_WEIGHTS = Layer.weights


def _walk_layers(layers, out, seen, recursive):
    for layer in layers:
        key = id(layer)
        if key in seen:
            continue
        seen.add(key)
        out.append(layer)
        if recursive and layer._layers:
            _walk_layers(layer._layers, out, seen, recursive)


def _collect_weights(layer, out, seen):
    # ``weights`` of ``layer`` appended to ``out`` (first occurrences, in order), walking the
    # sub-layers in place instead of building each one's list. A sub-layer whose class redefines
    # ``weights`` is asked for them; then the result is not cacheable (returns False).
    cacheable = True
    for lst in (layer._trainable_variables, layer._non_trainable_variables):
        for w in lst:
            key = id(w)
            if key not in seen:
                seen.add(key)
                out.append(w)
    for sub in layer._layers:
        if type(sub).weights is _BASE_WEIGHTS:
            cacheable = _collect_weights(sub, out, seen) and cacheable
            continue
        cacheable = False
        for w in sub.weights:
            key = id(w)
            if key not in seen:
                seen.add(key)
                out.append(w)
    return cacheable


def _structure_changed():
    """Invalidates the cached ``weights`` and sub-layer walks (after a direct change to a
    ``_layers`` or variables list)."""
    _VERSION[0] += 1


def _recording_build(build):
    # A subclass's `build`, wrapped so that calling it directly (`layer.build((None, 4))`)
    # records the build shapes for `get_build_config` and marks the layer built, as Keras does.
    params = [n for n in inspect.signature(build).parameters if n != "self"]

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        shapes = None
        if self.__dict__.get("_build_shapes") is None and (args or kwargs):
            if len(params) <= 1:
                first = args[0] if args else next(iter(kwargs.values()))
                shapes = {"input_shape": _shape_arg(first)}
            else:
                values = dict(zip(params, args))
                values.update(kwargs)
                shapes = {k: _shape_arg(v) for k, v in values.items() if v is not None}
        result = build(self, *args, **kwargs)
        if shapes is not None and self.__dict__.get("_build_shapes") is None:
            self.__dict__["_build_shapes"] = shapes
        self.built = True
        return result

    wrapper._records_build = True
    return wrapper


Layer.build = _recording_build(Layer.build)   # a direct `layer.build(shape)` is recorded too


def _shape_arg(s):
    # A shape given to `build` (tuple, list, TensorShape, or a structure of them) as tuples.
    if hasattr(s, "as_list"):
        s = s.as_list() if s.rank is not None else None
    if isinstance(s, (list, tuple)) and all(d is None or isinstance(d, int) for d in s):
        return tuple(s)
    if isinstance(s, (list, tuple)):
        return [_shape_arg(v) for v in s]
    if isinstance(s, dict):
        return {k: _shape_arg(v) for k, v in s.items()}
    return s


def _capture_init_args(cls, args, kwargs):
    # The constructor's arguments, for get_config of layers that do not override it.
    try:
        sig = inspect.signature(cls.__init__)
        bound = sig.bind_partial(None, *args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs)
    out = {}
    for name, value in list(bound.arguments.items())[1:]:
        param = sig.parameters[name]
        if param.kind == param.VAR_KEYWORD:
            out.update(value)
        elif param.kind != param.VAR_POSITIONAL:
            out[name] = value
    return out


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_jsonable(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _jsonable(x) for k, x in v.items())
    return False


def _input_shape_from_kwargs(kwargs):
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    if kwargs.get("input_shape") is not None:
        shape = kwargs["input_shape"]
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return (kwargs.get("batch_size"),) + shape
    if kwargs.get("input_dim") is not None:
        return (kwargs.get("batch_size"), int(kwargs["input_dim"]))
    return None


def _signature(cls):
    sig = _SIGNATURES.get(cls)
    if sig is None:
        params = inspect.signature(cls.call).parameters
        var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
        sig = ("training" in params or var_kw, "mask" in params or var_kw,
               [n for n in params if n != "self"])
        _SIGNATURES[cls] = sig
    return sig


def _build_shapes(cls, args, kwargs):
    """``{"input_shape": shape}`` or, for a build taking several ``<arg>_shape`` parameters,
    one shape per matching call argument (``build(query_shape, value_shape)``)."""
    build_params = [n for n in inspect.signature(cls.build).parameters if n != "self"]
    if len(build_params) <= 1 or cls.build is Layer.build:
        first = args[0] if args else next(iter(kwargs.values()), None)
        return {"input_shape": _shape_struct(first)}
    call_params = _signature(cls)[2]
    values = dict(zip(call_params, args))
    values.update(kwargs)
    shapes = {}
    for p in build_params:
        arg = p[:-6] if p.endswith("_shape") else p
        if arg in values and values[arg] is not None:
            shapes[p] = _shape_struct(values[arg])
    return shapes


def _shape_struct(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [_shape_struct(v) for v in x]
    if isinstance(x, dict):
        return {k: _shape_struct(v) for k, v in x.items()}
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    if hasattr(shape, "as_list"):
        return tuple(shape.as_list())
    return tuple(shape)


def _plain_shape(s):
    if isinstance(s, (list, tuple)) and s and not all(d is None or isinstance(d, int)
                                                      for d in s):
        return [_plain_shape(v) for v in s]
    if isinstance(s, dict):
        return {k: _plain_shape(v) for k, v in s.items()}
    return None if s is None else list(s)


def _tuple_shape(s):
    if isinstance(s, (list, tuple)) and all(d is None or isinstance(d, int) for d in s):
        return tuple(s)
    if isinstance(s, dict):
        return {k: _tuple_shape(v) for k, v in s.items()}
    if isinstance(s, (list, tuple)):
        return [_tuple_shape(v) for v in s]
    return s


def _to_input(x, target):
    if type(x) is Tensor:
        if target is not None and x._value.dtype.kind == "f" and x._value.dtype.name != target:
            return _cast(x, target)
        return x
    if isinstance(x, Variable):
        return _to_input(x.value if isinstance(x, KerasVariable) else x.read_value(), target)
    if isinstance(x, (np.ndarray, np.generic, int, float, bool)) or (
            isinstance(x, list) and x and not isinstance(x[0], _TensorLike)):
        arr = np.asarray(x)
        if arr.dtype.kind == "f" and target is not None:
            arr = arr.astype(target, copy=False)
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float32, copy=False)
        elif arr.dtype == np.int64 and not isinstance(x, np.ndarray):
            arr = arr.astype(np.int32)
        if arr.dtype.kind in "OUS":
            return x
        return _wrap(arr)
    return x


def _collect_mask(inputs):
    if type(inputs) is Tensor:
        return getattr(inputs, "_keras_mask", None)
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(x, "_keras_mask", None) if type(x) is Tensor else None for x in inputs]
        return masks if any(m is not None for m in masks) else None
    return None


def _clear_losses():
    for layer in _LOSS_HOLDERS:
        layer._losses.clear()
    _LOSS_HOLDERS.clear()


def _get_initializer(identifier, dtype):
    if identifier is None:
        identifier = "glorot_uniform" if K.is_float_dtype(dtype) else "zeros"
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    from tapeflow.keras import initializers  # noqa: PLC0415 - sibling module, loaded lazily

    return initializers.get(identifier)


def _get_regularizer(identifier):
    if identifier is None:
        return None
    from tapeflow.keras import regularizers  # noqa: PLC0415

    return regularizers.get(identifier)


def _get_constraint(identifier):
    if identifier is None:
        return None
    from tapeflow.keras import constraints  # noqa: PLC0415

    return constraints.get(identifier)
