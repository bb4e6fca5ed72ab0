"""Loss layers: MSELoss, L1Loss, HuberLoss, SmoothL1Loss, BCELoss, BCEWithLogitsLoss,
CrossEntropyLoss, NLLLoss, KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss.

Each holds its options and calls its function in ``nn.functional`` (the formulas are
documented there). Class weights are buffers, as in PyTorch: ``to()`` moves them and
``state_dict()`` saves them. ``size_average`` and ``reduce`` are PyTorch's deprecated
spellings of ``reduction``, accepted with its warning.
"""
from ..functional import loss as F
from ..module import Module


class _Loss(Module):
    """A loss: ``reduction`` is 'mean' (the default), 'sum' or 'none'."""

    _reductions = ("mean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = F._legacy_reduction(size_average, reduce, stacklevel=4)
        if reduction not in self._reductions:
            expected = ", ".join(repr(r) for r in self._reductions)
            raise ValueError(f"{type(self).__name__}: {reduction!r} is not a valid value for "
                             f"reduction (expected one of {expected})")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with a ``weight`` buffer (one rescaling weight per class or element)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """``L1Loss(reduction='mean')``: |x - y|."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """``MSELoss(reduction='mean')``: (x - y)²."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """``HuberLoss(reduction='mean', delta=1.0)``: quadratic within delta, linear beyond."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """``SmoothL1Loss(reduction='mean', beta=1.0)``: HuberLoss(delta=beta) / beta."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    """``BCELoss(weight=None, reduction='mean')``: -w(y log x + (1 - y) log(1 - x)) for
    probabilities x (prefer BCEWithLogitsLoss on logits)."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None)``: BCELoss of
    sigmoid(x), computed stably from the logits x; ``pos_weight`` weighs the positives
    of each class (the last dimension)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """``NLLLoss(weight=None, ignore_index=-100, reduction='mean')``: -w_y x_y for
    log-probabilities x and class indices y."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """``CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean',
    label_smoothing=0.0)``: -log softmax(x)_y for logits x (N, C, …) and class indices y
    (N, …), or -Σ_c y_c log softmax(x)_c for class probabilities y of x's shape."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        F._check_label_smoothing(type(self).__name__, label_smoothing)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class KLDivLoss(_Loss):
    """``KLDivLoss(reduction='mean', log_target=False)``: y(log y - x) for log-probabilities
    x; use ``reduction='batchmean'`` for the KL divergence per sample."""

    _reductions = ("mean", "sum", "none", "batchmean")

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """``CosineEmbeddingLoss(margin=0.0, reduction='mean')``: 1 - cos(x1, x2) for y = 1,
    max(0, cos(x1, x2) - margin) for y = -1."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``MarginRankingLoss(margin=0.0, reduction='mean')``: max(0, -y(x1 - x2) + margin)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


__all__ = ["L1Loss", "MSELoss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
           "NLLLoss", "CrossEntropyLoss", "KLDivLoss", "CosineEmbeddingLoss",
           "MarginRankingLoss"]
