"""SGD with optional (Nesterov) momentum."""

from tapeflow._backend import np
from tapeflow.keras.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent: ``v = momentum * v - lr * g; w += v`` (``w -= lr * g`` without momentum).

    With ``nesterov=True``: ``w += momentum * v - lr * g`` after updating ``v``.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> w = tf.Variable([1.0])
    >>> opt = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     _ = opt.apply_gradients([(tf.constant([1.0]), w)])
    >>> w.numpy().round(4)
    array([0.71], dtype=float32)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or \
                not 0 <= momentum <= 1:
            raise ValueError(f"SGD: `momentum` must be a float between [0, 1]. Received: "
                             f"momentum={momentum}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")
            self._slot_attrs = ("momentums",)

    def _delta(self, g, slots, learning_rate, dt):
        lr = dt(learning_rate)
        if self.momentum == 0:
            return g * lr, True
        m = slots[0]
        mom = dt(self.momentum)
        step = g * -lr
        m *= mom
        m += step                                   # m = momentum * m - lr * g
        if self.nesterov:
            step += m * mom
            return step, False
        return m, False

    # Split steps (``Optimizer._halves``): SGD makes two to four passes over the parameters
    # where Adam makes about ten, so the hand-off is paid back later. Measured split / one
    # thread on the idle 2-core machine: with momentum 1.25 at 2**18 parameters, 0.98 at 2**19,
    # 0.89 at 2**20; without momentum 1.76, 1.24, 1.10 (it starts paying above 2**20).
    _SPLIT_MIN = 1 << 20

    def _fast_step(self, arrays, lr, dt):
        if self.momentum == 0 and self._flat["size"] < 2 * self._SPLIT_MIN:
            self._plain_step(arrays, lr)        # never split: straight there (W4's 4-us step)
            return
        super()._fast_step(arrays, lr, dt)

    def _plain_step(self, arrays, lr):
        # No slots and an elementwise update: each variable is updated from its own gradient
        # (gathering them first would be a pass for nothing), through one scratch buffer of
        # the largest variable's size that stays in cache from one to the next. The rate as a
        # 0-d array and ``out`` given by position: on small variables (W4's) NumPy's handling
        # of a scalar operand and of keywords is most of each call (0.2 us instead of 0.4 us a
        # call).
        compiled = self._jit_part(self._flat["whole"], arrays)
        if compiled is not None:        # the same two operations, one pass (jit_kernels.py)
            k, pieces = compiled
            lr = self._flat["dtype"].type(lr)
            k.sgd_update(*zip(*pieces), lr)
            return
        tmp, rate = self._plain_scratch()
        rate[()] = lr                   # rounded to the dtype, as dt(lr)
        for g, v, t in zip(arrays, self._trainable_variables, tmp):
            w = v._value
            np.multiply(g, rate, t)
            np.subtract(w, t, w)

    def _fast_part(self, p, arrays, lr):
        # ``_delta``'s operations in the same order, with scratch buffers kept across steps.
        if self.momentum == 0:
            if p.all_whole:
                self._plain_step(arrays, lr)
                return
            # half of a split step: the pieces of the flat scratch buffer (the small one of
            # the whole step is shared)
            _, views = p.scratch(0)
            for g, t in zip(p.grads(arrays), views):
                np.multiply(g, lr, out=t)
            p.apply(views, True)
            return
        m = p.bufs[0]
        mom = type(lr)(self.momentum)
        step, step_views = p.scratch(0)
        if self._fuse_gather():
            for g, sv in zip(p.grads(arrays), step_views):
                np.multiply(g, -lr, out=sv)
        else:
            p.gather(arrays, step)
            step *= -lr
        m *= mom
        m += step                                   # m = momentum * m - lr * g
        if self.nesterov:
            tmp, _ = p.scratch(1)
            np.multiply(m, mom, out=tmp)
            step += tmp
            p.apply(step_views, False)
        else:
            p.apply(p.slot_views[0], False)

    def _plain_scratch(self):
        flat = self._flat
        plain = flat.get("plain")
        if plain is None:
            buf = np.empty(max((b - a for a, b in flat["slices"]), default=0), flat["dtype"])
            plain = flat["plain"] = ([buf[:b - a].reshape(shape) for (a, b), shape
                                      in zip(flat["slices"], flat["shapes"])],
                                     np.zeros((), flat["dtype"]))
        return plain

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config

