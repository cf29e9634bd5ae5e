"""The optimizer base class: Keras 3's ``apply_gradients`` pipeline, in place on NumPy arrays.

``apply_gradients`` drops ``None`` gradients, clips (``clipnorm``, ``clipvalue``,
``global_clipnorm``), applies decoupled ``weight_decay``, calls each subclass's
``update_step(grad, variable, learning_rate)`` on raw arrays, increments ``iterations``, updates
the EMA when ``use_ema`` and finally applies each variable's constraint.

``variables`` follows Keras 3's order: ``[iterations, learning_rate (when not a schedule),
EMA averages, slots...]`` so that ``optimizer/vars/<i>`` in Keras files line up.
"""

import re
import warnings

from tapeflow._backend import blas, np
from tapeflow._backend import jit as _jit
from tapeflow._backend import worker as _worker
from tapeflow.framework.tensor import _TensorLike
from tapeflow.framework.variable import Variable
from tapeflow.keras._objects import to_snake_case
from tapeflow.keras.backend import unique_object_name
from tapeflow.keras.optimizers import schedules as _schedules

__all__ = ["Optimizer"]


def _as_array(g, dtype):
    if isinstance(g, _TensorLike):
        g = g._value
    elif hasattr(g, "values") and hasattr(g, "indices") and hasattr(g, "dense_shape"):
        dense = np.zeros(tuple(int(d) for d in np.asarray(getattr(g.dense_shape, "_value",
                                                                  g.dense_shape))), dtype)
        np.add.at(dense, np.asarray(getattr(g.indices, "_value", g.indices)),
                  np.asarray(getattr(g.values, "_value", g.values)))
        return dense
    else:
        g = np.asarray(g)
    return g if g.dtype == dtype else g.astype(dtype)


def _check_positive(value, name, cls, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{cls}: argument `{name}` must be a number, received {name}={value!r}.")
    if value < 0:
        raise ValueError(f"{cls}: argument `{name}` must be >= 0, received {name}={value}.")
    return float(value)


def _has_fast_step(cls):
    """Whether ``cls`` may use its ``_fast_part``: the class that defines it must also define the
    ``_delta`` in effect (a subclass overriding ``_delta`` changes the numbers, so it keeps the
    reference path)."""
    for k in cls.__mro__:
        if "_fast_part" in k.__dict__:
            return k.__dict__["_fast_part"] is not None and k.__dict__.get("_delta") is cls._delta
    return False


def _aligned_empty(n, dtype):
    """``np.empty(n, dtype)`` starting on a 64-byte boundary: the flat buffers are cut in two at
    a multiple of 64 bytes, so the two threads of a split step never write the same cache line
    of them."""
    raw = np.empty(n * dtype.itemsize + 64, np.uint8)
    start = -raw.__array_interface__["data"][0] % 64
    return raw[start:start + n * dtype.itemsize].view(dtype)


def _root(a):
    """The object that owns ``a``'s memory (the end of its ``base`` chain)."""
    while True:
        b = a.base
        if b is None:
            return a
        if not isinstance(b, np.ndarray):
            return b
        a = b


_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class _Part:
    """Elements ``lo:hi`` of an optimizer's flat buffers, as the fast steps see them.

    ``pieces``: ``(i, s, e, whole)`` for each variable ``i`` that has elements in the range
    (elements ``s:e`` of its flattened array; ``whole`` when all of them). A whole variable's
    views keep its shape (a gradient is read, and a variable updated, as they are); a piece of a
    variable cut by the range is 1-D (read and written through ``reshape(-1)``).
    """

    __slots__ = ("opt", "lo", "hi", "pieces", "all_whole", "bufs", "slot_views", "_scratch")

    def __init__(self, opt, lo, hi, every=False):
        flat = opt._flat
        self.opt, self.lo, self.hi = opt, lo, hi
        pieces = []
        for i, (a, b) in enumerate(flat["slices"]):
            s, e = max(a, lo), min(b, hi)
            if s < e or every:          # the whole part keeps empty variables too (no-ops)
                pieces.append((i, s - a, e - a, a >= lo and b <= hi))
        self.pieces = pieces
        self.all_whole = every
        self.bufs = [buf[lo:hi] for buf in flat["bufs"]]
        self.slot_views = [self.views(buf) for buf in flat["bufs"]]
        self._scratch = []

    def views(self, buf):
        """``buf``'s view of each piece."""
        flat = self.opt._flat
        out = []
        for i, s, e, whole in self.pieces:
            a = flat["slices"][i][0]
            out.append(buf[a:a + e].reshape(flat["shapes"][i]) if whole else buf[a + s:a + e])
        return out

    def scratch(self, k):
        """The range of the optimizer's scratch buffer ``k`` and its pieces' views."""
        sc = self._scratch
        while len(sc) <= k:
            buf = self.opt._scratch(len(sc))[0]
            sc.append((buf[self.lo:self.hi], self.views(buf)))
        return sc[k]

    def grads(self, arrays):
        """The pieces of the gradients ``arrays`` (one per variable of the model)."""
        if self.all_whole:
            return arrays
        return [arrays[i] if whole else arrays[i].reshape(-1)[s:e]
                for i, s, e, whole in self.pieces]

    def gather(self, arrays, out):
        """Copies the pieces of the gradients into ``out`` (the range of a flat buffer)."""
        np.concatenate([g.reshape(-1) for g in self.grads(arrays)], out=out)
        return out

    def flat_pieces(self, arrays):
        """For a compiled step: ``(variable, gradient, *slots)`` of each piece as 1-D arrays
        (the variable's and the slots' are views written in place), or None when a variable
        cannot be written through a flat view (not C-contiguous)."""
        tv = self.opt._trainable_variables
        out = []
        for (i, s, e, whole), g, *slots in zip(self.pieces, self.grads(arrays),
                                                *self.slot_views):
            w = tv[i]._value
            if not w.flags.c_contiguous:
                return None
            w = w.reshape(-1)
            out.append((w if whole else w[s:e], np.ascontiguousarray(g).reshape(-1),
                        *(v.reshape(-1) for v in slots)))
        return out

    def apply(self, views, subtract):
        """Changes each piece of the variables by ``-view`` (``subtract``) or ``+view``."""
        op = np.subtract if subtract else np.add
        tv = self.opt._trainable_variables
        if self.all_whole:
            for v, d in zip(tv, views):
                w = v._value
                op(w, d, w)             # ``out`` by position: cheaper on small variables
            return
        for (i, s, e, whole), d in zip(self.pieces, views):
            w = tv[i]._value
            if not whole:
                w = w.reshape(-1)[s:e]  # a view: checked C-contiguous before the split
            op(w, d, w)


class Optimizer:
    """Base class of every optimizer (``keras.optimizers.Optimizer``).

    Args:
      learning_rate: a float, a ``LearningRateSchedule`` or a zero-argument callable.
      weight_decay: decoupled weight decay: ``var -= lr * weight_decay * var`` before the step.
      clipnorm: clip each gradient to this L2 norm.
      clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
      global_clipnorm: clip all gradients together to this joint L2 norm.
      use_ema: keep an exponential moving average of the weights (``ema_momentum``), copied
        into the weights every ``ema_overwrite_frequency`` steps.
      loss_scale_factor: gradients are divided by it (``scale_loss`` multiplies by it).
      gradient_accumulation_steps: update only every N steps with the mean gradient.
      name: the optimizer's name (default: the class name in snake case).

    A subclass implements ``build(var_list)`` (creating slots with ``add_variable_from_reference``)
    and ``update_step(gradient, variable, learning_rate)`` working on ``variable._value`` in place.

    >>> import tapeflow as tf
    >>> from tapeflow import keras
    >>> v = tf.Variable([1.0, 2.0])
    >>> opt = keras.optimizers.SGD(learning_rate=0.5)
    >>> _ = opt.apply_gradients([(tf.constant([1.0, 1.0]), v)])
    >>> v.numpy(), int(opt.iterations)
    (array([0.5, 1.5], dtype=float32), 1)
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        cls = type(self).__name__
        kwargs.pop("decay", None)
        kwargs.pop("jit_compile", None)
        if "lr" in kwargs:
            raise ValueError(f"{cls}: argument `lr` is no longer supported; use "
                             f"`learning_rate` instead.")
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword arguments {sorted(kwargs)}.")
        # Keras: a given name is kept as is; the default is made unique (adam, adam_1, ...).
        self.name = str(name) if name else unique_object_name(to_snake_case(cls))
        self.weight_decay = _check_positive(weight_decay, "weight_decay", cls)
        self.clipnorm = _check_positive(clipnorm, "clipnorm", cls)
        self.clipvalue = _check_positive(clipvalue, "clipvalue", cls)
        self.global_clipnorm = _check_positive(global_clipnorm, "global_clipnorm", cls)
        if sum(x is not None for x in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.use_ema = bool(use_ema)
        if use_ema and not 0.0 <= ema_momentum <= 1.0:
            raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: "
                             f"ema_momentum={ema_momentum}")
        if use_ema and ema_overwrite_frequency is not None and (
                not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1):
            raise ValueError(f"`ema_overwrite_frequency` must be an integer >= 1 or None. "
                             f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if loss_scale_factor is not None and loss_scale_factor <= 0:
            raise ValueError(f"{cls}: argument `loss_scale_factor` must be > 0, received "
                             f"loss_scale_factor={loss_scale_factor}.")
        self.loss_scale_factor = loss_scale_factor
        if gradient_accumulation_steps is not None and (
                not isinstance(gradient_accumulation_steps, int)
                or gradient_accumulation_steps < 2):
            raise ValueError(f"`gradient_accumulation_steps` must be an integer >= 2. "
                             f"Received: gradient_accumulation_steps="
                             f"{gradient_accumulation_steps}")
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._index = {}
        self._exclude_ids = set()
        self._exclude_names = []
        self._flat = None
        self._iterations = Variable(np.int64(0), trainable=False, name="iteration")
        self._variables.append(self._iterations)
        self._learning_rate = self._build_learning_rate(learning_rate)

    # ---------------------------------------------------------------------------------------
    # learning rate and iterations

    def _build_learning_rate(self, learning_rate):
        if isinstance(learning_rate, _schedules.LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, _TensorLike)):
            return learning_rate
        try:
            value = float(learning_rate)
        except (TypeError, ValueError):
            raise ValueError(f"{type(self).__name__}: argument `learning_rate` must be a float, a "
                             f"LearningRateSchedule or a callable, received "
                             f"learning_rate={learning_rate!r}.") from None
        if not value >= 0.0:
            raise ValueError(f"{type(self).__name__}: argument `learning_rate` must be >= 0, "
                             f"received learning_rate={learning_rate}.")
        var = Variable(np.float32(value), trainable=False, name="learning_rate")
        self._variables.append(var)
        return var

    @property
    def iterations(self):
        """The number of update steps applied so far (an int64 Variable)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations.assign(value)

    @property
    def learning_rate(self):
        """The current learning rate: the Variable, or the schedule's value at ``iterations``."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return lr
        if isinstance(lr, _schedules.LearningRateSchedule):
            return lr(self._iterations)
        return lr()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, _schedules.LearningRateSchedule) or (
                callable(value) and not isinstance(value, _TensorLike)):
            self._learning_rate = value
            return
        if not isinstance(self._learning_rate, Variable):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as "
                            "its `learning_rate` constructor argument, hence its learning rate "
                            "is not settable. If you need the learning rate to be settable, you "
                            "should instantiate the optimizer with a float `learning_rate` "
                            "argument.")
        if float(value) < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, received "
                             f"{float(value)}.")
        self._learning_rate.assign(float(value))

    def _current_lr(self):
        lr = self.learning_rate
        return float(lr._value if isinstance(lr, _TensorLike) else lr)

    @property
    def variables(self):
        """The optimizer's variables in Keras 3's order (iterations, learning rate, slots)."""
        return list(self._variables)

    # ---------------------------------------------------------------------------------------
    # building and slots

    def build(self, variables):
        """Records the trainable variables; subclasses then create their slots."""
        if self.use_ema:
            self._model_variables_moving_average = [
                self.add_variable_from_reference(v, "average") for v in variables]
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = [
                self.add_variable_from_reference(v, "gradient_accumulator") for v in variables]
        self._trainable_variables = list(variables)
        self._index = {id(v): i for i, v in enumerate(variables)}
        self.built = True

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="mean",
                     name=None):
        """Creates an optimizer variable (tracked in ``variables``)."""
        from tapeflow.keras import initializers

        init = initializers.get(initializer)
        value = init(tuple(shape), dtype=dtype or "float32")
        var = Variable(value, trainable=False, name=name or "variable")
        self._variables.append(var)
        return var

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot variable with the shape and dtype of ``reference_variable``."""
        ref_name = getattr(reference_variable, "path", None) or "variable"
        ref_name = str(ref_name).replace("/", "_").replace(":0", "")
        arr = reference_variable._value
        if initializer == "zeros":
            value = np.zeros(arr.shape, arr.dtype)
        else:
            from tapeflow.keras import initializers

            value = initializers.get(initializer)(arr.shape, dtype=arr.dtype.name)._value
        var = Variable(value, trainable=False, name=f"{ref_name}_{name}")
        self._variables.append(var)
        return var

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """Slots for every variable; with a list of names they are interleaved per variable."""
        names = [name] if isinstance(name, str) else list(name)
        inits = list(initializer) if isinstance(initializer, (list, tuple)) else \
            [initializer] * len(names)
        out = tuple([] for _ in names)
        for v in trainable_variables:
            for i, (n, init) in enumerate(zip(names, inits)):
                out[i].append(self.add_variable_from_reference(v, n, init))
        return out[0] if isinstance(name, str) else out

    def _var_index(self, variable):
        return self._index[id(variable)]

    _get_variable_index = _var_index

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempts variables (objects, or regexes searched in their names) from weight decay."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the "
                             "optimizer is built.")
        self._exclude_ids.update(id(v) for v in (var_list or []))
        self._exclude_names.extend(var_names or [])

    def _use_weight_decay(self, variable):
        if id(variable) in self._exclude_ids:
            return False
        name = getattr(variable, "name", "")
        return not any(re.search(p, name) for p in self._exclude_names)

    # ---------------------------------------------------------------------------------------
    # applying gradients

    def apply_gradients(self, grads_and_vars):
        """Applies ``(gradient, variable)`` pairs; returns ``iterations``.

        >>> import tapeflow as tf
        >>> from tapeflow import keras
        >>> v = tf.Variable(1.0)
        >>> _ = keras.optimizers.SGD(0.1).apply_gradients(zip([tf.constant(2.0)], [v]))
        >>> round(float(v), 4)
        0.8
        """
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Applies ``grads`` to ``trainable_variables`` (those given to ``build`` if None)."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must "
                                 "already be built on a list of variables. Call "
                                 "`optimizer.build(trainable_variables)` first.")
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if len(grads) != len(trainable_variables):
                raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for "
                                 f"{len(trainable_variables)} variables.")
            if not self.built:
                self.build(trainable_variables)
                self.built = True
            for v in trainable_variables:
                if id(v) not in self._index:
                    raise ValueError(f"Unknown variable: {v!r}. This optimizer can only be "
                                     f"called for the variables it was originally built with. "
                                     f"When working with a new set of variables, you should "
                                     f"recreate a new optimizer instance.")
        # One pass over the pairs: drop None gradients, take the arrays (a Tensor's directly:
        # this runs every step, and on W4's four tiny variables its cost is visible), check
        # the shapes (raised after the missing-gradients warning, as before).
        variables, arrays, bad = [], [], None
        for g, v in zip(grads, trainable_variables):
            if g is None:
                continue
            w = v._value
            if isinstance(g, _TensorLike):
                a = g._value
                if a.dtype != w.dtype:
                    a = a.astype(w.dtype)
            else:
                a = _as_array(g, w.dtype)
            if bad is None and a.shape != w.shape:
                bad = (a, v)
            variables.append(v)
            arrays.append(a)
        if len(variables) < len(grads):
            missing = [getattr(v, "path", None) or v.name
                       for g, v in zip(grads, trainable_variables) if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          f"loss. If using `model.compile()`, did you forget to provide a `loss` "
                          f"argument?", stacklevel=3)
        if not variables:
            return
        if bad is not None:
            a, v = bad
            raise ValueError(f"{type(self).__name__}: the gradient for variable {v.name!r} "
                             f"has shape {a.shape}, expected the variable's shape "
                             f"{v._value.shape}.")
        if self.loss_scale_factor is not None:
            arrays = [g / self.loss_scale_factor for g in arrays]
        arrays = self._clip_gradients(arrays)
        lr = self._current_lr()
        self._apply_weight_decay(variables, lr)
        if self.gradient_accumulation_steps:
            self._accumulate_and_update(arrays, variables, lr)
        else:
            self._update_all(arrays, variables, lr)
        if self.use_ema:
            self._update_ema(variables)
        it = self._iterations._value
        it[()] = it[()] + 1             # in place; `it += 1` on a 0-d array is 10x slower
        for v in variables:
            constraint = getattr(v, "constraint", None)
            if constraint is not None:
                v.assign(constraint(v))

    def _update_all(self, arrays, variables, lr):
        self._before_update(lr)
        if self._flat is not False and self._flat_ready(variables):
            self._flat_update(arrays, lr)
            return
        for g, v in zip(arrays, variables):
            self.update_step(g, v, lr)

    def _before_update(self, lr):
        """Hook run once per step before the per-variable updates (Nadam's schedule)."""

    # The fused path: every slot of one kind lives in one flat buffer (the slot Variables hold
    # views of it), so one step is ~a dozen NumPy calls for the whole model instead of a dozen
    # per variable. Subclasses opt in by implementing ``_delta(g, slots, lr, dt)`` (returning
    # ``(d, subtract)``: the variable changes by -d or +d) and listing ``_slot_attrs``.
    #
    # A subclass may also implement ``_fast_part(part, arrays, consts)`` (with
    # ``_fast_consts(lr, dt)``): the same update as its ``_delta``, operation for operation (so
    # the numbers are bit-identical), written with ``out=`` into scratch buffers kept across
    # steps instead of temporaries, and applying the variables' change itself
    # (``part.apply``), over the elements of a ``_Part`` of the flat buffers. Each NumPy call
    # over the flat buffers is one pass over all the parameters (1.6 MB for W1), and on this
    # kind of machine such a step is bound by those passes: every temporary, and the
    # gradients' concatenation, is one more. ``_delta`` stays the reference: the per-variable
    # path and subclasses that override it use it.
    #
    # Every operation of those steps is elementwise, so the flat buffers can be cut in two
    # halves updated at the same time, the second by a helper thread (``_worker``: NumPy
    # releases the GIL inside its loops), with the same numbers bit for bit. That pays only
    # while the other core is free and the step is large, so a step is split only inside a
    # Keras loop whose BLAS chooser runs this step's large products on all threads
    # (``blas._state["mode"]`` 0, or a fixed count above 1): it measures whole steps, so when
    # the split makes steps slower (the other core busy) it moves to one thread, which turns
    # the split off as well. And only where OpenBLAS's idle threads stop spinning right after
    # their products (``_worker.enabled``: ``OPENBLAS_THREAD_TIMEOUT`` <= 16); with OpenBLAS's
    # default spin the helper shares the second core with a spinning BLAS thread and W1's
    # epochs were 5-15% slower split than not (5-15% faster with the timeout at 4).

    _fast_part = None
    # Below this many parameters per variable (on average), gathering the gradients with one
    # concatenate is cheaper than fusing the copy into two ufunc calls per variable (about
    # 0.4 us each, against ~0.05-0.1 ns per element for the pass saved). Measured: the two
    # are even around a few thousand; W3's Adam (15k per variable) is 43 us fused, 47 us not.
    _FUSE_MIN_PER_VAR = 8192
    # Steps over fewer parameters than this stay on one thread: the hand-off to the helper and
    # back costs 10-50 us (waking a sleeping core on a VM is the larger figure). Measured on the
    # idle 2-core machine (``benchmarks/bench_optim_split.py``), split / one thread: RMSprop
    # 1.06 at 2**17 parameters, 0.78 at 2**18, 0.62 at 2**20; Adam 0.99, 0.73, 0.54. SGD,
    # with fewer passes per step, sets its own.
    _SPLIT_MIN = 1 << 18
    # From this many parameters a subclass's compiled step (``tapeflow[jit]``) replaces its
    # ``_fast_part``'s NumPy calls when the kernels are available: one pass over memory
    # instead of ~ten, the same numbers bit for bit. Below it the NumPy calls stay (W4's
    # 4-us steps would pay the compiled call's dispatch for nothing).
    _JIT_MIN = 1 << 14

    def _jit_part(self, p, arrays):
        """``(kernels, pieces)`` for a compiled step over part ``p``, or None (no kernels, a
        small or non-float model, or a variable not writable through a flat view)."""
        flat = self._flat
        if flat["size"] < self._JIT_MIN or flat["dtype"] not in _JIT_DTYPES:
            return None
        k = _jit.kernels()
        if k is None:
            return None
        pieces = p.flat_pieces(arrays)
        return None if pieces is None else (k, pieces)

    def _flat_ready(self, variables):
        flat = self._flat
        if flat is None:
            flat = self._setup_flat()
            if flat is False:
                return False
        tv = self._trainable_variables
        if len(variables) != len(tv):
            return False
        for v, t in zip(variables, tv):
            if v is not t:
                return False
        for var, view in flat["views"]:
            if var._value is not view:      # a slot's array was replaced: rebuild the buffers
                return self._setup_flat() is not False
        return True

    def _setup_flat(self):
        cls = type(self)
        ok = (getattr(cls, "_delta", None) is not None and cls.update_step is Optimizer.update_step
              and self.built and not self.gradient_accumulation_steps)
        arrays = [v._value for v in self._trainable_variables]
        ok = ok and bool(arrays)
        if ok:
            dtype = arrays[0].dtype
            ok = dtype.kind == "f" and all(a.dtype == dtype for a in arrays)
        if not ok:
            self._flat = False
            return False
        sizes = [a.size for a in arrays]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        slices = [(int(offsets[i]), int(offsets[i + 1])) for i in range(len(arrays))]
        bufs, views, slot_views = [], [], []
        for attr in self._slot_attrs:
            slots = getattr(self, attr)
            buf = _aligned_empty(int(offsets[-1]), dtype)
            kind = []
            for i, slot in enumerate(slots):
                view = buf[offsets[i]:offsets[i + 1]].reshape(arrays[i].shape)
                view[...] = slot._value
                slot._value = view
                views.append((slot, view))
                kind.append(view)
            bufs.append(buf)
            slot_views.append(kind)
        self._flat = {"bufs": bufs, "views": views, "slices": slices, "slot_views": slot_views,
                      "shapes": [a.shape for a in arrays], "size": int(offsets[-1]),
                      "dtype": dtype, "scratch": [], "fast": _has_fast_step(cls),
                      "halves": None}
        self._flat["whole"] = _Part(self, 0, self._flat["size"], every=True)
        return self._flat

    def _scratch(self, k):
        """The flat scratch buffer ``k`` and its per-variable views, allocated on first use and
        kept across steps (their contents are garbage between steps)."""
        flat = self._flat
        scratch = flat["scratch"]
        while len(scratch) <= k:
            buf = _aligned_empty(flat["size"], flat["dtype"])
            scratch.append((buf, [buf[a:b].reshape(shape)
                                  for (a, b), shape in zip(flat["slices"], flat["shapes"])]))
        return scratch[k]

    def _fuse_gather(self):
        """Whether ``_fast_step`` should read each variable's gradient in its first ufunc calls
        (saving the concatenation's pass) rather than concatenate the gradients first."""
        flat = self._flat
        return flat["size"] >= self._FUSE_MIN_PER_VAR * len(flat["slices"])

    def _fast_step(self, arrays, lr, dt):
        consts = self._fast_consts(lr, dt)
        flat = self._flat
        if flat["size"] >= self._SPLIT_MIN:     # (W4's 4-us steps: no call more than needed)
            halves = self._halves(arrays)
            if halves is not None and _worker.run_pair(
                    self._fast_part, (halves[0], arrays, consts), (halves[1], arrays, consts)):
                return
        self._fast_part(flat["whole"], arrays, consts)

    def _fast_consts(self, lr, dt):
        """The step's scalars, computed once for both halves of a split step."""
        return dt(lr)

    def _halves(self, arrays):
        """The two halves of the flat buffers when this step should be split (see above), else
        None."""
        flat = self._flat
        if flat["size"] < self._SPLIT_MIN:
            return None
        mode = blas._state["mode"]
        if mode is None or mode == 1 or not _worker.available():
            return None
        halves = flat["halves"]
        if halves is None:
            size = flat["size"]
            align = max(64 // flat["dtype"].itemsize, 1)
            cut = size // 2 // align * align
            halves = flat["halves"] = (_Part(self, 0, cut), _Part(self, cut, size)) \
                if 0 < cut < size else False
        if not halves:
            return None
        # The two threads must not touch each other's memory: no gradient may share memory with
        # a variable (one variable's gradient may be another's array), nor two variables with
        # each other, and a variable cut in two must be a plain C-ordered array (written
        # through a flat view). Otherwise the step stays whole, in the reference order.
        tv = self._trainable_variables
        roots = {id(_root(v._value)) for v in tv}
        if len(roots) < len(tv):
            return None
        for g in arrays:
            if id(_root(g)) in roots:
                return None
        for i, _, _, whole in halves[0].pieces[-1:] + halves[1].pieces[:1]:
            if not whole and not tv[i]._value.flags.c_contiguous:
                return None
        return halves

    def _flat_update(self, arrays, lr):
        flat = self._flat
        dt = flat["dtype"].type
        if flat["fast"]:
            self._fast_step(arrays, lr, dt)
            return
        # a fresh array each step: a ``_delta`` written elsewhere may keep its gradient
        g = np.concatenate([a.reshape(-1) for a in arrays])
        d, subtract = self._delta(g, flat["bufs"], lr, dt)
        for v, (a, b) in zip(self._trainable_variables, flat["slices"]):
            w = v._value
            if subtract:
                w -= d[a:b].reshape(w.shape)
            else:
                w += d[a:b].reshape(w.shape)

    def _accumulate_and_update(self, arrays, variables, lr):
        steps = self.gradient_accumulation_steps
        accs = [self._accumulated_gradients[self._var_index(v)] for v in variables]
        if (int(self._iterations._value) + 1) % steps == 0:
            mean = [(g + acc._value) / steps for g, acc in zip(arrays, accs)]
            self._update_all(mean, variables, lr)
            for acc in accs:
                acc._value[...] = 0
        else:
            for g, acc in zip(arrays, accs):
                acc._value += g

    def _update_ema(self, variables):
        first = int(self._iterations._value) == 0
        mom = 0.0 if first else self.ema_momentum
        for v in variables:
            avg = self._model_variables_moving_average[self._var_index(v)]
            avg._value[...] = mom * avg._value + (1.0 - mom) * v._value
        freq = self.ema_overwrite_frequency
        if freq and (int(self._iterations._value) + 1) % freq == 0:
            self.finalize_variable_values(variables)

    def finalize_variable_values(self, var_list):
        """Copies the moving averages into the variables (when ``use_ema``)."""
        if self.use_ema:
            for v in var_list:
                v._value[...] = self._model_variables_moving_average[self._var_index(v)]._value

    def _clip_gradients(self, grads):
        if self.clipnorm:
            out = []
            for g in grads:
                dt = g.dtype.type
                norm = np.sqrt(np.sum(np.square(g)))
                out.append((g * dt(self.clipnorm)) / max(norm, dt(self.clipnorm)) if norm else g)
            return out
        if self.global_clipnorm:
            norm = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads)))
            scale = self.global_clipnorm * min(1.0 / norm if norm else np.inf,
                                               1.0 / self.global_clipnorm)
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _apply_weight_decay(self, variables, lr):
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                a = v._value
                a *= a.dtype.type(1.0 - self.weight_decay * lr)

    _delta = None
    _slot_attrs = ()

    def update_step(self, gradient, variable, learning_rate):
        """One update of ``variable._value`` in place from the array ``gradient``."""
        if self._delta is None:
            raise NotImplementedError(f"{type(self).__name__} must implement update_step().")
        i = self._var_index(variable)
        w = variable._value
        slots = [getattr(self, attr)[i]._value for attr in self._slot_attrs]
        if w.ndim == 0:
            # a scalar variable: on 0-d arrays NumPy returns scalars, which ``_delta``'s
            # ``out=`` calls refuse; one-element views update the same memory
            w = w.reshape(1)
            gradient = np.reshape(gradient, 1)
            slots = [s.reshape(1) for s in slots]
        d, subtract = self._delta(gradient, slots, learning_rate, w.dtype.type)
        if subtract:
            w -= d
        else:
            w += d

    # ---------------------------------------------------------------------------------------
    # conveniences

    def minimize(self, loss, var_list, tape=None):
        """Computes the gradients of ``loss`` (a callable, or a tensor with ``tape``) and applies
        them to ``var_list``."""
        from tapeflow.framework.tape import GradientTape

        if callable(loss):
            with GradientTape() as tape:
                value = loss()
        else:
            if tape is None:
                raise ValueError("minimize: `tape` is required when `loss` is a Tensor.")
            value = loss
        var_list = var_list() if callable(var_list) else list(var_list)
        grads = tape.gradient(value, var_list)
        return self.apply_gradients(zip(grads, var_list))

    def scale_loss(self, loss):
        """Multiplies ``loss`` by ``loss_scale_factor`` when it is set."""
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def save_own_variables(self, store):
        """Writes the variables as ``store["0"], store["1"], ...`` (Keras's layout)."""
        for i, v in enumerate(self._variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store):
        """Reads the variables written by :meth:`save_own_variables` (or by Keras)."""
        if len(store.keys()) != len(self._variables):
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it has "
                   f"{len(self._variables)} variables whereas the saved optimizer has "
                   f"{len(store.keys())} variables. ")
            if not self.built:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, v in enumerate(self._variables):
            v.assign(np.asarray(store[str(i)]))

    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, Variable):
            lr_config = float(lr._value)
        elif isinstance(lr, _schedules.LearningRateSchedule):
            lr_config = _schedules.serialize(lr)
        else:
            lr_config = float(np.float32(self._current_lr()))
        return {"name": self.name, "learning_rate": lr_config, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"],
                                                             custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self._current_lr():g}>"

