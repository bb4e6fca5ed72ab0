"""``tapegrad.nn.parallel``: wrappers that run a module's forward on a device, with PyTorch's
names, so training scripts written for them run unchanged. One file per wrapper, each
imported here on one line.
"""
from .data_parallel import DataParallel, data_parallel  # noqa: F401
from .distributed import DistributedDataParallel  # noqa: F401
