"""RMSprop."""

from tapeflow._backend import np
from tapeflow.keras.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    """Divides the gradient by a running root mean square of recent gradients.

    ``ms = rho * ms + (1 - rho) * g**2``; ``w -= lr * g / sqrt(ms + eps)`` (``centered``
    subtracts the squared running mean of g first; ``momentum`` accumulates the increments).

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> _ = keras.optimizers.RMSprop(learning_rate=0.01).apply_gradients([(tf.constant([2.0]), w)])
    >>> w.numpy().round(4)
    array([0.9684], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
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
            raise ValueError(f"RMSprop: `rho` must be in [0, 1]. Received: rho={rho}")
        if momentum < 0:
            raise ValueError(f"RMSprop: `momentum` must be >= 0. Received: momentum={momentum}")
        if epsilon < 0:
            raise ValueError(f"RMSprop: `epsilon` must be >= 0. Received: epsilon={epsilon}")
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._velocities = self.add_optimizer_variables(variables, "velocity")
        self._slot_attrs = ("_velocities",)
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(variables, "momentum")
            self._slot_attrs += ("_momentums",)
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(variables, "average_gradient")
            self._slot_attrs += ("_average_gradients",)

    def _delta(self, gradient, slots, learning_rate, dt):
        rho = dt(self.rho)
        vel = slots[0]
        vel *= rho
        vel += dt(1 - self.rho) * np.square(gradient)
        if self.centered:
            avg = slots[-1]
            avg *= rho
            avg += dt(1 - self.rho) * gradient
            denom = vel - np.square(avg)
            denom += dt(self.epsilon)
        else:
            denom = vel + dt(self.epsilon)
        np.sqrt(denom, out=denom)
        inc = gradient * dt(learning_rate)
        inc /= denom
        if self.momentum > 0:
            mom = slots[1]
            mom *= dt(self.momentum)
            mom += inc
            return mom, True
        return inc, True

    def _fast_part(self, p, arrays, lr):
        # ``_delta``'s operations in the same order, into two scratch buffers: g (the gradient,
        # then the increment) and s (g^2, then the denominator). Without ``centered`` the copy
        # of the gradients is fused with their two uses: s = g^2 and g = g * lr.
        dt = type(lr)
        compiled = None if self.centered or self.momentum > 0 else self._jit_part(p, arrays)
        if compiled is not None:        # the same operations, one pass (jit_kernels.py)
            k, pieces = compiled
            rho, c, eps = dt(self.rho), dt(1 - self.rho), dt(self.epsilon)
            k.rmsprop_update(*zip(*pieces), lr, rho, c, eps)
            return
        vel = p.bufs[0]
        s, s_views = p.scratch(0)
        g, g_views = p.scratch(1)
        rho = dt(self.rho)
        fused = not self.centered and self._fuse_gather()
        if fused:
            for a, sv, gv in zip(p.grads(arrays), s_views, g_views):
                np.square(a, out=sv)
                np.multiply(a, lr, out=gv)
        else:
            p.gather(arrays, g)
            np.square(g, out=s)
        s *= dt(1 - self.rho)
        vel *= rho
        vel += s
        if self.centered:
            avg = p.bufs[-1]
            avg *= rho
            np.multiply(g, dt(1 - self.rho), out=s)
            avg += s
            np.square(avg, out=s)
            np.subtract(vel, s, out=s)
            s += dt(self.epsilon)
        else:
            np.add(vel, dt(self.epsilon), out=s)
        np.sqrt(s, out=s)
        if not fused:
            g *= lr
        g /= s
        if self.momentum > 0:
            mom = p.bufs[1]
            mom *= dt(self.momentum)
            mom += g
            p.apply(p.slot_views[1], True)
        else:
            p.apply(g_views, True)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config
