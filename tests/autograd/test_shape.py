"""Shape operations: reshape, view, transpose, cat, split, … as in PyTorch.

They rearrange elements without changing them, so their values are numpy's, their dtype
is the input's, and their gradient is the incoming gradient rearranged back. Where numpy
gives a view, the result shares the input's memory and version counter.
"""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.ops.shape import matrix_transpose, numpy_T

from ..support import Case, constant, leaf, noncontiguous


def reversed_dims(x):
    """``numpy_T`` without its deprecation warning (for tensors of other than 2 dims)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return numpy_T(x)


CASES = [
    Case("reshape", lambda x: x.reshape(4, 3), [leaf(3, 4)]),
    Case("reshape", lambda x: x.reshape(-1), [noncontiguous(3, 4)]),
    Case("reshape", lambda x: x.reshape(()), [leaf(1)]),
    Case("view", lambda x: x.view(2, 6), [leaf(3, 4)]),
    Case("view", lambda x: x.view((-1,)), [leaf(2, 3)]),
    Case("view", lambda x: x.view(3, 2, 2), [noncontiguous(3, 4)], name="noncontiguous"),
    Case("view_as", lambda x, y: x.view_as(y), [leaf(2, 6), constant(4, 3)]),
    Case("flatten", lambda x: x.flatten(), [leaf(2, 3, 4)]),
    Case("flatten", lambda x: x.flatten(1), [noncontiguous(2, 3, 4)]),
    Case("flatten", lambda x: tg.flatten(x, start_dim=-3, end_dim=-2), [leaf(2, 3, 4)]),
    Case("flatten", lambda x: x.flatten(), [leaf()], name="0d"),
    Case("unflatten", lambda x: x.unflatten(1, (2, 3)), [leaf(2, 6)]),
    Case("unflatten", lambda x: x.unflatten(-1, (-1, 2)), [noncontiguous(3, 4)]),
    Case("squeeze", lambda x: x.squeeze(), [leaf(1, 3, 1)]),
    Case("squeeze", lambda x: x.squeeze(-1), [leaf(3, 1)], name="negative_dim"),
    Case("squeeze", lambda x: x.squeeze((0, 2)), [leaf(1, 3, 1, 1)], name="tuple"),
    Case("squeeze", lambda x: x.squeeze(0), [leaf(3, 4)], name="not_size_1"),
    Case("squeeze", lambda x: x.squeeze(), [leaf()], name="0d"),
    Case("unsqueeze", lambda x: x.unsqueeze(0), [leaf(3)]),
    Case("unsqueeze", lambda x: x.unsqueeze(-1), [noncontiguous(3, 4)]),
    Case("unsqueeze", lambda x: x.unsqueeze(0), [leaf()], name="0d"),
    Case("transpose", lambda x: x.transpose(0, 1), [leaf(3, 4)]),
    Case("transpose", lambda x: x.transpose(-1, 0), [noncontiguous(2, 3, 4)]),
    Case("transpose", lambda x: tg.swapaxes(x, 1, 2), [leaf(2, 3, 4)], name="swapaxes"),
    Case("transpose", lambda x: tg.swapdims(x, 0, 1), [leaf(2, 3)], name="swapdims"),
    Case("transpose", lambda x: x.transpose(0, -1), [leaf()], name="0d"),
    Case("t", lambda x: x.t(), [noncontiguous(3, 4)]),
    Case("t", lambda x: x.t(), [leaf(3)], name="1d"),
    Case("matrix_transpose", lambda x: matrix_transpose(x), [leaf(2, 3, 4)]),
    Case("matrix_transpose", lambda x: matrix_transpose(x), [noncontiguous(3, 4)]),
    Case("numpy_T", lambda x: numpy_T(x), [leaf(3, 4)]),
    Case("numpy_T", reversed_dims, [noncontiguous(2, 3, 4)]),
    Case("numpy_T", reversed_dims, [leaf(3)], name="1d"),
    Case("permute", lambda x: x.permute(2, 0, 1), [leaf(2, 3, 4)]),
    Case("permute", lambda x: x.permute((-1, 0, 1)), [noncontiguous(2, 3, 4)]),
    Case("permute", lambda x: tg.permute(x, ()), [leaf()], name="0d"),
    Case("movedim", lambda x: x.movedim(0, -1), [leaf(2, 3, 4)]),
    Case("movedim", lambda x: tg.movedim(x, (0, 1), (2, 0)), [noncontiguous(2, 3, 4)]),
    Case("movedim", lambda x: tg.moveaxis(x, -1, 1), [leaf(2, 3, 4)], name="moveaxis"),
    Case("expand", lambda x: x.expand(2, 3, 4), [leaf(3, 1)]),
    Case("expand", lambda x: x.expand(3, -1), [noncontiguous(4)]),
    Case("expand", lambda x: x.expand(2, 3), [leaf()], name="0d"),
    Case("expand_as", lambda x, y: x.expand_as(y), [leaf(1, 4), constant(3, 4)]),
    Case("broadcast_to", lambda x: tg.broadcast_to(x, (2, 3, 4)), [leaf(4)]),
    Case("repeat", lambda x: x.repeat(2, 3), [leaf(2, 3)]),
    Case("repeat", lambda x: x.repeat(2, 1, 2), [noncontiguous(2, 3)], name="more_dims"),
    Case("repeat", lambda x: x.repeat(3), [leaf()], name="0d"),
    Case("repeat", lambda x: x.repeat((1, 1)), [leaf(2, 3)], name="once"),
    Case("flip", lambda x: x.flip(0), [leaf(3, 4)]),
    Case("flip", lambda x: tg.flip(x, dims=(-1, 0)), [noncontiguous(2, 3, 4)]),
    Case("narrow", lambda x: x.narrow(1, 1, 2), [leaf(3, 4)]),
    Case("narrow", lambda x: x.narrow(-1, -3, 2), [noncontiguous(3, 4)], name="negative"),
    Case("tril", lambda x: x.tril(), [leaf(3, 4)]),
    Case("tril", lambda x: x.tril(-1), [noncontiguous(2, 3, 3)]),
    Case("triu", lambda x: x.triu(), [leaf(4, 3)]),
    Case("triu", lambda x: tg.triu(x, diagonal=1), [noncontiguous(2, 3, 3)]),
    Case("cat", lambda x, y, z: tg.cat([x, y, z]), [leaf(2, 3), leaf(1, 3), noncontiguous(4, 3)]),
    Case("cat", lambda x, y: tg.cat((x, y), dim=-1), [leaf(2, 3), leaf(2, 1)], name="dim-1"),
    Case("cat", lambda x, y: tg.concat([x, y], 1), [leaf(2, 1, 2), constant(2, 2, 2)],
         name="concat"),
    Case("cat", lambda x, y: tg.concatenate([x, y], dim=0), [leaf(2), leaf(3)],
         name="concatenate"),
    Case("stack", lambda x, y: tg.stack([x, y]), [leaf(2, 3), noncontiguous(2, 3)]),
    Case("stack", lambda x, y, z: tg.stack((x, y, z), dim=-1), [leaf(2, 3), leaf(2, 3),
                                                                 leaf(2, 3)], name="dim-1"),
    Case("stack", lambda x, y: tg.stack([x, y]), [leaf(), leaf()], name="0d"),
    Case("split", lambda x: x.split(2), [leaf(5, 2)]),
    Case("split", lambda x: tg.split(x, [1, 3], dim=1), [noncontiguous(2, 4)], name="list"),
    Case("split", lambda x: tg.cat(x.split(3, dim=-1)[::-1], -1), [leaf(2, 7)],
         name="reassembled"),
    Case("chunk", lambda x: x.chunk(3), [leaf(7, 2)], name="uneven"),
    Case("chunk", lambda x: x.chunk(2, dim=-1), [noncontiguous(3, 4)]),
    Case("chunk", lambda x: x.chunk(4), [leaf(6)], name="fewer_chunks"),
    Case("unbind", lambda x: x.unbind(), [leaf(3, 2)]),
    Case("unbind", lambda x: tg.unbind(x, dim=-1), [noncontiguous(2, 3)]),
    Case("unbind", lambda x: x.unbind(), [leaf(3)], name="1d"),
    Case("clone", lambda x: x.clone(), [leaf(3, 4)]),
    Case("clone", lambda x: x.clone(), [noncontiguous(3, 4)]),
    Case("contiguous", lambda x: x.contiguous(), [noncontiguous(3, 4)]),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck(case):
    case.check()


def numbers(*shape, dtype=np.float32):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


# -- values against numpy -------------------------------------------------------------------
@pytest.mark.parametrize("fn, expected", [
    (lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6)),
    (lambda x: x.view(-1, 4), lambda a: a.reshape(-1, 4)),
    (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
    (lambda x: x.flatten(0, 1), lambda a: a.reshape(6, 4)),
    (lambda x: x.unflatten(2, (2, 2)), lambda a: a.reshape(2, 3, 2, 2)),
    (lambda x: x.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
    (lambda x: x.permute(1, 2, 0), lambda a: a.transpose(1, 2, 0)),
    (lambda x: x.movedim((0, 2), (1, 0)), lambda a: np.moveaxis(a, (0, 2), (1, 0))),
    (lambda x: x.mT if hasattr(tg.Tensor, "mT") else matrix_transpose(x),
     lambda a: a.swapaxes(-1, -2)),
    (reversed_dims, lambda a: a.T),
    (lambda x: x.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3))),
    (lambda x: x.repeat(2, 1, 1, 2), lambda a: np.tile(a, (2, 1, 1, 2))),
    (lambda x: x.flip((0, 2)), lambda a: a[::-1, :, ::-1]),
    (lambda x: x.narrow(2, 1, 2), lambda a: a[:, :, 1:3]),
    (lambda x: x.tril(1), lambda a: np.tril(a, 1)),
    (lambda x: x.triu(-1), lambda a: np.triu(a, -1)),
    (lambda x: x.unbind()[0].t(), lambda a: a[0].T),
    (lambda x: tg.broadcast_to(x.narrow(1, 0, 1), (5, 2, 3, 4)),
     lambda a: np.broadcast_to(a[:, :1], (5, 2, 3, 4))),
])
def test_values_and_dtype_match_numpy(fn, expected):
    a = numbers(2, 3, 4)
    y = fn(tg.from_numpy(a.copy()))
    np.testing.assert_array_equal(y.numpy(), expected(a))
    assert y.dtype == tg.float32


def test_squeeze_and_unsqueeze_shapes():
    x = tg.zeros(1, 3, 1, 4)
    assert x.squeeze().shape == (3, 4)
    assert x.squeeze(2).shape == (1, 3, 4)
    assert x.squeeze(1).shape == (1, 3, 1, 4)        # a dim that is not 1 is left alone
    assert x.squeeze((0, -2)).shape == (3, 4)
    assert tg.zeros(3).unsqueeze(1).shape == (3, 1)
    assert tg.zeros(3).unsqueeze(-1).shape == (3, 1)
    assert tg.zeros(3).unsqueeze(-2).shape == (1, 3)
    assert tg.zeros(()).unsqueeze(0).shape == (1,)


def test_an_empty_tuple_of_dims_squeezes_and_flips_nothing():
    x = tg.from_numpy(numbers(1, 3))
    assert x.squeeze(()).shape == (1, 3)
    np.testing.assert_array_equal(x.flip(()).numpy(), numbers(1, 3))


def test_flatten_of_one_dim_returns_the_input_itself_and_0d_flattens_to_one_element():
    x = tg.zeros(2, 3)
    assert x.flatten(1, 1) is x
    assert tg.zeros(()).flatten().shape == (1,)


def test_integer_and_bool_dtypes_are_kept():
    ints = tg.tensor([[1, 2], [3, 4]])
    assert ints.transpose(0, 1).dtype == tg.int64
    assert ints.repeat(2, 2).dtype == tg.int64
    assert tg.cat([ints, ints]).dtype == tg.int64
    assert ints.tril().tolist() == [[1, 0], [3, 4]]
    assert tg.tensor([True, False]).flip(0).tolist() == [False, True]
    assert tg.stack([tg.tensor(1, dtype=tg.int32), tg.tensor(2, dtype=tg.int32)]).dtype == tg.int32


def test_cat_and_stack_promote_dtypes_as_pytorch():
    f32 = tg.ones(2, dtype=tg.float32)
    assert tg.cat([f32, tg.tensor([1, 2])]).dtype == tg.float32
    assert tg.cat([f32, tg.ones(1, dtype=tg.float64)]).dtype == tg.float64
    assert tg.stack([tg.tensor([True, False]), tg.tensor([1, 2])]).dtype == tg.int64
    assert tg.cat([f32, tg.tensor([1, 2])]).tolist() == [1.0, 1.0, 1.0, 2.0]


def test_cat_gradient_flows_back_through_the_promotion():
    x = tg.ones(2, dtype=tg.float32, requires_grad=True)
    y = tg.ones(3, dtype=tg.float64, requires_grad=True)
    (tg.cat([x, y]) * tg.arange(5.0, dtype=tg.float64)).sum().backward()
    assert x.grad.dtype == tg.float32 and x.grad.tolist() == [0.0, 1.0]
    assert y.grad.dtype == tg.float64 and y.grad.tolist() == [2.0, 3.0, 4.0]


def test_cat_skips_empty_1d_tensors_as_pytorch_does():
    x = leaf(2, 3)
    y = tg.cat([tg.tensor([], dtype=tg.float64), x], dim=1)
    assert y.shape == (2, 3)
    y.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2


def test_cat_and_stack_values_match_numpy():
    a, b = numbers(2, 3), numbers(2, 3) + 10
    x, y = tg.from_numpy(a), tg.from_numpy(b)
    np.testing.assert_array_equal(tg.cat([x, y], 1).numpy(), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(tg.cat([x, y], -2).numpy(), np.concatenate([a, b], 0))
    np.testing.assert_array_equal(tg.stack([x, y], 2).numpy(), np.stack([a, b], 2))
    np.testing.assert_array_equal(tg.stack([x, y], -3).numpy(), np.stack([a, b], 0))


def test_split_with_a_size_gives_pieces_of_that_size_and_a_smaller_last_one():
    pieces = tg.arange(7).split(3)
    assert isinstance(pieces, tuple)
    assert [p.tolist() for p in pieces] == [[0, 1, 2], [3, 4, 5], [6]]


def test_split_with_a_list_gives_pieces_of_those_sizes():
    pieces = tg.split(tg.from_numpy(numbers(2, 5)), [1, 0, 4], dim=1)
    assert [tuple(p.shape) for p in pieces] == [(2, 1), (2, 0), (2, 4)]
    np.testing.assert_array_equal(pieces[2].numpy(), numbers(2, 5)[:, 1:])


def test_chunk_uses_pieces_of_ceil_n_over_chunks_and_may_give_fewer():
    assert [len(p) for p in tg.arange(7).chunk(3)] == [3, 3, 1]
    assert [len(p) for p in tg.arange(6).chunk(4)] == [2, 2, 2]   # 3 chunks, not 4
    assert [len(p) for p in tg.arange(3).chunk(5)] == [1, 1, 1]
    assert [tuple(p.shape) for p in tg.zeros(0, 2).chunk(3)] == [(0, 2)] * 3


def test_unbind_removes_the_dim():
    x = tg.from_numpy(numbers(2, 3))
    rows = x.unbind(1)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    np.testing.assert_array_equal(rows[1].numpy(), numbers(2, 3)[:, 1])
    assert [r.shape for r in tg.arange(3).unbind()] == [(), (), ()]


def test_pieces_of_split_each_record_their_operation():
    x = leaf(4)
    pieces = x.split(2)
    assert [p.grad_fn.name() for p in pieces] == ["SplitBackward0", "SplitBackward0"]
    pieces[1].sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_repeat_gradient_sums_the_tiles():
    x = leaf(2)
    (x.repeat(3, 2) * tg.arange(12.0, dtype=tg.float64).reshape(3, 4)).sum().backward()
    # tile (r, k) of element i sits at [r, 2k + i]
    assert x.grad.tolist() == [0 + 2 + 4 + 6 + 8 + 10 + 0.0, 1 + 3 + 5 + 7 + 9 + 11 + 0.0]


# -- views share memory and version counters ----------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x: x.view(6, 4), lambda x: x.view_as(tg.zeros(24)), lambda x: x.reshape(4, 6),
    lambda x: x.flatten(), lambda x: x.unflatten(1, (3, 1)), lambda x: x.unsqueeze(1),
    lambda x: x.narrow(0, 0, 1).squeeze(0), lambda x: x.transpose(0, 1),
    lambda x: x.permute(2, 1, 0),
    lambda x: x.movedim(0, 2), lambda x: matrix_transpose(x), reversed_dims,
    lambda x: x.narrow(1, 0, 1).expand(2, 5, 4), lambda x: x.narrow(2, 1, 2),
    lambda x: x.split(1)[1], lambda x: x.chunk(2, 2)[1], lambda x: x.unbind(1)[2],
])
def test_views_share_memory_and_version_with_their_input(fn):
    x = tg.zeros(2, 3, 4)
    v = fn(x)
    assert np.shares_memory(v.numpy(), x.numpy())
    x.add_(1)
    assert (v.numpy() == 1).all()
    assert v._version == x._version == 1


@pytest.mark.parametrize("fn", [
    lambda x: x.repeat(1, 1), lambda x: x.flip(1), lambda x: tg.cat([x]), lambda x: tg.stack([x]),
    lambda x: x.clone(),
    lambda x: x.t().contiguous(), lambda x: x.t().reshape(6), lambda x: x.tril(),
])
def test_copies_have_their_own_memory(fn):
    x = tg.zeros(2, 3)
    y = fn(x)
    assert not np.shares_memory(y.numpy(), x.numpy())
    x.add_(1)
    assert (y.numpy() == 0).all() and y._version == 0


def test_contiguous_returns_the_input_itself_when_it_already_is():
    x = tg.zeros(2, 3)
    assert x.contiguous() is x
    y = x.t().contiguous()
    assert y.numpy().flags.c_contiguous and y.shape == (3, 2)


def test_clone_keeps_the_memory_layout():
    x = tg.zeros(3, 2).t()
    assert not x.clone().numpy().flags.c_contiguous


def test_an_in_place_change_through_a_view_is_caught_by_a_backward_that_saved_the_base():
    x = leaf(2, 3)
    y = x.exp()            # exp saves its output y for backward
    v = y.view(6)
    with tg.no_grad():
        v.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*'exp'"):
        y.sum().backward()


def test_an_in_place_change_of_the_base_is_seen_by_a_backward_that_saved_the_view():
    x = leaf(2, 3)
    base = x * 1
    v = base.transpose(0, 1)
    y = v.sin()            # sin saves its input v, a view of base
    with tg.no_grad():
        base.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# -- errors -----------------------------------------------------------------------------------
def test_view_of_a_transposed_tensor_that_needs_a_copy_raises_and_points_to_reshape():
    x = tg.zeros(3, 4).t()
    with pytest.raises(RuntimeError, match=r"view: .*\(4, 3\).*reshape.*contiguous"):
        x.view(12)
    assert x.reshape(12).shape == (12,)
    assert x.contiguous().view(12).shape == (12,)


def test_a_shape_with_the_wrong_number_of_elements_names_both():
    with pytest.raises(RuntimeError, match=r"view: shape \(5,\) .*\(3, 4\) \(12 elements\)"):
        tg.zeros(3, 4).view(5)
    with pytest.raises(RuntimeError, match=r"reshape: .*only one .* -1"):
        tg.zeros(3, 4).reshape(-1, -1)
    with pytest.raises(RuntimeError, match=r"reshape: shape \(2, -2\) is invalid"):
        tg.zeros(3, 4).reshape(2, -2)   # numpy would take -2 as -1
    with pytest.raises(TypeError, match="reshape: size must be an int, got float"):
        tg.zeros(4).reshape(2.0, 2)


def test_permute_needs_a_permutation():
    x = tg.zeros(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"permute: dims \(0, 0, 1\) is not a permutation"):
        x.permute(0, 0, 1)
    with pytest.raises(RuntimeError, match=r"permute: dims \(1, 0\) must name each of the 3"):
        x.permute(1, 0)
    with pytest.raises(IndexError, match="permute: dimension 3 is out of range"):
        x.permute(0, 1, 3)


def test_dims_out_of_range_name_the_op_and_the_shape():
    x = tg.zeros(2, 3)
    with pytest.raises(IndexError, match=r"transpose: dimension 2 .*\(2, 3\)"):
        x.transpose(0, 2)
    with pytest.raises(IndexError, match=r"unsqueeze: dimension 3 .*\[-3, 2\]"):
        x.unsqueeze(3)
    with pytest.raises(IndexError, match="squeeze: dimension -3"):
        x.squeeze(-3)
    with pytest.raises(IndexError, match="flip: dimension 5"):
        x.flip(5)
    with pytest.raises(RuntimeError, match="flip: .* same dimension twice"):
        x.flip(0, -2)


def test_cat_of_mismatching_shapes_names_both_shapes_and_the_tensor():
    with pytest.raises(RuntimeError, match=r"except in dimension 0.*tensor 0 has shape \(2, 3\) "
                                           r"and tensor 2 has shape \(2, 4\)"):
        tg.cat([tg.zeros(2, 3), tg.zeros(1, 3), tg.zeros(2, 4)])
    with pytest.raises(RuntimeError, match=r"number of dimensions.*\(2, 3\).*tensor 1 .*\(3,\)"):
        tg.cat([tg.zeros(2, 3), tg.zeros(3)])
    with pytest.raises(RuntimeError, match="position 1 is 0-d"):
        tg.cat([tg.zeros(2), tg.zeros(())])


def test_cat_and_stack_need_a_non_empty_list_of_tensors():
    with pytest.raises(RuntimeError, match="cat: expected a non-empty list"):
        tg.cat([])
    with pytest.raises(RuntimeError, match="stack: expected a non-empty list"):
        tg.stack(())
    with pytest.raises(TypeError, match="cat: .*element 1 is a list"):
        tg.cat([tg.zeros(2), [1.0]])
    with pytest.raises(TypeError, match="stack: expected a list or tuple of tensors"):
        tg.stack(tg.zeros(2, 3))


def test_stack_of_mismatching_shapes_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"tensor 0 has shape \(2,\) and tensor 1 has shape "
                                           r"\(3,\)"):
        tg.stack([tg.zeros(2), tg.zeros(3)])
    with pytest.raises(IndexError, match="stack: dimension 3"):
        tg.stack([tg.zeros(2), tg.zeros(2)], dim=3)


def test_split_and_chunk_errors():
    x = tg.zeros(5, 2)
    with pytest.raises(RuntimeError, match=r"split: .*\[2, 2\].*sum to 5"):
        x.split([2, 2])
    with pytest.raises(RuntimeError, match="split: split_size must be positive"):
        x.split(0)
    with pytest.raises(RuntimeError, match="chunk: expects chunks to be greater than 0, got 0"):
        x.chunk(0)
    with pytest.raises(RuntimeError, match="chunk: .*0-d"):
        tg.zeros(()).chunk(1)
    with pytest.raises(IndexError, match="unbind"):
        tg.zeros(()).unbind()


def test_other_misuse_is_named():
    with pytest.raises(RuntimeError, match=r"narrow: start \(2\) \+ length \(3\) exceeds .* 4"):
        tg.zeros(4).narrow(0, 2, 3)
    with pytest.raises(IndexError, match="narrow: start 5 is out of range"):
        tg.zeros(4).narrow(0, 5, 0)
    with pytest.raises(RuntimeError, match=r"tril: .*at least 2 dimensions.*\(3,\)"):
        tg.zeros(3).tril()
    with pytest.raises(RuntimeError, match=r"matrix_transpose .*\(3,\)"):
        matrix_transpose(tg.zeros(3))
    with pytest.raises(RuntimeError, match=r"t: expects .* at most 2 dimensions"):
        tg.zeros(1, 2, 3).t()
    with pytest.raises(RuntimeError, match=r"repeat: .*at least one per dimension"):
        tg.zeros(2, 3).repeat(2)
    with pytest.raises(RuntimeError, match=r"expand: .*\(3,\) cannot be expanded to \(2, 4\)"):
        tg.zeros(3).expand(2, 4)
    with pytest.raises(RuntimeError, match=r"unflatten: sizes \(2, 2\) don't multiply up .*6"):
        tg.zeros(2, 6).unflatten(1, (2, 2))
    with pytest.raises(RuntimeError, match="movedim: .*same number"):
        tg.zeros(2, 3).movedim((0, 1), 0)
    with pytest.raises(RuntimeError, match="flatten: start_dim"):
        tg.zeros(2, 3, 4).flatten(2, 1)


def test_numpy_T_warns_for_tensors_of_other_than_two_dims():
    with pytest.warns(UserWarning, match="mT"):
        numpy_T(tg.zeros(2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert numpy_T(tg.zeros(2, 3)).shape == (3, 2)
