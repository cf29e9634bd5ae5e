"""Adadelta."""

from tapeflow._backend import np
from tapeflow.keras.optimizers.optimizer import Optimizer


class Adadelta(Optimizer):
    """Step sizes from running averages of squared gradients and squared updates.

    ``Eg = rho Eg + (1 - rho) g^2``; ``d = -sqrt(Ed + eps) / sqrt(Eg + eps) * g``;
    ``Ed = rho Ed + (1 - rho) d^2``; ``w += lr * d``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.Adadelta(learning_rate=1.0).apply_gradients([(tf.constant([1.0]), w)])
    >>> w.numpy().round(4)
    array([0.9986], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: `rho` must be in [0, 1]. Received: rho={rho}")
        if epsilon < 0:
            raise ValueError(f"Adadelta: `epsilon` must be >= 0. Received: epsilon={epsilon}")
        self.rho, self.epsilon = rho, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            variables, ["accumulated_grad", "accumulated_delta_var"])
        self._slot_attrs = ("_accumulated_grads", "_accumulated_delta_vars")

    def _delta(self, gradient, slots, learning_rate, dt):
        rho, eps = dt(self.rho), dt(self.epsilon)
        eg, ed = slots
        eg *= rho
        eg += dt(1 - self.rho) * np.square(gradient)
        delta = np.sqrt(ed + eps)
        delta *= gradient
        delta /= np.sqrt(eg + eps)
        np.negative(delta, out=delta)
        ed *= rho
        ed += dt(1 - self.rho) * np.square(delta)
        delta *= dt(learning_rate)
        return delta, False

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
