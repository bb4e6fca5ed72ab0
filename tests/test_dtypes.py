"""Data types and PyTorch's type promotion (tapegrad/dtypes.py).

Promotion follows PyTorch, not numpy: dimensioned tensors decide first, then 0-d
tensors, then Python numbers, and a lower tier only matters when it brings a higher
category (bool < integer < floating point). Python floats and float data become the
default dtype (float32 unless changed); numpy arrays keep their own dtype.
"""
import pickle
import re

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import dtypes


@pytest.fixture
def default_float64():
    """Make float64 the default dtype for one test, and restore the previous default after."""
    previous = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    yield
    tg.set_default_dtype(previous)


# -- the dtypes themselves -----------------------------------------------------------------
def test_dtypes_have_pytorch_names_and_aliases():
    assert repr(tg.float32) == "tapegrad.float32" and tg.float32.name == "float32"
    assert tg.float is tg.float32 and tg.double is tg.float64 and tg.half is tg.float16
    assert tg.long is tg.int64 and tg.int is tg.int32 and tg.short is tg.int16
    assert tg.bool.name == "bool" and repr(tg.bool) == "tapegrad.bool"
    assert tg.uint8.name == "uint8" and tg.int8.name == "int8"


def test_dtypes_know_their_kind_and_size():
    assert tg.float16.is_floating_point and tg.float64.is_floating_point
    assert not tg.int64.is_floating_point and not tg.bool.is_floating_point
    assert [d.itemsize for d in (tg.bool, tg.uint8, tg.int16, tg.int32, tg.int64, tg.float16,
                                 tg.float32, tg.float64)] == [1, 1, 2, 4, 8, 2, 4, 8]
    assert tg.zeros(2, dtype=tg.int16).element_size() == 2


def test_a_dtype_survives_pickling_as_the_same_object():
    assert pickle.loads(pickle.dumps(tg.float64)) is tg.float64


def test_a_tensor_reports_the_tapegrad_dtype_of_its_array():
    assert tg.from_numpy(np.zeros(2, dtype=np.int32)).dtype is tg.int32
    assert tg.from_numpy(np.zeros(2, dtype=np.uint8)).dtype is tg.uint8


def test_dtypes_can_be_given_as_numpy_dtypes_names_and_python_types():
    assert dtypes.as_dtype(np.float64) is tg.float64
    assert dtypes.as_dtype(np.dtype("int32")) is tg.int32
    assert dtypes.as_dtype("float16") is tg.float16 and dtypes.as_dtype("long") is tg.int64
    assert dtypes.as_dtype(int) is tg.int64 and dtypes.as_dtype(bool) is tg.bool
    assert dtypes.as_dtype(tg.float32) is tg.float32 and dtypes.as_dtype(None) is None
    assert tg.zeros(2, dtype=int).dtype is tg.int64 and tg.zeros(2, dtype=bool).dtype is tg.bool


def test_the_python_type_float_means_float64_as_in_pytorch():
    assert dtypes.as_dtype(float) is tg.float64
    assert tg.zeros(2, dtype=float).dtype is tg.float64


def test_an_unknown_dtype_is_a_type_error_that_lists_the_supported_ones():
    with pytest.raises(TypeError, match="complex128.*supported: bool.*float64"):
        dtypes.from_numpy(np.complex128)
    with pytest.raises(TypeError, match="'float128'"):
        dtypes.as_dtype("float128")
    with pytest.raises(TypeError, match="complex"):
        tg.from_numpy(np.zeros(2, dtype=np.complex64))


# -- the default dtype ---------------------------------------------------------------------
def test_the_default_dtype_is_float32():
    assert tg.get_default_dtype() is tg.float32
    assert tg.tensor([1.0]).dtype is tg.float32 and tg.randn(2).dtype is tg.float32
    assert tg.zeros(2).dtype is tg.float32 and tg.tensor(2.5).dtype is tg.float32


def test_integer_and_bool_data_keep_their_types():
    assert tg.tensor([1]).dtype is tg.int64 and tg.tensor(3).dtype is tg.int64
    assert tg.tensor([True, False]).dtype is tg.bool
    assert tg.tensor([1, 2.5]).dtype is tg.float32     # mixed numbers: float


def test_numpy_arrays_keep_their_dtype():
    assert tg.tensor(np.array([1.0, 2.0])).dtype is tg.float64
    assert tg.tensor(np.array([1.0], dtype=np.float32)).dtype is tg.float32
    assert tg.tensor(np.array([1], dtype=np.int32)).dtype is tg.int32


def test_set_default_dtype_changes_new_float_tensors(default_float64):
    assert tg.get_default_dtype() is tg.float64
    for made in (tg.tensor([1.0]), tg.tensor(0.5), tg.randn(2), tg.rand(2), tg.zeros(2),
                 tg.ones(2), tg.empty(2), tg.full((2,), 1.5), tg.arange(0.0, 1.0, 0.5),
                 tg.linspace(0, 1, 3), tg.eye(2)):
        assert made.dtype is tg.float64
    assert (tg.tensor([1, 2]) + 2.5).dtype is tg.float64
    assert (tg.tensor([1, 2]) / tg.tensor([2, 2])).dtype is tg.float64
    assert tg.tensor([1, 2]).exp().dtype is tg.float64


def test_set_default_dtype_leaves_integer_data_and_numpy_arrays_alone(default_float64):
    assert tg.tensor([1]).dtype is tg.int64
    assert tg.tensor(np.array([1.0], dtype=np.float32)).dtype is tg.float32
    assert (tg.tensor([1.0], dtype=tg.float32) + 2.5).dtype is tg.float32


def test_the_default_dtype_must_be_floating_point():
    with pytest.raises(TypeError, match="floating point.*int64"):
        tg.set_default_dtype(tg.int64)
    assert tg.get_default_dtype() is tg.float32


# -- promotion -----------------------------------------------------------------------------
def t(dtype, shape=(3,)):
    return tg.zeros(shape, dtype=dtype)


@pytest.mark.parametrize("a, b, expected", [
    (t(tg.int64), t(tg.float32), tg.float32),          # int tensor + float tensor -> float
    (t(tg.int64), t(tg.float16), tg.float16),
    (t(tg.float32), t(tg.float64), tg.float64),
    (t(tg.float16), t(tg.float32), tg.float32),
    (t(tg.int32), t(tg.int64), tg.int64),
    (t(tg.uint8), t(tg.int8), tg.int16),
    (t(tg.bool), t(tg.int32), tg.int32),
    (t(tg.bool), t(tg.bool), tg.bool),
    (t(tg.bool), t(tg.float16), tg.float16),
    # 0-d tensors only matter when they bring a higher category
    (t(tg.float64, ()), t(tg.float32), tg.float32),
    (t(tg.float32), t(tg.float64, ()), tg.float32),
    (t(tg.int64, ()), t(tg.int32), tg.int32),
    (t(tg.float64, ()), t(tg.int32), tg.float64),
    (t(tg.float64, ()), t(tg.float32, ()), tg.float64),   # all 0-d: they decide among themselves
    # Python numbers only matter when they bring a higher category
    (t(tg.float32), 2.5, tg.float32),
    (t(tg.float16), 2.5, tg.float16),
    (t(tg.int64), 2.5, tg.float32),                     # the default dtype
    (t(tg.int32), 2, tg.int32),
    (t(tg.uint8), 2, tg.uint8),
    (t(tg.bool), 2, tg.int64),
    (t(tg.bool), 2.5, tg.float32),
    (t(tg.int32), True, tg.int32),
    (t(tg.float32, ()), 2.5, tg.float32),
    (t(tg.int64, ()), 2.5, tg.float32),
], ids=lambda v: repr(v.dtype) + str(tuple(v.shape)) if isinstance(v, tg.Tensor) else repr(v))
def test_promotion_follows_pytorch(a, b, expected):
    assert (a + b).dtype is expected
    assert (b + a).dtype is expected
    assert (a * b).dtype is expected


def test_result_type_tiers():
    assert dtypes.result_type([tg.int64, tg.float32]) is tg.float32
    assert dtypes.result_type([tg.float32], [tg.float64]) is tg.float32
    assert dtypes.result_type([tg.int32], [tg.float64]) is tg.float64
    assert dtypes.result_type([tg.int32], [], [2.5]) is tg.float32
    assert dtypes.result_type([], [], [1]) is tg.int64
    assert dtypes.result_type([], [], [True]) is tg.bool
    assert dtypes.result_type([], [], [np.float64(1.5)]) is tg.float32


def test_true_division_of_integer_tensors_is_float32():
    assert (tg.tensor([1, 2]) / tg.tensor([2, 4])).dtype is tg.float32


def test_a_non_numeric_operand_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="str.*'a'"):
        tg.ones(2) + "a"


def test_gradients_always_have_their_inputs_dtype():
    x = tg.tensor([1.0, 2.0], dtype=tg.float32, requires_grad=True)
    y = tg.tensor([3.0, 4.0], dtype=tg.float64, requires_grad=True)
    h = tg.tensor([0.5, 1.5], dtype=tg.float16, requires_grad=True)
    out = x * y + h
    assert out.dtype is tg.float64
    out.sum().backward()
    assert x.grad.dtype is tg.float32 and y.grad.dtype is tg.float64
    assert h.grad.dtype is tg.float16
    assert x.grad.tolist() == [3.0, 4.0] and y.grad.tolist() == [1.0, 2.0]


# -- only floating-point tensors can require grad ------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: tg.tensor([1, 2], requires_grad=True),
    lambda: tg.tensor([True], requires_grad=True),
    lambda: tg.zeros(2, dtype=tg.int64, requires_grad=True),
    lambda: tg.ones(2, dtype=tg.bool, requires_grad=True),
    lambda: tg.arange(3, requires_grad=True),
    lambda: tg.tensor([1, 2]).requires_grad_(),
    lambda: setattr(tg.tensor([1], dtype=tg.int32), "requires_grad", True),
], ids=["tensor_int", "tensor_bool", "zeros_int64", "ones_bool", "arange_int", "requires_grad_",
        "attribute"])
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype can require "
                                           "gradients.*(int|bool)"):
        make()


def test_every_float_dtype_can_require_grad():
    for dtype in (tg.float16, tg.float32, tg.float64):
        assert tg.zeros(2, dtype=dtype, requires_grad=True).requires_grad


def test_finfo_gives_the_limits_of_each_float_dtype():
    f32 = tg.finfo(tg.float32)
    assert f32.bits == 32 and f32.eps == 2.0 ** -23 and f32.tiny == 2.0 ** -126
    assert f32.max == float(np.finfo(np.float32).max) and f32.min == -f32.max
    assert f32.resolution == 1e-6 and f32.smallest_normal == f32.tiny and f32.dtype == "float32"
    assert tg.finfo(tg.float64).eps == 2.0 ** -52 and tg.finfo(tg.float16).max == 65504.0
    assert tg.finfo().dtype == tg.get_default_dtype().name


def test_iinfo_gives_the_limits_of_each_integer_dtype():
    assert (tg.iinfo(tg.int64).min, tg.iinfo(tg.int64).max) == (-2 ** 63, 2 ** 63 - 1)
    assert (tg.iinfo(tg.uint8).min, tg.iinfo(tg.uint8).max, tg.iinfo(tg.uint8).bits) == (0, 255, 8)


def test_finfo_and_iinfo_refuse_the_other_kind():
    with pytest.raises(TypeError, match="finfo.. needs a floating point dtype, got tapegrad.int64"):
        tg.finfo(tg.int64)
    with pytest.raises(TypeError, match="iinfo.. needs an integer dtype, got tapegrad.float32"):
        tg.iinfo(tg.float32)


def test_finfo_and_iinfo_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    for name in ("float16", "float32", "float64"):
        ours, theirs = tg.finfo(getattr(tg, name)), torch.finfo(getattr(torch, name))
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(ours, field) == getattr(theirs, field), (name, field)
    for name in ("uint8", "int8", "int16", "int32", "int64"):
        ours, theirs = tg.iinfo(getattr(tg, name)), torch.iinfo(getattr(torch, name))
        assert (ours.bits, ours.min, ours.max) == (theirs.bits, theirs.min, theirs.max)


# -- a number stored into a tensor must fit its dtype, as PyTorch checks it ------------------
@pytest.mark.parametrize("value, dtype, stored", [
    (-1, np.uint8, 255), (-255, np.uint8, 1), (255, np.uint8, 255), (-128, np.int8, -128),
    (-1.5, np.int8, -1), (255.9, np.int64, 255), (True, np.uint8, True),
    (1e30, np.bool_, True), (float("inf"), np.float16, float("inf")), (65504.0, np.float16, 65504.0),
    (float("nan"), np.float32, None), (1e300, np.float64, 1e300)])
def test_a_number_that_fits_the_dtype_is_stored_as_pytorch_converts_it(value, dtype, stored):
    result = dtypes.stored_scalar("fill_", value, dtype)
    assert result != result if stored is None else result == stored


@pytest.mark.parametrize("value, dtype", [
    (-1.5, np.uint8), (255.5, np.uint8), (-256, np.uint8), (256, np.uint8), (128, np.int8),
    (-129, np.int8), (float("nan"), np.int64), (float("inf"), np.int32), (1e30, np.int64),
    (1e30, np.float16), (65520.0, np.float16), (2 ** 64, np.float16), (1e300, np.float32)])
def test_a_number_beyond_the_dtype_is_refused_naming_the_op_the_value_and_the_dtype(value, dtype):
    name = np.dtype(dtype).name
    with pytest.raises(RuntimeError, match=rf"fill_: value cannot be converted to type {name} "
                                           rf"without overflow \({re.escape(f'the value {value!r}')}\)"):
        dtypes.stored_scalar("fill_", value, dtype)


def test_pad_takes_no_negative_number_into_an_unsigned_dtype():
    assert dtypes.stored_scalar("pad", 255, np.uint8, strict_unsigned=True) == 255
    with pytest.raises(RuntimeError, match=r"pad: .* uint8 .*\(the value -1\)"):
        dtypes.stored_scalar("pad", -1, np.uint8, strict_unsigned=True)
