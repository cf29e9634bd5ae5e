"""``keras.Sequential``: a linear stack of layers."""

from tapeflow.keras import backend as K
from tapeflow.keras.layers import layer as _layer_mod
from tapeflow.keras.layers.input_layer import InputLayer
from tapeflow.keras.layers.layer import Layer, _structure_changed
from tapeflow.keras.layers.node import KerasTensor
from tapeflow.keras.models.model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A stack of layers, each feeding the next.

    Give the input shape with ``keras.Input`` first, with ``input_shape=`` on the first layer,
    or let the model build on its first call.

    Args:
      layers: optional list of layers (an ``Input`` tensor may come first).
      trainable: whether the model's weights are trained.
      name: the model's name (default ``sequential``, made unique).

    >>> from tapeflow import keras
    >>> keras.backend.clear_session()   # restart the automatic names (dense, dense_1, ...)
    >>> model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> model.output_shape, [w.path for w in model.weights][:2]
    ((None, 3), ['sequential/dense/kernel', 'sequential/dense/bias'])
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        Layer.__init__(self, trainable=trainable,
                       name=name or K.unique_object_name("sequential"), **kwargs)
        self.__dict__["_functional"] = None
        self.__dict__["_input_layer"] = None
        self.__dict__["_outputs_kt"] = None
        self.__dict__["_call_layers_memo"] = None   # (_VERSION, layers): see _memo_call_layers
        from tapeflow.keras.trainer import Trainer  # noqa: PLC0415

        Trainer.__init__(self)
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._rebuild()

    @property
    def layers(self):
        """The layers, without the InputLayer."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def add(self, layer, rebuild=True):
        """Appends a layer (or a ``keras.Input`` tensor, as the first element).

        Raises:
          TypeError: for something that is not a layer.
          ValueError: for a duplicate layer name or an Input after other layers.
        """
        if isinstance(layer, KerasTensor) and layer._keras_history is not None and \
                isinstance(layer._keras_history.operation, InputLayer):
            layer = layer._keras_history.operation
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"Sequential model '{self.name}' has already been configured "
                                 f"to use an input; an InputLayer can only come first. Received "
                                 f"{layer.name}.")
            self.__dict__["_input_layer"] = layer
            self._layers.append(layer)
            _structure_changed()
            if rebuild:   # `add(keras.Input(...))` then `add(Dense)`: the graph starts here
                self._rebuild()
            return
        names = [x.name for x in self._layers]
        if layer.name in names:
            raise ValueError(f"All layers added to a Sequential model should have unique names. "
                             f"Name '{layer.name}' is already the name of a layer in this model. "
                             f"Update the `name` argument to pass a unique name.")
        if not self._layers and getattr(layer, "_input_shape_arg", None) is not None:
            inp = InputLayer(batch_shape=layer._input_shape_arg)
            self.__dict__["_input_layer"] = inp
            self._layers.append(inp)
        self._layers.append(layer)
        _structure_changed()
        if rebuild:
            self._extend_graph(layer)

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        layers = self.layers
        if not layers:
            raise TypeError("There are no layers in the model.")
        last = layers[-1]
        self._layers.remove(last)
        _structure_changed()
        if rebuild:
            self._rebuild()
        return last

    def _rebuild(self):
        if self._input_layer is None:
            self.__dict__["_outputs_kt"] = None
            self.built = False
            return
        self.__dict__["_outputs_kt"] = self._input_layer.output
        for layer in self.layers:
            self._extend_graph(layer)

    def _extend_graph(self, layer):
        if self._outputs_kt is None:
            return
        with K.name_scope(self.name):
            self.__dict__["_outputs_kt"] = layer(self._outputs_kt)
        self.built = True
        self.__dict__["_build_shapes"] = {"input_shape": self._input_layer.batch_shape}

    def build(self, input_shape=None):
        """Adds an InputLayer of shape ``input_shape`` (batch axis included) and builds."""
        if self._input_layer is None:
            if input_shape is None:
                raise ValueError("You must provide an `input_shape` argument.")
            # The batch axis stays unknown (Keras keeps the first batch's size; None avoids
            # inferring shapes on a copy of a whole data set passed in one call).
            inp = InputLayer(batch_shape=(None,) + tuple(input_shape)[1:])
            self.__dict__["_input_layer"] = inp
            self._layers.insert(0, inp)
            _structure_changed()
        self._rebuild()
        self.built = True

    def _maybe_build(self, args, kwargs):
        if self.built:
            return
        from tapeflow.keras.layers.layer import _build_shapes  # noqa: PLC0415

        shapes = _build_shapes(type(self), args, kwargs)
        shape = shapes.get("input_shape")
        if isinstance(shape, tuple):
            with K.name_scope(self.name):
                self.build(shape)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for layer in self._memo_call_layers():
            x = layer(x)
        return x

    def _memo_call_layers(self):
        # ``layers``, kept while no layer changes (a call per step need not rebuild the list)
        cache = self.__dict__.get("_call_layers_memo")
        version = _layer_mod._VERSION[0]
        if cache is not None and cache[0] == version and type(self).layers is Sequential.layers:
            return cache[1]
        layers = self.layers
        self.__dict__["_call_layers_memo"] = (version, layers)
        return layers

    def compute_output_spec(self, *args, **kwargs):
        return Layer.compute_output_spec(self, *args, **kwargs)

    @property
    def inputs(self):
        return None if self._input_layer is None else [self._input_layer.output]

    @property
    def outputs(self):
        return None if self._outputs_kt is None else [self._outputs_kt]

    @property
    def input(self):
        return None if self._input_layer is None else self._input_layer.output

    @property
    def output(self):
        return self._outputs_kt

    @property
    def input_shape(self):
        return None if self._input_layer is None else self._input_layer.batch_shape

    @property
    def output_shape(self):
        return None if self._outputs_kt is None else self._outputs_kt.shape

    @property
    def output_names(self):
        layers = self.layers
        return [layers[-1].name] if layers else []

    def get_config(self):
        from tapeflow.keras.saving import saving_api  # noqa: PLC0415

        return saving_api.sequential_get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from tapeflow.keras.saving import saving_api  # noqa: PLC0415

        return saving_api.sequential_from_config(cls, config, custom_objects)
