"""``SyncBatchNorm``: BatchNorm whose batch statistics cover every process's batch.

In data-parallel training each process sees a slice of the batch. Plain BatchNorm
normalises each slice with its own mean and variance; SyncBatchNorm sums the statistics
over all processes first, so the layer computes exactly what BatchNorm would on the whole
batch, and so does its gradient: the sums go through ``distributed.nn.functional.all_reduce``,
which is on the tape (its backward sums the gradients over the processes too).

Outside training, or without a process group of more than one process, it is BatchNorm.
"""
import math

from ...autograd import grad_mode
from ...autograd.ops.shape import cat
from ...creation import full
from ..functional.normalization import _per_channel
from .normalization import _BatchNorm


class SyncBatchNorm(_BatchNorm):
    """``SyncBatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, process_group=None)`` for (N, C, *):
    y = (x - μ_c) / √(σ²_c + ε) · γ_c + β_c with μ_c = Σ_ranks Σ x / n and
    σ²_c = Σ_ranks Σ (x - μ_c)² / n, n the number of values of channel c on all processes.
    """

    _dims = (2, 3, 4, 5)
    _layout = "input of 2 to 5 dimensions (N, C, *)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input):
        from ... import distributed
        use_batch_stats = self.training or self.running_mean is None
        if not (use_batch_stats and distributed.is_initialized()
                and distributed.get_world_size(self.process_group) > 1):
            return super().forward(input)
        self._check_input(input)
        all_reduce = distributed.nn.functional.all_reduce
        channels, ndim = self.num_features, input.ndim
        axes = (0,) + tuple(range(2, ndim))
        # One collective for the sums and the count (batches may differ between processes).
        local_count = math.prod(input.shape[a] for a in axes)
        counted = full((1,), local_count, dtype=input.dtype, device=input.device)
        totals = all_reduce(cat([input.sum(axes), counted]), group=self.process_group)
        count = round(totals[channels].item())
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {tuple(input.shape)} on this process and {count} values "
                             f"per channel on all processes together")
        mean = totals[:channels] / count
        centred = input - _per_channel(mean, ndim)
        # The variance around the global mean: a second pass, exact where Σx² - n·μ² is not.
        var = all_reduce(centred.pow(2).sum(axes), group=self.process_group) / count
        scale = (var + self.eps).rsqrt()
        if self.weight is not None:
            scale = scale * self.weight
        output = centred * _per_channel(scale, ndim)
        if self.bias is not None:
            output = output + _per_channel(self.bias, ndim)
        if self.training and self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach() * (count / (count - 1)))
        return output

    def _update_running_stats(self, mean, unbiased_var):
        with grad_mode.no_grad():
            if self.momentum is None:   # a cumulative average, as BatchNorm
                factor = 1.0 / (int(self.num_batches_tracked.item()) + 1)
            else:
                factor = self.momentum
            self.running_mean.mul_(1 - factor).add_(mean * factor)
            self.running_var.mul_(1 - factor).add_(unbiased_var * factor)
            self.num_batches_tracked.add_(1)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d in it replaced by a SyncBatchNorm that shares its
        parameters and buffers (the module itself if it is not, and has no, BatchNorm)."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                if getattr(module, name) is not None:
                    setattr(converted, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                converted.register_buffer(name, getattr(module, name))
            converted.train(module.training)
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
