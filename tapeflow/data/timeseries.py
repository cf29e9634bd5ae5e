"""``keras.utils.timeseries_dataset_from_array``: sliding windows over a time series."""

from tapeflow._backend import np
from tapeflow.data import _structure as st
from tapeflow.data.dataset import AUTOTUNE, Dataset, _MapDataset
from tapeflow.framework import dtypes as _dt
from tapeflow.framework.tensor_spec import TensorSpec

__all__ = ["timeseries_dataset_from_array"]


def _check_positive_below(value, name, n):
    if value <= 0:
        raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
    if value >= n:
        raise ValueError(f"`{name}` must be lower than the length of the data. Received: "
                         f"{name}={value}, for data of length {n}")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """A dataset of windows ``data[i : i + sequence_length * sampling_rate : sampling_rate]``
    for ``i = 0, sequence_stride, ...`` (within ``[start_index, end_index)``), batched, with
    ``targets[i]`` as the target of the window that starts at ``i`` (Keras's semantics).

    Args:
        data: array or Tensor of time steps along axis 0.
        targets: array of targets, or None to yield windows only.
        sequence_length: number of time steps in a window.
        sequence_stride: distance between the starts of consecutive windows.
        sampling_rate: distance between time steps inside a window.
        batch_size: windows per batch, or None for unbatched windows.
        shuffle: shuffle the windows (the start positions once with ``seed``, then a local
            buffer of ``8 * batch_size`` at each epoch, as Keras does).
        seed: seed of the shuffles.
        start_index, end_index: bounds of the part of ``data`` to use.

    Returns:
        A ``tf.data.Dataset`` of ``(windows, targets)`` or of ``windows``.

    >>> import numpy as np
    >>> from tapeflow.data import timeseries_dataset_from_array
    >>> ds = timeseries_dataset_from_array(np.arange(10), np.arange(10) * 10, sequence_length=3,
    ...                                    sequence_stride=2, batch_size=2)
    >>> x, y = next(iter(ds))
    >>> x.numpy().tolist(), y.numpy().tolist()
    ([[0, 1, 2], [2, 3, 4]], [0, 20])
    """
    data = st.to_array(data)
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= n:
            raise ValueError(f"`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index}")
        if end_index >= n:
            raise ValueError(f"`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: "
                             f"end_index={end_index}")
    _check_positive_below(sampling_rate, "sampling_rate", n)
    _check_positive_below(sequence_stride, "sequence_stride", n)
    if sequence_length <= 0:
        raise ValueError(f"`sequence_length` must be higher than 0. Received: "
                         f"sequence_length={sequence_length}")
    start = start_index or 0
    end = n if end_index is None else end_index
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = st.to_array(targets)
        num_seqs = min(num_seqs, len(targets))
    index_dtype = np.int32 if num_seqs < 2147483647 else np.int64
    positions = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=index_dtype)
    if shuffle:
        if seed is None:
            from tapeflow.keras import _rng  # noqa: PLC0415

            seed = int(_rng.generator().integers(0, 10**6))
        np.random.RandomState(seed).shuffle(positions)

    steps = data[start:end]
    offsets = np.arange(0, sequence_length * sampling_rate, sampling_rate, dtype=index_dtype)
    target_steps = None if targets is None else targets[start:end]

    def windows(pos):  # pos: one start position or a batch of them (raw arrays)
        x = steps[np.asarray(pos)[..., None] + offsets]
        return x if target_steps is None else (x, target_steps[pos])

    ds = Dataset.from_tensor_slices(positions)
    if shuffle:
        ds = ds.shuffle(8 * batch_size if batch_size is not None else 1024, seed=seed)
    if batch_size is not None:
        ds = ds.batch(batch_size)
    # Keras's spec: the batch and time dimensions are unknown.
    batch_dims = [None] if batch_size is not None else []
    x_spec = TensorSpec(batch_dims + [None] + list(data.shape[1:]), _dt.from_numpy(data.dtype))
    spec = x_spec if targets is None else (x_spec, TensorSpec(
        batch_dims + list(targets.shape[1:]), _dt.from_numpy(targets.dtype)))
    return _MapDataset(ds, windows, raw=True, spec=spec).prefetch(AUTOTUNE)
