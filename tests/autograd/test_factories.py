"""x.new_zeros, new_ones, new_full, new_empty, new_tensor (tapegrad/autograd/ops/factories.py):
x's dtype and device unless told otherwise, sizes as PyTorch takes them, no history."""
import pytest

import tapegrad as tg


@pytest.mark.parametrize("dtype", [tg.float64, tg.int32, tg.float16])
def test_new_tensors_have_the_dtype_and_device_of_self(dtype):
    x = tg.ones(2, dtype=dtype)
    for made in (x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_empty(tg.Size([2, 3])),
                 x.new_full((2, 3), 7)):
        assert made.dtype is dtype and made.device == x.device and made.shape == (2, 3)
    assert x.new_zeros(2, 3).tolist() == [[0, 0, 0]] * 2
    assert x.new_ones(2).tolist() == [1, 1] and x.new_full((2,), 7).tolist() == [7, 7]
    assert x.new_tensor([1.5, 2.5]).dtype is dtype


def test_dtype_device_and_requires_grad_can_be_given():
    x = tg.ones(2)
    y = x.new_zeros(3, dtype=tg.int64)
    assert y.dtype is tg.int64
    z = x.new_ones(2, requires_grad=True, dtype=tg.float64)
    assert z.requires_grad and z.is_leaf and z.dtype is tg.float64
    assert x.new_tensor([1, 2], device="cpu").device == x.device


def test_new_tensor_copies_its_data_and_has_no_history():
    data = tg.tensor([1.0, 2.0], requires_grad=True)
    copy = tg.zeros(1).new_tensor(data)
    assert not copy.requires_grad and copy.grad_fn is None
    copy.add_(1)
    assert data.tolist() == [1.0, 2.0]


def test_a_new_tensor_of_a_tensor_that_requires_grad_does_not():
    x = tg.ones(2, requires_grad=True)
    assert not x.new_zeros(2).requires_grad


def test_bad_sizes_are_named():
    with pytest.raises(TypeError, match="new_zeros.*integers"):
        tg.ones(1).new_zeros(2.5)
    with pytest.raises(RuntimeError, match="negative"):
        tg.ones(1).new_ones(-1)
    with pytest.raises(TypeError, match="new_full.*fill_value must be a number.*got str"):
        tg.ones(1).new_full((2,), "a")
    assert tg.ones(1).new_full((2,), tg.tensor(3)).tolist() == [3.0, 3.0]   # a 0-d tensor


def test_they_match_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        x = lib.ones(2, dtype=lib.float64)
        made = [x.new_zeros(2, 3), x.new_ones((1,)), x.new_full((2,), 3), x.new_tensor([1, 2]),
                x.new_empty(0)]
        assert [(tuple(m.shape), str(m.dtype).split(".")[-1]) for m in made] == [
            ((2, 3), "float64"), ((1,), "float64"), ((2,), "float64"), ((2,), "float64"),
            ((0,), "float64")]


def test_new_full_and_new_tensor_refuse_numbers_the_dtype_cannot_hold():
    ints = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"new_full: .* int64 .*\(the value nan\)"):
        ints.new_full((2,), float("nan"))
    small = tg.tensor([1, 2], dtype=tg.uint8)
    with pytest.raises(RuntimeError, match=r"new_tensor: .* uint8 .*\(the value -2.0\)"):
        small.new_tensor([1.0, -2.0, 0.5])
    # as in PyTorch, each number is checked as what it is: an int -1 wraps, a float does not
    assert small.new_tensor([1.0, -1]).tolist() == [1, 255]
    assert small.new_tensor([0.5, 255.0]).tolist() == [0, 255]
    assert tg.tensor([1.0, 2.0], dtype=tg.float16).new_tensor([1e30]).tolist() == [float("inf")]
