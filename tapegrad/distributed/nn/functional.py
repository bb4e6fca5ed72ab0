"""Collectives on the tape: their result keeps a gradient path back to every process's input.

``all_reduce`` with SUM: y = Σ_r x_r on every rank r. A loss on each rank depends on every
rank's x, so ∂(Σ_r L_r)/∂x_q = Σ_r ∂L_r/∂y_r: the backward is the same all_reduce, of the
incoming gradients. SyncBatchNorm uses it to sum per-channel statistics over processes.
"""
from ...autograd.function import Function
from .. import collectives
from ..reduce_op import ReduceOp


class _AllReduceSum(Function):
    """y = Σ over processes of x;  ∂/∂x_q of Σ_r L_r = Σ_r g_r  (an all_reduce of the gradients)"""

    @staticmethod
    def forward(ctx, input):
        output = input.clone()
        collectives.all_reduce(output, ReduceOp.SUM)
        return output

    @staticmethod
    def backward(ctx, grad):
        summed = grad.contiguous().clone()
        collectives.all_reduce(summed, ReduceOp.SUM)
        return summed


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """A new tensor: the sum of ``tensor`` over every process, differentiable (only SUM is)."""
    if op is not ReduceOp.SUM:
        raise NotImplementedError(f"tapegrad.distributed.nn.functional.all_reduce differentiates "
                                  f"ReduceOp.SUM only, got {op!r}")
    collectives._check_group(group)
    return _AllReduceSum.apply(tensor)
