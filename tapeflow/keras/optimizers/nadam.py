"""Nadam: Adam with Nesterov momentum."""

from tapeflow._backend import np
from tapeflow.framework.variable import Variable
from tapeflow.keras.optimizers.adam import _check_betas
from tapeflow.keras.optimizers.optimizer import Optimizer


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras's momentum schedule 0.96.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.Nadam(learning_rate=0.1).apply_gradients([(tf.constant([2.0]), w)])
    >>> w.numpy().round(3)
    array([0.894], dtype=float32)
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
        _check_betas("Nadam", beta_1=beta_1, beta_2=beta_2)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        if self.built:
            return
        dtype = variables[0]._value.dtype if variables else np.float32
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"])
        # the running product of the momentum schedule, tracked after the slots (as in Keras)
        self._slot_attrs = ("_momentums", "_velocities")
        self._u_product = Variable(np.asarray(1.0, dtype), trainable=False, name="u_product")
        self._variables.append(self._u_product)

    def _before_update(self, lr):
        up = self._u_product._value
        t = float(self._iterations._value) + 1.0
        dt = up.dtype.type
        up *= dt(self.beta_1) * (dt(1.0) - dt(0.5) * dt(0.96) ** dt(t))

    def _delta(self, gradient, slots, learning_rate, dt):
        t = float(self._iterations._value)
        b1, b2 = dt(self.beta_1), dt(self.beta_2)
        u_t = b1 * (dt(1.0) - dt(0.5) * dt(0.96) ** dt(t + 1))
        u_t_1 = b1 * (dt(1.0) - dt(0.5) * dt(0.96) ** dt(t + 2))
        u_prod = dt(self._u_product._value)
        u_prod_1 = u_prod * u_t_1
        b2p = b2 ** dt(t + 1)
        m, v = slots
        tmp = gradient - m
        tmp *= dt(1) - b1
        m += tmp
        np.square(gradient, out=tmp)
        tmp -= v
        tmp *= dt(1) - b2
        v += tmp
        m_hat = m * (u_t_1 / (dt(1) - u_prod_1))
        m_hat += gradient * ((dt(1) - u_t) / (dt(1) - u_prod))
        np.divide(v, dt(1) - b2p, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += dt(self.epsilon)
        m_hat *= dt(learning_rate)
        m_hat /= tmp
        return m_hat, True

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
