"""Run scripts written for PyTorch on tapegrad, unmodified.

    python -m tapegrad.as_torch train.py --epochs 1     # run a PyTorch script
    python -m tapegrad.as_torch --check train.py        # list the torch names tapegrad lacks

or, in a notebook or a program, before anything imports torch::

    import tapegrad.as_torch; tapegrad.as_torch.install()
    import torch                     # tapegrad, under PyTorch's module names

Where to read: ``modules.py`` (which torch path is which tapegrad module), ``hook.py``
(the import hook and the alias modules), ``check.py`` (the static report), ``__main__.py``
(the command line).
"""
import multiprocessing.spawn

from .hook import AliasModule, install_hook, installed, missing_message, uninstall_hook
from .modules import TORCH_TO_TAPEGRAD

__all__ = ["AliasModule", "TORCH_TO_TAPEGRAD", "install", "installed", "missing_message",
           "uninstall"]

_PREPARATION_KEY = "tapegrad_as_torch"
_original_preparation_data = multiprocessing.spawn.get_preparation_data


def install():
    """From now on ``import torch`` (and torchvision's datasets, transforms, utils, models)
    gives tapegrad, here and in the child processes that multiprocessing starts by spawn or
    forkserver."""
    install_hook()
    multiprocessing.spawn.get_preparation_data = _preparation_data_that_installs


def uninstall():
    """Undo :func:`install`: ``import torch`` looks on disk again."""
    uninstall_hook()
    multiprocessing.spawn.get_preparation_data = _original_preparation_data


class _InstallOnUnpickle:
    """Unpickling this calls ``install()``.

    A spawned child unpickles the parent's preparation data first and only then re-imports
    the parent's script (whose ``import torch`` must already find tapegrad) and unpickles
    the process object. Putting this object in that data installs the hook in the child
    before either happens, with no ``.pth`` file or environment variable.
    """

    def __reduce__(self):
        return (install, ())


def _preparation_data_that_installs(name):
    data = _original_preparation_data(name)
    data[_PREPARATION_KEY] = _InstallOnUnpickle()  # multiprocessing ignores keys it does not know
    return data
