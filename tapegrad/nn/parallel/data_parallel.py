"""``DataParallel`` and ``data_parallel``: PyTorch's single-process data parallelism, on one
device.

PyTorch splits each batch along ``dim`` across the GPUs in ``device_ids``, runs a copy of
the module on each, and gathers the outputs on ``output_device``. With one device there is
nothing to split: the inputs are moved to that device and the module runs there. That is
what tapegrad does: on one GPU (``device_ids`` of length one, or None: cuda:0), or on the
cpu when no GPU is available, where PyTorch's DataParallel also simply calls the module.
Several device ids raise NotImplementedError rather than silently using one of them.

The module is stored as ``.module``, so state_dict keys get PyTorch's ``module.`` prefix
(``module.fc.weight``) and checkpoints load into either side unchanged.
"""
from ...backend import cuda
from ...backend.device import device as Device
from ...autograd.tensor import Tensor
from ..module import Module


def _device_index(spec, where):
    """An index from 3, "cuda:3" or device("cuda", 3)."""
    if isinstance(spec, bool):
        raise TypeError(f"{where}: a device id must be an int or a cuda device, got {spec!r}")
    if isinstance(spec, int):
        return spec
    if isinstance(spec, (str, Device)) and Device(spec).type == "cuda":
        return Device(spec).index or 0
    raise ValueError(f"{where}: expected a cuda device or its index, got {spec!r}")


def _one_device(device_ids, output_device, where):
    """The one cuda device to run on, from device_ids (None: cuda:0) and output_device."""
    ids = [0] if device_ids is None else [_device_index(d, where) for d in device_ids]
    if len(ids) != 1:
        raise NotImplementedError(
            f"{where}: tapegrad runs data parallelism on one device; device_ids={ids} asks to "
            f"split each batch across {len(ids)} devices, which is not implemented (pass one "
            f"device id, or use one process per GPU)")
    if output_device is not None and _device_index(output_device, where) != ids[0]:
        raise NotImplementedError(
            f"{where}: with one device the output stays on cuda:{ids[0]}; output_device="
            f"{output_device!r} would need a copy to another device, which is not implemented")
    return ids, Device("cuda", ids[0])


def _check_module_on(module, device, where):
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        if t.device != device:
            raise RuntimeError(f"{where}: module must have its parameters and buffers on device "
                               f"{device} (device_ids[0]) but found {name} on device: "
                               f"{t.device}")


def _moved(obj, device):
    """obj with every tensor in it (in tuples, lists and dicts too) moved to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):    # a namedtuple
        return type(obj)(*(_moved(o, device) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_moved(o, device) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _moved(v, device)) for k, v in obj.items())
    return obj


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``:
    ``dp(*inputs, **kwargs)`` runs ``dp.module`` on the inputs, on one device (see the
    module docstring). Without a GPU it calls the module as it is, as PyTorch does."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected an nn.Module to wrap, got "
                            f"{type(module).__name__}")
        if not cuda.is_available():
            self.module = module
            self.device_ids = []
            return
        ids, device = _one_device(device_ids, output_device, "DataParallel")
        self.dim = dim
        self.module = module
        self.device_ids = ids
        self.output_device = ids[0]
        self.src_device_obj = device
        self.module.to(device)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        _check_module_on(self.module, self.src_device_obj, "DataParallel")
        return self.module(*_moved(inputs, self.src_device_obj),
                           **_moved(kwargs, self.src_device_obj))


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """``module(*inputs, **module_kwargs)`` as DataParallel runs it, without the wrapper:
    on one GPU (the module must already be there), or on the cpu when there is no GPU.
    ``inputs`` is a tuple of positional arguments, or a single one."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    module_kwargs = {} if module_kwargs is None else module_kwargs
    if not cuda.is_available():
        return module(*inputs, **module_kwargs)
    _, device = _one_device(device_ids, output_device, "data_parallel")
    _check_module_on(module, device, "data_parallel")
    return module(*_moved(inputs, device), **_moved(module_kwargs, device))


__all__ = ["DataParallel", "data_parallel"]
