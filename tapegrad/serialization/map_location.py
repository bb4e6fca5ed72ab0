"""``map_location``: on which device each loaded storage goes.

Every storage in a checkpoint records the device it was saved from (its *location*: "cpu",
"cuda:0"). As in PyTorch, ``map_location`` decides where it goes instead:

    None                     where it was saved (an error if that device is not here)
    "cpu", "cuda:1", device  every storage there
    {"cuda:1": "cuda:0"}     the locations listed are renamed; the others stay
    fn(storage, location)    fn returns the storage moved (``storage.cuda(1)``), or None
                             for the default; ``storage`` is a 1-d cpu tensor of its elements
"""
from .. import backend
from ..autograd.tensor import Tensor, wrap
from .rebuild import Storage, UnsafeOrCorruptFile


class MapLocationError(TypeError):
    """A ``map_location`` function failed, or returned something that is not the storage."""


class Placement:
    """Puts host arrays read from a file where ``map_location`` says."""

    def __init__(self, map_location):
        if not (map_location is None or callable(map_location)
                or isinstance(map_location, (str, backend.device, dict))):
            raise TypeError(f"load() expects map_location to be None, a device, a string, a "
                            f"dict or a function, got {type(map_location).__name__}")
        if isinstance(map_location, dict):
            for key, value in map_location.items():
                if not isinstance(key, str) or not isinstance(value, (str, backend.device)):
                    raise TypeError(f"a map_location dict maps location strings to devices, "
                                    f"got {key!r}: {value!r}")
        if isinstance(map_location, (str, backend.device)):
            backend.as_device(map_location)  # a bad device string fails here, before reading
        self.map_location = map_location

    def storage(self, host_array, dtype, key, location):
        """A ``Storage`` of the flat ``host_array``, on the device chosen for ``location``."""
        if callable(self.map_location):
            cpu_view = wrap(host_array, backend.CPU)
            try:
                moved = self.map_location(cpu_view, location)
            except Exception as error:
                raise MapLocationError(f"the map_location function failed for storage {key!r} "
                                       f"saved on {location!r}: {error}") from error
            if moved is not None:
                if not (isinstance(moved, Tensor) and moved.dtype is dtype
                        and tuple(moved.shape) == (host_array.size,)
                        and moved.array.flags.c_contiguous):
                    raise MapLocationError(
                        f"map_location returned {moved!r:.80} for storage {key!r}; it must "
                        f"return the storage it was given (a contiguous 1-d {dtype} tensor of "
                        f"{host_array.size} elements), moved, or None")
                return Storage(moved.array, moved.device, dtype, key)
            target = self._saved_device(location)
        else:
            target = self.device_for(location, key)
        _check_available(target, location)
        return Storage(backend.to_device(host_array, target), target, dtype, key)

    def device_for(self, location, key):
        """The device a storage saved on ``location`` goes to (map_location not a function)."""
        if callable(self.map_location):
            raise NotImplementedError(f"storage {key!r}: a map_location function is not "
                                      f"supported for this file; pass a device or a dict")
        if isinstance(self.map_location, dict):
            return self._saved_device(self.map_location.get(location, location))
        if self.map_location is None:
            return self._saved_device(location)
        return backend.as_device(self.map_location)

    @staticmethod
    def _saved_device(location):
        location = str(location)
        try:
            return backend.as_device(location)
        except (ValueError, TypeError):
            raise UnsafeOrCorruptFile(
                f"a storage was saved on {location!r:.40}, a device tapegrad does not have; "
                f"pass map_location='cpu' to load it on the cpu") from None


def _check_available(target, location):
    if target.type == "cuda" and not backend.cuda.is_available():
        raise RuntimeError(
            f"Attempting to deserialize a storage saved on {location!r} onto {target}, but "
            f"tapegrad.cuda.is_available() is False. On a machine without a GPU, load with "
            f"map_location='cpu' (or map_location=tapegrad.device('cpu')).")
