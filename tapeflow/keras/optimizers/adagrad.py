"""Adagrad."""

from tapeflow._backend import np
from tapeflow.keras.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    """Per-parameter learning rates from the sum of squared gradients.

    ``acc += g**2``; ``w -= lr * g / sqrt(acc + eps)`` (``acc`` starts at
    ``initial_accumulator_value``).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.Adagrad(learning_rate=0.1).apply_gradients([(tf.constant([1.0]), w)])
    >>> w.numpy().round(4)
    array([0.9047], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if initial_accumulator_value < 0:
            raise ValueError(f"Adagrad: `initial_accumulator_value` must be >= 0. Received: "
                             f"initial_accumulator_value={initial_accumulator_value}")
        if epsilon < 0:
            raise ValueError(f"Adagrad: `epsilon` must be >= 0. Received: epsilon={epsilon}")
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        from tapeflow.keras.initializers import Constant

        self._accumulators = self.add_optimizer_variables(
            variables, "accumulator", Constant(self.initial_accumulator_value))
        self._slot_attrs = ("_accumulators",)

    def _delta(self, gradient, slots, learning_rate, dt):
        acc = slots[0]
        acc += np.square(gradient)
        denom = acc + dt(self.epsilon)
        np.sqrt(denom, out=denom)
        step = gradient * dt(learning_rate)
        step /= denom
        return step, True

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config
