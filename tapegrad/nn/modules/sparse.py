"""``Embedding``: a learned vector per item (word, token, category), looked up by index."""
from ... import creation
from ...autograd import grad_mode
from .. import init
from ..functional.sparse import embedding
from ..module import Module
from ..parameter import Parameter


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim)``: maps integer indices of any shape (*) to
    rows of ``weight`` (num_embeddings, embedding_dim), giving (*, embedding_dim).

    ``weight`` starts as N(0, 1). ``padding_idx``: that row starts at zero and never gets a
    gradient (an index for "no item"). ``max_norm``: rows looked up are first rescaled, in
    place, to at most that ``norm_type``-norm. ``scale_grad_by_freq``: gradients divided
    by each index's count in the batch. ``sparse`` is accepted; gradients are dense.
    ``_weight`` gives the initial table (shared, not copied), ``_freeze`` stops its gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Padding_idx must be within num_embeddings (got "
                                     f"padding_idx={padding_idx} for "
                                     f"num_embeddings={num_embeddings})")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(creation.empty((num_embeddings, embedding_dim),
                                                   device=device, dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Shape of weight does not match num_embeddings and "
                                     f"embedding_dim: expected {(num_embeddings, embedding_dim)}, "
                                     f"got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with grad_mode.no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input):
        try:
            return embedding(input, self.weight, self.padding_idx, self.max_norm,
                             self.norm_type, self.scale_grad_by_freq, self.sparse)
        except IndexError as error:   # name the layer, not just the function
            raise IndexError(f"{self._get_name()}({self.extra_repr()}): "
                             f"{str(error).removeprefix('embedding: ')}") from None

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            text += ", sparse=True"
        return text

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose table is ``embeddings`` (2-D, shared, not copied), frozen
        (no gradient) unless ``freeze=False``; the padding row is kept as given."""
        if getattr(embeddings, "ndim", None) != 2:
            raise ValueError(f"Embeddings parameter is expected to be 2-dimensional, got "
                                 f"shape {tuple(getattr(embeddings, 'shape', ()))}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)


__all__ = ["Embedding"]
