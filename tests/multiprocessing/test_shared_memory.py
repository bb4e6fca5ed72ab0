"""Tensor.share_memory_(), Module.share_memory() and how tensors are pickled for other
processes (tapegrad/backend/shared_memory.py and tapegrad/multiprocessing/reductions.py), in one process."""
import gc
import os
import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.multiprocessing
from tapegrad import nn


def send(obj):
    """What another process would receive: obj through multiprocessing's own pickler."""
    return pickle.loads(ForkingPickler.dumps(obj))


def test_share_memory_keeps_values_shape_dtype_and_returns_the_tensor_itself():
    x = tg.arange(12, dtype=tg.float64).reshape(3, 4)
    expected = x.numpy().copy()
    assert not x.is_shared()
    assert x.share_memory_() is x
    assert x.is_shared()
    assert x.shape == (3, 4) and x.dtype == tg.float64
    np.testing.assert_array_equal(x.numpy(), expected)


def test_share_memory_twice_keeps_the_same_memory():
    x = tg.randn(5).share_memory_()
    array = x.array
    x.share_memory_()
    assert x.array is array


def test_views_of_a_shared_tensor_are_shared_too():
    x = tg.zeros(4, 3).share_memory_()
    assert x[1].is_shared() and x.T.is_shared() and x[:, 1:].is_shared()


def test_share_memory_on_a_view_moves_the_tensor_it_views_and_stays_its_view():
    base = tg.arange(12, dtype=tg.float32)
    view = base.reshape(3, 4)[1]
    view.share_memory_()
    assert view.is_shared() and base.is_shared()
    np.testing.assert_array_equal(view.numpy(), [4, 5, 6, 7])
    view.array[0] = -1
    assert base[4].item() == -1


def test_module_share_memory_shares_parameters_buffers_and_gradients_in_place():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(tg.randn(4, 3)).sum().backward()
    params = list(model.parameters())
    before = [p.detach().numpy().copy() for p in params]
    assert model.share_memory() is model
    assert list(model.parameters()) == params   # the same Parameter objects: optimizers stay valid
    assert all(p.is_shared() and p.grad.is_shared() for p in params)
    assert all(b.is_shared() for b in model.buffers())
    for p, values in zip(params, before):
        np.testing.assert_array_equal(p.detach().numpy(), values)


def test_a_shared_tensor_is_sent_as_a_handle_to_the_same_memory():
    x = tg.zeros(2, 3).share_memory_()
    received = send(x)
    received.array[0, 1] = 7.0   # what an optimizer step in the receiving process does
    assert x[0, 1].item() == 7.0
    assert received.is_shared()


def test_a_strided_view_of_a_shared_tensor_is_sent_as_that_view():
    x = tg.arange(12, dtype=tg.float32).reshape(3, 4).share_memory_()
    received = send(x[1:, ::2])
    np.testing.assert_array_equal(received.numpy(), x.numpy()[1:, ::2])
    received.array[...] = -1
    assert (x.numpy()[1:, ::2] == -1).all() and (x.numpy()[:, 1::2] != -1).all()


def test_an_unshared_tensor_is_sent_as_a_copy():
    x = tg.tensor([1.0, 2.0])
    received = send(x)
    received.array[0] = 9.0
    assert x.tolist() == [1.0, 2.0] and received.tolist() == [9.0, 2.0]
    assert not received.is_shared()


def test_parameters_arrive_as_parameters_with_requires_grad_but_without_grad():
    p = nn.Parameter(tg.ones(3))
    p.grad = tg.ones(3)
    p.share_memory_()
    received = send(p)
    assert isinstance(received, nn.Parameter) and received.requires_grad
    assert received.grad is None
    frozen = send(nn.Parameter(tg.ones(2), requires_grad=False))
    assert isinstance(frozen, nn.Parameter) and not frozen.requires_grad


def test_a_tensor_with_history_is_refused():
    y = tg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="made by 'mul' that requires grad"):
        ForkingPickler.dumps(y)


def test_plain_pickle_still_copies_a_shared_tensor():
    # Only multiprocessing's pickler sends handles; pickle.dumps (files, caches) keeps values.
    x = tg.ones(3).share_memory_()
    copy = pickle.loads(pickle.dumps(x))
    assert copy.tolist() == [1.0, 1.0, 1.0] and not copy.is_shared()


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm to see segments")
def test_the_segment_is_removed_when_the_last_tensor_on_it_is_gone():
    x = tg.zeros(100).share_memory_()
    name = tapegrad.backend.shared_memory.handle(x.array)[0]
    view = x[10:]
    assert os.path.exists(f"/dev/shm/{name}")
    del x
    gc.collect()
    assert os.path.exists(f"/dev/shm/{name}")   # the view still uses it
    del view
    gc.collect()
    assert not os.path.exists(f"/dev/shm/{name}")


OPTIMIZERS = [(tg.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
              (tg.optim.Adam, dict(lr=0.1, amsgrad=True)), (tg.optim.AdamW, dict(lr=0.1)),
              (tg.optim.RMSprop, dict(lr=0.1, centered=True)), (tg.optim.Adagrad, dict(lr=0.1)),
              (tg.optim.Adadelta, dict(lr=1.0)), (tg.optim.Adamax, dict(lr=0.1)),
              (tg.optim.NAdam, dict(lr=0.1))]


@pytest.mark.parametrize("optimizer,options", OPTIMIZERS, ids=lambda o: getattr(o, "__name__", ""))
def test_optimizers_update_shared_parameters_in_place(optimizer, options):
    # Hogwild depends on it: a step that rebound p.array would leave shared memory behind.
    model = nn.Linear(3, 2).share_memory()
    arrays = [p.array for p in model.parameters()]
    before = [a.copy() for a in arrays]
    opt = optimizer(model.parameters(), **options)
    for _ in range(2):
        opt.zero_grad()
        model(tg.randn(4, 3)).pow(2).sum().backward()
        opt.step()
    for p, array, old in zip(model.parameters(), arrays, before):
        assert p.array is array and p.is_shared()
        assert not np.array_equal(array, old)
