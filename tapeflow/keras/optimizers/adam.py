"""Adam (with AMSGrad)."""

import math

from tapeflow._backend import np
from tapeflow.keras.optimizers.optimizer import Optimizer


def _check_betas(cls, **betas):
    for k, b in betas.items():
        if not 0.0 <= b < 1.0 + 1e-12:
            raise ValueError(f"{cls}: `{k}` must be in [0, 1]. Received: {k}={b}")


class Adam(Optimizer):
    """Adaptive moment estimation.

    ``m += (g - m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``,
    ``w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + eps)``; ``amsgrad`` uses the
    running maximum of v.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.Adam(learning_rate=0.1).apply_gradients([(tf.constant([3.0]), w)])
    >>> w.numpy().round(4)
    array([0.9], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        _check_betas(type(self).__name__, beta_1=beta_1, beta_2=beta_2)
        if epsilon < 0:
            raise ValueError(f"{type(self).__name__}: `epsilon` must be >= 0. Received: "
                             f"epsilon={epsilon}")
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"])
        self._slot_attrs = ("_momentums", "_velocities")
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(variables, "velocity_hat")
            self._slot_attrs += ("_velocity_hats",)

    def _alpha(self, learning_rate, dt):
        t = float(self._iterations._value) + 1.0
        b1p = float(dt(self.beta_1) ** dt(t))
        b2p = float(dt(self.beta_2) ** dt(t))
        return dt(learning_rate * math.sqrt(1.0 - b2p) / (1.0 - b1p))

    def _delta(self, gradient, slots, learning_rate, dt):
        alpha = self._alpha(learning_rate, dt)
        m, v = slots[0], slots[1]
        tmp = gradient - m
        tmp *= dt(1 - self.beta_1)
        m += tmp
        np.square(gradient, out=tmp)
        tmp -= v
        tmp *= dt(1 - self.beta_2)
        v += tmp
        if self.amsgrad:
            vh = slots[2]
            np.maximum(vh, v, out=vh)
            v = vh
        np.sqrt(v, out=tmp)
        tmp += dt(self.epsilon)
        np.divide(m * alpha, tmp, out=tmp)
        return tmp, True

    def _fast_consts(self, lr, dt):
        return self._alpha(lr, dt)

    def _fast_part(self, p, arrays, alpha):
        # ``_delta``'s operations in the same order, into two scratch buffers (t1: g - m, then
        # the step; t2: g^2 - v, then the denominator). On large variables the copy of the
        # gradients is fused with their two uses (g - m and g^2).
        dt = type(alpha)
        compiled = None if self.amsgrad else self._jit_part(p, arrays)
        if compiled is not None:        # the same operations, one pass (jit_kernels.py)
            k, pieces = compiled
            c1, c2, eps = dt(1 - self.beta_1), dt(1 - self.beta_2), dt(self.epsilon)
            k.adam_update(*zip(*pieces), alpha, c1, c2, eps)
            return
        m, v = p.bufs[0], p.bufs[1]
        t1, t1_views = p.scratch(0)
        t2, t2_views = p.scratch(1)
        if self._fuse_gather():
            for a, mv, x1, x2 in zip(p.grads(arrays), p.slot_views[0], t1_views, t2_views):
                np.subtract(a, mv, out=x1)
                np.square(a, out=x2)
        else:
            p.gather(arrays, t2)
            np.subtract(t2, m, out=t1)
            np.square(t2, out=t2)
        t1 *= dt(1 - self.beta_1)
        m += t1
        t2 -= v
        t2 *= dt(1 - self.beta_2)
        v += t2
        if self.amsgrad:
            vh = p.bufs[2]
            np.maximum(vh, v, out=vh)
            v = vh
        np.sqrt(v, out=t2)
        t2 += dt(self.epsilon)
        np.multiply(m, alpha, out=t1)
        t1 /= t2
        p.apply(t1_views, True)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config
