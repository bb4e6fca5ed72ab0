"""The CUDA side of the backend: cupy, imported only when a cuda tensor is made.

`import tapegrad` never imports cupy, so tapegrad works on machines without a GPU.
`is_available()` answers False cleanly when cupy, the driver or a device is missing.
"""
import importlib

INSTALL_HINT = ('install the cuda extra: pip install "tapegrad[cuda]" (it brings cupy-cuda12x and '
                'numba-cuda)')

_cupy = None
_current_index = 0   # the GPU that a plain device("cuda") means (torch.cuda.set_device)


def _import_cupy():
    """cupy, or an ImportError that says how to get it."""
    global _cupy
    if _cupy is None:
        try:
            _cupy = importlib.import_module("cupy")
        except ImportError as error:
            raise RuntimeError(
                f"a cuda device was asked for, but cupy is not installed ({error}); {INSTALL_HINT}"
            ) from None
    return _cupy


def is_available():
    """True when cupy imports and at least one CUDA device answers."""
    return device_count() > 0


def device_count():
    """Number of CUDA devices cupy can see (0 without cupy, driver or GPU)."""
    try:
        cupy = _import_cupy()
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no cupy, no driver, no device: all mean "none"
        return 0


def synchronize():
    """Wait until every kernel queued on the current CUDA device has finished."""
    if is_available():
        _cupy.cuda.Device().synchronize()


def current_index():
    """The index of the GPU that plain ``"cuda"`` means: 0 unless ``set_current_index`` moved it."""
    return _current_index


def set_current_index(index):
    """Make plain ``"cuda"`` mean ``cuda:index`` from now on (checked against the devices)."""
    global _current_index
    array_module(index).cuda.Device(index).use()   # refuses a GPU this machine lacks
    _current_index = index


def array_module(index):
    """cupy, checked to have the asked-for device; a clear error otherwise."""
    cupy = _import_cupy()
    count = device_count()
    if count == 0:
        raise RuntimeError(
            "a cuda device was asked for, but cupy finds no CUDA device or driver on this machine; "
            "use device='cpu', or run on a machine with an NVIDIA GPU"
        )
    if index >= count:
        raise RuntimeError(f"cuda:{index} was asked for, but this machine has {count} CUDA device(s)")
    return cupy
