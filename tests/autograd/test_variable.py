"""autograd.Variable, PyTorch's legacy wrapper: it gives back a tensor."""
import pytest

import tapegrad as tg


def test_variable_is_a_new_leaf_sharing_the_data():
    data = tg.ones(3)
    v = tg.autograd.Variable(data, requires_grad=True)
    assert isinstance(v, tg.Tensor) and v is not data
    assert v.requires_grad and v.is_leaf and not data.requires_grad
    (v * 2).sum().backward()
    assert v.grad.tolist() == [2.0, 2.0, 2.0]
    with tg.no_grad():
        v[0] = 5.0
    assert data[0].item() == 5.0   # the same data, as in PyTorch


def test_variable_of_a_computed_tensor_is_cut_from_its_graph():
    x = tg.ones(2, requires_grad=True)
    v = tg.autograd.Variable(x * 2)
    assert not v.requires_grad and v.is_leaf and v.grad_fn is None


def test_volatile_is_accepted_and_ignored_and_non_tensors_are_refused():
    assert tg.autograd.Variable(tg.ones(1), volatile=True).tolist() == [1.0]
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        tg.autograd.Variable([1.0])
