"""Adamax: Adam with the infinity norm."""

from tapeflow._backend import np
from tapeflow.keras.optimizers.adam import _check_betas
from tapeflow.keras.optimizers.optimizer import Optimizer


class Adamax(Optimizer):
    """``m += (g - m)(1 - beta_1)``; ``u = max(beta_2 u, |g|)``;
    ``w -= lr m / ((1 - beta_1^t)(u + eps))``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.Adamax(learning_rate=0.1).apply_gradients([(tf.constant([2.0]), w)])
    >>> w.numpy().round(4)
    array([0.9], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        _check_betas("Adamax", beta_1=beta_1, beta_2=beta_2)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._m, self._u = self.add_optimizer_variables(variables, ["momentum", "norm"])
        self._slot_attrs = ("_m", "_u")

    def _delta(self, gradient, slots, learning_rate, dt):
        t = float(self._iterations._value) + 1.0
        b1p = float(dt(self.beta_1) ** dt(t))
        m, u = slots
        tmp = gradient - m
        tmp *= dt(1 - self.beta_1)
        m += tmp
        u *= dt(self.beta_2)
        np.maximum(u, np.abs(gradient), out=u)
        np.multiply(m, dt(learning_rate), out=tmp)
        tmp /= dt(1 - b1p) * (u + dt(self.epsilon))
        return tmp, True

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
