"""``torch.utils.data.distributed``'s path: ``DistributedSampler`` lives in
``tapegrad.data.distributed``."""
from ...data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
