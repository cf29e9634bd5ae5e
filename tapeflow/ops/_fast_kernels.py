"""Raw-array fast paths for the hot kernels of small CNNs and RNNs (no tape, no Tensors).

Each function here computes exactly what a plainer kernel in ``conv_ops`` computes (same values,
same tie-breaking), but with fewer passes over memory: max pooling over non-overlapping windows
by elementwise maxima of strided slices instead of a reduction over a reshaped view, and its
gradient without materialising one-hot window masks.
"""

import itertools

from tapeflow._backend import np

# Windows with more elements than this go through the general kernels.
MAX_TILE_ELEMENTS = 16


def _offsets(ksize):
    return itertools.product(*[range(k) for k in ksize])


def _tile_slices(shape, ksize, offset):
    # The strided slice that picks element ``offset`` of every whole window.
    n = len(ksize)
    outs = [s // k for s, k in zip(shape[1:n + 1], ksize)]
    return (slice(None),) + tuple(slice(o, o + k * m, k) for o, k, m in zip(offset, ksize, outs))


def tiled_max_pool(x, ksize):
    """Max over non-overlapping ``ksize`` windows of channels-last ``x`` (VALID padding)."""
    out = None
    for off in _offsets(ksize):
        v = x[_tile_slices(x.shape, ksize, off)]
        if out is None:
            out = v.copy()
        else:
            np.maximum(out, v, out=out)
    return out


def tiled_max_pool_grad(x, dy, ksize):
    """Routes ``dy`` to the first maximum (row-major order) of each window, as TF's MaxPoolGrad."""
    y = tiled_max_pool(x, ksize)
    n = len(ksize)
    exact = all(s % k == 0 for s, k in zip(x.shape[1:n + 1], ksize))
    # every element lies in exactly one window when the windows tile x: no zero fill needed
    dx = np.empty(x.shape, dtype=dy.dtype) if exact else np.zeros(x.shape, dtype=dy.dtype)
    floating = np.issubdtype(y.dtype, np.floating)
    nan = floating and bool(np.isnan(y).any())
    # hit * dy is the fast form; it would turn an inf/NaN dy into NaN where nothing is routed
    finite = not floating or bool(np.isfinite(dy).all())
    zero = np.zeros((), dy.dtype)
    taken = None
    for off in _offsets(ksize):
        sl = _tile_slices(x.shape, ksize, off)
        v = x[sl]
        hit = v == y
        if nan:
            hit |= v != v  # a NaN window: the first NaN is the max
        if taken is None:
            taken = hit
        else:
            hit &= ~taken
            taken |= hit
        if finite:
            np.multiply(hit, dy, out=dx[sl])
        else:
            dx[sl] = np.where(hit, dy, zero)
    return dx
