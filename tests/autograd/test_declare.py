"""Each operation declares once how users reach it; the public names come from there."""
import inspect

import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import stub
from tapegrad.autograd.ops import OPERATIONS, declare, tensor_methods, top_level_functions


def test_a_function_and_method_operation_is_both():
    # (tg.exp also takes out=, so it is the operation inside out.py's wrapper)
    assert inspect.unwrap(tg.exp) is OPERATIONS["exp"].function
    assert tg.Tensor.exp is OPERATIONS["exp"].function
    assert tg.softmax is OPERATIONS["softmax"].function is tg.Tensor.softmax   # no out=


def test_function_only_operations_are_not_methods():
    for name in ("cat", "stack", "einsum", "conv2d", "max_pool2d"):
        assert inspect.unwrap(getattr(tg, name)) is OPERATIONS[name].function
        assert name not in vars(tg.Tensor), name


def test_functional_only_operations_live_in_nn_functional_alone():
    for name in ("pad", "unfold", "fold", "interpolate"):
        assert OPERATIONS[name].functional
        assert not hasattr(tg, name) and name not in vars(tg.Tensor)
        assert callable(getattr(F, name))


def test_building_blocks_are_not_public():
    for name in ("cast", "to_device", "tanh_backward", "numpy_T", "matrix_transpose"):
        assert not hasattr(tg, name) and name not in vars(tg.Tensor), name


def test_methods_with_their_own_names():
    assert tg.Tensor.__getitem__ is OPERATIONS["getitem"].function
    x = tg.tensor([1.0, -2.0])
    assert x.where(x > 0, tg.tensor(0.0)).tolist() == [1.0, 0.0]


def test_aliases_share_the_function_and_its_exposure():
    assert tg.clip is tg.clamp and tg.Tensor.clip is tg.Tensor.clamp
    assert tg.concat is tg.cat and "concat" not in vars(tg.Tensor)


def test_every_declared_name_is_reachable_where_it_says():
    for name, function in top_level_functions().items():
        assert getattr(tg, name) is function, name
    for name, function in tensor_methods().items():
        assert getattr(tg.Tensor, name) is not None, name


def test_declaring_a_name_twice_or_a_functional_method_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        declare.operation(function=True)(OPERATIONS["exp"].function)
    with pytest.raises(ValueError, match="functional-only"):
        declare.operation(functional=True, method=True)


def test_the_checked_in_tensor_stub_is_current():
    assert stub.STUB_PATH.read_text() == stub.render(), (
        "tapegrad/autograd/tensor.pyi is stale: run `python -m tapegrad.autograd.stub`")


def test_the_stub_lists_every_attached_method():
    text = stub.STUB_PATH.read_text()
    for name in tensor_methods():
        assert f"def {name}(" in text, name
