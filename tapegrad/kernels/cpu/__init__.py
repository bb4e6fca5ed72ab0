"""The CPU kernels of convolution and pooling.

* ``im2col.py``: windows of an image as columns (stride tricks, no Python loop);
* ``col2im.py``: the columns added back onto the image (numba);
* ``conv.py``: convolution and its two gradients as one matmul each;
* ``maxpool.py``: max pooling with the positions of the maxima, and its backward (numba);
* ``avgpool.py``: average pooling (sums of strided views) and its adjoint;
* ``index_add.py``: adding slices back at given positions along one axis (numba);
* ``workspace.py``: scratch buffers reused across calls.

Only the numba loops are tied to the cpu: the rest is written with the array module
``xp`` and runs on cupy too, with ``kernels/generic.py`` standing in for the loops.
"""
