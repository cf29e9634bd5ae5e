"""FTRL-proximal."""

from tapeflow._backend import np
from tapeflow.keras.optimizers.optimizer import Optimizer


class Ftrl(Optimizer):
    """Follow-the-regularized-leader with L1/L2 (and L2 shrinkage) regularization.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.Ftrl(learning_rate=0.1).apply_gradients([(tf.constant([1.0]), w)])
    >>> w.numpy().round(4)
    array([0.6031], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if initial_accumulator_value < 0.0:
            raise ValueError(f"`initial_accumulator_value` needs to be positive or zero. "
                             f"Received: initial_accumulator_value={initial_accumulator_value}.")
        if learning_rate_power > 0.0:
            raise ValueError(f"`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        for k, val in (("l1_regularization_strength", l1_regularization_strength),
                       ("l2_regularization_strength", l2_regularization_strength),
                       ("l2_shrinkage_regularization_strength",
                        l2_shrinkage_regularization_strength)):
            if val < 0.0:
                raise ValueError(f"`{k}` needs to be positive or zero. Received: {k}={val}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        from tapeflow.keras.initializers import Constant

        self._accumulators, self._linears = self.add_optimizer_variables(
            variables, ["accumulator", "linear"],
            [Constant(self.initial_accumulator_value), "zeros"])

    def update_step(self, gradient, variable, learning_rate):
        w = variable._value
        dt = w.dtype.type
        i = self._var_index(variable)
        lr = dt(learning_rate)
        acc = self._accumulators[i]._value
        lin = self._linears[i]._value
        p = dt(-self.learning_rate_power)
        l1 = dt(self.l1_regularization_strength)
        l2 = dt(self.l2_regularization_strength) + dt(self.beta) / (dt(2.0) * lr)
        grad = gradient + dt(2 * self.l2_shrinkage_regularization_strength) * w
        new_acc = acc + np.square(gradient)
        new_acc_p = np.power(new_acc, p)
        sigma = (new_acc_p - np.power(acc, p)) / lr
        lin += grad - sigma * w
        quadratic = new_acc_p / lr + dt(2) * l2
        w[...] = (np.clip(lin, -l1, l1) - lin) / quadratic
        acc[...] = new_acc

    def get_config(self):
        config = super().get_config()
        config.update({"learning_rate_power": self.learning_rate_power,
                       "initial_accumulator_value": self.initial_accumulator_value,
                       "l1_regularization_strength": self.l1_regularization_strength,
                       "l2_regularization_strength": self.l2_regularization_strength,
                       "l2_shrinkage_regularization_strength":
                           self.l2_shrinkage_regularization_strength,
                       "beta": self.beta})
        return config
