"""``torch_as_tapegrad``: the import hook installed for one test, then taken off again.

A real torch that another test imported is set aside for the test and put back after, so
the hook's tests and the comparison tests can share one pytest process.
"""
import multiprocessing.spawn
import sys

import pytest

import tapegrad.as_torch as as_torch
from tapegrad.as_torch.modules import is_torch_path


@pytest.fixture
def torch_as_tapegrad():
    real = {name: module for name, module in sys.modules.items() if is_torch_path(name)}
    for name in real:
        del sys.modules[name]
    preparation_data = multiprocessing.spawn.get_preparation_data
    as_torch.install()
    try:
        import torch
        yield torch
    finally:
        as_torch.uninstall()
        multiprocessing.spawn.get_preparation_data = preparation_data
        sys.modules.update(real)
