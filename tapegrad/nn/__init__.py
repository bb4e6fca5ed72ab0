"""``tapegrad.nn`` (``import tapegrad.nn as nn``): Module, Parameter, containers, layers,
losses, and the ``functional``, ``init`` and ``utils`` submodules, with PyTorch's names.
"""
from . import functional, init, parallel, utils
from .containers import ModuleDict, ModuleList, Sequential
from .module import Module
from .modules import *  # noqa: F401,F403  (every layer class: Linear, Conv2d, ReLU, …)
from .modules import __all__ as _layers
from .parallel import DataParallel
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "DataParallel",
           "functional", "init", "parallel", "utils"] + list(_layers)
