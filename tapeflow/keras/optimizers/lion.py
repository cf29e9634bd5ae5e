"""Lion: sign-based updates."""

from tapeflow._backend import np
from tapeflow.keras.optimizers.optimizer import Optimizer


class Lion(Optimizer):
    """``w -= lr * sign(beta_1 m + (1 - beta_1) g)``; then ``m = beta_2 m + (1 - beta_2) g``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.Lion(learning_rate=0.1).apply_gradients([(tf.constant([5.0]), w)])
    >>> w.numpy().round(4)
    array([0.9], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(f"Argument for `beta_1` must be in the interval (0, 1]. "
                             f"Received: beta_1={beta_1}")
        if not 0 <= beta_2 <= 1:
            raise ValueError(f"Lion: `beta_2` must be in [0, 1]. Received: beta_2={beta_2}")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums = self.add_optimizer_variables(variables, "momentum")
        self._slot_attrs = ("_momentums",)

    def _delta(self, gradient, slots, learning_rate, dt):
        m = slots[0]
        step = m * dt(self.beta_1)
        step += gradient * dt(1 - self.beta_1)
        np.sign(step, out=step)
        step *= dt(learning_rate)
        m *= dt(self.beta_2)
        m += gradient * dt(1 - self.beta_2)
        return step, True

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2})
        return config
