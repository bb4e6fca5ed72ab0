"""``tapegrad.distributed.nn``: collectives that autograd can differentiate through
(``functional.all_reduce``), as PyTorch's ``torch.distributed.nn``."""
from . import functional

__all__ = ["functional"]
