"""The CPU kernels of convolution and pooling.

* ``im2col.py``: windows of an image as columns (stride tricks, no Python loop);
* ``col2im.py``: the columns added back onto the image (numba);
* ``conv.py``: convolution and its two gradients as one matmul each, in chunks of the batch;
* ``batch_split.py``: a convolution's pass with the batch shared between threads;
* ``shifted_rows.py``: the forward pass of a stride-1 "same" convolution on kh row-shifted
  copies of the image (im2col copies it kh·kw times);
* ``maxpool.py``: max pooling with the positions of the maxima, and its backward (numba);
* ``avgpool.py``: average pooling (sums of strided views) and its adjoint;
* ``index_add.py``: adding slices back at given positions along one axis (numba);
* ``workspace.py``: scratch buffers reused across calls.

Only the numba loops are tied to the cpu (they run where ``xp.numba_cpu``): the rest is
written with the backend namespace ``xp`` and runs on cupy too, with ``kernels/generic.py``
standing in for the loops.
"""
from .col2im import fold
from .conv import backward as conv_backward
from .conv import forward as conv_forward
from .conv import input_grad as conv_input_grad
from .conv import weight_grad as conv_weight_grad
from .im2col import unfold
from .maxpool import max_pool, max_unpool_add
from .maxpool import max_values as max_pool_values

# (the names kernels/cuda gives the same kernels: ``kernels._kernels`` picks either module)
__all__ = ["conv_backward", "conv_forward", "conv_input_grad", "conv_weight_grad", "fold",
           "max_pool", "max_pool_values", "max_unpool_add", "unfold"]
