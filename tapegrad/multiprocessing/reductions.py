"""How tensors travel to other processes (through a ``Queue``, or as ``Process`` arguments).

``multiprocessing`` pickles what it sends with its ``ForkingPickler``; registering a reducer
for ``Tensor`` and ``Parameter`` there changes how tensors travel between processes and
nowhere else (``pickle.dumps`` and ``tapegrad.save`` are untouched):

* a tensor in shared memory travels as a handle, (segment name, offset, shape, strides,
  dtype): the receiver maps the same memory, so its in-place updates are the sender's too;
* any other cpu tensor travels by value, a copy.

``requires_grad`` travels with the tensor; ``.grad`` and the history do not. A tensor made
by an operation that requires grad is refused, as in PyTorch: its history cannot follow it.
"""
from multiprocessing.reduction import ForkingPickler

import numpy

from ..backend import shared_memory


def rebuild_tensor(array, requires_grad, parameter):
    from ..autograd.tensor import wrap
    from ..backend import as_device
    tensor = wrap(array, as_device("cpu"))
    if parameter:
        from ..nn.parameter import Parameter
        return Parameter(tensor, requires_grad=requires_grad)
    return tensor.requires_grad_(requires_grad) if requires_grad else tensor


def rebuild_shared_tensor(handle, requires_grad, parameter):
    return rebuild_tensor(shared_memory.attach(*handle), requires_grad, parameter)


def reduce_tensor(tensor):
    from ..nn.parameter import Parameter
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError(
            f"cannot send a tensor made by '{tensor.grad_fn.op}' that requires grad to another "
            f"process: its history cannot go with it; send tensor.detach() instead")
    if tensor.device.type != "cpu":
        raise RuntimeError(f"cannot send a tensor on {tensor.device} to another process; send "
                           f"tensor.cpu() instead")
    parameter = isinstance(tensor, Parameter)
    if shared_memory.is_shared(tensor.array):
        return rebuild_shared_tensor, (shared_memory.handle(tensor.array),
                                       tensor.requires_grad, parameter)
    return rebuild_tensor, (numpy.array(tensor.array), tensor.requires_grad, parameter)


def init_reductions():
    from ..autograd.tensor import Tensor
    from ..nn.parameter import Parameter
    ForkingPickler.register(Tensor, reduce_tensor)
    ForkingPickler.register(Parameter, reduce_tensor)
