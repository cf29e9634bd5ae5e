"""Convolution and pooling ops: ``tf.nn.conv1d/2d/3d``, ``conv2d_transpose``, ``depthwise_conv2d``,
``separable_conv2d``, ``max_pool*``, ``avg_pool*`` and ``pool``.

Every op works internally on channels-last arrays (NWC / NHWC / NDHWC) with any number of spatial
axes; channels-first inputs are transposed around it by the public wrappers. Convolution is lowered
to im2col and one GEMM (through ``blas.dot``, so a large product may use a second BLAS thread). With
few input channels the im2col matrix is built transposed, (K*C, M), one contiguous copy per kernel
offset and channel, and a bias becomes a row of ones in it: the forward GEMM adds the bias and the
filter gradient's GEMM sums the bias gradient; otherwise it is one copy of a window view. The
forward caches the matrix for the filter gradient. The two gradients are ops too
(``ConvBackpropInput``, ``ConvBackpropFilter``, ``ConvBackpropFilterBias``), each written as GEMMs
plus, for the input gradient, a col2im scatter-add over the kernel offsets; they differentiate into
each other, so nested tapes give second-order gradients. ``Conv``, ``ConvBiasAct`` and ``MaxPool``
also have raw-array gradients that run the same kernels without dispatch when no tape records the
backward pass; for a first convolution (no input gradient) that form fuses the relu backprop into
the filter GEMM's chunks.

Inside a Keras step whose large products run on two BLAS threads (``blas.two_threads_now()``)
the memory-bound kernels (im2col copies, bias/relu passes, max pooling and its gradient, the relu
backprop, col2im's adds) run as two halves of the batch at once, the second on the helper thread
of ``tapeflow._backend.worker`` where it is enabled, with the same bits as on one thread; a switch
(off: it measured slower) makes the input gradient with C >= 8 one large GEMM + col2im there
instead of one GEMM per kernel offset.

Pooling runs over strided window offsets. Max pooling routes the gradient to the first maximum of
each window (row-major), as TensorFlow does. When the windows tile the input (stride == window, no
padding; an odd tail is dropped) the gradient works on a (N, o1, k1, o2, k2, ..., C) reshape view,
and a forward that a tape records keeps the first-maximum masks for the raw-array gradient.
"""

import itertools

from tapeflow._backend import blas, jit, np
from tapeflow._backend import worker as _worker
from tapeflow.framework.errors import InvalidArgumentError
from tapeflow.framework.registry import REGISTRY, op
from tapeflow.ops import array_ops as _a
from tapeflow.ops import nn_ops
from tapeflow.ops._helpers import to_tensor

_swv = np.lib.stride_tricks.sliding_window_view
_RELU_GRAD = REGISTRY["ReluGrad"]   # its raw kernel, for the raw-array gradients

__all__ = [
    "convolution", "conv1d", "conv2d", "conv3d", "conv1d_transpose", "conv2d_transpose",
    "conv3d_transpose", "depthwise_conv2d", "separable_conv2d", "max_pool", "max_pool1d",
    "max_pool2d", "max_pool3d", "avg_pool", "avg_pool1d", "avg_pool2d", "avg_pool3d", "pool",
]


# ---------------------------------------------------------------- two halves of the batch
# The memory-bound kernels (im2col copies, bias/relu passes, max pooling and its gradient, the
# relu backprop, col2im's adds) work on each sample alone, so the batch can be cut in two halves
# computed at the same time, the second on the persistent helper thread (NumPy releases the GIL
# inside its loops), each writing its own half of one preallocated output: the same operations
# on the same elements, so the same bits as one thread. That pays only while the other core is
# free, so a kernel is split only inside a Keras step whose large products run on more than one
# thread (``blas.two_threads_now()``): the loop's chooser measures whole steps, and when they are
# faster on one thread the split is off too. It also needs the helper (``worker.available()``:
# by default only where OpenBLAS's idle threads sleep right after a product). On their own the
# large kernels run 1.7-1.9x faster by halves; inside W3's two-thread steps the helper pays
# only while OpenBLAS's idle worker does not spin (by default it spins 2**28 cycles, ~0.1 s,
# after each multi-threaded product, on the core the helper needs): spinning, W3's epochs were
# -16% to +5%; with the threads sleeping, 13-16% faster (``benchmarks/bench_conv.py --split`` /
# ``--fit``). ``split_kernels``: this module's own switch (benchmarks compare in one process).
split_kernels = True
# Output elements below which a kernel stays whole: a hand-off to the helper and back costs
# about 11 us (more when the other core sleeps), one pass over 64k float32 elements 15-40 us.
_SPLIT_MIN = 1 << 16


def _by_halves(fn, nb, size):
    """Runs ``fn(lo, hi)`` over the batch rows ``[0, nb)``: as two halves at once when the
    kernel (``size`` output elements) is worth splitting now (see above), else in one call."""
    if split_kernels and nb > 1 and size >= _SPLIT_MIN and blas.two_threads_now() \
            and _worker.available():
        h = nb // 2
        if _worker.run_pair(fn, (0, h), (h, nb)):
            return
    fn(0, nb)


def _relu_bp(dy, y):
    """``dy * (y > 0)`` (the ReluGrad kernel, same bits), by halves of the batch."""
    dz = np.empty(dy.shape, np.result_type(dy.dtype, np.bool_))

    def run(lo, hi):
        np.multiply(dy[lo:hi], y[lo:hi] > 0, out=dz[lo:hi])

    _by_halves(run, dy.shape[0], dz.size)
    return dz


# ---------------------------------------------------------------- raw-array kernels (channels last)
def _pad_input(x, pads, value=0.0):
    if not any(lo or hi for lo, hi in pads):
        return x
    return np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)], constant_values=value)


def _out_size(size, k, s, d):
    eff = (k - 1) * d + 1
    return (size - eff) // s + 1


def _windows(xp, ksize, strides, dilations):
    """View (N, *out, *K, C) of the windows of the padded input ``xp``."""
    n = len(ksize)
    eff = tuple((k - 1) * d + 1 for k, d in zip(ksize, dilations, strict=False))
    v = _swv(xp, eff, axis=tuple(range(1, n + 1)))          # (N, *S', C, *eff)
    sl = (slice(None),) + tuple(slice(None, None, s) for s in strides) + (slice(None),) + \
        tuple(slice(None, None, d) for d in dilations)
    v = v[sl]
    return v.transpose((0,) + tuple(range(1, n + 1)) + tuple(range(n + 2, 2 * n + 2)) + (n + 1,))


def _col2im(dcols, padded_shape, strides, dilations):
    """Adjoint of ``_windows``: scatter-adds (N, *out, *K, C) windows into ``padded_shape``."""
    n = len(strides)
    out_sp = dcols.shape[1:n + 1]
    ksize = dcols.shape[n + 1:2 * n + 1]
    dx = np.zeros(padded_shape, dtype=dcols.dtype)
    lead = (slice(None),) * n
    sls = [(tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                  for i, d, s, o in zip(idx, dilations, strides, out_sp, strict=False)),
            lead + idx) for idx in itertools.product(*[range(k) for k in ksize])]

    def run(lo, hi):
        dxh, dch = dx[lo:hi], dcols[lo:hi]
        for sl, at in sls:                  # every element gets its adds in offset order
            dxh[(slice(None),) + sl] += dch[(slice(None),) + at]

    _by_halves(run, dx.shape[0], dcols.size)
    return dx


def _padded_shape(shape, pads):
    return (shape[0],) + tuple(s + lo + hi for s, (lo, hi) in
                               zip(shape[1:-1], pads, strict=True)) + (shape[-1],)


def _crop(xp, pads):
    if not any(lo or hi for lo, hi in pads):
        return xp
    sl = (slice(None),) + tuple(slice(lo, xp.shape[i + 1] - hi) for i, (lo, hi) in enumerate(pads))
    return xp[sl]


def _grouped_matmul(a, b, groups):
    """(M, Kp, g*Cg) windows x (Kp, Cg, O) filters -> (M, O) for grouped convolution."""
    m, kp, _ = a.shape
    cg, o = b.shape[1], b.shape[2]
    og = o // groups
    a = a.reshape(m, kp, groups, cg).transpose(2, 0, 1, 3).reshape(groups, m, kp * cg)
    b = b.reshape(kp, cg, groups, og).transpose(2, 0, 1, 3).reshape(groups, kp * cg, og)
    return np.matmul(a, b).transpose(1, 0, 2).reshape(m, o)


# Below this many input channels (groups == 1) im2col builds the transposed (K*C, M) matrix: one
# contiguous copy per kernel offset and channel instead of a copy of a window view whose innermost
# run is only C elements long (W3's first convolution, C=1: 0.14 ms against 1.0 ms).
_T_MAX_C = 4


def _offset_slice(idx, dilations, strides, out_sp):
    return tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                 for i, d, s, o in zip(idx, dilations, strides, out_sp, strict=True))


def _im2col_t(xp, ksize, strides, dilations, out_sp, ones_row):
    """The im2col matrix transposed, (kp*C [+ 1], M): row k*C + c holds channel c of kernel
    offset k for every output position; ``ones_row`` appends a row of ones (the bias)."""
    c = xp.shape[-1]
    rows = int(np.prod(ksize)) * c
    cols = np.empty((rows + bool(ones_row), xp.shape[0]) + tuple(out_sp), dtype=xp.dtype)
    sls = [(slice(None),) + _offset_slice(idx, dilations, strides, out_sp)
           for idx in itertools.product(*[range(kk) for kk in ksize])]

    def run(lo, hi):
        xh = xp[lo:hi]
        for k, sl in enumerate(sls):
            for ci in range(c):
                cols[k * c + ci, lo:hi] = xh[sl + (ci,)]
        if ones_row:
            cols[rows, lo:hi] = 1

    _by_halves(run, xp.shape[0], cols.size)
    return cols.reshape(cols.shape[0], -1)


def _im2col(xp, ksize, strides, dilations, out_sp):
    """The im2col matrix (M, kp*C), row-major over (kernel offset, channel): one copy of the
    window view. (A view whose innermost run is the kw*C elements of a kernel row copies no
    faster on W3's shapes.)"""
    m = xp.shape[0] * int(np.prod(out_sp))
    win = _windows(xp, ksize, strides, dilations)
    cols = np.empty(win.shape, xp.dtype)

    def run(lo, hi):
        np.copyto(cols[lo:hi], win[lo:hi])

    _by_halves(run, xp.shape[0], cols.size)
    return cols.reshape(m, int(np.prod(ksize)) * xp.shape[-1])


def _bias_relu(y, bias, relu):
    """``y += bias`` then ``relu`` in place, one pass per half of the batch."""
    if bias is None and not relu:
        return y

    def run(lo, hi):
        part = y[lo:hi]
        if bias is not None:
            part += bias
        if relu:
            np.maximum(part, 0, out=part)

    _by_halves(run, y.shape[0], y.size)
    return y


def _conv_fwd(x, w, strides, dilations, pads, groups, cache=None, bias=None, relu=False):
    """Convolution (+ bias) (+ relu) on raw channels-last arrays. ``cache`` (a dict) keeps the
    im2col matrix for the filter gradient: ``("T", (K[+1], M) matrix)`` or ``("R", (M, K)
    matrix)``; with ``bias`` the transposed form carries a ones row, so the same GEMM adds the
    bias here and sums the bias gradient in the filter gradient."""
    n = x.ndim - 2
    ksize = w.shape[:n]
    c, o = x.shape[-1], w.shape[-1]
    xp = _pad_input(x, pads)
    out_sp = tuple(_out_size(s, k, st, d) for s, k, st, d in
                   zip(xp.shape[1:-1], ksize, strides, dilations, strict=True))
    k = _jit_conv(x, w, dilations, groups, out_sp)
    if k is not None:
        return _conv_fwd_jit(k, xp, w, strides, out_sp, cache, bias, relu)
    kp = int(np.prod(ksize))
    out_shape = (x.shape[0],) + out_sp + (o,)
    if groups == 1 and c < _T_MAX_C:
        colt = _im2col_t(xp, ksize, strides, dilations, out_sp, bias is not None)
        wm = w.reshape(kp * c, o)
        if bias is not None:
            wm = np.concatenate([wm, bias.reshape(1, o).astype(wm.dtype, copy=False)])
        if cache is not None:
            cache["cols"] = ("T", colt)
        return _bias_relu(blas.dot(colt.T, wm).reshape(out_shape), None, relu)
    colm = _im2col(xp, ksize, strides, dilations, out_sp)          # the im2col copy
    if cache is not None:
        cache["cols"] = ("R", colm)                                  # for the filter gradient
    if groups == 1:
        y = blas.dot(colm, w.reshape(kp * c, o))
    else:
        y = _grouped_matmul(colm.reshape(colm.shape[0], kp, c), w.reshape(kp, w.shape[-2], o),
                            groups)
    return _bias_relu(y.reshape(out_shape), bias, relu)


# ---------------------------------------------------------------- compiled (tapeflow[jit])
# 2-D convolutions with groups 1 and no dilation, and max pooling whose windows tile the input,
# run as the compiled kernels of tapeflow/_backend/jit_kernels.py when Numba is installed: the
# batch's two halves on two threads, each making its own im2col rows, product, bias and relu
# (and in the gradient its relu mask, filter and bias shares, product and col2im). The im2col
# matrix is cached in the same ("R", (M, K)) form as the NumPy path's. W3 (issue 7): see
# benchmarks/RESULTS.md.
_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _jit_conv(x, w, dilations, groups, out_sp):
    """The compiled kernels when they can run this convolution, else None."""
    if x.ndim != 4 or groups != 1 or any(d != 1 for d in dilations) or \
            x.dtype not in _JIT_DTYPES or w.dtype != x.dtype or not x.shape[0] or \
            any(o <= 0 for o in out_sp):
        return None
    return jit.kernels()


def _conv_fwd_jit(k, xp, w, strides, out_sp, cache, bias, relu):
    dt = xp.dtype
    kh, kw, c, o = w.shape
    nb = xp.shape[0]
    xp = np.ascontiguousarray(xp)
    w2 = np.ascontiguousarray(w.reshape(kh * kw * c, o))
    b = np.zeros(0, dt) if bias is None else np.ascontiguousarray(bias, dtype=dt)
    cols = np.empty((nb * out_sp[0] * out_sp[1], kh * kw * c), dt)
    out = np.empty((nb,) + tuple(out_sp) + (o,), dt)
    args = (xp, w2, b, bias is not None, bool(relu), kh, kw, strides[0], strides[1], cols, out)
    choice = jit.choose(nb >= 2, key=("conv_fwd", xp.shape, w.shape, dt))
    with blas.single_thread():
        if choice.split:
            k.conv_fwd2(*args)
        elif choice.two:       # the same halves one after the other: the same bits as the split
            k.conv_rows(*args, 0, nb // 2)
            k.conv_rows(*args, nb // 2, nb)
        else:
            k.conv_rows(*args, 0, nb)
    choice.done()
    if cache is not None:
        cache["cols"] = ("R", cols)
        cache["jit"] = xp.shape        # the padded input's shape, for the input gradient
    return out


def _conv_bp_jit(k, w, dy, y, strides, pads, need_dx, xp_shape, cols):
    """(dx or None, dw, db) of a convolution the compiled forward ran (``y``: its relu output,
    or None without relu)."""
    dt = dy.dtype
    nb, oh, ow, o = dy.shape
    kh, kw, c, _ = w.shape
    kk = kh * kw * c
    dy = np.ascontiguousarray(dy, dtype=dt)
    relu = y is not None
    y = np.ascontiguousarray(y, dtype=dt) if relu else dy
    w2 = np.ascontiguousarray(w.reshape(kk, o), dtype=dt)
    dz = np.empty((nb * oh * ow, o), dt)
    dxp = np.empty(xp_shape, dt) if need_dx else np.empty((0,) + tuple(xp_shape[1:]), dt)
    dcols = np.empty_like(cols) if need_dx else np.empty((0, kk), dt)
    choice = jit.choose(nb >= 2, key=("conv_bp", xp_shape, w.shape, need_dx, dt))
    with blas.single_thread():
        if choice.two:
            gw, gb = np.zeros((2, kk, o), dt), np.zeros((2, o), dt)
            bp = (dy, y, relu, cols, w2, kh, kw, strides[0], strides[1], dz, dcols, dxp, need_dx)
            if choice.split:
                k.conv_bp2(*bp, gw, gb)
            else:       # the same halves one after the other: the same bits as the split
                k.conv_bp_rows(*bp, gw[0], gb[0], 0, nb // 2)
                k.conv_bp_rows(*bp, gw[1], gb[1], nb // 2, nb)
            gw, gb = gw[0] + gw[1], gb[0] + gb[1]
        else:
            gw, gb = np.zeros((kk, o), dt), np.zeros(o, dt)
            k.conv_bp_rows(dy, y, relu, cols, w2, kh, kw, strides[0], strides[1], dz, dcols,
                           dxp, need_dx, gw, gb, 0, nb)
    choice.done()
    dx = _crop(dxp, pads) if need_dx else None
    return dx, gw.reshape(w.shape), gb


def _jit_grad(cache):
    """The kernels and the forward's saved state when the compiled forward ran, else None."""
    xp_shape = cache.get("jit")
    cols = cache.get("cols")
    if xp_shape is None or cols is None or cols[0] != "R":
        return None
    k = jit.kernels()
    return None if k is None else (k, xp_shape, cols[1])


# Module switch: when on, inside a Keras step whose large products run on two threads, the
# input gradient with C >= 8 is one large GEMM + col2im instead of one GEMM per kernel offset.
# Off: measured on an idle 2-core machine, W3's second convolution takes 4.3 ms per offset
# against 6.0-6.4 ms as one GEMM + col2im on two threads (W3 epochs 4-12% slower); the one GEMM
# wins only while the other core is busy (2x), where the step chooser picks one thread anyway.
# (``benchmarks/bench_conv.py --fit``.)
one_gemm_on_two_threads = False


def _per_offset_input_grad(m, o, kp, c):
    """Whether the input gradient runs one GEMM per kernel offset (``c >= 8``, one thread) rather
    than one (M, O) x (O, kp*C) GEMM and col2im: the single GEMM is the better use of a second
    BLAS thread, and is large enough to get one (``blas.SMALL``)."""
    if c < 8:
        return False
    return not (one_gemm_on_two_threads and m * o * kp * c >= blas.SMALL
                and blas.two_threads_now())


def _conv_bp_input(dy, w, x_shape, strides, dilations, pads, groups, per_offset=None):
    """The input gradient. ``per_offset`` forces (``True``/``False``) the variant for groups == 1
    (one GEMM per kernel offset, or one GEMM + col2im); ``None`` picks it
    (``_per_offset_input_grad``)."""
    n = dy.ndim - 2
    ksize = w.shape[:n]
    kp = int(np.prod(ksize))
    c = x_shape[-1]
    m = dy.shape[0] * int(np.prod(dy.shape[1:n + 1]))
    dyf = dy.reshape(m, dy.shape[-1])
    wm = w.reshape(kp, w.shape[-2], w.shape[-1])
    if per_offset is None:
        per_offset = _per_offset_input_grad(m, dy.shape[-1], kp, c)
    if groups == 1 and per_offset:
        # one (M, O) x (O, C) GEMM per kernel offset, added straight into its strided slice of
        # dx: no (M, K*C) intermediate and no strided reads (faster once C is not tiny)
        dx = np.zeros(_padded_shape(x_shape, pads), dtype=dy.dtype)
        wt = wm.transpose(0, 2, 1)                                          # (kp, O, C) views
        out_sp = dy.shape[1:n + 1]
        for k, idx in enumerate(itertools.product(*[range(kk) for kk in ksize])):
            sl = (slice(None),) + _offset_slice(idx, dilations, strides, out_sp)
            dx[sl] += blas.dot(dyf, wt[k]).reshape(dy.shape[:n + 1] + (c,))
        return _crop(dx, pads)
    if groups == 1:
        dcols = blas.dot(dyf, wm.reshape(kp * c, -1).T)
    else:
        o = w.shape[-1]
        og, cg = o // groups, w.shape[-2]
        a = dyf.reshape(m, groups, og).transpose(1, 0, 2)                    # (g, M, og)
        b = wm.reshape(kp, cg, groups, og).transpose(2, 3, 0, 1)            # (g, og, kp, cg)
        dcols = np.matmul(a, b.reshape(groups, og, kp * cg))                 # (g, M, kp*cg)
        dcols = dcols.reshape(groups, m, kp, cg).transpose(1, 2, 0, 3)
    dcols = dcols.reshape(dy.shape[:n + 1] + tuple(ksize) + (c,))
    padded = _padded_shape(x_shape, pads)
    return _crop(_col2im(dcols, padded, strides, dilations), pads)


# Output positions per GEMM of the filter gradient from a transposed im2col matrix (see
# ``_t_filter_gemm``): a chunk of ``dy`` and of the relu output stays in cache.
_T_CHUNK = 8192


def _t_filter_gemm(mat, dyf, relu_y=None):
    """``mat (K, M) @ dyf (M, O)`` summed over chunks of M. With ``relu_y`` each chunk of ``dyf``
    first goes through the relu backprop (``dyf * (relu_y > 0)``), so that the relu gradient of
    a first convolution (no input gradient) is never stored whole: W3's first layer, 2.3 ms
    against 3.0 for a full-size relu backprop and one GEMM. The chunks are the same with and
    without ``relu_y``, so both give the same bits."""
    m = mat.shape[1]
    acc = None
    for c0 in range(0, m, _T_CHUNK):
        d = dyf[c0:c0 + _T_CHUNK]
        if relu_y is not None:
            d = _RELU_GRAD.forward(d, relu_y[c0:c0 + _T_CHUNK])
        g = blas.dot(mat[:, c0:c0 + _T_CHUNK], d)
        if acc is None:
            acc = g
        else:
            acc += g
    return np.zeros((mat.shape[0], dyf.shape[1]), dyf.dtype) if acc is None else acc


def _conv_bp_filter(x, dy, w_shape, strides, dilations, pads, groups, cols=None, bias=False,
                    relu_y=None):
    """The filter gradient (and with ``bias`` the bias gradient: returns ``(dw, db)``).

    ``cols`` is the forward's cached im2col matrix (see ``_conv_fwd``); it is rebuilt when
    missing. With ``relu_y`` (the op's relu output) ``dy`` is the gradient before the relu."""
    n = x.ndim - 2
    ksize = w_shape[:n]
    kp = int(np.prod(ksize))
    c = x.shape[-1]
    m = dy.shape[0] * int(np.prod(dy.shape[1:n + 1]))
    dyf = dy.reshape(m, dy.shape[-1])
    if cols is None or (cols[1].shape[0] if cols[0] == "R" else cols[1].shape[1]) != m:
        cols = None
        xp = _pad_input(x, pads)
        out_sp = tuple(dy.shape[1:n + 1])
        if groups == 1 and c < _T_MAX_C:
            cols = ("T", _im2col_t(xp, ksize, strides, dilations, out_sp, bias))
        else:
            cols = ("R", _im2col(xp, ksize, strides, dilations, out_sp))
    layout, mat = cols
    if relu_y is not None and layout != "T":
        dyf = _relu_bp(dyf, relu_y.reshape(dyf.shape))
        relu_y = None
    db = None
    if layout == "T":
        full = _t_filter_gemm(mat, dyf, relu_y)            # (kp*C [+ 1], O)
        dw = full[:kp * c]
        if bias and mat.shape[0] > kp * c:
            db = full[kp * c].copy()                       # the ones row summed dy
    elif groups == 1:
        dw = blas.dot(mat.T, dyf)
    else:
        o = dy.shape[-1]
        og, cg = o // groups, w_shape[-2]
        a = mat.reshape(m, kp, groups, cg).transpose(2, 1, 3, 0).reshape(groups, kp * cg, m)
        b = dyf.reshape(m, groups, og).transpose(1, 0, 2)
        dw = np.matmul(a, b).reshape(groups, kp, cg, og).transpose(1, 2, 0, 3)
    dw = dw.reshape(w_shape)
    if not bias:
        return dw
    if db is None:
        # a GEMV: several times faster than a column sum over M rows of O columns
        db = np.dot(np.ones(m, dtype=dyf.dtype), dyf)
    return dw, db


@op("Conv")
def _conv(x, w, strides, dilations, pads, groups, need_dx=True, cache=None):
    return _conv_fwd(x, w, strides, dilations, pads, groups, cache)


@_conv.defgrad
def _conv_grad(op, dy):
    x, w = op.inputs
    at = dict(op.attrs)
    need_dx = at.pop("need_dx", True)
    cache = at.pop("cache", None) or {}
    dx = _conv_backprop_input(dy, w, x_shape=x._value.shape, **at) if need_dx else None
    return (dx, _conv_backprop_filter(x, dy, w_shape=w._value.shape, cols=cache.get("cols"),
                                      **at))


@_conv.defrawgrad
def _conv_raw_grad(op, dy):
    # the kernels of the ops ``_conv_grad`` records, on raw arrays (same numbers, no dispatch)
    x, w = op.inputs[0]._value, op.inputs[1]._value
    at = dict(op.attrs)
    need_dx = at.pop("need_dx", True)
    cache = at.pop("cache", None) or {}
    compiled = _jit_grad(cache)
    if compiled is not None:
        k, xp_shape, cols = compiled
        dx, dw, _ = _conv_bp_jit(k, w, dy, None, at["strides"], at["pads"], need_dx, xp_shape,
                                 cols)
        return (dx, dw)
    dx = _conv_bp_input(dy, w, x.shape, **at) if need_dx else None
    return (dx, _conv_bp_filter(x, dy, w.shape, cols=cache.get("cols"), **at))


@op("ConvBiasAct")
def _conv_bias_act(x, w, b, strides, dilations, pads, groups, relu, need_dx=True, cache=None):
    # conv + bias (+ relu) in place on the GEMM output: no extra full-size temporaries
    return _conv_fwd(x, w, strides, dilations, pads, groups, cache, bias=b, relu=relu)


@_conv_bias_act.defgrad
def _conv_bias_act_grad(op, dy):
    x, w, _ = op.inputs
    at = dict(op.attrs)
    relu = at.pop("relu")
    need_dx = at.pop("need_dx", True)
    cache = at.pop("cache", None) or {}
    dz = nn_ops._relu_backprop(dy, op.outputs[0]) if relu else dy
    dw, db = _conv_backprop_filter_bias(x, dz, w_shape=w._value.shape, cols=cache.get("cols"),
                                        **at)
    dx = _conv_backprop_input(dz, w, x_shape=x._value.shape, **at) if need_dx else None
    return (dx, dw, db)


@_conv_bias_act.defrawgrad
def _conv_bias_act_raw_grad(op, dy):
    # the kernels of the ops ``_conv_bias_act_grad`` records, on raw arrays (same numbers)
    x, w = op.inputs[0]._value, op.inputs[1]._value
    at = dict(op.attrs)
    relu = at.pop("relu")
    need_dx = at.pop("need_dx", True)
    cache = at.pop("cache", None) or {}
    y = op.outputs[0]._value
    compiled = _jit_grad(cache)
    if compiled is not None:
        k, xp_shape, cols = compiled
        return _conv_bp_jit(k, w, dy, y if relu else None, at["strides"], at["pads"], need_dx,
                            xp_shape, cols)
    if relu and not need_dx:
        # only the filter and bias gradients: the relu backprop is fused into their GEMM
        dw, db = _conv_bp_filter(x, dy, w.shape, cols=cache.get("cols"), bias=True,
                                 relu_y=y.reshape(-1, y.shape[-1]), **at)
        return (None, dw, db)
    dz = _relu_bp(dy, y) if relu else dy
    dw, db = _conv_bp_filter(x, dz, w.shape, cols=cache.get("cols"), bias=True, **at)
    dx = _conv_bp_input(dz, w, x.shape, **at) if need_dx else None
    return (dx, dw, db)


def _recording():
    from tapeflow.framework import registry  # noqa: PLC0415

    return any(tape._recording for tape in registry._TAPES)


def _is_watched(t):
    """Whether a tape that is recording now watches ``t`` (else its gradient is never needed:
    the input gradient of a first convolution is skipped)."""
    from tapeflow.framework import registry  # noqa: PLC0415

    return any(tape._recording and id(t) in tape._watched for tape in registry._TAPES)


@op("ConvBackpropInput")
def _conv_backprop_input(dy, w, x_shape, strides, dilations, pads, groups):
    return _conv_bp_input(dy, w, x_shape, strides, dilations, pads, groups)


@_conv_backprop_input.defgrad
def _conv_backprop_input_grad(op, ddx):
    dy, w = op.inputs
    at = {k: v for k, v in op.attrs.items() if k != "x_shape"}
    return (_conv(ddx, w, **at), _conv_backprop_filter(ddx, dy, w_shape=w._value.shape, **at))


@op("ConvBackpropFilter")
def _conv_backprop_filter(x, dy, w_shape, strides, dilations, pads, groups, cols=None):
    return _conv_bp_filter(x, dy, w_shape, strides, dilations, pads, groups, cols)


@_conv_backprop_filter.defgrad
def _conv_backprop_filter_grad(op, ddw):
    x, dy = op.inputs
    at = {k: v for k, v in op.attrs.items() if k not in ("w_shape", "cols")}
    return (_conv_backprop_input(dy, ddw, x_shape=x._value.shape, **at), _conv(x, ddw, **at))


@op("ConvBackpropFilterBias", n_outputs=2)
def _conv_backprop_filter_bias(x, dy, w_shape, strides, dilations, pads, groups, cols=None):
    # filter and bias gradients together: with a cached transposed im2col matrix the bias
    # gradient is one more row of the filter gradient's GEMM
    return _conv_bp_filter(x, dy, w_shape, strides, dilations, pads, groups, cols, bias=True)


@_conv_backprop_filter_bias.defgrad
def _conv_backprop_filter_bias_grad(op, ddw, ddb):
    x, dy = op.inputs
    at = {k: v for k, v in op.attrs.items() if k not in ("w_shape", "cols")}
    return (_conv_backprop_input(dy, ddw, x_shape=x._value.shape, **at),
            _conv(x, ddw, **at) + ddb)


# ---------------------------------------------------------------- pooling kernels
def _offset_slices(ksize, strides, out_sp):
    """For each window offset, the strided slice of the padded input it reads (one per output)."""
    for idx in itertools.product(*[range(k) for k in ksize]):
        yield (slice(None),) + tuple(slice(i, i + s * (o - 1) + 1, s)
                                     for i, s, o in zip(idx, strides, out_sp, strict=True))


def _pool_out_sp(x_shape, ksize, strides, pads):
    return tuple((s + lo + hi - k) // st + 1 for s, k, st, (lo, hi) in
                 zip(x_shape[1:-1], ksize, strides, pads, strict=True))


def _tiled(ksize, strides, pads):
    """Whether the pooling windows tile the input: stride == window, no padding (an odd tail
    that no window reaches, as 11 -> 5 with 2x2 'valid', is allowed)."""
    return all(k == s for k, s in zip(ksize, strides, strict=True)) and \
        not any(lo or hi for lo, hi in pads)


def _tile_view(a, ksize, out_sp):
    """(N, o1, k1, o2, k2, ..., C) view of ``a`` cropped to the windows (splitting an axis never
    copies, even for a cropped, non-contiguous ``a``)."""
    crop = a[(slice(None),) + tuple(slice(0, o * k) for o, k in zip(out_sp, ksize, strict=True))]
    shape = (a.shape[0],) + tuple(d for o, k in zip(out_sp, ksize, strict=True) for d in (o, k))
    return crop.reshape(shape + (a.shape[-1],))


def _max_pool_fwd(x, ksize, strides, pads):
    # a running maximum over the window offsets: kp passes over the output, no window copy.
    # (For tiling windows, pairwise maxima over a reshape view, first along whole rows, measured
    # no faster on W3's shapes: the passes with C-element runs dominate either way.)
    out_sp = _pool_out_sp(x.shape, ksize, strides, pads)
    xp = _pad_input(x, pads, -np.inf)
    y = np.empty((x.shape[0],) + out_sp + (x.shape[-1],), x.dtype)
    slices = list(_offset_slices(ksize, strides, out_sp))
    _by_halves(lambda lo, hi: _max_rows(xp, y, slices, lo, hi), x.shape[0], y.size)
    return y


def _max_rows(xp, y, slices, lo, hi):
    # the running maximum of batch rows [lo, hi)
    xh, yh = xp[lo:hi], y[lo:hi]
    np.copyto(yh, xh[slices[0]])
    for sl in slices[1:]:
        np.maximum(yh, xh[sl], out=yh)


def _offset_index(idx):
    """Indexer of window offset ``idx`` in a ``_tile_view``: (:, :, i1, :, i2, ..., :)."""
    return (slice(None),) + tuple(e for i in idx for e in (slice(None), i)) + (slice(None),)


def _tiled_hits(x, y, ksize):
    """First-maximum masks of windows that tile ``x``: (kp, *y.shape) bool, one per window
    offset in row-major order; each window has at most one True (none when it holds a NaN)."""
    kp = int(np.prod(ksize))
    hits = np.empty((kp,) + y.shape, dtype=bool)
    _by_halves(lambda lo, hi: _hits_rows(x, y, ksize, hits, lo, hi), x.shape[0], hits.size)
    return hits


def _hits_rows(x, y, ksize, hits, lo, hi):
    # ``_tiled_hits`` for batch rows [lo, hi), into ``hits[:, lo:hi]``
    xv = _tile_view(x[lo:hi], ksize, y.shape[1:-1])
    yh = y[lo:hi]
    offsets = list(itertools.product(*[range(k) for k in ksize]))
    free = None
    for t, idx in enumerate(offsets):
        hit = hits[t, lo:hi]
        if t == len(offsets) - 1 and free is not None:
            # the last offset holds the maximum of every window still free, unless the window
            # has a NaN (y is NaN then, and no element equals it: no gradient, as in general)
            np.equal(yh, yh, out=hit)
            hit &= free
        else:
            np.equal(xv[_offset_index(idx)], yh, out=hit)
            if free is None:
                free = ~hit
            else:
                hit &= free
                free ^= hit


def _max_pool_bp_hits(x_shape, dy, hits, ksize):
    # windows that tile the input: each input element belongs to at most one window, so every
    # gradient slot is written once (no accumulation) through the (N, o1, k1, ..., C) view
    out_sp = dy.shape[1:-1]
    cropped = any(o * k != s for o, k, s in zip(out_sp, ksize, x_shape[1:-1], strict=True))
    dx = np.zeros(x_shape, dtype=dy.dtype) if cropped else np.empty(x_shape, dtype=dy.dtype)
    offsets = [_offset_index(idx) for idx in itertools.product(*[range(k) for k in ksize])]

    def run(lo, hi):
        dv, dyh = _tile_view(dx[lo:hi], ksize, out_sp), dy[lo:hi]
        for t, at in enumerate(offsets):
            np.multiply(dyh, hits[t, lo:hi], out=dv[at])

    _by_halves(run, dx.shape[0], dx.size)
    return dx


def _max_pool_bp_tiled(x, y, dy, ksize):
    return _max_pool_bp_hits(x.shape, dy, _tiled_hits(x, y, ksize), ksize)


def _max_pool_bp(x, y, dy, ksize, strides, pads):
    # the gradient of each window goes to its first maximum (row-major window order, as TF)
    if _tiled(ksize, strides, pads):
        return _max_pool_bp_tiled(x, y, dy, ksize)
    return _max_pool_bp_general(x, y, dy, ksize, strides, pads)


def _max_pool_bp_general(x, y, dy, ksize, strides, pads):
    xp = _pad_input(x, pads, -np.inf)
    out_sp = y.shape[1:-1]
    overlap = any(k > s for k, s in zip(ksize, strides, strict=True))
    covered = all(k == s and o * k == n for k, s, o, n in
                  zip(ksize, strides, out_sp, xp.shape[1:-1], strict=True))
    dxp = np.empty(xp.shape, dtype=dy.dtype) if covered else np.zeros(xp.shape, dtype=dy.dtype)
    free = np.ones(y.shape, dtype=bool)
    hit = np.empty(y.shape, dtype=bool)
    for sl in _offset_slices(ksize, strides, out_sp):
        np.equal(xp[sl], y, out=hit)
        hit &= free
        np.logical_xor(free, hit, out=free)
        if overlap:
            dxp[sl] += dy * hit
        else:
            np.multiply(dy, hit, out=dxp[sl])
    return _crop(dxp, pads)


def _max_pool_bpbp(x, y, ddx, ksize, strides, pads):
    xp = _pad_input(x, pads, -np.inf)
    ddxp = _pad_input(ddx, pads, 0.0)
    out = np.zeros(y.shape, dtype=ddx.dtype)
    free = np.ones(y.shape, dtype=bool)
    for sl in _offset_slices(ksize, strides, y.shape[1:-1]):
        hit = (xp[sl] == y) & free
        free &= ~hit
        np.copyto(out, ddxp[sl], where=hit)
    return out


@op("MaxPool")
def _max_pool(x, ksize, strides, pads, cache=None):
    if cache is None or not _tiled(ksize, strides, pads):
        return _max_pool_fwd(x, ksize, strides, pads)
    k = jit.kernels() if x.ndim == 4 and x.dtype in _JIT_DTYPES and x.shape[0] else None
    if k is not None:
        # compiled: the maxima and each window's first-maximum offset, one pass per half
        out_sp = _pool_out_sp(x.shape, ksize, strides, pads)
        x = np.ascontiguousarray(x)
        y = np.empty((x.shape[0],) + out_sp + (x.shape[-1],), x.dtype)
        arg = np.empty(y.shape, np.uint8)
        with blas.single_thread():
            if x.shape[0] >= 2 and jit.parallel_ok():
                k.pool_fwd2(x, ksize[0], ksize[1], y, arg)
            else:
                k.pool_rows(x, ksize[0], ksize[1], y, arg, 0, x.shape[0])
        cache["arg"] = arg
        return y
    # the first-maximum masks for the gradient, while x is still in cache: the backward then
    # reads the compact masks instead of x, which it finds cold (W3: 0.8 ms a step); one pass
    # per half of the batch for both
    out_sp = _pool_out_sp(x.shape, ksize, strides, pads)
    y = np.empty((x.shape[0],) + out_sp + (x.shape[-1],), x.dtype)
    hits = np.empty((int(np.prod(ksize)),) + y.shape, dtype=bool)
    slices = list(_offset_slices(ksize, strides, out_sp))

    def run(lo, hi):
        _max_rows(x, y, slices, lo, hi)
        _hits_rows(x, y, ksize, hits, lo, hi)

    _by_halves(run, x.shape[0], y.size + hits.size)
    cache["hits"] = hits
    return y


@_max_pool.defgrad
def _max_pool_grad(op, dy):
    at = {k: v for k, v in op.attrs.items() if k != "cache"}
    return (_max_pool_backprop(op.inputs[0], op.outputs[0], dy, **at),)


@_max_pool.defrawgrad
def _max_pool_raw_grad(op, dy):
    at = dict(op.attrs)
    cache = at.pop("cache", None) or {}
    arg = cache.get("arg")
    k = jit.kernels() if arg is not None else None
    if k is not None:
        x = op.inputs[0]._value
        dy = np.ascontiguousarray(dy, dtype=x.dtype)
        dx = np.empty(x.shape, x.dtype)
        kh, kw = at["ksize"]
        with blas.single_thread():
            if x.shape[0] >= 2 and jit.parallel_ok():
                k.pool_bp2(dy, arg, kh, kw, dx)
            else:
                k.pool_bp_rows(dy, arg, kh, kw, dx, 0, x.shape[0])
        return (dx,)
    hits = cache.get("hits")
    if hits is not None:
        return (_max_pool_bp_hits(op.inputs[0]._value.shape, dy, hits, at["ksize"]),)
    return (_max_pool_bp(op.inputs[0]._value, op.outputs[0]._value, dy, **at),)


@op("MaxPoolGrad")
def _max_pool_backprop(x, y, dy, ksize, strides, pads):
    return _max_pool_bp(x, y, dy, ksize, strides, pads)


@_max_pool_backprop.defgrad
def _max_pool_backprop_grad(op, ddx):
    x, y, _ = op.inputs
    return (None, None, _max_pool_backprop_backprop(x, y, ddx, **op.attrs))


@op("MaxPoolGradGrad")
def _max_pool_backprop_backprop(x, y, ddx, ksize, strides, pads):
    return _max_pool_bpbp(x, y, ddx, ksize, strides, pads)


@_max_pool_backprop_backprop.defgrad
def _max_pool_backprop_backprop_grad(op, g):
    x, y, _ = op.inputs
    return (None, None, _max_pool_backprop(x, y, g, **op.attrs))


def _avg_counts(spatial, ksize, strides, pads, dtype):
    """Number of real (unpadded) elements in each window, shaped (*out, 1)."""
    counts = None
    for i, (s, k, st, (lo, hi)) in enumerate(zip(spatial, ksize, strides, pads, strict=False)):
        o = (s + lo + hi - k) // st + 1
        start = np.arange(o) * st - lo
        c = np.minimum(start + k, s) - np.maximum(start, 0)
        shape = [1] * len(spatial)
        shape[i] = o
        c = c.reshape(shape)
        counts = c if counts is None else counts * c
    return counts[..., None].astype(dtype)


def _avg_pool_fwd(x, ksize, strides, pads):
    xp = _pad_input(x, pads)
    out_sp = _pool_out_sp(x.shape, ksize, strides, pads)
    y = None
    for sl in _offset_slices(ksize, strides, out_sp):
        if y is None:
            y = xp[sl].copy()
        else:
            y += xp[sl]
    if any(lo or hi for lo, hi in pads):
        y /= _avg_counts(x.shape[1:-1], ksize, strides, pads, x.dtype)
    else:
        y *= np.asarray(1.0 / int(np.prod(ksize)), dtype=x.dtype)
    return y


def _avg_pool_bp(dy, x_shape, ksize, strides, pads):
    g = dy / _avg_counts(x_shape[1:-1], ksize, strides, pads, dy.dtype)
    dxp = np.zeros(_padded_shape(x_shape, pads), dtype=dy.dtype)
    for sl in _offset_slices(ksize, strides, dy.shape[1:-1]):
        dxp[sl] += g
    return _crop(dxp, pads)


@op("AvgPool")
def _avg_pool(x, ksize, strides, pads):
    return _avg_pool_fwd(x, ksize, strides, pads)


@_avg_pool.defgrad
def _avg_pool_grad(op, dy):
    return (_avg_pool_backprop(dy, x_shape=op.inputs[0]._value.shape, **op.attrs),)


@op("AvgPoolGrad")
def _avg_pool_backprop(dy, x_shape, ksize, strides, pads):
    return _avg_pool_bp(dy, x_shape, ksize, strides, pads)


@_avg_pool_backprop.defgrad
def _avg_pool_backprop_grad(op, ddx):
    at = {k: v for k, v in op.attrs.items() if k != "x_shape"}
    return (_avg_pool(ddx, **at),)


# ---------------------------------------------------------------- argument handling
_FORMATS = {
    1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW"),
}


def _channels_first(data_format, n, name):
    if data_format is None:
        return False
    df = str(data_format).upper()
    last, first = _FORMATS[n]
    if df in (last, "CHANNELS_LAST"):
        return False
    if df in (first, "CHANNELS_FIRST"):
        return True
    raise InvalidArgumentError(f"{name}: data_format must be {last!r} or {first!r}, got "
                               f"{data_format!r}.")


def _spatial_arg(v, n, cf, name, arg, default=1):
    """Normalises strides/dilations/ksize: an int, n values, or n+2 values with 1 at N and C."""
    if v is None:
        return (default,) * n
    if hasattr(v, "numpy"):
        v = v.numpy().tolist()
    if isinstance(v, (int, np.integer)):
        vals = (int(v),) * n
    else:
        v = [int(e) for e in v]
        if len(v) == 1:
            vals = (v[0],) * n
        elif len(v) == n:
            vals = tuple(v)
        elif len(v) == n + 2:
            outer = (v[0], v[1]) if cf else (v[0], v[-1])
            if outer != (1, 1):
                raise InvalidArgumentError(
                    f"{name}: {arg} on the batch and channel dimensions must be 1, got {v}.")
            vals = tuple(v[2:]) if cf else tuple(v[1:-1])
        else:
            raise InvalidArgumentError(
                f"{name}: {arg} must be an int or a list of 1, {n} or {n + 2} ints, got {v}.")
    if any(e < 1 for e in vals):
        raise InvalidArgumentError(f"{name}: {arg} must be positive, got {list(vals)}.")
    return vals


def _padding_arg(padding, spatial, ksize, strides, dilations, cf, name):
    """Returns per-axis (before, after) pads for SAME / VALID / explicit padding."""
    n = len(spatial)
    if isinstance(padding, str):
        p = padding.upper()
        if p == "VALID":
            return tuple((0, 0) for _ in range(n))
        if p == "SAME":
            pads = []
            for s, k, st, d in zip(spatial, ksize, strides, dilations, strict=False):
                eff = (k - 1) * d + 1
                out = -(-s // st)
                total = max((out - 1) * st + eff - s, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise InvalidArgumentError(f"{name}: padding must be 'SAME', 'VALID' or a list of "
                                   f"pairs, got {padding!r}.")
    try:
        pairs = [tuple(int(e) for e in pr) for pr in padding]
    except TypeError:
        raise InvalidArgumentError(f"{name}: padding must be 'SAME', 'VALID' or a list of "
                                   f"pairs, got {padding!r}.") from None
    if len(pairs) == n + 2:
        outer = [pairs[0], pairs[1]] if cf else [pairs[0], pairs[-1]]
        if any(pr != (0, 0) for pr in outer):
            raise InvalidArgumentError(f"{name}: explicit padding on the batch and channel "
                                       f"dimensions must be 0, got {padding}.")
        pairs = pairs[2:] if cf else pairs[1:-1]
    if len(pairs) != n or any(len(pr) != 2 or min(pr) < 0 for pr in pairs):
        raise InvalidArgumentError(f"{name}: explicit padding must hold {n + 2} non-negative "
                                   f"(before, after) pairs, got {padding}.")
    return tuple(pairs)


def _to_last(x, cf):
    if not cf:
        return x
    n = x.shape.rank
    return _a.transpose(x, [0] + list(range(2, n)) + [1])


def _to_first(x, cf):
    if not cf:
        return x
    n = x.shape.rank
    return _a.transpose(x, [0, n - 1] + list(range(1, n - 1)))


def _check_float_pair(x, w, name):
    if x._value.dtype.kind != "f":
        raise InvalidArgumentError(f"{name}: input must be a float tensor, got {x.dtype.name}.")
    if x._value.dtype != w._value.dtype:
        raise InvalidArgumentError(f"{name}: input and filters must have the same dtype, got "
                                   f"{x.dtype.name} and {w.dtype.name}.")


def _conv_nd(input, filters, n, strides, padding, data_format, dilations, name,  # noqa: A002
             bias=None, relu=False):
    x = to_tensor(input)
    w = to_tensor(filters)
    _check_float_pair(x, w, name)
    if x._value.ndim != n + 2:
        raise InvalidArgumentError(f"{name}: input must be rank {n + 2}, got shape "
                                   f"{tuple(x._value.shape)}.")
    if w._value.ndim != n + 2:
        raise InvalidArgumentError(f"{name}: filters must be rank {n + 2}, got shape "
                                   f"{tuple(w._value.shape)}.")
    cf = _channels_first(data_format, n, name)
    st = _spatial_arg(strides, n, cf, name, "strides")
    dl = _spatial_arg(dilations, n, cf, name, "dilations")
    if max(st) > 1 and max(dl) > 1:
        raise InvalidArgumentError(f"{name}: strides > 1 are not supported together with "
                                   f"dilations > 1 (strides={list(st)}, dilations={list(dl)}).")
    x = _to_last(x, cf)
    c = x._value.shape[-1]
    ks = w._value.shape[:n]
    cin = w._value.shape[-2]
    if cin == 0 or c % cin:
        raise InvalidArgumentError(
            f"{name}: input depth {c} must be a multiple of the filters' input depth {cin} "
            f"(input shape {tuple(x._value.shape)}, filters shape {tuple(w._value.shape)}).")
    groups = c // cin
    if w._value.shape[-1] % groups:
        raise InvalidArgumentError(f"{name}: the number of filters {w._value.shape[-1]} must be "
                                   f"divisible by the number of groups {groups}.")
    spatial = x._value.shape[1:-1]
    pads = _padding_arg(padding, spatial, ks, st, dl, cf, name)
    for s, (lo, hi), k, d in zip(spatial, pads, ks, dl, strict=False):
        if s + lo + hi < (k - 1) * d + 1:
            raise InvalidArgumentError(
                f"{name}: the (dilated) filter {tuple(ks)} is larger than the padded input "
                f"{tuple(spatial)}; computed output size would be negative.")
    recording = _recording()
    at = dict(strides=st, dilations=dl, pads=pads, groups=groups,
              need_dx=recording and _is_watched(x), cache={} if recording else None)
    if bias is not None:
        y = _conv_bias_act(x, w, to_tensor(bias), relu=bool(relu), **at)
    else:
        y = _conv(x, w, **at)
    return _to_first(y, cf)


def convolution(input, filters, strides=None, padding="VALID", data_format=None,  # noqa: A002
                dilations=None, name=None):
    """N-d convolution (1, 2 or 3 spatial axes, from the rank of ``input``).

    >>> import tapeflow as tf
    >>> tf.nn.convolution(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1])).shape
    TensorShape([1, 2, 2, 1])
    """
    x = to_tensor(input)
    n = x._value.ndim - 2
    if n not in (1, 2, 3):
        raise InvalidArgumentError(f"convolution: input must be rank 3, 4 or 5, got shape "
                                   f"{tuple(x._value.shape)}.")
    return _conv_nd(x, filters, n, strides, padding, data_format, dilations, "convolution")


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None,  # noqa: A002
           name=None):
    """1-D convolution of an NWC (or NCW) input with WIO filters.

    >>> import tapeflow as tf
    >>> tf.nn.conv1d(tf.ones([1, 5, 2]), tf.ones([3, 2, 4]), stride=1, padding="SAME").shape
    TensorShape([1, 5, 4])
    """
    return _conv_nd(input, filters, 1, stride, padding, data_format, dilations, "conv1d")


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None,  # noqa: A002
           name=None):
    """2-D convolution of an NHWC (or NCHW) input with HWIO filters.

    ``padding`` is "SAME" (odd extra padding after), "VALID" or explicit per-side pairs.

    >>> import tapeflow as tf
    >>> y = tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 2]), strides=1, padding="SAME")
    >>> y.shape, float(y[0, 1, 1, 0]), float(y[0, 0, 0, 0])
    (TensorShape([1, 4, 4, 2]), 9.0, 4.0)
    """
    return _conv_nd(input, filters, 2, strides, padding, data_format, dilations, "conv2d")


def conv3d(input, filters, strides, padding, data_format="NDHWC", dilations=None,  # noqa: A002
           name=None):
    """3-D convolution of an NDHWC (or NCDHW) input with DHWIO filters.

    >>> import tapeflow as tf
    >>> tf.nn.conv3d(tf.ones([1, 3, 3, 3, 1]), tf.ones([2, 2, 2, 1, 4]), strides=1,
    ...              padding="VALID").shape
    TensorShape([1, 2, 2, 2, 4])
    """
    return _conv_nd(input, filters, 3, strides, padding, data_format, dilations, "conv3d")


def _conv_transpose_nd(input, filters, output_shape, n, strides, padding, data_format,  # noqa: A002
                       dilations, name):
    x = to_tensor(input)
    w = to_tensor(filters)
    _check_float_pair(x, w, name)
    if x._value.ndim != n + 2 or w._value.ndim != n + 2:
        raise InvalidArgumentError(f"{name}: input and filters must be rank {n + 2}, got "
                                   f"{tuple(x._value.shape)} and {tuple(w._value.shape)}.")
    cf = _channels_first(data_format, n, name)
    st = _spatial_arg(strides, n, cf, name, "strides")
    dl = _spatial_arg(dilations, n, cf, name, "dilations")
    if hasattr(output_shape, "numpy"):
        output_shape = output_shape.numpy().tolist()
    out = [int(d) for d in output_shape]
    if len(out) != n + 2:
        raise InvalidArgumentError(f"{name}: output_shape must have {n + 2} entries, got "
                                   f"{output_shape}.")
    if cf:
        out = [out[0]] + out[2:] + [out[1]]
    x = _to_last(x, cf)
    ks = w._value.shape[:n]
    if w._value.shape[-1] != x._value.shape[-1]:
        raise InvalidArgumentError(
            f"{name}: input depth {x._value.shape[-1]} must equal the filters' last dimension "
            f"(in_channels) {w._value.shape[-1]}; filters shape {tuple(w._value.shape)}.")
    if w._value.shape[-2] != out[-1]:
        raise InvalidArgumentError(
            f"{name}: output_shape depth {out[-1]} must equal the filters' output channels "
            f"{w._value.shape[-2]}.")
    pads = _padding_arg(padding, out[1:-1], ks, st, dl, cf, name)
    for s, o, k, stt, d, (lo, hi) in zip(x._value.shape[1:-1], out[1:-1], ks, st, dl, pads,
                                         strict=False):
        if _out_size(o + lo + hi, k, stt, d) != s:
            raise InvalidArgumentError(
                f"{name}: output_shape {output_shape} is not compatible with input shape "
                f"{tuple(x._value.shape)}, filters {tuple(w._value.shape)}, strides {list(st)} "
                f"and padding {padding!r}.")
    y = _conv_backprop_input(x, w, x_shape=tuple(out), strides=st, dilations=dl, pads=pads,
                             groups=1)
    return _to_first(y, cf)


def conv1d_transpose(input, filters, output_shape, strides, padding="SAME",  # noqa: A002
                     data_format="NWC", dilations=None, name=None):
    """Transposed 1-D convolution (the gradient of conv1d); filters are (w, out, in).

    >>> import tapeflow as tf
    >>> tf.nn.conv1d_transpose(tf.ones([1, 3, 2]), tf.ones([3, 4, 2]), [1, 6, 4], 2).shape
    TensorShape([1, 6, 4])
    """
    return _conv_transpose_nd(input, filters, output_shape, 1, strides, padding, data_format,
                              dilations, "conv1d_transpose")


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME",  # noqa: A002
                     data_format="NHWC", dilations=None, name=None):
    """Transposed 2-D convolution (the gradient of conv2d); filters are (h, w, out, in).

    >>> import tapeflow as tf
    >>> tf.nn.conv2d_transpose(tf.ones([1, 2, 2, 3]), tf.ones([3, 3, 5, 3]), [1, 4, 4, 5],
    ...                        strides=2).shape
    TensorShape([1, 4, 4, 5])
    """
    return _conv_transpose_nd(input, filters, output_shape, 2, strides, padding, data_format,
                              dilations, "conv2d_transpose")


def conv3d_transpose(input, filters, output_shape, strides, padding="SAME",  # noqa: A002
                     data_format="NDHWC", dilations=None, name=None):
    """Transposed 3-D convolution; filters are (d, h, w, out, in).

    >>> import tapeflow as tf
    >>> tf.nn.conv3d_transpose(tf.ones([1, 2, 2, 2, 1]), tf.ones([2, 2, 2, 3, 1]),
    ...                        [1, 4, 4, 4, 3], strides=2).shape
    TensorShape([1, 4, 4, 4, 3])
    """
    return _conv_transpose_nd(input, filters, output_shape, 3, strides, padding, data_format,
                              dilations, "conv3d_transpose")


def depthwise_conv2d(input, filter, strides, padding, data_format=None,  # noqa: A002
                     dilations=None, name=None):
    """Depthwise 2-D convolution: filter (h, w, in, multiplier), output channel c*multiplier+m.

    >>> import tapeflow as tf
    >>> tf.nn.depthwise_conv2d(tf.ones([1, 4, 4, 3]), tf.ones([3, 3, 3, 2]), [1, 1, 1, 1],
    ...                        "VALID").shape
    TensorShape([1, 2, 2, 6])
    """
    x = to_tensor(input)
    w = to_tensor(filter)
    _check_float_pair(x, w, "depthwise_conv2d")
    if w._value.ndim != 4 or x._value.ndim != 4:
        raise InvalidArgumentError(f"depthwise_conv2d: input and filter must be rank 4, got "
                                   f"{tuple(x._value.shape)} and {tuple(w._value.shape)}.")
    cf = _channels_first(data_format, 2, "depthwise_conv2d")
    c = x._value.shape[1 if cf else -1]
    kh, kw, cin, mult = w._value.shape
    if cin != c:
        raise InvalidArgumentError(f"depthwise_conv2d: input depth {c} must equal the filter's "
                                   f"in_channels {cin} (filter shape {tuple(w._value.shape)}).")
    wf = _a.reshape(w, [kh, kw, 1, cin * mult])
    return _conv_nd(x, wf, 2, strides, padding, data_format, dilations, "depthwise_conv2d")


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding,  # noqa: A002
                     data_format=None, dilations=None, name=None):
    """Depthwise convolution followed by a 1x1 pointwise convolution.

    >>> import tapeflow as tf
    >>> tf.nn.separable_conv2d(tf.ones([1, 4, 4, 3]), tf.ones([3, 3, 3, 2]),
    ...                        tf.ones([1, 1, 6, 5]), [1, 1, 1, 1], "SAME").shape
    TensorShape([1, 4, 4, 5])
    """
    h = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations)
    return _conv_nd(h, pointwise_filter, 2, 1, "VALID", data_format, None, "separable_conv2d")


# ---------------------------------------------------------------- pooling wrappers
def _pool_nd(input, ksize, strides, padding, data_format, n, kind, name):  # noqa: A002
    x = to_tensor(input)
    if x._value.ndim != n + 2:
        raise InvalidArgumentError(f"{name}: input must be rank {n + 2}, got shape "
                                   f"{tuple(x._value.shape)}.")
    if x._value.dtype.kind != "f":
        raise InvalidArgumentError(f"{name}: input must be a float tensor, got {x.dtype.name}.")
    cf = _channels_first(data_format, n, name)
    ks = _spatial_arg(ksize, n, cf, name, "ksize")
    st = _spatial_arg(strides, n, cf, name, "strides")
    x = _to_last(x, cf)
    spatial = x._value.shape[1:-1]
    if isinstance(padding, str) and padding.upper() not in ("SAME", "VALID"):
        raise InvalidArgumentError(f"{name}: padding must be 'SAME' or 'VALID', got "
                                   f"{padding!r}.")
    pads = _padding_arg(padding, spatial, ks, st, (1,) * n, cf, name)
    for s, (lo, hi), k in zip(spatial, pads, ks, strict=False):
        if s + lo + hi < k:
            raise InvalidArgumentError(f"{name}: the window {list(ks)} is larger than the input "
                                       f"{tuple(spatial)} with padding {padding!r}.")
    if kind == "MAX":
        cache = {} if _recording() and _is_watched(x) else None
        return _to_first(_max_pool(x, ksize=ks, strides=st, pads=pads, cache=cache), cf)
    return _to_first(_avg_pool(x, ksize=ks, strides=st, pads=pads), cf)


def max_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """Max pooling over 1, 2 or 3 spatial axes (rank from ``input``).

    >>> import tapeflow as tf
    >>> tf.nn.max_pool(tf.reshape(tf.range(16.0), [1, 4, 4, 1]), 2, 2, "VALID")[0, :, :, 0].numpy()
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """
    n = to_tensor(input)._value.ndim - 2
    return _pool_nd(input, ksize, strides, padding, data_format, n, "MAX", "max_pool")


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """1-D max pooling of an NWC input.

    >>> import tapeflow as tf
    >>> tf.nn.max_pool1d(tf.constant([[[1.0], [3.0], [2.0], [0.0]]]), 2, 2, "VALID").numpy()[..., 0]
    array([[3., 2.]], dtype=float32)
    """
    return _pool_nd(input, ksize, strides, padding, data_format, 1, "MAX", "max_pool1d")


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """2-D max pooling of an NHWC input; SAME padding is ignored by the max.

    >>> import tapeflow as tf
    >>> tf.nn.max_pool2d(tf.ones([1, 5, 5, 2]), ksize=3, strides=2, padding="SAME").shape
    TensorShape([1, 3, 3, 2])
    """
    return _pool_nd(input, ksize, strides, padding, data_format, 2, "MAX", "max_pool2d")


def max_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    """3-D max pooling of an NDHWC input.

    >>> import tapeflow as tf
    >>> tf.nn.max_pool3d(tf.ones([1, 4, 4, 4, 1]), 2, 2, "VALID").shape
    TensorShape([1, 2, 2, 2, 1])
    """
    return _pool_nd(input, ksize, strides, padding, data_format, 3, "MAX", "max_pool3d")


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """Average pooling over 1, 2 or 3 spatial axes; SAME divides by the real element count.

    >>> import tapeflow as tf
    >>> tf.nn.avg_pool(tf.ones([1, 3, 3, 1]), 2, 2, "SAME")[0, :, :, 0].numpy()
    array([[1., 1.],
           [1., 1.]], dtype=float32)
    """
    n = to_tensor(input)._value.ndim - 2
    return _pool_nd(input, ksize, strides, padding, data_format, n, "AVG", "avg_pool")


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """1-D average pooling of an NWC input.

    >>> import tapeflow as tf
    >>> tf.nn.avg_pool1d(tf.constant([[[1.0], [3.0]]]), 2, 2, "VALID").numpy()[..., 0]
    array([[2.]], dtype=float32)
    """
    return _pool_nd(input, ksize, strides, padding, data_format, 1, "AVG", "avg_pool1d")


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """2-D average pooling of an NHWC input.

    >>> import tapeflow as tf
    >>> tf.nn.avg_pool2d(tf.ones([2, 4, 4, 3]), 2, 2, "VALID").shape
    TensorShape([2, 2, 2, 3])
    """
    return _pool_nd(input, ksize, strides, padding, data_format, 2, "AVG", "avg_pool2d")


def avg_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    """3-D average pooling of an NDHWC input.

    >>> import tapeflow as tf
    >>> tf.nn.avg_pool3d(tf.ones([1, 4, 4, 4, 1]), 2, 2, "VALID").shape
    TensorShape([1, 2, 2, 2, 1])
    """
    return _pool_nd(input, ksize, strides, padding, data_format, 3, "AVG", "avg_pool3d")


def pool(input, window_shape, pooling_type, strides=None, padding="VALID",  # noqa: A002
         data_format=None, dilations=None, name=None):
    """Generic N-d pooling: ``pooling_type`` "MAX" or "AVG" (dilations must be 1).

    >>> import tapeflow as tf
    >>> tf.nn.pool(tf.ones([1, 4, 4, 1]), [2, 2], "AVG", strides=[2, 2]).shape
    TensorShape([1, 2, 2, 1])
    """
    x = to_tensor(input)
    n = x._value.ndim - 2
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise InvalidArgumentError(f"pool: pooling_type must be 'MAX' or 'AVG', got "
                                   f"{pooling_type!r}.")
    if dilations is not None and any(int(d) != 1 for d in np.atleast_1d(dilations)):
        raise InvalidArgumentError(f"pool: dilations other than 1 are not supported, got "
                                   f"{dilations}.")
    return _pool_nd(x, window_shape, strides, padding, data_format, n, kind, "pool")
