"""Embedding, embedding and one_hot."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.functional.sparse import embedding, one_hot
from tapegrad.nn.modules.sparse import Embedding

rng = np.random.default_rng(0)


def leaf(*shape):
    return tg.tensor(rng.uniform(-1, 1, size=shape), dtype=tg.float64, requires_grad=True)


# -- values ---------------------------------------------------------------------------------------
def test_embedding_looks_rows_up_for_indices_of_any_shape():
    weight = tg.randn(10, 3)
    idx = tg.tensor([[1, 2, 4], [4, 3, 9]])
    out = embedding(idx, weight)
    assert out.shape == (2, 3, 3) and out.dtype == tg.float32
    np.testing.assert_array_equal(out.numpy(), weight.numpy()[idx.numpy()])
    assert embedding(tg.tensor(5), weight).shape == (3,)
    assert embedding(tg.tensor([0, 1], dtype=tg.int32), weight).shape == (2, 3)


def test_embedding_default_init_is_standard_normal_with_a_zero_padding_row():
    tg.manual_seed(0)
    emb = Embedding(1000, 64, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert emb.weight.shape == (1000, 64) and emb.weight.dtype == tg.float32
    assert (w[3] == 0).all()
    assert abs(w.mean()) < 0.01 and w.std() == pytest.approx(1.0, rel=0.02)


def test_embedding_repeated_indices_accumulate_gradients():
    emb = Embedding(5, 2)
    out = emb(tg.tensor([[1, 1, 3], [1, 0, 3]]))
    out.backward(tg.ones(2, 3, 2))
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [1, 3, 0, 2, 0])


def test_embedding_padding_row_gets_no_gradient_but_keeps_its_value():
    emb = Embedding(4, 3, padding_idx=0)
    with tg.no_grad():
        emb.weight[0] = 5.0   # a non-zero padding row is still looked up as it is
    idx = tg.tensor([0, 2, 0, 1])
    out = emb(idx)
    np.testing.assert_array_equal(out.detach().numpy()[0], [5.0, 5.0, 5.0])
    (out * 2).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(),
                                  [[0, 0, 0], [2, 2, 2], [2, 2, 2], [0, 0, 0]])


def test_embedding_negative_padding_idx_counts_from_the_end():
    emb = Embedding(5, 2, padding_idx=-1)
    assert emb.padding_idx == 4 and (emb.weight.detach().numpy()[4] == 0).all()
    assert repr(emb) == "Embedding(5, 2, padding_idx=4)"


def test_embedding_index_out_of_range_names_the_index_and_num_embeddings():
    emb = Embedding(10, 3)
    with pytest.raises(IndexError) as error:
        emb(tg.tensor([1, 12]))
    assert str(error.value) == ("Embedding(10, 3): index 12 is out of range for "
                                "num_embeddings=10 (valid indices are 0..9)")
    with pytest.raises(IndexError, match="index -1 is out of range for num_embeddings=10"):
        embedding(tg.tensor([-1]), emb.weight)
    with pytest.raises(RuntimeError, match="int64 .*got tapegrad.float32"):
        emb(tg.tensor([1.0]))
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        Embedding(10, 3, padding_idx=10)


def test_embedding_max_norm_renormalizes_the_rows_looked_up_in_place():
    weight = tg.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    out = embedding(tg.tensor([0, 1]), weight, max_norm=1.0)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-5)
    np.testing.assert_allclose(weight.numpy(), [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]], rtol=1e-5)
    emb = Embedding(3, 2, max_norm=2.0, norm_type=1.0)
    with tg.no_grad():
        emb.weight.copy_(tg.tensor([[3.0, -1.0], [0.5, 0.5], [1.0, 1.0]]))
    emb(tg.tensor([0, 2]))
    np.testing.assert_allclose(emb.weight.detach().numpy(), [[1.5, -0.5], [0.5, 0.5], [1, 1]],
                               rtol=1e-5)


def test_embedding_scale_grad_by_freq_divides_by_the_count_in_the_batch():
    emb = Embedding(4, 2, scale_grad_by_freq=True)
    out = emb(tg.tensor([1, 1, 1, 2, 3, 3]))
    before = emb.weight.detach().numpy()[[1, 1, 1, 2, 3, 3]]
    np.testing.assert_array_equal(out.detach().numpy(), before)   # values are unchanged
    out.sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy()[:, 0], [0, 1, 1, 1], rtol=1e-6)


def test_embedding_from_pretrained_shares_and_freezes_the_table():
    table = tg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    emb = Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and emb.weight.array is table.array
    np.testing.assert_array_equal(emb(tg.tensor([2, 0])).numpy(), [[5, 6], [1, 2]])
    trainable = Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    assert trainable.weight.tolist()[1] == [3.0, 4.0]   # the given padding row is kept
    with pytest.raises(ValueError, match="2-dimensional"):
        Embedding.from_pretrained(tg.zeros(3))


def test_embedding_given_weight_must_have_the_declared_shape():
    with pytest.raises(ValueError, match=r"expected \(4, 2\), got \(3, 2\)"):
        Embedding(4, 2, _weight=tg.zeros(3, 2))


def test_embedding_repr_and_state_dict_as_pytorch():
    assert repr(Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(Embedding(10, 3)) == "Embedding(10, 3)"
    assert repr(Embedding(10, 3, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True,
                          sparse=True)) == ("Embedding(10, 3, max_norm=1.0, norm_type=1.0, "
                                            "scale_grad_by_freq=True, sparse=True)")
    assert list(Embedding(10, 3).state_dict()) == ["weight"]


# -- one_hot --------------------------------------------------------------------------------------
def test_one_hot_gives_int64_rows_with_a_single_one():
    out = one_hot(tg.tensor([0, 2, 1]))
    assert out.dtype == tg.int64 and not out.requires_grad
    assert out.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    out = one_hot(tg.tensor([[1], [3]]), num_classes=5)
    assert out.shape == (2, 1, 5) and out.tolist() == [[[0, 1, 0, 0, 0]], [[0, 0, 0, 1, 0]]]
    assert one_hot(tg.tensor(2), 3).tolist() == [0, 0, 1]


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        one_hot(tg.tensor([0, 2]), 2)
    with pytest.raises(RuntimeError, match="non-negative"):
        one_hot(tg.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="only applicable to index tensor of type int64"):
        one_hot(tg.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="empty tensor"):
        one_hot(tg.zeros(0, dtype=tg.int64))
    assert one_hot(tg.zeros(0, dtype=tg.int64), 3).shape == (0, 3)


# -- gradients (float64) ---------------------------------------------------------------------------
@pytest.mark.parametrize("indices", [[2, 0, 3], [[1, 1], [4, 1]], 3])
def test_embedding_gradcheck_wrt_weight(indices):
    weight, idx = leaf(5, 3), tg.tensor(indices)
    assert gradcheck(lambda w: embedding(idx, w), (weight,))
    assert gradgradcheck(lambda w: embedding(idx, w), (weight,))


def test_embedding_gradcheck_with_padding_idx_on_the_other_rows():
    # The padding row's gradient is 0 by definition (not the derivative), so it is a constant
    # here; every other row must get its true derivative, also through the module.
    rest, idx = leaf(4, 2), tg.tensor([[0, 1, 1], [2, 0, 1]])
    padding_row = tg.tensor([[0.5, -0.5]], dtype=tg.float64)
    fn = lambda rest: embedding(idx, tg.cat([padding_row, rest]), padding_idx=0)  # noqa: E731
    assert gradcheck(fn, (rest,)) and gradgradcheck(fn, (rest,))
    emb = Embedding(5, 2, padding_idx=1).double()
    assert gradcheck(lambda w: emb(tg.tensor([0, 2, 4, 0])) * 3, (emb.weight,))


# -- PyTorch compatibility (only where PyTorch happens to be installed) ----------------------------
def test_pytorch_embedding_state_dict_loads_and_gives_the_same_outputs_and_gradients():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch.nn.Embedding(7, 4, padding_idx=2)
    ours = Embedding(7, 4, padding_idx=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    idx = np.array([[0, 2, 5], [5, 5, 6]])
    out_ref = reference(torch.from_numpy(idx))
    out = ours(tg.from_numpy(idx))
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-6)
    g = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    out_ref.backward(torch.from_numpy(g))
    out.backward(tg.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad.numpy(), reference.weight.grad.numpy(),
                               atol=1e-5)
    torch_one_hot = torch.nn.functional.one_hot(torch.tensor([3, 0, 1]), 5).numpy()
    np.testing.assert_array_equal(one_hot(tg.tensor([3, 0, 1]), 5).numpy(), torch_one_hot)
