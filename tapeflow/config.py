"""``tf.config``: the devices tapeflow runs on, its thread settings and op determinism.

tapeflow runs on the CPU only, through NumPy. What these settings control:

- ``tf.config.threading.set_intra_op_parallelism_threads(n)``: the thread count of large matrix
  products (at least 2**24 multiply-adds: a big Dense layer, a convolution's GEMM). ``0`` (the
  default, as in TensorFlow "the system picks") lets the Keras loops measure, step by step,
  whether a second BLAS thread makes their steps faster on this machine right now; ``1`` keeps
  every product on one thread; ``n >= 2`` uses up to ``n`` threads for the large ones. Small
  products and elementwise ops run on the calling thread (see ``tapeflow._backend.blas``).
- ``tf.config.experimental.enable_op_determinism()``: the thread count of large products is no
  longer chosen by timing (one and two BLAS threads round differently in the last bits), so the
  same program gives the same bits run after run.
- ``set_inter_op_parallelism_threads`` is recorded and reported; tapeflow runs ops one at a time.

>>> import tapeflow as tf
>>> tf.config.list_physical_devices("CPU")
[PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')]
>>> tf.config.list_physical_devices("GPU")
[]
>>> tf.config.threading.get_intra_op_parallelism_threads()
0
"""

import collections
import types

from tapeflow._backend import blas

__all__ = ["threading", "experimental", "list_physical_devices", "list_logical_devices",
           "get_visible_devices", "set_visible_devices", "run_functions_eagerly",
           "functions_run_eagerly", "PhysicalDevice", "LogicalDevice"]

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])

_settings = {"inter_op": 0, "eager": False}
_DEVICE_TYPES = ("CPU", "GPU", "TPU")


def _check_type(device_type):
    if device_type is not None and not isinstance(device_type, str):
        raise TypeError(f"`device_type` must be a string such as 'CPU' or 'GPU' (or None), "
                        f"received {device_type!r}.")
    return None if device_type is None else device_type.upper()


def list_physical_devices(device_type=None):
    """The physical devices of ``device_type`` (all when ``None``): tapeflow has one CPU.

    >>> import tapeflow as tf
    >>> [d.device_type for d in tf.config.list_physical_devices()]
    ['CPU']
    """
    kind = _check_type(device_type)
    if kind in (None, "CPU"):
        return [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    return []


def list_logical_devices(device_type=None):
    """The logical devices of ``device_type`` (all when ``None``): one CPU.

    >>> import tapeflow as tf
    >>> tf.config.list_logical_devices("CPU")[0].name
    '/device:CPU:0'
    """
    kind = _check_type(device_type)
    if kind in (None, "CPU"):
        return [LogicalDevice("/device:CPU:0", "CPU")]
    return []


def get_visible_devices(device_type=None):
    """The visible physical devices (all of them: one CPU).

    >>> import tapeflow as tf
    >>> len(tf.config.get_visible_devices())
    1
    """
    return list_physical_devices(device_type)


def _physical(device):
    if not isinstance(device, PhysicalDevice) or device not in list_physical_devices():
        raise ValueError(f"Unrecognized device: {device!r}; expected one of "
                         f"tf.config.list_physical_devices() ({list_physical_devices()}).")
    return device


def set_visible_devices(devices, device_type=None):
    """Sets the visible devices. tapeflow always computes on its one CPU, so this only checks
    the request: hiding the GPUs (there are none) is accepted, hiding the CPU is refused.

    >>> import tapeflow as tf
    >>> tf.config.set_visible_devices([], "GPU")
    >>> tf.config.set_visible_devices(tf.config.list_physical_devices("CPU"))
    """
    kind = _check_type(device_type)
    if isinstance(devices, PhysicalDevice):
        devices = [devices]
    devices = [_physical(d) for d in devices]
    if kind in (None, "CPU") and not any(d.device_type == "CPU" for d in devices):
        raise ValueError("tapeflow runs on the CPU: `set_visible_devices` cannot hide it "
                         f"(received devices={devices}, device_type={device_type!r}).")


def _set_memory_growth(device, enable):
    """Memory growth is a GPU setting; tapeflow has no GPU, so any device is refused as
    TensorFlow refuses a CPU (the usual loop over ``list_physical_devices('GPU')`` never calls it).

    >>> import tapeflow as tf
    >>> for gpu in tf.config.list_physical_devices("GPU"):
    ...     tf.config.experimental.set_memory_growth(gpu, True)
    """
    raise ValueError(f"Cannot set memory growth on non-GPU devices: received {device!r}; "
                     f"tapeflow has no GPU (tf.config.list_physical_devices('GPU') is empty).")


def _get_memory_growth(device):
    """Memory growth of a GPU (tapeflow has none: any device is refused)."""
    raise ValueError(f"Cannot get memory growth of non-GPU devices: received {device!r}.")


def run_functions_eagerly(run_eagerly):
    """Records the flag; ``tf.function`` always runs eagerly in tapeflow, so nothing changes.

    >>> import tapeflow as tf
    >>> tf.config.run_functions_eagerly(True); tf.config.functions_run_eagerly()
    True
    >>> tf.config.run_functions_eagerly(False)
    """
    _settings["eager"] = bool(run_eagerly)


def functions_run_eagerly():
    """Whether ``run_functions_eagerly(True)`` was set.

    >>> import tapeflow as tf
    >>> tf.config.functions_run_eagerly()
    False
    """
    return _settings["eager"]


def _check_threads(num_threads):
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(f"`num_threads` must be an integer >= 0 (0: the system picks), "
                         f"received {num_threads!r}.")
    return num_threads


def _set_intra(num_threads):
    """Set number of threads used within an individual op for parallelism (large products).

    >>> import tapeflow as tf
    >>> tf.config.threading.set_intra_op_parallelism_threads(1)
    >>> tf.config.threading.get_intra_op_parallelism_threads()
    1
    >>> tf.config.threading.set_intra_op_parallelism_threads(0)
    """
    blas.set_big_threads(_check_threads(num_threads))


def _get_intra():
    """Get number of threads used within an individual op (``0``: tapeflow picks).

    >>> import tapeflow as tf
    >>> tf.config.threading.get_intra_op_parallelism_threads()
    0
    """
    return blas.get_big_threads()


def _set_inter(num_threads):
    """Set number of threads used for parallelism between independent operations (recorded;
    tapeflow runs its ops one after the other).

    >>> import tapeflow as tf
    >>> tf.config.threading.set_inter_op_parallelism_threads(2)
    >>> tf.config.threading.get_inter_op_parallelism_threads()
    2
    >>> tf.config.threading.set_inter_op_parallelism_threads(0)
    """
    _settings["inter_op"] = _check_threads(num_threads)


def _get_inter():
    """Get number of threads used for parallelism between independent operations.

    >>> import tapeflow as tf
    >>> tf.config.threading.get_inter_op_parallelism_threads()
    0
    """
    return _settings["inter_op"]


def _enable_op_determinism():
    """Configures ops to run deterministically: the same inputs give the same bits every run.

    In tapeflow the only source of run-to-run differences is the BLAS thread count of large
    products, which is then fixed instead of measured.

    >>> import tapeflow as tf
    >>> tf.config.experimental.enable_op_determinism()
    >>> tf.config.experimental._disable_op_determinism()
    """
    blas._state["deterministic"] = True


def _disable_op_determinism():
    blas._state["deterministic"] = False


threading = types.SimpleNamespace(
    set_intra_op_parallelism_threads=_set_intra, get_intra_op_parallelism_threads=_get_intra,
    set_inter_op_parallelism_threads=_set_inter, get_inter_op_parallelism_threads=_get_inter)
threading.__doc__ = "``tf.config.threading``: thread counts within and between ops."

experimental = types.SimpleNamespace(
    enable_op_determinism=_enable_op_determinism, _disable_op_determinism=_disable_op_determinism,
    list_physical_devices=list_physical_devices, list_logical_devices=list_logical_devices,
    set_visible_devices=set_visible_devices, get_visible_devices=get_visible_devices,
    set_memory_growth=_set_memory_growth, get_memory_growth=_get_memory_growth)
experimental.__doc__ = "``tf.config.experimental``: op determinism and device lists."
