"""``keras.Model``: a Layer plus the Trainer (compile/fit/evaluate/predict).

``Model(inputs, outputs)`` holds a ``FunctionalGraph`` and delegates ``call`` to it
(composition: the class is never swapped). A subclass defines ``call`` itself.
"""

from tapeflow._backend import np
from tapeflow.framework import nest
from tapeflow.keras import backend as K
from tapeflow.keras.layers.layer import _SYMBOLIC, Layer, _structure_changed
from tapeflow.keras.layers.node import KerasTensor
from tapeflow.keras.models.functional import FunctionalGraph
from tapeflow.keras.trainer import Trainer

__all__ = ["Model"]


class Model(Trainer, Layer):
    """A model: layers plus training (``compile``, ``fit``, ``evaluate``, ``predict``).

    Two ways to make one:

    * functional: ``keras.Model(inputs, outputs)`` with ``keras.Input`` tensors (several inputs
      and outputs as lists or dicts);
    * subclassing: define layers in ``__init__`` and the forward pass in ``call``.

    >>> from tapeflow import keras
    >>> inputs = keras.Input((4,))
    >>> outputs = keras.layers.Dense(1)(keras.layers.Dense(8, activation="relu")(inputs))
    >>> model = keras.Model(inputs, outputs)
    >>> model.output_shape, model.count_params()
    ((None, 1), 49)
    """

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", None)
        outputs = kwargs.pop("outputs", None)
        if args and inputs is None:
            inputs, args = args[0], args[1:]
        if args and outputs is None:
            outputs, args = args[0], args[1:]
        if args:
            raise TypeError(f"Model: unexpected positional arguments {args}; expected "
                            f"`Model(inputs, outputs, name=None)`.")
        self.__dict__["_functional"] = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("A functional Model needs both `inputs` and `outputs`.")
            name = kwargs.pop("name", None) or K.unique_object_name("functional")
            Layer.__init__(self, name=name, **kwargs)
            self._init_functional(inputs, outputs)
        else:
            Layer.__init__(self, **kwargs)
        Trainer.__init__(self)

    def _init_functional(self, inputs, outputs):
        graph = FunctionalGraph(inputs, outputs)
        self.__dict__["_functional"] = graph
        self._layers[:] = list(graph.layers)
        _structure_changed()
        self.built = True
        self.__dict__["_build_shapes"] = {"input_shape": nest.map_structure(
            lambda t: t.shape, graph.inputs_struct)}

    # ------------------------------------------------------------------ call
    def call(self, inputs, training=None, mask=None):
        if self._functional is None:
            raise NotImplementedError(f"Model {type(self).__name__} does not have a `call()` "
                                      f"method implemented.")
        return self._functional.run(inputs)

    def build(self, input_shape=None):
        """Builds a subclassed model by running ``call`` on a zero batch of ``input_shape``."""
        if self.built or self._functional is not None:
            self.built = True
            return
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument.")
        shape_struct = input_shape
        is_one = isinstance(input_shape, (tuple, list)) and all(
            d is None or isinstance(d, int) for d in input_shape)
        make = lambda s: np.zeros([1 if d is None else d for d in s], dtype=K.floatx())  # noqa
        data = make(shape_struct) if is_one else nest.map_structure(
            make, [tuple(s) for s in shape_struct])
        _SYMBOLIC[0] += 1
        try:
            self.call(data) if type(self).call is not Model.call else None
        finally:
            _SYMBOLIC[0] -= 1
        self.built = True

    def _maybe_build(self, args, kwargs):
        # Subclassed models build lazily: their sub-layers build on the first real call.
        if self._functional is None and type(self).build is Model.build:
            from tapeflow.keras.layers.layer import _build_shapes  # noqa: PLC0415

            self.__dict__["_build_shapes"] = _build_shapes(type(self), args, kwargs)
            self.built = True
            return
        super()._maybe_build(args, kwargs)

    def compute_output_spec(self, *args, **kwargs):
        if self._functional is not None and len(args) == 1 and not kwargs:
            graph = self._functional
            flat = graph._flatten_inputs(args[0])
            if all(isinstance(t, KerasTensor) for t in flat):
                return nest.map_structure(lambda t: KerasTensor(t.shape, dtype=t.dtype),
                                          graph.outputs_struct)
        return super().compute_output_spec(*args, **kwargs)

    # ------------------------------------------------------------ properties
    @property
    def layers(self):
        """The model's layers (for a functional model, including its InputLayers)."""
        return list(self._layers)

    @property
    def inputs(self):
        return None if self._functional is None else list(self._functional.inputs)

    @property
    def outputs(self):
        return None if self._functional is None else list(self._functional.outputs)

    @property
    def input(self):
        if self._functional is None:
            return Layer.input.fget(self)
        s = self._functional.inputs_struct
        return s

    @property
    def output(self):
        if self._functional is None:
            return Layer.output.fget(self)
        return self._functional.outputs_struct

    @property
    def input_shape(self):
        return _shapes_of(self.input)

    @property
    def output_shape(self):
        return _shapes_of(self.output)

    @property
    def input_names(self):
        return [t._keras_history.operation.name for t in self.inputs or []]

    @property
    def output_names(self):
        if self._functional is None:
            return []
        s = self._functional.outputs_struct
        if isinstance(s, dict):
            return list(s)
        return [t._keras_history.operation.name for t in self._functional.outputs]

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index`` of ``layers``.

        Raises:
          ValueError: when no layer matches (the message lists the model's layer names).
        """
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    # ---------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints the model's layers, output shapes and parameter counts (Keras's table).

        Args:
          line_length: total width (default 88, or 108 with a "Connected to" column, at most
            the terminal width minus 4).
          positions: right edges of the columns as fractions of ``line_length``.
          print_fn: called once with the whole table (default: print to stdout).
          expand_nested: also list the layers of nested models.
          show_trainable: add a "Trainable" column.
          layer_range: ``[first, last]`` layer-name patterns: only those rows.

        >>> from tapeflow import keras
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
        >>> m.summary(line_length=76, print_fn=lambda text: print(text.splitlines()[4]))
        │ d (Dense)                       │ (None, 2)              │             8 │
        """
        from tapeflow.keras.models.summary import print_summary  # noqa: PLC0415

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable, layer_range=layer_range,
                      expand_nested=expand_nested)

    # ----------------------------------------------------------- saving hooks
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the model as a Keras 3 ``.keras`` archive (config, metadata and weights)."""
        from tapeflow.keras.saving import saving_api  # noqa: PLC0415

        return saving_api.save_model(self, filepath, overwrite)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Saves the weights to a Keras 3 ``.weights.h5`` file."""
        from tapeflow.keras.saving import saving_api  # noqa: PLC0415

        return saving_api.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights saved by ``save_weights`` (or by Keras)."""
        from tapeflow.keras.saving import saving_api  # noqa: PLC0415

        return saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs):
        """The model's config as a JSON string."""
        from tapeflow.keras.saving import saving_api  # noqa: PLC0415

        return saving_api.model_to_json(self)

    def get_config(self):
        if self._functional is not None:
            from tapeflow.keras.saving import saving_api  # noqa: PLC0415

            return saving_api.functional_get_config(self)
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": K.serialize_dtype_policy(self.dtype_policy)}
        auto = {k: v for k, v in (self._auto_config or {}).items()
                if k not in ("name", "trainable", "dtype")}
        from tapeflow.keras.layers.layer import _jsonable  # noqa: PLC0415

        if all(_jsonable(v) for v in auto.values()):
            config.update(auto)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config and "input_layers" in config:
            from tapeflow.keras.saving import saving_api  # noqa: PLC0415

            return saving_api.functional_from_config(cls, config, custom_objects)
        return cls(**config)


def _shapes_of(struct):
    if struct is None:
        return None
    if isinstance(struct, KerasTensor):
        return struct.shape
    if isinstance(struct, dict):
        return {k: _shapes_of(v) for k, v in struct.items()}
    return [_shapes_of(v) for v in struct]
