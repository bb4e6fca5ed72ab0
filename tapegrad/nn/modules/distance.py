"""Distance layers: CosineSimilarity, PairwiseDistance.

Each holds its options and calls its function in ``nn.functional`` (the math, and where
each ε goes, are documented there); neither has parameters.
"""
from ..functional import distance as F
from ..module import Module


class CosineSimilarity(Module):
    """``CosineSimilarity(dim=1, eps=1e-8)``: x₁·x₂ / (max(‖x₁‖, ε)·max(‖x₂‖, ε)) along ``dim``."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """``PairwiseDistance(p=2.0, eps=1e-6, keepdim=False)``: ‖x₁ - x₂ + ε‖_p along the last dim."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


__all__ = ["CosineSimilarity", "PairwiseDistance"]
