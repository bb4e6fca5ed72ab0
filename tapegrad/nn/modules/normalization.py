"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``.

BatchNorm normalises each channel with the statistics of the current batch while
training, and keeps exponential averages of them (the *running* mean and variance,
buffers saved in the state_dict) to normalise with in evaluation, when batches may be a
single sample. LayerNorm and GroupNorm use each sample's own statistics, so they behave
the same in training and evaluation and keep no running state.
"""
from ... import creation, dtypes
from ...autograd import grad_mode
from .. import init
from ..functional.normalization import batch_norm, group_norm, layer_norm
from ..module import Module
from ..parameter import Parameter


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the shapes they accept."""

    _dims = ()            # the accepted numbers of dimensions
    _layout = ""          # how the accepted shapes read, for the error message

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(creation.empty(num_features, device=device, dtype=dtype))
            self.bias = Parameter(creation.empty(num_features, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean",
                                 creation.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var",
                                 creation.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked",
                                 creation.zeros((), device=device, dtype=dtypes.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            with grad_mode.no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input(self, input):
        shape = tuple(getattr(input, "shape", ()))
        if not hasattr(input, "shape") or len(shape) not in self._dims:
            got = f"shape {shape}" if hasattr(input, "shape") else type(input).__name__
            raise ValueError(f"{self._get_name()}({self.num_features}) expected a "
                             f"{self._layout}, got {got}")
        if shape[1] != self.num_features:
            raise RuntimeError(f"{self._get_name()}({self.num_features}) expected an input with "
                               f"{self.num_features} channels (dimension 1), got shape {shape}")

    def forward(self, input):
        self._check_input(input)
        tracking = self.training and self.track_running_stats
        if tracking and self.momentum is None:
            # A cumulative average: batch k counts 1/k, so every batch weighs the same.
            factor = 1.0 / (int(self.num_batches_tracked.item()) + 1)
        else:
            factor = self.momentum if self.momentum is not None else 0.0
        # Batch statistics in training, and in evaluation when no running ones are kept.
        use_batch_stats = self.training or self.running_mean is None
        track = tracking or not self.training
        output = batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)
        if tracking:   # after batch_norm, which raises before changing anything
            with grad_mode.no_grad():
                self.num_batches_tracked.add_(1)
        return output

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """``BatchNorm1d(num_features)`` for (N, C) or (N, C, L):
    y = (x - μ_c) / √(σ²_c + ε) · γ_c + β_c per channel c, with the batch's statistics in
    training (the running ones updated with ``momentum``; ``momentum=None``: a cumulative
    average) and the running ones in evaluation. ``weight`` γ starts at 1, ``bias`` β at 0.
    """

    _dims = (2, 3)
    _layout = "2-D or 3-D input (N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """``BatchNorm2d(num_features)`` for (N, C, H, W): BatchNorm1d's rule, the statistics of
    each channel taken over the batch and every position."""

    _dims = (4,)
    _layout = "4-D input (N, C, H, W)"


class LayerNorm(Module):
    """``LayerNorm(normalized_shape)``: y = (x - μ) / √(σ² + ε) · γ + β over the last
    dimensions (``normalized_shape``) of each sample; γ (ones) and β (zeros) have that shape
    (with ``elementwise_affine``; ``bias=False`` keeps only γ)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.empty(self.normalized_shape, device=device,
                                                   dtype=dtype))
            if bias:
                self.bias = Parameter(creation.empty(self.normalized_shape, device=device,
                                                     dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """``GroupNorm(num_groups, num_channels)`` for (N, C, *): the C channels are split into
    ``num_groups`` groups of consecutive channels, and each sample's group is normalised
    with its own mean and variance; then γ_c (ones), β_c (zeros) per channel (``affine``)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(creation.empty(num_channels, device=device, dtype=dtype))
            self.bias = Parameter(creation.empty(num_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) < 2 or shape[1] != self.num_channels:
            got = f"shape {shape}" if hasattr(input, "shape") else type(input).__name__
            raise RuntimeError(f"{self._get_name()}({self.extra_repr()}) expected an input "
                               f"(N, {self.num_channels}, *), got {got}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]
