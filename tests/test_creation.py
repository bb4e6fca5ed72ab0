"""Making tensors (tapegrad/creation.py) and reproducible randomness (tapegrad/random.py).

Sizes are given as PyTorch allows (``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])``);
float tensors get the default dtype, integer data int64; ``tensor()`` copies its data and
``from_numpy`` shares it. Random draws repeat exactly after ``manual_seed``, and a
``Generator`` passed as ``generator=`` is a stream of its own.
"""
import numpy as np
import pytest

import tapegrad as tg


# -- tensor, as_tensor, from_numpy ---------------------------------------------------------
def test_tensor_from_nested_lists():
    x = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.dtype is tg.float32
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert tg.tensor(2.5).shape == () and tg.tensor(2.5).item() == 2.5
    assert tg.tensor([]).shape == (0,) and tg.tensor([]).dtype is tg.float32


def test_tensor_takes_a_dtype_and_requires_grad():
    x = tg.tensor([1, 2], dtype=tg.float64, requires_grad=True)
    assert x.dtype is tg.float64 and x.requires_grad and x.is_leaf
    assert tg.tensor([1.7, -1.7], dtype=tg.int64).tolist() == [1, -1]
    assert tg.tensor([1.0], device="cpu").device == "cpu"


def test_tensor_copies_a_numpy_array():
    array = np.array([1.0, 2.0])
    x = tg.tensor(array)
    array[0] = 100.0
    assert x.tolist() == [1.0, 2.0]
    x.add_(1)
    assert array.tolist() == [100.0, 2.0]


def test_tensor_copies_a_list_of_lists():
    data = [[1, 2], [3, 4]]
    x = tg.tensor(data)
    data[0][0] = 100
    assert x.tolist() == [[1, 2], [3, 4]]


def test_tensor_of_a_tensor_is_a_detached_copy():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor(x)
    assert not y.requires_grad and y.is_leaf
    assert not np.shares_memory(y.numpy(), x.detach().numpy())
    assert tg.tensor(x, dtype=tg.float64).dtype is tg.float64


def test_tensor_of_a_list_of_zero_dim_tensors():
    assert tg.tensor([tg.tensor(1.0), tg.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_ragged_lists_are_refused():
    with pytest.raises(ValueError, match="not rectangular"):
        tg.tensor([[1, 2], [3]])


def test_non_numeric_data_is_refused():
    with pytest.raises(TypeError, match="non-numeric"):
        tg.tensor(["a", "b"])


def test_as_tensor_shares_a_numpy_array_and_returns_a_tensor_itself():
    array = np.array([1.0, 2.0])
    x = tg.as_tensor(array)
    array[0] = 5.0
    assert x.tolist() == [5.0, 2.0] and x.dtype is tg.float64
    assert tg.as_tensor(x) is x
    assert tg.as_tensor(x, dtype=tg.float32).dtype is tg.float32
    assert tg.as_tensor([1, 2]).dtype is tg.int64
    y = tg.as_tensor(array, dtype=tg.float32)
    array[1] = 9.0
    assert y.tolist() == [5.0, 2.0]            # a dtype change means a copy


def test_from_numpy_shares_memory_both_ways():
    array = np.array([[1, 2], [3, 4]], dtype=np.int32)
    x = tg.from_numpy(array)
    assert x.dtype is tg.int32 and x.shape == (2, 2)
    array[0, 0] = 10
    assert x.tolist()[0][0] == 10
    x.add_(1)
    assert array.tolist() == [[11, 3], [4, 5]]


def test_from_numpy_keeps_a_non_contiguous_layout():
    array = np.arange(12.0).reshape(3, 4).T
    x = tg.from_numpy(array)
    assert x.shape == (4, 3) and np.shares_memory(x.numpy(), array)
    assert x.tolist() == array.tolist()


def test_from_numpy_needs_a_numpy_array_of_a_supported_dtype():
    with pytest.raises(TypeError, match="numpy array.*list"):
        tg.from_numpy([1, 2])
    with pytest.raises(TypeError, match="complex"):
        tg.from_numpy(np.zeros(2, dtype=np.complex128))


# -- filled tensors ------------------------------------------------------------------------
@pytest.mark.parametrize("make", [tg.zeros, tg.ones, tg.empty])
def test_sizes_as_varargs_tuple_list_or_size(make):
    for size in [(2, 3), ((2, 3),), ([2, 3],), (tg.zeros(2, 3).shape,)]:
        x = make(*size)
        assert x.shape == (2, 3) and x.dtype is tg.float32
    assert make().shape == () and make(()).shape == ()
    assert make(0, 3).shape == (0, 3)


def test_zeros_and_ones_values_dtypes_and_requires_grad():
    assert tg.zeros(2).tolist() == [0.0, 0.0] and tg.ones(2).tolist() == [1.0, 1.0]
    assert tg.zeros(2, dtype=tg.int64).tolist() == [0, 0]
    assert tg.ones(2, dtype=tg.bool).tolist() == [True, True]
    x = tg.ones(2, 2, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    assert tg.empty(3, dtype=tg.int32).dtype is tg.int32


@pytest.mark.parametrize("make", [tg.zeros, tg.ones, tg.empty, tg.rand, tg.randn])
def test_a_negative_size_names_the_function(make):
    with pytest.raises(RuntimeError, match=rf"{make.__name__}.*negative.*\(2, -1\)"):
        make(2, -1)


def test_a_float_size_is_a_type_error():
    with pytest.raises(TypeError, match="zeros"):
        tg.zeros(2.5)
    with pytest.raises(TypeError, match="ones"):
        tg.ones(2, 3.0)


def test_a_non_numeric_size_is_a_type_error():
    with pytest.raises(TypeError, match="zeros.*size"):
        tg.zeros("a")


def test_full_takes_its_dtype_from_the_fill_value():
    assert tg.full((2,), 7).dtype is tg.int64 and tg.full((2,), 7).tolist() == [7, 7]
    assert tg.full((2,), 1.5).dtype is tg.float32
    assert tg.full((2,), True).dtype is tg.bool
    assert tg.full([2, 2], 3, dtype=tg.float64).dtype is tg.float64
    assert tg.full((2,), 1.5, requires_grad=True).requires_grad


def test_like_functions_copy_shape_and_dtype_but_not_values_or_history():
    x = tg.tensor([[1.5, 2.5, 3.5]], dtype=tg.float64, requires_grad=True)
    for made, value in [(tg.zeros_like(x), 0.0), (tg.ones_like(x), 1.0),
                        (tg.full_like(x, 4.0), 4.0)]:
        assert made.shape == (1, 3) and made.dtype is tg.float64
        assert not made.requires_grad and made.tolist() == [[value] * 3]
    for made in (tg.empty_like(x), tg.rand_like(x), tg.randn_like(x)):
        assert made.shape == (1, 3) and made.dtype is tg.float64 and not made.requires_grad
    assert tg.zeros_like(x, dtype=tg.int32).dtype is tg.int32
    assert tg.ones_like(x, requires_grad=True).requires_grad


def test_full_like_an_integer_tensor_truncates_a_float_fill():
    y = tg.full_like(tg.tensor([1, 2]), 2.7)
    assert y.dtype is tg.int64 and y.tolist() == [2, 2]


def test_random_like_an_integer_tensor_is_refused():
    with pytest.raises((TypeError, RuntimeError), match="randn.*int64"):
        tg.randn_like(tg.tensor([1, 2]))


def test_eye():
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]] and tg.eye(2).dtype is tg.float32
    assert tg.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert tg.eye(3, 2).shape == (3, 2)
    assert tg.eye(2, dtype=tg.int64).tolist() == [[1, 0], [0, 1]]
    assert tg.eye(0).shape == (0, 0)
    assert tg.eye(2, requires_grad=True).requires_grad


def test_eye_with_a_negative_size_names_the_function():
    with pytest.raises(RuntimeError, match=r"eye.*-1"):
        tg.eye(-1)


# -- ranges --------------------------------------------------------------------------------
def test_arange_of_integers_is_int64():
    x = tg.arange(5)
    assert x.dtype is tg.int64 and x.tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(2, 8, 3).tolist() == [2, 5]
    assert tg.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert tg.arange(0).shape == (0,)


def test_arange_with_a_float_argument_is_the_default_float_dtype():
    for x in (tg.arange(3.0), tg.arange(0, 1, 0.25), tg.arange(0.5, 3)):
        assert x.dtype is tg.float32
    assert tg.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tg.arange(0, 1, 0.1).shape == (10,)      # the end is excluded
    np.testing.assert_allclose(tg.arange(0, 1, 0.1).numpy(), np.arange(10) / 10, rtol=1e-6,
                               atol=1e-7)


def test_arange_takes_a_dtype_and_requires_grad():
    assert tg.arange(3, dtype=tg.float64).tolist() == [0.0, 1.0, 2.0]
    assert tg.arange(3, dtype=tg.float64).dtype is tg.float64
    assert tg.arange(3.0, requires_grad=True).requires_grad


def test_arange_refuses_a_zero_step():
    with pytest.raises(RuntimeError, match="arange.*step"):
        tg.arange(0, 5, 0)


def test_arange_refuses_a_step_that_moves_away_from_the_end():
    with pytest.raises(RuntimeError, match="arange"):
        tg.arange(5, 0)
    with pytest.raises(RuntimeError, match="arange"):
        tg.arange(0, 5, -1)


def test_linspace_includes_both_ends():
    x = tg.linspace(0, 1, 5)
    assert x.dtype is tg.float32 and x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert tg.linspace(2, 2, 1).tolist() == [2.0]
    assert tg.linspace(0, 1, 0).shape == (0,)
    assert tg.linspace(1, -1, 3).tolist() == [1.0, 0.0, -1.0]
    assert tg.linspace(0, 1, 3, dtype=tg.float64).dtype is tg.float64
    assert tg.linspace(0, 10, 5, dtype=tg.int64).tolist() == [0, 2, 5, 7, 10]
    assert tg.linspace(0, 1, 3, requires_grad=True).requires_grad


def test_linspace_with_negative_steps_names_the_function():
    with pytest.raises(RuntimeError, match="linspace.*steps"):
        tg.linspace(0, 1, -1)


# -- random tensors ------------------------------------------------------------------------
def test_rand_is_uniform_on_zero_one():
    x = tg.rand(2000)
    assert x.dtype is tg.float32 and x.shape == (2000,)
    values = x.numpy()
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.05


def test_randn_is_standard_normal():
    x = tg.randn(4000, dtype=tg.float64)
    assert x.dtype is tg.float64
    assert abs(x.numpy().mean()) < 0.1 and abs(x.numpy().std() - 1.0) < 0.1


def test_random_shapes_dtypes_and_requires_grad():
    assert tg.randn(2, 3).shape == (2, 3) and tg.rand((2, 3)).shape == (2, 3)
    assert tg.randn([4]).shape == (4,) and tg.randn().shape == ()
    assert tg.rand(3, dtype=tg.float16).dtype is tg.float16
    x = tg.randn(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf


def test_random_floats_need_a_float_dtype():
    with pytest.raises((TypeError, RuntimeError), match="randn.*int64"):
        tg.randn(2, dtype=tg.int64)
    with pytest.raises((TypeError, RuntimeError), match="rand.*int32"):
        tg.rand(2, dtype=tg.int32)


def test_randint_draws_from_low_inclusive_to_high_exclusive():
    x = tg.randint(3, 6, (3000,))
    assert x.dtype is tg.int64 and x.shape == (3000,)
    assert set(x.tolist()) == {3, 4, 5}
    y = tg.randint(4, (2, 500))                     # randint(high, size): low = 0
    assert y.shape == (2, 500) and set(np.unique(y.numpy()).tolist()) == {0, 1, 2, 3}
    assert tg.randint(-2, 0, size=(100,)).numpy().max() <= -1


def test_randint_takes_a_dtype():
    assert tg.randint(0, 10, (3,), dtype=tg.int32).dtype is tg.int32
    assert tg.randint(0, 10, (3,), dtype=tg.float32).dtype is tg.float32


def test_randint_errors():
    with pytest.raises(RuntimeError, match=r"randint.*high \(3\).*low \(5\)"):
        tg.randint(5, 3, (2,))
    with pytest.raises(TypeError, match="randint.*size"):
        tg.randint(0, 10)
    with pytest.raises(RuntimeError, match="randint.*negative"):
        tg.randint(0, 10, (-1,))


def test_randperm_is_a_permutation():
    p = tg.randperm(10)
    assert p.dtype is tg.int64 and sorted(p.tolist()) == list(range(10))
    assert tg.randperm(0).shape == (0,)
    assert tg.randperm(4, dtype=tg.int32).dtype is tg.int32


# -- reproducibility -----------------------------------------------------------------------
def draws(generator=None):
    return (tg.randn(5, generator=generator).tolist(), tg.rand(3, generator=generator).tolist(),
            tg.randint(0, 100, (4,), generator=generator).tolist(),
            tg.randperm(6, generator=generator).tolist())


def test_manual_seed_makes_every_draw_repeat():
    tg.manual_seed(1234)
    first = draws()
    tg.manual_seed(1234)
    assert draws() == first
    tg.manual_seed(1235)
    assert draws() != first


def test_manual_seed_returns_the_default_generator_and_sets_its_seed():
    g = tg.manual_seed(42)
    assert isinstance(g, tg.Generator) and g.initial_seed() == 42 and tg.initial_seed() == 42


def test_a_generator_is_a_stream_of_its_own():
    first = draws(tg.Generator().manual_seed(7))
    assert draws(tg.Generator().manual_seed(7)) == first
    assert draws(tg.Generator().manual_seed(8)) != first
    # Drawing from it leaves the default stream where it was.
    tg.manual_seed(3)
    expected = tg.randn(4).tolist()
    tg.manual_seed(3)
    draws(tg.Generator().manual_seed(7))
    assert tg.randn(4).tolist() == expected


def test_a_fresh_generator_starts_from_pytorchs_default_seed():
    assert tg.Generator().initial_seed() == 67280421310721
    assert draws(tg.Generator()) == draws(tg.Generator())


def test_generator_state_can_be_saved_and_restored():
    g = tg.Generator().manual_seed(5)
    tg.randn(3, generator=g)
    state = g.get_state()
    after = tg.randn(4, generator=g).tolist()
    tg.randn(10, generator=g)
    g.set_state(state)
    assert tg.randn(4, generator=g).tolist() == after


def test_seed_picks_a_fresh_seed_and_reports_it():
    g = tg.Generator()
    seed = g.seed()
    assert g.initial_seed() == seed and 0 <= seed < 2 ** 63
    assert draws(tg.Generator().manual_seed(seed)) == draws(tg.Generator().manual_seed(seed))


def test_a_negative_seed_is_accepted_as_in_pytorch():
    generator = tg.Generator().manual_seed(-1)
    assert generator.initial_seed() == 0xffff_ffff_ffff_ffff - 1   # PyTorch's mapping
    first = tg.randn(3, generator=tg.Generator().manual_seed(-5))
    again = tg.randn(3, generator=tg.Generator().manual_seed(-5))
    assert first.tolist() == again.tolist()


def test_set_default_device_is_where_new_tensors_go_and_none_means_cpu():
    assert tg.get_default_device() == tg.device("cpu")
    try:
        tg.set_default_device("cpu")
        assert tg.get_default_device() == tg.device("cpu") and tg.zeros(2).device.type == "cpu"
        tg.set_default_device("cuda")
        assert tg.get_default_device() == tg.device("cuda:0")
    finally:
        tg.set_default_device(None)
    assert tg.get_default_device() == tg.device("cpu")


# -- PyTorch's legacy typed constructors ------------------------------------------------------
@pytest.mark.parametrize("name, dtype", [
    ("FloatTensor", tg.float32), ("DoubleTensor", tg.float64), ("HalfTensor", tg.float16),
    ("LongTensor", tg.int64), ("IntTensor", tg.int32), ("ShortTensor", tg.int16),
    ("CharTensor", tg.int8), ("ByteTensor", tg.uint8), ("BoolTensor", tg.bool)])
def test_legacy_typed_constructors_take_data_or_sizes_of_their_dtype(name, dtype):
    constructor = getattr(tg, name)
    from_data = constructor([1, 0])
    assert from_data.dtype is dtype and from_data.tolist() == [1, 0]
    zeros = constructor(2, 3)
    assert zeros.dtype is dtype and zeros.shape == (2, 3) and not zeros.any()
    assert constructor(tg.Size([4])).shape == (4,) and constructor().shape == (0,)
    assert isinstance(zeros, constructor) and isinstance(zeros, tg.Tensor)
    assert type(zeros) is tg.Tensor


def test_legacy_constructors_truncate_floats_into_integers_and_name_bad_arguments():
    assert tg.LongTensor([1.7, -2.2]).tolist() == [1, -2]
    assert not isinstance(tg.zeros(2), tg.LongTensor)
    with pytest.raises(TypeError, match="LongTensor"):
        tg.LongTensor(2, -1)
    with pytest.raises(TypeError, match=r"FloatTensor\(\): data must be a sequence \(got float\)"):
        tg.FloatTensor(2.5)   # a number is neither data nor a size


def test_legacy_constructors_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ("LongTensor", "FloatTensor", "ByteTensor", "BoolTensor"):
        ours, theirs = getattr(tg, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
        assert ours.tolist() == theirs.tolist() and ours.type() == theirs.type()


def test_set_default_tensor_type_sets_the_default_float_dtype():
    try:
        tg.set_default_tensor_type(tg.DoubleTensor)
        assert tg.zeros(1).dtype is tg.float64
        tg.set_default_tensor_type("torch.FloatTensor")
        assert tg.zeros(1).dtype is tg.float32
        with pytest.raises(TypeError, match="floating-point"):
            tg.set_default_tensor_type(tg.LongTensor)
    finally:
        tg.set_default_dtype(tg.float32)


def test_full_and_tensor_refuse_numbers_the_dtype_cannot_hold():
    with pytest.raises(RuntimeError, match=r"full: .* uint8 .*\(the value -1.5\)"):
        tg.full((2,), -1.5, dtype=tg.uint8)
    with pytest.raises(RuntimeError, match=r"full_like: .* float16 .*\(the value 70000.0\)"):
        tg.full_like(tg.zeros(2, dtype=tg.float16), 70000.0)
    with pytest.raises(RuntimeError, match=r"tensor: .* int64 .*\(the value nan\)"):
        tg.tensor([1.0, float("nan")], dtype=tg.int64)
    with pytest.raises(RuntimeError, match=r"tensor: .* uint8 .*\(the value 256\)"):
        tg.tensor(256, dtype=tg.uint8)
    assert tg.full((2,), -1, dtype=tg.uint8).tolist() == [255, 255]
    assert tg.tensor([-1, -129], dtype=tg.uint8).tolist() == [255, 127]
